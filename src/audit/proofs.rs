//! Proofs from the stored tree: [`NodeSource`] reads the stored complete-subtree hashes, and
//! [`root_at`], [`range_hash`], [`inclusion_proof`] and [`consistency_proof`] need O(log n) reads:
//! every proof element is the hash of one range the shared walk of the client crate names
//! ([`inclusion_ranges`], [`consistency_ranges`]): one stored node or (at most once per proof)
//! the right edge of the tree, itself made of at most log2 n stored nodes. Re-exported by
//! [`super::merkle`].

use portcullis_client::verify::merkle::{
    consistency_ranges, empty_root, inclusion_ranges, node_hash, Hash, MerkleError,
};

/// Error of a computation that reads stored nodes: bad arguments, or a failed read.
#[derive(Debug, thiserror::Error)]
pub enum ProofError<E> {
    /// The arguments are invalid (index out of range, sizes out of order, …).
    #[error(transparent)]
    Merkle(#[from] MerkleError),
    /// The node source failed to return a node.
    #[error("could not read a stored Merkle tree node: {0}")]
    Source(E),
}
/// Read access to stored complete-subtree hashes: node `(level, index)` is the root of leaves
/// `[index << level, (index + 1) << level)`. Implemented by the store; by a vector in tests.
pub trait NodeSource {
    /// The error of a failed read (including a node that is not stored).
    type Error;
    /// The hash of node `(level, index)`.
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

pub(super) fn read<S: NodeSource>(
    src: &S,
    level: u8,
    index: u64,
) -> Result<Hash, ProofError<S::Error>> {
    src.node(level, index).map_err(ProofError::Source)
}

/// The hash of the leaves `[begin, end)` as a tree of their own (the MTH of RFC 9162 §2.1.1 of
/// that slice), from at most 64 stored perfect subtrees (one per set bit of `end - begin`).
///
/// The range must be non-empty and `begin` a multiple of the largest power of two not larger
/// than `end - begin` (as are all the ranges of a proof), else [`MerkleError::BadRange`].
/// `range_hash(src, 0, size)` is the root of the first `size` leaves.
pub fn range_hash<S: NodeSource>(
    src: &S,
    begin: u64,
    end: u64,
) -> Result<Hash, ProofError<S::Error>> {
    if begin >= end {
        return Err(MerkleError::BadRange { begin, end }.into());
    }
    let len = end - begin;
    let top = len.ilog2();
    if begin & ((1u64 << top) - 1) != 0 {
        return Err(MerkleError::BadRange { begin, end }.into());
    }
    // Perfect subtrees left to right, largest first; `begin` stays aligned on each of them.
    let mut parts = Vec::with_capacity(len.count_ones() as usize);
    let mut at = begin;
    for level in (0..=top as u8).rev() {
        if len >> level & 1 == 1 {
            parts.push(read(src, level, at >> level)?);
            at += 1 << level;
        }
    }
    // MTH(D[begin..end]) = HASH(first perfect subtree, MTH(rest)): fold from the right.
    match parts.split_last() {
        Some((last, rest)) => Ok(rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc))),
        None => Err(MerkleError::BadRange { begin, end }.into()),
    }
}

/// The root of the first `size` leaves from stored nodes ([`empty_root`] for size 0): at most 64
/// reads, one per set bit of `size`.
pub fn root_at<S: NodeSource>(src: &S, size: u64) -> Result<Hash, ProofError<S::Error>> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(src, 0, size)
}
fn hashes_of<S: NodeSource>(
    src: &S,
    ranges: &[(u64, u64)],
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    ranges
        .iter()
        .map(|&(begin, end)| range_hash(src, begin, end))
        .collect()
}

/// The inclusion proof (audit path, RFC 9162 §2.1.3.1) of leaf `index` in the tree of the first
/// `size` leaves, from stored nodes: O(log n) reads of the ranges [`inclusion_ranges`] names.
///
/// Fails with [`MerkleError::IndexOutOfRange`] if `index >= size` (so always for size 0).
pub fn inclusion_proof<S: NodeSource>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    hashes_of(src, &inclusion_ranges(index, size)?)
}

/// The consistency proof (RFC 9162 §2.1.4.1) between the trees of the first `old_size` and the
/// first `new_size` leaves, from stored nodes: O(log n) reads of the ranges
/// [`consistency_ranges`] names.
///
/// Empty when `old_size == new_size`, and when `old_size` is 0 (every tree extends the empty
/// tree, see [`verify_consistency`](portcullis_client::verify::merkle::verify_consistency)).
/// Fails with [`MerkleError::SizeOrder`] if `old_size > new_size`.
pub fn consistency_proof<S: NodeSource>(
    src: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    hashes_of(src, &consistency_ranges(old_size, new_size)?)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::audit::merkle::{
        inclusion_proof_len, root_from_leaf_hashes, split_point, verify_consistency,
        verify_inclusion,
    };
    use crate::audit::test_tree::*;

    /// PATH(m, D[n]) of RFC 9162 §2.1.3.1, computed naively from the leaf hashes.
    fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split_point(n as u64) as usize;
        let (mut p, sibling) = if m < k {
            (naive_path(m, &leaves[..k]), &leaves[k..])
        } else {
            (naive_path(m - k, &leaves[k..]), &leaves[..k])
        };
        p.push(root_from_leaf_hashes(sibling));
        p
    }

    /// SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1, computed naively from the leaf hashes.
    fn naive_subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if complete {
                Vec::new()
            } else {
                vec![root_from_leaf_hashes(leaves)]
            };
        }
        let k = split_point(n as u64) as usize;
        let (mut p, sibling) = if m <= k {
            (naive_subproof(m, &leaves[..k], complete), &leaves[k..])
        } else {
            (naive_subproof(m - k, &leaves[k..], false), &leaves[..k])
        };
        p.push(root_from_leaf_hashes(sibling));
        p
    }

    fn flip(h: &Hash, bit: usize) -> Hash {
        let mut h = *h;
        h[bit / 8 % 32] ^= 1 << (bit % 8);
        h
    }

    /// Every single-hash mutation of a proof: each hash flipped, each removed, one added anywhere.
    fn mutations(proof: &[Hash], extra: &Hash) -> Vec<Vec<Hash>> {
        let mut out = Vec::new();
        for i in 0..proof.len() {
            let mut p = proof.to_vec();
            p[i] = flip(&p[i], i * 37 + 3);
            out.push(p);
            let mut p = proof.to_vec();
            p.remove(i);
            out.push(p);
        }
        for i in 0..=proof.len() {
            let mut p = proof.to_vec();
            p.insert(i, *extra);
            out.push(p);
        }
        out
    }

    /// Generates the inclusion proof of `index` in `leaves`, compares it with the naive one,
    /// verifies it, and checks that mutations are rejected.
    fn check_inclusion(store: &VecStore, leaves: &[Hash], root: &Hash, index: usize) {
        let size = leaves.len() as u64;
        let i = index as u64;
        store.take_reads();
        let proof = inclusion_proof(store, i, size).expect("proof");
        assert!(store.take_reads() <= 2 * height(size), "O(log n) reads");
        assert_eq!(
            proof,
            naive_path(index, leaves),
            "proof of {index} in {size}"
        );
        verify_inclusion(&leaves[index], i, size, &proof, root).expect("verifies");
        let leaf = &leaves[index];
        assert_eq!(
            verify_inclusion(&flip(leaf, 7), i, size, &proof, root),
            Err(MerkleError::RootMismatch)
        );
        assert_eq!(
            verify_inclusion(leaf, i, size, &proof, &flip(root, 1)),
            Err(MerkleError::RootMismatch)
        );
        for bad in mutations(&proof, root) {
            assert!(
                verify_inclusion(leaf, i, size, &bad, root).is_err(),
                "mutated proof of {index} in {size} accepted"
            );
        }
        if index + 1 < leaves.len() {
            assert!(verify_inclusion(leaf, i + 1, size, &proof, root).is_err());
        }
    }

    /// Generates the consistency proof from `old` to `leaves.len()`, compares it with the naive
    /// one, verifies it, and checks that mutations are rejected.
    fn check_consistency(store: &VecStore, leaves: &[Hash], old: usize) {
        let new = leaves.len();
        let (o, n) = (old as u64, new as u64);
        let old_root = root_from_leaf_hashes(&leaves[..old]);
        let new_root = root_from_leaf_hashes(leaves);
        store.take_reads();
        let proof = consistency_proof(store, o, n).expect("proof");
        assert!(store.take_reads() <= 2 * height(n), "O(log n) reads");
        let want = if old == 0 || old == new {
            Vec::new()
        } else {
            naive_subproof(old, leaves, true)
        };
        assert_eq!(proof, want, "proof {old} -> {new}");
        verify_consistency(o, n, &old_root, &new_root, &proof).expect("verifies");
        assert!(verify_consistency(o, n, &flip(&old_root, 5), &new_root, &proof).is_err());
        if old != 0 && old != new {
            assert_eq!(
                verify_consistency(o, n, &old_root, &flip(&new_root, 9), &proof),
                Err(MerkleError::RootMismatch)
            );
            assert!(verify_consistency(o, n, &new_root, &old_root, &proof).is_err());
        }
        for bad in mutations(&proof, &new_root) {
            assert!(
                verify_consistency(o, n, &old_root, &new_root, &bad).is_err(),
                "mutated proof {old} -> {new} accepted"
            );
        }
    }

    /// Both ends of `0..bound` and two deterministic pseudo-random picks in it.
    fn picks(bound: usize, seed: u64) -> Vec<usize> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut out = vec![0, bound - 1];
        for _ in 0..2 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.push((x % bound as u64) as usize);
        }
        out
    }

    #[test]
    fn inclusion_every_index_small_trees() {
        let (all, store) = tree(EXHAUSTIVE);
        for n in 1..=EXHAUSTIVE {
            let leaves = &all[..n];
            let root = root_from_leaf_hashes(leaves);
            for index in 0..n {
                check_inclusion(store, leaves, &root, index);
            }
        }
    }

    #[test]
    fn inclusion_sampled_up_to_300() {
        let (all, store) = tree(BIG);
        for n in EXHAUSTIVE + 1..=BIG {
            let leaves = &all[..n];
            let root = root_from_leaf_hashes(leaves);
            for index in picks(n, n as u64) {
                check_inclusion(store, leaves, &root, index);
            }
        }
    }

    #[test]
    fn consistency_every_pair_small_trees() {
        let (all, store) = tree(EXHAUSTIVE);
        for new in 1..=EXHAUSTIVE {
            for old in 0..=new {
                check_consistency(store, &all[..new], old);
            }
        }
    }

    #[test]
    fn consistency_sampled_up_to_300() {
        let (all, store) = tree(BIG);
        for new in EXHAUSTIVE + 1..=BIG {
            for old in picks(new + 1, new as u64 + 7) {
                check_consistency(store, &all[..new], old);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn inclusion_random_large(
            (n, index) in (1..=PROPTEST_MAX).prop_flat_map(|n| (Just(n), 0..n))
        ) {
            let (all, store) = tree(n);
            let leaves = &all[..n];
            check_inclusion(store, leaves, &root_from_leaf_hashes(leaves), index);
        }

        #[test]
        fn consistency_random_large(
            (new, old) in (1..=PROPTEST_MAX).prop_flat_map(|n| (Just(n), 0..=n))
        ) {
            let (all, store) = tree(new);
            check_consistency(store, &all[..new], old);
        }
    }

    #[test]
    fn argument_errors() {
        let (all, store) = tree(8);
        let leaves = &all[..8];
        let root = root_from_leaf_hashes(leaves);
        assert!(matches!(
            inclusion_proof(store, 8, 8),
            Err(ProofError::Merkle(MerkleError::IndexOutOfRange {
                index: 8,
                size: 8
            }))
        ));
        assert!(matches!(
            inclusion_proof(store, 0, 0),
            Err(ProofError::Merkle(MerkleError::IndexOutOfRange {
                index: 0,
                size: 0
            }))
        ));
        assert!(matches!(
            consistency_proof(store, 6, 5),
            Err(ProofError::Merkle(MerkleError::SizeOrder {
                old_size: 6,
                new_size: 5
            }))
        ));
        assert_eq!(consistency_proof(store, 0, 5).ok(), Some(vec![]));
        assert_eq!(consistency_proof(store, 5, 5).ok(), Some(vec![]));
        assert_eq!(consistency_proof(store, 0, 0).ok(), Some(vec![]));
        assert_eq!(
            verify_inclusion(&leaves[0], 8, 8, &[], &root),
            Err(MerkleError::IndexOutOfRange { index: 8, size: 8 })
        );
        assert_eq!(
            verify_inclusion(&leaves[0], 0, 0, &[], &empty_root()),
            Err(MerkleError::IndexOutOfRange { index: 0, size: 0 })
        );
        assert_eq!(
            verify_inclusion(&leaves[0], 0, 8, &[], &root),
            Err(MerkleError::WrongProofLength {
                expected: 3,
                got: 0
            })
        );
        assert_eq!(
            verify_consistency(6, 5, &root, &root, &[]),
            Err(MerkleError::SizeOrder {
                old_size: 6,
                new_size: 5
            })
        );
        assert_eq!(
            verify_consistency(3, 8, &root, &root, &[]),
            Err(MerkleError::WrongProofLength {
                expected: 4,
                got: 0
            })
        );
        assert_eq!(
            verify_consistency(8, 8, &root, &root, &[root]),
            Err(MerkleError::WrongProofLength {
                expected: 0,
                got: 1
            })
        );
        assert_eq!(
            verify_consistency(8, 8, &root, &flip(&root, 0), &[]),
            Err(MerkleError::RootMismatch)
        );
        for (begin, end) in [(3, 3), (5, 3), (1, 3), (2, 7), (4, 12)] {
            assert!(
                matches!(
                    range_hash(store, begin, end),
                    Err(ProofError::Merkle(MerkleError::BadRange { .. }))
                ),
                "[{begin}, {end})"
            );
        }
        for (begin, end) in [(0, 8), (2, 4), (4, 7), (6, 7), (4, 8), (0, 5)] {
            let want = root_from_leaf_hashes(&leaves[begin as usize..end as usize]);
            assert_eq!(range_hash(store, begin, end).ok(), Some(want));
        }
        // A failed read is reported, not turned into a wrong answer.
        let missing = tree(PROPTEST_MAX).1.levels[0].len() as u64 + 1;
        assert!(matches!(
            root_at(store, missing),
            Err(ProofError::Source(_))
        ));
        assert!(matches!(
            inclusion_proof(store, 0, missing),
            Err(ProofError::Source(_))
        ));
    }

    /// No overflow or panic at the edges of u64.
    #[test]
    fn huge_sizes() {
        let max = u64::MAX;
        for (index, size) in [(0, max), (max - 1, max), (max / 2, max), (1 << 63, max)] {
            let proof = inclusion_proof(&Synthetic, index, size).expect("proof");
            assert_eq!(proof.len(), inclusion_proof_len(index, size));
            assert!(proof.len() <= 64);
            let root = root_at(&Synthetic, size).expect("root");
            let leaf = [7; 32];
            assert_eq!(
                verify_inclusion(&leaf, index, size, &proof, &root),
                Err(MerkleError::RootMismatch)
            );
        }
        assert_eq!(
            verify_inclusion(&[0; 32], max, max, &[], &[0; 32]),
            Err(MerkleError::IndexOutOfRange {
                index: max,
                size: max
            })
        );
        for (old, new) in [(1, max), (max - 1, max), (1 << 63, max), (3, 1 << 63)] {
            let proof = consistency_proof(&Synthetic, old, new).expect("proof");
            assert!(!proof.is_empty() && proof.len() <= 65);
            let old_root = root_at(&Synthetic, old).expect("root");
            let new_root = root_at(&Synthetic, new).expect("root");
            // Synthetic nodes need not hash together; only check that nothing panics.
            let _ = verify_consistency(old, new, &old_root, &new_root, &proof);
            assert!(verify_consistency(old, new, &old_root, &flip(&new_root, 3), &proof).is_err());
            let mut longer = proof.clone();
            longer.push([0; 32]);
            assert!(matches!(
                verify_consistency(old, new, &old_root, &new_root, &longer),
                Err(MerkleError::WrongProofLength { .. })
            ));
        }
    }

    // Known-answer tests from tests/data/merkle (translated from transparency-dev/merkle).

    /// One file of known-answer cases: the JSON, the case fields holding its two positions and
    /// its two hashes, and the kind of proof (for messages).
    struct Vectors {
        json: &'static str,
        kind: &'static str,
        positions: [&'static str; 2],
        hashes: [&'static str; 2],
    }

    /// Runs the 98 cases of `v`: a case with a malformed hash must want an error; every other
    /// one must verify exactly when it does not want an error, and where `ours` names a happy
    /// path of the reference tree (positions and hashes), the proof it generates must be the
    /// case's. At least 70 cases verify and 5 proofs are generated.
    fn run_vectors(
        v: &Vectors,
        verify: impl Fn([u64; 2], [&Hash; 2], &[Hash]) -> Result<(), MerkleError>,
        ours: impl Fn([u64; 2], [&Hash; 2]) -> Option<Vec<Hash>>,
    ) {
        let json = load(v.json);
        let cases = json["cases"].as_array().expect("cases");
        assert_eq!(cases.len(), 98);
        let (mut verified, mut generated) = (0, 0);
        for c in cases {
            let name = c["name"].as_str().expect("name");
            let want_err = c["want_err"].as_bool().expect("want_err");
            let positions = v.positions.map(|field| num(&c[field]));
            let decoded = (
                hash_of(&c[v.hashes[0]]),
                hash_of(&c[v.hashes[1]]),
                hashes_of_json(&c["proof"]),
            );
            let (Some(first), Some(second), Some(proof)) = decoded else {
                assert!(want_err, "{name}: malformed hash but want_err is false");
                continue;
            };
            let got = verify(positions, [&first, &second], &proof);
            assert_eq!(got.is_err(), want_err, "{name}: {got:?}");
            verified += 1;
            if want_err {
                continue;
            }
            if let Some(generated_proof) = ours(positions, [&first, &second]) {
                assert_eq!(generated_proof, proof, "{name}: generated proof differs");
                generated += 1;
            }
        }
        assert!(verified >= 70, "{verified} {} vectors verified", v.kind);
        assert_eq!(generated, 5, "happy paths generated");
    }

    #[test]
    fn inclusion_vectors() {
        let (leaves, roots, store) = reference_parts();
        let vectors = Vectors {
            json: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/data/merkle/inclusion.json"
            )),
            kind: "inclusion",
            positions: ["index", "size"],
            hashes: ["leaf_hash", "root"],
        };
        run_vectors(
            &vectors,
            |[index, size], [leaf, root], proof| verify_inclusion(leaf, index, size, proof, root),
            |[index, size], [leaf, root]| {
                let in_reference = size <= 8
                    && index < size
                    && *root == roots[size as usize]
                    && *leaf == leaves[index as usize];
                in_reference.then(|| inclusion_proof(&store, index, size).expect("proof"))
            },
        );
    }

    #[test]
    fn consistency_vectors() {
        let (_, roots, store) = reference_parts();
        let vectors = Vectors {
            json: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/data/merkle/consistency.json"
            )),
            kind: "consistency",
            positions: ["old_size", "new_size"],
            hashes: ["old_root", "new_root"],
        };
        run_vectors(
            &vectors,
            |[old, new], [old_root, new_root], proof| {
                verify_consistency(old, new, old_root, new_root, proof)
            },
            |[old, new], [old_root, new_root]| {
                let in_reference = old <= new
                    && new <= 8
                    && *old_root == roots[old as usize]
                    && *new_root == roots[new as usize];
                in_reference.then(|| consistency_proof(&store, old, new).expect("proof"))
            },
        );
    }
}
