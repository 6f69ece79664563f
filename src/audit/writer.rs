//! The group-commit writer: one task appends entries from many calls and makes each batch
//! durable with a single flush, then wakes every waiting call.
//!
//! While a flush is in progress new entries queue up, so the batch size follows the load: one
//! flush serves every call that arrived during the previous one. Indexes are assigned here, in
//! order, and times never decrease with the index.

use std::time::Duration;

use prost::Message;
use prost_types::Timestamp;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{AuditEntry, AuditError};
use crate::store::{Changes, Store};

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
    reply: oneshot::Sender<Result<Committed, AuditError>>,
}

/// A handle to the audit log writer. Cheap to clone; the writer stops when every handle is
/// dropped, after making the last batch durable.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Job>,
    write_timeout: Duration,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

/// How many entries may wait for the writer before callers are pushed back.
const QUEUE_DEPTH: usize = 65_536;

impl AuditLog {
    /// Starts the writer over `store`. The returned task ends once every handle is dropped.
    pub fn start(
        store: Store,
        write_timeout: Duration,
        max_batch: usize,
    ) -> Result<(AuditLog, JoinHandle<()>), AuditError> {
        let next = store.log_size()?;
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let task = tokio::spawn(run(store, rx, next, max_batch.max(1)));
        Ok((AuditLog { tx, write_timeout }, task))
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

    async fn submit(
        &self,
        entry: AuditEntry,
        effects: Option<Effects>,
    ) -> Result<Committed, AuditError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            entry,
            effects,
            reply,
        };
        let wait = async {
            self.tx
                .send(job)
                .await
                .map_err(|_| AuditError::Unavailable("writer stopped".into()))?;
            answer
                .await
                .map_err(|_| AuditError::Unavailable("writer stopped".into()))?
        };
        match tokio::time::timeout(self.write_timeout, wait).await {
            Ok(result) => result,
            Err(_) => {
                tracing::error!(
                    timeout_ms = self.write_timeout.as_millis() as u64,
                    "audit entry not durable in time; failing closed"
                );
                Err(AuditError::Unavailable("audit write timed out".into()))
            }
        }
    }
}

fn nanos(ts: &Timestamp) -> i128 {
    i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos)
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>, mut next: u64, max_batch: usize) {
    let mut last_at = Timestamp::default();
    let mut jobs = Vec::with_capacity(max_batch);
    while let Some(first) = rx.recv().await {
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
        for (i, job) in jobs.iter_mut().enumerate() {
            let index = next + i as u64;
            job.entry.index = index;
            job.entry.at = Some(at);
            leaves.push(job.entry.encode_to_vec());
            if let Some(effects) = job.effects.take() {
                changes.extend(effects(index, &at));
            }
        }
        let started = std::time::Instant::now();
        let result = match store.append(next, &leaves, changes) {
            Ok(()) => store.flush().await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                for (i, job) in jobs.drain(..).enumerate() {
                    let _ = job.reply.send(Ok(Committed {
                        index: next + i as u64,
                        at,
                    }));
                }
                next += leaves.len() as u64;
                last_at = at;
                crate::metrics::global().audit_batch(leaves.len(), started.elapsed(), next);
            }
            Err(e) => {
                // Nothing of this batch was applied (the batch is atomic) unless the flush
                // itself failed; either way no caller may disclose anything.
                tracing::error!(error = %e, batch = leaves.len(), "audit batch failed");
                crate::metrics::global().audit_failure();
                if store.log_size().map(|size| size != next).unwrap_or(true) {
                    // The batch was applied but not made durable; its indexes are taken.
                    next += leaves.len() as u64;
                }
                for job in jobs.drain(..) {
                    let _ = job
                        .reply
                        .send(Err(AuditError::Unavailable("audit write failed".into())));
                }
            }
        }
    }
    if let Err(e) = store.flush().await {
        tracing::error!(error = %e, "final audit flush failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn assigns_contiguous_indexes_and_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (log, task) = AuditLog::start(store.clone(), Duration::from_secs(5), 64).unwrap();
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
        for (i, leaf) in store.leaves(0, 100).map(Result::unwrap) {
            let entry = AuditEntry::decode(leaf.as_slice()).unwrap();
            assert_eq!(entry.index, i);
        }

        store.faults().fail_appends(true);
        let err = log.record(AuditEntry::default()).await.unwrap_err();
        assert!(matches!(err, AuditError::Unavailable(_)));
        assert_eq!(store.log_size().unwrap(), 100);
        store.faults().fail_appends(false);
        assert_eq!(log.record(AuditEntry::default()).await.unwrap().index, 100);
        drop(log);
        task.await.unwrap();
    }
}
