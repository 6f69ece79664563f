//! Every validation rule of api.md over a real mTLS connection: the exact gRPC code, a message
//! that names the offending field (and never a token, guidance text or internal reference), an
//! audit entry for the refused call with that code and the caller, and no change of state.

mod common;

use std::path::Path;
use std::time::SystemTime;

use common::{publish_request, token, vet_request, TestGateway};
use portcullis::audit::AuditEntry;
use portcullis::client::ClientIdentity;
use portcullis::proto::v1::advisory_service_client::AdvisoryServiceClient;
use portcullis::proto::v1::vetting_service_client::VettingServiceClient;
use portcullis::proto::v1::{
    AdvisoryRecord, GetAdvisoryRequest, Handling, Likelihood, ListAdvisoriesRequest, MatchToken,
    PublishRequest, ReviseRequest, RiskGrade, SubjectKind, TokenKind, VetRequest, VetResponse,
    WithdrawRequest,
};
use prost_types::Timestamp;
use tonic::body::Body;
use tonic::transport::Channel;
use tonic::Code;

const ALPHA: &str = "spiffe://portcullis.dev/party/alpha/alice";
const OFFICIAL: &str = "spiffe://portcullis.dev/official/liaison/olivia";
const OTHER_OFFICIAL: &str = "spiffe://portcullis.dev/official/counter-fraud/oscar";

const VET: &str = "/portcullis.v1.VettingService/Vet";
const PUBLISH: &str = "/portcullis.v1.AdvisoryService/Publish";
const REVISE: &str = "/portcullis.v1.AdvisoryService/Revise";
const WITHDRAW: &str = "/portcullis.v1.AdvisoryService/Withdraw";
const GET: &str = "/portcullis.v1.AdvisoryService/GetAdvisory";
const LIST: &str = "/portcullis.v1.AdvisoryService/ListAdvisories";

/// The guidance of `common::publish_request`.
const GUIDANCE: &str = "Decline the donation and consult the security liaison.";
/// The internal reference of `common::publish_request`.
const INTERNAL_REFERENCE: &str = "OP-TEST";
/// A distinctive guidance text used where a request carries its own.
const SECRET_GUIDANCE: &str = "Subject is a known intermediary for a hostile state";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// What a refused call must look like.
#[derive(Debug, Clone, Copy)]
struct Expect<'a> {
    code: Code,
    method: &'a str,
    actor: &'a str,
    message: &'a str,
}

impl<'a> Expect<'a> {
    fn invalid(method: &'a str, actor: &'a str, message: &'a str) -> Self {
        Expect {
            code: Code::InvalidArgument,
            method,
            actor,
            message,
        }
    }
}

/// Fails if `text` contains guidance, an internal reference or any token digest in hex.
fn assert_discreet(text: &str, tokens: &[MatchToken]) {
    for secret in [GUIDANCE, INTERNAL_REFERENCE, SECRET_GUIDANCE] {
        assert!(!text.contains(secret), "{text:?} discloses {secret:?}");
    }
    for t in tokens {
        if t.digest.len() >= 8 {
            let hex = hex::encode(&t.digest);
            // The first 8 bytes are already a telling fragment.
            assert!(
                !text.to_ascii_lowercase().contains(&hex[..16]),
                "{text:?} discloses a token digest"
            );
        }
    }
}

/// Asserts that `result` is the refusal `expect`, that exactly one audit entry was added for
/// it (since `before` entries) with the code, method and actor, and returns that entry.
fn assert_refused<T: std::fmt::Debug>(
    gw: &TestGateway,
    before: usize,
    result: Result<tonic::Response<T>, tonic::Status>,
    expect: Expect<'_>,
    tokens: &[MatchToken],
) -> AuditEntry {
    let status = match result {
        Ok(r) => panic!(
            "{:?}: expected {:?}, the call succeeded: {:?}",
            expect.message,
            expect.code,
            r.get_ref()
        ),
        Err(s) => s,
    };
    assert_eq!(
        status.code(),
        expect.code,
        "{:?}: wrong code ({status:?})",
        expect.message
    );
    assert_eq!(status.message(), expect.message, "wrong message");
    assert_discreet(status.message(), tokens);

    let entries = gw.entries();
    assert_eq!(
        entries.len(),
        before + 1,
        "{:?}: exactly one audit entry for the refused call",
        expect.message
    );
    let entry = gw.last_entry();
    assert_eq!(
        entry.code, expect.code as i32,
        "{:?}: audited code",
        expect.message
    );
    assert_eq!(
        entry.method, expect.method,
        "{:?}: audited method",
        expect.message
    );
    let actor = entry.actor.clone().expect("audited actor");
    assert_eq!(
        actor.uri, expect.actor,
        "{:?}: audited actor",
        expect.message
    );
    assert_eq!(
        entry.detail, expect.message,
        "the audited reason is the answered message"
    );
    assert_discreet(&entry.detail, tokens);
    entry
}

/// Whether `s` is a request id the gateway accepts.
fn valid_request_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn distinct_tokens(n: usize) -> Vec<MatchToken> {
    (0..n)
        .map(|i| MatchToken {
            kind: TokenKind::Email as i32,
            digest: {
                let mut d = vec![0x5a; 32];
                d[0] = (i / 256) as u8;
                d[1] = (i % 256) as u8;
                d
            },
        })
        .collect()
}

fn ts_from_now(secs: i64) -> Timestamp {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Timestamp {
        seconds: now + secs,
        nanos: 0,
    }
}

const DAY: i64 = 86_400;

/// A fresh request id for a follow-up call.
fn fresh_id(gw: &TestGateway, what: &str) -> String {
    format!("{what}-{}", gw.entries().len())
}

/// Vets `tokens` as alpha with a fresh request id.
async fn vet_ok(
    gw: &TestGateway,
    alpha: &mut VettingServiceClient<Channel>,
    tokens: Vec<MatchToken>,
) -> VetResponse {
    alpha
        .vet(vet_request(&fresh_id(gw, "check"), tokens))
        .await
        .expect("a good vet")
        .into_inner()
}

async fn list_count(official: &mut AdvisoryServiceClient<Channel>) -> usize {
    official
        .list_advisories(ListAdvisoriesRequest {
            page_size: 500,
            page_token: String::new(),
        })
        .await
        .expect("list advisories")
        .into_inner()
        .advisories
        .len()
}

async fn publish_ok(official: &mut AdvisoryServiceClient<Channel>, req: PublishRequest) -> String {
    official
        .publish(req)
        .await
        .expect("a good publish")
        .into_inner()
        .advisory
        .expect("advisory")
        .advisory_id
}

fn good_vet(id: &str) -> VetRequest {
    vet_request(id, vec![token(TokenKind::Email, 7)])
}

/// The vetting fixture: a gateway with a LOW advisory on `token(Email, 7)` (the token of
/// `good_vet`), so that a refused vet that would have matched shows it disclosed nothing.
struct VetFixture {
    gw: TestGateway,
    alpha: VettingServiceClient<Channel>,
    advisory_id: String,
}

impl VetFixture {
    async fn start() -> VetFixture {
        let gw = TestGateway::start().await;
        let mut official = gw.advisories("official").await;
        let advisory_id = publish_ok(
            &mut official,
            publish_request("fixture", vec![token(TokenKind::Email, 7)], RiskGrade::Low),
        )
        .await;
        let alpha = gw.vetting("alpha-officer").await;
        VetFixture {
            gw,
            alpha,
            advisory_id,
        }
    }

    /// Sends a bad vet and checks the refusal, its audit entry and that nothing was remembered.
    async fn refuse(&mut self, req: VetRequest, message: &str) {
        let gw = &self.gw;
        let before = gw.entries().len();
        let tokens = req.tokens.clone();
        let request_id = req.request_id.clone();
        let result = self.alpha.vet(req).await;
        let entry = assert_refused(
            gw,
            before,
            result,
            Expect::invalid(VET, ALPHA, message),
            &tokens,
        );
        assert_eq!(entry.grade, 0, "{message}: a refused vet records no grade");
        assert!(
            entry.advisory_ids.is_empty(),
            "{message}: a refused vet discloses no advisory"
        );
        // Nothing was remembered: the same request id with other content is answered afresh
        // (not ALREADY_EXISTS); and a good vet still gives NO_TRACE for an unknown subject.
        let follow_id = if valid_request_id(&request_id) {
            request_id
        } else {
            fresh_id(gw, "follow")
        };
        let resp = self
            .alpha
            .vet(vet_request(&follow_id, vec![token(TokenKind::Email, 250)]))
            .await
            .unwrap_or_else(|s| panic!("{message}: follow-up vet failed: {s:?}"))
            .into_inner();
        assert_eq!(resp.grade, RiskGrade::NoTrace as i32, "{message}");
        assert!(resp.matches.is_empty());
        assert!(gw
            .running
            .store()
            .latest_advisory(&self.advisory_id)
            .unwrap()
            .is_some());
    }
}

/// The advisory fixture: a gateway, an official and a party client.
struct AdvisoryFixture {
    gw: TestGateway,
    official: AdvisoryServiceClient<Channel>,
    alpha: VettingServiceClient<Channel>,
}

impl AdvisoryFixture {
    async fn start() -> AdvisoryFixture {
        let gw = TestGateway::start().await;
        let official = gw.advisories("official").await;
        let alpha = gw.vetting("alpha-officer").await;
        AdvisoryFixture {
            gw,
            official,
            alpha,
        }
    }

    /// A good publish whose tokens are `token(Email, 9)`.
    fn publish(id: &str) -> PublishRequest {
        publish_request(id, vec![token(TokenKind::Email, 9)], RiskGrade::High)
    }

    /// Sends a bad publish; checks the refusal, its audit entry, and that no advisory appeared.
    async fn refuse_publish(&mut self, req: PublishRequest, message: &str) {
        let count = list_count(&mut self.official).await;
        let stored = self
            .gw
            .running
            .store()
            .advisories_page(None, 1000)
            .unwrap()
            .0
            .len();
        let before = self.gw.entries().len();
        let tokens = req.tokens.clone();
        let request_id = req.request_id.clone();
        let result = self.official.publish(req).await;
        let entry = assert_refused(
            &self.gw,
            before,
            result,
            Expect::invalid(PUBLISH, OFFICIAL, message),
            &tokens,
        );
        assert!(entry.advisory_ids.is_empty(), "{message}: no advisory id");
        let store = self.gw.running.store();
        assert_eq!(
            store.advisories_page(None, 1000).unwrap().0.len(),
            stored,
            "{message}: no advisory stored"
        );
        if valid_request_id(&request_id) {
            assert!(
                store
                    .idempotency("official/liaison", &request_id)
                    .unwrap()
                    .is_none(),
                "{message}: the request id was not consumed"
            );
        }
        assert_eq!(list_count(&mut self.official).await, count, "{message}");
        let resp = vet_ok(&self.gw, &mut self.alpha, vec![token(TokenKind::Email, 9)]).await;
        assert_eq!(resp.grade, RiskGrade::NoTrace as i32, "{message}");
    }

    /// Sends a refused revise; checks the answer, its audit entry and that `id` is unchanged.
    async fn refuse_revise(&mut self, req: ReviseRequest, expect: Expect<'_>, id: &str) {
        let call = |mut official: AdvisoryServiceClient<Channel>| async move {
            official.revise(req).await
        };
        self.refuse_change(call, expect, id).await;
    }

    /// Sends a refused withdraw; checks the answer, its audit entry and that `id` is unchanged.
    async fn refuse_withdraw(&mut self, req: WithdrawRequest, expect: Expect<'_>, id: &str) {
        let call = |mut official: AdvisoryServiceClient<Channel>| async move {
            official.withdraw(req).await
        };
        self.refuse_change(call, expect, id).await;
    }

    /// Makes a refused change of `id` with `call` (on the official's client); checks the answer,
    /// its audit entry and that `id` is unchanged.
    async fn refuse_change<F, T>(
        &mut self,
        call: impl FnOnce(AdvisoryServiceClient<Channel>) -> F,
        expect: Expect<'_>,
        id: &str,
    ) where
        F: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
        T: std::fmt::Debug,
    {
        let store = self.gw.running.store().clone();
        let latest = store.latest_advisory(id).unwrap();
        let before = self.gw.entries().len();
        let result = call(self.official.clone()).await;
        assert_refused(&self.gw, before, result, expect, &[]);
        assert_eq!(
            store.latest_advisory(id).unwrap(),
            latest,
            "{}: the advisory is unchanged",
            expect.message
        );
    }
}

fn revise_of(id: &str, version: u32) -> ReviseRequest {
    ReviseRequest {
        advisory_id: id.into(),
        expected_version: version,
        grade: RiskGrade::Severe as i32,
        likelihood: Likelihood::AlmostCertain as i32,
        handling: Handling::TlpRed as i32,
        guidance: SECRET_GUIDANCE.into(),
        audience: vec![],
        applies_to: vec![],
        valid_until: None,
        internal_reference: String::new(),
    }
}

fn withdraw_of(id: &str, version: u32) -> WithdrawRequest {
    WithdrawRequest {
        advisory_id: id.into(),
        expected_version: version,
        reason: "Source retracted".into(),
    }
}

fn version_of(r: &AdvisoryRecord) -> u32 {
    r.advisory.as_ref().expect("advisory").version
}

// ---------------------------------------------------------------------------------------------
// Vet
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn vet_request_id_rules() {
    let mut f = VetFixture::start().await;
    for (id, message) in [
        ("", "request_id: required"),
        (&"r".repeat(65) as &str, "request_id: at most 64 characters"),
        ("a b", "request_id: only [A-Za-z0-9._-] allowed"),
        ("case/1", "request_id: only [A-Za-z0-9._-] allowed"),
        ("réf-1", "request_id: only [A-Za-z0-9._-] allowed"),
    ] {
        f.refuse(good_vet(id), message).await;
    }
}

#[tokio::test]
async fn vet_subject_kind_rules() {
    let mut f = VetFixture::start().await;
    let mut r = good_vet("sk-unset");
    r.subject_kind = SubjectKind::Unspecified as i32;
    f.refuse(r, "subject_kind: required").await;
    let mut r = good_vet("sk-unknown");
    r.subject_kind = 42;
    f.refuse(r, "subject_kind: unknown value 42").await;
}

#[tokio::test]
async fn vet_key_id_rules() {
    let mut f = VetFixture::start().await;
    let mut r = good_vet("key-empty");
    r.key_id = String::new();
    f.refuse(r, "key_id: required").await;
    let mut r = good_vet("key-unknown");
    r.key_id = "dev-9".into();
    f.refuse(r, "key_id: not a configured matching-key epoch")
        .await;
    let mut r = good_vet("key-malformed");
    r.key_id = "dev 1".into();
    f.refuse(r, "key_id: must be 1..=64 characters of [A-Za-z0-9._-]")
        .await;
}

#[tokio::test]
async fn vet_token_count_rules() {
    let mut f = VetFixture::start().await;
    f.refuse(
        vet_request("tok-none", vec![]),
        "tokens: at least one token is required",
    )
    .await;
    let mut many = vec![token(TokenKind::Email, 7)];
    many.extend(distinct_tokens(128));
    f.refuse(
        vet_request("tok-129", many),
        "tokens: at most 128 tokens, got 129",
    )
    .await;
}

#[tokio::test]
async fn vet_token_digest_and_kind_rules() {
    let mut f = VetFixture::start().await;
    let with_bad = |id: &str, bad: MatchToken| {
        vet_request(
            id,
            vec![
                token(TokenKind::Email, 7),
                token(TokenKind::CompanyNumber, 7),
                bad,
            ],
        )
    };
    for (id, len) in [("dig-31", 31usize), ("dig-33", 33), ("dig-0", 0)] {
        let bad = MatchToken {
            kind: TokenKind::CryptoWallet as i32,
            digest: vec![0x42; len],
        };
        let message = format!("tokens[2].digest: must be 32 bytes, got {len}");
        f.refuse(with_bad(id, bad), &message).await;
    }
    let mut r = good_vet("dig0-31");
    r.tokens[0].digest.pop();
    f.refuse(r, "tokens[0].digest: must be 32 bytes, got 31")
        .await;

    let mut r = good_vet("kind-unset");
    r.tokens[0].kind = TokenKind::Unspecified as i32;
    f.refuse(r, "tokens[0].kind: required").await;
    let mut r = good_vet("kind-unknown");
    r.tokens[0].kind = 99;
    f.refuse(r, "tokens[0].kind: unknown value 99").await;
    let r = with_bad(
        "kind-unknown-2",
        MatchToken {
            kind: -1,
            digest: vec![3; 32],
        },
    );
    f.refuse(r, "tokens[2].kind: unknown value -1").await;
}

#[tokio::test]
async fn vet_duplicate_token_rule() {
    let mut f = VetFixture::start().await;
    let r = vet_request(
        "dup",
        vec![
            token(TokenKind::Email, 7),
            token(TokenKind::CompanyNumber, 7),
            token(TokenKind::Email, 7),
        ],
    );
    f.refuse(r, "tokens[2]: duplicate of tokens[0]").await;
}

#[tokio::test]
async fn vet_case_reference_rules() {
    let mut f = VetFixture::start().await;
    let mut r = good_vet("case-long");
    r.case_reference = "c".repeat(65);
    f.refuse(r, "case_reference: at most 64 characters").await;
    for (id, bad) in [
        ("case-name", "Smith, J"),
        ("case-space", "CASE 1"),
        ("case-nl", "CASE\n1"),
        ("case-utf8", "DOSSIER-É"),
    ] {
        let mut r = good_vet(id);
        r.case_reference = bad.into();
        f.refuse(r, "case_reference: only [A-Za-z0-9._/-] allowed")
            .await;
    }
}

/// The limits themselves are accepted.
#[tokio::test]
async fn vet_accepts_values_at_the_limits() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let mut r = vet_request(&"R".repeat(64), distinct_tokens(16));
    r.case_reference = format!("{}/1", "c".repeat(62));
    assert_eq!(r.case_reference.len(), 64);
    let resp = alpha.vet(r).await.expect("limits accepted").into_inner();
    assert_eq!(resp.grade, RiskGrade::NoTrace as i32);

    // Empty case reference; one digest under two different kinds is not a duplicate.
    let mut r = vet_request(
        "same-digest-two-kinds",
        vec![
            token(TokenKind::Email, 1),
            token(TokenKind::CryptoWallet, 1),
        ],
    );
    r.case_reference.clear();
    alpha.vet(r).await.expect("accepted");
    for kind in [
        SubjectKind::DonorOrganisation,
        SubjectKind::Candidate,
        SubjectKind::Staff,
    ] {
        let mut r = vet_request(&format!("kind-{}", kind as i32), distinct_tokens(1));
        r.subject_kind = kind as i32;
        alpha.vet(r).await.expect("every subject kind accepted");
    }
}

// ---------------------------------------------------------------------------------------------
// Publish
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn publish_request_id_and_key_id_rules() {
    let mut f = AdvisoryFixture::start().await;
    for (id, message) in [
        ("", "request_id: required"),
        (&"p".repeat(65) as &str, "request_id: at most 64 characters"),
        ("p 1", "request_id: only [A-Za-z0-9._-] allowed"),
    ] {
        f.refuse_publish(AdvisoryFixture::publish(id), message)
            .await;
    }
    let mut r = AdvisoryFixture::publish("key-empty");
    r.key_id.clear();
    f.refuse_publish(r, "key_id: required").await;
    let mut r = AdvisoryFixture::publish("key-unknown");
    r.key_id = "dev-9".into();
    f.refuse_publish(r, "key_id: not a configured matching-key epoch")
        .await;
}

#[tokio::test]
async fn publish_token_rules() {
    let mut f = AdvisoryFixture::start().await;
    let mut r = AdvisoryFixture::publish("tok-none");
    r.tokens.clear();
    f.refuse_publish(r, "tokens: at least one token is required")
        .await;
    let mut r = AdvisoryFixture::publish("tok-257");
    r.tokens.extend(distinct_tokens(256));
    f.refuse_publish(r, "tokens: at most 256 tokens, got 257")
        .await;
    let mut r = AdvisoryFixture::publish("tok-31");
    r.tokens.push(MatchToken {
        kind: TokenKind::TravelDocument as i32,
        digest: vec![0x42; 31],
    });
    f.refuse_publish(r, "tokens[1].digest: must be 32 bytes, got 31")
        .await;
    let mut r = AdvisoryFixture::publish("tok-kind");
    r.tokens[0].kind = 0;
    f.refuse_publish(r, "tokens[0].kind: required").await;
    let mut r = AdvisoryFixture::publish("tok-dup");
    r.tokens.push(token(TokenKind::Email, 9));
    f.refuse_publish(r, "tokens[1]: duplicate of tokens[0]")
        .await;
}

#[tokio::test]
async fn publish_grade_likelihood_handling_rules() {
    let mut f = AdvisoryFixture::start().await;
    let high = RiskGrade::High as i32;
    let likely = Likelihood::Likely as i32;
    // (grade, likelihood, handling, message)
    let cases = [
        (0, likely, 0, "grade: required"),
        (
            RiskGrade::NoTrace as i32,
            likely,
            0,
            "grade: must be LOW, MODERATE, HIGH or SEVERE (NO_TRACE is not publishable)",
        ),
        (9, likely, 0, "grade: unknown value 9"),
        (high, 0, 0, "likelihood: required"),
        (high, 8, 0, "likelihood: unknown value 8"),
        (high, likely, 6, "handling: unknown value 6"),
    ];
    for (i, (grade, likelihood, handling, message)) in cases.into_iter().enumerate() {
        let mut r = AdvisoryFixture::publish(&format!("terms-{i}"));
        r.grade = grade;
        r.likelihood = likelihood;
        r.handling = handling;
        f.refuse_publish(r, message).await;
    }
}

#[tokio::test]
async fn publish_guidance_rules() {
    let mut f = AdvisoryFixture::start().await;
    let mut r = AdvisoryFixture::publish("g-empty");
    r.guidance.clear();
    f.refuse_publish(r, "guidance: required").await;
    let mut r = AdvisoryFixture::publish("g-long");
    r.guidance = format!(
        "{SECRET_GUIDANCE} {}",
        "x".repeat(2000 - SECRET_GUIDANCE.len())
    );
    assert_eq!(r.guidance.chars().count(), 2001);
    f.refuse_publish(r, "guidance: at most 2000 characters, got 2001")
        .await;
    for (i, control) in ['\u{7}', '\r', '\u{0}', '\u{1b}', '\u{85}']
        .iter()
        .enumerate()
    {
        let mut r = AdvisoryFixture::publish(&format!("g-control-{i}"));
        r.guidance = format!("{SECRET_GUIDANCE}{control}");
        f.refuse_publish(r, "guidance: control characters are not allowed")
            .await;
    }
}

#[tokio::test]
async fn publish_audience_rules() {
    let mut f = AdvisoryFixture::start().await;
    let cases: [(&[&str], &str); 5] = [
        (&["gamma"], "audience[0]: not an accredited party"),
        (&["alpha", "gamma"], "audience[1]: not an accredited party"),
        (
            &["alpha", "Beta"],
            "audience[1]: must be a party id of [a-z0-9-]{1,63}",
        ),
        (&[""], "audience[0]: must be a party id of [a-z0-9-]{1,63}"),
        (&["alpha", "beta", "alpha"], "audience[2]: duplicate party"),
    ];
    for (i, (audience, message)) in cases.into_iter().enumerate() {
        let mut r = AdvisoryFixture::publish(&format!("aud-{i}"));
        r.audience = audience.iter().map(|s| s.to_string()).collect();
        f.refuse_publish(r, message).await;
    }
}

#[tokio::test]
async fn publish_applies_to_rules() {
    let mut f = AdvisoryFixture::start().await;
    let cases: [(&[i32], &str); 4] = [
        (&[9], "applies_to[0]: unknown value 9"),
        (&[1, 0], "applies_to[1]: required"),
        (&[1, 3, 1], "applies_to[2]: duplicate subject kind"),
        (&[-5], "applies_to[0]: unknown value -5"),
    ];
    for (i, (kinds, message)) in cases.into_iter().enumerate() {
        let mut r = AdvisoryFixture::publish(&format!("applies-{i}"));
        r.applies_to = kinds.to_vec();
        f.refuse_publish(r, message).await;
    }
}

#[tokio::test]
async fn publish_valid_until_rules() {
    let mut f = AdvisoryFixture::start().await;
    let cases = [
        (ts_from_now(-60), "valid_until: must be in the future"),
        (
            Timestamp {
                seconds: 0,
                nanos: 0,
            },
            "valid_until: must be in the future",
        ),
        (
            ts_from_now(6 * 366 * DAY),
            "valid_until: must be at most 5 years ahead",
        ),
        (
            ts_from_now(5 * 366 * DAY + 2 * DAY),
            "valid_until: must be at most 5 years ahead",
        ),
        (
            Timestamp {
                seconds: i64::MAX,
                nanos: 999_999_999,
            },
            "valid_until: must be at most 5 years ahead",
        ),
        (
            Timestamp {
                seconds: i64::MIN,
                nanos: 0,
            },
            "valid_until: must be in the future",
        ),
        (
            Timestamp {
                nanos: -1,
                ..ts_from_now(DAY)
            },
            "valid_until: nanos must be in 0..=999999999",
        ),
        (
            Timestamp {
                nanos: 1_000_000_000,
                ..ts_from_now(DAY)
            },
            "valid_until: nanos must be in 0..=999999999",
        ),
    ];
    for (i, (until, message)) in cases.into_iter().enumerate() {
        let mut r = AdvisoryFixture::publish(&format!("until-{i}"));
        r.valid_until = Some(until);
        f.refuse_publish(r, message).await;
    }
}

/// Five calendar years are at most 1827 days (two leap days); 1829 days ahead is more than
/// five years whatever today's date.
#[tokio::test]
async fn valid_until_beyond_five_calendar_years_is_refused() {
    let mut f = AdvisoryFixture::start().await;
    let mut r = AdvisoryFixture::publish("until-1829-days");
    r.valid_until = Some(ts_from_now(1829 * DAY));
    f.refuse_publish(r, "valid_until: must be at most 5 years ahead")
        .await;
}

#[tokio::test]
async fn publish_internal_reference_rules() {
    let mut f = AdvisoryFixture::start().await;
    let mut r = AdvisoryFixture::publish("ref-long");
    r.internal_reference = format!("{INTERNAL_REFERENCE}-{}", "9".repeat(121));
    assert_eq!(r.internal_reference.chars().count(), 129);
    f.refuse_publish(r, "internal_reference: at most 128 characters, got 129")
        .await;
    let mut r = AdvisoryFixture::publish("ref-control");
    r.internal_reference = format!("{INTERNAL_REFERENCE}\u{8}");
    f.refuse_publish(r, "internal_reference: control characters are not allowed")
        .await;
}

/// The limits themselves are accepted, and lengths are counted in characters, not bytes.
#[tokio::test]
async fn publish_accepts_values_at_the_limits() {
    let gw = TestGateway::start().await;
    let mut official = gw.advisories("official").await;
    let mut r = publish_request(&"P".repeat(64), distinct_tokens(64), RiskGrade::Severe);
    r.guidance = "é".repeat(1998) + "\n\t";
    r.internal_reference = "ü".repeat(128);
    r.audience = vec!["alpha".into(), "beta".into()];
    r.applies_to = vec![
        SubjectKind::DonorIndividual as i32,
        SubjectKind::DonorOrganisation as i32,
        SubjectKind::Candidate as i32,
        SubjectKind::Staff as i32,
    ];
    r.valid_until = Some(ts_from_now(5 * 365 * DAY));
    let record = official
        .publish(r)
        .await
        .expect("limits accepted")
        .into_inner();
    assert_eq!(record.token_count, 64);
    let adv = record.advisory.unwrap();
    assert_eq!(adv.guidance.chars().count(), 2000);
    // Unspecified handling defaults to TLP_AMBER_STRICT.
    assert_eq!(adv.handling, Handling::TlpAmberStrict as i32);

    // Unset valid_until: about a year from now.
    let r = publish_request(
        "default-expiry",
        vec![token(TokenKind::Email, 3)],
        RiskGrade::Low,
    );
    let adv = official
        .publish(r)
        .await
        .unwrap()
        .into_inner()
        .advisory
        .unwrap();
    let until = adv.valid_until.unwrap().seconds;
    let expected = ts_from_now(365 * DAY).seconds;
    assert!(
        (until - expected).abs() < 120,
        "default valid_until ~ now + 365 days"
    );
}

// ---------------------------------------------------------------------------------------------
// Revise and Withdraw
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn revise_rules() {
    let mut f = AdvisoryFixture::start().await;
    let id = publish_ok(&mut f.official, AdvisoryFixture::publish("to-revise")).await;
    let other = "adv-0000000000000000";
    assert_ne!(id, other);

    let cases: Vec<(ReviseRequest, Expect<'_>)> = vec![
        (
            revise_of("", 1),
            Expect::invalid(REVISE, OFFICIAL, "advisory_id: required"),
        ),
        (
            revise_of("adv-xyz", 1),
            Expect::invalid(
                REVISE,
                OFFICIAL,
                "advisory_id: must be adv- followed by 16 lower-case hex digits",
            ),
        ),
        (
            revise_of(&id.to_uppercase(), 1),
            Expect::invalid(
                REVISE,
                OFFICIAL,
                "advisory_id: must be adv- followed by 16 lower-case hex digits",
            ),
        ),
        (
            revise_of(&id, 0),
            Expect::invalid(
                REVISE,
                OFFICIAL,
                "expected_version: required (versions start at 1)",
            ),
        ),
        (
            ReviseRequest {
                guidance: String::new(),
                ..revise_of(&id, 1)
            },
            Expect::invalid(REVISE, OFFICIAL, "guidance: required"),
        ),
        (
            ReviseRequest {
                grade: RiskGrade::NoTrace as i32,
                ..revise_of(&id, 1)
            },
            Expect::invalid(
                REVISE,
                OFFICIAL,
                "grade: must be LOW, MODERATE, HIGH or SEVERE (NO_TRACE is not publishable)",
            ),
        ),
        (
            ReviseRequest {
                likelihood: 0,
                ..revise_of(&id, 1)
            },
            Expect::invalid(REVISE, OFFICIAL, "likelihood: required"),
        ),
        (
            ReviseRequest {
                audience: vec!["gamma".into()],
                ..revise_of(&id, 1)
            },
            Expect::invalid(REVISE, OFFICIAL, "audience[0]: not an accredited party"),
        ),
        (
            ReviseRequest {
                applies_to: vec![2, 2],
                ..revise_of(&id, 1)
            },
            Expect::invalid(REVISE, OFFICIAL, "applies_to[1]: duplicate subject kind"),
        ),
        (
            ReviseRequest {
                valid_until: Some(ts_from_now(-DAY)),
                ..revise_of(&id, 1)
            },
            Expect::invalid(REVISE, OFFICIAL, "valid_until: must be in the future"),
        ),
        (
            ReviseRequest {
                internal_reference: "r".repeat(129),
                ..revise_of(&id, 1)
            },
            Expect::invalid(
                REVISE,
                OFFICIAL,
                "internal_reference: at most 128 characters, got 129",
            ),
        ),
        (
            revise_of(&id, 2),
            Expect {
                code: Code::Aborted,
                method: REVISE,
                actor: OFFICIAL,
                message: "expected_version: the advisory is at version 1, not 2",
            },
        ),
        (
            revise_of(other, 1),
            Expect {
                code: Code::NotFound,
                method: REVISE,
                actor: OFFICIAL,
                message: "advisory_id: no such advisory",
            },
        ),
    ];
    for (req, expect) in cases {
        f.refuse_revise(req, expect, &id).await;
    }

    // A good revision makes version 2; the old version number is now stale.
    let rec = f
        .official
        .revise(revise_of(&id, 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(version_of(&rec), 2);
    f.refuse_revise(
        revise_of(&id, 1),
        Expect {
            code: Code::Aborted,
            method: REVISE,
            actor: OFFICIAL,
            message: "expected_version: the advisory is at version 2, not 1",
        },
        &id,
    )
    .await;
}

#[tokio::test]
async fn revise_or_withdraw_after_withdraw_is_failed_precondition() {
    let mut f = AdvisoryFixture::start().await;
    let id = publish_ok(&mut f.official, AdvisoryFixture::publish("to-withdraw")).await;
    let rec = f
        .official
        .withdraw(withdraw_of(&id, 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(version_of(&rec), 2);
    let expect = |method| Expect {
        code: Code::FailedPrecondition,
        method,
        actor: OFFICIAL,
        message: "advisory_id: the advisory is withdrawn and cannot change again",
    };
    f.refuse_revise(revise_of(&id, 2), expect(REVISE), &id)
        .await;
    f.refuse_withdraw(withdraw_of(&id, 2), expect(WITHDRAW), &id)
        .await;
    // The withdrawn advisory no longer matches.
    let resp = vet_ok(&f.gw, &mut f.alpha, vec![token(TokenKind::Email, 9)]).await;
    assert_eq!(resp.grade, RiskGrade::NoTrace as i32);
}

#[tokio::test]
async fn withdraw_rules() {
    let mut f = AdvisoryFixture::start().await;
    let id = publish_ok(&mut f.official, AdvisoryFixture::publish("to-withdraw")).await;
    let with_reason = |reason: String| WithdrawRequest {
        reason,
        ..withdraw_of(&id, 1)
    };
    let long = "w".repeat(501);
    let cases: Vec<(WithdrawRequest, Expect<'_>)> = vec![
        (
            with_reason(String::new()),
            Expect::invalid(WITHDRAW, OFFICIAL, "reason: required"),
        ),
        (
            with_reason(long),
            Expect::invalid(
                WITHDRAW,
                OFFICIAL,
                "reason: at most 500 characters, got 501",
            ),
        ),
        (
            with_reason("retracted\u{0}".into()),
            Expect::invalid(
                WITHDRAW,
                OFFICIAL,
                "reason: control characters are not allowed",
            ),
        ),
        (
            withdraw_of("", 1),
            Expect::invalid(WITHDRAW, OFFICIAL, "advisory_id: required"),
        ),
        (
            withdraw_of("adv-0123", 1),
            Expect::invalid(
                WITHDRAW,
                OFFICIAL,
                "advisory_id: must be adv- followed by 16 lower-case hex digits",
            ),
        ),
        (
            withdraw_of(&id, 0),
            Expect::invalid(
                WITHDRAW,
                OFFICIAL,
                "expected_version: required (versions start at 1)",
            ),
        ),
        (
            withdraw_of(&id, 7),
            Expect {
                code: Code::Aborted,
                method: WITHDRAW,
                actor: OFFICIAL,
                message: "expected_version: the advisory is at version 1, not 7",
            },
        ),
        (
            withdraw_of("adv-ffffffffffffffff", 1),
            Expect {
                code: Code::NotFound,
                method: WITHDRAW,
                actor: OFFICIAL,
                message: "advisory_id: no such advisory",
            },
        ),
    ];
    for (req, expect) in cases {
        f.refuse_withdraw(req, expect, &id).await;
    }
    // The advisory still matches: nothing was withdrawn.
    let resp = vet_ok(&f.gw, &mut f.alpha, vec![token(TokenKind::Email, 9)]).await;
    assert_eq!(resp.grade, RiskGrade::High as i32);
    // A 500-character reason is accepted.
    let rec = f
        .official
        .withdraw(with_reason("w".repeat(500)))
        .await
        .expect("500 characters accepted")
        .into_inner();
    assert_eq!(version_of(&rec), 2);
}

/// Writes a certificate for an official of another unit, signed by the development CA.
fn other_unit_official(dir: &Path) -> ClientIdentity {
    use rcgen::{
        CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        SanType, SerialNumber,
    };
    let ca_pem = std::fs::read_to_string(common::certs().join("ca.crt")).unwrap();
    let ca_key =
        KeyPair::from_pem(&std::fs::read_to_string(common::certs().join("ca.key")).unwrap())
            .unwrap();
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "other-unit-official");
    params.serial_number = Some(SerialNumber::from(424_242u64));
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(1);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    params.subject_alt_names = vec![SanType::URI(OTHER_OFFICIAL.try_into().unwrap())];
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let prefix = dir.join("other-official");
    let id = ClientIdentity::from_prefix(&prefix);
    std::fs::write(&id.cert, cert.pem()).unwrap();
    std::fs::write(&id.key, key.serialize_pem()).unwrap();
    id
}

/// The development PKI has one official unit; a second one is made here with the development
/// CA so that ownership can be tested.
#[tokio::test]
async fn another_units_advisory_is_permission_denied() {
    let mut f = AdvisoryFixture::start().await;
    let id = publish_ok(&mut f.official, AdvisoryFixture::publish("liaison-owned")).await;
    let dir = tempfile::tempdir().unwrap();
    let other = other_unit_official(dir.path());
    let channel =
        portcullis::client::connect(&f.gw.server(), &common::certs().join("ca.crt"), &other)
            .await
            .unwrap();
    let mut intruder = AdvisoryServiceClient::new(channel);
    let store = f.gw.running.store().clone();
    let latest = store.latest_advisory(&id).unwrap();
    let expect = |method| Expect {
        code: Code::PermissionDenied,
        method,
        actor: OTHER_OFFICIAL,
        message: "advisory_id: the advisory belongs to another unit",
    };

    let before = f.gw.entries().len();
    let result = intruder.revise(revise_of(&id, 1)).await;
    assert_refused(&f.gw, before, result, expect(REVISE), &[]);

    let before = f.gw.entries().len();
    let result = intruder.withdraw(withdraw_of(&id, 1)).await;
    assert_refused(&f.gw, before, result, expect(WITHDRAW), &[]);

    assert_eq!(store.latest_advisory(&id).unwrap(), latest);
    let resp = vet_ok(&f.gw, &mut f.alpha, vec![token(TokenKind::Email, 9)]).await;
    assert_eq!(resp.grade, RiskGrade::High as i32);
}

// ---------------------------------------------------------------------------------------------
// GetAdvisory and ListAdvisories
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_advisory_rules() {
    let mut f = AdvisoryFixture::start().await;
    let id = publish_ok(&mut f.official, AdvisoryFixture::publish("to-get")).await;
    for (bad, expect) in [
        ("", Expect::invalid(GET, OFFICIAL, "advisory_id: required")),
        (
            "adv-0123456789abcdeg",
            Expect::invalid(
                GET,
                OFFICIAL,
                "advisory_id: must be adv- followed by 16 lower-case hex digits",
            ),
        ),
        (
            "../adv-0123456789abcdef",
            Expect::invalid(
                GET,
                OFFICIAL,
                "advisory_id: must be adv- followed by 16 lower-case hex digits",
            ),
        ),
        (
            "adv-0000000000000001",
            Expect {
                code: Code::NotFound,
                method: GET,
                actor: OFFICIAL,
                message: "advisory_id: no such advisory",
            },
        ),
    ] {
        let before = f.gw.entries().len();
        let result = f
            .official
            .get_advisory(GetAdvisoryRequest {
                advisory_id: bad.into(),
                ..Default::default()
            })
            .await;
        assert_refused(&f.gw, before, result, expect, &[]);
    }
    let rec = f
        .official
        .get_advisory(GetAdvisoryRequest {
            advisory_id: id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(version_of(&rec), 1);
}

#[tokio::test]
async fn list_advisories_rejects_garbage_page_tokens() {
    use base64::Engine;
    let mut f = AdvisoryFixture::start().await;
    publish_ok(&mut f.official, AdvisoryFixture::publish("a1")).await;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    for garbage in [
        "!!".to_owned(),
        "not a token".to_owned(),
        b64(b"nope"),
        b64(b"adv-0123456789ABCDEF"),
        b64(&[0xff, 0xfe, 0xfd]),
        "a".repeat(10_000),
    ] {
        let before = f.gw.entries().len();
        let result = f
            .official
            .list_advisories(ListAdvisoriesRequest {
                page_size: 10,
                page_token: garbage,
            })
            .await;
        assert_refused(
            &f.gw,
            before,
            result,
            Expect::invalid(
                LIST,
                OFFICIAL,
                "page_token: not a token from a previous response",
            ),
            &[],
        );
    }
    assert_eq!(list_count(&mut f.official).await, 1);
}

// ---------------------------------------------------------------------------------------------
// Request bytes that do not decode
// ---------------------------------------------------------------------------------------------

/// A message whose field 1 is a varint: VetRequest's field 1 is a string.
#[derive(Clone, PartialEq, prost::Message)]
struct VarintOne {
    #[prost(uint64, tag = "1")]
    one: u64,
}

/// A message whose field 1 is arbitrary bytes: not UTF-8 where a string is expected.
#[derive(Clone, PartialEq, prost::Message)]
struct BytesOne {
    #[prost(bytes = "vec", tag = "1")]
    one: Vec<u8>,
}

const UNDECODABLE: &str = "request: not a valid protobuf message";

/// Sends `msg` encoded by prost to `path` and returns the answer.
async fn send_as<M, R>(channel: Channel, path: &'static str, msg: M) -> Result<R, tonic::Status>
where
    M: prost::Message + Send + Sync + 'static,
    R: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("channel ready");
    grpc.unary(
        tonic::Request::new(msg),
        http::uri::PathAndQuery::from_static(path),
        tonic_prost::ProstCodec::<M, R>::default(),
    )
    .await
    .map(tonic::Response::into_inner)
}

/// Asserts an INVALID_ARGUMENT answer to undecodable bytes, audited with code 3.
fn assert_undecodable<T: std::fmt::Debug>(
    gw: &TestGateway,
    before: usize,
    result: Result<T, tonic::Status>,
    method: &str,
    actor: &str,
    case: &str,
) {
    let status = result.expect_err(case);
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "{case}: undecodable bytes must be INVALID_ARGUMENT, got {status:?}"
    );
    assert!(
        status.message().starts_with(UNDECODABLE),
        "{case}: {:?}",
        status.message()
    );
    assert_discreet(status.message(), &[]);
    assert_eq!(gw.entries().len(), before + 1, "{case}: audited once");
    let entry = gw.last_entry();
    assert_eq!(entry.code, Code::InvalidArgument as i32, "{case}");
    assert_eq!(entry.method, method, "{case}");
    assert_eq!(entry.actor.unwrap().uri, actor, "{case}");
}

/// Sends `msg` as the request of `path` on `channel` as `actor`, and checks with
/// [`assert_undecodable`] that it is refused and audited once.
async fn refused_undecodable<M, R>(
    gw: &TestGateway,
    (channel, path, actor): (&Channel, &'static str, &str),
    msg: M,
    case: &str,
) where
    M: prost::Message + Send + Sync + 'static,
    R: prost::Message + Default + Send + Sync + std::fmt::Debug + 'static,
{
    let before = gw.entries().len();
    let result = send_as::<M, R>(channel.clone(), path, msg).await;
    assert_undecodable(gw, before, result, path, actor, case);
}

#[tokio::test]
async fn undecodable_messages_are_invalid_argument() {
    let gw = TestGateway::start().await;
    let party = gw.channel("alpha-officer").await;
    let official = gw.channel("official").await;

    let not_utf8 = |bytes: &[u8]| BytesOne {
        one: bytes.to_vec(),
    };
    let vet = (&party, VET, ALPHA);
    let (publish, get) = ((&official, PUBLISH, OFFICIAL), (&official, GET, OFFICIAL));
    let case = "varint where a string is expected";
    refused_undecodable::<_, VetResponse>(&gw, vet, VarintOne { one: 7 }, case).await;
    let case = "string field not UTF-8";
    refused_undecodable::<_, VetResponse>(&gw, vet, not_utf8(&[0xff, 0xfe, 0x80]), case).await;
    let case = "publish: varint request_id";
    refused_undecodable::<_, AdvisoryRecord>(&gw, publish, VarintOne { one: 1 }, case).await;
    let case = "get: advisory_id not UTF-8";
    refused_undecodable::<_, AdvisoryRecord>(&gw, get, not_utf8(&[0xc3, 0x28]), case).await;

    // Nothing happened: no advisory, and vetting still works.
    assert!(gw
        .running
        .store()
        .advisories_page(None, 10)
        .unwrap()
        .0
        .is_empty());
    let mut alpha = VettingServiceClient::new(party);
    let resp = alpha
        .vet(good_vet("after-garbage"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.grade, RiskGrade::NoTrace as i32);
}

/// A message larger than the gateway accepts is refused (never INTERNAL or UNKNOWN) and audited.
#[tokio::test]
async fn oversized_request_is_refused_and_audited() {
    let gw = TestGateway::start().await;
    let mut alpha = gw.vetting("alpha-officer").await;
    let before = gw.entries().len();
    let mut r = good_vet("huge");
    r.case_reference = "c".repeat(5 * 1024 * 1024);
    let status = alpha.vet(r).await.expect_err("a 5 MiB request is refused");
    assert!(
        matches!(
            status.code(),
            Code::InvalidArgument | Code::ResourceExhausted | Code::OutOfRange
        ),
        "{status:?}"
    );
    assert_eq!(gw.entries().len(), before + 1, "audited");
    let entry = gw.last_entry();
    assert_eq!(entry.code, status.code() as i32);
    assert_eq!(entry.method, VET);
    assert_eq!(entry.actor.unwrap().uri, ALPHA);
}

/// A gRPC request body of our choosing (it must be valid UTF-8 for `String` to carry it; every
/// byte used here is ASCII).
fn raw_frame(flag: u8, declared_len: u32, payload: &[u8]) -> String {
    let mut bytes = vec![flag];
    bytes.extend_from_slice(&declared_len.to_be_bytes());
    bytes.extend_from_slice(payload);
    assert!(bytes.is_ascii(), "raw frames here are ASCII");
    String::from_utf8(bytes).unwrap()
}

/// Sends `body` verbatim as the request body of a unary call to `path`.
async fn send_raw(channel: Channel, path: &'static str, body: String) -> tonic::Status {
    use tower::ServiceExt;
    let svc = channel.map_request(move |req: http::Request<Body>| {
        let (parts, _) = req.into_parts();
        http::Request::from_parts(parts, Body::new(body.clone()))
    });
    let mut grpc = tonic::client::Grpc::new(svc);
    grpc.ready().await.expect("channel ready");
    grpc.unary(
        tonic::Request::new(()),
        http::uri::PathAndQuery::from_static(path),
        tonic_prost::ProstCodec::<(), VetResponse>::default(),
    )
    .await
    .expect_err("raw garbage must be refused")
}

/// Frames whose payload is not a VetRequest: decoded by the (mapped) codec.
#[tokio::test]
async fn raw_payloads_that_do_not_decode_are_invalid_argument() {
    let gw = TestGateway::start().await;
    let party = gw.channel("alpha-officer").await;
    for (case, payload) in [
        ("varint where a string is expected", &[0x08u8, 0x01][..]),
        ("truncated length-delimited field", &[0x0a, 0x05, b'a'][..]),
        ("truncated tokens field", &[0x22, 0x7f, 0x08][..]),
        ("wire type 7", &[0x0f][..]),
        ("field number 0", &[0x02, 0x00][..]),
    ] {
        let before = gw.entries().len();
        let body = raw_frame(0, payload.len() as u32, payload);
        let status = send_raw(party.clone(), VET, body).await;
        assert_undecodable(&gw, before, Err::<(), _>(status), VET, ALPHA, case);
    }
}

/// Bodies whose gRPC framing is broken: tonic answers these with INTERNAL before the codec is
/// reached; the contract says never INTERNAL for anything a client can cause.
#[tokio::test]
async fn broken_grpc_framing_is_invalid_argument_not_internal() {
    let gw = TestGateway::start().await;
    let party = gw.channel("alpha-officer").await;
    let mut failures = Vec::new();
    for (case, body) in [
        ("no message at all", String::new()),
        ("frame header cut short", "\0\0\0".to_owned()),
        (
            "body shorter than the declared length",
            raw_frame(0, 40, b"\x0a\x01a"),
        ),
        (
            "compressed flag without grpc-encoding",
            raw_frame(1, 3, b"\x0a\x01a"),
        ),
        ("unknown compression flag", raw_frame(2, 3, b"\x0a\x01a")),
    ] {
        let before = gw.entries().len();
        let status = send_raw(party.clone(), VET, body).await;
        assert_ne!(status.code(), Code::Ok);
        assert_eq!(gw.entries().len(), before + 1, "{case}: audited");
        let entry = gw.last_entry();
        assert_eq!(entry.code, status.code() as i32, "{case}: audited code");
        assert_eq!(entry.actor.unwrap().uri, ALPHA);
        if matches!(status.code(), Code::Internal | Code::Unknown) {
            failures.push(format!(
                "{case}: {:?} {:?}",
                status.code(),
                status.message()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "client-caused INTERNAL/UNKNOWN answers:\n{}",
        failures.join("\n")
    );
}

/// The auth layer audits calls the handler never saw (undecodable bytes) with the answered
/// message as the reason; it must be the message, not its percent-encoded header form.
#[tokio::test]
async fn undecodable_request_audit_detail_is_readable() {
    let gw = TestGateway::start().await;
    let party = gw.channel("alpha-officer").await;
    let status = send_raw(party, VET, raw_frame(0, 2, &[0x08, 0x01])).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    let entry = gw.last_entry();
    assert_eq!(entry.detail, status.message());
}
