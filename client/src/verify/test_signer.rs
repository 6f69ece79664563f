//! A signed-note signer for the unit tests of this crate (the gateway's own signer is
//! `portcullis::audit::checkpoint::NoteSigner`; this crate only verifies).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair};

use super::note::{ed25519_key_id, ED25519_TYPE, SIGNATURE_PREFIX};

/// An Ed25519 key and its signed-note name.
pub(crate) struct TestSigner {
    name: String,
    key_id: [u8; 4],
    key_pair: Ed25519KeyPair,
}

impl TestSigner {
    /// The development log-signing key (`certs-dev/log-signing.pk8`) under `name`.
    pub(crate) fn dev(name: &str) -> Self {
        let pkcs8 = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../certs-dev/log-signing.pk8"
        ))
        .unwrap();
        let key_pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).unwrap();
        let public: [u8; 32] = key_pair.public_key().as_ref().try_into().unwrap();
        TestSigner {
            name: name.to_owned(),
            key_id: ed25519_key_id(name, &public),
            key_pair,
        }
    }

    /// The verifier key text.
    pub(crate) fn verifier_key(&self) -> String {
        let mut key = vec![ED25519_TYPE];
        key.extend_from_slice(self.key_pair.public_key().as_ref());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            STANDARD.encode(key)
        )
    }

    /// `text` (ending in a newline) as a signed note with one signature line.
    pub(crate) fn sign(&self, text: &str) -> String {
        let mut blob = self.key_id.to_vec();
        blob.extend_from_slice(self.key_pair.sign(text.as_bytes()).as_ref());
        format!(
            "{text}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(blob)
        )
    }
}
