//! Derivation, spec v1: which tokens [`IdentityFields`] give ([`canonicals`]) and their keyed
//! HMAC-SHA256 digests ([`derive()`], [`digest`]). Tokens v2 blinds the same canonical forms
//! instead ([`crate::oprf`]).

use ring::hmac;
use time::Date;

use super::addresses::{canonical_email, canonical_wallet};
use super::dates::{canonical_date_on, canonical_month_on, canonical_year_on, today_utc};
use super::documents::{canonical_company_number, canonical_travel_document};
use super::names::{canonical_name, canonical_org_name};
use super::places::{canonical_country, canonical_postcode};
use super::text::{is_year, is_year_month, trim};
use super::{variants, CanonicalKind, MatchingKey, TokenError};

/// The prefix of every digested message: `"portcullis:v1:"`.
pub const DIGEST_PREFIX: &str = "portcullis:v1:";

/// The identity fields a client may hold about a subject. All are optional; a field that is
/// `Some` (even an empty string) counts as given, and must be usable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityFields {
    /// A person's full name, in any order, with or without titles.
    pub name: Option<String>,
    /// Date of birth: `YYYY-MM-DD`, `DD/MM/YYYY` (or `D/M/YYYY`), a year and month `YYYY-MM`
    /// (as the PSC register publishes it), or a year alone `YYYY`.
    pub dob: Option<String>,
    /// A UK postcode.
    pub postcode: Option<String>,
    /// Passport or identity card as `COUNTRY:NUMBER`, country ISO 3166-1 alpha-3 (`GBR:123456789`).
    pub passport: Option<String>,
    /// A UK Companies House number (`01234567`, `SC123456`).
    pub company_number: Option<String>,
    /// An organisation's name (needs `country`).
    pub org_name: Option<String>,
    /// The organisation's country, ISO 3166-1 alpha-2 (`GB`); used with `org_name` only.
    pub country: Option<String>,
    /// A wallet as `CHAIN:ADDRESS` (`eth:0x…`, `btc:bc1…`).
    pub wallet: Option<String>,
    /// An e-mail address.
    pub email: Option<String>,
}

/// One derived token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Its kind.
    pub kind: CanonicalKind,
    /// The canonical string that was digested (after the label).
    pub canonical: String,
    /// `HMAC-SHA256(key, "portcullis:v1:" + label + ":" + canonical)`.
    pub digest: [u8; 32],
}

impl Token {
    /// The digest as 64 lower-case hex characters.
    pub fn digest_hex(&self) -> String {
        hex::encode(self.digest)
    }
}

/// The digest of one canonical string:
/// `HMAC-SHA256(key, "portcullis:v1:" + kind.label() + ":" + canonical)`.
pub fn digest(key: &MatchingKey, kind: CanonicalKind, canonical: &str) -> [u8; 32] {
    let mut ctx = hmac::Context::with_key(key.hmac_key());
    ctx.update(DIGEST_PREFIX.as_bytes());
    ctx.update(kind.label().as_bytes());
    ctx.update(b":");
    ctx.update(canonical.as_bytes());
    let tag = ctx.sign();
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Derive every token the fields give, in [`CanonicalKind`] order (docs/tokens.md, "Which tokens a
/// client derives"):
/// name + dob → `PERSON_NAME_DOB`, `PERSON_NAME_YOB` and `PERSON_NAME_BIRTH_MONTH` (a year and
/// month give only the last, a year alone only `PERSON_NAME_YOB`);
/// name + postcode → `PERSON_NAME_POSTCODE`; passport → `TRAVEL_DOCUMENT`; company number →
/// `COMPANY_NUMBER`; org name + country → `ORGANISATION_NAME`; wallet → `CRYPTO_WALLET`;
/// email → `EMAIL`.
///
/// Fields are checked in the order name, dob, postcode, passport, company_number, org_name,
/// country, wallet, email, then for partners (a name needs a dob or postcode, a dob or postcode
/// needs a name, an org name and a country need each other); the first problem is returned as
/// [`TokenError::Field`]. A field that is given but unusable is always an error, never skipped.
/// No field at all → [`TokenError::NoFields`].
pub fn derive(key: &MatchingKey, fields: &IdentityFields) -> Result<Vec<Token>, TokenError> {
    Ok(canonicals_on(fields, today_utc())?
        .into_iter()
        .map(|(kind, canonical)| Token {
            kind,
            digest: digest(key, kind, &canonical),
            canonical,
        })
        .collect())
}

/// The kinds and canonical forms [`derive()`] would digest, without digesting them: what a
/// tokens v2 client blinds and sends to the key service (same rules and errors).
pub fn canonicals(fields: &IdentityFields) -> Result<Vec<(CanonicalKind, String)>, TokenError> {
    canonicals_on(fields, today_utc())
}

/// A parsed date of birth: a full date, a year and month, or a year alone.
enum Birth {
    Date(String),
    Month(String),
    Year(String),
}

fn canonicals_on(
    fields: &IdentityFields,
    today: Date,
) -> Result<Vec<(CanonicalKind, String)>, TokenError> {
    let f = fields;
    if f.name.is_none()
        && f.dob.is_none()
        && f.postcode.is_none()
        && f.passport.is_none()
        && f.company_number.is_none()
        && f.org_name.is_none()
        && f.country.is_none()
        && f.wallet.is_none()
        && f.email.is_none()
    {
        return Err(TokenError::NoFields);
    }

    // Each given field on its own, in a fixed order.
    let name = f.name.as_deref().map(canonical_name).transpose()?;
    let birth = f
        .dob
        .as_deref()
        .map(|d| {
            if is_year(trim(d)) {
                canonical_year_on(d, today).map(Birth::Year)
            } else if is_year_month(trim(d)) {
                canonical_month_on(d, today).map(Birth::Month)
            } else {
                canonical_date_on(d, today).map(Birth::Date)
            }
        })
        .transpose()?;
    let postcode = f.postcode.as_deref().map(canonical_postcode).transpose()?;
    let passport = f
        .passport
        .as_deref()
        .map(canonical_travel_document)
        .transpose()?;
    let company = f
        .company_number
        .as_deref()
        .map(canonical_company_number)
        .transpose()?;
    let org = f.org_name.as_deref().map(canonical_org_name).transpose()?;
    let country = f.country.as_deref().map(canonical_country).transpose()?;
    let wallet = f.wallet.as_deref().map(canonical_wallet).transpose()?;
    let email = f.email.as_deref().map(canonical_email).transpose()?;

    // Fields that only make a token with a partner.
    if name.is_some() && birth.is_none() && postcode.is_none() {
        return Err(TokenError::field(
            "name",
            "a name needs a date of birth or a postcode",
        ));
    }
    if birth.is_some() && name.is_none() {
        return Err(TokenError::field("dob", "a date of birth needs a name"));
    }
    if postcode.is_some() && name.is_none() {
        return Err(TokenError::field("postcode", "a postcode needs a name"));
    }
    if org.is_some() && country.is_none() {
        return Err(TokenError::field(
            "country",
            "an organisation name needs a country",
        ));
    }
    if country.is_some() && org.is_none() {
        return Err(TokenError::field(
            "country",
            "a country needs an organisation name",
        ));
    }

    let mut out: Vec<(CanonicalKind, String)> = Vec::new();
    if let (Some(name), Some(birth)) = (&name, &birth) {
        match birth {
            Birth::Date(date) => {
                out.push((CanonicalKind::PersonNameDob, format!("{name}|{date}")));
                out.push((
                    CanonicalKind::PersonNameYob,
                    format!("{name}|{}", &date[..4]),
                ));
            }
            Birth::Year(year) => out.push((CanonicalKind::PersonNameYob, format!("{name}|{year}"))),
            Birth::Month(_) => {}
        }
    }
    if let (Some(name), Some(postcode)) = (&name, &postcode) {
        out.push((
            CanonicalKind::PersonNamePostcode,
            format!("{name}|{postcode}"),
        ));
    }
    if let Some(passport) = passport {
        out.push((CanonicalKind::TravelDocument, passport));
    }
    if let Some(company) = company {
        out.push((CanonicalKind::CompanyNumber, company));
    }
    if let (Some(org), Some(country)) = (&org, &country) {
        out.push((CanonicalKind::OrganisationName, format!("{org}|{country}")));
    }
    if let Some(wallet) = wallet {
        out.push((CanonicalKind::CryptoWallet, wallet));
    }
    if let Some(email) = email {
        out.push((CanonicalKind::Email, email));
    }
    if let (Some(name), Some(birth)) = (&name, &birth) {
        match birth {
            Birth::Date(date) => out.push((
                CanonicalKind::PersonNameBirthMonth,
                format!("{name}|{}", &date[..7]),
            )),
            Birth::Month(month) => out.push((
                CanonicalKind::PersonNameBirthMonth,
                format!("{name}|{month}"),
            )),
            Birth::Year(_) => {}
        }
    }
    if let (Some(raw), Some(Birth::Date(date))) = (&f.name, &birth) {
        out.extend(variants::variant_forms(raw, date));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::test_support::{day, key};
    use crate::tokens::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use time::Month;

    #[test]
    fn year_and_month_give_only_the_birth_month_token() {
        let k = key();
        let fields = |dob: &str| IdentityFields {
            name: Some("Viktor Petrov".into()),
            dob: Some(dob.into()),
            ..Default::default()
        };
        let today = day(2026, Month::December, 1);
        let tokens = derive_on(&k, &fields("1966-03"), today).unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].kind, CanonicalKind::PersonNameBirthMonth);
        assert_eq!(tokens[0].canonical, "petrov viktor|1966-03");
        // The same person from a full date shares the token.
        let full = derive_on(&k, &fields("14/03/1966"), today).unwrap();
        assert!(full.iter().any(|t| t.digest == tokens[0].digest));
        for (dob, reason) in [
            ("1966-13", "not a real month"),
            ("1966-00", "not a real month"),
            ("1899-12", "year is before 1900"),
            ("2027-01", "month is in the future"),
        ] {
            assert_eq!(
                derive_on(&k, &fields(dob), today).unwrap_err(),
                TokenError::field("dob", reason),
                "{dob}"
            );
        }
        assert!(derive_on(&k, &fields("2026-12"), today).is_ok());
    }

    fn derive_on(
        k: &MatchingKey,
        f: &IdentityFields,
        today: Date,
    ) -> Result<Vec<Token>, TokenError> {
        Ok(canonicals_on(f, today)?
            .into_iter()
            .map(|(kind, canonical)| Token {
                kind,
                digest: digest(k, kind, &canonical),
                canonical,
            })
            .collect())
    }

    #[test]
    fn derive_pairs_and_errors() {
        let k = key();
        let today = day(2024, Month::June, 15);
        assert_eq!(
            derive_on(&k, &IdentityFields::default(), today),
            Err(TokenError::NoFields)
        );
        let only = |f: IdentityFields| derive_on(&k, &f, today);
        let name_only = IdentityFields {
            name: Some("Jane Doe".into()),
            ..Default::default()
        };
        assert!(matches!(
            only(name_only),
            Err(TokenError::Field { field: "name", .. })
        ));
        let empty_email = IdentityFields {
            email: Some(String::new()),
            ..Default::default()
        };
        assert!(matches!(
            only(empty_email),
            Err(TokenError::Field { field: "email", .. })
        ));
        let country_only = IdentityFields {
            country: Some("GB".into()),
            ..Default::default()
        };
        assert!(matches!(
            only(country_only),
            Err(TokenError::Field {
                field: "country",
                ..
            })
        ));
        let full = IdentityFields {
            name: Some("Jane Doe".into()),
            dob: Some("1980-01-31".into()),
            postcode: Some("EC1A 1BB".into()),
            ..Default::default()
        };
        let tokens = only(full).unwrap();
        let kinds: Vec<_> = tokens.iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            [
                CanonicalKind::PersonNameDob,
                CanonicalKind::PersonNameYob,
                CanonicalKind::PersonNamePostcode,
                CanonicalKind::PersonNameBirthMonth,
                CanonicalKind::PersonNameLettersDob,
                CanonicalKind::PersonNameSoundDob,
                CanonicalKind::PersonNamePartDob,
                CanonicalKind::PersonNamePartDob,
            ]
        );
        assert_eq!(tokens[1].canonical, "doe jane|1980");
        assert_eq!(tokens[3].canonical, "doe jane|1980-01");
        assert_eq!(
            tokens[0].digest,
            digest(&k, CanonicalKind::PersonNameDob, "doe jane|1980-01-31")
        );
        assert_eq!(tokens[0].digest_hex(), hex::encode(tokens[0].digest));
    }

    #[test]
    fn errors_never_contain_the_input() {
        let secret = "Zebedee-Quux";
        let fields = [
            IdentityFields {
                name: Some(secret.into()),
                ..Default::default()
            },
            IdentityFields {
                passport: Some(secret.into()),
                ..Default::default()
            },
            IdentityFields {
                company_number: Some(secret.into()),
                ..Default::default()
            },
            IdentityFields {
                wallet: Some(format!("eth:{secret}")),
                ..Default::default()
            },
            IdentityFields {
                email: Some(secret.into()),
                ..Default::default()
            },
            IdentityFields {
                name: Some("Jane".into()),
                dob: Some(secret.into()),
                ..Default::default()
            },
            IdentityFields {
                name: Some("Jane".into()),
                postcode: Some(secret.into()),
                ..Default::default()
            },
        ];
        for f in fields {
            let err = derive(&key(), &f).unwrap_err().to_string();
            assert!(!err.to_lowercase().contains("zebedee"), "{err}");
        }
    }

    // --- the shared test vectors ------------------------------------------------------------

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Vectors {
        spec: String,
        #[allow(dead_code)]
        generator: String,
        #[allow(dead_code)]
        unicode_version: String,
        key: VectorKey,
        cases: Vec<Case>,
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct VectorKey {
        key_id: String,
        key_hex: String,
        file_line: String,
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Case {
        id: String,
        #[allow(dead_code)]
        description: String,
        fields: BTreeMap<String, Option<String>>,
        tokens: Option<Vec<VectorToken>>,
        error: Option<VectorError>,
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct VectorToken {
        kind: String,
        label: String,
        canonical: String,
        digest: String,
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct VectorError {
        field: Option<String>,
        reason: String,
    }

    fn fields_of(case: &Case) -> IdentityFields {
        let mut f = IdentityFields::default();
        for (name, value) in &case.fields {
            let slot = match name.as_str() {
                "name" => &mut f.name,
                "dob" => &mut f.dob,
                "postcode" => &mut f.postcode,
                "passport" => &mut f.passport,
                "company_number" => &mut f.company_number,
                "org_name" => &mut f.org_name,
                "country" => &mut f.country,
                "wallet" => &mut f.wallet,
                "email" => &mut f.email,
                other => panic!("{}: unknown field {other}", case.id),
            };
            slot.clone_from(value);
        }
        f
    }

    #[test]
    fn shared_vectors() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/token-vectors.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let v: Vectors = serde_json::from_str(&text).unwrap();
        assert_eq!(v.spec, "portcullis-tokens-v1");
        let k = MatchingKey::parse(&v.key.file_line).unwrap();
        assert_eq!(k.id(), v.key.key_id);
        assert_eq!(
            k.to_file_line(),
            format!("{}:{}", v.key.key_id, v.key.key_hex)
        );
        assert!(v.cases.len() >= 40);
        let mut kinds_seen = std::collections::BTreeSet::new();
        let mut rejections = 0;
        for case in &v.cases {
            let got = derive(&k, &fields_of(case));
            match (&case.tokens, &case.error) {
                (Some(want), None) => {
                    let got = got.unwrap_or_else(|e| panic!("{}: {e}", case.id));
                    assert_eq!(got.len(), want.len(), "{}", case.id);
                    for (g, w) in got.iter().zip(want) {
                        assert_eq!(g.kind.name(), w.kind, "{}", case.id);
                        assert_eq!(g.kind.label(), w.label, "{}", case.id);
                        assert_eq!(g.canonical, w.canonical, "{}", case.id);
                        assert_eq!(g.digest_hex(), w.digest, "{}", case.id);
                        assert_eq!(digest(&k, g.kind, &w.canonical), g.digest, "{}", case.id);
                        kinds_seen.insert(g.kind);
                    }
                }
                (None, Some(want)) => {
                    rejections += 1;
                    match (got, want.field.as_deref()) {
                        (Err(TokenError::NoFields), None) => {
                            assert_eq!(want.reason, TokenError::NoFields.to_string());
                        }
                        (Err(TokenError::Field { field, reason }), Some(wf)) => {
                            assert_eq!(field, wf, "{}", case.id);
                            assert_eq!(reason, want.reason, "{}", case.id);
                        }
                        (other, _) => panic!("{}: expected an error, got {other:?}", case.id),
                    }
                }
                _ => panic!("{}: needs exactly one of tokens and error", case.id),
            }
        }
        assert_eq!(
            kinds_seen.len(),
            CanonicalKind::ALL.len(),
            "every kind is covered"
        );
        assert!(rejections >= 6);
    }

    proptest! {
        #[test]
        fn other_canonicalisers_never_panic(s in any::<String>()) {
            let _ = canonical_org_name(&s);
            let _ = canonical_postcode(&s);
            let _ = canonical_date(&s);
            let _ = canonical_company_number(&s);
            let _ = canonical_travel_document(&s);
            let _ = canonical_wallet(&s);
            let _ = canonical_email(&s);
        }
    }
}
