//! The layer in front of every service: authorises the call from the connection's verified
//! identity, and makes sure every call after the handshake is audited.
//!
//! - A caller whose certificate does not give a usable identity, whose role does not match the
//!   service, or whose party is not accredited is answered `PERMISSION_DENIED`, and the attempt
//!   is audited before the answer leaves.
//! - An allowed call gets a [`CallContext`]. If the handler audits the call itself it says so;
//!   otherwise (request bytes that do not decode, an unknown method, reflection) this layer
//!   records an entry with the code the call was answered with before releasing the answer.
//! - A caller whose certificate has expired since the handshake (or is not yet valid) is
//!   answered `UNAUTHENTICATED` on every call, audited: the validity period is re-checked at
//!   each call, not only at the handshake.
//! - Health checks are not recorded (audit-log.md).
//! - Each call counts as activity on its connection until its response body ends, so the
//!   transport's idle timeout never closes a connection with a call (or a watch) in progress.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use tonic::body::Body;
use tonic::{Code, Status};

use tracing::Instrument;

use super::CallContext;
use crate::audit::AuditLog;
use crate::identity::{PeerIdentity, Policy, Surface};
use crate::limits::{Class, Limiter};
use crate::transport::{CallGuard, Connection};

/// The tower layer; see the module docs.
#[derive(Clone)]
pub(crate) struct AuthLayer {
    policy: Arc<ArcSwap<Policy>>,
    log: AuditLog,
    limiter: Arc<Limiter>,
}

impl AuthLayer {
    /// Authorises with the (reloadable) `policy`, rate-limits with `limiter`, audits to `log`.
    pub(crate) fn new(policy: Arc<ArcSwap<Policy>>, log: AuditLog, limiter: Arc<Limiter>) -> Self {
        AuthLayer {
            policy,
            log,
            limiter,
        }
    }
}

/// What a unary call spends from its caller's buckets (VetBatch items are charged one by one
/// by the vetting service).
fn class_of(method: &str, surface: Surface) -> Option<Class> {
    match (surface, method.rsplit('/').next().unwrap_or("")) {
        (Surface::Vetting, "Vet") => Some(Class::Vet),
        (Surface::Advisory, "Publish" | "Revise" | "Withdraw") => Some(Class::Publish),
        (Surface::Audit, _) => Some(Class::Audit),
        _ => None,
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            policy: self.policy.clone(),
            log: self.log.clone(),
            limiter: self.limiter.clone(),
        }
    }
}

/// The service produced by [`AuthLayer`].
#[derive(Clone)]
pub(crate) struct Auth<S> {
    inner: S,
    policy: Arc<ArcSwap<Policy>>,
    log: AuditLog,
    limiter: Arc<Limiter>,
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
        .map(|v| super::clip(&percent_decode(v.as_bytes()), 200))
        .unwrap_or_default();
    (code, message)
}

/// Decodes the percent-encoding gRPC applies to `grpc-message`.
fn percent_decode(raw: &[u8]) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match (
            raw[i],
            raw.get(i + 1).copied().and_then(hex),
            raw.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The answer to give for a call no handler audited. Handlers never answer INTERNAL, UNKNOWN
/// or OUT_OF_RANGE; here those come from tonic rejecting what the client sent (broken gRPC
/// framing, a missing message, an oversized one), so they become precise client errors.
fn client_caused(code: i32, message: &str) -> Option<Status> {
    match Code::from_i32(code) {
        Code::Internal | Code::Unknown => Some(Status::invalid_argument(format!(
            "request: malformed gRPC message ({message})"
        ))),
        Code::OutOfRange => Some(super::too_large(message)),
        _ => None,
    }
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

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // The clone is fresh and not ready; the ready one is used for this call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let gate = Gate {
            policy: self.policy.clone(),
            log: self.log.clone(),
            limiter: self.limiter.clone(),
        };
        let method = req.uri().path().to_owned();
        let connection = req.extensions().get::<Connection>().cloned();
        let call = connection.as_ref().map(|c| c.activity.begin());
        let peer = connection.map(|c| c.peer);
        let (role, org) = match peer.as_ref().map(|p| &p.identity) {
            Some(Ok(id)) => (id.role.as_str(), id.org.clone()),
            _ => ("", String::new()),
        };
        let span = tracing::info_span!(
            "call",
            method = %method,
            role,
            org = %org,
            code = tracing::field::Empty,
            latency_us = tracing::field::Empty,
        );
        Box::pin(
            async move {
                let start = std::time::Instant::now();
                let resp = gate.call(inner, req, method.clone(), peer).await?;
                let code = header_status(&resp).0;
                let latency = start.elapsed();
                crate::metrics::global().call(&method, code, latency);
                let span = tracing::Span::current();
                span.record("code", code);
                span.record("latency_us", latency.as_micros() as u64);
                tracing::debug!("answered");
                Ok(match call {
                    Some(call) => resp.map(|body| Body::new(Counted { body, _call: call })),
                    None => resp,
                })
            }
            .instrument(span),
        )
    }
}

/// A response body that holds its call's activity on the connection until it ends.
struct Counted {
    body: Body,
    _call: CallGuard,
}

impl http_body::Body for Counted {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// What a call passes through: authorisation, rate limits, and the audit fallback.
struct Gate {
    policy: Arc<ArcSwap<Policy>>,
    log: AuditLog,
    limiter: Arc<Limiter>,
}

impl Gate {
    /// Records a refusal made here and returns its answer (UNAVAILABLE if it cannot be
    /// recorded).
    async fn refuse(
        &self,
        peer: &PeerIdentity,
        method: &str,
        status: Status,
    ) -> http::Response<Body> {
        let mut entry = crate::audit::draft(peer, method);
        entry.code = status.code() as i32;
        entry.detail = status.message().to_owned();
        let status = match self.log.record(entry).await {
            Ok(_) => status,
            Err(e) => crate::domain::Error::from(e).into(),
        };
        status_response(status)
    }

    async fn call<S, B>(
        self,
        mut inner: S,
        mut req: http::Request<B>,
        method: String,
        peer: Option<Arc<PeerIdentity>>,
    ) -> Result<http::Response<Body>, S::Error>
    where
        S: tower::Service<http::Request<B>, Response = http::Response<Body>>,
    {
        let surface = Surface::of_path(&method);
        let Some(peer) = peer else {
            // Only reachable if the server were built without the TLS acceptor.
            return Ok(status_response(Status::permission_denied(
                "no verified client certificate",
            )));
        };
        let now = crate::audit::now().seconds;
        if let Some(invalid) = peer.invalid_at(now) {
            tracing::info!(serial = %peer.cert_serial, "call refused: certificate not valid now");
            return Ok(self
                .refuse(&peer, &method, Status::unauthenticated(invalid))
                .await);
        }
        req.extensions_mut().insert(peer.clone());
        if let Err(denied) = self.policy.load().authorize(&peer, surface) {
            tracing::info!(serial = %peer.cert_serial, "call denied");
            return Ok(self
                .refuse(&peer, &method, Status::permission_denied(denied.0))
                .await);
        }
        if let Some(class) = class_of(&method, surface) {
            if let Err(retry_after_ms) = self.limiter.take(&peer.cert_sha256, class, 1.0) {
                tracing::info!(serial = %peer.cert_serial, retry_after_ms, "rate limited");
                let status = crate::domain::Error::ResourceExhausted { retry_after_ms }.into();
                return Ok(self.refuse(&peer, &method, status).await);
            }
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
        let replacement = client_caused(code, &detail);
        let mut entry = crate::audit::draft(&peer, &method);
        match &replacement {
            Some(status) => {
                entry.code = status.code() as i32;
                entry.detail = super::clip(status.message(), 200);
            }
            None => {
                entry.code = code;
                entry.detail = detail;
            }
        }
        match self.log.record(entry).await {
            Ok(_) => Ok(replacement.map(status_response).unwrap_or(resp)),
            Err(e) => Ok(status_response(crate::domain::Error::from(e).into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_grpc_messages() {
        assert_eq!(percent_decode(b"a%20b%25c"), "a b%c");
        assert_eq!(percent_decode(b"100%"), "100%");
        assert_eq!(percent_decode(b"%zz"), "%zz");
        assert_eq!(percent_decode("caf%C3%A9".as_bytes()), "café");
    }

    #[test]
    fn tonic_rejections_become_client_errors() {
        assert_eq!(
            client_caused(13, "x").unwrap().code(),
            Code::InvalidArgument
        );
        assert_eq!(client_caused(2, "x").unwrap().code(), Code::InvalidArgument);
        assert_eq!(
            client_caused(11, "x").unwrap().code(),
            Code::ResourceExhausted
        );
        assert!(client_caused(12, "x").is_none());
        assert!(client_caused(0, "").is_none());
    }
}
