//! The [`Guard`]: chain selection, one check of a prompt or a whole response
//! (local filters, then the external checker), and what a finding does.

use std::sync::Arc;
use std::time::Duration;

use super::armor::{Armor, ArmorError, Event};
use super::config::{ChainConfig, Enforcement, GuardConfig, GuardEvent};
use super::detect::{Confidence, DetectError, Detectors, Finding, redact};
use super::events::GuardMetrics;
use super::matcher::{MatchError, Matcher, RequestView};
use shared::telemetry::MetricsRegistry;

/// Why the guard cannot be built (validation reports these first, with lines).
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("router.guard.chains[{index}].match: {source}")]
    Match { index: usize, source: MatchError },
    #[error("router.guard.chains[{index}].template.local: {source}")]
    Detect { index: usize, source: DetectError },
    #[error("router.guard.chains[{index}].template.external: {source}")]
    Armor { index: usize, source: ArmorError },
}

/// The guard, shared by every request.
pub struct Guard {
    chains: Vec<Chain>,
    log_prompts: bool,
    metrics: GuardMetrics,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.chains.iter().map(|c| c.name.as_str()).collect();
        f.debug_struct("Guard").field("chains", &names).finish()
    }
}

/// One built chain.
pub struct Chain {
    name: String,
    matcher: Matcher,
    models: Vec<String>,
    prompt: bool,
    response: bool,
    timeout: Duration,
    fail_open: bool,
    detectors: Detectors,
    min_confidence: Confidence,
    enforcement: Enforcement,
    block_status: u16,
    block_message: String,
    armor: Option<Armor>,
}

/// What a check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing found.
    Allow,
    /// Found, and the template only inspects: traffic passes.
    Inspect,
    /// Found, and the template blocks.
    Block,
    /// The checker failed; the chain fails open: traffic passes.
    FailOpen,
    /// The checker failed; the chain fails closed: traffic is refused.
    FailClosed,
}

impl Action {
    /// The `action` label and the verdict word of logs and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allowed",
            Self::Inspect => "inspected",
            Self::Block => "blocked",
            Self::FailOpen => "error_allowed",
            Self::FailClosed => "error_blocked",
        }
    }
}

/// The outcome of a check: the action and the filters that fired (names only,
/// never the matched text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub action: Action,
    pub filters: Vec<String>,
    /// Why the checker failed, for [`Action::FailOpen`] / [`Action::FailClosed`].
    pub error: Option<String>,
}

impl Outcome {
    /// `blocked:card_number,email`, `allowed`, … — the `guard` field of the access
    /// log and of `requests.v1`.
    pub fn label(&self) -> String {
        if self.filters.is_empty() {
            self.action.as_str().to_owned()
        } else {
            format!("{}:{}", self.action.as_str(), self.filters.join(","))
        }
    }

    /// Whether the traffic stops here.
    pub fn refused(&self) -> bool {
        matches!(self.action, Action::Block | Action::FailClosed)
    }
}

impl Guard {
    /// Builds every chain and registers `poolpilot_guard_*`.
    pub fn new(config: &GuardConfig, registry: &MetricsRegistry) -> Result<Self, GuardError> {
        let chains = config
            .chains
            .iter()
            .enumerate()
            .map(|(index, c)| Chain::new(index, c))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            chains,
            log_prompts: config.log_prompts,
            metrics: GuardMetrics::register(registry),
        })
    }

    /// The first chain whose models and match condition take `request`. A
    /// condition that fails to evaluate does not match (as Envoy treats a CEL
    /// error), and is logged.
    pub fn select(&self, request: &RequestView<'_>) -> Option<usize> {
        self.chains.iter().position(|c| {
            let model = request.model.unwrap_or_default();
            if !c.models.is_empty() && !c.models.iter().any(|m| m == model) {
                return false;
            }
            c.matcher.matches(request).unwrap_or_else(|e| {
                tracing::warn!(chain = %c.name, error = %e, "Guard match condition failed; not matched.");
                false
            })
        })
    }

    /// Whether chain `chain` checks `event`.
    pub fn checks(&self, chain: usize, event: GuardEvent) -> bool {
        self.chains.get(chain).is_some_and(|c| match event {
            GuardEvent::Prompt => c.prompt,
            GuardEvent::Response => c.response,
        })
    }

    /// Checks `text` (a prompt, or a whole response) with chain `chain`: local
    /// filters first; the external checker only when they did not already block.
    /// The caller times it and reports it with [`Guard::record`].
    pub async fn check(&self, chain: usize, event: GuardEvent, text: &str) -> Outcome {
        let Some(c) = self.chains.get(chain) else {
            return allow();
        };
        let mut findings = Vec::new();
        c.detectors.scan(text, &mut findings);
        let mut outcome = c.judge(&findings);
        if outcome.action != Action::Block
            && let Some(armor) = &c.armor
        {
            let armor_event = match event {
                GuardEvent::Prompt => Event::Prompt,
                GuardEvent::Response => Event::Response,
            };
            match armor.check(armor_event, text, c.timeout).await {
                Ok(v) if v.matched => {
                    let external = v.filters.iter().map(|f| format!("external:{f}"));
                    outcome.filters.extend(external);
                    outcome.action = c.found();
                }
                Ok(_) => {}
                Err(e) if outcome.filters.is_empty() => {
                    outcome.action = if c.fail_open {
                        Action::FailOpen
                    } else {
                        Action::FailClosed
                    };
                    outcome.error = Some(e.to_string());
                }
                // Local findings already decided; the failure is only logged.
                Err(e) => {
                    tracing::warn!(chain = %c.name, error = %e, "External guard check failed.")
                }
            }
        }
        outcome
    }

    /// Counts one check of `event` by chain `chain` that took `seconds`.
    pub fn record(&self, chain: usize, event: GuardEvent, outcome: &Outcome, seconds: f64) {
        if let Some(c) = self.chains.get(chain) {
            self.metrics.checked(&c.name, event, outcome, Some(seconds));
        }
    }

    /// A streamed response's checker for chain `chain`.
    pub fn stream(self: &Arc<Self>, chain: usize) -> ResponseStream {
        ResponseStream {
            guard: Arc::clone(self),
            chain,
            scanner: super::detect::StreamScanner::new(),
            seen: Vec::new(),
        }
    }

    /// `text` as the access log may show it (when `log_prompts` is on):
    /// everything any filter of the chain finds, at any confidence, redacted.
    pub fn loggable(&self, chain: usize, text: &str) -> Option<String> {
        let c = self.chains.get(chain).filter(|_| self.log_prompts)?;
        let mut findings = Vec::new();
        c.detectors.scan(text, &mut findings);
        Some(redact(text, &findings))
    }

    /// The error a refused request gets: status, code, message (filter names, never
    /// the matched text).
    pub fn refusal(&self, chain: usize, outcome: &Outcome) -> (u16, &'static str, String) {
        let c = &self.chains[chain.min(self.chains.len().saturating_sub(1))];
        if outcome.action == Action::FailClosed {
            return (
                503,
                "guard_unavailable",
                format!(
                    "The safety check could not be completed (chain {}); the request was not sent.",
                    c.name
                ),
            );
        }
        (
            c.block_status,
            "content_blocked",
            format!(
                "{} Filters: {}.",
                c.block_message,
                outcome.filters.join(", ")
            ),
        )
    }
}

fn allow() -> Outcome {
    Outcome {
        action: Action::Allow,
        filters: Vec::new(),
        error: None,
    }
}

impl Chain {
    fn new(index: usize, c: &ChainConfig) -> Result<Self, GuardError> {
        Ok(Self {
            name: c.name.clone(),
            matcher: Matcher::new(&c.match_condition)
                .map_err(|source| GuardError::Match { index, source })?,
            models: c.models.clone(),
            prompt: c.events.contains(&GuardEvent::Prompt),
            response: c.events.contains(&GuardEvent::Response),
            timeout: c.timeout,
            fail_open: c.fail_open,
            detectors: Detectors::new(&c.template.local)
                .map_err(|source| GuardError::Detect { index, source })?,
            min_confidence: c.template.min_confidence,
            enforcement: c.template.enforcement,
            block_status: c.template.block_status,
            block_message: c.template.block_message.clone(),
            armor: c
                .template
                .external
                .as_ref()
                .map(Armor::new)
                .transpose()
                .map_err(|source| GuardError::Armor { index, source })?,
        })
    }

    /// What a finding does under this chain's template.
    fn found(&self) -> Action {
        match self.enforcement {
            Enforcement::InspectOnly => Action::Inspect,
            Enforcement::InspectAndBlock => Action::Block,
        }
    }

    /// The outcome of `findings`: those at or above the template's confidence
    /// count, by filter name.
    fn judge(&self, findings: &[Finding]) -> Outcome {
        let mut filters: Vec<String> = findings
            .iter()
            .filter(|f| f.confidence >= self.min_confidence)
            .map(|f| f.filter.clone())
            .collect();
        filters.sort();
        filters.dedup();
        Outcome {
            action: if filters.is_empty() {
                Action::Allow
            } else {
                self.found()
            },
            filters,
            error: None,
        }
    }
}

/// Checks a streamed response piece by piece with the chain's local filters (a
/// finding split across pieces is caught); the external checker is not called per
/// piece.
pub struct ResponseStream {
    guard: Arc<Guard>,
    chain: usize,
    scanner: super::detect::StreamScanner,
    /// Filters found so far (inspect-only findings accumulate here).
    seen: Vec<String>,
}

impl ResponseStream {
    /// Scans the next piece of text; `Some` when the stream must be cut.
    pub fn push(&mut self, text: &str) -> Option<Outcome> {
        let c = self.guard.chains.get(self.chain)?;
        let findings = self.scanner.push(&c.detectors, text);
        let outcome = c.judge(&findings);
        for f in &outcome.filters {
            if !self.seen.contains(f) {
                self.seen.push(f.clone());
            }
        }
        if outcome.action != Action::Block {
            return None;
        }
        let outcome = Outcome {
            filters: self.seen.clone(),
            ..outcome
        };
        self.guard
            .metrics
            .checked(&c.name, GuardEvent::Response, &outcome, None);
        Some(outcome)
    }

    /// The stream ended without a cut: its outcome (allowed, or inspected with
    /// what was found).
    pub fn finish(&self) -> Outcome {
        let Some(c) = self.guard.chains.get(self.chain) else {
            return allow();
        };
        let outcome = Outcome {
            action: if self.seen.is_empty() {
                Action::Allow
            } else {
                c.found()
            },
            filters: self.seen.clone(),
            error: None,
        };
        self.guard
            .metrics
            .checked(&c.name, GuardEvent::Response, &outcome, None);
        outcome
    }

    /// The refusal for a cut stream.
    pub fn refusal(&self, outcome: &Outcome) -> (u16, &'static str, String) {
        self.guard.refusal(self.chain, outcome)
    }
}
