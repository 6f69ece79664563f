//! The client crate (`portcullis_client`) a back office links, against a real dev gateway: an
//! official publishes and a party vets through `portcullis_client::Client`, single and batched,
//! with linked subjects, then fetches a receipt and verifies it (and its checkpoint) offline with
//! nothing but the log's verifier key.

mod common;

use common::{certs, client, publish_request, vet_request, TestGateway};
use portcullis_client::api::match_tokens;
use portcullis_client::proto::v1::{Receipt, Relation, RiskGrade, SubjectKind};
use portcullis_client::tokens::{derive, IdentityFields};
use portcullis_client::verify::{NoteVerifier, ReceiptError};
use portcullis_client::{
    verify_answer_receipt, verify_checkpoint, verify_receipt, ApiError, Client, VetBuilder,
};

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

/// The development log's verifier key, read as a back office would hold it.
fn log_key() -> NoteVerifier {
    NoteVerifier::parse(&std::fs::read_to_string(certs().join("log.vkey")).unwrap()).unwrap()
}

#[tokio::test]
async fn a_back_office_vets_linked_subjects_and_verifies_the_receipt_offline() {
    let gw = TestGateway::start().await;
    let ca = certs().join("ca.crt");
    let key = common::key();
    let company = derive(
        &key,
        &IdentityFields {
            company_number: Some("SC123456".into()),
            ..IdentityFields::default()
        },
    )
    .unwrap();
    let controller = derive(&key, &jane()).unwrap();

    // An advisory on the controller only: the company is graded through its linked subject.
    let mut official = Client::connect(&gw.server(), &ca, &client("official"))
        .await
        .unwrap();
    official
        .publish(publish_request(
            "pub-linked",
            match_tokens(&controller),
            RiskGrade::High,
        ))
        .await
        .unwrap();

    let mut party = Client::connect(&gw.server(), &ca, &client("alpha-officer"))
        .await
        .unwrap();
    let request = VetBuilder::new(
        "vet-linked",
        SubjectKind::DonorOrganisation,
        key.id(),
        &company,
    )
    .case_reference("CASE-7")
    .linked("psc-1", Relation::Controller, &controller)
    .build();
    let answer = party.vet(request).await.unwrap();
    assert_eq!(answer.grade(), RiskGrade::High);
    assert_eq!(answer.subject_grade(), RiskGrade::NoTrace);
    assert_eq!(answer.matches.len(), 1);
    assert_eq!(answer.matches[0].via, "psc-1");
    assert_eq!(answer.matches[0].relation(), Relation::Controller);

    // The receipt, by audit index and by request id, verifies offline.
    let receipt = party.get_receipt(answer.audit_index).await.unwrap();
    let by_request = party.get_receipt_for_request("vet-linked").await.unwrap();
    assert_eq!(by_request.leaf, receipt.leaf);
    let proved =
        verify_answer_receipt(&answer, &receipt, &log_key(), Some("portcullis.dev/audit")).unwrap();
    assert_eq!(proved.index, answer.audit_index);
    assert_eq!(proved.entry.request_id, "vet-linked");
    assert!(proved.checkpoint.size > answer.audit_index);

    // Its checkpoint is a signed note the same key verifies on its own.
    let note = receipt.proof.split_once("\n\n").unwrap().1;
    let checkpoint = verify_checkpoint(note, &log_key(), None).unwrap();
    assert_eq!(checkpoint, proved.checkpoint);

    // A changed leaf, another answer, another key or another origin: refused.
    let mut changed = receipt.leaf.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    let altered = Receipt {
        leaf: changed,
        ..receipt.clone()
    };
    assert!(matches!(
        verify_receipt(&altered, &log_key(), None),
        Err(ApiError::Receipt(_))
    ));
    let mut other_answer = answer.clone();
    other_answer.audit_index += 1;
    assert!(matches!(
        verify_answer_receipt(&other_answer, &receipt, &log_key(), None),
        Err(ApiError::ReceiptForAnotherEntry { .. })
    ));
    let stranger = NoteVerifier::parse(
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    )
    .unwrap();
    assert!(matches!(
        verify_receipt(&receipt, &stranger, None),
        Err(ApiError::Receipt(ReceiptError::Checkpoint(_)))
    ));
    assert!(matches!(
        verify_checkpoint(note, &log_key(), Some("example.com/other")),
        Err(ApiError::Checkpoint(_))
    ));

    // Another party cannot have it.
    let mut beta = Client::connect(&gw.server(), &ca, &client("beta-officer"))
        .await
        .unwrap();
    match beta.get_receipt(answer.audit_index).await {
        Err(ApiError::Status(status)) => assert_eq!(status.code(), tonic::Code::NotFound),
        other => panic!("expected NOT_FOUND, got {other:?}"),
    }
}
