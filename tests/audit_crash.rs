//! Durability under `kill -9`: the real binary serves Vet over mTLS to a few concurrent clients
//! and is killed with SIGKILL at a random moment, several times. After every restart (which runs
//! the start-up integrity check) every call whose answer a client received has its entry at the
//! `audit_index` it was told, and the log verifies online against the auditor's state file; after
//! a final graceful stop it verifies offline too.
#![cfg(unix)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::process::{self, ServerProcess};
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
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    let (ok, stdout, stderr) = process::run(None, &all);
    (ok, format!("{stdout}{stderr}"))
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
        let gateway = ServerProcess::start(&db, &[]);
        let port = gateway.port;
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
        gateway.kill(); // SIGKILL
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
    let gateway = ServerProcess::start(&db, &[]);
    verify_online(gateway.port, &state);
    let status = gateway.stop_within(Duration::from_secs(30));
    assert!(status.success(), "graceful stop failed: {status}");

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
