//! The gateway's background tasks, repeated until the gateway is gone or closing: announcing
//! advisory expiries every second, and sending the notices of queued advisory changes as soon as
//! they are queued. A failed round is logged (by error kind, never by content) and tried again.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::{Error, Gateway};

/// How often due expiries are announced.
const EXPIRY_INTERVAL: Duration = Duration::from_secs(1);

/// Announces advisory expiries every second ([`Gateway::announce_expiries`]).
pub async fn announce_expiries(gateway: Weak<Gateway>) {
    every(
        gateway,
        EXPIRY_INTERVAL,
        "announcing expiries",
        |g| async move { g.announce_expiries().await.map(drop) },
    )
    .await
}

/// How long the notice sweep waits for a wake-up before looking at the queue anyway (jobs left
/// by a crash, a failed round).
const SWEEP_PERIOD: Duration = Duration::from_secs(1);

/// Sends the notices of queued advisory changes ([`Gateway::send_queued_notices`]) whenever a
/// change is queued. After a round it rests as long as the round took (at least 10 ms), so that
/// under a stream of advisory changes the sweep, which reads every remembered answer, takes at
/// most about half of one core and gathers the changes queued meanwhile into its next pass.
pub async fn sweep_notices(gateway: Weak<Gateway>) {
    let Some((queued, mut closing)) = gateway
        .upgrade()
        .map(|g| (g.notices_queued.clone(), g.closing()))
    else {
        return;
    };
    loop {
        let Some(g) = gateway.upgrade() else {
            return;
        };
        if *closing.borrow() {
            return;
        }
        let started = Instant::now();
        let more = match g.send_queued_notices().await {
            Ok(handled) => handled > 0,
            Err(e) => {
                tracing::warn!(error = %e, "sending notices failed; will retry");
                false
            }
        };
        drop(g);
        let rest = tokio::time::sleep(started.elapsed().max(Duration::from_millis(10)));
        tokio::select! {
            _ = rest => {}
            _ = closing.changed() => return,
        }
        if !more {
            // A wake-up given during the round is kept by `Notify` and ends this wait at once.
            tokio::select! {
                _ = queued.notified() => {}
                _ = tokio::time::sleep(SWEEP_PERIOD) => {}
                _ = closing.changed() => return,
            }
        }
    }
}

/// Runs `round` every `period` while the gateway exists and is not closing. The task holds only
/// a weak handle between rounds, so it never keeps a stopped gateway (and its audit log) alive.
async fn every<F, Fut>(gateway: Weak<Gateway>, period: Duration, what: &'static str, round: F)
where
    F: Fn(Arc<Gateway>) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(gateway) = gateway.upgrade() else {
            return;
        };
        if *gateway.closing().borrow() {
            return;
        }
        if let Err(e) = round(gateway).await {
            tracing::warn!(error = %e, "{what} failed; will retry");
        }
    }
}
