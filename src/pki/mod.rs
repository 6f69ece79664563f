//! Key material: the development PKI generator ([`dev`]: `portcullis certs dev`, committed as
//! `certs-dev/`), and production key material from the submodules ([`ca`]: a CA and the
//! certificates it issues, [`crl`]: its CRL, [`keys`]: the log and matching keys), which never
//! overwrite a file. This module holds what they share: [`PkiError`] and the name, key and
//! verifier-key helpers.

pub(crate) mod ca;
pub(crate) mod crl;
pub(crate) mod dev;
mod files;
pub(crate) mod keys;

use std::path::PathBuf;

use base64::Engine as _;
use rcgen::{DistinguishedName, DnType, KeyPair};

pub(crate) use dev::{
    generate_dev, generate_keyservice_key, DEV_CA_COMMON_NAME, DEV_KEYSERVICE_KEY_FILE,
    DEV_KEYSERVICE_KEY_ID, DEV_KEYSERVICE_LOG_KEY_FILE, DEV_KEYSERVICE_LOG_NAME,
    DEV_KEYSERVICE_PUB_FILE, DEV_LOG_KEY_NAME, DEV_MATCHING_KEY_ID, DEV_TRUST_DOMAIN,
};

/// Errors generating or reading key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Creating a directory or writing a file failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The directory or file concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Generating a key, certificate or CRL failed.
    #[error("cannot generate {what}: {source}")]
    Generate {
        /// What was being generated, e.g. `"certificate clients/alpha-officer.crt"`.
        what: String,
        /// The underlying certificate-library error.
        #[source]
        source: rcgen::Error,
    },
    /// The system random number generator or key generation in `ring` failed.
    #[error("cannot generate {what}: cryptographic library failure")]
    Crypto {
        /// What was being generated, e.g. `"log-signing key"`.
        what: &'static str,
    },
    /// The system clock is outside the range certificates and CRLs can express.
    #[error("system clock out of range for CRL dates")]
    Clock,
    /// A key or certificate file that would be written already exists (never overwritten).
    #[error("{} already exists; refusing to overwrite it (move it away first)", path.display())]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// An input file (a CA certificate or key, a CRL, a CSR) cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An input file was read but is not what it should be; the message says why.
    #[error("{}: {why}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// A command-line value is unusable; the message names it.
    #[error("{0}")]
    Argument(String),
}

/// C2SP signed-note verifier key text `<name>+<8 hex key id>+<base64(0x01 || public key)>`
/// for an Ed25519 public key (no trailing newline).
fn verifier_key(name: &str, public_key: &[u8]) -> String {
    let mut typed = Vec::with_capacity(1 + public_key.len());
    typed.push(0x01);
    typed.extend_from_slice(public_key);
    let mut hashed = Vec::with_capacity(name.len() + 1 + typed.len());
    hashed.extend_from_slice(name.as_bytes());
    hashed.push(b'\n');
    hashed.extend_from_slice(&typed);
    let digest = ring::digest::digest(&ring::digest::SHA256, &hashed);
    let key_id = &digest.as_ref()[..4];
    format!(
        "{name}+{}+{}",
        hex::encode(key_id),
        base64::engine::general_purpose::STANDARD.encode(&typed)
    )
}

fn dn(common_name: &str, organisation: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, organisation);
    dn.push(DnType::CommonName, common_name);
    dn
}

fn new_key(what: &'static str) -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(gen_err(what))
}

fn ia5(s: &str, what: &str) -> Result<rcgen::string::Ia5String, PkiError> {
    rcgen::string::Ia5String::try_from(s).map_err(|source| PkiError::Generate {
        what: what.to_owned(),
        source,
    })
}

fn gen_err(what: &'static str) -> impl Fn(rcgen::Error) -> PkiError {
    move |source| PkiError::Generate {
        what: what.to_owned(),
        source,
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_key_known_answer() {
        // The example verifier key from golang.org/x/mod/sumdb/note: its key id is derived from
        // the name and public key exactly as for log.vkey.
        let known = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let typed = base64::engine::general_purpose::STANDARD
            .decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
            .unwrap();
        assert_eq!(verifier_key("PeterNeumann", &typed[1..]), known);
    }
}
