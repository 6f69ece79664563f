//! The README walkthrough, run with the real `portcullis` binary: a gateway started with
//! `serve --dev`, a party vetting, an official publishing, the party vetting again, and a
//! clean SIGTERM shutdown.

use std::process::Command;

mod common;

use common::process::{json, repo, ServerProcess, BIN};

fn run(port: u16, args: &[&str]) -> (bool, String, String) {
    common::process::run(Some(port), args)
}

#[test]
fn walkthrough_with_the_real_binary() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let port = server.port;
    let party = [
        &[
            "vet",
            "--identity",
            "certs-dev/clients/alpha-officer",
            "--key-file",
            "certs-dev/matching.key",
        ][..],
        &common::cli::GARCIA,
        &["--json"],
    ]
    .concat();

    let (ok, out, err) = run(port, &party);
    assert!(ok, "{err}");
    let v = json(&out);
    assert_eq!(v["grade"], "NO_TRACE");
    assert_eq!(v["meaning"], "nothing held (this is not a clearance)");

    let published = common::cli::publish_json(
        port,
        "GARCIA PEREZ, Jose",
        "12/04/1971",
        "high",
        "Funds traced to a foreign state proxy; consult the liaison.",
        &["--audience", "alpha,beta", "--internal-ref", "OP-7"],
    );
    let id = published["advisory"]["advisory_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(published["audience"], serde_json::json!(["alpha", "beta"]));

    let (ok, out, err) = run(port, &party);
    assert!(ok, "{err}");
    let v = json(&out);
    assert_eq!(v["grade"], "HIGH");
    assert_eq!(v["matches"][0]["advisory"]["advisory_id"], id.as_str());
    assert_eq!(v["matches"][0]["strength"], "STRONG");
    assert_eq!(
        v["matches"][0]["matched_on"].as_array().unwrap()[..3],
        [
            serde_json::json!("PERSON_NAME_DOB"),
            serde_json::json!("PERSON_NAME_YOB"),
            serde_json::json!("PERSON_NAME_BIRTH_MONTH")
        ]
    );
    assert_eq!(v["matches"][0]["tier"], "EXACT");
    assert_eq!(v["matches"][0]["tier_meaning"], "exact name or identifier");
    assert!(
        v.to_string().find("OP-7").is_none(),
        "internal references never reach parties"
    );

    // Human output names the grade and its meaning.
    let human: Vec<&str> = party[..party.len() - 1].to_vec();
    let (ok, out, _) = run(port, &human);
    assert!(ok);
    assert!(
        out.starts_with("HIGH: do not proceed without consulting the security liaison"),
        "{out}"
    );
    assert!(
        out.contains("    EXACT: exact name or identifier\n"),
        "the tier in words: {out}"
    );

    // Revise (expected version fetched) and withdraw.
    let (ok, out, err) = run(
        port,
        &[
            "revise",
            &id,
            "--identity",
            "certs-dev/clients/official",
            "--grade",
            "severe",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(json(&out)["advisory"]["version"], 2);
    assert_eq!(json(&out)["advisory"]["grade"], "SEVERE");
    let (ok, out, err) = run(
        port,
        &[
            "withdraw",
            &id,
            "--identity",
            "certs-dev/clients/official",
            "--reason",
            "retracted",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(json(&out)["advisory"]["state"], "WITHDRAWN");
    let (ok, out, _) = run(port, &party);
    assert!(ok);
    assert_eq!(json(&out)["grade"], "NO_TRACE");

    // A wrong role is refused with a precise, non-zero exit.
    let mut wrong = party.to_vec();
    wrong[2] = "certs-dev/clients/official";
    let (ok, _, err) = run(port, &wrong);
    assert!(!ok);
    assert!(err.contains("PermissionDenied"), "{err}");

    let (ok, out, err) = run(
        port,
        &[
            "advisories",
            "list",
            "--identity",
            "certs-dev/clients/official",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains(&id) && out.contains("WITHDRAWN"), "{out}");

    // Notices for alpha's earlier requests, resumable with a cursor file. Alpha vetted the
    // subject before the publication (1 request) and twice after it: PUBLISHED for the first,
    // REVISED and WITHDRAWN for all three.
    let cursor = data.path().join("alpha.cursor");
    let cursor_arg = cursor.to_str().unwrap();
    let watch = [
        "watch",
        "--identity",
        "certs-dev/clients/alpha-officer",
        "--cursor-file",
        cursor_arg,
        "--idle-exit",
        "2",
        "--json",
    ];
    let (ok, out, err) = run(port, &watch);
    assert!(ok, "{err}");
    let kinds: Vec<String> = out
        .lines()
        .map(|l| json(l)["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "NOTICE_KIND_PUBLISHED")
            .count(),
        1
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "NOTICE_KIND_REVISED").count(),
        3
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "NOTICE_KIND_WITHDRAWN")
            .count(),
        3
    );
    let saved = std::fs::read_to_string(&cursor).unwrap();
    let (ok, out, _) = run(port, &watch);
    assert!(ok);
    assert!(
        out.is_empty(),
        "resuming from the cursor file repeats nothing: {out}"
    );
    assert_eq!(std::fs::read_to_string(&cursor).unwrap(), saved);

    // Hits for the official: the two vets that matched while the advisory was active.
    let (ok, out, err) = run(
        port,
        &[
            "hits",
            "--identity",
            "certs-dev/clients/official",
            "--idle-exit",
            "2",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let hits: Vec<_> = out.lines().map(json).collect();
    assert_eq!(hits.len(), 2, "{out}");
    assert!(hits
        .iter()
        .all(|h| h["party"] == "alpha" && h["advisory_id"] == id.as_str()));

    // SIGTERM: drain, flush, exit 0.
    let status = server.stop();
    assert!(status.success(), "serve exits 0 on SIGTERM, got {status}");
}

#[test]
fn token_prints_tokens_without_a_server() {
    let out = Command::new(BIN)
        .current_dir(repo())
        .args([
            "token",
            "--key-file",
            "tests/data/vectors.key",
            "--name",
            "Dr. José  García-Pérez",
            "--dob",
            "1970-01-02",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(v[0]["kind"], "PERSON_NAME_DOB");
    // tests/data/token-vectors.json, case "name-garcia-title-punct", under the same key.
    assert_eq!(v[0]["canonical"], "garcia jose perez|1970-01-02");
    assert_eq!(
        v[0]["digest"],
        "1fd705428add76dfb689b2b395033c299533ed55ab951367fd58d921a9686a2f"
    );
    assert_eq!(v[1]["kind"], "PERSON_NAME_YOB");
}

#[test]
fn serve_without_config_or_dev_is_a_usage_error() {
    let out = Command::new(BIN).args(["serve"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config"));
}

#[test]
fn vet_help_says_a_year_alone_is_a_date_of_birth() {
    let out = Command::new(BIN).args(["vet", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("or the year alone (YYYY)"), "{help}");
}
