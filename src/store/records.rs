//! The stored records, encoded with protobuf (prost) for compact, forward-compatible storage.
//! They are storage types: gRPC never sees them directly.

use prost_types::Timestamp;

/// One immutable version of an advisory.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AdvisoryVersion {
    /// The advisory id, e.g. `adv-0123456789abcdef`.
    #[prost(string, tag = "1")]
    pub advisory_id: String,
    /// 1 for the published version; each revision or withdrawal adds one.
    #[prost(uint32, tag = "2")]
    pub version: u32,
    /// `RiskGrade` value.
    #[prost(int32, tag = "3")]
    pub grade: i32,
    /// `Likelihood` value.
    #[prost(int32, tag = "4")]
    pub likelihood: i32,
    /// `Handling` value.
    #[prost(int32, tag = "5")]
    pub handling: i32,
    /// Released guidance for parties.
    #[prost(string, tag = "6")]
    pub guidance: String,
    /// `SubjectKind` values; empty = every kind.
    #[prost(int32, repeated, tag = "7")]
    pub applies_to: Vec<i32>,
    /// When this version was issued.
    #[prost(message, optional, tag = "8")]
    pub issued_at: Option<Timestamp>,
    /// When the advisory stops matching.
    #[prost(message, optional, tag = "9")]
    pub valid_until: Option<Timestamp>,
    /// Whether this version withdrew the advisory.
    #[prost(bool, tag = "10")]
    pub withdrawn: bool,
    /// Party ids that may see it; empty = every accredited party.
    #[prost(string, repeated, tag = "11")]
    pub audience: Vec<String>,
    /// The officials' own reference; never shown to parties.
    #[prost(string, tag = "12")]
    pub internal_reference: String,
    /// How many tokens the advisory matches on.
    #[prost(uint32, tag = "13")]
    pub token_count: u32,
    /// URI of the official who made this version.
    #[prost(string, tag = "14")]
    pub published_by: String,
    /// The official unit (certificate org) that owns the advisory.
    #[prost(string, tag = "15")]
    pub owner_org: String,
    /// The reason given for a withdrawal.
    #[prost(string, tag = "16")]
    pub withdraw_reason: String,
    /// The matching-key epoch of the tokens.
    #[prost(string, tag = "17")]
    pub key_id: String,
    /// The tokens: each one `TokenKind` byte followed by the 32-byte digest.
    #[prost(bytes = "vec", repeated, tag = "18")]
    pub tokens: Vec<Vec<u8>>,
}

/// The remembered answer to a request id, for idempotent repeats.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IdempotencyRecord {
    /// SHA-256 over the request's content, to tell an identical repeat from a conflicting one.
    #[prost(bytes = "vec", tag = "1")]
    pub fingerprint: Vec<u8>,
    /// The encoded answer.
    #[prost(bytes = "vec", tag = "2")]
    pub response: Vec<u8>,
    /// A party's vetting request: what later changes to matching advisories are watched for.
    /// The notice sweep (`domain::notice_sweep`) reads it when an advisory changes. Absent in
    /// records written before it existed, whose per-token `W` records were written with them.
    #[prost(message, optional, tag = "3")]
    pub watch: Option<VetWatch>,
    /// The audit index of the answer, when `response` was encoded before it was known (then
    /// with `decided_at` set; earlier records carry both inside `response`).
    #[prost(uint64, tag = "4")]
    pub audit_index: u64,
    /// The time of the answer, set with `audit_index`.
    #[prost(message, optional, tag = "5")]
    pub decided_at: Option<Timestamp>,
}

/// The part of an [`IdempotencyRecord`] the notice sweep reads: the same field numbers
/// without the fingerprint and the encoded answer, which decoding then skips without copying.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchedAnswer {
    /// As [`IdempotencyRecord::watch`].
    #[prost(message, optional, tag = "3")]
    pub watch: Option<VetWatch>,
    /// As [`IdempotencyRecord::audit_index`].
    #[prost(uint64, tag = "4")]
    pub audit_index: u64,
    /// As [`IdempotencyRecord::decided_at`].
    #[prost(message, optional, tag = "5")]
    pub decided_at: Option<Timestamp>,
}

/// An advisory change whose notices are still to be sent (`Q` records): written atomically with
/// the change, removed atomically with the notices the sweep computes for it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NoticeJob {
    /// The advisory.
    #[prost(string, tag = "1")]
    pub advisory_id: String,
    /// The version the change made (for an expiry: the version that expired).
    #[prost(uint32, tag = "2")]
    pub version: u32,
    /// `NoticeKind` value of the change.
    #[prost(int32, tag = "3")]
    pub kind: i32,
    /// The version before a revision or withdrawal (0 for a publication or an expiry): a
    /// withdrawal goes to those who could see it.
    #[prost(uint32, tag = "4")]
    pub previous_version: u32,
    /// When the change was made: the notices' time, and the end of the retention window.
    #[prost(message, optional, tag = "5")]
    pub at: Option<Timestamp>,
}

/// The fields of an [`IdempotencyRecord`] known only once its audit entry is numbered. Its
/// encoding appended to the encoding of a record without them is the encoding of the record
/// with them (protobuf fields concatenate), so the rest is encoded before the serial commit.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IdempotencyStamp {
    /// As [`IdempotencyRecord::audit_index`].
    #[prost(uint64, tag = "4")]
    pub audit_index: u64,
    /// As [`IdempotencyRecord::decided_at`].
    #[prost(message, optional, tag = "5")]
    pub decided_at: Option<Timestamp>,
}

/// What a vetting request asks to be watched for: stored once in its remembered answer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VetWatch {
    /// The matching-key epoch of the tokens.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// `SubjectKind` value of the request.
    #[prost(int32, tag = "2")]
    pub subject_kind: i32,
    /// The request's case reference, copied into its notices.
    #[prost(string, tag = "3")]
    pub case_reference: String,
    /// Each distinct token of the request with the paths carrying it.
    #[prost(message, repeated, tag = "4")]
    pub tokens: Vec<WatchedToken>,
}

/// One distinct token of a vetting request.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchedToken {
    /// `TokenKind` byte followed by the 32-byte digest.
    #[prost(bytes = "vec", tag = "1")]
    pub token: Vec<u8>,
    /// As [`WatchRecord::via`]: empty when only the subject itself carries it.
    #[prost(string, repeated, tag = "2")]
    pub via: Vec<String>,
}

/// A party's earlier vetting request, remembered per token so later changes to matching
/// advisories can notify the party.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchRecord {
    /// `SubjectKind` value of the request.
    #[prost(int32, tag = "1")]
    pub subject_kind: i32,
    /// When the request was vetted (seconds since the epoch); watched for the retention period.
    #[prost(int64, tag = "2")]
    pub vetted_at: i64,
    /// The request's case reference, copied into its notices.
    #[prost(string, tag = "3")]
    pub case_reference: String,
    /// Which paths of the request carry the token: `""` for the subject itself, else a linked
    /// subject's label. Empty (as in records written before linked subjects) means the subject.
    #[prost(string, repeated, tag = "4")]
    pub via: Vec<String>,
}

impl WatchRecord {
    /// The paths the token was vetted on (`""` = the subject itself).
    pub fn paths(&self) -> Vec<String> {
        paths(&self.via)
    }
}

impl WatchedToken {
    /// The paths the token was vetted on (`""` = the subject itself), as
    /// [`WatchRecord::paths`].
    pub fn paths(&self) -> Vec<String> {
        paths(&self.via)
    }
}

/// The paths named by `via`: the subject itself (`""`) when it is empty, else each linked
/// subject's label.
fn paths(via: &[String]) -> Vec<String> {
    if via.is_empty() {
        vec![String::new()]
    } else {
        via.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn a_stamp_appended_to_a_record_is_the_stamped_record() {
        let mut record = IdempotencyRecord {
            fingerprint: vec![1, 2, 3],
            response: vec![4, 5],
            watch: Some(VetWatch {
                key_id: "k".into(),
                subject_kind: 2,
                case_reference: "C".into(),
                tokens: vec![WatchedToken {
                    token: vec![1; 33],
                    via: vec!["psc-1".into()],
                }],
            }),
            audit_index: 0,
            decided_at: None,
        };
        let mut bytes = record.encode_to_vec();
        let at = Timestamp {
            seconds: 1_800_000_000,
            nanos: 7,
        };
        IdempotencyStamp {
            audit_index: 42,
            decided_at: Some(at),
        }
        .encode(&mut bytes)
        .unwrap();
        record.audit_index = 42;
        record.decided_at = Some(at);
        assert_eq!(IdempotencyRecord::decode(bytes.as_slice()).unwrap(), record);
    }
}
