//! The notice queue: advisory changes whose notices are still to be sent (`Q` records, keyed by
//! the change's audit index), and the scan of remembered answers the notice sweep matches them
//! against.
//!
//! A change queues its job in the same atomic batch as its audit entry, and the sweep removes
//! it in the same atomic batch as the notices it computed (and that sweep's own audit entry), so
//! after a crash every change's notices are sent exactly once. A sweep that found no notice
//! removes its jobs without an entry ([`Store::drop_notice_jobs`]).

use super::keys::*;
use super::records::{NoticeJob, WatchedAnswer};
use super::*;

impl Changes {
    /// Queues the notices of the advisory change recorded at audit `index`.
    pub fn queue_notices(&mut self, index: u64, job: &NoticeJob) -> &mut Self {
        self.puts
            .push((notice_job_key(index).to_vec(), job.encode_to_vec()));
        self
    }

    /// Removes the job of the change recorded at audit `index`: its notices are sent.
    pub fn notices_sent(&mut self, index: u64) -> &mut Self {
        self.removes.push(notice_job_key(index).to_vec());
        self
    }
}

/// A party's remembered vetting answer, as the notice sweep reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchedRequest {
    /// The scope the answer is remembered in, e.g. `party/alpha`.
    pub scope: String,
    /// The request id.
    pub request_id: String,
    /// What the request watches.
    pub answer: WatchedAnswer,
}

impl Store {
    /// Up to `limit` queued notice jobs, oldest change first: (audit index, job).
    pub fn notice_jobs(&self, limit: usize) -> Result<Vec<(u64, NoticeJob)>, StoreError> {
        let mut out = Vec::new();
        for item in self.db.scan_prefix([NOTICE_JOB]).take(limit) {
            let (key, value) = item?;
            let index = be_u64(&key, &key[1..])?;
            out.push((index, decode(&key, &value)?));
        }
        Ok(out)
    }

    /// Removes the jobs of the changes recorded at `indexes`, which gave no notice, outside the
    /// audit log (there is nothing to record). Durable with the next flush; if a crash comes
    /// first, the jobs are swept again and again give no notice (a sweep reads only requests
    /// recorded before each change).
    pub fn drop_notice_jobs(&self, indexes: &[u64]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for &index in indexes {
            batch.remove(&notice_job_key(index)[..]);
        }
        self.db.apply_batch(batch)?;
        Ok(())
    }

    /// Every remembered answer in a scope starting with `scope_prefix` that watches tokens (a
    /// party's Vet), in key order. Answers without tokens (repeats of earlier layouts, official
    /// requests) are passed over without being decoded further than their watch field.
    pub fn watched_requests<'a>(
        &'a self,
        scope_prefix: &str,
    ) -> impl Iterator<Item = Result<WatchedRequest, StoreError>> + 'a {
        let mut prefix = Vec::with_capacity(scope_prefix.len() + 1);
        prefix.push(IDEMPOTENCY);
        prefix.extend_from_slice(scope_prefix.as_bytes());
        self.db.scan_prefix(prefix).filter_map(|item| {
            let (key, value) = match item {
                Ok(kv) => kv,
                Err(e) => return Some(Err(e.into())),
            };
            let answer: WatchedAnswer = match decode(&key, &value) {
                Ok(a) => a,
                Err(e) => return Some(Err(e)),
            };
            answer.watch.as_ref()?;
            Some(
                split_names(&key, &key[1..]).map(|(scope, request_id)| WatchedRequest {
                    scope,
                    request_id,
                    answer,
                }),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::records::{IdempotencyRecord, VetWatch, WatchedToken};
    use super::*;

    fn job(id: &str) -> NoticeJob {
        NoticeJob {
            advisory_id: id.into(),
            version: 1,
            kind: 1,
            previous_version: 0,
            at: None,
        }
    }

    #[test]
    fn jobs_come_back_in_change_order_and_go_once_sent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut changes = Changes::new();
        changes.queue_notices(300, &job("c"));
        changes.queue_notices(7, &job("a"));
        changes.queue_notices(256, &job("b"));
        store.raw_apply(changes).unwrap();
        let jobs = store.notice_jobs(10).unwrap();
        let order: Vec<_> = jobs
            .iter()
            .map(|(i, j)| (*i, j.advisory_id.as_str()))
            .collect();
        assert_eq!(order, [(7, "a"), (256, "b"), (300, "c")]);
        assert_eq!(store.notice_jobs(1).unwrap().len(), 1);
        let mut sent = Changes::new();
        sent.notices_sent(7);
        store.raw_apply(sent).unwrap();
        store.drop_notice_jobs(&[300]).unwrap();
        let left: Vec<_> = store
            .notice_jobs(10)
            .unwrap()
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        assert_eq!(left, [256]);
    }

    #[test]
    fn only_answers_that_watch_tokens_are_read_with_their_scope_and_request() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let watch = VetWatch {
            key_id: "k".into(),
            subject_kind: 1,
            case_reference: "C-1".into(),
            tokens: vec![WatchedToken {
                token: vec![1; 33],
                via: vec![],
            }],
        };
        let watching = IdempotencyRecord {
            fingerprint: vec![1; 32],
            response: vec![2; 100],
            watch: Some(watch.clone()),
            audit_index: 9,
            decided_at: None,
        };
        let plain = IdempotencyRecord {
            watch: None,
            ..watching.clone()
        };
        let mut changes = Changes::new();
        changes.idempotency("party/a", "r1", &watching);
        changes.idempotency("party/a", "r2", &plain);
        changes.idempotency("official/u", "r3", &watching);
        store.raw_apply(changes).unwrap();
        let found: Vec<_> = store
            .watched_requests("party/")
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            found,
            [WatchedRequest {
                scope: "party/a".into(),
                request_id: "r1".into(),
                answer: WatchedAnswer {
                    watch: Some(watch),
                    audit_index: 9,
                    decided_at: None,
                },
            }]
        );
    }
}
