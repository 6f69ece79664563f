//! Reading the audit log back, for auditors: the stored leaves in index order and proofs over
//! the Merkle tree the writer keeps. The AuditService reads through this, never through the store
//! itself; appending stays with the [`super::AuditLog`] writer.

use super::merkle::{self, Hash, ProofError};
use crate::store::{Store, StoreError};

/// A read-only view of the stored audit log.
#[derive(Debug, Clone)]
pub struct Reader {
    store: Store,
}

impl Reader {
    /// A reader of the log kept in `store`.
    pub fn new(store: Store) -> Reader {
        Reader { store }
    }

    /// The leaves (encoded entries) at indexes `start..end` that are stored, in order, with
    /// their index.
    pub fn leaves(
        &self,
        start: u64,
        end: u64,
    ) -> impl Iterator<Item = Result<(u64, Vec<u8>), StoreError>> + '_ {
        self.store.leaves(start, end)
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 2.1.3).
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Vec<Hash>, ProofError<StoreError>> {
        merkle::inclusion_proof(&self.store, index, size)
    }

    /// The consistency proof between the trees of `old_size` and `new_size` leaves (RFC 9162
    /// 2.1.4).
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, ProofError<StoreError>> {
        merkle::consistency_proof(&self.store, old_size, new_size)
    }
}
