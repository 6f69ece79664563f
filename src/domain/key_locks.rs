//! Locks by key, sharded: two calls on the same key (a vetting request id, an advisory, a
//! publish request id) wait for each other; calls on different keys wait only when their keys
//! share one of the shards.

use tokio::sync::{Mutex, MutexGuard};

/// A fixed set of mutexes, one chosen per key by a digest of the key.
#[derive(Debug)]
pub(super) struct KeyLocks(Vec<Mutex<()>>);

/// A key's lock, held.
pub(crate) type KeyGuard<'a> = MutexGuard<'a, ()>;

impl KeyLocks {
    /// `shards` mutexes (at least one).
    pub(super) fn new(shards: usize) -> KeyLocks {
        KeyLocks((0..shards.max(1)).map(|_| Mutex::new(())).collect())
    }

    /// Waits for the lock of the key made of `parts` (joined with NUL, so `["a", "b"]` and
    /// `["a\0b"]`, which no caller can produce from validated input, are the only collision).
    pub(super) async fn lock(&self, parts: &[&str]) -> KeyGuard<'_> {
        self.0[self.shard(parts)].lock().await
    }

    fn shard(&self, parts: &[&str]) -> usize {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                ctx.update(&[0]);
            }
            ctx.update(part.as_bytes());
        }
        let d = ctx.finish();
        let mut b = [0u8; 8];
        b.copy_from_slice(&d.as_ref()[..8]);
        // The remainder is below the number of shards, a usize.
        (u64::from_le_bytes(b) % self.0.len() as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_same_key_waits_and_another_key_does_not() {
        let locks = KeyLocks::new(1024);
        let held = locks.lock(&["advisory", "adv-1"]).await;
        let same = tokio::time::timeout(
            Duration::from_millis(50),
            locks.lock(&["advisory", "adv-1"]),
        )
        .await;
        assert!(same.is_err(), "the same key waits");
        let a = locks.shard(&["advisory", "adv-1"]);
        let other = (0..100)
            .map(|i| format!("adv-{i}"))
            .find(|id| locks.shard(&["advisory", id]) != a)
            .expect("another shard");
        let free =
            tokio::time::timeout(Duration::from_millis(50), locks.lock(&["advisory", &other]))
                .await;
        assert!(free.is_ok(), "another key does not wait");
        drop(held);
        assert!(tokio::time::timeout(
            Duration::from_millis(50),
            locks.lock(&["advisory", "adv-1"])
        )
        .await
        .is_ok());
    }

    #[test]
    fn a_key_always_picks_the_same_shard_and_one_shard_is_enough() {
        let locks = KeyLocks::new(256);
        assert_eq!(locks.shard(&["p", "r"]), locks.shard(&["p", "r"]));
        assert_eq!(KeyLocks::new(0).shard(&["anything"]), 0);
    }
}
