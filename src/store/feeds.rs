//! Reading the feeds: a party's notices, an official unit's hits, and the expiries due to be
//! announced.

use super::keys::*;
use super::*;

impl Store {
    pub(super) fn feed(
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
}
