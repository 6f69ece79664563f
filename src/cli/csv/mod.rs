//! `portcullis vet --csv FILE [--out FILE]`: bulk vetting over one VetBatch stream.
//!
//! The input format, the output format and the resume rules are documented in `docs/csv.md`.
//! In short: a header row names the columns ([`columns::COLUMNS`]); every data row is one
//! subject. Tokens are derived here, on the party's machine; a row that cannot be turned into a
//! request (bad kind, bad field, wrong number of fields, …) is reported by line and written as
//! an error row, never sent. Rows are streamed lazily through VetBatch and answers matched to
//! rows in order. With `--out FILE`, an existing FILE is read first and the rows it already
//! answers (by input line and request id, so a row repeating an earlier one is its own row)
//! are skipped, so an interrupted run can simply be started again; the request ids of rows are
//! deterministic, so a row that was sent but whose answer was never written gets the gateway's
//! remembered answer (request-id idempotency). Ctrl-C (SIGINT) stops reading, writes the
//! answers of the rows already sent, prints the summary and exits non-zero; a second Ctrl-C
//! stops at once. Either way every written row is complete and the run resumes exactly.
//!
//! This file runs the command; one file each for the columns ([`columns`]), a subject row's
//! checks ([`rows`]), linked rows ([`links`]), line numbers ([`lines`]), resuming ([`resume`]),
//! the send loop ([`read`]), its pace ([`pace`]), the result writer ([`write`]), the output
//! format ([`output`]) and progress and the summary ([`progress`]).

mod columns;
mod file_error;
mod lines;
mod links;
mod output;
mod pace;
mod progress;
mod read;
mod resume;
mod rows;
mod write;

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use self::columns::Header;
use self::file_error::csv_error;
use self::lines::LineCounter;
use self::output::Sink;
use self::pace::Pace;
use self::progress::{progress, report, summary, Tally};
use self::read::RowReader;
use self::resume::{complete_len, read_prior};
use self::write::Results;
use super::common::ClientArgs;
use crate::keyservice::client::Scheme;
use crate::proto::v1::vetting_service_client::VettingServiceClient;
use crate::Error;

/// How many rows may wait between the file reader and the gRPC stream, and between the reader
/// and the result writer: the bound on this command's memory, whatever the file's size.
const WINDOW: usize = 256;

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
