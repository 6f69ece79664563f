//! Rate limits per caller certificate: token buckets for vetting items, advisory writes and
//! audit calls. The defence against a party enumerating the watchlist by brute force, and
//! against any one caller starving the others.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a call spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// One vetted subject (a Vet, or one VetBatch item).
    Vet,
    /// One advisory change (Publish, Revise, Withdraw).
    Publish,
    /// One AuditService call.
    Audit,
}

/// A bucket's rate and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_sec: f64,
    /// Most tokens held (the burst).
    pub burst: f64,
}

/// The rates of each class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Vetting items.
    pub vet: Rate,
    /// Advisory changes.
    pub publish: Rate,
    /// Audit calls.
    pub audit: Rate,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            vet: Rate {
                per_sec: 500.0,
                burst: 10_000.0,
            },
            publish: Rate {
                per_sec: 10.0,
                burst: 100.0,
            },
            audit: Rate {
                per_sec: 20.0,
                burst: 100.0,
            },
        }
    }
}

impl Limits {
    fn rate(&self, class: Class) -> Rate {
        match class {
            Class::Vet => self.vet,
            Class::Publish => self.publish,
            Class::Audit => self.audit,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets are forgotten after this long unused (they would be full again anyway).
const IDLE_FORGET: Duration = Duration::from_secs(600);
/// How many buckets before idle ones are swept.
const SWEEP_AT: usize = 10_000;

/// The limiter: one bucket per (certificate, class).
#[derive(Debug)]
pub struct Limiter {
    limits: arc_swap::ArcSwap<Limits>,
    buckets: Mutex<HashMap<([u8; 32], Class), Bucket>>,
}

impl Limiter {
    /// A limiter with `limits`.
    pub fn new(limits: Limits) -> Self {
        Limiter {
            limits: arc_swap::ArcSwap::from_pointee(limits),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Replaces the limits (reload); buckets keep their tokens.
    pub fn replace(&self, limits: Limits) {
        self.limits.store(std::sync::Arc::new(limits));
    }

    /// Takes `n` tokens of `class` from the caller's bucket, or says after how many
    /// milliseconds they would be available.
    pub fn take(&self, cert: &[u8; 32], class: Class, n: f64) -> Result<(), u64> {
        let rate = self.limits.load().rate(class);
        let now = Instant::now();
        // A poisoned lock only means another thread panicked mid-update; the map is still
        // a valid map of buckets, so keep using it.
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= SWEEP_AT {
            buckets.retain(|_, b| now.duration_since(b.at) < IDLE_FORGET);
        }
        let bucket = buckets.entry((*cert, class)).or_insert(Bucket {
            tokens: rate.burst,
            at: now,
        });
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate.per_sec).min(rate.burst);
        bucket.at = now;
        if bucket.tokens >= n {
            bucket.tokens -= n;
            Ok(())
        } else if rate.per_sec <= 0.0 {
            Err(u64::MAX)
        } else {
            let wait = (n - bucket.tokens) / rate.per_sec;
            Err((wait * 1000.0).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills() {
        let limiter = Limiter::new(Limits {
            vet: Rate {
                per_sec: 1000.0,
                burst: 3.0,
            },
            ..Limits::default()
        });
        let cert = [1u8; 32];
        for _ in 0..3 {
            assert!(limiter.take(&cert, Class::Vet, 1.0).is_ok());
        }
        let wait = limiter.take(&cert, Class::Vet, 1.0).unwrap_err();
        assert!((1..=2).contains(&wait), "{wait}");
        // Another certificate and another class have their own buckets.
        assert!(limiter.take(&[2u8; 32], Class::Vet, 1.0).is_ok());
        assert!(limiter.take(&cert, Class::Publish, 1.0).is_ok());
        std::thread::sleep(Duration::from_millis(5));
        assert!(limiter.take(&cert, Class::Vet, 1.0).is_ok());
    }
}
