//! The whole `poolpilot.yaml`: shared sections, then one section per part. Every part
//! reads the same file, so one ConfigMap serves a whole deployment.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use shared::bus::BusConfig;
use shared::config::{Problems, Validate, join};
use shared::telemetry::TelemetryConfig;

/// Every section, each with defaults, so an empty file is a working `poolpilot up`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The bus between the parts.
    pub bus: BusConfig,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
    /// The `/healthz`, `/readyz`, `/metrics` server of this process.
    pub admin: AdminConfig,
    /// The `scraper:` section.
    pub scraper: scraper::Config,
    /// The `aggregator:` section.
    pub aggregator: aggregator::Config,
    /// The `alert_evaluator:` section.
    pub alert_evaluator: alert_evaluator::Config,
    /// The `scaler:` section.
    pub scaler: scaler::Config,
    /// The `router:` section.
    pub router: router::Config,
    /// The `simulator:` section.
    pub simulator: simulator::Config,
}

/// The admin server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    pub listen: SocketAddr,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9100)),
        }
    }
}

impl Validate for Config {
    fn validate(&self, path: &str, problems: &mut Problems) {
        self.bus.validate(&join(path, "bus"), problems);
        self.telemetry.validate(&join(path, "telemetry"), problems);
        self.scraper.validate(&join(path, "scraper"), problems);
        self.aggregator
            .validate(&join(path, "aggregator"), problems);
        self.alert_evaluator
            .validate(&join(path, "alert_evaluator"), problems);
        self.scaler.validate(&join(path, "scaler"), problems);
        self.router.validate(&join(path, "router"), problems);
        self.simulator.validate(&join(path, "simulator"), problems);
    }
}
