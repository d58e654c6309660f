//! The guard: prompt and response safety checks inside the router, the
//! self-hosted counterpart of GKE's Model Armor traffic extension (the seed's
//! `GCPTrafficExtension`: a CEL match condition, the events checked, a timeout),
//! with local filters that need no model, an optional external checker in Model
//! Armor's request/response shape, and streamed responses checked as they flow.
//!
//! # Layout
//! - `config.rs`: the `router.guard` section (chains, templates).
//! - `core.rs`: [`Guard`]: chain selection, one check (local filters, then the
//!   external checker), enforcement and fail-open/closed; [`ResponseStream`].
//! - `sse.rs`: streamed responses event by event, cut with an error event.
//! - `matcher.rs`: CEL match conditions over the request.
//! - `armor.rs`: the external checker's HTTP client (`sanitizeUserPrompt`,
//!   `sanitizeModelResponse`).
//! - `detect/`: the local filters (sensitive data, credentials, prompt
//!   injection, invisible Unicode, URL deny lists, custom regexes), streaming
//!   scanner and redaction.
//! - `events.rs`: `poolpilot_guard_*` metrics.
//! - `scan.rs`: `poolpilot guard scan` (a policy tried on JSON lines).
//!
//! **Invariant:** no log line, metric label, event or error body carries the
//! matched text: only filter names (and, with `log_prompts`, a redacted prompt).

mod armor;
mod config;
mod core;
pub mod detect;
mod events;
mod matcher;
mod scan;
mod sse;

pub use armor::{Armor, ArmorConfig, ArmorError, Event, Verdict};
pub use config::{ChainConfig, Enforcement, GuardConfig, GuardEvent, TemplateConfig};
pub use core::{Action, Guard, GuardError, Outcome, ResponseStream};
pub use matcher::{MatchError, Matcher, RequestView};
pub use scan::{ScanError, Summary, scan};
pub use sse::{SseGuard, Step, response_text};
