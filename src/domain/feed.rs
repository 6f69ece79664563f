//! Notices and hits as the rules produce and store them. Their stored form is the protobuf
//! encoding of the contract's `Notice` and `Hit` (field for field, tag for tag), which data
//! directories already hold; the gRPC layer builds its `Notice` and `Hit` answers from these
//! values (and checks in its tests that the bytes agree).

use prost_types::Timestamp;

use super::state_at;
use crate::store::AdvisoryVersion;

/// What a party may see of an advisory version, as read at a moment.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PartyAdvisory {
    /// The advisory id.
    #[prost(string, tag = "1")]
    pub advisory_id: String,
    /// The version.
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
    /// When the version was issued.
    #[prost(message, optional, tag = "8")]
    pub issued_at: Option<Timestamp>,
    /// When the advisory expires.
    #[prost(message, optional, tag = "9")]
    pub valid_until: Option<Timestamp>,
    /// `AdvisoryState` value at the moment it was read.
    #[prost(int32, tag = "10")]
    pub state: i32,
}

impl PartyAdvisory {
    /// What a party may see of `v` read at `now`.
    pub fn of(v: &AdvisoryVersion, now: &Timestamp) -> PartyAdvisory {
        PartyAdvisory {
            advisory_id: v.advisory_id.clone(),
            version: v.version,
            grade: v.grade,
            likelihood: v.likelihood,
            handling: v.handling,
            guidance: v.guidance.clone(),
            applies_to: v.applies_to.clone(),
            issued_at: v.issued_at,
            valid_until: v.valid_until,
            state: state_at(v, now) as i32,
        }
    }
}

/// A notice to a party: an advisory matching one of its earlier requests changed.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredNotice {
    /// The party's own sequence number of the notice.
    #[prost(uint64, tag = "1")]
    pub cursor: u64,
    /// The request it concerns.
    #[prost(string, tag = "2")]
    pub request_id: String,
    /// `NoticeKind` value.
    #[prost(int32, tag = "3")]
    pub kind: i32,
    /// The advisory as the party may see it at the change.
    #[prost(message, optional, tag = "4")]
    pub advisory: Option<PartyAdvisory>,
    /// The request's case reference.
    #[prost(string, tag = "5")]
    pub case_reference: String,
    /// The path of the request concerned: empty for the subject, else a linked subject's label.
    #[prost(string, tag = "6")]
    pub via: String,
    /// The audit index of the notice sweep's entry that stored it (0 in notices stored before
    /// it was kept): the notice is delivered only once that entry is durable. The gateway's
    /// own, never sent to the party (it would tell the party the gateway's activity); a field
    /// number `Notice` does not use, so a notice without it encodes as the `Notice` sent.
    #[prost(uint64, tag = "15")]
    pub audit_index: u64,
}

/// A hit for the official unit owning a matched advisory.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredHit {
    /// Grows with commit order (see `cursor` in the domain).
    #[prost(uint64, tag = "1")]
    pub cursor: u64,
    /// The matched advisory.
    #[prost(string, tag = "2")]
    pub advisory_id: String,
    /// Its version at the match.
    #[prost(uint32, tag = "3")]
    pub advisory_version: u32,
    /// The party that vetted.
    #[prost(string, tag = "4")]
    pub party: String,
    /// `SubjectKind` value of the request.
    #[prost(int32, tag = "5")]
    pub subject_kind: i32,
    /// `TokenKind` values that matched.
    #[prost(int32, repeated, tag = "6")]
    pub matched_on: Vec<i32>,
    /// When the vet was audited.
    #[prost(message, optional, tag = "7")]
    pub at: Option<Timestamp>,
    /// The vet's audit index.
    #[prost(uint64, tag = "8")]
    pub audit_index: u64,
    /// `Relation` value of the linked subject matched (the label never reaches officials).
    #[prost(int32, tag = "9")]
    pub relation: i32,
    /// `MatchTier` value of the match.
    #[prost(int32, tag = "10")]
    pub tier: i32,
}
