//! The transport limits of issue #16 are hot-reloadable: a reload applies them to the next
//! connection, except `max_concurrent_streams` (announced in each connection's SETTINGS and
//! fixed at start-up), whose change is refused with the key named.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test]
async fn a_reload_applies_the_transport_limits_to_new_connections() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(dir.path());
    let gw = TestGateway {
        running: portcullis::server::start(config.clone()).await.unwrap(),
        dir,
    };
    let addr = gw.running.addr();
    let alpha = raw_tls::config("alpha-officer");
    let mut first = raw_tls::connect(addr, alpha.clone()).await.unwrap();
    assert!(raw_tls::speaks_http2(&mut first).await);
    let mut second = raw_tls::connect(addr, alpha.clone()).await.unwrap();
    assert!(
        raw_tls::speaks_http2(&mut second).await,
        "both allowed by the default cap"
    );

    let mut tighter = config.clone();
    tighter.transport.max_connections_per_cert = 2;
    gw.running.reload(&tighter).unwrap();
    let mut third = raw_tls::connect(addr, alpha.clone()).await.unwrap();
    assert!(
        raw_tls::closed_within(&mut third, Duration::from_secs(5)).await,
        "a third connection of the certificate is over the reloaded cap"
    );
    drop(first);
    drop(second);
    // Once the server has seen them close, the certificate may connect again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while gw.running.connection_counts().1 > 0 {
        assert!(tokio::time::Instant::now() < deadline, "connections close");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut again = raw_tls::connect(addr, alpha).await.unwrap();
    assert!(raw_tls::speaks_http2(&mut again).await);

    let mut streams = tighter.clone();
    streams.transport.max_concurrent_streams = 9;
    let e = gw.running.reload(&streams).unwrap_err().to_string();
    assert!(e.contains("transport.max_concurrent_streams"), "{e}");
}
