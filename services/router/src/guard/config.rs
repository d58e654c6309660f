//! The `router.guard` section: chains in the shape of the seed's
//! `GCPTrafficExtension` (a CEL match condition, the events checked, a timeout,
//! fail-open) whose template says which filters run, from what confidence, and
//! whether a finding blocks.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::{Problems, duration, index, join};

use super::armor::ArmorConfig;
use super::detect::{Confidence, DetectorsConfig};
use super::matcher::{MatchError, Matcher};

/// The guard: the first chain whose condition matches a request checks it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    pub chains: Vec<ChainConfig>,
    /// Put the prompt in the access log, redacted by the chain's filters (its
    /// length and a hash of the original are kept). Off by default.
    pub log_prompts: bool,
}

/// One extension chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    pub name: String,
    /// CEL expressions over `request.path`, `request.method`, `request.headers`
    /// and `request.model` (the seed's `celExpressions`); any true one matches.
    #[serde(rename = "match", default = "every_path")]
    pub match_condition: Vec<String>,
    /// Requested models the chain applies to; empty = every model.
    #[serde(default)]
    pub models: Vec<String>,
    /// What is checked (the seed's `sanitizeUserPrompt` / `sanitizeUserResponse`).
    #[serde(default = "both_events")]
    pub events: Vec<GuardEvent>,
    /// Longest a check may take (the external checker's call).
    #[serde(default = "one_second", with = "duration")]
    pub timeout: Duration,
    /// When the checker fails or times out: pass the traffic (true) or refuse it.
    #[serde(default)]
    pub fail_open: bool,
    #[serde(default)]
    pub template: TemplateConfig,
}

/// A checked event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardEvent {
    Prompt,
    Response,
}

/// What a finding does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// Log and count findings; traffic passes.
    InspectOnly,
    /// Refuse the request (or cut the response).
    #[default]
    InspectAndBlock,
}

/// A chain's template (Model Armor's template: filters, confidence levels,
/// enforcement).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TemplateConfig {
    /// The local filters (no model needed).
    pub local: DetectorsConfig,
    /// Findings below this confidence are ignored.
    pub min_confidence: Confidence,
    pub enforcement: Enforcement,
    /// HTTP status of a blocked request.
    pub block_status: u16,
    /// Message of a blocked request's error (the filter names are appended; the
    /// matched text never is).
    pub block_message: String,
    /// An external checker in Model Armor's shape.
    pub external: Option<ArmorConfig>,
}

impl Default for TemplateConfig {
    fn default() -> Self {
        Self {
            local: DetectorsConfig::default(),
            min_confidence: Confidence::Medium,
            enforcement: Enforcement::InspectAndBlock,
            block_status: 403,
            block_message: "The request was blocked by a safety policy.".to_owned(),
            external: None,
        }
    }
}

fn every_path() -> Vec<String> {
    vec![r#"request.path.startsWith("/")"#.to_owned()]
}

fn both_events() -> Vec<GuardEvent> {
    vec![GuardEvent::Prompt, GuardEvent::Response]
}

fn one_second() -> Duration {
    Duration::from_secs(1)
}

impl GuardConfig {
    /// Every problem, under `path` (e.g. `router.guard`): CEL expressions are
    /// compiled here, so a syntax error is reported with its line in the file and
    /// its position in the expression.
    pub fn validate(&self, path: &str, problems: &mut Problems) {
        let chains = join(path, "chains");
        for (i, c) in self.chains.iter().enumerate() {
            let here = index(&chains, i);
            if c.name.is_empty() {
                problems.push(join(&here, "name"), "must not be empty");
            }
            if self.chains[..i].iter().any(|o| o.name == c.name) {
                problems.push(join(&here, "name"), format!("{:?} is used twice", c.name));
            }
            if c.match_condition.is_empty() {
                problems.push(join(&here, "match"), "needs at least one CEL expression");
            }
            for (j, expression) in c.match_condition.iter().enumerate() {
                if let Err(e) = Matcher::new(std::slice::from_ref(expression)) {
                    let message = match e {
                        MatchError::Syntax {
                            line,
                            column,
                            message,
                            ..
                        } => format!("CEL {line}:{column}: {message} in {expression}"),
                        other => other.to_string(),
                    };
                    problems.push(index(&join(&here, "match"), j), message);
                }
            }
            if c.events.is_empty() {
                problems.push(join(&here, "events"), "needs prompt, response or both");
            }
            if c.timeout.is_zero() {
                problems.push(join(&here, "timeout"), "must be above 0");
            }
            let template = join(&here, "template");
            if !(400..=599).contains(&c.template.block_status) {
                problems.push(
                    join(&template, "block_status"),
                    format!("({}) must be a 4xx or 5xx status", c.template.block_status),
                );
            }
            for (field, problem) in c.template.local.validate() {
                problems.push(join(&join(&template, "local"), &field), problem);
            }
        }
    }
}
