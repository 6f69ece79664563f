//! The mTLS gRPC channel to a gateway, for the CLI, tests and benchmarks. It lives in the client
//! crate ([`portcullis_client::channel`]); this module re-exports it with the gateway's [`Error`].

use std::path::Path;
use std::sync::Arc;

use tonic::transport::Channel;

pub use portcullis_client::channel::{
    error_chain, replay_leaves, ChannelError, ClientIdentity, ReplayedLeaf,
};

use crate::Error;

/// Connects to `server` (`https://host:port`), trusting `ca` and presenting `identity`.
pub async fn connect(server: &str, ca: &Path, identity: &ClientIdentity) -> Result<Channel, Error> {
    portcullis_client::channel::connect(server, ca, identity)
        .await
        .map_err(from_channel)
}

/// Connects to `server` with an explicit rustls client configuration.
pub async fn connect_with(
    server: &str,
    config: Arc<rustls::ClientConfig>,
) -> Result<Channel, Error> {
    portcullis_client::channel::connect_with(server, config)
        .await
        .map_err(from_channel)
}

/// A bad address is a usage error, unusable TLS material a TLS error, an unreachable gateway a
/// connection error: the kinds the CLI had before the channel moved to the client crate.
fn from_channel(e: ChannelError) -> Error {
    match e {
        e @ ChannelError::Address { .. } => Error::Usage(e.to_string()),
        ChannelError::Tls(e) => Error::Tls(e),
        ChannelError::Connect(text) => Error::Connect(text),
    }
}
