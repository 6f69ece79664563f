//! Online addresses: crypto-currency wallets (`CHAIN:ADDRESS`) and e-mail addresses.

use super::text::{all_ascii, has_space_or_control, trim};
use super::TokenError;

/// Canonical wallet from `CHAIN:ADDRESS`: the chain trimmed and ASCII lower-cased must be
/// `[a-z0-9]{1,16}`; the address is trimmed and must be non-empty without white space or control
/// characters; `eth` addresses are lower-cased and must be `0x` + 40 hex digits; addresses
/// starting `bc1` (any case, bech32) are lower-cased; others are kept as given. E.g.
/// `"eth:0xAB…"` → `"eth|0xab…"`. Errors name the field `wallet`.
pub fn canonical_wallet(w: &str) -> Result<String, TokenError> {
    let Some((chain, address)) = w.split_once(':') else {
        return Err(TokenError::field("wallet", "expected CHAIN:ADDRESS"));
    };
    let chain = trim(chain).to_ascii_lowercase();
    if !((1..=16).contains(&chain.len())
        && all_ascii(&chain, |b| b.is_ascii_lowercase() || b.is_ascii_digit()))
    {
        return Err(TokenError::field(
            "wallet",
            "chain must be 1 to 16 of a-z and 0-9",
        ));
    }
    let address = trim(address);
    if address.is_empty() {
        return Err(TokenError::field("wallet", "address is empty"));
    }
    if has_space_or_control(address) {
        return Err(TokenError::field(
            "wallet",
            "address contains whitespace or control characters",
        ));
    }
    let address = if chain == "eth" {
        let a = address.to_ascii_lowercase();
        let ok = a.len() == 42
            && a.starts_with("0x")
            && all_ascii(&a[2..], |b| {
                b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
            });
        if !ok {
            return Err(TokenError::field(
                "wallet",
                "eth address must be 0x and 40 hex digits",
            ));
        }
        a
    } else if address
        .get(..3)
        .is_some_and(|p| p.eq_ignore_ascii_case("bc1"))
    {
        address.to_ascii_lowercase()
    } else {
        address.to_owned()
    };
    Ok(format!("{chain}|{address}"))
}

/// Canonical e-mail address: trimmed, no white space or control characters inside, exactly one
/// `@` with text on both sides, then lower-cased as a whole (Unicode lower case). Errors name the
/// field `email`.
pub fn canonical_email(e: &str) -> Result<String, TokenError> {
    let e = trim(e);
    if has_space_or_control(e) {
        return Err(TokenError::field(
            "email",
            "email contains whitespace or control characters",
        ));
    }
    let ok = match e.split_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty() && !domain.contains('@'),
        None => false,
    };
    if !ok {
        return Err(TokenError::field(
            "email",
            "email must have exactly one @ with text on both sides",
        ));
    }
    Ok(e.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::test_support::field_err;

    #[test]
    fn wallets() {
        let eth = "eth|0x52908400098527886e0f7030069857d2e4169ee7";
        assert_eq!(
            canonical_wallet("eth:0x52908400098527886E0F7030069857D2E4169EE7").unwrap(),
            eth
        );
        assert_eq!(
            canonical_wallet(" ETH : 0X52908400098527886E0F7030069857D2E4169EE7 ").unwrap(),
            eth
        );
        assert_eq!(
            canonical_wallet("btc:BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ").unwrap(),
            "btc|bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
        );
        assert_eq!(
            canonical_wallet("btc:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2").unwrap(),
            "btc|1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
        );
        for bad in [
            "0x52908400098527886E0F7030069857D2E4169EE7",
            "eth:0x1234",
            "eth:0x52908400098527886E0F7030069857D2E4169EEG",
            "eth:52908400098527886E0F7030069857D2E4169EE7",
            "eth main:0x52908400098527886E0F7030069857D2E4169EE7",
            "verylongchainname17:abc",
            ":abc",
            "btc:",
            "btc:  ",
            "btc:1Bv BM",
            "btc:1Bv\u{0}BM",
        ] {
            assert_eq!(field_err(canonical_wallet(bad)).0, "wallet", "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            canonical_email("  Alice.Smith@Example.COM ").unwrap(),
            "alice.smith@example.com"
        );
        assert_eq!(
            canonical_email("JOSÉ.GARCÍA@Correo.ES").unwrap(),
            "josé.garcía@correo.es"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a@b@c",
            "alice @example.com",
        ] {
            assert_eq!(field_err(canonical_email(bad)).0, "email", "{bad}");
        }
    }
}
