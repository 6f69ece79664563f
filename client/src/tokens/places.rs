//! Places: UK postcodes and the organisation's country code.

use super::text::{all_ascii, trim, without_spaces_ascii_upper};
use super::TokenError;

/// Canonical UK postcode: white space removed, ASCII upper case, then it must have the shape
/// `^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$` or be `GIR0AA`; e.g. `"sw1a 1aa"` → `"SW1A1AA"`.
pub fn canonical_postcode(p: &str) -> Result<String, TokenError> {
    let p = without_spaces_ascii_upper(p);
    if p == "GIR0AA" || postcode_shape(p.as_bytes()) {
        Ok(p)
    } else {
        Err(TokenError::field("postcode", "not a UK postcode"))
    }
}

/// Whether upper-case ASCII `b` has the shape of a UK postcode without its space.
fn postcode_shape(b: &[u8]) -> bool {
    let alpha = |c: &u8| c.is_ascii_uppercase();
    let digit = |c: &u8| c.is_ascii_digit();
    // The inward code: digit + two letters.
    let Some((outward, inward)) = b.len().checked_sub(3).map(|i| b.split_at(i)) else {
        return false;
    };
    if !(digit(&inward[0]) && alpha(&inward[1]) && alpha(&inward[2])) {
        return false;
    }
    // The outward code: [A-Z]{1,2}[0-9][A-Z0-9]?
    let letters = outward.iter().take_while(|c| alpha(c)).count().min(2);
    if letters == 0 {
        return false;
    }
    match &outward[letters..] {
        [d] => digit(d),
        [d, x] => digit(d) && (alpha(x) || digit(x)),
        _ => false,
    }
}

/// Canonical organisation country: trimmed, ASCII upper case, two letters (ISO 3166-1 alpha-2
/// shape); `UK` is refused in favour of `GB`. Errors name the field `country`.
pub(super) fn canonical_country(c: &str) -> Result<String, TokenError> {
    let c = trim(c).to_ascii_uppercase();
    if c == "UK" {
        return Err(TokenError::field(
            "country",
            "use GB for the United Kingdom (ISO 3166-1 alpha-2)",
        ));
    }
    if !(c.len() == 2 && all_ascii(&c, |b| b.is_ascii_uppercase())) {
        return Err(TokenError::field(
            "country",
            "country must be an ISO 3166-1 alpha-2 code (two letters)",
        ));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::test_support::field_err;

    #[test]
    fn postcodes() {
        for (input, want) in [
            (" sw1a 1aa ", "SW1A1AA"),
            ("M1 1AE", "M11AE"),
            ("B33 8TH", "B338TH"),
            ("CR2 6XH", "CR26XH"),
            ("dn55 1pt", "DN551PT"),
            ("W1A 0AX", "W1A0AX"),
            ("EC1A 1BB", "EC1A1BB"),
            ("gir 0aa", "GIR0AA"),
            ("SW1A\u{a0}1AA", "SW1A1AA"),
        ] {
            assert_eq!(canonical_postcode(input).unwrap(), want, "{input}");
        }
        for bad in [
            "",
            "12345",
            "SW1A-1AA",
            "SW1A 1A",
            "ABC1 1AA",
            "1A 1AA",
            "SW1AA 1AA",
            "M1 AAE",
            "ſw1a 1aa",
            "SW1A 1AAA",
        ] {
            assert_eq!(
                field_err(canonical_postcode(bad)),
                ("postcode", "not a UK postcode".to_owned()),
                "{bad}"
            );
        }
    }

    #[test]
    fn countries() {
        assert_eq!(canonical_country(" gb ").unwrap(), "GB");
        for bad in ["UK", "uk", "GBR", "G1", "", "É"] {
            assert!(canonical_country(bad).is_err(), "{bad}");
        }
    }
}
