//! The notice sweep: the notices of advisory changes are computed behind the changes, in one
//! pass over the remembered answers for many changes at once.
//!
//! Why: a Vet's tokens are remembered in its one answer record (`I`), written with its audit
//! entry. Indexing them per token instead (a `W` record per token, as earlier layouts did) cost
//! every Vet a dozen random sled inserts, on the answer path or behind it, for the sake of
//! advisory changes, which are rare. So an advisory change (publish, revise, withdraw, expiry)
//! only queues a job (`Q`, keyed by its audit index) atomically with its entry, and answers at
//! once; this sweep then matches every queued change against every party's remembered answers
//! (and the `W` records of earlier layouts), and commits the notices with an audit entry of its
//! own ([`NOTIFY_METHOD`]) that also removes the jobs (jobs that gave no notice are removed
//! without one). After a crash the jobs are still queued and the notices are sent exactly once.
//!
//! A change notifies the requests recorded before it (a lower audit index): a request answered
//! after it already saw the new version in its answer.

use std::collections::{BTreeSet, HashMap};

use prost::Message;
use prost_types::Timestamp;

use super::feed::{PartyAdvisory, StoredNotice};
use super::values::NoticeKind;
use super::vetting::PARTY_SCOPE;
use super::{visible_to, Error, Gateway, Settings, Stored};
use crate::audit::AuditEntry;
use crate::store::{AdvisoryVersion, Changes, NoticeJob, Store, StoreError};

/// The most queued changes matched in one pass over the remembered answers. The pass costs
/// about the same for one change as for many (each answer's tokens are looked up in a map of
/// the changes' tokens), so a burst of changes is swept in few passes.
const JOBS_PER_SWEEP: usize = 16_384;

/// The most bytes of advisory versions one pass holds: 16,384 changes of typical advisories
/// (about 1 KB) fit, while changes of advisories at the limits (256 tokens, 2,000 characters
/// of guidance, two versions each) are taken a few thousand at a time.
const SWEEP_BYTES: usize = 32 << 20;

/// The most changes whose notices are committed with one audit entry (which lists their
/// advisory ids).
const COMMIT_CHANGES: usize = 256;

/// The method recorded for the notices the gateway sends itself.
pub const NOTIFY_METHOD: &str = "portcullis.internal/SendNotices";

/// The next notice cursor of each party: a per-party sequence, so that a cursor tells its party
/// only how many notices it received itself, never anything of other parties' activity.
#[derive(Debug, Default)]
pub(super) struct NoticeCursors(HashMap<String, u64>);

/// A queued advisory change, with the versions it concerns.
#[derive(Debug)]
struct QueuedChange {
    /// The audit index of the change.
    index: u64,
    kind: NoticeKind,
    version: AdvisoryVersion,
    /// The version before a withdrawal (read only for withdrawals).
    previous: Option<AdvisoryVersion>,
    at: Timestamp,
}

impl QueuedChange {
    /// Whether a request of `party` about a subject of `subject_kind`, vetted at `vetted_at`
    /// seconds, is notified of this change.
    fn notifies(&self, party: &str, subject_kind: i32, vetted_at: i64, s: &Settings) -> bool {
        if self.at.seconds.saturating_sub(vetted_at) > s.retention_secs
            || !s.accredited_parties.contains(party)
        {
            return false;
        }
        match self.kind {
            NoticeKind::Withdrawn => self
                .previous
                .as_ref()
                .is_some_and(|p| visible_to(p, party, subject_kind)),
            _ => visible_to(&self.version, party, subject_kind),
        }
    }

    fn notice(&self, request_id: &str, case_reference: &str, via: String) -> StoredNotice {
        StoredNotice {
            cursor: 0,
            request_id: request_id.to_owned(),
            kind: self.kind as i32,
            advisory: Some(PartyAdvisory::of(&self.version, &self.at)),
            case_reference: case_reference.to_owned(),
            via,
            audit_index: 0,
        }
    }
}

/// The notices of one change, without cursors yet, each once per (party, request, path).
#[derive(Debug, Default)]
struct ChangeNotices {
    seen: BTreeSet<(String, String, String)>,
    notices: Vec<(String, StoredNotice)>,
}

impl ChangeNotices {
    fn add(
        &mut self,
        party: &str,
        request_id: &str,
        via: String,
        make: impl FnOnce(String) -> StoredNotice,
    ) {
        if self
            .seen
            .insert((party.to_owned(), request_id.to_owned(), via.clone()))
        {
            self.notices.push((party.to_owned(), make(via)));
        }
    }
}

impl Gateway {
    /// Sends the notices of up to 16,384 queued advisory changes (and at most 32 MiB of their
    /// versions), oldest first, in one pass over the remembered answers; returns how many
    /// changes it handled. Run by a background task whenever a change is queued (and every
    /// second); one sweep at a time.
    pub async fn send_queued_notices(&self) -> Result<usize, Error> {
        let mut cursors = self.notice_sweep.lock().await;
        let jobs = self.store.notice_jobs(JOBS_PER_SWEEP)?;
        if jobs.is_empty() {
            return Ok(0);
        }
        // The versions read stay in memory for the pass: at most SWEEP_BYTES of them (always
        // at least one change), the rest wait for the next pass.
        let mut changes = Vec::with_capacity(jobs.len());
        let mut bytes = 0;
        for (index, job) in jobs {
            if bytes >= SWEEP_BYTES {
                break;
            }
            let change = self.queued_change(index, job)?;
            bytes += change.version.encoded_len()
                + change.previous.as_ref().map_or(0, |p| p.encoded_len());
            changes.push(change);
        }
        let handled = changes.len();
        let settings = self.settings.load_full();
        let store = self.store.clone();
        let (changes, found) =
            tokio::task::spawn_blocking(move || match_changes(&store, changes, &settings))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "notice sweep interrupted");
                    Error::Unreadable(Stored::Records)
                })??;

        // Changes that gave no notice go without an audit entry; the others are committed
        // with their notices, at most COMMIT_CHANGES per entry, in change order.
        let mut silent = Vec::new();
        let mut noisy = Vec::new();
        for (change, found) in changes.into_iter().zip(found) {
            if found.notices.is_empty() {
                silent.push(change.index);
            } else {
                noisy.push((change, found.notices));
            }
        }
        if !silent.is_empty() {
            self.store.drop_notice_jobs(&silent)?;
        }
        let mut noisy = noisy.into_iter().peekable();
        while noisy.peek().is_some() {
            let chunk: Vec<_> = noisy.by_ref().take(COMMIT_CHANGES).collect();
            self.commit_notices(&mut cursors, chunk).await?;
        }
        Ok(handled)
    }

    /// Numbers the notices of `changes`, and commits them with an audit entry of their own
    /// that also removes the changes' jobs; then wakes the watch streams.
    async fn commit_notices(
        &self,
        cursors: &mut NoticeCursors,
        changes: Vec<(QueuedChange, Vec<(String, StoredNotice)>)>,
    ) -> Result<(), Error> {
        let k = changes.len();
        let mut advisory_ids: Vec<String> = Vec::new();
        let mut sent = Vec::with_capacity(k);
        let mut notices = Vec::new();
        for (change, found) in changes {
            if !advisory_ids.contains(&change.version.advisory_id) {
                advisory_ids.push(change.version.advisory_id);
            }
            sent.push(change.index);
            notices.extend(found);
        }
        self.number_notices(cursors, &mut notices)?;
        let n = notices.len();
        let entry = AuditEntry {
            method: NOTIFY_METHOD.to_owned(),
            advisory_ids,
            detail: format!(
                "{n} notices for {k} advisory change{}",
                if k == 1 { "" } else { "s" }
            ),
            ..Default::default()
        };
        self.log
            .record_with(
                entry,
                Box::new(move |index, _| {
                    let mut changes = Changes::new();
                    for (party, mut notice) in notices {
                        notice.audit_index = index;
                        changes.notice(&party, notice.cursor, notice.encode_to_vec());
                    }
                    for index in sent {
                        changes.notices_sent(index);
                    }
                    changes
                }),
            )
            .await?;
        self.feed_changed();
        Ok(())
    }

    /// The change a queued job stands for, with its versions read from the store.
    fn queued_change(&self, index: u64, job: NoticeJob) -> Result<QueuedChange, Error> {
        let unreadable = |what: &'static str| {
            tracing::error!(index, what, "queued notice job cannot be read");
            Error::Unreadable(Stored::Records)
        };
        let kind = NoticeKind::try_from(job.kind).map_err(|_| unreadable("kind"))?;
        let version = self
            .store
            .advisory_version(&job.advisory_id, job.version)?
            .ok_or_else(|| unreadable("advisory version"))?;
        // Only a withdrawal's notices depend on the version before (who could see it).
        let previous = match (kind, job.previous_version) {
            (NoticeKind::Withdrawn, v) if v > 0 => Some(
                self.store
                    .advisory_version(&job.advisory_id, v)?
                    .ok_or_else(|| unreadable("previous advisory version"))?,
            ),
            _ => None,
        };
        Ok(QueuedChange {
            index,
            kind,
            version,
            previous,
            at: job.at.ok_or_else(|| unreadable("time"))?,
        })
    }

    /// Gives each notice the next cursor of its party. Called under the sweep's lock (which
    /// owns the cursors), and the sweep is the only producer of notices, so cursors grow in
    /// commit order within each party and a reader resuming after one misses nothing. A number
    /// is never handed out twice while running (a failed commit leaves a gap); after a restart
    /// the sequence continues after the party's last stored cursor.
    fn number_notices(
        &self,
        next: &mut NoticeCursors,
        notices: &mut [(String, StoredNotice)],
    ) -> Result<(), Error> {
        for (party, notice) in notices {
            let cursor = match next.0.get(party.as_str()) {
                Some(&c) => c,
                None => self.store.last_notice_cursor(party)?.saturating_add(1),
            };
            notice.cursor = cursor;
            next.0.insert(party.clone(), cursor.saturating_add(1));
        }
        Ok(())
    }
}

/// The notices of each change (same order): one pass over the parties' remembered answers, then
/// the `W` records of earlier layouts for each change's tokens.
fn match_changes(
    store: &Store,
    changes: Vec<QueuedChange>,
    settings: &Settings,
) -> Result<(Vec<QueuedChange>, Vec<ChangeNotices>), StoreError> {
    let mut found: Vec<ChangeNotices> = changes.iter().map(|_| ChangeNotices::default()).collect();
    {
        // Key epoch → token → the changes carrying it.
        let mut by_token: HashMap<&str, HashMap<&[u8], Vec<usize>>> = HashMap::new();
        for (i, c) in changes.iter().enumerate() {
            let tokens = by_token.entry(c.version.key_id.as_str()).or_default();
            for t in &c.version.tokens {
                let carrying = tokens.entry(t.as_slice()).or_default();
                if carrying.last() != Some(&i) {
                    carrying.push(i);
                }
            }
        }
        for request in store.watched_requests(PARTY_SCOPE) {
            let request = request?;
            let Some(party) = request.scope.strip_prefix(PARTY_SCOPE) else {
                continue;
            };
            let (Some(watch), Some(decided_at)) =
                (&request.answer.watch, &request.answer.decided_at)
            else {
                continue;
            };
            let Some(tokens) = by_token.get(watch.key_id.as_str()) else {
                continue;
            };
            for t in &watch.tokens {
                let Some(carrying) = tokens.get(t.token.as_slice()) else {
                    continue;
                };
                for &i in carrying {
                    let change = &changes[i];
                    // Answered after the change: its answer already reflected it.
                    if request.answer.audit_index >= change.index
                        || !change.notifies(party, watch.subject_kind, decided_at.seconds, settings)
                    {
                        continue;
                    }
                    for via in t.paths() {
                        found[i].add(party, &request.request_id, via, |via| {
                            change.notice(&request.request_id, &watch.case_reference, via)
                        });
                    }
                }
            }
        }
    }
    if store.has_watch_records()? {
        for (change, notices) in changes.iter().zip(found.iter_mut()) {
            for token in &change.version.tokens {
                for w in store.watchers(&change.version.key_id, token)? {
                    if !change.notifies(
                        &w.party,
                        w.record.subject_kind,
                        w.record.vetted_at,
                        settings,
                    ) {
                        continue;
                    }
                    for via in w.record.paths() {
                        notices.add(&w.party, &w.request_id, via, |via| {
                            change.notice(&w.request_id, &w.record.case_reference, via)
                        });
                    }
                }
            }
        }
    }
    Ok((changes, found))
}
