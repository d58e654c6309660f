//! Baseline: fresh, up endpoints in turn, no scoring.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::config::Criticality;
use super::endpoint::{Decision, Endpoint, Request};

/// Round-robin over fresh, up endpoints; same [`Decision`] type as the
/// [`Picker`](super::Picker). The model name passes through as Standard.
#[derive(Debug)]
pub struct RoundRobin {
    next: AtomicUsize,
    freshness_ms: i64,
}

impl RoundRobin {
    pub fn new(freshness_ms: i64) -> Self {
        Self {
            next: AtomicUsize::new(0),
            freshness_ms,
        }
    }

    /// The next eligible endpoint in turn; `ranked` continues the rotation
    /// (so `ranked[1]` is the retry target), all scores 1.0.
    pub fn pick(&self, now_ms: i64, endpoints: &[Endpoint], req: &Request) -> Decision {
        let eligible: Vec<usize> = (0..endpoints.len())
            .filter(|&i| endpoints[i].is_eligible(now_ms, self.freshness_ms))
            .collect();
        if eligible.is_empty() {
            return Decision::NoEndpoint;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % eligible.len();
        let ranked: Vec<usize> = eligible[start..]
            .iter()
            .chain(&eligible[..start])
            .copied()
            .collect();
        Decision::Route {
            target_model: req.model.to_owned(),
            criticality: Criticality::Standard,
            scores: vec![1.0; ranked.len()],
            ranked,
        }
    }
}
