//! The gateway's background tasks, each repeated on its own period until the gateway is gone or
//! closing: announcing advisory expiries, and keeping the watch index close behind the log.
//! A failed round is logged (by error kind, never by content) and tried again next period.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::watch_index::INDEX_INTERVAL;
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

/// Keeps the watch index close behind the log, every `INDEX_INTERVAL` (100 ms), so that an advisory
/// change rarely has more than a moment of the log to index first
/// ([`Gateway::catch_up_watches`]).
pub async fn follow_log(gateway: Weak<Gateway>) {
    every(
        gateway,
        INDEX_INTERVAL,
        "indexing watched requests",
        |g| async move { g.catch_up_watches().await.map(drop) },
    )
    .await
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
