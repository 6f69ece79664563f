//! Signed checkpoints of the audit log: C2SP `tlog-checkpoint` bodies in C2SP `signed-note`
//! envelopes, with Ed25519 signatures made and checked by `ring`.
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
//! Verification is strict where the specifications leave room, because the result is shown to
//! auditors: the note must be valid signed-note syntax (no control characters but newline, a
//! blank line before the signature lines, every signature line well-formed, at most
//! [`MAX_SIGNATURES`] of them); signatures by other keys are ignored, as the signed-note
//! specification requires, but a signature by the verifier's key that does not verify rejects the
//! whole note; the text must have at least three lines, the size decimal without sign or leading
//! zeros, the root canonical standard base64 of exactly 32 bytes.
//!
//! Lines after the root hash are C2SP tlog-checkpoint *extension lines*: Portcullis writes none,
//! but a checkpoint that carries some (another log's, or one a witness ecosystem annotated) is
//! accepted, and they are returned in [`Checkpoint::extensions`] for a verifier to show. Their
//! meaning is not known here, so nothing is ever concluded from them.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::digest::{digest, SHA256};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

use super::merkle::Hash;

/// Signature type identifier of Ed25519 in signed notes (C2SP signed-note).
const ED25519_TYPE: u8 = 0x01;
/// The start of every signature line: em dash (U+2014) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
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

/// A checkpoint body: the log's origin, its tree size and the root hash at that size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `portcullis.dev/audit` (see [`validate_origin`]).
    pub origin: String,
    /// The number of leaves in the tree.
    pub size: u64,
    /// The RFC 9162 root hash of the first `size` leaves.
    pub root: Hash,
    /// Extension lines after the root hash, verbatim and in order (C2SP tlog-checkpoint). They
    /// are covered by the signature but their meaning is the log's own: show them, never trust
    /// them. Portcullis signs none.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: `"<origin>\n<size>\n<base64 std root>\n"`, then each extension line.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }
}

/// Checks that an origin can be the first line of a checkpoint: non-empty, no control characters
/// (in particular no newline). Check the configured origin with it once: a checkpoint signed with
/// an invalid origin is rejected by every verifier.
pub fn validate_origin(origin: &str) -> Result<(), NoteError> {
    if origin.is_empty() || origin.chars().any(|c| c.is_control()) {
        return Err(NoteError::InvalidOrigin {
            origin: origin.to_owned(),
        });
    }
    Ok(())
}

/// Whether a key name is allowed: non-empty, no Unicode spaces, no '+', no control characters.
fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

fn check_key_name(name: &str) -> Result<(), NoteError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidKeyName {
            name: name.to_owned(),
        })
    }
}

/// The first 4 bytes of `SHA-256(name || 0x0A || 0x01 || public key)`.
fn ed25519_key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
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

/// An Ed25519 signer of checkpoints as signed notes.
pub struct NoteSigner {
    name: String,
    key_id: [u8; 4],
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
        let mut key = Vec::with_capacity(33);
        key.push(ED25519_TYPE);
        key.extend_from_slice(self.key_pair.public_key().as_ref());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            STANDARD.encode(key)
        )
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
        let mut blob = Vec::with_capacity(4 + signature.as_ref().len());
        blob.extend_from_slice(&self.key_id);
        blob.extend_from_slice(signature.as_ref());
        format!(
            "{text}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(blob)
        )
    }
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

    /// Parses and verifies a signed checkpoint; returns the checkpoint if a signature line by
    /// this key verifies (signatures by other keys are ignored).
    ///
    /// Rejects: control characters, no blank line before the signatures, malformed or too many
    /// signature lines, no signature by this key, a signature by this key that does not verify,
    /// a text without origin / size / root lines, a size that is not plain decimal, a root
    /// that is not canonical base64 of 32 bytes, and an origin other than `expected_origin`
    /// (when given).
    pub fn verify(
        &self,
        note: &str,
        expected_origin: Option<&str>,
    ) -> Result<Checkpoint, NoteError> {
        let text = self.verified_text(note)?;
        let checkpoint = parse_body(text)?;
        if let Some(expected) = expected_origin {
            if checkpoint.origin != expected {
                return Err(NoteError::OriginMismatch {
                    expected: expected.to_owned(),
                    found: checkpoint.origin,
                });
            }
        }
        Ok(checkpoint)
    }

    /// Checks the signed-note syntax and this key's signature; returns the signed text.
    fn verified_text<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
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

/// Parses a checkpoint text (origin, size, root, then any extension lines; each line ending in
/// a newline).
fn parse_body(text: &str) -> Result<Checkpoint, NoteError> {
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    let [origin, size, root, ref extensions @ ..] = lines[..] else {
        return Err(NoteError::WrongLineCount { found: lines.len() });
    };
    validate_origin(origin)?;
    let size_ok = !size.is_empty()
        && size.bytes().all(|b| b.is_ascii_digit())
        && (size == "0" || !size.starts_with('0'));
    let size = size
        .parse::<u64>()
        .ok()
        .filter(|_| size_ok)
        .ok_or_else(|| NoteError::InvalidTreeSize {
            found: size.to_owned(),
        })?;
    let decoded = STANDARD
        .decode(root)
        .map_err(|_| NoteError::RootNotBase64 {
            found: root.to_owned(),
        })?;
    let got = decoded.len();
    let root: Hash = decoded
        .try_into()
        .map_err(|_| NoteError::RootLength { got })?;
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
        extensions: extensions
            .iter()
            .enumerate()
            .map(|(i, l)| match l.is_empty() {
                true => Err(NoteError::EmptyExtensionLine { line: i + 4 }),
                false => Ok((*l).to_owned()),
            })
            .collect::<Result<_, _>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(matches!(
            verifier().verify(note, None),
            Err(NoteError::NoSignatureByKey { .. })
        ));
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
    fn origin_validation() {
        assert_eq!(validate_origin(ORIGIN), Ok(()));
        for bad in ["", "a\nb", "a\tb", "a\u{7f}"] {
            assert_eq!(
                validate_origin(bad),
                Err(NoteError::InvalidOrigin {
                    origin: bad.to_owned()
                })
            );
        }
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
                name: ORIGIN.to_owned(),
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
