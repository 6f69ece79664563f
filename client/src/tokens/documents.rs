//! Registered numbers: travel documents (`COUNTRY:NUMBER`) and UK Companies House numbers.

use super::text::{all_ascii, trim, without_spaces_ascii_upper};
use super::TokenError;

/// Canonical Companies House number, *including* its prefix: white space removed, ASCII upper
/// case; up to 8 digits are left-padded with zeros to 8, two letters and up to 6 digits keep the
/// letters and pad the digits to 6; e.g. `"sc 12345"` → `"GB-COH|SC012345"`. Anything else is
/// an error (field `company_number`).
pub fn canonical_company_number(n: &str) -> Result<String, TokenError> {
    let n = without_spaces_ascii_upper(n);
    let digits = |s: &str| !s.is_empty() && all_ascii(s, |b| b.is_ascii_digit());
    if n.len() <= 8 && digits(&n) {
        return Ok(format!("GB-COH|{n:0>8}"));
    }
    if n.len() <= 8 && n.len() > 2 && n.is_char_boundary(2) {
        let (prefix, rest) = n.split_at(2);
        if all_ascii(prefix, |b| b.is_ascii_uppercase()) && digits(rest) {
            return Ok(format!("GB-COH|{prefix}{rest:0>6}"));
        }
    }
    Err(TokenError::field(
        "company_number",
        "not a company number (up to 8 digits, or 2 letters and up to 6 digits)",
    ))
}

/// Canonical travel document from `COUNTRY:NUMBER`: the country trimmed and ASCII upper-cased
/// must be three letters (ISO 3166-1 alpha-3 shape); the number is ASCII upper-cased and every
/// character outside `[A-Z0-9]` removed, and must not end up empty; e.g. `"gbr: 123 456-789"` →
/// `"GBR|123456789"`. Errors name the field `passport`.
pub fn canonical_travel_document(doc: &str) -> Result<String, TokenError> {
    let Some((country, number)) = doc.split_once(':') else {
        return Err(TokenError::field("passport", "expected COUNTRY:NUMBER"));
    };
    let country = trim(country).to_ascii_uppercase();
    if !(country.len() == 3 && all_ascii(&country, |b| b.is_ascii_uppercase())) {
        return Err(TokenError::field(
            "passport",
            "country must be an ISO 3166-1 alpha-3 code (three letters)",
        ));
    }
    let number: String = number
        .chars()
        .map(|c| c.to_ascii_uppercase())
        .filter(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        .collect();
    if number.is_empty() {
        return Err(TokenError::field(
            "passport",
            "document number has no letters or digits",
        ));
    }
    Ok(format!("{country}|{number}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::test_support::field_err;

    #[test]
    fn company_numbers() {
        for (input, want) in [
            ("1234567", "GB-COH|01234567"),
            ("01234567", "GB-COH|01234567"),
            ("0123 4567", "GB-COH|01234567"),
            ("1", "GB-COH|00000001"),
            ("sc 12345", "GB-COH|SC012345"),
            ("SC123456", "GB-COH|SC123456"),
            ("ni012345", "GB-COH|NI012345"),
            ("OC1", "GB-COH|OC000001"),
            ("LP 7", "GB-COH|LP000007"),
        ] {
            assert_eq!(canonical_company_number(input).unwrap(), want, "{input}");
        }
        for bad in [
            "",
            "123456789",
            "SC1234567",
            "S1234567",
            "12-345",
            "SC",
            "ABC123",
            "É1234",
            "１２３",
        ] {
            assert_eq!(field_err(canonical_company_number(bad)).0, "company_number");
        }
    }

    #[test]
    fn travel_documents() {
        assert_eq!(
            canonical_travel_document("GBR:123456789").unwrap(),
            "GBR|123456789"
        );
        assert_eq!(
            canonical_travel_document(" gbr : 123 456-789 ").unwrap(),
            "GBR|123456789"
        );
        assert_eq!(
            canonical_travel_document("deu:c01x00t47").unwrap(),
            "DEU|C01X00T47"
        );
        for bad in [
            "123456789",
            "GB:123",
            "GBRR:1",
            "G1R:1",
            "GBR:",
            "GBR: --- ",
            ":1",
        ] {
            assert_eq!(field_err(canonical_travel_document(bad)).0, "passport");
        }
    }
}
