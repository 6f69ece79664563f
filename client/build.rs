//! Compiles the gRPC contract under `../proto` with protox (a pure-Rust protobuf compiler, so no
//! system `protoc` is needed) into prost messages and tonic *client* stubs. The gateway generates
//! its server stubs itself, reusing these messages.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const FILES: [&str; 5] = [
        "portcullis/v1/common.proto",
        "portcullis/v1/vetting.proto",
        "portcullis/v1/advisory.proto",
        "portcullis/v1/audit.proto",
        "portcullis/v1/keyservice.proto",
    ];
    println!("cargo:rerun-if-changed=../proto");
    let fds = protox::compile(FILES, ["../proto"])?;
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
