//! Client commands of the real `portcullis` binary that many end-to-end tests share.

use super::process::{json, run};

/// The party the end-to-end tests vet as.
pub const PARTY: &str = "certs-dev/clients/alpha-officer";

/// How a client command gets its tokens under tokens v1: the development matching key.
pub const V1_KEYS: [&str; 2] = ["--key-file", "certs-dev/matching.key"];

/// How a client command gets its tokens under tokens v2: `--dev`, the development key service
/// that `serve --dev` runs.
pub const V2_KEYS: [&str; 1] = ["--dev"];

/// José García-Pérez, born 1971-04-12, the donor of the README walkthrough, as `vet` flags.
pub const GARCIA: [&str; 6] = [
    "--kind",
    "donor-individual",
    "--name",
    "José García-Pérez",
    "--dob",
    "1971-04-12",
];

/// Acme Trading Ltd, the company of `tests/data/psc-acme-trading.json`, as `vet` flags.
pub const ACME: [&str; 8] = [
    "--kind",
    "donor-organisation",
    "--company-number",
    "09876543",
    "--org-name",
    "Acme Trading Ltd",
    "--country",
    "GB",
];

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
    let mut args = vec![name, dob, grade, guidance];
    args.extend_from_slice(extra);
    publish_json_with(port, &V1_KEYS, &args)
}

/// `publish --json` by the official with the token flags `keys` ([`V1_KEYS`] or
/// [`V2_KEYS`]); `args` are the name, date of birth, grade and guidance (likelihood `likely`),
/// then extra arguments. Asserts success; the JSON answer.
pub fn publish_json_with(port: u16, keys: &[&str], args: &[&str]) -> serde_json::Value {
    let [name, dob, grade, guidance, extra @ ..] = args else {
        panic!("publish_json_with: name, dob, grade and guidance are required");
    };
    let mut all = vec!["publish", "--identity", "certs-dev/clients/official"];
    all.extend_from_slice(keys);
    all.extend_from_slice(&[
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
    ]);
    all.extend_from_slice(extra);
    all.push("--json");
    let (ok, out, err) = run(Some(port), &all);
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
    vet_with(port, &V1_KEYS, args)
}

/// As [`vet_as_alpha`], with tokens v2 (`--dev`: the gateway's development key service).
pub fn vet_v2_as_alpha(port: u16, args: &[&str]) -> (bool, String, String) {
    vet_with(port, &V2_KEYS, args)
}

/// `vet` as alpha-officer with the token flags `keys`, then `args`.
fn vet_with(port: u16, keys: &[&str], args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["vet", "--identity", PARTY];
    all.extend_from_slice(keys);
    all.extend_from_slice(args);
    run(Some(port), &all)
}
