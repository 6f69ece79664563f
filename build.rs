//! Compiles the gRPC contract under `proto/` with protox (a pure-Rust protobuf compiler, so no
//! system `protoc` is needed) and generates the tonic *server* stubs. The messages and client
//! stubs come from the client crate (`portcullis_client::proto`), named through `extern_path`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const FILES: [&str; 5] = [
        "portcullis/v1/common.proto",
        "portcullis/v1/vetting.proto",
        "portcullis/v1/advisory.proto",
        "portcullis/v1/audit.proto",
        "portcullis/v1/keyservice.proto",
    ];
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(FILES, ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("portcullis_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .extern_path(".portcullis.v1", "::portcullis_client::proto::v1")
        // Undecodable request bytes must be INVALID_ARGUMENT, not tonic's default INTERNAL.
        .codec_path("crate::service::codec::Codec")
        .compile_fds(fds)?;
    Ok(())
}
