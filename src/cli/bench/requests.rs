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

/// One benchmark run's subjects: a short random id that keeps this run's request ids and
/// tokens apart from other runs' (shown by `Display`), and how many tokens each request carries
/// (`--tokens-per-vet`).
#[derive(Debug, Clone)]
pub(super) struct Run {
    id: String,
    tokens_per_request: usize,
}

impl Run {
    /// A run with a fresh random id whose requests carry `tokens_per_request` tokens.
    pub(super) fn new(tokens_per_request: usize) -> Result<Run, Error> {
        use ring::rand::SecureRandom;
        let mut b = [0u8; 4];
        ring::rand::SystemRandom::new()
            .fill(&mut b)
            .map_err(|_| Error::Usage("system randomness unavailable".into()))?;
        Ok(Run {
            id: hex::encode(b),
            tokens_per_request,
        })
    }

    /// The run's tokens for `tag` and `index`: random-looking, deterministic, the kinds of
    /// [`KINDS`] in turn.
    pub(super) fn tokens(&self, tag: &str, index: u64) -> Vec<MatchToken> {
        tokens(&self.id, tag, index, self.tokens_per_request)
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)
    }
}

/// `count` random-looking tokens, deterministic from the run, a tag and an index.
fn tokens(run_id: &str, tag: &str, index: u64, count: usize) -> Vec<MatchToken> {
    KINDS
        .iter()
        .cycle()
        .take(count)
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
        let a = tokens("r", "a", 1, 4);
        assert_eq!(a, tokens("r", "a", 1, 4));
        assert_ne!(a, tokens("r", "a", 2, 4));
        assert_eq!(a.len(), 4);
        assert!(a.iter().all(|t| t.digest.len() == 32));
    }

    #[test]
    fn a_realistic_vet_repeats_the_kinds_with_distinct_digests() {
        let a = tokens("r", "a", 1, 14);
        assert_eq!(a.len(), 14);
        assert_eq!(a[0].kind, a[4].kind);
        let distinct: std::collections::HashSet<_> = a.iter().map(|t| &t.digest).collect();
        assert_eq!(distinct.len(), 14);
    }
}
