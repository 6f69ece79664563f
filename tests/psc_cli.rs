//! `vet --psc-json` end to end with the real binary (README walkthrough, "A company donor and
//! its controllers"): the shipped Companies House sample for Acme Trading Ltd, a controller
//! HIGH while the company itself is NO_TRACE, a ceased controller vetted under its own label,
//! `--link` flags, and a bad file refused before anything is sent.

mod common;

use common::process::{json, ServerProcess};

const PSC: &str = "tests/data/psc-acme-trading.json";

fn publish(port: u16, name: &str, dob: &str, grade: &str) -> String {
    common::cli::publish(
        port,
        name,
        dob,
        grade,
        "Controller acts for a foreign state; consult the liaison.",
    )
}

/// `vet` of Acme Trading Ltd by alpha, with `extra` arguments.
fn vet_acme(port: u16, extra: &[&str]) -> (bool, String, String) {
    let mut args = common::cli::ACME.to_vec();
    args.extend_from_slice(&["--case-ref", "DON/2026/0042"]);
    args.extend_from_slice(extra);
    common::cli::vet_as_alpha(port, &args)
}

#[test]
fn the_psc_sample_end_to_end() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let port = server.port;
    // The security service knows the controller's full date of birth; the register only the
    // month and year. A LOW advisory concerns the former controller.
    let petrov = publish(port, "Viktor Andreyevich Petrov", "1966-03-14", "high");
    let hartley = publish(port, "Claire Louise Hartley", "1971-11-30", "low");

    let (ok, out, err) = vet_acme(port, &["--psc-json", PSC, "--json"]);
    assert!(ok, "{err}");
    assert!(
        err.contains("note: items[3] (psc-4): a super-secure controller"),
        "{err}"
    );
    let v = json(&out);
    assert_eq!(v["grade"], "HIGH");
    assert_eq!(v["subject_grade"], "NO_TRACE");
    let m = &v["matches"];
    assert_eq!(m.as_array().unwrap().len(), 2, "{v}");
    assert_eq!(m[0]["advisory"]["advisory_id"], petrov.as_str());
    assert_eq!(m[0]["via"], "psc-1");
    assert_eq!(m[0]["relation"], "CONTROLLER");
    assert_eq!(
        m[0]["matched_on"],
        serde_json::json!(["PERSON_NAME_BIRTH_MONTH"])
    );
    assert_eq!(m[0]["strength"], "PARTIAL");
    assert_eq!(m[1]["advisory"]["advisory_id"], hartley.as_str());
    assert_eq!(m[1]["via"], "psc-3-ceased");

    // The text output says the path.
    let (ok, out, err) = vet_acme(port, &["--psc-json", PSC, "--request-id", "acme-text"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("HIGH: "), "{out}");
    assert!(out.contains("the subject itself: NO_TRACE;"), "{out}");
    assert!(out.contains("via psc-1 (CONTROLLER)"), "{out}");

    // --link flags, alone or beside the file.
    let (ok, out, err) = vet_acme(
        port,
        &[
            "--link",
            "officer:dir-1:name=PETROV, Viktor Andreyevich;dob=14/03/1966",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let v = json(&out);
    assert_eq!(v["grade"], "HIGH");
    assert_eq!(v["matches"][0]["via"], "dir-1");
    assert_eq!(v["matches"][0]["relation"], "OFFICER");
    assert_eq!(v["matches"][0]["strength"], "STRONG");
    let (ok, _, err) = vet_acme(
        port,
        &[
            "--psc-json",
            PSC,
            "--link",
            "controller:psc-1:email=a@b.example",
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("linked subject label psc-1 given twice"),
        "{err}"
    );

    // A bad file: refused naming the item, and nothing sent (the request id stays free).
    let bad = data.path().join("bad-psc.json");
    std::fs::write(
        &bad,
        r#"{"items": [{"kind": "individual-person-with-significant-control", "name": "Jane Smith"}]}"#,
    )
    .unwrap();
    let bad = bad.to_str().unwrap();
    let (ok, _, err) = vet_acme(port, &["--psc-json", bad, "--request-id", "acme-bad"]);
    assert!(!ok);
    assert!(
        err.contains("items[0]: no usable field: an individual needs date_of_birth"),
        "{err}"
    );
    assert!(!err.contains("Jane"), "{err}");
    std::fs::write(data.path().join("bad-psc.json"), "not json").unwrap();
    let (ok, _, err) = vet_acme(port, &["--psc-json", bad, "--request-id", "acme-bad"]);
    assert!(!ok);
    assert!(err.contains("not JSON (line 1, column 2)"), "{err}");
    let (ok, out, err) = vet_acme(port, &["--request-id", "acme-bad", "--json"]);
    assert!(ok, "the id was never used: {err}");
    assert_eq!(json(&out)["grade"], "NO_TRACE");
    server.stop();
}
