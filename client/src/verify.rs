//! Offline verification of the gateway's tamper-evident audit log, with nothing but the log's
//! verifier key (docs/audit.md, docs/receipts.md): what a back office runs on a checkpoint, an
//! inclusion or consistency proof, or a receipt. The gateway proves and signs with the same
//! code, so the two cannot drift apart.
//!
//! | module | job |
//! |---|---|
//! | [`merkle`] | RFC 9162 / RFC 6962 hashing and the one proof walk (inclusion and consistency) |
//! | [`note`] | C2SP signed-note parsing and Ed25519 signature verification |
//! | [`checkpoint`] | C2SP tlog-checkpoint bodies (origin, size, root, extensions) |
//! | [`receipt`] | C2SP tlog-proof@v1 texts and their verification against a leaf |
//! | [`entry`] | a leaf as a canonical `AuditEntry` |

pub mod checkpoint;
pub mod entry;
pub mod merkle;
pub mod note;
pub mod receipt;
#[cfg(test)]
mod test_signer;

pub use checkpoint::Checkpoint;
pub use merkle::{verify_consistency, verify_inclusion, Hash, MerkleError};
pub use note::{NoteError, NoteVerifier};
pub use receipt::{ReceiptError, TlogProof, VerifiedReceipt};
