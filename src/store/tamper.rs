//! Test-only hooks into the store, compiled only with the `test-hooks` cargo feature (which the
//! crate's own tests enable) or in unit tests, never in a release build: fault injection for
//! the fail-closed paths ([`Faults`]) and raw writes that damage the stored log the way an
//! attacker with disk access would, for the tamper-evidence tests.

use std::sync::atomic::{AtomicBool, Ordering};

use super::keys::{feed_key, PARTY_NOTICE};
use super::log::{completing_leaf, corrupt_block};
use super::{block_key, blocks, Changes, LeafRecord, Store, StoreError, LOG_SIZE};

/// Fault injection for tests of the fail-closed path: when set, every append fails.
#[derive(Debug, Default)]
pub struct Faults {
    fail_appends: AtomicBool,
}

impl Faults {
    /// Makes every following append fail (or succeed again).
    pub fn fail_appends(&self, fail: bool) {
        self.fail_appends.store(fail, Ordering::SeqCst);
    }

    /// Whether appends are to fail.
    pub(super) fn fails_appends(&self) -> bool {
        self.fail_appends.load(Ordering::SeqCst)
    }
}

impl Store {
    /// The fault injector of this store (for tests of the fail-closed path).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Raw access to the underlying keys, for tamper tests only: reads a key.
    pub fn raw_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(key)?.map(|v| v.to_vec()))
    }

    /// Raw access for tamper tests only: writes (`Some`) or removes (`None`) a key, durably.
    pub fn raw_set(&self, key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
        match value {
            Some(v) => self.db.insert(key, v)?,
            None => self.db.remove(key)?,
        };
        self.db.flush()?;
        Ok(())
    }

    /// For tamper tests only: replaces the stored leaf `index` (keeping its node hashes), or
    /// stores it alone in a new block if no block holds it; `None` removes it, splitting its
    /// block around the gap. Durable.
    pub fn raw_set_leaf(&self, index: u64, leaf: Option<&[u8]>) -> Result<(), StoreError> {
        let found = match self.block_at(index)? {
            Some((first, bytes)) => {
                let records = blocks::decode(&bytes)
                    .map_err(|reason| corrupt_block(&block_key(first), reason))?;
                let position = (index - first) as usize;
                (position < records.len()).then_some((first, records, position))
            }
            None => None,
        };
        let mut batch = sled::Batch::default();
        let mut blocks = Vec::new();
        match (found, leaf) {
            (Some((first, mut records, position)), Some(leaf)) => {
                records[position].leaf = leaf.to_vec();
                blocks.push((first, self.encode_block(&records)?));
            }
            (Some((first, records, position)), None) => {
                batch.remove(&block_key(first));
                if position > 0 {
                    blocks.push((first, self.encode_block(&records[..position])?));
                }
                if position + 1 < records.len() {
                    let after = &records[position + 1..];
                    blocks.push((index + 1, self.encode_block(after)?));
                }
            }
            (None, Some(leaf)) => {
                let record = LeafRecord {
                    leaf: leaf.to_vec(),
                    nodes: Vec::new(),
                };
                blocks.push((index, self.encode_block(&[record])?));
            }
            (None, None) => {}
        }
        self.raw_write_blocks(blocks, batch)
    }

    /// For tamper helpers: [`Store::write_blocks`], then durable.
    fn raw_write_blocks(
        &self,
        blocks: Vec<(u64, Vec<u8>)>,
        batch: sled::Batch,
    ) -> Result<(), StoreError> {
        let (firsts, bytes): (Vec<u64>, Vec<Vec<u8>>) = blocks.into_iter().unzip();
        self.write_blocks(&firsts, &bytes, batch)?;
        self.db.flush()?;
        Ok(())
    }

    /// For tamper tests only: overwrites the stored hash of Merkle node `(level, index)` in the
    /// record of the leaf that completes it, which must be stored. Durable.
    pub fn raw_set_node(&self, level: u8, index: u64, hash: [u8; 32]) -> Result<(), StoreError> {
        let missing = || corrupt_block(&[level], format!("no stored leaf completes node {index}"));
        let leaf = completing_leaf(level, index).ok_or_else(missing)?;
        let (first, bytes) = self.block_at(leaf)?.ok_or_else(missing)?;
        let mut records =
            blocks::decode(&bytes).map_err(|reason| corrupt_block(&block_key(first), reason))?;
        let record = records
            .get_mut((leaf - first) as usize)
            .ok_or_else(missing)?;
        let level = usize::from(level);
        if record.nodes.len() <= level {
            record.nodes.resize(level + 1, [0; 32]);
        }
        record.nodes[level] = hash;
        let block = self.encode_block(&records)?;
        self.raw_write_blocks(vec![(first, block)], sled::Batch::default())
    }

    /// For crash tests only: applies `changes` as one durable batch outside the audit writer
    /// (to put back the state a crash leaves, e.g. a queued notice job whose notices were never
    /// sent).
    pub fn raw_apply(&self, changes: Changes) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (k, v) in changes.puts {
            batch.insert(k, v);
        }
        for k in changes.removes {
            batch.remove(k);
        }
        self.db.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }

    /// For crash tests only: removes the notice of `party` under `cursor`, durably.
    pub fn raw_remove_notice(&self, party: &str, cursor: u64) -> Result<(), StoreError> {
        self.raw_set(&feed_key(PARTY_NOTICE, party, cursor), None)
    }

    /// The raw key of the log size (for tamper tests).
    pub fn raw_log_size_key() -> Vec<u8> {
        LOG_SIZE.to_vec()
    }
}
