//! A call refused because stored data cannot be read answers UNAVAILABLE without disclosing
//! anything, and the refusal is itself audited (only a refusal for which the audit log cannot
//! be written goes unrecorded).

mod common;

use common::*;
use portcullis::proto::v1::TokenKind;
use tonic::Code;

#[tokio::test]
async fn an_unreadable_remembered_answer_is_refused_and_audited() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let request = || vet_request("r-1", vec![token(TokenKind::Email, 3)]);
    alpha.vet(request()).await.unwrap();

    // Damage the answer remembered for request id r-1 of party alpha.
    gw.running
        .store()
        .raw_set(b"Iparty/alpha\0r-1", Some(&[0xff; 3]))
        .unwrap();
    let before = gw.running.store().log_size().unwrap();
    let e = alpha.vet(request()).await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable);
    assert_eq!(
        e.message(),
        "storage unavailable; nothing was disclosed or changed"
    );

    assert_eq!(gw.running.store().log_size().unwrap(), before + 1);
    let entry = gw.last_entry();
    assert_eq!(entry.method, "/portcullis.v1.VettingService/Vet");
    assert_eq!(entry.request_id, "r-1");
    assert_eq!(entry.code, Code::Unavailable as i32);
    assert_eq!(
        entry.detail,
        "storage unavailable; nothing was disclosed or changed"
    );
    assert!(entry.advisory_ids.is_empty());
}
