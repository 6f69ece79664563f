//! The `notice` scenario: how long a party waits for the notice of an advisory change. Notices
//! are computed behind the change by the notice sweep, which reads every remembered answer,
//! so this is the figure that grows with what is stored (see `--log-entries`).

use std::time::{Duration, Instant};

use tonic::transport::Channel;

use super::load::{status_code, Outcome};
use super::requests::{publish_request, vet_request, Run};
use super::scenarios::publish;
use crate::proto::v1::vetting_service_client::VettingServiceClient;
use crate::proto::v1::{Notice, WatchNoticesRequest};
use crate::Error;

/// The longest a round waits for its notice before it counts as `NOTICE_TIMEOUT`.
const NOTICE_WAIT: Duration = Duration::from_secs(60);

/// The most rounds, whatever the duration.
const MAX_ROUNDS: u64 = 1_000;

/// One round at a time until `duration` passes: the party vets a subject with fresh tokens,
/// the official publishes an advisory on the same tokens, and the latency is from the moment
/// the Publish is sent to the moment the party's notice for that request arrives on its
/// WatchNotices stream (opened once, before the first round; notices of other requests are
/// passed over).
pub(super) async fn notice_latency(
    party: Channel,
    official: Channel,
    run: &Run,
    advisories: u64,
    duration: Duration,
) -> Result<Outcome, Error> {
    let mut outcome = Outcome::new()?;
    let start = Instant::now();
    let mut vetting = VettingServiceClient::new(party);
    let mut notices = vetting
        .watch_notices(WatchNoticesRequest { after_cursor: 0 })
        .await?
        .into_inner();
    for n in 0..MAX_ROUNDS {
        if start.elapsed() >= duration {
            break;
        }
        let tokens = run.tokens("n", n);
        let request_id = format!("b{run}-watch-{n}");
        if let Err(status) = vetting
            .vet(vet_request(request_id.clone(), tokens.clone()))
            .await
        {
            outcome.record(Err(status_code(status)), Duration::ZERO);
            continue;
        }
        let sent = Instant::now();
        let request = publish_request(format!("b{run}-npub-{n}"), tokens, advisories + n);
        if let Err(code) = publish(official.clone(), request).await {
            outcome.record(Err(code), Duration::ZERO);
            continue;
        }
        let arrived = tokio::time::timeout(NOTICE_WAIT, async {
            loop {
                match notices.message().await {
                    Ok(Some(Notice {
                        request_id: got, ..
                    })) if got == request_id => return Ok(()),
                    Ok(Some(_)) => continue,
                    Ok(None) => return Err("STREAM_ENDED".to_owned()),
                    Err(status) => return Err(status_code(status)),
                }
            }
        })
        .await;
        match arrived {
            Ok(Ok(())) => outcome.record(Ok(()), sent.elapsed()),
            Ok(Err(code)) => {
                // The stream is gone: no later round could see its notice.
                outcome.record(Err(code), Duration::ZERO);
                break;
            }
            Err(_) => {
                outcome.record(Err("NOTICE_TIMEOUT".to_owned()), Duration::ZERO);
                break;
            }
        }
    }
    outcome.elapsed = start.elapsed();
    Ok(outcome)
}
