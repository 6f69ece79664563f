//! Matching keys and their key files (`<key_id>:<64 lower-case hex>`): parsing, reading,
//! generating and writing a matching-key epoch.

use std::fmt;
use std::path::Path;

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use super::text::trim;
use super::TokenError;

/// A matching-key epoch: a key id (e.g. `dev-1`, which travels in requests) and 32 secret bytes.
///
/// `Debug` shows the id only, never the key bytes.
#[derive(Clone)]
pub struct MatchingKey {
    id: String,
    bytes: [u8; 32],
    hmac: hmac::Key,
}

impl fmt::Debug for MatchingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatchingKey")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .finish()
    }
}

fn valid_key_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl MatchingKey {
    /// The HMAC-SHA256 key the digests are made with.
    pub(super) fn hmac_key(&self) -> &hmac::Key {
        &self.hmac
    }

    /// A key from its id (1 to 64 of `[A-Za-z0-9._-]`) and its 32 bytes.
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Result<Self, TokenError> {
        let id = id.into();
        if !valid_key_id(&id) {
            return Err(TokenError::Key(
                "key id must be 1 to 64 of A-Z a-z 0-9 . _ -".to_owned(),
            ));
        }
        Ok(MatchingKey {
            hmac: hmac::Key::new(hmac::HMAC_SHA256, &key),
            id,
            bytes: key,
        })
    }

    /// Parse the key file format `<key_id>:<64 lower-case hex characters>`; whitespace (such as
    /// a final newline) around it is allowed.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let line = trim(text);
        let Some((id, key_hex)) = line.split_once(':') else {
            return Err(TokenError::Key(
                "expected <key_id>:<64 lower-case hex characters>".to_owned(),
            ));
        };
        if !valid_key_id(id) {
            return Err(TokenError::Key(
                "key id must be 1 to 64 of A-Z a-z 0-9 . _ -".to_owned(),
            ));
        }
        let hex_ok = key_hex.len() == 64
            && key_hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let mut key = [0u8; 32];
        if !hex_ok || hex::decode_to_slice(key_hex, &mut key).is_err() {
            return Err(TokenError::Key(
                "key must be 64 lower-case hex characters".to_owned(),
            ));
        }
        MatchingKey::new(id, key)
    }

    /// Read and [`parse`](Self::parse) a key file.
    pub fn from_file(path: &Path) -> Result<Self, TokenError> {
        let bytes =
            std::fs::read(path).map_err(|e| TokenError::Io(format!("{}: {e}", path.display())))?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            TokenError::Key(format!("{}: key file is not UTF-8 text", path.display()))
        })?;
        MatchingKey::parse(text).map_err(|e| match e {
            TokenError::Key(msg) => TokenError::Key(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    /// A new random key (from the operating system's generator) with the given id.
    pub fn generate(id: &str) -> Result<Self, TokenError> {
        let mut key = [0u8; 32];
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| TokenError::Key("the system random number generator failed".to_owned()))?;
        MatchingKey::new(id, key)
    }

    /// The key id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key file line `<id>:<64 lower-case hex>` (no newline). It contains the secret key.
    pub fn to_file_line(&self) -> String {
        format!("{}:{}", self.id, hex::encode(self.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::test_support::key;

    #[test]
    fn keys() {
        let k = key();
        let line = k.to_file_line();
        assert_eq!(
            line,
            "vectors-1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        );
        let parsed = MatchingKey::parse(&format!("  {line}\n")).unwrap();
        assert_eq!(parsed.id(), "vectors-1");
        assert_eq!(parsed.to_file_line(), line);
        let debug = format!("{k:?}");
        assert!(
            debug.contains("vectors-1") && !debug.contains("0001020304"),
            "{debug}"
        );
        assert!(!debug.contains("[0, 1, 2"), "{debug}");
        let hex64 = "00".repeat(32);
        for bad in [
            String::new(),
            hex64.clone(),
            format!(":{hex64}"),
            format!("a b:{hex64}"),
            format!("{}:{hex64}", "x".repeat(65)),
            format!("id:{}", hex64.to_uppercase().replace('0', "A")),
            format!("id:{}", &hex64[..62]),
            format!("id:{hex64}00"),
            format!("id:{hex64}\nsecond"),
            format!("id:{}", "é".repeat(32)),
        ] {
            match MatchingKey::parse(&bad) {
                Err(TokenError::Key(msg)) => assert!(!msg.contains("00000000"), "{msg}"),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        assert!(MatchingKey::new("", [0; 32]).is_err());
        assert!(MatchingKey::new("x".repeat(64), [0; 32]).is_ok());
        let g1 = MatchingKey::generate("gen-1").unwrap();
        let g2 = MatchingKey::generate("gen-1").unwrap();
        assert_ne!(g1.to_file_line(), g2.to_file_line());
        assert!(MatchingKey::generate("bad id").is_err());
    }

    #[test]
    fn key_files() {
        let dir =
            std::env::temp_dir().join(format!("portcullis-tokens-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("matching.key");
        std::fs::write(&path, format!("{}\n", key().to_file_line())).unwrap();
        let k = MatchingKey::from_file(&path).unwrap();
        assert_eq!(k.id(), "vectors-1");
        std::fs::write(&path, b"\xff\xfe").unwrap();
        assert!(matches!(
            MatchingKey::from_file(&path),
            Err(TokenError::Key(_))
        ));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            MatchingKey::from_file(&path),
            Err(TokenError::Io(_))
        ));
        std::fs::remove_dir(&dir).unwrap();
    }
}
