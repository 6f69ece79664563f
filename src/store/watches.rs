//! The watch index: which party requests vetted which token (`W` records), so that a later
//! change to an advisory sharing a token can notify them.
//!
//! A Vet does not write these records: its remembered answer (`I`) holds the request's tokens,
//! written with its audit entry in one key. The watch indexer (`domain::watch_index`) follows
//! the audit log and writes the `W` records of many requests at once, in key order, together
//! with the log index it has indexed up to (`M watch-indexed`), in one atomic batch: after a
//! crash it resumes from there, and writing a record twice changes nothing.

use super::{be_u64, decode, Changes, Store, StoreError, WatchRecord, TOKEN, WATCH};
use prost::Message;

/// The next audit index the watch indexer has to look at.
pub(super) const WATCH_INDEXED: &[u8] = b"Mwatch-indexed";

/// `token` is the kind byte followed by the digest.
pub(super) fn token_prefix_raw(key_id: &str, token: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key_id.len() + 2 + token.len() + 24);
    k.push(TOKEN);
    k.extend_from_slice(key_id.as_bytes());
    k.push(0);
    k.extend_from_slice(token);
    k
}

fn watch_prefix(key_id: &str, token: &[u8]) -> Vec<u8> {
    let mut k = token_prefix_raw(key_id, token);
    k[0] = WATCH;
    k
}

fn watch_key(key_id: &str, token: &[u8], party: &str, request_id: &str) -> Vec<u8> {
    let mut k = watch_prefix(key_id, token);
    k.extend_from_slice(party.as_bytes());
    k.push(0);
    k.extend_from_slice(request_id.as_bytes());
    k
}

/// One party request watching a token.
#[derive(Debug, Clone, PartialEq)]
pub struct Watcher {
    /// The party.
    pub party: String,
    /// The party's request id.
    pub request_id: String,
    /// What was remembered.
    pub record: WatchRecord,
}

/// `W` records to write together, in key order whatever order they were added in.
#[derive(Debug, Default)]
pub struct WatchBatch {
    records: Vec<(Vec<u8>, Vec<u8>)>,
}

impl WatchBatch {
    /// Nothing to write yet.
    pub fn new() -> Self {
        WatchBatch::default()
    }

    /// Remembers that `party` vetted a subject with this token (`kind` byte + digest) under
    /// `key_id` in request `request_id`.
    pub fn watch(
        &mut self,
        key_id: &str,
        token: &[u8],
        party: &str,
        request_id: &str,
        w: &WatchRecord,
    ) {
        self.records.push((
            watch_key(key_id, token, party, request_id),
            w.encode_to_vec(),
        ));
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl Changes {
    /// Adds the records of `batch` to these changes: written with an audit entry, as Vets did
    /// before the watch indexer (kept to measure that cost, see `benches/store_writes.rs`).
    pub fn watches(&mut self, batch: WatchBatch) -> &mut Self {
        self.puts.extend(batch.records);
        self
    }
}

impl Store {
    /// Every party request that vetted this token (`kind` byte + digest) under `key_id`, as
    /// far as the watch index goes (see [`Store::watches_indexed`]).
    pub fn watchers(&self, key_id: &str, token: &[u8]) -> Result<Vec<Watcher>, StoreError> {
        let prefix = watch_prefix(key_id, token);
        let mut out = Vec::new();
        for item in self.db.scan_prefix(&prefix) {
            let (key, value) = item?;
            let rest = &key[prefix.len()..];
            let Some(split) = rest.iter().position(|b| *b == 0) else {
                return Err(StoreError::Corrupt {
                    key: hex::encode(&key),
                    reason: "watch key without a separator".into(),
                });
            };
            out.push(Watcher {
                party: String::from_utf8_lossy(&rest[..split]).into_owned(),
                request_id: String::from_utf8_lossy(&rest[split + 1..]).into_owned(),
                record: decode(&key, &value)?,
            });
        }
        Ok(out)
    }

    /// The audit index the watch index is complete up to (exclusive): every request recorded
    /// before it is in the index.
    pub fn watches_indexed(&self) -> Result<u64, StoreError> {
        match self.db.get(WATCH_INDEXED)? {
            Some(bytes) => be_u64(WATCH_INDEXED, &bytes),
            None => Ok(0),
        }
    }

    /// Writes `batch`, sorted by key, and moves the indexed position to `next`.
    ///
    /// A small batch (an advisory change catching up a few entries) is one atomic sled batch,
    /// durable with the next [`Store::flush`], which is at the latest the flush of the change
    /// whose notices were computed from it. A large one (the background indexer) is not: sled
    /// applies a batch under a lock that stops every other read and write of the tree, and a
    /// batch of many thousand records held Vets up for hundreds of milliseconds. Its records
    /// are inserted one by one and flushed, and only then is the position moved: a durable
    /// position never covers records that are not.
    pub fn index_watches(&self, mut batch: WatchBatch, next: u64) -> Result<(), StoreError> {
        batch.records.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if batch.records.len() <= ATOMIC_INDEX_RECORDS {
            let mut sled_batch = sled::Batch::default();
            for (k, v) in batch.records {
                sled_batch.insert(k, v);
            }
            sled_batch.insert(WATCH_INDEXED, &next.to_be_bytes()[..]);
            self.db.apply_batch(sled_batch)?;
            return Ok(());
        }
        for (k, v) in batch.records {
            self.db.insert(k, v)?;
        }
        self.db.flush()?;
        self.db.insert(WATCH_INDEXED, &next.to_be_bytes()[..])?;
        Ok(())
    }
}

/// The most watch records written as one atomic sled batch (see [`Store::index_watches`]).
const ATOMIC_INDEX_RECORDS: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexed_watches_are_found_by_token_and_the_position_moves_with_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.watches_indexed().unwrap(), 0);
        let mut token = vec![1u8];
        token.extend_from_slice(&[9; 32]);
        let record = WatchRecord {
            subject_kind: 1,
            vetted_at: 5,
            case_reference: "C-1".into(),
            via: vec!["psc-1".into()],
        };
        let mut batch = WatchBatch::new();
        batch.watch("k", &token, "party-b", "r2", &record);
        batch.watch("k", &token, "party-a", "r1", &record);
        assert_eq!(batch.len(), 2);
        store.index_watches(batch, 7).unwrap();
        assert_eq!(store.watches_indexed().unwrap(), 7);
        let found = store.watchers("k", &token).unwrap();
        let who: Vec<_> = found
            .iter()
            .map(|w| (w.party.as_str(), w.request_id.as_str()))
            .collect();
        assert_eq!(who, [("party-a", "r1"), ("party-b", "r2")]);
        assert_eq!(found[0].record, record);
        assert!(store.watchers("other", &token).unwrap().is_empty());
        // Writing the same records again (a resumed indexer) changes nothing.
        let mut again = WatchBatch::new();
        again.watch("k", &token, "party-a", "r1", &record);
        store.index_watches(again, 8).unwrap();
        assert_eq!(store.watchers("k", &token).unwrap().len(), 2);
        assert_eq!(store.watches_indexed().unwrap(), 8);
        // A large batch is written record by record, then the position moves.
        let mut large = WatchBatch::new();
        for i in 0..ATOMIC_INDEX_RECORDS + 1 {
            large.watch("k", &token, "party-c", &format!("r{i}"), &record);
        }
        store.index_watches(large, 9).unwrap();
        assert_eq!(
            store.watchers("k", &token).unwrap().len(),
            ATOMIC_INDEX_RECORDS + 3
        );
        assert_eq!(store.watches_indexed().unwrap(), 9);
    }
}
