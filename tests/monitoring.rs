//! Continuous monitoring over the real server: party notices after later changes to matching
//! advisories (publish, revise, withdraw, expiry), resumable without loss or duplicates and
//! never crossing parties; official hits only for matching vets (issue: bulk vetting and
//! continuous monitoring).

mod common;

use std::time::Duration;

use common::*;
use portcullis::proto::v1::{
    Hit, Notice, NoticeKind, ReviseRequest, RiskGrade, TokenKind, WatchHitsRequest,
    WatchNoticesRequest, WithdrawRequest,
};
use tonic::Streaming;

/// The next message, waiting at most `secs` seconds.
async fn next<T>(s: &mut Streaming<T>, secs: u64) -> Option<T> {
    match tokio::time::timeout(Duration::from_secs(secs), s.message()).await {
        Ok(r) => r.unwrap(),
        Err(_) => None,
    }
}

async fn notices(gw: &TestGateway, who: &str, after: u64) -> Streaming<Notice> {
    gw.vetting(who)
        .await
        .watch_notices(WatchNoticesRequest {
            after_cursor: after,
        })
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn notices_follow_publish_revise_withdraw_and_resume_exactly_once() {
    let gw = TestGateway::start().await;
    let subject = vec![token(TokenKind::TravelDocument, 0x51)];
    let mut alpha = gw.vetting("alpha-officer").await;
    let miss = alpha
        .vet(vet_request("alpha-req", subject.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(miss.grade, RiskGrade::NoTrace as i32);
    // Beta vets something else.
    gw.vetting("beta-officer")
        .await
        .vet(vet_request("beta-req", vec![token(TokenKind::Email, 0x52)]))
        .await
        .unwrap();

    let mut official = gw.advisories("official").await;
    let rec = official
        .publish(publish_request("p-1", subject.clone(), RiskGrade::High))
        .await
        .unwrap()
        .into_inner();
    let id = rec.advisory.unwrap().advisory_id;

    let mut watch = notices(&gw, "alpha-officer", 0).await;
    let published = next(&mut watch, 5).await.expect("a PUBLISHED notice");
    assert_eq!(published.kind, NoticeKind::Published as i32);
    assert_eq!(published.request_id, "alpha-req");
    assert_eq!(published.advisory.as_ref().unwrap().advisory_id, id);
    assert_eq!(
        published.advisory.as_ref().unwrap().grade,
        RiskGrade::High as i32
    );

    // A live watcher gets the revision as it happens.
    official
        .revise(ReviseRequest {
            advisory_id: id.clone(),
            expected_version: 1,
            grade: RiskGrade::Severe as i32,
            likelihood: 5,
            handling: 0,
            guidance: "Escalated.".into(),
            audience: vec![],
            applies_to: vec![],
            valid_until: None,
            internal_reference: String::new(),
        })
        .await
        .unwrap();
    let revised = next(&mut watch, 5).await.expect("a REVISED notice");
    assert_eq!(revised.kind, NoticeKind::Revised as i32);
    assert_eq!(revised.advisory.as_ref().unwrap().version, 2);
    assert!(revised.cursor > published.cursor);
    drop(watch);

    // Disconnected: the withdrawal is stored and waits for the party.
    official
        .withdraw(WithdrawRequest {
            advisory_id: id.clone(),
            expected_version: 2,
            reason: "retracted".into(),
        })
        .await
        .unwrap();
    let mut resumed = notices(&gw, "alpha-officer", published.cursor).await;
    let again = next(&mut resumed, 5).await.unwrap();
    assert_eq!(
        again, revised,
        "resuming after PUBLISHED gives REVISED once"
    );
    let withdrawn = next(&mut resumed, 5).await.unwrap();
    assert_eq!(withdrawn.kind, NoticeKind::Withdrawn as i32);
    assert!(
        next(&mut resumed, 1).await.is_none(),
        "nothing twice, nothing extra"
    );

    // Beta's request never matched: beta receives nothing, and never alpha's notices.
    let mut beta = notices(&gw, "beta-officer", 0).await;
    assert!(next(&mut beta, 1).await.is_none());

    // Every delivered notice is audited with the party's request id.
    let delivered: Vec<_> = gw
        .entries()
        .into_iter()
        .filter(|e| e.method.ends_with("/WatchNotices") && e.detail.starts_with("notice"))
        .collect();
    assert_eq!(
        delivered.len(),
        4,
        "published, revised, and revised+withdrawn after resuming"
    );
    assert!(delivered.iter().all(|e| e.request_id == "alpha-req"));
    assert!(delivered
        .iter()
        .all(|e| e.actor.as_ref().unwrap().org == "alpha"));
}

#[tokio::test]
async fn audience_limits_notices_and_expiry_is_announced() {
    let gw = TestGateway::start().await;
    let subject = vec![token(TokenKind::CryptoWallet, 0x61)];
    for who in ["alpha-officer", "beta-officer"] {
        gw.vetting(who)
            .await
            .vet(vet_request("same-subject", subject.clone()))
            .await
            .unwrap();
    }
    let mut official = gw.advisories("official").await;
    let mut p = publish_request("p-exp", subject.clone(), RiskGrade::Moderate);
    p.audience = vec!["beta".into()];
    p.valid_until = Some(prost_types::Timestamp::from(
        std::time::SystemTime::now() + Duration::from_millis(1200),
    ));
    official.publish(p).await.unwrap();

    let mut beta = notices(&gw, "beta-officer", 0).await;
    let first = next(&mut beta, 5).await.unwrap();
    assert_eq!(first.kind, NoticeKind::Published as i32);
    // The expiry task announces within a few seconds of valid_until, with no call arriving.
    let expired = next(&mut beta, 8).await.expect("an EXPIRED notice");
    assert_eq!(expired.kind, NoticeKind::Expired as i32);
    assert_eq!(expired.request_id, "same-subject");

    let mut alpha = notices(&gw, "alpha-officer", 0).await;
    assert!(
        next(&mut alpha, 1).await.is_none(),
        "alpha is not in the audience"
    );
}

#[tokio::test]
async fn hits_reach_the_owning_unit_only_for_matches() {
    let gw = TestGateway::start().await;
    let mut official = gw.advisories("official").await;
    let rec = official
        .publish(publish_request(
            "p-hit",
            person("Boris Orlov", "1958-03-03"),
            RiskGrade::High,
        ))
        .await
        .unwrap()
        .into_inner();
    let id = rec.advisory.unwrap().advisory_id;
    let mut alpha = gw.vetting("alpha-officer").await;
    alpha
        .vet(vet_request("miss", vec![token(TokenKind::Email, 0x71)]))
        .await
        .unwrap();
    let hit_vet = alpha
        .vet(vet_request("hit", person("Boris Orlov", "1958-03-03")))
        .await
        .unwrap()
        .into_inner();

    let mut hits: Streaming<Hit> = official
        .watch_hits(WatchHitsRequest { after_cursor: 0 })
        .await
        .unwrap()
        .into_inner();
    let h = next(&mut hits, 5).await.expect("a hit");
    assert_eq!(h.advisory_id, id);
    assert_eq!(h.advisory_version, 1);
    assert_eq!(h.party, "alpha");
    assert_eq!(h.audit_index, hit_vet.audit_index);
    assert_eq!(
        h.matched_on,
        vec![
            TokenKind::PersonNameDob as i32,
            TokenKind::PersonNameYob as i32,
            TokenKind::PersonNameBirthMonth as i32
        ]
    );
    assert!(next(&mut hits, 1).await.is_none(), "the miss is not a hit");

    // A live hit arrives while watching; resuming after it gives nothing more.
    gw.vetting("beta-officer")
        .await
        .vet(vet_request("hit-2", person("Boris Orlov", "1958-03-03")))
        .await
        .unwrap();
    let h2 = next(&mut hits, 5).await.expect("a live hit");
    assert_eq!(h2.party, "beta");
    drop(hits);
    let mut resumed = official
        .watch_hits(WatchHitsRequest {
            after_cursor: h2.cursor,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(next(&mut resumed, 1).await.is_none());

    // Parties cannot watch hits.
    let e = gw
        .advisories("alpha-officer")
        .await
        .watch_hits(WatchHitsRequest { after_cursor: 0 })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
}

#[tokio::test]
async fn shutdown_ends_open_watch_streams() {
    let gw = TestGateway::start().await;
    let mut watch = notices(&gw, "alpha-officer", 0).await;
    let stop = tokio::spawn(async move { gw.stop().await });
    let end = tokio::time::timeout(Duration::from_secs(10), watch.message()).await;
    assert!(
        end.is_ok(),
        "the stream ends instead of holding the server open"
    );
    tokio::time::timeout(Duration::from_secs(10), stop)
        .await
        .expect("shutdown completes")
        .unwrap();
}

#[tokio::test]
async fn extreme_cursors_are_harmless() {
    let gw = TestGateway::start().await;
    gw.vetting("alpha-officer")
        .await
        .vet(vet_request("r", vec![token(TokenKind::Email, 0x33)]))
        .await
        .unwrap();
    let mut watch = notices(&gw, "alpha-officer", u64::MAX).await;
    assert!(next(&mut watch, 1).await.is_none());
    let mut hits = gw
        .advisories("official")
        .await
        .watch_hits(WatchHitsRequest {
            after_cursor: u64::MAX,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(next(&mut hits, 1).await.is_none());
    // The gateway still answers.
    gw.vetting("alpha-officer")
        .await
        .vet(vet_request("r2", vec![token(TokenKind::Email, 0x34)]))
        .await
        .unwrap();
}
