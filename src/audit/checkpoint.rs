//! Signing the audit log's checkpoints: [`NoteSigner`] writes C2SP `tlog-checkpoint` bodies in
//! C2SP `signed-note` envelopes with Ed25519 (`ring`). Parsing and verifying them is the client
//! crate's ([`portcullis_client::verify::note`], [`portcullis_client::verify::checkpoint`]),
//! re-exported here, so the gateway, its command line and a back office check notes with one
//! implementation.
//!
//! A signed checkpoint reads:
//!
//! ```text
//! <origin>
//! <tree size>
//! <base64 root hash>
//!
//! — <key name> <base64(key id || Ed25519 signature)>
//! ```
//!
//! * The signature covers the note text: the three lines above the blank line, each with its
//!   newline.
//! * The key id is the first 4 bytes of `SHA-256(key name || 0x0A || 0x01 || public key)`
//!   (signature type 0x01 is Ed25519).
//! * A verifier key (vkey) is `<key name>+<8 hex digits of key id>+<base64(0x01 || public key)>`.
//!
//! The client crate's modules say what a verifier accepts and rejects.

use std::fmt;

use ring::signature::{Ed25519KeyPair, KeyPair};

pub use portcullis_client::verify::checkpoint::{validate_origin, Checkpoint};
use portcullis_client::verify::note::{
    check_key_name, ed25519_key_id, ed25519_verifier_key, signed_note,
};
pub use portcullis_client::verify::note::{NoteError, NoteVerifier, MAX_SIGNATURES};

/// An Ed25519 signer of checkpoints as signed notes.
pub struct NoteSigner {
    name: String,
    key_id: [u8; 4],
    public_key: [u8; 32],
    key_pair: Ed25519KeyPair,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.key_id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer named `name` (the key name of its signature lines) from an Ed25519 private key
    /// in PKCS#8: v2 as `ring`'s `generate_pkcs8` writes it (the public key is then checked
    /// against the private key), or v1 as `openssl genpkey -algorithm ed25519` writes it.
    pub fn from_pkcs8(name: &str, pkcs8: &[u8]) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let key_pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|e| {
            NoteError::InvalidPrivateKey {
                reason: e.to_string(),
            }
        })?;
        let public_key: [u8; 32] = key_pair.public_key().as_ref().try_into().map_err(|_| {
            NoteError::InvalidPrivateKey {
                reason: "the public key is not 32 bytes".to_owned(),
            }
        })?;
        Ok(Self {
            name: name.to_owned(),
            key_id: ed25519_key_id(name, &public_key),
            public_key,
            key_pair,
        })
    }

    /// The key name written in signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id: the first 4 bytes of `SHA-256(name || 0x0A || 0x01 || public key)`.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The verifier key text: `<name>+<8 hex digits of key id>+<base64(0x01 || public key)>`.
    pub fn verifier_key(&self) -> String {
        ed25519_verifier_key(&self.name, &self.public_key)
    }

    /// The signed note of a checkpoint: its body, a blank line, and the signature line
    /// `— <name> <base64(key id || signature)>`. Ed25519 is deterministic: the same checkpoint
    /// always gives the same note. The origin should pass [`validate_origin`].
    pub fn sign(&self, cp: &Checkpoint) -> String {
        self.sign_text(&cp.body())
    }

    /// Signs an arbitrary note text (ending in a newline).
    fn sign_text(&self, text: &str) -> String {
        let signature = self.key_pair.sign(text.as_bytes());
        signed_note(text, &self.name, self.key_id, signature.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use portcullis_client::verify::merkle::Hash;
    use ring::digest::{digest, SHA256};

    /// A fixed Ed25519 key, generated once with ring's `Ed25519KeyPair::generate_pkcs8`
    /// (PKCS#8 v2). Test-only: it signs nothing outside these tests.
    const TEST_PKCS8_HEX: &str = "3051020101300506032b65700422042007c8663e5905336680cf04f86572e6ae\
        793b3a8199369714531b6c7209b57b1f812100fbe9d27f058234a714866e8b92482aa6741c32e995557e6b39\
        52b68b32c1d4b8";
    const ORIGIN: &str = "portcullis.dev/audit";
    /// Root of the RFC 6962 reference tree of 8 leaves (tests/data/merkle/reference-tree.json).
    const ROOT8_HEX: &str = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";
    /// Computed independently (Python `cryptography`, from the key's seed) when the key was made.
    const EXPECTED_VKEY: &str =
        "portcullis.dev/audit+1dfac4b9+Afvp0n8FgjSnFIZui5JIKqZ0HDLplVV+azlStosywdS4";
    const EXPECTED_NOTE: &str = "portcullis.dev/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\
        \n\u{2014} portcullis.dev/audit HfrEuXEZyTIRgLNSheF7a5hFM8S+lpVcQ5ZOOCUWoiPNoVmloUnO8f/8tiDS\
        GhyfnmmGlqrqdO+90DJhQor3uYvekQo=\n";

    fn pkcs8() -> Vec<u8> {
        hex::decode(TEST_PKCS8_HEX).expect("hex")
    }

    fn signer() -> NoteSigner {
        NoteSigner::from_pkcs8(ORIGIN, &pkcs8()).expect("test key")
    }

    fn verifier() -> NoteVerifier {
        NoteVerifier::parse(&signer().verifier_key()).expect("vkey")
    }

    fn checkpoint() -> Checkpoint {
        let root: Hash = hex::decode(ROOT8_HEX)
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        Checkpoint {
            origin: ORIGIN.to_owned(),
            size: 8,
            root,
            extensions: Vec::new(),
        }
    }

    #[test]
    fn known_answer() {
        let signer = signer();
        assert_eq!(signer.name(), ORIGIN);
        assert_eq!(hex::encode(signer.key_id()), "1dfac4b9");
        assert_eq!(signer.verifier_key(), EXPECTED_VKEY);
        let cp = checkpoint();
        assert_eq!(
            cp.body(),
            "portcullis.dev/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
        );
        assert_eq!(signer.sign(&cp), EXPECTED_NOTE);
        let verifier = NoteVerifier::parse(EXPECTED_VKEY).expect("vkey");
        assert_eq!(verifier.name(), ORIGIN);
        assert_eq!(verifier.key_id(), signer.key_id());
        assert_eq!(verifier.verify(EXPECTED_NOTE, Some(ORIGIN)), Ok(cp.clone()));
        assert_eq!(verifier.verify(EXPECTED_NOTE, None), Ok(cp));
    }

    #[test]
    fn key_id_is_truncated_sha256_of_name_type_and_key() {
        let signer = signer();
        let public_key = &pkcs8()[pkcs8().len() - 32..];
        let mut input = ORIGIN.as_bytes().to_vec();
        input.extend_from_slice(&[0x0a, 0x01]);
        input.extend_from_slice(public_key);
        let hash = digest(&SHA256, &input);
        assert_eq!(&signer.key_id()[..], &hash.as_ref()[..4]);
        // A different name gives a different id for the same key.
        let other = NoteSigner::from_pkcs8("example.com/other", &pkcs8()).expect("key");
        assert_ne!(other.key_id(), signer.key_id());
    }

    #[test]
    fn round_trip_fresh_key() {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).expect("keygen");
        let signer = NoteSigner::from_pkcs8("example.com/log", doc.as_ref()).expect("key");
        let verifier = NoteVerifier::parse(&format!("{}\n", signer.verifier_key())).expect("vkey");
        for size in [0, 1, 8, 1 << 40, u64::MAX] {
            let cp = Checkpoint {
                origin: "example.com/log".to_owned(),
                size,
                root: [size as u8; 32],
                extensions: Vec::new(),
            };
            let note = signer.sign(&cp);
            assert_eq!(verifier.verify(&note, Some("example.com/log")), Ok(cp));
        }
        // Another key does not verify it.
        assert!(matches!(
            NoteVerifier::parse(EXPECTED_VKEY)
                .expect("vkey")
                .verify(&signer.sign(&checkpoint()), None),
            Err(NoteError::NoSignatureByKey { .. })
        ));
    }

    #[test]
    fn pkcs8_v1_accepted() {
        let v2 = pkcs8();
        let mut v1 = hex::decode("302e020100300506032b657004220420").expect("hex");
        v1.extend_from_slice(&v2[16..48]); // the seed
        let signer = NoteSigner::from_pkcs8(ORIGIN, &v1).expect("v1 key");
        assert_eq!(signer.verifier_key(), EXPECTED_VKEY);
        assert_eq!(signer.sign(&checkpoint()), EXPECTED_NOTE);
    }

    #[test]
    fn signer_errors() {
        assert!(matches!(
            NoteSigner::from_pkcs8(ORIGIN, b"not a key"),
            Err(NoteError::InvalidPrivateKey { .. })
        ));
        let mut inconsistent = pkcs8();
        let last = inconsistent.len() - 1;
        inconsistent[last] ^= 1; // public key no longer matches the seed
        assert!(matches!(
            NoteSigner::from_pkcs8(ORIGIN, &inconsistent),
            Err(NoteError::InvalidPrivateKey { .. })
        ));
        for name in ["", "a b", "a+b", "a\nb", "a\u{a0}b"] {
            assert_eq!(
                NoteSigner::from_pkcs8(name, &pkcs8()).map(|_| ()),
                Err(NoteError::InvalidKeyName {
                    name: name.to_owned()
                })
            );
        }
        let debug = format!("{:?}", signer());
        assert!(debug.contains("1dfac4b9") && !debug.contains("07c8663e"));
    }

    #[test]
    fn verifier_key_errors() {
        let malformed = |vkey: &str| {
            matches!(
                NoteVerifier::parse(vkey),
                Err(NoteError::MalformedVerifierKey { .. })
            )
        };
        let (name, rest) = EXPECTED_VKEY.split_once('+').expect("vkey");
        let (id, key) = rest.split_once('+').expect("vkey");
        assert!(malformed(name));
        assert!(malformed(&format!("{name}+{id}")));
        assert!(malformed(&format!("{name}+1dfac4b+{key}")));
        assert!(malformed(&format!("{name}+1dfac4b9a+{key}")));
        assert!(malformed(&format!("{name}+1dfac4bz+{key}")));
        assert!(malformed(&format!("{name}+{id}+{key}!")));
        assert!(malformed(&format!("{name}+{id}+")));
        let short = STANDARD.encode([1u8; 32]);
        assert!(malformed(&format!("{name}+{id}+{short}")));
        let mut ecdsa = STANDARD.decode(key).expect("b64");
        ecdsa[0] = 0x02;
        assert_eq!(
            NoteVerifier::parse(&format!("{name}+{id}+{}", STANDARD.encode(ecdsa))),
            Err(NoteError::UnsupportedKeyType { found: 2 })
        );
        assert_eq!(
            NoteVerifier::parse(&format!("example.com/other+{id}+{key}")),
            Err(NoteError::KeyIdMismatch {
                stated: "1dfac4b9".to_owned(),
                computed: hex::encode(
                    NoteSigner::from_pkcs8("example.com/other", &pkcs8())
                        .expect("key")
                        .key_id()
                ),
            })
        );
        assert!(matches!(
            NoteVerifier::parse(&format!("a b+{id}+{key}")),
            Err(NoteError::InvalidKeyName { .. })
        ));
        // Upper-case hex digits are read as the same id.
        assert!(NoteVerifier::parse(&format!("{name}+1DFAC4B9+{key}")).is_ok());
    }

    /// The signature line of the known-answer note, and its base64 signature.
    fn signature_line() -> (&'static str, &'static str) {
        let line = EXPECTED_NOTE.lines().last().expect("signature line");
        let b64 = line.rsplit(' ').next().expect("signature");
        (line, b64)
    }

    #[test]
    fn tampering_rejected() {
        let v = verifier();
        let bad_signature = |note: &str| {
            assert!(
                matches!(v.verify(note, None), Err(NoteError::BadSignature { .. })),
                "{note:?}: {:?}",
                v.verify(note, None)
            );
        };
        // Tampered body: size, root, origin.
        bad_signature(&EXPECTED_NOTE.replacen("\n8\n", "\n9\n", 1));
        bad_signature(&EXPECTED_NOTE.replacen("Xcna", "Xcnb", 1));
        bad_signature(&EXPECTED_NOTE.replacen(
            "portcullis.dev/audit\n",
            "portcullis.dev/audi7\n",
            1,
        ));
        // Tampered signature bytes (key id intact).
        let (_, b64) = signature_line();
        let mut blob = STANDARD.decode(b64).expect("b64");
        blob[10] ^= 0x40;
        bad_signature(&EXPECTED_NOTE.replacen(b64, &STANDARD.encode(&blob), 1));
        // Truncated signature.
        bad_signature(&EXPECTED_NOTE.replacen(b64, &STANDARD.encode(&blob[..40]), 1));
        // Tampered key id: no longer this key's signature.
        let mut blob = STANDARD.decode(b64).expect("b64");
        blob[0] ^= 1;
        assert!(matches!(
            v.verify(
                &EXPECTED_NOTE.replacen(b64, &STANDARD.encode(&blob), 1),
                None
            ),
            Err(NoteError::NoSignatureByKey { .. })
        ));
        // Signature line with another name: ignored, so no signature by this key.
        assert!(matches!(
            v.verify(
                &EXPECTED_NOTE.replacen(
                    "\u{2014} portcullis.dev/audit ",
                    "\u{2014} example.com/x ",
                    1
                ),
                None
            ),
            Err(NoteError::NoSignatureByKey { .. })
        ));
        // Expected origin differs.
        assert_eq!(
            v.verify(EXPECTED_NOTE, Some("portcullis.dev/other")),
            Err(NoteError::OriginMismatch {
                expected: "portcullis.dev/other".to_owned(),
                found: ORIGIN.to_owned(),
            })
        );
    }

    #[test]
    fn other_signatures_ignored() {
        let v = verifier();
        let (line, _) = signature_line();
        let other_key = "\u{2014} example.com/witness AAAAAAAAAAAAAAAA\n";
        let same_name_other_id = "\u{2014} portcullis.dev/audit AAAAAAAAAAAAAAAA\n";
        for extra in [other_key, same_name_other_id] {
            let before = EXPECTED_NOTE.replacen(line, &format!("{}{line}", extra), 1);
            let after = format!("{EXPECTED_NOTE}{extra}");
            assert_eq!(v.verify(&before, None), Ok(checkpoint()), "{before:?}");
            assert_eq!(v.verify(&after, None), Ok(checkpoint()), "{after:?}");
        }
        // A second signature by this key that does not verify rejects the note.
        let (_, b64) = signature_line();
        let mut blob = STANDARD.decode(b64).expect("b64");
        blob[20] ^= 1;
        let bad = format!(
            "{EXPECTED_NOTE}\u{2014} {ORIGIN} {}\n",
            STANDARD.encode(blob)
        );
        assert!(matches!(
            v.verify(&bad, None),
            Err(NoteError::BadSignature { .. })
        ));
        // Up to the limit of signature lines.
        let many = format!("{EXPECTED_NOTE}{}", other_key.repeat(MAX_SIGNATURES - 1));
        assert_eq!(v.verify(&many, None), Ok(checkpoint()));
        let too_many = format!("{many}{other_key}");
        assert_eq!(
            v.verify(&too_many, None),
            Err(NoteError::TooManySignatures {
                limit: MAX_SIGNATURES
            })
        );
    }

    #[test]
    fn malformed_notes_rejected() {
        let v = verifier();
        let (line, b64) = signature_line();
        let body = checkpoint().body();
        assert_eq!(
            v.verify(&EXPECTED_NOTE.replacen("\n\n", "\n", 1), None),
            Err(NoteError::MissingBlankLine)
        );
        assert_eq!(
            v.verify(&format!("{body}\n"), None),
            Err(NoteError::NoSignatureLines)
        );
        assert_eq!(
            v.verify(EXPECTED_NOTE.trim_end_matches('\n'), None),
            Err(NoteError::MalformedSignatureLine {
                line: 5,
                reason: "it does not end with a newline"
            })
        );
        assert_eq!(
            v.verify(&EXPECTED_NOTE.replacen('\n', "\r\n", 1), None),
            Err(NoteError::ControlCharacter { offset: 20 })
        );
        let malformed = |note: String| {
            let got = v.verify(&note, None);
            assert!(
                matches!(got, Err(NoteError::MalformedSignatureLine { line: 5, .. })),
                "{note:?}: {got:?}"
            );
        };
        malformed(EXPECTED_NOTE.replacen('\u{2014}', "-", 1));
        malformed(EXPECTED_NOTE.replacen("\u{2014} ", "\u{2014}", 1));
        malformed(EXPECTED_NOTE.replacen(&format!(" {b64}"), b64, 1));
        malformed(EXPECTED_NOTE.replacen(b64, &b64[1..], 1));
        malformed(EXPECTED_NOTE.replacen(b64, "AAAA", 1));
        malformed(EXPECTED_NOTE.replacen(b64, "", 1));
        malformed(EXPECTED_NOTE.replacen(line, &format!("{line} "), 1));
        // A blank line among the signatures makes the text end with a signature line.
        let extra_blank = format!("{EXPECTED_NOTE}\n{line}\n");
        assert!(v.verify(&extra_blank, None).is_err());
    }

    #[test]
    fn malformed_bodies_rejected() {
        let s = signer();
        let v = verifier();
        let root = STANDARD.encode(checkpoint().root);
        let check = |text: String, want: NoteError| {
            assert_eq!(v.verify(&s.sign_text(&text), None), Err(want), "{text:?}");
        };
        for size in [
            "08",
            "+8",
            "-1",
            "8 ",
            " 8",
            "",
            "0x8",
            "1e3",
            "\u{668}",
            "18446744073709551616",
        ] {
            check(
                format!("{ORIGIN}\n{size}\n{root}\n"),
                NoteError::InvalidTreeSize {
                    found: size.to_owned(),
                },
            );
        }
        let max = format!("{ORIGIN}\n18446744073709551615\n{root}\n");
        assert_eq!(
            v.verify(&s.sign_text(&max), None).map(|c| c.size),
            Ok(u64::MAX)
        );
        let zero = format!("{ORIGIN}\n0\n{root}\n");
        assert_eq!(v.verify(&s.sign_text(&zero), None).map(|c| c.size), Ok(0));

        // Not canonical base64: no padding, non-zero trailing bits, URL alphabet, spaces.
        let no_pad = root.trim_end_matches('=').to_owned();
        let trailing_bits = root.replacen("yg=", "yh=", 1);
        let url = root.replace('+', "-").replace('/', "_");
        for bad in [
            no_pad,
            trailing_bits,
            url,
            format!(" {root}"),
            "!!!!".to_owned(),
        ] {
            check(
                format!("{ORIGIN}\n8\n{bad}\n"),
                NoteError::RootNotBase64 { found: bad.clone() },
            );
        }
        for len in [0usize, 31, 33, 64] {
            check(
                format!("{ORIGIN}\n8\n{}\n", STANDARD.encode(vec![7u8; len])),
                NoteError::RootLength { got: len },
            );
        }
        check(
            format!("{ORIGIN}\n8\n"),
            NoteError::WrongLineCount { found: 2 },
        );
        check(
            format!("{ORIGIN}\n\n8\n{root}\n"),
            NoteError::InvalidTreeSize {
                found: String::new(),
            },
        );
        check(
            format!("{ORIGIN}\n8\n{root}\nfirst\n\nthird\n"),
            NoteError::EmptyExtensionLine { line: 5 },
        );
        check(
            format!("\n8\n{root}\n"),
            NoteError::InvalidOrigin {
                origin: String::new(),
            },
        );
    }

    /// C2SP tlog-checkpoint extension lines are signed with the text, accepted, returned
    /// verbatim, and change nothing else; altering one breaks the signature.
    #[test]
    fn extension_lines_accepted_and_returned() {
        let s = signer();
        let v = verifier();
        let body = format!(
            "{}extension one\n\u{2014} not a signature\n",
            checkpoint().body()
        );
        let note = s.sign_text(&body);
        let cp = v.verify(&note, Some(ORIGIN)).expect("verifies");
        assert_eq!(cp.size, 8);
        assert_eq!(cp.root, checkpoint().root);
        assert_eq!(
            cp.extensions,
            vec![
                "extension one".to_owned(),
                "\u{2014} not a signature".to_owned()
            ]
        );
        assert_eq!(cp.body(), body);
        assert!(matches!(
            v.verify(&note.replacen("extension one", "extension two", 1), None),
            Err(NoteError::BadSignature { .. })
        ));
        // With a cosignature by an unknown witness key after the log's own.
        let cosigned = format!("{note}\u{2014} witness.example AAAAAAAAAAAAAAAA\n");
        assert_eq!(v.verify(&cosigned, None), Ok(cp));
    }
}
