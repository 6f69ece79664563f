//! # portcullis-client
//!
//! What a party's back office (or an official's tool) links to talk to a Portcullis gateway:
//! the generated gRPC contract, identity tokens, the mTLS channel and a small typed API. It does
//! not depend on the gateway, its store (sled) or its command line (clap).
//!
//! ## Module map
//! - [`api`]: [`Client`], the typed calls a back office makes: [`Client::vet`],
//!   [`Client::vet_batch`], [`Client::publish`].
//! - [`channel`]: the mTLS gRPC channel (TLS 1.3, ring, client certificate).
//! - [`tls`]: the rustls client configuration and PEM loading.
//! - [`tokens`]: canonical identity tokens, spec v1 (keyed HMAC-SHA256), and their variants.
//! - [`oprf`]: tokens v2, the RFC 9497 VOPRF (blinding, proof verification, finalization; the
//!   key service's evaluation lives here too, so both ends share one implementation).
//! - [`keyservice`]: the batching key-service client of tokens v2, with its own
//!   [`KeyServiceError`](keyservice::KeyServiceError).
//! - [`verify`]: RFC 9162 Merkle proofs, C2SP signed notes, checkpoints and `tlog-proof@v1`
//!   receipts, verified with nothing but the log's verifier key.
//! - [`proto`]: the generated messages and client stubs of `proto/portcullis/v1/*.proto`.
//!
//! ## Example
//! A party derives the tokens of a person from its matching key and vets them:
//!
//! ```no_run
//! use std::path::Path;
//!
//! use portcullis_client::api::match_tokens;
//! use portcullis_client::channel::ClientIdentity;
//! use portcullis_client::proto::v1::{SubjectKind, VetRequest};
//! use portcullis_client::tokens::{derive, IdentityFields, MatchingKey};
//! use portcullis_client::Client;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let identity = ClientIdentity::from_prefix(Path::new("certs-dev/clients/alpha-officer"));
//! let mut client =
//!     Client::connect("https://localhost:50051", Path::new("certs-dev/ca.crt"), &identity).await?;
//! let key = MatchingKey::from_file(Path::new("certs-dev/matching.key"))?;
//! let person = IdentityFields {
//!     name: Some("Jane Q. Example".into()),
//!     dob: Some("1980-02-29".into()),
//!     ..IdentityFields::default()
//! };
//! let answer = client
//!     .vet(VetRequest {
//!         request_id: "donation-2026-0042".into(),
//!         subject_kind: SubjectKind::DonorIndividual as i32,
//!         key_id: key.id().to_owned(),
//!         tokens: match_tokens(&derive(&key, &person)?),
//!         ..VetRequest::default()
//!     })
//!     .await?;
//! println!("grade {:?}, audit entry {}", answer.grade(), answer.audit_index);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod channel;
mod dleq;
pub mod keyservice;
pub mod oprf;
pub mod proto;
pub mod tls;
pub mod tokens;
pub mod verify;

pub use api::{ApiError, Client};
