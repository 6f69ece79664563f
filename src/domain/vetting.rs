//! Vetting: match a party's tokens against advisories it may see, grade, and remember the answer
//! for idempotent repeats.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;
use prost_types::Timestamp;

use super::values::{AdvisoryState, Relation, RiskGrade, TokenKind};
use super::vet_outcome::{Decided, VetAnswers, VetMatch, VetOutcome, Vetted};
use super::{
    cursor, rank, state_at, subject_kind_i32, token_kind_byte, visible_to, AdvisoryAt, Error,
    Gateway,
};
use crate::audit::AuditEntry;
use crate::identity::Identity;
use crate::store::{Changes, IdempotencyRecord, IdempotencyStamp, VetWatch, WatchedToken};

use super::input::{SubjectToken, VetQuery};

pub use super::strength::strength;

impl VetQuery {
    /// SHA-256 over the request's content: an identical repeat has the same fingerprint.
    pub(crate) fn fingerprint(&self) -> Vec<u8> {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(b"vet:v1\0");
        ctx.update(&(self.subject_kind as i32).to_be_bytes());
        ctx.update(&(self.key_id.len() as u32).to_be_bytes());
        ctx.update(self.key_id.as_bytes());
        ctx.update(&(self.tokens.len() as u32).to_be_bytes());
        for t in &self.tokens {
            ctx.update(&[token_kind_byte(t.kind)]);
            ctx.update(&t.digest);
        }
        ctx.update(&(self.case_reference.len() as u32).to_be_bytes());
        ctx.update(self.case_reference.as_bytes());
        // Appended only when present, so requests without linked subjects keep the
        // fingerprints remembered before linked subjects existed.
        if !self.linked.is_empty() {
            ctx.update(b"\0linked");
            ctx.update(&(self.linked.len() as u32).to_be_bytes());
            for l in &self.linked {
                ctx.update(&(l.label.len() as u32).to_be_bytes());
                ctx.update(l.label.as_bytes());
                ctx.update(&(l.relation as i32).to_be_bytes());
                ctx.update(&(l.tokens.len() as u32).to_be_bytes());
                for t in &l.tokens {
                    ctx.update(&[token_kind_byte(t.kind)]);
                    ctx.update(&t.digest);
                }
            }
        }
        ctx.finish().as_ref().to_vec()
    }
}

/// The idempotency scope of a party.
/// The scope prefix of a party's remembered answers.
pub(super) const PARTY_SCOPE: &str = "party/";

pub(super) fn party_scope(party: &str) -> String {
    format!("{PARTY_SCOPE}{party}")
}

impl Gateway {
    /// Vets one subject, and its linked subjects, for `party`. `draft` is the call's audit entry
    /// (actor, method, request fields); on success it is completed and committed with the
    /// answer remembered in the form `answers` gives it. The outcome is durably audited when
    /// this returns.
    pub async fn vet(
        &self,
        party: &Identity,
        q: VetQuery,
        draft: &AuditEntry,
        answers: &dyn VetAnswers,
    ) -> Result<Vetted, Error> {
        if !self.settings.load().matching_key_ids.contains(&q.key_id) {
            return Err(Error::invalid(
                "key_id",
                "not a configured matching-key epoch",
            ));
        }
        let scope = party_scope(&party.org);
        let fingerprint = q.fingerprint();
        let _guard = self.vet_locks.lock(&[&scope, &q.request_id]).await;

        if let Some(previous) = self.store.idempotency(&scope, &q.request_id)? {
            return self.repeat(previous, &fingerprint, draft, answers).await;
        }

        let now = crate::audit::now();
        let found = self.matches(&party.org, &q, &now)?;
        let mut entry = draft.clone();
        entry.grade = found.grade as i32;
        entry.advisory_ids = found
            .matches
            .iter()
            .map(|(m, _)| m.advisory.version.advisory_id.clone())
            .collect();
        let hits: Vec<(String, String, u32, Vec<i32>, i32)> = found
            .matches
            .iter()
            .map(|(m, owner)| {
                (
                    owner.clone(),
                    m.advisory.version.advisory_id.clone(),
                    m.advisory.version.version,
                    m.matched_on.iter().map(|k| *k as i32).collect(),
                    m.relation as i32,
                )
            })
            .collect();
        let outcome = VetOutcome {
            request_id: q.request_id.clone(),
            grade: found.grade,
            subject_grade: found.subject_grade,
            matches: found.matches.into_iter().map(|(m, _)| m).collect(),
        };
        // Everything of the remembered answer but its audit index and time is encoded here,
        // before the writer's serial commit: the writer only appends the stamp.
        let record = IdempotencyRecord {
            fingerprint,
            response: answers.remember(&outcome),
            watch: Some(VetWatch {
                key_id: q.key_id.clone(),
                subject_kind: subject_kind_i32(q.subject_kind),
                case_reference: q.case_reference.clone(),
                tokens: watched_tokens(&q),
            }),
            audit_index: 0,
            decided_at: None,
        }
        .encode_to_vec();
        let request_id = q.request_id.clone();
        let party_id = party.org.clone();
        let subject_kind = subject_kind_i32(q.subject_kind);
        let any_hit = !hits.is_empty();
        // The request's tokens travel in the remembered answer, one key: the notice sweep reads
        // them when an advisory changes (see `notice_sweep`).
        let committed = self
            .log
            .record_with(
                entry,
                Box::new(move |index, at| {
                    let mut changes = Changes::new();
                    // Tell each matched advisory's unit about the hit.
                    for (i, (owner, advisory_id, version, matched_on, relation)) in
                        hits.into_iter().enumerate()
                    {
                        let mut h = super::monitor::hit(
                            cursor(index, i),
                            &advisory_id,
                            version,
                            &party_id,
                            subject_kind,
                            matched_on,
                            *at,
                            index,
                        );
                        // The relation only: the party's label never reaches officials.
                        h.relation = relation;
                        changes.hit(&owner, h.cursor, h.encode_to_vec());
                    }
                    let mut record = record;
                    let stamp = IdempotencyStamp {
                        audit_index: index,
                        decided_at: Some(*at),
                    };
                    record.extend_from_slice(&stamp.encode_to_vec());
                    changes.idempotency_encoded(&scope, &request_id, record);
                    changes
                }),
            )
            .await?;
        if any_hit {
            self.feed_changed();
        }
        Ok(Vetted::New {
            outcome,
            decided: Decided {
                audit_index: committed.index,
                at: committed.at,
            },
        })
    }

    /// Answers a repeated request id: the original answer if the content is identical.
    async fn repeat(
        &self,
        previous: IdempotencyRecord,
        fingerprint: &[u8],
        draft: &AuditEntry,
        answers: &dyn VetAnswers,
    ) -> Result<Vetted, Error> {
        if previous.fingerprint != fingerprint {
            return Err(Error::AlreadyExists(
                "request_id: already used by this party with different content".into(),
            ));
        }
        let Some(summary) = answers.summary(&previous.response) else {
            tracing::error!("remembered vetting answer does not decode");
            return Err(Error::Unreadable(super::Stored::VetAnswer));
        };
        // Encoded before its audit index was known: the stamp carries it.
        let decided = previous.decided_at.map(|at| Decided {
            audit_index: previous.audit_index,
            at,
        });
        let mut entry = draft.clone();
        entry.grade = summary.grade;
        entry.detail = format!(
            "repeat of audit entry {}",
            decided.map_or(summary.audit_index, |d| d.audit_index)
        );
        entry.advisory_ids = summary.advisory_ids;
        self.log.record(entry).await?;
        Ok(Vetted::Repeat {
            remembered: previous.response,
            decided,
        })
    }

    /// Every advisory `party` may see that matches the subject or a linked subject now, once
    /// per path (subject, or each linked subject's label), highest grade first.
    fn matches(&self, party: &str, q: &VetQuery, now: &Timestamp) -> Result<Found, Error> {
        let kind = subject_kind_i32(q.subject_kind);
        let mut matches = Vec::new();
        for (path, (via, relation, tokens)) in paths(q).into_iter().enumerate() {
            let mut found: BTreeMap<String, BTreeSet<TokenKind>> = BTreeMap::new();
            for t in tokens {
                for id in self.store.advisory_ids_for_token(
                    &q.key_id,
                    token_kind_byte(t.kind),
                    &t.digest,
                )? {
                    found.entry(id).or_default().insert(t.kind);
                }
            }
            for (id, kinds) in found {
                let Some(v) = self.store.latest_advisory(&id)? else {
                    continue;
                };
                // A linked subject counts as the request's subject kind (api.md).
                if state_at(&v, now) != AdvisoryState::Active || !visible_to(&v, party, kind) {
                    continue;
                }
                let owner = v.owner_org.clone();
                let m = VetMatch {
                    matched_on: kinds.iter().copied().collect(),
                    strength: strength(&kinds),
                    tier: super::strength::tier(&kinds),
                    via: via.to_owned(),
                    relation,
                    advisory: AdvisoryAt {
                        version: v,
                        at: *now,
                    },
                };
                matches.push((path, m, owner));
            }
        }
        matches.sort_by(|(pa, a, _), (pb, b, _)| {
            let key = |m: &VetMatch| {
                let v = &m.advisory.version;
                (rank(v.grade), v.advisory_id.clone())
            };
            let (ga, ia) = key(a);
            let (gb, ib) = key(b);
            gb.cmp(&ga).then(ia.cmp(&ib)).then(pa.cmp(pb))
        });
        let highest = |on_subject: bool| {
            matches
                .iter()
                .filter(|(path, _, _)| !on_subject || *path == 0)
                .filter_map(|(_, m, _)| RiskGrade::try_from(m.advisory.version.grade).ok())
                .max_by_key(|g| *g as i32)
                .unwrap_or(RiskGrade::NoTrace)
        };
        Ok(Found {
            grade: highest(false),
            subject_grade: highest(true),
            matches: matches
                .into_iter()
                .map(|(_, m, owner)| (m, owner))
                .collect(),
        })
    }
}

/// What [`Gateway::matches`] found.
struct Found {
    /// Highest grade over every path; NO_TRACE if nothing matched.
    grade: RiskGrade,
    /// Highest grade over matches on the subject itself.
    subject_grade: RiskGrade,
    /// Each match with the official unit owning its advisory, highest grade first.
    matches: Vec<(VetMatch, String)>,
}

/// The request's paths in order: the subject (via `""`, no relation), then each linked subject.
fn paths(q: &VetQuery) -> Vec<(&str, Relation, &[SubjectToken])> {
    std::iter::once(("", Relation::Unspecified, q.tokens.as_slice()))
        .chain(
            q.linked
                .iter()
                .map(|l| (l.label.as_str(), l.relation, l.tokens.as_slice())),
        )
        .collect()
}

/// Each distinct token of the request (kind byte and digest) with the paths that carry it, as
/// [`crate::store::WatchRecord::via`] stores them: a token only on the subject keeps the empty
/// list records had before linked subjects existed.
fn watched_tokens(q: &VetQuery) -> Vec<WatchedToken> {
    let mut by_token: BTreeMap<[u8; 33], Vec<String>> = BTreeMap::new();
    for (via, _, tokens) in paths(q) {
        for t in tokens {
            let mut b = [0u8; 33];
            b[0] = token_kind_byte(t.kind);
            b[1..].copy_from_slice(&t.digest);
            let list = by_token.entry(b).or_default();
            if !list.iter().any(|v| v == via) {
                list.push(via.to_owned());
            }
        }
    }
    by_token
        .into_iter()
        .map(|(t, via)| WatchedToken {
            token: t.to_vec(),
            via: if via.len() == 1 && via[0].is_empty() {
                Vec::new()
            } else {
                via
            },
        })
        .collect()
}
