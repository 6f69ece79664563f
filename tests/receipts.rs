//! Receipts over the real server (api.md "Receipts", issue: receipts and auditor tooling): a
//! party's receipt for its own Vet and VetBatch answers verifies offline with nothing but the
//! log's verifier key; any altered byte is rejected; another party's entries are NOT_FOUND;
//! checkpoints with extension lines are accepted; every receipt call is audited.

mod common;

use common::*;
use portcullis::audit::checkpoint::{NoteSigner, NoteVerifier};
use portcullis::audit::tlog_proof::{self, TlogProof};
use portcullis::proto::v1::{GetReceiptRequest, RiskGrade, TokenKind};
use tonic::Code;

fn verifier() -> NoteVerifier {
    NoteVerifier::parse(&std::fs::read_to_string(certs().join("log.vkey")).unwrap()).unwrap()
}

fn by_index(audit_index: u64) -> GetReceiptRequest {
    GetReceiptRequest {
        audit_index,
        request_id: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_for_own_answers_verify_offline_and_nothing_else() {
    let gw = TestGateway::start().await;
    let mut official = gw.advisories("official").await;
    official
        .publish(publish_request(
            "p-receipt",
            vec![token(TokenKind::CompanyNumber, 0x42)],
            RiskGrade::High,
        ))
        .await
        .unwrap();

    // A Vet that hits, and its receipt, fetched at once (the entry is fresh).
    let mut alpha = gw.vetting("alpha-officer").await;
    let answer = alpha
        .vet(vet_request(
            "r-receipt-1",
            vec![token(TokenKind::CompanyNumber, 0x42)],
        ))
        .await
        .unwrap()
        .into_inner();
    let receipt = alpha
        .get_receipt(by_index(answer.audit_index))
        .await
        .unwrap()
        .into_inner();
    let v = tlog_proof::verify(
        &receipt.proof,
        &receipt.leaf,
        &verifier(),
        Some("portcullis.dev/audit"),
    )
    .unwrap();
    assert_eq!(v.index, answer.audit_index);
    assert!(v.checkpoint.size > answer.audit_index);
    assert_eq!(v.entry.request_id, "r-receipt-1");
    assert_eq!(v.entry.grade, RiskGrade::High as i32);
    assert_eq!(v.entry.advisory_ids.len(), 1);
    let actor = v.entry.actor.clone().unwrap();
    assert_eq!(
        (actor.role.as_str(), actor.org.as_str()),
        ("party", "alpha")
    );
    assert!(receipt.proof.starts_with("c2sp.org/tlog-proof@v1\nindex "));

    // The call is audited with what it disclosed.
    let last = gw.last_entry();
    assert_eq!(last.method, "/portcullis.v1.VettingService/GetReceipt");
    assert_eq!(last.code, 0);
    assert_eq!(
        last.detail,
        format!(
            "receipt index={} tree_size={}",
            answer.audit_index, v.checkpoint.size
        )
    );

    // By request id: the same entry.
    let again = alpha
        .get_receipt(GetReceiptRequest {
            audit_index: 0,
            request_id: "r-receipt-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.leaf, receipt.leaf);

    // A VetBatch item's receipt.
    let items = vec![
        vet_request("b-receipt-0", vec![token(TokenKind::Email, 1)]),
        vet_request("b-receipt-1", vec![token(TokenKind::Email, 2)]),
    ];
    let mut answers = alpha
        .vet_batch(tokio_stream::iter(items))
        .await
        .unwrap()
        .into_inner();
    let mut batch = Vec::new();
    while let Some(a) = answers.message().await.unwrap() {
        batch.push(a);
    }
    assert_eq!(batch.len(), 2);
    let item = alpha
        .get_receipt(by_index(batch[1].audit_index))
        .await
        .unwrap()
        .into_inner();
    let v = tlog_proof::verify(&item.proof, &item.leaf, &verifier(), None).unwrap();
    assert_eq!(v.entry.request_id, "b-receipt-1");
    assert_eq!(v.entry.method, "/portcullis.v1.VettingService/VetBatch");
    assert_eq!(v.entry.grade, RiskGrade::NoTrace as i32);

    // Every altered byte of the leaf, of the proof hashes and of the note is rejected.
    let flipped = |text: &str, at: usize| {
        let mut b = text.as_bytes().to_vec();
        b[at] ^= 0x01;
        String::from_utf8(b).ok()
    };
    for at in 0..receipt.leaf.len() {
        let mut leaf = receipt.leaf.clone();
        leaf[at] ^= 0x01;
        assert!(
            tlog_proof::verify(&receipt.proof, &leaf, &verifier(), None).is_err(),
            "leaf byte {at}"
        );
    }
    for at in 0..receipt.proof.len() {
        if let Some(altered) = flipped(&receipt.proof, at) {
            assert!(
                tlog_proof::verify(&altered, &receipt.leaf, &verifier(), None).is_err(),
                "proof byte {at}"
            );
        }
    }
    // Another party's (beta's) key-holding verifier, or another key, rejects it too.
    let other = NoteVerifier::parse(
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    )
    .unwrap();
    assert!(tlog_proof::verify(&receipt.proof, &receipt.leaf, &other, None).is_err());

    // Another party asking for alpha's entries, an index beyond the log, alpha's own
    // non-vetting entries, an official's entry: all NOT_FOUND, never PERMISSION_DENIED.
    let mut beta = gw.vetting("beta-officer").await;
    let size = gw.running.store().log_size().unwrap();
    let receipt_entry = gw.last_entry().index; // alpha's GetReceipt for the batch item
    let publish_entry = gw
        .entries()
        .iter()
        .find(|e| e.method.ends_with("/Publish"))
        .unwrap()
        .index;
    for (asker, index) in [
        ("beta", answer.audit_index),
        ("beta", batch[0].audit_index),
        ("alpha", size + 1000),
        ("alpha", u64::MAX),
        ("alpha", publish_entry),
        ("alpha", receipt_entry),
    ] {
        let who = if asker == "beta" {
            &mut beta
        } else {
            &mut alpha
        };
        let status = who.get_receipt(by_index(index)).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "index {index}: {status:?}");
        assert!(status.message().starts_with("audit_index: "), "{status:?}");
        let last = gw.last_entry();
        assert_eq!(last.method, "/portcullis.v1.VettingService/GetReceipt");
        assert_eq!(last.code, Code::NotFound as i32);
    }
    let status = beta
        .get_receipt(GetReceiptRequest {
            audit_index: 0,
            request_id: "r-receipt-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // Both at once is a precise INVALID_ARGUMENT.
    let status = alpha
        .get_receipt(GetReceiptRequest {
            audit_index: 3,
            request_id: "r-receipt-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("audit_index: "), "{status:?}");

    // Other roles may not call it at all (the role check is the auth layer's).
    let mut auditor = portcullis::proto::v1::vetting_service_client::VettingServiceClient::new(
        gw.channel("auditor").await,
    );
    let status = auditor.get_receipt(by_index(1)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

/// A checkpoint with a C2SP extension line, signed by the log's key, carries a receipt as well;
/// the line is returned for showing; a cosignature by an unknown witness key is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_with_an_extension_line_verifies() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let answer = alpha
        .vet(vet_request("r-ext", vec![token(TokenKind::Email, 9)]))
        .await
        .unwrap()
        .into_inner();
    let receipt = alpha
        .get_receipt(by_index(answer.audit_index))
        .await
        .unwrap()
        .into_inner();
    let parsed = TlogProof::parse(&receipt.proof).unwrap();
    let mut cp = verifier().verify(&parsed.checkpoint, None).unwrap();
    cp.extensions = vec!["witnessed-by example.org 2026-12-01".into()];
    let signer = NoteSigner::from_pkcs8(
        "portcullis.dev/audit",
        &std::fs::read(certs().join("log-signing.pk8")).unwrap(),
    )
    .unwrap();
    let note = format!(
        "{}\u{2014} witness.example.org AAAAAAAAAAAAAAAAAAAA\n",
        signer.sign(&cp)
    );
    let extended = TlogProof {
        checkpoint: note,
        ..parsed
    }
    .encode();
    let v = tlog_proof::verify(&extended, &receipt.leaf, &verifier(), None).unwrap();
    assert_eq!(v.checkpoint.extensions, cp.extensions);
    assert_eq!(v.entry.request_id, "r-ext");
    // The extension line is signed: changing it is caught.
    let altered = extended.replacen("2026-12-01", "2026-12-02", 1);
    assert!(tlog_proof::verify(&altered, &receipt.leaf, &verifier(), None).is_err());
}
