//! The gateway's side of the RFC 9162 Merkle tree: building it and proving from it. The hashing,
//! the proof walk and proof verification live in the client crate
//! ([`portcullis_client::verify::merkle`]) and are re-exported here, so the gateway and every
//! verifier share one implementation.
//!
//! * [`Frontier`] is the incremental state of the append-only tree (its "compact range"): the roots
//!   of the perfect subtrees covering the leaves appended so far. Appending reports every perfect
//!   subtree it completes, so a store can keep the hash of every complete subtree.
//! * [`NodeSource`] gives read access to those stored complete-subtree hashes; [`root_at`],
//!   [`range_hash`], [`inclusion_proof`] and [`consistency_proof`] read proofs from them
//!   (`proofs.rs`, re-exported here).
//!
//! Node coordinates: node `(level, index)` is the root of the perfect subtree over leaves
//! `[index << level, (index + 1) << level)`; level 0 is the leaf hashes themselves.

use super::proofs::read;
pub use super::proofs::{
    consistency_proof, inclusion_proof, range_hash, root_at, NodeSource, ProofError,
};
pub use portcullis_client::verify::merkle::{
    consistency_ranges, empty_root, inclusion_proof_len, inclusion_ranges, leaf_hash, node_hash,
    root_from_leaf_hashes, split_point, verify_consistency, verify_inclusion, Hash, MerkleError,
};

/// The incremental state of an append-only tree: the roots of the perfect subtrees that make up
/// the first `size` leaves (the "compact range" or frontier), largest first.
///
/// There is one hash per set bit of `size`: bit `l` set means a perfect subtree of `2^l` leaves.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frontier from its size and its subtree roots, largest first. Fails with
    /// [`MerkleError::BadFrontier`] unless there is exactly one hash per set bit of `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, MerkleError> {
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(MerkleError::BadFrontier {
                size,
                expected,
                got: hashes.len(),
            });
        }
        Ok(Self { size, hashes })
    }

    /// The frontier of the first `size` leaves, read from stored nodes (one read per set bit of
    /// `size`, so at most 64).
    pub fn from_source<S: NodeSource>(src: &S, size: u64) -> Result<Self, ProofError<S::Error>> {
        let mut hashes = Vec::with_capacity(size.count_ones() as usize);
        let mut covered = 0u64;
        for level in (0..64u8).rev() {
            if size >> level & 1 == 1 {
                hashes.push(read(src, level, covered >> level)?);
                covered += 1 << level;
            }
        }
        Ok(Self { size, hashes })
    }

    /// The number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the perfect subtrees covering the leaves, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends one leaf hash. Returns the perfect subtrees completed by this append as
    /// `(level, index_at_level, hash)`, smallest first: level 0 is the leaf itself (always
    /// returned), then each subtree it completes, so a store can persist every complete-subtree
    /// hash.
    ///
    /// A frontier of `u64::MAX` leaves is full: it is left unchanged and the returned vector is
    /// empty (never reached in practice).
    pub fn push(&mut self, leaf_hash: Hash) -> Vec<(u8, u64, Hash)> {
        let old = self.size;
        let Some(new_size) = old.checked_add(1) else {
            return Vec::new();
        };
        // The leaf completes one subtree per trailing one bit of the old size.
        let merges = old.trailing_ones() as u8;
        let mut completed = Vec::with_capacity(usize::from(merges) + 1);
        let mut hash = leaf_hash;
        completed.push((0, old, hash));
        for level in 1..=merges {
            let Some(left) = self.hashes.pop() else {
                // Unreachable: the frontier holds one hash per set bit of its size.
                break;
            };
            hash = node_hash(&left, &hash);
            completed.push((level, old >> level, hash));
        }
        self.hashes.push(hash);
        self.size = new_size;
        completed
    }

    /// The RFC 9162 root of the first `size` leaves ([`empty_root`] for an empty tree).
    pub fn root(&self) -> Hash {
        match self.hashes.split_last() {
            None => empty_root(),
            Some((last, rest)) => rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::test_tree::*;

    #[test]
    fn roots_every_size() {
        let (leaves, store) = tree(BIG);
        let mut frontier = Frontier::new();
        assert_eq!(frontier.root(), empty_root());
        assert_eq!(root_at(store, 0).ok(), Some(empty_root()));
        for n in 1..=BIG {
            frontier.push(leaves[n - 1]);
            let want = root_from_leaf_hashes(&leaves[..n]);
            assert_eq!(frontier.root(), want, "frontier root at {n}");
            assert_eq!(frontier.size(), n as u64);
            assert_eq!(frontier.hashes().len() as u32, (n as u64).count_ones());
            store.take_reads();
            assert_eq!(root_at(store, n as u64).expect("root"), want, "root_at {n}");
            assert!(store.take_reads() <= height(n as u64));
            let loaded = Frontier::from_source(store, n as u64).expect("frontier");
            assert_eq!(loaded, frontier);
            let parts = Frontier::from_parts(n as u64, frontier.hashes().to_vec());
            assert_eq!(parts, Ok(frontier.clone()));
        }
    }

    #[test]
    fn frontier_parts_and_the_edge_of_u64() {
        let root = [5; 32];
        assert_eq!(
            Frontier::from_parts(5, vec![root]),
            Err(MerkleError::BadFrontier {
                size: 5,
                expected: 2,
                got: 1
            })
        );
        let max = u64::MAX;
        let mut full = Frontier::from_source(&Synthetic, max).expect("frontier");
        assert_eq!(full.hashes().len(), 64);
        let before = full.clone();
        assert!(full.push([1; 32]).is_empty());
        assert_eq!(full, before);
        let mut almost = Frontier::from_source(&Synthetic, max - 1).expect("frontier");
        let completed = almost.push([1; 32]);
        assert_eq!(completed, vec![(0, max - 1, [1; 32])]);
        assert_eq!(almost.size(), max);
    }

    #[test]
    fn reference_tree() {
        let r = reference();
        let leaves = reference_leaves(&r);
        assert_eq!(leaves.len(), 8);
        let levels: Vec<Vec<Hash>> = r["nodes"]["levels"]
            .as_array()
            .expect("levels")
            .iter()
            .map(|l| hashes_of_json(l).expect("32-byte hashes"))
            .collect();
        let roots = hashes_of_json(&r["roots"]["values"]).expect("roots");
        let frontiers: Vec<Vec<Hash>> = r["frontiers"]["values"]
            .as_array()
            .expect("frontiers")
            .iter()
            .map(|f| hashes_of_json(f).expect("32-byte hashes"))
            .collect();
        assert_eq!((roots.len(), frontiers.len()), (9, 9));

        // Every complete-subtree hash, as the frontier reports them.
        let store = VecStore::build(&leaves);
        assert_eq!(store.levels, levels);

        let mut frontier = Frontier::new();
        for n in 0..=8 {
            if n > 0 {
                frontier.push(leaves[n - 1]);
            }
            assert_eq!(frontier.hashes(), &frontiers[n][..], "frontier {n}");
            assert_eq!(frontier.root(), roots[n], "frontier root {n}");
            assert_eq!(
                root_at(&store, n as u64).ok(),
                Some(roots[n]),
                "root_at {n}"
            );
            assert_eq!(root_from_leaf_hashes(&leaves[..n]), roots[n], "MTH {n}");
        }
        // The well-known root of the RFC 6962 reference tree.
        assert_eq!(
            hex::encode(roots[8]),
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
        );
    }
}
