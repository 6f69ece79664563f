//! Tokens v2 with the real binary: `token`, `publish` and `vet` (single and `--csv`) through the
//! development key service of `serve --dev`; a key service that is down makes `vet` fail
//! plainly; `portcullis keyservice` as its own process with its own log that `audit verify`
//! checks.

use std::process::Command;
use std::time::Duration;

mod common;

use common::cli::{vet_v2_as_alpha, GARCIA, PARTY, V2_KEYS};
use common::process::{json, repo, run, ServerProcess, BIN};
use portcullis::cli::{ChildGateway, Ready};

#[test]
fn token_publish_and_vet_use_the_dev_key_service_by_default_under_dev() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let port = Some(server.port);

    let token = |name: &str, dob: &str| {
        let (ok, out, err) = run(
            port,
            &[
                "token",
                "--dev",
                "--identity",
                PARTY,
                "--name",
                name,
                "--dob",
                dob,
            ],
        );
        assert!(ok, "{err}");
        out
    };
    let a = token("José García-Pérez", "1971-04-12");
    assert!(
        a.starts_with("key id dev-2 (scheme voprf-ristretto255-sha512)"),
        "{a}"
    );
    assert!(a.contains("PERSON_NAME_DOB"), "{a}");
    assert!(a.contains("garcia jose perez|1971-04-12"), "{a}");
    // Another spelling in the same word order (case, accents, date format), another random
    // blind: the same digests. (A reordered name shares every token but the order-dependent
    // PERSON_NAME_PART_DOB initial form.)
    assert_eq!(a, token("JOSÉ GARCÍA-PÉREZ", "12/04/1971"));

    common::cli::publish_json_with(
        server.port,
        &V2_KEYS,
        &[
            "GARCIA PEREZ, Jose",
            "12/04/1971",
            "high",
            "Consult the liaison.",
            "--audience",
            "alpha",
        ],
    );
    let (ok, out, err) = vet_v2_as_alpha(server.port, &[&GARCIA[..], &["--json"]].concat());
    assert!(ok, "{err}");
    assert_eq!(json(&out)["grade"], "HIGH");

    // vet --csv through the key service, in batches.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("donors.csv");
    let mut text = String::from("kind,name,dob\n");
    for i in 0..300 {
        text.push_str(&format!("donor-individual,Donor Number{i},1980-01-01\n"));
    }
    text.push_str("donor-individual,José García-Pérez,1971-04-12\n");
    std::fs::write(&input, text).unwrap();
    let out_file = dir.path().join("out.jsonl");
    let (ok, _, err) = vet_v2_as_alpha(
        server.port,
        &[
            "--csv",
            input.to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out_file)
        .unwrap()
        .lines()
        .map(json)
        .collect();
    assert_eq!(lines.len(), 301);
    assert_eq!(lines[300]["grade"], "HIGH");
    assert!(lines[..300].iter().all(|l| l["grade"] == "NO_TRACE"));
    server.stop();
}

#[test]
fn a_key_service_that_is_down_fails_vet_without_a_fallback() {
    // A port nobody listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let key_service = format!("https://localhost:{port}");
    // `vet` of a staff member through that key service, with `keys` also given.
    let vet = |keys: &[&str]| {
        let mut args = vec![
            "vet",
            "--identity",
            PARTY,
            "--key-service",
            &key_service,
            "--key-service-key",
            "certs-dev/keyservice.pub",
        ];
        args.extend_from_slice(keys);
        args.extend_from_slice(&["--kind", "staff", "--email", "a@example.org"]);
        run(None, &args)
    };
    let (ok, _, err) = vet(&["--key-file", "certs-dev/matching.key"]);
    assert!(!ok);
    assert!(err.contains("exclude each other"), "{err}");
    let (ok, _, err) = vet(&[]);
    assert!(!ok);
    assert!(
        err.contains(&format!("key service https://localhost:{port}")),
        "{err}"
    );
    assert!(err.contains("never falls back"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_keyservice_process_keeps_its_own_log_that_audit_verify_checks() {
    let data = tempfile::tempdir().unwrap();
    let mut keyservice = Command::new(BIN);
    keyservice
        .current_dir(repo())
        .args(["keyservice", "--dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path());
    let mut child = ChildGateway::spawn_until(
        keyservice,
        Ready::StdoutLine("keyservice listening on "),
        Duration::from_secs(30),
    )
    .expect("the key service did not start");
    let url = child.server();

    let (ok, out, err) = run(
        None,
        &[
            "token",
            "--identity",
            PARTY,
            "--server",
            "https://localhost:1",
            "--key-service",
            &url,
            "--key-service-key",
            "certs-dev/keyservice.pub",
            "--email",
            "a@example.org",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let v = json(&out);
    assert_eq!(v[0]["scheme"], "voprf-ristretto255-sha512");
    assert_eq!(v[0]["key_id"], "dev-2");

    // Its log has its own origin and key: the gateway's key does not verify it, its own does.
    std::thread::sleep(Duration::from_millis(1500));
    let verify = |vkey: &str| {
        run(
            None,
            &[
                "audit",
                "verify",
                "--identity",
                "certs-dev/clients/auditor",
                "--server",
                &url,
                "--vkey",
                vkey,
            ],
        )
    };
    let (ok, out, err) = verify("certs-dev/keyservice-log.vkey");
    assert!(ok, "{out}{err}");
    let (ok, _, _) = verify("certs-dev/log.vkey");
    assert!(!ok);
    assert!(child.signal("TERM"));
    let status = child
        .wait_within(Duration::from_secs(20))
        .expect("did not stop");
    assert!(status.success());
}
