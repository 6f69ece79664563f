//! A Bloom filter over the advisory token index (`T` keys), so that a Vet token that matches no
//! advisory (nearly all of them) is answered from memory instead of a sled range scan.
//!
//! Why: a Vet looks up each of its tokens in the `T` index; a miss still costs sled a range
//! scan (a few µs each), and variant tokens made a realistic Vet carry about 14 tokens. The
//! filter answers "certainly not indexed" for all but a fraction of a percent of them.
//!
//! Correctness: a token is added to the filter before the batch indexing it is applied (see
//! [`super::Store::append`]), and tokens are never removed from the index, so the filter never
//! says "absent" of an indexed token once it is [`TokenFilter::ready`]. It becomes ready when a
//! background scan of the stored index, started at open, has added every token stored before;
//! until then every lookup goes to sled. The bits are atomic: the scan and new advisories add
//! to it concurrently.
//!
//! Size: a fixed [`BITS`] bits (2 MiB) and [`PROBES`] probes: under 1% false positives up to
//! about 1.5 million indexed tokens (100,000 advisories of 14 tokens), degrading gradually
//! beyond (never wrong, only less useful).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The filter's size in bits (a power of two).
pub(super) const BITS: usize = 1 << 24;

/// Bits set per token.
pub(super) const PROBES: usize = 4;

/// See the module documentation.
#[derive(Debug)]
pub(super) struct TokenFilter {
    words: Box<[AtomicU64]>,
    ready: AtomicBool,
}

impl TokenFilter {
    /// An empty filter, not ready.
    pub(super) fn new() -> TokenFilter {
        TokenFilter {
            words: (0..BITS / 64).map(|_| AtomicU64::new(0)).collect(),
            ready: AtomicBool::new(false),
        }
    }

    /// The bit positions of an index key's token part: `key_id`, `0x00`, kind byte, digest.
    /// Digests are HMAC outputs, so their bytes are already uniform: the probes are taken from
    /// them, mixed with a hash of the key id and kind.
    fn probes(token_key: &[u8]) -> [usize; PROBES] {
        // FNV-1a over everything but the digest's last 32 bytes (key id, separator, kind).
        let split = token_key.len().saturating_sub(32);
        let (head, digest) = token_key.split_at(split);
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in head {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let mut out = [0usize; PROBES];
        for (i, slot) in out.iter_mut().enumerate() {
            let mut word = [0u8; 8];
            // A shorter key (never stored by this gateway) still gets probes: missing bytes
            // are zero.
            for (j, w) in word.iter_mut().enumerate() {
                *w = digest.get(i * 8 + j).copied().unwrap_or(0);
            }
            let mixed = (u64::from_le_bytes(word) ^ h.rotate_left(i as u32 * 16))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
            *slot = (mixed >> 40) as usize & (BITS - 1);
        }
        out
    }

    /// Adds the token of an index key (the key without its `T` prefix and advisory id).
    pub(super) fn insert(&self, token_key: &[u8]) {
        for bit in Self::probes(token_key) {
            self.words[bit / 64].fetch_or(1 << (bit % 64), Ordering::Release);
        }
    }

    /// Whether the token may be indexed: `false` only when the filter is ready and it is
    /// certainly not.
    pub(super) fn may_contain(&self, token_key: &[u8]) -> bool {
        if !self.ready.load(Ordering::Acquire) {
            return true;
        }
        Self::probes(token_key)
            .iter()
            .all(|bit| self.words[bit / 64].load(Ordering::Acquire) & (1 << (bit % 64)) != 0)
    }

    /// Marks the filter complete: every token stored before has been added.
    pub(super) fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_key(key_id: &str, kind: u8, seed: u64) -> Vec<u8> {
        let mut k = key_id.as_bytes().to_vec();
        k.push(0);
        k.push(kind);
        let digest = ring::digest::digest(&ring::digest::SHA256, &seed.to_le_bytes());
        k.extend_from_slice(digest.as_ref());
        k
    }

    #[test]
    fn never_says_absent_of_an_added_token_and_rarely_of_others() {
        let filter = TokenFilter::new();
        assert!(
            filter.may_contain(&token_key("k", 1, 0)),
            "not ready: ask sled"
        );
        for seed in 0..100_000 {
            filter.insert(&token_key("k", 1, seed));
        }
        filter.set_ready();
        for seed in 0..100_000 {
            assert!(filter.may_contain(&token_key("k", 1, seed)));
        }
        let false_positives = (100_000..200_000)
            .filter(|seed| filter.may_contain(&token_key("k", 1, *seed)))
            .count();
        assert!(false_positives < 100, "{false_positives} false positives");
        // The same digest under another kind or key id is another token.
        let others = (0..10_000)
            .filter(|seed| {
                filter.may_contain(&token_key("k", 2, *seed))
                    || filter.may_contain(&token_key("k2", 1, *seed))
            })
            .count();
        assert!(
            others < 50,
            "{others} false positives across kinds and keys"
        );
    }
}
