//! The gateway's side of receipts (api.md "Receipts"): finds a party's own vetting answer in the
//! log and proves it against a signed checkpoint, as a C2SP `tlog-proof@v1`
//! ([`super::tlog_proof`]).
//!
//! A receipt is only issued for an entry whose actor is a party with the caller's org, recording
//! a successful Vet or VetBatch answer. Any other entry, an index beyond the log, or an entry
//! not durable within the wait gives `None`: the caller cannot tell another party's entry from
//! a missing one.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;

use super::signer::Checkpointer;
use super::tlog_proof::TlogProof;
use super::{merkle, AuditEntry, AuditError};
use crate::proto::v1::VetResponse;
use crate::store::Store;

/// The methods whose entries a party may get receipts for.
pub const RECEIPT_METHODS: [&str; 2] = [
    "/portcullis.v1.VettingService/Vet",
    "/portcullis.v1.VettingService/VetBatch",
];

/// The longest a receipt request waits for a fresh entry to become durable.
pub const RECEIPT_WAIT: Duration = Duration::from_secs(1);

/// A receipt as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The `tlog-proof@v1` text.
    pub proof: String,
    /// The leaf at the index.
    pub leaf: Vec<u8>,
    /// The entry's index.
    pub index: u64,
    /// The size of the checkpoint the proof is against.
    pub tree_size: u64,
}

/// Issues receipts from the log's store and checkpointer.
#[derive(Debug, Clone)]
pub struct Receipts {
    store: Store,
    checkpoints: Arc<Checkpointer>,
}

impl Receipts {
    /// Receipts over the log in `store`, proved against `checkpoints`.
    pub fn new(store: Store, checkpoints: Arc<Checkpointer>) -> Self {
        Receipts { store, checkpoints }
    }

    /// The receipt for entry `index` if it records a successful vetting answer to party `org`;
    /// see the module docs.
    pub async fn for_index(&self, org: &str, index: u64) -> Result<Option<Issued>, AuditError> {
        let Some(signed) = self.checkpoints.covering(index, RECEIPT_WAIT).await? else {
            return Ok(None);
        };
        let Some(leaf) = self.store.leaf(index)? else {
            return Ok(None);
        };
        if !is_own_answer(&leaf, org) {
            return Ok(None);
        }
        let size = signed.checkpoint.size;
        let hashes =
            merkle::inclusion_proof(&self.store, index, size).map_err(|e| AuditError::Corrupt {
                index,
                reason: format!("cannot prove the entry: {e}"),
            })?;
        let proof = TlogProof {
            extra: None,
            index,
            hashes,
            checkpoint: signed.note,
        }
        .encode();
        Ok(Some(Issued {
            proof,
            leaf,
            index,
            tree_size: size,
        }))
    }

    /// The receipt for the entry that first answered party `org`'s request `request_id`.
    pub async fn for_request(
        &self,
        org: &str,
        request_id: &str,
    ) -> Result<Option<Issued>, AuditError> {
        // The idempotency scope of a party, as the vetting rules write it
        // (crate::domain::vetting); tests/receipts.rs covers the lookup end to end.
        let Some(record) = self
            .store
            .idempotency(&format!("party/{org}"), request_id)?
        else {
            return Ok(None);
        };
        // Answers remembered since they hold the request's tokens carry their index beside the
        // encoded response (stamped by the writer); earlier ones inside it.
        let index = if record.decided_at.is_some() {
            record.audit_index
        } else {
            let Ok(answer) = VetResponse::decode(record.response.as_slice()) else {
                return Ok(None);
            };
            answer.audit_index
        };
        self.for_index(org, index).await
    }
}

/// Whether `leaf` records a successful Vet or VetBatch answer to a party of `org`.
fn is_own_answer(leaf: &[u8], org: &str) -> bool {
    let Ok(entry) = AuditEntry::decode(leaf) else {
        return false;
    };
    let Some(actor) = entry.actor.as_ref() else {
        return false;
    };
    !org.is_empty()
        && actor.role == "party"
        && actor.org == org
        && entry.code == 0
        && RECEIPT_METHODS.contains(&entry.method.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1::Actor;

    fn leaf(role: &str, org: &str, method: &str, code: i32) -> Vec<u8> {
        AuditEntry {
            actor: Some(Actor {
                role: role.into(),
                org: org.into(),
                ..Default::default()
            }),
            method: method.into(),
            code,
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn only_the_partys_own_successful_answers() {
        let vet = RECEIPT_METHODS[0];
        let batch = RECEIPT_METHODS[1];
        assert!(is_own_answer(&leaf("party", "alpha", vet, 0), "alpha"));
        assert!(is_own_answer(&leaf("party", "alpha", batch, 0), "alpha"));
        assert!(!is_own_answer(&leaf("party", "beta", vet, 0), "alpha"));
        assert!(!is_own_answer(&leaf("official", "alpha", vet, 0), "alpha"));
        assert!(!is_own_answer(&leaf("party", "alpha", vet, 3), "alpha"));
        let receipt = "/portcullis.v1.VettingService/GetReceipt";
        assert!(!is_own_answer(&leaf("party", "alpha", receipt, 0), "alpha"));
        assert!(!is_own_answer(&leaf("party", "", vet, 0), ""));
        assert!(!is_own_answer(b"\xff\xff", "alpha"));
        assert!(!is_own_answer(
            &AuditEntry::default().encode_to_vec(),
            "alpha"
        ));
    }
}
