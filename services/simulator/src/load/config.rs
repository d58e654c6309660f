//! What the user asks of `poolpilot load`: the flags ([`LoadArgs`]), the `DIST` and
//! `STAGES` mini-languages, and [`LoadArgs::plan`], which checks all of it and reports
//! every problem at once, before anything is sent.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use clap::{ArgAction, Parser, ValueEnum};

use super::LoadError;

/// The largest length one sampled `DIST` value may take: a 128k-token context.
/// Lognormal tails are clamped to it, so one unlucky draw cannot build a huge prompt.
pub const MAX_TOKENS: u32 = 1 << 17;

/// The most shared-prefix text held in memory (`--prefixes × --prefix-tokens`), 16 MiB.
const MAX_PREFIX_TOKENS_TOTAL: u64 = 1 << 22;

/// The model asked for when no `--model` is given: the one in our captured fixtures.
const DEFAULT_MODEL: &str = "meta-llama/Llama-3.1-8B-Instruct";

/// The run length when neither `--duration`, `--requests` nor `--stages` bounds it.
const DEFAULT_DURATION: Duration = Duration::from_secs(60);

/// The arrival rate when neither `--rate`, `--stages` nor `--concurrency` is given.
const DEFAULT_RATE: f64 = 1.0;

/// The flags of `poolpilot load`. Build one from flags with [`LoadArgs::from_flags`],
/// or in code from [`LoadArgs::default`] (the same defaults as the command line).
#[derive(clap::Args, Clone, Debug)]
pub struct LoadArgs {
    /// Base URL of an OpenAI-compatible server; requests go to {url}/v1/completions or
    /// {url}/v1/chat/completions (a trailing /v1 is accepted).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8000")]
    pub url: String,
    /// Which OpenAI endpoint to load.
    #[arg(long, value_enum, default_value_t = Api::Completions)]
    pub api: Api,
    /// Model to ask for (repeatable; LoRA adapter names work too). Requests are spread
    /// over the models as --pick says.
    #[arg(long = "model", value_name = "NAME", default_values_t = [DEFAULT_MODEL.to_owned()])]
    pub models: Vec<String>,
    /// How requests are spread over the models.
    #[arg(long, value_enum, default_value_t = Pick::RoundRobin)]
    pub pick: Pick,
    /// Open-loop Poisson arrivals at R requests per second [default: 1 unless --stages
    /// or --concurrency].
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Poisson arrivals in stages, RATE:DURATION,… (e.g. 5:30s,20:1m,5:30s); a rate of 0
    /// pauses. The run lasts the sum of the stages.
    #[arg(long, visible_alias = "step", value_name = "STAGES")]
    pub stages: Option<Stages>,
    /// How long to send for, with --rate or --concurrency [default: 60s unless
    /// --requests].
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after sending N requests.
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,
    /// At most N requests in flight. Alone (no --rate, no --stages) it is a closed loop:
    /// each finished request is replaced at once.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<u32>,
    /// Prompt length in tokens: fixed:N, uniform:A:B or lognormal:MEAN:SIGMA.
    #[arg(long, value_name = "DIST", default_value = "fixed:512")]
    pub input_tokens: Dist,
    /// max_tokens asked for (with ignore_eos): fixed:N, uniform:A:B or
    /// lognormal:MEAN:SIGMA.
    #[arg(long, value_name = "DIST", default_value = "fixed:128")]
    pub output_tokens: Dist,
    /// Share (0–1) of requests whose prompt starts with one of the shared prefixes, so a
    /// prefix cache can hit. The prefix comes on top of --input-tokens.
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    pub shared_prefix_ratio: f64,
    /// How many distinct shared prefixes there are.
    #[arg(long, value_name = "K", default_value_t = 4)]
    pub prefixes: u32,
    /// Length of each shared prefix, in tokens.
    #[arg(long, value_name = "T", default_value_t = 256)]
    pub prefix_tokens: u32,
    /// Ask for one JSON body instead of an SSE stream: only end-to-end latency is
    /// measured (TTFT is then e2e, and there is no inter-token latency).
    #[arg(long = "no-stream", action = ArgAction::SetFalse)]
    pub stream: bool,
    /// Accepted so that `--stream` may be spelled out; streaming is the default.
    #[arg(long = "stream", hide = true, overrides_with = "stream")]
    pub stream_flag: bool,
    /// Give up on one request after this long (counted as a "timeout" error).
    #[arg(long, value_name = "D", default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Seed of every random choice: arrivals, lengths, prompts, prefixes, models.
    #[arg(long, value_name = "S", default_value_t = 42)]
    pub seed: u64,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Wraps [`LoadArgs`] so they can be parsed on their own (tests, [`Default`]).
#[derive(Parser)]
#[command(name = "load")]
struct Flags {
    #[command(flatten)]
    args: LoadArgs,
}

impl LoadArgs {
    /// Parses flags as the command line would (without the program name), for tests and
    /// callers that hold the flags as strings.
    pub fn from_flags<I, T>(flags: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let argv = std::iter::once(std::ffi::OsString::from("load"))
            .chain(flags.into_iter().map(Into::into));
        Flags::try_parse_from(argv).map(|f| f.args)
    }

    /// Checks every flag and returns what to run, or every problem at once, each naming
    /// its flag.
    pub fn plan(&self) -> Result<Plan, LoadError> {
        let mut problems = Vec::new();
        let endpoint = endpoint(&self.url, self.api).unwrap_or_else(|p| {
            problems.push(p);
            String::new()
        });
        if self.models.is_empty() {
            problems.push("--model: at least one is needed".to_owned());
        }
        if self.models.iter().any(|m| m.trim().is_empty()) {
            problems.push("--model: a name is empty".to_owned());
        }
        let arrivals = self.arrivals(&mut problems);
        if self.requests == Some(0) {
            problems.push("--requests (0) must be at least 1".to_owned());
        }
        if self.concurrency == Some(0) {
            problems.push("--concurrency (0) must be at least 1".to_owned());
        }
        for (flag, dist) in [
            ("--input-tokens", self.input_tokens),
            ("--output-tokens", self.output_tokens),
        ] {
            if let Err(p) = dist.check() {
                problems.push(format!("{flag} ({dist}): {p}"));
            }
        }
        self.check_prefixes(&mut problems);
        if self.timeout.is_zero() {
            problems.push("--timeout (0s) must be above 0".to_owned());
        }
        if !problems.is_empty() {
            return Err(LoadError::Invalid { problems });
        }
        let duration = match (&self.stages, self.duration, self.requests) {
            (Some(_), _, _) => None,
            (None, Some(d), _) => Some(d),
            (None, None, Some(_)) => None,
            (None, None, None) => Some(DEFAULT_DURATION),
        };
        Ok(Plan {
            endpoint,
            api: self.api,
            models: self.models.clone(),
            pick: self.pick,
            arrivals,
            duration,
            requests: self.requests,
            concurrency: self.concurrency.map(|c| c as usize),
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            shared_prefix_ratio: self.shared_prefix_ratio,
            prefixes: self.prefixes,
            prefix_tokens: self.prefix_tokens,
            stream: self.stream,
            timeout: self.timeout,
            seed: self.seed,
        })
    }

    /// The arrival process the rate flags ask for; pushes conflicts to `problems`.
    fn arrivals(&self, problems: &mut Vec<String>) -> Arrivals {
        if let Some(d) = self.duration
            && d.is_zero()
        {
            problems.push("--duration (0s) must be above 0".to_owned());
        }
        let until = self.duration.unwrap_or(if self.requests.is_some() {
            Duration::MAX
        } else {
            DEFAULT_DURATION
        });
        match (self.rate, &self.stages) {
            (Some(_), Some(_)) => {
                problems.push("--rate and --stages: give one, not both".to_owned());
                Arrivals::Closed
            }
            (Some(rate), None) => {
                if !(rate.is_finite() && rate > 0.0) {
                    problems.push(format!("--rate ({rate}) must be a number above 0"));
                }
                Arrivals::Poisson(vec![Stage {
                    rate,
                    duration: until,
                }])
            }
            (None, Some(stages)) => {
                if self.duration.is_some() {
                    problems
                        .push("--duration and --stages: the stages set the duration".to_owned());
                }
                if let Err(p) = stages.check() {
                    problems.push(format!("--stages ({stages}): {p}"));
                }
                Arrivals::Poisson(stages.0.clone())
            }
            (None, None) if self.concurrency.is_some() => Arrivals::Closed,
            (None, None) => Arrivals::Poisson(vec![Stage {
                rate: DEFAULT_RATE,
                duration: until,
            }]),
        }
    }

    fn check_prefixes(&self, problems: &mut Vec<String>) {
        let ratio = self.shared_prefix_ratio;
        if !(0.0..=1.0).contains(&ratio) {
            problems.push(format!(
                "--shared-prefix-ratio ({ratio}) must be between 0 and 1"
            ));
        }
        if ratio > 0.0 {
            if self.prefixes == 0 {
                problems.push("--prefixes (0) must be at least 1".to_owned());
            }
            if self.prefix_tokens == 0 {
                problems.push("--prefix-tokens (0) must be at least 1".to_owned());
            }
            let total = u64::from(self.prefixes) * u64::from(self.prefix_tokens);
            if total > MAX_PREFIX_TOKENS_TOTAL {
                problems.push(format!(
                    "--prefixes × --prefix-tokens ({total}) is above {MAX_PREFIX_TOKENS_TOTAL}"
                ));
            }
        }
    }
}

impl Default for LoadArgs {
    /// The command line's defaults, so code and flags cannot drift apart.
    fn default() -> Self {
        // The defaults are literals above; `tests/flags.rs` (`defaults_parse`) proves they
        // parse.
        Self::from_flags(std::iter::empty::<&str>()).expect("LoadArgs defaults parse")
    }
}

/// `{url}/v1/{path}` for a base URL with or without a trailing `/v1`.
fn endpoint(url: &str, api: Api) -> Result<String, String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("--url ({url}) is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!(
            "--url ({url}) must be http:// or https:// with a host"
        ));
    }
    let base = url.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    Ok(format!("{base}/v1/{}", api.path()))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    shared::config::duration::parse(text)
}

/// The OpenAI endpoint to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Api {
    /// /v1/completions with a prompt.
    Completions,
    /// /v1/chat/completions with one user message.
    Chat,
}

impl Api {
    /// The path below `/v1/`.
    pub fn path(self) -> &'static str {
        match self {
            Api::Completions => "completions",
            Api::Chat => "chat/completions",
        }
    }
}

/// How requests are spread over several `--model`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Pick {
    /// In turn: exactly even shares.
    RoundRobin,
    /// Uniformly at random from the seed: shares vary as real traffic does.
    Random,
}

/// A length distribution in tokens (`DIST`). Samples are rounded and clamped to
/// 1..=[`MAX_TOKENS`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    /// `fixed:N`: always N.
    Fixed(u32),
    /// `uniform:A:B`: A to B inclusive, each equally likely.
    Uniform {
        /// A.
        min: u32,
        /// B.
        max: u32,
    },
    /// `lognormal:MEAN:SIGMA`: the heavy tail of real prompt lengths; MEAN is the mean
    /// in tokens (not the log-mean), SIGMA the standard deviation of the log.
    LogNormal {
        /// The mean length.
        mean: f64,
        /// The log's standard deviation.
        sigma: f64,
    },
}

impl Dist {
    /// Whether the parameters make sense; `Err` says what is wrong.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            Dist::Fixed(n) => in_tokens("N", n),
            Dist::Uniform { min, max } => {
                in_tokens("A", min)?;
                in_tokens("B", max)?;
                if min > max {
                    return Err(format!("A ({min}) is above B ({max})"));
                }
                Ok(())
            }
            Dist::LogNormal { mean, sigma } => {
                if !(mean.is_finite() && mean >= 1.0 && mean <= f64::from(MAX_TOKENS)) {
                    return Err(format!("MEAN ({mean}) must be between 1 and {MAX_TOKENS}"));
                }
                if !(sigma.is_finite() && (0.0..=4.0).contains(&sigma)) {
                    return Err(format!("SIGMA ({sigma}) must be between 0 and 4"));
                }
                Ok(())
            }
        }
    }
}

fn in_tokens(name: &str, n: u32) -> Result<(), String> {
    if (1..=MAX_TOKENS).contains(&n) {
        Ok(())
    } else {
        Err(format!("{name} ({n}) must be between 1 and {MAX_TOKENS}"))
    }
}

impl FromStr for Dist {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.trim().split(':').collect();
        let int = |s: &str, name: &str| {
            s.parse::<u32>()
                .map_err(|_| format!("{name} (`{s}`) is not a whole number"))
        };
        let num = |s: &str, name: &str| {
            s.parse::<f64>()
                .map_err(|_| format!("{name} (`{s}`) is not a number"))
        };
        let dist = match parts.as_slice() {
            ["fixed", n] => Dist::Fixed(int(n, "N")?),
            ["uniform", a, b] => Dist::Uniform {
                min: int(a, "A")?,
                max: int(b, "B")?,
            },
            ["lognormal", m, s] => Dist::LogNormal {
                mean: num(m, "MEAN")?,
                sigma: num(s, "SIGMA")?,
            },
            _ => {
                return Err(format!(
                    "`{text}` is not fixed:N, uniform:A:B or lognormal:MEAN:SIGMA"
                ));
            }
        };
        dist.check()?;
        Ok(dist)
    }
}

impl fmt::Display for Dist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dist::Fixed(n) => write!(f, "fixed:{n}"),
            Dist::Uniform { min, max } => write!(f, "uniform:{min}:{max}"),
            Dist::LogNormal { mean, sigma } => write!(f, "lognormal:{mean}:{sigma}"),
        }
    }
}

/// One stretch of Poisson arrivals at a steady rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stage {
    /// Requests per second; 0 is a pause.
    pub rate: f64,
    /// How long the stage lasts.
    pub duration: Duration,
}

/// `--stages`: rate steps, as inference-perf's load stages, so one run can walk a
/// server up and down a load curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Stages(pub Vec<Stage>);

impl Stages {
    /// Whether the stages make sense; `Err` names the stage that does not.
    pub fn check(&self) -> Result<(), String> {
        if self.0.is_empty() {
            return Err("at least one RATE:DURATION stage is needed".to_owned());
        }
        for (i, stage) in self.0.iter().enumerate() {
            let n = i + 1;
            if !(stage.rate.is_finite() && stage.rate >= 0.0) {
                return Err(format!(
                    "stage {n}: rate ({}) must be 0 or more",
                    stage.rate
                ));
            }
            if stage.duration.is_zero() {
                return Err(format!("stage {n}: duration must be above 0"));
            }
        }
        if self.0.iter().all(|s| s.rate == 0.0) {
            return Err("every stage has rate 0: nothing would be sent".to_owned());
        }
        Ok(())
    }

    /// How long all stages last together.
    pub fn total(&self) -> Duration {
        self.0.iter().map(|s| s.duration).sum()
    }
}

impl FromStr for Stages {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut stages = Vec::new();
        for (i, part) in text.split(',').enumerate() {
            let n = i + 1;
            let part = part.trim();
            let (rate, duration) = part
                .split_once(':')
                .ok_or_else(|| format!("stage {n} (`{part}`) is not RATE:DURATION"))?;
            let rate = rate
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("stage {n} (`{part}`): rate `{rate}` is not a number"))?;
            let duration = parse_duration(duration.trim())
                .map_err(|e| format!("stage {n} (`{part}`): {e}"))?;
            stages.push(Stage { rate, duration });
        }
        let stages = Stages(stages);
        stages.check()?;
        Ok(stages)
    }
}

impl fmt::Display for Stages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(
                f,
                "{}:{}",
                s.rate,
                shared::config::duration::format(s.duration)
            )?;
        }
        Ok(())
    }
}

/// When requests arrive.
#[derive(Clone, Debug, PartialEq)]
pub enum Arrivals {
    /// Open loop: Poisson arrivals whose rate steps through the stages; the last stage
    /// may last [`Duration::MAX`] when only `--requests` bounds the run.
    Poisson(Vec<Stage>),
    /// Closed loop: every request is due at once and `--concurrency` gates them.
    Closed,
}

/// A checked [`LoadArgs`]: the only thing the generator runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// `{url}/v1/completions` or `{url}/v1/chat/completions`.
    pub endpoint: String,
    /// Which body shape to send.
    pub api: Api,
    /// At least one model name.
    pub models: Vec<String>,
    /// How requests are spread over `models`.
    pub pick: Pick,
    /// When requests arrive.
    pub arrivals: Arrivals,
    /// Stop sending after this long (closed loop and `--rate`); `None` when the stages
    /// or `--requests` alone end the run.
    pub duration: Option<Duration>,
    /// Stop after this many requests.
    pub requests: Option<u64>,
    /// At most this many in flight.
    pub concurrency: Option<usize>,
    /// Prompt lengths.
    pub input_tokens: Dist,
    /// `max_tokens`.
    pub output_tokens: Dist,
    /// Share of requests with a shared prefix.
    pub shared_prefix_ratio: f64,
    /// Distinct shared prefixes.
    pub prefixes: u32,
    /// Tokens per shared prefix.
    pub prefix_tokens: u32,
    /// Ask for SSE.
    pub stream: bool,
    /// Per-request limit.
    pub timeout: Duration,
    /// Seed of every random choice.
    pub seed: u64,
}
