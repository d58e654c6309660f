//! Per-signal scores in `0..=1` (higher = better) and the saturation formula.
//!
//! Sources (kubernetes-sigs/gateway-api-inference-extension, `pkg/epp`):
//! - queue: `scheduling/framework/plugins/scorer/queue.go` (`QueueScorer`):
//!   `(max - q) / (max - min)` over the candidates, `1.0` when all equal.
//! - KV cache: `scheduling/framework/plugins/scorer/kvcache_utilization.go`
//!   (`KVCacheUtilizationScorer`): `1 - KVCacheUsagePercent`.
//! - LoRA: `scheduling/framework/plugins/scorer/lora_affinity.go`
//!   (`LoraAffinityScorer`): active 1.0, free slot 0.8, waiting 0.6, else 0;
//!   the free-slot case is checked *before* waiting, as there.
//! - saturation: `saturationdetector/utilization/config.go` defaults
//!   `QueueDepthThreshold = 5`, `KVCacheUtilThreshold = 0.8`.

use super::endpoint::Endpoint;

/// Queue depth at which one endpoint counts as saturated (EPP default).
pub const SATURATION_QUEUE: f64 = 5.0;
/// KV utilisation at which one endpoint counts as saturated (EPP default).
pub const SATURATION_KV: f64 = 0.8;

/// Min/max of the candidates' effective queues, for [`queue_score`].
#[derive(Debug, Clone, Copy)]
pub struct QueueRange {
    min: f64,
    max: f64,
}

impl QueueRange {
    pub fn of<'a>(endpoints: impl IntoIterator<Item = &'a Endpoint>) -> Self {
        endpoints.into_iter().fold(
            Self {
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
            },
            |r, e| {
                let q = e.effective_queue();
                Self {
                    min: r.min.min(q),
                    max: r.max.max(q),
                }
            },
        )
    }
}

/// `(max - q) / (max - min)`, or 1.0 when every candidate has the same queue.
pub fn queue_score(range: QueueRange, queue: f64) -> f64 {
    let span = range.max - range.min;
    if span > 0.0 {
        ((range.max - queue) / span).clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// `1 - kv`, kv clamped into `0..=1`.
pub fn kv_score(kv: f64) -> f64 {
    1.0 - kv.clamp(0.0, 1.0)
}

/// LoRA affinity of `e` for `adapter`: running 1.0, free slot 0.8, waiting
/// 0.6, else 0.0. `lora_max == 0` (unknown) never counts as a free slot.
pub fn lora_score(e: &Endpoint, adapter: &str) -> f64 {
    if e.lora_running.iter().any(|a| same(a, adapter)) {
        1.0
    } else if e.lora_running.len() + e.lora_waiting.len() < e.lora_max as usize {
        0.8
    } else if e.lora_waiting.iter().any(|a| same(a, adapter)) {
        0.6
    } else {
        0.0
    }
}

/// `a == b` for short names without a `memcmp` call: 8 bytes at a time.
#[inline]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let (mut ca, mut cb) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut ca).zip(&mut cb) {
        if x != y {
            return false;
        }
    }
    ca.remainder()
        .iter()
        .zip(cb.remainder())
        .all(|(x, y)| x == y)
}

/// Saturation of one endpoint: `max(queue / 5, kv / 0.8)`; >= 1 = saturated.
pub fn endpoint_saturation(e: &Endpoint) -> f64 {
    (e.effective_queue() / SATURATION_QUEUE).max(e.kv / SATURATION_KV)
}

/// EPP "has capacity" predicate (`noQueueAndLessThanKVCacheThresholdPredicate`
/// in `pkg/epp/scheduling/filter.go`): both thresholds inclusive.
pub fn has_capacity(e: &Endpoint, queue_headroom: f64, kv_headroom: f64) -> bool {
    e.effective_queue() <= queue_headroom && e.kv <= kv_headroom
}
