//! Linked subjects over the real server (api.md v2 "Linked subjects"): a company donor vetted
//! together with its controllers. A hit only through a controller, a hit both directly and via
//! a link, the audience, applies_to and expiry rules on linked matches, the official's hit
//! saying the relation (never the party's label), and the audit entry recording the linked
//! tokens with their relation.

mod common;

use std::time::Duration;

use common::*;
use portcullis::proto::v1::{
    Hit, MatchStrength, MatchToken, Relation, RiskGrade, SubjectKind, TokenKind, VetRequest,
    WatchHitsRequest,
};
use portcullis::tokens::IdentityFields;

/// Acme Trading Ltd by company number and name.
fn company() -> Vec<MatchToken> {
    tokens(IdentityFields {
        company_number: Some("09876543".into()),
        org_name: Some("Acme Trading Ltd".into()),
        country: Some("GB".into()),
        ..Default::default()
    })
}

/// A controller as the PSC register has them: name with year and month of birth.
fn psc(name: &str, month: &str) -> Vec<MatchToken> {
    person(name, month)
}

/// Acme vetted as a donor organisation with `links`.
fn company_request(id: &str, links: Vec<portcullis::proto::v1::LinkedSubject>) -> VetRequest {
    let mut r = vet_request(id, company());
    r.subject_kind = SubjectKind::DonorOrganisation as i32;
    r.linked = links;
    r
}

fn via(r: &portcullis::proto::v1::VetResponse) -> Vec<(String, String, i32)> {
    r.matches
        .iter()
        .map(|m| {
            (
                m.advisory.as_ref().unwrap().advisory_id.clone(),
                m.via.clone(),
                m.relation,
            )
        })
        .collect()
}

#[tokio::test]
async fn a_controller_hit_raises_the_grade_but_not_the_subject_grade() {
    let gw = TestGateway::start().await;
    let mut official = gw.advisories("official").await;
    // The security service knows the controller's full date of birth.
    let advisory = official
        .publish(publish_request(
            "p-petrov",
            person("Viktor Andreyevich Petrov", "1966-03-14"),
            RiskGrade::High,
        ))
        .await
        .unwrap()
        .into_inner()
        .advisory
        .unwrap()
        .advisory_id;
    let mut alpha = gw.vetting("alpha-officer").await;
    let r = alpha
        .vet(company_request(
            "acme-1",
            vec![
                linked(
                    "psc-1",
                    Relation::Controller,
                    psc("Viktor Andreyevich PETROV", "1966-03"),
                ),
                linked("psc-2", Relation::Controller, psc("Jane Smith", "1970-05")),
            ],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.grade,
        RiskGrade::High as i32,
        "grade covers linked subjects"
    );
    assert_eq!(r.subject_grade, RiskGrade::NoTrace as i32);
    assert_eq!(
        via(&r),
        [(
            advisory.clone(),
            "psc-1".to_owned(),
            Relation::Controller as i32
        )]
    );
    let m = &r.matches[0];
    assert_eq!(m.matched_on, [TokenKind::PersonNameBirthMonth as i32]);
    assert_eq!(m.strength, MatchStrength::Partial as i32);

    // The official's hit says the relation and the subject kind, never the party's label.
    let mut hits = official
        .watch_hits(WatchHitsRequest { after_cursor: 0 })
        .await
        .unwrap()
        .into_inner();
    let hit: Hit = tokio::time::timeout(Duration::from_secs(5), hits.message())
        .await
        .expect("a hit within 5 s")
        .unwrap()
        .expect("a hit");
    assert_eq!(hit.advisory_id, advisory);
    assert_eq!(hit.party, "alpha");
    assert_eq!(hit.relation, Relation::Controller as i32);
    assert_eq!(hit.subject_kind, SubjectKind::DonorOrganisation as i32);
    assert_eq!(hit.audit_index, r.audit_index);
    assert!(
        !format!("{hit:?}").contains("psc-1"),
        "the label never reaches officials"
    );

    // The audit entry records the linked tokens with their relation, in request order.
    let entry = gw
        .entries()
        .into_iter()
        .find(|e| e.index == r.audit_index)
        .unwrap();
    assert_eq!(entry.linked.len(), 2);
    assert_eq!(entry.linked[0].relation, Relation::Controller as i32);
    assert_eq!(
        entry.linked[0].tokens,
        psc("Viktor Andreyevich PETROV", "1966-03")
    );
    assert_eq!(entry.linked[1].tokens, psc("Jane Smith", "1970-05"));
    assert_eq!(entry.grade, RiskGrade::High as i32);
    assert_eq!(entry.advisory_ids, [advisory]);
}

#[tokio::test]
async fn a_direct_and_a_linked_match_are_listed_once_per_path() {
    let gw = TestGateway::start().await;
    let mut official = gw.advisories("official").await;
    // The advisory names the company and, separately, a SEVERE one names its parent.
    let on_company = official
        .publish(publish_request("p-acme", company(), RiskGrade::Moderate))
        .await
        .unwrap()
        .into_inner()
        .advisory
        .unwrap()
        .advisory_id;
    let parent = vec![token(TokenKind::CompanyNumber, 0x71)];
    let on_parent = official
        .publish(publish_request(
            "p-parent",
            parent.clone(),
            RiskGrade::Severe,
        ))
        .await
        .unwrap()
        .into_inner()
        .advisory
        .unwrap()
        .advisory_id;
    let mut alpha = gw.vetting("alpha-officer").await;
    // The funding source is the company itself (the same tokens on two paths).
    let r = alpha
        .vet(company_request(
            "acme-2",
            vec![
                linked("parent", Relation::Parent, parent),
                linked("funds", Relation::FundingSource, company()),
            ],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.grade, RiskGrade::Severe as i32);
    assert_eq!(r.subject_grade, RiskGrade::Moderate as i32);
    assert_eq!(
        via(&r),
        [
            (on_parent, "parent".to_owned(), Relation::Parent as i32),
            (
                on_company.clone(),
                String::new(),
                Relation::Unspecified as i32
            ),
            (
                on_company,
                "funds".to_owned(),
                Relation::FundingSource as i32
            ),
        ],
        "highest grade first, the subject's own match before the linked one"
    );
    assert!(r
        .matches
        .iter()
        .all(|m| m.strength == MatchStrength::Strong as i32));
}

#[tokio::test]
async fn audience_applies_to_and_expiry_hold_for_linked_matches() {
    let gw = TestGateway::start().await;
    let mut official = gw.advisories("official").await;
    // Only beta may see this one.
    let only_beta = vec![token(TokenKind::Email, 0x81)];
    let mut p = publish_request("p-aud", only_beta.clone(), RiskGrade::High);
    p.audience = vec!["beta".into()];
    official.publish(p).await.unwrap();
    // This one applies to individual donors only: a linked subject of an organisation request
    // counts as an organisation.
    let individuals = vec![token(TokenKind::Email, 0x82)];
    let mut p = publish_request("p-kind", individuals.clone(), RiskGrade::High);
    p.applies_to = vec![SubjectKind::DonorIndividual as i32];
    official.publish(p).await.unwrap();
    // This one expires shortly.
    let soon = std::time::SystemTime::now() + Duration::from_millis(300);
    let expiring = vec![token(TokenKind::Email, 0x83)];
    let mut p = publish_request("p-exp", expiring.clone(), RiskGrade::Severe);
    p.valid_until = Some(prost_types::Timestamp::from(soon));
    official.publish(p).await.unwrap();

    let links = || {
        vec![
            linked("a", Relation::Associate, only_beta.clone()),
            linked("b", Relation::Officer, individuals.clone()),
            linked("c", Relation::Controller, expiring.clone()),
        ]
    };
    let mut alpha = gw.vetting("alpha-officer").await;
    let before = alpha
        .vet(company_request("aud-1", links()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        before
            .matches
            .iter()
            .map(|m| m.via.as_str())
            .collect::<Vec<_>>(),
        ["c"],
        "alpha is not in the audience of a's advisory; b's applies to individuals only"
    );
    assert_eq!(before.grade, RiskGrade::Severe as i32);

    // Beta, in the audience, sees the first; as an individual donor's link, b's matches.
    let mut beta = gw.vetting("beta-officer").await;
    let mut individual = company_request("aud-2", links());
    individual.subject_kind = SubjectKind::DonorIndividual as i32;
    let r = beta.vet(individual).await.unwrap().into_inner();
    let mut seen: Vec<_> = r.matches.iter().map(|m| m.via.clone()).collect();
    seen.sort();
    assert_eq!(seen, ["a", "b", "c"]);

    // Wait (bounded) until the expiry instant has passed: the linked match is gone.
    while std::time::SystemTime::now() <= soon + Duration::from_millis(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = alpha
        .vet(company_request("aud-3", links()))
        .await
        .unwrap()
        .into_inner();
    assert!(after.matches.is_empty());
    assert_eq!(after.grade, RiskGrade::NoTrace as i32);
    assert_eq!(after.subject_grade, RiskGrade::NoTrace as i32);
}
