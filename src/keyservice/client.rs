//! The client side of tokens v2: blind every input, evaluate in batches of at most
//! [`MAX_BATCH`](crate::oprf::MAX_BATCH) elements, verify each batch's proof against the
//! pinned key and finalize into digests. A key service that is down, refuses, or answers with a
//! proof that does not verify stops the command: there is never a fallback to another scheme.
//!
//! [`Scheme`] is what client commands derive digests with: a v1 matching key (hmac-sha256) or a
//! v2 key service.

use std::time::Duration;

use tonic::transport::Channel;

use crate::oprf::{Blinded, PublicKey, MAX_BATCH};
use crate::proto::v1::key_service_client::KeyServiceClient;
use crate::proto::v1::EvaluateRequest;
use crate::tokens::{IdentityFields, MatchingKey, Token, TokenKind};
use crate::Error;

/// How often one batch is retried after the key service's quota turned it away.
const QUOTA_RETRIES: usize = 20;
/// The longest single wait for quota; a longer `retry-after-ms` (the daily cap) fails at once.
const MAX_QUOTA_WAIT: Duration = Duration::from_secs(30);

/// A connection to a key service with the pinned public key of one epoch.
#[derive(Debug, Clone)]
pub struct KeyServiceConnection {
    url: String,
    key: PublicKey,
    client: KeyServiceClient<Channel>,
}

impl KeyServiceConnection {
    /// A connection over `channel` to the key service at `url` (named in errors), pinned to
    /// `key`.
    pub fn new(url: &str, channel: Channel, key: PublicKey) -> Self {
        KeyServiceConnection {
            url: url.to_owned(),
            key,
            client: KeyServiceClient::new(channel)
                .max_decoding_message_size(8 << 20)
                .max_encoding_message_size(8 << 20),
        }
    }

    /// The epoch (key id) tokens are computed under.
    pub fn key_id(&self) -> &str {
        self.key.id()
    }

    fn failed(&self, reason: String) -> Error {
        Error::KeyService {
            url: self.url.clone(),
            reason,
        }
    }

    /// Evaluates one batch (≤ [`MAX_BATCH`] inputs) and returns the verified digests in order.
    async fn batch(&mut self, inputs: Vec<Vec<u8>>) -> Result<Vec<[u8; 32]>, Error> {
        let blinded = Blinded::new(inputs)?;
        let request = EvaluateRequest {
            key_id: self.key.id().to_owned(),
            blinded_elements: blinded.elements().iter().map(|e| e.to_vec()).collect(),
        };
        let mut attempt = 0;
        let answer = loop {
            match self.client.evaluate(request.clone()).await {
                Ok(answer) => break answer.into_inner(),
                Err(status) => {
                    let wait = retry_after(&status);
                    let retry = status.code() == tonic::Code::ResourceExhausted
                        && attempt < QUOTA_RETRIES
                        && wait.is_some_and(|w| w <= MAX_QUOTA_WAIT);
                    if !retry {
                        return Err(self.failed(describe(&status)));
                    }
                    attempt += 1;
                    tokio::time::sleep(wait.unwrap_or(MAX_QUOTA_WAIT)).await;
                }
            }
        };
        Ok(blinded.finalize(&self.key, &answer.evaluated_elements, &answer.proof)?)
    }

    /// The digests of `inputs` (v2 inputs, see [`crate::oprf::input`]), in order, evaluated in
    /// batches of at most [`MAX_BATCH`].
    pub async fn digests(&mut self, inputs: Vec<Vec<u8>>) -> Result<Vec<[u8; 32]>, Error> {
        let mut out = Vec::with_capacity(inputs.len());
        let mut inputs = inputs.into_iter().peekable();
        while inputs.peek().is_some() {
            let chunk: Vec<Vec<u8>> = inputs.by_ref().take(MAX_BATCH).collect();
            out.extend(self.batch(chunk).await?);
        }
        Ok(out)
    }

    /// Checks that the key service serves the pinned key for the epoch (GetPublicKey).
    pub async fn check_pinned(&mut self) -> Result<(), Error> {
        let answer = self
            .client
            .get_public_key(crate::proto::v1::GetPublicKeyRequest {
                key_id: self.key.id().to_owned(),
            })
            .await
            .map_err(|s| self.failed(describe(&s)))?
            .into_inner();
        if answer.public_key != self.key.bytes() || answer.suite != crate::oprf::SUITE {
            return Err(self.failed(format!(
                "serves a different public key for {} than the pinned one: refusing it",
                self.key.id()
            )));
        }
        Ok(())
    }
}

/// `CODE: message`, saying plainly when the service could not be reached.
fn describe(status: &tonic::Status) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(source) = std::error::Error::source(status) {
        text.push_str(" (");
        text.push_str(&crate::client::error_chain(source));
        text.push(')');
    }
    if status.code() == tonic::Code::Unavailable {
        text.push_str("; no tokens computed (tokens v2 never falls back to another scheme)");
    }
    text
}

/// The `retry-after-ms` trailer of a status, if any.
fn retry_after(status: &tonic::Status) -> Option<Duration> {
    status
        .metadata()
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
}

/// How a client computes digests: a v1 key file, or a v2 key service.
#[derive(Debug, Clone)]
pub enum Scheme {
    /// hmac-sha256 with the key file on this machine (tokens v1).
    Hmac(MatchingKey),
    /// voprf-ristretto255-sha512 through a key service (tokens v2).
    Voprf(KeyServiceConnection),
}

impl Scheme {
    /// The epoch (key id) requests carry.
    pub fn key_id(&self) -> &str {
        match self {
            Scheme::Hmac(key) => key.id(),
            Scheme::Voprf(ks) => ks.key_id(),
        }
    }

    /// The scheme's name (`hmac-sha256` or `voprf-ristretto255-sha512`).
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Hmac(_) => "hmac-sha256",
            Scheme::Voprf(_) => crate::oprf::SUITE,
        }
    }

    /// The digests of `(kind, canonical)` pairs, in order.
    pub async fn digests(&mut self, pairs: &[(TokenKind, String)]) -> Result<Vec<[u8; 32]>, Error> {
        match self {
            Scheme::Hmac(key) => Ok(pairs
                .iter()
                .map(|(kind, canonical)| crate::tokens::digest(key, *kind, canonical))
                .collect()),
            Scheme::Voprf(ks) => {
                let inputs = pairs
                    .iter()
                    .map(|(kind, canonical)| crate::oprf::input(*kind, canonical))
                    .collect();
                ks.digests(inputs).await
            }
        }
    }

    /// Derives every token of `fields` (the rules of [`crate::tokens::derive`]).
    pub async fn tokens(&mut self, fields: &IdentityFields) -> Result<Vec<Token>, Error> {
        let pairs = crate::tokens::canonicals(fields)?;
        let digests = self.digests(&pairs).await?;
        Ok(with_digests(pairs, &mut digests.into_iter()))
    }
}

/// The tokens of `pairs` (kinds and canonical forms), each with the next digest of `digests`,
/// which were computed for these pairs in this order (with [`Scheme::digests`], possibly for
/// several subjects' pairs at once).
pub fn with_digests(
    pairs: Vec<(TokenKind, String)>,
    digests: &mut impl Iterator<Item = [u8; 32]>,
) -> Vec<Token> {
    pairs
        .into_iter()
        .zip(digests)
        .map(|((kind, canonical), digest)| Token {
            kind,
            canonical,
            digest,
        })
        .collect()
}
