//! Bad linked subjects over the real server: each is INVALID_ARGUMENT naming the field
//! (`linked[2].tokens[0].digest: …`), audited with the linked tokens and relation as sent, and
//! changes nothing (the request id stays free, no advisory is disclosed).

mod common;

use common::*;
use portcullis::proto::v1::{LinkedSubject, MatchToken, Relation, RiskGrade, TokenKind};
use tonic::Code;

fn ok_link(label: &str) -> LinkedSubject {
    linked(
        label,
        Relation::Controller,
        vec![token(TokenKind::Email, 7)],
    )
}

#[tokio::test]
async fn bad_linked_subjects_are_refused_naming_the_field_and_audited() {
    let gw = TestGateway::start().await;
    let mut official = gw.advisories("official").await;
    // An advisory every refused request would have matched through its links.
    official
        .publish(publish_request(
            "p-7",
            vec![token(TokenKind::Email, 7)],
            RiskGrade::High,
        ))
        .await
        .unwrap();
    let mut alpha = gw.vetting("alpha-officer").await;

    let mut short = ok_link("c");
    short.tokens = vec![MatchToken {
        kind: TokenKind::PersonNameBirthMonth as i32,
        digest: vec![1; 31],
    }];
    let mut unset = ok_link("b");
    unset.relation = Relation::Unspecified as i32;
    let mut unknown = ok_link("b");
    unknown.relation = 99;
    let cases: Vec<(Vec<LinkedSubject>, &str)> = vec![
        (
            vec![ok_link("psc-1"), ok_link("psc-1")],
            "linked[1].label: duplicate of linked[0].label",
        ),
        (vec![ok_link("a"), unset], "linked[1].relation: required"),
        (vec![unknown], "linked[0].relation: unknown value 99"),
        (
            (0..33).map(|i| ok_link(&format!("l{i}"))).collect(),
            "linked: at most 32 linked subjects, got 33",
        ),
        (
            vec![ok_link("a"), ok_link("b"), short],
            "linked[2].tokens[0].digest: must be 32 bytes, got 31",
        ),
        (
            vec![ok_link("Jane Smith")],
            "linked[0].label: only [A-Za-z0-9._-] allowed (your own reference, never a name)",
        ),
        (
            vec![linked("a", Relation::Officer, vec![])],
            "linked[0].tokens: at least one token is required",
        ),
    ];
    for (i, (links, message)) in cases.into_iter().enumerate() {
        let id = format!("bad-{i}");
        let mut req = vet_request(&id, vec![token(TokenKind::CompanyNumber, 3)]);
        req.linked = links.clone();
        let before = gw.entries().len();
        let status = alpha.vet(req).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{message}");
        assert_eq!(status.message(), message);

        let entries = gw.entries();
        assert_eq!(entries.len(), before + 1, "{message}: one audit entry");
        let entry = gw.last_entry();
        assert_eq!(entry.code, Code::InvalidArgument as i32);
        assert_eq!(entry.detail, message);
        assert_eq!(entry.request_id, id);
        assert_eq!(entry.grade, 0);
        assert!(
            entry.advisory_ids.is_empty(),
            "{message}: nothing disclosed"
        );
        // The linked subjects as sent: relation and tokens (at most 33 of them).
        assert_eq!(entry.linked.len(), links.len().min(33), "{message}");
        for (got, sent) in entry.linked.iter().zip(&links) {
            assert_eq!(got.relation, sent.relation);
            assert_eq!(got.tokens, sent.tokens);
        }

        // Nothing was remembered: the same id with good links is vetted afresh.
        let mut good = vet_request(&id, vec![token(TokenKind::CompanyNumber, 3)]);
        good.linked = vec![ok_link("psc-1")];
        let r = alpha.vet(good).await.unwrap().into_inner();
        assert_eq!(r.grade, RiskGrade::High as i32, "{message}");
        assert_eq!(r.matches[0].via, "psc-1");
    }
}
