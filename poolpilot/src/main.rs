//! `poolpilot`: parse the command line, run, report.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: the router allocates and frees dozens of small buffers per request
/// (headers, bodies, the request's record), and spends about a sixth less CPU per
/// request with it than with glibc's malloc (`proxy-bench`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = poolpilot::Cli::parse();
    match poolpilot::execute(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("poolpilot: {e:#}");
            ExitCode::FAILURE
        }
    }
}
