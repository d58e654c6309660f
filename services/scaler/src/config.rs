//! The `scaler:` section of `poolpilot.yaml`: one entry per pool, each with an
//! autoscaling/v2 `HorizontalPodAutoscaler` spec written inline (the manifest's
//! `spec:`; `poolpilot import` turns a whole manifest into such an entry).

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec;
use serde::{Deserialize, Serialize};
use shared::config::{Problems, Validate, duration, index, join};

use crate::core::{Mode, Scaler};

/// How the scaler reaches the API server, and what it scales.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// A kubeconfig file; without it, in-cluster config or `$KUBECONFIG`.
    pub kubeconfig: Option<PathBuf>,
    /// Decide and explain, but never PATCH.
    pub dry_run: bool,
    /// How often each pool's state is looked at (level-triggered).
    #[serde(with = "duration")]
    pub interval: Duration,
    /// Aggregates older than this count as missing (no scale-down on missing data).
    #[serde(with = "duration")]
    pub freshness: Duration,
    /// Where recommendations and scale events are kept across restarts (sled), so a
    /// restart cannot scale down before the stabilization window has passed.
    pub state_path: Option<PathBuf>,
    /// The pools to scale.
    pub pools: Vec<PoolScaling>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            dry_run: false,
            interval: Duration::from_millis(250),
            freshness: Duration::from_secs(2),
            state_path: None,
            pools: Vec::new(),
        }
    }
}

/// One pool and how to scale it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolScaling {
    /// The pool whose aggregates drive it (`name` on `aggregates.v1`).
    pub pool: String,
    /// The namespace of the scale target.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// `pool_average` (default): `inference_pool_average_*` targets are read as the
    /// per-pod averages they are (DESIGN §1); `stock`: exactly the HPA's arithmetic.
    #[serde(default)]
    pub mode: Mode,
    /// The HPA spec, as in a `HorizontalPodAutoscaler`'s `spec:`.
    pub hpa: HorizontalPodAutoscalerSpec,
}

fn default_namespace() -> String {
    "default".to_owned()
}

impl Validate for Config {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self
            .kubeconfig
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            problems.push(
                join(path, "kubeconfig"),
                "is empty: leave it out for in-cluster config",
            );
        }
        for (field, d) in [("interval", self.interval), ("freshness", self.freshness)] {
            if d.is_zero() {
                problems.push(join(path, field), "must be above 0");
            }
        }
        for (i, p) in self.pools.iter().enumerate() {
            let at = index(&join(path, "pools"), i);
            if p.pool.is_empty() {
                problems.push(join(&at, "pool"), "must name the pool");
            }
            if let Err(e) = Scaler::new(p.hpa.clone(), p.mode) {
                for f in e.errors {
                    // The core names fields from `spec.`; the file has them under `hpa`.
                    let field = f.path.strip_prefix("spec.").unwrap_or(&f.path);
                    problems.push(join(&join(&at, "hpa"), field), f.message);
                }
            }
        }
    }
}

/// What `poolpilot check` says about a pool: in `pool_average` mode, what the stock
/// HPA would do with the same spec at an example load (the AverageValue trap of
/// DESIGN §1), and targets that look like percentages.
pub fn explain(p: &PoolScaling) -> Vec<String> {
    use crate::core::{Observation, ratio_target_problems, stock_would};
    let mut out = Vec::new();
    let Ok(mut ours) = Scaler::new(p.hpa.clone(), p.mode) else {
        return out;
    };
    let spec = ours.spec();
    // An example: four ready pods, each metric 60% above its target.
    let replicas = 4.clamp(spec.min_replicas, spec.max_replicas);
    let obs = Observation {
        spec_replicas: replicas,
        status_replicas: replicas,
        ready_pods: replicas,
        metrics: spec
            .metrics
            .iter()
            .map(|m| (m.name.clone(), m.target_milli as f64 / 1000.0 * 1.6))
            .collect(),
    };
    ours.restore(crate::core::State {
        initialized: true,
        ..Default::default()
    });
    let ours = ours.recommend(0, &obs);
    if let Ok(stock) = stock_would(&p.hpa, &obs) {
        out.push(format!(
            "pool {}: at {replicas} ready pods with every metric 1.6× its target, poolpilot ({:?}) → {} replicas; the stock HPA with this spec → {}{}",
            p.pool,
            p.mode,
            ours.desired,
            stock.desired,
            if ours.desired != stock.desired {
                " (it reads an inference_pool_average_* AverageValue as a pool total: DESIGN §1)"
            } else {
                ""
            },
        ));
    }
    for f in ratio_target_problems(&p.hpa) {
        out.push(format!("pool {}: {}: {}", p.pool, f.path, f.message));
    }
    out
}
