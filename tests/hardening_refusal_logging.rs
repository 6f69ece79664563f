//! Refused handshakes are visible (issue #16, attack 5). They used to be logged only at DEBUG
//! and counted nowhere. Now each is counted in `portcullis_handshakes_refused_total{reason}`
//! and logged at INFO with its reason and the certificate serial when there is one, at most
//! `refusal_logs_per_sec` lines a second (a later line says how many were suppressed).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rustls::{ClientConfig, RootCertStore};

/// Log output captured in memory.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn lines(&self, containing: &[&str]) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| containing.iter().all(|c| l.contains(c)))
            .map(str::to_owned)
            .collect()
    }
}

fn roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in portcullis::tls::load_certs(&certs().join("ca.crt")).unwrap() {
        roots.add(cert).unwrap();
    }
    roots
}

/// TLS 1.3 without a client certificate.
fn anonymous() -> Arc<ClientConfig> {
    let mut c = ClientConfig::builder_with_provider(portcullis::tls::provider())
        .with_protocol_versions(portcullis::tls::PROTOCOL_VERSIONS)
        .unwrap()
        .with_root_certificates(roots())
        .with_no_client_auth();
    c.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(c)
}

/// TLS 1.2 only, with a valid client certificate.
fn tls12() -> Arc<ClientConfig> {
    let id = client("alpha-officer");
    let mut c = ClientConfig::builder_with_provider(portcullis::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots())
        .with_client_auth_cert(
            portcullis::tls::load_certs(&id.cert).unwrap(),
            portcullis::tls::load_key(&id.key).unwrap(),
        )
        .unwrap();
    c.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(c)
}

/// Connects with `config` and says whether the gateway refused (no HTTP/2 answer).
async fn refused(gw: &TestGateway, config: Arc<ClientConfig>) -> bool {
    match raw_tls::connect(gw.running.addr(), config).await {
        Err(_) => true,
        Ok(mut conn) => !raw_tls::speaks_http2(&mut conn).await,
    }
}

const LOGS_PER_SEC: u32 = 5;
const BURST: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_handshakes_are_counted_and_logged_with_reason_and_serial() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config.transport.refusal_logs_per_sec = LOGS_PER_SEC;
    let gw = TestGateway {
        running: portcullis::server::start(config).await.unwrap(),
        dir,
    };

    // One of each kind, a second apart so that each is logged.
    let cases = [
        ("revoked", raw_tls::config("revoked"), Some("0452")),
        ("expired", raw_tls::config("expired"), Some("0453")),
        ("unknown_ca", raw_tls::config("rogue"), Some("0454")),
        ("no_certificate", anonymous(), None),
        ("protocol_version", tls12(), None),
    ];
    for (reason, client, serial) in cases {
        assert!(refused(&gw, client).await, "{reason}: refused");
        let counted = format!("portcullis_handshakes_refused_total{{reason=\"{reason}\"}} 1");
        assert!(
            raw_tls::metrics_show(&counted, Duration::from_secs(5)).await,
            "{counted}\n{}",
            portcullis::metrics::global().render()
        );
        let field = format!("reason=\"{reason}\"");
        let logged = capture.lines(&[" INFO ", "handshake refused", &field]);
        assert_eq!(logged.len(), 1, "{reason}: {logged:?}");
        if let Some(serial) = serial {
            assert!(
                logged[0].contains(&format!("serial=\"{serial}\"")),
                "{logged:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(1_100)).await;
    }

    // A burst: every refusal counted, only a few logged.
    let started = Instant::now();
    for _ in 0..BURST {
        assert!(refused(&gw, raw_tls::config("revoked")).await);
    }
    let seconds = started.elapsed().as_secs() + 1;
    let counted = format!(
        "portcullis_handshakes_refused_total{{reason=\"revoked\"}} {}",
        BURST + 1
    );
    assert!(raw_tls::metrics_show(&counted, Duration::from_secs(5)).await);
    let logged = capture
        .lines(&["handshake refused", "reason=\"revoked\""])
        .len()
        - 1;
    assert!(
        logged as u64 <= u64::from(LOGS_PER_SEC) * (seconds + 1),
        "{logged} lines for {BURST} refusals in about {seconds} s"
    );
    assert!(logged < BURST, "the log is rate-limited: {logged} lines");
    // The next line after a pause says how many were left out.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert!(refused(&gw, raw_tls::config("revoked")).await);
    assert!(
        raw_tls::metrics_show(
            &format!(
                "portcullis_handshakes_refused_total{{reason=\"revoked\"}} {}",
                BURST + 2
            ),
            Duration::from_secs(5)
        )
        .await
    );
    let lines = capture.lines(&["handshake refused", "reason=\"revoked\""]);
    let suppressed: u64 = lines[1..]
        .iter()
        .map(|l| {
            l.split("suppressed=")
                .nth(1)
                .and_then(|s| s.split(' ').next())
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no suppressed count: {l}"))
        })
        .sum();
    assert!(suppressed > 0, "{lines:?}");
    assert_eq!(
        suppressed + logged as u64,
        BURST as u64,
        "every refusal of the burst was logged or summarised in a later line"
    );
}
