//! The guard's metrics: `poolpilot_guard_verdicts_total{chain,filter,action}` and
//! `poolpilot_guard_duration_seconds{chain,event}`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use shared::telemetry::MetricsRegistry;

use super::config::GuardEvent;
use super::core::Outcome;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Verdict {
    chain: String,
    filter: String,
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Check {
    chain: String,
    event: String,
}

/// Registered once per guard.
pub struct GuardMetrics {
    verdicts: Family<Verdict, Counter>,
    duration: Family<Check, Histogram>,
}

impl GuardMetrics {
    pub fn register(registry: &MetricsRegistry) -> Self {
        let m = Self {
            verdicts: Family::default(),
            duration: Family::new_with_constructor(|| {
                Histogram::new([1e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2, 0.1, 0.5, 1.0, 2.5])
            }),
        };
        registry.register(
            "poolpilot_guard_verdicts",
            "Guard checks by chain, filter (\"none\" when nothing was found) and action",
            m.verdicts.clone(),
        );
        registry.register(
            "poolpilot_guard_duration_seconds",
            "Time of one guard check of a prompt or a whole response",
            m.duration.clone(),
        );
        m
    }

    /// One check of `event` by `chain` ended with `outcome`, after `seconds` when
    /// timed (streamed pieces are not).
    pub fn checked(&self, chain: &str, event: GuardEvent, outcome: &Outcome, seconds: Option<f64>) {
        let action = outcome.action.as_str();
        let filters: Vec<&str> = if outcome.filters.is_empty() {
            vec!["none"]
        } else {
            outcome.filters.iter().map(String::as_str).collect()
        };
        for filter in filters {
            self.verdicts
                .get_or_create(&Verdict {
                    chain: chain.to_owned(),
                    filter: filter.to_owned(),
                    action: action.to_owned(),
                })
                .inc();
        }
        if let Some(seconds) = seconds {
            let event = match event {
                GuardEvent::Prompt => "prompt",
                GuardEvent::Response => "response",
            };
            self.duration
                .get_or_create(&Check {
                    chain: chain.to_owned(),
                    event: event.to_owned(),
                })
                .observe(seconds);
        }
    }
}
