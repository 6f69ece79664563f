//! Match tiers end to end (issue 13): an official publishes on one spelling of a person; parties
//! vet other spellings of the same person, derived by the real token code, against the real
//! server. Each answer names the best tier; PHONETIC and PARTIAL_NAME are never more than
//! PARTIAL; the unit that owns the advisory sees the tier on its hit.

mod common;

use std::time::Duration;

use common::*;
use portcullis::proto::v1::{MatchStrength, MatchTier, RiskGrade, TokenKind, WatchHitsRequest};

const DOB: &str = "1971-03-04";

#[tokio::test]
async fn each_spelling_matches_on_its_tier() {
    let gw = TestGateway::start().await;
    let mut official = gw.advisories("official").await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let published = official
        .publish(publish_request(
            "p-yury",
            person("Yury Aleksandr Ivanov", DOB),
            RiskGrade::High,
        ))
        .await
        .unwrap()
        .into_inner();
    let id = published.advisory.unwrap().advisory_id;

    // (spelling the party holds, expected tier, expected strength)
    let cases = [
        (
            "IVANOV, Yury Aleksandr",
            MatchTier::Exact,
            MatchStrength::Strong,
        ),
        (
            "Yuryaleksandr Ivanov",
            MatchTier::Normalised,
            MatchStrength::Strong,
        ),
        (
            "Юрий Александр Иванов",
            MatchTier::Phonetic,
            MatchStrength::Partial,
        ),
        (
            "Iurii Aleksandr Ivanov",
            MatchTier::Phonetic,
            MatchStrength::Partial,
        ),
        (
            "Yury Ivanov",
            MatchTier::PartialName,
            MatchStrength::Partial,
        ),
        ("Y. Ivanov", MatchTier::PartialName, MatchStrength::Partial),
    ];
    for (i, (name, tier, strength)) in cases.iter().enumerate() {
        let r = alpha
            .vet(vet_request(&format!("v-{i}"), person(name, DOB)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.grade, RiskGrade::High as i32, "{name}");
        assert_eq!(r.matches.len(), 1, "{name}");
        let m = &r.matches[0];
        assert_eq!(m.advisory.as_ref().unwrap().advisory_id, id, "{name}");
        assert_eq!(m.tier, *tier as i32, "{name}: {:?}", m.matched_on);
        assert_eq!(m.strength, *strength as i32, "{name}");
    }

    // Another person born the same day shares nothing; the right name born in another month of
    // the same year shares only the exact year token (in the same month it would also share
    // PERSON_NAME_BIRTH_MONTH), never a variant.
    for (i, (name, dob)) in [
        ("Anna Smirnova", DOB),
        ("Yury Aleksandr Ivanov", "1971-07-04"),
    ]
    .iter()
    .enumerate()
    {
        let r = alpha
            .vet(vet_request(&format!("miss-{i}"), person(name, dob)))
            .await
            .unwrap()
            .into_inner();
        let exact_year = r.matches.iter().all(|m| {
            m.matched_on == [TokenKind::PersonNameYob as i32]
                && m.strength == MatchStrength::Weak as i32
        });
        assert!(exact_year, "{name} {dob}: {:?}", r.matches);
    }

    // The owning unit's hits carry the tier of each matched vet.
    let mut hits = official
        .watch_hits(WatchHitsRequest { after_cursor: 0 })
        .await
        .unwrap()
        .into_inner();
    let mut tiers = Vec::new();
    while tiers.len() < cases.len() + 1 {
        let next = tokio::time::timeout(Duration::from_secs(5), hits.message()).await;
        let Ok(Ok(Some(h))) = next else { break };
        tiers.push(h.tier);
    }
    let want: Vec<i32> = cases
        .iter()
        .map(|(_, t, _)| *t as i32)
        .chain([MatchTier::Exact as i32])
        .collect();
    assert_eq!(
        tiers, want,
        "one hit per matched vet, in order, with its tier"
    );
}
