//! Notices are computed behind advisory changes (issue #18): a change queues its notices with
//! its own audit entry and the notice sweep sends them. A change whose notices were not sent
//! before a crash sends them after the restart, exactly once, to the requests recorded before
//! it; requests vetted in a data directory of an earlier layout (per-token watch records) are
//! still notified.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use portcullis::proto::v1::{
    Advisory, Notice, NoticeKind, Relation, RiskGrade, TokenKind, VetRequest, WatchNoticesRequest,
};
use portcullis::store::{Changes, WatchBatch, WatchRecord};
use tonic::Streaming;

fn company_vet(id: &str) -> VetRequest {
    vet_request(id, vec![token(TokenKind::CompanyNumber, 0x31)])
}

fn company_token() -> Vec<u8> {
    [&[TokenKind::CompanyNumber as u8][..], &[0x31; 32]].concat()
}

async fn notices(gw: &TestGateway) -> Streaming<Notice> {
    let mut alpha = gw.vetting("alpha-officer").await;
    alpha
        .watch_notices(WatchNoticesRequest { after_cursor: 0 })
        .await
        .unwrap()
        .into_inner()
}

/// The next `n` notices, then nothing more for 300 ms.
async fn exactly(stream: &mut Streaming<Notice>, n: usize) -> Vec<Notice> {
    let mut got = Vec::new();
    for _ in 0..n {
        let notice = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("a notice within 10 s")
            .unwrap()
            .expect("a notice");
        got.push(notice);
    }
    let more = tokio::time::timeout(Duration::from_millis(300), stream.message()).await;
    assert!(more.is_err(), "one notice per request and path: {more:?}");
    got
}

async fn publish_company(gw: &TestGateway) -> Advisory {
    let mut official = gw.advisories("official").await;
    official
        .publish(publish_request(
            "p-company",
            vec![token(TokenKind::CompanyNumber, 0x31)],
            RiskGrade::High,
        ))
        .await
        .unwrap()
        .into_inner()
        .advisory
        .expect("the published advisory")
}

#[tokio::test]
async fn notices_not_sent_before_a_crash_are_sent_after_the_restart_exactly_once() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    alpha.vet(company_vet("before-1")).await.unwrap();
    let mut linked_vet = vet_request("before-2", vec![token(TokenKind::Email, 0x55)]);
    linked_vet.case_reference = "DON/2026/0099".into();
    linked_vet.linked = vec![linked(
        "psc-1",
        Relation::Controller,
        vec![token(TokenKind::CompanyNumber, 0x31)],
    )];
    alpha.vet(linked_vet).await.unwrap();
    let record = publish_company(&gw).await;
    let sent = exactly(&mut notices(&gw).await, 2).await;
    // Answered after the publication, with it: no notice.
    let after = alpha
        .vet(company_vet("after-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.grade, RiskGrade::High as i32);
    let publish_index = gw
        .all_entries()
        .iter()
        .position(|e| e.method.ends_with("/Publish"))
        .expect("the publication is audited") as u64;
    let sweep = gw
        .all_entries()
        .into_iter()
        .find(|e| e.method == portcullis::domain::NOTIFY_METHOD)
        .expect("the sweep is audited");
    assert_eq!(sweep.detail, "2 notices for 1 advisory change");
    assert_eq!(
        sweep.advisory_ids,
        std::slice::from_ref(&record.advisory_id)
    );
    let dir = gw.stop().await;

    // The crash: the publication's entry (and its queued job) became durable, the sweep's did
    // not.
    {
        let store = portcullis::store::Store::open(dir.path()).unwrap();
        assert!(
            store.notice_jobs(10).unwrap().is_empty(),
            "the job was done"
        );
        for n in &sent {
            store.raw_remove_notice("alpha", n.cursor).unwrap();
        }
        let mut changes = Changes::new();
        changes.queue_notices(publish_index, &publication_job(&record));
        store.raw_apply(changes).unwrap();
    }

    let gw = TestGateway::restart(dir).await;
    let resent = exactly(&mut notices(&gw).await, 2).await;
    let got: BTreeSet<_> = resent
        .iter()
        .map(|n| {
            assert_eq!(n.kind, NoticeKind::Published as i32);
            assert_eq!(n.advisory.as_ref().unwrap().advisory_id, record.advisory_id);
            (
                n.cursor,
                n.request_id.clone(),
                n.via.clone(),
                n.case_reference.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        BTreeSet::from([
            (1, "before-1".into(), "".into(), "CASE-1".into()),
            (2, "before-2".into(), "psc-1".into(), "DON/2026/0099".into()),
        ])
    );
    assert_eq!(resent, sent, "the same notices under the same cursors");
    assert!(gw.running.store().notice_jobs(10).unwrap().is_empty());
}

#[tokio::test]
async fn requests_vetted_under_an_earlier_layout_are_still_notified() {
    let gw = TestGateway::start().await;
    let dir = gw.stop().await;
    {
        // A Vet of an earlier layout: a watch record per token, no tokens in its answer.
        let store = portcullis::store::Store::open(dir.path()).unwrap();
        let mut batch = WatchBatch::new();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        batch.watch(
            "dev-1",
            &company_token(),
            "alpha",
            "legacy-1",
            &WatchRecord {
                subject_kind: portcullis::proto::v1::SubjectKind::DonorIndividual as i32,
                vetted_at: now - 3_600,
                case_reference: "OLD/1".into(),
                via: vec![],
            },
        );
        let mut changes = Changes::new();
        changes.watches(batch);
        store.raw_apply(changes).unwrap();
    }
    let gw = TestGateway::restart(dir).await;
    let record = publish_company(&gw).await;
    let got = exactly(&mut notices(&gw).await, 1).await;
    assert_eq!(got[0].request_id, "legacy-1");
    assert_eq!(got[0].case_reference, "OLD/1");
    assert_eq!(got[0].cursor, 1);
    assert_eq!(
        got[0].advisory.as_ref().unwrap().advisory_id,
        record.advisory_id
    );
}
