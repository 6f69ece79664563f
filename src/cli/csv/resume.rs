//! Resuming a run: what an existing output file already answers, by input line and request id,
//! and where its last complete record ends.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::columns::OUTPUT_COLUMNS;
use super::file_error::csv_error;
use super::output::{GATEWAY_PREFIX, LOCAL_PREFIX};
use crate::Error;

/// What an existing output file already says about a request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Prior {
    /// Rejected by the gateway for a reason that may pass (unavailable, deadline, …): resend.
    Transient,
    /// Refused on this machine: skip unless the row now passes the local checks.
    Local,
    /// Rejected by the gateway for a reason that resending cannot change: skip.
    Final,
    /// Answered with a grade: skip.
    Answered,
}

/// Gateway codes worth retrying when a run is resumed.
fn transient(code: tonic::Code) -> bool {
    use tonic::Code::*;
    matches!(
        code,
        Cancelled
            | Unknown
            | DeadlineExceeded
            | ResourceExhausted
            | Aborted
            | Internal
            | Unavailable
    )
}

/// The code whose name (as `{:?}` prints it, e.g. `AlreadyExists`) is `name`.
fn code_named(name: &str) -> Option<tonic::Code> {
    (0..=16)
        .map(tonic::Code::from_i32)
        .find(|c| format!("{c:?}") == name)
}

/// [`Prior`] of a gateway error with `code`.
fn gateway_prior(code: Option<tonic::Code>) -> Prior {
    match code {
        Some(c) if !transient(c) => Prior::Final,
        _ => Prior::Transient,
    }
}

/// [`Prior`] of a CSV output row from its `grade` and `error` cells.
fn csv_prior(grade: &str, error: &str) -> Option<Prior> {
    if error.is_empty() {
        return (!grade.is_empty()).then_some(Prior::Answered);
    }
    if error.starts_with(LOCAL_PREFIX) {
        return Some(Prior::Local);
    }
    let code = error
        .strip_prefix(GATEWAY_PREFIX)
        .and_then(|rest| rest.split(':').next())
        .and_then(code_named);
    Some(gateway_prior(code))
}

/// [`Prior`] of a JSON output line.
fn json_prior(v: &serde_json::Value) -> Option<Prior> {
    match v.get("error") {
        None | Some(serde_json::Value::Null) => v
            .get("grade")
            .and_then(|g| g.as_str())
            .map(|_| Prior::Answered),
        Some(e) => match e.get("source").and_then(|s| s.as_str()) {
            Some("local") => Some(Prior::Local),
            _ => Some(gateway_prior(
                e.get("code").and_then(|c| c.as_str()).and_then(code_named),
            )),
        },
    }
}

/// The length of `path` up to and including its last newline: what remains without an
/// incomplete last record (a run stopped in the middle of writing it). Returns that and the
/// file's length.
pub(super) fn complete_len(path: &Path) -> Result<(u64, u64), Error> {
    let io = |e| Error::io(path, e);
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut end = len;
    let mut block = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        file.read_exact(&mut block[..n]).map_err(io)?;
        if let Some(i) = block[..n].iter().rposition(|b| *b == b'\n') {
            return Ok((start + i as u64 + 1, len));
        }
        end = start;
    }
    Ok((0, len))
}

/// What an existing output file says, by input line and request id: a row repeating an
/// earlier row has the same request id but its own line, so each is resumed on its own.
pub(super) type PriorRows = HashMap<(u64, String), Prior>;

/// Reads what the first `len` bytes of an existing output file already answer ((line, request
/// id) → [`Prior`]); refuses a file that is not this command's output in this format.
pub(super) fn read_prior(path: &Path, json: bool, len: u64) -> Result<PriorRows, Error> {
    let open = || -> Result<std::io::Take<File>, Error> {
        Ok(File::open(path).map_err(|e| Error::io(path, e))?.take(len))
    };
    let mut prior = PriorRows::new();
    let mut note = |line: u64, id: &str, p: Prior| {
        let slot = prior.entry((line, id.to_owned())).or_insert(p);
        *slot = (*slot).max(p);
    };
    let not_ours = |line: u64, why: &str| {
        Error::Usage(format!(
            "--out {}: line {line}: {why}; this is not a `vet --csv{}` output file (give another --out)",
            path.display(),
            if json { " --json" } else { "" }
        ))
    };
    if json {
        use std::io::BufRead;
        for (i, line) in std::io::BufReader::new(open()?).lines().enumerate() {
            let line = line.map_err(|e| Error::io(path, e))?;
            let n = i as u64 + 1;
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value =
                serde_json::from_str(&line).map_err(|_| not_ours(n, "not a JSON object"))?;
            let id = v
                .get("request_id")
                .and_then(|r| r.as_str())
                .ok_or_else(|| not_ours(n, "no request_id"))?;
            let line = v
                .get("line")
                .and_then(|l| l.as_u64())
                .ok_or_else(|| not_ours(n, "no line"))?;
            if let Some(p) = json_prior(&v) {
                note(line, id, p);
            }
        }
    } else {
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(open()?);
        let mut record = ::csv::StringRecord::new();
        let mut first = true;
        while reader
            .read_record(&mut record)
            .map_err(|e| match e.kind() {
                ::csv::ErrorKind::Utf8 { .. } => Error::Usage(format!(
                    "--out {}: not UTF-8 text; give another --out",
                    path.display()
                )),
                _ => csv_error(path, e),
            })?
        {
            let n = record.position().map_or(0, |p| p.line());
            if first {
                first = false;
                if record.iter().ne(OUTPUT_COLUMNS) {
                    return Err(not_ours(n, "unexpected header"));
                }
                continue;
            }
            if record.len() != OUTPUT_COLUMNS.len() {
                return Err(not_ours(n, "wrong number of fields"));
            }
            let line = record[0]
                .parse()
                .map_err(|_| not_ours(n, "the line column is not a number"))?;
            if let Some(p) = csv_prior(&record[2], &record[6]) {
                note(line, &record[1], p);
            }
        }
    }
    Ok(prior)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prior_rows_are_classified() {
        assert_eq!(csv_prior("NO_TRACE", ""), Some(Prior::Answered));
        assert_eq!(csv_prior("", ""), None);
        assert_eq!(csv_prior("", "local: dob: x"), Some(Prior::Local));
        assert_eq!(
            csv_prior("", "gateway AlreadyExists: request_id: used"),
            Some(Prior::Final)
        );
        assert_eq!(
            csv_prior("", "gateway Unavailable: later"),
            Some(Prior::Transient)
        );
        assert_eq!(csv_prior("", "something else"), Some(Prior::Transient));
        assert_eq!(
            code_named("AlreadyExists"),
            Some(tonic::Code::AlreadyExists)
        );
        assert_eq!(
            json_prior(&serde_json::json!({"grade": "HIGH", "request_id": "x"})),
            Some(Prior::Answered)
        );
        assert_eq!(
            json_prior(&serde_json::json!({"error": {"source": "local"}})),
            Some(Prior::Local)
        );
        assert_eq!(
            json_prior(&serde_json::json!({"error": {"source": "gateway", "code": "Unavailable"}})),
            Some(Prior::Transient)
        );
    }

    #[test]
    fn only_complete_records_of_an_output_file_count() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        std::fs::write(&p, "a,b\n1,2\n3,").unwrap();
        assert_eq!(complete_len(&p).unwrap(), (8, 10));
        std::fs::write(&p, "a,b\n").unwrap();
        assert_eq!(complete_len(&p).unwrap(), (4, 4));
        std::fs::write(&p, "a,b").unwrap();
        assert_eq!(complete_len(&p).unwrap(), (0, 3));

        let header = OUTPUT_COLUMNS.join(",");
        std::fs::write(
            &p,
            format!(
                "{header}\n2,r-1,NO_TRACE,,,4,,NO_TRACE,,,\n3,r-2,,,,,local: dob: x,,,,\n4,r-3,NO_TR"
            ),
        )
        .unwrap();
        let (complete, _) = complete_len(&p).unwrap();
        let prior = read_prior(&p, false, complete).unwrap();
        let at = |line: u64, id: &str| prior.get(&(line, id.to_owned())).copied();
        assert_eq!(at(2, "r-1"), Some(Prior::Answered));
        assert_eq!(at(3, "r-2"), Some(Prior::Local));
        assert_eq!(at(4, "r-3"), None);
        // The same request id on another line is another row.
        assert_eq!(at(5, "r-1"), None);
        // Someone else's file is refused, whatever its last line.
        std::fs::write(&p, "dear diary\nno newline at the end").unwrap();
        let (complete, _) = complete_len(&p).unwrap();
        assert!(read_prior(&p, false, complete).is_err());
        assert!(read_prior(&p, true, complete).is_err());
    }
}
