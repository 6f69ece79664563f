//! The gateway's audit-log signing key and a matching-key epoch (`portcullis certs log-key`,
//! `certs matching-key`), written as new files only.

use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair as _};

use super::files::{write_new, NewFile};
use super::{verifier_key, PkiError};

/// What [`create_log_key`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct LogKey {
    /// The signing key (0600) and the verifier key file.
    pub files: Vec<PathBuf>,
    /// The verifier key line (audit-log.md), as written without its newline.
    pub vkey: String,
}

/// Writes a new Ed25519 log-signing key (PKCS#8 v2 DER, 0600) to `signing_key` and its
/// verifier key `<origin>+<key id>+<base64>` to `vkey`. `origin` is the gateway's
/// `audit.origin` (the key name of every checkpoint signature). Refuses to overwrite.
///
/// # Errors
/// [`PkiError::Argument`] for an origin that is empty, has whitespace or a `+`;
/// [`PkiError::Exists`]; key generation and I/O errors.
pub(crate) fn create_log_key(
    signing_key: &Path,
    vkey: &Path,
    origin: &str,
) -> Result<LogKey, PkiError> {
    if origin.is_empty() || origin.contains(char::is_whitespace) || origin.contains('+') {
        return Err(PkiError::Argument(
            "--origin: audit.origin of portcullis.toml, non-empty, no spaces or +".into(),
        ));
    }
    const WHAT: &str = "log-signing key";
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| PkiError::Crypto { what: WHAT })?;
    let pair =
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| PkiError::Crypto { what: WHAT })?;
    let line = verifier_key(origin, pair.public_key().as_ref());
    let files = write_new(vec![
        NewFile {
            path: signing_key.to_path_buf(),
            bytes: pkcs8.as_ref().to_vec(),
            secret: true,
        },
        NewFile {
            path: vkey.to_path_buf(),
            bytes: format!("{line}\n").into_bytes(),
            secret: false,
        },
    ])?;
    Ok(LogKey { files, vkey: line })
}

/// Writes a new matching key `<id>:<64 hex>` (tokens.md; 0600) to `path`. Refuses to
/// overwrite.
///
/// # Errors
/// [`PkiError::Argument`] for a key id that is not 1 to 64 of `A-Z a-z 0-9 . _ -`;
/// [`PkiError::Exists`]; random-generator and I/O errors.
pub(crate) fn create_matching_key(path: &Path, id: &str) -> Result<PathBuf, PkiError> {
    let mut key = [0u8; 32];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| PkiError::Crypto {
            what: "matching key",
        })?;
    // The same checks as the readers of the file.
    crate::tokens::MatchingKey::new(id, key)
        .map_err(|e| PkiError::Argument(format!("--id: {e}")))?;
    let mut files = write_new(vec![NewFile {
        path: path.to_path_buf(),
        bytes: format!("{id}:{}\n", hex::encode(key)).into_bytes(),
        secret: true,
    }])?;
    Ok(files.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_key_and_verifier_key_agree() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, vk) = (
            dir.path().join("log-signing.pk8"),
            dir.path().join("log.vkey"),
        );
        let made = create_log_key(&sk, &vk, "gw.example/audit").unwrap();
        assert_eq!(
            std::fs::read_to_string(&vk).unwrap(),
            format!("{}\n", made.vkey)
        );
        let pair = Ed25519KeyPair::from_pkcs8(&std::fs::read(&sk).unwrap()).unwrap();
        assert_eq!(
            made.vkey,
            verifier_key("gw.example/audit", pair.public_key().as_ref())
        );
        assert!(made.vkey.starts_with("gw.example/audit+"));
        assert!(matches!(
            create_log_key(&sk, &dir.path().join("other.vkey"), "gw.example/audit"),
            Err(PkiError::Exists { .. })
        ));
        assert!(create_log_key(&dir.path().join("a"), &dir.path().join("b"), "a b").is_err());
    }

    #[test]
    fn matching_keys_are_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("matching.key");
        create_matching_key(&p, "2026-1").unwrap();
        let key = crate::tokens::MatchingKey::from_file(&p).unwrap();
        assert_eq!(key.id(), "2026-1");
        assert!(matches!(
            create_matching_key(&p, "2026-1"),
            Err(PkiError::Exists { .. })
        ));
        let e = create_matching_key(&dir.path().join("x"), "bad id").unwrap_err();
        assert!(e.to_string().starts_with("--id: "), "{e}");
        assert!(!dir.path().join("x").exists());
    }
}
