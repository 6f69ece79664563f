//! # Portcullis
//!
//! A secure intelligence-sharing gateway between a country's security services and its political
//! parties. Party back-office systems vet donors, candidates and staff by *hashed* identity tokens
//! over gRPC with mutual TLS and get graded risk advisories back; security officials publish,
//! revise and withdraw advisories; auditors replay an append-only, tamper-evident log of every
//! access.
//!
//! The gateway never sees a name (only 32-byte HMAC tokens whose key it never holds), fails closed
//! when it cannot audit, and isolates parties from each other.
//!
//! ## Module map
//! Data flows one way: [`tls`] (transport) → `identity` (who is calling, may they) →
//! `service` (the gRPC layer: proto ⇄ domain) → [`domain`] (the rules) → [`store`] and
//! [`audit`] (the durable log).
//!
//! - [`config`]: the TOML configuration and the embedded `--dev` defaults; each component owns
//!   its settings type ([`tls::TlsFiles`], [`transport::TransportLimits`], [`limits::Limits`]).
//! - [`tls`]: the one place the rustls crypto provider (ring) and TLS 1.3 are chosen.
//! - [`transport`]: accepting connections: handshake admission, timeouts and caps, refusals.
//! - `identity`: the caller from its client certificate; roles; authorisation rules.
//! - [`tokens`]: canonical identity tokens, computed by clients (never by the server): the
//!   client crate's [`portcullis_client::tokens`], re-exported, plus the recall benchmark.
//! - [`oprf`]: tokens v2, the RFC 9497 VOPRF the key service evaluates and clients finalize
//!   (re-exported from [`portcullis_client::oprf`]).
//! - [`proto`]: the gRPC contract: the client crate's messages and client stubs, and the
//!   gateway's server stubs.
//! - [`store`]: sled-backed advisories, token index and idempotency records.
//! - [`audit`]: the group-commit audit log writer and its entries, the reader auditors' calls go
//!   through, building and proving the Merkle tree, signing checkpoints, the start-up integrity
//!   check and the auditor's verifier (docs/audit.md); hashing and proof, note and receipt
//!   verification are the client crate's [`portcullis_client::verify`], re-exported.
//! - [`domain`]: vetting and advisory rules over validated inputs ([`domain::input`]), answering
//!   with domain types; no message of the gRPC contract crosses into or out of it (it names
//!   only the contract's enumerations, [`domain::values`]).
//! - `service`: the gRPC layer, the only one that knows protobuf messages: the tonic services
//!   (vetting, advisories, audit), request validation into the domain's inputs, the views that
//!   build answers, and the single mapping of domain errors to gRPC codes.
//! - [`server`]: composes all of the above into a running gateway.
//! - `startup`: what the gateway and the key service both do at start-up: refuse the dev CA
//!   outside `--dev`, open the audited store (checked against its last checkpoint), listen.
//! - `running`: what they share once running: the parts a reload replaces, the serving task.
//! - [`client`]: an mTLS gRPC channel for the CLI and tests (the client crate's
//!   [`portcullis_client::channel`], with this crate's [`Error`]).
//!
//! A party's back office does not link this crate: it links `portcullis-client` (`client/`),
//! which holds the generated messages and client stubs, tokens, the channel, a typed API and the
//! offline verification of checkpoints and receipts.
//! - [`keyservice`]: the tokens v2 key service (its gRPC service, its own process) and its client.
//! - [`limits`]: per-certificate rate limits.
//! - [`metrics`]: Prometheus metrics on a loopback port.
//! - `pki`: key material: the development PKI generator (`pki::dev`), and production key
//!   material: a CA and the certificates it issues (`pki::ca`), its CRL (`pki::crl`), the
//!   log and matching keys (`pki::keys`).
//! - [`cli`]: the `portcullis` command.
//! - `error`: the process errors: [`ServeError`] (a gateway or key service cannot start or
//!   serve) and [`Error`] (a command cannot complete).
//!
//! Modules named in plain code above (`identity`, `service`, `pki`, `error`) are private: no
//! other crate (tests, benches, the binary) needs them; their public types are re-exported here
//! ([`Error`], [`ServeError`]) or reached through the public modules' signatures.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod audit;
pub mod cli;
pub mod client;
pub mod config;
pub mod domain;
mod error;
mod identity;
pub mod keyservice;
pub mod limits;
pub mod metrics;
pub use portcullis_client::oprf;
mod pki;
pub mod proto;
mod running;
pub mod server;
mod service;
mod startup;
pub mod store;
pub mod tls;
pub mod tokens;
pub mod transport;

pub use error::{Error, ServeError};
