//! `portcullis.v1.VettingService` for parties.

use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::{clip, fail, CallContext};
use crate::domain::{Error, Gateway, VetQuery};
use crate::proto::v1::vetting_service_server::VettingService;
use crate::proto::v1::{Notice, VetRequest, VetResponse, WatchNoticesRequest};

/// The vetting service.
#[derive(Debug, Clone)]
pub struct Vetting {
    gateway: Arc<Gateway>,
}

impl Vetting {
    /// The service over `gateway`.
    pub fn new(gateway: Arc<Gateway>) -> Self {
        Vetting { gateway }
    }
}

/// The most tokens of a request copied into its audit entry when the request is rejected.
const AUDITED_TOKENS: usize = 64;

#[tonic::async_trait]
impl VettingService for Vetting {
    async fn vet(&self, req: Request<VetRequest>) -> Result<Response<VetResponse>, Status> {
        let ctx = CallContext::of(&req)?;
        let party = ctx.identity()?.clone();
        let msg = req.into_inner();
        let mut entry = ctx.draft();
        entry.request_id = clip(&msg.request_id, 64);
        entry.subject_kind = msg.subject_kind;
        entry.tokens = msg.tokens.iter().take(AUDITED_TOKENS).cloned().collect();
        let result = match VetQuery::try_from(msg) {
            Ok(q) => self.gateway.vet(&party, q, &entry).await,
            Err(e) => Err(e),
        };
        ctx.mark_audited();
        match result {
            Ok(r) => Ok(Response::new(r)),
            Err(e) => Err(fail(self.gateway.log(), &ctx, entry, e).await),
        }
    }

    type VetBatchStream = Pin<Box<dyn Stream<Item = Result<VetResponse, Status>> + Send>>;

    async fn vet_batch(
        &self,
        req: Request<Streaming<VetRequest>>,
    ) -> Result<Response<Self::VetBatchStream>, Status> {
        let ctx = CallContext::of(&req)?;
        let entry = ctx.draft();
        Err(fail(
            self.gateway.log(),
            &ctx,
            entry,
            Error::Unimplemented("VetBatch is not served by this gateway version".into()),
        )
        .await)
    }

    type WatchNoticesStream = Pin<Box<dyn Stream<Item = Result<Notice, Status>> + Send>>;

    async fn watch_notices(
        &self,
        req: Request<WatchNoticesRequest>,
    ) -> Result<Response<Self::WatchNoticesStream>, Status> {
        let ctx = CallContext::of(&req)?;
        let entry = ctx.draft();
        Err(fail(
            self.gateway.log(),
            &ctx,
            entry,
            Error::Unimplemented("WatchNotices is not served by this gateway version".into()),
        )
        .await)
    }
}
