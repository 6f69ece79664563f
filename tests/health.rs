//! gRPC health follows the audit log: NOT_SERVING while entries cannot be made durable.
//! (Its own test binary: audit health is process-wide.)

mod common;

use std::time::{Duration, Instant};

use common::*;
use portcullis::proto::v1::TokenKind;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

async fn status_becomes(gw: &TestGateway, want: ServingStatus) {
    let mut health = HealthClient::new(gw.channel("alpha-officer").await);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = health
            .check(HealthCheckRequest {
                service: "portcullis.v1.VettingService".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
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
