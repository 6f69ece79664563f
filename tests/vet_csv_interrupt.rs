//! `portcullis vet --csv` interrupted with Ctrl-C (SIGINT) and resumed: the interrupted run
//! prints its summary and leaves complete rows only; the resumed run then gives exactly one
//! result row per input row, with the input's own line numbers — in a file with a byte-order
//! mark, Windows line endings, a blank line, a cell over two lines, and rows that repeat an
//! earlier row exactly (and so share its derived request id).

mod common;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::process::{repo, ServerProcess, BIN};

/// Data rows in the input.
const ROWS: usize = 1500;

/// A `--dev` configuration over certs-dev/ with a vetting rate limit, so that the run lasts
/// long enough to be interrupted in the middle.
fn config(dir: &Path) -> String {
    let certs = repo().join("certs-dev");
    let c = |f: &str| certs.join(f).to_string_lossy().replace('\\', "\\\\");
    let text = format!(
        r#"listen = "127.0.0.1:0"
data_dir = "{data}"
trust_domain = "portcullis.dev"
accredited_parties = ["alpha", "beta"]
matching_key_ids = ["dev-1"]

[tls]
ca = "{ca}"
cert = "{cert}"
key = "{key}"
crl = "{crl}"

[audit]
origin = "portcullis.dev/audit"
signing_key = "{log}"

[limits]
vet_per_sec = 300.0
vet_burst = 30.0
"#,
        data = dir.join("data").to_string_lossy().replace('\\', "\\\\"),
        ca = c("ca.crt"),
        cert = c("server.crt"),
        key = c("server.key"),
        crl = c("crl.pem"),
        log = c("log-signing.pk8"),
    );
    let path = dir.join("portcullis.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// Writes the input; returns the line where each data row starts and the number of rows
/// that repeat an earlier row.
fn input(path: &Path) -> (Vec<u64>, usize) {
    let mut text = String::from("\u{feff}kind,email,case_ref\r\n");
    let mut line = 2;
    let mut starts = Vec::new();
    let mut repeats = 0;
    for i in 0..ROWS {
        if i == 10 {
            // A blank line: no row.
            text.push_str("\r\n");
            line += 1;
        }
        starts.push(line);
        if i == 20 {
            // One cell over two lines (refused locally: not an e-mail address).
            text.push_str("staff,\"two\r\nlines\",C-20\r\n");
            line += 2;
        } else if i % 10 == 5 {
            // Exactly the first row again.
            text.push_str("staff,p0@example.org,C-0\r\n");
            repeats += 1;
            line += 1;
        } else {
            text.push_str(&format!("staff,p{i}@example.org,C-{i}\r\n"));
            line += 1;
        }
    }
    std::fs::write(path, text).unwrap();
    (starts, repeats)
}

fn vet_csv(port: u16, input: &Path, out: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(repo())
        .args([
            "vet",
            "--identity",
            "certs-dev/clients/alpha-officer",
            "--key-file",
            "certs-dev/matching.key",
            "--server",
            &format!("https://localhost:{port}"),
            "--csv",
        ])
        .arg(input)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// The output's rows (after the header) as (line, request id, grade, error).
fn rows(out: &Path) -> Vec<(u64, String, String, String)> {
    let mut reader = csv::Reader::from_path(out).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[0].parse().unwrap(),
                r[1].to_owned(),
                r[2].to_owned(),
                r[6].to_owned(),
            )
        })
        .collect()
}

#[test]
fn an_interrupted_run_resumes_with_exactly_one_row_per_input_row() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = ServerProcess::serve(&["--dev", "--config", &config(dir.path())]);
    let (input_path, out) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    let (starts, repeats) = input(&input_path);

    // Run, and press Ctrl-C once some rows are written.
    let mut child = vet_csv(gateway.port, &input_path, &out).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let written = std::fs::read_to_string(&out)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if written > 100 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        assert!(Instant::now() < deadline, "no rows written within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sigint = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sigint.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "an interrupted run exits non-zero");
    assert!(stderr.contains("rows read"), "no summary: {stderr}");
    assert!(stderr.contains("interrupted (Ctrl-C)"), "{stderr}");
    assert!(
        stderr.contains("run the same command again to resume"),
        "{stderr}"
    );
    let first = rows(&out);
    assert!(
        first.len() < ROWS,
        "the run finished before the interrupt ({} rows)",
        first.len()
    );
    assert!(std::fs::read_to_string(&out).unwrap().ends_with('\n'));

    // Resume: the rest, and nothing twice.
    let resumed = vet_csv(gateway.port, &input_path, &out).output().unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("skipped: {} (already in the output)", first.len())),
        "{stderr}"
    );
    let all = rows(&out);
    let mut lines: Vec<u64> = all.iter().map(|r| r.0).collect();
    lines.sort_unstable();
    assert_eq!(
        lines, starts,
        "exactly one result row per input row, by its line"
    );

    // Every repeat of the first row shares its request id and answer; only the row with a
    // cell over two lines is refused.
    let by_line: BTreeMap<u64, _> = all.into_iter().map(|r| (r.0, r)).collect();
    let first_row = &by_line[&starts[0]];
    let same: Vec<_> = by_line.values().filter(|r| r.1 == first_row.1).collect();
    assert_eq!(same.len(), repeats + 1);
    for (line, (_, _, grade, error)) in &by_line {
        if *line == starts[20] {
            assert!(error.starts_with("local: email"), "{error}");
        } else {
            assert_eq!(
                (grade.as_str(), error.as_str()),
                ("NO_TRACE", ""),
                "line {line}"
            );
        }
    }
    assert!(gateway.stop().success());
}
