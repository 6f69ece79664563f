//! AuditService over real mTLS: signed checkpoints verify with the committed verifier key, Replay
//! returns the exact stored leaves (and follows new ones), proofs verify, every call is audited,
//! and only auditors may call it.

mod common;

use std::time::Duration;

use common::receipts::log_verifier as verifier;
use common::{person, vet_request, TestGateway};
use portcullis::audit::merkle::{self, leaf_hash};
use portcullis::audit::verify::{check_consistency, proof_hashes, LogVerifier};
use portcullis::proto::v1::audit_service_client::AuditServiceClient;
use portcullis::proto::v1::{
    ConsistencyProofRequest, GetCheckpointRequest, InclusionProofRequest, ReplayRequest,
};
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::Code;

const AUDIT: &str = "/portcullis.v1.AuditService/";

async fn auditor(gw: &TestGateway) -> AuditServiceClient<Channel> {
    AuditServiceClient::new(gw.channel("auditor").await)
}

async fn vet_some(gw: &TestGateway, n: usize) {
    let mut client = gw.vetting("alpha-officer").await;
    for i in 0..n {
        client
            .vet(vet_request(
                &format!("svc-{i}"),
                person("Jane Doe", "1970-01-01"),
            ))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn checkpoints_replay_and_proofs_verify() {
    let gw = TestGateway::start().await;
    vet_some(&gw, 6).await;
    let mut audit = auditor(&gw).await;

    let cp = audit
        .get_checkpoint(GetCheckpointRequest {})
        .await
        .unwrap()
        .into_inner();
    let signed = verifier()
        .verify(&cp.signed_note, Some("portcullis.dev/audit"))
        .unwrap();
    assert_eq!(signed.size, cp.size);
    assert_eq!(signed.root.to_vec(), cp.root_hash);
    assert_eq!(cp.size, 6, "the checkpoint covers every durable entry");
    let audited = gw.last_entry();
    assert_eq!(audited.method, format!("{AUDIT}GetCheckpoint"));
    assert_eq!(audited.detail, "checkpoint size=6");
    assert_eq!(audited.actor.unwrap().role, "auditor");

    // Replay: the exact stored bytes, verifying against the checkpoint.
    let mut stream = audit
        .replay(ReplayRequest {
            start: 0,
            end: cp.size,
            follow: false,
        })
        .await
        .unwrap()
        .into_inner();
    let mut v = LogVerifier::new(signed.clone(), None).unwrap();
    let stored: Vec<_> = gw
        .running
        .store()
        .leaves(0, cp.size)
        .map(Result::unwrap)
        .collect();
    let mut n = 0;
    while let Some(record) = stream.next().await {
        let record = record.unwrap();
        assert_eq!((record.index, &record.leaf), (stored[n].0, &stored[n].1));
        let (entry, _) = v.push(record.index, &record.leaf).unwrap();
        assert_eq!(Some(entry), record.entry);
        n += 1;
    }
    assert_eq!(v.finish().unwrap().entries, 6);
    let audited = gw.last_entry();
    assert_eq!(audited.method, format!("{AUDIT}Replay"));
    assert_eq!(audited.detail, "replay start=0 end=6 count=6");

    // Inclusion proofs for every index against the signed root.
    for index in 0..cp.size {
        let proof = audit
            .get_inclusion_proof(InclusionProofRequest {
                index,
                tree_size: cp.size,
            })
            .await
            .unwrap()
            .into_inner();
        let hashes = proof_hashes(&proof.hashes).unwrap();
        merkle::verify_inclusion(
            &leaf_hash(&stored[index as usize].1),
            index,
            cp.size,
            &hashes,
            &signed.root,
        )
        .unwrap();
    }
    assert_eq!(gw.last_entry().detail, "inclusion index=5 tree_size=6");

    // Consistency from the first checkpoint to a later one.
    vet_some(&gw, 1).await;
    let later = audit
        .get_checkpoint(GetCheckpointRequest {})
        .await
        .unwrap()
        .into_inner();
    let later = verifier().verify(&later.signed_note, None).unwrap();
    assert!(later.size > signed.size);
    let proof = audit
        .get_consistency_proof(ConsistencyProofRequest {
            old_size: signed.size,
            new_size: later.size,
        })
        .await
        .unwrap()
        .into_inner();
    check_consistency(&signed, &later, &proof_hashes(&proof.hashes).unwrap()).unwrap();
    assert_eq!(
        gw.last_entry().detail,
        format!("consistency old_size=6 new_size={}", later.size)
    );

    // Bad arguments are refused, and audited with their code.
    let err = audit
        .get_inclusion_proof(InclusionProofRequest {
            index: 1_000,
            tree_size: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("index:"), "{}", err.message());
    assert_eq!(gw.last_entry().code, Code::InvalidArgument as i32);
    let err = audit
        .replay(ReplayRequest {
            start: 0,
            end: 1_000_000,
            follow: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = audit
        .get_consistency_proof(ConsistencyProofRequest {
            old_size: 5,
            new_size: 2,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    gw.stop().await;
}

#[tokio::test]
async fn replay_follows_new_entries_and_ends_at_shutdown() {
    let gw = TestGateway::start().await;
    vet_some(&gw, 2).await;
    let mut audit = auditor(&gw).await;
    let mut stream = audit
        .replay(ReplayRequest {
            start: 1,
            end: 0,
            follow: true,
        })
        .await
        .unwrap()
        .into_inner();
    let audited = gw.last_entry();
    assert_eq!(audited.detail, "replay start=1 end=open count=1 follow");
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.index, 1);
    // The Replay's own entry, then a new vet, arrive on the open stream.
    let own = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(own.index, 2);
    assert_eq!(own.entry.unwrap().method, format!("{AUDIT}Replay"));
    let mut party = gw.vetting("alpha-officer").await;
    let answer = party
        .vet(vet_request("followed", person("John Roe", "1980-02-02")))
        .await
        .unwrap()
        .into_inner();
    let next = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.index, answer.audit_index);
    assert_eq!(next.entry.unwrap().request_id, "followed");
    // Shutdown does not wait forever for the open stream.
    tokio::time::timeout(Duration::from_secs(10), gw.stop())
        .await
        .expect("shutdown hung on a follow stream");
}

#[tokio::test]
async fn only_auditors_may_call_and_denials_are_audited() {
    let gw = TestGateway::start().await;
    let mut as_party = AuditServiceClient::new(gw.channel("alpha-officer").await);
    let err = as_party
        .get_checkpoint(GetCheckpointRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let entry = gw.last_entry();
    assert_eq!(entry.method, format!("{AUDIT}GetCheckpoint"));
    assert_eq!(entry.code, Code::PermissionDenied as i32);
    gw.stop().await;
}
