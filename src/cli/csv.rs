//! `portcullis vet --csv FILE [--out FILE]`: bulk vetting over one VetBatch stream.
//!
//! The input format, the output format and the resume rules are documented in `docs/csv.md`.
//! In short: a header row names the columns ([`COLUMNS`]); every data row is one subject. Tokens
//! are derived here, on the party's machine; a row that cannot be turned into a request (bad
//! kind, bad field, wrong number of fields, …) is reported by line and written as an error row,
//! never sent. Rows are streamed lazily through VetBatch and answers matched to rows in order.
//! With `--out FILE`, an existing FILE is read first and the rows it already answers (by input
//! line and request id, so a row repeating an earlier one is its own row) are skipped, so an
//! interrupted run can simply be started again; the request ids of rows are deterministic, so a
//! row that was sent but whose answer was never written gets the gateway's remembered answer
//! (request-id idempotency). Ctrl-C (SIGINT) stops reading, writes the answers of the rows
//! already sent, prints the summary and exits non-zero; a second Ctrl-C stops at once. Either
//! way every written row is complete and the run resumes exactly.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use super::common::{grade_name, match_tokens, strength_name, tier_name, ClientArgs};
use super::csv_lines::LineCounter;
use super::csv_links;
use super::linked::relation_text;
use super::vet::{response_json, Kind};
use crate::keyservice::client::Scheme;
use crate::proto::v1::vetting_service_client::VettingServiceClient;
use crate::proto::v1::{SubjectKind, VetRequest, VetResponse};
use crate::tokens::{IdentityFields, Token, TokenKind};
use crate::Error;

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
    fn is_link(self) -> bool {
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
pub(crate) const OUTPUT_COLUMNS: [&str; 11] = [
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

/// The prefix of the `error` column (CSV) for a row refused on this machine.
const LOCAL_PREFIX: &str = "local: ";
/// The prefix of the `error` column (CSV) for a row the gateway rejected; the gRPC code follows.
const GATEWAY_PREFIX: &str = "gateway ";

/// How many rows may wait between the file reader and the gRPC stream, and between the reader
/// and the result writer: the bound on this command's memory, whatever the file's size.
const WINDOW: usize = 256;

/// How many times a row the gateway's rate limit turned away is tried again (with the unary
/// Vet, after the delay the gateway asked for) before it is written as a `ResourceExhausted`
/// error row, which a rerun retries.
const RATE_RETRIES: u32 = 8;

/// The longest pause between sends, and before a retry.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// The pause between two sends, in microseconds, shared by the writer (which sets it from the
/// gateway's rate-limit answers) and the reader (which honours it): the batch slows to the
/// rate the gateway allows instead of being turned away row after row.
#[derive(Debug, Default)]
struct Pace(AtomicU64);

impl Pace {
    /// The current pause.
    fn get(&self) -> Duration {
        Duration::from_micros(self.0.load(Ordering::Relaxed))
    }

    /// After a batch item was turned away with a hint to wait `hint`: at least a quarter more
    /// than `hint` between sends. When the gateway's bucket is empty its hint is about one
    /// item's worth of time, so the sends settle a little below the rate it allows and
    /// rejections (each retried one by one) become rare; the many items of one burst that are
    /// turned away together do not compound.
    fn slow_down(&self, hint: Duration) {
        let pause = (hint + hint / 4).min(MAX_PAUSE).as_micros() as u64;
        self.0.fetch_max(pause, Ordering::Relaxed);
    }

    /// After an answer: a little faster (1/4096 less pause), so that a lifted limit is found.
    fn speed_up(&self) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| Some(p - p / 4096));
    }
}

/// The wait a rate-limit message asks for (`… retry after N ms`), if it says.
fn retry_after(message: &str) -> Option<Duration> {
    let rest = &message[message.find("retry after ")? + "retry after ".len()..];
    let digits: &str = &rest[..rest.find(|c: char| !c.is_ascii_digit())?];
    rest[digits.len()..]
        .starts_with(" ms")
        .then(|| digits.parse().ok().map(Duration::from_millis))
        .flatten()
}

/// Where each column is in the input file.
#[derive(Debug)]
pub(super) struct Header {
    /// Position of each column of [`COLUMNS`] (same index), if present.
    index: [Option<usize>; COLUMNS.len()],
    /// Number of fields a row must have.
    width: usize,
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

/// One data row after local checks.
#[derive(Debug)]
struct Evaluated {
    /// The row's request id: its `request_id` cell if given and valid, else derived.
    request_id: String,
    /// The request to send (its token digests still to compute, in the order of
    /// `canonicals`), or why the row cannot be sent.
    outcome: Result<VetRequest, String>,
    /// The kinds and canonical forms of the request's tokens, digested in batches.
    canonicals: Vec<(TokenKind, String)>,
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

/// Checks one data row and, if it is usable, turns it into a request for epoch `key_id` whose
/// token digests [`digest_rows`] fills in. Error texts name the column and never contain a
/// cell's value.
fn evaluate(header: &Header, record: &::csv::ByteRecord, key_id: &str) -> Evaluated {
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

/// Groups checked but not yet sent: digested together (one key-service call per batch of at
/// most 1024 elements, linked rows' tokens in the same call as their subject's) before they go
/// on the VetBatch stream.
const DIGEST_ROWS: usize = 256;

/// A group settled by the local checks, in file order, waiting for its digests.
enum Pending {
    /// A request to send: `canonicals[0]` are the subject's tokens, `canonicals[1..]` those of
    /// `request.linked`, in order. `links` are the linked rows' lines.
    Send {
        line: u64,
        request: VetRequest,
        canonicals: Vec<Vec<(TokenKind, String)>>,
        links: Vec<u64>,
    },
    /// Rows refused on this machine: written as they are.
    Local(Vec<Item>),
}

/// Computes every digest the `Send` entries of `pending` need with `scheme`, in one go, and
/// fills in their requests' tokens (the subject's and each linked subject's).
async fn digest_pending(scheme: &mut Scheme, pending: &mut [Pending]) -> Result<(), Error> {
    let mut pairs: Vec<(TokenKind, String)> = Vec::new();
    for p in pending.iter() {
        if let Pending::Send { canonicals, .. } = p {
            pairs.extend(canonicals.iter().flatten().cloned());
        }
    }
    let mut digests = scheme.digests(&pairs).await?.into_iter();
    for p in pending.iter_mut() {
        let Pending::Send {
            request,
            canonicals,
            ..
        } = p
        else {
            continue;
        };
        let mut lists = std::mem::take(canonicals).into_iter().map(|pairs| {
            let tokens: Vec<Token> = pairs
                .into_iter()
                .zip(digests.by_ref())
                .map(|((kind, canonical), digest)| Token {
                    kind,
                    canonical,
                    digest,
                })
                .collect();
            match_tokens(&tokens)
        });
        request.tokens = lists.next().unwrap_or_default();
        for (linked, tokens) in request.linked.iter_mut().zip(lists) {
            linked.tokens = tokens;
        }
    }
    Ok(())
}

/// What an existing output file already says about a request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prior {
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
fn complete_len(path: &Path) -> Result<(u64, u64), Error> {
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
type PriorRows = HashMap<(u64, String), Prior>;

/// Reads what the first `len` bytes of an existing output file already answer ((line, request
/// id) → [`Prior`]); refuses a file that is not this command's output in this format.
fn read_prior(path: &Path, json: bool, len: u64) -> Result<PriorRows, Error> {
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

/// An error of the csv crate on `path`.
fn csv_error(path: &Path, e: ::csv::Error) -> Error {
    if e.is_io_error() {
        if let ::csv::ErrorKind::Io(io) = e.into_kind() {
            return Error::io(path, io);
        }
        return Error::Usage(format!("{}: read error", path.display()));
    }
    Error::Usage(format!("{}: {e}", path.display()))
}

/// The result of one row, as written to the output.
#[derive(Debug, Clone)]
enum RowResult {
    /// The gateway's answer.
    Answered(VetResponse),
    /// A linked row's part of its group's answer: the matches through it.
    Linked {
        /// The linked row's label.
        label: String,
        /// Its `Relation` value.
        relation: i32,
        /// The answer restricted to matches through it ([`csv_links::through`]).
        answer: VetResponse,
    },
    /// Refused on this machine: the reason.
    Local(String),
    /// Rejected by the gateway (a VetBatch per-item error).
    Gateway {
        /// The gRPC code the item received.
        code: tonic::Code,
        /// The gateway's message.
        message: String,
    },
}

/// One line of text, whatever the message contains.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl RowResult {
    /// The `error` column (CSV) and the stderr report: empty for an answer.
    fn error_text(&self) -> String {
        match self {
            RowResult::Answered(_) | RowResult::Linked { .. } => String::new(),
            RowResult::Local(reason) => format!("{LOCAL_PREFIX}{}", one_line(reason)),
            RowResult::Gateway { code, message } => {
                format!("{GATEWAY_PREFIX}{code:?}: {}", one_line(message))
            }
        }
    }
}

impl RowResult {
    /// The stderr report of an error row (after `line N: `).
    fn report_text(&self) -> String {
        match self {
            RowResult::Answered(r) | RowResult::Linked { answer: r, .. } => {
                grade_name(r.grade).to_owned()
            }
            RowResult::Local(reason) => one_line(reason),
            RowResult::Gateway { code, message } => {
                format!("rejected by the gateway ({code:?}): {}", one_line(message))
            }
        }
    }
}

/// Where results go: CSV rows or JSON lines, flushed after each row so that an interrupted run
/// leaves every written row complete.
enum Sink {
    /// CSV with the [`OUTPUT_COLUMNS`] header.
    Csv(Box<::csv::Writer<Box<dyn Write + Send>>>),
    /// One JSON object per line.
    Json(Box<dyn Write + Send>),
}

impl Sink {
    /// A sink over `out`; `header` writes the CSV header first.
    fn new(out: Box<dyn Write + Send>, json: bool, header: bool) -> Result<Sink, std::io::Error> {
        if json {
            return Ok(Sink::Json(out));
        }
        let mut w = ::csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(out);
        if header {
            w.write_record(OUTPUT_COLUMNS)?;
            w.flush()?;
        }
        Ok(Sink::Csv(Box::new(w)))
    }

    /// Writes and flushes one row's result.
    fn write(&mut self, line: u64, request_id: &str, result: &RowResult) -> std::io::Result<()> {
        match self {
            Sink::Csv(w) => {
                let mut row: [String; OUTPUT_COLUMNS.len()] = Default::default();
                row[0] = line.to_string();
                row[1] = request_id.to_owned();
                if let RowResult::Answered(r) = result {
                    row[7] = grade_name(r.subject_grade).to_owned();
                }
                if let RowResult::Linked {
                    label, relation, ..
                } = result
                {
                    row[8] = label.clone();
                    row[9] = relation_text(*relation).to_owned();
                }
                if let RowResult::Answered(r) | RowResult::Linked { answer: r, .. } = result {
                    row[2] = grade_name(r.grade).to_owned();
                    row[3] = r
                        .matches
                        .iter()
                        .filter_map(|m| m.advisory.as_ref().map(|a| a.advisory_id.as_str()))
                        .collect::<Vec<_>>()
                        .join(";");
                    row[4] = r
                        .matches
                        .iter()
                        .map(|m| m.strength)
                        .max()
                        .map(|s| strength_name(s).to_owned())
                        .unwrap_or_default();
                    row[5] = r.audit_index.to_string();
                }
                row[6] = result.error_text();
                if let RowResult::Answered(r) | RowResult::Linked { answer: r, .. } = result {
                    // MatchTier values rise from EXACT (1) to PARTIAL_NAME (4): the smallest
                    // set value is the best tier.
                    row[10] = r
                        .matches
                        .iter()
                        .map(|m| m.tier)
                        .filter(|t| *t > 0)
                        .min()
                        .map(|t| tier_name(t).to_owned())
                        .unwrap_or_default();
                }
                w.write_record(&row)?;
                w.flush()
            }
            Sink::Json(w) => {
                let mut v = match result {
                    RowResult::Answered(r) => response_json(r),
                    RowResult::Linked {
                        label,
                        relation,
                        answer,
                    } => csv_links::link_json(label, *relation, answer),
                    RowResult::Local(reason) => serde_json::json!({
                        "request_id": request_id,
                        "error": {"source": "local", "message": reason},
                    }),
                    RowResult::Gateway { code, message } => serde_json::json!({
                        "request_id": request_id,
                        "error": {"source": "gateway", "code": format!("{code:?}"), "message": message},
                    }),
                };
                if let Some(map) = v.as_object_mut() {
                    map.insert("line".into(), line.into());
                }
                writeln!(w, "{v}")?;
                w.flush()
            }
        }
    }
}

/// What the file reader hands to the result writer, in file order.
#[derive(Debug)]
enum Item {
    /// A row refused locally: write it as an error row.
    Local {
        line: u64,
        request_id: String,
        reason: String,
    },
    /// A row sent on the stream: its answer is the next one. The request is kept for a retry
    /// if the gateway's rate limit turns it away. `links` are the lines of its linked rows, in
    /// the order of `request.linked`.
    Sent {
        line: u64,
        request: VetRequest,
        links: Vec<u64>,
    },
}

/// What the file reader counted.
#[derive(Debug, Default)]
struct ReadCounts {
    /// Data rows read.
    rows: u64,
    /// Rows skipped because the output already answers them.
    skipped: u64,
    /// Whether reading stopped early because the run was interrupted (Ctrl-C).
    interrupted: bool,
}

/// The file reader: the input after its header, and what it needs to check and route rows.
struct RowReader {
    /// The input file's name, for errors.
    path: PathBuf,
    /// The input, positioned after the header row.
    reader: ::csv::Reader<File>,
    /// The input's columns.
    header: Header,
    /// How token digests are computed (a v1 key file or a v2 key service).
    scheme: Scheme,
    /// What the output file already answers.
    prior: PriorRows,
    /// The line of each record.
    lines: LineCounter,
    /// Set on Ctrl-C: stop reading (the rows already queued are still answered and written).
    stop: Arc<AtomicBool>,
    /// The VetBatch request stream.
    requests: mpsc::Sender<VetRequest>,
    /// The writer's queue, in file order; closing it stops the reader.
    items: mpsc::Sender<Item>,
    /// The progress bar, advanced for skipped rows.
    bar: Option<ProgressBar>,
    /// The pause between sends.
    pace: Arc<Pace>,
}

/// A subject row and the linked rows that follow it, held until the group ends.
struct Group {
    /// The subject row's line.
    line: u64,
    /// The subject row after local checks.
    row: Evaluated,
    /// Its `case_ref` cell (trimmed), which linked rows name in `linked_to`.
    case_ref: String,
    /// Whether its request id was derived (no `request_id` cell).
    derived: bool,
    /// Its linked rows, in file order.
    links: Vec<csv_links::LinkRow>,
}

impl RowReader {
    /// Reads the data rows, checks each, and feeds the request stream and the writer's queue.
    /// A subject row is held until the rows linked to it have been read (they follow it);
    /// settled groups are digested [`DIGEST_ROWS`] at a time. Runs on a blocking thread; stops
    /// early when the writer closes its queue.
    fn run(mut self, runtime: tokio::runtime::Handle) -> Result<ReadCounts, Error> {
        let mut counts = ReadCounts::default();
        let mut record = ::csv::ByteRecord::new();
        let key_id = self.scheme.key_id().to_owned();
        let mut group: Option<Group> = None;
        let mut pending: Vec<Pending> = Vec::with_capacity(DIGEST_ROWS);
        while self
            .reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(&self.path, e))?
        {
            if self.stop.load(Ordering::Relaxed) {
                counts.interrupted = true;
                break;
            }
            if pending.len() >= DIGEST_ROWS && !self.send(&runtime, &mut pending)? {
                return Ok(counts);
            }
            counts.rows += 1;
            let line = match record.position() {
                Some(p) => self
                    .lines
                    .line_of(p.byte())
                    .map_err(|e| Error::io(&self.path, e))?,
                None => 0,
            };
            if let Some(target) = csv_links::linked_to(&self.header, &record) {
                let link = csv_links::evaluate_link(&self.header, &record, line, target);
                match &mut group {
                    Some(g) if g.case_ref == link.linked_to => g.links.push(link),
                    _ => {
                        // Not linked to the group just above: that group is complete, and this
                        // row is refused (results stay in file order).
                        if let Some(g) = group.take() {
                            pending.extend(self.settle(g, &mut counts));
                        }
                        let request_id = derived_id(b"raw\0", record.iter());
                        if matches!(
                            self.prior.get(&(line, request_id.clone())),
                            Some(Prior::Answered | Prior::Final | Prior::Local)
                        ) {
                            counts.skipped += 1;
                            if let Some(bar) = &self.bar {
                                bar.inc(1);
                            }
                            continue;
                        }
                        pending.push(Pending::Local(vec![Item::Local {
                            line,
                            request_id,
                            reason: csv_links::ORPHAN.into(),
                        }]));
                    }
                }
                continue;
            }
            if let Some(g) = group.take() {
                pending.extend(self.settle(g, &mut counts));
            }
            let raw_id = self
                .header
                .position(Column::RequestId)
                .and_then(|i| record.get(i))
                .is_none_or(|c| String::from_utf8_lossy(c).trim().is_empty());
            let case_ref = self
                .header
                .position(Column::CaseRef)
                .and_then(|i| record.get(i))
                .map(|c| String::from_utf8_lossy(c).trim().to_owned())
                .unwrap_or_default();
            group = Some(Group {
                line,
                row: evaluate(&self.header, &record, &key_id),
                case_ref,
                derived: raw_id,
                links: Vec::new(),
            });
        }
        if let Some(g) = group.take() {
            pending.extend(self.settle(g, &mut counts));
        }
        self.send(&runtime, &mut pending)?;
        Ok(counts)
    }

    /// Settles a subject row and its linked rows into one request (or refuses them together),
    /// or skips them when the output file already answers them (None).
    fn settle(&self, g: Group, counts: &mut ReadCounts) -> Option<Pending> {
        let Group {
            line,
            row,
            derived,
            links,
            ..
        } = g;
        let mut request_id = row.request_id;
        let mut outcome = row.outcome;
        if !links.is_empty() {
            if derived {
                request_id = csv_links::group_id(&request_id, &links);
            }
            let bad = links.iter().find(|l| l.outcome.is_err()).map(|l| l.line);
            outcome = match (outcome, bad) {
                (Err(reason), _) => Err(reason),
                (Ok(_), Some(bad)) => Err(csv_links::group_refusal(bad)),
                (Ok(mut request), None) => {
                    request.request_id.clone_from(&request_id);
                    request.linked = links
                        .iter()
                        .filter_map(|l| l.outcome.as_ref().ok().cloned())
                        .collect();
                    Ok(request)
                }
            };
        }
        let skip = match self.prior.get(&(line, request_id.clone())) {
            Some(Prior::Answered | Prior::Final) => true,
            Some(Prior::Local) => outcome.is_err(),
            Some(Prior::Transient) | None => false,
        };
        if skip {
            let n = 1 + links.len() as u64;
            counts.skipped += n;
            if let Some(bar) = &self.bar {
                bar.inc(n);
            }
            return None;
        }
        Some(match outcome {
            Ok(request) => {
                let link_lines = links.iter().map(|l| l.line).collect();
                let canonicals = std::iter::once(row.canonicals)
                    .chain(links.into_iter().map(|l| l.canonicals))
                    .collect();
                Pending::Send {
                    line,
                    request,
                    canonicals,
                    links: link_lines,
                }
            }
            Err(reason) => {
                let subject_refused = csv_links::subject_refused(line);
                let mut items = vec![Item::Local {
                    line,
                    request_id: request_id.clone(),
                    reason: reason.clone(),
                }];
                for l in links {
                    let reason = match l.outcome {
                        Err(own) => own,
                        Ok(_) if reason.starts_with("not sent:") => reason.clone(),
                        Ok(_) => subject_refused.clone(),
                    };
                    items.push(Item::Local {
                        line: l.line,
                        request_id: request_id.clone(),
                        reason,
                    });
                }
                Pending::Local(items)
            }
        })
    }

    /// Digests the pending groups and sends them in file order, emptying `pending`. Ok(false)
    /// once the writer or the stream has gone; an error if the digests cannot be computed (a
    /// key service that is down or refuses: never a fallback).
    fn send(
        &mut self,
        runtime: &tokio::runtime::Handle,
        pending: &mut Vec<Pending>,
    ) -> Result<bool, Error> {
        runtime.block_on(digest_pending(&mut self.scheme, pending))?;
        for p in pending.drain(..) {
            match p {
                Pending::Send {
                    line,
                    request,
                    links,
                    ..
                } => {
                    let pause = self.pace.get();
                    if !pause.is_zero() {
                        std::thread::sleep(pause);
                    }
                    let (requests, items) = (&self.requests, &self.items);
                    let sent = runtime.block_on(async {
                        tokio::select! {
                            sent = requests.send(request.clone()) => sent.is_ok(),
                            () = items.closed() => false,
                        }
                    });
                    if !sent
                        || self
                            .items
                            .blocking_send(Item::Sent {
                                line,
                                request,
                                links,
                            })
                            .is_err()
                    {
                        return Ok(false);
                    }
                }
                Pending::Local(items) => {
                    for item in items {
                        if self.items.blocking_send(item).is_err() {
                            return Ok(false);
                        }
                    }
                }
            }
        }
        Ok(true)
    }
}

/// Prints one report line on stderr, above the progress bar if there is one.
fn report(bar: Option<&ProgressBar>, text: &str) {
    match bar {
        Some(bar) => bar.suspend(|| eprintln!("{text}")),
        None => eprintln!("{text}"),
    }
}

/// Counts the data rows of `path` for the progress bar (a quick first pass); `None` if the file
/// cannot be read that way.
fn count_rows(path: &Path) -> Option<u64> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .ok()?;
    let mut record = ::csv::ByteRecord::new();
    let mut n = 0;
    while reader.read_byte_record(&mut record).ok()? {
        n += 1;
    }
    Some(n)
}

/// A progress bar on stderr if it is a terminal (with the row count if known), else none.
fn progress(path: &Path) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let (bar, template) = match count_rows(path) {
        Some(n) => (
            ProgressBar::new(n),
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({rate}, eta {eta})",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} [{elapsed_precise}] {pos} rows ({rate})",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&rate_text(state.per_sec()));
            },
        ));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

/// A progress rate as whole rows per second (`1234 rows/s`); indicatif's own `{per_sec}`
/// prints four decimals.
fn rate_text(per_sec: f64) -> String {
    if per_sec.is_finite() && per_sec >= 0.0 {
        format!("{per_sec:.0} rows/s")
    } else {
        "- rows/s".to_owned()
    }
}

/// What the run did, for the summary.
#[derive(Debug, Default)]
struct Tally {
    /// Answers by grade value.
    grades: BTreeMap<i32, u64>,
    /// Rows refused locally.
    local: u64,
    /// Rows rejected by the gateway.
    gateway: u64,
    /// Rows read and checked but whose result was never written (the run broke off).
    unwritten: u64,
}

/// The summary printed on stderr at the end; `counts` is `None` if the reader failed.
fn summary(input: &Path, counts: Option<&ReadCounts>, tally: &Tally) -> String {
    let answered: u64 = tally.grades.values().sum();
    let grades: Vec<String> = tally
        .grades
        .iter()
        .rev()
        .map(|(g, n)| format!("{} {n}", grade_name(*g)))
        .collect();
    let mut text = format!("vet --csv {}: ", input.display());
    match counts {
        Some(c) => text.push_str(&format!(
            "{} rows read\n  skipped: {} (already in the output)\n",
            c.rows, c.skipped
        )),
        None => text.push_str("reading stopped by an error\n"),
    }
    text.push_str(&format!("  answered: {answered}"));
    if !grades.is_empty() {
        text.push_str(&format!(" ({})", grades.join(", ")));
    }
    text.push_str(&format!(
        "\n  errors: {} (local {}, gateway {})",
        tally.local + tally.gateway,
        tally.local,
        tally.gateway
    ));
    if tally.unwritten > 0 {
        text.push_str(&format!(
            "\n  not written: {} (the run broke off; run again with the same --out to resume)",
            tally.unwritten
        ));
    }
    if counts.is_some_and(|c| c.interrupted) {
        text.push_str(
            "\n  interrupted (Ctrl-C): the rest of the file was not read; run again with the same --out to resume",
        );
    }
    text
}

/// The result writer: the output, the tally, and what it needs to retry rate-limited rows.
struct Results<'a> {
    /// Where results go.
    sink: Sink,
    /// The output's name, for errors.
    out_name: PathBuf,
    /// What was written.
    tally: Tally,
    /// The progress bar, advanced per row written.
    bar: Option<&'a ProgressBar>,
    /// The gateway, for retries with the unary Vet.
    client: VettingServiceClient<Channel>,
    /// The pause between sends, set from rate-limit answers.
    pace: Arc<Pace>,
}

impl Results<'_> {
    /// Writes one result per queued row, in file order, taking each sent row's answer from the
    /// VetBatch response stream; reports error rows on stderr. Returns when the queue ends (the
    /// reader is done) or at the first broken answer or failed write.
    async fn write_all(
        &mut self,
        responses: &mut tonic::Streaming<VetResponse>,
        items: &mut mpsc::Receiver<Item>,
    ) -> Result<(), Error> {
        while let Some(item) = items.recv().await {
            let (line, request_id, result) = match item {
                Item::Local {
                    line,
                    request_id,
                    reason,
                } => (line, request_id, RowResult::Local(reason)),
                Item::Sent {
                    line,
                    request,
                    links,
                } => {
                    let answer = match responses.message().await {
                        Ok(Some(r)) if r.request_id == request.request_id => r,
                        other => {
                            self.tally.unwritten += 1;
                            return Err(broken(other, &request.request_id));
                        }
                    };
                    let result = match answer.error {
                        Some(e) if e.code == tonic::Code::ResourceExhausted as i32 => {
                            self.retry(request.clone(), &e.message).await
                        }
                        Some(e) => RowResult::Gateway {
                            code: tonic::Code::from_i32(e.code),
                            message: e.message,
                        },
                        None => {
                            self.pace.speed_up();
                            RowResult::Answered(answer)
                        }
                    };
                    self.write(line, &request.request_id, &result)?;
                    // Each linked row gets its own result row: its part of the answer, or the
                    // group's error.
                    for (link, link_line) in request.linked.iter().zip(links) {
                        let part = match &result {
                            RowResult::Answered(r) => RowResult::Linked {
                                label: link.label.clone(),
                                relation: link.relation,
                                answer: csv_links::through(r, &link.label),
                            },
                            other => other.clone(),
                        };
                        self.write(link_line, &request.request_id, &part)?;
                    }
                    continue;
                }
            };
            self.write(line, &request_id, &result)?;
        }
        if let Ok(Some(extra)) = responses.message().await {
            return Err(tonic::Status::internal(format!(
                "the gateway sent an answer ({}) for no row",
                extra.request_id
            ))
            .into());
        }
        Ok(())
    }

    /// Tries a row the rate limit turned away again with the unary Vet (the same request id),
    /// after the wait the gateway asked for, at most [`RATE_RETRIES`] times; slows the sends.
    async fn retry(&mut self, request: VetRequest, message: &str) -> RowResult {
        let hint = retry_after(message).unwrap_or(Duration::from_millis(10));
        self.pace.slow_down(hint);
        let mut message = message.to_owned();
        let mut wait = hint;
        for _ in 0..RATE_RETRIES {
            if let Some(hint) = retry_after(&message) {
                wait = wait.max(hint);
            }
            tokio::time::sleep(wait.min(MAX_PAUSE)).await;
            match self.client.vet(request.clone()).await {
                Ok(answer) => return RowResult::Answered(answer.into_inner()),
                Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                    message = status.message().to_owned();
                    wait = (wait * 2).min(MAX_PAUSE);
                }
                Err(status) => {
                    return RowResult::Gateway {
                        code: status.code(),
                        message: status.message().to_owned(),
                    }
                }
            }
        }
        RowResult::Gateway {
            code: tonic::Code::ResourceExhausted,
            message,
        }
    }

    /// Counts, reports (error rows) and writes one row's result.
    fn write(&mut self, line: u64, request_id: &str, result: &RowResult) -> Result<(), Error> {
        match result {
            RowResult::Answered(r) | RowResult::Linked { answer: r, .. } => {
                *self.tally.grades.entry(r.grade).or_default() += 1
            }
            RowResult::Local(_) => self.tally.local += 1,
            RowResult::Gateway { .. } => self.tally.gateway += 1,
        }
        if !matches!(result, RowResult::Answered(_) | RowResult::Linked { .. }) {
            report(self.bar, &format!("line {line}: {}", result.report_text()));
        }
        if let Err(e) = self.sink.write(line, request_id, result) {
            self.tally.unwritten += 1;
            return Err(Error::io(&self.out_name, e));
        }
        if let Some(bar) = self.bar {
            bar.inc(1);
        }
        Ok(())
    }
}

/// The error for a batch answer that is not the one expected for `request_id`.
fn broken(answer: Result<Option<VetResponse>, tonic::Status>, request_id: &str) -> Error {
    match answer {
        Ok(Some(r)) => tonic::Status::internal(format!(
            "the gateway answered request {} where {request_id} was expected",
            r.request_id
        ))
        .into(),
        Ok(None) => {
            tonic::Status::unavailable("the gateway ended the batch before answering every row")
                .into()
        }
        Err(status) => status.into(),
    }
}

/// `portcullis vet --csv INPUT [--out OUT]`: see the module documentation and docs/csv.md.
pub(crate) async fn run(
    client: &ClientArgs,
    scheme: Scheme,
    input: &Path,
    out: Option<&Path>,
) -> Result<(), Error> {
    let json = client.json;

    // The header first: a wrong file is refused before anything is sent or written.
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(input)
        .map_err(|e| csv_error(input, e))?;
    let mut first = ::csv::ByteRecord::new();
    if !reader
        .read_byte_record(&mut first)
        .map_err(|e| csv_error(input, e))?
    {
        return Err(Error::Usage(format!(
            "{}: empty file (expected a header row)",
            input.display()
        )));
    }
    let header =
        Header::parse(&first).map_err(|e| Error::Usage(format!("{}: {e}", input.display())))?;

    // What an existing output file already answers.
    let mut prior = HashMap::new();
    let mut existing = false;
    if let Some(out) = out {
        if let (Ok(a), Ok(b)) = (std::fs::canonicalize(input), std::fs::canonicalize(out)) {
            if a == b {
                return Err(Error::Usage("--out must not be the --csv file".into()));
            }
        }
        match std::fs::metadata(out) {
            Ok(m) if m.len() > 0 => {
                let (complete, len) = complete_len(out)?;
                prior = read_prior(out, json, complete)?;
                if complete < len {
                    // Ours (checked above): drop the incomplete record, then append after it.
                    OpenOptions::new()
                        .write(true)
                        .open(out)
                        .and_then(|f| f.set_len(complete))
                        .map_err(|e| Error::io(out, e))?;
                    eprintln!(
                        "{}: dropped an incomplete last record left by an interrupted run",
                        out.display()
                    );
                }
                existing = complete > 0;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(out, e)),
        }
    }

    let channel = client.connect().await?;

    let writer: Box<dyn Write + Send> = match out {
        Some(out) => Box::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(out)
                .map_err(|e| Error::io(out, e))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let out_name = out.map_or_else(|| PathBuf::from("stdout"), Path::to_path_buf);
    let sink = Sink::new(writer, json, !existing).map_err(|e| Error::io(&out_name, e))?;

    let bar = progress(input);
    let pace = Arc::new(Pace::default());
    let stop = Arc::new(AtomicBool::new(false));
    let lines = LineCounter::open(input).map_err(|e| Error::io(input, e))?;
    let (request_tx, request_rx) = mpsc::channel(WINDOW);
    let (item_tx, mut item_rx) = mpsc::channel(WINDOW);
    let rows = RowReader {
        path: input.to_path_buf(),
        reader,
        header,
        scheme,
        prior,
        lines,
        stop: stop.clone(),
        requests: request_tx,
        items: item_tx,
        bar: bar.clone(),
        pace: pace.clone(),
    };
    let runtime = tokio::runtime::Handle::current();
    let reading = tokio::task::spawn_blocking(move || rows.run(runtime));

    let client = VettingServiceClient::new(channel);
    let mut results = Results {
        sink,
        out_name,
        tally: Tally::default(),
        bar: bar.as_ref(),
        client: client.clone(),
        pace,
    };
    let outcome = match client
        .clone()
        .vet_batch(ReceiverStream::new(request_rx))
        .await
    {
        Ok(response) => {
            let mut responses = response.into_inner();
            let writing = results.write_all(&mut responses, &mut item_rx);
            tokio::pin!(writing);
            tokio::select! {
                done = &mut writing => done,
                _ = tokio::signal::ctrl_c() => {
                    // Stop reading; the rows already sent are answered and written, so the
                    // output stays exact. A second Ctrl-C abandons them (a rerun sends them
                    // again, and the gateway repeats its remembered answers).
                    stop.store(true, Ordering::Relaxed);
                    report(
                        bar.as_ref(),
                        "interrupted: writing the answers to the rows already sent (Ctrl-C again to stop at once)",
                    );
                    tokio::select! {
                        done = &mut writing => done,
                        _ = tokio::signal::ctrl_c() => Ok(()),
                    }
                }
            }
        }
        Err(status) => Err(status.into()),
    };
    let mut tally = results.tally;
    // Stop the reader if it is still going, and count what it queued that was never written.
    item_rx.close();
    while item_rx.recv().await.is_some() {
        tally.unwritten += 1;
    }
    let counts = match reading.await {
        Ok(counts) => counts,
        Err(e) => Err(Error::Usage(format!("reading {}: {e}", input.display()))),
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    eprintln!("{}", summary(input, counts.as_ref().ok(), &tally));
    outcome?;
    let read_all = counts.as_ref().is_ok_and(|c| !c.interrupted);
    if stop.load(Ordering::Relaxed) && (!read_all || tally.unwritten > 0) {
        return Err(Error::Usage(format!(
            "vet --csv {}: interrupted; run the same command again to resume",
            input.display()
        )));
    }
    counts.map(|_| ())
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
        let e = RowResult::Gateway {
            code: tonic::Code::AlreadyExists,
            message: "a\nb".into(),
        };
        assert_eq!(e.error_text(), "gateway AlreadyExists: a b");
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
    fn rate_limit_hints_set_the_pace() {
        assert_eq!(
            retry_after("rate limit exceeded; retry after 25 ms"),
            Some(Duration::from_millis(25))
        );
        assert_eq!(retry_after("rate limit exceeded"), None);
        assert_eq!(retry_after("retry after 25"), None);
        assert_eq!(retry_after("retry after soon ms"), None);
        let pace = Pace::default();
        assert!(pace.get().is_zero());
        pace.slow_down(Duration::from_millis(2));
        assert_eq!(pace.get(), Duration::from_micros(2500));
        pace.slow_down(Duration::from_millis(1));
        assert_eq!(pace.get(), Duration::from_micros(2500));
        pace.slow_down(Duration::from_millis(4));
        assert_eq!(pace.get(), Duration::from_millis(5));
        pace.slow_down(Duration::from_secs(60));
        assert_eq!(pace.get(), MAX_PAUSE);
        pace.speed_up();
        assert!(pace.get() < MAX_PAUSE);
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

    #[test]
    fn progress_rate_is_whole_rows_per_second() {
        assert_eq!(rate_text(1234.5678), "1235 rows/s");
        assert_eq!(rate_text(0.0), "0 rows/s");
        assert_eq!(rate_text(f64::NAN), "- rows/s");
    }
}
