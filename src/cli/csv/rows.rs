//! The local checks of one subject row: its request id, kind, case reference and identity
//! fields, turned into a request whose token digests are still to compute.

use super::columns::{derived_id, Column, Header, COLUMNS};
use crate::cli::subject_kind::Kind;
use crate::proto::v1::{SubjectKind, VetRequest};
use crate::tokens::{CanonicalKind, IdentityFields};

/// One data row after local checks.
#[derive(Debug)]
pub(super) struct Evaluated {
    /// The row's request id: its `request_id` cell if given and valid, else derived.
    pub(super) request_id: String,
    /// The request to send (its token digests still to compute, in the order of
    /// `canonicals`), or why the row cannot be sent.
    pub(super) outcome: Result<VetRequest, String>,
    /// The kinds and canonical forms of the request's tokens, digested in batches.
    pub(super) canonicals: Vec<(CanonicalKind, String)>,
}

/// Whether `s` is a valid request id: 1..=64 of `[A-Za-z0-9._-]`.
fn is_request_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Whether `s` is a valid case reference: 0..=64 of `[A-Za-z0-9._/-]`.
fn is_case_ref(s: &str) -> bool {
    s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'))
}

/// token digests the send loop fills in. Error texts name the column and never contain a
/// cell's value.
pub(super) fn evaluate(header: &Header, record: &::csv::ByteRecord, key_id: &str) -> Evaluated {
    if record.len() != header.width {
        return Evaluated {
            canonicals: Vec::new(),
            request_id: derived_id(b"raw\0", record.iter()),
            outcome: Err(format!(
                "expected {} fields, found {}",
                header.width,
                record.len()
            )),
        };
    }
    let raw = |c: Column| -> &[u8] { header.position(c).map_or(&[], |i| &record[i]) };
    let derived = derived_id(
        b"row\0",
        COLUMNS
            .iter()
            .filter(|(_, c)| *c != Column::RequestId && !c.is_link())
            .map(|(_, c)| raw(*c)),
    );
    let fail = |request_id: String, reason: String| Evaluated {
        request_id,
        outcome: Err(reason),
        canonicals: Vec::new(),
    };
    // Every cell as text; an empty (or all-blank) cell is an absent field.
    let mut cells: [Option<&str>; COLUMNS.len()] = [None; COLUMNS.len()];
    for (slot, (name, column)) in cells.iter_mut().zip(COLUMNS) {
        let Ok(text) = std::str::from_utf8(raw(column)) else {
            return fail(derived, format!("{name}: not UTF-8 text"));
        };
        if !text.trim().is_empty() {
            *slot = Some(text);
        }
    }
    let cell = |c: Column| {
        COLUMNS
            .iter()
            .position(|(_, col)| *col == c)
            .and_then(|i| cells[i])
    };

    let request_id = match cell(Column::RequestId).map(str::trim) {
        None => derived,
        Some(id) if is_request_id(id) => id.to_owned(),
        Some(_) => {
            return fail(
                derived,
                "request_id: 1 to 64 of A-Z a-z 0-9 . _ - (or leave it empty)".into(),
            )
        }
    };
    let kind = match cell(Column::Kind).map(str::trim) {
        None => {
            return fail(
                request_id,
                "kind: required (donor-individual, donor-organisation, candidate or staff)".into(),
            )
        }
        Some(k) => match <Kind as clap::ValueEnum>::from_str(k, true) {
            Ok(kind) => kind,
            Err(_) => {
                return fail(
                    request_id,
                    "kind: not donor-individual, donor-organisation, candidate or staff".into(),
                )
            }
        },
    };
    let case_ref = cell(Column::CaseRef).map(str::trim).unwrap_or_default();
    if !is_case_ref(case_ref) {
        return fail(
            request_id,
            "case_ref: at most 64 of A-Z a-z 0-9 . _ / - (a file number, never a name)".into(),
        );
    }
    let text = |c: Column| cell(c).map(str::to_owned);
    let fields = IdentityFields {
        name: text(Column::Name),
        dob: text(Column::Dob),
        postcode: text(Column::Postcode),
        passport: text(Column::Passport),
        company_number: text(Column::CompanyNumber),
        org_name: text(Column::OrgName),
        country: text(Column::Country),
        wallet: text(Column::Wallet),
        email: text(Column::Email),
    };
    match crate::tokens::canonicals(&fields) {
        Ok(canonicals) => Evaluated {
            outcome: Ok(VetRequest {
                request_id: request_id.clone(),
                subject_kind: SubjectKind::from(kind) as i32,
                key_id: key_id.to_owned(),
                tokens: Vec::new(),
                case_reference: case_ref.to_owned(),
                linked: Vec::new(),
            }),
            request_id,
            canonicals,
        },
        Err(e) => fail(request_id, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &[&str]) -> ::csv::ByteRecord {
        ::csv::ByteRecord::from(fields.to_vec())
    }

    fn key() -> &'static str {
        "dev-1"
    }

    #[test]
    fn rows_are_checked_locally_and_ids_are_deterministic() {
        let h = Header::parse(&record(&["kind", "name", "dob", "case_ref"])).unwrap();
        let ok = evaluate(
            &h,
            &record(&["donor-individual", "Ann Lee", "1970-01-02", "C-1"]),
            key(),
        );
        let request = ok.outcome.unwrap();
        assert!(ok.request_id.starts_with("csv-") && ok.request_id.len() == 28);
        assert_eq!(request.request_id, ok.request_id);
        // 2 exact, 1 birth month, 1 letters, 1 sound (`ln`), 2 part (`a lee`, `ann lee`).
        assert_eq!(ok.canonicals.len(), 7);
        assert!(request.tokens.is_empty(), "digested later, in batches");
        assert_eq!(request.key_id, "dev-1");
        assert_eq!(request.case_reference, "C-1");
        // Same cells, same id; other cells, another id; column order does not matter.
        let again = evaluate(
            &h,
            &record(&["donor-individual", "Ann Lee", "1970-01-02", "C-1"]),
            key(),
        );
        assert_eq!(again.request_id, ok.request_id);
        let h2 = Header::parse(&record(&["case_ref", "dob", "name", "kind"])).unwrap();
        let swapped = evaluate(
            &h2,
            &record(&["C-1", "1970-01-02", "Ann Lee", "donor-individual"]),
            key(),
        );
        assert_eq!(swapped.request_id, ok.request_id);
        let other = evaluate(
            &h,
            &record(&["donor-individual", "Ann Lee", "1970-01-03", "C-1"]),
            key(),
        );
        assert_ne!(other.request_id, ok.request_id);

        let bad = |fields: &[&str]| evaluate(&h, &record(fields), key()).outcome.unwrap_err();
        assert_eq!(
            bad(&["staff", "Ann Lee", "1970-02-30", ""]),
            "dob: not a real calendar date"
        );
        assert!(bad(&["volunteer", "Ann Lee", "1970-01-02", ""]).starts_with("kind: "));
        assert!(bad(&["", "Ann Lee", "1970-01-02", ""]).starts_with("kind: required"));
        assert!(bad(&["staff", "Ann Lee", "1970-01-02", "Lee, Ann"]).starts_with("case_ref: "));
        assert_eq!(bad(&["staff", "", "", ""]), "no identity field given");
        assert_eq!(bad(&["staff", "Ann Lee"]), "expected 4 fields, found 2");
        // Error texts never carry a cell's value.
        assert!(!bad(&["Ann Lee", "Ann Lee", "1970-01-02", ""]).contains("Ann"));
    }

    #[test]
    fn explicit_request_ids_are_used_or_refused() {
        let h = Header::parse(&record(&["request_id", "kind", "email"])).unwrap();
        let r = evaluate(&h, &record(&["r-1", "staff", "a@example.org"]), key());
        assert_eq!(r.request_id, "r-1");
        assert!(r.outcome.is_ok());
        let r = evaluate(&h, &record(&["bad id", "staff", "a@example.org"]), key());
        assert!(r.request_id.starts_with("csv-"));
        assert!(r.outcome.unwrap_err().starts_with("request_id: "));
        let r = evaluate(&h, &record(&[" ", "staff", "a@example.org"]), key());
        assert!(r.request_id.starts_with("csv-"));
    }
}
