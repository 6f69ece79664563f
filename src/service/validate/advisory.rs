//! Publish, Revise, Withdraw, GetAdvisory and ListAdvisories into the domain's inputs, and the
//! opaque page tokens of ListAdvisories.

use std::collections::BTreeSet;

use prost_types::Timestamp;

use super::tokens::tokens_at;
use super::{advisory_id, expected_version, key_id, request_id, subject_kind, text, timestamp};
use crate::domain::values::{Handling, Likelihood, RiskGrade, SubjectKind};
use crate::domain::{
    is_advisory_id, AdvisoryTerms, Error, NewAdvisory, PageRequest, Revision, Withdrawal,
    DEFAULT_PAGE_SIZE, MAX_ADVISORY_TOKENS, MAX_GUIDANCE_CHARS, MAX_INTERNAL_REFERENCE_CHARS,
    MAX_PAGE_SIZE, MAX_REASON_CHARS,
};
use crate::proto::v1::{
    GetAdvisoryRequest, ListAdvisoriesRequest, PublishRequest, ReviseRequest, WithdrawRequest,
};

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

/// The advisory terms fields, which PublishRequest and ReviseRequest both carry under these
/// names (taken out of either by [`split_terms!`]).
struct TermFields {
    grade: i32,
    likelihood: i32,
    handling: i32,
    guidance: String,
    audience: Vec<String>,
    applies_to: Vec<i32>,
    valid_until: Option<Timestamp>,
    internal_reference: String,
}

/// Destructures `$request`, a `$message` carrying the advisory terms, exhaustively: its own
/// fields into the caller's names (returned as a tuple, in order) and its terms into
/// [`TermFields`]. A field added to the message fails to compile here until it is handled.
macro_rules! split_terms {
    ($message:ident { $($field:ident: $var:ident),* $(,)? } = $request:expr) => {
        split_terms!(
            [grade likelihood handling guidance audience applies_to valid_until internal_reference]
            $message { $($field: $var),* } = $request
        )
    };
    ([$($term:ident)*] $message:ident { $($field:ident: $var:ident),* } = $request:expr) => {{
        let $message { $($field: $var,)* $($term,)* } = $request;
        (($($var,)*), TermFields { $($term),* })
    }};
}

/// Validates the terms, field by field in the order of [`TermFields`].
fn terms(fields: TermFields) -> Result<AdvisoryTerms, Error> {
    let TermFields {
        grade: grade_v,
        likelihood: likelihood_v,
        handling: handling_v,
        guidance,
        audience: audience_v,
        applies_to,
        valid_until,
        internal_reference,
    } = fields;
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

impl TryFrom<PublishRequest> for NewAdvisory {
    type Error = Error;

    fn try_from(r: PublishRequest) -> Result<Self, Error> {
        let ((rid, kid, list), fields) = split_terms!(
            PublishRequest {
                request_id: rid,
                key_id: kid,
                tokens: list,
            } = r
        );
        request_id("request_id", &rid)?;
        key_id(&kid)?;
        let tokens = tokens_at("tokens", list, MAX_ADVISORY_TOKENS)?;
        let terms = terms(fields)?;
        Ok(NewAdvisory {
            request_id: rid,
            key_id: kid,
            tokens,
            terms,
        })
    }
}

/// Checks the advisory a Revise or Withdraw names, then the version it expects; returns the
/// version.
fn change_of(id: &str, expected: u32) -> Result<u32, Error> {
    advisory_id(id)?;
    expected_version(expected)
}

impl TryFrom<ReviseRequest> for Revision {
    type Error = Error;

    fn try_from(r: ReviseRequest) -> Result<Self, Error> {
        let ((id, ev), fields) = split_terms!(
            ReviseRequest {
                advisory_id: id,
                expected_version: ev,
            } = r
        );
        let expected_version = change_of(&id, ev)?;
        let terms = terms(fields)?;
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
        let expected_version = change_of(&id, ev)?;
        text("reason", &reason, 1, MAX_REASON_CHARS)?;
        Ok(Withdrawal {
            advisory_id: id,
            expected_version,
            reason,
        })
    }
}

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

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        let t = encode_page_token("adv-0123456789abcdef");
        assert_eq!(decode_page_token(&t).unwrap(), "adv-0123456789abcdef");
        assert!(decode_page_token("!!").is_err());
        assert!(decode_page_token(&encode_page_token("nope")).is_err());
    }
}
