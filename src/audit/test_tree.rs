//! The test trees the Merkle unit tests share: a node store over vectors that counts reads, a
//! source of made-up nodes for huge sizes, and the RFC 6962 reference tree of tests/data/merkle.

use std::cell::Cell;
use std::sync::OnceLock;

use serde_json::Value;

use super::merkle::{leaf_hash, Frontier, Hash, NodeSource};

thread_local! {
    /// Node reads by this test thread (the store is shared by tests running in parallel).
    static READS: Cell<u64> = const { Cell::new(0) };
}

/// A node store over a vector of levels; counts reads.
#[derive(Default)]
pub(super) struct VecStore {
    pub(super) levels: Vec<Vec<Hash>>,
}

#[derive(Debug, PartialEq)]
pub(super) struct Missing(u8, u64);

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "node ({}, {}) is not stored", self.0, self.1)
    }
}

impl NodeSource for VecStore {
    type Error = Missing;
    fn node(&self, level: u8, index: u64) -> Result<Hash, Missing> {
        READS.with(|r| r.set(r.get() + 1));
        self.levels
            .get(usize::from(level))
            .and_then(|l| l.get(index as usize))
            .copied()
            .ok_or(Missing(level, index))
    }
}

impl VecStore {
    /// Appends leaves through a frontier, storing every completed node.
    pub(super) fn build(leaves: &[Hash]) -> Self {
        let mut store = Self::default();
        let mut frontier = Frontier::new();
        for leaf in leaves {
            let before = frontier.size();
            let completed = frontier.push(*leaf);
            assert_eq!(completed.len() as u32, before.trailing_ones() + 1);
            assert_eq!(completed[0], (0, before, *leaf));
            for (level, index, hash) in completed {
                let level = usize::from(level);
                if store.levels.len() <= level {
                    store.levels.resize(level + 1, Vec::new());
                }
                assert_eq!(store.levels[level].len() as u64, index, "nodes in order");
                store.levels[level].push(hash);
            }
        }
        store
    }

    pub(super) fn take_reads(&self) -> u64 {
        READS.with(|r| r.replace(0))
    }
}

/// A source of made-up nodes, for huge sizes (no store behind it).
pub(super) struct Synthetic;

impl NodeSource for Synthetic {
    type Error = std::convert::Infallible;
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error> {
        let mut h = [level; 32];
        h[..8].copy_from_slice(&index.to_be_bytes());
        Ok(h)
    }
}

pub(super) fn test_leaves(n: usize) -> Vec<Hash> {
    (0..n as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

/// Leaves and store shared by the tests (built once).
pub(super) fn tree(n: usize) -> &'static (Vec<Hash>, VecStore) {
    static TREE: OnceLock<(Vec<Hash>, VecStore)> = OnceLock::new();
    let tree = TREE.get_or_init(|| {
        let leaves = test_leaves(PROPTEST_MAX);
        let store = VecStore::build(&leaves);
        (leaves, store)
    });
    assert!(n <= tree.0.len());
    tree
}

pub(super) const EXHAUSTIVE: usize = 64;
pub(super) const BIG: usize = 300;
pub(super) const PROPTEST_MAX: usize = 5000;

/// The bit length of n: a bound on the height of a tree of n leaves.
pub(super) fn height(n: u64) -> u64 {
    u64::from(64 - n.leading_zeros())
}

pub(super) fn load(json: &str) -> Value {
    serde_json::from_str(json).expect("test vector file is JSON")
}

pub(super) fn reference() -> Value {
    load(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/merkle/reference-tree.json"
    )))
}

/// A hex string as a hash; None if it is not exactly 32 bytes.
pub(super) fn hash_of(v: &Value) -> Option<Hash> {
    let bytes = hex::decode(v.as_str().expect("hex string")).expect("valid hex");
    bytes.try_into().ok()
}

pub(super) fn hashes_of_json(v: &Value) -> Option<Vec<Hash>> {
    v.as_array().expect("array").iter().map(hash_of).collect()
}

pub(super) fn num(v: &Value) -> u64 {
    v.as_u64().expect("unsigned number")
}

/// The leaf hashes of the reference tree `r`.
pub(super) fn reference_leaves(r: &Value) -> Vec<Hash> {
    r["leaves"]
        .as_array()
        .expect("leaves")
        .iter()
        .map(|l| leaf_hash(&hex::decode(l.as_str().expect("hex")).expect("hex")))
        .collect()
}

/// The reference tree's leaf hashes, its roots at every size, and its stored nodes.
pub(super) fn reference_parts() -> (Vec<Hash>, Vec<Hash>, VecStore) {
    let r = reference();
    let leaves = reference_leaves(&r);
    let roots = hashes_of_json(&r["roots"]["values"]).expect("roots");
    let store = VecStore::build(&leaves);
    (leaves, roots, store)
}
