//! Raw TLS connections to the gateway, for tests that misbehave below gRPC: connections that
//! never send the HTTP/2 preface, certificates made on the spot, resumption probes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The rustls client configuration of `certs-dev/clients/<who>`.
pub fn config(who: &str) -> Arc<ClientConfig> {
    let id = super::client(who);
    portcullis::tls::client_config(&super::certs().join("ca.crt"), &id.cert, &id.key).unwrap()
}

/// The rustls client configuration of a certificate and key at `prefix.crt|.key`.
pub fn config_of(prefix: &Path) -> Arc<ClientConfig> {
    let id = portcullis::client::ClientIdentity::from_prefix(prefix);
    portcullis::tls::client_config(&super::certs().join("ca.crt"), &id.cert, &id.key).unwrap()
}

/// A TLS connection to `addr` (the client's side of the handshake done), within 5 s.
pub async fn connect(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let connect = async {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost").unwrap();
        TlsConnector::from(config).connect(name, tcp).await
    };
    tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

/// Whether the gateway closes `stream` (EOF or an error such as a TLS alert) within `within`,
/// discarding anything it sends first (SETTINGS, GOAWAY).
pub async fn closed_within(stream: &mut TlsStream<TcpStream>, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read_to_end).await.is_ok()
}

/// Sends the HTTP/2 preface and an empty SETTINGS frame, and reads the gateway's first frame
/// header: true if it answered with HTTP/2 (a SETTINGS frame), false if it closed instead.
pub async fn speaks_http2(stream: &mut TlsStream<TcpStream>) -> bool {
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend_from_slice(&[0, 0, 0, 0x04, 0, 0, 0, 0, 0]);
    if stream.write_all(&hello).await.is_err() || stream.flush().await.is_err() {
        return false;
    }
    let mut header = [0u8; 9];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut header)).await,
        Ok(Ok(_)) if header[3] == 0x04
    )
}

/// Whether this process's metrics contain `needle` within `within` (refusals are counted by
/// the gateway's connection task, just after the client sees the connection close).
pub async fn metrics_show(needle: &str, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if portcullis::metrics::global().render().contains(needle) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of the metric sample `name{labels}` in this process (0 if absent).
pub fn metric(sample: &str) -> u64 {
    portcullis::metrics::global()
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}
