//! The send loop: reads the data rows, checks them, groups linked rows with their subject,
//! digests the tokens in batches and feeds the VetBatch stream and the writer's queue in file
//! order.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use indicatif::ProgressBar;
use tokio::sync::mpsc;

use super::columns::{derived_id, Column, Header};
use super::file_error::csv_error;
use super::lines::LineCounter;
use super::links;
use super::pace::Pace;
use super::resume::{Prior, PriorRows};
use super::rows::{evaluate, Evaluated};
use crate::cli::common::match_tokens;
use crate::keyservice::client::{with_digests, Scheme};
use crate::proto::v1::VetRequest;
use crate::tokens::CanonicalKind;
use crate::Error;

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
        canonicals: Vec<Vec<(CanonicalKind, String)>>,
        links: Vec<u64>,
    },
    /// Rows refused on this machine: written as they are.
    Local(Vec<Item>),
}

/// Computes every digest the `Send` entries of `pending` need with `scheme`, in one go, and
/// fills in their requests' tokens (the subject's and each linked subject's).
async fn digest_pending(scheme: &mut Scheme, pending: &mut [Pending]) -> Result<(), Error> {
    let mut pairs: Vec<(CanonicalKind, String)> = Vec::new();
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
        let mut lists = std::mem::take(canonicals)
            .into_iter()
            .map(|pairs| match_tokens(&with_digests(pairs, &mut digests)));
        request.tokens = lists.next().unwrap_or_default();
        for (linked, tokens) in request.linked.iter_mut().zip(lists) {
            linked.tokens = tokens;
        }
    }
    Ok(())
}

/// What the file reader hands to the result writer, in file order.
#[derive(Debug)]
pub(super) enum Item {
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
pub(super) struct ReadCounts {
    /// Data rows read.
    pub(super) rows: u64,
    /// Rows skipped because the output already answers them.
    pub(super) skipped: u64,
    /// Whether reading stopped early because the run was interrupted (Ctrl-C).
    pub(super) interrupted: bool,
}

/// The file reader: the input after its header, and what it needs to check and route rows.
pub(super) struct RowReader {
    /// The input file's name, for errors.
    pub(super) path: PathBuf,
    /// The input, positioned after the header row.
    pub(super) reader: ::csv::Reader<File>,
    /// The input's columns.
    pub(super) header: Header,
    /// How token digests are computed (a v1 key file or a v2 key service).
    pub(super) scheme: Scheme,
    /// What the output file already answers.
    pub(super) prior: PriorRows,
    /// The line of each record.
    pub(super) lines: LineCounter,
    /// Set on Ctrl-C: stop reading (the rows already queued are still answered and written).
    pub(super) stop: Arc<AtomicBool>,
    /// The VetBatch request stream.
    pub(super) requests: mpsc::Sender<VetRequest>,
    /// The writer's queue, in file order; closing it stops the reader.
    pub(super) items: mpsc::Sender<Item>,
    /// The progress bar, advanced for skipped rows.
    pub(super) bar: Option<ProgressBar>,
    /// The pause between sends.
    pub(super) pace: Arc<Pace>,
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
    links: Vec<links::LinkRow>,
}

impl RowReader {
    /// Reads the data rows, checks each, and feeds the request stream and the writer's queue.
    /// A subject row is held until the rows linked to it have been read (they follow it);
    /// settled groups are digested [`DIGEST_ROWS`] at a time. Runs on a blocking thread; stops
    /// early when the writer closes its queue.
    pub(super) fn run(mut self, runtime: tokio::runtime::Handle) -> Result<ReadCounts, Error> {
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
            if let Some(target) = links::linked_to(&self.header, &record) {
                let link = links::evaluate_link(&self.header, &record, line, target);
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
                            reason: links::ORPHAN.into(),
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
                request_id = links::group_id(&request_id, &links);
            }
            let bad = links.iter().find(|l| l.outcome.is_err()).map(|l| l.line);
            outcome = match (outcome, bad) {
                (Err(reason), _) => Err(reason),
                (Ok(_), Some(bad)) => Err(links::group_refusal(bad)),
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
                let subject_refused = links::subject_refused(line);
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
