//! C2SP `signed-note` verification with Ed25519 (`ring`): verifier keys, signature lines, key
//! ids, and [`NoteVerifier`], which checks a signed checkpoint and returns its body.
//!
//! * The signature covers the note text: every line above the blank line, each with its newline.
//! * The key id is the first 4 bytes of `SHA-256(key name || 0x0A || 0x01 || public key)`
//!   (signature type 0x01 is Ed25519).
//! * A verifier key (vkey) is `<key name>+<8 hex digits of key id>+<base64(0x01 || public key)>`.
//!
//! Verification is strict where the specifications leave room, because the result is shown to
//! auditors: the note must be valid signed-note syntax (no control characters but newline, a
//! blank line before the signature lines, every signature line well-formed, at most
//! [`MAX_SIGNATURES`] of them); signatures by other keys are ignored, as the signed-note
//! specification requires, but a signature by the verifier's key that does not verify rejects the
//! whole note. The gateway's signer (`portcullis::audit::checkpoint::NoteSigner`) writes what this
//! module reads.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::digest::{digest, SHA256};
use ring::signature::{UnparsedPublicKey, ED25519};

/// Signature type identifier of Ed25519 in signed notes (C2SP signed-note).
pub const ED25519_TYPE: u8 = 0x01;
/// The start of every signature line: em dash (U+2014) and a space.
pub const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// The most signature lines a note may carry (the specification requires accepting 16).
pub const MAX_SIGNATURES: usize = 100;

/// Why a key could not be loaded, or a signed note is rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// A key name that signed notes do not allow.
    #[error("key name {name:?} is invalid: it must be non-empty and contain no spaces, '+' or control characters")]
    InvalidKeyName {
        /// The name given.
        name: String,
    },
    /// A checkpoint origin that is empty or contains a control character (such as a newline).
    #[error("checkpoint origin {origin:?} is invalid: it must be non-empty and contain no control characters")]
    InvalidOrigin {
        /// The origin given.
        origin: String,
    },
    /// The private key is not an Ed25519 PKCS#8 document that `ring` accepts.
    #[error("the Ed25519 private key is not a valid PKCS#8 document: {reason}")]
    InvalidPrivateKey {
        /// What `ring` reported.
        reason: String,
    },
    /// The verifier key text is not `<name>+<key id>+<base64 key>`.
    #[error("the verifier key is malformed: {reason}")]
    MalformedVerifierKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The verifier key is for a signature type other than Ed25519 (0x01).
    #[error("the verifier key has signature type 0x{found:02x}; only Ed25519 (0x01) is supported")]
    UnsupportedKeyType {
        /// The type byte found.
        found: u8,
    },
    /// The key id written in the verifier key is not the one computed from its name and key.
    #[error("the verifier key states key id {stated} but its name and public key give {computed}")]
    KeyIdMismatch {
        /// The key id written in the verifier key (hex).
        stated: String,
        /// The key id computed from the name and public key (hex).
        computed: String,
    },
    /// The note contains an ASCII control character other than newline.
    #[error("the signed note contains a control character at byte {offset}")]
    ControlCharacter {
        /// Byte offset of the character in the note.
        offset: usize,
    },
    /// The note has no blank line separating the text from the signature lines.
    #[error("the signed note has no blank line between the text and the signatures")]
    MissingBlankLine,
    /// There is nothing after the blank line.
    #[error("the signed note has no signature lines after the blank line")]
    NoSignatureLines,
    /// A signature line is not `— <key name> <base64 signature>` followed by a newline.
    #[error("line {line} of the signed note is not a valid signature line: {reason}")]
    MalformedSignatureLine {
        /// The line number in the note, from 1.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The note has more signature lines than accepted.
    #[error("the signed note has more than {limit} signature lines")]
    TooManySignatures {
        /// The most accepted.
        limit: usize,
    },
    /// No signature line is by the verifier's key (same name and key id).
    #[error("the signed note has no signature by key {name} (key id {key_id})")]
    NoSignatureByKey {
        /// The verifier's key name.
        name: String,
        /// The verifier's key id (hex).
        key_id: String,
    },
    /// A signature line by the verifier's key does not verify: the text or the signature was
    /// altered, or the signature was made by another key with the same name and key id.
    #[error("the signature by key {name} (key id {key_id}) does not verify: the checkpoint text or the signature has been altered")]
    BadSignature {
        /// The verifier's key name.
        name: String,
        /// The verifier's key id (hex).
        key_id: String,
    },
    /// The signed text has fewer than three lines (origin, tree size, root hash).
    #[error(
        "the checkpoint text has {found} lines; expected at least 3 (origin, tree size, root hash)"
    )]
    WrongLineCount {
        /// The number of lines found.
        found: usize,
    },
    /// An extension line after the root hash is empty (C2SP tlog-checkpoint: extension lines
    /// are non-empty).
    #[error("extension line {line} of the checkpoint text is empty")]
    EmptyExtensionLine {
        /// The line number in the note, from 1.
        line: usize,
    },
    /// The tree size line is not a decimal number without sign or leading zeros that fits in
    /// 64 bits.
    #[error("the checkpoint tree size {found:?} is not a decimal number without sign or leading zeros below 2^64")]
    InvalidTreeSize {
        /// The line found.
        found: String,
    },
    /// The root hash line is not canonical standard base64.
    #[error("the checkpoint root hash {found:?} is not canonical standard base64")]
    RootNotBase64 {
        /// The line found.
        found: String,
    },
    /// The root hash does not decode to 32 bytes.
    #[error("the checkpoint root hash is {got} bytes long; expected 32")]
    RootLength {
        /// The number of bytes decoded.
        got: usize,
    },
    /// The checkpoint is for another log than the expected one.
    #[error("the checkpoint origin is {found:?}; expected {expected:?}")]
    OriginMismatch {
        /// The origin the caller expects.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
}

/// Whether a key name is allowed: non-empty, no Unicode spaces, no '+', no control characters.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

/// [`is_valid_key_name`], as a [`NoteError::InvalidKeyName`].
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidKeyName {
            name: name.to_owned(),
        })
    }
}

/// The first 4 bytes of `SHA-256(name || 0x0A || 0x01 || public key)`.
pub fn ed25519_key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut input = Vec::with_capacity(name.len() + 2 + public_key.len());
    input.extend_from_slice(name.as_bytes());
    input.push(b'\n');
    input.push(ED25519_TYPE);
    input.extend_from_slice(public_key);
    let hash = digest(&SHA256, &input);
    let mut id = [0u8; 4];
    id.copy_from_slice(&hash.as_ref()[..4]);
    id
}

/// The verifier key text of an Ed25519 `public_key` under `name`, what [`NoteVerifier::parse`]
/// reads: `<name>+<8 hex digits of key id>+<base64(0x01 || public key)>`.
pub fn ed25519_verifier_key(name: &str, public_key: &[u8; 32]) -> String {
    let mut key = Vec::with_capacity(33);
    key.push(ED25519_TYPE);
    key.extend_from_slice(public_key);
    format!(
        "{name}+{}+{}",
        hex::encode(ed25519_key_id(name, public_key)),
        STANDARD.encode(key)
    )
}

/// A signed note with one signature line: `text` (ending in a newline), a blank line, and
/// `— <name> <base64(key id || signature)>`, where `signature` is the signature of `text` by
/// the key `name` with id `key_id`.
pub fn signed_note(text: &str, name: &str, key_id: [u8; 4], signature: &[u8]) -> String {
    let mut blob = Vec::with_capacity(4 + signature.len());
    blob.extend_from_slice(&key_id);
    blob.extend_from_slice(signature);
    format!(
        "{text}\n{SIGNATURE_PREFIX}{name} {}\n",
        STANDARD.encode(blob)
    )
}

/// An Ed25519 verifier of signed checkpoints, from a verifier key text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: [u8; 4],
    public_key: [u8; 32],
}

impl NoteVerifier {
    /// Parses a verifier key `<name>+<8 hex digits of key id>+<base64(0x01 || public key)>`,
    /// and checks that the key id is the one of this name and key. Whitespace around the text
    /// (such as the final newline of a vkey file) is ignored.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedVerifierKey {
                reason: "expected <name>+<key id>+<base64 key>",
            });
        };
        check_key_name(name)?;
        let stated: [u8; 4] = match hex::decode(id_hex) {
            Ok(bytes) if id_hex.len() == 8 => {
                bytes
                    .try_into()
                    .map_err(|_| NoteError::MalformedVerifierKey {
                        reason: "the key id is not 8 hex digits",
                    })?
            }
            _ => {
                return Err(NoteError::MalformedVerifierKey {
                    reason: "the key id is not 8 hex digits",
                })
            }
        };
        let key = STANDARD
            .decode(key_b64)
            .map_err(|_| NoteError::MalformedVerifierKey {
                reason: "the key is not standard base64",
            })?;
        let Some((&key_type, public_key)) = key.split_first() else {
            return Err(NoteError::MalformedVerifierKey {
                reason: "the key is empty",
            });
        };
        if key_type != ED25519_TYPE {
            return Err(NoteError::UnsupportedKeyType { found: key_type });
        }
        let public_key: [u8; 32] =
            public_key
                .try_into()
                .map_err(|_| NoteError::MalformedVerifierKey {
                    reason: "the Ed25519 public key is not 32 bytes",
                })?;
        let computed = ed25519_key_id(name, &public_key);
        if computed != stated {
            return Err(NoteError::KeyIdMismatch {
                stated: hex::encode(stated),
                computed: hex::encode(computed),
            });
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: computed,
            public_key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// Checks the signed-note syntax and this key's signature; returns the signed text (any
    /// signed note, not only a checkpoint).
    pub fn verified_text<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        if let Some(offset) = note.bytes().position(|b| b < 0x20 && b != b'\n') {
            return Err(NoteError::ControlCharacter { offset });
        }
        let split = note.rfind("\n\n").ok_or(NoteError::MissingBlankLine)?;
        let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
        if signatures.is_empty() {
            return Err(NoteError::NoSignatureLines);
        }
        // Line numbers in the whole note, from 1: the text, the blank line, then signatures.
        let first_line = text.matches('\n').count() + 2;
        if !signatures.ends_with('\n') {
            let last = first_line + signatures.matches('\n').count();
            return Err(NoteError::MalformedSignatureLine {
                line: last,
                reason: "it does not end with a newline",
            });
        }
        let key_id_hex = || hex::encode(self.key_id);
        let public_key = UnparsedPublicKey::new(&ED25519, &self.public_key);
        let mut verified = false;
        for (i, line) in signatures.split_terminator('\n').enumerate() {
            if i >= MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    limit: MAX_SIGNATURES,
                });
            }
            let malformed = |reason| NoteError::MalformedSignatureLine {
                line: first_line + i,
                reason,
            };
            let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or_else(|| {
                malformed("it does not start with an em dash (U+2014) and a space")
            })?;
            let (name, encoded) = rest.split_once(' ').ok_or_else(|| {
                malformed("it has no space between the key name and the signature")
            })?;
            if !is_valid_key_name(name) {
                return Err(malformed("the key name is invalid"));
            }
            let blob = STANDARD
                .decode(encoded)
                .map_err(|_| malformed("the signature is not standard base64"))?;
            if blob.len() < 5 {
                return Err(malformed(
                    "the signature is shorter than a key id and one byte",
                ));
            }
            if name != self.name || blob[..4] != self.key_id {
                continue; // Another key: ignored, as the signed-note specification requires.
            }
            if public_key.verify(text.as_bytes(), &blob[4..]).is_err() {
                return Err(NoteError::BadSignature {
                    name: self.name.clone(),
                    key_id: key_id_hex(),
                });
            }
            verified = true;
        }
        if !verified {
            return Err(NoteError::NoSignatureByKey {
                name: self.name.clone(),
                key_id: key_id_hex(),
            });
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of c2sp.org/signed-note: an independent Ed25519 known answer.
    #[test]
    fn c2sp_signed_note_example() {
        let verifier = NoteVerifier::parse(
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        )
        .expect("vkey");
        let note =
            "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tn\
            agv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
        assert_eq!(
            verifier.verified_text(note),
            Ok("This is an example message.\n")
        );
        // Signed, but not a checkpoint.
        assert_eq!(
            verifier.verify(note, None),
            Err(NoteError::WrongLineCount { found: 1 })
        );
        let altered = note.replacen("example", "exemple", 1);
        assert!(matches!(
            verifier.verified_text(&altered),
            Err(NoteError::BadSignature { .. })
        ));
    }

    /// A real checkpoint of the Go checksum database, signed by its published key: the same
    /// format from an independent implementation (golang.org/x/mod/sumdb/note).
    #[test]
    fn sum_golang_org_checkpoint() {
        let v = NoteVerifier::parse(
            "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
        )
        .expect("vkey");
        assert_eq!(v.name(), "sum.golang.org");
        assert_eq!(hex::encode(v.key_id()), "033de0ae");
        let note = "go.sum database tree\n65664258\nWVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg=\n\n\
            \u{2014} sum.golang.org Az3grligJmgX7KGyGPKybykNTh3VgsbLvUuvOwrM5zLVlulmFp2wdvbxOw74/gcNx\
            URShXEpb7RXcs3+BYflYN+w0gQ=\n";
        let cp = v
            .verify(note, Some("go.sum database tree"))
            .expect("verifies");
        assert_eq!(cp.size, 65_664_258);
        assert_eq!(
            hex::encode(cp.root),
            "59554d543daac7e7d3ab7d73923e9402ac53e57e87bc6a6118cfa8f138676ec8"
        );
        assert!(matches!(
            v.verify(&note.replacen("65664258", "65664259", 1), None),
            Err(NoteError::BadSignature { .. })
        ));
        let other = NoteVerifier::parse(
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        )
        .expect("vkey");
        assert!(matches!(
            other.verify(note, None),
            Err(NoteError::NoSignatureByKey { .. })
        ));
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            NoteError::OriginMismatch {
                expected: "a".to_owned(),
                found: "b".to_owned()
            }
            .to_string(),
            "the checkpoint origin is \"b\"; expected \"a\""
        );
        assert_eq!(
            NoteError::NoSignatureByKey {
                name: "portcullis.dev/audit".to_owned(),
                key_id: "1dfac4b9".to_owned()
            }
            .to_string(),
            "the signed note has no signature by key portcullis.dev/audit (key id 1dfac4b9)"
        );
        assert_eq!(
            NoteError::RootLength { got: 31 }.to_string(),
            "the checkpoint root hash is 31 bytes long; expected 32"
        );
    }
}
