//! An official's advisory commands against `serve --dev`: `publish` prints a pasteable
//! `ADV=<id>` line, `withdraw` and `advisories show` show the withdrawal reason, `advisories
//! history` lists every version oldest first, `advisories show --version` one of them, and
//! `advisories list` filters by state, grade and owner.

mod common;

use common::process::{json, run, ServerProcess};

/// Runs an official's command against `port` and asserts it succeeded; returns stdout.
fn official(port: u16, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--identity", "certs-dev/clients/official"]);
    let (ok, stdout, stderr) = run(Some(port), &all);
    assert!(ok, "{args:?}: {stdout}\n{stderr}");
    stdout
}

/// The advisory ids printed by `advisories list --json` with `filter`.
fn listed(port: u16, filter: &[&str]) -> Vec<String> {
    let mut args = vec!["advisories", "list", "--json"];
    args.extend_from_slice(filter);
    official(port, &args)
        .lines()
        .map(|l| {
            json(l)["advisory"]["advisory_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn versions_withdrawal_reasons_and_list_filters_are_shown() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let port = server.port;
    let publish = |name: &str, grade: &str| {
        official(
            port,
            &[
                "publish",
                "--key-file",
                "certs-dev/matching.key",
                "--name",
                name,
                "--dob",
                "1960",
                "--grade",
                grade,
                "--likelihood",
                "likely",
                "--guidance",
                "Consult.",
            ],
        )
    };

    // The id comes as a line to paste into a shell.
    let out = publish("Ann Example", "high");
    let line = out.lines().find(|l| l.starts_with("ADV=")).expect(&out);
    let adv = line["ADV=".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(
        adv.starts_with("adv-") && line.contains("# paste"),
        "{line}"
    );
    let other = json(&official(
        port,
        &[
            "publish",
            "--key-file",
            "certs-dev/matching.key",
            "--name",
            "Bob Example",
            "--dob",
            "1961",
            "--grade",
            "low",
            "--likelihood",
            "unlikely",
            "--guidance",
            "Note.",
            "--json",
        ],
    ))["advisory"]["advisory_id"]
        .as_str()
        .unwrap()
        .to_owned();

    official(port, &["revise", &adv, "--grade", "severe"]);
    let out = official(port, &["withdraw", &adv, "--reason", "source retracted"]);
    assert!(out.contains("  withdrawn: source retracted"), "{out}");
    let out = official(port, &["advisories", "show", &adv]);
    assert!(
        out.contains(&format!("{adv} v3  WITHDRAWN  SEVERE")),
        "{out}"
    );
    assert!(out.contains("  withdrawn: source retracted"), "{out}");
    let shown = json(&official(port, &["advisories", "show", &adv, "--json"]));
    assert_eq!(shown["withdrawal_reason"], "source retracted");

    // The history: every version, oldest first.
    let out = official(port, &["advisories", "history", &adv, "--json"]);
    let versions: Vec<_> = out.lines().map(json).collect();
    let summary: Vec<_> = versions
        .iter()
        .map(|v| {
            (
                v["advisory"]["version"].as_u64().unwrap(),
                v["advisory"]["grade"].as_str().unwrap().to_owned(),
                v["withdrawal_reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "HIGH".to_owned(), String::new()),
            (2, "SEVERE".to_owned(), String::new()),
            (3, "SEVERE".to_owned(), "source retracted".to_owned()),
        ]
    );
    let out = official(port, &["advisories", "show", &adv, "--version", "1"]);
    assert!(out.contains(&format!("{adv} v1  ACTIVE  HIGH")), "{out}");
    let (ok, _, stderr) = run(
        Some(port),
        &[
            "advisories",
            "show",
            &adv,
            "--version",
            "4",
            "--identity",
            "certs-dev/clients/official",
        ],
    );
    assert!(
        !ok && stderr.contains("version: the advisory has 3 versions"),
        "{stderr}"
    );

    // Filters.
    let mut all = vec![adv.clone(), other.clone()];
    all.sort();
    assert_eq!(listed(port, &[]), all);
    assert_eq!(listed(port, &["--state", "withdrawn"]), vec![adv.clone()]);
    assert_eq!(listed(port, &["--state", "active"]), vec![other.clone()]);
    assert_eq!(listed(port, &["--grade", "low"]), vec![other.clone()]);
    assert_eq!(
        listed(port, &["--grade", "severe", "--state", "active"]),
        Vec::<String>::new()
    );
    assert_eq!(listed(port, &["--owner", "liaison"]), all);
    assert_eq!(
        listed(
            port,
            &["--owner", "spiffe://portcullis.dev/official/liaison/olivia"]
        ),
        all
    );
    assert_eq!(
        listed(port, &["--owner", "other-unit"]),
        Vec::<String>::new()
    );
    assert!(server.stop().success());
}
