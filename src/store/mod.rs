//! Storage on sled, behind a small typed boundary: services never touch sled, and this module
//! knows nothing of gRPC. Replacing the engine means replacing this module only.
//!
//! Everything lives in one sled tree under one-byte key prefixes, so that any set of changes
//! (an audit entry and the state change it records) is applied atomically by one
//! [`sled::Batch`]:
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `A` | advisory id, `0x00`, version (u32 BE) | [`AdvisoryVersion`] |
//! | `H` | advisory id | latest version (u32 BE) |
//! | `T` | key id, `0x00`, token kind (u8), digest (32), advisory id | empty |
//! | `I` | scope, `0x00`, request id | [`IdempotencyRecord`] (a party's Vet: with its tokens, [`VetWatch`]) |
//! | `W` | key id, `0x00`, token kind (u8), digest (32), party, `0x00`, request id | [`WatchRecord`]: a Vet of an earlier layout, per token (read, no longer written; `watches.rs`) |
//! | `Q` | audit index of an advisory change (u64 BE) | [`NoticeJob`]: its notices, still to be sent (`notice_queue.rs`) |
//! | `P` | party, `0x00`, cursor (u64 BE) | a notice for the party (encoded by the domain) |
//! | `U` | official unit, `0x00`, cursor (u64 BE) | a hit for the unit (encoded by the domain) |
//! | `E` | valid_until seconds (u64 BE), advisory id | version whose expiry is still to be announced |
//! | `B` | index of the block's first leaf (u64 BE) | where the block is in the log file: offset (u64 BE), length (u32 BE) |
//! | `M` | `log-size` | number of audit entries (u64 BE) |
//! | `M` | `log-bytes` | the log file's committed length (u64 BE) |
//! | `C` | `latest` | the latest signed checkpoint (signed-note text, UTF-8) |
//!
//! Merkle node `(level, index)` is the root of the perfect subtree over audit leaves
//! `[index << level, (index + 1) << level)`. The writer stores each one with the leaf that
//! completes it (leaf `((index + 1) << level) - 1`), in that leaf's block, so any node is one
//! block read and the tree's root and proofs need O(log n) reads. A block holds the leaves of
//! one group commit (up to `blocks::MAX_LEAVES`), so the log costs sled one small insert per
//! block rather than one per leaf and per node.
//!
//! The blocks themselves are not in sled but in an append-only file beside it (`log_file.rs`):
//! sled keeps whatever a scan reads in memory and opens more slowly the more it holds, and the
//! log is by far the largest and longest-lived thing stored. The file is written and synced
//! before the sled batch that refers to it is applied, so an entry exists exactly when its sled
//! batch does, together with the state change it records.
//!
//! Data directories of earlier layouts (a key per leaf and per node, or blocks inside sled) are
//! recognised and refused at start-up (see [`Store::has_legacy_log`]).
//!
//! Durability is explicit: [`Store::append`] writes and syncs the log file and applies a sled
//! batch; [`Store::flush`] makes every sled batch applied so far durable. The audit writer is
//! the only writer of state: every change, including the notices the sweep sends, is applied
//! with the audit entry that records it. The one write outside it removes queued notice jobs
//! that gave no notice ([`Store::drop_notice_jobs`]), which a crash merely repeats.
//!
//! Files, by job: `keys.rs` (the prefixes above and the key of each kind of record),
//! `changes.rs` (the [`Changes`] a writer applies), `advisories.rs` (advisory reads and the token
//! filter), `answers.rs` (remembered answers), `feeds.rs` (notices, hits, due expiries),
//! `notice_queue.rs` (advisory changes whose notices are to be sent, and the remembered answers
//! they are matched against), `watches.rs` (the per-token watch records of earlier layouts),
//! `log.rs` (appending and reading the audit log's blocks, checkpoints, flush) over
//! `log_file.rs` and `blocks.rs`; `records.rs` holds the stored message types and `tamper.rs`
//! the test-only hooks.

mod advisories;
mod answers;
pub mod blocks;
mod changes;
mod feeds;
mod keys;
mod log;
mod log_file;
mod notice_queue;
mod records;
#[cfg(any(test, feature = "test-hooks"))]
mod tamper;
mod token_filter;
mod watches;

use std::path::Path;
use std::sync::Arc;

use prost::Message;

use advisories::fill_token_filter;
pub use blocks::LeafRecord;
pub use changes::Changes;
use keys::*;
use log_file::{LogFile, Pointer};
pub use notice_queue::WatchedRequest;
pub use records::{
    AdvisoryVersion, IdempotencyRecord, IdempotencyStamp, NoticeJob, VetWatch, WatchRecord,
    WatchedAnswer, WatchedToken,
};
#[cfg(any(test, feature = "test-hooks"))]
pub use tamper::Faults;
use token_filter::TokenFilter;
use watches::token_prefix_raw;
pub use watches::{WatchBatch, Watcher};

/// The page cache when none is configured. sled's own default (1 GiB) is what made a
/// 1,000,000-entry store reach 1.7 GiB RSS in the benchmark.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Errors of the storage layer.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The engine failed (I/O, corruption, lock held by another process).
    #[error("storage engine: {0}")]
    Engine(#[from] sled::Error),
    /// A stored value does not decode: the data directory is damaged.
    #[error("corrupt record under {key}: {reason}")]
    Corrupt {
        /// The key, hex-encoded.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A write failed because a test injected a fault (see [`Faults`]).
    #[cfg(any(test, feature = "test-hooks"))]
    #[error("injected write failure")]
    Injected,
    /// A record cannot be encoded for storage (a leaf over 4 GiB).
    #[error("cannot encode a record: {0}")]
    Encoding(String),
    /// A write ended without reporting its outcome (its blocking task panicked or was
    /// cancelled): whether it was applied is to be read back from the store.
    #[error("a store write was interrupted: {0}")]
    Interrupted(String),
    /// Reading or writing the audit log file failed.
    #[error("audit log file {path}: {source}")]
    LogFile {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The gateway's storage.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    log: Arc<LogFile>,
    /// Which tokens the advisory index (`T`) may hold.
    tokens: Arc<TokenFilter>,
    #[cfg(any(test, feature = "test-hooks"))]
    faults: Arc<Faults>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

fn decode<M: Message + Default>(key: &[u8], bytes: &[u8]) -> Result<M, StoreError> {
    M::decode(bytes).map_err(|e| StoreError::Corrupt {
        key: hex::encode(key),
        reason: e.to_string(),
    })
}

fn be_u64(key: &[u8], bytes: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        key: hex::encode(key),
        reason: format!("expected 8 bytes, got {}", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(arr))
}

fn be_u32(key: &[u8], bytes: &[u8]) -> Result<u32, StoreError> {
    let arr: [u8; 4] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        key: hex::encode(key),
        reason: format!("expected 4 bytes, got {}", bytes.len()),
    })?;
    Ok(u32::from_be_bytes(arr))
}

impl Store {
    /// Opens (or creates) the store in `dir` with sled's default page cache (64 MiB here).
    /// Fails if another process holds it.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Self::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// Opens (or creates) the store in `dir` with a page cache of `cache_bytes`.
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .cache_capacity(cache_bytes)
            .open()?;
        let committed = match db.get(LOG_BYTES)? {
            Some(bytes) => be_u64(LOG_BYTES, &bytes)?,
            None => 0,
        };
        let tokens = Arc::new(TokenFilter::new());
        fill_token_filter(&db, &tokens);
        Ok(Store {
            log: Arc::new(LogFile::open(dir, committed)?),
            tokens,
            db,
            #[cfg(any(test, feature = "test-hooks"))]
            faults: Arc::new(Faults::default()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advisory(id: &str, version: u32) -> AdvisoryVersion {
        let mut token = vec![1u8];
        token.extend_from_slice(&[7u8; 32]);
        AdvisoryVersion {
            advisory_id: id.into(),
            version,
            key_id: "k".into(),
            tokens: vec![token],
            ..Default::default()
        }
    }

    fn records(leaves: &[&[u8]]) -> Vec<LeafRecord> {
        leaves
            .iter()
            .map(|l| LeafRecord {
                leaf: l.to_vec(),
                nodes: vec![[l.len() as u8; 32]],
            })
            .collect()
    }

    #[tokio::test]
    async fn advisories_tokens_and_log_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut changes = Changes::new();
        changes.advisory_version(&advisory("adv-b", 1));
        changes.advisory_version(&advisory("adv-a", 1));
        store
            .append(0, &records(&[b"one", b"two"]), changes)
            .unwrap();
        let mut changes = Changes::new();
        changes.advisory_version(&advisory("adv-a", 2));
        store.append(2, &records(&[b"three"]), changes).unwrap();
        store.flush().await.unwrap();

        assert_eq!(store.log_size().unwrap(), 3);
        assert_eq!(store.latest_advisory("adv-a").unwrap().unwrap().version, 2);
        assert_eq!(
            store.advisory_version("adv-a", 1).unwrap().unwrap().version,
            1
        );
        assert!(store.latest_advisory("adv-c").unwrap().is_none());
        let mut ids = store.advisory_ids_for_token("k", 1, &[7; 32]).unwrap();
        ids.sort();
        assert_eq!(ids, ["adv-a", "adv-b"]);
        assert!(store
            .advisory_ids_for_token("other", 1, &[7; 32])
            .unwrap()
            .is_empty());
        let (page, more) = store.advisories_page(None, 1).unwrap();
        assert_eq!((page[0].advisory_id.as_str(), more), ("adv-a", true));
        let (page, more) = store.advisories_page(Some("adv-a"), 1).unwrap();
        assert_eq!((page[0].advisory_id.as_str(), more), ("adv-b", false));
        let leaves: Vec<_> = store.leaves(1, 3).map(Result::unwrap).collect();
        assert_eq!(leaves, [(1, b"two".to_vec()), (2, b"three".to_vec())]);
    }

    #[tokio::test]
    async fn tree_nodes_and_checkpoints_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.checkpoint().unwrap(), None);
        // Leaf 7 completes nodes (0, 7), (1, 3), (2, 1) and (3, 0).
        let mut leaves: Vec<_> = (0..7u8)
            .map(|i| LeafRecord {
                leaf: vec![i],
                nodes: vec![[i; 32]],
            })
            .collect();
        leaves.push(LeafRecord {
            leaf: vec![7],
            nodes: vec![[7; 32], [71; 32], [72; 32], [73; 32]],
        });
        store.append(0, &leaves[..3], Changes::new()).unwrap();
        store.append(3, &leaves[3..], Changes::new()).unwrap();
        store.put_checkpoint("note\n").await.unwrap();
        assert_eq!(store.tree_node(0, 0).unwrap(), Some([0; 32]));
        assert_eq!(store.tree_node(0, 4).unwrap(), Some([4; 32]));
        assert_eq!(store.tree_node(3, 0).unwrap(), Some([73; 32]));
        assert_eq!(store.tree_node(2, 1).unwrap(), Some([72; 32]));
        assert_eq!(store.tree_node(1, 0).unwrap(), None);
        assert_eq!(store.tree_node(3, 1).unwrap(), None);
        assert_eq!(store.tree_node(63, u64::MAX).unwrap(), None);
        assert_eq!(store.checkpoint().unwrap().as_deref(), Some("note\n"));
        assert_eq!(store.leaf(5).unwrap(), Some(vec![5]));
        assert_eq!(store.leaf(8).unwrap(), None);
        let all: Vec<_> = store.leaves(0, u64::MAX).map(Result::unwrap).collect();
        assert_eq!(all.len(), 8);
        let some: Vec<_> = store.leaves(2, 5).map(|r| r.unwrap().0).collect();
        assert_eq!(some, [2, 3, 4]);

        // Tamper helpers: a removed leaf leaves a gap, a stray one shows up where it was put.
        store.raw_set_leaf(4, None).unwrap();
        let indexes: Vec<_> = store.leaves(0, u64::MAX).map(|r| r.unwrap().0).collect();
        assert_eq!(indexes, [0, 1, 2, 3, 5, 6, 7]);
        assert_eq!(store.tree_node(0, 5).unwrap(), Some([5; 32]));
        store.raw_set_leaf(4, Some(b"x")).unwrap();
        assert_eq!(store.leaf(4).unwrap(), Some(b"x".to_vec()));
        assert_eq!(store.tree_node(0, 4).unwrap(), None);
        store.raw_set_leaf(9, Some(b"stray")).unwrap();
        let indexes: Vec<_> = store.leaves(8, u64::MAX).map(|r| r.unwrap().0).collect();
        assert_eq!(indexes, [9]);
        store.raw_set_node(2, 1, [0; 32]).unwrap();
        assert_eq!(store.tree_node(2, 1).unwrap(), Some([0; 32]));
        assert!(store.raw_set_node(0, 8, [0; 32]).is_err());

        // A damaged block is a precise error.
        store
            .raw_set(&block_key(0), Some(&[1, 0, 0, 0, 9]))
            .unwrap();
        assert!(matches!(store.leaf(0), Err(StoreError::Corrupt { .. })));
        assert!(store.leaves(0, 3).any(|r| r.is_err()));
        assert!(!store.has_legacy_log().unwrap());
        store.raw_set(b"L\0\0\0\0\0\0\0\0", Some(b"old")).unwrap();
        assert!(store.has_legacy_log().unwrap());
    }

    #[tokio::test]
    async fn the_log_is_in_its_file_and_blocks_inside_sled_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .append(
                0,
                &records(&[b"first-leaf", b"second-leaf"]),
                Changes::new(),
            )
            .unwrap();
        store.flush().await.unwrap();
        let file = std::fs::read(dir.path().join(log_file::FILE_NAME)).unwrap();
        assert!(file.windows(11).any(|w| w == b"second-leaf"));
        let pointer = store.raw_get(&block_key(0)).unwrap().unwrap();
        assert_eq!(pointer.len(), 12, "sled holds a pointer, not the block");
        assert!(!store.has_legacy_log().unwrap());
        // A store with entries but no log file length is of the layout with blocks in sled.
        store.raw_set(LOG_BYTES, None).unwrap();
        assert!(store.has_legacy_log().unwrap());
    }

    #[test]
    fn injected_faults_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.faults().fail_appends(true);
        let mut changes = Changes::new();
        changes.advisory_version(&advisory("adv-a", 1));
        assert!(matches!(
            store.append(0, &records(&[b"x"]), changes),
            Err(StoreError::Injected)
        ));
        assert_eq!(store.log_size().unwrap(), 0);
        assert!(store.latest_advisory("adv-a").unwrap().is_none());
    }
}
