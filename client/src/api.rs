//! The typed calls a back office makes: [`Client::vet`] and [`Client::vet_batch`] for a party,
//! [`Client::publish`] for an official. Requests and answers are the generated messages of
//! [`crate::proto::v1`]; [`match_tokens`] turns derived [`Token`]s into what a request carries.
//!
//! Checkpoint and receipt verification stay in the gateway crate for now (`portcullis::audit`),
//! because they share the Merkle and note code with the gateway's log writer.

use std::path::Path;

use tonic::transport::Channel;

use crate::channel::{ChannelError, ClientIdentity};
use crate::proto::v1::advisory_service_client::AdvisoryServiceClient;
use crate::proto::v1::vetting_service_client::VettingServiceClient;
use crate::proto::v1::{
    self as pb, AdvisoryRecord, MatchToken, PublishRequest, VetRequest, VetResponse,
};
use crate::tokens::Token;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The channel could not be opened.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The gateway refused the call (the status names the field or the reason).
    #[error("{}: {}", .0.code(), .0.message())]
    Status(#[from] tonic::Status),
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
    /// order. An item the gateway rejected carries its `error`; a refused stream is an error.
    pub async fn vet_batch(
        &mut self,
        requests: Vec<VetRequest>,
    ) -> Result<Vec<VetResponse>, ApiError> {
        let expected = requests.len();
        let mut answers = self
            .vetting
            .vet_batch(tokio_stream::iter(requests))
            .await?
            .into_inner();
        let mut out = Vec::with_capacity(expected);
        while let Some(answer) = answers.message().await? {
            out.push(answer);
        }
        Ok(out)
    }

    /// Publishes an advisory (`AdvisoryService/Publish`), as an official.
    pub async fn publish(&mut self, request: PublishRequest) -> Result<AdvisoryRecord, ApiError> {
        Ok(self.advisories.publish(request).await?.into_inner())
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
pub fn proto_token_kind(kind: crate::tokens::TokenKind) -> pb::TokenKind {
    pb::TokenKind::from_str_name(kind.name()).unwrap_or(pb::TokenKind::Unspecified)
}
