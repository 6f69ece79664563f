//! The key service (tokens v2) as `serve --dev` hosts it: Evaluate and GetPublicKey over mTLS,
//! every bad input with its precise error and audit entry, the role rules, the quota, a
//! tampered proof refused by the client, and a vet matched through v2 tokens end to end.

use std::path::Path;

use portcullis::keyservice::client::{KeyServiceConnection, Scheme};
use portcullis::oprf::{Blinded, PublicKey, ServerKey};
use portcullis::proto::v1::key_service_client::KeyServiceClient;
use portcullis::proto::v1::{
    EvaluateRequest, GetPublicKeyRequest, MatchToken, RiskGrade, TokenKind,
};
use portcullis::tokens::IdentityFields;
use tonic::transport::Channel;
use tonic::Code;

mod common;

use common::{certs, publish_request, vet_request, TestGateway};

const EVALUATE: &str = "/portcullis.v1.KeyService/Evaluate";

fn pinned() -> PublicKey {
    PublicKey::from_file(&certs().join("keyservice.pub")).unwrap()
}

async fn keys(gw: &TestGateway, who: &str) -> KeyServiceClient<Channel> {
    KeyServiceClient::new(gw.channel(who).await)
}

async fn scheme(gw: &TestGateway, who: &str) -> Scheme {
    Scheme::Voprf(KeyServiceConnection::new(
        &gw.server(),
        gw.channel(who).await,
        pinned(),
    ))
}

fn request(elements: Vec<Vec<u8>>) -> EvaluateRequest {
    EvaluateRequest {
        key_id: "dev-2".into(),
        blinded_elements: elements,
    }
}

fn blinded(n: usize) -> (Blinded, Vec<Vec<u8>>) {
    let inputs = (0..n)
        .map(|i| {
            portcullis::oprf::input(
                portcullis::tokens::CanonicalKind::Email,
                &format!("{i}@x.org"),
            )
        })
        .collect();
    let b = Blinded::new(inputs).unwrap();
    let sent = b.elements().iter().map(|e| e.to_vec()).collect();
    (b, sent)
}

#[tokio::test]
async fn evaluate_and_get_public_key_are_answered_and_audited_without_the_elements() {
    let gw = TestGateway::start().await;
    let mut alpha = keys(&gw, "alpha-officer").await;
    let pk = alpha
        .get_public_key(GetPublicKeyRequest {
            key_id: "dev-2".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pk.suite, "voprf-ristretto255-sha512");
    assert_eq!(pk.public_key, pinned().bytes().to_vec());

    let (b, sent) = blinded(3);
    let answer = alpha
        .evaluate(request(sent.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.evaluated_elements.len(), 3);
    assert_eq!(answer.proof.len(), 64);
    let digests = b
        .finalize(&pinned(), &answer.evaluated_elements, &answer.proof)
        .unwrap();
    // The same inputs under the committed private key, evaluated here, give the same digests.
    let local = ServerKey::from_file(&certs().join("keyservice.key")).unwrap();
    let (b2, sent2) = blinded(3);
    let here = local.evaluate(&sent2).unwrap();
    let here: Vec<Vec<u8>> = here.elements.iter().map(|e| e.to_vec()).collect();
    let proof = local.evaluate(&sent2).unwrap().proof;
    assert_eq!(b2.finalize(&pinned(), &here, &proof).unwrap(), digests);

    let entry = gw.last_entry();
    assert_eq!(entry.method, EVALUATE);
    assert_eq!(entry.code, 0);
    assert_eq!(entry.key_id, "dev-2");
    assert_eq!(entry.element_count, 3);
    assert_eq!(entry.actor.as_ref().unwrap().org, "alpha");
    // Never the elements: no blinded element's bytes appear in the leaf.
    let leaf = prost::Message::encode_to_vec(&entry);
    for e in &sent {
        assert!(!leaf.windows(32).any(|w| w == e.as_slice()));
    }
}

#[tokio::test]
async fn every_bad_input_is_named_audited_and_evaluates_nothing() {
    let gw = TestGateway::start().await;
    let mut alpha = keys(&gw, "alpha-officer").await;
    let (_, good) = blinded(4);
    let with = |i: usize, bad: Vec<u8>| {
        let mut v = good.clone();
        v[i] = bad;
        request(v)
    };
    let cases: Vec<(EvaluateRequest, &str)> = vec![
        (
            with(3, vec![0xff; 32]),
            "blinded_elements[3]: not a canonical ristretto255 encoding",
        ),
        (with(1, vec![0; 32]), "blinded_elements[1]: is the identity element"),
        (with(2, vec![7; 31]), "blinded_elements[2]: must be 32 bytes, got 31"),
        (request(vec![]), "blinded_elements: must hold 1..=1024 elements, got 0"),
        (
            request(vec![good[0].clone(); 1025]),
            "blinded_elements: must hold 1..=1024 elements, got 1025",
        ),
        (
            EvaluateRequest {
                key_id: "dev-1".into(),
                blinded_elements: good.clone(),
            },
            "key_id: epoch dev-1 is hmac-sha256, not voprf-ristretto255-sha512; its key is on the client",
        ),
        (
            EvaluateRequest {
                key_id: "nope".into(),
                blinded_elements: good.clone(),
            },
            "key_id: unknown key epoch nope",
        ),
        (
            EvaluateRequest {
                key_id: String::new(),
                blinded_elements: good.clone(),
            },
            "key_id: required",
        ),
    ];
    for (req, want) in cases {
        let n = req.blinded_elements.len() as u32;
        let status = alpha.evaluate(req).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{want}");
        assert_eq!(status.message(), want);
        let entry = gw.last_entry();
        assert_eq!(entry.method, EVALUATE);
        assert_eq!(entry.code, Code::InvalidArgument as i32);
        assert_eq!(entry.detail, want);
        assert_eq!(entry.element_count, n);
    }
}

#[tokio::test]
async fn roles_parties_officials_and_auditors_for_the_public_key_only() {
    let gw = TestGateway::start().await;
    let (_, good) = blinded(1);
    for who in ["alpha-officer", "official"] {
        let mut c = keys(&gw, who).await;
        assert!(c.evaluate(request(good.clone())).await.is_ok(), "{who}");
    }
    let mut auditor = keys(&gw, "auditor").await;
    assert!(auditor
        .get_public_key(GetPublicKeyRequest {
            key_id: "dev-2".into()
        })
        .await
        .is_ok());
    let status = auditor.evaluate(request(good.clone())).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("auditor may not call Evaluate"));
    let entry = gw.last_entry();
    assert_eq!(
        (entry.method.as_str(), entry.code),
        (EVALUATE, Code::PermissionDenied as i32)
    );
    for who in ["gamma-officer", "no-uri"] {
        let mut c = keys(&gw, who).await;
        let status = c.evaluate(request(good.clone())).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{who}");
        let status = c
            .get_public_key(GetPublicKeyRequest {
                key_id: "dev-2".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{who}");
        assert_eq!(gw.last_entry().code, Code::PermissionDenied as i32);
    }
}

#[tokio::test]
async fn the_daily_quota_answers_resource_exhausted_with_retry_after_ms() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = common::config(dir.path());
    c.limits.evaluate_per_day = 10;
    let running = portcullis::server::start(c).await.unwrap();
    let gw = TestGateway { running, dir };
    let mut alpha = keys(&gw, "alpha-officer").await;
    let (_, six) = blinded(6);
    alpha.evaluate(request(six.clone())).await.unwrap();
    let status = alpha.evaluate(request(six.clone())).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    let wait: u64 = status
        .metadata()
        .get("retry-after-ms")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400_000).contains(&wait), "{wait}");
    let entry = gw.last_entry();
    assert_eq!(entry.code, Code::ResourceExhausted as i32);
    assert_eq!(entry.element_count, 6);
    // The refused call spent nothing: four elements remain today; another certificate has its own.
    alpha.evaluate(request(six[..4].to_vec())).await.unwrap();
    let mut beta = keys(&gw, "beta-officer").await;
    beta.evaluate(request(six)).await.unwrap();
}

#[tokio::test]
async fn a_tampered_proof_or_another_key_is_refused_by_the_client_naming_the_key() {
    let gw = TestGateway::start().await;
    let mut alpha = keys(&gw, "alpha-officer").await;
    let (b, sent) = blinded(2);
    let answer = alpha.evaluate(request(sent)).await.unwrap().into_inner();
    let mut proof = answer.proof.clone();
    proof[40] ^= 0x01;
    let e = b
        .finalize(&pinned(), &answer.evaluated_elements, &proof)
        .unwrap_err();
    assert!(e.to_string().contains("does not verify"), "{e}");
    assert!(e.to_string().contains("dev-2"), "{e}");
    let mut swapped = answer.evaluated_elements.clone();
    swapped.swap(0, 1);
    assert!(b.finalize(&pinned(), &swapped, &answer.proof).is_err());

    // A client pinned to another key for dev-2 refuses the real service's answers.
    let other = ServerKey::generate("dev-2").unwrap().public_key();
    let mut wrong = Scheme::Voprf(KeyServiceConnection::new(
        &gw.server(),
        gw.channel("alpha-officer").await,
        other,
    ));
    let e = wrong
        .tokens(&IdentityFields {
            email: Some("a@example.org".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("pinned public key of dev-2"), "{e}");
}

fn wire(tokens: &[portcullis::tokens::Token]) -> Vec<MatchToken> {
    tokens
        .iter()
        .map(|t| MatchToken {
            kind: TokenKind::from_str_name(t.kind.name()).unwrap() as i32,
            digest: t.digest.to_vec(),
        })
        .collect()
}

#[tokio::test]
async fn an_official_and_a_party_match_through_v2_tokens() {
    let gw = TestGateway::start().await;
    let mut official = scheme(&gw, "official").await;
    let mut party = scheme(&gw, "alpha-officer").await;
    let published = official
        .tokens(&IdentityFields {
            name: Some("JOSE GARCIA PEREZ".into()),
            dob: Some("12/04/1971".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut publish = publish_request("v2-pub", wire(&published), RiskGrade::High);
    publish.key_id = "dev-2".into();
    gw.advisories("official")
        .await
        .publish(publish)
        .await
        .unwrap();

    let vetted = party
        .tokens(&IdentityFields {
            name: Some("José García-Pérez".into()),
            dob: Some("1971-04-12".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    // Blinding is random per call, the digests are not.
    assert_eq!(wire(&vetted), wire(&published));
    let mut vet = vet_request("v2-vet", wire(&vetted));
    vet.key_id = "dev-2".into();
    let answer = gw
        .vetting("alpha-officer")
        .await
        .vet(vet)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.grade, RiskGrade::High as i32);

    // The same person under the v1 epoch does not match the v2 advisory.
    let mut v1 = vet_request("v1-vet", common::person("José García-Pérez", "1971-04-12"));
    v1.key_id = "dev-1".into();
    let answer = gw
        .vetting("alpha-officer")
        .await
        .vet(v1)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.grade, RiskGrade::NoTrace as i32);
}

#[test]
fn the_committed_dev_keys_pair_up() {
    let key = ServerKey::from_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("certs-dev/keyservice.key"),
    )
    .unwrap();
    assert_eq!(key.public_key(), pinned());
    assert_eq!(key.id(), "dev-2");
}
