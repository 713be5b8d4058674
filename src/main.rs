//! The `ecnow-gateway` binary: parse the command, run it.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: the request path allocates and frees many small buffers
/// across threads, where glibc spent 13 % of the gateway's CPU (see `bench/README.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> ExitCode {
    ecnow_gateway::cli::Cli::parse().run().await
}
