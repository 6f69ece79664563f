//! Linked subjects are remembered like the subject (api.md v2): an identical repeat gets the
//! original answer, a repeat with other linked subjects is ALREADY_EXISTS, and a later advisory
//! on a controller produces a notice that names the path (`via`) and the party's own file
//! (`case_reference`).

mod common;

use std::time::Duration;

use common::*;
use portcullis::proto::v1::{
    NoticeKind, Relation, RiskGrade, TokenKind, VetRequest, WatchNoticesRequest,
};
use tonic::Code;

fn request(id: &str) -> VetRequest {
    let mut r = vet_request(id, vec![token(TokenKind::CompanyNumber, 0x21)]);
    r.case_reference = "DON/2026/0042".into();
    r.linked = vec![
        linked(
            "psc-1",
            Relation::Controller,
            person("Viktor Petrov", "1966-03"),
        ),
        linked(
            "psc-2",
            Relation::Controller,
            person("Jane Smith", "1970-05"),
        ),
    ];
    r
}

#[tokio::test]
async fn repeats_cover_linked_subjects() {
    let gw = TestGateway::start().await;
    let mut official = gw.advisories("official").await;
    official
        .publish(publish_request(
            "p-1",
            person("Viktor Petrov", "1966-03-14"),
            RiskGrade::High,
        ))
        .await
        .unwrap();
    let mut alpha = gw.vetting("alpha-officer").await;
    let first = alpha.vet(request("rep-1")).await.unwrap().into_inner();
    assert_eq!(first.grade, RiskGrade::High as i32);
    assert_eq!(first.subject_grade, RiskGrade::NoTrace as i32);
    let again = alpha.vet(request("rep-1")).await.unwrap().into_inner();
    assert_eq!(
        again, first,
        "the original answer, audit index and time included"
    );

    // The same id with other linked subjects: a different relation, a missing link, a
    // renamed label.
    let mut relation = request("rep-1");
    relation.linked[1].relation = Relation::Officer as i32;
    let mut fewer = request("rep-1");
    fewer.linked.pop();
    let mut label = request("rep-1");
    label.linked[0].label = "psc-9".into();
    for other in [relation, fewer, label] {
        let status = alpha.vet(other).await.unwrap_err();
        assert_eq!(status.code(), Code::AlreadyExists);
        assert_eq!(
            status.message(),
            "request_id: already used by this party with different content"
        );
    }
    // A request without links keeps its own identity too.
    let mut bare = request("rep-1");
    bare.linked.clear();
    assert_eq!(
        alpha.vet(bare).await.unwrap_err().code(),
        Code::AlreadyExists
    );
}

#[tokio::test]
async fn a_later_advisory_on_a_controller_notifies_the_party_naming_the_path() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let first = alpha.vet(request("watch-1")).await.unwrap().into_inner();
    assert_eq!(first.grade, RiskGrade::NoTrace as i32);

    // Weeks later, the security service publishes on the second controller.
    let mut official = gw.advisories("official").await;
    let id = official
        .publish(publish_request(
            "p-smith",
            person("SMITH, Jane", "1970-05-02"),
            RiskGrade::Moderate,
        ))
        .await
        .unwrap()
        .into_inner()
        .advisory
        .unwrap()
        .advisory_id;

    let mut notices = alpha
        .watch_notices(WatchNoticesRequest { after_cursor: 0 })
        .await
        .unwrap()
        .into_inner();
    let notice = tokio::time::timeout(Duration::from_secs(5), notices.message())
        .await
        .expect("a notice within 5 s")
        .unwrap()
        .expect("a notice");
    assert_eq!(notice.kind, NoticeKind::Published as i32);
    assert_eq!(notice.request_id, "watch-1");
    assert_eq!(notice.case_reference, "DON/2026/0042");
    assert_eq!(notice.via, "psc-2");
    assert_eq!(notice.advisory.unwrap().advisory_id, id);
    // Only one: the other controller and the company do not match.
    let more = tokio::time::timeout(Duration::from_millis(300), notices.message()).await;
    assert!(more.is_err(), "no second notice: {more:?}");

    // A notice about the subject itself has an empty via and the same case reference.
    official
        .publish(publish_request(
            "p-co",
            vec![token(TokenKind::CompanyNumber, 0x21)],
            RiskGrade::Low,
        ))
        .await
        .unwrap();
    let notice = tokio::time::timeout(Duration::from_secs(5), notices.message())
        .await
        .expect("a notice within 5 s")
        .unwrap()
        .expect("a notice");
    assert_eq!(notice.via, "");
    assert_eq!(notice.case_reference, "DON/2026/0042");
}

#[tokio::test]
async fn a_token_on_the_subject_and_a_link_gives_one_notice_per_path() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    // The money came from the donor's own account: the same token on two paths.
    let wallet = vec![token(TokenKind::CryptoWallet, 0x44)];
    let mut r = vet_request("both-1", wallet.clone());
    r.linked = vec![linked("funds", Relation::FundingSource, wallet.clone())];
    alpha.vet(r).await.unwrap();

    let mut official = gw.advisories("official").await;
    official
        .publish(publish_request("p-w", wallet, RiskGrade::High))
        .await
        .unwrap();
    let mut notices = alpha
        .watch_notices(WatchNoticesRequest { after_cursor: 0 })
        .await
        .unwrap()
        .into_inner();
    let mut via = Vec::new();
    for _ in 0..2 {
        let n = tokio::time::timeout(Duration::from_secs(5), notices.message())
            .await
            .expect("a notice within 5 s")
            .unwrap()
            .expect("a notice");
        assert_eq!(n.request_id, "both-1");
        assert_eq!(n.case_reference, "CASE-1");
        via.push(n.via);
    }
    via.sort();
    assert_eq!(via, ["", "funds"]);
    let more = tokio::time::timeout(Duration::from_millis(300), notices.message()).await;
    assert!(more.is_err(), "exactly two notices: {more:?}");
}
