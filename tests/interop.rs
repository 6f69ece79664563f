//! Interop: a Python gRPC client (tests/interop/client.py), built only from the proto files and
//! docs/tokens.md, against the real binary started with `serve --dev` on loopback.
//!
//! The Python environment comes from `bash tests/interop/setup.sh` (a venv at
//! `target/interop-venv`), so a plain `cargo test` lists this test as *ignored* (with the
//! reason) rather than passing it without running it. Run it with `cargo test --test interop
//! -- --ignored`, as CI does after the setup; then a missing venv fails it.
//!
//! Also here, because it needs no server: the Kubernetes ConfigMap (deploy/k8s/configmap.yaml)
//! embeds exactly deploy/portcullis.toml, so the two cannot drift apart.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::process::{repo, ServerProcess, BIN};

fn venv_python() -> PathBuf {
    repo().join("target/interop-venv/bin/python")
}

#[test]
#[ignore = "needs the Python venv of `bash tests/interop/setup.sh`; run with `cargo test --test interop -- --ignored` (CI does)"]
fn python_client_interoperates() {
    let python = venv_python();
    assert!(
        python.exists(),
        "{} does not exist: run `bash tests/interop/setup.sh` first",
        python.display()
    );

    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
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
    let status = server.stop();
    assert!(status.success(), "serve exits 0 on SIGTERM, got {status}");
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
