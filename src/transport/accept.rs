//! The accept loop: each TCP connection is admitted ([`super::admission`]) and handshaken in its
//! own task, so the loop itself never waits on a slow or silent client.
//!
//! A connection's task reads the ClientHello (within `hello_timeout_ms`), completes the
//! handshake with the server configuration current at that moment (within
//! `handshake_timeout_ms` of the accept), takes a place among the established connections,
//! reads the HTTP/2 preface (within `preface_timeout_ms`) and only then hands the connection to
//! the gRPC server. A failure at any step closes the connection and is counted and logged with
//! its reason.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::LazyConfigAcceptor;

use super::admission::{Admission, HandshakeSlot, TransportLimits};
use super::connection::{read_preface, Parts, TlsConn};
use super::refusals::{Reason, RefusalLog};
use crate::identity::PeerIdentity;

tokio::task_local! {
    /// The serial of a client certificate the verifier rejected during this task's handshake.
    static REJECTED_SERIAL: RefCell<Option<String>>;
}

/// Notes the serial of a rejected client certificate for the refusal log of the connection
/// being handshaken (called by the certificate verifier; a no-op outside a handshake task).
pub(crate) fn note_rejected_serial(serial: String) {
    let _ = REJECTED_SERIAL.try_with(|s| *s.borrow_mut() = Some(serial));
}

/// Accepts TLS connections with a server configuration that can be replaced at run time
/// (certificate and CRL reload); each new connection uses the configuration current when its
/// ClientHello arrives.
#[derive(Clone)]
pub struct Acceptor {
    config: Arc<ArcSwap<ServerConfig>>,
    handshake_timeout: Duration,
    trust_domain: Arc<str>,
    admission: Admission,
    refusals: Arc<RefusalLog>,
}

impl Acceptor {
    /// An acceptor for `config`, giving up on handshakes slower than `handshake_timeout`, with
    /// the transport `limits`.
    pub fn new(
        config: Arc<ServerConfig>,
        handshake_timeout: Duration,
        trust_domain: &str,
        limits: TransportLimits,
    ) -> Self {
        Acceptor {
            config: Arc::new(ArcSwap::new(config)),
            handshake_timeout,
            trust_domain: trust_domain.into(),
            admission: Admission::new(limits),
            refusals: Arc::new(RefusalLog::default()),
        }
    }

    /// Replaces the configuration used for new connections.
    pub fn replace(&self, config: Arc<ServerConfig>) {
        self.config.store(config);
    }

    /// Replaces the transport limits applied to new connections.
    pub fn replace_limits(&self, limits: TransportLimits) {
        self.admission.replace(limits);
    }

    /// Pending handshakes and established connections right now.
    pub fn counts(&self) -> (usize, usize) {
        self.admission.counts()
    }

    /// Accepts connections from `listener` until the returned stream is dropped. Refused,
    /// failed or slow connections never reach the services.
    pub fn incoming(
        self,
        listener: TcpListener,
    ) -> tokio_stream::wrappers::ReceiverStream<Result<TlsConn, io::Error>> {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(self.accept_loop(listener, tx));
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }

    async fn accept_loop(
        self,
        listener: TcpListener,
        tx: mpsc::Sender<Result<TlsConn, io::Error>>,
    ) {
        loop {
            let accepted = tokio::select! {
                _ = tx.closed() => return,
                accepted = listener.accept() => accepted,
            };
            let (tcp, addr) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Transient (e.g. EMFILE): back off briefly rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let slot = self.admission.begin_handshake(addr.ip());
            let tx = tx.clone();
            let this = self.clone();
            tokio::spawn(async move {
                let limits = this.admission.limits();
                match this.establish(tcp, addr, slot, &limits).await {
                    Ok(conn) => {
                        let _ = tx.send(Ok(conn)).await;
                    }
                    Err((reason, serial)) => this.refusals.refuse(
                        reason,
                        Some(addr),
                        serial.as_deref(),
                        limits.refusal_logs_per_sec,
                    ),
                }
            });
        }
    }

    /// Handshake, admission and preface of one connection; on failure, why and the client
    /// certificate's serial if one was seen.
    async fn establish(
        &self,
        tcp: TcpStream,
        addr: SocketAddr,
        slot: HandshakeSlot,
        limits: &TransportLimits,
    ) -> Result<TlsConn, (Reason, Option<String>)> {
        let handshake = REJECTED_SERIAL.scope(RefCell::new(None), async {
            let result = self.handshake(tcp, slot, limits).await;
            let serial = REJECTED_SERIAL.with(|s| s.borrow_mut().take());
            result.map_err(|reason| (reason, serial))
        });
        let mut stream = handshake.await?;
        let Some(cert) = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
        else {
            // Unreachable with a verifier that requires client certificates.
            return Err((Reason::NoCertificate, None));
        };
        let peer = PeerIdentity::from_certificate(cert.as_ref(), Some(addr), &self.trust_domain);
        let serial = || Some(peer.cert_serial.clone());
        let ticket = self
            .admission
            .open_connection(peer.cert_sha256)
            .map_err(|reason| (reason, serial()))?;
        read_preface(&mut stream, limits.preface_timeout)
            .await
            .map_err(|reason| (reason, serial()))?;
        Ok(TlsConn::new(Parts {
            stream,
            peer: Arc::new(peer),
            ticket,
            idle_timeout: limits.idle_timeout,
            refusals: self.refusals.clone(),
            refusal_logs_per_sec: limits.refusal_logs_per_sec,
        }))
    }

    /// The TLS handshake: the ClientHello within the hello timeout, the rest within the
    /// handshake timeout, either cut short if a newer connection evicts this one.
    async fn handshake(
        &self,
        tcp: TcpStream,
        mut slot: HandshakeSlot,
        limits: &TransportLimits,
    ) -> Result<tokio_rustls::server::TlsStream<TcpStream>, Reason> {
        let started = tokio::time::Instant::now();
        let lazy = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp);
        let hello_timeout = limits.hello_timeout.min(self.handshake_timeout);
        let start = tokio::select! {
            hello = tokio::time::timeout(hello_timeout, lazy) => match hello {
                Ok(Ok(start)) => start,
                Ok(Err(e)) => return Err(failed(&e)),
                Err(_) => return Err(Reason::HelloTimeout),
            },
            _ = slot.evicted() => return Err(Reason::Evicted),
        };
        let config = self.config.load_full();
        let deadline = started + self.handshake_timeout;
        tokio::select! {
            done = tokio::time::timeout_at(deadline, start.into_stream(config)) => match done {
                Ok(Ok(stream)) => Ok(stream),
                Ok(Err(e)) => Err(failed(&e)),
                Err(_) => Err(Reason::HandshakeTimeout),
            },
            _ = slot.evicted() => Err(Reason::Evicted),
        }
    }
}

/// The reason of a failed handshake; the error itself is only logged at debug level (it can
/// be long, and the reason says what an operator needs).
fn failed(e: &io::Error) -> Reason {
    let reason = Reason::of_io(e);
    tracing::debug!(reason = reason.label(), error = %e, "TLS handshake failed");
    reason
}
