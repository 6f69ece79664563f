//! `vet --csv` with linked rows (docs/csv.md "Linked subjects"), with the real binary against a
//! real gateway: a company and the rows linked to it go as one request; every row gets its own
//! result row with via and relation; a bad linked row stops its whole group and a linked row
//! that names no subject row above it is refused; a rerun sends nothing.

mod common;

use common::process::{json, ServerProcess};

fn run(port: u16, args: &[&str]) -> (bool, String, String) {
    common::process::run(Some(port), args)
}

fn records(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn linked_rows_go_with_their_subject_and_each_gets_a_result() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let port = server.port;
    let (ok, out, err) = run(
        port,
        &[
            "publish",
            "--identity",
            "certs-dev/clients/official",
            "--key-file",
            "certs-dev/matching.key",
            "--name",
            "PETROV, Viktor Andreyevich",
            "--dob",
            "14/03/1966",
            "--grade",
            "high",
            "--likelihood",
            "likely",
            "--guidance",
            "Controller acts for a foreign state.",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let advisory = json(&out)["advisory"]["advisory_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let out_file = data.path().join("results.csv");
    let args = [
        "vet",
        "--identity",
        "certs-dev/clients/alpha-officer",
        "--key-file",
        "certs-dev/matching.key",
        "--csv",
        "tests/data/donors-linked.csv",
        "--out",
        out_file.to_str().unwrap(),
    ];
    let (ok, _, err) = run(port, &args);
    assert!(ok, "{err}");
    let rows = records(&std::fs::read_to_string(&out_file).unwrap());
    assert_eq!(rows[0][7..], ["subject_grade", "via", "relation"]);
    let row = |line: &str| rows.iter().find(|r| r[0] == line).unwrap().clone();
    // The company: grade HIGH through its controller, NO_TRACE itself.
    let company = row("2");
    assert_eq!(company[2], "HIGH");
    assert_eq!(company[3], advisory);
    assert_eq!(company[7], "NO_TRACE");
    assert!(company[1].starts_with("csv-"));
    // Its linked rows share its request id and say via and relation.
    let psc1 = row("3");
    assert_eq!(psc1[1], company[1]);
    assert_eq!(psc1[2..5], ["HIGH", advisory.as_str(), "PARTIAL"]);
    assert_eq!(psc1[8..], ["psc-1", "CONTROLLER"]);
    let parent = row("4");
    assert_eq!(parent[2], "NO_TRACE");
    assert_eq!(parent[8..], ["parent-1", "PARENT"]);
    assert_eq!(row("5")[8..], ["psc-3-ceased", "CONTROLLER"]);
    // An individual donor with a funding source.
    assert_eq!(row("6")[2], "NO_TRACE");
    assert_eq!(row("7")[8..], ["acct-1", "FUNDING_SOURCE"]);
    assert_eq!(row("7")[1], row("6")[1]);
    // A bad linked row stops its group, naming the line.
    assert_eq!(
        row("8")[6],
        "local: not sent: the linked row at line 9 was refused"
    );
    assert_eq!(row("9")[6], "local: dob: not a real month");
    // A linked row naming no subject row just above it.
    assert!(row("10")[6].starts_with("local: linked_to: names no subject row just above"));
    assert_eq!(rows.len(), 10, "one result per input row");
    assert!(err.contains("answered: 6"), "{err}");
    assert!(err.contains("errors: 3 (local 3, gateway 0)"), "{err}");

    // A rerun sends nothing and adds nothing.
    let before = std::fs::read_to_string(&out_file).unwrap();
    let (ok, _, err) = run(port, &args);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), before);
    assert!(err.contains("skipped: 9"), "{err}");
    server.stop();
}
