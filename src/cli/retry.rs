//! Waiting out rate limits: a command told `RESOURCE_EXHAUSTED` waits the `retry-after-ms`
//! the gateway sent (bounded), says so on stderr, and tries again, instead of failing an
//! auditor's long verification.

use std::future::Future;
use std::time::Duration;

use tonic::{Code, Status};

/// The longest single wait, whatever the gateway asks.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(10);
/// The longest total wait for one call before its RESOURCE_EXHAUSTED is reported.
pub(crate) const MAX_TOTAL_WAIT: Duration = Duration::from_secs(60);
/// The wait when the status carries no usable `retry-after-ms`.
const DEFAULT_WAIT: Duration = Duration::from_secs(1);

/// How long a RESOURCE_EXHAUSTED `status` asks to wait (capped at [`MAX_WAIT`]).
pub(crate) fn retry_after(status: &Status) -> Duration {
    portcullis_client::api::retry_after(status)
        .unwrap_or(DEFAULT_WAIT)
        .min(MAX_WAIT)
}

/// Runs `call` until it is not RESOURCE_EXHAUSTED, waiting as told between attempts, for at
/// most [`MAX_TOTAL_WAIT`] in all. `what` names the call in the message.
pub(crate) async fn retrying<T, F, Fut>(what: &str, call: F) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    retrying_within(what, MAX_TOTAL_WAIT, call).await
}

async fn retrying_within<T, F, Fut>(what: &str, total: Duration, mut call: F) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let mut waited = Duration::ZERO;
    loop {
        match call().await {
            Err(status) if status.code() == Code::ResourceExhausted => {
                let wait = retry_after(&status);
                if waited + wait > total {
                    return Err(status);
                }
                eprintln!(
                    "portcullis: {what}: rate-limited by the gateway; waiting {} ms as it asks, then retrying",
                    wait.as_millis()
                );
                tokio::time::sleep(wait).await;
                waited += wait;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use tonic::metadata::MetadataValue;

    use super::*;

    fn exhausted(ms: &str) -> Status {
        let mut s = Status::resource_exhausted("rate limit exceeded");
        s.metadata_mut()
            .insert("retry-after-ms", MetadataValue::try_from(ms).unwrap());
        s
    }

    #[test]
    fn the_wait_is_the_trailer_capped() {
        assert_eq!(retry_after(&exhausted("25")), Duration::from_millis(25));
        assert_eq!(retry_after(&exhausted("999999999")), MAX_WAIT);
        assert_eq!(retry_after(&exhausted("soon")), DEFAULT_WAIT);
        assert_eq!(
            retry_after(&Status::resource_exhausted("no trailer")),
            DEFAULT_WAIT
        );
    }

    #[tokio::test]
    async fn retries_until_answered_then_gives_up_when_bounded() {
        let calls = AtomicU32::new(0);
        let answer = retrying("test", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(exhausted("5")),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(answer.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        // Other errors are returned at once.
        let calls = AtomicU32::new(0);
        let answer: Result<(), _> = retrying("test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Status::not_found("no"))
        })
        .await;
        assert_eq!(answer.unwrap_err().code(), Code::NotFound);
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // Always exhausted: gives up after the total bound.
        let calls = AtomicU32::new(0);
        let answer: Result<(), _> = retrying_within("test", Duration::from_millis(50), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(exhausted("10"))
        })
        .await;
        assert_eq!(answer.unwrap_err().code(), Code::ResourceExhausted);
        assert_eq!(calls.load(Ordering::SeqCst), 6);
    }
}
