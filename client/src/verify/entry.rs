//! The leaf of a receipt: decoding an audit entry and checking that its bytes are the entry's
//! canonical encoding, so the bytes proven are the entry shown.

use prost::Message;

use crate::proto::v1::AuditEntry;

/// Why a leaf is not a well-formed audit entry for its index. The messages are those of the
/// gateway's whole-log verifier, which reports the same two faults (and maps each variant to its
/// own, so this enum is exhaustive).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The leaf does not decode as an `AuditEntry`, or does not re-encode to the same bytes.
    #[error("entry {index} is malformed: {reason}")]
    Malformed {
        /// The entry's position.
        index: u64,
        /// What is wrong.
        reason: String,
    },
    /// The entry's own index differs from its position in the log.
    #[error("entry {index} is not where it was written (entries were moved, copied or removed): entry {index} says it is entry {stated}")]
    IndexMismatch {
        /// The entry's position.
        index: u64,
        /// The index written inside it.
        stated: u64,
    },
}

/// Decodes the leaf at position `index` and checks that it is the canonical encoding of its
/// entry (the entry's own `index` is checked by the caller, which knows what it expects).
pub fn decode_leaf(index: u64, leaf: &[u8]) -> Result<AuditEntry, EntryError> {
    let entry = AuditEntry::decode(leaf).map_err(|e| EntryError::Malformed {
        index,
        reason: format!("it does not decode as an AuditEntry: {e}"),
    })?;
    if entry.encode_to_vec() != leaf {
        return Err(EntryError::Malformed {
            index,
            reason: "it does not re-encode to the same bytes".into(),
        });
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_leaves_only() {
        let entry = AuditEntry {
            index: 3,
            request_id: "r-3".into(),
            ..Default::default()
        };
        let leaf = entry.encode_to_vec();
        assert_eq!(decode_leaf(3, &leaf), Ok(entry));
        assert!(matches!(
            decode_leaf(3, &[0xff]),
            Err(EntryError::Malformed { index: 3, .. })
        ));
        // Field 1 (index) written twice: decodes, but is not the canonical encoding.
        let mut doubled = leaf.clone();
        doubled.extend_from_slice(&[0x08, 0x03]);
        assert_eq!(
            decode_leaf(3, &doubled),
            Err(EntryError::Malformed {
                index: 3,
                reason: "it does not re-encode to the same bytes".into()
            })
        );
    }
}
