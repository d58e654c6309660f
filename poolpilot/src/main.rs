//! `poolpilot`: parse the command line, run, report.

use std::process::ExitCode;

use clap::Parser;

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
