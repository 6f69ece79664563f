//! Client commands of the real `portcullis` binary that many end-to-end tests share.

use super::process::{json, run};

/// `publish` by the official (development matching key) of the person `name` born `dob`, at
/// `grade`, likelihood `likely`, with `guidance`; returns the new advisory's id.
pub fn publish(port: u16, name: &str, dob: &str, grade: &str, guidance: &str) -> String {
    publish_json(port, name, dob, grade, guidance, &[])["advisory"]["advisory_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// As [`publish`], with `extra` arguments (`--audience`, `--internal-ref`, …); the JSON answer.
pub fn publish_json(
    port: u16,
    name: &str,
    dob: &str,
    grade: &str,
    guidance: &str,
    extra: &[&str],
) -> serde_json::Value {
    let mut args = vec![
        "publish",
        "--identity",
        "certs-dev/clients/official",
        "--key-file",
        "certs-dev/matching.key",
        "--name",
        name,
        "--dob",
        dob,
        "--grade",
        grade,
        "--likelihood",
        "likely",
        "--guidance",
        guidance,
    ];
    args.extend_from_slice(extra);
    args.push("--json");
    let (ok, out, err) = run(Some(port), &args);
    assert!(ok, "{err}");
    json(&out)
}

/// The records of a CSV text, header included.
pub fn csv_records(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// `vet` as alpha-officer with the development matching key, then `args`, against `port`:
/// (success, stdout, stderr).
pub fn vet_as_alpha(port: u16, args: &[&str]) -> (bool, String, String) {
    let mut all = vec![
        "vet",
        "--identity",
        "certs-dev/clients/alpha-officer",
        "--key-file",
        "certs-dev/matching.key",
    ];
    all.extend_from_slice(args);
    run(Some(port), &all)
}
