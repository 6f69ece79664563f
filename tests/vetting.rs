//! Vetting and advisory flows over the real server, end to end (issue: gateway core).

mod common;

use common::*;
use portcullis::proto::v1::{
    AdvisoryState, GetAdvisoryRequest, ListAdvisoriesRequest, MatchStrength, ReviseRequest,
    RiskGrade, SubjectKind, TokenKind, VetRequest, WithdrawRequest,
};
use portcullis::tokens::IdentityFields;
use tonic::Code;

const NAME: &str = "José García-Pérez";
const DOB: &str = "1971-04-12";

#[tokio::test]
async fn unknown_subject_then_published_then_revised_then_withdrawn() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let mut official = gw.advisories("official").await;

    // Unknown subject: NO_TRACE.
    let r = alpha
        .vet(vet_request("v-1", person(NAME, DOB)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.grade, RiskGrade::NoTrace as i32);
    assert!(r.matches.is_empty());
    assert_eq!(r.request_id, "v-1");
    assert!(r.decided_at.is_some());

    // The official publishes on the same person, written differently.
    let published = official
        .publish(publish_request(
            "p-1",
            person("GARCIA PEREZ, Jose", "12/04/1971"),
            RiskGrade::High,
        ))
        .await
        .unwrap()
        .into_inner();
    let adv = published.advisory.clone().unwrap();
    assert_eq!(adv.version, 1);
    assert_eq!(adv.state, AdvisoryState::Active as i32);
    assert_eq!(published.token_count, 3);
    assert_eq!(
        published.published_by,
        "spiffe://portcullis.dev/official/liaison/olivia"
    );
    assert_eq!(
        adv.handling,
        portcullis::proto::v1::Handling::TlpAmberStrict as i32
    );

    // Alpha vets again: HIGH, matched on both person tokens, STRONG.
    let r = alpha
        .vet(vet_request("v-2", person(NAME, DOB)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.grade, RiskGrade::High as i32);
    assert_eq!(r.matches.len(), 1);
    let m = &r.matches[0];
    assert_eq!(m.advisory.as_ref().unwrap().advisory_id, adv.advisory_id);
    assert_eq!(
        m.matched_on,
        vec![
            TokenKind::PersonNameDob as i32,
            TokenKind::PersonNameYob as i32,
            TokenKind::PersonNameBirthMonth as i32
        ]
    );
    assert_eq!(m.strength, MatchStrength::Strong as i32);

    // Revise to SEVERE: new version, new grade.
    let mut rev = ReviseRequest {
        advisory_id: adv.advisory_id.clone(),
        expected_version: 1,
        grade: RiskGrade::Severe as i32,
        likelihood: adv.likelihood,
        handling: adv.handling,
        guidance: "Do not accept.".into(),
        audience: vec![],
        applies_to: vec![],
        valid_until: None,
        internal_reference: String::new(),
    };
    let revised = official.revise(rev.clone()).await.unwrap().into_inner();
    let radv = revised.advisory.unwrap();
    assert_eq!(radv.version, 2);
    assert_eq!(revised.internal_reference, "OP-TEST", "kept when not given");
    let r = alpha
        .vet(vet_request("v-3", person(NAME, DOB)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.grade, RiskGrade::Severe as i32);
    assert_eq!(r.matches[0].advisory.as_ref().unwrap().version, 2);
    assert_eq!(
        r.matches[0].advisory.as_ref().unwrap().guidance,
        "Do not accept."
    );

    // A stale expected_version is ABORTED and changes nothing.
    rev.grade = RiskGrade::Low as i32;
    let e = official.revise(rev).await.unwrap_err();
    assert_eq!(e.code(), Code::Aborted);
    assert!(
        e.message().starts_with("expected_version"),
        "{}",
        e.message()
    );

    // Withdraw: version 3, NO_TRACE again.
    let withdrawn = official
        .withdraw(WithdrawRequest {
            advisory_id: adv.advisory_id.clone(),
            expected_version: 2,
            reason: "Source retracted".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let wadv = withdrawn.advisory.unwrap();
    assert_eq!(wadv.version, 3);
    assert_eq!(wadv.state, AdvisoryState::Withdrawn as i32);
    let r = alpha
        .vet(vet_request("v-4", person(NAME, DOB)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.grade, RiskGrade::NoTrace as i32);
    assert!(r.matches.is_empty());

    // The official still reads it, as withdrawn.
    let got = official
        .get_advisory(GetAdvisoryRequest {
            advisory_id: adv.advisory_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.advisory.unwrap().state, AdvisoryState::Withdrawn as i32);
}

#[tokio::test]
async fn audience_and_applies_to_limit_who_sees_what() {
    let gw = TestGateway::start().await;
    let mut official = gw.advisories("official").await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let mut beta = gw.vetting("beta-officer").await;

    let only_beta = {
        let mut p = publish_request(
            "p-beta",
            vec![token(TokenKind::Email, 1)],
            RiskGrade::Moderate,
        );
        p.audience = vec!["beta".into()];
        p
    };
    official.publish(only_beta).await.unwrap();
    let candidates_only = {
        let mut p = publish_request("p-cand", vec![token(TokenKind::Email, 2)], RiskGrade::High);
        p.applies_to = vec![SubjectKind::Candidate as i32];
        p
    };
    official.publish(candidates_only).await.unwrap();

    let r = alpha
        .vet(vet_request("a-1", vec![token(TokenKind::Email, 1)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.grade,
        RiskGrade::NoTrace as i32,
        "alpha is not in the audience"
    );
    let r = beta
        .vet(vet_request("b-1", vec![token(TokenKind::Email, 1)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.grade, RiskGrade::Moderate as i32);

    // applies_to: a donor is not matched, a candidate is.
    let r = alpha
        .vet(vet_request("a-2", vec![token(TokenKind::Email, 2)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.grade, RiskGrade::NoTrace as i32);
    let mut q = vet_request("a-3", vec![token(TokenKind::Email, 2)]);
    q.subject_kind = SubjectKind::Candidate as i32;
    let r = alpha.vet(q).await.unwrap().into_inner();
    assert_eq!(r.grade, RiskGrade::High as i32);
}

#[tokio::test]
async fn highest_grade_wins_and_strength_is_per_advisory() {
    let gw = TestGateway::start().await;
    let mut official = gw.advisories("official").await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let postcode = tokens(IdentityFields {
        name: Some("Ivan Petrov".into()),
        postcode: Some("sw1a 1aa".into()),
        ..Default::default()
    });
    let yob = tokens(IdentityFields {
        name: Some("Ivan Petrov".into()),
        dob: Some("1960".into()),
        ..Default::default()
    });
    official
        .publish(publish_request("p-low", postcode.clone(), RiskGrade::Low))
        .await
        .unwrap();
    official
        .publish(publish_request("p-sev", yob.clone(), RiskGrade::Severe))
        .await
        .unwrap();
    let mut both = postcode.clone();
    both.extend(yob.clone());
    let r = alpha
        .vet(vet_request("v-both", both))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.grade, RiskGrade::Severe as i32);
    assert_eq!(r.matches.len(), 2);
    assert_eq!(
        r.matches[0].advisory.as_ref().unwrap().grade,
        RiskGrade::Severe as i32
    );
    assert_eq!(r.matches[0].strength, MatchStrength::Weak as i32);
    assert_eq!(
        r.matches[1].advisory.as_ref().unwrap().grade,
        RiskGrade::Low as i32
    );
    assert_eq!(r.matches[1].strength, MatchStrength::Partial as i32);
}

#[tokio::test]
async fn expired_advisories_do_not_match() {
    let gw = TestGateway::start().await;
    let mut official = gw.advisories("official").await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let soon = std::time::SystemTime::now() + std::time::Duration::from_millis(300);
    let mut p = publish_request(
        "p-exp",
        vec![token(TokenKind::CryptoWallet, 9)],
        RiskGrade::High,
    );
    p.valid_until = Some(prost_types::Timestamp::from(soon));
    let rec = official.publish(p).await.unwrap().into_inner();
    let r = alpha
        .vet(vet_request("e-1", vec![token(TokenKind::CryptoWallet, 9)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.grade, RiskGrade::High as i32);
    // Wait (bounded) until the expiry instant has passed.
    while std::time::SystemTime::now() <= soon + std::time::Duration::from_millis(10) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let r = alpha
        .vet(vet_request("e-2", vec![token(TokenKind::CryptoWallet, 9)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.grade, RiskGrade::NoTrace as i32);
    let got = official
        .get_advisory(GetAdvisoryRequest {
            advisory_id: rec.advisory.unwrap().advisory_id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.advisory.unwrap().state, AdvisoryState::Expired as i32);
}

#[tokio::test]
async fn request_ids_are_idempotent_per_party() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let mut beta = gw.vetting("beta-officer").await;
    let mut official = gw.advisories("official").await;

    let first = alpha
        .vet(vet_request("same", person(NAME, DOB)))
        .await
        .unwrap()
        .into_inner();
    // An advisory published in between does not change the remembered answer.
    official
        .publish(publish_request("p-1", person(NAME, DOB), RiskGrade::High))
        .await
        .unwrap();
    let again = alpha
        .vet(vet_request("same", person(NAME, DOB)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again, "the original answer, audit index included");
    let repeat_entry = gw.last_entry();
    assert_eq!(repeat_entry.request_id, "same");
    assert_eq!(repeat_entry.code, 0);
    assert!(
        repeat_entry.index > first.audit_index,
        "the repeat is audited too"
    );

    // Different content under the same id: ALREADY_EXISTS, audited.
    let e = alpha
        .vet(vet_request("same", vec![token(TokenKind::Email, 3)]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
    assert!(e.message().starts_with("request_id"));
    assert_eq!(gw.last_entry().code, Code::AlreadyExists as i32);

    // Beta's "same" is a different request.
    let b = beta
        .vet(vet_request("same", person(NAME, DOB)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b.grade, RiskGrade::High as i32);

    // Publish is idempotent per official unit as well.
    let p1 = official
        .publish(publish_request("p-1", person(NAME, DOB), RiskGrade::High))
        .await
        .unwrap()
        .into_inner();
    let list = official
        .list_advisories(ListAdvisoriesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.advisories.len(), 1);
    assert_eq!(list.advisories[0].advisory, p1.advisory);
    let e = official
        .publish(publish_request("p-1", person(NAME, DOB), RiskGrade::Low))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn list_pages_through_every_advisory() {
    let gw = TestGateway::start().await;
    let mut official = gw.advisories("official").await;
    let mut ids = Vec::new();
    for i in 0..7u8 {
        let r = official
            .publish(publish_request(
                &format!("p-{i}"),
                vec![token(TokenKind::Email, i)],
                RiskGrade::Low,
            ))
            .await
            .unwrap()
            .into_inner();
        ids.push(r.advisory.unwrap().advisory_id);
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = official
            .list_advisories(ListAdvisoriesRequest {
                page_size: 3,
                page_token: page_token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.advisories.len() <= 3);
        seen.extend(
            page.advisories
                .iter()
                .map(|r| r.advisory.as_ref().unwrap().advisory_id.clone()),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
        assert!(pages < 10, "paging must terminate");
    }
    assert_eq!(seen, ids);
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn vet_with_every_token_kind_and_case_reference() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let all = tokens(IdentityFields {
        name: Some("Dr. Olga Smirnova".into()),
        dob: Some("1980-02-29".into()),
        postcode: Some("EC1A 1BB".into()),
        passport: Some("RUS:72 1234567".into()),
        company_number: Some("SC12345".into()),
        org_name: Some("Northern Lights Trading Ltd".into()),
        country: Some("GB".into()),
        wallet: Some("eth:0x52908400098527886E0F7030069857D2E4169EE7".into()),
        email: Some("Olga@Example.org".into()),
    });
    assert_eq!(all.len(), 9, "one token of every kind");
    let mut q: VetRequest = vet_request("all-kinds", all);
    q.case_reference = "DON/2026/001".into();
    let r = alpha.vet(q).await.unwrap().into_inner();
    assert_eq!(r.grade, RiskGrade::NoTrace as i32);
    let e = gw.last_entry();
    assert_eq!(e.tokens.len(), 9);
    assert_eq!(e.index, r.audit_index);
}
