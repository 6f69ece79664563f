//! The benchmark's clients and what they send: mTLS channels with the development
//! certificates, deterministic tokens, and the Vet and Publish requests.

use tonic::transport::Channel;

use crate::client::ClientIdentity;
use crate::config::Config;
use crate::proto::v1::{
    Handling, Likelihood, MatchToken, PublishRequest, RiskGrade, SubjectKind, TokenKind, VetRequest,
};
use crate::Error;

/// mTLS channels with the development client certificates.
pub(super) struct Clients {
    /// `alpha-officer`, one per connection.
    pub(super) party: Vec<Channel>,
    /// `official`, one per connection.
    pub(super) official: Vec<Channel>,
    /// `auditor`.
    pub(super) auditor: Channel,
}

impl Clients {
    /// `connections` channels each for the party and the official, and one for the auditor.
    pub(super) async fn connect(server: &str, connections: usize) -> Result<Clients, Error> {
        let certs = Config::dev_certs_dir();
        let ca = certs.join("ca.crt");
        let who = |name: &str| ClientIdentity::from_prefix(&certs.join("clients").join(name));
        let mut party = Vec::with_capacity(connections);
        let mut official = Vec::with_capacity(connections);
        for _ in 0..connections {
            party.push(crate::client::connect(server, &ca, &who("alpha-officer")).await?);
            official.push(crate::client::connect(server, &ca, &who("official")).await?);
        }
        let auditor = crate::client::connect(server, &ca, &who("auditor")).await?;
        Ok(Clients {
            party,
            official,
            auditor,
        })
    }
}

/// The token kinds of the benchmark's subjects: four distinct kinds, as a well-identified
/// donor would have.
const KINDS: [TokenKind; 4] = [
    TokenKind::TravelDocument,
    TokenKind::CompanyNumber,
    TokenKind::CryptoWallet,
    TokenKind::Email,
];

/// Four random-looking tokens, deterministic from the run, a tag and an index.
pub(super) fn tokens(run_id: &str, tag: &str, index: u64) -> Vec<MatchToken> {
    KINDS
        .iter()
        .enumerate()
        .map(|(j, kind)| MatchToken {
            kind: *kind as i32,
            digest: ring::digest::digest(
                &ring::digest::SHA256,
                format!("portcullis-bench/{run_id}/{tag}/{index}/{j}").as_bytes(),
            )
            .as_ref()
            .to_vec(),
        })
        .collect()
}

/// A Vet of a donor with `tokens` under the development key id.
pub(super) fn vet_request(request_id: String, tokens: Vec<MatchToken>) -> VetRequest {
    VetRequest {
        request_id,
        subject_kind: SubjectKind::DonorIndividual as i32,
        key_id: crate::pki::DEV_MATCHING_KEY_ID.to_owned(),
        tokens,
        case_reference: "BENCH".to_owned(),
        linked: Vec::new(),
    }
}

/// A Publish of a HIGH advisory on `tokens` under the development key id, numbered `index`.
pub(super) fn publish_request(
    request_id: String,
    tokens: Vec<MatchToken>,
    index: u64,
) -> PublishRequest {
    PublishRequest {
        request_id,
        key_id: crate::pki::DEV_MATCHING_KEY_ID.to_owned(),
        tokens,
        applies_to: Vec::new(),
        grade: RiskGrade::High as i32,
        likelihood: Likelihood::Likely as i32,
        handling: Handling::TlpAmber as i32,
        guidance: "Benchmark advisory: consult the security liaison.".to_owned(),
        audience: Vec::new(),
        valid_until: None,
        internal_reference: format!("BENCH-{index}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_deterministic_and_distinct() {
        let a = tokens("r", "a", 1);
        assert_eq!(a, tokens("r", "a", 1));
        assert_ne!(a, tokens("r", "a", 2));
        assert_eq!(a.len(), 4);
        assert!(a.iter().all(|t| t.digest.len() == 32));
    }
}
