//! The load generator behind `poolpilot load`: OpenAI-compatible requests at a seeded,
//! open-loop Poisson rate (or in rate stages, or a closed loop under `--concurrency`),
//! measured as inference-perf and vLLM's benchmark_serving do: TTFT, inter-token
//! latency, normalized time per output token and end-to-end latency, with errors
//! counted by HTTP status or transport failure and never stopping the run.
//!
//! The same flags and seed always send the same requests at the same offsets; only the
//! server's answers vary.
//!
//! # Layout
//! - `config.rs`: [`LoadArgs`], the `DIST` and `STAGES` flags, and validation into a
//!   [`Plan`].
//! - `profile.rs`: pure: the seeded PRNG and the schedule of requests (what and when).
//! - `response.rs`: pure: SSE bytes → payloads → one request's [`Sample`].
//! - `stats.rs`: pure: samples → [`Report`] (percentiles, rates) and its table.
//! - `task.rs`: the I/O shell: sends on schedule, reads responses, prints progress.
//! - `tests/`: unit tests per part, and whole runs against an in-test server.

mod config;
mod profile;
mod response;
mod stats;
mod task;

#[cfg(test)]
mod tests;

pub use config::{Api, Arrivals, Dist, LoadArgs, MAX_TOKENS, Pick, Plan, Stage, Stages};
pub use profile::{Arrival, RequestSpec, Rng, Schedule, schedule};
pub use stats::{Completed, Report, Sample, Summary, percentile};

/// Why a load run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The flags are wrong; every problem names its flag.
    #[error("load flags:\n  {}", problems.join("\n  "))]
    Invalid {
        /// One line per problem.
        problems: Vec<String>,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("load: HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// Checks `args`, sends the load they describe and reports. `progress` prints a status
/// line to stderr each second. Request failures are counted in the report, never
/// returned: only bad flags or a client that cannot be built are errors.
pub async fn run(args: LoadArgs, progress: bool) -> Result<Report, LoadError> {
    let plan = args.plan()?;
    task::drive(plan, progress).await
}
