//! The `portcullis` binary: parse the command line and hand over to the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

/// jemalloc instead of the system allocator: the gateway allocates many small, short-lived
/// buffers per call (decoded requests, audit entries, sled nodes), and under glibc's malloc
/// those allocations took a fifth of the server's CPU in the benchmark.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    portcullis::cli::main()
}
