//! The store's keys: the one-byte prefixes of the table at the top of `store/mod.rs` and the
//! functions that build each kind of key, so that every file reading or writing a record spells
//! its key the same way.

use super::StoreError;

pub(super) const ADVISORY: u8 = b'A';
pub(super) const HEAD: u8 = b'H';
pub(super) const TOKEN: u8 = b'T';
pub(super) const IDEMPOTENCY: u8 = b'I';
pub(super) const BLOCK: u8 = b'B';
/// Prefixes of the first layout of the log, kept only to recognise it.
pub(super) const LEGACY_LEAF: u8 = b'L';
pub(super) const LEGACY_NODE: u8 = b'N';
pub(super) const WATCH: u8 = b'W';
pub(super) const PARTY_NOTICE: u8 = b'P';
pub(super) const UNIT_HIT: u8 = b'U';
pub(super) const EXPIRY: u8 = b'E';
pub(super) const NOTICE_JOB: u8 = b'Q';
pub(super) const LOG_SIZE: &[u8] = b"Mlog-size";
pub(super) const LOG_BYTES: &[u8] = b"Mlog-bytes";
pub(super) const CHECKPOINT: &[u8] = b"Clatest";

pub(super) fn advisory_key(id: &str, version: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(id.len() + 6);
    k.push(ADVISORY);
    k.extend_from_slice(id.as_bytes());
    k.push(0);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

pub(super) fn head_key(id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(id.len() + 1);
    k.push(HEAD);
    k.extend_from_slice(id.as_bytes());
    k
}

/// The token part (key id, `0x00`, kind byte, digest) of a `T` key, if it is one.
pub(super) fn token_of_index_key(key: &[u8]) -> Option<&[u8]> {
    if key.first() != Some(&TOKEN) {
        return None;
    }
    let separator = key.iter().skip(1).position(|b| *b == 0)? + 1;
    key.get(1..separator + 34)
}

pub(super) fn idempotency_key(scope: &str, request_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(scope.len() + request_id.len() + 2);
    k.push(IDEMPOTENCY);
    k.extend_from_slice(scope.as_bytes());
    k.push(0);
    k.extend_from_slice(request_id.as_bytes());
    k
}

pub(super) fn feed_key(prefix: u8, owner: &str, cursor: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(owner.len() + 10);
    k.push(prefix);
    k.extend_from_slice(owner.as_bytes());
    k.push(0);
    k.extend_from_slice(&cursor.to_be_bytes());
    k
}

/// Seconds before the epoch sort first: the sign bit is flipped.
pub(super) fn expiry_key(valid_until: i64, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(id.len() + 9);
    k.push(EXPIRY);
    k.extend_from_slice(&((valid_until as u64) ^ (1 << 63)).to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

/// The two names a key ends with, `first`, `0x00`, `second` (a party and its request id, a
/// scope and a request id), read from `tail`, the part of `key` after its fixed prefix.
pub(super) fn split_names(key: &[u8], tail: &[u8]) -> Result<(String, String), StoreError> {
    let Some(split) = tail.iter().position(|b| *b == 0) else {
        return Err(StoreError::Corrupt {
            key: hex::encode(key),
            reason: "key without a separator between its names".into(),
        });
    };
    Ok((
        String::from_utf8_lossy(&tail[..split]).into_owned(),
        String::from_utf8_lossy(&tail[split + 1..]).into_owned(),
    ))
}

pub(super) fn notice_job_key(index: u64) -> [u8; 9] {
    let mut k = [NOTICE_JOB; 9];
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

pub(super) fn block_key(first: u64) -> [u8; 9] {
    let mut k = [BLOCK; 9];
    k[1..].copy_from_slice(&first.to_be_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_tail_splits_at_its_first_separator_or_is_corrupt() {
        let key = b"Iparty/alpha\0r-1";
        assert_eq!(
            split_names(key, &key[1..]).unwrap(),
            ("party/alpha".to_owned(), "r-1".to_owned())
        );
        let none = b"Iparty/alpha";
        assert!(matches!(
            split_names(none, &none[1..]),
            Err(StoreError::Corrupt { key, .. }) if key == hex::encode(none)
        ));
    }
}
