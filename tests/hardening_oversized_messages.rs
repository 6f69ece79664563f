//! A message over the size limit answers RESOURCE_EXHAUSTED naming the limit, on a stream as on
//! a unary call (issue #16, attack 5; api.md "Errors"). VetBatch used to answer OUT_OF_RANGE
//! with tonic's own text. Both refusals are audited.

mod common;

use common::*;
use portcullis::proto::v1::TokenKind;
use tonic::Code;

const VET: &str = "/portcullis.v1.VettingService/Vet";
const VET_BATCH: &str = "/portcullis.v1.VettingService/VetBatch";

fn huge(id: &str) -> portcullis::proto::v1::VetRequest {
    let mut r = vet_request(id, vec![token(TokenKind::Email, 9)]);
    r.case_reference = "c".repeat(5 * 1024 * 1024);
    r
}

fn assert_names_the_limit(status: &tonic::Status) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status
            .message()
            .ends_with(&format!("exceeds the limit of {} bytes", 4 * 1024 * 1024)),
        "{}",
        status.message()
    );
    assert!(
        status.message().starts_with("request: message of "),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn oversized_messages_answer_resource_exhausted_on_unary_calls_and_streams() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;

    let unary = alpha.vet(huge("huge")).await.expect_err("refused");
    assert_names_the_limit(&unary);
    let entry = gw.last_entry();
    assert_eq!(
        (entry.method.as_str(), entry.code),
        (VET, Code::ResourceExhausted as i32)
    );

    // A batch whose second item is too large: the first is answered, then the stream ends
    // with the same precise status.
    let items = vec![
        vet_request("small", vec![token(TokenKind::Email, 10)]),
        huge("huge-item"),
    ];
    let mut answers = alpha
        .vet_batch(tokio_stream::iter(items))
        .await
        .unwrap()
        .into_inner();
    let mut answered = Vec::new();
    let status = loop {
        match answers.message().await {
            Ok(Some(answer)) => {
                answered.push(answer.request_id);
                assert!(answered.len() <= 2, "bounded");
            }
            Ok(None) => panic!("the stream must end with an error"),
            Err(status) => break status,
        }
    };
    assert_eq!(answered, vec!["small".to_owned()]);
    assert_names_the_limit(&status);
    let entry = gw
        .entries()
        .into_iter()
        .rev()
        .find(|e| e.method == VET_BATCH && e.code != 0)
        .expect("the refusal is audited");
    assert_eq!(entry.code, Code::ResourceExhausted as i32);
    assert!(
        entry.detail.contains("exceeds the limit of 4194304 bytes"),
        "{}",
        entry.detail
    );
}
