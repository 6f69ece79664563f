//! Validated inputs. Each `TryFrom<proto>` destructures every field of the message, so adding a
//! field to the contract without deciding how to validate it does not compile. Errors name the
//! field and the rule, never the value.

use std::collections::BTreeSet;

use prost_types::Timestamp;

use super::linked::{linked, Linked};
use super::token_list::tokens_at;
pub use super::token_list::Token;
use super::Error;
use crate::proto::v1::{
    GetAdvisoryRequest, Handling, Likelihood, ListAdvisoriesRequest, MatchToken, PublishRequest,
    ReviseRequest, RiskGrade, SubjectKind, VetRequest, WithdrawRequest,
};

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
    pub tokens: Vec<Token>,
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
    pub tokens: Vec<Token>,
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

fn is_id_char(c: char, extra: &str) -> bool {
    c.is_ascii_alphanumeric() || extra.contains(c)
}

/// Whether `s` is a valid key id: 1..=64 characters of `[A-Za-z0-9._-]`.
pub fn is_key_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.chars().all(|c| is_id_char(c, "._-"))
}

fn request_id(field: &str, s: &str) -> Result<(), Error> {
    if s.is_empty() {
        return Err(Error::invalid(field, "required"));
    }
    if s.len() > 64 {
        return Err(Error::invalid(field, "at most 64 characters"));
    }
    if !s.chars().all(|c| is_id_char(c, "._-")) {
        return Err(Error::invalid(field, "only [A-Za-z0-9._-] allowed"));
    }
    Ok(())
}

fn key_id(s: &str) -> Result<(), Error> {
    if s.is_empty() {
        return Err(Error::invalid("key_id", "required"));
    }
    if !is_key_id(s) {
        return Err(Error::invalid(
            "key_id",
            "must be 1..=64 characters of [A-Za-z0-9._-]",
        ));
    }
    Ok(())
}

/// Whether `s` is an advisory id as the gateway issues them: `adv-` and 16 lower-case hex digits.
pub(crate) fn is_advisory_id(s: &str) -> bool {
    s.len() == 20
        && s.starts_with("adv-")
        && s[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn advisory_id(s: &str) -> Result<(), Error> {
    if s.is_empty() {
        return Err(Error::invalid("advisory_id", "required"));
    }
    if !is_advisory_id(s) {
        return Err(Error::invalid(
            "advisory_id",
            "must be adv- followed by 16 lower-case hex digits",
        ));
    }
    Ok(())
}

fn expected_version(v: u32) -> Result<u32, Error> {
    if v == 0 {
        return Err(Error::invalid(
            "expected_version",
            "required (versions start at 1)",
        ));
    }
    Ok(v)
}

fn tokens(list: Vec<MatchToken>, max: usize) -> Result<Vec<Token>, Error> {
    tokens_at("tokens", list, max)
}

fn subject_kind(field: &str, v: i32) -> Result<SubjectKind, Error> {
    match SubjectKind::try_from(v) {
        Ok(SubjectKind::Unspecified) => Err(Error::invalid(field, "required")),
        Ok(k) => Ok(k),
        Err(_) => Err(Error::invalid(field, format!("unknown value {v}"))),
    }
}

fn subject_kinds(list: Vec<i32>) -> Result<Vec<SubjectKind>, Error> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, v) in list.into_iter().enumerate() {
        let k = subject_kind(&format!("applies_to[{i}]"), v)?;
        if !seen.insert(v) {
            return Err(Error::invalid(
                format!("applies_to[{i}]"),
                "duplicate subject kind",
            ));
        }
        out.push(k);
    }
    Ok(out)
}

fn case_reference(s: &str) -> Result<(), Error> {
    if s.len() > 64 {
        return Err(Error::invalid("case_reference", "at most 64 characters"));
    }
    if !s.chars().all(|c| is_id_char(c, "._/-")) {
        return Err(Error::invalid(
            "case_reference",
            "only [A-Za-z0-9._/-] allowed",
        ));
    }
    Ok(())
}

/// Checks free text: length in characters and no control characters but newline and tab.
fn text(field: &str, s: &str, min: usize, max: usize) -> Result<(), Error> {
    let n = s.chars().count();
    if n < min {
        return Err(Error::invalid(field, "required"));
    }
    if n > max {
        return Err(Error::invalid(
            field,
            format!("at most {max} characters, got {n}"),
        ));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::invalid(field, "control characters are not allowed"));
    }
    Ok(())
}

fn grade(v: i32) -> Result<RiskGrade, Error> {
    match RiskGrade::try_from(v) {
        Ok(RiskGrade::Unspecified) => Err(Error::invalid("grade", "required")),
        Ok(RiskGrade::NoTrace) => Err(Error::invalid(
            "grade",
            "must be LOW, MODERATE, HIGH or SEVERE (NO_TRACE is not publishable)",
        )),
        Ok(g) => Ok(g),
        Err(_) => Err(Error::invalid("grade", format!("unknown value {v}"))),
    }
}

fn likelihood(v: i32) -> Result<Likelihood, Error> {
    match Likelihood::try_from(v) {
        Ok(Likelihood::Unspecified) => Err(Error::invalid("likelihood", "required")),
        Ok(l) => Ok(l),
        Err(_) => Err(Error::invalid("likelihood", format!("unknown value {v}"))),
    }
}

fn handling(v: i32) -> Result<Handling, Error> {
    match Handling::try_from(v) {
        Ok(Handling::Unspecified) => Ok(Handling::TlpAmberStrict),
        Ok(h) => Ok(h),
        Err(_) => Err(Error::invalid("handling", format!("unknown value {v}"))),
    }
}

fn audience(list: Vec<String>) -> Result<Vec<String>, Error> {
    let mut seen = BTreeSet::new();
    for (i, p) in list.iter().enumerate() {
        if !crate::identity::is_segment(p) {
            return Err(Error::invalid(
                format!("audience[{i}]"),
                "must be a party id of [a-z0-9-]{1,63}",
            ));
        }
        if !seen.insert(p.as_str()) {
            return Err(Error::invalid(format!("audience[{i}]"), "duplicate party"));
        }
    }
    Ok(list)
}

fn timestamp(field: &str, ts: Option<Timestamp>) -> Result<Option<Timestamp>, Error> {
    match ts {
        Some(t) if !(0..1_000_000_000).contains(&t.nanos) => {
            Err(Error::invalid(field, "nanos must be in 0..=999999999"))
        }
        other => Ok(other),
    }
}

#[allow(clippy::too_many_arguments)]
fn terms(
    grade_v: i32,
    likelihood_v: i32,
    handling_v: i32,
    guidance: String,
    audience_v: Vec<String>,
    applies_to: Vec<i32>,
    valid_until: Option<Timestamp>,
    internal_reference: String,
) -> Result<AdvisoryTerms, Error> {
    let grade = grade(grade_v)?;
    let likelihood = likelihood(likelihood_v)?;
    let handling = handling(handling_v)?;
    text("guidance", &guidance, 1, MAX_GUIDANCE_CHARS)?;
    let audience = audience(audience_v)?;
    let applies_to = subject_kinds(applies_to)?;
    let valid_until = timestamp("valid_until", valid_until)?;
    text(
        "internal_reference",
        &internal_reference,
        0,
        MAX_INTERNAL_REFERENCE_CHARS,
    )?;
    Ok(AdvisoryTerms {
        grade,
        likelihood,
        handling,
        guidance,
        audience,
        applies_to,
        valid_until,
        internal_reference,
    })
}

impl TryFrom<VetRequest> for VetQuery {
    type Error = Error;

    fn try_from(r: VetRequest) -> Result<Self, Error> {
        let VetRequest {
            request_id: rid,
            subject_kind: kind,
            key_id: kid,
            tokens: list,
            case_reference: case,
            linked: links,
        } = r;
        request_id("request_id", &rid)?;
        let subject_kind = subject_kind("subject_kind", kind)?;
        key_id(&kid)?;
        let tokens = tokens(list, MAX_VET_TOKENS)?;
        case_reference(&case)?;
        let linked = linked(links)?;
        Ok(VetQuery {
            request_id: rid,
            subject_kind,
            key_id: kid,
            tokens,
            case_reference: case,
            linked,
        })
    }
}

impl TryFrom<PublishRequest> for NewAdvisory {
    type Error = Error;

    fn try_from(r: PublishRequest) -> Result<Self, Error> {
        let PublishRequest {
            request_id: rid,
            key_id: kid,
            tokens: list,
            applies_to,
            grade,
            likelihood,
            handling,
            guidance,
            audience,
            valid_until,
            internal_reference,
        } = r;
        request_id("request_id", &rid)?;
        key_id(&kid)?;
        let tokens = tokens(list, MAX_ADVISORY_TOKENS)?;
        let terms = terms(
            grade,
            likelihood,
            handling,
            guidance,
            audience,
            applies_to,
            valid_until,
            internal_reference,
        )?;
        Ok(NewAdvisory {
            request_id: rid,
            key_id: kid,
            tokens,
            terms,
        })
    }
}

impl TryFrom<ReviseRequest> for Revision {
    type Error = Error;

    fn try_from(r: ReviseRequest) -> Result<Self, Error> {
        let ReviseRequest {
            advisory_id: id,
            expected_version: ev,
            grade,
            likelihood,
            handling,
            guidance,
            audience,
            applies_to,
            valid_until,
            internal_reference,
        } = r;
        advisory_id(&id)?;
        let expected_version = expected_version(ev)?;
        let terms = terms(
            grade,
            likelihood,
            handling,
            guidance,
            audience,
            applies_to,
            valid_until,
            internal_reference,
        )?;
        Ok(Revision {
            advisory_id: id,
            expected_version,
            terms,
        })
    }
}

impl TryFrom<WithdrawRequest> for Withdrawal {
    type Error = Error;

    fn try_from(r: WithdrawRequest) -> Result<Self, Error> {
        let WithdrawRequest {
            advisory_id: id,
            expected_version: ev,
            reason,
        } = r;
        advisory_id(&id)?;
        let expected_version = expected_version(ev)?;
        text("reason", &reason, 1, MAX_REASON_CHARS)?;
        Ok(Withdrawal {
            advisory_id: id,
            expected_version,
            reason,
        })
    }
}

/// A validated GetAdvisory: the advisory id.
/// The advisory id and version (0 = the latest) a GetAdvisory asks for.
pub(crate) fn get_request(r: GetAdvisoryRequest) -> Result<(String, u32), Error> {
    let GetAdvisoryRequest {
        advisory_id: id,
        version,
    } = r;
    advisory_id(&id)?;
    Ok((id, version))
}

impl TryFrom<ListAdvisoriesRequest> for PageRequest {
    type Error = Error;

    fn try_from(r: ListAdvisoriesRequest) -> Result<Self, Error> {
        let ListAdvisoriesRequest {
            page_size,
            page_token,
        } = r;
        let page_size = match page_size as usize {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let after = if page_token.is_empty() {
            None
        } else {
            Some(decode_page_token(&page_token)?)
        };
        Ok(PageRequest { page_size, after })
    }
}

/// The opaque page token for continuing after `advisory_id`.
pub(crate) fn encode_page_token(advisory_id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(advisory_id)
}

fn decode_page_token(token: &str) -> Result<String, Error> {
    use base64::Engine;
    let bad = || Error::invalid("page_token", "not a token from a previous response");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let id = String::from_utf8(bytes).map_err(|_| bad())?;
    if !is_advisory_id(&id) {
        return Err(bad());
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1::TokenKind;

    fn token(kind: TokenKind, len: usize) -> MatchToken {
        MatchToken {
            kind: kind as i32,
            digest: vec![1; len],
        }
    }

    fn vet() -> VetRequest {
        VetRequest {
            request_id: "r-1".into(),
            subject_kind: SubjectKind::DonorIndividual as i32,
            key_id: "dev-1".into(),
            tokens: vec![token(TokenKind::Email, 32)],
            case_reference: "CASE/2026-1".into(),
            linked: vec![],
        }
    }

    fn field_of(e: Error) -> String {
        match e {
            Error::InvalidArgument { field, .. } => field,
            other => panic!("not invalid argument: {other:?}"),
        }
    }

    #[test]
    fn accepts_a_good_vet() {
        let q = VetQuery::try_from(vet()).unwrap();
        assert_eq!(q.tokens.len(), 1);
    }

    type Mutation = Box<dyn Fn(&mut VetRequest)>;

    #[test]
    fn names_the_offending_field() {
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|r| r.request_id.clear()), "request_id"),
            (Box::new(|r| r.request_id = "a b".into()), "request_id"),
            (Box::new(|r| r.request_id = "x".repeat(65)), "request_id"),
            (Box::new(|r| r.subject_kind = 0), "subject_kind"),
            (Box::new(|r| r.subject_kind = 42), "subject_kind"),
            (Box::new(|r| r.key_id.clear()), "key_id"),
            (Box::new(|r| r.tokens.clear()), "tokens"),
            (
                Box::new(|r| r.tokens = vec![token(TokenKind::Email, 32); MAX_VET_TOKENS + 1]),
                "tokens",
            ),
            (
                Box::new(|r| r.tokens.push(token(TokenKind::Email, 31))),
                "tokens[1].digest",
            ),
            (Box::new(|r| r.tokens[0].kind = 0), "tokens[0].kind"),
            (Box::new(|r| r.tokens[0].kind = 99), "tokens[0].kind"),
            (
                Box::new(|r| r.tokens.push(token(TokenKind::Email, 32))),
                "tokens[1]",
            ),
            (
                Box::new(|r| r.case_reference = "Smith, J".into()),
                "case_reference",
            ),
        ];
        for (mutate, field) in cases {
            let mut r = vet();
            mutate(&mut r);
            assert_eq!(field_of(VetQuery::try_from(r).unwrap_err()), field);
        }
    }

    #[test]
    fn digest_error_states_the_lengths() {
        let mut r = vet();
        r.tokens = vec![
            token(TokenKind::Email, 32),
            token(TokenKind::CompanyNumber, 32),
            token(TokenKind::CryptoWallet, 31),
        ];
        let e = VetQuery::try_from(r).unwrap_err();
        assert_eq!(e.to_string(), "tokens[2].digest: must be 32 bytes, got 31");
    }

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        let t = encode_page_token("adv-0123456789abcdef");
        assert_eq!(decode_page_token(&t).unwrap(), "adv-0123456789abcdef");
        assert!(decode_page_token("!!").is_err());
        assert!(decode_page_token(&encode_page_token("nope")).is_err());
    }
}
