//! The [`Picker`]: model resolution, filters, weighted scoring, ranking.
//!
//! Pipeline of one [`Picker::pick`] (EPP `pkg/epp/scheduling` scheduler
//! profile: filters → scorers → max-score picker):
//! 1. resolve the model: `objective` header, else `model`, against the
//!    configured `InferenceModel`s; weighted random target split as the
//!    EPP's `RandomWeightedDraw` (cumulative weights, one draw);
//! 2. keep fresh, up endpoints (none → [`Decision::NoEndpoint`]);
//! 3. Sheddable and pool saturation >= 1 → [`Decision::Shed`];
//! 4. "has capacity" filter (`queue <= queue_headroom && kv <= kv_headroom`),
//!    falling back to the unfiltered set when it would leave none, as the
//!    EPP decision-tree filter's `nextOnFailure` does (`scheduling/filter.go`);
//! 5. total = Σ weight × score (queue, kv, prefix, LoRA; see `scorers.rs`,
//!    `prefix.rs`);
//! 6. max score wins, ties (within [`TIE_EPSILON`]) broken uniformly at
//!    random as the EPP `MaxScorePicker` does (it shuffles before sorting:
//!    `scheduling/framework/plugins/picker/max_score_picker.go`).

use std::cell::RefCell;
use std::collections::HashMap;

use super::config::{ConfigError, Criticality, PickerConfig, TargetModel};
use super::endpoint::{Decision, Endpoint, Request};
use super::prefix::{BlockHashes, PrefixIndex, block_count, block_hashes};
use super::scorers::{
    QueueRange, endpoint_saturation, has_capacity, kv_score, lora_score, queue_score,
};

/// Scores closer than this count as a tie.
pub const TIE_EPSILON: f64 = 1e-9;
/// `Retry-After` seconds returned with [`Decision::Shed`].
pub const SHED_RETRY_AFTER_S: u32 = 1;

/// Endpoint picker: configuration plus the prefix-affinity index.
pub struct Picker {
    config: PickerConfig,
    models: HashMap<String, usize>,
    prefix: PrefixIndex,
    /// Scratch state reused across picks (see [`PickCache`]).
    cache: RefCell<PickCache>,
}

/// Per-pick scratch reused across picks: the prefix slot of each endpoint
/// index (keyed and checked by a copy of its address, so a changed slice is
/// detected) and the matched-blocks buffer. Only a cache: a pick gives the
/// same result with it empty.
#[derive(Default)]
struct PickCache {
    /// Copies of the cached addresses, back to back.
    arena: Vec<u8>,
    /// Per endpoint index.
    entries: Vec<SlotEntry>,
    matched: Vec<u16>,
    candidates: Vec<(usize, bool)>,
    scores: Vec<f64>,
}

#[derive(Clone, Copy, Default)]
struct SlotEntry {
    start: u32,
    len: u32,
    /// `NO_SLOT` when the address had no slot while the index had
    /// `slot_count` slots.
    slot: u32,
    slot_count: u32,
}

const NO_SLOT: u32 = u32::MAX;

impl PickCache {
    /// Prefix slot of `address`, the endpoint at index `i`.
    fn slot(&mut self, prefix: &PrefixIndex, i: usize, address: &str) -> Option<usize> {
        let count = u32::try_from(prefix.slot_count()).unwrap_or(u32::MAX);
        if let Some(e) = self.entries.get(i) {
            let (start, len) = (e.start as usize, e.len as usize);
            if len == address.len()
                && self.arena.get(start..start + len) == Some(address.as_bytes())
                && (e.slot != NO_SLOT || e.slot_count == count)
            {
                return (e.slot != NO_SLOT).then_some(e.slot as usize);
            }
        }
        let slot = prefix.slot(address);
        if self.entries.len() <= i {
            self.entries.resize(i + 1, SlotEntry::default());
        }
        // Keep the arena bounded when addresses churn: start afresh.
        if self.arena.len() + address.len() > 64 * (self.entries.len() + 64) {
            self.arena.clear();
            self.entries.fill(SlotEntry::default());
        }
        let (Ok(start), Ok(len)) = (
            u32::try_from(self.arena.len()),
            u32::try_from(address.len()),
        ) else {
            return slot;
        };
        self.arena.extend_from_slice(address.as_bytes());
        self.entries[i] = SlotEntry {
            start,
            len,
            slot: slot.and_then(|s| u32::try_from(s).ok()).unwrap_or(NO_SLOT),
            slot_count: count,
        };
        slot
    }
}

/// Model resolution result.
struct Target<'a> {
    name: &'a str,
    lora: bool,
    criticality: Criticality,
}

impl Picker {
    /// Validates `config` (see [`PickerConfig::validate`]).
    pub fn new(config: PickerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let models = config
            .models
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.clone(), i))
            .collect();
        Ok(Self {
            prefix: PrefixIndex::new(config.prefix_lru_blocks),
            cache: RefCell::default(),
            config,
            models,
        })
    }

    pub fn config(&self) -> &PickerConfig {
        &self.config
    }

    /// Block hashes currently remembered for `address`.
    pub fn remembered_blocks(&self, address: &str) -> usize {
        self.prefix.len_of(address)
    }

    /// Picks endpoints for `req`. Pure given its arguments; `rng` is an
    /// xorshift64 state, advanced by the target split and the tie-break.
    pub fn pick(
        &self,
        now_ms: i64,
        endpoints: &[Endpoint],
        req: &Request,
        rng: &mut u64,
    ) -> Decision {
        let Some(target) = self.resolve(req, rng) else {
            return Decision::UnknownModel;
        };
        let mut fresh_cache = PickCache::default();
        let mut borrowed = self.cache.try_borrow_mut();
        let cache = match &mut borrowed {
            Ok(c) => &mut **c,
            Err(_) => &mut fresh_cache,
        };
        // One pass: eligible endpoints, their saturation, their capacity.
        let (qh, kh) = (self.config.queue_headroom, self.config.kv_headroom);
        let mut candidates = std::mem::take(&mut cache.candidates);
        candidates.clear();
        let (mut saturation, mut with_capacity) = (0.0, 0);
        for (i, e) in endpoints.iter().enumerate() {
            if e.is_eligible(now_ms, self.config.freshness_ms) {
                saturation += endpoint_saturation(e);
                let capacity = has_capacity(e, qh, kh);
                with_capacity += usize::from(capacity);
                candidates.push((i, capacity));
            }
        }
        let decision = if candidates.is_empty() {
            Decision::NoEndpoint
        } else if target.criticality == Criticality::Sheddable
            && saturation / candidates.len() as f64 >= 1.0
        {
            Decision::Shed {
                retry_after_s: SHED_RETRY_AFTER_S,
            }
        } else {
            if with_capacity > 0 && with_capacity < candidates.len() {
                candidates.retain(|&(_, capacity)| capacity);
            }
            let mut scores = std::mem::take(&mut cache.scores);
            self.score(
                cache,
                endpoints,
                &candidates,
                req.prompt,
                &target,
                &mut scores,
            );
            let (ranked, scores_out) = rank(&candidates, &scores, self.config.max_ranked, rng);
            cache.scores = scores;
            Decision::Route {
                target_model: target.name.to_owned(),
                criticality: target.criticality,
                ranked,
                scores: scores_out,
            }
        };
        cache.candidates = candidates;
        decision
    }

    /// After routing: remember the prompt's block hashes for `endpoint`.
    pub fn routed(&mut self, endpoint: &str, prompt: &str) {
        let hashes = block_hashes(prompt, self.config.prefix_block_chars);
        self.prefix.insert(endpoint, &hashes);
    }

    /// Mean over fresh, up endpoints of `max(queue / 5, kv / 0.8)`;
    /// `+inf` when there is none.
    pub fn saturation(&self, now_ms: i64, endpoints: &[Endpoint]) -> f64 {
        mean_saturation(
            endpoints
                .iter()
                .filter(|e| e.is_eligible(now_ms, self.config.freshness_ms)),
        )
    }

    fn resolve<'s>(&'s self, req: &Request<'s>, rng: &mut u64) -> Option<Target<'s>> {
        if self.config.models.is_empty() {
            return Some(Target {
                name: req.model,
                lora: false,
                criticality: Criticality::Standard,
            });
        }
        let name = req.objective.filter(|o| !o.is_empty()).unwrap_or(req.model);
        let model = self.config.models.get(*self.models.get(name)?)?;
        Some(match weighted_draw(&model.targets, rng) {
            Some(t) => Target {
                name: &t.name,
                lora: t.lora,
                criticality: model.criticality,
            },
            None => Target {
                name: &model.name,
                lora: false,
                criticality: model.criticality,
            },
        })
    }

    /// Total score of each candidate into `scores`, in `candidates` order.
    fn score(
        &self,
        cache: &mut PickCache,
        endpoints: &[Endpoint],
        candidates: &[(usize, bool)],
        prompt: &str,
        target: &Target,
        scores: &mut Vec<f64>,
    ) {
        let w = &self.config.weights;
        let range = QueueRange::of(candidates.iter().map(|&(i, _)| &endpoints[i]));
        let block = self.config.prefix_block_chars;
        let total_blocks = block_count(prompt, block) as f64;
        let mut matched = std::mem::take(&mut cache.matched);
        let any_match = w.prefix > 0.0
            && self
                .prefix
                .matched_into(BlockHashes::new(prompt, block), &mut matched);
        let use_lora = target.lora && w.lora > 0.0;
        scores.clear();
        scores.extend(candidates.iter().map(|&(i, _)| {
            let e = &endpoints[i];
            let mut s = w.queue * queue_score(range, e.effective_queue()) + w.kv * kv_score(e.kv);
            if any_match {
                let held = cache
                    .slot(&self.prefix, i, &e.address)
                    .and_then(|slot| matched.get(slot));
                if let Some(&held) = held {
                    s += w.prefix * f64::from(held) / total_blocks;
                }
            }
            if use_lora {
                s += w.lora * lora_score(e, target.name);
            }
            if s.is_nan() { f64::MIN } else { s }
        }));
        cache.matched = matched;
    }
}

fn mean_saturation<'a>(endpoints: impl Iterator<Item = &'a Endpoint>) -> f64 {
    let (sum, n) = endpoints.fold((0.0, 0u32), |(s, n), e| (s + endpoint_saturation(e), n + 1));
    if n == 0 {
        f64::INFINITY
    } else {
        sum / f64::from(n)
    }
}

/// Weighted random choice (EPP `RandomWeightedDraw`); `None` when empty.
fn weighted_draw<'t>(targets: &'t [TargetModel], rng: &mut u64) -> Option<&'t TargetModel> {
    if targets.len() <= 1 {
        return targets.first();
    }
    let total: u64 = targets.iter().map(|t| u64::from(t.weight)).sum();
    let mut r = below(rng, total);
    for t in targets {
        let w = u64::from(t.weight);
        if r < w {
            return Some(t);
        }
        r -= w;
    }
    targets.last()
}

/// Best `k` candidates, best first: the winner is drawn uniformly among
/// those within [`TIE_EPSILON`] of the max; the rest follow by score
/// (ties by slice order). Returns (endpoint indices, their scores).
fn rank(
    candidates: &[(usize, bool)],
    scores: &[f64],
    k: usize,
    rng: &mut u64,
) -> (Vec<usize>, Vec<f64>) {
    let best = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tied = scores.iter().filter(|&&s| s >= best - TIE_EPSILON).count();
    let nth = below(rng, tied as u64) as usize;
    let winner = scores
        .iter()
        .enumerate()
        .filter(|&(_, &s)| s >= best - TIE_EPSILON)
        .nth(nth)
        .map_or(0, |(p, _)| p);
    // Top `k - 1` of the rest under `by_score` (a total order), kept
    // sorted in a small buffer: one pass, no full-length allocation.
    let by_score = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b));
    let tail = k.saturating_sub(1).min(candidates.len().saturating_sub(1));
    let mut rest: Vec<usize> = Vec::with_capacity(tail);
    if tail > 0 {
        for p in (0..candidates.len()).filter(|&p| p != winner) {
            if rest.len() == tail {
                match rest.last() {
                    Some(last) if by_score(&p, last).is_lt() => {
                        rest.pop();
                    }
                    _ => continue,
                }
            }
            let at = rest.partition_point(|q| by_score(q, &p).is_lt());
            rest.insert(at, p);
        }
    }
    let order = std::iter::once(winner).chain(rest);
    order.map(|p| (candidates[p].0, scores[p])).unzip()
}

/// xorshift64 step (Marsaglia 13/7/17); a zero state is reseeded.
pub(crate) fn next_u64(state: &mut u64) -> u64 {
    let mut x = if *state == 0 {
        0x9e37_79b9_7f4a_7c15
    } else {
        *state
    };
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// Uniform in `0..n` (Lemire multiply-shift; `0` when `n == 0`).
pub(crate) fn below(state: &mut u64, n: u64) -> u64 {
    ((u128::from(next_u64(state)) * u128::from(n)) >> 64) as u64
}
