//! Continuous monitoring: notices to parties when an advisory matching one of their earlier
//! requests is published, revised, withdrawn or expires; hits to the official unit that owns an
//! advisory when a party's vet matches it. Both are stored durably, in commit order, under
//! cursors, so a reader that reconnects with its last cursor misses nothing and sees nothing
//! twice.

use std::collections::BTreeSet;

use prost::Message;
use prost_types::Timestamp;

use super::{cursor, party_view, visible_to, AdvisoryGuard, Error, Gateway};
use crate::audit::AuditEntry;
use crate::proto::v1::{Hit, Notice, NoticeKind};
use crate::store::{AdvisoryVersion, Changes};

/// The most notices or hits read from the store at once.
pub const FEED_PAGE: usize = 64;

/// Notices for one change of an advisory, without cursors yet (set at commit).
#[derive(Debug, Default)]
pub(crate) struct PendingNotices {
    notices: Vec<(String, Notice)>,
}

impl PendingNotices {
    /// How many notices.
    pub(crate) fn len(&self) -> usize {
        self.notices.len()
    }

    /// Adds the notices, with cursors derived from the change's audit index, to `changes`.
    pub(crate) fn store(self, index: u64, changes: &mut Changes) {
        for (i, (party, mut notice)) in self.notices.into_iter().enumerate() {
            notice.cursor = cursor(index, i);
            changes.notice(&party, notice.cursor, notice.encode_to_vec());
        }
    }
}

impl Gateway {
    /// The notices a change to an advisory produces: one per party request (within the
    /// retention window, party still accredited) that shares a token with it and may see it.
    /// Withdrawals go to those who could see the previous version.
    pub(crate) fn notices_for(
        &self,
        version: &AdvisoryVersion,
        previous: Option<&AdvisoryVersion>,
        kind: NoticeKind,
        now: &Timestamp,
    ) -> Result<PendingNotices, Error> {
        let settings = self.settings.load();
        let mut seen = BTreeSet::new();
        let mut pending = PendingNotices::default();
        for token in &version.tokens {
            for w in self.store.watchers(&version.key_id, token)? {
                if now.seconds - w.record.vetted_at > settings.retention_secs
                    || !settings.accredited_parties.contains(&w.party)
                {
                    continue;
                }
                let kind_of = w.record.subject_kind;
                let notify = match kind {
                    NoticeKind::Withdrawn => {
                        previous.is_some_and(|p| visible_to(p, &w.party, kind_of))
                    }
                    _ => visible_to(version, &w.party, kind_of),
                };
                if notify && seen.insert((w.party.clone(), w.request_id.clone())) {
                    pending.notices.push((
                        w.party,
                        Notice {
                            cursor: 0,
                            request_id: w.request_id,
                            kind: kind as i32,
                            advisory: Some(party_view(version, now)),
                        },
                    ));
                }
            }
        }
        Ok(pending)
    }

    /// Announces the expiry of advisories whose `valid_until` has passed: notices to the
    /// parties that vetted their subjects. Run every second by a background task; returns how
    /// many advisories were handled.
    pub async fn announce_expiries(&self) -> Result<usize, Error> {
        let now = crate::audit::now();
        // One second of margin: expiry is exact to the nanosecond, the schedule to the second.
        let due = self.store.due_expiries(now.seconds - 1, FEED_PAGE)?;
        let mut handled = 0;
        for (secs, id, version) in due {
            let guard = self.advisory_lock.lock().await;
            let mut changes = Changes::new();
            changes.unschedule_expiry(secs, &id);
            let latest = self.store.latest_advisory(&id)?;
            let pending = match &latest {
                Some(v)
                    if v.version == version
                        && !v.withdrawn
                        && v.valid_until.is_some_and(|u| u.seconds == secs) =>
                {
                    self.notices_for(v, None, NoticeKind::Expired, &now)?
                }
                _ => PendingNotices::default(),
            };
            let entry = AuditEntry {
                method: EXPIRE_METHOD.to_owned(),
                advisory_ids: vec![id],
                detail: "advisory expired".into(),
                ..Default::default()
            };
            self.commit_with_notices(entry, changes, pending, guard)
                .await?;
            handled += 1;
        }
        Ok(handled)
    }

    /// Commits `changes` and the notices they cause with `entry` (whose detail gains the
    /// notice count), then wakes the watch streams. `guard` (the advisory lock, under which
    /// the changes were computed) is released once they are applied, so the next advisory
    /// change reads them, and before waiting for them to be durable.
    pub(crate) async fn commit_with_notices(
        &self,
        mut entry: AuditEntry,
        mut changes: Changes,
        pending: PendingNotices,
        guard: AdvisoryGuard<'_>,
    ) -> Result<(), Error> {
        let n = pending.len();
        if n > 0 {
            entry.detail = if entry.detail.is_empty() {
                format!("{n} notices")
            } else {
                format!("{}; {n} notices", entry.detail)
            };
        }
        let staged = self
            .log
            .record_staged(
                entry,
                Box::new(move |index, _| {
                    pending.store(index, &mut changes);
                    changes
                }),
            )
            .await?;
        drop(guard);
        staged.durable().await?;
        if n > 0 {
            self.feed_changed();
        }
        Ok(())
    }

    /// Up to [`FEED_PAGE`] notices of `party` after `after`.
    pub fn notices_after(&self, party: &str, after: u64) -> Result<Vec<Notice>, Error> {
        decode_feed(self.store.notices(party, after, FEED_PAGE)?)
    }

    /// Up to [`FEED_PAGE`] hits of official `unit` after `after`.
    pub fn hits_after(&self, unit: &str, after: u64) -> Result<Vec<Hit>, Error> {
        decode_feed(self.store.hits(unit, after, FEED_PAGE)?)
    }
}

/// The method recorded for expiry announcements made by the gateway itself.
pub const EXPIRE_METHOD: &str = "portcullis.internal/ExpireAdvisory";

fn decode_feed<M: Message + Default>(items: Vec<(u64, Vec<u8>)>) -> Result<Vec<M>, Error> {
    items
        .into_iter()
        .map(|(_, bytes)| {
            M::decode(bytes.as_slice()).map_err(|e| {
                tracing::error!(error = %e, "stored notice or hit does not decode");
                Error::Unavailable("storage unavailable".into())
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
) -> Hit {
    Hit {
        cursor,
        advisory_id: advisory_id.to_owned(),
        advisory_version,
        party: party.to_owned(),
        subject_kind,
        tier: super::strength::tier_of(&matched_on) as i32,
        matched_on,
        at: Some(at),
        audit_index,
    }
}
