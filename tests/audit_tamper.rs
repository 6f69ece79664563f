//! Tampering with a copy of a real gateway's store — a changed byte (through the store or in the
//! log file itself), a deleted, swapped or appended entry, a changed Merkle node, a log file cut
//! short — is caught by the offline verifier
//! (`portcullis audit verify --data`), by the online verifier (`portcullis audit verify` against
//! a gateway started on the copy), and, where it applies, by the start-up check, which refuses to
//! start and names the first bad index.

mod common;

use std::path::Path;
use std::process::Command;

use common::{person, vet_request, TestGateway};
use portcullis::audit::merkle::{leaf_hash, Frontier};
use portcullis::audit::AuditError;
use portcullis::proto::v1::audit_service_client::AuditServiceClient;
use portcullis::proto::v1::GetCheckpointRequest;
use portcullis::store::Store;

const ENTRIES: u64 = 12;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for item in std::fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        let target = to.join(item.file_name());
        if item.file_type().unwrap().is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            std::fs::copy(item.path(), target).unwrap();
        }
    }
}

/// Runs the `portcullis` binary; returns (success, stdout + stderr).
async fn portcullis(args: Vec<String>) -> (bool, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    })
    .await
    .unwrap()
}

fn vkey() -> String {
    common::certs().join("log.vkey").display().to_string()
}

async fn verify_offline(dir: &Path) -> (bool, String) {
    portcullis(vec![
        "audit".into(),
        "verify".into(),
        "--data".into(),
        dir.display().to_string(),
        "--vkey".into(),
        vkey(),
    ])
    .await
}

/// Starts a gateway on `dir` and verifies it online as the auditor; `Err` if it refused to start.
async fn verify_online(dir: &Path) -> Result<(bool, String), portcullis::Error> {
    let running = portcullis::server::start(common::config(dir)).await?;
    let server = format!("https://localhost:{}", running.addr().port());
    let out = portcullis(vec![
        "audit".into(),
        "verify".into(),
        "--server".into(),
        server,
        "--identity".into(),
        common::certs()
            .join("clients/auditor")
            .display()
            .to_string(),
        "--vkey".into(),
        vkey(),
    ])
    .await;
    running.shutdown().await.unwrap();
    Ok(out)
}

/// A stopped gateway's data with `ENTRIES` vets, checkpointed at the end; also returns the
/// signed note of an earlier checkpoint, at size 5.
async fn base() -> (tempfile::TempDir, String) {
    let gw = TestGateway::start().await;
    let mut party = gw.vetting("alpha-officer").await;
    let mut audit = AuditServiceClient::new(gw.channel("auditor").await);
    let mut early = String::new();
    let mut size = 0;
    while size < ENTRIES {
        if size == 5 {
            let cp = audit
                .get_checkpoint(GetCheckpointRequest {})
                .await
                .unwrap()
                .into_inner();
            assert_eq!(cp.size, 5);
            early = cp.signed_note;
        } else {
            party
                .vet(vet_request(
                    &format!("t-{size}"),
                    person("Jane Doe", "1970-01-01"),
                ))
                .await
                .unwrap();
        }
        size += 1;
    }
    drop((party, audit));
    (gw.stop().await, early)
}

/// A copy of the base data with `tamper` applied to its store.
fn tampered(base: &Path, tamper: impl FnOnce(&Store)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(base, dir.path());
    let store = Store::open(dir.path()).unwrap();
    tamper(&store);
    drop(store);
    dir
}

fn leaf(store: &Store, index: u64) -> Vec<u8> {
    store.leaf(index).unwrap().unwrap()
}

fn set_leaf(store: &Store, index: u64, value: Option<&[u8]>) {
    store.raw_set_leaf(index, value).unwrap();
}

fn refused_at(result: Result<(bool, String), portcullis::Error>) -> u64 {
    match result {
        Err(portcullis::Error::Audit(AuditError::Corrupt { index, reason })) => {
            eprintln!("start-up refused: index {index}: {reason}");
            index
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok((ok, out)) => panic!("the gateway started on a corrupt log (verify ok={ok}): {out}"),
    }
}

fn assert_caught(what: &str, (ok, out): (bool, String), expected: &str) {
    assert!(!ok, "{what}: verification passed:\n{out}");
    assert!(
        out.contains(expected),
        "{what}: expected {expected:?} in:\n{out}"
    );
}

/// Both verifiers catch the tampering of `dir`, each with its expected message.
async fn caught_both_ways(what: &str, dir: &Path, offline: &str, online: &str) {
    assert_caught(
        &format!("{what}, offline"),
        verify_offline(dir).await,
        offline,
    );
    let result = verify_online(dir).await.unwrap();
    assert_caught(&format!("{what}, online"), result, online);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_is_caught_offline_online_and_at_start_up() {
    let (base_dir, early) = base().await;
    let base = base_dir.path().to_path_buf();
    // The untouched copy verifies both ways.
    let (ok, out) = verify_offline(&base).await;
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("verified {ENTRIES} entries")),
        "{out}"
    );
    let pristine = tampered(&base, |_| {});
    let (ok, out) = verify_online(pristine.path()).await.unwrap();
    assert!(ok, "{out}");

    // 1. One byte of an entry covered by the checkpoint changed (inside its peer address, so it
    //    still decodes): the start-up check reads O(log n) nodes and does not see it; both
    //    verifiers do.
    let changed = tampered(&base, |s| {
        let mut l = leaf(s, 3);
        let last = l.len() - 1;
        l[last] ^= 1;
        set_leaf(s, 3, Some(&l));
    });
    caught_both_ways(
        "changed byte",
        changed.path(),
        "entry 3 was changed after it was written: the stored hash of entries [3, 4)",
        "entry 3 was changed after it was written: entries before it are exactly as signed",
    )
    .await;

    // 2. An entry deleted.
    let deleted = tampered(&base, |s| set_leaf(s, 4, None));
    caught_both_ways(
        "deleted",
        deleted.path(),
        "entry 4 is missing",
        "entry 4 is missing",
    )
    .await;

    // 3. Two entries swapped.
    let swapped = tampered(&base, |s| {
        let (a, b) = (leaf(s, 2), leaf(s, 7));
        set_leaf(s, 2, Some(&b));
        set_leaf(s, 7, Some(&a));
    });
    caught_both_ways(
        "swapped",
        swapped.path(),
        "entry 2 says it is entry 7",
        "entry 2 says it is entry 7",
    )
    .await;

    // 4a. An entry appended out of band (a copy of entry 0, the size bumped): no stored hash
    //     covers it, so the gateway refuses to start; offline verification names it.
    let appended = tampered(&base, |s| {
        set_leaf(s, ENTRIES, Some(&leaf(s, 0)));
        s.raw_set(
            &Store::raw_log_size_key(),
            Some(&(ENTRIES + 1).to_be_bytes()),
        )
        .unwrap();
    });
    assert_caught(
        "appended, offline",
        verify_offline(appended.path()).await,
        &format!("entry {ENTRIES} says it is entry 0"),
    );
    assert_eq!(refused_at(verify_online(appended.path()).await), ENTRIES);

    // 4b. The same with its Merkle nodes forged too: the gateway starts (the hashes agree), and
    //     online verification still catches the entry.
    let forged = tampered(&base, |s| {
        let l = leaf(s, 0);
        let mut frontier = Frontier::from_source(s, ENTRIES).unwrap();
        set_leaf(s, ENTRIES, Some(&l));
        for (level, node, hash) in frontier.push(leaf_hash(&l)) {
            s.raw_set_node(level, node, hash).unwrap();
        }
        s.raw_set(
            &Store::raw_log_size_key(),
            Some(&(ENTRIES + 1).to_be_bytes()),
        )
        .unwrap();
    });
    let forged_entry = format!("entry {ENTRIES} says it is entry 0");
    caught_both_ways(
        "appended with nodes",
        forged.path(),
        &forged_entry,
        &forged_entry,
    )
    .await;

    // 5. An entry changed after the latest checkpoint (as after a crash before the next
    //    checkpoint: the latest persisted is the one of size 5): the start-up check re-hashes it
    //    and refuses, naming it.
    let after = tampered(&base, |s| {
        s.raw_set(b"Clatest", Some(early.as_bytes())).unwrap();
        let mut l = leaf(s, 9);
        let last = l.len() - 1;
        l[last] ^= 1;
        set_leaf(s, 9, Some(&l));
    });
    assert_eq!(refused_at(verify_online(after.path()).await), 9);
    assert_caught(
        "changed after checkpoint, offline",
        verify_offline(after.path()).await,
        "stored hash of entries [9, 10)",
    );

    // 6. A stored Merkle node changed (the largest subtree of the checkpoint, read for its
    //    root): the start-up check refuses and names the first entry it covers.
    let node = tampered(&base, |s| {
        s.raw_set_node(3, 0, [0u8; 32]).unwrap();
    });
    assert_eq!(refused_at(verify_online(node.path()).await), 0);
    assert_caught(
        "changed node, offline",
        verify_offline(node.path()).await,
        "stored hash of entries [0, 8)",
    );

    // 7. One byte of an entry changed in the log file itself, not through the store.
    let in_file = tampered(&base, |_| {});
    let target = leaf(&Store::open(in_file.path()).unwrap(), 3);
    let path = in_file.path().join("audit.log");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(target.len())
        .position(|w| w == target.as_slice())
        .expect("entry 3 is in the log file as stored")
        + target.len()
        - 1;
    bytes[at] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    caught_both_ways(
        "changed byte in the file",
        in_file.path(),
        "entry 3 was changed after it was written",
        "entry 3 was changed after it was written",
    )
    .await;

    // 8. The log file cut short by one byte: acknowledged entries are gone, so the gateway
    //    refuses to start and offline verification fails, both saying so.
    let cut = tampered(&base, |_| {});
    let path = cut.path().join("audit.log");
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    let missing = "audit entries were removed from the end of the log";
    match verify_online(cut.path()).await {
        Err(e) => assert!(e.to_string().contains(missing), "refused for: {e}"),
        Ok((ok, out)) => panic!("the gateway started on a cut log (verify ok={ok}): {out}"),
    }
    assert_caught(
        "cut short, offline",
        verify_offline(cut.path()).await,
        missing,
    );
}
