//! Operating the gateway: rate limits answer RESOURCE_EXHAUSTED with a retry-after-ms
//! trailer and are audited; metrics are scraped over HTTP on a loopback port; a reload
//! revokes a client without a restart and rejects a bad file (issue: ready for operators).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use portcullis::config::Config;
use portcullis::limits::{Limits, Rate};
use portcullis::proto::v1::vetting_service_client::VettingServiceClient;
use portcullis::proto::v1::TokenKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

async fn start_with(c: Config, dir: tempfile::TempDir) -> TestGateway {
    let running = portcullis::server::start(c).await.unwrap();
    TestGateway { running, dir }
}

#[tokio::test]
async fn rate_limits_answer_resource_exhausted_with_a_trailer_and_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.limits = Limits {
        vet: Rate {
            per_sec: 0.5,
            burst: 2.0,
        },
        ..Limits::default()
    };
    let gw = start_with(c, dir).await;
    let mut alpha = gw.vetting("alpha-officer").await;
    for i in 0..2 {
        alpha
            .vet(vet_request(
                &format!("ok-{i}"),
                vec![token(TokenKind::Email, i)],
            ))
            .await
            .unwrap();
    }
    let e = alpha
        .vet(vet_request("limited", vec![token(TokenKind::Email, 9)]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    let retry: u64 = e
        .metadata()
        .get("retry-after-ms")
        .expect("retry-after-ms trailer")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2000).contains(&retry), "{retry}");
    let entry = gw.last_entry();
    assert_eq!(entry.code, Code::ResourceExhausted as i32);
    assert_eq!(entry.actor.unwrap().org, "alpha");

    // Another party has its own bucket.
    gw.vetting("beta-officer")
        .await
        .vet(vet_request("b", vec![token(TokenKind::Email, 1)]))
        .await
        .unwrap();

    // VetBatch items are charged one by one: the batch goes on, limited items say so.
    let items =
        (0..3).map(|i| vet_request(&format!("batch-{i}"), vec![token(TokenKind::Email, 50 + i)]));
    let mut answers = gw
        .vetting("beta-officer")
        .await
        .vet_batch(tokio_stream::iter(items))
        .await
        .unwrap()
        .into_inner();
    let mut codes = Vec::new();
    while let Some(a) = answers.message().await.unwrap() {
        codes.push(a.error.map(|e| e.code).unwrap_or(0));
    }
    assert_eq!(
        codes,
        vec![
            0,
            Code::ResourceExhausted as i32,
            Code::ResourceExhausted as i32
        ]
    );
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).await.unwrap();
    text
}

#[tokio::test]
async fn metrics_are_scraped_on_a_loopback_port() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let gw = start_with(c, dir).await;
    let mut alpha = gw.vetting("alpha-officer").await;
    alpha
        .vet(vet_request("m-1", vec![token(TokenKind::Email, 1)]))
        .await
        .unwrap();
    let _ = alpha.vet(vet_request("", vec![])).await.unwrap_err();
    let text = scrape(gw.running.metrics_addr().unwrap()).await;
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    for needle in [
        "portcullis_calls_total{method=\"/portcullis.v1.VettingService/Vet\",code=\"OK\"}",
        "portcullis_calls_total{method=\"/portcullis.v1.VettingService/Vet\",code=\"INVALID_ARGUMENT\"}",
        "portcullis_call_seconds_bucket{method=\"/portcullis.v1.VettingService/Vet\",le=\"+Inf\"}",
        "portcullis_audit_batch_entries_count",
        "portcullis_audit_flush_seconds_bucket",
        "portcullis_audit_log_entries",
        "portcullis_audit_writable 1",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

/// A copy of the development PKI whose files the test may replace.
fn pki_copy(dir: &Path) -> std::path::PathBuf {
    let pki = dir.join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    for f in [
        "ca.crt",
        "ca.key",
        "server.crt",
        "server.key",
        "crl.pem",
        "log-signing.pk8",
    ] {
        std::fs::copy(certs().join(f), pki.join(f)).unwrap();
    }
    pki
}

/// A CRL signed by the development CA revoking `serials`.
fn crl_revoking(serials: &[u64]) -> String {
    use rcgen::{
        CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair, RevokedCertParams,
        SerialNumber,
    };
    let ca_pem = std::fs::read_to_string(certs().join("ca.crt")).unwrap();
    let key = KeyPair::from_pem(&std::fs::read_to_string(certs().join("ca.key")).unwrap()).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, key).unwrap();
    let now = time::OffsetDateTime::now_utc();
    CertificateRevocationListParams {
        this_update: now,
        next_update: now + time::Duration::days(30),
        crl_number: SerialNumber::from(2u64),
        issuing_distribution_point: None,
        revoked_certs: serials
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from(*s),
                revocation_time: now,
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&issuer)
    .unwrap()
    .pem()
    .unwrap()
}

async fn vets(channel: tonic::transport::Channel, id: &str) -> Result<(), tonic::Status> {
    VettingServiceClient::new(channel)
        .vet(vet_request(id, vec![token(TokenKind::Email, 3)]))
        .await
        .map(|_| ())
}

#[tokio::test]
async fn reload_revokes_a_client_without_restart_and_keeps_the_old_config_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_copy(dir.path());
    let mut c = config(dir.path());
    c.tls.crl = pki.join("crl.pem");
    c.max_connection_age = Duration::from_secs(1);
    let gw = start_with(c.clone(), dir).await;

    let old_alpha = gw.channel("alpha-officer").await;
    vets(old_alpha.clone(), "before").await.unwrap();

    // A bad CRL file is refused and the old one kept.
    std::fs::write(pki.join("crl.pem"), "not a crl").unwrap();
    assert!(gw.running.reload(&c).is_err());
    vets(gw.channel("alpha-officer").await, "still-fine")
        .await
        .unwrap();

    // Revoke alpha-officer (serial 1101) alongside the usual revoked certificate.
    std::fs::write(pki.join("crl.pem"), crl_revoking(&[1106, 1101])).unwrap();
    gw.running.reload(&c).unwrap();
    let fresh = portcullis::client::connect(
        &gw.server(),
        &certs().join("ca.crt"),
        &client("alpha-officer"),
    )
    .await;
    let refused = match fresh {
        Err(_) => true,
        Ok(ch) => vets(ch, "after").await.is_err(),
    };
    assert!(
        refused,
        "a newly revoked client is refused on its next connection"
    );
    vets(gw.channel("beta-officer").await, "beta")
        .await
        .unwrap();

    // The old connection does not linger past the maximum connection age.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut i = 0;
    loop {
        i += 1;
        if vets(old_alpha.clone(), &format!("old-{i}")).await.is_err() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "revoked client lingered on its old connection"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Accredited parties reload too; changing the data directory needs a restart.
    c.accredited_parties.remove("beta");
    gw.running.reload(&c).unwrap();
    let e = vets(gw.channel("beta-officer").await, "beta-2")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let mut moved = c.clone();
    moved.data_dir = moved.data_dir.join("elsewhere");
    let e = gw.running.reload(&moved).unwrap_err();
    assert!(e.to_string().contains("data_dir"), "{e}");
    let mut moved = c.clone();
    moved.listen = "127.0.0.1:1".parse().unwrap();
    let e = gw.running.reload(&moved).unwrap_err();
    assert!(e.to_string().contains("listen"), "{e}");
}
