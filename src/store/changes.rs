//! [`Changes`]: the state changes the audit writer applies atomically with the entries that
//! record them (advisory versions, remembered answers, notices, hits, expiry schedule).

use prost::Message;

use super::keys::*;
use super::records::{AdvisoryVersion, IdempotencyRecord};
use super::token_prefix_raw;

/// A set of changes applied atomically together with audit entries.
#[derive(Debug, Default)]
pub struct Changes {
    pub(super) puts: Vec<(Vec<u8>, Vec<u8>)>,
    pub(super) removes: Vec<Vec<u8>>,
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
    /// [`IdempotencyRecord`], possibly completed by an appended [`IdempotencyStamp`](super::IdempotencyStamp)).
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
