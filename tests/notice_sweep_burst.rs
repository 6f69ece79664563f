//! A burst of advisory changes queued at once (here: left queued by a crash) is swept in one
//! pass: every notice arrives once, in change order, under the party's cursors 1, 2, 3, …, and
//! each audit entry of the sweep lists at most 256 changes.

mod common;

use std::time::Duration;

use common::*;
use portcullis::proto::v1::{RiskGrade, TokenKind, WatchNoticesRequest};
use portcullis::store::Changes;

const CHANGES: usize = 300;

#[tokio::test]
async fn a_burst_of_queued_changes_sends_every_notice_in_change_order() {
    // Publications beyond the default rate limit, as a bulk import of advisories would send.
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.limits.publish = portcullis::limits::Rate {
        per_sec: 10_000.0,
        burst: 10_000.0,
    };
    let running = portcullis::server::start(config).await.unwrap();
    let gw = TestGateway { running, dir };
    let mut alpha = gw.vetting("alpha-officer").await;
    alpha
        .vet(vet_request(
            "watched",
            vec![token(TokenKind::CompanyNumber, 0x42)],
        ))
        .await
        .unwrap();
    let mut official = gw.advisories("official").await;
    let mut published = Vec::new();
    for i in 0..CHANGES {
        let advisory = official
            .publish(publish_request(
                &format!("burst-{i}"),
                vec![token(TokenKind::CompanyNumber, 0x42)],
                RiskGrade::Low,
            ))
            .await
            .unwrap()
            .into_inner()
            .advisory
            .unwrap();
        published.push(advisory);
    }
    // Wait until every notice was sent, then stop.
    let store = gw.running.store();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while store.last_notice_cursor("alpha").unwrap() < CHANGES as u64 {
        assert!(tokio::time::Instant::now() < deadline, "notices not sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let publish_indexes: Vec<u64> = gw
        .all_entries()
        .iter()
        .filter(|e| e.method.ends_with("/Publish"))
        .map(|e| e.index)
        .collect();
    assert_eq!(publish_indexes.len(), CHANGES);
    let before_restart = gw.all_entries().len() as u64;
    let dir = gw.stop().await;

    // The crash: every publication durable, none of the sweeps.
    {
        let store = portcullis::store::Store::open(dir.path()).unwrap();
        let mut changes = Changes::new();
        for (cursor, (index, advisory)) in publish_indexes.iter().zip(&published).enumerate() {
            store.raw_remove_notice("alpha", cursor as u64 + 1).unwrap();
            changes.queue_notices(*index, &publication_job(advisory));
        }
        store.raw_apply(changes).unwrap();
        assert_eq!(store.last_notice_cursor("alpha").unwrap(), 0);
        assert_eq!(store.notice_jobs(1_000).unwrap().len(), CHANGES);
    }

    let gw = TestGateway::restart(dir).await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let mut stream = alpha
        .watch_notices(WatchNoticesRequest { after_cursor: 0 })
        .await
        .unwrap()
        .into_inner();
    for (i, advisory) in published.iter().enumerate() {
        let notice = tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .expect("a notice within 30 s")
            .unwrap()
            .expect("a notice");
        assert_eq!(notice.cursor, i as u64 + 1);
        assert_eq!(notice.request_id, "watched");
        assert_eq!(
            notice.advisory.as_ref().unwrap().advisory_id,
            advisory.advisory_id,
            "notice {i} is of change {i}"
        );
    }
    let more = tokio::time::timeout(Duration::from_millis(300), stream.message()).await;
    assert!(more.is_err(), "each notice once: {more:?}");
    assert!(gw.running.store().notice_jobs(10).unwrap().is_empty());

    // The restart's sweep: one pass, committed as 256 changes and then 44.
    let sweeps: Vec<_> = gw
        .all_entries()
        .into_iter()
        .filter(|e| e.index >= before_restart && e.method == portcullis::domain::NOTIFY_METHOD)
        .collect();
    let details: Vec<&str> = sweeps.iter().map(|e| e.detail.as_str()).collect();
    assert_eq!(
        details,
        [
            "256 notices for 256 advisory changes",
            "44 notices for 44 advisory changes"
        ]
    );
    assert_eq!(sweeps[0].advisory_ids.len(), 256);
    assert_eq!(sweeps[1].advisory_ids.len(), 44);
}
