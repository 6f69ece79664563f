//! Reading advisories: the latest and a given version, pages of them, and the advisories indexed
//! under a token (through the token filter, filled at open here).

use std::sync::Arc;

use super::keys::*;
use super::*;

/// Tokens of the index scanned at open before the rest is left to a background thread: small
/// stores (tests, most deployments) open with a ready filter, large ones do not wait for it.
pub(super) const FILTER_SCAN_AT_OPEN: usize = 50_000;

/// Adds every stored token of the advisory index to `filter`, then marks it ready: the first
/// [`FILTER_SCAN_AT_OPEN`] keys now, the rest on a thread of its own. If the scan fails the
/// filter stays unready and lookups keep going to sled.
pub(super) fn fill_token_filter(db: &sled::Db, filter: &Arc<TokenFilter>) {
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

impl Store {
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
}
