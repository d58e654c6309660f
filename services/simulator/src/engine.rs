//! The load model of one vLLM server, as a pure state machine over simulated time
//! (a `Duration` since the server started). The shell feeds it requests and the clock;
//! it answers with the tokens each request produced and when.
//!
//! Continuous batching as vLLM's scheduler does it: each step first admits waiting
//! requests (FIFO) while a sequence slot, enough KV blocks for the prompt and a LoRA
//! slot are free; then every running sequence produces one token at the end of the
//! step, and newly admitted ones are prefilled in it. A step takes
//! `(decode_step + (decode_step_full_batch − decode_step) × batch / max_num_seqs +
//! uncached prompt tokens / prefill rate) / speed`. A sequence holds
//! `ceil((prompt + generated) / block_size)` blocks; when a growing sequence finds none
//! free, the most recently admitted one is preempted
//! (recompute: its blocks are freed and it waits at the head of the queue). A prefix
//! cache of 16-token block hashes makes repeated prefixes cheaper to prefill.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::config::ServerSpec;
use crate::histogram::{self, Histogram};

/// A request as the engine sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Submit {
    /// Unique per server.
    pub id: u64,
    /// The base model or a LoRA adapter.
    pub model: String,
    /// Prompt length in tokens.
    pub prompt_tokens: u32,
    /// Tokens to generate.
    pub max_tokens: u32,
    /// Chained hashes of the prompt's full blocks, for the prefix cache.
    pub block_hashes: Vec<u64>,
    /// Whether reaching `max_tokens` counts as a natural stop (end of sequence) rather
    /// than the length limit: true when the client set no limit.
    pub stops: bool,
}

/// Why a request was refused at the door.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Prompt plus completion exceed `max_model_len`.
    #[error(
        "This model's maximum context length is {max} tokens. However, you requested {total} tokens ({prompt} in the messages, {completion} in the completion). Please reduce the length of the messages or completion."
    )]
    TooLong {
        /// `max_model_len`.
        max: u32,
        /// Prompt + completion.
        total: u32,
        /// Prompt tokens.
        prompt: u32,
        /// Requested completion tokens.
        completion: u32,
    },
}

/// What a step produced for one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Token number `index` (from 0) of request `id`.
    Token {
        /// The request.
        id: u64,
        /// Which token.
        index: u32,
    },
    /// Request `id` is done.
    Finished {
        /// The request.
        id: u64,
        /// Prompt tokens.
        prompt_tokens: u32,
        /// Tokens generated.
        completion_tokens: u32,
    },
}

#[derive(Clone, Debug)]
struct Seq {
    req: Submit,
    generated: u32,
    blocks: u32,
    arrived: Duration,
    admitted: Duration,
    first_token: Option<Duration>,
    last_token: Duration,
    /// Prefilled in the current step (new, or re-prefilled after preemption).
    prefilling: bool,
}

/// Counters and histograms behind `/metrics`.
#[derive(Clone, Debug)]
pub struct Stats {
    /// `vllm:prompt_tokens_total`.
    pub prompt_tokens: u64,
    /// `vllm:generation_tokens_total`.
    pub generation_tokens: u64,
    /// `vllm:prefix_cache_queries_total`, in tokens.
    pub prefix_queries: u64,
    /// `vllm:prefix_cache_hits_total`, in tokens.
    pub prefix_hits: u64,
    /// `vllm:num_preemptions_total`.
    pub preemptions: u64,
    /// `vllm:request_success_total{finished_reason="length"}`.
    pub finished_length: u64,
    /// `…{finished_reason="stop"}`.
    pub finished_stop: u64,
    /// `…{finished_reason="abort"}`.
    pub finished_abort: u64,
    /// `vllm:time_to_first_token_seconds`.
    pub ttft: Histogram,
    /// `vllm:inter_token_latency_seconds`.
    pub itl: Histogram,
    /// `vllm:e2e_request_latency_seconds`.
    pub e2e: Histogram,
    /// `vllm:request_queue_time_seconds`.
    pub queue: Histogram,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            prompt_tokens: 0,
            generation_tokens: 0,
            prefix_queries: 0,
            prefix_hits: 0,
            preemptions: 0,
            finished_length: 0,
            finished_stop: 0,
            finished_abort: 0,
            ttft: Histogram::new(histogram::TTFT),
            itl: Histogram::new(histogram::ITL),
            e2e: Histogram::new(histogram::LATENCY),
            queue: Histogram::new(histogram::LATENCY),
        }
    }
}

/// A bounded LRU set of block hashes.
#[derive(Debug, Default)]
struct PrefixCache {
    capacity: usize,
    tick: u64,
    used: HashMap<u64, u64>,
}

impl PrefixCache {
    fn hits(&self, hashes: &[u64]) -> usize {
        hashes
            .iter()
            .take_while(|h| self.used.contains_key(h))
            .count()
    }

    fn insert(&mut self, hashes: &[u64]) {
        for h in hashes {
            self.tick += 1;
            self.used.insert(*h, self.tick);
        }
        if self.used.len() > self.capacity {
            let mut by_age: Vec<_> = self.used.iter().map(|(h, t)| (*t, *h)).collect();
            by_age.sort_unstable();
            for (_, h) in &by_age[..self.used.len() - self.capacity] {
                self.used.remove(h);
            }
        }
    }
}

/// One simulated server.
#[derive(Debug)]
pub struct Engine {
    spec: ServerSpec,
    speed: f64,
    waiting: VecDeque<Seq>,
    running: Vec<Seq>,
    used_blocks: u32,
    cache: PrefixCache,
    /// When the step under way ends; `None` when idle.
    step_ends: Option<Duration>,
    stats: Stats,
}

impl Engine {
    /// An idle server; `speed` divides every time.
    pub fn new(spec: ServerSpec, speed: f64) -> Self {
        let capacity = spec.num_gpu_blocks as usize;
        Self {
            spec,
            speed,
            waiting: VecDeque::new(),
            running: Vec::new(),
            used_blocks: 0,
            cache: PrefixCache {
                capacity,
                ..Default::default()
            },
            step_ends: None,
            stats: Stats::default(),
        }
    }

    /// Queues a request arriving at `now`. Call [`Engine::advance`] up to `now` first.
    pub fn submit(&mut self, now: Duration, req: Submit) -> Result<(), Refused> {
        let total = req.prompt_tokens + req.max_tokens;
        if total > self.spec.max_model_len {
            return Err(Refused::TooLong {
                max: self.spec.max_model_len,
                total,
                prompt: req.prompt_tokens,
                completion: req.max_tokens,
            });
        }
        self.waiting.push_back(Seq {
            req,
            generated: 0,
            blocks: 0,
            arrived: now,
            admitted: now,
            first_token: None,
            last_token: now,
            prefilling: false,
        });
        if self.step_ends.is_none() {
            self.start_step(now);
        }
        Ok(())
    }

    /// Drops request `id` (the client went away); its blocks are freed at once.
    pub fn abort(&mut self, id: u64) {
        let before = self.waiting.len() + self.running.len();
        self.waiting.retain(|s| s.req.id != id);
        if let Some(i) = self.running.iter().position(|s| s.req.id == id) {
            let s = self.running.remove(i);
            self.used_blocks -= s.blocks;
        }
        if self.waiting.len() + self.running.len() < before {
            self.stats.finished_abort += 1;
        }
    }

    /// Runs every step that ends by `now`; returns what they produced, in order.
    pub fn advance(&mut self, now: Duration) -> Vec<Output> {
        let mut out = Vec::new();
        while let Some(end) = self.step_ends.filter(|e| *e <= now) {
            self.finish_step(end, &mut out);
            self.start_step(end);
        }
        out
    }

    /// When the step under way ends: the shell's next wake-up. `None` when idle.
    pub fn next_wakeup(&self) -> Option<Duration> {
        self.step_ends
    }

    /// Requests in the running batch (`vllm:num_requests_running`).
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Requests waiting for admission (`vllm:num_requests_waiting`).
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// KV-cache use, 0–1 (`vllm:kv_cache_usage_perc`).
    pub fn kv_usage(&self) -> f64 {
        f64::from(self.used_blocks) / f64::from(self.spec.num_gpu_blocks)
    }

    /// Adapters with running and with waiting requests (`vllm:lora_requests_info`).
    pub fn lora(&self) -> (Vec<String>, Vec<String>) {
        let adapters = |seqs: &mut dyn Iterator<Item = &Seq>| {
            let mut names: Vec<String> = seqs
                .map(|s| s.req.model.clone())
                .filter(|m| *m != self.spec.model)
                .collect();
            names.sort();
            names.dedup();
            names
        };
        (
            adapters(&mut self.running.iter()),
            adapters(&mut self.waiting.iter()),
        )
    }

    /// Counters and histograms.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The spec it runs.
    pub fn spec(&self) -> &ServerSpec {
        &self.spec
    }

    fn blocks_for(&self, tokens: u32) -> u32 {
        tokens.div_ceil(self.spec.block_size)
    }

    fn seconds(&self, d: Duration) -> Duration {
        d.div_f64(self.speed)
    }

    /// Admits what fits and schedules the end of the next step, or goes idle.
    fn start_step(&mut self, now: Duration) {
        let mut prefill_tokens = 0u32;
        while let Some(next) = self.waiting.front() {
            let tokens = next.req.prompt_tokens + next.generated;
            let blocks = self.blocks_for(tokens + 1);
            let lora_ok = next.req.model == self.spec.model || {
                let (active, _) = self.lora();
                active.contains(&next.req.model) || (active.len() as u32) < self.spec.max_lora
            };
            if self.running.len() as u32 >= self.spec.max_num_seqs
                || self.used_blocks + blocks > self.spec.num_gpu_blocks
                || !lora_ok
            {
                break;
            }
            let Some(mut seq) = self.waiting.pop_front() else {
                break;
            };
            let cached = if seq.generated == 0 {
                let hit_blocks = self.cache.hits(&seq.req.block_hashes) as u32;
                // The last prompt token is always computed, as in vLLM.
                let cached = (hit_blocks * self.spec.block_size).min(tokens.saturating_sub(1));
                self.cache.insert(&seq.req.block_hashes);
                self.stats.prefix_queries += u64::from(seq.req.prompt_tokens);
                self.stats.prefix_hits += u64::from(cached);
                self.stats.queue.observe((now - seq.arrived).as_secs_f64());
                seq.admitted = now;
                cached
            } else {
                0
            };
            prefill_tokens += tokens - cached;
            self.stats.prompt_tokens += u64::from(tokens - cached);
            seq.blocks = blocks;
            seq.prefilling = true;
            self.used_blocks += blocks;
            self.running.push(seq);
        }
        if self.running.is_empty() {
            self.step_ends = None;
            return;
        }
        let batch = self.running.len() as u32;
        let per_seq =
            (self.spec.decode_step_full_batch - self.spec.decode_step) / self.spec.max_num_seqs;
        let step = self.spec.decode_step
            + per_seq * batch
            + Duration::from_secs_f64(
                f64::from(prefill_tokens) / self.spec.prefill_tokens_per_second,
            );
        self.step_ends = Some(now + self.seconds(step));
    }

    /// Every running sequence gets a token at `end`; some finish, some need blocks.
    fn finish_step(&mut self, end: Duration, out: &mut Vec<Output>) {
        let mut i = 0;
        while i < self.running.len() {
            let seq = &mut self.running[i];
            seq.prefilling = false;
            match seq.first_token {
                None => {
                    seq.first_token = Some(end);
                    self.stats.ttft.observe((end - seq.arrived).as_secs_f64());
                }
                Some(_) => self.stats.itl.observe((end - seq.last_token).as_secs_f64()),
            }
            seq.last_token = end;
            out.push(Output::Token {
                id: seq.req.id,
                index: seq.generated,
            });
            seq.generated += 1;
            self.stats.generation_tokens += 1;
            if seq.generated >= seq.req.max_tokens {
                let seq = self.running.remove(i);
                self.used_blocks -= seq.blocks;
                if seq.req.stops {
                    self.stats.finished_stop += 1;
                } else {
                    self.stats.finished_length += 1;
                }
                self.stats.e2e.observe((end - seq.arrived).as_secs_f64());
                out.push(Output::Finished {
                    id: seq.req.id,
                    prompt_tokens: seq.req.prompt_tokens,
                    completion_tokens: seq.generated,
                });
                continue;
            }
            let need = (seq.req.prompt_tokens + seq.generated + 1).div_ceil(self.spec.block_size);
            if need > seq.blocks {
                if self.used_blocks == self.spec.num_gpu_blocks {
                    match self.preempt_for(i) {
                        Some(moved) => i = moved,
                        None => continue, // `i` itself was preempted.
                    }
                }
                let seq = &mut self.running[i];
                seq.blocks += 1;
                self.used_blocks += 1;
            }
            i += 1;
        }
    }

    /// Frees blocks for running sequence `i` by preempting the most recently admitted
    /// other sequence; if `i` is the only one left, preempts `i`. Returns where `i` is
    /// now, or `None` if it was the one preempted.
    fn preempt_for(&mut self, i: usize) -> Option<usize> {
        let victim = (0..self.running.len())
            .filter(|&j| j != i)
            .max_by_key(|&j| self.running[j].admitted)
            .unwrap_or(i);
        let seq = self.running.remove(victim);
        self.used_blocks -= seq.blocks;
        self.stats.preemptions += 1;
        self.waiting.push_front(Seq { blocks: 0, ..seq });
        match victim.cmp(&i) {
            std::cmp::Ordering::Equal => None,
            std::cmp::Ordering::Less => Some(i - 1),
            std::cmp::Ordering::Greater => Some(i),
        }
    }
}
