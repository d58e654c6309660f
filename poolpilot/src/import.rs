//! `poolpilot import`: the seed's kinds of manifests turned into `poolpilot.yaml`
//! sections, each mapping and each difference said in a comment.
//!
//! - `HorizontalPodAutoscaler` on `inference_pool_*` metrics → `scaler.pools[]`
//!   (the spec as it is; the AverageValue note of DESIGN §1);
//! - `GCPTrafficExtension` (Model Armor) → `router.guard.chains[]`;
//! - `GCPBackendPolicy` logging → `router.access_log_sample_rate`;
//! - Prometheus rule files (`groups:`) → `alert_evaluator.rule_files`.
//!
//! The output is YAML whose values are written as JSON (JSON is YAML), so no YAML
//! serializer is needed and every value round-trips exactly.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Why a manifest could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: {kind}: {reason}")]
    Manifest {
        path: PathBuf,
        kind: String,
        reason: String,
    },
}

/// What the manifests become: config sections with their comments.
#[derive(Debug, Default)]
pub struct Imported {
    pools: Vec<(Vec<String>, Value)>,
    chains: Vec<(Vec<String>, Value)>,
    sample_rate: Option<(Vec<String>, u32)>,
    rule_files: Vec<(Vec<String>, String)>,
    /// Files whose kind is not one poolpilot imports.
    pub skipped: Vec<String>,
}

impl Imported {
    /// Reads each file (one or more YAML documents) and maps what it knows.
    pub fn read(paths: &[PathBuf]) -> Result<Self, ImportError> {
        let mut out = Self::default();
        for path in paths {
            let text = std::fs::read_to_string(path).map_err(|e| ImportError::Read {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            for doc in text.split("\n---").filter(|d| !d.trim().is_empty()) {
                let value: Value = serde_saphyr::from_str(doc).map_err(|e| ImportError::Read {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                out.add(path, &value)?;
            }
        }
        Ok(out)
    }

    fn add(&mut self, path: &Path, doc: &Value) -> Result<(), ImportError> {
        let kind = doc["kind"].as_str().unwrap_or_default();
        let fail = |reason: String| ImportError::Manifest {
            path: path.to_owned(),
            kind: kind.to_owned(),
            reason,
        };
        match kind {
            "HorizontalPodAutoscaler" => {
                let (notes, pool) = hpa(doc).map_err(fail)?;
                self.pools.push((notes, pool));
            }
            "GCPTrafficExtension" => {
                for chain in doc["spec"]["extensionChains"].as_array().into_iter().flatten() {
                    let (notes, chain) = traffic_chain(chain).map_err(fail)?;
                    self.chains.push((notes, chain));
                }
            }
            "GCPBackendPolicy" => {
                let logging = &doc["spec"]["default"]["logging"];
                let enabled = logging["enabled"].as_bool().unwrap_or(false);
                let rate = if enabled {
                    logging["sampleRate"].as_u64().unwrap_or(1_000_000).min(1_000_000) as u32
                } else {
                    0
                };
                let target = doc["spec"]["targetRef"]["name"].as_str().unwrap_or("?");
                self.sample_rate = Some((
                    vec![
                        format!("From GCPBackendPolicy {}: logging for InferencePool {target}, enabled={enabled}, sampleRate={rate} of 1,000,000.", name(doc)),
                        "poolpilot's access log is one JSON line per sampled request on stdout (or router.access_log_path), with proxy_status as RFC 9209; errors are always logged (access_log_errors).".to_owned(),
                    ],
                    rate,
                ));
            }
            _ if doc.get("groups").is_some() => self.rule_files.push((
                vec![format!(
                    "Prometheus rule file {}: loaded as it is; `poolpilot rules check` checks it as promtool does.",
                    path.display()
                )],
                std::fs::canonicalize(path)
                    .unwrap_or_else(|_| path.to_owned())
                    .display()
                    .to_string(),
            )),
            _ => self.skipped.push(format!(
                "{}: kind {kind:?} is not imported",
                path.display()
            )),
        }
        Ok(())
    }

    /// The `poolpilot.yaml` text.
    pub fn yaml(&self) -> String {
        let mut out = String::from(
            "# Written by `poolpilot import`. Check it with `poolpilot check --config FILE`.\n",
        );
        for s in &self.skipped {
            out.push_str(&format!("# Skipped: {s}\n"));
        }
        if !self.rule_files.is_empty() {
            out.push_str("alert_evaluator:\n");
            for (notes, _) in &self.rule_files {
                comment(&mut out, "  ", notes);
            }
            let files: Vec<&str> = self.rule_files.iter().map(|(_, f)| f.as_str()).collect();
            out.push_str(&format!("  rule_files: {}\n", json!(files)));
        }
        if !self.pools.is_empty() {
            out.push_str("scaler:\n  pools:\n");
            for (notes, pool) in &self.pools {
                comment(&mut out, "    ", notes);
                out.push_str(&format!("    - {pool}\n"));
            }
        }
        if !self.chains.is_empty() || self.sample_rate.is_some() {
            out.push_str("router:\n");
        }
        if let Some((notes, rate)) = &self.sample_rate {
            comment(&mut out, "  ", notes);
            out.push_str(&format!("  access_log_sample_rate: {rate}\n"));
        }
        if !self.chains.is_empty() {
            out.push_str("  guard:\n    chains:\n");
            for (notes, chain) in &self.chains {
                comment(&mut out, "      ", notes);
                out.push_str(&format!("      - {chain}\n"));
            }
        }
        out
    }
}

fn comment(out: &mut String, indent: &str, notes: &[String]) {
    for n in notes {
        out.push_str(&format!("{indent}# {n}\n"));
    }
}

fn name(doc: &Value) -> &str {
    doc["metadata"]["name"].as_str().unwrap_or("?")
}

/// An HPA as a scaler pool, with the pool from its metric selector.
fn hpa(doc: &Value) -> Result<(Vec<String>, Value), String> {
    let spec = &doc["spec"];
    let metrics = spec["metrics"]
        .as_array()
        .ok_or("spec.metrics is missing")?;
    let selector = |m: &Value| -> Option<String> {
        let labels = m["external"]["metric"]["selector"]["matchLabels"].as_object()?;
        labels
            .get("metric.labels.name")
            .or_else(|| labels.get("name"))?
            .as_str()
            .map(str::to_owned)
    };
    let pool = metrics
        .iter()
        .find_map(selector)
        .ok_or("no External metric selects a pool by `metric.labels.name` or `name`")?;
    let namespace = doc["metadata"]["namespace"].as_str().unwrap_or("default");
    let mut notes = vec![format!(
        "From HorizontalPodAutoscaler {namespace}/{}: the same autoscaling/v2 spec, evaluated on aggregates.v1 every 250 ms instead of the metrics adapter's ~30 s path.",
        name(doc)
    )];
    for m in metrics {
        let metric = m["external"]["metric"]["name"].as_str().unwrap_or_default();
        let target = &m["external"]["target"];
        if metric.contains("inference_pool_average_") && target["type"] == "AverageValue" {
            notes.push(format!(
                "{metric} is already a per-pod average: the stock HPA divides it by the pod count again (AverageValue on an average, DESIGN §1); poolpilot's pool_average mode computes ceil(ready × average / target). `poolpilot check` prints what the stock HPA would do."
            ));
            let value = target["averageValue"]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                .or_else(|| target["averageValue"].as_f64());
            if value.is_some_and(|v| v > 1.0) && metric.contains("kv_cache") {
                notes.push(format!(
                    "Target {} is above 1 but KV-cache utilisation is a ratio in 0..1: did you mean {:.2}?",
                    value.unwrap_or_default(),
                    value.unwrap_or_default() / 100.0
                ));
            }
        }
    }
    let mut spec = spec.clone();
    // Labels that only Google Cloud's metrics adapter uses.
    for m in spec["metrics"].as_array_mut().into_iter().flatten() {
        if let Some(labels) = m["external"]["metric"]["selector"]["matchLabels"].as_object_mut() {
            let dropped: Vec<String> = labels
                .keys()
                .filter(|k| k.starts_with("resource.labels."))
                .cloned()
                .collect();
            for k in &dropped {
                labels.remove(k);
            }
            if !dropped.is_empty() {
                notes.push(format!(
                    "Dropped {} (Google Cloud resource labels; poolpilot's aggregates are per pool).",
                    dropped.join(", ")
                ));
            }
        }
    }
    Ok((
        notes,
        json!({ "pool": pool, "namespace": namespace, "hpa": spec }),
    ))
}

/// One Model Armor extension chain as a guard chain.
fn traffic_chain(chain: &Value) -> Result<(Vec<String>, Value), String> {
    let chain_name = chain["name"]
        .as_str()
        .ok_or("an extension chain has no name")?;
    let expressions: Vec<String> = chain["matchCondition"]["celExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["celMatcher"].as_str().map(str::to_owned))
        .collect();
    let extension = chain["extensions"]
        .as_array()
        .and_then(|e| e.first())
        .ok_or("the chain has no extension")?;
    let flag = |key: &str| extension["metadata"][key].as_str() == Some("true");
    let mut events = Vec::new();
    if flag("sanitizeUserPrompt") {
        events.push("prompt");
    }
    if flag("sanitizeUserResponse") {
        events.push("response");
    }
    if events.is_empty() {
        return Err(format!(
            "chain {chain_name}: neither sanitizeUserPrompt nor sanitizeUserResponse is \"true\""
        ));
    }
    let service = extension["googleAPIServiceName"]
        .as_str()
        .unwrap_or("modelarmor.us-central1.rep.googleapis.com");
    let template = extension["metadata"]["extensionPolicy"]
        .as_str()
        .unwrap_or("projects/PROJECT/locations/LOCATION/templates/TEMPLATE");
    let timeout = extension["timeout"].as_str().unwrap_or("1s");
    let fail_open = extension["failOpen"].as_bool().unwrap_or(false);
    let mut out = json!({
        "name": chain_name,
        "events": events,
        "timeout": timeout,
        "fail_open": fail_open,
        "template": {
            "external": {
                "url": format!("https://{service}/v1/{template}"),
                "bearer_token_env": "MODEL_ARMOR_TOKEN",
            }
        }
    });
    if !expressions.is_empty() {
        out["match"] = json!(expressions);
    }
    let notes = vec![
        format!(
            "From GCPTrafficExtension chain {chain_name}: the same CEL match, events ({}), timeout {timeout} and fail_open {fail_open}.",
            events.join(", ")
        ),
        format!(
            "The template's external checker calls Model Armor ({service}) with the token in $MODEL_ARMOR_TOKEN; poolpilot's local filters run first and need no service. The extensionPolicy must be a full template name (projects/…/locations/…/templates/…)."
        ),
        "Difference: streamed responses are checked too (per SSE event, by the local filters); GKE's integration skips them.".to_owned(),
    ];
    Ok((notes, out))
}
