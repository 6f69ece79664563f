//! VetBatch over the real server: one answer per item, in order, bad items answered in-stream
//! without ending the batch, every item audited (issue: bulk vetting).

mod common;

use common::*;
use portcullis::proto::v1::{RiskGrade, TokenKind, VetRequest};
use tonic::Code;

const ITEMS: usize = 10_000;

fn item(i: usize) -> VetRequest {
    let seed = |i: usize| {
        let mut d = vec![0u8; 32];
        d[..8].copy_from_slice(&(i as u64).to_be_bytes());
        d[31] = 0xAA;
        d
    };
    let mut r = vet_request(
        &format!("b-{i}"),
        vec![portcullis::proto::v1::MatchToken {
            kind: TokenKind::Email as i32,
            digest: seed(i),
        }],
    );
    match i % 10 {
        0 => r.tokens = vec![token(TokenKind::CompanyNumber, 0x42)], // a hit
        1 => r.tokens[0].digest.truncate(31),                        // 31-byte digest
        2 => r.request_id.clear(),                                   // missing request id
        _ => {}                                                      // a miss
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_items_with_hits_misses_and_bad_items() {
    let gw = TestGateway::start().await;
    let mut official = gw.advisories("official").await;
    let published = official
        .publish(publish_request(
            "p-batch",
            vec![token(TokenKind::CompanyNumber, 0x42)],
            RiskGrade::Moderate,
        ))
        .await
        .unwrap()
        .into_inner();
    let advisory_id = published.advisory.unwrap().advisory_id;
    let before = gw.running.store().log_size().unwrap();

    let mut alpha = gw.vetting("alpha-officer").await;
    let requests = tokio_stream::iter((0..ITEMS).map(item));
    let mut answers = alpha.vet_batch(requests).await.unwrap().into_inner();
    let mut n = 0;
    let mut audit_indexes = std::collections::HashSet::new();
    while let Some(answer) = answers.message().await.unwrap() {
        let i = n;
        n += 1;
        match i % 10 {
            0 => {
                assert_eq!(answer.request_id, format!("b-{i}"));
                assert_eq!(answer.grade, RiskGrade::Moderate as i32, "item {i}");
                assert_eq!(answer.matches.len(), 1);
                assert_eq!(
                    answer.matches[0].advisory.as_ref().unwrap().advisory_id,
                    advisory_id
                );
                assert!(answer.error.is_none());
                assert!(audit_indexes.insert(answer.audit_index));
            }
            1 => {
                let e = answer.error.expect("item error");
                assert_eq!(answer.request_id, format!("b-{i}"));
                assert_eq!(e.code, Code::InvalidArgument as i32);
                assert_eq!(e.message, "tokens[0].digest: must be 32 bytes, got 31");
                assert_eq!(answer.grade, 0);
            }
            2 => {
                let e = answer.error.expect("item error");
                assert_eq!(answer.request_id, "");
                assert_eq!(e.code, Code::InvalidArgument as i32);
                assert_eq!(e.message, "request_id: required");
            }
            _ => {
                assert_eq!(answer.request_id, format!("b-{i}"));
                assert_eq!(answer.grade, RiskGrade::NoTrace as i32, "item {i}");
                assert!(answer.error.is_none());
                assert!(audit_indexes.insert(answer.audit_index));
            }
        }
    }
    assert_eq!(n, ITEMS, "one answer per item");

    // Every item, good or bad, has its own audit entry.
    let entries = gw.entries();
    assert_eq!(entries.len() as u64, before + ITEMS as u64);
    let batch: Vec<_> = entries[before as usize..].iter().collect();
    assert!(batch
        .iter()
        .all(|e| e.method == "/portcullis.v1.VettingService/VetBatch"));
    let invalid = batch
        .iter()
        .filter(|e| e.code == Code::InvalidArgument as i32)
        .count();
    assert_eq!(invalid, ITEMS / 5);
    let hits = batch
        .iter()
        .filter(|e| e.grade == RiskGrade::Moderate as i32)
        .count();
    assert_eq!(hits, ITEMS / 10);
    for idx in audit_indexes {
        let e = &entries[idx as usize];
        assert_eq!(e.code, 0);
    }
}

#[tokio::test]
async fn a_batch_repeats_remembered_answers_and_rejects_conflicts() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let first = alpha
        .vet(vet_request("dup", vec![token(TokenKind::Email, 7)]))
        .await
        .unwrap()
        .into_inner();
    let requests = tokio_stream::iter(vec![
        vet_request("dup", vec![token(TokenKind::Email, 7)]),
        vet_request("dup", vec![token(TokenKind::Email, 8)]),
    ]);
    let mut answers = alpha.vet_batch(requests).await.unwrap().into_inner();
    let a = answers.message().await.unwrap().unwrap();
    assert_eq!(a, first);
    let b = answers.message().await.unwrap().unwrap();
    assert_eq!(b.error.unwrap().code, Code::AlreadyExists as i32);
    assert!(answers.message().await.unwrap().is_none());
}

#[tokio::test]
async fn an_empty_batch_ends_cleanly_and_other_roles_are_refused() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let mut answers = alpha
        .vet_batch(tokio_stream::iter(Vec::<VetRequest>::new()))
        .await
        .unwrap()
        .into_inner();
    assert!(answers.message().await.unwrap().is_none());

    let mut official = gw.vetting("official").await;
    let e = official
        .vet_batch(tokio_stream::iter(vec![vet_request(
            "x",
            vec![token(TokenKind::Email, 1)],
        )]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert_eq!(gw.last_entry().code, Code::PermissionDenied as i32);
}
