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
//! | `W` | key id, `0x00`, token kind (u8), digest (32), party, `0x00`, request id | [`WatchRecord`], written by the watch indexer (`watches.rs`) |
//! | `P` | party, `0x00`, cursor (u64 BE) | a notice for the party (encoded by the domain) |
//! | `U` | official unit, `0x00`, cursor (u64 BE) | a hit for the unit (encoded by the domain) |
//! | `E` | valid_until seconds (u64 BE), advisory id | version whose expiry is still to be announced |
//! | `B` | index of the block's first leaf (u64 BE) | where the block is in the log file: offset (u64 BE), length (u32 BE) |
//! | `M` | `log-size` | number of audit entries (u64 BE) |
//! | `M` | `log-bytes` | the log file's committed length (u64 BE) |
//! | `M` | `watch-indexed` | the audit index the `W` records are complete up to (u64 BE) |
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
//! batch; [`Store::flush`] makes every sled batch applied so far durable. The audit writer calls
//! both; the only other writer is the watch indexer ([`Store::index_watches`]), whose records
//! are derived from the log and the remembered answers and are rebuilt from its durable
//! position after a crash.

pub mod blocks;
mod log_file;
mod records;
#[cfg(any(test, feature = "test-hooks"))]
mod tamper;
mod token_filter;
mod watches;

use std::path::Path;
use std::sync::Arc;

use prost::Message;

pub use blocks::LeafRecord;
use log_file::{LogFile, Pointer};
pub use records::{
    AdvisoryVersion, IdempotencyRecord, IdempotencyStamp, VetWatch, WatchRecord, WatchedToken,
};
#[cfg(any(test, feature = "test-hooks"))]
pub use tamper::Faults;
use token_filter::TokenFilter;
use watches::token_prefix_raw;
pub use watches::{WatchBatch, Watcher};

const ADVISORY: u8 = b'A';
const HEAD: u8 = b'H';
const TOKEN: u8 = b'T';
const IDEMPOTENCY: u8 = b'I';
const BLOCK: u8 = b'B';
/// Prefixes of the first layout of the log, kept only to recognise it.
const LEGACY_LEAF: u8 = b'L';
const LEGACY_NODE: u8 = b'N';
const WATCH: u8 = b'W';
const PARTY_NOTICE: u8 = b'P';
const UNIT_HIT: u8 = b'U';
const EXPIRY: u8 = b'E';
const LOG_SIZE: &[u8] = b"Mlog-size";
const LOG_BYTES: &[u8] = b"Mlog-bytes";
const CHECKPOINT: &[u8] = b"Clatest";

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

/// A set of changes applied atomically together with audit entries.
#[derive(Debug, Default)]
pub struct Changes {
    puts: Vec<(Vec<u8>, Vec<u8>)>,
    removes: Vec<Vec<u8>>,
}

impl Changes {
    /// No changes.
    pub fn new() -> Self {
        Changes::default()
    }

    /// Stores a new advisory version and makes it the latest; on the first version, also indexes
    /// its tokens.
    pub fn advisory_version(&mut self, v: &AdvisoryVersion) -> &mut Self {
        self.puts
            .push((advisory_key(&v.advisory_id, v.version), v.encode_to_vec()));
        self.puts
            .push((head_key(&v.advisory_id), v.version.to_be_bytes().to_vec()));
        if v.version == 1 {
            for token in &v.tokens {
                let mut key = token_prefix_raw(&v.key_id, token);
                key.extend_from_slice(v.advisory_id.as_bytes());
                self.puts.push((key, Vec::new()));
            }
        }
        self
    }

    /// Remembers the answer to `request_id` within `scope` (a party or an official unit).
    pub fn idempotency(
        &mut self,
        scope: &str,
        request_id: &str,
        r: &IdempotencyRecord,
    ) -> &mut Self {
        self.puts
            .push((idempotency_key(scope, request_id), r.encode_to_vec()));
        self
    }

    /// Remembers the answer to `request_id` within `scope`, already encoded (an
    /// [`IdempotencyRecord`], possibly completed by an appended [`IdempotencyStamp`]).
    pub fn idempotency_encoded(
        &mut self,
        scope: &str,
        request_id: &str,
        record: Vec<u8>,
    ) -> &mut Self {
        self.puts.push((idempotency_key(scope, request_id), record));
        self
    }

    /// Stores an encoded notice for `party` under `cursor`.
    pub fn notice(&mut self, party: &str, cursor: u64, notice: Vec<u8>) -> &mut Self {
        self.puts
            .push((feed_key(PARTY_NOTICE, party, cursor), notice));
        self
    }

    /// Stores an encoded hit for the official `unit` under `cursor`.
    pub fn hit(&mut self, unit: &str, cursor: u64, hit: Vec<u8>) -> &mut Self {
        self.puts.push((feed_key(UNIT_HIT, unit, cursor), hit));
        self
    }

    /// Schedules the expiry announcement of `version` of `id` at `valid_until` seconds.
    pub fn schedule_expiry(&mut self, valid_until: i64, id: &str, version: u32) -> &mut Self {
        self.puts
            .push((expiry_key(valid_until, id), version.to_be_bytes().to_vec()));
        self
    }

    /// Removes a scheduled expiry (announced, or superseded by a new version).
    pub fn unschedule_expiry(&mut self, valid_until: i64, id: &str) -> &mut Self {
        self.removes.push(expiry_key(valid_until, id));
        self
    }

    /// Adds every change of `other`.
    pub fn extend(&mut self, other: Changes) {
        self.puts.extend(other.puts);
        self.removes.extend(other.removes);
    }
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

fn advisory_key(id: &str, version: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(id.len() + 6);
    k.push(ADVISORY);
    k.extend_from_slice(id.as_bytes());
    k.push(0);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

fn head_key(id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(id.len() + 1);
    k.push(HEAD);
    k.extend_from_slice(id.as_bytes());
    k
}

/// The token part (key id, `0x00`, kind byte, digest) of a `T` key, if it is one.
fn token_of_index_key(key: &[u8]) -> Option<&[u8]> {
    if key.first() != Some(&TOKEN) {
        return None;
    }
    let separator = key.iter().skip(1).position(|b| *b == 0)? + 1;
    key.get(1..separator + 34)
}

/// Tokens of the index scanned at open before the rest is left to a background thread: small
/// stores (tests, most deployments) open with a ready filter, large ones do not wait for it.
const FILTER_SCAN_AT_OPEN: usize = 50_000;

/// Adds every stored token of the advisory index to `filter`, then marks it ready: the first
/// [`FILTER_SCAN_AT_OPEN`] keys now, the rest on a thread of its own. If the scan fails the
/// filter stays unready and lookups keep going to sled.
fn fill_token_filter(db: &sled::Db, filter: &Arc<TokenFilter>) {
    let mut keys = db.scan_prefix([TOKEN]);
    let scan = |keys: &mut sled::Iter, limit: usize| -> Result<bool, sled::Error> {
        for _ in 0..limit {
            match keys.next() {
                Some(item) => {
                    let (key, _) = item?;
                    if let Some(token) = token_of_index_key(&key) {
                        filter.insert(token);
                    }
                }
                None => return Ok(true),
            }
        }
        Ok(false)
    };
    match scan(&mut keys, FILTER_SCAN_AT_OPEN) {
        Ok(true) => filter.set_ready(),
        Ok(false) => {
            let filter = filter.clone();
            let spawned = std::thread::Builder::new()
                .name("token-filter".into())
                .spawn(move || {
                    for item in keys {
                        match item {
                            Ok((key, _)) => {
                                if let Some(token) = token_of_index_key(&key) {
                                    filter.insert(token);
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "token filter scan failed; lookups use the index");
                                return;
                            }
                        }
                    }
                    filter.set_ready();
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "token filter thread not started; lookups use the index");
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "token filter scan failed; lookups use the index");
        }
    }
}

fn idempotency_key(scope: &str, request_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(scope.len() + request_id.len() + 2);
    k.push(IDEMPOTENCY);
    k.extend_from_slice(scope.as_bytes());
    k.push(0);
    k.extend_from_slice(request_id.as_bytes());
    k
}

fn feed_key(prefix: u8, owner: &str, cursor: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(owner.len() + 10);
    k.push(prefix);
    k.extend_from_slice(owner.as_bytes());
    k.push(0);
    k.extend_from_slice(&cursor.to_be_bytes());
    k
}

/// Seconds before the epoch sort first: the sign bit is flipped.
fn expiry_key(valid_until: i64, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(id.len() + 9);
    k.push(EXPIRY);
    k.extend_from_slice(&((valid_until as u64) ^ (1 << 63)).to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

fn block_key(first: u64) -> [u8; 9] {
    let mut k = [BLOCK; 9];
    k[1..].copy_from_slice(&first.to_be_bytes());
    k
}

/// The leaf that completes Merkle node `(level, index)`: the last of its subtree.
fn completing_leaf(level: u8, index: u64) -> Option<u64> {
    let span = 1u64.checked_shl(u32::from(level))?;
    index.checked_add(1)?.checked_mul(span)?.checked_sub(1)
}

fn corrupt_block(key: &[u8], reason: String) -> StoreError {
    StoreError::Corrupt {
        key: hex::encode(key),
        reason,
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

    /// The latest version of an advisory.
    pub fn latest_advisory(&self, id: &str) -> Result<Option<AdvisoryVersion>, StoreError> {
        let hk = head_key(id);
        let Some(head) = self.db.get(&hk)? else {
            return Ok(None);
        };
        let version = be_u32(&hk, &head)?;
        self.advisory_version(id, version)
    }

    /// One version of an advisory.
    pub fn advisory_version(
        &self,
        id: &str,
        version: u32,
    ) -> Result<Option<AdvisoryVersion>, StoreError> {
        let key = advisory_key(id, version);
        match self.db.get(&key)? {
            Some(bytes) => decode(&key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Up to `limit` advisories (latest versions) with ids greater than `after`, in id order;
    /// the flag says whether more follow.
    pub fn advisories_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<AdvisoryVersion>, bool), StoreError> {
        let start = match after {
            // The smallest key greater than every key of `after`: append a zero byte.
            Some(id) => {
                let mut k = head_key(id);
                k.push(0);
                k
            }
            None => vec![HEAD],
        };
        let mut out = Vec::new();
        for item in self.db.range(start..vec![HEAD + 1]) {
            let (key, value) = item?;
            if out.len() == limit {
                return Ok((out, true));
            }
            let id = String::from_utf8_lossy(&key[1..]).into_owned();
            let version = be_u32(&key, &value)?;
            if let Some(v) = self.advisory_version(&id, version)? {
                out.push(v);
            }
        }
        Ok((out, false))
    }

    /// Ids of the advisories published under `key_id` with this token (`kind` byte + digest).
    pub fn advisory_ids_for_token(
        &self,
        key_id: &str,
        kind: u8,
        digest: &[u8; 32],
    ) -> Result<Vec<String>, StoreError> {
        let mut token = [0u8; 33];
        token[0] = kind;
        token[1..].copy_from_slice(digest);
        let prefix = token_prefix_raw(key_id, &token);
        if !self.tokens.may_contain(&prefix[1..]) {
            return Ok(Vec::new());
        }
        let mut ids = Vec::new();
        for item in self.db.scan_prefix(&prefix) {
            let (key, _) = item?;
            ids.push(String::from_utf8_lossy(&key[prefix.len()..]).into_owned());
        }
        Ok(ids)
    }

    fn feed(
        &self,
        prefix: u8,
        owner: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        // A client-chosen cursor: nothing can follow the largest one (and a range whose start
        // passes its end must not reach the engine).
        let Some(first) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let start = feed_key(prefix, owner, first);
        let end = feed_key(prefix, owner, u64::MAX);
        let mut out = Vec::new();
        for item in self.db.range(start..=end).take(limit) {
            let (key, value) = item?;
            let cursor = be_u64(&key, &key[key.len() - 8..])?;
            out.push((cursor, value.to_vec()));
        }
        Ok(out)
    }

    /// Up to `limit` encoded notices of `party` with cursors above `after`, in cursor order.
    pub fn notices(
        &self,
        party: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.feed(PARTY_NOTICE, party, after, limit)
    }

    /// The largest notice cursor stored for `party` (0 if none).
    pub fn last_notice_cursor(&self, party: &str) -> Result<u64, StoreError> {
        let start = feed_key(PARTY_NOTICE, party, 0);
        let end = feed_key(PARTY_NOTICE, party, u64::MAX);
        match self.db.range(start..=end).next_back() {
            Some(item) => {
                let (key, _) = item?;
                be_u64(&key, &key[key.len() - 8..])
            }
            None => Ok(0),
        }
    }

    /// Up to `limit` encoded hits of official `unit` with cursors above `after`, in order.
    pub fn hits(
        &self,
        unit: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.feed(UNIT_HIT, unit, after, limit)
    }

    /// Scheduled expiries due at or before `now` seconds: (valid_until, advisory id, version).
    pub fn due_expiries(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String, u32)>, StoreError> {
        let end = expiry_key(now, "\u{10FFFF}");
        let mut out = Vec::new();
        for item in self.db.range(vec![EXPIRY]..end).take(limit) {
            let (key, value) = item?;
            let secs = be_u64(&key, &key[1..9])? ^ (1 << 63);
            let id = String::from_utf8_lossy(&key[9..]).into_owned();
            out.push((secs as i64, id, be_u32(&key, &value)?));
        }
        Ok(out)
    }

    /// The remembered answer to `request_id` within `scope`.
    pub fn idempotency(
        &self,
        scope: &str,
        request_id: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let key = idempotency_key(scope, request_id);
        match self.db.get(&key)? {
            Some(bytes) => decode(&key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The number of audit entries.
    pub fn log_size(&self) -> Result<u64, StoreError> {
        match self.db.get(LOG_SIZE)? {
            Some(bytes) => be_u64(LOG_SIZE, &bytes),
            None => Ok(0),
        }
    }

    /// The block holding leaf `index` if there is one: the stored block with the greatest
    /// first index not above `index` (it may end before `index`).
    fn block_at(&self, index: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        match self.db.range(block_key(0)..=block_key(index)).next_back() {
            Some(item) => self.read_block(item?).map(Some),
            None => Ok(None),
        }
    }

    /// The first index and the bytes of the block a `B` key and its pointer describe.
    fn read_block(
        &self,
        (key, value): (sled::IVec, sled::IVec),
    ) -> Result<(u64, Vec<u8>), StoreError> {
        let first = be_u64(&key, &key[1..])?;
        let pointer = Pointer::decode(&value).map_err(|reason| corrupt_block(&key, reason))?;
        Ok((first, self.log.read(pointer)?))
    }

    /// Calls `f` with the record of leaf `index`, if it is stored.
    fn with_record<T>(
        &self,
        index: u64,
        f: impl FnOnce(blocks::RecordRef<'_>) -> T,
    ) -> Result<Option<T>, StoreError> {
        let Some((first, block)) = self.block_at(index)? else {
            return Ok(None);
        };
        let record = blocks::record_at(&block, index - first)
            .map_err(|reason| corrupt_block(&block_key(first), reason))?;
        Ok(record.map(f))
    }

    /// The audit leaf at `index`.
    pub fn leaf(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_record(index, |r| r.leaf.to_vec())
    }

    /// The audit leaves with indexes in `[start, end)`, in order, as stored (gaps and strays
    /// included: a verifier must see exactly what is there).
    pub fn leaves(
        &self,
        start: u64,
        end: u64,
    ) -> impl Iterator<Item = Result<(u64, Vec<u8>), StoreError>> + '_ {
        self.leaf_records(start, end)
            .map(|item| item.map(|(index, record)| (index, record.leaf)))
    }

    /// The audit leaves with indexes in `[start, end)` as [`Store::leaves`] gives them, each
    /// with the Merkle node hashes stored with it: exactly the nodes that leaf completes, so a
    /// verifier pushing the leaves in order compares each completed node without a lookup.
    pub fn leaf_records(
        &self,
        start: u64,
        end: u64,
    ) -> impl Iterator<Item = Result<(u64, LeafRecord), StoreError>> + '_ {
        // The block holding `start` may begin before it; every other block begins in range.
        let before = match self.block_at(start) {
            Ok(Some((first, block))) if first < start => Some(Ok((first, block))),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        };
        let within = self
            .db
            .range(block_key(start)..block_key(end))
            .map(|item| self.read_block(item?));
        before.into_iter().chain(within).flat_map(
            move |block: Result<(u64, Vec<u8>), StoreError>| {
                let (first, bytes) = match block {
                    Ok(b) => b,
                    Err(e) => return vec![Err(e)],
                };
                match blocks::decode(&bytes) {
                    Ok(records) => records
                        .into_iter()
                        .zip(first..)
                        .filter(|(_, index)| (start..end).contains(index))
                        .map(|(r, index)| Ok((index, r)))
                        .collect(),
                    Err(reason) => vec![Err(corrupt_block(&block_key(first), reason))],
                }
            },
        )
    }

    /// The stored hash of the complete Merkle subtree `(level, index)`.
    pub fn tree_node(&self, level: u8, index: u64) -> Result<Option<[u8; 32]>, StoreError> {
        let Some(leaf) = completing_leaf(level, index) else {
            return Ok(None);
        };
        Ok(self.with_record(leaf, |r| r.node(level))?.flatten())
    }

    /// Whether the directory holds a log in an earlier layout, which this version does not
    /// read: a key per leaf and per node, or blocks inside sled (entries but no log file
    /// length).
    pub fn has_legacy_log(&self) -> Result<bool, StoreError> {
        for prefix in [LEGACY_LEAF, LEGACY_NODE] {
            if self.db.scan_prefix([prefix]).next().transpose()?.is_some() {
                return Ok(true);
            }
        }
        Ok(self.log_size()? > 0 && self.db.get(LOG_BYTES)?.is_none())
    }

    /// The latest signed checkpoint (signed-note text), if one was ever stored.
    pub fn checkpoint(&self) -> Result<Option<String>, StoreError> {
        match self.db.get(CHECKPOINT)? {
            Some(bytes) => {
                String::from_utf8(bytes.to_vec())
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt {
                        key: hex::encode(CHECKPOINT),
                        reason: e.to_string(),
                    })
            }
            None => Ok(None),
        }
    }

    /// Stores `note` as the latest signed checkpoint and makes it durable. Only the audit
    /// log's checkpointer calls this.
    pub async fn put_checkpoint(&self, note: &str) -> Result<(), StoreError> {
        self.injected_failure()?;
        self.db.insert(CHECKPOINT, note.as_bytes())?;
        self.flush().await
    }

    /// Appends `blocks` (block `i` holding the leaves from index `firsts[i]`) to the log file,
    /// then applies `batch` together with the pointers to them and the file's new length.
    fn write_blocks(
        &self,
        firsts: &[u64],
        blocks: &[Vec<u8>],
        mut batch: sled::Batch,
    ) -> Result<(), StoreError> {
        self.log.append(blocks, |pointers, end| {
            for (first, pointer) in firsts.iter().zip(pointers) {
                batch.insert(&block_key(*first), &pointer.encode()[..]);
            }
            batch.insert(LOG_BYTES, &end.to_be_bytes()[..]);
            self.db.apply_batch(batch)?;
            Ok(())
        })
    }

    /// A test's injected write failure, if any (see [`Faults`]); always `Ok` in a build
    /// without the `test-hooks` feature.
    fn injected_failure(&self) -> Result<(), StoreError> {
        #[cfg(any(test, feature = "test-hooks"))]
        if self.faults.fails_appends() {
            return Err(StoreError::Injected);
        }
        Ok(())
    }

    fn encode_block(&self, records: &[LeafRecord]) -> Result<Vec<u8>, StoreError> {
        blocks::encode(records).map_err(StoreError::Encoding)
    }

    /// Applies, atomically, audit leaves (with their Merkle node hashes) starting at
    /// `first_index`, and `changes`: writes and syncs the leaves' blocks to the log file, then
    /// applies one sled batch that refers to them. Blocks on the file sync; the sled batch is
    /// not durable until [`Store::flush`].
    pub fn append(
        &self,
        first_index: u64,
        leaves: &[LeafRecord],
        changes: Changes,
    ) -> Result<(), StoreError> {
        self.injected_failure()?;
        let mut firsts = Vec::new();
        let mut encoded = Vec::new();
        let mut first = first_index;
        for run in blocks::split(leaves) {
            firsts.push(first);
            encoded.push(self.encode_block(run)?);
            first += run.len() as u64;
        }
        let mut batch = sled::Batch::default();
        batch.insert(LOG_SIZE, &first.to_be_bytes()[..]);
        for (k, v) in changes.puts {
            // Before the batch is applied: the filter never lags the index.
            if let Some(token) = token_of_index_key(&k) {
                self.tokens.insert(token);
            }
            batch.insert(k, v);
        }
        for k in changes.removes {
            batch.remove(k);
        }
        self.write_blocks(&firsts, &encoded, batch)
    }

    /// Makes everything applied so far durable.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
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
