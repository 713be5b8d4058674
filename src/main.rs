//! The `ecnow-gateway` binary: parse the command, run it.

use std::process::ExitCode;

use clap::Parser;

#[actix_web::main]
async fn main() -> ExitCode {
    ecnow_gateway::cli::Cli::parse().run().await
}
