//! deploy/README.md's walk from nothing to a running production gateway, with `portcullis
//! certs` only: a CA, the server certificate, a CRL, the log key, a matching key and client
//! certificates; a production configuration; `serve --config` (no `--dev`) as a child process;
//! a vet through it, an auditor checking its signed checkpoint with the new verifier key, and a
//! revoked certificate refused after a reload.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::process::{json, run, ServerProcess};

/// Runs `portcullis <args>` and asserts it succeeded; returns stdout.
fn ok(args: &[&str]) -> String {
    let (success, stdout, stderr) = run(None, args);
    assert!(success, "portcullis {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn an_operator_goes_from_nothing_to_a_running_production_gateway() {
    let tmp = tempfile::tempdir().unwrap();
    let (ca, etc, party, data) = (
        tmp.path().join("ca"),
        tmp.path().join("etc"),
        tmp.path().join("party"),
        tmp.path().join("data"),
    );
    std::fs::create_dir_all(&party).unwrap();
    let (ca_s, etc_s) = (path(&ca), path(&etc));
    let crl = path(&etc.join("crl.pem"));

    // The CA (offline), the gateway's files, the parties' and the auditor's.
    ok(&[
        "certs",
        "ca",
        "--out",
        &ca_s,
        "--org",
        "Example",
        "--name",
        "Example Portcullis CA",
    ]);
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::copy(ca.join("ca.crt"), etc.join("ca.crt")).unwrap();
    let server = path(&etc.join("server"));
    let out = ok(&[
        "certs",
        "issue",
        "--ca-dir",
        &ca_s,
        "--server",
        "--dns",
        "localhost",
        "--ip",
        "127.0.0.1",
        "--out",
        &server,
    ]);
    assert!(out.contains("names: DNS:localhost, IP:127.0.0.1"), "{out}");
    ok(&["certs", "crl", "--ca-dir", &ca_s, "--crl", &crl]);
    let out = ok(&[
        "certs",
        "log-key",
        "--origin",
        "gw.example/audit",
        "--out",
        &etc_s,
    ]);
    let vkey = std::fs::read_to_string(etc.join("log.vkey")).unwrap();
    assert!(
        vkey.starts_with("gw.example/audit+") && out.contains(vkey.trim()),
        "{out}"
    );
    let matching = path(&party.join("matching.key"));
    ok(&[
        "certs",
        "matching-key",
        "--id",
        "2026-1",
        "--out",
        &matching,
    ]);
    let mut serials = Vec::new();
    for (role, org, user) in [
        ("party", "alpha", "alice"),
        ("party", "alpha", "mallory"),
        ("auditor", "oversight", "audrey"),
    ] {
        let prefix = path(&party.join(user));
        let out = ok(&[
            "certs",
            "issue",
            "--ca-dir",
            &ca_s,
            "--trust-domain",
            "gw.example",
            "--role",
            role,
            "--org",
            org,
            "--user",
            user,
            "--out",
            &prefix,
        ]);
        assert!(
            out.contains(&format!(
                "identity: spiffe://gw.example/{role}/{org}/{user}"
            )),
            "{out}"
        );
        let serial = out
            .lines()
            .find_map(|l| l.strip_prefix("serial: "))
            .unwrap();
        serials.push(serial.to_owned());
    }
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), 3, "serials are distinct");

    // Private keys are the owner's only; nothing is ever overwritten.
    #[cfg(unix)]
    for key in [
        ca.join("ca.key"),
        etc.join("server.key"),
        etc.join("log-signing.pk8"),
        party.join("matching.key"),
        party.join("alice.key"),
    ] {
        assert_eq!(mode(&key), 0o600, "{}", key.display());
    }
    let before = std::fs::read(ca.join("ca.key")).unwrap();
    let (success, _, stderr) = run(None, &["certs", "ca", "--out", &ca_s, "--org", "X"]);
    assert!(
        !success && stderr.contains("already exists; refusing to overwrite"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(ca.join("ca.key")).unwrap(), before);

    // The production configuration, as deploy/portcullis.toml documents it.
    let config = etc.join("portcullis.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:0"
data_dir = "{data}"
trust_domain = "gw.example"
accredited_parties = ["alpha"]
matching_key_ids = ["2026-1"]

[tls]
ca = "ca.crt"
cert = "server.crt"
key = "server.key"
crl = "crl.pem"

[audit]
origin = "gw.example/audit"
signing_key = "log-signing.pk8"
checkpoint_interval_ms = 100
"#,
            data = path(&data).replace('\\', "\\\\")
        ),
    )
    .unwrap();
    let gateway = ServerProcess::serve(&["--config", &path(&config)]);
    let server = gateway.server();
    let ca_crt = path(&etc.join("ca.crt"));
    let vet = |who: &str| {
        run(
            None,
            &[
                "vet",
                "--server",
                &server,
                "--ca",
                &ca_crt,
                "--identity",
                &path(&party.join(who)),
                "--key-file",
                &matching,
                "--kind",
                "donor-individual",
                "--name",
                "Walk Through",
                "--dob",
                "1970",
                "--json",
            ],
        )
    };
    let (success, stdout, stderr) = vet("alice");
    assert!(success, "{stdout}\n{stderr}");
    assert_eq!(json(&stdout)["grade"], "NO_TRACE", "{stdout}");

    // The auditor verifies a checkpoint signed by the new log key.
    let deadline = Instant::now() + Duration::from_secs(20);
    let checkpoint = loop {
        let (success, stdout, stderr) = run(
            None,
            &[
                "audit",
                "checkpoint",
                "--server",
                &server,
                "--ca",
                &ca_crt,
                "--identity",
                &path(&party.join("audrey")),
                "--vkey",
                &path(&etc.join("log.vkey")),
                "--origin",
                "gw.example/audit",
            ],
        );
        if success || Instant::now() > deadline {
            break (success, stdout, stderr);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(checkpoint.0, "{}\n{}", checkpoint.1, checkpoint.2);

    // Revoke mallory (who could vet until now), reload, and mallory is refused.
    let (success, _, _) = vet("mallory");
    assert!(success);
    let out = ok(&[
        "certs",
        "revoke",
        "--ca-dir",
        &ca_s,
        "--crl",
        &crl,
        "--cert",
        &path(&party.join("mallory.crt")),
        "--reason",
        "affiliation-changed",
    ]);
    assert!(out.contains("1 revoked"), "{out}");
    gateway.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (success, _, stderr) = vet("mallory");
        if !success {
            break;
        }
        assert!(Instant::now() < deadline, "mallory still vets: {stderr}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (success, stdout, stderr) = vet("alice");
    assert!(success, "{stdout}\n{stderr}");
    assert!(gateway.stop().success());
}
