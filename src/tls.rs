//! Transport security: the one place the rustls crypto provider (ring) and the protocol versions
//! (TLS 1.3 only) are chosen, for the server and for clients.
//!
//! The server requires a client certificate issued by the configured CA and not listed in its
//! CRL. Each accepted TCP connection is handshaken in its own task, off the accept loop, under a
//! timeout; the caller's identity is parsed once per connection from the verified certificate
//! and travels with the connection (see [`crate::identity::PeerIdentity`]).

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;
use crate::identity::PeerIdentity;

/// The only protocol version the gateway and its clients speak.
pub static PROTOCOL_VERSIONS: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// The most TLS handshakes in progress at once; further connections wait to be handshaken.
const MAX_CONCURRENT_HANDSHAKES: usize = 256;

/// The crypto provider: *ring*.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Errors loading TLS material or building a TLS configuration.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM or DER file could not be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why it could not be used.
        reason: String,
    },
    /// rustls rejected the configuration (e.g. key does not match certificate).
    #[error("TLS configuration: {0}")]
    Config(String),
}

fn file_err(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Reads every certificate of a PEM file (at least one).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, e))?;
    if certs.is_empty() {
        return Err(file_err(path, "no CERTIFICATE block"));
    }
    Ok(certs)
}

/// Reads a private key (PKCS#8, SEC1 or PKCS#1 PEM).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_err(path, e))
}

/// Reads every CRL of a PEM file (at least one).
pub fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let crls = CertificateRevocationListDer::pem_file_iter(path)
        .map_err(|e| file_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, e))?;
    if crls.is_empty() {
        return Err(file_err(path, "no X509 CRL block"));
    }
    Ok(crls)
}

fn roots(ca: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca)? {
        roots.add(cert).map_err(|e| file_err(ca, e))?;
    }
    Ok(roots)
}

/// The server's rustls configuration: TLS 1.3, client certificate required and verified
/// against the CA with the CRL enforced, ALPN `h2`.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots(&files.ca)?), provider.clone())
            .with_crls(load_crls(&files.crl)?)
            .build()
            .map_err(|e| TlsError::Config(e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(load_certs(&files.cert)?, load_key(&files.key)?)
        .map_err(|e| TlsError::Config(format!("{}: {e}", files.key.display())))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// A client's rustls configuration: TLS 1.3, the gateway verified against `ca`, and the
/// client's own certificate and key presented.
pub fn client_config(ca: &Path, cert: &Path, key: &Path) -> Result<Arc<ClientConfig>, TlsError> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots(ca)?)
        .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
        .map_err(|e| TlsError::Config(format!("{}: {e}", key.display())))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts TLS connections with a server configuration that can be replaced at run time
/// (certificate and CRL reload); each new connection uses the configuration current when it
/// arrives.
#[derive(Clone)]
pub struct Acceptor {
    config: Arc<ArcSwap<ServerConfig>>,
    handshake_timeout: Duration,
    trust_domain: Arc<str>,
}

impl Acceptor {
    /// An acceptor for `config`, giving up on handshakes slower than `handshake_timeout`.
    pub fn new(config: Arc<ServerConfig>, handshake_timeout: Duration, trust_domain: &str) -> Self {
        Acceptor {
            config: Arc::new(ArcSwap::new(config)),
            handshake_timeout,
            trust_domain: trust_domain.into(),
        }
    }

    /// Replaces the configuration used for new connections.
    pub fn replace(&self, config: Arc<ServerConfig>) {
        self.config.store(config);
    }

    /// Accepts connections from `listener` until the returned stream is dropped. Failed or slow
    /// handshakes are dropped (and logged at debug level); they never reach the services.
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
        let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_HANDSHAKES));
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
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = TlsAcceptor::from(self.config.load_full());
            let timeout = self.handshake_timeout;
            let trust_domain = self.trust_domain.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(timeout, acceptor.accept(tcp)).await;
                drop(permit);
                let stream = match handshake {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(peer = %addr, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(peer = %addr, "TLS handshake timed out");
                        return;
                    }
                };
                let Some(cert) = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                else {
                    // Unreachable with a verifier that requires client certificates.
                    return;
                };
                let peer = PeerIdentity::from_certificate(cert.as_ref(), Some(addr), &trust_domain);
                let conn = TlsConn {
                    stream,
                    peer: Arc::new(peer),
                };
                let _ = tx.send(Ok(conn)).await;
            });
        }
    }
}

/// An established, client-authenticated TLS connection and the identity of its peer.
pub struct TlsConn {
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    peer: Arc<PeerIdentity>,
}

impl tonic::transport::server::Connected for TlsConn {
    type ConnectInfo = Arc<PeerIdentity>;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.peer.clone()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
