//! The checkpointer: signs the durable tree as a C2SP checkpoint, periodically while entries
//! arrive and on demand, and persists the latest.
//!
//! Only durable sizes are signed (the writer publishes them after each flush), and a root is only
//! ever computed from the store's nodes ([`merkle::root_at`], O(log n) reads), which are written
//! once and never change. Signing is serialised and never goes back to a size already signed, so
//! the gateway never signs two different roots for one size.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

use super::checkpoint::{Checkpoint, NoteSigner};
use super::merkle;
use super::AuditError;
use crate::store::Store;

/// A checkpoint and its signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The checkpoint body.
    pub checkpoint: Checkpoint,
    /// The signed note text (C2SP signed-note).
    pub note: String,
}

/// Signs and persists checkpoints of the durable log; see the module docs.
pub struct Checkpointer {
    store: Store,
    signer: NoteSigner,
    origin: String,
    durable: watch::Receiver<u64>,
    latest: Mutex<Option<SignedCheckpoint>>,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer")
            .field("origin", &self.origin)
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl Checkpointer {
    /// A checkpointer for the log whose durable size `durable` follows (from
    /// [`super::AuditLog::durable`]), starting from the latest verified checkpoint `latest` (from
    /// [`super::integrity::check_at_startup`]).
    pub fn new(
        store: Store,
        signer: NoteSigner,
        origin: String,
        durable: watch::Receiver<u64>,
        latest: Option<SignedCheckpoint>,
    ) -> Arc<Checkpointer> {
        Arc::new(Checkpointer {
            store,
            signer,
            origin,
            durable,
            latest: Mutex::new(latest),
        })
    }

    /// The latest signed (and persisted) checkpoint, if any.
    pub async fn latest(&self) -> Option<SignedCheckpoint> {
        self.latest.lock().await.clone()
    }

    /// The number of entries currently durable.
    pub fn durable_size(&self) -> u64 {
        *self.durable.borrow()
    }

    /// Signs the current durable size if it is newer than the latest checkpoint, persists it,
    /// and returns the latest checkpoint (on an empty log, the checkpoint of the empty tree).
    pub async fn sign_now(&self) -> Result<SignedCheckpoint, AuditError> {
        let mut latest = self.latest.lock().await;
        let size = self.durable_size();
        if let Some(current) = latest.as_ref() {
            if current.checkpoint.size >= size {
                return Ok(current.clone());
            }
        }
        let root = merkle::root_at(&self.store, size).map_err(|e| AuditError::Corrupt {
            index: size,
            reason: format!("cannot compute the root to sign: {e}"),
        })?;
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        };
        let note = self.signer.sign(&checkpoint);
        self.store.put_checkpoint(&note).await?;
        tracing::debug!(size, "checkpoint signed");
        let signed = SignedCheckpoint { checkpoint, note };
        *latest = Some(signed.clone());
        Ok(signed)
    }

    /// A signed checkpoint that covers entry `index`: waits up to `wait` for the entry to be
    /// durable, then returns the latest checkpoint if it covers it, or signs the durable size
    /// now. `None` if the entry is not durable in time.
    pub async fn covering(
        &self,
        index: u64,
        wait: Duration,
    ) -> Result<Option<SignedCheckpoint>, AuditError> {
        let mut durable = self.durable.clone();
        let reached = tokio::time::timeout(wait, async {
            durable.wait_for(|&size| size > index).await.is_ok()
        })
        .await;
        if reached != Ok(true) {
            return Ok(None);
        }
        if let Some(latest) = self.latest().await {
            if latest.checkpoint.size > index {
                return Ok(Some(latest));
            }
        }
        self.sign_now().await.map(Some)
    }

    /// Starts the periodic signer: whenever the durable size changes it signs, then waits at
    /// least `interval` before signing again. When the writer stops, it signs the final size
    /// and ends.
    pub fn spawn(self: &Arc<Self>, interval: Duration) -> JoinHandle<()> {
        let this = self.clone();
        let mut durable = self.durable.clone();
        tokio::spawn(async move {
            loop {
                let _ = durable.borrow_and_update();
                if let Err(e) = this.sign_now().await {
                    tracing::error!(error = %e, "signing a checkpoint failed");
                }
                tokio::time::sleep(interval).await;
                if durable.changed().await.is_err() {
                    break;
                }
            }
            if let Err(e) = this.sign_now().await {
                tracing::error!(error = %e, "signing the final checkpoint failed");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::checkpoint::NoteVerifier;
    use crate::audit::{AuditEntry, AuditLog};

    fn signer() -> NoteSigner {
        let pkcs8 = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("certs-dev/log-signing.pk8"),
        )
        .unwrap();
        NoteSigner::from_pkcs8("portcullis.dev/audit", &pkcs8).unwrap()
    }

    #[tokio::test]
    async fn signs_durable_sizes_periodically_and_on_demand() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (log, writer) = AuditLog::start(store.clone(), Duration::from_secs(5), 64).unwrap();
        let cp = Checkpointer::new(
            store.clone(),
            signer(),
            "portcullis.dev/audit".into(),
            log.durable(),
            None,
        );
        let vkey = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("certs-dev/log.vkey"),
        )
        .unwrap();
        let verifier = NoteVerifier::parse(&vkey).unwrap();

        let empty = cp.sign_now().await.unwrap();
        assert_eq!(empty.checkpoint.size, 0);
        assert_eq!(empty.checkpoint.root, merkle::empty_root());
        let task = cp.spawn(Duration::from_millis(20));
        for _ in 0..5 {
            log.record(AuditEntry::default()).await.unwrap();
        }
        // On demand: the durable size, verifiable with the committed verifier key.
        let now = cp.sign_now().await.unwrap();
        assert_eq!(now.checkpoint.size, 5);
        let parsed = verifier
            .verify(&now.note, Some("portcullis.dev/audit"))
            .unwrap();
        assert_eq!(parsed, now.checkpoint);
        assert_eq!(
            store.checkpoint().unwrap().as_deref(),
            Some(now.note.as_str())
        );
        // Asking again for the same size gives the same note.
        assert_eq!(cp.sign_now().await.unwrap(), now);

        // Periodic: a new entry is signed without anyone asking.
        log.record(AuditEntry::default()).await.unwrap();
        let mut signed = false;
        for _ in 0..100 {
            if cp.latest().await.map(|s| s.checkpoint.size) == Some(6) {
                signed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(signed, "the periodic signer did not sign size 6");
        drop(log);
        writer.await.unwrap();
        task.await.unwrap();
        let last = verifier
            .verify(&store.checkpoint().unwrap().unwrap(), None)
            .unwrap();
        assert_eq!(last.size, 6);
    }
}
