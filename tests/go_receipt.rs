//! A receipt checked by independent tooling: Go's reference transparency-log code
//! (golang.org/x/mod/sumdb/note and sumdb/tlog), through tests/go/verify_receipt.go, which knows
//! nothing of Portcullis but the C2SP formats.
//!
//! Go and the packages come from Debian (`bash tests/go/setup.sh`: golang-go,
//! golang-golang-x-mod-dev) and the program builds in GOPATH mode against /usr/share/gocode,
//! with no network. Without Go this test is skipped with a message, unless
//! `PORTCULLIS_GO_REQUIRED` is set (as CI does), in which case it fails.

use std::path::Path;
use std::process::Command;

mod common;

use common::process::repo;
use common::*;
use portcullis::audit::checkpoint::{NoteSigner, NoteVerifier};
use portcullis::audit::tlog_proof::TlogProof;
use portcullis::proto::v1::{GetReceiptRequest, TokenKind};

const GOPATH: &str = "/usr/share/gocode";

fn go_available() -> bool {
    let present = Command::new("go").arg("version").output().is_ok()
        && Path::new(GOPATH)
            .join("src/golang.org/x/mod/sumdb/note/note.go")
            .exists();
    if !present {
        assert!(
            std::env::var_os("PORTCULLIS_GO_REQUIRED").is_none(),
            "PORTCULLIS_GO_REQUIRED is set but Go or golang.org/x/mod is missing: run `bash tests/go/setup.sh`"
        );
        println!(
            "SKIPPED go_receipt: Go or {GOPATH}/src/golang.org/x/mod is missing \
             (run `bash tests/go/setup.sh`, or set PORTCULLIS_GO_REQUIRED=1 to make this a failure)"
        );
    }
    present
}

/// Builds the Go verifier once into `dir`.
fn build(dir: &Path) -> std::path::PathBuf {
    let bin = dir.join("verify_receipt");
    let out = Command::new("go")
        .current_dir(repo().join("tests/go"))
        .args(["build", "-o"])
        .arg(&bin)
        .arg("verify_receipt.go")
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOCACHE", repo().join("target/go-cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// Runs the Go verifier on a receipt: success and its output.
fn go_verify(bin: &Path, dir: &Path, proof: &str, leaf: &[u8]) -> (bool, String) {
    let (p, e) = (dir.join("r.tlog-proof"), dir.join("r.entry"));
    std::fs::write(&p, proof).unwrap();
    std::fs::write(&e, leaf).unwrap();
    let out = Command::new(bin)
        .arg(&p)
        .arg(&e)
        .arg(certs().join("log.vkey"))
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_verify_with_go_sumdb_note_and_tlog() {
    if !go_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let bin = build(work.path());
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    // Several entries, so the proofs have hashes on both sides.
    let mut indexes = Vec::new();
    for i in 0..6u8 {
        let a = alpha
            .vet(vet_request(
                &format!("r-go-{i}"),
                vec![token(TokenKind::Email, i)],
            ))
            .await
            .unwrap()
            .into_inner();
        indexes.push(a.audit_index);
    }
    for index in indexes {
        let r = alpha
            .get_receipt(GetReceiptRequest {
                audit_index: index,
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        let (ok, out) = go_verify(&bin, work.path(), &r.proof, &r.leaf);
        assert!(ok, "index {index}: {out}");
        assert!(
            out.contains(&format!("OK: entry {index} is in portcullis.dev/audit")),
            "{out}"
        );

        // Go rejects what Portcullis rejects: an altered leaf, proof hash or note.
        let mut leaf = r.leaf.clone();
        leaf[0] ^= 1;
        assert!(!go_verify(&bin, work.path(), &r.proof, &leaf).0);
        let parsed = TlogProof::parse(&r.proof).unwrap();
        if let Some(first) = parsed.hashes.first() {
            let mut altered = parsed.clone();
            altered.hashes[0] = [first[0] ^ 1; 32];
            assert!(!go_verify(&bin, work.path(), &altered.encode(), &r.leaf).0);
        }
        let altered = r
            .proof
            .replacen("\nportcullis.dev/audit\n", "\nportcullis.dev/audiT\n", 1);
        assert!(!go_verify(&bin, work.path(), &altered, &r.leaf).0);
    }

    // A checkpoint with an extension line and a cosignature by an unknown key: Go accepts it
    // too.
    let r = alpha
        .get_receipt(GetReceiptRequest {
            audit_index: 1,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let parsed = TlogProof::parse(&r.proof).unwrap();
    let vkey = std::fs::read_to_string(certs().join("log.vkey")).unwrap();
    let mut cp = NoteVerifier::parse(&vkey)
        .unwrap()
        .verify(&parsed.checkpoint, None)
        .unwrap();
    cp.extensions = vec!["an extension line".into()];
    let signer = NoteSigner::from_pkcs8(
        "portcullis.dev/audit",
        &std::fs::read(certs().join("log-signing.pk8")).unwrap(),
    )
    .unwrap();
    let note = format!(
        "{}\u{2014} witness.example.org AAAAAAAAAAAAAAAAAAAA\n",
        signer.sign(&cp)
    );
    let extended = TlogProof {
        checkpoint: note,
        ..parsed
    }
    .encode();
    let (ok, out) = go_verify(&bin, work.path(), &extended, &r.leaf);
    assert!(ok, "{out}");
    assert!(
        out.contains("extension line (not used): an extension line"),
        "{out}"
    );
}
