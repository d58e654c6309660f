//! The metric registry and the readiness table, shared by every service in a process.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use prometheus_client::registry::{Metric, Registry};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The prometheus-client registry behind `/metrics`. Services register at start-up;
/// the admin server encodes on each scrape.
#[derive(Clone, Default)]
pub struct MetricsRegistry {
    inner: Arc<Mutex<Registry>>,
}

impl MetricsRegistry {
    /// Registers `metric` as `name` (a counter gets `_total` appended on encoding).
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        lock(&self.inner).register(name, help, metric);
    }

    /// Registers a collector: metrics encoded from the collector's own state on each
    /// scrape (the aggregator's per-model histograms live in its pure core).
    pub fn register_collector(&self, collector: Box<dyn prometheus_client::collector::Collector>) {
        lock(&self.inner).register_collector(collector);
    }

    /// The OpenMetrics text of every registered metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &lock(&self.inner));
        out
    }
}

/// Which components are ready. `/readyz` answers 200 once every registered component
/// says so, and 503 naming those that do not.
#[derive(Clone, Default)]
pub struct Health {
    inner: Arc<Mutex<BTreeMap<String, bool>>>,
}

impl Health {
    /// Registers a component, not ready yet.
    pub fn component(&self, name: &str) -> Readiness {
        lock(&self.inner).insert(name.to_owned(), false);
        Readiness {
            health: self.clone(),
            name: name.to_owned(),
        }
    }

    /// The components that are not ready.
    pub fn not_ready(&self) -> Vec<String> {
        lock(&self.inner)
            .iter()
            .filter(|(_, ready)| !**ready)
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// One component's switch in [`Health`].
#[derive(Clone)]
pub struct Readiness {
    health: Health,
    name: String,
}

impl Readiness {
    /// Says whether the component can do its work now.
    pub fn set(&self, ready: bool) {
        lock(&self.health.inner).insert(self.name.clone(), ready);
    }
}
