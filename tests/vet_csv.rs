//! `portcullis vet --csv`, run with the real binary against `serve --dev`: the sample file
//! `tests/data/donors.csv` gives `tests/data/donors.expected.csv`, malformed rows are reported by
//! line, a rerun with the same `--out` sends nothing, and an interrupted run resumes.
//!
//! In the expected file, `*` stands for any audit index and `{advisory}` for the id of the
//! advisory the test publishes; every other cell must be equal.

mod common;

use common::cli::csv_records as records;
use common::cli::vet_as_alpha;
use common::process::{json, repo, ServerProcess};

/// A `serve --dev` child with its own data directory.
struct Server {
    port: u16,
    _process: ServerProcess,
    _data: tempfile::TempDir,
}

fn serve() -> Server {
    let data = tempfile::tempdir().unwrap();
    let process = ServerProcess::start(data.path(), &[]);
    Server {
        port: process.port,
        _process: process,
        _data: data,
    }
}

/// Publishes an advisory matching line 2 of the sample (José García-Pérez, 1971-04-12, written
/// differently), and uses the request id `reused-1` of line 10 for another subject, so that
/// line 10 is rejected by the gateway. Returns the advisory's id.
fn prepare(port: u16) -> String {
    let id = common::cli::publish(
        port,
        "GARCIA PEREZ, Jose",
        "12/04/1971",
        "high",
        "Funds traced to a foreign state proxy; consult the liaison.",
    );
    let (ok, _, err) = vet_as_alpha(
        port,
        &[
            "--kind",
            "staff",
            "--email",
            "someone.else@example.org",
            "--request-id",
            "reused-1",
        ],
    );
    assert!(ok, "{err}");
    id
}

/// A gateway made ready by [`prepare`], and an output file in a new directory.
struct Prepared {
    server: Server,
    /// The published advisory's id.
    advisory: String,
    /// `results.csv` in `_dir` (not created).
    out: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn prepared() -> Prepared {
    let server = serve();
    let advisory = prepare(server.port);
    let dir = tempfile::tempdir().unwrap();
    Prepared {
        server,
        advisory,
        out: dir.path().join("results.csv"),
        _dir: dir,
    }
}

/// `vet --csv tests/data/donors.csv` as alpha-officer, with extra arguments.
fn vet_csv(port: u16, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec!["--csv", "tests/data/donors.csv"];
    args.extend_from_slice(extra);
    vet_as_alpha(port, &args)
}

/// Checks `got` (an output file's text) against the expected file, row by row.
fn assert_expected(got: &str, advisory: &str) {
    let want = std::fs::read_to_string(repo().join("tests/data/donors.expected.csv")).unwrap();
    let (want, got) = (records(&want), records(got));
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(g.len(), w.len(), "{g:?}");
        for (column, (wc, gc)) in w.iter().zip(g).enumerate() {
            match wc.as_str() {
                "*" => assert!(gc.parse::<u64>().is_ok(), "column {column} of {g:?}"),
                "{advisory}" => assert_eq!(gc, advisory, "{g:?}"),
                _ => assert_eq!(gc, wc, "column {column} of {g:?}"),
            }
        }
    }
}

#[test]
fn vet_csv_writes_the_expected_rows_and_a_rerun_sends_nothing() {
    let p = prepared();
    let out_arg = p.out.to_str().unwrap();

    let (ok, stdout, err) = vet_csv(p.server.port, &["--out", out_arg]);
    assert!(ok, "{err}");
    assert!(stdout.is_empty(), "{stdout}");
    let first = std::fs::read_to_string(&p.out).unwrap();
    assert_expected(&first, &p.advisory);

    // Bad rows are named by line and reason on stderr, and counted in the summary.
    for report in [
        "line 5: dob: not a real calendar date",
        "line 7: kind: not donor-individual",
        "line 8: expected 12 fields, found 7",
        "line 10: rejected by the gateway (AlreadyExists): request_id: already used",
        "line 11: case_ref: ",
        "11 rows read",
        "skipped: 0",
        "answered: 6 (HIGH 1, NO_TRACE 5)",
        "errors: 5 (local 4, gateway 1)",
    ] {
        assert!(err.contains(report), "{report:?} missing from:\n{err}");
    }
    // Error texts never echo the row's values.
    assert!(!err.contains("Robert") && !err.contains("Smith"), "{err}");

    // The same --out again: every row is already answered, nothing is sent or added.
    let (ok, stdout, err) = vet_csv(p.server.port, &["--out", out_arg]);
    assert!(ok, "{err}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(err.contains("11 rows read"), "{err}");
    assert!(err.contains("skipped: 11"), "{err}");
    assert!(err.contains("answered: 0\n"), "{err}");
    assert!(err.contains("errors: 0 (local 0, gateway 0)"), "{err}");
    assert!(!err.contains("line 5:"), "{err}");
    assert_eq!(std::fs::read_to_string(&p.out).unwrap(), first);
}

#[test]
fn vet_csv_resumes_an_interrupted_run_with_the_same_answers() {
    let p = prepared();
    let out_arg = p.out.to_str().unwrap();
    let (ok, _, err) = vet_csv(p.server.port, &["--out", out_arg]);
    assert!(ok, "{err}");
    let complete = std::fs::read_to_string(&p.out).unwrap();

    // As if the run had stopped after writing lines 2 and 3, in the middle of line 4's row
    // (whose request had been sent and answered).
    let mut cut: String = complete.lines().take(3).map(|l| format!("{l}\n")).collect();
    cut.push_str("4,csv-5b21d3a6");
    std::fs::write(&p.out, &cut).unwrap();

    let (ok, _, err) = vet_csv(p.server.port, &["--out", out_arg]);
    assert!(ok, "{err}");
    assert!(err.contains("dropped an incomplete last record"), "{err}");
    assert!(err.contains("skipped: 2"), "{err}");
    assert!(err.contains("answered: 4 (NO_TRACE 4)"), "{err}");
    let resumed = std::fs::read_to_string(&p.out).unwrap();
    assert_expected(&resumed, &p.advisory);
    // Rows sent again carry the same request ids, so the gateway repeats its original answers.
    assert_eq!(resumed, complete);
}

#[test]
fn vet_csv_json_lines_carry_the_input_line() {
    let server = serve();
    let advisory = prepare(server.port);
    let (ok, stdout, err) = vet_csv(server.port, &["--json"]);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = stdout.lines().map(json).collect();
    assert_eq!(lines.len(), 11);
    let line_numbers: Vec<u64> = lines.iter().map(|v| v["line"].as_u64().unwrap()).collect();
    assert_eq!(line_numbers, (2..=12).collect::<Vec<_>>());
    assert_eq!(lines[0]["grade"], "HIGH");
    assert_eq!(
        lines[0]["matches"][0]["advisory"]["advisory_id"],
        advisory.as_str()
    );
    assert_eq!(lines[0]["request_id"], "csv-0221f3e9a24fdee0af03a967");
    assert_eq!(lines[3]["error"]["source"], "local");
    assert_eq!(
        lines[3]["error"]["message"],
        "dob: not a real calendar date"
    );
    assert_eq!(lines[8]["request_id"], "reused-1");
    assert_eq!(lines[8]["error"]["source"], "gateway");
    assert_eq!(lines[8]["error"]["code"], "AlreadyExists");
    assert_eq!(lines[10]["grade"], "NO_TRACE");
}

#[test]
fn vet_csv_refuses_unknown_columns_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(
        &input,
        "kind,name,dob,phone,nationality\nstaff,A B,1970-01-01,1,x\n",
    )
    .unwrap();
    let out = dir.path().join("out.csv");
    // Port 9 (discard): nothing listens there; the header is refused first.
    let (ok, _, err) = vet_as_alpha(
        9,
        &[
            "--csv",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!ok);
    assert!(err.contains("unknown columns phone, nationality"), "{err}");
    assert!(!out.exists(), "nothing is written for a refused file");
}

#[test]
fn vet_csv_conflicts_with_single_subject_fields() {
    let (ok, _, err) = vet_as_alpha(9, &["--csv", "tests/data/donors.csv", "--name", "A B"]);
    assert!(!ok);
    assert!(err.contains("cannot be used with"), "{err}");
    let (ok, _, err) = vet_as_alpha(9, &["--name", "A B"]);
    assert!(!ok);
    assert!(err.contains("--kind"), "{err}");
    let (ok, _, err) = vet_as_alpha(9, &["--kind", "staff", "--out", "x.csv"]);
    assert!(!ok);
    assert!(err.contains("--csv"), "{err}");
}

#[test]
fn vet_csv_refuses_an_out_file_that_is_not_its_own_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("notes.txt");
    let text = "meeting notes\nno newline at the end";
    std::fs::write(&out, text).unwrap();
    for format in [&[][..], &["--json"][..]] {
        let (ok, _, err) = vet_as_alpha(
            9,
            &[
                &[
                    "--csv",
                    "tests/data/donors.csv",
                    "--out",
                    out.to_str().unwrap(),
                ][..],
                format,
            ]
            .concat(),
        );
        assert!(!ok);
        assert!(err.contains("give another --out"), "{err}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
    }
}
