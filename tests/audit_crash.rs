//! Durability under `kill -9`: the real binary serves Vet over mTLS to a few concurrent clients
//! and is killed with SIGKILL at a random moment, several times. After every restart (which runs
//! the start-up integrity check) every call whose answer a client received has its entry at the
//! `audit_index` it was told, and the log verifies online against the auditor's state file; after
//! a final graceful stop it verifies offline too.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{person, vet_request};
use portcullis::audit::AuditEntry;
use portcullis::proto::v1::vetting_service_client::VettingServiceClient;
use portcullis::store::Store;
use prost::Message;

const CYCLES: usize = 4;
const CLIENTS: usize = 3;

/// A small xorshift generator: no dependency, seeded from the clock, printed for reruns.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Starts `portcullis serve --dev` on a free port and `data`; returns the child and its port once
/// it logged "portcullis listening" (within 30 s).
fn serve(data: &Path) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ])
        .arg("--data")
        .arg(data)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads the log for the address, then keeps draining it so the server never blocks on it.
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(sender) = &tx {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                if v["fields"]["message"] == "portcullis listening" {
                    let addr = v["fields"]["addr"].as_str().unwrap_or_default().to_owned();
                    let _ = sender.send(Ok(addr));
                    tx = None;
                } else if v["level"] == "ERROR" || v.is_null() {
                    let _ = sender.send(Err(line.clone()));
                }
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Ok(addr)) => {
                let port = addr.rsplit(':').next().unwrap().parse().unwrap();
                return (child, port);
            }
            Ok(Err(line)) => eprintln!("server: {line}"),
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().unwrap();
                panic!("the gateway did not start ({status})");
            }
        }
    }
}

fn server(port: u16) -> String {
    format!("https://localhost:{port}")
}

/// One client's load until `stop`: Vet calls with fresh request ids; returns every answer
/// received as (request_id, audit_index).
async fn load(port: u16, who: &'static str, tag: String, stop: Instant) -> Vec<(String, u64)> {
    let mut acked = Vec::new();
    let Ok(channel) = portcullis::client::connect(
        &server(port),
        &common::certs().join("ca.crt"),
        &common::client(who),
    )
    .await
    else {
        return acked;
    };
    let mut client = VettingServiceClient::new(channel);
    let mut i = 0u64;
    while Instant::now() < stop {
        let id = format!("{tag}-{i}");
        i += 1;
        let call = client.vet(vet_request(&id, person("Jane Doe", "1970-01-01")));
        match tokio::time::timeout(Duration::from_secs(5), call).await {
            Ok(Ok(answer)) => acked.push((id, answer.into_inner().audit_index)),
            // Killed under us: nothing after this can be acknowledged.
            _ => break,
        }
    }
    acked
}

fn audit_cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("audit")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn verify_online(port: u16, state: &Path) {
    let auditor = common::certs().join("clients/auditor");
    let state = state.display().to_string();
    let (ok, out) = audit_cli(&[
        "verify",
        "--server",
        &server(port),
        "--identity",
        &auditor.display().to_string(),
        "--state",
        &state,
    ]);
    assert!(ok, "online verification failed:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_under_load_loses_no_acknowledged_entry() {
    let data = tempfile::tempdir().unwrap();
    let state = data.path().join("auditor.state");
    let db = data.path().join("db");
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("seed {seed}");
    let mut rng = Rng(seed);
    let mut acked: Vec<(String, u64)> = Vec::new();

    for cycle in 0..CYCLES {
        let (mut child, port) = serve(&db);
        if cycle > 0 {
            // The restart passed the start-up check; the log so far verifies and extends the
            // auditor's last verified checkpoint.
            verify_online(port, &state);
        }
        let run_for = Duration::from_millis(200 + rng.next() % 1800);
        let kill_at = Instant::now() + run_for;
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let who = if c % 2 == 0 {
                    "alpha-officer"
                } else {
                    "beta-officer"
                };
                tokio::spawn(load(
                    port,
                    who,
                    format!("c{cycle}-{c}"),
                    kill_at + Duration::from_secs(10),
                ))
            })
            .collect();
        tokio::time::sleep_until(kill_at.into()).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let before = acked.len();
        for c in clients {
            acked.extend(c.await.unwrap());
        }
        eprintln!(
            "cycle {cycle}: killed after {run_for:?}, {} answers received",
            acked.len() - before
        );
    }

    // A final restart, an online verification, and a graceful stop.
    let (mut child, port) = serve(&db);
    verify_online(port, &state);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "graceful stop failed: {status}");
            break;
        }
        assert!(Instant::now() < deadline, "the gateway did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }

    let (ok, out) = audit_cli(&[
        "verify",
        "--data",
        &db.display().to_string(),
        "--state",
        &state.display().to_string(),
    ]);
    assert!(ok, "offline verification failed:\n{out}");

    // Every answer a client received is backed by its entry, at the index it was told.
    assert!(!acked.is_empty(), "no call was answered");
    let store = Store::open(&db).unwrap();
    for (id, index) in &acked {
        let leaf = store
            .leaf(*index)
            .unwrap()
            .unwrap_or_else(|| panic!("answered call {id} has no entry at {index}"));
        let entry = AuditEntry::decode(leaf.as_slice()).unwrap();
        assert_eq!(&entry.request_id, id, "entry {index}");
    }
    eprintln!(
        "{} answered calls all found in a log of {} entries",
        acked.len(),
        store.log_size().unwrap()
    );
}
