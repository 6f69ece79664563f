//! The start-up integrity check: before serving, the gateway checks its stored log against the
//! latest checkpoint it signed, without replaying the whole log.
//!
//! 1. No leaf is stored at or beyond the log size.
//! 2. The latest persisted checkpoint verifies with the gateway's own key and origin, and does not
//!    cover more entries than the log holds.
//! 3. The root recomputed from the stored complete-subtree hashes at the checkpoint's size
//!    (O(log n) reads) equals the checkpoint's root.
//! 4. Every leaf written since that checkpoint is re-hashed and pushed onto the checkpoint's
//!    frontier; each leaf hash and each subtree it completes must equal the stored node.
//!
//! On any mismatch the check fails with [`AuditError::Corrupt`] naming the first bad index: on
//! that (rare) path it scans the whole log to find it. A leaf changed *before* the latest
//! checkpoint without its stored hashes is not seen here (that would need a full replay); the
//! offline `portcullis audit verify --data` and the auditor's online verification catch it.
//!
//! A data directory in the log's first layout (a key per leaf and per node) is refused with a
//! message saying so.

use super::checkpoint::NoteVerifier;
use super::merkle::{self, leaf_hash, Frontier};
use super::{AuditError, SignedCheckpoint};
use crate::store::Store;

/// Checks the stored log as described in the module docs and returns its latest verified
/// checkpoint (`None` if none was ever signed).
pub fn check_at_startup(
    store: &Store,
    verifier: &NoteVerifier,
    origin: &str,
) -> Result<Option<SignedCheckpoint>, AuditError> {
    if store.has_legacy_log()? {
        return Err(AuditError::Corrupt {
            index: 0,
            reason: "the data directory holds an audit log in the first storage layout (a key \
                     per entry), which this version does not read; verify it with the version \
                     that wrote it and start from a new data directory"
                .into(),
        });
    }
    let size = store.log_size()?;
    if let Some(item) = store.leaves(size, u64::MAX).next() {
        let (index, _) = item?;
        return Err(AuditError::Corrupt {
            index,
            reason: format!("a leaf is stored beyond the log size {size}"),
        });
    }
    let latest = match store.checkpoint()? {
        Some(note) => {
            let checkpoint = verifier.verify(&note, Some(origin))?;
            Some(SignedCheckpoint { checkpoint, note })
        }
        None => None,
    };
    let (signed_size, signed_root) = match &latest {
        Some(s) => (s.checkpoint.size, s.checkpoint.root),
        None => (0, merkle::empty_root()),
    };
    if signed_size > size {
        return Err(AuditError::Corrupt {
            index: size,
            reason: format!(
                "the log holds {size} entries but its latest checkpoint covers {signed_size}"
            ),
        });
    }
    let root = merkle::root_at(store, signed_size);
    if !matches!(root, Ok(r) if r == signed_root) {
        return Err(diagnose(store, signed_size, "the checkpoint's root"));
    }
    let frontier =
        Frontier::from_source(store, signed_size).map_err(|_| diagnose(store, size, ""))?;
    check_leaves(store, frontier, size)?;
    Ok(latest)
}

/// Pushes the stored leaves from `frontier`'s size up to `size` onto it, checking that none is
/// missing and that every node a leaf completes equals the hash stored with that leaf.
fn check_leaves(store: &Store, mut frontier: Frontier, size: u64) -> Result<(), AuditError> {
    for item in store.leaf_records(frontier.size(), size) {
        let (index, record) = item?;
        if index != frontier.size() {
            return Err(missing(frontier.size()));
        }
        for (level, node, hash) in frontier.push(leaf_hash(&record.leaf)) {
            if record.node(level) != Some(hash) {
                return Err(node_mismatch(level, node));
            }
        }
    }
    if frontier.size() < size {
        return Err(missing(frontier.size()));
    }
    Ok(())
}

fn missing(index: u64) -> AuditError {
    AuditError::Corrupt {
        index,
        reason: "the entry is missing".into(),
    }
}

fn node_mismatch(level: u8, node: u64) -> AuditError {
    let index = node << level;
    let reason = if level == 0 {
        "the entry does not match its stored leaf hash".to_owned()
    } else {
        format!(
            "the stored hash of entries [{index}, {}) does not match them",
            (node + 1) << level
        )
    };
    AuditError::Corrupt { index, reason }
}

/// Scans the first `size` leaves to find the first one (or the first node) that disagrees with
/// the stored hashes. `what` names what failed to match, for the message when nothing does.
fn diagnose(store: &Store, size: u64, what: &str) -> AuditError {
    if let Err(e) = check_leaves(store, Frontier::new(), size) {
        return e;
    }
    AuditError::Corrupt {
        index: 0,
        reason: format!(
            "the stored entries and hashes agree with each other but not with {what} at size \
             {size}: entries before {size} were rewritten"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::audit::checkpoint::NoteSigner;
    use crate::audit::{AuditEntry, AuditLog, Checkpointer};

    fn keys() -> (NoteSigner, NoteVerifier) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("certs-dev");
        let pkcs8 = std::fs::read(dir.join("log-signing.pk8")).unwrap();
        let vkey = std::fs::read_to_string(dir.join("log.vkey")).unwrap();
        (
            NoteSigner::from_pkcs8(ORIGIN, &pkcs8).unwrap(),
            NoteVerifier::parse(&vkey).unwrap(),
        )
    }

    const ORIGIN: &str = "portcullis.dev/audit";

    /// A log of `n` entries, checkpointed at `signed`, in a fresh store.
    async fn log(n: u64, signed: u64) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (log, writer) = AuditLog::start(store.clone(), Duration::from_secs(5), 8).unwrap();
        let cp = Checkpointer::new(store.clone(), keys().0, ORIGIN.into(), log.durable(), None);
        for i in 0..n {
            if i == signed {
                cp.sign_now().await.unwrap();
            }
            log.record(AuditEntry {
                request_id: format!("r{i}"),
                ..Default::default()
            })
            .await
            .unwrap();
        }
        if n == signed {
            cp.sign_now().await.unwrap();
        }
        drop(log);
        writer.await.unwrap();
        (dir, store)
    }

    fn check(store: &Store) -> Result<Option<SignedCheckpoint>, AuditError> {
        check_at_startup(store, &keys().1, ORIGIN)
    }

    fn corrupt_index(r: Result<Option<SignedCheckpoint>, AuditError>) -> u64 {
        match r {
            Err(AuditError::Corrupt { index, .. }) => index,
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_sound_log_passes() {
        let (_dir, store) = log(13, 9).await;
        let latest = check(&store).unwrap().unwrap();
        assert_eq!(latest.checkpoint.size, 9);
        let (_dir, store) = log(0, 0).await;
        assert_eq!(check(&store).unwrap().unwrap().checkpoint.size, 0);
    }

    #[tokio::test]
    async fn a_changed_leaf_after_the_checkpoint_is_named() {
        let (_dir, store) = log(13, 9).await;
        let mut leaf = store.leaf(11).unwrap().unwrap();
        leaf[3] ^= 1;
        store.raw_set_leaf(11, Some(&leaf)).unwrap();
        assert_eq!(corrupt_index(check(&store)), 11);
    }

    #[tokio::test]
    async fn a_changed_node_is_named() {
        let (_dir, store) = log(13, 12).await;
        // Size 12 = 8 + 4: the root reads nodes (3, 0) and (2, 2).
        store.raw_set_node(2, 2, [0u8; 32]).unwrap();
        assert_eq!(corrupt_index(check(&store)), 8);
    }

    #[tokio::test]
    async fn missing_and_stray_leaves_are_named() {
        let (_dir, store) = log(13, 9).await;
        store.raw_set_leaf(10, None).unwrap();
        assert_eq!(corrupt_index(check(&store)), 10);

        let (_dir, store) = log(13, 9).await;
        let leaf = store.leaf(0).unwrap().unwrap();
        store.raw_set_leaf(13, Some(&leaf)).unwrap();
        assert_eq!(corrupt_index(check(&store)), 13);
        // Bumping the size too: there is no stored hash for it.
        store
            .raw_set(&Store::raw_log_size_key(), Some(&14u64.to_be_bytes()))
            .unwrap();
        assert_eq!(corrupt_index(check(&store)), 13);
    }

    #[tokio::test]
    async fn a_tampered_checkpoint_is_refused() {
        let (_dir, store) = log(5, 5).await;
        let note = store
            .checkpoint()
            .unwrap()
            .unwrap()
            .replacen("\n5\n", "\n4\n", 1);
        store.raw_set(b"Clatest", Some(note.as_bytes())).unwrap();
        assert!(matches!(check(&store), Err(AuditError::Checkpoint(_))));
    }

    #[tokio::test]
    async fn a_log_in_the_first_layout_is_refused() {
        let (_dir, store) = log(3, 3).await;
        store
            .raw_set(b"N\0\0\0\0\0\0\0\0\0", Some(&[0; 32]))
            .unwrap();
        let err = check(&store).unwrap_err();
        assert!(err.to_string().contains("first storage layout"), "{err}");
    }
}
