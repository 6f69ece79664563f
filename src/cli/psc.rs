//! `vet --psc-json FILE`: the controllers of a UK company from the JSON the Companies House API
//! returns for its persons with significant control
//! (`GET /company/{number}/persons-with-significant-control`), as linked subjects with the
//! relation CONTROLLER. The mapping is documented in `docs/psc.md`.
//!
//! The whole file is read and checked before anything is sent: a file that is not JSON, has no
//! `items`, or has a controller that gives no token is refused with a message naming the item
//! (`items[2]: …`), never the values in it.

use std::path::Path;

use serde_json::Value;

use super::linked::LinkSpec;
use crate::proto::v1::Relation;
use crate::tokens::IdentityFields;
use crate::Error;

/// Countries as Companies House writes `identification.country_registered`, with their
/// ISO 3166-1 alpha-2 code. A two-letter value is taken as a code itself.
const COUNTRIES: [(&str, &str); 44] = [
    ("united kingdom", "GB"),
    ("england", "GB"),
    ("wales", "GB"),
    ("scotland", "GB"),
    ("northern ireland", "GB"),
    ("england and wales", "GB"),
    ("england & wales", "GB"),
    ("great britain", "GB"),
    ("uk", "GB"),
    ("jersey", "JE"),
    ("guernsey", "GG"),
    ("isle of man", "IM"),
    ("gibraltar", "GI"),
    ("ireland", "IE"),
    ("cyprus", "CY"),
    ("malta", "MT"),
    ("luxembourg", "LU"),
    ("netherlands", "NL"),
    ("the netherlands", "NL"),
    ("germany", "DE"),
    ("france", "FR"),
    ("switzerland", "CH"),
    ("liechtenstein", "LI"),
    ("monaco", "MC"),
    ("british virgin islands", "VG"),
    ("virgin islands, british", "VG"),
    ("cayman islands", "KY"),
    ("bermuda", "BM"),
    ("bahamas", "BS"),
    ("belize", "BZ"),
    ("panama", "PA"),
    ("seychelles", "SC"),
    ("united states", "US"),
    ("united states of america", "US"),
    ("usa", "US"),
    ("russia", "RU"),
    ("russian federation", "RU"),
    ("china", "CN"),
    ("hong kong", "HK"),
    ("singapore", "SG"),
    ("united arab emirates", "AE"),
    ("qatar", "QA"),
    ("saudi arabia", "SA"),
    ("iran", "IR"),
];

/// The UK jurisdictions: only their registration numbers are Companies House numbers.
const UK: &str = "GB";

/// The alpha-2 code of a `country_registered` value, if recognised.
fn country_code(s: &str) -> Option<&'static str> {
    let t = s.trim().to_ascii_lowercase();
    if let Some((_, code)) = COUNTRIES.iter().find(|(n, _)| *n == t) {
        return Some(code);
    }
    // A two-letter value is a code already; keep it only if it is one we know.
    COUNTRIES
        .iter()
        .map(|(_, c)| *c)
        .find(|c| c.eq_ignore_ascii_case(&t))
}

/// What a PSC file gives: the controllers to vet, and notes about items not vetted.
#[derive(Debug, Default)]
pub(crate) struct Controllers {
    /// One linked subject per usable item, labelled `psc-N` (`psc-N-ceased` for a ceased one),
    /// N the item's position from 1.
    pub(crate) links: Vec<LinkSpec>,
    /// Items that cannot be vetted by design (super-secure controllers), one note each.
    pub(crate) notes: Vec<String>,
}

/// Reads `path` (a Companies House PSC list) into linked subjects.
pub(crate) fn read(path: &Path) -> Result<Controllers, Error> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse(&text).map_err(|e| Error::Usage(format!("--psc-json {}: {e}", path.display())))
}

/// Parses a PSC list; errors name the item and field, never a value.
pub(crate) fn parse(bytes: &[u8]) -> Result<Controllers, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "not JSON (line {}, column {}): {}",
            e.line(),
            e.column(),
            match e.classify() {
                serde_json::error::Category::Eof => "unexpected end of file",
                serde_json::error::Category::Io => "read error",
                serde_json::error::Category::Syntax | serde_json::error::Category::Data =>
                    "syntax error",
            }
        )
    })?;
    let Some(items) = doc.get("items") else {
        return Err("no items: not a persons-with-significant-control list".into());
    };
    let Some(items) = items.as_array() else {
        return Err("items: not an array".into());
    };
    let mut out = Controllers::default();
    for (i, item) in items.iter().enumerate() {
        let at = format!("items[{i}]");
        if !item.is_object() {
            return Err(format!("{at}: not an object"));
        }
        let kind = item
            .get("kind")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.kind: missing"))?;
        let ceased = item.get("ceased_on").is_some_and(|v| !v.is_null())
            || item.get("ceased").and_then(Value::as_bool) == Some(true);
        let label = format!("psc-{}{}", i + 1, if ceased { "-ceased" } else { "" });
        let fields = if kind.contains("super-secure") {
            out.notes.push(format!(
                "{at} ({label}): a super-secure controller (details withheld by Companies House) is not vetted"
            ));
            continue;
        } else if kind.starts_with("individual") {
            person(&at, item)?
        } else if kind.starts_with("corporate-entity") || kind.starts_with("legal-person") {
            organisation(&at, item)?
        } else {
            return Err(format!(
                "{at}.kind: not an individual, corporate-entity, legal-person or super-secure controller"
            ));
        };
        out.links.push(LinkSpec {
            label,
            relation: Relation::Controller,
            fields,
        });
    }
    if out.links.len() > crate::domain::MAX_LINKED {
        return Err(format!(
            "{} controllers; a request carries at most {}",
            out.links.len(),
            crate::domain::MAX_LINKED
        ));
    }
    Ok(out)
}

/// A text field of `v`, if present and a non-blank string; an error if present and not one.
fn text(at: &str, v: &Value, key: &str) -> Result<Option<String>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{at}.{key}: not a string")),
    }
}

/// An individual: name (from `name_elements`, else `name`) with the year and month of birth.
fn person(at: &str, item: &Value) -> Result<IdentityFields, String> {
    let from_elements = match item.get("name_elements") {
        None | Some(Value::Null) => None,
        Some(e @ Value::Object(_)) => {
            let mut parts = Vec::new();
            for key in ["title", "forename", "middle_name", "surname"] {
                if let Some(p) = text(&format!("{at}.name_elements"), e, key)? {
                    parts.push(p);
                }
            }
            (!parts.is_empty()).then(|| parts.join(" "))
        }
        Some(_) => return Err(format!("{at}.name_elements: not an object")),
    };
    let name = match from_elements {
        Some(n) => n,
        None => text(at, item, "name")?.ok_or_else(|| {
            format!("{at}: no usable field: an individual needs name_elements or name")
        })?,
    };
    let dob = match item.get("date_of_birth") {
        None | Some(Value::Null) => {
            return Err(format!(
                "{at}: no usable field: an individual needs date_of_birth {{month, year}} (a name alone gives no token)"
            ))
        }
        Some(d) => {
            let number = |key: &str, range: std::ops::RangeInclusive<u64>| {
                d.get(key)
                    .and_then(Value::as_u64)
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| format!("{at}.date_of_birth.{key}: not a number in {range:?}"))
            };
            let month = number("month", 1..=12)?;
            let year = number("year", 1000..=9999)?;
            format!("{year:04}-{month:02}")
        }
    };
    let fields = IdentityFields {
        name: Some(name),
        dob: Some(dob),
        ..Default::default()
    };
    check(at, &fields)?;
    Ok(fields)
}

/// A corporate or legal-person controller: organisation name with its country of registration,
/// and its registration number when that is a Companies House number (a UK registration).
fn organisation(at: &str, item: &Value) -> Result<IdentityFields, String> {
    let name = text(at, item, "name")?;
    let ident = match item.get("identification") {
        None | Some(Value::Null) => Value::Null,
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => return Err(format!("{at}.identification: not an object")),
    };
    let id_at = format!("{at}.identification");
    let number = text(&id_at, &ident, "registration_number")?;
    let country = match text(&id_at, &ident, "country_registered")? {
        None => None,
        Some(c) => Some(country_code(&c).ok_or_else(|| {
            format!("{id_at}.country_registered: not a country this command knows (docs/psc.md lists them)")
        })?),
    };
    let mut fields = IdentityFields::default();
    if let (Some(name), Some(country)) = (&name, country) {
        fields.org_name = Some(name.clone());
        fields.country = Some(country.to_owned());
    }
    if country == Some(UK) {
        fields.company_number = number;
    }
    if fields.org_name.is_none() && fields.company_number.is_none() {
        return Err(format!(
            "{at}: no usable field: a company needs name with identification.country_registered, or a UK identification.registration_number"
        ));
    }
    check(at, &fields)?;
    Ok(fields)
}

/// Checks that the fields give tokens (their canonical forms; nothing is digested here).
fn check(at: &str, fields: &IdentityFields) -> Result<(), String> {
    crate::tokens::canonicals(fields)
        .map(|_| ())
        .map_err(|e| format!("{at}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../tests/data/psc-acme-trading.json");

    #[test]
    fn the_sample_gives_every_controller() {
        let c = parse(SAMPLE.as_bytes()).unwrap();
        let labels: Vec<_> = c.links.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["psc-1", "psc-2", "psc-3-ceased"]);
        assert_eq!(
            c.links[0].fields.name.as_deref(),
            Some("Mr Viktor Andreyevich PETROV")
        );
        assert_eq!(c.links[0].fields.dob.as_deref(), Some("1966-03"));
        assert_eq!(
            c.links[1].fields.company_number.as_deref(),
            Some("07654321")
        );
        assert_eq!(c.links[1].fields.country.as_deref(), Some("GB"));
        assert_eq!(c.links[2].fields.dob.as_deref(), Some("1971-11"));
        assert_eq!(c.notes.len(), 1);
        assert!(c.notes[0].starts_with("items[3] (psc-4)"));
    }

    #[test]
    fn bad_files_name_the_item() {
        for (json, want) in [
            ("{", "not JSON (line 1, column 1): unexpected end of file"),
            (
                "[1]",
                "no items: not a persons-with-significant-control list",
            ),
            (r#"{"items": 3}"#, "items: not an array"),
            (r#"{"items": [{"name": "X"}]}"#, "items[0].kind: missing"),
            (
                r#"{"items": [{"kind": "individual-person-with-significant-control", "name": "Jane Smith"}]}"#,
                "items[0]: no usable field: an individual needs date_of_birth",
            ),
            (
                r#"{"items": [{"kind": "individual-person-with-significant-control", "date_of_birth": {"month": 5, "year": 1970}}]}"#,
                "items[0]: no usable field: an individual needs name_elements or name",
            ),
            (
                r#"{"items": [{"kind": "individual-person-with-significant-control", "name": "Jane Smith", "date_of_birth": {"month": 13, "year": 1970}}]}"#,
                "items[0].date_of_birth.month: not a number in 1..=12",
            ),
            (
                r#"{"items": [{"kind": "corporate-entity-person-with-significant-control", "name": "Secret Holdings SA", "identification": {"country_registered": "Atlantis"}}]}"#,
                "items[0].identification.country_registered: not a country",
            ),
            (
                r#"{"items": [{"kind": "corporate-entity-person-with-significant-control", "identification": {"registration_number": "123", "country_registered": "Cyprus"}}]}"#,
                "items[0]: no usable field: a company needs",
            ),
            (
                r#"{"items": [{"kind": "individual-person-with-significant-control", "name": "!!!", "date_of_birth": {"month": 1, "year": 1970}}]}"#,
                "items[0]: name: name has no letters",
            ),
            (
                r#"{"items": [{"kind": "other-thing"}]}"#,
                "items[0].kind: not an individual",
            ),
        ] {
            let e = parse(json.as_bytes()).unwrap_err();
            assert!(e.starts_with(want), "{json}: {e}");
            assert!(!e.contains("Secret") && !e.contains("Jane"), "{e}");
        }
    }

    #[test]
    fn countries_are_recognised_by_name_or_code() {
        assert_eq!(country_code(" England "), Some("GB"));
        assert_eq!(country_code("British Virgin Islands"), Some("VG"));
        assert_eq!(country_code("cy"), Some("CY"));
        assert_eq!(country_code("Atlantis"), None);
    }
}
