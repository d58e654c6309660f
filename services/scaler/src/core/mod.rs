//! The scaler's pure decision core: the Kubernetes HorizontalPodAutoscaler
//! controller's arithmetic for External metrics (kube-controller-manager,
//! `pkg/controller/podautoscaler`), plus poolpilot's pool-average rule (DESIGN §1).
//!
//! **Invariant:** nothing here reads the clock or does I/O. Time is an argument
//! (`now_ms`, unix milliseconds); the shell fetches metrics, PATCHes `/scale`,
//! reports successful changes back with [`Scaler::record_scale`] and persists
//! [`Scaler::state`].
//!
//! # Layout
//! - `spec.rs` — validation of the autoscaling/v2 spec (every problem, with its
//!   field path), metric keys, the "did you mean 0.70?" check.
//! - `quantity.rs` — `resource.Quantity` milli-values, as the controller reads them.
//! - `replicas.rs` — the replica calculator (`replica_calculator.go`): tolerance,
//!   `Value`, `AverageValue` and pool-average proposals.
//! - `behavior.rs` — stabilization windows, rate-limit policies, the legacy
//!   normalization, behavior defaults (`horizontal.go`, `defaults.go`).
//! - `scaler.rs` — [`Scaler`] and [`Decision`]: one HPA's decisions over time.
//! - `tests.rs` — our own tests; `tests/upstream.rs` — table cases ported from
//!   `replica_calculator_test.go` and `horizontal_test.go`.

pub mod behavior;
pub mod quantity;
pub mod replicas;
pub mod scaler;
pub mod spec;

#[cfg(test)]
mod tests;

pub use behavior::{
    Behavior, Policy, PolicyKind, Recommendation, ScaleEvent, ScalingRules, SelectPolicy,
};
pub use replicas::Tolerances;
pub use scaler::{
    Decision, Formula, MetricDecision, Mode, Observation, Scaler, State, Target, stock_would,
};
pub use spec::{
    ExternalMetric, FieldError, Options, SpecError, TargetKind, Validated, metric_key,
    ratio_target_problems, validate,
};
