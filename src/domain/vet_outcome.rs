//! What a vet answers, as the rules see it: the matches with the advisory versions they matched
//! and when those were read, the grades, and whether the answer is new or remembered. The gRPC
//! layer builds its `VetResponse` from these, and owns the stored form of a remembered answer
//! ([`VetAnswers`]).

use prost_types::Timestamp;

use super::values::{MatchStrength, MatchTier, Relation, RiskGrade, TokenKind};
use super::AdvisoryAt;

/// A match of a vetting request with an advisory the party may see.
#[derive(Debug, Clone, PartialEq)]
pub struct VetMatch {
    /// The matched advisory version and when it was read (its state is computed from then).
    pub advisory: AdvisoryAt,
    /// The kinds of the tokens that matched, in kind order.
    pub matched_on: Vec<TokenKind>,
    /// How strong the match is, from those kinds.
    pub strength: MatchStrength,
    /// The match's tier, from those kinds.
    pub tier: MatchTier,
    /// The path that matched: empty for the subject, else the linked subject's label.
    pub via: String,
    /// The linked subject's relation (unspecified for the subject itself).
    pub relation: Relation,
}

/// The outcome of vetting a request for the first time.
#[derive(Debug, Clone, PartialEq)]
pub struct VetOutcome {
    /// The request id.
    pub request_id: String,
    /// Highest grade over every path; NO_TRACE if nothing matched.
    pub grade: RiskGrade,
    /// Highest grade over matches on the subject itself.
    pub subject_grade: RiskGrade,
    /// Every match, highest grade first, then by advisory id, then by path.
    pub matches: Vec<VetMatch>,
}

/// Where and when an answer was durably audited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decided {
    /// The index of its audit entry.
    pub audit_index: u64,
    /// The time of its audit entry.
    pub at: Timestamp,
}

/// What a vet did.
#[derive(Debug, Clone, PartialEq)]
pub enum Vetted {
    /// A new request, vetted now and audited at `decided`.
    New {
        /// What was found.
        outcome: VetOutcome,
        /// Its audit entry.
        decided: Decided,
    },
    /// A repeat of an earlier request with the same id and content: the answer is the one
    /// remembered then (in the form [`VetAnswers::remember`] gave it).
    Repeat {
        /// The remembered answer.
        remembered: Vec<u8>,
        /// The original's audit entry, when it was stored beside the answer rather than in it
        /// (answers remembered before that carry their own).
        decided: Option<Decided>,
    },
}

/// What the audit entry of a repeat needs from a remembered answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RememberedVet {
    /// The grade answered (as remembered: the contract's wire value).
    pub grade: i32,
    /// The advisory ids of its matches.
    pub advisory_ids: Vec<String>,
    /// The audit index the answer itself carries (zero if it was stored beside it).
    pub audit_index: u64,
}

/// How the answer to a vet is remembered for its request id. The gRPC layer owns the form (the
/// encoded answer it sent, without its audit index and time, which are stored beside it at
/// commit); the rules store it and hand it back, as [`Vetted::Repeat`], when the request id
/// comes again with the same content.
pub trait VetAnswers: Send + Sync {
    /// The remembered form of the answer to a new request.
    fn remember(&self, outcome: &VetOutcome) -> Vec<u8>;
    /// What a repeat's audit entry needs from a remembered answer, or None if it is unreadable.
    fn summary(&self, remembered: &[u8]) -> Option<RememberedVet>;
}
