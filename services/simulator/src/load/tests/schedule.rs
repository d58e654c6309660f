//! The seeded schedule: Poisson arrivals, stages, lengths, prompts, prefixes, models.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::*;

fn arrivals(flags: &str, n: usize) -> Vec<Arrival> {
    schedule(&plan(flags)).take(n).collect()
}

#[test]
fn poisson_rate_and_gaps() {
    let all: Vec<Arrival> =
        schedule(&plan("--rate 50 --duration 200s --input-tokens fixed:1")).collect();
    let n = all.len() as f64;
    // 10 000 expected, standard deviation 100: 3 % is three of them.
    assert!((n - 10_000.0).abs() < 300.0, "{n} arrivals");
    let last = all.last().map_or(0.0, |a| a.offset.as_secs_f64());
    assert!(last < 200.0 && last > 199.0, "last at {last}");
    assert!(all.windows(2).all(|w| w[0].offset <= w[1].offset));
    let mean_gap = last / n;
    assert!((mean_gap - 0.02).abs() < 0.0006, "mean gap {mean_gap}");
}

#[test]
fn stages_step_the_rate() {
    let all: Vec<Arrival> = schedule(&plan(
        "--stages 100:10s,0:10s,20:10s --input-tokens fixed:1",
    ))
    .collect();
    let count = |from: f64, to: f64| {
        let inside = |a: &&Arrival| (from..to).contains(&a.offset.as_secs_f64());
        all.iter().filter(inside).count() as f64
    };
    assert!((count(0.0, 10.0) - 1000.0).abs() < 100.0);
    assert_eq!(count(10.0, 20.0), 0.0);
    assert!((count(20.0, 30.0) - 200.0).abs() < 45.0);
    assert_eq!(count(30.0, f64::MAX), 0.0);
}

#[test]
fn same_seed_same_schedule() {
    let flags = "--rate 10 --input-tokens uniform:1:20 --shared-prefix-ratio 0.5 \
                 --model a --model b --pick random";
    let a = arrivals(flags, 200);
    assert_eq!(a, arrivals(flags, 200));
    let b = arrivals(&format!("{flags} --seed 7"), 200);
    assert_ne!(a[0].offset, b[0].offset);
    assert_ne!(a[0].spec.prompt, b[0].spec.prompt);
    // Lengths draw from their own stream: changing them leaves the arrivals alone.
    let c = arrivals(&format!("{flags} --output-tokens fixed:999"), 200);
    assert!(a.iter().zip(&c).all(|(x, y)| x.offset == y.offset));
}

#[test]
fn requests_and_closed_loop() {
    let a = arrivals("--rate 5 --requests 7 --input-tokens fixed:1", 100);
    assert_eq!(a.len(), 7);
    assert_eq!(a[6].spec.index, 6);
    let c = arrivals("--concurrency 2 --input-tokens fixed:1", 50);
    assert_eq!(c.len(), 50);
    assert!(c.iter().all(|a| a.offset.is_zero()));
}

#[test]
fn lognormal_mean_and_uniform_bounds() {
    let mut rng = Rng::new(1);
    let dist = Dist::LogNormal {
        mean: 200.0,
        sigma: 0.8,
    };
    let n = 20_000;
    let sum: f64 = (0..n)
        .map(|_| f64::from(profile::sample(dist, &mut rng)))
        .sum();
    let mean = sum / f64::from(n);
    assert!((mean - 200.0).abs() < 10.0, "mean {mean}");
    let small = Dist::LogNormal {
        mean: 1.0,
        sigma: 3.0,
    };
    assert!((0..1000).all(|_| profile::sample(small, &mut rng) >= 1));
    let uniform = Dist::Uniform { min: 3, max: 6 };
    let drawn: BTreeSet<u32> = (0..1000)
        .map(|_| profile::sample(uniform, &mut rng))
        .collect();
    assert_eq!(drawn, BTreeSet::from([3, 4, 5, 6]));
}

#[test]
fn prompts_are_words_of_four_characters() {
    let a = arrivals("--input-tokens fixed:16 --output-tokens fixed:9", 3);
    for spec in a.iter().map(|a| &a.spec) {
        assert_eq!(
            (spec.prompt.len(), spec.prompt_tokens, spec.max_tokens),
            (64, 16, 9)
        );
        let word = |w: &str| w.len() == 3 && w.bytes().all(|b| b.is_ascii_lowercase());
        assert!(
            spec.prompt.split_terminator(' ').all(word),
            "{}",
            spec.prompt
        );
    }
    assert_ne!(a[0].spec.prompt, a[1].spec.prompt);
}

#[test]
fn shared_prefixes() {
    let all = arrivals(
        "--concurrency 1 --shared-prefix-ratio 0.3 --prefixes 3 --prefix-tokens 8 \
         --input-tokens fixed:2",
        4000,
    );
    let shared: Vec<&RequestSpec> = all
        .iter()
        .map(|a| &a.spec)
        .filter(|s| s.prefix.is_some())
        .collect();
    let ratio = shared.len() as f64 / all.len() as f64;
    assert!((ratio - 0.3).abs() < 0.03, "ratio {ratio}");
    let mut heads: BTreeMap<u32, &str> = BTreeMap::new();
    for s in &shared {
        assert_eq!((s.prompt_tokens, s.prompt.len()), (10, 40));
        let head = &s.prompt[..32];
        let k = s.prefix.unwrap_or(u32::MAX);
        assert_eq!(*heads.entry(k).or_insert(head), head, "prefix {k} changed");
    }
    assert_eq!(heads.len(), 3);
    assert_eq!(heads.values().collect::<BTreeSet<_>>().len(), 3);
    let unshared = all.iter().filter(|a| a.spec.prefix.is_none());
    assert!(unshared.into_iter().all(|a| a.spec.prompt.len() == 8));
}

#[test]
fn models_are_spread() {
    let rr = arrivals("--model a --model b --model c", 6);
    let names: Vec<&str> = rr.iter().map(|a| a.spec.model.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "a", "b", "c"]);
    let random = arrivals(
        "--concurrency 1 --model a --model b --pick random --input-tokens fixed:1",
        1000,
    );
    let a = random.iter().filter(|x| x.spec.model == "a").count();
    assert!((400..600).contains(&a), "{a} of 1000 to a");
}

#[test]
fn request_bodies() {
    let spec = RequestSpec {
        index: 0,
        model: "m".into(),
        prompt: "abc ".into(),
        prompt_tokens: 1,
        max_tokens: 5,
        prefix: None,
    };
    assert_eq!(
        spec.body(Api::Completions, true),
        json!({"model":"m","prompt":"abc ","max_tokens":5,"stream":true,
               "stream_options":{"include_usage":true},"ignore_eos":true})
    );
    assert_eq!(
        spec.body(Api::Chat, false),
        json!({"model":"m","messages":[{"role":"user","content":"abc "}],
               "max_tokens":5,"stream":false,"ignore_eos":true})
    );
}
