//! The generated gRPC contract (`proto/portcullis/v1/*.proto`): the messages and client stubs
//! from the client crate ([`portcullis_client::proto`]) and the gateway's own server stubs.

/// Messages, client stubs and server stubs of package `portcullis.v1`.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod v1 {
    pub use portcullis_client::proto::v1::*;
    tonic::include_proto!("portcullis.v1");
}

/// The encoded `FileDescriptorSet` of the contract, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/portcullis_descriptor.bin"));
