//! Tokens v2 test vectors (`tests/data/token-vectors-v2.json`, docs/tokens.md "Tokens v2"):
//! every token of the v1 vector file, blinded with a published blind, evaluated under a
//! published test key with a published proof scalar, verified and finalized. Every value is
//! deterministic, so another implementation can check each step. This test recomputes every
//! case; with `PORTCULLIS_WRITE_VECTORS=1` it (re)writes the file instead.

use std::path::PathBuf;

use portcullis::oprf::{input, Blinded, ServerKey};
use portcullis::tokens::CanonicalKind;
use serde_json::{json, Value};

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The published test key: the scalar 0x01 … 0x1f, 0x00 read little-endian (canonical).
fn test_key() -> ServerKey {
    ServerKey::new("vectors-2", test_key_scalar()).unwrap()
}

/// Blind of case `n` (0-based): the bytes `n+1` repeated in the low 31 bytes, 0 on top.
fn blind(n: usize) -> [u8; 32] {
    let mut b = [((n % 250) + 1) as u8; 32];
    b[31] = 0;
    b
}

/// The proof scalar every vector uses: 0x42 in the low 31 bytes, 0 on top.
fn proof_scalar() -> [u8; 32] {
    let mut b = [0x42u8; 32];
    b[31] = 0;
    b
}

fn compute() -> Value {
    let v1: Value =
        serde_json::from_str(&std::fs::read_to_string(path("token-vectors.json")).unwrap())
            .unwrap();
    let key = test_key();
    let public = key.public_key();
    let mut cases = Vec::new();
    for case in v1["cases"].as_array().unwrap() {
        let Some(tokens) = case["tokens"].as_array() else {
            continue;
        };
        for t in tokens {
            let kind = CanonicalKind::from_name(t["kind"].as_str().unwrap()).unwrap();
            let canonical = t["canonical"].as_str().unwrap();
            let n = cases.len();
            let msg = input(kind, canonical);
            let b = Blinded::with_blinds(vec![msg.clone()], &[blind(n)]).unwrap();
            let sent: Vec<Vec<u8>> = b.elements().iter().map(|e| e.to_vec()).collect();
            let answer = key
                .evaluate_with_proof_scalar(&sent, proof_scalar())
                .unwrap();
            let evaluated: Vec<Vec<u8>> = answer.elements.iter().map(|e| e.to_vec()).collect();
            let output = b
                .finalize_outputs(&public, &evaluated, &answer.proof)
                .unwrap()[0];
            cases.push(json!({
                "case": case["id"],
                "kind": kind.name(),
                "canonical": canonical,
                "input_utf8": String::from_utf8(msg).unwrap(),
                "blind": hex::encode(blind(n)),
                "blinded_element": hex::encode(&sent[0]),
                "evaluated_element": hex::encode(&evaluated[0]),
                "proof": hex::encode(answer.proof),
                "output": hex::encode(output),
                "digest": hex::encode(&output[..32]),
            }));
        }
    }
    json!({
        "spec": "portcullis-tokens-v2 (RFC 9497 VOPRF, ristretto255-SHA512)",
        "generator": "tests/token_vectors_v2.rs (PORTCULLIS_WRITE_VECTORS=1 cargo test --test token_vectors_v2)",
        "note": "A published test key, blinds and proof scalar: never use them for real. Scalars are 32 bytes little-endian; elements are ristretto255 encodings. Each case is one batch of one element.",
        "key": {
            "key_id": "vectors-2",
            "private_scalar": hex::encode(test_key_scalar()),
            "public_key": hex::encode(public.bytes()),
            "pinned_line": public.to_line(),
        },
        "proof_random_scalar": hex::encode(proof_scalar()),
        "cases": cases,
    })
}

fn test_key_scalar() -> [u8; 32] {
    let mut scalar = [0u8; 32];
    for (i, b) in scalar.iter_mut().enumerate().take(31) {
        *b = i as u8 + 1;
    }
    scalar
}

#[test]
fn every_v2_vector_recomputes() {
    let computed = compute();
    let file = path("token-vectors-v2.json");
    if std::env::var_os("PORTCULLIS_WRITE_VECTORS").is_some() {
        std::fs::write(
            &file,
            serde_json::to_string_pretty(&computed).unwrap() + "\n",
        )
        .unwrap();
    }
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(computed["cases"].as_array().unwrap().len() >= 90);
    assert_eq!(stored, computed);
    let kinds: std::collections::BTreeSet<&str> = stored["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    for kind in CanonicalKind::ALL {
        assert!(
            kinds.contains(kind.name()),
            "no v2 vector of {}",
            kind.name()
        );
    }
}

#[test]
fn the_same_token_under_any_blind_has_the_same_digest() {
    let key = test_key();
    let msg = input(CanonicalKind::Email, "a@example.org");
    let mut digests = Vec::new();
    for n in [3usize, 77, 200] {
        let b = Blinded::with_blinds(vec![msg.clone()], &[blind(n)]).unwrap();
        let sent: Vec<Vec<u8>> = b.elements().iter().map(|e| e.to_vec()).collect();
        let answer = key.evaluate(&sent).unwrap();
        let evaluated: Vec<Vec<u8>> = answer.elements.iter().map(|e| e.to_vec()).collect();
        digests.push(
            b.finalize(&key.public_key(), &evaluated, &answer.proof)
                .unwrap()[0],
        );
    }
    assert!(digests.windows(2).all(|w| w[0] == w[1]));
}
