//! The generated gRPC contract (`proto/portcullis/v1/*.proto`): prost messages and tonic client
//! stubs. The gateway generates its server stubs itself and reuses these messages.

/// Messages and client stubs of package `portcullis.v1`.
#[allow(
    missing_docs,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    rustdoc::invalid_html_tags
)]
pub mod v1 {
    tonic::include_proto!("portcullis.v1");
}
