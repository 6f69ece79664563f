//! The watch index, built behind the answers: a Vet remembers its tokens in one record (its
//! remembered answer) written with its audit entry, and this indexer, following the audit log,
//! writes the per-token watch records (`W`) of many requests at once, in key order.
//!
//! Why: writing a watch record per token on every Vet made each answer wait for a dozen random
//! sled inserts on the audit writer's serial path (about 100 µs of serial work per Vet at four
//! tokens, more with variant tokens). Notices are needed only when an advisory changes, which is
//! rare, so the index may lag behind the answers as long as every advisory change first brings
//! it up to date: [`Gateway::notices_for`] calls [`Gateway::catch_up_watches`] under the
//! advisory lock before it reads watchers, so a notice misses no request recorded before the
//! change.
//!
//! The indexer's position moves only once the records before it are written (see
//! [`Store::index_watches`]): after a crash it resumes from the last durable position, and
//! re-writing a record changes nothing. Records an advisory change computed notices from are
//! durable at the latest with that change's own flush.

use std::time::Duration;

use prost::Message;

use super::vetting::party_scope;
use super::{Error, Gateway, Stored};
use crate::audit::AuditEntry;
use crate::store::{Store, StoreError, WatchBatch, WatchRecord};

/// The most audit entries indexed in one batch (the position moves, durably, once per batch).
const CHUNK: u64 = 4_096;

/// Ranges at most this long are indexed on the calling task (a publish catching up a few
/// entries); longer ones on a blocking thread.
const INLINE: u64 = 64;

/// How far the index may run ahead of its durable position over entries that gave no watch
/// record, before the position is written anyway. A crash re-reads at most this many entries
/// (and finds nothing to write in them); below it, an advisory change catching up over its own
/// and other advisory changes' entries writes nothing to sled.
const PERSIST_AFTER: u64 = 4_096;

/// Where the watch index stands, kept under the indexer's lock: read from the store once, then
/// moved in memory; written to the store with every watch record, and at least every
/// [`PERSIST_AFTER`] entries.
#[derive(Debug, Default)]
pub(super) struct Position {
    /// The first entry not indexed yet, once read from the store.
    next: Option<u64>,
    /// The position last written to the store.
    durable: u64,
}

/// How often the background indexer catches up with the log.
pub(super) const INDEX_INTERVAL: Duration = Duration::from_millis(100);

impl Gateway {
    /// Takes the advisory lock for an advisory change, having first brought the watch index up
    /// to the log outside it. The change's [`Gateway::notices_for`] still catches up under the
    /// lock, but only the few entries answered meanwhile, so a backlog (after a burst of
    /// VetBatch, or a restart) never holds other advisory changes waiting.
    pub(crate) async fn lock_for_change(&self) -> Result<tokio::sync::MutexGuard<'_, ()>, Error> {
        self.catch_up_watches().await?;
        Ok(self.advisory_lock.lock().await)
    }

    /// Brings the watch index up to every entry applied to the audit log so far; returns the
    /// index it is complete up to.
    pub async fn catch_up_watches(&self) -> Result<u64, Error> {
        let target = self.store.log_size()?;
        let mut position = self.watch_indexer.lock().await;
        let mut next = match position.next {
            Some(next) => next,
            None => {
                let stored = self.store.watches_indexed()?;
                position.durable = stored;
                stored
            }
        };
        while next < target {
            let to = target.min(next.saturating_add(CHUNK));
            if to - next <= INLINE {
                let batch = watches_in(&self.store, next, to)?;
                if !batch.is_empty() || to - position.durable >= PERSIST_AFTER {
                    self.store.index_watches(batch, to)?;
                    position.durable = to;
                }
            } else {
                let store = self.store.clone();
                tokio::task::spawn_blocking(move || {
                    store.index_watches(watches_in(&store, next, to)?, to)
                })
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "watch indexing interrupted");
                    Error::Unreadable(Stored::Records)
                })??;
                position.durable = to;
            }
            next = to;
            position.next = Some(next);
        }
        Ok(next)
    }
}

/// The watch records of the party requests recorded at audit indexes `[from, to)`.
///
/// An entry is a party's answered Vet when the party's remembered answer for its request id
/// quotes this very index (a repeat, a refusal or another caller's entry does not) and carries
/// the request's tokens (records written before the index existed do not: their watch records
/// were written with them).
fn watches_in(store: &Store, from: u64, to: u64) -> Result<WatchBatch, StoreError> {
    let mut batch = WatchBatch::new();
    for item in store.leaves(from, to) {
        let (index, leaf) = item?;
        let entry = match AuditEntry::decode(leaf.as_slice()) {
            Ok(entry) => entry,
            Err(e) => {
                // Verification reports a damaged log; the index goes on without it.
                tracing::error!(index, error = %e, "audit entry does not decode; not watched");
                continue;
            }
        };
        if entry.code != 0 || entry.tokens.is_empty() || entry.request_id.is_empty() {
            continue;
        }
        let Some(actor) = &entry.actor else { continue };
        let Some(record) = store.idempotency(&party_scope(&actor.org), &entry.request_id)? else {
            continue;
        };
        let (Some(watch), Some(at)) = (record.watch, record.decided_at) else {
            continue;
        };
        if record.audit_index != index {
            continue;
        }
        for t in watch.tokens {
            let w = WatchRecord {
                subject_kind: watch.subject_kind,
                vetted_at: at.seconds,
                case_reference: watch.case_reference.clone(),
                via: t.via,
            };
            batch.watch(&watch.key_id, &t.token, &actor.org, &entry.request_id, &w);
        }
    }
    Ok(batch)
}
