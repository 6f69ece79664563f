//! The audit log's side of the store: appending blocks of leaves (log file first, then the sled
//! batch pointing at them), reading leaves and Merkle nodes back, the latest checkpoint, and the
//! flush that makes applied batches durable.

use super::keys::*;
use super::*;

/// The leaf that completes Merkle node `(level, index)`: the last of its subtree.
pub(super) fn completing_leaf(level: u8, index: u64) -> Option<u64> {
    let span = 1u64.checked_shl(u32::from(level))?;
    index.checked_add(1)?.checked_mul(span)?.checked_sub(1)
}

pub(super) fn corrupt_block(key: &[u8], reason: String) -> StoreError {
    StoreError::Corrupt {
        key: hex::encode(key),
        reason,
    }
}

impl Store {
    /// The number of audit entries.
    pub fn log_size(&self) -> Result<u64, StoreError> {
        match self.db.get(LOG_SIZE)? {
            Some(bytes) => be_u64(LOG_SIZE, &bytes),
            None => Ok(0),
        }
    }

    /// The block holding leaf `index` if there is one: the stored block with the greatest
    /// first index not above `index` (it may end before `index`).
    pub(super) fn block_at(&self, index: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        match self.db.range(block_key(0)..=block_key(index)).next_back() {
            Some(item) => self.read_block(item?).map(Some),
            None => Ok(None),
        }
    }

    /// The first index and the bytes of the block a `B` key and its pointer describe.
    pub(super) fn read_block(
        &self,
        (key, value): (sled::IVec, sled::IVec),
    ) -> Result<(u64, Vec<u8>), StoreError> {
        let first = be_u64(&key, &key[1..])?;
        let pointer = Pointer::decode(&value).map_err(|reason| corrupt_block(&key, reason))?;
        Ok((first, self.log.read(pointer)?))
    }

    /// Calls `f` with the record of leaf `index`, if it is stored.
    pub(super) fn with_record<T>(
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
    pub(super) fn write_blocks(
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
    pub(super) fn injected_failure(&self) -> Result<(), StoreError> {
        #[cfg(any(test, feature = "test-hooks"))]
        if self.faults.fails_appends() {
            return Err(StoreError::Injected);
        }
        Ok(())
    }

    pub(super) fn encode_block(&self, records: &[LeafRecord]) -> Result<Vec<u8>, StoreError> {
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
