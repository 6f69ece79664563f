//! The layer in front of every service: authorises the call from the connection's verified
//! identity, and makes sure every call after the handshake is audited.
//!
//! - A caller whose certificate does not give a usable identity, whose role does not match the
//!   service, or whose party is not accredited is answered `PERMISSION_DENIED`, and the attempt
//!   is audited before the answer leaves.
//! - An allowed call gets a [`CallContext`]. If the handler audits the call itself it says so;
//!   otherwise (request bytes that do not decode, an unknown method, reflection) this layer
//!   records an entry with the code the call was answered with before releasing the answer.
//! - Health checks are not recorded (audit-log.md).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use tonic::body::Body;
use tonic::{Code, Status};

use super::CallContext;
use crate::audit::AuditLog;
use crate::identity::{PeerIdentity, Policy, Surface};

/// The tower layer; see the module docs.
#[derive(Clone)]
pub struct AuthLayer {
    policy: Arc<ArcSwap<Policy>>,
    log: AuditLog,
}

impl AuthLayer {
    /// Authorises with the (reloadable) `policy`, auditing to `log`.
    pub fn new(policy: Arc<ArcSwap<Policy>>, log: AuditLog) -> Self {
        AuthLayer { policy, log }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            policy: self.policy.clone(),
            log: self.log.clone(),
        }
    }
}

/// The service produced by [`AuthLayer`].
#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    policy: Arc<ArcSwap<Policy>>,
    log: AuditLog,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

fn status_response(status: Status) -> http::Response<Body> {
    status.into_http()
}

/// The gRPC status of a response whose status travels in its headers (trailers-only answers:
/// every error a handler or tonic returns before streaming); OK otherwise.
fn header_status(resp: &http::Response<Body>) -> (i32, String) {
    let headers = resp.headers();
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(0);
    let message = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .map(|m| super::clip(m, 200))
        .unwrap_or_default();
    (code, message)
}

impl<S, B> tower::Service<http::Request<B>> for Auth<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The clone is fresh and not ready; the ready one is used for this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let policy = self.policy.clone();
        let log = self.log.clone();
        Box::pin(async move {
            let method = req.uri().path().to_owned();
            let surface = Surface::of_path(&method);
            let Some(peer) = req.extensions().get::<Arc<PeerIdentity>>().cloned() else {
                // Only reachable if the server were built without the TLS acceptor.
                return Ok(status_response(Status::permission_denied(
                    "no verified client certificate",
                )));
            };
            if let Err(denied) = policy.load().authorize(&peer, surface) {
                let mut entry = crate::audit::draft(&peer, &method);
                entry.code = Code::PermissionDenied as i32;
                entry.detail = denied.0.clone();
                tracing::info!(method = %method, serial = %peer.cert_serial, "call denied");
                let status = match log.record(entry).await {
                    Ok(_) => Status::permission_denied(denied.0),
                    Err(e) => crate::domain::Error::from(e).into(),
                };
                return Ok(status_response(status));
            }
            if surface == Surface::Health {
                return inner.call(req).await;
            }
            let audited = Arc::new(AtomicBool::new(false));
            req.extensions_mut().insert(CallContext::new(
                peer.clone(),
                method.clone(),
                audited.clone(),
            ));
            let resp = inner.call(req).await?;
            if audited.load(Ordering::SeqCst) {
                return Ok(resp);
            }
            let (code, detail) = header_status(&resp);
            let mut entry = crate::audit::draft(&peer, &method);
            entry.code = code;
            entry.detail = detail;
            match log.record(entry).await {
                Ok(_) => Ok(resp),
                Err(e) => Ok(status_response(crate::domain::Error::from(e).into())),
            }
        })
    }
}
