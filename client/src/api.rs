//! The typed calls a back office makes: [`Client::vet`] and [`Client::vet_batch`] for a party,
//! [`Client::publish`] for an official, [`Client::get_receipt`] for a party's proof that an
//! answer is in the signed audit log. Requests and answers are the generated messages of
//! [`crate::proto::v1`]; [`VetBuilder`] makes a [`VetRequest`] from derived [`Token`]s and linked
//! subjects, [`match_tokens`] turns tokens into what a request carries.
//!
//! Verification is offline, with nothing but the log's verifier key: [`verify_receipt`] and
//! [`verify_checkpoint`] (the code is [`crate::verify`], the same the gateway signs and proves
//! with).

use std::path::Path;

use tonic::transport::Channel;

use crate::channel::{ChannelError, ClientIdentity};
use crate::proto::v1::advisory_service_client::AdvisoryServiceClient;
use crate::proto::v1::vetting_service_client::VettingServiceClient;
use crate::proto::v1::{
    self as pb, AdvisoryRecord, GetReceiptRequest, LinkedSubject, MatchToken, PublishRequest,
    Receipt, Relation, SubjectKind, VetRequest, VetResponse,
};
use crate::tokens::Token;
use crate::verify::checkpoint::Checkpoint;
use crate::verify::note::{NoteError, NoteVerifier};
use crate::verify::receipt::{ReceiptError, VerifiedReceipt};

/// Why a call or a verification failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The channel could not be opened.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The gateway refused the call (the status names the field or the reason).
    #[error("{}: {}", .0.code(), .0.message())]
    Status(#[from] tonic::Status),
    /// A `VetBatch` stream ended before every request was answered.
    #[error("the gateway answered {answered} of {sent} batched requests")]
    BatchIncomplete {
        /// The number of requests sent.
        sent: usize,
        /// The number of answers received before the stream ended.
        answered: usize,
    },
    /// A receipt does not verify (its proof, its leaf or its checkpoint).
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    /// A signed checkpoint does not verify with the log's key.
    #[error("the log's signature on the checkpoint does not hold: {0}")]
    Checkpoint(#[from] NoteError),
    /// A verified receipt is for another audit entry than the answer it was asked for.
    #[error("the receipt proves audit entry {proved}, not the answer's entry {expected}")]
    ReceiptForAnotherEntry {
        /// The answer's `audit_index`.
        expected: u64,
        /// The index the receipt proves.
        proved: u64,
    },
}

/// A connection to a gateway with the typed calls of a party or an official.
#[derive(Debug, Clone)]
pub struct Client {
    vetting: VettingServiceClient<Channel>,
    advisories: AdvisoryServiceClient<Channel>,
}

impl Client {
    /// Connects to `server` (`https://host:port`), trusting `ca` and presenting `identity`.
    pub async fn connect(
        server: &str,
        ca: &Path,
        identity: &ClientIdentity,
    ) -> Result<Self, ApiError> {
        Ok(Self::from_channel(
            crate::channel::connect(server, ca, identity).await?,
        ))
    }

    /// A client over an already open channel.
    pub fn from_channel(channel: Channel) -> Self {
        Client {
            vetting: VettingServiceClient::new(channel.clone()),
            advisories: AdvisoryServiceClient::new(channel),
        }
    }

    /// Vets one subject (`VettingService/Vet`).
    pub async fn vet(&mut self, request: VetRequest) -> Result<VetResponse, ApiError> {
        Ok(self.vetting.vet(request).await?.into_inner())
    }

    /// Vets many subjects in one stream (`VettingService/VetBatch`): one answer per request, in
    /// order. An item the gateway rejected carries its `error`; a refused stream is an error, and
    /// so is a stream that ends early ([`ApiError::BatchIncomplete`]).
    pub async fn vet_batch(
        &mut self,
        requests: Vec<VetRequest>,
    ) -> Result<Vec<VetResponse>, ApiError> {
        let sent = requests.len();
        let mut answers = self
            .vetting
            .vet_batch(tokio_stream::iter(requests))
            .await?
            .into_inner();
        let mut out = Vec::with_capacity(sent);
        while let Some(answer) = answers.message().await? {
            out.push(answer);
        }
        if out.len() != sent {
            return Err(ApiError::BatchIncomplete {
                sent,
                answered: out.len(),
            });
        }
        Ok(out)
    }

    /// Publishes an advisory (`AdvisoryService/Publish`), as an official.
    pub async fn publish(&mut self, request: PublishRequest) -> Result<AdvisoryRecord, ApiError> {
        Ok(self.advisories.publish(request).await?.into_inner())
    }

    /// The receipt of one of this party's own answers, by its `audit_index`
    /// (`VettingService/GetReceipt`). Check it with [`verify_receipt`]; keep it to show later.
    pub async fn get_receipt(&mut self, audit_index: u64) -> Result<Receipt, ApiError> {
        let request = GetReceiptRequest {
            audit_index,
            request_id: String::new(),
        };
        Ok(self.vetting.get_receipt(request).await?.into_inner())
    }

    /// The receipt of the entry that first answered this party's request `request_id`.
    pub async fn get_receipt_for_request(&mut self, request_id: &str) -> Result<Receipt, ApiError> {
        let request = GetReceiptRequest {
            audit_index: 0,
            request_id: request_id.to_owned(),
        };
        Ok(self.vetting.get_receipt(request).await?.into_inner())
    }
}

/// Verifies a receipt offline (C2SP tlog-proof@v1): the checkpoint's signature by `verifier`
/// (and its origin, if `expected_origin` is given), the inclusion of the leaf under the signed
/// root, and the leaf as a canonical audit entry at its index. Returns the entry and checkpoint.
pub fn verify_receipt(
    receipt: &Receipt,
    verifier: &NoteVerifier,
    expected_origin: Option<&str>,
) -> Result<VerifiedReceipt, ApiError> {
    Ok(crate::verify::receipt::verify(
        &receipt.proof,
        &receipt.leaf,
        verifier,
        expected_origin,
    )?)
}

/// As [`verify_receipt`], and checks that the receipt proves the entry that recorded `answer`
/// (its `audit_index`).
pub fn verify_answer_receipt(
    answer: &VetResponse,
    receipt: &Receipt,
    verifier: &NoteVerifier,
    expected_origin: Option<&str>,
) -> Result<VerifiedReceipt, ApiError> {
    let verified = verify_receipt(receipt, verifier, expected_origin)?;
    if verified.index != answer.audit_index {
        return Err(ApiError::ReceiptForAnotherEntry {
            expected: answer.audit_index,
            proved: verified.index,
        });
    }
    Ok(verified)
}

/// Verifies a signed checkpoint (a C2SP signed note, as in a receipt or the auditor's
/// `GetCheckpoint`) with the log's key, and its origin if `expected_origin` is given.
pub fn verify_checkpoint(
    signed_note: &str,
    verifier: &NoteVerifier,
    expected_origin: Option<&str>,
) -> Result<Checkpoint, ApiError> {
    Ok(verifier.verify(signed_note, expected_origin)?)
}

/// A [`VetRequest`] under construction: the subject's derived tokens, then any linked subjects
/// (controllers, officers, …) with theirs. The gateway checks the limits (1..=16 tokens each,
/// 0..=32 linked subjects, unique labels) and names the field it refuses.
#[derive(Debug, Clone, PartialEq)]
pub struct VetBuilder {
    request: VetRequest,
}

impl VetBuilder {
    /// A request `request_id` (the party's idempotency key) to vet a subject of `kind` by its
    /// `tokens`, computed under the matching-key epoch `key_id`.
    pub fn new(
        request_id: impl Into<String>,
        kind: SubjectKind,
        key_id: impl Into<String>,
        tokens: &[Token],
    ) -> Self {
        VetBuilder {
            request: VetRequest {
                request_id: request_id.into(),
                subject_kind: kind as i32,
                key_id: key_id.into(),
                tokens: match_tokens(tokens),
                ..VetRequest::default()
            },
        }
    }

    /// The party's own file number (never a name).
    pub fn case_reference(mut self, reference: impl Into<String>) -> Self {
        self.request.case_reference = reference.into();
        self
    }

    /// Adds a subject linked to this one by `relation`, under the party's own `label` (e.g.
    /// `psc-1`, never a name), with its tokens (same epoch).
    pub fn linked(
        mut self,
        label: impl Into<String>,
        relation: Relation,
        tokens: &[Token],
    ) -> Self {
        self.request.linked.push(LinkedSubject {
            label: label.into(),
            relation: relation as i32,
            tokens: match_tokens(tokens),
        });
        self
    }

    /// The request.
    pub fn build(self) -> VetRequest {
        self.request
    }
}

impl From<VetBuilder> for VetRequest {
    fn from(builder: VetBuilder) -> Self {
        builder.build()
    }
}

/// Tokens as they travel in a [`VetRequest`] or [`PublishRequest`].
pub fn match_tokens(tokens: &[Token]) -> Vec<MatchToken> {
    tokens
        .iter()
        .map(|t| MatchToken {
            kind: proto_token_kind(t.kind) as i32,
            digest: t.digest.to_vec(),
        })
        .collect()
}

/// The wire kind of a token kind (both spell the same names).
pub fn proto_token_kind(kind: crate::tokens::CanonicalKind) -> pb::TokenKind {
    pb::TokenKind::from_str_name(kind.name()).unwrap_or(pb::TokenKind::Unspecified)
}

/// How long a `RESOURCE_EXHAUSTED` status from the gateway or the key service asks the caller
/// to wait: its `retry-after-ms` trailer, if it carries a valid one.
pub fn retry_after(status: &tonic::Status) -> Option<std::time::Duration> {
    status
        .metadata()
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(std::time::Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{derive, CanonicalKind, IdentityFields, MatchingKey};

    fn tokens(name: &str) -> Vec<Token> {
        let key = MatchingKey::new("dev-1", [7; 32]).unwrap();
        let fields = IdentityFields {
            name: Some(name.into()),
            dob: Some("1970-01-02".into()),
            ..IdentityFields::default()
        };
        derive(&key, &fields).unwrap()
    }

    #[test]
    fn every_kind_has_its_wire_kind() {
        for kind in CanonicalKind::ALL {
            assert_eq!(proto_token_kind(kind).as_str_name(), kind.name());
        }
    }

    #[test]
    fn a_vet_with_linked_subjects() {
        let subject = tokens("Acme Person");
        let controller = tokens("Jane Doe");
        let request = VetBuilder::new("r-1", SubjectKind::DonorOrganisation, "dev-1", &subject)
            .case_reference("CASE-9")
            .linked("psc-1", Relation::Controller, &controller)
            .build();
        assert_eq!(request.request_id, "r-1");
        assert_eq!(request.subject_kind(), SubjectKind::DonorOrganisation);
        assert_eq!(request.key_id, "dev-1");
        assert_eq!(request.case_reference, "CASE-9");
        assert_eq!(request.tokens, match_tokens(&subject));
        assert_eq!(request.linked.len(), 1);
        assert_eq!(request.linked[0].label, "psc-1");
        assert_eq!(request.linked[0].relation(), Relation::Controller);
        assert_eq!(request.linked[0].tokens, match_tokens(&controller));
        assert_eq!(request.tokens[0].digest, subject[0].digest.to_vec());
    }

    #[test]
    fn a_receipt_that_is_not_one_is_refused() {
        let verifier = NoteVerifier::parse(
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        )
        .unwrap();
        let receipt = Receipt {
            proof: "not a proof\n".into(),
            leaf: vec![],
        };
        assert!(matches!(
            verify_receipt(&receipt, &verifier, None),
            Err(ApiError::Receipt(ReceiptError::Malformed { line: 1, .. }))
        ));
        assert!(matches!(
            verify_checkpoint("origin\n1\n\n", &verifier, None),
            Err(ApiError::Checkpoint(_))
        ));
    }
}
