//! The receipt and auditor commands of the real `portcullis` binary against a real gateway
//! whose audit rate limit is tight: `vet --receipt`, `receipt get|verify`, the JSON of `audit
//! prove|replay|verify` (hashes and leaves that other tools can check), waiting out
//! RESOURCE_EXHAUSTED, `replay --skip-own`, and a quiet end when the output pipe closes.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::process::{json, repo, BIN};
use common::*;
use portcullis::audit::checkpoint::NoteVerifier;
use portcullis::audit::tlog_proof;
use portcullis::limits::Rate;
use portcullis::proto::v1::TokenKind;

fn run(port: u16, args: &[&str]) -> (bool, String, String) {
    common::process::run(Some(port), args)
}

fn verifier() -> NoteVerifier {
    NoteVerifier::parse(&std::fs::read_to_string(certs().join("log.vkey")).unwrap()).unwrap()
}

const AUDITOR: [&str; 2] = ["--identity", "certs-dev/clients/auditor"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_and_auditor_json_with_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    // Two audit calls a second, no burst: every audit command below is rate-limited at least
    // once, and must wait instead of failing.
    config.limits.audit = Rate {
        per_sec: 2.0,
        burst: 1.0,
    };
    let running = portcullis::server::start(config).await.unwrap();
    let port = running.addr().port();
    let out = tempfile::tempdir().unwrap();
    let r1 = out.path().join("r1");
    let r1_text = r1.to_str().unwrap();

    // vet --receipt: the answer, then its receipt written beside.
    let (ok, stdout, err) = run(
        port,
        &[
            "vet",
            "--identity",
            "certs-dev/clients/alpha-officer",
            "--key-file",
            "certs-dev/matching.key",
            "--kind",
            "donor-individual",
            "--name",
            "Ann Example",
            "--dob",
            "1980-01-02",
            "--request-id",
            "r-cli-1",
            "--receipt",
            r1_text,
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let answer = json(&stdout);
    let index = answer["audit_index"].as_u64().unwrap();
    let leaf = std::fs::read(out.path().join("r1.entry")).unwrap();
    assert!(std::fs::read_to_string(out.path().join("r1.tlog-proof"))
        .unwrap()
        .starts_with("c2sp.org/tlog-proof@v1\n"));

    // receipt verify, offline, by key file: says what it proves.
    let (ok, stdout, err) = run_offline(&[
        "receipt",
        "verify",
        r1_text,
        "--log-key",
        "certs-dev/log.vkey",
    ]);
    assert!(ok, "{err}");
    for expected in [
        "RECEIPT VERIFIED",
        &format!("entry {index} is in the audit log"),
        "party:        alpha",
        "certificate serial 1101",
        "request id:   r-cli-1",
        "grade:        NO_TRACE",
        "matches:      none",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in:\n{stdout}");
    }
    // By the key text and the .tlog-proof name, as JSON.
    let vkey = std::fs::read_to_string(certs().join("log.vkey")).unwrap();
    let proof_path = format!("{r1_text}.tlog-proof");
    let (ok, stdout, err) = run_offline(&[
        "receipt",
        "verify",
        &proof_path,
        "--log-key",
        vkey.trim(),
        "--json",
    ]);
    assert!(ok, "{err}");
    let v = json(&stdout);
    assert_eq!(v["verified"], true);
    assert_eq!(v["index"], index);
    assert_eq!(v["entry"]["request_id"], "r-cli-1");
    assert_eq!(v["entry"]["actor"]["cert_serial"], "1101");

    // receipt get by request id: the same entry; a flipped byte is rejected.
    let r2 = out.path().join("r2");
    let (ok, _, err) = run(
        port,
        &[
            "receipt",
            "get",
            "--identity",
            "certs-dev/clients/alpha-officer",
            "--request-id",
            "r-cli-1",
            "--out",
            r2.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let entry2 = out.path().join("r2.entry");
    assert_eq!(std::fs::read(&entry2).unwrap(), leaf);
    let mut altered = leaf.clone();
    altered[leaf.len() / 2] ^= 0x01;
    std::fs::write(&entry2, &altered).unwrap();
    let (ok, _, err) = run_offline(&[
        "receipt",
        "verify",
        r2.to_str().unwrap(),
        "--log-key",
        "certs-dev/log.vkey",
    ]);
    assert!(!ok);
    assert!(err.contains("receipt rejected"), "{err}");

    // Another party: NOT_FOUND.
    let (ok, _, err) = run(
        port,
        &[
            "receipt",
            "get",
            "--identity",
            "certs-dev/clients/beta-officer",
            "--index",
            &index.to_string(),
            "--out",
            out.path().join("r3").to_str().unwrap(),
        ],
    );
    assert!(!ok);
    assert!(err.contains("NotFound"), "{err}");

    // audit prove --json: the proof hashes and the leaf, enough to check without Portcullis.
    let (ok, stdout, err) = run(
        port,
        &[
            &["audit", "prove"][..],
            &AUDITOR,
            &["--index", &index.to_string(), "--json"],
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    assert!(
        err.contains("rate-limited by the gateway; waiting"),
        "{err}"
    );
    let p = json(&stdout);
    assert_eq!(STANDARD.decode(p["leaf"].as_str().unwrap()).unwrap(), leaf);
    let hashes = p["proof"].as_array().unwrap();
    assert!(!hashes.is_empty());
    for h in hashes {
        assert_eq!(STANDARD.decode(h.as_str().unwrap()).unwrap().len(), 32);
    }
    let verified =
        tlog_proof::verify(p["tlog_proof"].as_str().unwrap(), &leaf, &verifier(), None).unwrap();
    assert_eq!(verified.index, index);
    assert_eq!(p["tree_size"], verified.checkpoint.size);

    // audit replay --json: every line an object with its leaf; the vetted entry's leaf is the
    // receipt's.
    let (ok, stdout, err) = run(
        port,
        &[&["audit", "replay"][..], &AUDITOR, &["--json"]].concat(),
    );
    assert!(ok, "{err}");
    let records: Vec<serde_json::Value> = stdout.lines().map(json).collect();
    assert!(records.len() as u64 > index);
    for r in &records {
        let bytes = STANDARD.decode(r["leaf"].as_str().unwrap()).unwrap();
        assert_eq!(r["entry"]["index"], r["index"]);
        if r["index"] == index {
            assert_eq!(bytes, leaf);
        }
    }
    // --skip-own leaves out the auditor's calls, and only those.
    let (ok, stdout, err) = run(
        port,
        &[
            &["audit", "replay"][..],
            &AUDITOR,
            &["--json", "--skip-own"],
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    let others: Vec<serde_json::Value> = stdout.lines().map(json).collect();
    assert!(others
        .iter()
        .all(|r| r["entry"]["actor"]["role"] != "auditor"));
    assert!(others.iter().any(|r| r["entry"]["actor"]["org"] == "alpha"));

    // audit verify --json: a machine-readable result.
    let (ok, stdout, err) = run(
        port,
        &[&["audit", "verify"][..], &AUDITOR, &["--json"]].concat(),
    );
    assert!(ok, "{err}");
    let v = json(&stdout);
    assert_eq!(v["verified"], true);
    assert!(v["entries"].as_u64().unwrap() > index);
    assert_eq!(v["checkpoint"]["origin"], "portcullis.dev/audit");
    assert_eq!(
        STANDARD
            .decode(v["checkpoint"]["root_hash"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    // A failing verification is machine-readable too (the wrong key).
    let other_key = out.path().join("other.vkey");
    std::fs::write(
        &other_key,
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k\n",
    )
    .unwrap();
    let (ok, stdout, _) = run(
        port,
        &[
            &["audit", "verify"][..],
            &AUDITOR,
            &["--json", "--vkey", other_key.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(!ok);
    let v = json(&stdout);
    assert_eq!(v["verified"], false);
    assert!(v["error"].as_str().unwrap().contains("no signature by key"));

    // `audit replay --follow | head -1`: once the reader is gone, the next entry written ends
    // the command quietly (no panic).
    let mut replay = Command::new(BIN)
        .current_dir(repo())
        .args(["audit", "replay"])
        .args(AUDITOR)
        .args(["--follow", "--server"])
        .arg(format!("https://localhost:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(replay.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty());
    // The reader is dropped: the pipe is closed.
    let mut alpha = portcullis::proto::v1::vetting_service_client::VettingServiceClient::new(
        portcullis::client::connect(
            &format!("https://localhost:{port}"),
            &certs().join("ca.crt"),
            &client("alpha-officer"),
        )
        .await
        .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = replay.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "replay did not end");
        alpha
            .vet(vet_request("r-pipe", vec![token(TokenKind::Email, 3)]))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut replay.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("Broken pipe"), "{err}");
    running.shutdown().await.unwrap();
}

/// A command that needs no gateway.
fn run_offline(args: &[&str]) -> (bool, String, String) {
    assert!(Path::new(BIN).exists());
    common::process::run(None, args)
}
