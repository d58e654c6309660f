//! Unit tests of the load generator, one file per part, plus whole runs against a tiny
//! in-test server.
//!
//! # Layout
//! - `flags.rs`: [`LoadArgs`], `DIST`, `STAGES` and validation.
//! - `schedule.rs`: the seeded PRNG and schedule.
//! - `reading.rs`: SSE decoding and one request's measurement.
//! - `statistics.rs`: percentiles, the report and its table.
//! - `runs.rs`: `run` end to end over HTTP.

mod flags;
mod reading;
mod runs;
mod schedule;
mod statistics;

use std::time::Duration;

use super::*;

/// Flags as one string, split on whitespace.
fn args(flags: &str) -> LoadArgs {
    LoadArgs::from_flags(flags.split_whitespace()).expect("flags parse")
}

fn plan(flags: &str) -> Plan {
    args(flags).plan().expect("flags are valid")
}

fn problems(flags: &str) -> Vec<String> {
    match args(flags).plan() {
        Err(LoadError::Invalid { problems }) => problems,
        other => panic!("expected invalid flags, got {other:?}"),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn stage(rate: f64, duration: Duration) -> Stage {
    Stage { rate, duration }
}
