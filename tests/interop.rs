//! Interop: a Python gRPC client (tests/interop/client.py), built only from the proto files and
//! docs/tokens.md, against the real binary started with `serve --dev` on loopback.
//!
//! The Python environment comes from `bash tests/interop/setup.sh` (a venv at
//! `target/interop-venv`). Without it this test is skipped with a message, unless
//! `PORTCULLIS_INTEROP_REQUIRED` is set (as CI does), in which case a missing venv fails.
//!
//! Also here, because it needs no server: the Kubernetes ConfigMap (deploy/k8s/configmap.yaml)
//! embeds exactly deploy/portcullis.toml, so the two cannot drift apart.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn venv_python() -> PathBuf {
    repo().join("target/interop-venv/bin/python")
}

/// A `serve --dev` child: SIGTERMed by the test, killed when dropped (e.g. on a failed assert).
struct Server {
    child: Child,
    port: u16,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Removes ANSI colour sequences (`ESC [ … m`), in case the log is coloured.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Starts `serve --dev` on a free loopback port (as tests/cli.rs does).
fn serve() -> Server {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .current_dir(repo())
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let line = strip_ansi(&line);
            if let Some(addr) = line.split("addr=").nth(1) {
                let _ = tx.send(addr.trim().to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server logs its bound address");
    let port = addr.rsplit(':').next().unwrap().parse().unwrap();
    Server {
        child,
        port,
        _data: data,
    }
}

#[test]
fn python_client_interoperates() {
    let python = venv_python();
    if !python.exists() {
        let required = std::env::var_os("PORTCULLIS_INTEROP_REQUIRED").is_some();
        assert!(
            !required,
            "PORTCULLIS_INTEROP_REQUIRED is set but {} does not exist: run `bash tests/interop/setup.sh`",
            python.display()
        );
        println!(
            "SKIPPED python_client_interoperates: {} does not exist \
             (run `bash tests/interop/setup.sh`, or set PORTCULLIS_INTEROP_REQUIRED=1 to make this a failure)",
            python.display()
        );
        return;
    }

    let mut server = serve();
    let out = Command::new(&python)
        .current_dir(repo())
        .arg(repo().join("tests/interop/client.py"))
        .args(["--port", &server.port.to_string(), "--portcullis", BIN])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- tests/interop/client.py stdout\n{stdout}");
    if !stderr.trim().is_empty() {
        println!("--- tests/interop/client.py stderr\n{stderr}");
    }
    assert!(
        out.status.success(),
        "tests/interop/client.py failed ({}):\n{stdout}\n{stderr}",
        out.status
    );

    // SIGTERM: drain, flush, exit 0.
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "serve exits 0 on SIGTERM, got {status}");
            break;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn strip_ansi_removes_colour() {
    assert_eq!(
        strip_ansi("\u{1b}[3maddr\u{1b}[0m\u{1b}[2m=\u{1b}[0m127.0.0.1:1"),
        "addr=127.0.0.1:1"
    );
}

/// The `portcullis.toml: |` block of deploy/k8s/configmap.yaml, de-indented.
fn configmap_toml(yaml: &str) -> Option<String> {
    let mut lines = yaml.lines();
    lines.find(|l| l.trim_end() == "  portcullis.toml: |")?;
    let mut out = String::new();
    for line in lines {
        if line.is_empty() {
            out.push('\n');
        } else if let Some(rest) = line.strip_prefix("    ") {
            out.push_str(rest);
            out.push('\n');
        } else {
            break;
        }
    }
    Some(out)
}

#[test]
fn k8s_configmap_embeds_the_documented_example() {
    let example = std::fs::read_to_string(repo().join("deploy/portcullis.toml")).unwrap();
    let yaml = std::fs::read_to_string(repo().join("deploy/k8s/configmap.yaml")).unwrap();
    let embedded = configmap_toml(&yaml).expect("configmap.yaml has a portcullis.toml block");
    assert!(
        embedded.trim_end() == example.trim_end(),
        "deploy/k8s/configmap.yaml differs from deploy/portcullis.toml; regenerate it with the \
         command in its header comment"
    );
    portcullis::config::Config::from_toml(&embedded, Path::new("/etc/portcullis"))
        .expect("the ConfigMap's portcullis.toml parses");
}
