//! The client side of tokens v2: blind, then verify the batched proof against the pinned key
//! and finalize (RFC 9497 §3.3.2), keeping the blinds secret in between.

use std::fmt;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};
use voprf::{Group, Ristretto255, VoprfClient};

use super::{decode_element, element_bytes, OprfError, PublicKey};

/// A client's blinded batch: the secret blinds and inputs it keeps, and the elements it sends.
pub struct Blinded {
    inputs: Vec<Vec<u8>>,
    blinds: Vec<Scalar>,
    points: Vec<RistrettoPoint>,
    elements: Vec<[u8; 32]>,
}

impl fmt::Debug for Blinded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blinded")
            .field("elements", &self.elements.len())
            .finish_non_exhaustive()
    }
}

impl Blinded {
    /// Blinds each input with a fresh random non-zero scalar.
    pub fn new(inputs: Vec<Vec<u8>>) -> Result<Self, OprfError> {
        let blinds: Vec<Scalar> = inputs
            .iter()
            .map(|_| <Ristretto255 as Group>::random_scalar(&mut rand_core::OsRng))
            .collect();
        Self::blind(inputs, blinds)
    }

    /// Blinds each input with the given scalar (32 bytes, little-endian, canonical, non-zero):
    /// for test vectors only, a real client never reuses or chooses a blind.
    pub fn with_blinds(inputs: Vec<Vec<u8>>, blinds: &[[u8; 32]]) -> Result<Self, OprfError> {
        if inputs.len() != blinds.len() {
            return Err(OprfError::BatchSize(blinds.len()));
        }
        let mut scalars = Vec::with_capacity(blinds.len());
        for (index, blind) in blinds.iter().enumerate() {
            let scalar =
                Ristretto255::deserialize_scalar(blind).map_err(|_| OprfError::Input { index })?;
            scalars.push(scalar);
        }
        Self::blind(inputs, scalars)
    }

    /// `Blind` of RFC 9497: `r · HashToGroup(input)` (the crate's hash to group).
    fn blind(inputs: Vec<Vec<u8>>, blinds: Vec<Scalar>) -> Result<Self, OprfError> {
        let mut points = Vec::with_capacity(inputs.len());
        let mut elements = Vec::with_capacity(inputs.len());
        for (index, (input, blind)) in inputs.iter().zip(&blinds).enumerate() {
            let r = VoprfClient::<Ristretto255>::deterministic_blind_unchecked(input, *blind)
                .map_err(|_| OprfError::Input { index })?;
            let bytes = element_bytes(&r.message.serialize());
            let point = decode_element(&bytes).map_err(|_| OprfError::Input { index })?;
            points.push(point);
            elements.push(bytes);
        }
        Ok(Blinded {
            inputs,
            blinds,
            points,
            elements,
        })
    }

    /// The blinded elements to send, in input order.
    pub fn elements(&self) -> &[[u8; 32]] {
        &self.elements
    }

    /// Verifies the batched proof against the pinned key, unblinds and finalizes: the full
    /// 64-byte outputs, in input order. Nothing is returned unless the proof verifies.
    pub fn finalize_outputs(
        &self,
        key: &PublicKey,
        evaluated: &[Vec<u8>],
        proof: &[u8],
    ) -> Result<Vec<[u8; 64]>, OprfError> {
        let answer = |reason: String| OprfError::Answer {
            key_id: key.id.clone(),
            reason,
        };
        if evaluated.len() != self.points.len() {
            return Err(answer(format!(
                "{} evaluated elements for {} blinded",
                evaluated.len(),
                self.points.len()
            )));
        }
        let mut ds = Vec::with_capacity(evaluated.len());
        let mut d_bytes = Vec::with_capacity(evaluated.len());
        for (i, bytes) in evaluated.iter().enumerate() {
            let point = decode_element(bytes)
                .map_err(|e| answer(format!("evaluated_elements[{i}]: {e}")))?;
            ds.push(point);
            d_bytes.push(element_bytes(bytes));
        }
        let proof: [u8; 64] = proof
            .try_into()
            .map_err(|_| answer(format!("proof: must be 64 bytes, got {}", proof.len())))?;
        let verified = crate::dleq::verify(
            &key.point,
            &key.bytes,
            &self.points,
            &ds,
            &self.elements,
            &d_bytes,
            &proof,
        );
        if !verified {
            return Err(OprfError::ProofFailed {
                key_id: key.id.clone(),
            });
        }
        let mut inverses = self.blinds.clone();
        Scalar::batch_invert(&mut inverses);
        let mut out = Vec::with_capacity(ds.len());
        for ((input, inverse), d) in self.inputs.iter().zip(&inverses).zip(&ds) {
            let n = (d * inverse).compress();
            let mut h = Sha512::new();
            // Inputs were checked to be at most 65535 bytes when they were blinded.
            h.update((input.len() as u16).to_be_bytes());
            h.update(input);
            h.update(32u16.to_be_bytes());
            h.update(n.as_bytes());
            h.update(b"Finalize");
            let mut full = [0u8; 64];
            full.copy_from_slice(&h.finalize());
            out.push(full);
        }
        Ok(out)
    }

    /// As [`finalize_outputs`](Self::finalize_outputs), keeping the token digests: the first
    /// 32 bytes of each output.
    pub fn finalize(
        &self,
        key: &PublicKey,
        evaluated: &[Vec<u8>],
        proof: &[u8],
    ) -> Result<Vec<[u8; 32]>, OprfError> {
        Ok(self
            .finalize_outputs(key, evaluated, proof)?
            .into_iter()
            .map(|full| {
                let mut d = [0u8; 32];
                d.copy_from_slice(&full[..32]);
                d
            })
            .collect())
    }
}
