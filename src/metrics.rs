//! Prometheus metrics, served as text on a separate loopback-only HTTP port: calls by method
//! and code, call latency, audit batch sizes and flush latency, log size, audit health, and the
//! transport's refusals, pending handshakes and open connections.
//!
//! A process-wide registry (like the Prometheus client libraries' default one), so that the
//! audit writer and the gRPC layer record without being wired to each other.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Upper bounds of the batch-size buckets.
const BATCH_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 256.0, 1024.0, 4096.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        for (i, b) in bounds.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in bounds.iter().enumerate() {
            let c = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// The registry.
#[derive(Debug, Default)]
pub struct Metrics {
    calls: Mutex<BTreeMap<(String, i32), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    batches: Mutex<Histogram>,
    flushes: Mutex<Histogram>,
    log_size: AtomicU64,
    audit_failures: AtomicU64,
    audit_ok: AtomicBool,
    handshakes_refused: Mutex<BTreeMap<&'static str, u64>>,
    connections_refused: Mutex<BTreeMap<&'static str, u64>>,
    pending_handshakes: AtomicU64,
    open_connections: AtomicU64,
}

/// The process-wide registry.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| Metrics {
        audit_ok: AtomicBool::new(true),
        ..Metrics::default()
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Metrics are plain counters: a panic elsewhere mid-update leaves them usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    /// Counts a call to `method` answered with `code`, taking `latency`.
    pub fn call(&self, method: &str, code: i32, latency: Duration) {
        *lock(&self.calls)
            .entry((method.to_owned(), code))
            .or_default() += 1;
        lock(&self.latency)
            .entry(method.to_owned())
            .or_default()
            .observe(&LATENCY_BUCKETS, latency.as_secs_f64());
    }

    /// Records a durable audit batch.
    pub fn audit_batch(&self, entries: usize, flush: Duration, log_size: u64) {
        lock(&self.batches).observe(&BATCH_BUCKETS, entries as f64);
        lock(&self.flushes).observe(&LATENCY_BUCKETS, flush.as_secs_f64());
        self.log_size.store(log_size, Ordering::Relaxed);
        self.audit_ok.store(true, Ordering::Relaxed);
    }

    /// Records a failed audit batch.
    pub fn audit_failure(&self) {
        self.audit_failures.fetch_add(1, Ordering::Relaxed);
        self.audit_ok.store(false, Ordering::Relaxed);
    }

    /// Whether the last audit batch was made durable.
    pub fn audit_writable(&self) -> bool {
        self.audit_ok.load(Ordering::Relaxed)
    }

    /// Counts a connection refused before or during its TLS handshake, by reason.
    pub fn handshake_refused(&self, reason: &'static str) {
        *lock(&self.handshakes_refused).entry(reason).or_default() += 1;
    }

    /// Counts an established connection closed by a transport limit, by reason.
    pub fn connection_refused(&self, reason: &'static str) {
        *lock(&self.connections_refused).entry(reason).or_default() += 1;
    }

    /// Sets the number of TLS handshakes in progress.
    pub fn pending_handshakes(&self, n: usize) {
        self.pending_handshakes.store(n as u64, Ordering::Relaxed);
    }

    /// Sets the number of established connections.
    pub fn open_connections(&self, n: usize) {
        self.open_connections.store(n as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP portcullis_calls_total gRPC calls by method and status code.\n");
        out.push_str("# TYPE portcullis_calls_total counter\n");
        for ((method, code), n) in lock(&self.calls).iter() {
            let code = code_name(*code);
            let _ = writeln!(
                out,
                "portcullis_calls_total{{method=\"{method}\",code=\"{code}\"}} {n}"
            );
        }
        out.push_str("# HELP portcullis_call_seconds Time to the answer's headers, by method.\n");
        out.push_str("# TYPE portcullis_call_seconds histogram\n");
        for (method, h) in lock(&self.latency).iter() {
            h.render(
                &mut out,
                "portcullis_call_seconds",
                &format!("method=\"{method}\""),
                &LATENCY_BUCKETS,
            );
        }
        out.push_str("# HELP portcullis_audit_batch_entries Entries made durable per flush.\n");
        out.push_str("# TYPE portcullis_audit_batch_entries histogram\n");
        lock(&self.batches).render(
            &mut out,
            "portcullis_audit_batch_entries",
            "",
            &BATCH_BUCKETS,
        );
        out.push_str("# HELP portcullis_audit_flush_seconds Time to apply and flush a batch.\n");
        out.push_str("# TYPE portcullis_audit_flush_seconds histogram\n");
        lock(&self.flushes).render(
            &mut out,
            "portcullis_audit_flush_seconds",
            "",
            &LATENCY_BUCKETS,
        );
        let _ = writeln!(
            out,
            "# HELP portcullis_audit_log_entries Entries in the audit log.\n# TYPE portcullis_audit_log_entries gauge\nportcullis_audit_log_entries {}",
            self.log_size.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP portcullis_audit_failures_total Audit batches that failed.\n# TYPE portcullis_audit_failures_total counter\nportcullis_audit_failures_total {}",
            self.audit_failures.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP portcullis_audit_writable 1 if the last audit batch was durable.\n# TYPE portcullis_audit_writable gauge\nportcullis_audit_writable {}",
            u8::from(self.audit_writable())
        );
        out.push_str(
            "# HELP portcullis_handshakes_refused_total Connections refused before or during the TLS handshake, by reason.\n# TYPE portcullis_handshakes_refused_total counter\n",
        );
        for (reason, n) in lock(&self.handshakes_refused).iter() {
            let _ = writeln!(
                out,
                "portcullis_handshakes_refused_total{{reason=\"{reason}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP portcullis_connections_refused_total Established connections closed by a transport limit, by reason.\n# TYPE portcullis_connections_refused_total counter\n",
        );
        for (reason, n) in lock(&self.connections_refused).iter() {
            let _ = writeln!(
                out,
                "portcullis_connections_refused_total{{reason=\"{reason}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP portcullis_pending_handshakes TLS handshakes in progress.\n# TYPE portcullis_pending_handshakes gauge\nportcullis_pending_handshakes {}",
            self.pending_handshakes.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP portcullis_open_connections Established client connections.\n# TYPE portcullis_open_connections gauge\nportcullis_open_connections {}",
            self.open_connections.load(Ordering::Relaxed)
        );
        out
    }
}

/// Serves `GET /metrics` on `listener` (which the caller bound to a loopback address).
pub async fn serve(listener: TcpListener, mut closing: tokio::sync::watch::Receiver<bool>) {
    loop {
        let (mut conn, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => continue,
            },
            _ = closing.changed() => return,
        };
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let read = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await;
            let Ok(Ok(n)) = read else { return };
            let request = String::from_utf8_lossy(&buf[..n]);
            let (status, body) = if request.starts_with("GET /metrics ") {
                ("200 OK", global().render())
            } else {
                ("404 Not Found", "not found\n".to_owned())
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(response.as_bytes()).await;
            let _ = conn.shutdown().await;
        });
    }
}

/// Binds the metrics listener, refusing anything but a loopback address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    if !addr.ip().is_loopback() {
        return Err(format!("metrics_listen: {addr} is not a loopback address"));
    }
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("metrics_listen: cannot bind {addr}: {e}"))
}

/// The gRPC status code's canonical name (`OK`, `INVALID_ARGUMENT`, …, as in the gRPC
/// status-code list) for the `code` label; a value outside the list is `UNKNOWN`, as gRPC
/// itself treats it.
fn code_name(code: i32) -> &'static str {
    use tonic::Code;
    match Code::from_i32(code) {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.call("/p.S/M", 0, Duration::from_millis(2));
        m.call("/p.S/M", 3, Duration::from_millis(20));
        m.audit_batch(5, Duration::from_millis(1), 42);
        let text = m.render();
        assert!(text.contains("portcullis_calls_total{method=\"/p.S/M\",code=\"OK\"} 1"));
        assert!(
            text.contains("portcullis_calls_total{method=\"/p.S/M\",code=\"INVALID_ARGUMENT\"} 1")
        );
        assert!(!text.contains("code=\"0\""));
        assert_eq!(code_name(16), "UNAUTHENTICATED");
        assert_eq!(code_name(99), "UNKNOWN");
        assert!(text.contains("portcullis_call_seconds_bucket{method=\"/p.S/M\",le=\"0.0025\"} 1"));
        assert!(text.contains("portcullis_call_seconds_count{method=\"/p.S/M\"} 2"));
        assert!(text.contains("portcullis_audit_batch_entries_bucket{le=\"8\"} 1"));
        assert!(text.contains("portcullis_audit_log_entries 42"));
        m.handshake_refused("revoked");
        m.handshake_refused("revoked");
        m.connection_refused("idle_timeout");
        m.open_connections(3);
        let text = m.render();
        assert!(text.contains("portcullis_handshakes_refused_total{reason=\"revoked\"} 2"));
        assert!(text.contains("portcullis_connections_refused_total{reason=\"idle_timeout\"} 1"));
        assert!(text.contains("portcullis_open_connections 3"));
    }

    #[tokio::test]
    async fn refuses_non_loopback() {
        assert!(bind("0.0.0.0:0".parse().unwrap()).await.is_err());
        assert!(bind("127.0.0.1:0".parse().unwrap()).await.is_ok());
    }
}
