//! Linked subjects on the command line (`vet --link RELATION:LABEL:FIELDS`, repeatable) and
//! their display: a controller, officer, parent company, funding source or associate of the
//! subject, vetted with it in one request (api.md v2 "Linked subjects").

use crate::keyservice::client::{with_digests, Scheme};
use crate::proto::v1::{LinkedSubject, Relation};
use crate::tokens::{CanonicalKind, IdentityFields, Token};
use crate::Error;

use super::common::match_tokens;

/// The relation names accepted on the command line and in CSV files, with their values.
pub(crate) const RELATIONS: [(&str, Relation); 5] = [
    ("controller", Relation::Controller),
    ("officer", Relation::Officer),
    ("parent", Relation::Parent),
    ("funding-source", Relation::FundingSource),
    ("associate", Relation::Associate),
];

/// The relation named `s` (case-insensitive, `_` or `-`), if any.
pub(crate) fn relation_named(s: &str) -> Option<Relation> {
    let s = s.trim().to_ascii_lowercase().replace('_', "-");
    RELATIONS.iter().find(|(n, _)| *n == s).map(|(_, r)| *r)
}

/// A relation as the CLI prints it (`CONTROLLER`, …); empty for the subject itself.
pub(crate) fn relation_text(v: i32) -> &'static str {
    match Relation::try_from(v) {
        Ok(Relation::Unspecified) => "",
        Ok(r) => r.as_str_name(),
        Err(_) => "?",
    }
}

/// The identity field a `--link` key names (the flag names of `vet`, without `--`).
fn set_field(fields: &mut IdentityFields, key: &str, value: &str) -> Result<(), String> {
    let slot = match key {
        "name" => &mut fields.name,
        "dob" => &mut fields.dob,
        "postcode" => &mut fields.postcode,
        "passport" => &mut fields.passport,
        "company-number" | "company_number" => &mut fields.company_number,
        "org-name" | "org_name" => &mut fields.org_name,
        "country" => &mut fields.country,
        "wallet" => &mut fields.wallet,
        "email" => &mut fields.email,
        _ => {
            return Err(format!(
                "unknown field {key:?} (name, dob, postcode, passport, company-number, org-name, country, wallet, email)"
            ))
        }
    };
    if slot.is_some() {
        return Err(format!("field {key} given twice"));
    }
    *slot = Some(value.to_owned());
    Ok(())
}

/// A parsed `--link` value: `RELATION:LABEL:FIELD=VALUE;FIELD=VALUE…`, e.g.
/// `controller:psc-1:name=Viktor Petrov;dob=1966-03`. Errors never repeat a field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkSpec {
    /// The party's reference for the linked subject.
    pub(crate) label: String,
    /// How it is linked.
    pub(crate) relation: Relation,
    /// Its identity fields.
    pub(crate) fields: IdentityFields,
}

impl LinkSpec {
    /// Parses one `--link` value.
    pub(crate) fn parse(s: &str) -> Result<LinkSpec, String> {
        let mut parts = s.splitn(3, ':');
        let (Some(relation), Some(label), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(
                "expected RELATION:LABEL:FIELD=VALUE;… (e.g. controller:psc-1:name=…;dob=1966-03)"
                    .into(),
            );
        };
        let relation = relation_named(relation).ok_or_else(|| {
            format!(
                "unknown relation {relation:?} (one of {})",
                RELATIONS.map(|(n, _)| n).join(", ")
            )
        })?;
        if !crate::domain::is_label(label) {
            return Err(format!(
                "label: 1 to {} of A-Z a-z 0-9 . _ - (your own reference, never a name)",
                crate::domain::MAX_LABEL_CHARS
            ));
        }
        let mut fields = IdentityFields::default();
        for part in rest.split(';').filter(|p| !p.trim().is_empty()) {
            let Some((key, value)) = part.split_once('=') else {
                return Err(format!(
                    "{label}: expected FIELD=VALUE, got a part without '='"
                ));
            };
            set_field(&mut fields, key.trim(), value).map_err(|e| format!("{label}: {e}"))?;
        }
        Ok(LinkSpec {
            label: label.to_owned(),
            relation,
            fields,
        })
    }

    /// The linked subject with its tokens derived under `key`.
    /// The kinds and canonical forms of the linked subject's tokens (digested by the caller,
    /// with the subject's, under the same scheme).
    pub(crate) fn canonicals(&self) -> Result<Vec<(CanonicalKind, String)>, Error> {
        crate::tokens::canonicals(&self.fields)
            .map_err(|e| Error::Usage(format!("linked subject {}: {e}", self.label)))
    }
}

/// Checks the linked subjects (count, unique labels, usable fields): their canonical forms, in
/// order, or the first problem.
pub(crate) fn linked_canonicals(
    specs: &[LinkSpec],
) -> Result<Vec<Vec<(CanonicalKind, String)>>, Error> {
    if specs.len() > crate::domain::MAX_LINKED {
        return Err(Error::Usage(format!(
            "{} linked subjects; a request carries at most {}",
            specs.len(),
            crate::domain::MAX_LINKED
        )));
    }
    let mut out = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        if specs[..i].iter().any(|l| l.label == spec.label) {
            return Err(Error::Usage(format!(
                "linked subject label {} given twice",
                spec.label
            )));
        }
        out.push(spec.canonicals()?);
    }
    Ok(out)
}

/// The subject's tokens and its linked subjects, every digest computed with `scheme` in one
/// go (one key-service batch under v2, so linked subjects cost no extra round trip).
pub(crate) async fn subject_and_linked(
    scheme: &mut Scheme,
    fields: &IdentityFields,
    specs: &[LinkSpec],
) -> Result<(Vec<Token>, Vec<LinkedSubject>), Error> {
    let subject = crate::tokens::canonicals(fields)?;
    let links = linked_canonicals(specs)?;
    let pairs: Vec<(CanonicalKind, String)> = subject
        .iter()
        .chain(links.iter().flatten())
        .cloned()
        .collect();
    let mut digests = scheme.digests(&pairs).await?.into_iter();
    let tokens = with_digests(subject, &mut digests);
    let linked = specs
        .iter()
        .zip(links)
        .map(|(spec, pairs)| LinkedSubject {
            label: spec.label.clone(),
            relation: spec.relation as i32,
            tokens: match_tokens(&with_digests(pairs, &mut digests)),
        })
        .collect();
    Ok((tokens, linked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_link_values() {
        let l = LinkSpec::parse("controller:psc-1:name=Viktor Petrov; dob=1966-03").unwrap();
        assert_eq!(l.label, "psc-1");
        assert_eq!(l.relation, Relation::Controller);
        assert_eq!(l.fields.name.as_deref(), Some("Viktor Petrov"));
        assert_eq!(l.fields.dob.as_deref(), Some("1966-03"));
        let l = LinkSpec::parse("Funding_Source:f1:company-number=SC123456").unwrap();
        assert_eq!(l.relation, Relation::FundingSource);
        assert_eq!(l.fields.company_number.as_deref(), Some("SC123456"));
        // A colon inside a value is kept (wallets, passports).
        let l = LinkSpec::parse("associate:w:wallet=eth:0xabc").unwrap();
        assert_eq!(l.fields.wallet.as_deref(), Some("eth:0xabc"));
    }

    #[test]
    fn refuses_bad_link_values_without_repeating_values() {
        for (s, want) in [
            ("controller:psc-1", "expected RELATION:LABEL"),
            ("boss:psc-1:name=X", "unknown relation"),
            ("controller:Jane Doe:name=X", "label: 1 to 32"),
            ("controller:p:name", "p: expected FIELD=VALUE"),
            ("controller:p:shoe=Secret", "p: unknown field \"shoe\""),
            ("controller:p:name=A;name=B", "p: field name given twice"),
        ] {
            let e = LinkSpec::parse(s).unwrap_err();
            assert!(e.contains(want), "{s}: {e}");
            assert!(!e.contains("Secret"));
        }
    }

    #[tokio::test]
    async fn labels_are_unique_and_tokens_derived_with_the_subjects() {
        let key = crate::tokens::MatchingKey::new("t-1", [3; 32]).unwrap();
        let mut scheme = Scheme::Hmac(key.clone());
        let subject = IdentityFields {
            passport: Some("GBR:123456789".into()),
            ..Default::default()
        };
        let a = LinkSpec::parse("controller:a:name=Jane Smith;dob=1970-05").unwrap();
        let (tokens, got) = subject_and_linked(&mut scheme, &subject, std::slice::from_ref(&a))
            .await
            .unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(
            tokens[0].digest,
            crate::tokens::digest(&key, CanonicalKind::TravelDocument, "GBR|123456789")
        );
        assert_eq!(got[0].tokens.len(), 1);
        assert_eq!(got[0].relation, Relation::Controller as i32);
        assert_eq!(
            got[0].tokens[0].digest,
            crate::tokens::digest(
                &key,
                CanonicalKind::PersonNameBirthMonth,
                "jane smith|1970-05"
            )
        );
        let e = linked_canonicals(&[a.clone(), a]).unwrap_err();
        assert_eq!(e.to_string(), "linked subject label a given twice");
        let bad = LinkSpec::parse("officer:b:name=Jane Smith").unwrap();
        let e = linked_canonicals(&[bad]).unwrap_err();
        assert!(e.to_string().starts_with("linked subject b: name:"), "{e}");
    }
}
