//! `portcullis.v1.VettingService` for parties.

use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::views;
use super::views::vet::{vetted, ResponseAnswers};
use super::{clip, fail, feed_stream, record_open, CallContext};
use crate::audit::receipts::Receipts;
use crate::domain::{Error, Gateway, Stored, VetQuery};
use crate::identity::Identity;
use crate::limits::{Class, Limiter};
use crate::proto::v1::vetting_service_server::VettingService;
use crate::proto::v1::{
    AuditLinked, GetReceiptRequest, ItemError, LinkedSubject, Notice, NoticeKind, Receipt,
    VetRequest, VetResponse, WatchNoticesRequest,
};

/// The vetting service.
#[derive(Debug, Clone)]
pub(crate) struct Vetting {
    gateway: Arc<Gateway>,
    limiter: Arc<Limiter>,
    receipts: Receipts,
}

impl Vetting {
    /// The service over `gateway`; VetBatch items and receipts are charged to `limiter` one by
    /// one; `receipts` proves the party's own answers.
    pub(crate) fn new(gateway: Arc<Gateway>, limiter: Arc<Limiter>, receipts: Receipts) -> Self {
        Vetting {
            gateway,
            limiter,
            receipts,
        }
    }
}

/// The most tokens of a request copied into its audit entry when the request is rejected.
const AUDITED_TOKENS: usize = 64;

/// The most linked subjects of a request copied into its audit entry (one more than a valid
/// request may carry, so a rejected "too many" shows).
const AUDITED_LINKED: usize = crate::domain::MAX_LINKED + 1;

/// How many VetBatch items may be in flight (read but not yet answered) at once: the bound on
/// a batch's memory whatever the client sends. Flow control pushes back on the client beyond.
const BATCH_WINDOW: usize = 256;

/// Validates, vets and audits one request; errors are audited and returned as a status.
async fn vet_one(
    gateway: &Gateway,
    ctx: &CallContext,
    party: &Identity,
    msg: VetRequest,
) -> Result<VetResponse, Status> {
    let mut entry = ctx.draft();
    entry.request_id = clip(&msg.request_id, 64);
    entry.subject_kind = msg.subject_kind;
    entry.tokens = msg.tokens.iter().take(AUDITED_TOKENS).cloned().collect();
    entry.linked = audited_linked(&msg.linked);
    let result = match VetQuery::try_from(msg) {
        Ok(q) => gateway
            .vet(party, q, &entry, &ResponseAnswers)
            .await
            .and_then(|v| vetted(v).ok_or(Error::Unreadable(Stored::VetAnswer))),
        Err(e) => Err(e),
    };
    match result {
        Ok(r) => Ok(r),
        Err(e) => Err(fail(gateway.log(), ctx, entry, e).await),
    }
}

/// The linked subjects of a request as its audit entry records them: relation and tokens (the
/// party's labels are not recorded), bounded whatever was sent: at most [`AUDITED_LINKED`]
/// subjects of at most one token more than a valid one carries, so an entry stays small (about
/// 20 KiB at worst) and a refused "too many" still shows.
fn audited_linked(linked: &[LinkedSubject]) -> Vec<AuditLinked> {
    linked
        .iter()
        .take(AUDITED_LINKED)
        .map(|l| AuditLinked {
            relation: l.relation,
            tokens: l
                .tokens
                .iter()
                .take(crate::domain::MAX_VET_TOKENS + 1)
                .cloned()
                .collect(),
        })
        .collect()
}

/// Reads batch items and starts each one's vetting; the bounded `pending` channel holds at
/// most [`BATCH_WINDOW`] items in flight.
async fn read_items(
    gateway: Arc<Gateway>,
    limiter: Arc<Limiter>,
    ctx: CallContext,
    party: Identity,
    mut inbound: Streaming<VetRequest>,
    pending: mpsc::Sender<JoinHandle<Result<VetResponse, Status>>>,
) {
    loop {
        let msg = match inbound.message().await {
            Ok(Some(msg)) => msg,
            Ok(None) => return,
            Err(status) => {
                // The stream itself is broken (undecodable frame, reset): record it and end
                // the batch with that status after the items already read are answered.
                let mut entry = ctx.draft();
                let status = match status.code() {
                    tonic::Code::Internal | tonic::Code::Unknown => {
                        Status::invalid_argument(status.message().to_owned())
                    }
                    tonic::Code::OutOfRange => super::too_large(status.message()),
                    _ => status,
                };
                entry.code = status.code() as i32;
                entry.detail = clip(status.message(), 200);
                let answer = match gateway.log().record(entry).await {
                    Ok(_) => status,
                    Err(e) => Error::from(e).into(),
                };
                let _ = pending.send(tokio::spawn(async move { Err(answer) })).await;
                return;
            }
        };
        let request_id = msg.request_id.clone();
        let (gateway, ctx, party) = (gateway.clone(), ctx.clone(), party.clone());
        let allowed = limiter.take(&ctx.peer.cert_sha256, Class::Vet, 1.0);
        let task = tokio::spawn(async move {
            let answer = match allowed {
                Ok(()) => vet_one(&gateway, &ctx, &party, msg).await,
                Err(retry_after_ms) => {
                    let mut entry = ctx.draft();
                    entry.request_id = clip(&msg.request_id, 64);
                    let e = Error::ResourceExhausted { retry_after_ms };
                    Err(fail(gateway.log(), &ctx, entry, e).await)
                }
            };
            answer.or_else(|status| Ok(item_error(request_id, &status)))
        });
        if pending.send(task).await.is_err() {
            return; // the client went away
        }
    }
}

/// A per-item error inside the batch: the stream goes on.
fn item_error(request_id: String, status: &Status) -> VetResponse {
    VetResponse {
        request_id: clip(&request_id, 64),
        error: Some(ItemError {
            code: status.code() as i32,
            message: status.message().to_owned(),
        }),
        ..Default::default()
    }
}

/// Forwards answers in request order; an item whose task ended without an answer is recorded
/// as refused and ends the batch.
async fn answer_in_order(
    gateway: Arc<Gateway>,
    ctx: CallContext,
    mut pending: mpsc::Receiver<JoinHandle<Result<VetResponse, Status>>>,
    answers: mpsc::Sender<Result<VetResponse, Status>>,
) {
    while let Some(task) = pending.recv().await {
        let answer = match task.await {
            Ok(answer) => answer,
            Err(_) => Err(fail(gateway.log(), &ctx, ctx.draft(), Error::NotProcessed).await),
        };
        let last = answer.is_err();
        if answers.send(answer).await.is_err() || last {
            return;
        }
    }
}

#[tonic::async_trait]
impl VettingService for Vetting {
    async fn vet(&self, req: Request<VetRequest>) -> Result<Response<VetResponse>, Status> {
        let ctx = CallContext::of(&req)?;
        let party = ctx.identity()?.clone();
        let msg = req.into_inner();
        let result = vet_one(&self.gateway, &ctx, &party, msg).await;
        ctx.mark_audited();
        result.map(Response::new)
    }

    type VetBatchStream = Pin<Box<dyn Stream<Item = Result<VetResponse, Status>> + Send>>;

    async fn vet_batch(
        &self,
        req: Request<Streaming<VetRequest>>,
    ) -> Result<Response<Self::VetBatchStream>, Status> {
        let ctx = CallContext::of(&req)?;
        let party = ctx.identity()?.clone();
        // Each item is audited on its own (audit-log.md: one entry per message answered).
        ctx.mark_audited();
        let inbound = req.into_inner();
        let (answers_tx, answers_rx) = mpsc::channel(BATCH_WINDOW);
        let (pending_tx, pending_rx) = mpsc::channel(BATCH_WINDOW);
        tokio::spawn(read_items(
            self.gateway.clone(),
            self.limiter.clone(),
            ctx.clone(),
            party,
            inbound,
            pending_tx,
        ));
        tokio::spawn(answer_in_order(
            self.gateway.clone(),
            ctx,
            pending_rx,
            answers_tx,
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(answers_rx))))
    }

    /// A receipt for one of the party's own answers (see [`super::receipt`]).
    async fn get_receipt(
        &self,
        req: Request<GetReceiptRequest>,
    ) -> Result<Response<Receipt>, Status> {
        let ctx = CallContext::of(&req)?;
        let party = ctx.identity()?.org.clone();
        super::receipt::get(
            &self.receipts,
            &self.limiter,
            self.gateway.log(),
            &ctx,
            &party,
            req.into_inner(),
        )
        .await
        .map(Response::new)
    }

    type WatchNoticesStream = Pin<Box<dyn Stream<Item = Result<Notice, Status>> + Send>>;

    async fn watch_notices(
        &self,
        req: Request<WatchNoticesRequest>,
    ) -> Result<Response<Self::WatchNoticesStream>, Status> {
        let ctx = CallContext::of(&req)?;
        let party = ctx.identity()?.org.clone();
        let WatchNoticesRequest { after_cursor } = req.into_inner();
        record_open(self.gateway.log(), &ctx, after_cursor).await?;
        let stream = feed_stream(
            self.gateway.clone(),
            ctx,
            after_cursor,
            move |gateway, after| {
                let stored = gateway.notices_after(&party, after)?;
                Ok(stored.into_iter().map(views::feed::notice).collect())
            },
            |notice: &Notice, entry| {
                let kind = NoticeKind::try_from(notice.kind)
                    .map(|k| k.as_str_name())
                    .unwrap_or("?");
                entry.request_id = notice.request_id.clone();
                entry.advisory_ids = notice
                    .advisory
                    .iter()
                    .map(|a| a.advisory_id.clone())
                    .collect();
                entry.grade = notice.advisory.as_ref().map(|a| a.grade).unwrap_or(0);
                entry.detail = format!("notice {} delivered: {kind}", notice.cursor);
                notice.cursor
            },
        );
        Ok(Response::new(Box::pin(stream)))
    }
}
