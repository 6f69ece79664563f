//! `VettingService/GetReceipt`: a party's proof that it vetted a subject (api.md "Receipts").
//!
//! The handler validates the request, charges one vetting token to the caller's certificate
//! (receipts are cheap, but unbounded asking is not), and asks the audit log's
//! [`Receipts`] reader, which only proves the caller's own successful Vet and VetBatch answers.
//! Anything else is `NOT_FOUND`, with one message whatever the reason, so another party's entry
//! cannot be told from a missing one. Every call is audited: `detail` is
//! `receipt index=I tree_size=N` on success, the error otherwise.

use tonic::Status;

use super::{clip, fail, CallContext};
use crate::audit::receipts::{Issued, Receipts};
use crate::audit::AuditLog;
use crate::domain::{is_key_id, Error};
use crate::limits::{Class, Limiter};
use crate::proto::v1::{GetReceiptRequest, Receipt};

/// What a validated request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wanted {
    Index(u64),
    Request(String),
}

fn wanted(req: GetReceiptRequest) -> Result<Wanted, Error> {
    let GetReceiptRequest {
        audit_index,
        request_id,
    } = req;
    if request_id.is_empty() {
        return Ok(Wanted::Index(audit_index));
    }
    if audit_index != 0 {
        return Err(Error::invalid(
            "audit_index",
            "must be 0 when request_id is given (give one or the other)",
        ));
    }
    if !is_key_id(&request_id) {
        return Err(Error::invalid(
            "request_id",
            "must be 1..=64 characters of [A-Za-z0-9._-]",
        ));
    }
    Ok(Wanted::Request(request_id))
}

/// Answers a GetReceipt call by `party` (the caller's org); see the module docs.
pub(crate) async fn get(
    receipts: &Receipts,
    limiter: &Limiter,
    log: &AuditLog,
    ctx: &CallContext,
    party: &str,
    req: GetReceiptRequest,
) -> Result<Receipt, Status> {
    let mut entry = ctx.draft();
    entry.request_id = clip(&req.request_id, 64);
    let result = async {
        let wanted = wanted(req)?;
        limiter
            .take(&ctx.peer.cert_sha256, Class::Vet, 1.0)
            .map_err(|retry_after_ms| Error::ResourceExhausted { retry_after_ms })?;
        let issued = match &wanted {
            Wanted::Index(index) => receipts.for_index(party, *index).await?,
            Wanted::Request(id) => receipts.for_request(party, id).await?,
        };
        issued.ok_or_else(|| {
            Error::NotFound(match wanted {
                Wanted::Index(i) => {
                    format!("audit_index: no receipt for entry {i}: it is not one of your vetting answers, or not yet in the log")
                }
                Wanted::Request(_) => {
                    "request_id: no receipt: it is not one of your vetting requests".to_owned()
                }
            })
        })
    }
    .await;
    match result {
        Ok(Issued {
            proof,
            leaf,
            index,
            tree_size,
        }) => {
            ctx.mark_audited();
            entry.detail = format!("receipt index={index} tree_size={tree_size}");
            match log.record(entry).await {
                Ok(_) => Ok(Receipt { proof, leaf }),
                Err(e) => Err(Error::from(e).into()),
            }
        }
        Err(e) => Err(fail(log, ctx, entry, e).await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_or_a_request_id_not_both() {
        let req = |audit_index, request_id: &str| GetReceiptRequest {
            audit_index,
            request_id: request_id.into(),
        };
        assert_eq!(wanted(req(0, "")), Ok(Wanted::Index(0)));
        assert_eq!(wanted(req(7, "")), Ok(Wanted::Index(7)));
        assert_eq!(wanted(req(0, "r-1")), Ok(Wanted::Request("r-1".to_owned())));
        assert!(matches!(
            wanted(req(7, "r-1")),
            Err(Error::InvalidArgument { field, .. }) if field == "audit_index"
        ));
        for bad in ["a b", "é", &"x".repeat(65)] {
            assert!(matches!(
                wanted(req(0, bad)),
                Err(Error::InvalidArgument { field, .. }) if field == "request_id"
            ));
        }
    }
}
