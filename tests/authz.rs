//! Authorisation over real mTLS connections: roles, accreditation, malformed identities,
//! certificates refused at the handshake, health checks and reflection, and what the audit log
//! records about each.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{certs, publish_request, token, vet_request, TestGateway};
use portcullis::audit::AuditEntry;
use portcullis::proto::v1::audit_service_client::AuditServiceClient;
use portcullis::proto::v1::vetting_service_client::VettingServiceClient;
use portcullis::proto::v1::{GetCheckpointRequest, ListAdvisoriesRequest, RiskGrade, TokenKind};
use rustls::pki_types::ServerName;
use rustls::RootCertStore;
use tonic::transport::Channel;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const VET: &str = "/portcullis.v1.VettingService/Vet";
const PUBLISH: &str = "/portcullis.v1.AdvisoryService/Publish";
const LIST: &str = "/portcullis.v1.AdvisoryService/ListAdvisories";
const CHECKPOINT: &str = "/portcullis.v1.AuditService/GetCheckpoint";
const REFLECTION: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

/// A development client certificate and what the audit log must say about it.
struct Cert {
    name: &'static str,
    uri: &'static str,
    role: &'static str,
    org: &'static str,
    user: &'static str,
}

const ALPHA: Cert = Cert {
    name: "alpha-officer",
    uri: "spiffe://portcullis.dev/party/alpha/alice",
    role: "party",
    org: "alpha",
    user: "alice",
};
const GAMMA: Cert = Cert {
    name: "gamma-officer",
    uri: "spiffe://portcullis.dev/party/gamma/gary",
    role: "party",
    org: "gamma",
    user: "gary",
};
const OFFICIAL: Cert = Cert {
    name: "official",
    uri: "spiffe://portcullis.dev/official/liaison/olivia",
    role: "official",
    org: "liaison",
    user: "olivia",
};
const AUDITOR: Cert = Cert {
    name: "auditor",
    uri: "spiffe://portcullis.dev/auditor/oversight/audrey",
    role: "auditor",
    org: "oversight",
    user: "audrey",
};
const NO_URI: Cert = Cert {
    name: "no-uri",
    uri: "",
    role: "",
    org: "",
    user: "",
};
const TWO_URIS: Cert = Cert {
    name: "two-uris",
    uri: "spiffe://portcullis.dev/party/alpha/ann",
    role: "",
    org: "",
    user: "",
};
const OTHER_DOMAIN: Cert = Cert {
    name: "other-domain",
    uri: "spiffe://evil.example/party/alpha/eve",
    role: "",
    org: "",
    user: "",
};

/// The DER of `certs-dev/clients/<name>.crt`.
fn der(name: &str) -> Vec<u8> {
    let path = certs().join("clients").join(format!("{name}.crt"));
    portcullis::tls::load_certs(&path).unwrap()[0]
        .as_ref()
        .to_vec()
}

/// The serial of a client certificate in lower-case hex, as the audit log records it.
fn serial_hex(name: &str) -> String {
    let der = der(name);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    hex::encode(cert.raw_serial())
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

fn log_size(gw: &TestGateway) -> u64 {
    gw.running.store().log_size().unwrap()
}

/// Checks the actor and peer of an entry against the certificate it was made with.
fn assert_actor(entry: &AuditEntry, cert: &Cert) {
    let actor = entry.actor.as_ref().expect("actor");
    assert_eq!(actor.uri, cert.uri, "{}: actor.uri", cert.name);
    assert_eq!(actor.role, cert.role, "{}: actor.role", cert.name);
    assert_eq!(actor.org, cert.org, "{}: actor.org", cert.name);
    assert_eq!(actor.user, cert.user, "{}: actor.user", cert.name);
    assert!(!actor.cert_serial.is_empty(), "{}: cert_serial", cert.name);
    assert_eq!(actor.cert_serial, serial_hex(cert.name), "{}", cert.name);
    assert_eq!(actor.cert_sha256.len(), 32, "{}: cert_sha256", cert.name);
    assert_eq!(actor.cert_sha256, sha256(&der(cert.name)), "{}", cert.name);
    let peer: SocketAddr = entry
        .peer
        .parse()
        .unwrap_or_else(|e| panic!("{}: peer {:?}: {e}", cert.name, entry.peer));
    assert!(peer.ip().is_loopback(), "{}: peer {peer}", cert.name);
}

/// Asserts that `result` is PERMISSION_DENIED with `message` and that exactly one entry (since
/// `before`) records the denial with code 7, the method and the caller.
fn assert_denied<T: std::fmt::Debug>(
    gw: &TestGateway,
    before: u64,
    result: Result<tonic::Response<T>, tonic::Status>,
    method: &str,
    cert: &Cert,
    message: &str,
) {
    let status = match result {
        Ok(r) => panic!("{} on {method}: allowed: {:?}", cert.name, r.get_ref()),
        Err(s) => s,
    };
    assert_eq!(
        status.code(),
        Code::PermissionDenied,
        "{} on {method}: {status:?}",
        cert.name
    );
    assert_eq!(status.message(), message, "{} on {method}", cert.name);
    assert_eq!(
        log_size(gw),
        before + 1,
        "{} on {method}: the denial is audited once",
        cert.name
    );
    let entry = gw.last_entry();
    assert_eq!(entry.code, 7, "{} on {method}: audited code", cert.name);
    assert_eq!(entry.method, method, "{}: audited method", cert.name);
    assert_eq!(entry.detail, message, "{}: audited reason", cert.name);
    assert!(entry.advisory_ids.is_empty());
    assert_eq!(entry.grade, 0);
    assert_actor(&entry, cert);
}

fn role_message(role: &str, required: &str) -> String {
    format!("role {role} may not call this service (requires {required})")
}

async fn audit_client(gw: &TestGateway, who: &str) -> AuditServiceClient<Channel> {
    AuditServiceClient::new(gw.channel(who).await)
}

/// Calls GetCheckpoint as `cert` and checks with [`assert_denied`] that it is denied with
/// `message` and audited once.
async fn checkpoint_denied(gw: &TestGateway, cert: &Cert, message: &str) {
    let before = log_size(gw);
    let r = audit_client(gw, cert.name)
        .await
        .get_checkpoint(GetCheckpointRequest {})
        .await;
    assert_denied(gw, before, r, CHECKPOINT, cert, message);
}

fn publish() -> portcullis::proto::v1::PublishRequest {
    publish_request(
        "authz-publish",
        vec![token(TokenKind::Email, 1)],
        RiskGrade::Severe,
    )
}

fn vet() -> portcullis::proto::v1::VetRequest {
    vet_request("authz-vet", vec![token(TokenKind::Email, 1)])
}

fn no_advisories(gw: &TestGateway) -> bool {
    gw.running
        .store()
        .advisories_page(None, 10)
        .unwrap()
        .0
        .is_empty()
}

// ---------------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn party_may_not_call_advisory_or_audit_services() {
    let gw = TestGateway::start().await;
    let mut advisories = gw.advisories(ALPHA.name).await;

    let before = log_size(&gw);
    let r = advisories.publish(publish()).await;
    assert_denied(
        &gw,
        before,
        r,
        PUBLISH,
        &ALPHA,
        &role_message("party", "official"),
    );
    assert!(no_advisories(&gw));

    let before = log_size(&gw);
    let r = advisories
        .list_advisories(ListAdvisoriesRequest::default())
        .await;
    assert_denied(
        &gw,
        before,
        r,
        LIST,
        &ALPHA,
        &role_message("party", "official"),
    );

    // AuditService is not served yet: the role is checked before routing.
    checkpoint_denied(&gw, &ALPHA, &role_message("party", "auditor")).await;

    // The same party may vet.
    let resp = gw.vetting(ALPHA.name).await.vet(vet()).await.unwrap();
    assert_eq!(resp.get_ref().grade, RiskGrade::NoTrace as i32);
}

#[tokio::test]
async fn official_may_not_vet_or_call_audit_service() {
    let gw = TestGateway::start().await;
    let before = log_size(&gw);
    let r = gw.vetting(OFFICIAL.name).await.vet(vet()).await;
    assert_denied(
        &gw,
        before,
        r,
        VET,
        &OFFICIAL,
        &role_message("official", "party"),
    );
    // Nothing was remembered under any party for that request id.
    for scope in ["party/liaison", "party/alpha"] {
        assert!(gw
            .running
            .store()
            .idempotency(scope, "authz-vet")
            .unwrap()
            .is_none());
    }

    checkpoint_denied(&gw, &OFFICIAL, &role_message("official", "auditor")).await;

    // The same official may publish.
    gw.advisories(OFFICIAL.name)
        .await
        .publish(publish())
        .await
        .unwrap();
}

#[tokio::test]
async fn auditor_may_not_vet_or_publish() {
    let gw = TestGateway::start().await;
    let before = log_size(&gw);
    let r = gw.vetting(AUDITOR.name).await.vet(vet()).await;
    assert_denied(
        &gw,
        before,
        r,
        VET,
        &AUDITOR,
        &role_message("auditor", "party"),
    );

    let before = log_size(&gw);
    let r = gw.advisories(AUDITOR.name).await.publish(publish()).await;
    assert_denied(
        &gw,
        before,
        r,
        PUBLISH,
        &AUDITOR,
        &role_message("auditor", "official"),
    );
    assert!(no_advisories(&gw));
}

/// The auditor passes the role check for AuditService; whatever the answer (the service is not
/// served by this version), it is not PERMISSION_DENIED and it is audited.
#[tokio::test]
async fn auditor_passes_the_role_check_of_audit_service() {
    let gw = TestGateway::start().await;
    let before = log_size(&gw);
    let r = audit_client(&gw, AUDITOR.name)
        .await
        .get_checkpoint(GetCheckpointRequest {})
        .await;
    let code = match &r {
        Ok(_) => Code::Ok,
        Err(s) => s.code(),
    };
    assert_ne!(code, Code::PermissionDenied, "{r:?}");
    assert_ne!(code, Code::Internal, "{r:?}");
    assert_eq!(log_size(&gw), before + 1, "audited");
    let entry = gw.last_entry();
    assert_eq!(entry.method, CHECKPOINT);
    assert_eq!(entry.code, code as i32);
    assert_actor(&entry, &AUDITOR);
}

// ---------------------------------------------------------------------------------------------
// Accreditation and malformed identities
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unaccredited_party_is_denied() {
    let gw = TestGateway::start().await;
    let before = log_size(&gw);
    let r = gw.vetting(GAMMA.name).await.vet(vet()).await;
    assert_denied(&gw, before, r, VET, &GAMMA, "party gamma is not accredited");
    assert!(gw
        .running
        .store()
        .idempotency("party/gamma", "authz-vet")
        .unwrap()
        .is_none());

    // Other services: denied by role.
    let before = log_size(&gw);
    let r = gw.advisories(GAMMA.name).await.publish(publish()).await;
    assert_denied(
        &gw,
        before,
        r,
        PUBLISH,
        &GAMMA,
        &role_message("party", "official"),
    );
}

#[tokio::test]
async fn certificates_without_a_usable_identity_are_denied() {
    let gw = TestGateway::start().await;
    for (cert, message) in [
        (&NO_URI, "certificate has no URI SAN"),
        (
            &TWO_URIS,
            "certificate has 2 URI SANs, exactly one is required",
        ),
        (
            &OTHER_DOMAIN,
            "certificate URI is from another trust domain",
        ),
    ] {
        let before = log_size(&gw);
        let r = gw.vetting(cert.name).await.vet(vet()).await;
        assert_denied(&gw, before, r, VET, cert, message);

        let before = log_size(&gw);
        let r = gw.advisories(cert.name).await.publish(publish()).await;
        assert_denied(&gw, before, r, PUBLISH, cert, message);

        checkpoint_denied(&gw, cert, message).await;
    }
    // two-uris and other-domain name party alpha: nothing was done as alpha.
    assert!(gw
        .running
        .store()
        .idempotency("party/alpha", "authz-vet")
        .unwrap()
        .is_none());
    assert!(no_advisories(&gw));
}

// ---------------------------------------------------------------------------------------------
// The TLS handshake
// ---------------------------------------------------------------------------------------------

fn roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for c in portcullis::tls::load_certs(&certs().join("ca.crt")).unwrap() {
        roots.add(c).unwrap();
    }
    roots
}

/// Asserts that a connection attempt gets no service: either connecting fails, or a health
/// check (which needs nothing but an accepted handshake) and a vet both fail; and nothing is
/// audited.
async fn assert_refused_at_handshake(
    gw: &TestGateway,
    what: &str,
    alert: &str,
    connect: impl std::future::Future<Output = Result<Channel, portcullis::Error>>,
) {
    let before = log_size(gw);
    let limit = Duration::from_secs(10);
    let connected = tokio::time::timeout(limit, connect)
        .await
        .unwrap_or_else(|_| panic!("{what}: connecting hung"));
    match connected {
        Err(e) => assert!(
            format!("{e:?}").contains(alert),
            "{what}: expected the server's {alert} alert, got {e:?}"
        ),
        Ok(channel) => {
            let health = tokio::time::timeout(
                limit,
                HealthClient::new(channel.clone()).check(HealthCheckRequest {
                    service: String::new(),
                }),
            )
            .await
            .unwrap_or_else(|_| panic!("{what}: health check hung"));
            let err = health.expect_err("the handshake must not be accepted");
            assert!(
                format!("{err:?}").contains(alert),
                "{what}: expected the server's {alert} alert, got {err:?}"
            );
            let r = tokio::time::timeout(limit, VettingServiceClient::new(channel).vet(vet()))
                .await
                .unwrap_or_else(|_| panic!("{what}: vet hung"));
            let status = r.expect_err("the call must fail");
            assert_ne!(status.code(), Code::Ok);
        }
    }
    assert_eq!(log_size(gw), before, "{what}: nothing is audited");
}

async fn refused_client(name: &str, alert: &str) {
    let gw = TestGateway::start().await;
    let server = gw.server();
    let ca = certs().join("ca.crt");
    let identity = common::client(name);
    let connect = portcullis::client::connect(&server, &ca, &identity);
    assert_refused_at_handshake(&gw, name, alert, connect).await;
    // The gateway still serves good clients.
    gw.vetting(ALPHA.name).await.vet(vet()).await.unwrap();
}

#[tokio::test]
async fn revoked_certificate_fails_the_handshake() {
    refused_client("revoked", "CertificateRevoked").await;
}

#[tokio::test]
async fn expired_certificate_fails_the_handshake() {
    refused_client("expired", "CertificateExpired").await;
}

#[tokio::test]
async fn certificate_from_another_ca_fails_the_handshake() {
    refused_client("rogue", "UnknownCA").await;
}

#[tokio::test]
async fn client_without_certificate_fails_the_handshake() {
    let gw = TestGateway::start().await;
    let mut config = rustls::ClientConfig::builder_with_provider(portcullis::tls::provider())
        .with_protocol_versions(portcullis::tls::PROTOCOL_VERSIONS)
        .unwrap()
        .with_root_certificates(roots())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let server = gw.server();
    let connect = portcullis::client::connect_with(&server, Arc::new(config));
    assert_refused_at_handshake(&gw, "no certificate", "CertificateRequired", connect).await;
}

#[tokio::test]
async fn tls12_client_fails_the_handshake() {
    let gw = TestGateway::start().await;
    let before = log_size(&gw);
    let identity = common::client(ALPHA.name);
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(roots())
    .with_client_auth_cert(
        portcullis::tls::load_certs(&identity.cert).unwrap(),
        portcullis::tls::load_key(&identity.key).unwrap(),
    )
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(gw.running.addr())
        .await
        .unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let handshake = tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
        .await
        .expect("the handshake must not hang");
    let err = handshake.expect_err("a TLS 1.2 handshake must fail");
    assert!(
        format!("{err:?}").contains("ProtocolVersion"),
        "expected the server's protocol_version alert, got {err:?}"
    );
    assert_eq!(log_size(&gw), before, "nothing is audited");
}

// ---------------------------------------------------------------------------------------------
// Health, reflection, unknown methods
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn health_check_works_for_any_ca_signed_client_and_is_not_audited() {
    let gw = TestGateway::start().await;
    let before = log_size(&gw);
    for who in [
        ALPHA.name,
        GAMMA.name,
        OFFICIAL.name,
        AUDITOR.name,
        NO_URI.name,
        TWO_URIS.name,
        OTHER_DOMAIN.name,
    ] {
        let mut health = HealthClient::new(gw.channel(who).await);
        for service in [
            "",
            "portcullis.v1.VettingService",
            "portcullis.v1.AdvisoryService",
        ] {
            let resp = health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .unwrap_or_else(|s| panic!("{who}: health {service:?}: {s:?}"));
            assert_eq!(
                resp.get_ref().status,
                ServingStatus::Serving as i32,
                "{who}: {service:?}"
            );
        }
    }
    assert_eq!(log_size(&gw), before, "health checks are not audited");
}

#[tokio::test]
async fn reflection_works_and_is_audited() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let gw = TestGateway::start().await;
    let before = log_size(&gw);
    let mut client = ServerReflectionClient::new(gw.channel(ALPHA.name).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection allowed")
        .into_inner();
    let first = stream
        .message()
        .await
        .expect("a reflection answer")
        .expect("one message");
    let Some(MessageResponse::ListServicesResponse(list)) = first.message_response else {
        panic!("unexpected reflection answer: {first:?}");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "portcullis.v1.VettingService",
        "portcullis.v1.AdvisoryService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    while stream
        .message()
        .await
        .expect("stream ends cleanly")
        .is_some()
    {}

    assert_eq!(log_size(&gw), before + 1, "the reflection call is audited");
    let entry = gw.last_entry();
    assert_eq!(entry.method, REFLECTION);
    assert_eq!(entry.code, 0);
    assert_actor(&entry, &ALPHA);
}

#[tokio::test]
async fn unknown_methods_are_audited() {
    let gw = TestGateway::start().await;
    async fn call(channel: Channel, path: &'static str) -> tonic::Status {
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.unwrap();
        grpc.unary(
            tonic::Request::new(()),
            http::uri::PathAndQuery::from_static(path),
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await
        .expect_err("no such method")
    }
    // An allowed role on an unknown method of its service.
    let path = "/portcullis.v1.VettingService/Nope";
    let before = log_size(&gw);
    let status = call(gw.channel(ALPHA.name).await, path).await;
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert_eq!(log_size(&gw), before + 1);
    let entry = gw.last_entry();
    assert_eq!(entry.method, path);
    assert_eq!(entry.code, Code::Unimplemented as i32);
    assert_actor(&entry, &ALPHA);

    // Another role on an unknown method of a guarded service: denied before routing.
    let before = log_size(&gw);
    let status = call(gw.channel(OFFICIAL.name).await, path).await;
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(log_size(&gw), before + 1);
    let entry = gw.last_entry();
    assert_eq!(entry.code, 7);
    assert_actor(&entry, &OFFICIAL);

    // An unknown service.
    let path = "/evil.v1.Backdoor/Open";
    let before = log_size(&gw);
    let status = call(gw.channel(GAMMA.name).await, path).await;
    assert_ne!(status.code(), Code::Ok);
    assert_ne!(status.code(), Code::Internal);
    assert_eq!(log_size(&gw), before + 1, "unknown paths are audited");
    let entry = gw.last_entry();
    assert_eq!(entry.method, path);
    assert_eq!(entry.code, status.code() as i32);
    assert_actor(&entry, &GAMMA);
}

#[tokio::test]
async fn audited_peer_is_loopback_and_certificate_digest_is_32_bytes() {
    let gw = TestGateway::start().await;
    let resp = gw
        .vetting(ALPHA.name)
        .await
        .vet(vet())
        .await
        .unwrap()
        .into_inner();
    let entry = gw.last_entry();
    assert_eq!(entry.index, resp.audit_index);
    assert_eq!(entry.method, VET);
    assert_eq!(entry.code, 0);
    assert_actor(&entry, &ALPHA);
    let actor = entry.actor.unwrap();
    assert_eq!(actor.cert_sha256.len(), 32);
    let peer: SocketAddr = entry.peer.parse().unwrap();
    assert!(peer.ip().is_loopback());
    assert_ne!(
        peer.port(),
        gw.running.addr().port(),
        "the client's address, not ours"
    );
}
