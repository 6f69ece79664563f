//! `portcullis.v1.AuditService` for auditors (the [`super::auth`] layer enforces the role).
//!
//! Every call is itself audited before its answer leaves, with what it disclosed in `detail`
//! (docs/audit.md):
//!
//! | call | `detail` |
//! |---|---|
//! | GetCheckpoint | `checkpoint size=N` |
//! | GetInclusionProof | `inclusion index=I tree_size=N` |
//! | GetConsistencyProof | `consistency old_size=M new_size=N` |
//! | Replay | `replay start=S end=E count=C` or `replay start=S end=E count=C follow` |
//!
//! A Replay is recorded once per stream, before its first record is sent. `end` is the exclusive
//! end it streams to (`open` for a follow stream without an end) and `count` the number of
//! entries available in that range when the stream began; a follow stream also delivers every
//! entry appended while it stays open, up to `end`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use prost::Message;
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::{fail, CallContext};
use crate::audit::{merkle, AuditEntry, AuditLog, Checkpointer, Reader};
use crate::domain::{Error, Stored, StreamKind};
use crate::proto::v1::audit_service_server::AuditService;
use crate::proto::v1::{
    AuditRecord, Checkpoint, ConsistencyProofRequest, GetCheckpointRequest, InclusionProofRequest,
    Proof, ReplayRequest,
};

/// Records read from the log at a time by a Replay, and handed to the stream together.
const REPLAY_CHUNK: u64 = 256;
/// Chunks a Replay may have in flight to a slow client before it waits (backpressure).
const REPLAY_BUFFER: usize = 4;

/// A chunk of replayed records (or the error that ends the stream).
type Chunk = Vec<Result<AuditRecord, Status>>;

/// The audit service.
#[derive(Debug, Clone)]
pub(crate) struct Auditing {
    log: AuditLog,
    reader: Reader,
    checkpoints: Arc<Checkpointer>,
    shutdown: watch::Receiver<bool>,
}

impl Auditing {
    /// The service reading the log through `reader`, recording to `log`, with the log's
    /// `checkpoints`. Follow streams end when `shutdown` becomes true.
    pub(crate) fn new(
        log: AuditLog,
        reader: Reader,
        checkpoints: Arc<Checkpointer>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Auditing {
            log,
            reader,
            checkpoints,
            shutdown,
        }
    }

    /// Records a successful call with `detail` and answers `answer`.
    async fn answer<T>(
        &self,
        ctx: &CallContext,
        mut entry: AuditEntry,
        detail: String,
        answer: T,
    ) -> Result<Response<T>, Status> {
        ctx.mark_audited();
        entry.detail = detail;
        match self.log.record(entry).await {
            Ok(_) => Ok(Response::new(answer)),
            Err(e) => Err(Error::from(e).into()),
        }
    }

    /// A tree size of a request: 0 means the latest checkpoint's; never beyond the durable log.
    async fn tree_size(&self, field: &str, size: u64) -> Result<u64, Error> {
        let size = if size == 0 {
            self.checkpoints
                .latest()
                .await
                .map(|s| s.checkpoint.size)
                .unwrap_or(0)
        } else {
            size
        };
        let durable = self.checkpoints.durable_size();
        if size > durable {
            return Err(Error::invalid(
                field,
                format!("must not exceed the log size {durable}"),
            ));
        }
        Ok(size)
    }
}

fn proof_error(e: merkle::ProofError<crate::store::StoreError>) -> Error {
    match e {
        merkle::ProofError::Merkle(m) => Error::invalid("request", m.to_string()),
        merkle::ProofError::Source(s) => s.into(),
    }
}

fn proof(hashes: Vec<merkle::Hash>) -> Proof {
    Proof {
        hashes: hashes.into_iter().map(|h| h.to_vec()).collect(),
    }
}

#[tonic::async_trait]
impl AuditService for Auditing {
    async fn get_checkpoint(
        &self,
        req: Request<GetCheckpointRequest>,
    ) -> Result<Response<Checkpoint>, Status> {
        let ctx = CallContext::of(&req)?;
        let entry = ctx.draft();
        match self.checkpoints.sign_now().await {
            Ok(signed) => {
                let size = signed.checkpoint.size;
                let answer = Checkpoint {
                    size,
                    root_hash: signed.checkpoint.root.to_vec(),
                    signed_note: signed.note,
                };
                self.answer(&ctx, entry, format!("checkpoint size={size}"), answer)
                    .await
            }
            Err(e) => Err(fail(&self.log, &ctx, entry, e.into()).await),
        }
    }

    type ReplayStream = Pin<Box<dyn Stream<Item = Result<AuditRecord, Status>> + Send>>;

    async fn replay(
        &self,
        req: Request<ReplayRequest>,
    ) -> Result<Response<Self::ReplayStream>, Status> {
        let ctx = CallContext::of(&req)?;
        let entry = ctx.draft();
        let ReplayRequest { start, end, follow } = req.into_inner();
        let durable = self.checkpoints.durable_size();
        let end = match (end, follow) {
            (0, true) => None,
            (0, false) => Some(durable),
            (e, _) => Some(e),
        };
        if let Some(e) = end {
            let error = if start > e {
                Some(Error::invalid("start", "must not exceed end"))
            } else if !follow && e > durable {
                Some(Error::invalid(
                    "end",
                    format!("must not exceed the log size {durable} (or set follow)"),
                ))
            } else {
                None
            };
            if let Some(error) = error {
                return Err(fail(&self.log, &ctx, entry, error).await);
            }
        }
        let available = end.unwrap_or(u64::MAX).min(durable).saturating_sub(start);
        let end_text = end.map_or_else(|| "open".to_owned(), |e| e.to_string());
        let detail = format!(
            "replay start={start} end={end_text} count={available}{}",
            if follow { " follow" } else { "" }
        );
        self.answer(&ctx, entry, detail, ()).await?;

        let (tx, rx) = mpsc::channel(REPLAY_BUFFER);
        let streamer = Streamer {
            log: self.log.clone(),
            ctx,
            reader: self.reader.clone(),
            durable: self.log.durable(),
            shutdown: self.shutdown.clone(),
            tx,
        };
        tokio::spawn(streamer.run(start, end.unwrap_or(u64::MAX), follow));
        Ok(Response::new(Box::pin(Unchunk {
            rx,
            chunk: Vec::new().into_iter(),
        })))
    }

    async fn get_inclusion_proof(
        &self,
        req: Request<InclusionProofRequest>,
    ) -> Result<Response<Proof>, Status> {
        let ctx = CallContext::of(&req)?;
        let entry = ctx.draft();
        let InclusionProofRequest { index, tree_size } = req.into_inner();
        let result = async {
            let size = self.tree_size("tree_size", tree_size).await?;
            if index >= size {
                return Err(Error::invalid(
                    "index",
                    format!("must be less than the tree size {size}"),
                ));
            }
            let hashes = self
                .reader
                .inclusion_proof(index, size)
                .map_err(proof_error)?;
            Ok((size, hashes))
        }
        .await;
        match result {
            Ok((size, hashes)) => {
                let detail = format!("inclusion index={index} tree_size={size}");
                self.answer(&ctx, entry, detail, proof(hashes)).await
            }
            Err(e) => Err(fail(&self.log, &ctx, entry, e).await),
        }
    }

    async fn get_consistency_proof(
        &self,
        req: Request<ConsistencyProofRequest>,
    ) -> Result<Response<Proof>, Status> {
        let ctx = CallContext::of(&req)?;
        let entry = ctx.draft();
        let ConsistencyProofRequest { old_size, new_size } = req.into_inner();
        let result = async {
            let new_size = self.tree_size("new_size", new_size).await?;
            if old_size > new_size {
                return Err(Error::invalid(
                    "old_size",
                    format!("must not exceed the new size {new_size}"),
                ));
            }
            let hashes = self
                .reader
                .consistency_proof(old_size, new_size)
                .map_err(proof_error)?;
            Ok((new_size, hashes))
        }
        .await;
        match result {
            Ok((new_size, hashes)) => {
                let detail = format!("consistency old_size={old_size} new_size={new_size}");
                self.answer(&ctx, entry, detail, proof(hashes)).await
            }
            Err(e) => Err(fail(&self.log, &ctx, entry, e).await),
        }
    }
}

/// The task behind one Replay stream: reads the log in chunks and sends records through a
/// bounded channel, so memory stays bounded whatever the client's speed; ends when the range is
/// done, the client goes away, or the gateway shuts down.
struct Streamer {
    /// Where a failure mid-stream is recorded, as a refusal of this call.
    log: AuditLog,
    ctx: CallContext,
    reader: Reader,
    durable: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    tx: mpsc::Sender<Chunk>,
}

/// The records of the chunks a [`Streamer`] sends, one at a time. A whole chunk is ready at
/// once, so the transport encodes many records into each HTTP/2 frame instead of waking for
/// every record.
struct Unchunk {
    rx: mpsc::Receiver<Chunk>,
    chunk: std::vec::IntoIter<Result<AuditRecord, Status>>,
}

impl Stream for Unchunk {
    type Item = Result<AuditRecord, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(record) = self.chunk.next() {
                return Poll::Ready(Some(record));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(chunk)) => self.chunk = chunk.into_iter(),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Streamer {
    async fn run(mut self, start: u64, end: u64, follow: bool) {
        let mut next = start;
        loop {
            let upto = (*self.durable.borrow_and_update()).min(end);
            while next < upto {
                let chunk_end = upto.min(next.saturating_add(REPLAY_CHUNK));
                let mut chunk = Vec::with_capacity((chunk_end - next) as usize);
                let mut failed = false;
                for item in self.reader.leaves(next, chunk_end) {
                    match item {
                        Ok((index, leaf)) => chunk.push(Ok(AuditRecord {
                            index,
                            // A leaf that does not decode is still sent, for the auditor to see.
                            entry: AuditEntry::decode(leaf.as_slice()).ok(),
                            leaf,
                        })),
                        Err(e) => {
                            tracing::error!(error = %e, "replay could not read the log");
                            let e = Error::Unreadable(Stored::ReplayedLeaf);
                            let entry = self.ctx.draft();
                            chunk.push(Err(fail(&self.log, &self.ctx, entry, e).await));
                            failed = true;
                            break;
                        }
                    }
                }
                if self.tx.send(chunk).await.is_err() || failed {
                    return;
                }
                next = chunk_end;
            }
            if next >= end || !follow {
                return;
            }
            tokio::select! {
                changed = self.durable.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = self.shutdown.changed() => {
                    let _ = self
                        .tx
                        .send(vec![Err(Error::ShuttingDown(StreamKind::Replay).into())])
                        .await;
                    return;
                }
                _ = self.tx.closed() => return,
            }
        }
    }
}
