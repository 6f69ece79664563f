//! Notice cursors reveal nothing about other parties (issue #16, attack 2). A cursor used to
//! be (audit index << 24 | a counter shared by every party), so a party whose notice had low
//! bits 3 learnt that three other requests matched the same advisory. Cursors are now each
//! party's own sequence: 1, 2, 3, … whatever the others do; resuming after one still misses
//! nothing, also across a restart.

mod common;

use std::time::Duration;

use common::*;
use portcullis::proto::v1::{
    Notice, NoticeKind, ReviseRequest, RiskGrade, TokenKind, WatchNoticesRequest,
};
use tonic::Streaming;

/// The next message, waiting at most `secs` seconds.
async fn next<T>(s: &mut Streaming<T>, secs: u64) -> Option<T> {
    match tokio::time::timeout(Duration::from_secs(secs), s.message()).await {
        Ok(r) => r.unwrap(),
        Err(_) => None,
    }
}

/// Every notice of `who` after `after` that arrives within a second of the previous one.
async fn drain(gw: &TestGateway, who: &str, after: u64) -> Vec<Notice> {
    let mut stream = gw
        .vetting(who)
        .await
        .watch_notices(WatchNoticesRequest {
            after_cursor: after,
        })
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(n) = next(&mut stream, 1).await {
        out.push(n);
        assert!(out.len() <= 64, "bounded");
    }
    out
}

fn revise(id: &str, expected_version: u32) -> ReviseRequest {
    ReviseRequest {
        advisory_id: id.to_owned(),
        expected_version,
        grade: RiskGrade::Severe as i32,
        likelihood: 5,
        handling: 0,
        guidance: "Escalated.".into(),
        audience: vec![],
        applies_to: vec![],
        valid_until: None,
        internal_reference: String::new(),
    }
}

#[tokio::test]
async fn cursors_are_per_party_and_resume_across_a_restart() {
    let gw = TestGateway::start().await;
    let subject = vec![token(TokenKind::TravelDocument, 0x71)];
    // Beta vets the subject three times, alpha once, after unrelated traffic that moves the
    // audit index.
    let mut beta = gw.vetting("beta-officer").await;
    for i in 0..3 {
        beta.vet(vet_request(&format!("beta-{i}"), subject.clone()))
            .await
            .unwrap();
    }
    let mut alpha = gw.vetting("alpha-officer").await;
    for i in 0..5 {
        alpha
            .vet(vet_request(
                &format!("noise-{i}"),
                vec![token(TokenKind::Email, i)],
            ))
            .await
            .unwrap();
    }
    alpha
        .vet(vet_request("alpha-req", subject.clone()))
        .await
        .unwrap();

    let mut official = gw.advisories("official").await;
    let id = official
        .publish(publish_request("p-1", subject.clone(), RiskGrade::High))
        .await
        .unwrap()
        .into_inner()
        .advisory
        .unwrap()
        .advisory_id;
    official.revise(revise(&id, 1)).await.unwrap();

    let alpha_notices = drain(&gw, "alpha-officer", 0).await;
    let cursors: Vec<u64> = alpha_notices.iter().map(|n| n.cursor).collect();
    assert_eq!(
        cursors,
        vec![1, 2],
        "alpha's cursors count alpha's own notices only: nothing of beta's three requests \
         or of the audit index"
    );
    assert_eq!(alpha_notices[0].kind, NoticeKind::Published as i32);
    assert_eq!(alpha_notices[1].kind, NoticeKind::Revised as i32);

    let beta_notices = drain(&gw, "beta-officer", 0).await;
    let cursors: Vec<u64> = beta_notices.iter().map(|n| n.cursor).collect();
    assert_eq!(cursors, vec![1, 2, 3, 4, 5, 6], "beta's own sequence");
    assert!(beta_notices
        .iter()
        .all(|n| n.request_id.starts_with("beta-")));

    // Resuming after a cursor gives exactly what followed it.
    let resumed = drain(&gw, "alpha-officer", 1).await;
    assert_eq!(resumed, alpha_notices[1..].to_vec());

    // The sequence is durable: after a restart it continues where it stopped.
    let dir = gw.stop().await;
    let gw = TestGateway::restart(dir).await;
    let mut official = gw.advisories("official").await;
    official
        .withdraw(portcullis::proto::v1::WithdrawRequest {
            advisory_id: id.clone(),
            expected_version: 2,
            reason: "retracted".into(),
        })
        .await
        .unwrap();
    let after_restart = drain(&gw, "alpha-officer", 2).await;
    assert_eq!(after_restart.len(), 1, "{after_restart:?}");
    assert_eq!(after_restart[0].cursor, 3);
    assert_eq!(after_restart[0].kind, NoticeKind::Withdrawn as i32);
    let all = drain(&gw, "alpha-officer", 0).await;
    assert_eq!(
        all.iter().map(|n| n.cursor).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
}
