//! Requests into the domain's validated inputs ([`crate::domain::input`]). Each
//! `TryFrom<proto>` destructures every field of the message, so adding a field to the contract
//! without deciding how to validate it does not compile. Errors name the field and the rule,
//! never the value.
//!
//! - `tokens`: a token list (of the subject or of a linked subject).
//! - `vetting`: `VetRequest` into [`crate::domain::VetQuery`], with its linked subjects.
//! - `advisory`: Publish, Revise, Withdraw, GetAdvisory and ListAdvisories, and page tokens.

mod advisory;
mod tokens;
mod vetting;

pub(crate) use advisory::{encode_page_token, get_request};

use prost_types::Timestamp;

use crate::domain::values::SubjectKind;
use crate::domain::{is_advisory_id, is_key_id, Error};

fn is_id_char(c: char, extra: &str) -> bool {
    c.is_ascii_alphanumeric() || extra.contains(c)
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

fn subject_kind(field: &str, v: i32) -> Result<SubjectKind, Error> {
    match SubjectKind::try_from(v) {
        Ok(SubjectKind::Unspecified) => Err(Error::invalid(field, "required")),
        Ok(k) => Ok(k),
        Err(_) => Err(Error::invalid(field, format!("unknown value {v}"))),
    }
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

fn timestamp(field: &str, ts: Option<Timestamp>) -> Result<Option<Timestamp>, Error> {
    match ts {
        Some(t) if !(0..1_000_000_000).contains(&t.nanos) => {
            Err(Error::invalid(field, "nanos must be in 0..=999999999"))
        }
        other => Ok(other),
    }
}
