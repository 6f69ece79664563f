//! Linked rows in `vet --csv` (docs/csv.md "Linked subjects"): a row whose `linked_to` cell names
//! the `case_ref` of the subject row just above it is a linked subject of that row (a
//! controller, officer, …), sent with it in one request. Rows link only downwards and
//! contiguously, so the file is still read lazily: a subject's group ends at the next row that
//! is not linked to it.

use super::columns::{derived_id, Column, Header};
use crate::cli::linked::{relation_named, relation_text, RELATIONS};
use crate::proto::v1::{LinkedSubject, RiskGrade, VetResponse};
use crate::tokens::{CanonicalKind, IdentityFields};

/// One linked row after local checks.
#[derive(Debug)]
pub(super) struct LinkRow {
    /// The input line where it starts.
    pub(super) line: u64,
    /// The `case_ref` of the subject row it belongs to.
    pub(super) linked_to: String,
    /// The linked subject (its tokens still to digest, from `canonicals`), or why the row
    /// cannot be used.
    pub(super) outcome: Result<LinkedSubject, String>,
    /// The kinds and canonical forms of its tokens, digested with its subject row's.
    pub(super) canonicals: Vec<(CanonicalKind, String)>,
    /// The row's raw cells (every column but `request_id`), for the group's derived request id.
    pub(super) cells: Vec<Vec<u8>>,
}

/// The `linked_to` cell of `record`, if the header has the column and the cell is not blank.
pub(super) fn linked_to(header: &Header, record: &::csv::ByteRecord) -> Option<String> {
    let i = header.position(Column::LinkedTo)?;
    let text = std::str::from_utf8(record.get(i)?).ok()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Checks a linked row (one whose `linked_to` is set) and gives the canonical forms of its
/// tokens (digested later under the subject's scheme, in the same batch).
/// Errors name the column and never contain a cell's value.
pub(super) fn evaluate_link(
    header: &Header,
    record: &::csv::ByteRecord,
    line: u64,
    linked_to: String,
) -> LinkRow {
    let raw = |c: Column| -> &[u8] { header.position(c).map_or(&[], |i| &record[i]) };
    let cells: Vec<Vec<u8>> = super::columns::COLUMNS
        .iter()
        .filter(|(_, c)| *c != Column::RequestId)
        .map(|(_, c)| raw(*c).to_vec())
        .collect();
    let (outcome, canonicals) = match link_subject(&raw) {
        Ok((subject, canonicals)) => (Ok(subject), canonicals),
        Err(reason) => (Err(reason), Vec::new()),
    };
    LinkRow {
        line,
        linked_to,
        outcome,
        canonicals,
        cells,
    }
}

fn link_subject<'a>(
    raw: &dyn Fn(Column) -> &'a [u8],
) -> Result<(LinkedSubject, Vec<(CanonicalKind, String)>), String> {
    let cell = |c: Column, name: &str| -> Result<Option<String>, String> {
        let text = std::str::from_utf8(raw(c)).map_err(|_| format!("{name}: not UTF-8 text"))?;
        Ok((!text.trim().is_empty()).then(|| text.to_owned()))
    };
    for (c, name) in [
        (Column::RequestId, "request_id"),
        (Column::Kind, "kind"),
        (Column::CaseRef, "case_ref"),
    ] {
        if cell(c, name)?.is_some() {
            return Err(format!(
                "{name}: leave empty on a linked row (the subject row's applies)"
            ));
        }
    }
    let relation = match cell(Column::Relation, "relation")? {
        None => return Err("relation: required on a linked row".into()),
        Some(r) => relation_named(&r).ok_or_else(|| {
            format!(
                "relation: not one of {}",
                RELATIONS.map(|(n, _)| n).join(", ")
            )
        })?,
    };
    let label = match cell(Column::Label, "label")? {
        None => return Err("label: required on a linked row".into()),
        Some(l) => l.trim().to_owned(),
    };
    if !crate::domain::is_label(&label) {
        return Err(format!(
            "label: 1 to {} of A-Z a-z 0-9 . _ - (your own reference, never a name)",
            crate::domain::MAX_LABEL_CHARS
        ));
    }
    let fields = IdentityFields {
        name: cell(Column::Name, "name")?,
        dob: cell(Column::Dob, "dob")?,
        postcode: cell(Column::Postcode, "postcode")?,
        passport: cell(Column::Passport, "passport")?,
        company_number: cell(Column::CompanyNumber, "company_number")?,
        org_name: cell(Column::OrgName, "org_name")?,
        country: cell(Column::Country, "country")?,
        wallet: cell(Column::Wallet, "wallet")?,
        email: cell(Column::Email, "email")?,
    };
    let canonicals = crate::tokens::canonicals(&fields).map_err(|e| e.to_string())?;
    Ok((
        LinkedSubject {
            label,
            relation: relation as i32,
            tokens: Vec::new(),
        },
        canonicals,
    ))
}

/// The request id of a subject row with linked rows, when the subject row's id was derived:
/// its derived id digested with every linked row's cells, so a changed linked row gives a new
/// id (and a subject without linked rows keeps the id it always had).
pub(super) fn group_id(subject_id: &str, links: &[LinkRow]) -> String {
    let cells = std::iter::once(subject_id.as_bytes())
        .chain(links.iter().flat_map(|l| l.cells.iter().map(Vec::as_slice)));
    derived_id(b"group\0", cells)
}

/// Why a group cannot be sent because of one of its rows: for the subject row and for the
/// group's other linked rows.
pub(super) fn group_refusal(bad_line: u64) -> String {
    format!("not sent: the linked row at line {bad_line} was refused")
}

/// The reason for a linked row whose subject row was refused.
pub(super) fn subject_refused(subject_line: u64) -> String {
    format!("not sent: its subject row (line {subject_line}) was refused")
}

/// The reason for a linked row that does not follow its subject row.
pub(super) const ORPHAN: &str =
    "linked_to: names no subject row just above (a linked row follows its subject row, whose case_ref it names)";

/// What the answer says about one linked subject: the matches through it, and their highest
/// grade (NO_TRACE if none).
pub(super) fn through(answer: &VetResponse, label: &str) -> VetResponse {
    let matches: Vec<_> = answer
        .matches
        .iter()
        .filter(|m| m.via == label)
        .cloned()
        .collect();
    let grade = matches
        .iter()
        .filter_map(|m| m.advisory.as_ref())
        .map(|a| a.grade)
        .max()
        .unwrap_or(RiskGrade::NoTrace as i32);
    VetResponse {
        request_id: answer.request_id.clone(),
        grade,
        matches,
        audit_index: answer.audit_index,
        decided_at: answer.decided_at,
        error: None,
        subject_grade: RiskGrade::Unspecified as i32,
    }
}

/// A linked row's result as a JSON line (`vet --csv --json`).
pub(super) fn link_json(label: &str, relation: i32, answer: &VetResponse) -> serde_json::Value {
    let mut v = crate::cli::vet_answer::response_json(answer);
    if let Some(map) = v.as_object_mut() {
        map.remove("subject_grade");
        map.insert("via".into(), label.into());
        map.insert("relation".into(), relation_text(relation).into());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1::{Advisory, AdvisoryMatch, Relation};

    fn header(names: &[&str]) -> Header {
        Header::parse(&::csv::ByteRecord::from(names.to_vec())).unwrap()
    }

    const COLS: [&str; 6] = ["kind", "case_ref", "name", "dob", "linked_to", "relation"];

    #[test]
    fn linked_rows_are_checked() {
        let mut names = COLS.to_vec();
        names.push("label");
        let h = header(&names);
        let row = |cells: &[&str]| ::csv::ByteRecord::from(cells.to_vec());
        let good = row(&[
            "",
            "",
            "Viktor Petrov",
            "1966-03",
            "D-1",
            "Controller",
            "psc-1",
        ]);
        assert_eq!(linked_to(&h, &good).as_deref(), Some("D-1"));
        let l = evaluate_link(&h, &good, 3, "D-1".into());
        let s = l.outcome.unwrap();
        assert_eq!(
            (s.label.as_str(), s.relation),
            ("psc-1", Relation::Controller as i32)
        );
        assert!(
            s.tokens.is_empty(),
            "digested with the subject's, in its batch"
        );
        assert_eq!(
            l.canonicals,
            [(
                CanonicalKind::PersonNameBirthMonth,
                "petrov viktor|1966-03".to_owned()
            )]
        );
        for (cells, want) in [
            (
                [
                    "donor-individual",
                    "",
                    "A B",
                    "1966-03",
                    "D-1",
                    "controller",
                    "x",
                ],
                "kind: leave empty",
            ),
            (
                ["", "", "A B", "1966-03", "D-1", "boss", "x"],
                "relation: not one of",
            ),
            (
                ["", "", "A B", "1966-03", "D-1", "", "x"],
                "relation: required",
            ),
            (
                ["", "", "A B", "1966-03", "D-1", "officer", "Jane Doe"],
                "label: 1 to 32",
            ),
            (
                ["", "", "Secret Name", "", "D-1", "officer", "x"],
                "name: a name needs",
            ),
        ] {
            let e = evaluate_link(&h, &row(&cells), 3, "D-1".into())
                .outcome
                .unwrap_err();
            assert!(e.starts_with(want), "{e}");
            assert!(!e.contains("Secret"));
        }
        let plain = row(&["staff", "", "A B", "1966-03", " ", "", ""]);
        assert_eq!(linked_to(&h, &plain), None);
    }

    #[test]
    fn group_ids_follow_the_linked_rows() {
        let h = header(&[
            "kind",
            "case_ref",
            "name",
            "dob",
            "linked_to",
            "relation",
            "label",
        ]);
        let link = |dob: &str| {
            let r = ::csv::ByteRecord::from(vec!["", "", "A B", dob, "D-1", "officer", "o"]);
            evaluate_link(&h, &r, 3, "D-1".into())
        };
        let a = group_id("csv-1", &[link("1966-03")]);
        assert_eq!(a, group_id("csv-1", &[link("1966-03")]));
        assert_ne!(a, group_id("csv-1", &[link("1966-04")]));
        assert_ne!(a, group_id("csv-2", &[link("1966-03")]));
        assert!(a.starts_with("csv-") && a.len() == 28);
    }

    #[test]
    fn a_linked_row_sees_only_its_own_matches() {
        let m = |id: &str, grade: RiskGrade, via: &str| AdvisoryMatch {
            advisory: Some(Advisory {
                advisory_id: id.into(),
                grade: grade as i32,
                ..Default::default()
            }),
            via: via.into(),
            ..Default::default()
        };
        let answer = VetResponse {
            request_id: "r".into(),
            grade: RiskGrade::High as i32,
            subject_grade: RiskGrade::Low as i32,
            matches: vec![
                m("a", RiskGrade::High, "psc-1"),
                m("b", RiskGrade::Low, ""),
                m("c", RiskGrade::Moderate, "psc-1"),
            ],
            ..Default::default()
        };
        let t = through(&answer, "psc-1");
        assert_eq!(t.grade, RiskGrade::High as i32);
        assert_eq!(t.matches.len(), 2);
        assert_eq!(through(&answer, "psc-2").grade, RiskGrade::NoTrace as i32);
        let j = link_json("psc-1", Relation::Controller as i32, &t);
        assert_eq!(j["via"], "psc-1");
        assert_eq!(j["relation"], "CONTROLLER");
        assert!(j.get("subject_grade").is_none());
    }
}
