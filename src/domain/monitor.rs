//! Continuous monitoring: notices to parties when an advisory matching one of their earlier
//! requests is published, revised, withdrawn or expires; hits to the official unit that owns an
//! advisory when a party's vet matches it. Both are stored durably, in commit order, under
//! cursors, so a reader that reconnects with its last cursor misses nothing and sees nothing
//! twice. A party's notice cursors are its own sequence (1, 2, 3, …), so they reveal nothing
//! about other parties' requests or the gateway's overall activity.
//!
//! An advisory change queues its notices with its own entry; the notice sweep
//! (`notice_sweep`) computes and stores them behind it.

use prost::Message;
use prost_types::Timestamp;

use super::feed::{StoredHit, StoredNotice};
use super::values::{NoticeKind, Relation};
use super::{AdvisoryGuard, Error, Gateway};
use crate::audit::AuditEntry;
use crate::store::{AdvisoryVersion, Changes, NoticeJob};

/// The most notices or hits read from the store at once.
pub const FEED_PAGE: usize = 64;

impl Gateway {
    /// Announces the expiry of advisories whose `valid_until` has passed: notices to the
    /// parties that vetted their subjects. Run every second by a background task; returns how
    /// many advisories were handled.
    pub async fn announce_expiries(&self) -> Result<usize, Error> {
        let now = crate::audit::now();
        // One second of margin: expiry is exact to the nanosecond, the schedule to the second.
        let due = self.store.due_expiries(now.seconds - 1, FEED_PAGE)?;
        let mut handled = 0;
        for (secs, id, version) in due {
            let guard = self.advisory_locks.lock(&["advisory", &id]).await;
            let mut changes = Changes::new();
            changes.unschedule_expiry(secs, &id);
            let latest = self.store.latest_advisory(&id)?;
            let job = match &latest {
                Some(v)
                    if v.version == version
                        && !v.withdrawn
                        && v.valid_until.is_some_and(|u| u.seconds == secs) =>
                {
                    Some(notice_job(NoticeKind::Expired, v, None, now))
                }
                _ => None,
            };
            let entry = AuditEntry {
                method: EXPIRE_METHOD.to_owned(),
                advisory_ids: vec![id],
                detail: "advisory expired".into(),
                ..Default::default()
            };
            self.commit_change(entry, changes, job, guard).await?;
            handled += 1;
        }
        Ok(handled)
    }

    /// Commits `changes` with `entry`, queuing the notices of the advisory change `job`
    /// describes (sent by the notice sweep, `notice_sweep`), and wakes the sweep. `guard` (the
    /// advisory's lock, under which the changes were computed) is released once they are
    /// applied, so the next change of that advisory reads them, and before waiting for them to
    /// be durable.
    pub(crate) async fn commit_change(
        &self,
        entry: AuditEntry,
        mut changes: Changes,
        job: Option<NoticeJob>,
        guard: AdvisoryGuard<'_>,
    ) -> Result<(), Error> {
        let queued = job.is_some();
        let staged = self
            .log
            .record_staged(
                entry,
                Box::new(move |index, _| {
                    if let Some(job) = &job {
                        changes.queue_notices(index, job);
                    }
                    changes
                }),
            )
            .await?;
        drop(guard);
        staged.durable().await?;
        if queued {
            self.notices_queued.notify_one();
        }
        Ok(())
    }

    /// Up to [`FEED_PAGE`] notices of `party` after `after`, up to the first whose entry is
    /// not durable yet (see `durable_only`).
    pub fn notices_after(&self, party: &str, after: u64) -> Result<Vec<StoredNotice>, Error> {
        let notices: Vec<StoredNotice> = decode_feed(self.store.notices(party, after, FEED_PAGE)?)?;
        Ok(durable_only(notices, self.durable_entries(), |n| {
            n.audit_index
        }))
    }

    /// Up to [`FEED_PAGE`] hits of official `unit` after `after`, up to the first whose entry
    /// is not durable yet (see `durable_only`).
    pub fn hits_after(&self, unit: &str, after: u64) -> Result<Vec<StoredHit>, Error> {
        let hits: Vec<StoredHit> = decode_feed(self.store.hits(unit, after, FEED_PAGE)?)?;
        Ok(durable_only(hits, self.durable_entries(), |h| {
            h.audit_index
        }))
    }

    /// How many audit entries are durable.
    fn durable_entries(&self) -> u64 {
        *self.log.durable().borrow()
    }
}

/// The job that queues the notices of a change of `kind` making `version` (from `previous`, for
/// a revision or withdrawal) at `at`; see `notice_sweep`.
pub(super) fn notice_job(
    kind: NoticeKind,
    version: &AdvisoryVersion,
    previous: Option<&AdvisoryVersion>,
    at: Timestamp,
) -> NoticeJob {
    NoticeJob {
        advisory_id: version.advisory_id.clone(),
        version: version.version,
        kind: kind as i32,
        previous_version: previous.map_or(0, |p| p.version),
        at: Some(at),
    }
}

/// The method recorded for expiry announcements made by the gateway itself.
pub const EXPIRE_METHOD: &str = "portcullis.internal/ExpireAdvisory";

/// The items before the first one recorded at an audit index not yet durable (`durable` is
/// the number of durable entries).
///
/// The writer applies a batch before it is durable, and a stream may read the store in
/// between (when it opens, or woken by another commit). An item read then, and lost with its
/// batch in a crash, would have been delivered under a cursor that a later item reuses after the
/// restart, and a reader resuming after that cursor would miss the later one. Items are in
/// commit order, so the rest wait too; the commit's own wake-up, once durable, sends them.
fn durable_only<T>(items: Vec<T>, durable: u64, index: impl Fn(&T) -> u64) -> Vec<T> {
    items
        .into_iter()
        .take_while(|item| index(item) < durable)
        .collect()
}

fn decode_feed<M: Message + Default>(items: Vec<(u64, Vec<u8>)>) -> Result<Vec<M>, Error> {
    items
        .into_iter()
        .map(|(_, bytes)| {
            M::decode(bytes.as_slice()).map_err(|e| {
                tracing::error!(error = %e, "stored notice or hit does not decode");
                Error::Unreadable(super::Stored::FeedItem)
            })
        })
        .collect()
}

/// A hit for the unit owning a matched advisory.
#[allow(clippy::too_many_arguments)]
pub(crate) fn hit(
    cursor: u64,
    advisory_id: &str,
    advisory_version: u32,
    party: &str,
    subject_kind: i32,
    matched_on: Vec<i32>,
    at: Timestamp,
    audit_index: u64,
) -> StoredHit {
    StoredHit {
        cursor,
        advisory_id: advisory_id.to_owned(),
        advisory_version,
        party: party.to_owned(),
        subject_kind,
        tier: super::strength::tier_of(&matched_on) as i32,
        matched_on,
        at: Some(at),
        audit_index,
        relation: Relation::Unspecified as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_stop_at_the_first_entry_not_yet_durable() {
        let at = |indexes: &[u64], durable| durable_only(indexes.to_vec(), durable, |i| *i);
        assert_eq!(at(&[3, 5, 9], 10), [3, 5, 9]);
        assert_eq!(at(&[3, 5, 9], 9), [3, 5]);
        assert_eq!(at(&[3, 5, 9], 4), [3]);
        assert!(at(&[3, 5, 9], 3).is_empty());
        assert!(at(&[], 3).is_empty());
        // Notices stored before the sweep kept its index carry 0: durable.
        assert_eq!(at(&[0, 0], 1), [0, 0]);
    }
}
