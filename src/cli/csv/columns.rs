//! The columns of a `vet --csv` file: the input columns, the header row that places them, a
//! row's derived request id, and the output columns.

/// One input column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Column {
    RequestId,
    Kind,
    CaseRef,
    Name,
    Dob,
    Postcode,
    Passport,
    CompanyNumber,
    OrgName,
    Country,
    Wallet,
    Email,
    /// A linked row: the `case_ref` of its subject row (docs/csv.md "Linked subjects").
    LinkedTo,
    /// A linked row: its relation to the subject.
    Relation,
    /// A linked row: its label.
    Label,
}

impl Column {
    /// Whether this is one of the linked-row columns, which a subject row's derived request id
    /// does not digest (so ids stay what they were before linked rows existed).
    pub(super) fn is_link(self) -> bool {
        matches!(self, Column::LinkedTo | Column::Relation | Column::Label)
    }
}

/// Every input column with its header name, in the canonical order (the order in which a
/// derived request id digests the cells).
pub(super) const COLUMNS: [(&str, Column); 15] = [
    ("request_id", Column::RequestId),
    ("kind", Column::Kind),
    ("case_ref", Column::CaseRef),
    ("name", Column::Name),
    ("dob", Column::Dob),
    ("postcode", Column::Postcode),
    ("passport", Column::Passport),
    ("company_number", Column::CompanyNumber),
    ("org_name", Column::OrgName),
    ("country", Column::Country),
    ("wallet", Column::Wallet),
    ("email", Column::Email),
    ("linked_to", Column::LinkedTo),
    ("relation", Column::Relation),
    ("label", Column::Label),
];

/// The columns of the CSV output, in order.
pub(super) const OUTPUT_COLUMNS: [&str; 11] = [
    "line",
    "request_id",
    "grade",
    "advisories",
    "strength",
    "audit_index",
    "error",
    "subject_grade",
    "via",
    "relation",
    "tier",
];

/// Where each column is in the input file.
#[derive(Debug)]
pub(super) struct Header {
    /// Position of each column of [`COLUMNS`] (same index), if present.
    index: [Option<usize>; COLUMNS.len()],
    /// Number of fields a row must have.
    pub(super) width: usize,
}

impl Header {
    /// Parses the header row: every name must be a known column, at most once; `kind` and at
    /// least one identity column are required.
    pub(super) fn parse(record: &::csv::ByteRecord) -> Result<Header, String> {
        let mut index = [None; COLUMNS.len()];
        let mut unknown = Vec::new();
        let mut repeated = Vec::new();
        for (i, raw) in record.iter().enumerate() {
            let raw = if i == 0 {
                raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
            } else {
                raw
            };
            let name = String::from_utf8_lossy(raw).trim().to_ascii_lowercase();
            match COLUMNS.iter().position(|(n, _)| *n == name) {
                Some(c) if index[c].is_some() => repeated.push(name),
                Some(c) => index[c] = Some(i),
                None => unknown.push(if name.is_empty() {
                    format!("(empty, column {})", i + 1)
                } else {
                    name
                }),
            }
        }
        if !unknown.is_empty() {
            return Err(format!(
                "unknown column{} {}; the columns are {}",
                if unknown.len() == 1 { "" } else { "s" },
                unknown.join(", "),
                COLUMNS.map(|(n, _)| n).join(", ")
            ));
        }
        if !repeated.is_empty() {
            return Err(format!("repeated column {}", repeated.join(", ")));
        }
        let header = Header {
            index,
            width: record.len(),
        };
        if header.position(Column::Kind).is_none() {
            return Err("the header has no kind column".into());
        }
        let identity = COLUMNS
            .iter()
            .filter(|(_, c)| !matches!(c, Column::RequestId | Column::Kind | Column::CaseRef))
            .filter(|(_, c)| !c.is_link())
            .any(|(_, c)| header.position(*c).is_some());
        if !identity {
            return Err("the header has no identity column (name, dob, postcode, passport, company_number, org_name, country, wallet, email)".into());
        }
        if header.position(Column::LinkedTo).is_some()
            && (header.position(Column::Relation).is_none()
                || header.position(Column::Label).is_none())
        {
            return Err("a linked_to column needs relation and label columns".into());
        }
        Ok(header)
    }

    /// Where `column` is, if present.
    pub(super) fn position(&self, column: Column) -> Option<usize> {
        COLUMNS
            .iter()
            .position(|(_, c)| *c == column)
            .and_then(|i| self.index[i])
    }
}

/// The deterministic request id of a row: `csv-` and the first 24 hex characters of SHA-256
/// over the row's cells (every column but `request_id`, in [`COLUMNS`] order, a missing column
/// counting as an empty cell). `cells` yields each cell's raw bytes.
pub(super) fn derived_id<'a>(tag: &[u8], cells: impl Iterator<Item = &'a [u8]>) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"portcullis:vet-csv:v1\0");
    ctx.update(tag);
    for cell in cells {
        ctx.update(&(cell.len() as u64).to_be_bytes());
        ctx.update(cell);
    }
    let digest = hex::encode(ctx.finish().as_ref());
    format!("csv-{}", &digest[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &[&str]) -> ::csv::ByteRecord {
        ::csv::ByteRecord::from(fields.to_vec())
    }

    #[test]
    fn header_names_unknown_and_repeated_columns() {
        let e = Header::parse(&record(&["kind", "nmae", "dob", "Phone"])).unwrap_err();
        assert!(e.contains("unknown columns nmae, phone"), "{e}");
        let e = Header::parse(&record(&["kind", "name", "name"])).unwrap_err();
        assert!(e.contains("repeated column name"), "{e}");
        let e = Header::parse(&record(&["name", "dob"])).unwrap_err();
        assert!(e.contains("no kind column"), "{e}");
        let e = Header::parse(&record(&["kind", "case_ref"])).unwrap_err();
        assert!(e.contains("no identity column"), "{e}");
        let h = Header::parse(&record(&["\u{feff}Email", " KIND "])).unwrap();
        assert_eq!(h.position(Column::Email), Some(0));
        assert_eq!(h.position(Column::Kind), Some(1));
        assert_eq!(h.position(Column::Name), None);
    }
}
