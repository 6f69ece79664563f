//! `portcullis.v1.KeyService`: Evaluate and GetPublicKey (keyservice.md).
//!
//! Roles: an accredited PARTY and an OFFICIAL may call both; an AUDITOR GetPublicKey only;
//! anyone else gets PERMISSION_DENIED. Evaluate spends the caller certificate's quota in
//! elements (a bucket per second with a burst, and a cap per UTC day). Every call, refused or
//! not, is recorded with actor, method, code, key id and element count, never the elements.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tonic::{Request, Response, Status};

use crate::audit::{AuditEntry, AuditLog};
use crate::domain::Error;
use crate::identity::{Policy, Role};
use crate::keyservice::KeyRing;
use crate::limits::Limiter;
use crate::oprf::OprfError;
use crate::proto::v1::key_service_server::KeyService;
use crate::proto::v1::{
    EvaluateRequest, EvaluateResponse, GetPublicKeyRequest, PublicKey as PublicKeyMessage,
};
use crate::service::{fail, CallContext};

/// The key service's handlers.
#[derive(Debug, Clone)]
pub struct KeyServing {
    keys: Arc<KeyRing>,
    policy: Arc<ArcSwap<Policy>>,
    log: AuditLog,
    limiter: Arc<Limiter>,
}

/// Which method a role check is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Evaluate,
    GetPublicKey,
}

impl KeyServing {
    /// The service over `keys`, with the reloadable `policy` (accredited parties), recording to
    /// `log` and metering with `limiter`.
    pub fn new(
        keys: Arc<KeyRing>,
        policy: Arc<ArcSwap<Policy>>,
        log: AuditLog,
        limiter: Arc<Limiter>,
    ) -> Self {
        KeyServing {
            keys,
            policy,
            log,
            limiter,
        }
    }

    /// The role rule of keyservice.md.
    fn authorize(&self, ctx: &CallContext, method: Method) -> Result<(), Error> {
        let identity = ctx
            .identity()
            .map_err(|s| Error::PermissionDenied(s.message().to_owned()))?;
        match (identity.role, method) {
            (Role::Party, _) => {
                if self
                    .policy
                    .load()
                    .accredited_parties
                    .contains(&identity.org)
                {
                    Ok(())
                } else {
                    Err(Error::PermissionDenied(format!(
                        "party {} is not accredited",
                        identity.org
                    )))
                }
            }
            (Role::Official, _) | (Role::Auditor, Method::GetPublicKey) => Ok(()),
            (Role::Auditor, Method::Evaluate) => Err(Error::PermissionDenied(
                "role auditor may not call Evaluate (requires party or official)".to_owned(),
            )),
        }
    }

    async fn succeed(&self, ctx: &CallContext, entry: AuditEntry) -> Result<(), Status> {
        ctx.mark_audited();
        self.log
            .record(entry)
            .await
            .map(|_| ())
            .map_err(|e| Error::from(e).into())
    }
}

fn element_error(e: OprfError) -> Error {
    match e {
        OprfError::BatchSize(n) => Error::invalid(
            "blinded_elements",
            format!("must hold 1..={} elements, got {n}", crate::oprf::MAX_BATCH),
        ),
        OprfError::Element { index, reason } => {
            Error::invalid(format!("blinded_elements[{index}]"), reason)
        }
        OprfError::Key(m) | OprfError::Answer { reason: m, .. } => {
            tracing::error!(reason = %m, "evaluation failed");
            Error::EvaluationFailed
        }
        OprfError::ProofFailed { key_id } => {
            tracing::error!(key_id = %key_id, "proof generation failed");
            Error::EvaluationFailed
        }
        OprfError::Input { index } => {
            Error::invalid(format!("blinded_elements[{index}]"), "unusable")
        }
    }
}

#[tonic::async_trait]
impl KeyService for KeyServing {
    async fn evaluate(
        &self,
        request: Request<EvaluateRequest>,
    ) -> Result<Response<EvaluateResponse>, Status> {
        let ctx = CallContext::of(&request)?;
        let req = request.into_inner();
        let mut entry = ctx.draft();
        entry.key_id = crate::service::clip(&req.key_id, 64);
        entry.element_count = u32::try_from(req.blinded_elements.len()).unwrap_or(u32::MAX);
        if let Err(e) = self.authorize(&ctx, Method::Evaluate) {
            return Err(fail(&self.log, &ctx, entry, e).await);
        }
        let key = match self.keys.get(&req.key_id) {
            Ok(key) => key,
            Err(rule) => {
                return Err(fail(&self.log, &ctx, entry, Error::invalid("key_id", rule)).await)
            }
        };
        // Validate every element before spending quota: a malformed call costs nothing.
        let n = req.blinded_elements.len();
        if n == 0 || n > crate::oprf::MAX_BATCH {
            let e = element_error(OprfError::BatchSize(n));
            return Err(fail(&self.log, &ctx, entry, e).await);
        }
        for (index, bytes) in req.blinded_elements.iter().enumerate() {
            if let Err(reason) = crate::oprf::check_element(bytes) {
                let e = element_error(OprfError::Element { index, reason });
                return Err(fail(&self.log, &ctx, entry, e).await);
            }
        }
        if let Err(retry_after_ms) = self.limiter.take_elements(&ctx.peer.cert_sha256, n as u64) {
            tracing::info!(serial = %ctx.peer.cert_serial, retry_after_ms, "key service quota");
            let e = Error::ResourceExhausted { retry_after_ms };
            return Err(fail(&self.log, &ctx, entry, e).await);
        }
        let key = key.clone();
        let elements = req.blinded_elements;
        // Scalar multiplications are CPU work: keep them off the async workers.
        let evaluated = tokio::task::spawn_blocking(move || key.evaluate(&elements))
            .await
            .map_err(|_| {
                tracing::error!("evaluation task ended without an answer");
                Error::EvaluationFailed
            });
        let evaluated = match evaluated {
            Ok(Ok(evaluated)) => evaluated,
            Ok(Err(e)) => return Err(fail(&self.log, &ctx, entry, element_error(e)).await),
            Err(e) => return Err(fail(&self.log, &ctx, entry, e).await),
        };
        self.succeed(&ctx, entry).await?;
        Ok(Response::new(EvaluateResponse {
            evaluated_elements: evaluated.elements.iter().map(|e| e.to_vec()).collect(),
            proof: evaluated.proof.to_vec(),
        }))
    }

    async fn get_public_key(
        &self,
        request: Request<GetPublicKeyRequest>,
    ) -> Result<Response<PublicKeyMessage>, Status> {
        let ctx = CallContext::of(&request)?;
        let req = request.into_inner();
        let mut entry = ctx.draft();
        entry.key_id = crate::service::clip(&req.key_id, 64);
        if let Err(e) = self.authorize(&ctx, Method::GetPublicKey) {
            return Err(fail(&self.log, &ctx, entry, e).await);
        }
        let key = match self.keys.get(&req.key_id) {
            Ok(key) => key.public_key(),
            Err(rule) => {
                return Err(fail(&self.log, &ctx, entry, Error::invalid("key_id", rule)).await)
            }
        };
        self.succeed(&ctx, entry).await?;
        Ok(Response::new(PublicKeyMessage {
            key_id: key.id().to_owned(),
            suite: crate::oprf::SUITE.to_owned(),
            public_key: key.bytes().to_vec(),
        }))
    }
}
