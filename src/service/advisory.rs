//! `portcullis.v1.AdvisoryService` for security officials.

use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::validate::get_request;
use super::views::{self, RecordAnswers};
use super::{clip, fail, feed_stream, record_open, CallContext};
use crate::domain::{
    AdvisoryAt, Error, Gateway, NewAdvisory, PageRequest, Published, Revision, Stored, Withdrawal,
};
use crate::proto::v1::advisory_service_server::AdvisoryService;
use crate::proto::v1::{
    AdvisoryRecord, GetAdvisoryRequest, Hit, ListAdvisoriesRequest, ListAdvisoriesResponse,
    PublishRequest, ReviseRequest, WatchHitsRequest, WithdrawRequest,
};

/// The advisory service.
#[derive(Debug, Clone)]
pub(crate) struct Advisories {
    gateway: Arc<Gateway>,
}

impl Advisories {
    /// The service over `gateway`.
    pub(crate) fn new(gateway: Arc<Gateway>) -> Self {
        Advisories { gateway }
    }

    async fn finish<T>(
        &self,
        ctx: &CallContext,
        entry: crate::audit::AuditEntry,
        result: Result<T, Error>,
    ) -> Result<Response<T>, Status> {
        ctx.mark_audited();
        match result {
            Ok(r) => Ok(Response::new(r)),
            Err(e) => Err(fail(self.gateway.log(), ctx, entry, e).await),
        }
    }

    /// [`Advisories::finish`] for a call that answers with one advisory version.
    async fn finish_record(
        &self,
        ctx: &CallContext,
        entry: crate::audit::AuditEntry,
        result: Result<AdvisoryAt, Error>,
    ) -> Result<Response<AdvisoryRecord>, Status> {
        self.finish(ctx, entry, result.map(|a| views::record(&a)))
            .await
    }
}

/// The first steps of a call on one advisory: the caller's context, the request, and the draft
/// of its audit entry naming the advisory (`advisory_id` of the request, clipped).
fn on_advisory<M>(
    req: Request<M>,
    advisory_id: fn(&M) -> &str,
) -> Result<(CallContext, M, crate::audit::AuditEntry), Status> {
    let ctx = CallContext::of(&req)?;
    let msg = req.into_inner();
    let mut entry = ctx.draft();
    entry.advisory_ids = vec![clip(advisory_id(&msg), 64)];
    Ok((ctx, msg, entry))
}

/// The most tokens of a request copied into its audit entry when the request is rejected.
const AUDITED_TOKENS: usize = 64;

#[tonic::async_trait]
impl AdvisoryService for Advisories {
    async fn publish(
        &self,
        req: Request<PublishRequest>,
    ) -> Result<Response<AdvisoryRecord>, Status> {
        let ctx = CallContext::of(&req)?;
        let official = ctx.identity()?.clone();
        let msg = req.into_inner();
        let mut entry = ctx.draft();
        entry.request_id = clip(&msg.request_id, 64);
        entry.tokens = msg.tokens.iter().take(AUDITED_TOKENS).cloned().collect();
        let result = match NewAdvisory::try_from(msg) {
            Ok(new) => self
                .gateway
                .publish(&official, new, &entry, &RecordAnswers)
                .await
                .and_then(|published| match published {
                    Published::New(advisory) => Ok(views::record(&advisory)),
                    Published::Repeat { remembered } => RecordAnswers::recall(&remembered)
                        .ok_or(Error::Unreadable(Stored::PublishAnswer)),
                }),
            Err(e) => Err(e),
        };
        self.finish(&ctx, entry, result).await
    }

    async fn revise(
        &self,
        req: Request<ReviseRequest>,
    ) -> Result<Response<AdvisoryRecord>, Status> {
        let (ctx, msg, entry) = on_advisory(req, |m: &ReviseRequest| &m.advisory_id)?;
        let official = ctx.identity()?.clone();
        let result = match Revision::try_from(msg) {
            Ok(rev) => self.gateway.revise(&official, rev, &entry).await,
            Err(e) => Err(e),
        };
        self.finish_record(&ctx, entry, result).await
    }

    async fn withdraw(
        &self,
        req: Request<WithdrawRequest>,
    ) -> Result<Response<AdvisoryRecord>, Status> {
        let (ctx, msg, entry) = on_advisory(req, |m: &WithdrawRequest| &m.advisory_id)?;
        let official = ctx.identity()?.clone();
        let result = match Withdrawal::try_from(msg) {
            Ok(w) => self.gateway.withdraw(&official, w, &entry).await,
            Err(e) => Err(e),
        };
        self.finish_record(&ctx, entry, result).await
    }

    async fn get_advisory(
        &self,
        req: Request<GetAdvisoryRequest>,
    ) -> Result<Response<AdvisoryRecord>, Status> {
        let (ctx, msg, entry) = on_advisory(req, |m: &GetAdvisoryRequest| &m.advisory_id)?;
        let result = match get_request(msg) {
            Ok((id, version)) => self.gateway.advisory(&id, version, &entry).await,
            Err(e) => Err(e),
        };
        self.finish_record(&ctx, entry, result).await
    }

    async fn list_advisories(
        &self,
        req: Request<ListAdvisoriesRequest>,
    ) -> Result<Response<ListAdvisoriesResponse>, Status> {
        let ctx = CallContext::of(&req)?;
        let msg = req.into_inner();
        let entry = ctx.draft();
        let result = match PageRequest::try_from(msg) {
            Ok(page) => self
                .gateway
                .list(page, &entry)
                .await
                .map(|p| views::page(&p)),
            Err(e) => Err(e),
        };
        self.finish(&ctx, entry, result).await
    }

    type WatchHitsStream = Pin<Box<dyn Stream<Item = Result<Hit, Status>> + Send>>;

    async fn watch_hits(
        &self,
        req: Request<WatchHitsRequest>,
    ) -> Result<Response<Self::WatchHitsStream>, Status> {
        let ctx = CallContext::of(&req)?;
        let unit = ctx.identity()?.org.clone();
        let WatchHitsRequest { after_cursor } = req.into_inner();
        record_open(self.gateway.log(), &ctx, after_cursor).await?;
        let stream = feed_stream(
            self.gateway.clone(),
            ctx,
            after_cursor,
            move |gateway, after| {
                let stored = gateway.hits_after(&unit, after)?;
                Ok(stored.into_iter().map(views::feed::hit).collect())
            },
            |hit: &Hit, entry| {
                entry.advisory_ids = vec![hit.advisory_id.clone()];
                entry.subject_kind = hit.subject_kind;
                entry.detail = format!(
                    "hit {} delivered: party {} at audit index {}",
                    hit.cursor, hit.party, hit.audit_index
                );
                hit.cursor
            },
        );
        Ok(Response::new(Box::pin(stream)))
    }
}
