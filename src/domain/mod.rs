//! The rules of the gateway, independent of gRPC transport: who may see which advisory, how a
//! vetting request is matched and graded, how advisories are versioned.
//!
//! Inputs arrive as validated types ([`VetQuery`], [`NewAdvisory`], …, in [`input`]), which the
//! gRPC layer builds from the protobuf messages (`crate::service`'s `validate`); the advisory
//! rules answer with domain types ([`AdvisoryAt`], [`Published`], [`AdvisoryPage`], [`Vetted`],
//! …) from which the gRPC layer builds its responses. Successful operations record their audit entry
//! themselves, atomically with their state change; the gRPC layer records failures.
//!
//! - [`input`]: the validated inputs and their limits.
//! - `advisory`: publish, revise, withdraw, read and list advisories.
//! - `vetting`: match a vetting request, grade it, remember the answer and watch the subject.
//! - `vet_outcome`: what a vet answers ([`Vetted`]) and how its answer is remembered.
//! - `monitor`: notices to parties and hits to officials when advisories change.
//! - `feed`: notices and hits as stored ([`StoredNotice`], [`StoredHit`]).
//! - `strength`: how strong a match is, from the kinds of tokens that matched.
//! - `notice_sweep`: the notices of queued advisory changes, computed behind the changes.
//! - `background`: the periodic rounds (expiry announcements, the notice sweep).
//! - [`values`]: the contract's enumerations the rules speak in.

mod advisory;
mod background;
mod feed;
pub mod input;
mod key_locks;
mod monitor;
mod notice_sweep;
mod strength;
pub mod values;
mod vet_outcome;
mod vetting;

use std::collections::BTreeSet;
use std::sync::Arc;

use arc_swap::ArcSwap;
use prost_types::Timestamp;

use crate::audit::{AuditError, AuditLog, Unwritable};
use crate::store::{AdvisoryVersion, Store, StoreError};
use values::{AdvisoryState, RiskGrade, SubjectKind, TokenKind};

pub use advisory::{AdvisoryAt, AdvisoryPage, PublishAnswers, Published};
pub use background::{announce_expiries, sweep_notices};
pub use feed::{PartyAdvisory, StoredHit, StoredNotice};
pub use input::{
    is_advisory_id, is_key_id, is_label, AdvisoryTerms, Linked, NewAdvisory, PageRequest, Revision,
    SubjectToken, VetQuery, Withdrawal, DEFAULT_PAGE_SIZE, MAX_ADVISORY_TOKENS, MAX_GUIDANCE_CHARS,
    MAX_INTERNAL_REFERENCE_CHARS, MAX_LABEL_CHARS, MAX_LINKED, MAX_PAGE_SIZE, MAX_REASON_CHARS,
    MAX_VET_TOKENS,
};
pub use monitor::{EXPIRE_METHOD, FEED_PAGE};
pub use notice_sweep::NOTIFY_METHOD;
pub use strength::{tier, tier_of};
pub use vet_outcome::{Decided, RememberedVet, VetAnswers, VetMatch, VetOutcome, Vetted};
pub use vetting::strength;

/// Why a call failed. Mapped to a gRPC status in exactly one place (`crate::service`).
/// Messages never contain tokens, guidance or internal references.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A field breaks a rule of the contract.
    #[error("{field}: {rule}")]
    InvalidArgument {
        /// The field path, e.g. `tokens[2].digest`.
        field: String,
        /// The rule it breaks.
        rule: String,
    },
    /// The named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request id was used before with different content.
    #[error("{0}")]
    AlreadyExists(String),
    /// An optimistic version check failed.
    #[error("{0}")]
    Aborted(String),
    /// The operation is not allowed in the current state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// The caller exceeded a rate limit.
    #[error("rate limit exceeded; retry after {retry_after_ms} ms")]
    ResourceExhausted {
        /// When the caller may try again.
        retry_after_ms: u64,
    },
    /// The method exists in the contract but this gateway does not serve it.
    #[error("{0}")]
    Unimplemented(String),
    /// The audit log cannot be written: the call fails closed, nothing was disclosed or
    /// changed.
    #[error("audit log unavailable; nothing was disclosed or changed")]
    AuditUnwritable(Unwritable),
    /// Stored data cannot be read (the engine failed, or a record does not decode): the data
    /// directory needs an operator.
    #[error("{}", .0.answer())]
    Unreadable(Stored),
    /// The system's random number generator failed.
    #[error("system randomness unavailable")]
    NoRandomness,
    /// An item of a batch ended without an answer (its task panicked or was cancelled).
    #[error("item was not processed")]
    NotProcessed,
    /// The key service accepted a batch but could not evaluate it (its key, its proof step or
    /// the evaluation task failed): nothing was evaluated. The cause is logged, not sent.
    #[error("evaluation failed; nothing was evaluated")]
    EvaluationFailed,
    /// The gateway is shutting down: a long-lived stream ends.
    #[error("{}", .0.answer())]
    ShuttingDown(StreamKind),
}

/// What stored data could not be read ([`Error::Unreadable`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Records the store failed to read (its error is logged, not sent).
    Records,
    /// The answer remembered for a repeated vetting request id.
    VetAnswer,
    /// The answer remembered for a repeated publish request id.
    PublishAnswer,
    /// A notice or hit of a watch feed (items before it may have been sent).
    FeedItem,
    /// The audit log's tree, proofs or checkpoint.
    AuditLog,
    /// A leaf of an audit log replay (records before it may have been sent).
    ReplayedLeaf,
}

impl Stored {
    /// The message of the refusal: what was (not) disclosed or changed.
    fn answer(self) -> &'static str {
        match self {
            Stored::Records | Stored::VetAnswer => {
                "storage unavailable; nothing was disclosed or changed"
            }
            Stored::PublishAnswer => "storage unavailable; nothing was changed",
            Stored::FeedItem => "storage unavailable",
            Stored::AuditLog => "audit log unavailable; nothing was disclosed or changed",
            Stored::ReplayedLeaf => "audit log unreadable",
        }
    }
}

/// Which stream ends at shut-down ([`Error::ShuttingDown`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// A watch of notices or hits, which the client resumes from its cursor.
    Watch,
    /// An audit log replay.
    Replay,
}

impl StreamKind {
    fn answer(self) -> &'static str {
        match self {
            StreamKind::Watch => "gateway shutting down; resume from your last cursor",
            StreamKind::Replay => "gateway shutting down",
        }
    }
}

impl Error {
    /// An [`Error::InvalidArgument`].
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Error {
        Error::InvalidArgument {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "storage failure");
        Error::Unreadable(Stored::Records)
    }
}

impl From<AuditError> for Error {
    fn from(e: AuditError) -> Self {
        tracing::error!(error = %e, "audit failure; failing closed");
        match e {
            AuditError::Unavailable(why) => Error::AuditUnwritable(why),
            AuditError::CheckpointNotStored(_) => {
                Error::AuditUnwritable(Unwritable::CheckpointNotStored)
            }
            AuditError::Store(_)
            | AuditError::Corrupt { .. }
            | AuditError::Checkpoint(_)
            | AuditError::Verify(_) => Error::Unreadable(Stored::AuditLog),
        }
    }
}

/// The parts of the configuration the rules depend on; replaced whole on reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Party ids that may be named in an audience.
    pub accredited_parties: BTreeSet<String>,
    /// Matching-key epochs requests may name.
    pub matching_key_ids: BTreeSet<String>,
    /// How long a vetting request is watched for notices, in seconds.
    pub retention_secs: i64,
}

/// The gateway's rules over its store and audit log.
pub struct Gateway {
    store: Store,
    log: AuditLog,
    settings: Arc<ArcSwap<Settings>>,
    /// Serialises the check-then-commit of a vetting request id, by (party, id).
    vet_locks: key_locks::KeyLocks,
    /// Serialises the changes of one advisory (revise, withdraw, expire: versions cannot race),
    /// and the check-then-commit of a publish request id. Changes to different advisories, and
    /// publications under different request ids, go ahead together and share group commits.
    advisory_locks: key_locks::KeyLocks,
    /// Bumped after every commit that adds notices or hits; watch streams wait on it.
    feed: tokio::sync::watch::Sender<u64>,
    /// Set when the gateway shuts down, so long-lived streams end.
    closing: tokio::sync::watch::Sender<bool>,
    /// Serialises the notice sweep (`notice_sweep`), the only producer of notices; holds the
    /// next notice cursor of each party.
    notice_sweep: tokio::sync::Mutex<notice_sweep::NoticeCursors>,
    /// Woken when an advisory change queues notices, so the sweep sends them at once.
    notices_queued: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").finish_non_exhaustive()
    }
}

const VET_LOCK_SHARDS: usize = 256;
const ADVISORY_LOCK_SHARDS: usize = 256;

/// An advisory's lock held (or a publish request id's): its changes are computed and applied
/// one at a time.
pub(crate) type AdvisoryGuard<'a> = key_locks::KeyGuard<'a>;

impl Gateway {
    /// The rules over `store`, recording to `log`, configured by `settings`.
    pub fn new(store: Store, log: AuditLog, settings: Arc<ArcSwap<Settings>>) -> Gateway {
        Gateway {
            store,
            log,
            settings,
            vet_locks: key_locks::KeyLocks::new(VET_LOCK_SHARDS),
            advisory_locks: key_locks::KeyLocks::new(ADVISORY_LOCK_SHARDS),
            feed: tokio::sync::watch::Sender::new(0),
            closing: tokio::sync::watch::Sender::new(false),
            notice_sweep: tokio::sync::Mutex::new(notice_sweep::NoticeCursors::default()),
            notices_queued: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Tells long-lived streams to end: the gateway is shutting down.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// A receiver that changes when the gateway starts shutting down.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// A receiver that changes whenever notices or hits are added.
    pub fn feed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.feed.subscribe()
    }

    fn feed_changed(&self) {
        self.feed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The audit log the rules record to.
    pub fn log(&self) -> &AuditLog {
        &self.log
    }
}

/// Nanoseconds since the epoch (i128, so no timestamp overflows).
pub(crate) fn nanos(ts: &Timestamp) -> i128 {
    i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos)
}

/// The state of an advisory version read at `now`: expiry is computed, not stored.
pub fn state_at(v: &AdvisoryVersion, now: &Timestamp) -> AdvisoryState {
    if v.withdrawn {
        AdvisoryState::Withdrawn
    } else if v
        .valid_until
        .as_ref()
        .is_some_and(|u| nanos(now) >= nanos(u))
    {
        AdvisoryState::Expired
    } else {
        AdvisoryState::Active
    }
}

/// The grade's rank for "highest grade" (NO_TRACE lowest).
fn rank(grade: i32) -> i32 {
    RiskGrade::try_from(grade).map(|g| g as i32).unwrap_or(0)
}

fn subject_kind_i32(k: SubjectKind) -> i32 {
    k as i32
}

/// Whether `party` vetting a subject of `subject_kind` may see version `v` (state aside).
fn visible_to(v: &AdvisoryVersion, party: &str, subject_kind: i32) -> bool {
    (v.audience.is_empty() || v.audience.iter().any(|p| p == party))
        && (v.applies_to.is_empty() || v.applies_to.contains(&subject_kind))
}

/// The cursor of the `i`-th hit produced by the change recorded at audit `index`: cursors grow
/// with commit order, so a reader resuming after a cursor misses nothing. (Notices to parties
/// use a per-party sequence instead; see `monitor`.)
fn cursor(index: u64, i: usize) -> u64 {
    (index << 24) | (i as u64 & 0xFF_FFFF)
}

fn token_kind_byte(k: TokenKind) -> u8 {
    // TokenKind values are small (validated on input to be known kinds), so the cast cannot
    // truncate.
    k as i32 as u8
}
