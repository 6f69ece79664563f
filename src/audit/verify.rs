//! The auditor's verification of a whole log, shared by the online (`portcullis audit verify`)
//! and offline (`--data DIR`) verifiers: it trusts nothing but the verifier key.
//!
//! A [`LogVerifier`] is given a signed checkpoint (already verified with the pinned key), the
//! auditor's previously verified checkpoint if any, and then every leaf in order. It checks:
//!
//! * indexes are contiguous from 0 (a gap, a duplicate or a reordering is named by index);
//! * every leaf decodes as an `AuditEntry`, re-encodes to exactly the same bytes, and has a
//!   valid time;
//! * `entry.index` equals the leaf's position;
//! * times never decrease with the index;
//! * the RFC 9162 root recomputed from the leaves equals the checkpoint's root at its size, and
//!   the saved checkpoint's root at its size (so the new checkpoint extends the old one);
//! * the log holds at least as many leaves as the checkpoint covers.
//!
//! The online verifier additionally checks a consistency proof from the gateway with
//! [`check_consistency`] before trusting a new checkpoint; the offline one compares the stored
//! Merkle nodes with the recomputed ones ([`LogVerifier::push`] returns them).

use portcullis_client::verify::entry::{self, EntryError};

use super::checkpoint::{Checkpoint, NoteError};
use super::merkle::{self, leaf_hash, Frontier, Hash, MerkleError};
use super::AuditEntry;

/// Why a log, checkpoint or proof fails verification. Every variant that concerns an entry names
/// its index.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A checkpoint's signed note does not verify with the pinned key.
    #[error("checkpoint rejected: {0}")]
    Note(#[from] NoteError),
    /// The gateway's answer contradicts its own signed checkpoint.
    #[error("the gateway's checkpoint fields (size {size}) differ from its signed note")]
    CheckpointFields {
        /// The size the gateway stated.
        size: u64,
    },
    /// Entry `expected` is missing: the next leaf is `found` (a gap, or entries out of order).
    #[error("entry {expected} is missing: the next leaf is at index {found}")]
    Gap {
        /// The index that should come next.
        expected: u64,
        /// The index that came instead.
        found: u64,
    },
    /// The log ends before the end of the checkpoint.
    #[error("the log ends at entry {index} but the checkpoint covers {size} entries")]
    Truncated {
        /// The first missing index.
        index: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The leaf is not a well-formed entry for its index (the client crate's receipt check,
    /// with its messages): it does not decode, does not re-encode to the same bytes, lacks a
    /// valid time ([`EntryError::Malformed`]), or its own index differs from its position in
    /// the log ([`EntryError::IndexMismatch`]).
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// The entry's time is earlier than the previous entry's.
    #[error("entry {index} is out of order or its time was changed: entry {index} has a time earlier than entry {}", .index - 1)]
    TimeDecreased {
        /// The entry's position.
        index: u64,
    },
    /// The root recomputed from entries `[0, size)` differs from the signed checkpoint's.
    #[error("the log is not what the gateway signed: an entry among the first {size} was changed, added or removed after it was written (the root of entries [0, {size}) recomputed from the log differs from the signed checkpoint of size {size})")]
    RootMismatch {
        /// The checkpoint's size.
        size: u64,
    },
    /// As [`VerifyError::RootMismatch`], with the first changed entry found: the gateway proved
    /// the first `index` entries consistent with the signed checkpoint, and not the first
    /// `index + 1`.
    #[error("entry {index} was changed after it was written: entries before it are exactly as signed, entry {index} is not (the root of entries [0, {size}) recomputed from the log differs from the signed checkpoint of size {size})")]
    EntryChanged {
        /// The first entry that differs from the signed log.
        index: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The root recomputed from entries `[0, size)` differs from the auditor's saved checkpoint:
    /// the log's history was rewritten since it was last verified.
    #[error("the log's history was rewritten since you last verified it: an entry among the first {size} was changed (the root of entries [0, {size}) differs from the previously verified checkpoint of size {size})")]
    HistoryRewritten {
        /// The saved checkpoint's size.
        size: u64,
    },
    /// The new checkpoint is smaller than the previously verified one.
    #[error("the checkpoint went back from {saved} to {current} entries")]
    Rollback {
        /// The previously verified size.
        saved: u64,
        /// The new checkpoint's size.
        current: u64,
    },
    /// A consistency or inclusion proof does not verify.
    #[error("proof rejected: {0}")]
    Proof(#[from] MerkleError),
    /// A stored Merkle node differs from the one recomputed from the leaves (offline).
    #[error("{}", node_mismatch_text(*.level, *.node))]
    NodeMismatch {
        /// The node's level.
        level: u8,
        /// The node's index at that level.
        node: u64,
    },
    /// The stored log size differs from the number of leaves (offline).
    #[error("the store records {recorded} entries but holds {found}")]
    SizeMismatch {
        /// The stored size.
        recorded: u64,
        /// The number of leaves found.
        found: u64,
    },
}

/// A stored node that disagrees with its entries, in words first, then the node arithmetic.
fn node_mismatch_text(level: u8, node: u64) -> String {
    let (first, end) = (node << level, (node + 1) << level);
    let words = if level == 0 {
        format!("entry {first} was changed after it was written")
    } else {
        format!(
            "entries {first} to {} (or their stored hash) were changed after they were written",
            end - 1
        )
    };
    format!(
        "{words}: the stored hash of entries [{first}, {end}) differs from the hash of the entries (node level {level}, index {node})"
    )
}

/// Complete subtrees as `(level, index at that level, hash)`, as [`Frontier::push`] returns them.
pub type Nodes = Vec<(u8, u64, Hash)>;

/// Nanoseconds since the epoch of a valid timestamp.
fn time_of(entry: &AuditEntry, index: u64) -> Result<i128, VerifyError> {
    let malformed = |reason: &str| {
        VerifyError::Entry(EntryError::Malformed {
            index,
            reason: reason.to_owned(),
        })
    };
    let at = entry
        .at
        .as_ref()
        .ok_or_else(|| malformed("it has no time"))?;
    if !(0..1_000_000_000).contains(&at.nanos) {
        return Err(malformed("its time has invalid nanoseconds"));
    }
    Ok(i128::from(at.seconds) * 1_000_000_000 + i128::from(at.nanos))
}

/// Decodes a leaf and checks that it is the canonical encoding of its entry (the client crate's
/// [`portcullis_client::verify::entry::decode_leaf`], with this module's error).
pub fn decode_leaf(index: u64, leaf: &[u8]) -> Result<AuditEntry, VerifyError> {
    Ok(entry::decode_leaf(index, leaf)?)
}

/// Checks a stream of leaves against a signed checkpoint; see the module docs.
#[derive(Debug, Clone)]
pub struct LogVerifier {
    frontier: Frontier,
    last_time: Option<i128>,
    checkpoint: Checkpoint,
    saved: Option<Checkpoint>,
}

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Leaves checked.
    pub entries: u64,
    /// The verified checkpoint's size.
    pub checkpoint_size: u64,
}

impl LogVerifier {
    /// A verifier of the log against `checkpoint` (verified with the pinned key) and the
    /// auditor's previously verified `saved` checkpoint. Fails with [`VerifyError::Rollback`] if
    /// the new checkpoint is smaller than the saved one.
    pub fn new(checkpoint: Checkpoint, saved: Option<Checkpoint>) -> Result<Self, VerifyError> {
        if let Some(s) = &saved {
            if s.size > checkpoint.size {
                return Err(VerifyError::Rollback {
                    saved: s.size,
                    current: checkpoint.size,
                });
            }
        }
        let mut v = LogVerifier {
            frontier: Frontier::new(),
            last_time: None,
            checkpoint,
            saved,
        };
        v.check_roots()?;
        Ok(v)
    }

    /// The number of leaves checked so far.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Checks the next leaf, stated to be at `index`. Returns its entry and the complete subtrees
    /// it completes (`(level, index, hash)`, as [`Frontier::push`]).
    pub fn push(&mut self, index: u64, leaf: &[u8]) -> Result<(AuditEntry, Nodes), VerifyError> {
        let expected = self.frontier.size();
        if index != expected {
            return Err(VerifyError::Gap {
                expected,
                found: index,
            });
        }
        let entry = decode_leaf(index, leaf)?;
        if entry.index != index {
            return Err(VerifyError::Entry(EntryError::IndexMismatch {
                index,
                stated: entry.index,
            }));
        }
        let time = time_of(&entry, index)?;
        if self.last_time.is_some_and(|last| time < last) {
            return Err(VerifyError::TimeDecreased { index });
        }
        self.last_time = Some(time);
        let nodes = self.frontier.push(leaf_hash(leaf));
        self.check_roots()?;
        Ok((entry, nodes))
    }

    /// Checks the roots of the checkpoints whose size has just been reached.
    fn check_roots(&mut self) -> Result<(), VerifyError> {
        let size = self.frontier.size();
        if let Some(s) = &self.saved {
            if s.size == size && self.frontier.root() != s.root {
                return Err(VerifyError::HistoryRewritten { size });
            }
        }
        if self.checkpoint.size == size && self.frontier.root() != self.checkpoint.root {
            return Err(VerifyError::RootMismatch { size });
        }
        Ok(())
    }

    /// Ends the verification: the log must have covered the checkpoint.
    pub fn finish(self) -> Result<Report, VerifyError> {
        let size = self.frontier.size();
        if size < self.checkpoint.size {
            return Err(VerifyError::Truncated {
                index: size,
                size: self.checkpoint.size,
            });
        }
        Ok(Report {
            entries: size,
            checkpoint_size: self.checkpoint.size,
        })
    }
}

/// Checks that `new` extends `saved` with the consistency proof `proof` (RFC 9162 §2.1.4.2).
pub fn check_consistency(
    saved: &Checkpoint,
    new: &Checkpoint,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if saved.size > new.size {
        return Err(VerifyError::Rollback {
            saved: saved.size,
            current: new.size,
        });
    }
    merkle::verify_consistency(saved.size, new.size, &saved.root, &new.root, proof)?;
    Ok(())
}

/// Hashes of a proof as they travel (`repeated bytes`), each exactly 32 bytes.
pub fn proof_hashes(hashes: &[Vec<u8>]) -> Result<Vec<Hash>, VerifyError> {
    hashes
        .iter()
        .map(|h| {
            Hash::try_from(h.as_slice()).map_err(|_| {
                VerifyError::Proof(MerkleError::WrongProofLength {
                    expected: 32,
                    got: h.len(),
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use prost_types::Timestamp;

    use super::*;
    use crate::audit::merkle::root_from_leaf_hashes;

    fn leaf(index: u64, seconds: i64) -> Vec<u8> {
        AuditEntry {
            index,
            at: Some(Timestamp { seconds, nanos: 0 }),
            request_id: format!("r{index}"),
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn log(n: u64) -> Vec<Vec<u8>> {
        (0..n).map(|i| leaf(i, 1_000 + i as i64)).collect()
    }

    fn checkpoint(leaves: &[Vec<u8>]) -> Checkpoint {
        let hashes: Vec<_> = leaves.iter().map(|l| leaf_hash(l)).collect();
        Checkpoint {
            origin: "o".into(),
            size: leaves.len() as u64,
            root: root_from_leaf_hashes(&hashes),
            extensions: Vec::new(),
        }
    }

    fn run(
        leaves: &[(u64, Vec<u8>)],
        cp: &Checkpoint,
        saved: Option<Checkpoint>,
    ) -> Result<Report, VerifyError> {
        let mut v = LogVerifier::new(cp.clone(), saved)?;
        for (i, l) in leaves {
            v.push(*i, l)?;
        }
        v.finish()
    }

    fn numbered(leaves: &[Vec<u8>]) -> Vec<(u64, Vec<u8>)> {
        leaves
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, l)| (i as u64, l))
            .collect()
    }

    #[test]
    fn a_sound_log_verifies_against_its_checkpoints() {
        let leaves = log(11);
        let cp = checkpoint(&leaves);
        let saved = checkpoint(&leaves[..6]);
        let report = run(&numbered(&leaves), &cp, Some(saved)).unwrap();
        assert_eq!(
            report,
            Report {
                entries: 11,
                checkpoint_size: 11
            }
        );
        // Entries beyond the checkpoint are checked too.
        let more = log(13);
        assert_eq!(run(&numbered(&more), &cp, None).unwrap().entries, 13);
        // The empty log.
        let empty = checkpoint(&[]);
        assert_eq!(run(&[], &empty, None).unwrap().entries, 0);
    }

    #[test]
    fn every_kind_of_tampering_is_named() {
        let leaves = log(8);
        let cp = checkpoint(&leaves);

        let mut changed = numbered(&leaves);
        let last = changed[5].1.len() - 1;
        changed[5].1[last] ^= 1; // inside request_id "r5"
        assert_eq!(
            run(&changed, &cp, None),
            Err(VerifyError::RootMismatch { size: 8 })
        );

        let mut removed = numbered(&leaves);
        removed.remove(3);
        assert_eq!(
            run(&removed, &cp, None),
            Err(VerifyError::Gap {
                expected: 3,
                found: 4
            })
        );

        let mut swapped = numbered(&leaves);
        let (a, b) = (swapped[2].1.clone(), swapped[4].1.clone());
        swapped[2].1 = b;
        swapped[4].1 = a;
        assert_eq!(
            run(&swapped, &cp, None),
            Err(VerifyError::Entry(EntryError::IndexMismatch {
                index: 2,
                stated: 4
            }))
        );

        let mut appended = numbered(&leaves);
        appended.push((8, leaves[0].clone()));
        assert_eq!(
            run(&appended, &cp, None),
            Err(VerifyError::Entry(EntryError::IndexMismatch {
                index: 8,
                stated: 0
            }))
        );

        let truncated = numbered(&leaves[..7]);
        assert_eq!(
            run(&truncated, &cp, None),
            Err(VerifyError::Truncated { index: 7, size: 8 })
        );

        let mut garbage = numbered(&leaves);
        garbage[1].1 = vec![0xff];
        assert!(matches!(
            run(&garbage, &cp, None),
            Err(VerifyError::Entry(EntryError::Malformed { index: 1, .. }))
        ));

        // Valid protobuf, but not the canonical encoding: a field repeated.
        let mut twice = numbered(&leaves);
        twice[1].1.extend_from_slice(&[0x08, 0x01]);
        assert!(matches!(
            run(&twice, &cp, None),
            Err(VerifyError::Entry(EntryError::Malformed { index: 1, .. }))
        ));

        let mut backwards = numbered(&leaves);
        backwards[6].1 = leaf(6, 10);
        assert_eq!(
            run(&backwards, &cp, None),
            Err(VerifyError::TimeDecreased { index: 6 })
        );

        let mut untimed = numbered(&leaves);
        untimed[0].1 = AuditEntry::default().encode_to_vec();
        assert!(matches!(
            run(&untimed, &cp, None),
            Err(VerifyError::Entry(EntryError::Malformed { index: 0, .. }))
        ));
    }

    #[test]
    fn a_rewritten_history_or_rollback_is_refused() {
        let leaves = log(8);
        let cp = checkpoint(&leaves);
        let mut other = log(4);
        other[2] = AuditEntry {
            index: 2,
            at: Some(Timestamp {
                seconds: 1_002,
                nanos: 0,
            }),
            request_id: "forged".into(),
            ..Default::default()
        }
        .encode_to_vec();
        let saved = checkpoint(&other);
        assert_eq!(
            run(&numbered(&leaves), &cp, Some(saved.clone())),
            Err(VerifyError::HistoryRewritten { size: 4 })
        );
        let small = checkpoint(&leaves[..3]);
        assert_eq!(
            LogVerifier::new(small.clone(), Some(cp.clone())).unwrap_err(),
            VerifyError::Rollback {
                saved: 8,
                current: 3
            }
        );
        assert_eq!(
            check_consistency(&cp, &small, &[]),
            Err(VerifyError::Rollback {
                saved: 8,
                current: 3
            })
        );
        assert!(matches!(
            check_consistency(&saved, &cp, &[[0; 32]]),
            Err(VerifyError::Proof(_))
        ));
    }

    #[test]
    fn proof_hashes_must_be_32_bytes() {
        assert_eq!(proof_hashes(&[vec![1; 32]]).unwrap(), vec![[1; 32]]);
        assert!(proof_hashes(&[vec![1; 31]]).is_err());
    }
}
