//! Rate limits per caller certificate: token buckets for vetting items, advisory writes, audit
//! calls and key-service elements (the last also capped per UTC day). The defence against a party enumerating the watchlist by brute force, and
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
    /// One element evaluated by the key service (also capped per UTC day).
    Evaluate,
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
    /// Key-service elements per second and burst.
    pub evaluate: Rate,
    /// Key-service elements per certificate per UTC day.
    pub evaluate_per_day: u64,
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
            // A party's whole donor file (100,000 people, about four tokens each) in a few
            // minutes and within one day; the README's threat model gives the arithmetic.
            evaluate: Rate {
                per_sec: 5_000.0,
                burst: 50_000.0,
            },
            evaluate_per_day: 500_000,
        }
    }
}

impl Limits {
    fn rate(&self, class: Class) -> Rate {
        match class {
            Class::Vet => self.vet,
            Class::Publish => self.publish,
            Class::Audit => self.audit,
            Class::Evaluate => self.evaluate,
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

/// The limiter: one bucket per (certificate, class), and one day's count of evaluated
/// elements per certificate.
#[derive(Debug)]
pub struct Limiter {
    limits: arc_swap::ArcSwap<Limits>,
    buckets: Mutex<HashMap<([u8; 32], Class), Bucket>>,
    days: Mutex<HashMap<[u8; 32], (u64, u64)>>,
}

const DAY_MS: u64 = 86_400_000;

/// Milliseconds since the Unix epoch (0 if the clock is before it).
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Limiter {
    /// A limiter with `limits`.
    pub fn new(limits: Limits) -> Self {
        Limiter {
            limits: arc_swap::ArcSwap::from_pointee(limits),
            buckets: Mutex::new(HashMap::new()),
            days: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `n` key-service elements: from the caller's bucket and from its count for the
    /// current UTC day (both or neither). Over either, says after how many milliseconds to
    /// retry (for the day's cap: until the next UTC midnight).
    pub fn take_elements(&self, cert: &[u8; 32], n: u64) -> Result<(), u64> {
        let cap = self.limits.load().evaluate_per_day;
        let now = unix_ms();
        let today = now / DAY_MS;
        // As in `take`: a poisoned lock still holds a valid map.
        let mut days = self.days.lock().unwrap_or_else(|p| p.into_inner());
        days.retain(|_, (day, _)| *day == today);
        let used = days.get(cert).map(|(_, used)| *used).unwrap_or(0);
        if used.saturating_add(n) > cap {
            return Err((today + 1) * DAY_MS - now);
        }
        self.take(cert, Class::Evaluate, n as f64)?;
        days.insert(*cert, (today, used + n));
        Ok(())
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

    #[test]
    fn elements_stop_at_the_daily_cap_until_midnight() {
        let limiter = Limiter::new(Limits {
            evaluate: Rate {
                per_sec: 1e9,
                burst: 1e9,
            },
            evaluate_per_day: 100,
            ..Limits::default()
        });
        let cert = [3u8; 32];
        assert!(limiter.take_elements(&cert, 60).is_ok());
        let wait = limiter.take_elements(&cert, 41).unwrap_err();
        assert!((1..=DAY_MS).contains(&wait), "{wait}");
        // A refused call spends nothing: the remaining 40 are still there.
        assert!(limiter.take_elements(&cert, 40).is_ok());
        assert!(limiter.take_elements(&cert, 1).is_err());
        assert!(limiter.take_elements(&[4u8; 32], 100).is_ok());
        // A reload raises the cap at once.
        limiter.replace(Limits {
            evaluate_per_day: 1_000,
            ..Limits::default()
        });
        assert!(limiter.take_elements(&cert, 1).is_ok());
    }
}
