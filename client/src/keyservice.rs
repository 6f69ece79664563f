//! The client side of tokens v2 over the wire: blind every input, evaluate in batches of at most
//! [`MAX_BATCH`] elements at a key service, verify each batch's proof
//! against the pinned key and finalize into digests. A key service that is down, refuses, or
//! answers with a proof that does not verify stops the derivation with a [`KeyServiceError`]:
//! there is never a fallback to another scheme.

use std::time::Duration;

use tonic::transport::Channel;

use crate::api::retry_after;
use crate::oprf::{Blinded, OprfError, PublicKey, MAX_BATCH};
use crate::proto::v1::key_service_client::KeyServiceClient;
use crate::proto::v1::{EvaluateRequest, GetPublicKeyRequest};
use crate::tokens::{CanonicalKind, IdentityFields, Token, TokenError};

/// How often one batch is retried after the key service's quota turned it away.
const QUOTA_RETRIES: usize = 20;
/// The longest single wait for quota; a longer `retry-after-ms` (the daily cap) fails at once.
const MAX_QUOTA_WAIT: Duration = Duration::from_secs(30);

/// Why tokens v2 digests could not be computed. No digest is ever returned with one of these.
/// Exhaustive, so that every caller maps each kind on purpose.
#[derive(Debug, thiserror::Error)]
pub enum KeyServiceError {
    /// The key service could not be reached, or refused a call (after the quota retries).
    #[error("key service {url}: {}", describe(.status))]
    Call {
        /// The key service's address.
        url: String,
        /// Its answer, or the transport failure.
        status: Box<tonic::Status>,
    },
    /// The key service serves another public key for the epoch than the pinned one.
    #[error("key service {url}: {}", key_mismatch(.key_id))]
    KeyMismatch {
        /// The key service's address.
        url: String,
        /// The epoch asked for.
        key_id: String,
    },
    /// An input could not be blinded, or the answer or its proof is unusable.
    #[error(transparent)]
    Oprf(#[from] OprfError),
    /// The identity fields do not give tokens.
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl KeyServiceError {
    /// What went wrong, without the key service's address (for the two errors a key service
    /// causes, the part after `key service URL: `).
    pub fn reason(&self) -> String {
        match self {
            KeyServiceError::Call { status, .. } => describe(status),
            KeyServiceError::KeyMismatch { key_id, .. } => key_mismatch(key_id),
            KeyServiceError::Oprf(e) => e.to_string(),
            KeyServiceError::Token(e) => e.to_string(),
        }
    }
}

fn key_mismatch(key_id: &str) -> String {
    format!("serves a different public key for {key_id} than the pinned one: refusing it")
}

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

    fn failed(&self, status: tonic::Status) -> KeyServiceError {
        KeyServiceError::Call {
            url: self.url.clone(),
            status: Box::new(status),
        }
    }

    /// Evaluates one batch (≤ [`MAX_BATCH`] inputs) and returns the verified digests in order.
    async fn batch(&mut self, inputs: Vec<Vec<u8>>) -> Result<Vec<[u8; 32]>, KeyServiceError> {
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
                        return Err(self.failed(status));
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
    pub async fn digests(
        &mut self,
        inputs: Vec<Vec<u8>>,
    ) -> Result<Vec<[u8; 32]>, KeyServiceError> {
        let mut out = Vec::with_capacity(inputs.len());
        let mut inputs = inputs.into_iter().peekable();
        while inputs.peek().is_some() {
            let chunk: Vec<Vec<u8>> = inputs.by_ref().take(MAX_BATCH).collect();
            out.extend(self.batch(chunk).await?);
        }
        Ok(out)
    }

    /// The digests of `(kind, canonical)` pairs (as [`crate::tokens::canonicals`] gives them),
    /// in order.
    pub async fn digests_of(
        &mut self,
        pairs: &[(CanonicalKind, String)],
    ) -> Result<Vec<[u8; 32]>, KeyServiceError> {
        let inputs = pairs
            .iter()
            .map(|(kind, canonical)| crate::oprf::input(*kind, canonical))
            .collect();
        self.digests(inputs).await
    }

    /// Derives every token of `fields` (the rules of [`crate::tokens::derive`]) under tokens v2.
    pub async fn tokens(&mut self, fields: &IdentityFields) -> Result<Vec<Token>, KeyServiceError> {
        let pairs = crate::tokens::canonicals(fields)?;
        let digests = self.digests_of(&pairs).await?;
        Ok(with_digests(pairs, &mut digests.into_iter()))
    }

    /// Checks that the key service serves the pinned key for the epoch (GetPublicKey).
    pub async fn check_pinned(&mut self) -> Result<(), KeyServiceError> {
        let answer = self
            .client
            .get_public_key(GetPublicKeyRequest {
                key_id: self.key.id().to_owned(),
            })
            .await
            .map_err(|s| self.failed(s))?
            .into_inner();
        if answer.public_key != self.key.bytes() || answer.suite != crate::oprf::SUITE {
            return Err(KeyServiceError::KeyMismatch {
                url: self.url.clone(),
                key_id: self.key.id().to_owned(),
            });
        }
        Ok(())
    }
}

/// The tokens of `pairs` (kinds and canonical forms), each with the next digest of `digests`,
/// which were computed for these pairs in this order (with
/// [`KeyServiceConnection::digests_of`] or a v1 key, possibly for several subjects' pairs at
/// once).
pub fn with_digests(
    pairs: Vec<(CanonicalKind, String)>,
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

/// `CODE: message`, saying plainly when the service could not be reached.
fn describe(status: &tonic::Status) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(source) = std::error::Error::source(status) {
        text.push_str(" (");
        text.push_str(&crate::channel::error_chain(source));
        text.push(')');
    }
    if status.code() == tonic::Code::Unavailable {
        text.push_str("; no tokens computed (tokens v2 never falls back to another scheme)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_trailer_and_messages() {
        let mut status = tonic::Status::resource_exhausted("quota");
        assert_eq!(retry_after(&status), None);
        status
            .metadata_mut()
            .insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&status), Some(Duration::from_millis(250)));
        let down = KeyServiceError::Call {
            url: "https://ks:1".into(),
            status: Box::new(tonic::Status::unavailable("down")),
        };
        assert_eq!(
            down.to_string(),
            "key service https://ks:1: Unavailable: down; no tokens computed (tokens v2 never \
             falls back to another scheme)"
        );
        assert_eq!(
            format!("key service https://ks:1: {}", down.reason()),
            down.to_string()
        );
        let wrong = KeyServiceError::KeyMismatch {
            url: "https://ks:1".into(),
            key_id: "ks-1".into(),
        };
        assert!(wrong
            .to_string()
            .ends_with("for ks-1 than the pinned one: refusing it"));
        let local = KeyServiceError::from(TokenError::NoFields);
        assert_eq!(local.reason(), local.to_string());
    }
}
