//! Linked subjects of a vetting request (api.md v2 "Linked subjects"): the people and companies
//! behind a donor (controllers, officers, parent, the source of the money), vetted together
//! with it. Validation here; matching, watching and notices in [`super::vetting`] and
//! [`super::monitor`].

use std::collections::BTreeMap;

use super::token_list::{tokens_at, Token};
use super::Error;
use crate::proto::v1::{LinkedSubject, Relation};

/// Most linked subjects in one vetting request.
pub const MAX_LINKED: usize = 32;
/// Longest label of a linked subject, in characters.
pub const MAX_LABEL_CHARS: usize = 32;

/// A validated linked subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    /// The party's own reference for it (1..=32 of `[A-Za-z0-9._-]`), unique in the request.
    pub label: String,
    /// How it is linked to the subject (never unspecified).
    pub relation: Relation,
    /// 1..=16 distinct tokens, as for the subject.
    pub tokens: Vec<Token>,
}

/// Whether `s` is a valid label: 1..=32 characters of `[A-Za-z0-9._-]`.
pub fn is_label(s: &str) -> bool {
    (1..=MAX_LABEL_CHARS).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn label(field: &str, s: &str) -> Result<(), Error> {
    if s.is_empty() {
        return Err(Error::invalid(field, "required"));
    }
    if s.len() > MAX_LABEL_CHARS {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_LABEL_CHARS} characters"),
        ));
    }
    if !is_label(s) {
        return Err(Error::invalid(
            field,
            "only [A-Za-z0-9._-] allowed (your own reference, never a name)",
        ));
    }
    Ok(())
}

fn relation(field: &str, v: i32) -> Result<Relation, Error> {
    match Relation::try_from(v) {
        Ok(Relation::Unspecified) => Err(Error::invalid(field, "required")),
        Ok(r) => Ok(r),
        Err(_) => Err(Error::invalid(field, format!("unknown value {v}"))),
    }
}

/// Validates `VetRequest.linked`: at most [`MAX_LINKED`] entries, each with a unique label, a
/// relation and tokens; errors name the field (`linked[2].tokens[0].digest`).
pub(super) fn linked(list: Vec<LinkedSubject>) -> Result<Vec<Linked>, Error> {
    if list.len() > MAX_LINKED {
        return Err(Error::invalid(
            "linked",
            format!("at most {MAX_LINKED} linked subjects, got {}", list.len()),
        ));
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, l) in list.into_iter().enumerate() {
        let LinkedSubject {
            label: name,
            relation: rel,
            tokens: list,
        } = l;
        label(&format!("linked[{i}].label"), &name)?;
        if let Some(j) = seen.get(&name) {
            return Err(Error::invalid(
                format!("linked[{i}].label"),
                format!("duplicate of linked[{j}].label"),
            ));
        }
        let relation = relation(&format!("linked[{i}].relation"), rel)?;
        let tokens = tokens_at(&format!("linked[{i}].tokens"), list, super::MAX_VET_TOKENS)?;
        seen.insert(name.clone(), i);
        out.push(Linked {
            label: name,
            relation,
            tokens,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1::{MatchToken, TokenKind};

    fn link(label: &str, relation: Relation, digest_len: usize) -> LinkedSubject {
        LinkedSubject {
            label: label.into(),
            relation: relation as i32,
            tokens: vec![MatchToken {
                kind: TokenKind::PersonNameBirthMonth as i32,
                digest: vec![7; digest_len],
            }],
        }
    }

    fn error_text(list: Vec<LinkedSubject>) -> String {
        linked(list).unwrap_err().to_string()
    }

    #[test]
    fn accepts_good_links() {
        let got = linked(vec![
            link("psc-1", Relation::Controller, 32),
            link("parent.co", Relation::Parent, 32),
        ])
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].relation, Relation::Parent);
        assert_eq!(got[0].tokens[0].kind, TokenKind::PersonNameBirthMonth);
    }

    #[test]
    fn names_the_offending_field() {
        let ok = || link("a", Relation::Controller, 32);
        assert_eq!(
            error_text(vec![ok(), link("a", Relation::Officer, 32)]),
            "linked[1].label: duplicate of linked[0].label"
        );
        assert_eq!(
            error_text(vec![ok(), link("b", Relation::Unspecified, 32)]),
            "linked[1].relation: required"
        );
        let mut unknown = link("b", Relation::Controller, 32);
        unknown.relation = 42;
        assert_eq!(
            error_text(vec![unknown]),
            "linked[0].relation: unknown value 42"
        );
        assert_eq!(
            error_text(vec![ok(), ok(), link("c", Relation::Associate, 31)])
                .split(':')
                .next(),
            Some("linked[1].label")
        );
        assert_eq!(
            error_text(vec![
                ok(),
                link("b", Relation::Officer, 32),
                link("c", Relation::Associate, 31)
            ]),
            "linked[2].tokens[0].digest: must be 32 bytes, got 31"
        );
        let mut empty = ok();
        empty.tokens.clear();
        assert_eq!(
            error_text(vec![empty]),
            "linked[0].tokens: at least one token is required"
        );
        assert_eq!(
            error_text(vec![link("", Relation::Controller, 32)]),
            "linked[0].label: required"
        );
        assert!(error_text(vec![link("Jane Doe", Relation::Controller, 32)])
            .starts_with("linked[0].label: only"));
        assert!(
            error_text(vec![link(&"x".repeat(33), Relation::Controller, 32)])
                .starts_with("linked[0].label: at most 32")
        );
        let many: Vec<_> = (0..33)
            .map(|i| link(&format!("l{i}"), Relation::Associate, 32))
            .collect();
        assert_eq!(
            error_text(many),
            "linked: at most 32 linked subjects, got 33"
        );
    }
}
