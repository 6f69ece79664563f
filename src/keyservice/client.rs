//! How client commands compute digests ([`Scheme`]): a v1 matching key (hmac-sha256) or a v2 key
//! service. The key-service batching client itself, [`KeyServiceConnection`], lives in the client
//! crate ([`portcullis_client::keyservice`]) with its own [`KeyServiceError`]; a key service that
//! is down, refuses, or answers with a proof that does not verify stops the command: there is
//! never a fallback to another scheme.

pub use portcullis_client::keyservice::{with_digests, KeyServiceConnection, KeyServiceError};

use crate::tokens::{CanonicalKind, IdentityFields, MatchingKey, Token};
use crate::Error;

/// A key service's failure as the command line reports it (`key service URL: reason`), a local
/// one as its own kind.
impl From<KeyServiceError> for Error {
    fn from(e: KeyServiceError) -> Self {
        match e {
            KeyServiceError::Call { ref url, .. }
            | KeyServiceError::KeyMismatch { ref url, .. } => Error::KeyService {
                url: url.clone(),
                reason: e.reason(),
            },
            KeyServiceError::Oprf(e) => Error::Oprf(e),
            KeyServiceError::Token(e) => Error::Token(e),
        }
    }
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
    pub async fn digests(
        &mut self,
        pairs: &[(CanonicalKind, String)],
    ) -> Result<Vec<[u8; 32]>, Error> {
        match self {
            Scheme::Hmac(key) => Ok(pairs
                .iter()
                .map(|(kind, canonical)| crate::tokens::digest(key, *kind, canonical))
                .collect()),
            Scheme::Voprf(ks) => Ok(ks.digests_of(pairs).await?),
        }
    }

    /// Derives every token of `fields` (the rules of [`crate::tokens::derive`]).
    pub async fn tokens(&mut self, fields: &IdentityFields) -> Result<Vec<Token>, Error> {
        match self {
            Scheme::Hmac(key) => Ok(crate::tokens::derive(key, fields)?),
            Scheme::Voprf(ks) => Ok(ks.tokens(fields).await?),
        }
    }
}
