//! The batched DLEQ proof of RFC 9497 §2.2 for ristretto255-SHA512 in VOPRF mode, with the
//! composite elements computed by one multiscalar multiplication instead of one scalar
//! multiplication per element: the cost of a batch proof becomes small next to the evaluation
//! itself. Checked against RFC 9497 Appendix A through the tests of [`crate::oprf`].
//!
//! Timing: secret scalars (the key `k`, the proof nonce `r`) only meet constant-time
//! operations; the variable-time multiscalar multiplications only combine public elements with
//! public weights.

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_TABLE;
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::VartimeMultiscalarMul;
use sha2::{Digest, Sha512};

/// RFC 9497 contextString for mode VOPRF and ristretto255-SHA512.
const CONTEXT: &[u8] = b"OPRFV1-\x01-ristretto255-SHA512";

/// `I2OSP(len(x), 2) || x` as two hash updates.
fn lp(h: &mut Sha512, x: &[u8]) {
    // Every length here is at most 64 (elements, scalars, the seed, the DSTs).
    h.update((x.len() as u16).to_be_bytes());
    h.update(x);
}

/// RFC 9380 `expand_message_xmd` with SHA-512 for a 64-byte output (one block), over the
/// concatenation of `parts`, with the domain separation tag `dst_prefix || CONTEXT`.
fn expand_64(parts: &[&[u8]], dst_prefix: &[u8]) -> [u8; 64] {
    let dst_len = (dst_prefix.len() + CONTEXT.len()) as u8;
    let mut h = Sha512::new();
    h.update([0u8; 128]);
    for p in parts {
        h.update(p);
    }
    h.update(64u16.to_be_bytes());
    h.update([0u8]);
    h.update(dst_prefix);
    h.update(CONTEXT);
    h.update([dst_len]);
    let b0 = h.finalize();
    let mut h = Sha512::new();
    h.update(b0);
    h.update([1u8]);
    h.update(dst_prefix);
    h.update(CONTEXT);
    h.update([dst_len]);
    let mut out = [0u8; 64];
    out.copy_from_slice(&h.finalize());
    out
}

/// RFC 9497 `HashToScalar` for ristretto255-SHA512.
fn hash_to_scalar(parts: &[&[u8]]) -> Scalar {
    Scalar::from_bytes_mod_order_wide(&expand_64(parts, b"HashToScalar-"))
}

/// The weights `d_i` of `ComputeComposites` over serialized `cs` and `ds`.
fn weights(pk: &[u8; 32], cs: &[[u8; 32]], ds: &[[u8; 32]]) -> Vec<Scalar> {
    let mut h = Sha512::new();
    lp(&mut h, pk);
    let mut seed_dst = b"Seed-".to_vec();
    seed_dst.extend_from_slice(CONTEXT);
    lp(&mut h, &seed_dst);
    let seed = h.finalize();
    cs.iter()
        .zip(ds)
        .enumerate()
        .map(|(i, (c, d))| {
            // At most MAX_BATCH (1024) elements, so `i` fits in two bytes.
            let index = (i as u16).to_be_bytes();
            hash_to_scalar(&[
                &64u16.to_be_bytes(),
                &seed,
                &index,
                &32u16.to_be_bytes(),
                c,
                &32u16.to_be_bytes(),
                d,
                b"Composite",
            ])
        })
        .collect()
}

/// The challenge `c` over the public key, the composites and the commitments.
fn challenge(
    pk: &[u8; 32],
    m: &RistrettoPoint,
    z: &RistrettoPoint,
    t2: &RistrettoPoint,
    t3: &RistrettoPoint,
) -> Scalar {
    let len = 32u16.to_be_bytes();
    let (m, z, t2, t3) = (m.compress(), z.compress(), t2.compress(), t3.compress());
    hash_to_scalar(&[
        &len,
        pk,
        &len,
        m.as_bytes(),
        &len,
        z.as_bytes(),
        &len,
        t2.as_bytes(),
        &len,
        t3.as_bytes(),
        b"Challenge",
    ])
}

/// RFC 9497 `GenerateProof` with `ComputeCompositesFast`: proves that every `ds[i]` is
/// `k · cs[i]` for the `k` behind `pk`, with nonce `r`. Returns `c ‖ s`.
pub(crate) fn prove(
    k: &Scalar,
    pk: &[u8; 32],
    cs: &[RistrettoPoint],
    c_bytes: &[[u8; 32]],
    d_bytes: &[[u8; 32]],
    r: &Scalar,
) -> [u8; 64] {
    let w = weights(pk, c_bytes, d_bytes);
    let m = RistrettoPoint::vartime_multiscalar_mul(&w, cs);
    let z = m * k;
    let t2 = RISTRETTO_BASEPOINT_TABLE * r;
    let t3 = m * r;
    let c = challenge(pk, &m, &z, &t2, &t3);
    let s = r - c * k;
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(c.as_bytes());
    out[32..].copy_from_slice(s.as_bytes());
    out
}

/// RFC 9497 `VerifyProof`: whether `proof` shows that `ds[i] = k · cs[i]` for the `k` behind
/// `pk`. A proof whose scalars are not canonical does not verify.
pub(crate) fn verify(
    pk_point: &RistrettoPoint,
    pk: &[u8; 32],
    cs: &[RistrettoPoint],
    ds: &[RistrettoPoint],
    c_bytes: &[[u8; 32]],
    d_bytes: &[[u8; 32]],
    proof: &[u8; 64],
) -> bool {
    let mut c = [0u8; 32];
    let mut s = [0u8; 32];
    c.copy_from_slice(&proof[..32]);
    s.copy_from_slice(&proof[32..]);
    let (Some(c), Some(s)) = (
        Option::<Scalar>::from(Scalar::from_canonical_bytes(c)),
        Option::<Scalar>::from(Scalar::from_canonical_bytes(s)),
    ) else {
        return false;
    };
    let w = weights(pk, c_bytes, d_bytes);
    let m = RistrettoPoint::vartime_multiscalar_mul(&w, cs);
    let z = RistrettoPoint::vartime_multiscalar_mul(&w, ds);
    let t2 = RistrettoPoint::vartime_double_scalar_mul_basepoint(&c, pk_point, &s);
    let t3 = RistrettoPoint::vartime_multiscalar_mul([s, c], [m, z]);
    challenge(pk, &m, &z, &t2, &t3) == c
}
