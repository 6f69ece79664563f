//! `portcullis bench`: a load benchmark over real mutual-TLS gRPC on loopback.
//!
//! Unless `--server` names a running gateway, the benchmark starts one as a child process
//! (`serve --dev --config <tmp>/bench.toml`) on a temporary data directory, with rate limits
//! raised out of the way, so that `/proc/<pid>` measures the server alone: CPU time (user +
//! system) per call and peak resident memory. It seeds the gateway with advisories, then runs
//! each scenario for a bounded time and a bounded number of calls:
//!
//! | scenario       | what one operation is                                              |
//! |----------------|--------------------------------------------------------------------|
//! | `health`       | `grpc.health.v1.Health/Check`: same TLS, HTTP/2 and runtime, no work |
//! | `vet-miss`     | `Vet` with 4 tokens matching nothing                                |
//! | `vet-hit`      | `Vet` with the 4 tokens of a seeded advisory                        |
//! | `vet-batch`    | one item of a single `VetBatch` stream                              |
//! | `publish`      | `Publish` of a new advisory with 4 tokens                           |
//! | `audit-verify` | one log entry replayed and verified online, as `audit verify` does  |
//! | `keyservice`   | one element evaluated by a `portcullis keyservice` child (only when named) |
//!
//! Throughput and server CPU per operation are reported as ratios to `health` measured in the
//! same run, because absolute numbers say more about the machine than about the gateway.
//! Latencies go to an HDR histogram (microsecond resolution, 3 significant digits); every
//! non-OK status is counted by code.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use super::proc_stats::{clk_tck, proc_cpu_seconds, proc_status_kib};
use crate::audit::checkpoint::NoteVerifier;
use crate::audit::verify::{LogVerifier, VerifyError};
use crate::audit::AuditError;
use crate::client::ClientIdentity;
use crate::config::Config;
use crate::proto::v1::advisory_service_client::AdvisoryServiceClient;
use crate::proto::v1::audit_service_client::AuditServiceClient;
use crate::proto::v1::vetting_service_client::VettingServiceClient;
use crate::proto::v1::{
    GetCheckpointRequest, Handling, Likelihood, MatchToken, PublishRequest, RiskGrade, SubjectKind,
    TokenKind, VetRequest,
};
use crate::Error;

/// The benchmark's scenarios, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub(crate) enum Scenario {
    /// `grpc.health.v1.Health/Check`, the baseline.
    Health,
    /// `Vet` with tokens that match nothing.
    VetMiss,
    /// `Vet` with the tokens of a seeded advisory.
    VetHit,
    /// Items of one `VetBatch` stream.
    VetBatch,
    /// `Publish` of new advisories.
    Publish,
    /// Online verification of the whole audit log, as the auditor.
    AuditVerify,
    /// The key service (tokens v2) in its own child process: Evaluate at batch sizes 1, 64
    /// and 1024, and the client's blind and finalize (only when named; see
    /// `bench_keyservice`).
    Keyservice,
}

impl Scenario {
    const ALL: [Scenario; 6] = [
        Scenario::Health,
        Scenario::VetMiss,
        Scenario::VetHit,
        Scenario::VetBatch,
        Scenario::Publish,
        Scenario::AuditVerify,
    ];

    /// The name in the table and the JSON.
    fn name(self) -> &'static str {
        match self {
            Scenario::Health => "health",
            Scenario::VetMiss => "vet-miss",
            Scenario::VetHit => "vet-hit",
            Scenario::VetBatch => "vet-batch",
            Scenario::Publish => "publish",
            Scenario::AuditVerify => "audit-verify",
            Scenario::Keyservice => "keyservice",
        }
    }

    /// What one operation of the scenario is.
    fn unit(self) -> &'static str {
        match self {
            Scenario::VetBatch => "items",
            Scenario::AuditVerify => "entries",
            Scenario::Keyservice => "elements",
            _ => "calls",
        }
    }
}

/// The entries that grow the log before a start-up is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFill {
    /// Vets that match nothing: each stores its audit entry, its remembered answer and a watch
    /// record per token, so the gateway's state grows with the log.
    Vets,
    /// Vets refused for an unknown key id: each stores only its audit entry, so only the log
    /// grows.
    Refusals,
}

/// `portcullis bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Load an existing gateway (https://host:port) instead of starting one. It must trust the
    /// development certificates and accept key id dev-1; its rate limits apply, and server CPU
    /// time and memory are not measured.
    #[arg(long)]
    server: Option<String>,
    /// Advisories to publish before the scenarios run.
    #[arg(long, default_value_t = 1000)]
    advisories: u64,
    /// Seconds each scenario runs.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Calls in flight at once (unary scenarios).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// HTTP/2 connections the calls in flight share.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Items sent on the one VetBatch stream (it also stops after --duration).
    #[arg(long, default_value_t = 100_000)]
    batch_items: u64,
    /// The most calls a unary scenario makes (it also stops after --duration).
    #[arg(long, default_value_t = 10_000_000)]
    max_calls: u64,
    /// Scenarios to run, comma-separated [default: all].
    #[arg(long, value_enum, value_delimiter = ',')]
    scenarios: Vec<Scenario>,
    /// Before the scenarios, grow the audit log to each of these sizes in turn (with VetBatch
    /// streams, see --log-fill) and restart the gateway, timing its start-up at that log size.
    #[arg(long, value_delimiter = ',')]
    log_entries: Vec<u64>,
    /// The started gateway's sled page cache, in MiB (`cache_mb`; the gateway's default when
    /// not given).
    #[arg(long)]
    cache_mb: Option<u64>,
    /// What grows the log for --log-entries.
    #[arg(long, value_enum, default_value_t = LogFill::Vets)]
    log_fill: LogFill,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Tokens in each Vet, VetBatch item and Publish (kinds in turn; variant tokens make a
    /// realistic Vet carry about 14).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    tokens_per_vet: u64,
}

/// Runs `portcullis bench`.
pub(crate) async fn run(args: Args) -> Result<(), Error> {
    TOKENS_PER_VET.store(args.tokens_per_vet, Ordering::Relaxed);
    if !(args.duration.is_finite() && args.duration > 0.0) {
        return Err(Error::Usage("--duration: must be a positive number".into()));
    }
    if args.concurrency == 0 || args.connections == 0 {
        return Err(Error::Usage(
            "--concurrency and --connections: must be at least 1".into(),
        ));
    }
    if args.server.is_some() && !args.log_entries.is_empty() {
        return Err(Error::Usage(
            "--log-entries restarts the gateway, so it needs a gateway the benchmark starts (no --server)".into(),
        ));
    }
    let mut scenarios = if args.scenarios.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        args.scenarios.clone()
    };
    scenarios.sort();
    scenarios.dedup();
    let run_id = run_id()?;
    let duration = Duration::from_secs_f64(args.duration);
    let keyservice = scenarios.contains(&Scenario::Keyservice);
    scenarios.retain(|s| *s != Scenario::Keyservice);
    if scenarios.is_empty() {
        return bench_keyservice(&args, duration).await;
    }

    let mut gateway = match &args.server {
        Some(server) => Gateway::remote(server.clone()),
        None => Gateway::start(&run_id, args.cache_mb)?,
    };
    let mut startups = Vec::new();
    if let Some(child) = &gateway.child {
        startups.push(Startup {
            log_entries: 0,
            ms: millis(child.startup),
        });
    }

    let mut clients = Clients::connect(&gateway.server, args.connections).await?;
    let needs_advisories = scenarios.contains(&Scenario::VetHit);
    let advisories = if needs_advisories {
        args.advisories.max(1)
    } else {
        args.advisories
    };
    if advisories > 0 {
        eprintln!("bench: publishing {advisories} advisories");
        let seeded = seed(&clients, &run_id, advisories, args.concurrency).await?;
        if seeded.failed() > 0 {
            return Err(Error::Usage(format!(
                "seeding failed: {}",
                errors_text(&seeded.errors)
            )));
        }
    }

    let mut targets = args.log_entries.clone();
    targets.sort_unstable();
    for target in targets {
        let size = log_size(&clients).await?;
        if size < target {
            eprintln!("bench: growing the audit log from {size} to {target} entries");
            let per_stream = args.batch_items.max(1);
            fill_log(&clients, &run_id, target - size, per_stream, args.log_fill).await?;
        }
        eprintln!("bench: restarting the gateway");
        gateway.restart()?;
        clients = Clients::connect(&gateway.server, args.connections).await?;
        let size = log_size(&clients).await?;
        if let Some(child) = &gateway.child {
            startups.push(Startup {
                log_entries: size,
                ms: millis(child.startup),
            });
        }
    }

    let mut rows = Vec::new();
    for scenario in scenarios {
        eprintln!("bench: {}", scenario.name());
        let before = gateway.cpu_seconds();
        let mut outcome = match scenario {
            Scenario::VetBatch => {
                vet_batch(
                    clients.party[0].clone(),
                    &run_id,
                    args.batch_items,
                    duration,
                    crate::pki::DEV_MATCHING_KEY_ID,
                )
                .await?
            }
            Scenario::AuditVerify => {
                // Let the gateway sign a checkpoint covering the scenarios' entries first.
                tokio::time::sleep(Duration::from_millis(1500)).await;
                let before = gateway.cpu_seconds();
                let mut o = audit_verify(clients.auditor.clone(), duration).await?;
                o.cpu = cpu_delta(before, gateway.cpu_seconds());
                o
            }
            unary => {
                let load = Load {
                    concurrency: args.concurrency,
                    duration,
                    max_calls: args.max_calls,
                };
                run_unary(unary, &clients, &run_id, advisories, load).await?
            }
        };
        if scenario != Scenario::AuditVerify {
            outcome.cpu = cpu_delta(before, gateway.cpu_seconds());
        }
        rows.push(Row::new(scenario, outcome));
    }
    let baseline = rows
        .iter()
        .find(|r| r.scenario == Scenario::Health)
        .map(|r| (r.per_sec, r.cpu_us));
    for row in &mut rows {
        if let Some((per_sec, cpu_us)) = baseline {
            row.ratio = (per_sec > 0.0).then(|| row.per_sec / per_sec);
            row.cpu_ratio = match (row.cpu_us, cpu_us) {
                (Some(c), Some(h)) if h > 0.0 => Some(c / h),
                _ => None,
            };
        }
    }
    let memory = gateway.memory();
    let report = Report {
        args: &args,
        server: gateway.child.is_none().then(|| gateway.server.clone()),
        startups,
        rows,
        memory,
    };
    gateway.stop();
    if args.json {
        println!("{}", report.json());
    } else {
        report.print();
    }
    if keyservice {
        bench_keyservice(&args, duration).await?;
    }
    Ok(())
}

/// Runs and prints the `keyservice` scenario (its own table, or its own JSON line).
async fn bench_keyservice(args: &Args, duration: Duration) -> Result<(), Error> {
    if args.server.is_some() {
        return Err(Error::Usage(
            "--scenarios keyservice starts its own key service; it does not take --server".into(),
        ));
    }
    let report = super::bench_keyservice::run(duration, args.concurrency).await?;
    if args.json {
        println!("{}", report.json());
    } else {
        report.print();
    }
    Ok(())
}

/// A short random id that keeps this run's request ids and tokens apart from other runs'.
fn run_id() -> Result<String, Error> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 4];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| Error::Usage("system randomness unavailable".into()))?;
    Ok(hex::encode(b))
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn cpu_delta(before: Option<f64>, after: Option<f64>) -> Option<f64> {
    Some(after? - before?)
}

// ---------------------------------------------------------------------------------------------
// The gateway under test.

/// A temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The gateway under load: a child process of ours, or a remote one.
struct Gateway {
    /// `https://localhost:PORT`.
    server: String,
    /// The child process (dropped first: it is stopped before its directory is removed).
    child: Option<ChildGateway>,
    /// The temporary directory with the configuration and the data.
    dir: Option<TempDir>,
}

impl Gateway {
    fn remote(server: String) -> Gateway {
        Gateway {
            server,
            child: None,
            dir: None,
        }
    }

    /// Writes the benchmark configuration in a new temporary directory and starts a gateway on
    /// it.
    fn start(run_id: &str, cache_mb: Option<u64>) -> Result<Gateway, Error> {
        let path =
            std::env::temp_dir().join(format!("portcullis-bench-{}-{run_id}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        let dir = TempDir(path);
        let config = dir.0.join("bench.toml");
        std::fs::write(&config, bench_config(cache_mb)?).map_err(|e| Error::io(&config, e))?;
        let child = ChildGateway::spawn(&config, &dir.0.join("data"))?;
        Ok(Gateway {
            server: format!("https://localhost:{}", child.addr.port()),
            child: Some(child),
            dir: Some(dir),
        })
    }

    /// Stops the child and starts a new one on the same data directory.
    fn restart(&mut self) -> Result<(), Error> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        if let Some(mut child) = self.child.take() {
            child.stop();
        }
        let child = ChildGateway::spawn(&dir.0.join("bench.toml"), &dir.0.join("data"))?;
        self.server = format!("https://localhost:{}", child.addr.port());
        self.child = Some(child);
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.stop();
        }
    }

    /// The child's CPU time so far, in seconds.
    fn cpu_seconds(&self) -> Option<f64> {
        let child = self.child.as_ref()?;
        proc_cpu_seconds(child.pid, child.clk_tck)
    }

    /// The child's peak and current resident memory, in KiB.
    fn memory(&self) -> Option<Memory> {
        let child = self.child.as_ref()?;
        Some(Memory {
            peak_kib: proc_status_kib(child.pid, "VmHWM:")?,
            current_kib: proc_status_kib(child.pid, "VmRSS:")?,
        })
    }
}

/// The benchmark's gateway configuration: the development defaults, with rate limits out of
/// the way. Paths are absolute, since a configuration file's relative paths are resolved
/// against its own directory.
fn bench_config(cache_mb: Option<u64>) -> Result<String, Error> {
    let certs = Config::dev_certs_dir();
    let certs = std::fs::canonicalize(&certs).map_err(|e| Error::io(&certs, e))?;
    let path = |name: &str| toml::Value::String(certs.join(name).display().to_string());
    let text = |s: &str| toml::Value::String(s.to_owned());
    Ok(format!(
        r#"# Written by `portcullis bench`.
listen = "127.0.0.1:0"
data_dir = "data"
trust_domain = {trust_domain}
accredited_parties = ["alpha", "beta"]
matching_key_ids = [{key_id}]
{cache}

[tls]
ca = {ca}
cert = {cert}
key = {key}
crl = {crl}

[audit]
origin = {origin}
signing_key = {signing_key}

[limits]
vet_per_sec = 1e9
vet_burst = 1e9
publish_per_sec = 1e9
publish_burst = 1e9
audit_per_sec = 1e9
audit_burst = 1e9
"#,
        trust_domain = text(crate::pki::DEV_TRUST_DOMAIN),
        key_id = text(crate::pki::DEV_MATCHING_KEY_ID),
        ca = path("ca.crt"),
        cert = path("server.crt"),
        key = path("server.key"),
        crl = path("crl.pem"),
        origin = text(crate::pki::DEV_LOG_KEY_NAME),
        signing_key = path("log-signing.pk8"),
        cache = cache_mb.map_or(String::new(), |mb| format!("cache_mb = {mb}")),
    ))
}

/// A gateway running as our child process.
struct ChildGateway {
    child: Child,
    pid: u32,
    addr: SocketAddr,
    /// From spawning the process to its logging the bound address.
    startup: Duration,
    clk_tck: f64,
}

impl ChildGateway {
    /// Starts `serve --dev --config CONFIG --data DATA` on a free loopback port and waits for
    /// it to log its address. Blocks the calling thread for at most 120 seconds.
    fn spawn(config: &Path, data: &Path) -> Result<ChildGateway, Error> {
        let exe = std::env::current_exe()
            .map_err(|e| Error::Usage(format!("cannot find this executable: {e}")))?;
        let started = Instant::now();
        let mut child = Process::new(&exe)
            .args(["serve", "--dev", "--config"])
            .arg(config)
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(&exe, e))?;
        let stderr = child.stderr.take();
        let pid = child.id();
        // From here on, dropping `gateway` stops the child, whatever goes wrong.
        let mut gateway = ChildGateway {
            child,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            startup: Duration::ZERO,
            clk_tck: clk_tck(),
        };
        let Some(stderr) = stderr else {
            return Err(Error::Usage("the gateway's stderr was not captured".into()));
        };
        // The log is drained for the child's whole life, so that it never blocks on a full pipe.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = started + Duration::from_secs(120);
        let mut log = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = line
                        .split("addr=")
                        .nth(1)
                        .and_then(|rest| rest.split_whitespace().next())
                        .and_then(|a| a.parse::<SocketAddr>().ok())
                    {
                        gateway.startup = started.elapsed();
                        gateway.addr = addr;
                        return Ok(gateway);
                    }
                    log.push(line);
                }
                Err(_) => {
                    return Err(Error::Usage(format!(
                        "the gateway did not start:\n{}",
                        log.join("\n")
                    )))
                }
            }
        }
    }

    /// Stops the child with SIGTERM (a clean shutdown that flushes the log), and kills it if it
    /// has not exited within 60 seconds.
    fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Process::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildGateway {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// Clients and requests.

/// mTLS channels with the development client certificates.
struct Clients {
    /// `alpha-officer`, one per connection.
    party: Vec<Channel>,
    /// `official`, one per connection.
    official: Vec<Channel>,
    /// `auditor`.
    auditor: Channel,
}

impl Clients {
    async fn connect(server: &str, connections: usize) -> Result<Clients, Error> {
        let certs = Config::dev_certs_dir();
        let ca = certs.join("ca.crt");
        let who = |name: &str| ClientIdentity::from_prefix(&certs.join("clients").join(name));
        let mut party = Vec::with_capacity(connections);
        let mut official = Vec::with_capacity(connections);
        for _ in 0..connections {
            party.push(crate::client::connect(server, &ca, &who("alpha-officer")).await?);
            official.push(crate::client::connect(server, &ca, &who("official")).await?);
        }
        let auditor = crate::client::connect(server, &ca, &who("auditor")).await?;
        Ok(Clients {
            party,
            official,
            auditor,
        })
    }
}

/// The token kinds of the benchmark's subjects: four distinct kinds, as a well-identified
/// donor would have.
const KINDS: [TokenKind; 4] = [
    TokenKind::TravelDocument,
    TokenKind::CompanyNumber,
    TokenKind::CryptoWallet,
    TokenKind::Email,
];

/// Tokens per request (`--tokens-per-vet`), set once before any scenario runs.
static TOKENS_PER_VET: AtomicU64 = AtomicU64::new(4);

/// `--tokens-per-vet` random-looking tokens (4 by default, the kinds of [`KINDS`] in turn),
/// deterministic from the run, a tag and an index.
fn tokens(run_id: &str, tag: &str, index: u64) -> Vec<MatchToken> {
    let count = TOKENS_PER_VET.load(Ordering::Relaxed) as usize;
    KINDS
        .iter()
        .cycle()
        .take(count)
        .enumerate()
        .map(|(j, kind)| MatchToken {
            kind: *kind as i32,
            digest: ring::digest::digest(
                &ring::digest::SHA256,
                format!("portcullis-bench/{run_id}/{tag}/{index}/{j}").as_bytes(),
            )
            .as_ref()
            .to_vec(),
        })
        .collect()
}

fn vet_request(request_id: String, tokens: Vec<MatchToken>) -> VetRequest {
    VetRequest {
        request_id,
        subject_kind: SubjectKind::DonorIndividual as i32,
        key_id: crate::pki::DEV_MATCHING_KEY_ID.to_owned(),
        tokens,
        case_reference: "BENCH".to_owned(),
        linked: Vec::new(),
    }
}

fn publish_request(request_id: String, tokens: Vec<MatchToken>, index: u64) -> PublishRequest {
    PublishRequest {
        request_id,
        key_id: crate::pki::DEV_MATCHING_KEY_ID.to_owned(),
        tokens,
        applies_to: Vec::new(),
        grade: RiskGrade::High as i32,
        likelihood: Likelihood::Likely as i32,
        handling: Handling::TlpAmber as i32,
        guidance: "Benchmark advisory: consult the security liaison.".to_owned(),
        audience: Vec::new(),
        valid_until: None,
        internal_reference: format!("BENCH-{index}"),
    }
}

/// The name of a gRPC status code as api.md writes it, e.g. `RESOURCE_EXHAUSTED`.
fn code_name(code: tonic::Code) -> String {
    let camel = format!("{code:?}");
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Load.

/// What one scenario measured.
struct Outcome {
    /// Successful operations.
    ok: u64,
    /// Failed operations by status code (or another short reason).
    errors: BTreeMap<String, u64>,
    /// Latency of each successful operation, in microseconds.
    latency: Histogram<u64>,
    /// From the first operation sent to the last answered.
    elapsed: Duration,
    /// Server CPU seconds spent meanwhile (a gateway we started only).
    cpu: Option<f64>,
}

impl Outcome {
    fn new() -> Result<Outcome, Error> {
        Ok(Outcome {
            ok: 0,
            errors: BTreeMap::new(),
            latency: histogram()?,
            elapsed: Duration::ZERO,
            cpu: None,
        })
    }

    fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Reads `stream` until it ends, fails or `give_up` passes, handing each answer to
    /// `answered`, which returns its latency. A failed stream counts its status code, a stream
    /// still open at `give_up` counts DEADLINE_EXCEEDED; either ends the reading.
    async fn drain<T>(
        &mut self,
        mut stream: tonic::Streaming<T>,
        give_up: tokio::time::Instant,
        mut answered: impl FnMut(T) -> Result<Duration, Error>,
    ) -> Result<(), Error> {
        loop {
            match tokio::time::timeout_at(give_up, stream.next()).await {
                Ok(Some(Ok(answer))) => {
                    let latency = answered(answer)?;
                    self.record(Ok(()), latency);
                }
                Ok(Some(Err(status))) => {
                    self.record(Err(status_code(status)), Duration::ZERO);
                    return Ok(());
                }
                Ok(None) => return Ok(()),
                Err(_) => {
                    self.record(Err("DEADLINE_EXCEEDED".to_owned()), Duration::ZERO);
                    return Ok(());
                }
            }
        }
    }

    fn record(&mut self, result: Result<(), String>, latency: Duration) {
        match result {
            Ok(()) => {
                self.ok += 1;
                let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                self.latency.saturating_record(us.max(1));
            }
            Err(code) => *self.errors.entry(code).or_default() += 1,
        }
    }

    fn merge(&mut self, other: &Outcome) -> Result<(), Error> {
        self.ok += other.ok;
        for (code, n) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
        self.latency
            .add(&other.latency)
            .map_err(|e| Error::Usage(format!("latency histogram: {e}")))
    }
}

/// A latency histogram from 1 µs to 10 minutes, 3 significant digits.
fn histogram() -> Result<Histogram<u64>, Error> {
    Histogram::new_with_bounds(1, 600_000_000, 3)
        .map_err(|e| Error::Usage(format!("latency histogram: {e}")))
}

/// How hard and how long to push a unary scenario.
#[derive(Debug, Clone, Copy)]
struct Load {
    concurrency: usize,
    duration: Duration,
    max_calls: u64,
}

/// Runs `call` from `load.concurrency` tasks spread over `channels`, each call numbered from 0,
/// until `load.duration` has passed or `load.max_calls` calls were started.
async fn drive<F, Fut>(channels: &[Channel], load: Load, call: F) -> Result<Outcome, Error>
where
    F: Fn(Channel, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + load.duration;
    let mut tasks = Vec::with_capacity(load.concurrency);
    for task in 0..load.concurrency {
        let channel = channels[task % channels.len()].clone();
        let next = next.clone();
        let call = call.clone();
        let max_calls = load.max_calls;
        tasks.push(tokio::spawn(async move {
            let mut outcome = Outcome::new()?;
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= max_calls {
                    break;
                }
                let sent = Instant::now();
                let result = call(channel.clone(), n).await;
                outcome.record(result, sent.elapsed());
            }
            Ok::<_, Error>(outcome)
        }));
    }
    let mut total = Outcome::new()?;
    for task in tasks {
        let outcome = task
            .await
            .map_err(|e| Error::Usage(format!("a load task failed: {e}")))??;
        total.merge(&outcome)?;
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

fn status_code(s: tonic::Status) -> String {
    code_name(s.code())
}

/// Publishes `count` advisories as the official, each with the 4 tokens `tokens(run, "a", i)`.
async fn seed(
    clients: &Clients,
    run_id: &str,
    count: u64,
    concurrency: usize,
) -> Result<Outcome, Error> {
    let run = run_id.to_owned();
    let load = Load {
        concurrency,
        duration: Duration::from_secs(3600),
        max_calls: count,
    };
    drive(&clients.official, load, move |channel, n| {
        publish(
            channel,
            publish_request(format!("b{run}-seed-{n}"), tokens(&run, "a", n), n),
        )
    })
    .await
}

/// One Publish call, answered or refused with its code's name.
async fn publish(channel: Channel, request: PublishRequest) -> Result<(), String> {
    AdvisoryServiceClient::new(channel)
        .publish(request)
        .await
        .map(drop)
        .map_err(status_code)
}

/// Runs one of the unary scenarios.
async fn run_unary(
    scenario: Scenario,
    clients: &Clients,
    run_id: &str,
    advisories: u64,
    load: Load,
) -> Result<Outcome, Error> {
    let run = run_id.to_owned();
    match scenario {
        Scenario::Health => {
            drive(&clients.party, load, |channel, _| async move {
                HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map(drop)
                    .map_err(status_code)
            })
            .await
        }
        Scenario::VetMiss => {
            drive(&clients.party, load, move |channel, n| {
                let request = vet_request(format!("b{run}-miss-{n}"), tokens(&run, "m", n));
                async move {
                    let answer = VettingServiceClient::new(channel)
                        .vet(request)
                        .await
                        .map_err(status_code)?
                        .into_inner();
                    if answer.matches.is_empty() {
                        Ok(())
                    } else {
                        Err("UNEXPECTED_MATCH".to_owned())
                    }
                }
            })
            .await
        }
        Scenario::VetHit => {
            let advisories = advisories.max(1);
            drive(&clients.party, load, move |channel, n| {
                let request =
                    vet_request(format!("b{run}-hit-{n}"), tokens(&run, "a", n % advisories));
                async move {
                    let answer = VettingServiceClient::new(channel)
                        .vet(request)
                        .await
                        .map_err(status_code)?
                        .into_inner();
                    if answer.matches.is_empty() {
                        Err("NO_MATCH".to_owned())
                    } else {
                        Ok(())
                    }
                }
            })
            .await
        }
        Scenario::Publish => {
            drive(&clients.official, load, move |channel, n| {
                let request = publish_request(
                    format!("b{run}-pub-{n}"),
                    tokens(&run, "p", n),
                    advisories + n,
                );
                publish(channel, request)
            })
            .await
        }
        Scenario::VetBatch | Scenario::AuditVerify | Scenario::Keyservice => Err(Error::Usage(
            format!("{} is not a unary scenario", scenario.name()),
        )),
    }
}

/// Sends up to `items` misses on one VetBatch stream, generated lazily, stopping new items
/// after `duration`. The latency of an item is from the moment the client library took it to
/// send to the moment its answer arrived (answers come in order).
async fn vet_batch(
    channel: Channel,
    run_id: &str,
    items: u64,
    duration: Duration,
    key_id: &'static str,
) -> Result<Outcome, Error> {
    let mut outcome = Outcome::new()?;
    let start = Instant::now();
    let deadline = start + duration;
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let run = run_id.to_owned();
    // Each stream of the run gets its own request ids and tokens.
    static STREAMS: AtomicU64 = AtomicU64::new(0);
    let tag = format!("s{}", STREAMS.fetch_add(1, Ordering::Relaxed));
    let requests = tokio_stream::iter(0..items)
        .take_while(move |_| Instant::now() < deadline)
        .map(move |i| {
            let _ = sent_tx.send(Instant::now());
            VetRequest {
                key_id: key_id.to_owned(),
                ..vet_request(format!("b{run}-{tag}-{i}"), tokens(&run, &tag, i))
            }
        });
    let stream = match VettingServiceClient::new(channel).vet_batch(requests).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            outcome.record(Err(status_code(status)), Duration::ZERO);
            outcome.elapsed = start.elapsed();
            return Ok(outcome);
        }
    };
    // Answers still in flight at the deadline get this long to arrive.
    let give_up = tokio::time::Instant::from_std(deadline + Duration::from_secs(60));
    outcome
        .drain(stream, give_up, |_answer| {
            Ok(sent_rx
                .try_recv()
                .map(|sent| sent.elapsed())
                .unwrap_or_default())
        })
        .await?;
    outcome.elapsed = start.elapsed();
    Ok(outcome)
}

/// The latest checkpoint's size, as the auditor sees it (not signature-checked: it only
/// decides how many entries to add).
async fn log_size(clients: &Clients) -> Result<u64, Error> {
    Ok(AuditServiceClient::new(clients.auditor.clone())
        .get_checkpoint(GetCheckpointRequest {})
        .await?
        .into_inner()
        .size)
}

/// Adds `entries` audit entries with VetBatch streams of at most `per_stream` items of `fill`.
async fn fill_log(
    clients: &Clients,
    run_id: &str,
    entries: u64,
    per_stream: u64,
    fill: LogFill,
) -> Result<(), Error> {
    let key_id = match fill {
        LogFill::Vets => crate::pki::DEV_MATCHING_KEY_ID,
        LogFill::Refusals => "bench-unknown-epoch",
    };
    let mut left = entries;
    while left > 0 {
        let n = left.min(per_stream);
        let o = vet_batch(
            clients.party[0].clone(),
            run_id,
            n,
            Duration::from_secs(3600),
            key_id,
        )
        .await?;
        if o.failed() > 0 {
            return Err(Error::Usage(format!(
                "growing the log failed: {}",
                errors_text(&o.errors)
            )));
        }
        left -= n.min(o.ok.max(1));
    }
    Ok(())
}

/// Verifies the whole log online as `portcullis audit verify` does: the latest checkpoint is
/// checked with the pinned development verifier key, then every entry up to its size is
/// replayed and checked against it. Stops after `max(10 × duration, 60 s)`.
async fn audit_verify(channel: Channel, duration: Duration) -> Result<Outcome, Error> {
    let vkey = Config::dev_certs_dir().join("log.vkey");
    let text = std::fs::read_to_string(&vkey).map_err(|e| Error::io(&vkey, e))?;
    let verifier =
        NoteVerifier::parse(&text).map_err(|e| Error::Usage(format!("{}: {e}", vkey.display())))?;
    let audit = |e: VerifyError| Error::Audit(AuditError::from(e));
    let mut outcome = Outcome::new()?;
    let start = Instant::now();
    let give_up =
        tokio::time::Instant::from_std(start + (duration * 10).max(Duration::from_secs(60)));
    let mut client = AuditServiceClient::new(channel.clone());
    let answer = client
        .get_checkpoint(GetCheckpointRequest {})
        .await?
        .into_inner();
    let cp = verifier
        .verify(&answer.signed_note, None)
        .map_err(|e| audit(VerifyError::from(e)))?;
    let mut v = LogVerifier::new(cp.clone(), None).map_err(audit)?;
    if cp.size > 0 {
        let stream = crate::client::replay_leaves(channel, 0, cp.size).await?;
        let mut last = Instant::now();
        outcome
            .drain(stream, give_up, |record| {
                v.push(record.index, &record.leaf).map_err(audit)?;
                let now = Instant::now();
                let latency = now - last;
                last = now;
                Ok(latency)
            })
            .await?;
    }
    if outcome.failed() == 0 {
        v.finish().map_err(audit)?;
    }
    outcome.elapsed = start.elapsed();
    Ok(outcome)
}

// ---------------------------------------------------------------------------------------------
// The report.

/// The server's resident memory.
struct Memory {
    peak_kib: u64,
    current_kib: u64,
}

/// The start-up time of the gateway at a log size.
struct Startup {
    log_entries: u64,
    ms: f64,
}

/// One scenario's line of the report.
struct Row {
    scenario: Scenario,
    ok: u64,
    errors: BTreeMap<String, u64>,
    seconds: f64,
    per_sec: f64,
    /// Throughput as a ratio to health's.
    ratio: Option<f64>,
    /// p50, p90, p99 and max latency in ms (None if nothing succeeded).
    latency_ms: Option<[f64; 4]>,
    /// Server CPU µs per successful operation.
    cpu_us: Option<f64>,
    /// CPU per operation as a ratio to health's.
    cpu_ratio: Option<f64>,
}

impl Row {
    fn new(scenario: Scenario, o: Outcome) -> Row {
        let seconds = o.elapsed.as_secs_f64();
        let per_sec = if seconds > 0.0 {
            o.ok as f64 / seconds
        } else {
            0.0
        };
        let ms = |us: u64| us as f64 / 1000.0;
        let latency_ms = (!o.latency.is_empty()).then(|| {
            [
                ms(o.latency.value_at_quantile(0.5)),
                ms(o.latency.value_at_quantile(0.9)),
                ms(o.latency.value_at_quantile(0.99)),
                ms(o.latency.max()),
            ]
        });
        let cpu_us = o.cpu.filter(|_| o.ok > 0).map(|c| c * 1e6 / o.ok as f64);
        Row {
            scenario,
            ok: o.ok,
            errors: o.errors,
            seconds,
            per_sec,
            ratio: None,
            latency_ms,
            cpu_us,
            cpu_ratio: None,
        }
    }
}

fn errors_text(errors: &BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "0".to_owned();
    }
    errors
        .iter()
        .map(|(code, n)| format!("{code}={n}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The machine the benchmark ran on.
fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        });
    serde_json::json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "cpu_model": cpu,
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    })
}

struct Report<'a> {
    args: &'a Args,
    /// The remote gateway, if not one of ours.
    server: Option<String>,
    startups: Vec<Startup>,
    rows: Vec<Row>,
    memory: Option<Memory>,
}

impl Report<'_> {
    fn json(&self) -> serde_json::Value {
        let mib = |kib: u64| kib as f64 / 1024.0;
        serde_json::json!({
            "machine": machine(),
            "server": self.server.clone().unwrap_or_else(|| "child process".to_owned()),
            "settings": {
                "advisories": self.args.advisories,
                "duration_s": self.args.duration,
                "concurrency": self.args.concurrency,
                "connections": self.args.connections,
                "batch_items": self.args.batch_items,
                "max_calls": self.args.max_calls,
            },
            "startup": self.startups.iter().map(|s| serde_json::json!({
                "log_entries": s.log_entries,
                "ms": s.ms,
            })).collect::<Vec<_>>(),
            "scenarios": self.rows.iter().map(|r| serde_json::json!({
                "name": r.scenario.name(),
                "unit": r.scenario.unit(),
                "calls": r.ok,
                "errors": r.errors,
                "seconds": r.seconds,
                "per_sec": r.per_sec,
                "ratio_to_health": r.ratio,
                "latency_ms": r.latency_ms.map(|[p50, p90, p99, max]| serde_json::json!({
                    "p50": p50, "p90": p90, "p99": p99, "max": max,
                })),
                "server_cpu_us_per_call": r.cpu_us,
                "cpu_ratio_to_health": r.cpu_ratio,
            })).collect::<Vec<_>>(),
            "server_memory": self.memory.as_ref().map(|m| serde_json::json!({
                "peak_rss_mib": mib(m.peak_kib),
                "rss_mib": mib(m.current_kib),
            })),
        })
    }

    fn print(&self) {
        let opt = |v: Option<f64>, digits: usize| match v {
            Some(v) => format!("{v:.digits$}"),
            None => "-".to_owned(),
        };
        println!(
            "{:<13} {:>9} {:>7} {:>10} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}  errors",
            "scenario",
            "ops",
            "unit",
            "ops/s",
            "×health",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "cpu µs",
            "cpu×h",
        );
        for r in &self.rows {
            let l = r.latency_ms;
            println!(
                "{:<13} {:>9} {:>7} {:>10.0} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}  {}",
                r.scenario.name(),
                r.ok,
                r.scenario.unit(),
                r.per_sec,
                opt(r.ratio, 2),
                opt(l.map(|l| l[0]), 2),
                opt(l.map(|l| l[1]), 2),
                opt(l.map(|l| l[2]), 2),
                opt(l.map(|l| l[3]), 2),
                opt(r.cpu_us, 1),
                opt(r.cpu_ratio, 2),
                errors_text(&r.errors),
            );
        }
        match &self.memory {
            Some(m) => println!(
                "server memory: peak RSS {:.1} MiB, RSS at the end {:.1} MiB",
                m.peak_kib as f64 / 1024.0,
                m.current_kib as f64 / 1024.0
            ),
            None => println!("server memory: not measured (--server)"),
        }
        for s in &self.startups {
            println!(
                "start-up: {:.0} ms with {} audit entries",
                s.ms, s.log_entries
            );
        }
        let m = machine();
        println!(
            "machine: {} CPUs, {}; {} advisories, {} s per scenario, concurrency {} over {} connections",
            m["cpus"],
            m["cpu_model"].as_str().unwrap_or("unknown CPU"),
            self.args.advisories,
            self.args.duration,
            self.args.concurrency,
            self.args.connections,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_are_as_api_md_writes_them() {
        assert_eq!(
            code_name(tonic::Code::ResourceExhausted),
            "RESOURCE_EXHAUSTED"
        );
        assert_eq!(code_name(tonic::Code::Ok), "OK");
        assert_eq!(code_name(tonic::Code::InvalidArgument), "INVALID_ARGUMENT");
    }

    #[test]
    fn the_bench_config_is_a_valid_configuration() {
        let text = bench_config(Some(16)).unwrap();
        let config = Config::from_toml(&text, Path::new("/tmp")).unwrap();
        assert!(config.limits.vet.per_sec >= 1e9);
        assert_eq!(config.accredited_parties.len(), 2);
        assert_eq!(config.cache_bytes, 16 << 20);
        let text = bench_config(None).unwrap();
        let config = Config::from_toml(&text, Path::new("/tmp")).unwrap();
        assert_eq!(config.cache_bytes, crate::store::DEFAULT_CACHE_BYTES);
    }

    #[test]
    fn proc_stat_is_read() {
        let pid = std::process::id();
        assert!(proc_cpu_seconds(pid, clk_tck()).is_some());
        assert!(proc_status_kib(pid, "VmHWM:").unwrap() > 0);
    }

    #[test]
    fn tokens_are_deterministic_and_distinct() {
        let a = tokens("r", "a", 1);
        assert_eq!(a, tokens("r", "a", 1));
        assert_ne!(a, tokens("r", "a", 2));
        assert_eq!(a.len(), 4);
        assert!(a.iter().all(|t| t.digest.len() == 32));
    }
}
