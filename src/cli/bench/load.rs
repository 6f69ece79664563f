//! The load loop and what it measures: calls from concurrent tasks, bounded in time and
//! count, their latencies in a histogram and their failures by status code.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::Error;

/// The name of a gRPC status code as api.md writes it, e.g. `RESOURCE_EXHAUSTED`.
fn code_name(code: tonic::Code) -> String {
    let camel = format!("{code:?}");
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// What one scenario measured.
pub(super) struct Outcome {
    /// Successful operations.
    pub(super) ok: u64,
    /// Failed operations by status code (or another short reason).
    pub(super) errors: BTreeMap<String, u64>,
    /// Latency of each successful operation, in microseconds.
    pub(super) latency: Histogram<u64>,
    /// From the first operation sent to the last answered.
    pub(super) elapsed: Duration,
    /// Server CPU seconds spent meanwhile (a gateway we started only).
    pub(super) cpu: Option<f64>,
}

impl Outcome {
    /// Nothing measured yet.
    pub(super) fn new() -> Result<Outcome, Error> {
        Ok(Outcome {
            ok: 0,
            errors: BTreeMap::new(),
            latency: histogram()?,
            elapsed: Duration::ZERO,
            cpu: None,
        })
    }

    /// Failed operations.
    pub(super) fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Reads `stream` until it ends, fails or `give_up` passes, handing each answer to
    /// `answered`, which returns its latency. A failed stream counts its status code, a stream
    /// still open at `give_up` counts DEADLINE_EXCEEDED; either ends the reading.
    pub(super) async fn drain<T>(
        &mut self,
        mut stream: tonic::Streaming<T>,
        give_up: tokio::time::Instant,
        mut answered: impl FnMut(T) -> Result<Duration, Error>,
    ) -> Result<(), Error> {
        loop {
            match tokio::time::timeout_at(give_up, stream.next()).await {
                Ok(Some(Ok(answer))) => {
                    let latency = answered(answer)?;
                    self.record(Ok(()), latency);
                }
                Ok(Some(Err(status))) => {
                    self.record(Err(status_code(status)), Duration::ZERO);
                    return Ok(());
                }
                Ok(None) => return Ok(()),
                Err(_) => {
                    self.record(Err("DEADLINE_EXCEEDED".to_owned()), Duration::ZERO);
                    return Ok(());
                }
            }
        }
    }

    /// Counts one operation: its latency if it succeeded, its code if not.
    pub(super) fn record(&mut self, result: Result<(), String>, latency: Duration) {
        match result {
            Ok(()) => {
                self.ok += 1;
                let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                self.latency.saturating_record(us.max(1));
            }
            Err(code) => *self.errors.entry(code).or_default() += 1,
        }
    }

    /// Adds what another task measured.
    fn merge(&mut self, other: &Outcome) -> Result<(), Error> {
        self.ok += other.ok;
        for (code, n) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
        self.latency
            .add(&other.latency)
            .map_err(|e| Error::Usage(format!("latency histogram: {e}")))
    }
}

/// A latency histogram from 1 µs to 10 minutes, 3 significant digits.
fn histogram() -> Result<Histogram<u64>, Error> {
    Histogram::new_with_bounds(1, 600_000_000, 3)
        .map_err(|e| Error::Usage(format!("latency histogram: {e}")))
}

/// How hard and how long to push a unary scenario.
#[derive(Debug, Clone, Copy)]
pub(super) struct Load {
    /// Calls in flight at once.
    pub(super) concurrency: usize,
    /// How long calls are started.
    pub(super) duration: Duration,
    /// The most calls started.
    pub(super) max_calls: u64,
}

/// Runs `call` from `load.concurrency` tasks spread over `channels`, each call numbered from 0,
/// until `load.duration` has passed or `load.max_calls` calls were started.
pub(super) async fn drive<F, Fut>(
    channels: &[Channel],
    load: Load,
    call: F,
) -> Result<Outcome, Error>
where
    F: Fn(Channel, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + load.duration;
    let mut tasks = Vec::with_capacity(load.concurrency);
    for task in 0..load.concurrency {
        let channel = channels[task % channels.len()].clone();
        let next = next.clone();
        let call = call.clone();
        let max_calls = load.max_calls;
        tasks.push(tokio::spawn(async move {
            let mut outcome = Outcome::new()?;
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= max_calls {
                    break;
                }
                let sent = Instant::now();
                let result = call(channel.clone(), n).await;
                outcome.record(result, sent.elapsed());
            }
            Ok::<_, Error>(outcome)
        }));
    }
    let mut total = Outcome::new()?;
    for task in tasks {
        let outcome = task
            .await
            .map_err(|e| Error::Usage(format!("a load task failed: {e}")))??;
        total.merge(&outcome)?;
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

/// The name of a failed call's code, as [`code_name`].
pub(super) fn status_code(s: tonic::Status) -> String {
    code_name(s.code())
}

/// Failures by code as `CODE=N,…`, or `0`.
pub(super) fn errors_text(errors: &BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "0".to_owned();
    }
    errors
        .iter()
        .map(|(code, n)| format!("{code}={n}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_are_as_api_md_writes_them() {
        assert_eq!(
            code_name(tonic::Code::ResourceExhausted),
            "RESOURCE_EXHAUSTED"
        );
        assert_eq!(code_name(tonic::Code::Ok), "OK");
        assert_eq!(code_name(tonic::Code::InvalidArgument), "INVALID_ARGUMENT");
    }
}
