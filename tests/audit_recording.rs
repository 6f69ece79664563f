//! Every call after the handshake is recorded, durably, before its answer; a call whose entry
//! cannot be written fails closed; a restart keeps advisories and the log (issue: gateway core).

mod common;

use common::*;
use portcullis::proto::v1::{GetAdvisoryRequest, RiskGrade, SubjectKind, TokenKind};
use tonic::Code;

#[tokio::test]
async fn entries_record_actor_method_code_and_outcome() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let mut official = gw.advisories("official").await;

    let rec = official
        .publish(publish_request(
            "p-1",
            vec![token(TokenKind::Email, 5)],
            RiskGrade::High,
        ))
        .await
        .unwrap()
        .into_inner();
    let id = rec.advisory.unwrap().advisory_id;
    let r = alpha
        .vet(vet_request("v-1", vec![token(TokenKind::Email, 5)]))
        .await
        .unwrap()
        .into_inner();
    let denied = official
        .get_advisory(GetAdvisoryRequest {
            advisory_id: "adv-0000000000000000".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::NotFound);

    let entries = gw.entries();
    assert_eq!(entries.len(), 3);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.index, i as u64);
        assert!(e.at.is_some());
        assert!(e.peer.starts_with("127.0.0.1:"), "{}", e.peer);
        assert_eq!(e.actor.as_ref().unwrap().cert_sha256.len(), 32);
    }
    let publish = &entries[0];
    assert_eq!(publish.method, "/portcullis.v1.AdvisoryService/Publish");
    assert_eq!(publish.code, 0);
    assert_eq!(publish.advisory_ids, vec![id.clone()]);
    assert_eq!(publish.actor.as_ref().unwrap().role, "official");
    assert_eq!(publish.actor.as_ref().unwrap().org, "liaison");
    assert_eq!(
        publish.actor.as_ref().unwrap().cert_serial,
        hex::encode([0x04, 0x50])
    );

    let vet = &entries[1];
    assert_eq!(vet.index, r.audit_index);
    assert_eq!(vet.method, "/portcullis.v1.VettingService/Vet");
    assert_eq!(vet.request_id, "v-1");
    assert_eq!(vet.subject_kind, SubjectKind::DonorIndividual as i32);
    assert_eq!(vet.grade, RiskGrade::High as i32);
    assert_eq!(vet.advisory_ids, vec![id]);
    assert_eq!(vet.tokens, vec![token(TokenKind::Email, 5)]);
    let actor = vet.actor.as_ref().unwrap();
    assert_eq!(actor.uri, "spiffe://portcullis.dev/party/alpha/alice");
    assert_eq!(
        (actor.role.as_str(), actor.org.as_str(), actor.user.as_str()),
        ("party", "alpha", "alice")
    );

    let miss = &entries[2];
    assert_eq!(miss.code, Code::NotFound as i32);
    assert!(miss.detail.contains("no such advisory"));

    // Party entries never carry guidance or internal references.
    let leaf = gw.running.store().leaf(1).unwrap().unwrap();
    let text = String::from_utf8_lossy(&leaf);
    assert!(!text.contains("consult the security liaison"));
    assert!(!text.contains("OP-TEST"));
}

#[tokio::test]
async fn a_call_whose_audit_write_fails_is_unavailable_and_changes_nothing() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let mut official = gw.advisories("official").await;
    let before = gw.running.store().log_size().unwrap();

    gw.running.store().faults().fail_appends(true);
    let e = official
        .publish(publish_request(
            "p-1",
            vec![token(TokenKind::Email, 6)],
            RiskGrade::Severe,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unavailable);
    let e = alpha
        .vet(vet_request("v-1", vec![token(TokenKind::Email, 6)]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unavailable);
    // Even a denied or invalid call fails closed.
    let e = alpha
        .vet(vet_request("", vec![token(TokenKind::Email, 6)]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unavailable);
    let e = gw
        .advisories("alpha-officer")
        .await
        .publish(publish_request(
            "x",
            vec![token(TokenKind::Email, 6)],
            RiskGrade::Low,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unavailable);
    assert_eq!(gw.running.store().log_size().unwrap(), before);

    gw.running.store().faults().fail_appends(false);
    // Nothing was published and the request id was not consumed.
    let r = alpha
        .vet(vet_request("v-1", vec![token(TokenKind::Email, 6)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.grade, RiskGrade::NoTrace as i32);
    let list = official
        .list_advisories(portcullis::proto::v1::ListAdvisoriesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(list.advisories.is_empty());
}

#[tokio::test]
async fn restart_keeps_advisories_and_the_log() {
    let gw = TestGateway::start().await;
    let id = {
        let mut official = gw.advisories("official").await;
        let mut alpha = gw.vetting("alpha-officer").await;
        let rec = official
            .publish(publish_request(
                "p-1",
                person("Anna Ivanova", "1985-06-01"),
                RiskGrade::High,
            ))
            .await
            .unwrap()
            .into_inner();
        alpha
            .vet(vet_request("v-1", person("Anna Ivanova", "1985-06-01")))
            .await
            .unwrap();
        rec.advisory.unwrap().advisory_id
    };
    let before = gw.entries();
    let dir = gw.stop().await;

    let gw = TestGateway::restart(dir).await;
    assert_eq!(gw.entries(), before);
    let mut alpha = gw.vetting("alpha-officer").await;
    let r = alpha
        .vet(vet_request("v-2", person("Anna Ivanova", "1985-06-01")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.grade, RiskGrade::High as i32);
    assert_eq!(r.matches[0].advisory.as_ref().unwrap().advisory_id, id);
    assert_eq!(
        r.audit_index,
        before.len() as u64,
        "indexes continue after restart"
    );
    // The remembered answer survives too.
    let again = alpha
        .vet(vet_request("v-1", person("Anna Ivanova", "1985-06-01")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.audit_index, 1);
}
