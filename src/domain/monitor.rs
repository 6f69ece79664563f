//! Continuous monitoring: notices to parties when an advisory matching one of their earlier
//! requests is published, revised, withdrawn or expires; hits to the official unit that owns an
//! advisory when a party's vet matches it. Both are stored durably, in commit order, under
//! cursors, so a reader that reconnects with its last cursor misses nothing and sees nothing
//! twice. A party's notice cursors are its own sequence (1, 2, 3, …), so they reveal nothing
//! about other parties' requests or the gateway's overall activity.

use std::collections::BTreeSet;

use prost::Message;
use prost_types::Timestamp;

use super::feed::{PartyAdvisory, StoredHit, StoredNotice};
use super::values::{NoticeKind, Relation};
use super::{visible_to, AdvisoryGuard, Error, Gateway};
use crate::audit::AuditEntry;
use crate::store::{AdvisoryVersion, Changes};

/// The most notices or hits read from the store at once.
pub const FEED_PAGE: usize = 64;

/// Notices for one change of an advisory, without cursors yet (set at commit).
#[derive(Debug, Default)]
pub(crate) struct PendingNotices {
    notices: Vec<(String, StoredNotice)>,
}

impl PendingNotices {
    /// How many notices.
    pub(crate) fn len(&self) -> usize {
        self.notices.len()
    }

    /// Adds the notices, with the cursors [`Gateway::number_notices`] gave them, to `changes`.
    pub(crate) fn store(self, changes: &mut Changes) {
        for (party, notice) in self.notices {
            changes.notice(&party, notice.cursor, notice.encode_to_vec());
        }
    }
}

/// The next notice cursor of each party: a per-party sequence, so that a cursor tells its party
/// only how many notices it received itself, never anything of other parties' activity.
#[derive(Debug, Default)]
pub(crate) struct NoticeCursors(std::sync::Mutex<std::collections::HashMap<String, u64>>);

impl Gateway {
    /// Gives each pending notice the next cursor of its party. Called under the advisory lock,
    /// which every change producing notices holds until its notices are applied, so cursors
    /// grow in commit order within each party and a reader resuming after one misses nothing.
    /// A number is never handed out twice while running (a failed commit leaves a gap); after
    /// a restart the sequence continues after the party's last stored cursor.
    fn number_notices(&self, pending: &mut PendingNotices) -> Result<(), Error> {
        let mut next = self
            .notice_cursors
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (party, notice) in &mut pending.notices {
            let cursor = match next.get(party.as_str()) {
                Some(&c) => c,
                None => self.store.last_notice_cursor(party)?.saturating_add(1),
            };
            notice.cursor = cursor;
            next.insert(party.clone(), cursor.saturating_add(1));
        }
        Ok(())
    }
}

impl Gateway {
    /// The notices a change to an advisory produces: one per party request and path (the
    /// subject, or a linked subject) (within the retention window, party still accredited)
    /// that shares a token with it and may see it.
    /// Withdrawals go to those who could see the previous version. The watch index is first
    /// brought up to date with the log (callers hold the advisory lock).
    pub(crate) async fn notices_for(
        &self,
        version: &AdvisoryVersion,
        previous: Option<&AdvisoryVersion>,
        kind: NoticeKind,
        now: &Timestamp,
    ) -> Result<PendingNotices, Error> {
        self.catch_up_watches().await?;
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
                if !notify {
                    continue;
                }
                // One notice per path of the request the token was vetted on: the subject
                // itself (via empty) and each linked subject carrying it.
                for via in w.record.paths() {
                    if seen.insert((w.party.clone(), w.request_id.clone(), via.clone())) {
                        pending.notices.push((
                            w.party.clone(),
                            StoredNotice {
                                cursor: 0,
                                request_id: w.request_id.clone(),
                                kind: kind as i32,
                                advisory: Some(PartyAdvisory::of(version, now)),
                                case_reference: w.record.case_reference.clone(),
                                via,
                            },
                        ));
                    }
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
            let guard = self.lock_for_change().await?;
            let mut changes = Changes::new();
            changes.unschedule_expiry(secs, &id);
            let latest = self.store.latest_advisory(&id)?;
            let pending = match &latest {
                Some(v)
                    if v.version == version
                        && !v.withdrawn
                        && v.valid_until.is_some_and(|u| u.seconds == secs) =>
                {
                    self.notices_for(v, None, NoticeKind::Expired, &now).await?
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
        mut pending: PendingNotices,
        guard: AdvisoryGuard<'_>,
    ) -> Result<(), Error> {
        self.number_notices(&mut pending)?;
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
                Box::new(move |_, _| {
                    pending.store(&mut changes);
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
    pub fn notices_after(&self, party: &str, after: u64) -> Result<Vec<StoredNotice>, Error> {
        decode_feed(self.store.notices(party, after, FEED_PAGE)?)
    }

    /// Up to [`FEED_PAGE`] hits of official `unit` after `after`.
    pub fn hits_after(&self, unit: &str, after: u64) -> Result<Vec<StoredHit>, Error> {
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
