//! Idle connections are closed, watches are not (issue #16, attack 4: a valid certificate
//! holding connections open for nothing). A connection with no call in progress for
//! `idle_timeout_ms` is closed and counted; a call in progress, including a long watch stream
//! that receives nothing, keeps its connection.

mod common;

use std::time::Duration;

use common::*;
use portcullis::proto::v1::{TokenKind, WatchNoticesRequest};

/// Waits (bounded) until the gateway has `want` established connections.
async fn open_connections_become(gw: &TestGateway, want: usize) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if gw.running.connection_counts().1 == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn idle_connections_close_and_watches_stay() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config.transport.idle_timeout = Duration::from_secs(1);
    let gw = TestGateway {
        running: portcullis::server::start(config).await.unwrap(),
        dir,
    };

    let mut alpha = gw.vetting("alpha-officer").await;
    alpha
        .vet(vet_request("first", vec![token(TokenKind::Email, 1)]))
        .await
        .unwrap();
    assert!(
        open_connections_become(&gw, 0).await,
        "an idle connection is closed"
    );
    assert!(
        raw_tls::metrics_show(
            "portcullis_connections_refused_total{reason=\"idle_timeout\"}",
            Duration::from_secs(5)
        )
        .await
    );
    // The client reconnects on its next call.
    alpha
        .vet(vet_request("second", vec![token(TokenKind::Email, 2)]))
        .await
        .expect("the client reconnects after an idle close");
    assert!(open_connections_become(&gw, 0).await);

    // A watch that receives nothing for three idle timeouts keeps its connection.
    let mut watch = gw
        .vetting("beta-officer")
        .await
        .watch_notices(WatchNoticesRequest { after_cursor: 0 })
        .await
        .unwrap()
        .into_inner();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        gw.running.connection_counts().1,
        1,
        "the watching connection is open"
    );
    let quiet = tokio::time::timeout(Duration::from_millis(200), watch.message()).await;
    assert!(
        quiet.is_err(),
        "the stream is still open, with nothing to say"
    );
    drop(watch);
    assert!(
        open_connections_become(&gw, 0).await,
        "once the watch ends the connection idles out"
    );
}
