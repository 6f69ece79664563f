//! gRPC health follows the gateway's own audit log: NOT_SERVING while entries cannot be made
//! durable, whatever another gateway in the same process does.

mod common;

use std::time::{Duration, Instant};

use common::*;
use portcullis::proto::v1::TokenKind;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

async fn status_of(gw: &TestGateway) -> i32 {
    HealthClient::new(gw.channel("alpha-officer").await)
        .check(HealthCheckRequest {
            service: "portcullis.v1.VettingService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

async fn status_becomes(gw: &TestGateway, want: ServingStatus) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = status_of(gw).await;
        if got == want as i32 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "health stayed {got}, wanted {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn health_reflects_audit_writability() {
    let gw = TestGateway::start().await;
    status_becomes(&gw, ServingStatus::Serving).await;
    let mut alpha = gw.vetting("alpha-officer").await;
    gw.running.store().faults().fail_appends(true);
    let e = alpha
        .vet(vet_request("x", vec![token(TokenKind::Email, 1)]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable);
    status_becomes(&gw, ServingStatus::NotServing).await;
    gw.running.store().faults().fail_appends(false);
    alpha
        .vet(vet_request("y", vec![token(TokenKind::Email, 1)]))
        .await
        .unwrap();
    status_becomes(&gw, ServingStatus::Serving).await;
}

#[tokio::test]
async fn two_gateways_in_one_process_have_their_own_health() {
    let failing = TestGateway::start().await;
    let healthy = TestGateway::start().await;
    status_becomes(&failing, ServingStatus::Serving).await;
    status_becomes(&healthy, ServingStatus::Serving).await;
    failing.running.store().faults().fail_appends(true);
    let e = failing
        .vetting("alpha-officer")
        .await
        .vet(vet_request("x", vec![token(TokenKind::Email, 1)]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable);
    status_becomes(&failing, ServingStatus::NotServing).await;
    // The other gateway's log was never refused a write.
    assert_eq!(status_of(&healthy).await, ServingStatus::Serving as i32);
    healthy
        .vetting("alpha-officer")
        .await
        .vet(vet_request("y", vec![token(TokenKind::Email, 1)]))
        .await
        .unwrap();
    assert_eq!(status_of(&healthy).await, ServingStatus::Serving as i32);
    assert_eq!(status_of(&failing).await, ServingStatus::NotServing as i32);
    failing.running.store().faults().fail_appends(false);
}
