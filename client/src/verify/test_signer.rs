//! A signed-note signer for the unit tests of this crate (the gateway's own signer is
//! `portcullis::audit::checkpoint::NoteSigner`; this crate only verifies).

use ring::signature::{Ed25519KeyPair, KeyPair};

use super::note::{ed25519_key_id, ed25519_verifier_key, signed_note};

/// An Ed25519 key and its signed-note name.
pub(crate) struct TestSigner {
    name: String,
    key_id: [u8; 4],
    public_key: [u8; 32],
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
        let public_key: [u8; 32] = key_pair.public_key().as_ref().try_into().unwrap();
        TestSigner {
            name: name.to_owned(),
            key_id: ed25519_key_id(name, &public_key),
            public_key,
            key_pair,
        }
    }

    /// The verifier key text.
    pub(crate) fn verifier_key(&self) -> String {
        ed25519_verifier_key(&self.name, &self.public_key)
    }

    /// `text` (ending in a newline) as a signed note with one signature line.
    pub(crate) fn sign(&self, text: &str) -> String {
        let signature = self.key_pair.sign(text.as_bytes());
        signed_note(text, &self.name, self.key_id, signature.as_ref())
    }
}
