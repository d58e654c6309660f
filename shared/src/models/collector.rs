//! `inference_model_*` on `/metrics`, encoded on each scrape from a snapshot of a
//! [`Requests`](super::Requests)' stats (the aggregator's and the router's).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::requests::{ModelKey, ModelStats, histograms};
use crate::telemetry::MetricsRegistry;

/// `inference_model_*` encoded from the last snapshot of the core's stats.
#[derive(Debug, Default, Clone)]
pub struct ModelsCollector {
    snapshot: Arc<Mutex<BTreeMap<ModelKey, ModelStats>>>,
}

impl ModelsCollector {
    /// Registers it and returns a handle to update it.
    pub fn register(registry: &MetricsRegistry) -> Self {
        let c = Self::default();
        registry.register_collector(Box::new(c.clone()));
        c
    }

    /// Replaces what the next scrape shows.
    pub fn update(&self, models: &BTreeMap<ModelKey, ModelStats>) {
        *self.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = models.clone();
    }
}

impl Collector for ModelsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let models = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        let labels = |k: &ModelKey| {
            vec![
                ("model_name", k.model_name.clone()),
                ("target_model_name", k.target_model_name.clone()),
            ]
        };
        let mut total = encoder.encode_descriptor(
            "inference_model_request",
            "Requests for each model and target model",
            None,
            MetricType::Counter,
        )?;
        for (k, m) in models.iter() {
            total
                .encode_family(&labels(k))?
                .encode_counter::<NoLabelSet, _, u64>(&m.total, None)?;
        }
        let mut errors = encoder.encode_descriptor(
            "inference_model_request_error",
            "Request errors for each model, target model and error code",
            None,
            MetricType::Counter,
        )?;
        for (k, m) in models.iter() {
            for (code, n) in &m.errors {
                let mut l = labels(k);
                l.push(("error_code", code.clone()));
                errors
                    .encode_family(&l)?
                    .encode_counter::<NoLabelSet, _, u64>(n, None)?;
            }
        }
        // One descriptor per histogram name, then every model pair under it.
        let Some(first) = models.values().next() else {
            return Ok(());
        };
        for (i, (name, help, _)) in histograms(first).into_iter().enumerate() {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
            for (k, m) in models.iter() {
                let h = histograms(m)[i].2;
                let buckets: Vec<(f64, u64)> = h.buckets().collect();
                family
                    .encode_family(&labels(k))?
                    .encode_histogram::<NoLabelSet>(h.sum, h.count, &buckets, None)?;
            }
        }
        Ok(())
    }
}
