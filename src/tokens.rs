//! Canonical identity tokens: the code lives in the client crate ([`portcullis_client::tokens`],
//! which parties, officials and the CLI all run) and is re-exported here under its old path,
//! with the gateway's own recall benchmark ([`recall`]), which scores matches by the gateway's
//! tiers.

pub use portcullis_client::tokens::*;

pub mod recall;
