//! Tokens v2: the RFC 9497 VOPRF (mode 0x01, ciphersuite ristretto255-SHA512) through the
//! `voprf` crate, as the key service evaluates it and as a client blinds, verifies and
//! finalizes it (docs/tokens.md, "Tokens v2").
//!
//! - Input of one token: `"portcullis:v2:" || label || ":" || canonical`.
//! - Digest: the first 32 bytes of the 64-byte `Finalize` output.
//! - One batched DLEQ proof per evaluated batch; the client verifies it against the pinned
//!   public key before using any output.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use voprf::{Group, Ristretto255};

use crate::tokens::CanonicalKind;

mod client;

pub use client::Blinded;

/// The scheme name of a VOPRF epoch, in key files and `PublicKey.suite`.
pub const SUITE: &str = "voprf-ristretto255-sha512";
/// The scheme tag of a key-service private key file line.
pub const PRIVATE_SUITE: &str = "voprf-ristretto255-sha512-private";
/// The most elements one Evaluate call may carry.
pub const MAX_BATCH: usize = 1024;
/// The prefix of every v2 input.
pub const INPUT_PREFIX: &str = "portcullis:v2:";

/// Errors of the v2 token scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OprfError {
    /// A key file or key line is malformed (the message names the file or the part).
    #[error("{0}")]
    Key(String),
    /// A batch has no element or more than [`MAX_BATCH`].
    #[error("blinded_elements: must hold 1..={MAX_BATCH} elements, got {0}")]
    BatchSize(usize),
    /// One element of a batch is unusable.
    #[error("blinded_elements[{index}]: {reason}")]
    Element {
        /// Its position in the batch.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The key service's answer does not fit the request (count or encoding).
    #[error("key service answer for key {key_id}: {reason}")]
    Answer {
        /// The key id asked for.
        key_id: String,
        /// What is wrong.
        reason: String,
    },
    /// The batched proof does not verify against the pinned public key.
    #[error(
        "key service proof does not verify against the pinned public key of {key_id}: \
         refusing every output of this batch"
    )]
    ProofFailed {
        /// The key id whose pinned key was used.
        key_id: String,
    },
    /// An input could not be blinded (empty or longer than 65535 bytes).
    #[error("input {index}: cannot be blinded (must be 1..=65535 bytes)")]
    Input {
        /// Its position.
        index: usize,
    },
}

/// The v2 input of one token.
pub fn input(kind: CanonicalKind, canonical: &str) -> Vec<u8> {
    let label = kind.label();
    let mut out = Vec::with_capacity(INPUT_PREFIX.len() + label.len() + 1 + canonical.len());
    out.extend_from_slice(INPUT_PREFIX.as_bytes());
    out.extend_from_slice(label.as_bytes());
    out.push(b':');
    out.extend_from_slice(canonical.as_bytes());
    out
}

fn valid_key_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Splits `<key_id>:<suite>:<base64 of 32 bytes>` and checks the suite.
fn parse_line(text: &str, suite: &str) -> Result<(String, [u8; 32]), OprfError> {
    let line = text.trim();
    let mut parts = line.splitn(3, ':');
    let (Some(id), Some(found), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(OprfError::Key(format!(
            "expected <key_id>:{suite}:<base64 of 32 bytes>"
        )));
    };
    if !valid_key_id(id) {
        return Err(OprfError::Key(
            "key id must be 1 to 64 of A-Z a-z 0-9 . _ -".to_owned(),
        ));
    }
    if found != suite {
        return Err(OprfError::Key(format!(
            "key {id}: scheme must be {suite}, got {}",
            found.chars().take(40).collect::<String>()
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| OprfError::Key(format!("key {id}: not standard base64")))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
        OprfError::Key(format!("key {id}: must be 32 bytes, got {}", b.len()))
    })?;
    Ok((id.to_owned(), bytes))
}

fn read_text(path: &Path) -> Result<String, OprfError> {
    let bytes =
        std::fs::read(path).map_err(|e| OprfError::Key(format!("{}: {e}", path.display())))?;
    String::from_utf8(bytes)
        .map_err(|_| OprfError::Key(format!("{}: key file is not UTF-8 text", path.display())))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Why 32 bytes are not a usable blinded or evaluated element, if they are not.
pub fn check_element(bytes: &[u8]) -> Result<(), String> {
    decode_element(bytes).map(|_| ())
}

/// The element 32 bytes encode, or why they are not a usable (canonical, non-identity) one.
pub(crate) fn decode_element(bytes: &[u8]) -> Result<RistrettoPoint, String> {
    if bytes.len() != 32 {
        return Err(format!("must be 32 bytes, got {}", bytes.len()));
    }
    let Some(point) = CompressedRistretto::from_slice(bytes)
        .ok()
        .and_then(|c| c.decompress())
    else {
        return Err("not a canonical ristretto255 encoding".to_owned());
    };
    if point.is_identity() {
        return Err("is the identity element".to_owned());
    }
    Ok(point)
}

/// A pinned VOPRF public key: the epoch's key id and its 32-byte serialized element.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    id: String,
    bytes: [u8; 32],
    point: <Ristretto255 as Group>::Elem,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("id", &self.id)
            .field("key", &b64(&self.bytes))
            .finish()
    }
}

impl PublicKey {
    /// A public key from its id and serialized element.
    pub fn new(id: &str, bytes: &[u8]) -> Result<Self, OprfError> {
        if !valid_key_id(id) {
            return Err(OprfError::Key(
                "key id must be 1 to 64 of A-Z a-z 0-9 . _ -".to_owned(),
            ));
        }
        check_element(bytes).map_err(|e| OprfError::Key(format!("public key of {id}: {e}")))?;
        let point = Ristretto255::deserialize_elem(bytes)
            .map_err(|_| OprfError::Key(format!("public key of {id}: not a group element")))?;
        let mut fixed = [0u8; 32];
        fixed.copy_from_slice(bytes);
        Ok(PublicKey {
            id: id.to_owned(),
            bytes: fixed,
            point,
        })
    }

    /// Parses the pinned-key line `<key_id>:voprf-ristretto255-sha512:<base64 of 32 bytes>`.
    pub fn parse(text: &str) -> Result<Self, OprfError> {
        let (id, bytes) = parse_line(text, SUITE)?;
        PublicKey::new(&id, &bytes)
    }

    /// Reads and parses a pinned-key file.
    pub fn from_file(path: &Path) -> Result<Self, OprfError> {
        PublicKey::parse(&read_text(path)?)
            .map_err(|e| OprfError::Key(format!("{}: {e}", path.display())))
    }

    /// The key id (epoch).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The 32-byte serialized element.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The pinned-key file line (no newline).
    pub fn to_line(&self) -> String {
        format!("{}:{SUITE}:{}", self.id, b64(&self.bytes))
    }
}

/// A key-service private key: the epoch's key id and the VOPRF server state.
///
/// `Debug` shows the id only, never the scalar.
#[derive(Clone)]
pub struct ServerKey {
    id: String,
    scalar: [u8; 32],
    k: Scalar,
    public: PublicKey,
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKey")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The answer to one evaluated batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluated {
    /// The evaluated elements, in request order.
    pub elements: Vec<[u8; 32]>,
    /// The batched DLEQ proof, `c ‖ s` (64 bytes).
    pub proof: [u8; 64],
}

impl ServerKey {
    /// A key from its id and its 32-byte little-endian scalar (canonical, non-zero).
    pub fn new(id: &str, scalar: [u8; 32]) -> Result<Self, OprfError> {
        if !valid_key_id(id) {
            return Err(OprfError::Key(
                "key id must be 1 to 64 of A-Z a-z 0-9 . _ -".to_owned(),
            ));
        }
        let k = Option::<Scalar>::from(Scalar::from_canonical_bytes(scalar))
            .filter(|k| *k != Scalar::ZERO)
            .ok_or_else(|| {
                OprfError::Key(format!(
                    "private key of {id}: not a canonical non-zero scalar"
                ))
            })?;
        let point = curve25519_dalek::constants::RISTRETTO_BASEPOINT_TABLE * &k;
        let public = PublicKey {
            id: id.to_owned(),
            bytes: point.compress().to_bytes(),
            point,
        };
        Ok(ServerKey {
            id: id.to_owned(),
            scalar,
            k,
            public,
        })
    }

    /// A new random key from the operating system's generator.
    pub fn generate(id: &str) -> Result<Self, OprfError> {
        let scalar = <Ristretto255 as Group>::random_scalar(&mut rand_core::OsRng);
        ServerKey::new(id, scalar.to_bytes())
    }

    /// Parses the private key line `<key_id>:voprf-ristretto255-sha512-private:<base64>`.
    pub fn parse(text: &str) -> Result<Self, OprfError> {
        let (id, scalar) = parse_line(text, PRIVATE_SUITE)?;
        ServerKey::new(&id, scalar)
    }

    /// Reads and parses a private key file.
    pub fn from_file(path: &Path) -> Result<Self, OprfError> {
        ServerKey::parse(&read_text(path)?)
            .map_err(|e| OprfError::Key(format!("{}: {e}", path.display())))
    }

    /// The private key file line (no newline). It contains the secret scalar.
    pub fn to_line(&self) -> String {
        format!("{}:{PRIVATE_SUITE}:{}", self.id, b64(&self.scalar))
    }

    /// The key id (epoch).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The public key clients pin.
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// Evaluates a batch with one batched proof. Every element is checked first
    /// (`blinded_elements[i]: …`); on any problem nothing is evaluated.
    pub fn evaluate(&self, elements: &[Vec<u8>]) -> Result<Evaluated, OprfError> {
        // A zero nonce has probability 2^-252; the key is never zero, so this ends.
        let r = loop {
            let r = Scalar::random(&mut rand_core::OsRng);
            if r != Scalar::ZERO {
                break r;
            }
        };
        self.evaluate_with(elements, &r)
    }

    /// As [`evaluate`](Self::evaluate) with the proof's random scalar given (32 bytes,
    /// little-endian, canonical): for test vectors only, a real service never reuses one.
    #[doc(hidden)]
    pub fn evaluate_with_proof_scalar(
        &self,
        elements: &[Vec<u8>],
        scalar: [u8; 32],
    ) -> Result<Evaluated, OprfError> {
        let r = Option::<Scalar>::from(Scalar::from_canonical_bytes(scalar))
            .filter(|r| *r != Scalar::ZERO)
            .ok_or_else(|| {
                OprfError::Key("proof scalar: not a canonical non-zero scalar".into())
            })?;
        self.evaluate_with(elements, &r)
    }

    fn evaluate_with(&self, elements: &[Vec<u8>], r: &Scalar) -> Result<Evaluated, OprfError> {
        if elements.is_empty() || elements.len() > MAX_BATCH {
            return Err(OprfError::BatchSize(elements.len()));
        }
        let mut points = Vec::with_capacity(elements.len());
        let mut c_bytes = Vec::with_capacity(elements.len());
        for (index, bytes) in elements.iter().enumerate() {
            let point =
                decode_element(bytes).map_err(|reason| OprfError::Element { index, reason })?;
            points.push(point);
            c_bytes.push(element_bytes(bytes));
        }
        let evaluated: Vec<[u8; 32]> = points
            .iter()
            .map(|c| (c * self.k).compress().to_bytes())
            .collect();
        let proof = crate::dleq::prove(
            &self.k,
            &self.public.bytes,
            &points,
            &c_bytes,
            &evaluated,
            r,
        );
        let elements = evaluated;
        Ok(Evaluated { elements, proof })
    }
}

pub(crate) fn element_bytes(serialized: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(serialized);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &serde_json::Value, key: &str) -> Vec<Vec<u8>> {
        v[key]
            .as_str()
            .unwrap()
            .split(',')
            .map(|h| hex::decode(h).unwrap())
            .collect()
    }

    #[test]
    fn every_rfc9497_ristretto255_sha512_voprf_vector() {
        let text = include_str!("../../../tests/data/voprf-rfc9497.json");
        let file: serde_json::Value = serde_json::from_str(text).unwrap();
        let key = &file["key"];
        let sk = hex::decode(key["skSm"].as_str().unwrap()).unwrap();
        let seed = hex::decode(key["Seed"].as_str().unwrap()).unwrap();
        let info = hex::decode(key["KeyInfo"].as_str().unwrap()).unwrap();
        // DeriveKeyPair(seed, info) gives skSm; our key from skSm gives pkSm.
        let derived = voprf::VoprfServer::<Ristretto255>::new_from_seed(&seed, &info).unwrap();
        let server = ServerKey::new("rfc", sk.clone().try_into().unwrap()).unwrap();
        assert_eq!(derived.get_public_key(), server.public.point);
        let pk = server.public_key();
        assert_eq!(hex::encode(pk.bytes()), key["pkSm"].as_str().unwrap());

        let vectors = file["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 3);
        for v in vectors {
            let name = v["name"].as_str().unwrap();
            let inputs = list(v, "Input");
            let blinds: Vec<[u8; 32]> = list(v, "Blind")
                .into_iter()
                .map(|b| b.try_into().unwrap())
                .collect();
            let blinded = Blinded::with_blinds(inputs.clone(), &blinds).unwrap();
            let want: Vec<Vec<u8>> = list(v, "BlindedElement");
            let got: Vec<Vec<u8>> = blinded.elements().iter().map(|e| e.to_vec()).collect();
            assert_eq!(got, want, "{name}: BlindedElement");

            let r = hex::decode(v["ProofRandomScalar"].as_str().unwrap()).unwrap();
            let evaluated = server
                .evaluate_with_proof_scalar(&want, r.try_into().unwrap())
                .unwrap();
            let got: Vec<Vec<u8>> = evaluated.elements.iter().map(|e| e.to_vec()).collect();
            assert_eq!(
                got,
                list(v, "EvaluationElement"),
                "{name}: EvaluationElement"
            );
            assert_eq!(
                hex::encode(evaluated.proof),
                v["Proof"].as_str().unwrap(),
                "{name}: Proof"
            );

            let outputs = blinded
                .finalize_outputs(&pk, &got, &evaluated.proof)
                .unwrap();
            let got: Vec<Vec<u8>> = outputs.iter().map(|o| o.to_vec()).collect();
            assert_eq!(got, list(v, "Output"), "{name}: Output");
            // The digest is the first half of the output.
            let digests = blinded.finalize(&pk, &list(v, "EvaluationElement"), &evaluated.proof);
            assert_eq!(digests.unwrap()[0][..], outputs[0][..32]);
        }
    }

    #[test]
    fn round_trip_and_a_tampered_proof_is_refused_naming_the_key() {
        let server = ServerKey::generate("dev-2").unwrap();
        let pk = PublicKey::parse(&server.public_key().to_line()).unwrap();
        let inputs = vec![
            input(CanonicalKind::Email, "a@example.org"),
            input(CanonicalKind::Email, "b@example.org"),
        ];
        let blinded = Blinded::new(inputs.clone()).unwrap();
        let sent: Vec<Vec<u8>> = blinded.elements().iter().map(|e| e.to_vec()).collect();
        let answer = server.evaluate(&sent).unwrap();
        let got: Vec<Vec<u8>> = answer.elements.iter().map(|e| e.to_vec()).collect();
        let digests = blinded.finalize(&pk, &got, &answer.proof).unwrap();
        // Blinding is random, the digest is not.
        let again = Blinded::new(inputs).unwrap();
        let sent2: Vec<Vec<u8>> = again.elements().iter().map(|e| e.to_vec()).collect();
        assert_ne!(sent, sent2);
        let answer2 = server.evaluate(&sent2).unwrap();
        let got2: Vec<Vec<u8>> = answer2.elements.iter().map(|e| e.to_vec()).collect();
        assert_eq!(again.finalize(&pk, &got2, &answer2.proof).unwrap(), digests);
        assert_ne!(digests[0], digests[1]);

        let mut bad = answer.proof;
        bad[3] ^= 1;
        let e = blinded.finalize(&pk, &got, &bad).unwrap_err();
        assert!(e.to_string().contains("dev-2"), "{e}");
        // A different key (a service tagging this client) is caught too.
        let other = ServerKey::generate("dev-2").unwrap();
        let tagged = other.evaluate(&sent).unwrap();
        let tagged_el: Vec<Vec<u8>> = tagged.elements.iter().map(|e| e.to_vec()).collect();
        assert!(matches!(
            blinded.finalize(&pk, &tagged_el, &tagged.proof),
            Err(OprfError::ProofFailed { .. })
        ));
    }

    #[test]
    fn bad_elements_are_named() {
        let server = ServerKey::generate("k").unwrap();
        let good = server.public_key().bytes().to_vec();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![1; 31], "blinded_elements[1]: must be 32 bytes, got 31"),
            (vec![0; 32], "blinded_elements[1]: is the identity element"),
            (
                vec![0xff; 32],
                "blinded_elements[1]: not a canonical ristretto255 encoding",
            ),
        ];
        for (bad, want) in cases {
            let e = server.evaluate(&[good.clone(), bad]).unwrap_err();
            assert_eq!(e.to_string(), want);
        }
        assert_eq!(
            server.evaluate(&[]).unwrap_err().to_string(),
            "blinded_elements: must hold 1..=1024 elements, got 0"
        );
        let many = vec![good; MAX_BATCH + 1];
        assert!(matches!(
            server.evaluate(&many),
            Err(OprfError::BatchSize(1025))
        ));
    }

    #[test]
    fn key_lines_round_trip_and_refuse_the_wrong_scheme() {
        let server = ServerKey::generate("dev-2").unwrap();
        let again = ServerKey::parse(&server.to_line()).unwrap();
        assert_eq!(again.public_key(), server.public_key());
        let pub_line = server.public_key().to_line();
        assert!(pub_line.starts_with("dev-2:voprf-ristretto255-sha512:"));
        let e = ServerKey::parse(&pub_line).unwrap_err();
        assert!(e.to_string().contains("scheme must be"), "{e}");
        assert!(PublicKey::parse("dev-2:hmac-sha256:AAAA").is_err());
        assert!(format!("{server:?}").contains("redacted"));
    }
}
