//! A certificate that expires while its holder is connected stops working at once (issue #16,
//! attack 3). Before the fix, TLS 1.3 session tickets let a client whose certificate had
//! expired since the ticket was issued resume a session and keep vetting, and an open
//! connection outlived its certificate by up to `max_connection_age_ms`. Now the gateway issues
//! no tickets (every connection is a full handshake, so the certificate is verified each time)
//! and re-checks the certificate's validity at every call.
//!
//! The test makes a party certificate, signed by the development CA, that expires a few
//! seconds after the test starts.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use portcullis::proto::v1::vetting_service_client::VettingServiceClient;
use portcullis::proto::v1::TokenKind;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;
use tonic::Code;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const SERIAL: u64 = 0x5eed;

/// Writes `dir/short-lived.crt|.key`: party alpha, valid until `not_after`.
fn short_lived(dir: &Path, not_after: OffsetDateTime) -> std::path::PathBuf {
    let ca_pem = std::fs::read_to_string(certs().join("ca.crt")).unwrap();
    let ca_key =
        KeyPair::from_pem(&std::fs::read_to_string(certs().join("ca.key")).unwrap()).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "short-lived");
    params.distinguished_name = dn;
    params.serial_number = Some(SerialNumber::from(SERIAL));
    params.not_before = OffsetDateTime::now_utc() - Duration::from_secs(60);
    params.not_after = not_after;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    params.subject_alt_names = vec![SanType::URI(
        "spiffe://portcullis.dev/party/alpha/short-lived"
            .try_into()
            .unwrap(),
    )];
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let prefix = dir.join("short-lived");
    std::fs::write(prefix.with_extension("crt"), cert.pem()).unwrap();
    std::fs::write(prefix.with_extension("key"), key.serialize_pem()).unwrap();
    prefix
}

#[tokio::test]
async fn an_expired_certificate_is_refused_on_open_connections_and_never_resumed() {
    let gw = TestGateway::start().await;
    let certs_dir = tempfile::tempdir().unwrap();
    // Whole seconds: X.509 times have no fractions.
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let not_after = now + Duration::from_secs(5);
    let prefix = short_lived(certs_dir.path(), not_after);
    let config = raw_tls::config_of(&prefix);

    // While valid: calls work, and no connection resumes an earlier session, even with a
    // client that keeps its session cache (the config is shared) and read what the gateway sent
    // after the handshake (where TLS 1.3 tickets would be).
    for _ in 0..2 {
        let mut raw = raw_tls::connect(gw.running.addr(), config.clone())
            .await
            .unwrap();
        assert_eq!(
            raw.get_ref().1.handshake_kind(),
            Some(rustls::HandshakeKind::Full),
            "every handshake is a full one"
        );
        assert!(raw_tls::speaks_http2(&mut raw).await);
        raw.shutdown().await.unwrap();
    }
    let channel = portcullis::client::connect_with(&gw.server(), config.clone())
        .await
        .unwrap();
    let mut vetting = VettingServiceClient::new(channel.clone());
    vetting
        .vet(vet_request("before", vec![token(TokenKind::Email, 7)]))
        .await
        .expect("a valid certificate vets");

    // Wait (bounded) until the certificate has expired.
    let expired_at = not_after + Duration::from_millis(1_500);
    let wait = (expired_at - OffsetDateTime::now_utc()).max(time::Duration::ZERO);
    assert!(wait < time::Duration::seconds(10), "bounded wait");
    tokio::time::sleep(wait.unsigned_abs()).await;

    // The same connection: every call is refused, named and audited.
    let status = vetting
        .vet(vet_request("after", vec![token(TokenKind::Email, 8)]))
        .await
        .expect_err("an expired certificate must not vet");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(
        status
            .message()
            .starts_with("client certificate expired at")
            && status.message().contains("5eed"),
        "{}",
        status.message()
    );
    let entry = gw.last_entry();
    assert_eq!(entry.code, Code::Unauthenticated as i32);
    assert_eq!(entry.actor.unwrap().cert_serial, "5eed");
    let health = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect_err("not even a health check");
    assert_eq!(health.code(), Code::Unauthenticated);

    // A new connection with the same client (and its session cache) is refused at the
    // handshake, and counted.
    let refused = match raw_tls::connect(gw.running.addr(), config).await {
        Err(_) => true,
        Ok(mut raw) => !raw_tls::speaks_http2(&mut raw).await,
    };
    assert!(refused, "the handshake of an expired certificate fails");
    assert!(
        raw_tls::metrics_show(
            "portcullis_handshakes_refused_total{reason=\"expired\"} 1",
            Duration::from_secs(5)
        )
        .await,
        "{}",
        portcullis::metrics::global().render()
    );
}
