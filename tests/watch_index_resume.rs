//! The watch index is built behind the answers, from the audit log and the remembered answers
//! (issue #18): a Vet writes no per-token record. A notice still reaches every party request
//! recorded before an advisory change, when the index's last batches were lost in a crash and
//! it resumes from its durable position, and the background indexer catches up without any
//! advisory change.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use portcullis::proto::v1::{
    NoticeKind, Relation, RiskGrade, TokenKind, VetRequest, WatchNoticesRequest,
};

fn company_vet(id: &str) -> VetRequest {
    vet_request(id, vec![token(TokenKind::CompanyNumber, 0x31)])
}

#[tokio::test]
async fn an_index_lost_in_a_crash_resumes_and_every_notice_arrives() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let before_1 = alpha
        .vet(company_vet("before-1"))
        .await
        .unwrap()
        .into_inner();
    // An unrelated advisory change brings the index up to date (as every change does first).
    let mut official = gw.advisories("official").await;
    official
        .publish(publish_request(
            "p-other",
            vec![token(TokenKind::Email, 0x77)],
            RiskGrade::Low,
        ))
        .await
        .unwrap();
    let after_1 = alpha
        .vet(company_vet("after-1"))
        .await
        .unwrap()
        .into_inner();
    let mut linked_vet = vet_request("after-2", vec![token(TokenKind::Email, 0x55)]);
    linked_vet.case_reference = "DON/2026/0099".into();
    linked_vet.linked = vec![linked(
        "psc-1",
        Relation::Controller,
        vec![token(TokenKind::CompanyNumber, 0x31)],
    )];
    alpha.vet(linked_vet).await.unwrap();
    // A repeat is answered from the remembered answer and watched once.
    alpha.vet(company_vet("after-1")).await.unwrap();
    let dir = gw.stop().await;

    // The crash: the index's batches from `after-1` on never became durable.
    {
        let store = portcullis::store::Store::open(dir.path()).unwrap();
        let indexed = store.watches_indexed().unwrap();
        assert!(
            indexed > before_1.audit_index,
            "the publish indexed what came before it"
        );
        store
            .raw_rewind_watches(after_1.audit_index, &["after-1", "after-2"])
            .unwrap();
        let token = [&[TokenKind::CompanyNumber as u8][..], &[0x31; 32]].concat();
        let watching: BTreeSet<_> = store
            .watchers("dev-1", &token)
            .unwrap()
            .into_iter()
            .map(|w| w.request_id)
            .collect();
        assert_eq!(watching, BTreeSet::from(["before-1".to_owned()]));
    }

    let gw = TestGateway::restart(dir).await;
    let mut official = gw.advisories("official").await;
    let id = publish_id(
        &mut official,
        publish_request(
            "p-company",
            vec![token(TokenKind::CompanyNumber, 0x31)],
            RiskGrade::High,
        ),
    )
    .await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let mut notices = alpha
        .watch_notices(WatchNoticesRequest { after_cursor: 0 })
        .await
        .unwrap()
        .into_inner();
    let mut got = BTreeSet::new();
    for _ in 0..3 {
        let notice = tokio::time::timeout(Duration::from_secs(10), notices.message())
            .await
            .expect("a notice within 10 s")
            .unwrap()
            .expect("a notice");
        assert_eq!(notice.kind, NoticeKind::Published as i32);
        assert_eq!(notice.advisory.as_ref().unwrap().advisory_id, id);
        got.insert((notice.request_id, notice.via, notice.case_reference));
    }
    assert_eq!(
        got,
        BTreeSet::from([
            ("after-1".into(), "".into(), "CASE-1".into()),
            ("after-2".into(), "psc-1".into(), "DON/2026/0099".into()),
            ("before-1".into(), "".into(), "CASE-1".into()),
        ])
    );
    let more = tokio::time::timeout(Duration::from_millis(300), notices.message()).await;
    assert!(more.is_err(), "one notice per request and path: {more:?}");
}

#[tokio::test]
async fn the_background_indexer_catches_up_without_an_advisory_change() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let mut last = 0;
    for i in 0..20 {
        last = alpha
            .vet(company_vet(&format!("bg-{i}")))
            .await
            .unwrap()
            .into_inner()
            .audit_index;
    }
    let store = gw.running.store();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while store.watches_indexed().unwrap() <= last {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the background indexer did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = [&[TokenKind::CompanyNumber as u8][..], &[0x31; 32]].concat();
    assert_eq!(store.watchers("dev-1", &token).unwrap().len(), 20);
}
