//! Advisories: publish, revise and withdraw with immutable versions and optimistic
//! concurrency; read and list for officials.

use prost::Message;
use prost_types::Timestamp;

use super::input::{AdvisoryTerms, NewAdvisory, PageRequest, Revision, Withdrawal};
use super::monitor::notice_job;
use super::values::NoticeKind;
use super::{nanos, token_kind_byte, AdvisoryGuard, Error, Gateway, Stored};
use crate::audit::AuditEntry;
use crate::identity::Identity;
use crate::store::{AdvisoryVersion, Changes, IdempotencyRecord};

/// An advisory version as read or written at a moment: its state (active, expired, withdrawn)
/// is computed from that moment, never stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvisoryAt {
    /// The version.
    pub version: AdvisoryVersion,
    /// When it was read or written.
    pub at: Timestamp,
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq)]
pub enum Published {
    /// A new advisory, at version 1.
    New(Box<AdvisoryAt>),
    /// A repeat of an earlier publish with the same request id and content: nothing changed,
    /// and the answer is the one remembered then (in the form [`PublishAnswers`] gave it).
    Repeat {
        /// The remembered answer.
        remembered: Vec<u8>,
    },
}

/// How the answer to a publish is remembered for its request id. The gRPC layer owns the form
/// (the encoded answer it sent); the rules store it with the advisory and hand it back, as
/// [`Published::Repeat`], when the request id comes again with the same content.
pub trait PublishAnswers: Send + Sync {
    /// The remembered form of the answer to a new publish.
    fn remember(&self, published: &AdvisoryAt) -> Vec<u8>;
    /// The advisory ids a remembered answer names (for its audit entry), or None if it is
    /// unreadable.
    fn advisory_ids(&self, remembered: &[u8]) -> Option<Vec<String>>;
}

/// A page of advisories (latest versions, in id order).
#[derive(Debug, Clone, PartialEq)]
pub struct AdvisoryPage {
    /// The advisories of the page.
    pub versions: Vec<AdvisoryVersion>,
    /// When the page was read.
    pub at: Timestamp,
    /// The advisory id to continue after, if there are more.
    pub next_after: Option<String>,
}

/// Default lifetime of an advisory without `valid_until`.
const DEFAULT_VALIDITY_SECS: i64 = 365 * 86_400;
/// Longest lifetime of an advisory, in calendar years.
const MAX_VALIDITY_YEARS: i32 = 5;

/// `now` plus five calendar years (29 February moves to 28 February).
fn max_valid_until(now: &Timestamp) -> Timestamp {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(now.seconds) else {
        return *now;
    };
    let year = t.year() + MAX_VALIDITY_YEARS;
    let later = t
        .replace_year(year)
        .or_else(|_| (t - time::Duration::days(1)).replace_year(year))
        .unwrap_or(t);
    Timestamp {
        seconds: later.unix_timestamp(),
        nanos: now.nanos,
    }
}

fn official_scope(unit: &str) -> String {
    format!("official/{unit}")
}

impl NewAdvisory {
    fn fingerprint(&self) -> Vec<u8> {
        // The encoded request is deterministic for equal content.
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(b"publish:v1\0");
        ctx.update(&(self.key_id.len() as u32).to_be_bytes());
        ctx.update(self.key_id.as_bytes());
        for t in &self.tokens {
            ctx.update(&[token_kind_byte(t.kind)]);
            ctx.update(&t.digest);
        }
        ctx.update(&terms_bytes(&self.terms));
        ctx.finish().as_ref().to_vec()
    }
}

fn terms_bytes(t: &AdvisoryTerms) -> Vec<u8> {
    AdvisoryVersion {
        grade: t.grade as i32,
        likelihood: t.likelihood as i32,
        handling: t.handling as i32,
        guidance: t.guidance.clone(),
        audience: t.audience.clone(),
        applies_to: t.applies_to.iter().map(|k| *k as i32).collect(),
        valid_until: t.valid_until,
        internal_reference: t.internal_reference.clone(),
        ..Default::default()
    }
    .encode_to_vec()
}

fn new_advisory_id() -> Result<String, Error> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::NoRandomness)?;
    Ok(format!("adv-{}", hex::encode(bytes)))
}

impl Gateway {
    /// Checks the terms against the configuration and `now`; returns the effective expiry.
    fn check_terms(&self, terms: &AdvisoryTerms, now: &Timestamp) -> Result<Timestamp, Error> {
        let settings = self.settings.load();
        for (i, p) in terms.audience.iter().enumerate() {
            if !settings.accredited_parties.contains(p) {
                return Err(Error::invalid(
                    format!("audience[{i}]"),
                    "not an accredited party",
                ));
            }
        }
        match terms.valid_until {
            None => Ok(Timestamp {
                seconds: now.seconds + DEFAULT_VALIDITY_SECS,
                nanos: now.nanos,
            }),
            Some(until) => {
                if nanos(&until) <= nanos(now) {
                    return Err(Error::invalid("valid_until", "must be in the future"));
                }
                if nanos(&until) > nanos(&max_valid_until(now)) {
                    return Err(Error::invalid(
                        "valid_until",
                        "must be at most 5 years ahead",
                    ));
                }
                Ok(until)
            }
        }
    }

    /// Publishes a new advisory (version 1) owned by `official`'s unit.
    pub async fn publish(
        &self,
        official: &Identity,
        new: NewAdvisory,
        draft: &AuditEntry,
        answers: &dyn PublishAnswers,
    ) -> Result<Published, Error> {
        if !self.settings.load().matching_key_ids.contains(&new.key_id) {
            return Err(Error::invalid(
                "key_id",
                "not a configured matching-key epoch",
            ));
        }
        let now = crate::audit::now();
        let valid_until = self.check_terms(&new.terms, &now)?;
        let scope = official_scope(&official.org);
        let fingerprint = new.fingerprint();
        let guard = self
            .advisory_locks
            .lock(&["publish", &scope, &new.request_id])
            .await;

        if let Some(previous) = self.store.idempotency(&scope, &new.request_id)? {
            if previous.fingerprint != fingerprint {
                return Err(Error::AlreadyExists(
                    "request_id: already used by this unit with different content".into(),
                ));
            }
            let Some(advisory_ids) = answers.advisory_ids(&previous.response) else {
                tracing::error!("remembered publish answer does not decode");
                return Err(Error::Unreadable(Stored::PublishAnswer));
            };
            let mut entry = draft.clone();
            entry.detail = "repeat of an earlier publish".into();
            entry.advisory_ids = advisory_ids;
            self.log.record(entry).await?;
            return Ok(Published::Repeat {
                remembered: previous.response,
            });
        }

        let id = new_advisory_id()?;
        let NewAdvisory {
            request_id,
            key_id,
            tokens,
            terms,
        } = new;
        let version = AdvisoryVersion {
            advisory_id: id.clone(),
            version: 1,
            grade: terms.grade as i32,
            likelihood: terms.likelihood as i32,
            handling: terms.handling as i32,
            guidance: terms.guidance,
            applies_to: terms.applies_to.iter().map(|k| *k as i32).collect(),
            issued_at: Some(now),
            valid_until: Some(valid_until),
            withdrawn: false,
            audience: terms.audience,
            internal_reference: terms.internal_reference,
            token_count: tokens.len() as u32,
            published_by: official.uri.clone(),
            owner_org: official.org.clone(),
            withdraw_reason: String::new(),
            key_id,
            tokens: tokens
                .iter()
                .map(|t| {
                    let mut b = Vec::with_capacity(33);
                    b.push(token_kind_byte(t.kind));
                    b.extend_from_slice(&t.digest);
                    b
                })
                .collect(),
        };
        let job = notice_job(NoticeKind::Published, &version, None, now);
        let mut changes = Changes::new();
        changes.advisory_version(&version);
        changes.schedule_expiry(valid_until.seconds, &version.advisory_id, 1);
        changes.idempotency(
            &scope,
            &request_id,
            &IdempotencyRecord {
                fingerprint,
                response: answers.remember(&AdvisoryAt {
                    version: version.clone(),
                    at: now,
                }),
                ..Default::default()
            },
        );
        let mut entry = draft.clone();
        entry.advisory_ids = vec![id];
        entry.grade = version.grade;
        self.commit_change(entry, changes, Some(job), guard).await?;
        Ok(Published::New(Box::new(AdvisoryAt { version, at: now })))
    }

    /// Loads the latest version for a change by `official`, checking ownership and version.
    fn current_for_change(
        &self,
        official: &Identity,
        advisory_id: &str,
        expected_version: u32,
    ) -> Result<AdvisoryVersion, Error> {
        let current = self
            .store
            .latest_advisory(advisory_id)?
            .ok_or_else(|| Error::NotFound("advisory_id: no such advisory".into()))?;
        if current.owner_org != official.org {
            return Err(Error::PermissionDenied(
                "advisory_id: the advisory belongs to another unit".into(),
            ));
        }
        if current.version != expected_version {
            return Err(Error::Aborted(format!(
                "expected_version: the advisory is at version {}, not {expected_version}",
                current.version
            )));
        }
        if current.withdrawn {
            return Err(Error::FailedPrecondition(
                "advisory_id: the advisory is withdrawn and cannot change again".into(),
            ));
        }
        Ok(current)
    }

    async fn commit_version(
        &self,
        previous: &AdvisoryVersion,
        next: AdvisoryVersion,
        draft: &AuditEntry,
        now: &Timestamp,
        guard: AdvisoryGuard<'_>,
    ) -> Result<AdvisoryAt, Error> {
        let kind = if next.withdrawn {
            NoticeKind::Withdrawn
        } else {
            NoticeKind::Revised
        };
        let job = notice_job(kind, &next, Some(previous), *now);
        let mut changes = Changes::new();
        changes.advisory_version(&next);
        if let Some(until) = previous.valid_until {
            changes.unschedule_expiry(until.seconds, &previous.advisory_id);
        }
        if let (false, Some(until)) = (next.withdrawn, next.valid_until) {
            changes.schedule_expiry(until.seconds, &next.advisory_id, next.version);
        }
        let mut entry = draft.clone();
        entry.advisory_ids = vec![next.advisory_id.clone()];
        entry.grade = next.grade;
        self.commit_change(entry, changes, Some(job), guard).await?;
        Ok(AdvisoryAt {
            version: next,
            at: *now,
        })
    }

    /// Replaces every mutable field of an advisory, as version n+1.
    pub async fn revise(
        &self,
        official: &Identity,
        rev: Revision,
        draft: &AuditEntry,
    ) -> Result<AdvisoryAt, Error> {
        let now = crate::audit::now();
        let valid_until = self.check_terms(&rev.terms, &now)?;
        let Revision {
            advisory_id,
            expected_version,
            terms,
        } = rev;
        self.next_version(
            official,
            &advisory_id,
            expected_version,
            draft,
            now,
            |current| AdvisoryVersion {
                grade: terms.grade as i32,
                likelihood: terms.likelihood as i32,
                handling: terms.handling as i32,
                guidance: terms.guidance,
                applies_to: terms.applies_to.iter().map(|k| *k as i32).collect(),
                valid_until: Some(valid_until),
                audience: terms.audience,
                internal_reference: if terms.internal_reference.is_empty() {
                    current.internal_reference.clone()
                } else {
                    terms.internal_reference
                },
                ..current.clone()
            },
        )
        .await
    }

    /// Withdraws an advisory, as version n+1; it stops matching at once.
    pub async fn withdraw(
        &self,
        official: &Identity,
        w: Withdrawal,
        draft: &AuditEntry,
    ) -> Result<AdvisoryAt, Error> {
        let now = crate::audit::now();
        let Withdrawal {
            advisory_id,
            expected_version,
            reason,
        } = w;
        self.next_version(
            official,
            &advisory_id,
            expected_version,
            draft,
            now,
            |current| AdvisoryVersion {
                withdrawn: true,
                withdraw_reason: reason,
                ..current.clone()
            },
        )
        .await
    }

    /// Commits version n+1 of `advisory_id`, as `change` makes it from version n (numbered,
    /// dated `now` and signed by `official` here), under the advisory's lock and only if version n
    /// is `expected_version` and the official's unit owns it.
    async fn next_version(
        &self,
        official: &Identity,
        advisory_id: &str,
        expected_version: u32,
        draft: &AuditEntry,
        now: Timestamp,
        change: impl FnOnce(&AdvisoryVersion) -> AdvisoryVersion,
    ) -> Result<AdvisoryAt, Error> {
        let guard = self.advisory_locks.lock(&["advisory", advisory_id]).await;
        let current = self.current_for_change(official, advisory_id, expected_version)?;
        let next = AdvisoryVersion {
            version: current.version + 1,
            issued_at: Some(now),
            published_by: official.uri.clone(),
            ..change(&current)
        };
        self.commit_version(&current, next, draft, &now, guard)
            .await
    }

    /// One version of an advisory: the latest if `version` is 0.
    pub async fn advisory(
        &self,
        advisory_id: &str,
        version: u32,
        draft: &AuditEntry,
    ) -> Result<AdvisoryAt, Error> {
        let now = crate::audit::now();
        let latest = self
            .store
            .latest_advisory(advisory_id)?
            .ok_or_else(|| Error::NotFound("advisory_id: no such advisory".into()))?;
        let v = if version == 0 || version == latest.version {
            latest
        } else if version > latest.version {
            return Err(Error::NotFound(format!(
                "version: the advisory has {} version{}",
                latest.version,
                if latest.version == 1 { "" } else { "s" }
            )));
        } else {
            self.store
                .advisory_version(advisory_id, version)?
                .ok_or_else(|| Error::NotFound(format!("version: no version {version}")))?
        };
        let mut entry = draft.clone();
        entry.advisory_ids = vec![v.advisory_id.clone()];
        self.log.record(entry).await?;
        Ok(AdvisoryAt {
            version: v,
            at: now,
        })
    }

    /// A page of advisories (latest versions), in id order.
    pub async fn list(&self, page: PageRequest, draft: &AuditEntry) -> Result<AdvisoryPage, Error> {
        let now = crate::audit::now();
        let (versions, more) = self
            .store
            .advisories_page(page.after.as_deref(), page.page_size)?;
        let next_after = match (more, versions.last()) {
            (true, Some(last)) => Some(last.advisory_id.clone()),
            _ => None,
        };
        let mut entry = draft.clone();
        entry.advisory_ids = versions.iter().map(|v| v.advisory_id.clone()).collect();
        self.log.record(entry).await?;
        Ok(AdvisoryPage {
            versions,
            at: now,
            next_after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_calendar_years() {
        // 2024-02-29T12:00:00Z -> 2029-02-28T12:00:00Z
        let leap = Timestamp {
            seconds: 1_709_208_000,
            nanos: 0,
        };
        assert_eq!(
            max_valid_until(&leap).seconds,
            1_709_208_000 + 1826 * 86_400
        );
        // 2026-11-21T00:00:00Z -> 2031-11-21T00:00:00Z (two leap days between)
        let t = Timestamp {
            seconds: 1_795_219_200,
            nanos: 5,
        };
        let m = max_valid_until(&t);
        assert_eq!(m.seconds, 1_795_219_200 + 1826 * 86_400);
        assert_eq!(m.nanos, 5);
    }
}
