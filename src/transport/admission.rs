//! Admission: how many connections may be handshaking or open at once, overall, per source
//! address and per client certificate.
//!
//! - **Pending handshakes** are capped overall and per source IP. When a cap is reached the
//!   newcomer is not refused: the *oldest* pending handshake (of that source, or overall) is
//!   evicted instead. A legitimate client completes its handshake in a few round trips, so it
//!   is never the oldest for long, while silent or trickling connections age in place; a flood
//!   of them therefore cannot keep a fresh client out, and the accept loop never waits.
//! - **Established connections** are capped overall and per certificate; one over a cap is
//!   closed right after its handshake and counted.
//!
//! The limits are read at each admission, so a configuration reload applies to the next
//! connection.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::oneshot;

use super::refusals::Reason;

/// The transport limits of the `[transport]` configuration table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportLimits {
    /// The complete TLS ClientHello must arrive within this long of the TCP accept.
    pub hello_timeout: Duration,
    /// Most TLS handshakes in progress at once; beyond, the oldest is evicted.
    pub max_pending_handshakes: usize,
    /// Most TLS handshakes in progress from one source IP; beyond, its oldest is evicted.
    pub max_pending_handshakes_per_ip: usize,
    /// The HTTP/2 connection preface must arrive within this long of the handshake.
    pub preface_timeout: Duration,
    /// A connection with no call in progress for this long is closed.
    pub idle_timeout: Duration,
    /// Most established connections at once.
    pub max_connections: usize,
    /// Most established connections of one client certificate.
    pub max_connections_per_cert: usize,
    /// Most HTTP/2 streams (calls) in flight on one connection (applied at start-up).
    pub max_concurrent_streams: u32,
    /// Most refusal log lines per second; the rest are counted and summarised.
    pub refusal_logs_per_sec: u32,
}

impl Default for TransportLimits {
    fn default() -> Self {
        TransportLimits {
            hello_timeout: Duration::from_millis(2_000),
            max_pending_handshakes: 1_024,
            max_pending_handshakes_per_ip: 128,
            preface_timeout: Duration::from_millis(5_000),
            idle_timeout: Duration::from_millis(300_000),
            max_connections: 4_096,
            max_connections_per_cert: 64,
            max_concurrent_streams: 256,
            refusal_logs_per_sec: 10,
        }
    }
}

/// The bookkeeping behind the caps.
#[derive(Debug, Default)]
struct State {
    next_id: u64,
    /// Pending handshakes by age (id), with the source and the eviction signal.
    pending: BTreeMap<u64, (IpAddr, oneshot::Sender<()>)>,
    /// Pending handshake ids per source, oldest first.
    pending_by_ip: HashMap<IpAddr, BTreeSet<u64>>,
    /// Established connections overall.
    open: usize,
    /// Established connections per certificate (SHA-256 of the DER).
    open_by_cert: HashMap<[u8; 32], usize>,
}

/// Admission control for one listener; cheap to clone.
#[derive(Debug, Clone)]
pub struct Admission {
    limits: Arc<ArcSwap<TransportLimits>>,
    state: Arc<Mutex<State>>,
}

impl Admission {
    /// Admission under `limits`.
    pub fn new(limits: TransportLimits) -> Self {
        Admission {
            limits: Arc::new(ArcSwap::from_pointee(limits)),
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> TransportLimits {
        **self.limits.load()
    }

    /// Applies new limits to the next admissions (connections already admitted stay).
    pub fn replace(&self, limits: TransportLimits) {
        self.limits.store(Arc::new(limits));
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain counters: a panic elsewhere mid-update cannot leave them unusable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new handshake from `ip`, evicting the oldest pending handshake of that
    /// source (or overall) if a cap is reached. The returned slot frees itself when dropped;
    /// its `evicted` receiver fires if a newer connection takes its place.
    pub fn begin_handshake(&self, ip: IpAddr) -> HandshakeSlot {
        let limits = self.limits();
        let mut state = self.lock();
        let from_ip = state.pending_by_ip.get(&ip).map_or(0, BTreeSet::len);
        if from_ip >= limits.max_pending_handshakes_per_ip.max(1) {
            let oldest = state
                .pending_by_ip
                .get(&ip)
                .and_then(|ids| ids.first().copied());
            if let Some(id) = oldest {
                state.evict(id);
            }
        }
        if state.pending.len() >= limits.max_pending_handshakes.max(1) {
            if let Some(id) = state.pending.keys().next().copied() {
                state.evict(id);
            }
        }
        let id = state.next_id;
        state.next_id += 1;
        let (tx, evicted) = oneshot::channel();
        state.pending.insert(id, (ip, tx));
        state.pending_by_ip.entry(ip).or_default().insert(id);
        crate::metrics::global().pending_handshakes(state.pending.len());
        HandshakeSlot {
            admission: self.clone(),
            id,
            evicted: Some(evicted),
        }
    }

    /// Admits an established connection of certificate `cert_sha256`, or says which cap it is
    /// over. The returned ticket frees its place when dropped (when the connection closes).
    pub fn open_connection(&self, cert_sha256: [u8; 32]) -> Result<ConnectionTicket, Reason> {
        let limits = self.limits();
        let mut state = self.lock();
        if state.open >= limits.max_connections {
            return Err(Reason::ConnectionCap);
        }
        let mine = state.open_by_cert.get(&cert_sha256).copied().unwrap_or(0);
        if mine >= limits.max_connections_per_cert {
            return Err(Reason::CertConnectionCap);
        }
        state.open += 1;
        *state.open_by_cert.entry(cert_sha256).or_default() += 1;
        crate::metrics::global().open_connections(state.open);
        Ok(ConnectionTicket {
            admission: self.clone(),
            cert_sha256,
        })
    }

    /// Handshakes in progress and established connections, for tests and metrics.
    pub fn counts(&self) -> (usize, usize) {
        let state = self.lock();
        (state.pending.len(), state.open)
    }
}

impl State {
    /// Removes pending handshake `id`; with `signal`, tells its task to give up.
    fn remove(&mut self, id: u64) -> Option<oneshot::Sender<()>> {
        let (ip, tx) = self.pending.remove(&id)?;
        if let Some(ids) = self.pending_by_ip.get_mut(&ip) {
            ids.remove(&id);
            if ids.is_empty() {
                self.pending_by_ip.remove(&ip);
            }
        }
        Some(tx)
    }

    fn evict(&mut self, id: u64) {
        if let Some(tx) = self.remove(id) {
            // The task may already be finishing; then there is nobody to tell.
            let _ = tx.send(());
        }
    }
}

/// A place among the pending handshakes; see [`Admission::begin_handshake`].
#[derive(Debug)]
pub struct HandshakeSlot {
    admission: Admission,
    id: u64,
    evicted: Option<oneshot::Receiver<()>>,
}

impl HandshakeSlot {
    /// Resolves when a newer connection evicts this one (never, once taken).
    pub async fn evicted(&mut self) {
        match self.evicted.as_mut() {
            Some(rx) => {
                if rx.await.is_err() {
                    // Slot freed without eviction: wait forever (the handshake decides).
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let mut state = self.admission.lock();
        state.remove(self.id);
        crate::metrics::global().pending_handshakes(state.pending.len());
    }
}

/// An admitted connection's place; see [`Admission::open_connection`].
#[derive(Debug)]
pub struct ConnectionTicket {
    admission: Admission,
    cert_sha256: [u8; 32],
}

impl Drop for ConnectionTicket {
    fn drop(&mut self) {
        let mut state = self.admission.lock();
        state.open = state.open.saturating_sub(1);
        if let Some(n) = state.open_by_cert.get_mut(&self.cert_sha256) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                state.open_by_cert.remove(&self.cert_sha256);
            }
        }
        crate::metrics::global().open_connections(state.open);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(pending: usize, per_ip: usize, open: usize, per_cert: usize) -> TransportLimits {
        TransportLimits {
            max_pending_handshakes: pending,
            max_pending_handshakes_per_ip: per_ip,
            max_connections: open,
            max_connections_per_cert: per_cert,
            ..TransportLimits::default()
        }
    }

    #[tokio::test]
    async fn a_full_source_evicts_its_oldest_handshake() {
        let a = Admission::new(limits(100, 2, 10, 10));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let mut first = a.begin_handshake(ip);
        let _second = a.begin_handshake(ip);
        let _elsewhere = a.begin_handshake(other);
        assert_eq!(a.counts().0, 3);
        let _third = a.begin_handshake(ip);
        tokio::time::timeout(Duration::from_secs(1), first.evicted())
            .await
            .expect("the oldest handshake of the full source is evicted");
        assert_eq!(a.counts().0, 3);
    }

    #[tokio::test]
    async fn a_full_listener_evicts_the_oldest_overall() {
        let a = Admission::new(limits(2, 10, 10, 10));
        let mut first = a.begin_handshake("10.0.0.1".parse().unwrap());
        let mut second = a.begin_handshake("10.0.0.2".parse().unwrap());
        let _third = a.begin_handshake("10.0.0.3".parse().unwrap());
        tokio::time::timeout(Duration::from_secs(1), first.evicted())
            .await
            .expect("oldest evicted");
        let still = tokio::time::timeout(Duration::from_millis(50), second.evicted()).await;
        assert!(still.is_err(), "the second is kept");
        drop(second);
        assert_eq!(a.counts().0, 1);
    }

    #[test]
    fn connections_are_capped_overall_and_per_certificate() {
        let a = Admission::new(limits(10, 10, 3, 2));
        let (x, y, z) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        let x1 = a.open_connection(x).unwrap();
        let _x2 = a.open_connection(x).unwrap();
        assert_eq!(a.open_connection(x).unwrap_err(), Reason::CertConnectionCap);
        let _y1 = a.open_connection(y).unwrap();
        assert_eq!(a.open_connection(z).unwrap_err(), Reason::ConnectionCap);
        drop(x1);
        assert!(
            a.open_connection(x).is_ok(),
            "a closed connection frees its place"
        );
        a.replace(limits(10, 10, 10, 1));
        assert_eq!(a.open_connection(y).unwrap_err(), Reason::CertConnectionCap);
    }
}
