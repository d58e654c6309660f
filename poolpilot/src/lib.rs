//! The `poolpilot` binary's library half: the whole config file, the command line, and
//! the runner that starts one part or all of them. `main.rs` only parses and calls.
//!
//! # Layout
//! - `config.rs`: [`Config`], the whole `poolpilot.yaml`, composed of each part's section.
//! - `cli.rs`: [`Cli`], the command line (clap).
//! - `local.rs`: the simulated fleet `poolpilot up` scrapes.
//! - `runner.rs`: [`execute`]: one part, `up`, or `check`, with the admin server, the bus
//!   and shutdown wired around it.

mod cli;
mod config;
pub mod import;
pub mod local;
mod runner;
pub mod up;

pub use cli::{
    Cli, Command, Part, PartArgs, RulesCommand, ScalerArgs, ScalerCommand, SimulateArgs, UpArgs,
};
pub use config::{AdminConfig, Config};
pub use runner::{Running, execute, start};
