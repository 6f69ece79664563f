//! The domain's validated inputs: what a request means once the gRPC layer has checked every
//! field (`crate::service` builds them with `TryFrom<proto>`, naming the field of any error).
//! The rules take these, never protobuf messages.

use prost_types::Timestamp;

use super::values::{Handling, Likelihood, Relation, RiskGrade, SubjectKind, TokenKind};

/// Most tokens in one vetting request: one subject's exact and variant tokens (a name of six
/// or more words with ä/ö/ü derives at most 118 name tokens) and its other identifiers.
pub const MAX_VET_TOKENS: usize = 128;
/// Most tokens of one advisory: a subject and a few aliases, each with its variant tokens.
pub const MAX_ADVISORY_TOKENS: usize = 256;
/// Longest guidance, in characters.
pub const MAX_GUIDANCE_CHARS: usize = 2000;
/// Longest internal reference, in characters.
pub const MAX_INTERNAL_REFERENCE_CHARS: usize = 128;
/// Longest withdrawal reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// Default and largest page of ListAdvisories.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest page of ListAdvisories (larger requests are clamped, as AIP-158 suggests).
pub const MAX_PAGE_SIZE: usize = 500;

/// A validated vetting request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VetQuery {
    /// The client's idempotency key.
    pub request_id: String,
    /// What kind of subject is vetted.
    pub subject_kind: SubjectKind,
    /// The matching-key epoch of the tokens.
    pub key_id: String,
    /// 1..=128 distinct tokens.
    pub tokens: Vec<SubjectToken>,
    /// The party's own file number (may be empty).
    pub case_reference: String,
    /// 0..=32 linked subjects with unique labels.
    pub linked: Vec<Linked>,
}

/// The mutable terms of an advisory, shared by Publish and Revise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryTerms {
    /// LOW..=SEVERE.
    pub grade: RiskGrade,
    /// The PHIA likelihood.
    pub likelihood: Likelihood,
    /// TLP handling (defaulted to TLP_AMBER_STRICT).
    pub handling: Handling,
    /// Released guidance.
    pub guidance: String,
    /// Party ids; empty = every accredited party (accreditation is checked by the rules).
    pub audience: Vec<String>,
    /// Subject kinds; empty = every kind.
    pub applies_to: Vec<SubjectKind>,
    /// Requested expiry (None = the default); range is checked by the rules against now.
    pub valid_until: Option<Timestamp>,
    /// The officials' own reference.
    pub internal_reference: String,
}

/// A validated Publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdvisory {
    /// The official unit's idempotency key.
    pub request_id: String,
    /// The matching-key epoch of the tokens.
    pub key_id: String,
    /// 1..=256 distinct tokens.
    pub tokens: Vec<SubjectToken>,
    /// The terms.
    pub terms: AdvisoryTerms,
}

/// A validated Revise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// Which advisory.
    pub advisory_id: String,
    /// The version the official last saw.
    pub expected_version: u32,
    /// The new terms (internal_reference empty = keep the previous one).
    pub terms: AdvisoryTerms,
}

/// A validated Withdraw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    /// Which advisory.
    pub advisory_id: String,
    /// The version the official last saw.
    pub expected_version: u32,
    /// Why (kept for officials, never shown to parties).
    pub reason: String,
}

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// 1..=500.
    pub page_size: usize,
    /// Continue after this advisory id.
    pub after: Option<String>,
}

/// One identity token of a subject: its kind and 32-byte digest (the wire's `MatchToken`,
/// validated). Distinct from the client crate's `tokens::Token`, which also carries the
/// canonical text it was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SubjectToken {
    /// Which canonical form it was computed from.
    pub kind: TokenKind,
    /// The 32-byte HMAC.
    pub digest: [u8; 32],
}

/// Most linked subjects in one vetting request.
pub const MAX_LINKED: usize = 32;
/// Longest label of a linked subject, in characters.
pub const MAX_LABEL_CHARS: usize = 32;

/// A validated linked subject (api.md v2 "Linked subjects"): a person or company behind the
/// subject, vetted together with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    /// The party's own reference for it (1..=32 of `[A-Za-z0-9._-]`), unique in the request.
    pub label: String,
    /// How it is linked to the subject (never unspecified).
    pub relation: Relation,
    /// 1..=128 distinct tokens, as for the subject.
    pub tokens: Vec<SubjectToken>,
}

fn is_id_char(c: char, extra: &str) -> bool {
    c.is_ascii_alphanumeric() || extra.contains(c)
}

/// Whether `s` is a valid key id: 1..=64 characters of `[A-Za-z0-9._-]`.
pub fn is_key_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.chars().all(|c| is_id_char(c, "._-"))
}

/// Whether `s` is a valid label: 1..=32 characters of `[A-Za-z0-9._-]`.
pub fn is_label(s: &str) -> bool {
    (1..=MAX_LABEL_CHARS).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Whether `s` is an advisory id as the gateway issues them: `adv-` and 16 lower-case hex digits.
pub fn is_advisory_id(s: &str) -> bool {
    s.len() == 20
        && s.starts_with("adv-")
        && s[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
