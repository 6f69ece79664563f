//! An established connection as the HTTP/2 server sees it: the TLS stream, the verified peer,
//! and the two timers that keep a connection from holding a file descriptor for nothing.
//!
//! - The HTTP/2 connection preface must arrive within `preface_timeout_ms` of the handshake
//!   ([`read_preface`], before the connection is handed to the server, which then reads the
//!   preface again from [`TlsConn`]).
//! - A connection with no call in progress for `idle_timeout_ms` is closed. Calls are counted
//!   by the auth layer ([`Activity::begin`]), from the request until the end of the response
//!   body, so a long watch stream keeps its connection.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::admission::ConnectionTicket;
use super::refusals::{Reason, RefusalLog};
use crate::identity::PeerIdentity;

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Calls in progress on one connection, and when the last one started or ended.
#[derive(Debug)]
pub struct Activity {
    base: Instant,
    active: AtomicUsize,
    last_ms: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            base: Instant::now(),
            active: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        }
    }
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Counts a call until the returned guard is dropped.
    pub fn begin(self: &Arc<Self>) -> CallGuard {
        self.active.fetch_add(1, Ordering::Relaxed);
        self.touch();
        CallGuard(self.clone())
    }

    /// When the connection became idle, or None while a call is in progress.
    fn idle_since(&self) -> Option<Instant> {
        if self.active.load(Ordering::Relaxed) > 0 {
            return None;
        }
        Some(self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// One call in progress; see [`Activity::begin`].
#[derive(Debug)]
pub struct CallGuard(Arc<Activity>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What each request of a connection carries in its extensions (tonic's connect info).
#[derive(Debug, Clone)]
pub struct Connection {
    /// The verified peer.
    pub peer: Arc<PeerIdentity>,
    /// The connection's calls in progress.
    pub activity: Arc<Activity>,
}

/// Reads the HTTP/2 preface within `timeout`; the bytes are replayed by [`TlsConn`].
pub async fn read_preface<S: AsyncRead + Unpin>(
    stream: &mut S,
    timeout: Duration,
) -> Result<(), Reason> {
    let mut got = [0u8; PREFACE.len()];
    match tokio::time::timeout(timeout, stream.read_exact(&mut got)).await {
        Err(_) => Err(Reason::PrefaceTimeout),
        Ok(Err(_)) => Err(Reason::BadPreface),
        Ok(Ok(_)) if &got != PREFACE => Err(Reason::BadPreface),
        Ok(Ok(_)) => Ok(()),
    }
}

/// An established, client-authenticated TLS connection whose preface was read.
pub struct TlsConn {
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    connection: Connection,
    /// How much of the preface the HTTP/2 server has read back.
    replayed: usize,
    idle: Pin<Box<Sleep>>,
    idle_timeout: Duration,
    addr: Option<SocketAddr>,
    refusals: Arc<RefusalLog>,
    refusal_logs_per_sec: u32,
    _ticket: ConnectionTicket,
}

/// The parts a [`TlsConn`] is made of.
pub(crate) struct Parts {
    pub(crate) stream: tokio_rustls::server::TlsStream<TcpStream>,
    pub(crate) peer: Arc<PeerIdentity>,
    pub(crate) ticket: ConnectionTicket,
    pub(crate) idle_timeout: Duration,
    pub(crate) refusals: Arc<RefusalLog>,
    pub(crate) refusal_logs_per_sec: u32,
}

impl TlsConn {
    pub(crate) fn new(parts: Parts) -> TlsConn {
        let addr = parts.peer.addr;
        TlsConn {
            stream: parts.stream,
            connection: Connection {
                peer: parts.peer,
                activity: Arc::new(Activity::default()),
            },
            replayed: 0,
            idle: Box::pin(tokio::time::sleep(parts.idle_timeout)),
            idle_timeout: parts.idle_timeout,
            addr,
            refusals: parts.refusals,
            refusal_logs_per_sec: parts.refusal_logs_per_sec,
            _ticket: parts.ticket,
        }
    }

    /// Pending until the connection has been idle for the idle timeout; then the error that
    /// ends it.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            if self.idle.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = Instant::now();
            match self.connection.activity.idle_since() {
                Some(since) if now.duration_since(since) >= self.idle_timeout => {
                    self.refusals.refuse(
                        Reason::IdleTimeout,
                        self.addr,
                        Some(&self.connection.peer.cert_serial),
                        self.refusal_logs_per_sec,
                    );
                    return Poll::Ready(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection idle for too long",
                    ));
                }
                Some(since) => self.idle.as_mut().reset(since + self.idle_timeout),
                None => self.idle.as_mut().reset(now + self.idle_timeout),
            }
        }
    }
}

impl tonic::transport::server::Connected for TlsConn {
    type ConnectInfo = Connection;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.connection.clone()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.replayed < PREFACE.len() {
            let n = buf.remaining().min(PREFACE.len() - this.replayed);
            buf.put_slice(&PREFACE[this.replayed..this.replayed + n]);
            this.replayed += n;
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(r) => Poll::Ready(r),
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_preface_is_checked() {
        let mut good: &[u8] = PREFACE;
        assert_eq!(
            read_preface(&mut good, Duration::from_secs(1)).await,
            Ok(())
        );
        let mut bad: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(
            read_preface(&mut bad, Duration::from_secs(1)).await,
            Err(Reason::BadPreface)
        );
        let (mut silent, _keep) = tokio::io::duplex(64);
        assert_eq!(
            read_preface(&mut silent, Duration::from_millis(20)).await,
            Err(Reason::PrefaceTimeout)
        );
    }

    #[test]
    fn activity_counts_calls() {
        let a = Arc::new(Activity::default());
        assert!(a.idle_since().is_some());
        let call = a.begin();
        let other = a.begin();
        assert!(a.idle_since().is_none());
        drop(call);
        assert!(a.idle_since().is_none(), "one call still in progress");
        drop(other);
        assert!(a.idle_since().is_some());
    }
}
