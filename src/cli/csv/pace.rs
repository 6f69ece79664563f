//! The pace of the sends: how the batch slows to the rate the gateway's rate limit allows, and
//! how a rate-limited row is retried.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How many times a row the gateway's rate limit turned away is tried again (with the unary
/// Vet, after the delay the gateway asked for) before it is written as a `ResourceExhausted`
/// error row, which a rerun retries.
pub(super) const RATE_RETRIES: u32 = 8;

/// The longest pause between sends, and before a retry.
pub(super) const MAX_PAUSE: Duration = Duration::from_secs(5);

/// The pause between two sends, in microseconds, shared by the writer (which sets it from the
/// gateway's rate-limit answers) and the reader (which honours it): the batch slows to the
/// rate the gateway allows instead of being turned away row after row.
#[derive(Debug, Default)]
pub(super) struct Pace(AtomicU64);

impl Pace {
    /// The current pause.
    pub(super) fn get(&self) -> Duration {
        Duration::from_micros(self.0.load(Ordering::Relaxed))
    }

    /// After a batch item was turned away with a hint to wait `hint`: at least a quarter more
    /// than `hint` between sends. When the gateway's bucket is empty its hint is about one
    /// item's worth of time, so the sends settle a little below the rate it allows and
    /// rejections (each retried one by one) become rare; the many items of one burst that are
    /// turned away together do not compound.
    pub(super) fn slow_down(&self, hint: Duration) {
        let pause = (hint + hint / 4).min(MAX_PAUSE).as_micros() as u64;
        self.0.fetch_max(pause, Ordering::Relaxed);
    }

    /// After an answer: a little faster (1/4096 less pause), so that a lifted limit is found.
    pub(super) fn speed_up(&self) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| Some(p - p / 4096));
    }
}

/// The wait a rate-limit message asks for (`… retry after N ms`), if it says.
pub(super) fn retry_after(message: &str) -> Option<Duration> {
    let rest = &message[message.find("retry after ")? + "retry after ".len()..];
    let digits: &str = &rest[..rest.find(|c: char| !c.is_ascii_digit())?];
    rest[digits.len()..]
        .starts_with(" ms")
        .then(|| digits.parse().ok().map(Duration::from_millis))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_hints_set_the_pace() {
        assert_eq!(
            retry_after("rate limit exceeded; retry after 25 ms"),
            Some(Duration::from_millis(25))
        );
        assert_eq!(retry_after("rate limit exceeded"), None);
        assert_eq!(retry_after("retry after 25"), None);
        assert_eq!(retry_after("retry after soon ms"), None);
        let pace = Pace::default();
        assert!(pace.get().is_zero());
        pace.slow_down(Duration::from_millis(2));
        assert_eq!(pace.get(), Duration::from_micros(2500));
        pace.slow_down(Duration::from_millis(1));
        assert_eq!(pace.get(), Duration::from_micros(2500));
        pace.slow_down(Duration::from_millis(4));
        assert_eq!(pace.get(), Duration::from_millis(5));
        pace.slow_down(Duration::from_secs(60));
        assert_eq!(pace.get(), MAX_PAUSE);
        pace.speed_up();
        assert!(pace.get() < MAX_PAUSE);
    }
}
