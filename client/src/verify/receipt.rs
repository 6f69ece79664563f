//! Receipts: C2SP `tlog-proof@v1` texts, and their offline verification (what a back office runs
//! on a receipt, with nothing but the log's verifier key).
//!
//! A receipt proves to anyone holding the log's verifier key that one audit entry is in the
//! signed log. It is two things: the proof text and the leaf (the exact entry bytes).
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64 opaque data>]
//! index <decimal>
//! <base64 hash>            one line per inclusion proof hash, leaf's sibling first
//! …
//!                          an empty line
//! <the signed checkpoint, verbatim>
//! ```
//!
//! Verification ([`verify`]) trusts nothing but the key: the checkpoint's signature
//! ([`NoteVerifier`], which accepts extension lines and ignores cosignatures by other keys),
//! then the RFC 9162 inclusion of `SHA-256(0x00 || leaf)` at `index` under the signed root, then
//! the leaf itself (a canonical `AuditEntry` whose own index is `index`). The `extra` line is
//! not authenticated; it is returned, never relied on.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::checkpoint::Checkpoint;
use super::entry::{decode_leaf, EntryError};
use super::merkle::{leaf_hash, verify_inclusion, Hash, MerkleError};
use super::note::{NoteError, NoteVerifier};
use crate::proto::v1::AuditEntry;

/// The first line of every proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// The most inclusion proof hashes read: a tree of 2^64 leaves needs 64.
pub const MAX_PROOF_HASHES: usize = 64;

/// Why a receipt is rejected. The messages say what was found in words a reader without the
/// Merkle background follows.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// The proof text is not a `tlog-proof@v1`.
    #[error("the proof is not a valid c2sp.org/tlog-proof@v1 text: line {line}: {reason}")]
    Malformed {
        /// The line number in the proof text, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The checkpoint inside the proof is not signed by the log's key, or is not a checkpoint.
    #[error("the log's signature on the checkpoint does not hold: {0}")]
    Checkpoint(#[from] NoteError),
    /// The entry and the proof do not lead to the signed root.
    #[error("the entry is not the one the log signed at index {index}: the entry, the proof or the checkpoint was changed ({reason})")]
    NotIncluded {
        /// The index the proof is for.
        index: u64,
        /// The Merkle check that failed.
        reason: MerkleError,
    },
    /// The leaf is not a well-formed audit entry for this index.
    #[error("the entry is not a well-formed audit entry: {0}")]
    Entry(#[from] EntryError),
}

/// A parsed `tlog-proof@v1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// The optional, unauthenticated extra data.
    pub extra: Option<Vec<u8>>,
    /// The entry's index in the log.
    pub index: u64,
    /// The inclusion proof, leaf's sibling first (RFC 9162 §2.1.3.1).
    pub hashes: Vec<Hash>,
    /// The signed checkpoint the proof is against, verbatim.
    pub checkpoint: String,
}

impl TlogProof {
    /// The proof text.
    pub fn encode(&self) -> String {
        let mut text = format!("{HEADER}\n");
        if let Some(extra) = &self.extra {
            text.push_str(&format!("extra {}\n", STANDARD.encode(extra)));
        }
        text.push_str(&format!("index {}\n", self.index));
        for hash in &self.hashes {
            text.push_str(&STANDARD.encode(hash));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.checkpoint);
        text
    }

    /// Parses a proof text strictly: the header, an optional `extra` line, `index N` (decimal,
    /// no sign or leading zeros), canonical base64 hashes of 32 bytes, an empty line, then a
    /// non-empty checkpoint (checked by [`verify`], not here).
    pub fn parse(text: &str) -> Result<TlogProof, ReceiptError> {
        let malformed = |line: usize, reason: &str| ReceiptError::Malformed {
            line,
            reason: reason.to_owned(),
        };
        let mut rest = text;
        let mut line_no = 0;
        let mut next_line = |rest: &mut &str| -> Option<(usize, String)> {
            let (line, after) = rest.split_once('\n')?;
            *rest = after;
            line_no += 1;
            Some((line_no, line.to_owned()))
        };
        let (n, first) = next_line(&mut rest).ok_or_else(|| malformed(1, "no newline"))?;
        if first != HEADER {
            return Err(malformed(n, &format!("the first line must be {HEADER}")));
        }
        let (mut n, mut line) =
            next_line(&mut rest).ok_or_else(|| malformed(2, "it ends after the header"))?;
        let mut extra = None;
        if let Some(encoded) = line.strip_prefix("extra ") {
            extra = Some(
                STANDARD
                    .decode(encoded)
                    .map_err(|_| malformed(n, "the extra data is not standard base64"))?,
            );
            (n, line) = next_line(&mut rest).ok_or_else(|| malformed(n + 1, "no index line"))?;
        }
        let digits = line
            .strip_prefix("index ")
            .ok_or_else(|| malformed(n, "expected \"index N\""))?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        let index = digits
            .parse::<u64>()
            .ok()
            .filter(|_| canonical)
            .ok_or_else(|| malformed(n, "the index is not a decimal number below 2^64"))?;
        let mut hashes = Vec::new();
        loop {
            let (n, line) = next_line(&mut rest).ok_or_else(|| {
                malformed(n + hashes.len() + 1, "no empty line before the checkpoint")
            })?;
            if line.is_empty() {
                break;
            }
            if hashes.len() == MAX_PROOF_HASHES {
                return Err(malformed(n, "more than 64 proof hashes"));
            }
            let hash = STANDARD
                .decode(&line)
                .ok()
                .and_then(|b| Hash::try_from(b.as_slice()).ok())
                .ok_or_else(|| malformed(n, "not the base64 of a 32-byte hash"))?;
            hashes.push(hash);
        }
        if rest.is_empty() {
            return Err(malformed(line_no + 1, "the signed checkpoint is missing"));
        }
        Ok(TlogProof {
            extra,
            index,
            hashes,
            checkpoint: rest.to_owned(),
        })
    }
}

/// What a verified receipt proves.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedReceipt {
    /// The entry's index.
    pub index: u64,
    /// The signed checkpoint it is included in (with any extension lines, shown, not trusted).
    pub checkpoint: Checkpoint,
    /// The entry, decoded from the verified leaf.
    pub entry: AuditEntry,
    /// The proof's unauthenticated extra data, if any.
    pub extra: Option<Vec<u8>>,
}

/// Verifies a receipt offline: `proof` (a `tlog-proof@v1` text) and `leaf` (the entry bytes)
/// against the log's verifier key, and the checkpoint's origin if `expected_origin` is given.
pub fn verify(
    proof: &str,
    leaf: &[u8],
    verifier: &NoteVerifier,
    expected_origin: Option<&str>,
) -> Result<VerifiedReceipt, ReceiptError> {
    let parsed = TlogProof::parse(proof)?;
    let checkpoint = verifier.verify(&parsed.checkpoint, expected_origin)?;
    verify_inclusion(
        &leaf_hash(leaf),
        parsed.index,
        checkpoint.size,
        &parsed.hashes,
        &checkpoint.root,
    )
    .map_err(|reason| ReceiptError::NotIncluded {
        index: parsed.index,
        reason,
    })?;
    let entry = decode_leaf(parsed.index, leaf)?;
    if entry.index != parsed.index {
        return Err(EntryError::IndexMismatch {
            index: parsed.index,
            stated: entry.index,
        }
        .into());
    }
    Ok(VerifiedReceipt {
        index: parsed.index,
        checkpoint,
        entry,
        extra: parsed.extra,
    })
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use prost_types::Timestamp;

    use super::*;
    use crate::verify::merkle::root_from_leaf_hashes;
    use crate::verify::test_signer::TestSigner;

    const ORIGIN: &str = "portcullis.dev/audit";

    fn signer() -> TestSigner {
        TestSigner::dev(ORIGIN)
    }

    fn leaves(n: u64) -> Vec<Vec<u8>> {
        (0..n)
            .map(|index| {
                AuditEntry {
                    index,
                    at: Some(Timestamp {
                        seconds: 1_800_000_000,
                        nanos: 0,
                    }),
                    request_id: format!("r-{index}"),
                    ..Default::default()
                }
                .encode_to_vec()
            })
            .collect()
    }

    /// The audit path of `index`, by the recursive definition of RFC 9162 §2.1.3.1.
    fn path(index: usize, hashes: &[Hash]) -> Vec<Hash> {
        if hashes.len() <= 1 {
            return Vec::new();
        }
        let k = hashes.len().next_power_of_two() / 2;
        if index < k {
            let mut p = path(index, &hashes[..k]);
            p.push(root_from_leaf_hashes(&hashes[k..]));
            p
        } else {
            let mut p = path(index - k, &hashes[k..]);
            p.push(root_from_leaf_hashes(&hashes[..k]));
            p
        }
    }

    fn receipt(leaves: &[Vec<u8>], index: usize, extra: Option<Vec<u8>>) -> String {
        let hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size: leaves.len() as u64,
            root: root_from_leaf_hashes(&hashes),
            extensions: Vec::new(),
        };
        TlogProof {
            extra,
            index: index as u64,
            hashes: path(index, &hashes),
            checkpoint: signer().sign(&cp.body()),
        }
        .encode()
    }

    fn verifier() -> NoteVerifier {
        NoteVerifier::parse(&signer().verifier_key()).unwrap()
    }

    #[test]
    fn round_trip_and_verify_every_index() {
        let log = leaves(7);
        for i in 0..log.len() {
            let text = receipt(&log, i, None);
            let parsed = TlogProof::parse(&text).unwrap();
            assert_eq!(parsed.encode(), text);
            let v = verify(&text, &log[i], &verifier(), Some(ORIGIN)).unwrap();
            assert_eq!(v.index, i as u64);
            assert_eq!(v.entry.request_id, format!("r-{i}"));
            assert_eq!(v.checkpoint.size, 7);
            // Another entry's leaf does not verify with this proof.
            let other = &log[(i + 1) % log.len()];
            assert!(matches!(
                verify(&text, other, &verifier(), None),
                Err(ReceiptError::NotIncluded { .. })
            ));
        }
    }

    #[test]
    fn the_format_is_the_c2sp_one() {
        let log = leaves(3);
        let text = receipt(&log, 2, Some(b"context".to_vec()));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "c2sp.org/tlog-proof@v1");
        assert_eq!(lines[1], format!("extra {}", STANDARD.encode("context")));
        assert_eq!(lines[2], "index 2");
        assert_eq!(
            lines[3],
            STANDARD.encode(root_from_leaf_hashes(&[
                leaf_hash(&log[0]),
                leaf_hash(&log[1])
            ]))
        );
        assert_eq!(lines[4], "");
        assert_eq!(lines[5], ORIGIN);
        assert_eq!(lines[6], "3");
        let v = verify(&text, &log[2], &verifier(), None).unwrap();
        assert_eq!(v.extra.as_deref(), Some(&b"context"[..]));
        // A one-entry log: no hashes at all.
        let one = leaves(1);
        let text = receipt(&one, 0, None);
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 0\n\nportcullis.dev/audit\n1\n"));
        verify(&text, &one[0], &verifier(), None).unwrap();
    }

    #[test]
    fn every_flipped_byte_is_rejected() {
        let log = leaves(6);
        let text = receipt(&log, 3, None);
        for i in 0..text.len() {
            let mut bytes = text.clone().into_bytes();
            bytes[i] ^= 0x01;
            if let Ok(altered) = String::from_utf8(bytes) {
                assert!(
                    verify(&altered, &log[3], &verifier(), None).is_err(),
                    "byte {i} of the proof"
                );
            }
        }
        for i in 0..log[3].len() {
            let mut leaf = log[3].clone();
            leaf[i] ^= 0x01;
            assert!(
                verify(&text, &leaf, &verifier(), None).is_err(),
                "byte {i} of the leaf"
            );
        }
    }

    #[test]
    fn malformed_proofs_name_the_line() {
        let log = leaves(4);
        let text = receipt(&log, 1, None);
        let line = |t: &str| match TlogProof::parse(t) {
            Err(ReceiptError::Malformed { line, .. }) => line,
            other => panic!("{t:?}: {other:?}"),
        };
        assert_eq!(line(""), 1);
        assert_eq!(line(&text.replacen("@v1", "@v2", 1)), 1);
        assert_eq!(line(&text.replacen("index 1", "index 01", 1)), 2);
        assert_eq!(line(&text.replacen("index 1", "index -1", 1)), 2);
        assert_eq!(line(&text.replacen("index 1", "extra !!\nindex 1", 1)), 2);
        assert_eq!(line(&text.replacen("\n\n", "\nAAAA\n\n", 1)), 5);
        let head = text.split("\n\n").next().unwrap();
        assert_eq!(line(&format!("{head}\n")), 5);
        assert_eq!(line(&format!("{head}\n\n")), 6);
        let many = format!(
            "{HEADER}\nindex 0\n{}\n{}",
            format!("{}\n", STANDARD.encode([0u8; 32])).repeat(65),
            "x\n"
        );
        assert_eq!(line(&many), 67);
    }

    #[test]
    fn wrong_key_and_wrong_index_are_rejected() {
        let log = leaves(4);
        let text = receipt(&log, 1, None);
        let other = NoteVerifier::parse(
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        )
        .unwrap();
        assert!(matches!(
            verify(&text, &log[1], &other, None),
            Err(ReceiptError::Checkpoint(NoteError::NoSignatureByKey { .. }))
        ));
        assert!(matches!(
            verify(&text, &log[1], &verifier(), Some("example.com/other")),
            Err(ReceiptError::Checkpoint(NoteError::OriginMismatch { .. }))
        ));
        // A leaf whose own index differs, in a log built that way: included, but not entry 1.
        let mut odd = log.clone();
        odd[1] = AuditEntry {
            index: 9,
            at: Some(Timestamp::default()),
            ..Default::default()
        }
        .encode_to_vec();
        let text = receipt(&odd, 1, None);
        assert!(matches!(
            verify(&text, &odd[1], &verifier(), None),
            Err(ReceiptError::Entry(EntryError::IndexMismatch {
                index: 1,
                stated: 9
            }))
        ));
    }
}
