//! # portcullis-client
//!
//! What a party's back office (or an official's tool) links to talk to a Portcullis gateway:
//! the generated gRPC contract, identity tokens, the mTLS channel, a small typed API, and the
//! offline verification of the gateway's signed audit log. It does not depend on the gateway,
//! its store (sled) or its command line (clap).
//!
//! ## Module map
//! - [`api`]: [`Client`], the typed calls a back office makes: [`Client::vet`],
//!   [`Client::vet_batch`], [`Client::publish`], [`Client::get_receipt`]; [`VetBuilder`] for a
//!   request with linked subjects; offline [`verify_receipt`] and [`verify_checkpoint`].
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
//! A party derives the tokens of a donor company and of the person who controls it, vets them,
//! then fetches the receipt of the answer and verifies it offline with the log's verifier key:
//!
//! ```no_run
//! use std::path::Path;
//!
//! use portcullis_client::channel::ClientIdentity;
//! use portcullis_client::proto::v1::{Relation, SubjectKind};
//! use portcullis_client::tokens::{derive, IdentityFields, MatchingKey};
//! use portcullis_client::verify::NoteVerifier;
//! use portcullis_client::{verify_answer_receipt, Client, VetBuilder};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let identity = ClientIdentity::from_prefix(Path::new("certs-dev/clients/alpha-officer"));
//! let mut client =
//!     Client::connect("https://localhost:50051", Path::new("certs-dev/ca.crt"), &identity).await?;
//! let key = MatchingKey::from_file(Path::new("certs-dev/matching.key"))?;
//! let company = IdentityFields {
//!     company_number: Some("01234567".into()),
//!     ..IdentityFields::default()
//! };
//! let controller = IdentityFields {
//!     name: Some("Jane Q. Example".into()),
//!     dob: Some("1980-02-29".into()),
//!     ..IdentityFields::default()
//! };
//! let request = VetBuilder::new(
//!     "donation-2026-0042",
//!     SubjectKind::DonorOrganisation,
//!     key.id(),
//!     &derive(&key, &company)?,
//! )
//! .linked("psc-1", Relation::Controller, &derive(&key, &controller)?)
//! .build();
//! let answer = client.vet(request).await?;
//! println!("grade {:?}, audit entry {}", answer.grade(), answer.audit_index);
//!
//! // Later, or on another machine: the answer is provably in the signed log.
//! let receipt = client.get_receipt(answer.audit_index).await?;
//! let log_key = NoteVerifier::parse(&std::fs::read_to_string("certs-dev/log.vkey")?)?;
//! let proved = verify_answer_receipt(&answer, &receipt, &log_key, None)?;
//! println!("entry {} is in the log of size {}", proved.index, proved.checkpoint.size);
//! # Ok(())
//! # }
//! ```
//!
//! The offline part runs anywhere, with no connection at all:
//!
//! ```
//! use portcullis_client::verify::merkle::{leaf_hash, root_from_leaf_hashes, verify_inclusion};
//!
//! let leaves: Vec<_> = [b"a", b"b", b"c"].iter().map(|l| leaf_hash(*l)).collect();
//! let root = root_from_leaf_hashes(&leaves);
//! // Leaf 2's audit path in a tree of 3 leaves is the root of leaves 0 and 1.
//! let proof = [root_from_leaf_hashes(&leaves[..2])];
//! assert!(verify_inclusion(&leaves[2], 2, 3, &proof, &root).is_ok());
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

pub use api::{
    retry_after, verify_answer_receipt, verify_checkpoint, verify_receipt, ApiError, Client,
    VetBuilder,
};
