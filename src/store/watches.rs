//! The per-token watch records (`W`) of earlier layouts: which party requests vetted which
//! token. Vets written before a remembered answer carried its tokens ([`VetWatch`](super::VetWatch))
//! wrote one of these per token, and the notice sweep still reads them, so that requests vetted
//! before an upgrade keep their notices. Nothing writes them while serving: a Vet's tokens are
//! in its one remembered answer (`I`), which the sweep scans when an advisory changes.
//! [`WatchBatch`] writes them only for benchmarks of that old write path and for tests of data
//! directories that hold them.

use super::keys::split_names;
use super::{decode, Changes, Store, StoreError, WatchRecord, TOKEN, WATCH};
use prost::Message;

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

/// `W` records to write together (see [`Changes::watches`]).
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
    /// in earlier layouts (kept to measure that cost, see `benches/store_writes.rs`, and to
    /// build such data directories in tests).
    pub fn watches(&mut self, batch: WatchBatch) -> &mut Self {
        self.puts.extend(batch.records);
        self
    }
}

impl Store {
    /// Whether any `W` record is stored (a data directory of an earlier layout).
    pub fn has_watch_records(&self) -> Result<bool, StoreError> {
        Ok(self.db.scan_prefix([WATCH]).next().transpose()?.is_some())
    }

    /// Every party request of an earlier layout that vetted this token (`kind` byte + digest)
    /// under `key_id`.
    pub fn watchers(&self, key_id: &str, token: &[u8]) -> Result<Vec<Watcher>, StoreError> {
        let prefix = watch_prefix(key_id, token);
        let mut out = Vec::new();
        for item in self.db.scan_prefix(&prefix) {
            let (key, value) = item?;
            let (party, request_id) = split_names(&key, &key[prefix.len()..])?;
            out.push(Watcher {
                party,
                request_id,
                record: decode(&key, &value)?,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_records_are_found_by_token_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
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
        assert!(!batch.is_empty());
        let mut changes = Changes::new();
        changes.watches(batch);
        store.raw_apply(changes).unwrap();
        let found = store.watchers("k", &token).unwrap();
        let who: Vec<_> = found
            .iter()
            .map(|w| (w.party.as_str(), w.request_id.as_str()))
            .collect();
        assert_eq!(who, [("party-a", "r1"), ("party-b", "r2")]);
        assert_eq!(found[0].record, record);
        assert!(store.watchers("other", &token).unwrap().is_empty());
        assert!(store.has_watch_records().unwrap());
    }

    #[test]
    fn a_new_store_has_no_watch_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(!store.has_watch_records().unwrap());
    }
}
