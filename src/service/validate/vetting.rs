//! `VetRequest` into [`VetQuery`], with its linked subjects (api.md v2 "Linked subjects").

use std::collections::BTreeMap;

use super::tokens::tokens_at;
use super::{is_id_char, key_id, request_id, subject_kind};
use crate::domain::values::Relation;
use crate::domain::{
    is_label, Error, Linked, VetQuery, MAX_LABEL_CHARS, MAX_LINKED, MAX_VET_TOKENS,
};
use crate::proto::v1::{LinkedSubject, VetRequest};

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
        let tokens = tokens_at("tokens", list, MAX_VET_TOKENS)?;
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
fn linked(list: Vec<LinkedSubject>) -> Result<Vec<Linked>, Error> {
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
        let tokens = tokens_at(&format!("linked[{i}].tokens"), list, MAX_VET_TOKENS)?;
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
    use crate::domain::values::{SubjectKind, TokenKind};
    use crate::proto::v1::MatchToken;

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
    fn names_the_offending_linked_field() {
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
