//! The gRPC layer, and the only layer that knows protobuf messages: the [`auth`] layer in front
//! of every service, the tonic services ([`vetting`], [`advisory`], [`audit`]), request
//! validation (`validate`: proto → the domain's inputs), the answers built from domain results
//! (`views`), and the one mapping of domain errors to gRPC codes.
//!
//! A handler turns its proto request into a validated domain input, calls the
//! [`crate::domain::Gateway`], and builds its answer from the result. Successful calls are
//! audited by the domain (atomically with their state change); failed ones here, with the code
//! they answer.

pub(crate) mod advisory;
pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod codec;
pub(crate) mod receipt;
mod validate;
pub(crate) mod vetting;
pub(crate) mod views;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

use crate::audit::{AuditEntry, AuditLog};
use crate::domain::Error;
use crate::identity::{Identity, PeerIdentity};

/// The gRPC code of a domain error: the single place errors become codes. Exhaustive, with no
/// catch-all: a new variant does not compile until it is given its code here.
pub(crate) fn code_of(e: &Error) -> Code {
    match e {
        Error::InvalidArgument { .. } => Code::InvalidArgument,
        Error::NotFound(_) => Code::NotFound,
        Error::AlreadyExists(_) => Code::AlreadyExists,
        Error::Aborted(_) => Code::Aborted,
        Error::FailedPrecondition(_) => Code::FailedPrecondition,
        Error::PermissionDenied(_) => Code::PermissionDenied,
        Error::ResourceExhausted { .. } => Code::ResourceExhausted,
        Error::Unimplemented(_) => Code::Unimplemented,
        Error::AuditUnwritable(_)
        | Error::Unreadable(_)
        | Error::NoRandomness
        | Error::NotProcessed
        | Error::EvaluationFailed
        | Error::ShuttingDown(_) => Code::Unavailable,
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Status {
        let mut status = Status::new(code_of(&e), e.to_string());
        if let Error::ResourceExhausted { retry_after_ms } = e {
            if let Ok(v) = MetadataValue::try_from(retry_after_ms.to_string()) {
                status.metadata_mut().insert("retry-after-ms", v);
            }
        }
        status
    }
}

/// What the [`auth`] layer established about a call, handed to the handler in the request's
/// extensions.
#[derive(Debug, Clone)]
pub(crate) struct CallContext {
    /// The peer, as verified at the handshake.
    pub peer: Arc<PeerIdentity>,
    /// The full gRPC method path.
    pub method: String,
    audited: Arc<AtomicBool>,
}

impl CallContext {
    pub(crate) fn new(peer: Arc<PeerIdentity>, method: String, audited: Arc<AtomicBool>) -> Self {
        CallContext {
            peer,
            method,
            audited,
        }
    }

    /// The context of a request that passed the auth layer.
    pub(crate) fn of<T>(req: &tonic::Request<T>) -> Result<CallContext, Status> {
        req.extensions()
            .get::<CallContext>()
            .cloned()
            .ok_or_else(|| Status::permission_denied("no authenticated caller"))
    }

    /// The caller's identity (the auth layer only lets well-formed identities through).
    pub(crate) fn identity(&self) -> Result<&Identity, Status> {
        self.peer
            .identity
            .as_ref()
            .map_err(|e| Status::permission_denied(e.to_string()))
    }

    /// A fresh audit entry for this call.
    pub(crate) fn draft(&self) -> AuditEntry {
        crate::audit::draft(&self.peer, &self.method)
    }

    /// Tells the auth layer that the handler has dealt with auditing this call.
    pub(crate) fn mark_audited(&self) {
        self.audited.store(true, Ordering::SeqCst);
    }
}

/// Records a failed call with its code and returns the status to answer; if even the failure
/// cannot be recorded, the answer is UNAVAILABLE. Every refusal is recorded except one for
/// which the log itself cannot be written.
pub(crate) async fn fail(
    log: &AuditLog,
    ctx: &CallContext,
    mut entry: AuditEntry,
    e: Error,
) -> Status {
    ctx.mark_audited();
    if let Error::AuditUnwritable(_) = e {
        // The log itself is what failed; there is nothing more to record.
        return e.into();
    }
    entry.code = code_of(&e) as i32;
    entry.detail = e.to_string();
    tracing::debug!(method = %ctx.method, code = entry.code, "call refused");
    match log.record(entry).await {
        Ok(_) => e.into(),
        Err(audit) => crate::domain::Error::from(audit).into(),
    }
}

/// How many watched items may wait to be sent to a slow client.
const FEED_BUFFER: usize = 16;

/// Streams a feed (notices or hits) after `after`: each item is audited before it is sent,
/// then the stream waits for new items. Memory stays bounded (a small buffer; the client's
/// flow control pushes back). Ends when the client goes away or the gateway shuts down.
pub(crate) fn feed_stream<T, R, D>(
    gateway: Arc<crate::domain::Gateway>,
    ctx: CallContext,
    mut after: u64,
    read: R,
    describe: D,
) -> tokio_stream::wrappers::ReceiverStream<Result<T, Status>>
where
    T: Send + 'static,
    R: Fn(&crate::domain::Gateway, u64) -> Result<Vec<T>, Error> + Send + 'static,
    D: Fn(&T, &mut AuditEntry) -> u64 + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(FEED_BUFFER);
    tokio::spawn(async move {
        let mut feed = gateway.feed();
        let mut closing = gateway.closing();
        loop {
            if *closing.borrow_and_update() {
                let _ = tx
                    .send(Err(
                        Error::ShuttingDown(crate::domain::StreamKind::Watch).into()
                    ))
                    .await;
                return;
            }
            feed.borrow_and_update();
            let items = match read(&gateway, after) {
                Ok(items) => items,
                Err(e) => {
                    let status = fail(gateway.log(), &ctx, ctx.draft(), e).await;
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            };
            if items.is_empty() {
                tokio::select! {
                    _ = feed.changed() => {}
                    _ = closing.changed() => {}
                    _ = tx.closed() => return,
                }
                continue;
            }
            for item in items {
                let mut entry = ctx.draft();
                let cursor = describe(&item, &mut entry);
                if let Err(e) = gateway.log().record(entry).await {
                    let _ = tx.send(Err(Error::from(e).into())).await;
                    return;
                }
                if tx.send(Ok(item)).await.is_err() {
                    return;
                }
                after = cursor;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// Records the opening of a watch stream.
pub(crate) async fn record_open(
    log: &AuditLog,
    ctx: &CallContext,
    after: u64,
) -> Result<(), Status> {
    ctx.mark_audited();
    let mut entry = ctx.draft();
    entry.detail = format!("watch opened after cursor {after}");
    log.record(entry)
        .await
        .map(|_| ())
        .map_err(|e| Error::from(e).into())
}

/// The largest request message accepted, in bytes (tonic's default, set explicitly on every
/// service so that the answer to a larger message can name it).
pub(crate) const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// The answer to a request message over [`MAX_MESSAGE_BYTES`], on unary calls and streams
/// alike, from tonic's `OUT_OF_RANGE` rejection text (whose size it keeps when it can read it).
pub(crate) fn too_large(tonic_message: &str) -> Status {
    let found = tonic_message
        .split("found ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    let size = found.map(|n| format!(" of {n} bytes")).unwrap_or_default();
    Status::resource_exhausted(format!(
        "request: message{size} exceeds the limit of {MAX_MESSAGE_BYTES} bytes"
    ))
}

/// Keeps at most `max` characters of a client-supplied string for the audit record.
pub(crate) fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_messages_name_the_limit() {
        let s = too_large(
            "Error, decoded message length too large: found 5242893 bytes, the limit is: 4194304 bytes",
        );
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert_eq!(
            s.message(),
            "request: message of 5242893 bytes exceeds the limit of 4194304 bytes"
        );
        assert_eq!(
            too_large("something else").message(),
            "request: message exceeds the limit of 4194304 bytes"
        );
    }

    /// Every way a call can be UNAVAILABLE keeps its own message, none names a cause.
    #[test]
    fn unavailable_refusals_keep_their_messages() {
        use crate::audit::Unwritable;
        use crate::domain::{Stored, StreamKind};
        let nothing = "storage unavailable; nothing was disclosed or changed";
        let log = "audit log unavailable; nothing was disclosed or changed";
        let cases = [
            (Error::AuditUnwritable(Unwritable::TimedOut), log),
            (Error::AuditUnwritable(Unwritable::CheckpointNotStored), log),
            (Error::Unreadable(Stored::Records), nothing),
            (Error::Unreadable(Stored::VetAnswer), nothing),
            (
                Error::Unreadable(Stored::PublishAnswer),
                "storage unavailable; nothing was changed",
            ),
            (Error::Unreadable(Stored::FeedItem), "storage unavailable"),
            (Error::Unreadable(Stored::AuditLog), log),
            (
                Error::Unreadable(Stored::ReplayedLeaf),
                "audit log unreadable",
            ),
            (Error::NoRandomness, "system randomness unavailable"),
            (Error::NotProcessed, "item was not processed"),
            (
                Error::EvaluationFailed,
                "evaluation failed; nothing was evaluated",
            ),
            (
                Error::ShuttingDown(StreamKind::Watch),
                "gateway shutting down; resume from your last cursor",
            ),
            (
                Error::ShuttingDown(StreamKind::Replay),
                "gateway shutting down",
            ),
        ];
        for (e, message) in cases {
            let status = Status::from(e);
            assert_eq!(status.code(), Code::Unavailable, "{message}");
            assert_eq!(status.message(), message);
        }
    }

    /// A log that cannot be written and stored data that cannot be read stay distinct.
    #[test]
    fn audit_errors_split_into_unwritable_and_unreadable() {
        use crate::audit::{AuditError, Unwritable};
        use crate::domain::Stored;
        use crate::store::StoreError;
        assert_eq!(
            Error::from(AuditError::Unavailable(Unwritable::WriteFailed)),
            Error::AuditUnwritable(Unwritable::WriteFailed)
        );
        assert_eq!(
            Error::from(AuditError::CheckpointNotStored(StoreError::Encoding(
                "x".into()
            ))),
            Error::AuditUnwritable(Unwritable::CheckpointNotStored)
        );
        let corrupt = AuditError::Corrupt {
            index: 3,
            reason: "bad".into(),
        };
        assert_eq!(Error::from(corrupt), Error::Unreadable(Stored::AuditLog));
        let unreadable = StoreError::Corrupt {
            key: "00".into(),
            reason: "bad".into(),
        };
        assert_eq!(
            Error::from(AuditError::Store(unreadable)),
            Error::Unreadable(Stored::AuditLog)
        );
        let unreadable = StoreError::Corrupt {
            key: "00".into(),
            reason: "bad".into(),
        };
        assert_eq!(Error::from(unreadable), Error::Unreadable(Stored::Records));
    }
}
