//! The client crate (`portcullis_client`) a back office links, against a real dev gateway: an
//! official publishes and a party vets through `portcullis_client::Client`, single and batched.

mod common;

use common::{certs, client, publish_request, vet_request, TestGateway};
use portcullis_client::api::match_tokens;
use portcullis_client::proto::v1::RiskGrade;
use portcullis_client::tokens::{derive, IdentityFields};
use portcullis_client::Client;

fn jane() -> IdentityFields {
    IdentityFields {
        name: Some("Jane Q. Example".into()),
        dob: Some("1980-02-29".into()),
        ..IdentityFields::default()
    }
}

#[tokio::test]
async fn a_back_office_publishes_and_vets_through_the_client_crate() {
    let gw = TestGateway::start().await;
    let ca = certs().join("ca.crt");
    let tokens = match_tokens(&derive(&common::key(), &jane()).unwrap());

    let mut official = Client::connect(&gw.server(), &ca, &client("official"))
        .await
        .unwrap();
    let record = official
        .publish(publish_request("pub-1", tokens.clone(), RiskGrade::High))
        .await
        .unwrap();
    assert!(!record.advisory.unwrap().advisory_id.is_empty());

    let mut party = Client::connect(&gw.server(), &ca, &client("alpha-officer"))
        .await
        .unwrap();
    let answer = party
        .vet(vet_request("vet-1", tokens.clone()))
        .await
        .unwrap();
    assert_eq!(answer.request_id, "vet-1");
    assert_eq!(answer.grade(), RiskGrade::High);
    assert_eq!(answer.matches.len(), 1);

    let other = match_tokens(
        &derive(
            &common::key(),
            &IdentityFields {
                name: Some("Somebody Else".into()),
                dob: Some("1990-01-01".into()),
                ..IdentityFields::default()
            },
        )
        .unwrap(),
    );
    let answers = party
        .vet_batch(vec![vet_request("b-1", tokens), vet_request("b-2", other)])
        .await
        .unwrap();
    let grades: Vec<_> = answers
        .iter()
        .map(|a| (a.request_id.as_str(), a.grade()))
        .collect();
    assert_eq!(
        grades,
        [("b-1", RiskGrade::High), ("b-2", RiskGrade::NoTrace)]
    );
}

#[tokio::test]
async fn a_refused_call_is_a_status_naming_the_field() {
    let gw = TestGateway::start().await;
    let mut party = Client::connect(
        &gw.server(),
        &certs().join("ca.crt"),
        &client("alpha-officer"),
    )
    .await
    .unwrap();
    let err = party.vet(vet_request("bad-1", vec![])).await.unwrap_err();
    match err {
        portcullis_client::ApiError::Status(status) => {
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(status.message().contains("tokens"), "{}", status.message());
        }
        other => panic!("expected a status, got {other}"),
    }
}

#[tokio::test]
async fn a_bad_address_is_refused_before_connecting() {
    let err = Client::connect(
        "http://localhost:1",
        &certs().join("ca.crt"),
        &client("alpha-officer"),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("must be https://host:port"),
        "{err}"
    );
}
