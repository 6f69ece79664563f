//! The audit log: one [`AuditEntry`] for every call that reaches the gateway after the TLS
//! handshake, durable before the call's answer is sent.
//!
//! Entries are appended by a single writer task ([`writer`]) that takes entries from many calls
//! and makes them durable with one flush per batch (group commit). A state change (publishing,
//! revising, withdrawing an advisory; remembering a vetting answer) travels with its entry and
//! is applied in the same atomic batch. A call that cannot get its entry durable within the
//! configured time fails closed: [`AuditError::Unavailable`], and nothing is disclosed.
//!
//! The stored leaf is the protobuf encoding of the entry, with its own `index` inside; it is
//! never re-encoded. Auditors' calls read the log back through a [`Reader`] (leaves and proofs).
//!
//! The log is tamper-evident (docs/audit.md): the writer stores the hash of every complete
//! [`merkle`] subtree with the leaves, the [`signer`] signs [`checkpoint`]s of the durable tree,
//! [`integrity`] checks the stored tree against the latest checkpoint at start-up, and [`verify`]
//! is the auditor's independent check of a whole log. [`receipts`] proves one of a party's own
//! answers as a C2SP [`tlog_proof`], which anyone with the verifier key checks offline.
//!
//! What needs no store (RFC 9162 hashing and the proof walk, signed-note and checkpoint parsing
//! and Ed25519 verification, `tlog-proof@v1` receipts) is the client crate's
//! [`portcullis_client::verify`], which a back office links; [`merkle`], [`checkpoint`] and
//! [`tlog_proof`] re-export it next to the gateway's tree building and signing.

pub mod checkpoint;
pub mod integrity;
pub mod merkle;
mod proofs;
mod reader;
pub mod receipts;
pub mod signer;
#[cfg(test)]
mod test_tree;
pub mod tlog_proof;
pub mod verify;
pub mod writer;

use prost_types::Timestamp;

use crate::identity::PeerIdentity;
pub use crate::proto::v1::{Actor, AuditEntry};
pub use reader::Reader;
pub use signer::{Checkpointer, SignedCheckpoint};
pub use writer::{AuditLog, Committed, Effects};

/// Errors of the audit log.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The entry could not be made durable in time; the call must fail closed.
    #[error("audit log unavailable: {0}")]
    Unavailable(Unwritable),
    /// The log could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A signed checkpoint could not be stored.
    #[error("storing the signed checkpoint: {0}")]
    CheckpointNotStored(#[source] crate::store::StoreError),
    /// The stored log does not match its own hashes or its latest signed checkpoint; `index` is
    /// the first entry found to be bad.
    #[error("audit log is corrupt at index {index}: {reason}")]
    Corrupt {
        /// The first bad entry (or the first entry a bad node covers).
        index: u64,
        /// What is wrong.
        reason: String,
    },
    /// The signing key or a stored checkpoint is unusable.
    #[error("audit checkpoint: {0}")]
    Checkpoint(#[from] checkpoint::NoteError),
    /// A log, checkpoint or proof failed an auditor's verification.
    #[error(transparent)]
    Verify(#[from] verify::VerifyError),
}

/// Why an entry (or a checkpoint) could not be written: the log cannot be written, and every
/// call that needs it fails closed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unwritable {
    /// The writer task is gone (the gateway is stopping, or the writer failed).
    #[error("writer stopped")]
    WriterStopped,
    /// The entry was not durable within the configured write timeout.
    #[error("audit write timed out")]
    TimedOut,
    /// Appending or flushing the batch holding the entry failed.
    #[error("audit write failed")]
    WriteFailed,
    /// The signed checkpoint could not be stored.
    #[error("checkpoint not stored")]
    CheckpointNotStored,
}

/// The stored complete-subtree hashes, for [`merkle`]'s O(log n) computations. A node that is
/// not stored is a corrupt store.
impl merkle::NodeSource for crate::store::Store {
    type Error = crate::store::StoreError;

    fn node(&self, level: u8, index: u64) -> Result<merkle::Hash, Self::Error> {
        self.tree_node(level, index)?
            .ok_or_else(|| crate::store::StoreError::Corrupt {
                key: format!("N/{level}/{index}"),
                reason: "missing Merkle node".into(),
            })
    }
}

/// The actor of an entry, from the peer's certificate.
pub fn actor(peer: &PeerIdentity) -> Actor {
    let (role, org, user) = match &peer.identity {
        Ok(id) => (id.role.as_str().to_owned(), id.org.clone(), id.user.clone()),
        Err(_) => Default::default(),
    };
    Actor {
        uri: peer.uri.clone(),
        role,
        org,
        user,
        cert_sha256: peer.cert_sha256.to_vec(),
        cert_serial: peer.cert_serial.clone(),
    }
}

/// A new entry for a call to `method` by `peer`, to be completed with the outcome. Index and
/// time are set by the writer.
pub fn draft(peer: &PeerIdentity, method: &str) -> AuditEntry {
    AuditEntry {
        actor: Some(actor(peer)),
        method: method.to_owned(),
        peer: peer.addr.map(|a| a.to_string()).unwrap_or_default(),
        ..Default::default()
    }
}

/// The current time as a protobuf timestamp.
pub fn now() -> Timestamp {
    Timestamp::from(std::time::SystemTime::now())
}
