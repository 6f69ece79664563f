//! A valid certificate cannot exhaust the gateway's file descriptors with TLS connections that
//! never speak HTTP/2 (issue #16, attack 4). Before the fix such connections stayed open for
//! ever (19,985 of them reached the fd limit). Now established connections are capped per
//! certificate (and overall), and one that does not send the HTTP/2 preface within
//! `preface_timeout_ms` is closed; both are counted.

mod common;

use std::time::Duration;

use common::*;
use portcullis::proto::v1::TokenKind;

const PER_CERT: usize = 8;
const FLOOD: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tls_connections_are_capped_per_certificate_and_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config.transport.max_connections_per_cert = PER_CERT;
    config.transport.preface_timeout = Duration::from_secs(2);
    let gw = TestGateway {
        running: portcullis::server::start(config).await.unwrap(),
        dir,
    };
    let addr = gw.running.addr();
    let alpha = raw_tls::config("alpha-officer");

    // Alpha's certificate opens 40 TLS connections and never sends the preface.
    let mut flood = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        flood.push(raw_tls::connect(addr, alpha.clone()).await.unwrap());
    }
    // Another certificate is not affected while alpha's connections are held.
    gw.vetting("beta-officer")
        .await
        .vet(vet_request("beta-1", vec![token(TokenKind::Email, 1)]))
        .await
        .expect("another certificate vets while alpha's connections are held");

    // Every one of them is closed (bounded wait): the 32 over the cap at once, the 8 within
    // it when the preface timeout passes.
    let mut watching = tokio::task::JoinSet::new();
    for mut conn in flood {
        watching
            .spawn(async move { raw_tls::closed_within(&mut conn, Duration::from_secs(10)).await });
    }
    let mut closed = 0;
    while let Some(done) = watching.join_next().await {
        closed += usize::from(done.unwrap());
    }
    assert_eq!(closed, FLOOD, "no silent connection stays open");
    for (reason, n) in [
        ("cert_connection_cap", FLOOD - PER_CERT),
        ("preface_timeout", PER_CERT),
    ] {
        let line = format!("portcullis_connections_refused_total{{reason=\"{reason}\"}} {n}");
        assert!(
            raw_tls::metrics_show(&line, Duration::from_secs(5)).await,
            "{line}\n{}",
            portcullis::metrics::global().render()
        );
    }

    // Alpha's places are free again: a well-behaved alpha client connects and vets.
    gw.vetting("alpha-officer")
        .await
        .vet(vet_request("alpha-1", vec![token(TokenKind::Email, 2)]))
        .await
        .expect("alpha vets once its silent connections are gone");
    let (_, open) = gw.running.connection_counts();
    assert!(
        open <= 2,
        "only the two gRPC clients' connections remain: {open}"
    );
}
