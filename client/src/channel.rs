//! An mTLS gRPC channel to a gateway, for back offices, the gateway's CLI, tests and benchmarks.
//! TLS is configured by [`crate::tls::client_config`] (TLS 1.3, ring) and the connection made by
//! a connector of ours, so tonic's own TLS stack is not involved.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::tls::TlsError;

/// Why a channel could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The server address is not `https://host:port`.
    #[error("--server {server}: {reason}")]
    Address {
        /// The address given.
        server: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The CA, certificate or key could not be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The gateway could not be reached or the handshake failed.
    #[error("{0}")]
    Connect(String),
}

fn address(server: &str, reason: impl std::fmt::Display) -> ChannelError {
    ChannelError::Address {
        server: server.to_owned(),
        reason: reason.to_string(),
    }
}

/// Where a client's certificate and key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The client certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

impl ClientIdentity {
    /// `PREFIX.crt` and `PREFIX.key`.
    pub fn from_prefix(prefix: &Path) -> Self {
        let with = |ext: &str| {
            let mut p = prefix.as_os_str().to_owned();
            p.push(ext);
            PathBuf::from(p)
        };
        ClientIdentity {
            cert: with(".crt"),
            key: with(".key"),
        }
    }
}

/// Connects to `server` (`https://host:port`), trusting `ca` and presenting `identity`.
pub async fn connect(
    server: &str,
    ca: &Path,
    identity: &ClientIdentity,
) -> Result<Channel, ChannelError> {
    let config = crate::tls::client_config(ca, &identity.cert, &identity.key)?;
    connect_with(server, config).await
}

/// Connects to `server` with an explicit rustls client configuration.
pub async fn connect_with(
    server: &str,
    config: Arc<rustls::ClientConfig>,
) -> Result<Channel, ChannelError> {
    let uri: Uri = server.parse().map_err(|e| address(server, e))?;
    if uri.scheme_str() != Some("https") {
        return Err(address(server, "must be https://host:port"));
    }
    let host = uri
        .host()
        .ok_or_else(|| address(server, "no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let server_name = ServerName::try_from(host.clone()).map_err(|e| address(server, e))?;
    let connector = TlsConnector::from(config);
    // tonic speaks plain HTTP/2 to our connector, which does the TLS.
    let endpoint =
        Endpoint::from_shared(format!("http://{host}:{port}")).map_err(|e| address(server, e))?;
    let channel = endpoint
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let connector = connector.clone();
            let server_name = server_name.clone();
            let host = host.clone();
            async move {
                let tcp = TcpStream::connect((host.as_str(), port)).await?;
                tcp.set_nodelay(true)?;
                let tls = connector.connect(server_name, tcp).await?;
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await
        .map_err(|e| ChannelError::Connect(format!("{server}: {}", error_chain(&e))))?;
    Ok(channel)
}

/// A replayed audit record as a verifier reads it: the index and the exact leaf bytes. The
/// decoded `entry` the gateway also sends is skipped without being decoded: a verifier decodes
/// the leaf itself and never trusts the gateway's decoding.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReplayedLeaf {
    /// `AuditRecord.index`.
    #[prost(uint64, tag = "1")]
    pub index: u64,
    /// `AuditRecord.leaf`: the exact bytes hashed into the log.
    #[prost(bytes = "vec", tag = "2")]
    pub leaf: Vec<u8>,
}

/// Replays the entries `[start, end)` (`AuditService/Replay`, not following), reading each
/// `AuditRecord` as a [`ReplayedLeaf`].
pub async fn replay_leaves(
    channel: Channel,
    start: u64,
    end: u64,
) -> Result<tonic::Streaming<ReplayedLeaf>, tonic::Status> {
    let request = crate::proto::v1::ReplayRequest {
        start,
        end,
        follow: false,
    };
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("gateway not ready: {e}")))?;
    let codec = tonic_prost::ProstCodec::<crate::proto::v1::ReplayRequest, ReplayedLeaf>::default();
    let path = http::uri::PathAndQuery::from_static("/portcullis.v1.AuditService/Replay");
    Ok(grpc
        .server_streaming(tonic::Request::new(request), path, codec)
        .await?
        .into_inner())
}

/// An error and its sources, joined, for messages a person reads.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}
