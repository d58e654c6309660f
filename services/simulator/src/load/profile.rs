//! What to send and when, decided from the seed alone: the PRNG, the arrival schedule
//! and the requests in it. Nothing here reads the clock or does I/O, so the same
//! [`Plan`] always yields the same schedule.
//!
//! Each kind of choice (arrivals, lengths, prompt words, prefixes, models) draws from
//! its own stream of the seed, so changing `--output-tokens` does not move the arrival
//! times.

use std::time::Duration;

use serde_json::{Value, json};

use super::config::{Api, Arrivals, Dist, MAX_TOKENS, Pick, Plan, Stage};

/// SplitMix64 (Steele, Lea, Flood 2014; the seeder of xoshiro): tiny, fast and good
/// enough for load shapes. Not for cryptography.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Stream `k` of `seed`: an independent-looking generator per kind of choice.
    pub fn stream(seed: u64, k: u64) -> Self {
        let mut mixer = Rng::new(seed ^ k.wrapping_mul(0xD1B5_4A32_D192_ED03));
        Rng::new(mixer.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (Lemire's multiply-shift; the bias is below 2⁻³² for our n).
    /// `n` must be above 0.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Exponential with the given rate (per second): a Poisson process's gap.
    pub fn exp(&mut self, rate: f64) -> f64 {
        // 1 - unit() is in (0, 1], so the log is finite.
        -(1.0 - self.unit()).ln() / rate
    }

    /// Standard normal, by Box–Muller.
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Draws one length from `dist`, rounded and clamped to 1..=[`MAX_TOKENS`].
pub fn sample(dist: Dist, rng: &mut Rng) -> u32 {
    let n = match dist {
        Dist::Fixed(n) => f64::from(n),
        Dist::Uniform { min, max } => {
            let span = u64::from(max.saturating_sub(min)) + 1;
            (u64::from(min) + rng.below(span)) as f64
        }
        Dist::LogNormal { mean, sigma } => {
            // E[exp(mu + sigma Z)] = exp(mu + sigma²/2), so this mu gives that mean.
            let mu = mean.ln() - sigma * sigma / 2.0;
            (mu + sigma * rng.normal()).exp()
        }
    };
    n.round().clamp(1.0, f64::from(MAX_TOKENS)) as u32
}

/// Appends `tokens` words of three lowercase letters and a space (~4 characters, about
/// one token each).
pub fn words(tokens: u32, rng: &mut Rng, out: &mut String) {
    out.reserve(tokens as usize * 4);
    for _ in 0..tokens {
        for _ in 0..3 {
            out.push(char::from(b'a' + rng.below(26) as u8));
        }
        out.push(' ');
    }
}

/// One request to send.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestSpec {
    /// Position in the schedule, from 0.
    pub index: u64,
    /// The model asked for.
    pub model: String,
    /// The prompt text.
    pub prompt: String,
    /// Prompt length in our tokens (prefix included): the input-token count when the
    /// server reports no usage.
    pub prompt_tokens: u32,
    /// `max_tokens`.
    pub max_tokens: u32,
    /// Which shared prefix starts the prompt, if any.
    pub prefix: Option<u32>,
}

impl RequestSpec {
    /// The JSON body for `api`. `stream_options` is only sent with `stream`, because
    /// vLLM rejects it otherwise.
    pub fn body(&self, api: Api, stream: bool) -> Value {
        let mut body = match api {
            Api::Completions => json!({ "model": self.model, "prompt": self.prompt }),
            Api::Chat => json!({
                "model": self.model,
                "messages": [{ "role": "user", "content": self.prompt }],
            }),
        };
        body["max_tokens"] = json!(self.max_tokens);
        body["stream"] = json!(stream);
        if stream {
            body["stream_options"] = json!({ "include_usage": true });
        }
        body["ignore_eos"] = json!(true);
        body
    }
}

/// A request and when, after the start, it is due.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrival {
    /// Time after the start of the run.
    pub offset: Duration,
    /// What to send.
    pub spec: RequestSpec,
}

// The streams of the seed, one per kind of choice.
const ARRIVALS: u64 = 1;
const LENGTHS: u64 = 2;
const WORDS: u64 = 3;
const PREFIX_CHOICE: u64 = 4;
const MODELS: u64 = 5;
const PREFIX_TEXT: u64 = 1 << 32;

/// The arrivals of a plan, in time order: ends when the stages run out or after
/// `--requests`; a closed loop without `--requests` never ends (the task stops it).
#[derive(Clone, Debug)]
pub struct Schedule {
    /// The Poisson stages; `None` for a closed loop.
    stages: Option<Vec<Stage>>,
    requests: Option<u64>,
    models: Vec<String>,
    pick: Pick,
    input: Dist,
    output: Dist,
    prefix_ratio: f64,
    prefix_tokens: u32,
    /// The shared prefixes' text, built once.
    prefixes: Vec<String>,
    arrival_rng: Rng,
    length_rng: Rng,
    word_rng: Rng,
    prefix_rng: Rng,
    model_rng: Rng,
    /// Index of the current stage.
    stage: usize,
    /// When the current stage began, in seconds.
    stage_start: f64,
    /// The last arrival, in seconds.
    t: f64,
    index: u64,
}

/// The schedule `plan` asks for.
pub fn schedule(plan: &Plan) -> Schedule {
    let seed = plan.seed;
    let prefixes = if plan.shared_prefix_ratio > 0.0 {
        (0..plan.prefixes)
            .map(|k| {
                let mut text = String::new();
                let mut rng = Rng::stream(seed, PREFIX_TEXT + u64::from(k));
                words(plan.prefix_tokens, &mut rng, &mut text);
                text
            })
            .collect()
    } else {
        Vec::new()
    };
    Schedule {
        stages: match &plan.arrivals {
            Arrivals::Poisson(stages) => Some(stages.clone()),
            Arrivals::Closed => None,
        },
        requests: plan.requests,
        models: plan.models.clone(),
        pick: plan.pick,
        input: plan.input_tokens,
        output: plan.output_tokens,
        prefix_ratio: plan.shared_prefix_ratio,
        prefix_tokens: plan.prefix_tokens,
        prefixes,
        arrival_rng: Rng::stream(seed, ARRIVALS),
        length_rng: Rng::stream(seed, LENGTHS),
        word_rng: Rng::stream(seed, WORDS),
        prefix_rng: Rng::stream(seed, PREFIX_CHOICE),
        model_rng: Rng::stream(seed, MODELS),
        stage: 0,
        stage_start: 0.0,
        t: 0.0,
        index: 0,
    }
}

impl Schedule {
    /// The next Poisson arrival in seconds: an exponential gap at the current stage's
    /// rate; a gap that crosses the stage's end is redrawn from the end at the next
    /// stage's rate, which memorylessness makes exact.
    fn next_poisson(&mut self) -> Option<f64> {
        loop {
            let stage = *self.stages.as_ref()?.get(self.stage)?;
            let end = self.stage_start + stage.duration.as_secs_f64();
            if stage.rate > 0.0 {
                let next = self.t + self.arrival_rng.exp(stage.rate);
                if next < end {
                    self.t = next;
                    return Some(next);
                }
            }
            self.t = end;
            self.stage_start = end;
            self.stage += 1;
        }
    }

    fn spec(&mut self) -> RequestSpec {
        let model = match self.pick {
            Pick::RoundRobin => self.index % self.models.len() as u64,
            Pick::Random => self.model_rng.below(self.models.len() as u64),
        };
        let model = self.models.get(model as usize).cloned().unwrap_or_default();
        let input = sample(self.input, &mut self.length_rng);
        let max_tokens = sample(self.output, &mut self.length_rng);
        let mut prompt = String::new();
        let mut prefix = None;
        let mut prompt_tokens = input;
        // Always draw, so the ratio does not shift the other choices.
        let shared = self.prefix_rng.unit() < self.prefix_ratio;
        let which = self.prefix_rng.below(self.prefixes.len().max(1) as u64) as usize;
        if shared && let Some(text) = self.prefixes.get(which) {
            prompt.push_str(text);
            prefix = Some(which as u32);
            prompt_tokens += self.prefix_tokens;
        }
        words(input, &mut self.word_rng, &mut prompt);
        RequestSpec {
            index: self.index,
            model,
            prompt,
            prompt_tokens,
            max_tokens,
            prefix,
        }
    }
}

impl Iterator for Schedule {
    type Item = Arrival;

    fn next(&mut self) -> Option<Arrival> {
        if self.requests.is_some_and(|n| self.index >= n) {
            return None;
        }
        let offset = if self.stages.is_some() {
            let t = self.next_poisson()?;
            Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX)
        } else {
            Duration::ZERO
        };
        let spec = self.spec();
        self.index += 1;
        Some(Arrival { offset, spec })
    }
}
