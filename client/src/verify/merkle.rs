//! Merkle tree verification of RFC 9162 §2.1 (the hashing of RFC 6962), independent of storage:
//! what a verifier needs, and the one proof walk the gateway's proof generation shares.
//!
//! * [`leaf_hash`], [`node_hash`] and [`empty_root`] are the three hash functions of §2.1.1:
//!   `SHA-256(0x00 || leaf)`, `SHA-256(0x01 || left || right)` and `SHA-256("")`.
//! * Every proof, inclusion or consistency, is the list of siblings along one path from a leaf to
//!   the root, in two parts (inner levels, then the tree's right border). [`inclusion_ranges`]
//!   and [`consistency_ranges`] name the leaf ranges whose hashes make a proof (the gateway reads
//!   them from its store); [`verify_inclusion`] and [`verify_consistency`] check that a proof has
//!   exactly the length the walk consumes, then hash up it (the RFC 9162 §2.1.3.2 and §2.1.4.2
//!   algorithms, computed level by level), like transparency-dev/merkle's shared chain functions.
//! * [`root_from_leaf_hashes`] is the recursive definition of §2.1.1, the reference for tests and
//!   for an offline verifier holding every leaf.
//!
//! # Consistency with the empty tree
//!
//! RFC 9162 defines no consistency proof from a tree of size 0. Here every tree is consistent
//! with the empty tree: a proof from size 0 is empty, and [`verify_consistency`] with
//! `old_size == 0` accepts exactly the empty proof, and only if `old_root` is [`empty_root`] (the
//! new root is then unconstrained: nothing has to be proven). This lets an auditor with no saved
//! checkpoint start from size 0 through the same code path. (transparency-dev/merkle rejects
//! every check from size 0 instead.)
//!
//! Node coordinates: node `(level, index)` is the root of the perfect subtree over leaves
//! `[index << level, (index + 1) << level)`; level 0 is the leaf hashes themselves.

use ring::digest::{self, SHA256};

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// Domain-separation prefix of leaf hashes (RFC 9162 §2.1.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of interior node hashes (RFC 9162 §2.1.1).
const NODE_PREFIX: u8 = 0x01;

/// Errors in the arguments of a tree computation, or a proof that does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleError {
    /// The proof does not have the number of hashes that the RFC 9162 algorithm consumes for these
    /// tree sizes and index.
    #[error("wrong proof length: expected {expected} hashes, got {got}")]
    WrongProofLength {
        /// The number of hashes a valid proof has.
        expected: usize,
        /// The number of hashes given.
        got: usize,
    },
    /// A leaf index that is not inside the tree (every index is outside the empty tree).
    #[error("leaf index {index} is out of range for a tree of {size} leaves")]
    IndexOutOfRange {
        /// The leaf index given.
        index: u64,
        /// The tree size given.
        size: u64,
    },
    /// A consistency check or proof asked from a larger tree to a smaller one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizeOrder {
        /// The size of the older tree.
        old_size: u64,
        /// The size of the newer tree.
        new_size: u64,
    },
    /// The root computed from the proof differs from the expected (new) tree root.
    #[error("the root hash computed from the proof does not match the expected root hash")]
    RootMismatch,
    /// In a consistency check, the old root computed from the proof, or the empty-tree root
    /// required for an old size of 0, differs from the old root given.
    #[error("the old root hash computed from the proof does not match the expected old root hash")]
    OldRootMismatch,
    /// The hashes given for a frontier are not one per set bit of its size.
    #[error("a frontier of {size} leaves has {expected} subtree hashes, got {got}")]
    BadFrontier {
        /// The frontier size given.
        size: u64,
        /// The number of hashes it needs (the number of set bits of `size`).
        expected: usize,
        /// The number of hashes given.
        got: usize,
    },
    /// A leaf range that is empty, or whose hash is not made of stored nodes: `begin` must be a
    /// multiple of the largest power of two not larger than `end - begin`.
    #[error("leaf range [{begin}, {end}) is empty or not aligned on the tree's subtrees")]
    BadRange {
        /// First leaf of the range.
        begin: u64,
        /// One past the last leaf of the range.
        end: u64,
    },
}

/// `SHA-256(0x00 || leaf)`: the hash of a leaf entry (RFC 9162 §2.1.1).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut ctx = digest::Context::new(&SHA256);
    ctx.update(&[LEAF_PREFIX]);
    ctx.update(leaf);
    finish(ctx)
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut input = [0u8; 65];
    input[0] = NODE_PREFIX;
    input[1..33].copy_from_slice(left);
    input[33..].copy_from_slice(right);
    to_hash(digest::digest(&SHA256, &input))
}

/// `SHA-256("")`: the root of the empty tree (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    finish(digest::Context::new(&SHA256))
}

fn finish(ctx: digest::Context) -> Hash {
    to_hash(ctx.finish())
}

fn to_hash(digest: digest::Digest) -> Hash {
    let mut out = [0u8; 32];
    // A SHA-256 digest is always 32 bytes.
    out.copy_from_slice(digest.as_ref());
    out
}

/// The largest power of two strictly smaller than `n`, for `n >= 2` (the split point `k` of
/// RFC 9162 §2.1.1).
pub fn split_point(n: u64) -> u64 {
    1 << (n - 1).ilog2()
}

/// The path from leaf `index` up to the root of a tree of `size` leaves (`index < size`), cut in
/// the two parts every proof of RFC 9162 consists of. Proof generation and verification, for
/// inclusion and for consistency alike, walk this one path.
///
/// * The `inner` levels `0..inner` are those where the ancestors of `index` and of the last leaf
///   differ. At each of them the path's node has a sibling, on the right if bit `level` of
///   `index` is 0, else on the left; a right sibling may be cut short by the tree's right edge.
/// * At the `border` levels above, `index` is on the tree's right edge: its ancestor has a
///   (perfect, left) sibling exactly where bit `level` of `index` is 1, one per set bit.
#[derive(Clone, Copy, Debug)]
struct Path {
    index: u64,
    inner: u32,
}

impl Path {
    /// The path of leaf `index` in a tree of `size` leaves; requires `index < size`.
    fn new(index: u64, size: u64) -> Path {
        Path {
            index,
            inner: 64 - (index ^ (size - 1)).leading_zeros(),
        }
    }

    /// The number of left siblings above the inner levels.
    fn border(&self) -> u32 {
        self.index.checked_shr(self.inner).unwrap_or(0).count_ones()
    }

    /// The number of siblings from level `from` up (the whole proof from level 0).
    fn len_from(&self, from: u32) -> usize {
        (self.inner.saturating_sub(from) + self.border()) as usize
    }

    /// The leaf ranges of the siblings from level `from` up, bottom first, in a tree of `size`
    /// leaves: the ranges whose hashes make the proof.
    fn sibling_ranges(&self, size: u64, from: u32) -> Vec<(u64, u64)> {
        let mut out = Vec::with_capacity(self.len_from(from));
        for level in from..self.inner {
            let begin = ((self.index >> level) ^ 1) << level;
            out.push((begin, begin.saturating_add(1 << level).min(size)));
        }
        for level in self.inner..64 {
            let node = self.index >> level;
            if node & 1 == 1 {
                out.push(((node - 1) << level, node << level));
            }
        }
        out
    }
}

/// Hashes `seed` up the inner levels of the path of leaf `index` (relative to the first of
/// `siblings`' levels): each sibling goes on the side bit `level` of `index` says.
fn chain_inner(seed: Hash, siblings: &[Hash], index: u64) -> Hash {
    siblings.iter().enumerate().fold(seed, |acc, (level, h)| {
        if index >> level & 1 == 0 {
            node_hash(&acc, h)
        } else {
            node_hash(h, &acc)
        }
    })
}

/// The same walk as [`chain_inner`] through the left siblings only, skipping the right ones:
/// what a consistency proof's seed grows into within the old tree, which ends where the right
/// siblings begin.
fn chain_inner_left(seed: Hash, siblings: &[Hash], index: u64) -> Hash {
    siblings.iter().enumerate().fold(seed, |acc, (level, h)| {
        if index >> level & 1 == 1 {
            node_hash(h, &acc)
        } else {
            acc
        }
    })
}

/// Hashes `seed` up the border levels: every sibling there is on the left.
fn chain_border(seed: Hash, siblings: &[Hash]) -> Hash {
    siblings.iter().fold(seed, |acc, h| node_hash(h, &acc))
}

/// The leaf ranges `[begin, end)` whose hashes, in order, make the inclusion proof (audit path,
/// RFC 9162 §2.1.3.1) of leaf `index` in the tree of the first `size` leaves: the siblings along
/// the leaf's path, bottom first. Every range is non-empty and aligned on the tree's subtrees.
///
/// Fails with [`MerkleError::IndexOutOfRange`] if `index >= size` (so always for size 0).
pub fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<(u64, u64)>, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    Ok(Path::new(index, size).sibling_ranges(size, 0))
}

/// The leaf ranges whose hashes, in order, make the consistency proof (RFC 9162 §2.1.4.1)
/// between the trees of the first `old_size` and the first `new_size` leaves.
///
/// It is the path of the old tree's last leaf in the new tree, from the level of the largest
/// perfect subtree that leaf ends (`old_size.trailing_zeros()`), preceded by that subtree's range
/// unless it is the whole old tree (`old_size` a power of two).
///
/// Empty when `old_size == new_size`, and when `old_size` is 0 (see the module documentation).
/// Fails with [`MerkleError::SizeOrder`] if `old_size > new_size`.
pub fn consistency_ranges(old_size: u64, new_size: u64) -> Result<Vec<(u64, u64)>, MerkleError> {
    if old_size > new_size {
        return Err(MerkleError::SizeOrder { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    let shift = old_size.trailing_zeros();
    let mut ranges = Vec::with_capacity(65);
    if !old_size.is_power_of_two() {
        ranges.push((old_size - (1 << shift), old_size));
    }
    ranges.extend(Path::new(old_size - 1, new_size).sibling_ranges(new_size, shift));
    Ok(ranges)
}

/// The number of hashes in the audit path of leaf `index` in a tree of `size` leaves: the
/// iterations of RFC 9162 §2.1.3.2 step 4. Requires `index < size`.
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    Path::new(index, size).len_from(0)
}

/// Verifies that `leaf_hash` is leaf `index` of the tree of `size` leaves with root `root`
/// (RFC 9162 §2.1.3.2, as a walk up the leaf's path to the root).
///
/// Fails with [`MerkleError::IndexOutOfRange`] if `index >= size`,
/// [`MerkleError::WrongProofLength`] if the proof is not exactly as long as the algorithm needs,
/// [`MerkleError::RootMismatch`] if the computed root differs from `root`.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let path = Path::new(index, size);
    let expected = path.len_from(0);
    if proof.len() != expected {
        return Err(MerkleError::WrongProofLength {
            expected,
            got: proof.len(),
        });
    }
    let (inner, border) = proof.split_at(path.inner as usize);
    if chain_border(chain_inner(*leaf_hash, inner, index), border) != *root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `new_size` leaves with root `new_root` extends the tree of
/// `old_size` leaves with root `old_root` (RFC 9162 §2.1.4.2, as a walk up the path of the
/// old tree's last leaf, see [`consistency_ranges`]).
///
/// Equal sizes need an empty proof and equal roots. An `old_size` of 0 needs an empty proof and
/// `old_root == empty_root()` (see the module documentation). Fails with
/// [`MerkleError::SizeOrder`] if `old_size > new_size`, [`MerkleError::WrongProofLength`] if the
/// proof is not exactly as long as the algorithm needs, [`MerkleError::OldRootMismatch`] or
/// [`MerkleError::RootMismatch`] if a computed root differs from the given one.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    if old_size > new_size {
        return Err(MerkleError::SizeOrder { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(MerkleError::WrongProofLength {
                expected: 0,
                got: proof.len(),
            });
        }
        if old_size == 0 && *old_root != empty_root() {
            return Err(MerkleError::OldRootMismatch);
        }
        if old_size == new_size && old_root != new_root {
            return Err(MerkleError::RootMismatch);
        }
        return Ok(());
    }
    let shift = old_size.trailing_zeros();
    let path = Path::new(old_size - 1, new_size);
    // A power-of-two old tree is itself the subtree the walk starts from: its root is the
    // implicit first proof element.
    let old_is_subtree = old_size.is_power_of_two();
    let expected = path.len_from(shift) + usize::from(!old_is_subtree);
    // At least 1, since old_size < new_size.
    if proof.len() != expected {
        return Err(MerkleError::WrongProofLength {
            expected,
            got: proof.len(),
        });
    }
    let (seed, rest) = match proof.split_first() {
        Some((first, rest)) if !old_is_subtree => (*first, rest),
        _ => (*old_root, proof),
    };
    let (inner, border) = rest.split_at((path.inner - shift) as usize);
    let walk = (old_size - 1) >> shift;
    if chain_border(chain_inner_left(seed, inner, walk), border) != *old_root {
        return Err(MerkleError::OldRootMismatch);
    }
    if chain_border(chain_inner(seed, inner, walk), border) != *new_root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// The root of a tree over these leaf hashes, computed by the recursive definition of RFC 9162
/// §2.1.1 (MTH): O(n) hashing, O(log n) recursion depth. The reference for tests and for the
/// offline verifier.
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(
                &root_from_leaf_hashes(&leaves[..k]),
                &root_from_leaf_hashes(&leaves[k..]),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn flip(h: &Hash, bit: usize) -> Hash {
        let mut h = *h;
        h[bit / 8 % 32] ^= 1 << (bit % 8);
        h
    }

    /// The proof made of the hashes of `ranges`, computed from the leaves.
    fn proof_of(ranges: &[(u64, u64)], leaves: &[Hash]) -> Vec<Hash> {
        ranges
            .iter()
            .map(|&(b, e)| root_from_leaf_hashes(&leaves[b as usize..e as usize]))
            .collect()
    }

    #[test]
    fn hash_functions() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let (a, b) = (leaf_hash(b""), leaf_hash(&[0]));
        assert_eq!(
            hex::encode(node_hash(&a, &b)),
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
        );
        assert_eq!(root_from_leaf_hashes(&[]), empty_root());
        assert_eq!(root_from_leaf_hashes(&[a]), a);
    }

    /// Proofs built from the walk's ranges verify, at every index and size pair up to 33, and a
    /// flipped hash anywhere is refused.
    #[test]
    fn proofs_from_the_ranges_verify() {
        let all = leaves(33);
        for n in 1..=all.len() {
            let tree = &all[..n];
            let root = root_from_leaf_hashes(tree);
            for index in 0..n {
                let i = index as u64;
                let proof = proof_of(&inclusion_ranges(i, n as u64).unwrap(), tree);
                assert_eq!(proof.len(), inclusion_proof_len(i, n as u64));
                assert_eq!(
                    verify_inclusion(&tree[index], i, n as u64, &proof, &root),
                    Ok(())
                );
                for k in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[k] = flip(&bad[k], k);
                    assert_eq!(
                        verify_inclusion(&tree[index], i, n as u64, &bad, &root),
                        Err(MerkleError::RootMismatch)
                    );
                }
            }
            for old in 0..=n {
                let old_root = root_from_leaf_hashes(&tree[..old]);
                let proof = proof_of(&consistency_ranges(old as u64, n as u64).unwrap(), tree);
                assert_eq!(
                    verify_consistency(old as u64, n as u64, &old_root, &root, &proof),
                    Ok(()),
                    "{old} -> {n}"
                );
                assert!(verify_consistency(
                    old as u64,
                    n as u64,
                    &flip(&old_root, 3),
                    &root,
                    &proof
                )
                .is_err());
            }
        }
    }

    #[test]
    fn argument_errors() {
        let tree = leaves(8);
        let root = root_from_leaf_hashes(&tree);
        assert_eq!(
            inclusion_ranges(8, 8),
            Err(MerkleError::IndexOutOfRange { index: 8, size: 8 })
        );
        assert_eq!(
            consistency_ranges(6, 5),
            Err(MerkleError::SizeOrder {
                old_size: 6,
                new_size: 5
            })
        );
        assert_eq!(consistency_ranges(0, 5), Ok(vec![]));
        assert_eq!(consistency_ranges(5, 5), Ok(vec![]));
        assert_eq!(
            verify_inclusion(&tree[0], 0, 8, &[], &root),
            Err(MerkleError::WrongProofLength {
                expected: 3,
                got: 0
            })
        );
        assert_eq!(
            verify_consistency(3, 8, &root, &root, &[]),
            Err(MerkleError::WrongProofLength {
                expected: 4,
                got: 0
            })
        );
    }

    /// Every tree extends the empty tree: only the empty proof, only from the empty root.
    #[test]
    fn consistency_from_empty_tree() {
        let all = leaves(8);
        let root5 = root_from_leaf_hashes(&all[..5]);
        let empty = empty_root();
        assert_eq!(verify_consistency(0, 5, &empty, &root5, &[]), Ok(()));
        assert_eq!(verify_consistency(0, 0, &empty, &empty, &[]), Ok(()));
        assert_eq!(
            verify_consistency(0, 5, &root5, &root5, &[]),
            Err(MerkleError::OldRootMismatch)
        );
        assert_eq!(
            verify_consistency(0, 5, &empty, &root5, &[empty]),
            Err(MerkleError::WrongProofLength {
                expected: 0,
                got: 1
            })
        );
        assert_eq!(
            verify_consistency(0, 0, &root5, &root5, &[]),
            Err(MerkleError::OldRootMismatch)
        );
        assert_eq!(
            verify_consistency(0, 0, &empty, &root5, &[]),
            Err(MerkleError::RootMismatch)
        );
    }
}
