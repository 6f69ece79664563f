//! The group-commit writer: one task appends entries from many calls and makes each batch
//! durable with a single flush, then wakes every waiting call.
//!
//! While a flush is in progress new entries queue up, so the batch size follows the load: one
//! flush serves every call that arrived during the previous one. Indexes are assigned here, in
//! order, and times never decrease with the index.
//!
//! Applying and flushing overlap: while sled flushes one batch, the writer appends and applies
//! the next (its log file synced first, as always), and the following flush makes every batch
//! applied since durable. A call learns its entry is durable only after the flush that covers
//! it. A caller that serialises changes under a lock can use [`AuditLog::record_staged`] to let
//! the next change proceed once its own is applied (visible to reads) and wait for durability
//! after releasing the lock.
//!
//! The writer also keeps the Merkle [`Frontier`] of the log: for every leaf it pushes
//! `leaf_hash(leaf)` and stores the hash of each complete subtree the leaf completes with the
//! leaf itself, in the same atomic batch, so the stored nodes always describe exactly the stored
//! leaves. Once a batch is
//! flushed the new durable size is published on a [`watch`] channel: only durable sizes are
//! signed into checkpoints, proven, or replayed.
//!
//! Whether the last batch could be written is published on a second [`watch`] channel
//! ([`AuditLog::writable`]), owned by this writer: health reporting follows this log, not a
//! process-wide figure.

use std::time::Duration;

use prost::Message;
use prost_types::Timestamp;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::merkle::{leaf_hash, Frontier};
use super::{AuditEntry, AuditError, Unwritable};
use crate::store::{Changes, LeafRecord, Store};

/// Changes to apply atomically with an entry, computed once the entry's index and time are
/// known (e.g. a remembered answer that quotes its own audit index).
pub type Effects = Box<dyn FnOnce(u64, &Timestamp) -> Changes + Send>;

/// Where an entry landed.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    /// The entry's index in the log.
    pub index: u64,
    /// The entry's time.
    pub at: Timestamp,
}

struct Job {
    entry: AuditEntry,
    effects: Option<Effects>,
    /// Told once the entry and its effects are applied (readable), before they are durable.
    applied: Option<oneshot::Sender<()>>,
    reply: oneshot::Sender<Result<Committed, AuditError>>,
}

/// An entry applied to the store and waiting for the flush that makes it durable: see
/// [`AuditLog::record_staged`].
#[derive(Debug)]
pub struct Staged {
    answer: oneshot::Receiver<Result<Committed, AuditError>>,
    deadline: tokio::time::Instant,
    write_timeout: Duration,
}

impl Staged {
    /// Waits until the entry is durable (within what is left of the write timeout).
    pub async fn durable(self) -> Result<Committed, AuditError> {
        let answer = async {
            self.answer
                .await
                .map_err(|_| AuditError::Unavailable(Unwritable::WriterStopped))?
        };
        within(self.deadline, self.write_timeout, answer).await
    }
}

/// `wait` bounded by `deadline`; a timeout fails closed.
async fn within<T>(
    deadline: tokio::time::Instant,
    write_timeout: Duration,
    wait: impl std::future::Future<Output = Result<T, AuditError>>,
) -> Result<T, AuditError> {
    match tokio::time::timeout_at(deadline, wait).await {
        Ok(result) => result,
        Err(_) => {
            tracing::error!(
                timeout_ms = write_timeout.as_millis() as u64,
                "audit entry not durable in time; failing closed"
            );
            Err(AuditError::Unavailable(Unwritable::TimedOut))
        }
    }
}

/// A handle to the audit log writer. Cheap to clone; the writer stops when every handle is
/// dropped, after making the last batch durable.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Job>,
    write_timeout: Duration,
    durable: watch::Receiver<u64>,
    writable: watch::Receiver<bool>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

/// How many entries may wait for the writer before callers are pushed back.
const QUEUE_DEPTH: usize = 65_536;

impl AuditLog {
    /// Starts the writer over `store`, rebuilding the Merkle frontier from the stored nodes
    /// (O(log n) reads). The returned task ends once every handle is dropped.
    ///
    /// Fails with [`AuditError::Corrupt`] if a node of the frontier is not stored; run
    /// [`super::integrity::check_at_startup`] first to get a precise diagnosis.
    pub fn start(
        store: Store,
        write_timeout: Duration,
        max_batch: usize,
    ) -> Result<(AuditLog, JoinHandle<()>), AuditError> {
        let next = store.log_size()?;
        let frontier = Frontier::from_source(&store, next).map_err(|e| AuditError::Corrupt {
            index: next,
            reason: format!("cannot rebuild the Merkle frontier: {e}"),
        })?;
        let (durable_tx, durable) = watch::channel(next);
        let (writable_tx, writable) = watch::channel(true);
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let state = State {
            durable: durable_tx,
            writable: writable_tx,
        };
        let task = tokio::spawn(run(store, rx, frontier, state, max_batch.max(1)));
        Ok((
            AuditLog {
                tx,
                write_timeout,
                durable,
                writable,
            },
            task,
        ))
    }

    /// The number of entries known to be durable (flushed), and every later change of it. The
    /// sender is dropped when the writer stops.
    pub fn durable(&self) -> watch::Receiver<u64> {
        self.durable.clone()
    }

    /// Whether the writer's last batch was written (`true` until one fails, then `false` until
    /// one succeeds again), and every change of it. The sender is dropped when the writer stops.
    pub fn writable(&self) -> watch::Receiver<bool> {
        self.writable.clone()
    }

    /// Appends `entry` and waits until it is durable.
    pub async fn record(&self, entry: AuditEntry) -> Result<Committed, AuditError> {
        self.submit(entry, None).await
    }

    /// Appends `entry` together with the changes `effects` computes, atomically, and waits
    /// until both are durable.
    pub async fn record_with(
        &self,
        entry: AuditEntry,
        effects: Effects,
    ) -> Result<Committed, AuditError> {
        self.submit(entry, Some(effects)).await
    }

    /// Records `entry` with `effects` and returns once both are applied (visible to reads),
    /// before they are durable; [`Staged::durable`] waits for that. The write timeout covers
    /// both waits together.
    pub async fn record_staged(
        &self,
        entry: AuditEntry,
        effects: Effects,
    ) -> Result<Staged, AuditError> {
        let (applied, was_applied) = oneshot::channel();
        let (job, staged) = self.job(entry, Some(effects), Some(applied));
        let wait = async {
            self.send(job).await?;
            Ok(was_applied.await.is_ok())
        };
        if within(staged.deadline, self.write_timeout, wait).await? {
            return Ok(staged);
        }
        // Not applied: the writer answers why.
        match staged.durable().await {
            Err(e) => Err(e),
            Ok(_) => Err(AuditError::Unavailable(Unwritable::WriteFailed)),
        }
    }

    async fn submit(
        &self,
        entry: AuditEntry,
        effects: Option<Effects>,
    ) -> Result<Committed, AuditError> {
        let (job, staged) = self.job(entry, effects, None);
        within(staged.deadline, self.write_timeout, self.send(job)).await?;
        staged.durable().await
    }

    /// A job for the writer and the handle its answer arrives on; the write timeout starts now.
    fn job(
        &self,
        entry: AuditEntry,
        effects: Option<Effects>,
        applied: Option<oneshot::Sender<()>>,
    ) -> (Job, Staged) {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            entry,
            effects,
            applied,
            reply,
        };
        let staged = Staged {
            answer,
            deadline: tokio::time::Instant::now() + self.write_timeout,
            write_timeout: self.write_timeout,
        };
        (job, staged)
    }

    async fn send(&self, job: Job) -> Result<(), AuditError> {
        self.tx
            .send(job)
            .await
            .map_err(|_| AuditError::Unavailable(Unwritable::WriterStopped))
    }
}

fn nanos(ts: &Timestamp) -> i128 {
    i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos)
}

/// [`Store::append`] off the runtime's threads: it waits for the log file's sync.
async fn append(
    store: &Store,
    first: u64,
    leaves: Vec<LeafRecord>,
    changes: Changes,
) -> Result<(), crate::store::StoreError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.append(first, &leaves, changes))
        .await
        .unwrap_or_else(|e| Err(crate::store::StoreError::Interrupted(e.to_string())))
}

/// Batches applied to the store, waiting for the flush that makes them durable.
struct Applied {
    jobs: Vec<Job>,
    first: u64,
    at: Timestamp,
    /// The log's size once this batch is durable.
    size: u64,
    started: std::time::Instant,
}

/// A flush in progress and the batches it covers.
type Flushing = (
    JoinHandle<Result<(), crate::store::StoreError>>,
    Vec<Applied>,
);

/// Waits for the flush in progress, if any (never resolves otherwise).
async fn flushed(flushing: &mut Option<Flushing>) -> Result<(), crate::store::StoreError> {
    match flushing {
        Some((task, _)) => task
            .await
            .unwrap_or_else(|e| Err(crate::store::StoreError::Interrupted(e.to_string()))),
        None => std::future::pending().await,
    }
}

/// What the writer publishes about its log.
struct State {
    /// The durable size.
    durable: watch::Sender<u64>,
    /// Whether the last batch was written.
    writable: watch::Sender<bool>,
}

impl State {
    /// Records whether a batch was written; watchers wake only on a change.
    fn written(&self, ok: bool) {
        // The process-wide gauge (exposition only) is set by `audit_batch` on success.
        if !ok {
            crate::metrics::global().audit_failure();
        }
        self.writable.send_if_modified(|writable| {
            let changed = *writable != ok;
            *writable = ok;
            changed
        });
    }
}

/// Answers the calls of `batches` once their flush ended with `result`.
fn finish(batches: Vec<Applied>, result: Result<(), crate::store::StoreError>, state: &State) {
    match result {
        Ok(()) => {
            // One flush, one new durable size: readers of the size wake once. Published before
            // any caller hears back, so whatever a caller does next (waking a watch stream that
            // reads only durable items) sees its entry durable.
            if let Some(size) = batches.last().map(|batch| batch.size) {
                state.durable.send_replace(size);
            }
            for batch in batches {
                let count = batch.jobs.len();
                for (i, job) in batch.jobs.into_iter().enumerate() {
                    let _ = job.reply.send(Ok(Committed {
                        index: batch.first + i as u64,
                        at: batch.at,
                    }));
                }
                crate::metrics::global().audit_batch(count, batch.started.elapsed(), batch.size);
            }
            state.written(true);
        }
        Err(e) => {
            // Applied but not known to be durable: the indexes are taken, and the next
            // successful flush makes these entries durable and publishes the size. No caller
            // may disclose anything meanwhile.
            let count: usize = batches.iter().map(|b| b.jobs.len()).sum();
            tracing::error!(error = %e, batch = count, "audit flush failed");
            state.written(false);
            for job in batches.into_iter().flat_map(|b| b.jobs) {
                let _ = job
                    .reply
                    .send(Err(AuditError::Unavailable(Unwritable::WriteFailed)));
            }
        }
    }
}

async fn run(
    store: Store,
    mut rx: mpsc::Receiver<Job>,
    mut frontier: Frontier,
    state: State,
    max_batch: usize,
) {
    let mut next = frontier.size();
    let mut last_at = Timestamp::default();
    let mut waiting: Vec<Applied> = Vec::new();
    let mut flushing: Option<Flushing> = None;
    let mut open = true;
    while open || flushing.is_some() || !waiting.is_empty() {
        if flushing.is_none() && !waiting.is_empty() {
            let store = store.clone();
            let task = tokio::spawn(async move { store.flush().await });
            flushing = Some((task, std::mem::take(&mut waiting)));
        }
        tokio::select! {
            biased;
            result = flushed(&mut flushing) => {
                if let Some((_, batches)) = flushing.take() {
                    finish(batches, result, &state);
                }
            }
            first = rx.recv(), if open => {
                let Some(first) = first else {
                    open = false;
                    continue;
                };
                let mut jobs = Vec::with_capacity(max_batch);
                jobs.push(first);
                while jobs.len() < max_batch {
                    match rx.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
                let mut at = super::now();
                if nanos(&at) < nanos(&last_at) {
                    at = last_at;
                }
                let mut leaves = Vec::with_capacity(jobs.len());
                let mut changes = Changes::new();
                // The frontier as it will be once this batch is applied; kept only if it is.
                let mut grown = frontier.clone();
                for (i, job) in jobs.iter_mut().enumerate() {
                    let index = next + i as u64;
                    job.entry.index = index;
                    job.entry.at = Some(at);
                    let leaf = job.entry.encode_to_vec();
                    let nodes = grown
                        .push(leaf_hash(&leaf))
                        .into_iter()
                        .map(|(_, _, hash)| hash)
                        .collect();
                    leaves.push(LeafRecord { leaf, nodes });
                    if let Some(effects) = job.effects.take() {
                        changes.extend(effects(index, &at));
                    }
                }
                let started = std::time::Instant::now();
                let count = leaves.len() as u64;
                let applied = match append(&store, next, leaves, changes).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(error = %e, batch = count, "audit append failed");
                        state.written(false);
                        for job in jobs.drain(..) {
                            let _ = job
                                .reply
                                .send(Err(AuditError::Unavailable(Unwritable::WriteFailed)));
                        }
                        // Nothing was applied (the batch is atomic) unless the failure came
                        // after it; then its indexes are taken and a later flush covers it.
                        store.log_size().map(|size| size != next).unwrap_or(true)
                    }
                };
                if applied {
                    for job in &mut jobs {
                        if let Some(applied) = job.applied.take() {
                            let _ = applied.send(());
                        }
                    }
                    waiting.push(Applied {
                        jobs,
                        first: next,
                        at,
                        size: next + count,
                        started,
                    });
                    next += count;
                    frontier = grown;
                    last_at = at;
                }
            }
            else => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn staged_entries_are_readable_before_they_are_durable_and_fail_closed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (log, task) = AuditLog::start(store.clone(), Duration::from_secs(5), 64).unwrap();
        let version = crate::store::AdvisoryVersion {
            advisory_id: "adv-staged".into(),
            version: 1,
            ..Default::default()
        };
        let staged = log
            .record_staged(
                AuditEntry::default(),
                Box::new(move |_, _| {
                    let mut changes = Changes::new();
                    changes.advisory_version(&version);
                    changes
                }),
            )
            .await
            .unwrap();
        // Applied: the next change under a lock would read it.
        assert_eq!(
            store
                .latest_advisory("adv-staged")
                .unwrap()
                .unwrap()
                .version,
            1
        );
        assert_eq!(store.log_size().unwrap(), 1);
        let committed = staged.durable().await.unwrap();
        assert_eq!(committed.index, 0);
        assert_eq!(*log.durable().borrow(), 1);

        // A failed append is an error at once, and nothing is applied.
        store.faults().fail_appends(true);
        let err = log
            .record_staged(AuditEntry::default(), Box::new(|_, _| Changes::new()))
            .await
            .unwrap_err();
        assert!(matches!(err, AuditError::Unavailable(_)), "{err:?}");
        assert_eq!(store.log_size().unwrap(), 1);
        store.faults().fail_appends(false);
        let staged = log
            .record_staged(AuditEntry::default(), Box::new(|_, _| Changes::new()))
            .await
            .unwrap();
        assert_eq!(staged.durable().await.unwrap().index, 1);
        drop(log);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn assigns_contiguous_indexes_and_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (log, task) = AuditLog::start(store.clone(), Duration::from_secs(5), 64).unwrap();
        let durable = log.durable();
        let mut waits = Vec::new();
        for i in 0..100 {
            let log = log.clone();
            waits.push(tokio::spawn(async move {
                log.record(AuditEntry {
                    request_id: format!("r{i}"),
                    ..Default::default()
                })
                .await
            }));
        }
        let mut indexes = Vec::new();
        for w in waits {
            indexes.push(w.await.unwrap().unwrap().index);
        }
        indexes.sort();
        assert_eq!(indexes, (0..100).collect::<Vec<_>>());
        assert_eq!(store.log_size().unwrap(), 100);
        assert_eq!(*durable.borrow(), 100);
        let mut hashes = Vec::new();
        for (i, leaf) in store.leaves(0, 100).map(Result::unwrap) {
            let entry = AuditEntry::decode(leaf.as_slice()).unwrap();
            assert_eq!(entry.index, i);
            hashes.push(leaf_hash(&leaf));
        }
        // Every complete subtree is stored, so the root needs only the frontier's nodes.
        assert_eq!(
            crate::audit::merkle::root_at(&store, 100).unwrap(),
            crate::audit::merkle::root_from_leaf_hashes(&hashes)
        );
        assert!(store.tree_node(6, 0).unwrap().is_some());
        assert_eq!(store.tree_node(0, 99).unwrap(), Some(hashes[99]));

        store.faults().fail_appends(true);
        let err = log.record(AuditEntry::default()).await.unwrap_err();
        assert!(matches!(err, AuditError::Unavailable(_)));
        assert_eq!(store.log_size().unwrap(), 100);
        store.faults().fail_appends(false);
        assert_eq!(log.record(AuditEntry::default()).await.unwrap().index, 100);
        drop(log);
        task.await.unwrap();

        // A restart rebuilds the frontier from the stored nodes and carries on.
        let (log, task) = AuditLog::start(store.clone(), Duration::from_secs(5), 64).unwrap();
        assert_eq!(log.record(AuditEntry::default()).await.unwrap().index, 101);
        drop(log);
        task.await.unwrap();
        let hashes: Vec<_> = store
            .leaves(0, 102)
            .map(|r| leaf_hash(&r.unwrap().1))
            .collect();
        assert_eq!(
            crate::audit::merkle::root_at(&store, 102).unwrap(),
            crate::audit::merkle::root_from_leaf_hashes(&hashes)
        );
    }
}
