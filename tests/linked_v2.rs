//! Linked subjects under tokens v2, with the real binary against a real `serve --dev` gateway
//! and its development key service: `vet --dev --psc-json` and `vet --dev --csv` with linked
//! rows match an advisory published under v2 on a controller, and the subject's and its linked
//! subjects' tokens are evaluated in one key-service call (the audit log's Evaluate entry
//! carries as many elements as the Vet entry carries tokens, linked ones included).

mod common;

use common::cli::{csv_records, vet_v2_as_alpha, ACME, V2_KEYS};
use common::process::{json, ServerProcess};
use portcullis::audit::AuditEntry;

const EVALUATE: &str = "/portcullis.v1.KeyService/Evaluate";
const VET: &str = "/portcullis.v1.VettingService/Vet";

fn publish_petrov(port: u16) -> String {
    common::cli::publish_json_with(
        port,
        &V2_KEYS,
        &[
            "PETROV, Viktor Andreyevich",
            "14/03/1966",
            "high",
            "Controller acts for a foreign state.",
        ],
    )["advisory"]["advisory_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn entries(data: &std::path::Path) -> Vec<AuditEntry> {
    let store = portcullis::store::Store::open_with_cache(data, 8 << 20).unwrap();
    let size = store.log_size().unwrap();
    store
        .leaves(0, size)
        .map(|r| prost::Message::decode(r.unwrap().1.as_slice()).unwrap())
        .collect()
}

#[test]
fn psc_controllers_are_evaluated_with_the_company_in_one_call() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let port = server.port;
    let advisory = publish_petrov(port);

    let (ok, out, err) = vet_v2_as_alpha(
        port,
        &[
            &ACME[..],
            &[
                "--psc-json",
                "tests/data/psc-acme-trading.json",
                "--link",
                "officer:dir-1:name=Claire Hartley;dob=1971-11-30",
                "--json",
            ],
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    let v = json(&out);
    assert_eq!(v["grade"], "HIGH", "{v}");
    assert_eq!(v["subject_grade"], "NO_TRACE");
    let m = &v["matches"][0];
    assert_eq!(m["advisory"]["advisory_id"], advisory.as_str());
    assert_eq!(m["via"], "psc-1");
    assert_eq!(
        m["matched_on"],
        serde_json::json!(["PERSON_NAME_BIRTH_MONTH"])
    );

    // A linked subject with a bad field is refused before the key service is asked.
    let (ok, _, err) = vet_v2_as_alpha(
        port,
        &[
            "--kind",
            "donor-organisation",
            "--company-number",
            "09876543",
            "--link",
            "officer:dir-1:name=Claire Hartley",
        ],
    );
    assert!(!ok);
    assert!(err.contains("linked subject dir-1: name:"), "{err}");
    server.stop();

    let log = entries(data.path());
    let vets: Vec<&AuditEntry> = log.iter().filter(|e| e.method == VET).collect();
    assert_eq!(vets.len(), 1, "the refused vet sent nothing");
    let vet = vets[0];
    assert!(vet.linked.len() >= 3, "{:?}", vet.linked.len());
    let tokens = vet.tokens.len() + vet.linked.iter().map(|l| l.tokens.len()).sum::<usize>();
    // The Evaluate call just before the Vet: every token of the request, in one call.
    let before: Vec<&AuditEntry> = log
        .iter()
        .filter(|e| e.index < vet.index && e.method == EVALUATE)
        .collect();
    let last = before.last().unwrap();
    assert_eq!(last.code, 0);
    assert_eq!(last.element_count as usize, tokens);
    assert_eq!(before.len(), 2, "one Evaluate for publish, one for the vet");
}

#[test]
fn csv_linked_rows_are_digested_under_v2_with_their_subject() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let port = server.port;
    let advisory = publish_petrov(port);
    let out_file = data.path().join("results.csv");
    let (ok, _, err) = vet_v2_as_alpha(
        port,
        &[
            "--csv",
            "tests/data/donors-linked.csv",
            "--out",
            out_file.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let rows = csv_records(&std::fs::read_to_string(&out_file).unwrap());
    let row = |line: &str| rows.iter().find(|r| r[0] == line).unwrap().clone();
    assert_eq!(row("2")[2], "HIGH");
    assert_eq!(row("2")[7], "NO_TRACE");
    assert_eq!(row("3")[2..5], ["HIGH", advisory.as_str(), "PARTIAL"]);
    assert_eq!(row("3")[8..], ["psc-1", "CONTROLLER", "EXACT"]);
    assert_eq!(row("7")[8..10], ["acct-1", "FUNDING_SOURCE"]);
    assert_eq!(row("9")[6], "local: dob: not a real month");
    assert_eq!(rows.len(), 10, "one result per input row");
    assert!(err.contains("answered: 6"), "{err}");
    server.stop();

    // The file's usable groups went to the key service in one call (a batch holds 256 groups):
    // as many elements as the answered Vet requests carry tokens, linked ones included.
    let log = entries(data.path());
    let sent: usize = log
        .iter()
        .filter(|e| e.method.ends_with("/VetBatch") || e.method == VET)
        .map(|e| e.tokens.len() + e.linked.iter().map(|l| l.tokens.len()).sum::<usize>())
        .sum();
    let evaluates: Vec<&AuditEntry> = log.iter().filter(|e| e.method == EVALUATE).collect();
    assert_eq!(evaluates.len(), 2, "one for publish, one for the file");
    assert_eq!(evaluates[1].element_count as usize, sent);
    assert!(evaluates.iter().all(|e| e.key_id == "dev-2" && e.code == 0));
}
