//! `portcullis bench --scenarios keyservice`: the key service (tokens v2) under load.
//!
//! Starts `portcullis keyservice` as a child process (development keys and certificates, its
//! quotas raised out of the way, a temporary data directory) so that `/proc/<pid>` measures the
//! key service alone, then for batch sizes 1, 64 and 1024 runs Evaluate calls with several in
//! flight for a bounded time and a bounded number of calls: elements per second, and server
//! CPU per element (every call is also audited in the key service's own log, as in production).
//! Separately, in this process: client blind + verify-and-finalize time per element.

use std::path::Path;
use std::process::Command as Process;
use std::time::{Duration, Instant};

use super::proc_stats;
use crate::cli::{ChildGateway, Ready};
use crate::client::ClientIdentity;
use crate::config::Config;
use crate::oprf::{input, Blinded, PublicKey};
use crate::proto::v1::key_service_client::KeyServiceClient;
use crate::proto::v1::EvaluateRequest;
use crate::tokens::CanonicalKind;
use crate::Error;

/// Batch sizes measured.
const BATCHES: [usize; 3] = [1, 64, 1024];
/// The most calls of one batch size (each run also stops after its duration).
const MAX_CALLS: u64 = 1_000_000;
/// Elements blinded and finalized to time the client.
const CLIENT_ELEMENTS: usize = 4096;

/// One batch size's result.
#[derive(Debug, Clone)]
pub(super) struct BatchRow {
    batch: usize,
    calls: u64,
    errors: u64,
    elements_per_sec: f64,
    cpu_us_per_element: Option<f64>,
}

/// The scenario's result.
#[derive(Debug, Clone)]
pub(super) struct KeyServiceReport {
    rows: Vec<BatchRow>,
    client_blind_us: f64,
    client_finalize_us: f64,
}

fn config_text(certs: &Path, data: &Path) -> String {
    let p = |f: &str| certs.join(f).display().to_string();
    format!(
        r#"listen = "127.0.0.1:0"
data_dir = "{data}"
trust_domain = "{td}"
accredited_parties = ["alpha", "beta"]
matching_key_ids = ["{v1}", "{v2}"]
key_service_keys = ["{key}"]
[tls]
ca = "{ca}"
cert = "{cert}"
key = "{skey}"
crl = "{crl}"
[audit]
origin = "{origin}"
signing_key = "{log}"
[limits]
evaluate_per_sec = 1e12
evaluate_burst = 1e12
evaluate_per_day = 1000000000000
"#,
        data = data.display(),
        td = crate::pki::DEV_TRUST_DOMAIN,
        v1 = crate::pki::DEV_MATCHING_KEY_ID,
        v2 = crate::pki::DEV_KEYSERVICE_KEY_ID,
        key = p(crate::pki::DEV_KEYSERVICE_KEY_FILE),
        ca = p("ca.crt"),
        cert = p("server.crt"),
        skey = p("server.key"),
        crl = p("crl.pem"),
        origin = crate::pki::DEV_KEYSERVICE_LOG_NAME,
        log = p(crate::pki::DEV_KEYSERVICE_LOG_KEY_FILE),
    )
}

/// Starts this executable as `keyservice --dev --config <dir>/keyservice.toml` (logging only
/// warnings) and waits at most 30 seconds for the address it prints; killed when dropped.
fn start(dir: &Path) -> Result<ChildGateway, Error> {
    let certs = std::fs::canonicalize(Config::dev_certs_dir())
        .map_err(|e| Error::io(Config::dev_certs_dir(), e))?;
    let path = dir.join("keyservice.toml");
    std::fs::write(&path, config_text(&certs, &dir.join("data")))
        .map_err(|e| Error::io(&path, e))?;
    let exe = std::env::current_exe().map_err(|e| Error::io("current executable", e))?;
    let mut keyservice = Process::new(exe);
    keyservice
        .args(["keyservice", "--dev", "--config"])
        .arg(&path)
        .env("RUST_LOG", "warn");
    ChildGateway::spawn_until(
        keyservice,
        Ready::StdoutLine("keyservice listening on "),
        Duration::from_secs(30),
    )
}

/// Blinded requests to send round-robin (the service does not care that they repeat).
fn requests(batch: usize, count: usize) -> Result<Vec<EvaluateRequest>, Error> {
    (0..count)
        .map(|r| {
            let inputs = (0..batch)
                .map(|i| input(CanonicalKind::Email, &format!("bench-{r}-{i}@example.org")))
                .collect();
            let b = Blinded::new(inputs)?;
            Ok(EvaluateRequest {
                key_id: crate::pki::DEV_KEYSERVICE_KEY_ID.to_owned(),
                blinded_elements: b.elements().iter().map(|e| e.to_vec()).collect(),
            })
        })
        .collect()
}

/// Runs the scenario for `duration` per batch size with `concurrency` calls in flight.
pub(super) async fn run(duration: Duration, concurrency: usize) -> Result<KeyServiceReport, Error> {
    let dir = std::env::temp_dir().join(format!("portcullis-bench-ks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let result = measure(&dir, duration, concurrency).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(
    dir: &Path,
    duration: Duration,
    concurrency: usize,
) -> Result<KeyServiceReport, Error> {
    let child = start(dir)?;
    let certs = Config::dev_certs_dir();
    let url = child.server();
    let identity = ClientIdentity::from_prefix(&certs.join("clients").join("alpha-officer"));
    let channel = crate::client::connect(&url, &certs.join("ca.crt"), &identity).await?;
    let client = KeyServiceClient::new(channel)
        .max_decoding_message_size(8 << 20)
        .max_encoding_message_size(8 << 20);
    let clk = proc_stats::clk_tck();
    let pid = child.pid();

    let mut rows = Vec::new();
    for batch in BATCHES {
        eprintln!("bench: keyservice batch {batch}");
        let pool = requests(batch, 16)?;
        let in_flight = if batch >= 1024 {
            concurrency.min(4)
        } else {
            concurrency
        };
        let before = proc_stats::proc_cpu_seconds(pid, clk);
        let start = Instant::now();
        let deadline = start + duration;
        let mut tasks = Vec::new();
        for w in 0..in_flight {
            let mut client = client.clone();
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                let (mut ok, mut errors, mut i) = (0u64, 0u64, w);
                while Instant::now() < deadline && ok + errors < MAX_CALLS {
                    match client.evaluate(pool[i % pool.len()].clone()).await {
                        Ok(_) => ok += 1,
                        Err(_) => errors += 1,
                    }
                    i += in_flight;
                }
                (ok, errors)
            }));
        }
        let (mut calls, mut errors) = (0, 0);
        for t in tasks {
            let (ok, e) = t.await.unwrap_or((0, 1));
            calls += ok;
            errors += e;
        }
        let seconds = start.elapsed().as_secs_f64();
        let after = proc_stats::proc_cpu_seconds(pid, clk);
        let elements = (calls * batch as u64) as f64;
        rows.push(BatchRow {
            batch,
            calls,
            errors,
            elements_per_sec: elements / seconds,
            cpu_us_per_element: match (before, after) {
                (Some(b), Some(a)) if elements > 0.0 => Some((a - b) * 1e6 / elements),
                _ => None,
            },
        });
    }

    // The client's own work per element: blind, then verify the batch proof and finalize.
    let pinned = PublicKey::from_file(&certs.join(crate::pki::DEV_KEYSERVICE_PUB_FILE))?;
    let inputs: Vec<Vec<u8>> = (0..CLIENT_ELEMENTS)
        .map(|i| input(CanonicalKind::Email, &format!("client-{i}@example.org")))
        .collect();
    let (mut blind_s, mut finalize_s) = (0.0, 0.0);
    let mut client = client;
    for chunk in inputs.chunks(crate::oprf::MAX_BATCH) {
        let t = Instant::now();
        let blinded = Blinded::new(chunk.to_vec())?;
        blind_s += t.elapsed().as_secs_f64();
        let answer = client
            .evaluate(EvaluateRequest {
                key_id: pinned.id().to_owned(),
                blinded_elements: blinded.elements().iter().map(|e| e.to_vec()).collect(),
            })
            .await?
            .into_inner();
        let t = Instant::now();
        blinded.finalize(&pinned, &answer.evaluated_elements, &answer.proof)?;
        finalize_s += t.elapsed().as_secs_f64();
    }
    drop(child);
    let per = |s: f64| s * 1e6 / CLIENT_ELEMENTS as f64;
    Ok(KeyServiceReport {
        rows,
        client_blind_us: per(blind_s),
        client_finalize_us: per(finalize_s),
    })
}

impl KeyServiceReport {
    /// The report as JSON.
    pub(super) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "keyservice": {
                "batches": self.rows.iter().map(|r| serde_json::json!({
                    "batch": r.batch,
                    "calls": r.calls,
                    "errors": r.errors,
                    "elements_per_sec": r.elements_per_sec,
                    "server_cpu_us_per_element": r.cpu_us_per_element,
                    "elements_per_cpu_second": r.cpu_us_per_element.filter(|c| *c > 0.0).map(|c| 1e6 / c),
                })).collect::<Vec<_>>(),
                "client_blind_us_per_element": self.client_blind_us,
                "client_finalize_us_per_element": self.client_finalize_us,
            }
        })
    }

    /// The report as a table.
    pub(super) fn print(&self) {
        println!(
            "{:<18} {:>9} {:>12} {:>14} {:>16}  errors",
            "keyservice batch", "calls", "elements/s", "cpu µs/elem", "elem/cpu-second"
        );
        for r in &self.rows {
            let cpu = r.cpu_us_per_element;
            println!(
                "{:<18} {:>9} {:>12.0} {:>14} {:>16}  {}",
                r.batch,
                r.calls,
                r.elements_per_sec,
                cpu.map_or("-".to_owned(), |c| format!("{c:.1}")),
                cpu.filter(|c| *c > 0.0)
                    .map_or("-".to_owned(), |c| format!("{:.0}", 1e6 / c)),
                r.errors
            );
        }
        println!(
            "client: blind {:.1} µs/element, verify + finalize {:.1} µs/element (batches of {})",
            self.client_blind_us,
            self.client_finalize_us,
            crate::oprf::MAX_BATCH
        );
    }
}
