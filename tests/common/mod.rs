//! Shared test harness: a real gateway on 127.0.0.1:0 with the committed development PKI and
//! a sled store in a temporary directory, called by real mTLS gRPC clients.
#![allow(dead_code)]

pub mod cli;
pub mod process;
pub mod raw_tls;
pub mod receipts;

use std::path::{Path, PathBuf};
use std::time::Duration;

use portcullis::audit::AuditEntry;
use portcullis::client::ClientIdentity;
use portcullis::config::Config;
use portcullis::proto::v1::advisory_service_client::AdvisoryServiceClient;
use portcullis::proto::v1::vetting_service_client::VettingServiceClient;
use portcullis::proto::v1::{
    Likelihood, MatchToken, PublishRequest, ReviseRequest, RiskGrade, SubjectKind, TokenKind,
    VetRequest,
};
use portcullis::server::Running;
use portcullis::tokens::{IdentityFields, MatchingKey};
use prost::Message;
use tonic::transport::Channel;

/// The committed development PKI.
pub fn certs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("certs-dev")
}

/// `certs-dev/clients/<name>` as a client identity.
pub fn client(name: &str) -> ClientIdentity {
    ClientIdentity::from_prefix(&certs().join("clients").join(name))
}

/// The development configuration on a free port and `data`.
pub fn config(data: &Path) -> Config {
    let mut c = Config::dev(&certs());
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.data_dir = data.to_path_buf();
    c.audit.write_timeout = Duration::from_secs(2);
    c
}

/// A gateway and its data directory.
pub struct TestGateway {
    pub running: Running,
    pub dir: tempfile::TempDir,
}

impl TestGateway {
    pub async fn start() -> TestGateway {
        let dir = tempfile::tempdir().unwrap();
        let running = portcullis::server::start(config(dir.path())).await.unwrap();
        TestGateway { running, dir }
    }

    pub fn server(&self) -> String {
        format!("https://localhost:{}", self.running.addr().port())
    }

    pub async fn channel(&self, who: &str) -> Channel {
        portcullis::client::connect(&self.server(), &certs().join("ca.crt"), &client(who))
            .await
            .unwrap()
    }

    pub async fn vetting(&self, who: &str) -> VettingServiceClient<Channel> {
        VettingServiceClient::new(self.channel(who).await)
    }

    pub async fn advisories(&self, who: &str) -> AdvisoryServiceClient<Channel> {
        AdvisoryServiceClient::new(self.channel(who).await)
    }

    /// Every audit entry so far, decoded, in index order, the notice sweep's included.
    pub fn all_entries(&self) -> Vec<AuditEntry> {
        let store = self.running.store();
        let size = store.log_size().unwrap();
        store
            .leaves(0, size)
            .map(|r| AuditEntry::decode(r.unwrap().1.as_slice()).unwrap())
            .collect()
    }

    /// The audit entries of calls so far, in index order: every entry but the notice sweep's,
    /// which the sweep commits behind advisory changes whenever it runs, so that counting the
    /// entries a call added does not race with it.
    pub fn entries(&self) -> Vec<AuditEntry> {
        self.all_entries()
            .into_iter()
            .filter(|e| e.method != portcullis::domain::NOTIFY_METHOD)
            .collect()
    }

    /// The last audit entry of a call (see [`TestGateway::entries`]).
    pub fn last_entry(&self) -> AuditEntry {
        self.entries().pop().expect("no audit entry")
    }

    /// Stops the gateway, keeping the data directory.
    pub async fn stop(self) -> tempfile::TempDir {
        self.running.shutdown().await.unwrap();
        self.dir
    }

    /// Starts a new gateway on an existing data directory.
    pub async fn restart(dir: tempfile::TempDir) -> TestGateway {
        let running = portcullis::server::start(config(dir.path())).await.unwrap();
        TestGateway { running, dir }
    }
}

/// The development matching key.
pub fn key() -> MatchingKey {
    MatchingKey::from_file(&certs().join("matching.key")).unwrap()
}

/// Tokens for identity fields under the development key.
pub fn tokens(fields: IdentityFields) -> Vec<MatchToken> {
    portcullis::tokens::derive(&key(), &fields)
        .unwrap()
        .into_iter()
        .map(|t| MatchToken {
            kind: TokenKind::from_str_name(t.kind.name()).unwrap() as i32,
            digest: t.digest.to_vec(),
        })
        .collect()
}

/// A person by name and date of birth (PERSON_NAME_DOB, PERSON_NAME_YOB and the variant tokens).
pub fn person(name: &str, dob: &str) -> Vec<MatchToken> {
    tokens(IdentityFields {
        name: Some(name.into()),
        dob: Some(dob.into()),
        ..Default::default()
    })
}

/// A single token of `kind` with a digest made from `seed`.
pub fn token(kind: TokenKind, seed: u8) -> MatchToken {
    MatchToken {
        kind: kind as i32,
        digest: vec![seed; 32],
    }
}

pub fn vet_request(id: &str, tokens: Vec<MatchToken>) -> VetRequest {
    VetRequest {
        request_id: id.into(),
        subject_kind: SubjectKind::DonorIndividual as i32,
        key_id: "dev-1".into(),
        tokens,
        case_reference: "CASE-1".into(),
        linked: vec![],
    }
}

/// The notice job the publication of `advisory` queued, as a crash before the notice sweep's
/// commit leaves it in the store.
pub fn publication_job(advisory: &portcullis::proto::v1::Advisory) -> portcullis::store::NoticeJob {
    portcullis::store::NoticeJob {
        advisory_id: advisory.advisory_id.clone(),
        version: 1,
        kind: portcullis::proto::v1::NoticeKind::Published as i32,
        previous_version: 0,
        at: advisory.issued_at,
    }
}

pub fn publish_request(id: &str, tokens: Vec<MatchToken>, grade: RiskGrade) -> PublishRequest {
    PublishRequest {
        request_id: id.into(),
        key_id: "dev-1".into(),
        tokens,
        applies_to: vec![],
        grade: grade as i32,
        likelihood: Likelihood::Likely as i32,
        handling: 0,
        guidance: "Decline the donation and consult the security liaison.".into(),
        audience: vec![],
        valid_until: None,
        internal_reference: "OP-TEST".into(),
    }
}

/// A revision of advisory `id` at `expected_version` to SEVERE, likelihood 5, guidance
/// "Escalated.", other fields cleared.
pub fn revise_request(id: &str, expected_version: u32) -> ReviseRequest {
    ReviseRequest {
        advisory_id: id.to_owned(),
        expected_version,
        grade: RiskGrade::Severe as i32,
        likelihood: 5,
        handling: 0,
        guidance: "Escalated.".into(),
        audience: vec![],
        applies_to: vec![],
        valid_until: None,
        internal_reference: String::new(),
    }
}

/// Publishes `request` with `client` and returns the new advisory's id.
pub async fn publish_id(
    client: &mut AdvisoryServiceClient<Channel>,
    request: PublishRequest,
) -> String {
    client
        .publish(request)
        .await
        .unwrap()
        .into_inner()
        .advisory
        .unwrap()
        .advisory_id
}

/// A linked subject of a vetting request.
pub fn linked(
    label: &str,
    relation: portcullis::proto::v1::Relation,
    tokens: Vec<MatchToken>,
) -> portcullis::proto::v1::LinkedSubject {
    portcullis::proto::v1::LinkedSubject {
        label: label.into(),
        relation: relation as i32,
        tokens,
    }
}
