//! The scenarios: what each one is, and the calls each one makes (seeding and log growth too).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use super::load::{drive, errors_text, status_code, Load, Outcome};
use super::requests::{publish_request, vet_request, Clients, Run};
use crate::audit::checkpoint::NoteVerifier;
use crate::audit::verify::{LogVerifier, VerifyError};
use crate::audit::AuditError;
use crate::config::Config;
use crate::proto::v1::advisory_service_client::AdvisoryServiceClient;
use crate::proto::v1::audit_service_client::AuditServiceClient;
use crate::proto::v1::vetting_service_client::VettingServiceClient;
use crate::proto::v1::{GetCheckpointRequest, PublishRequest, VetRequest};
use crate::Error;

/// The benchmark's scenarios, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub(crate) enum Scenario {
    /// `grpc.health.v1.Health/Check`, the baseline.
    Health,
    /// `Vet` with tokens that match nothing.
    VetMiss,
    /// `Vet` with the tokens of a seeded advisory.
    VetHit,
    /// Items of one `VetBatch` stream.
    VetBatch,
    /// `Publish` of new advisories.
    Publish,
    /// From a Publish to the notice of a party that vetted the same subject just before, one
    /// round at a time.
    Notice,
    /// Online verification of the whole audit log, as the auditor.
    AuditVerify,
    /// The key service (tokens v2) in its own child process: Evaluate at batch sizes 1, 64
    /// and 1024, and the client's blind and finalize (only when named).
    Keyservice,
}

impl Scenario {
    /// Every scenario run by default (all but `keyservice`), in order.
    pub(super) const ALL: [Scenario; 7] = [
        Scenario::Health,
        Scenario::VetMiss,
        Scenario::VetHit,
        Scenario::VetBatch,
        Scenario::Publish,
        Scenario::Notice,
        Scenario::AuditVerify,
    ];

    /// The name in the table and the JSON.
    pub(super) fn name(self) -> &'static str {
        match self {
            Scenario::Health => "health",
            Scenario::VetMiss => "vet-miss",
            Scenario::VetHit => "vet-hit",
            Scenario::VetBatch => "vet-batch",
            Scenario::Publish => "publish",
            Scenario::Notice => "notice",
            Scenario::AuditVerify => "audit-verify",
            Scenario::Keyservice => "keyservice",
        }
    }

    /// What one operation of the scenario is.
    pub(super) fn unit(self) -> &'static str {
        match self {
            Scenario::VetBatch => "items",
            Scenario::AuditVerify => "entries",
            Scenario::Notice => "notices",
            Scenario::Keyservice => "elements",
            _ => "calls",
        }
    }
}

/// The entries that grow the log before a start-up is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFill {
    /// Vets that match nothing: each stores its audit entry and its remembered answer (which
    /// holds its tokens), so the gateway's state grows with the log.
    Vets,
    /// Vets refused for an unknown key id: each stores only its audit entry, so only the log
    /// grows.
    Refusals,
}

/// Publishes `count` advisories as the official, each with the tokens `run.tokens("a", i)`.
pub(super) async fn seed(
    clients: &Clients,
    run: &Run,
    count: u64,
    concurrency: usize,
) -> Result<Outcome, Error> {
    let run = run.clone();
    let load = Load {
        concurrency,
        duration: Duration::from_secs(3600),
        max_calls: count,
    };
    drive(&clients.official, load, move |channel, n| {
        publish(
            channel,
            publish_request(format!("b{run}-seed-{n}"), run.tokens("a", n), n),
        )
    })
    .await
}

/// One Publish call, answered or refused with its code's name.
pub(super) async fn publish(channel: Channel, request: PublishRequest) -> Result<(), String> {
    AdvisoryServiceClient::new(channel)
        .publish(request)
        .await
        .map(drop)
        .map_err(status_code)
}

/// One Vet call: answered with matches exactly when `hit` is expected, or failed with its
/// code's name (`UNEXPECTED_MATCH` or `NO_MATCH` when the answer is the wrong one).
async fn vet(channel: Channel, request: VetRequest, hit: bool) -> Result<(), String> {
    let answer = VettingServiceClient::new(channel)
        .vet(request)
        .await
        .map_err(status_code)?
        .into_inner();
    match (hit, answer.matches.is_empty()) {
        (false, false) => Err("UNEXPECTED_MATCH".to_owned()),
        (true, true) => Err("NO_MATCH".to_owned()),
        (false, true) | (true, false) => Ok(()),
    }
}

/// Runs one of the unary scenarios.
pub(super) async fn run_unary(
    scenario: Scenario,
    clients: &Clients,
    run: &Run,
    advisories: u64,
    load: Load,
) -> Result<Outcome, Error> {
    let run = run.clone();
    match scenario {
        Scenario::Health => {
            drive(&clients.party, load, |channel, _| async move {
                HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map(drop)
                    .map_err(status_code)
            })
            .await
        }
        Scenario::VetMiss => {
            drive(&clients.party, load, move |channel, n| {
                let request = vet_request(format!("b{run}-miss-{n}"), run.tokens("m", n));
                vet(channel, request, false)
            })
            .await
        }
        Scenario::VetHit => {
            let advisories = advisories.max(1);
            drive(&clients.party, load, move |channel, n| {
                let request =
                    vet_request(format!("b{run}-hit-{n}"), run.tokens("a", n % advisories));
                vet(channel, request, true)
            })
            .await
        }
        Scenario::Publish => {
            drive(&clients.official, load, move |channel, n| {
                let request = publish_request(
                    format!("b{run}-pub-{n}"),
                    run.tokens("p", n),
                    advisories + n,
                );
                publish(channel, request)
            })
            .await
        }
        Scenario::VetBatch | Scenario::Notice | Scenario::AuditVerify | Scenario::Keyservice => {
            Err(Error::Usage(format!(
                "{} is not a unary scenario",
                scenario.name()
            )))
        }
    }
}

/// Sends up to `items` misses on one VetBatch stream, generated lazily, stopping new items
/// after `duration`. The latency of an item is from the moment the client library took it to
/// send to the moment its answer arrived (answers come in order).
pub(super) async fn vet_batch(
    channel: Channel,
    run: &Run,
    items: u64,
    duration: Duration,
    key_id: &'static str,
) -> Result<Outcome, Error> {
    let mut outcome = Outcome::new()?;
    let start = Instant::now();
    let deadline = start + duration;
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let run = run.clone();
    // Each stream of the run gets its own request ids and tokens.
    static STREAMS: AtomicU64 = AtomicU64::new(0);
    let tag = format!("s{}", STREAMS.fetch_add(1, Ordering::Relaxed));
    let requests = tokio_stream::iter(0..items)
        .take_while(move |_| Instant::now() < deadline)
        .map(move |i| {
            let _ = sent_tx.send(Instant::now());
            VetRequest {
                key_id: key_id.to_owned(),
                ..vet_request(format!("b{run}-{tag}-{i}"), run.tokens(&tag, i))
            }
        });
    let stream = match VettingServiceClient::new(channel).vet_batch(requests).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            outcome.record(Err(status_code(status)), Duration::ZERO);
            outcome.elapsed = start.elapsed();
            return Ok(outcome);
        }
    };
    // Answers still in flight at the deadline get this long to arrive.
    let give_up = tokio::time::Instant::from_std(deadline + Duration::from_secs(60));
    outcome
        .drain(stream, give_up, |_answer| {
            Ok(sent_rx
                .try_recv()
                .map(|sent| sent.elapsed())
                .unwrap_or_default())
        })
        .await?;
    outcome.elapsed = start.elapsed();
    Ok(outcome)
}

/// The latest checkpoint's size, as the auditor sees it (not signature-checked: it only
/// decides how many entries to add).
pub(super) async fn log_size(clients: &Clients) -> Result<u64, Error> {
    Ok(AuditServiceClient::new(clients.auditor.clone())
        .get_checkpoint(GetCheckpointRequest {})
        .await?
        .into_inner()
        .size)
}

/// Adds `entries` audit entries with VetBatch streams of at most `per_stream` items of `fill`.
pub(super) async fn fill_log(
    clients: &Clients,
    run: &Run,
    entries: u64,
    per_stream: u64,
    fill: LogFill,
) -> Result<(), Error> {
    let key_id = match fill {
        LogFill::Vets => crate::pki::DEV_MATCHING_KEY_ID,
        LogFill::Refusals => "bench-unknown-epoch",
    };
    let mut left = entries;
    while left > 0 {
        let n = left.min(per_stream);
        let o = vet_batch(
            clients.party[0].clone(),
            run,
            n,
            Duration::from_secs(3600),
            key_id,
        )
        .await?;
        if o.failed() > 0 {
            return Err(Error::Usage(format!(
                "growing the log failed: {}",
                errors_text(&o.errors)
            )));
        }
        left -= n.min(o.ok.max(1));
    }
    Ok(())
}

/// Verifies the whole log online as `portcullis audit verify` does: the latest checkpoint is
/// checked with the pinned development verifier key, then every entry up to its size is
/// replayed and checked against it. Stops after `max(10 × duration, 60 s)`.
pub(super) async fn audit_verify(channel: Channel, duration: Duration) -> Result<Outcome, Error> {
    let vkey = Config::dev_certs_dir().join("log.vkey");
    let text = std::fs::read_to_string(&vkey).map_err(|e| Error::io(&vkey, e))?;
    let verifier =
        NoteVerifier::parse(&text).map_err(|e| Error::Usage(format!("{}: {e}", vkey.display())))?;
    let audit = |e: VerifyError| Error::Audit(AuditError::from(e));
    let mut outcome = Outcome::new()?;
    let start = Instant::now();
    let give_up =
        tokio::time::Instant::from_std(start + (duration * 10).max(Duration::from_secs(60)));
    let mut client = AuditServiceClient::new(channel.clone());
    let answer = client
        .get_checkpoint(GetCheckpointRequest {})
        .await?
        .into_inner();
    let cp = verifier
        .verify(&answer.signed_note, None)
        .map_err(|e| audit(VerifyError::from(e)))?;
    let mut v = LogVerifier::new(cp.clone(), None).map_err(audit)?;
    if cp.size > 0 {
        let stream = crate::client::replay_leaves(channel, 0, cp.size).await?;
        let mut last = Instant::now();
        outcome
            .drain(stream, give_up, |record| {
                v.push(record.index, &record.leaf).map_err(audit)?;
                let now = Instant::now();
                let latency = now - last;
                last = now;
                Ok(latency)
            })
            .await?;
    }
    if outcome.failed() == 0 {
        v.finish().map_err(audit)?;
    }
    outcome.elapsed = start.elapsed();
    Ok(outcome)
}
