//! `poolpilot scaler replay`: the core over a recorded timeline, one JSON decision per
//! observation, so targets can be tuned against real data without a cluster. Each
//! decision that changes replicas is taken as applied (it counts in rate limits).
//! Metric names are read as the spec's are (`plain_metric_name`): the Google Cloud form
//! `prometheus.googleapis.com|<name>|<kind>` and `<name>` are the same metric.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec};
use serde::{Deserialize, Serialize};

use crate::core::spec::plain_metric_name;
use crate::core::{Mode, Observation, Scaler};

/// One observation of the timeline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    /// Seconds (any epoch, increasing).
    time: f64,
    spec_replicas: i32,
    status_replicas: i32,
    ready_pods: i32,
    metrics: BTreeMap<String, f64>,
}

/// One decision of the replay.
#[derive(Debug, Serialize)]
struct Out<'a> {
    time: f64,
    current: i32,
    desired: i32,
    raw_desired: i32,
    reason: &'a str,
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The HPA manifest is not one.
    #[error("{path}: {message}")]
    Hpa {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A timeline line is not an observation.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file.
        path: String,
        /// 1-based.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Writing the decisions failed.
    #[error("writing decisions: {0}")]
    Write(std::io::Error),
}

/// Reads a `HorizontalPodAutoscaler` manifest's spec.
pub fn load_hpa(path: &Path) -> Result<HorizontalPodAutoscalerSpec, ReplayError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ReplayError::Read {
        path: name.clone(),
        source,
    })?;
    let hpa: HorizontalPodAutoscaler =
        serde_saphyr::from_str(&text).map_err(|e| ReplayError::Hpa {
            path: name.clone(),
            message: e.to_string(),
        })?;
    Ok(hpa.spec)
}

/// Replays `timeline` (JSON lines, named `name` in errors) through a scaler for
/// `spec`, writing one decision per line to `out`.
pub fn replay(
    spec: HorizontalPodAutoscalerSpec,
    mode: Mode,
    name: &str,
    timeline: impl BufRead,
    mut out: impl Write,
) -> Result<(), ReplayError> {
    let mut scaler = Scaler::new(spec, mode).map_err(|e| ReplayError::Hpa {
        path: "--hpa".to_owned(),
        message: e.to_string(),
    })?;
    let bad = |line: usize, message: String| ReplayError::Line {
        path: name.to_owned(),
        line,
        message,
    };
    let mut last = f64::NEG_INFINITY;
    for (i, text) in timeline.lines().enumerate() {
        let text = text.map_err(|e| bad(i + 1, e.to_string()))?;
        if text.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(&text).map_err(|e| bad(i + 1, e.to_string()))?;
        if line.time.is_nan() || line.time < last {
            return Err(bad(i + 1, format!("time {} goes backwards", line.time)));
        }
        last = line.time;
        let metrics = plain_metrics(line.metrics).map_err(|e| bad(i + 1, e))?;
        let now = (line.time * 1000.0) as i64;
        let decision = scaler.recommend(
            now,
            &Observation {
                spec_replicas: line.spec_replicas,
                status_replicas: line.status_replicas,
                ready_pods: line.ready_pods,
                metrics,
            },
        );
        if decision.desired != decision.current {
            scaler.record_scale(now, decision.current, decision.desired);
        }
        let record = Out {
            time: line.time,
            current: decision.current,
            desired: decision.desired,
            raw_desired: decision.raw_desired,
            reason: &decision.reason,
        };
        let json = serde_json::to_string(&record).map_err(|e| bad(i + 1, e.to_string()))?;
        writeln!(out, "{json}").map_err(ReplayError::Write)?;
    }
    Ok(())
}

/// An observation's metrics under their plain names, as the spec's are read, so a
/// timeline may name a metric in either form; one metric given in both is an error.
fn plain_metrics(metrics: BTreeMap<String, f64>) -> Result<BTreeMap<String, f64>, String> {
    let mut out = BTreeMap::new();
    for (name, value) in metrics {
        let plain = plain_metric_name(&name).map_err(|e| format!("metrics: {e}"))?;
        if out.insert(plain.clone(), value).is_some() {
            return Err(format!(
                "metrics: {plain:?} is given twice (once as {name:?})"
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KV: &str = "inference_pool_average_kv_cache_utilization";
    const KV_GMP: &str =
        "prometheus.googleapis.com|inference_pool_average_kv_cache_utilization|gauge";

    fn spec(metric: &str) -> HorizontalPodAutoscalerSpec {
        serde_json::from_value(serde_json::json!({
            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "llama3" },
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": [{ "type": "External", "external": {
                "metric": { "name": metric },
                "target": { "type": "AverageValue", "averageValue": "500m" } } }],
            "behavior": {}
        }))
        .unwrap()
    }

    fn run(timeline: &str) -> Result<Vec<serde_json::Value>, ReplayError> {
        run_with(KV, timeline)
    }

    fn run_with(metric: &str, timeline: &str) -> Result<Vec<serde_json::Value>, ReplayError> {
        let mut out = Vec::new();
        replay(
            spec(metric),
            Mode::PoolAverage,
            "t.jsonl",
            timeline.as_bytes(),
            &mut out,
        )?;
        Ok(String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect())
    }

    #[test]
    fn a_timeline_gives_one_decision_per_observation() {
        let timeline = r#"{"time": 0, "spec_replicas": 2, "status_replicas": 2, "ready_pods": 2, "metrics": {"inference_pool_average_kv_cache_utilization": 0.5}}
{"time": 15, "spec_replicas": 2, "status_replicas": 2, "ready_pods": 2, "metrics": {"inference_pool_average_kv_cache_utilization": 0.9}}
"#;
        let out = run(timeline).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["desired"], 2, "at target: no change");
        // ceil(2 × 0.9 / 0.5) = 4, within the default scale-up limits.
        assert_eq!(out[1]["desired"], 4, "{}", out[1]);
        assert!(out[1]["reason"].as_str().unwrap().contains("0.9"));
    }

    #[test]
    fn a_bad_line_is_named() {
        let err = run("{\"time\": 0}\n").unwrap_err().to_string();
        assert!(err.starts_with("t.jsonl:1:"), "{err}");
        let backwards = r#"{"time": 5, "spec_replicas": 1, "status_replicas": 1, "ready_pods": 1, "metrics": {}}
{"time": 1, "spec_replicas": 1, "status_replicas": 1, "ready_pods": 1, "metrics": {}}"#;
        let err = run(backwards).unwrap_err().to_string();
        assert!(
            err.starts_with("t.jsonl:2:") && err.contains("backwards"),
            "{err}"
        );
    }

    #[test]
    fn a_metric_is_the_same_in_its_google_cloud_and_its_plain_name() {
        let line = |metric: &str| {
            format!(
                "{{\"time\": 0, \"spec_replicas\": 2, \"status_replicas\": 2, \"ready_pods\": 2, \"metrics\": {{\"{metric}\": 0.9}}}}\n"
            )
        };
        for (in_spec, in_timeline) in [(KV, KV_GMP), (KV_GMP, KV), (KV_GMP, KV_GMP)] {
            let out = run_with(in_spec, &line(in_timeline)).unwrap();
            // ceil(2 × 0.9 / 0.5) = 4: the metric was found, not missing.
            assert_eq!(
                out[0]["desired"], 4,
                "{in_spec} / {in_timeline}: {}",
                out[0]
            );
        }
        let both = format!(
            "{{\"time\": 0, \"spec_replicas\": 2, \"status_replicas\": 2, \"ready_pods\": 2, \"metrics\": {{\"{KV}\": 0.9, \"{KV_GMP}\": 0.1}}}}\n"
        );
        let err = run(&both).unwrap_err().to_string();
        assert!(
            err.starts_with("t.jsonl:1:") && err.contains("twice"),
            "{err}"
        );
        let err = run(&line("prometheus.googleapis.com|kv"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.jsonl:1: metrics:"), "{err}");
    }
}
