//! The load model's laws, checked in simulated time: no clock, no sockets.

use std::time::Duration;

use crate::config::ServerSpec;
use crate::engine::{Engine, Output, Refused, Submit};

fn spec() -> ServerSpec {
    ServerSpec {
        lora_adapters: vec!["a".into(), "b".into()],
        max_lora: 1,
        ..ServerSpec::default()
    }
}

fn req(id: u64, prompt_tokens: u32, max_tokens: u32) -> Submit {
    Submit {
        id,
        model: spec().model,
        prompt_tokens,
        max_tokens,
        block_hashes: Vec::new(),
        stops: false,
    }
}

/// Ends the step under way: requests that arrived during it are admitted by the next.
fn one_step(e: &mut Engine) {
    let end = e.next_wakeup().unwrap();
    e.advance(end);
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs until idle; returns the time it went idle and every output with its time.
fn drain(e: &mut Engine) -> (Duration, Vec<(Duration, Output)>) {
    let mut out = Vec::new();
    let mut now = Duration::ZERO;
    while let Some(t) = e.next_wakeup() {
        now = t;
        out.extend(e.advance(t).into_iter().map(|o| (t, o)));
    }
    (now, out)
}

fn first_token_time(outputs: &[(Duration, Output)], id: u64) -> Duration {
    outputs
        .iter()
        .find(|(_, o)| matches!(o, Output::Token { id: i, index: 0 } if *i == id))
        .map(|(t, _)| *t)
        .unwrap()
}

#[test]
fn kv_use_rises_with_concurrency_and_returns_to_zero_when_idle() {
    let mut last = 0.0;
    for n in [1, 8, 32] {
        let mut e = Engine::new(spec(), 1.0);
        for id in 0..n {
            e.submit(Duration::ZERO, req(id, 500, 200)).unwrap();
        }
        e.advance(ms(500));
        assert!(
            e.kv_usage() > last,
            "{n} requests: kv {} not above {last}",
            e.kv_usage()
        );
        last = e.kv_usage();
        let (_, outputs) = drain(&mut e);
        let finished = outputs
            .iter()
            .filter(|(_, o)| matches!(o, Output::Finished { .. }))
            .count();
        assert_eq!(finished as u64, n);
        assert_eq!((e.kv_usage(), e.running(), e.waiting()), (0.0, 0, 0));
    }
}

#[test]
fn a_queue_forms_only_beyond_capacity() {
    let s = spec();
    let mut e = Engine::new(s.clone(), 1.0);
    for id in 0..u64::from(s.max_num_seqs) {
        e.submit(Duration::ZERO, req(id, 100, 50)).unwrap();
    }
    one_step(&mut e);
    assert_eq!((e.running() as u32, e.waiting()), (s.max_num_seqs, 0));
    for id in 0..5 {
        e.submit(ms(1), req(1000 + id, 100, 50)).unwrap();
    }
    one_step(&mut e);
    assert_eq!(e.waiting(), 5, "requests beyond max_num_seqs wait");
    drain(&mut e);
    assert_eq!(e.stats().finished_length, u64::from(s.max_num_seqs) + 5);
}

#[test]
fn a_full_cache_queues_requests_too() {
    let s = ServerSpec {
        num_gpu_blocks: 100,
        max_model_len: 1600,
        ..spec()
    };
    let mut e = Engine::new(s, 1.0);
    // Each needs 32 blocks for its prompt: three fit, the fourth waits.
    for id in 0..4 {
        e.submit(Duration::ZERO, req(id, 500, 10)).unwrap();
    }
    one_step(&mut e);
    assert_eq!((e.running(), e.waiting()), (3, 1));
}

/// SplitMix64: enough randomness for arrivals, deterministic under a seed.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn exp(&mut self, rate: f64) -> f64 {
        -(1.0 - self.next_f64()).ln() / rate
    }
}

#[test]
fn littles_law_holds_at_steady_state() {
    // λ = 8/s of 300 prompt + 100 output tokens: busy but not saturated.
    let rate = 8.0;
    let horizon = 600.0;
    let mut e = Engine::new(spec(), 1.0);
    let mut rng = Rng(7);
    let mut arrivals = Vec::new();
    let mut t = 0.0;
    while t < horizon {
        t += rng.exp(rate);
        arrivals.push(t);
    }
    // Walk events in time order, integrating requests-in-system over time.
    let (mut now, mut area, mut in_system) = (0.0f64, 0.0f64, 0usize);
    let mut latencies = Vec::new();
    let mut started = std::collections::HashMap::new();
    let mut next_arrival = 0;
    loop {
        let step = e.next_wakeup().map(|d| d.as_secs_f64());
        let arrival = arrivals.get(next_arrival).copied();
        let t = match (step, arrival) {
            (Some(s), Some(a)) => s.min(a),
            (Some(s), None) => s,
            (None, Some(a)) => a,
            (None, None) => break,
        };
        area += in_system as f64 * (t - now);
        now = t;
        let at = Duration::from_secs_f64(t);
        for o in e.advance(at) {
            if let Output::Finished { id, .. } = o {
                latencies.push(t - started.remove(&id).unwrap());
                in_system -= 1;
            }
        }
        if arrival == Some(t) {
            let id = next_arrival as u64;
            e.submit(at, req(id, 300, 100)).unwrap();
            started.insert(id, t);
            in_system += 1;
            next_arrival += 1;
        }
    }
    let l = area / now;
    let lambda = latencies.len() as f64 / now;
    let w = latencies.iter().sum::<f64>() / latencies.len() as f64;
    let gap = (l - lambda * w).abs() / l;
    assert!(
        gap < 0.10,
        "L = {l:.2}, λW = {:.2} ({lambda:.2}/s × {w:.3}s): {:.1}% apart",
        lambda * w,
        gap * 100.0
    );
    assert!(l > 5.0, "the test should load the server (L = {l:.2})");
}

#[test]
fn a_repeated_prefix_hits_the_cache_and_cuts_ttft() {
    let hashes: Vec<u64> = (0..125).collect(); // 2000 tokens in 16-token blocks
    let with = |id| Submit {
        block_hashes: hashes.clone(),
        ..req(id, 2000, 5)
    };
    let mut e = Engine::new(spec(), 1.0);
    e.submit(Duration::ZERO, with(1)).unwrap();
    let (idle, first) = drain(&mut e);
    let cold = first_token_time(&first, 1);
    e.submit(idle, with(2)).unwrap();
    let (_, second) = drain(&mut e);
    let warm = first_token_time(&second, 2) - idle;
    assert!(
        warm < cold / 2,
        "cached prefix: ttft {warm:?} vs cold {cold:?}"
    );
    let s = e.stats();
    assert_eq!(s.prefix_queries, 4000);
    assert_eq!(s.prefix_hits, 1999, "all but the last prompt token");
}

#[test]
fn an_overcommitted_cache_preempts_and_still_finishes_everything() {
    let s = ServerSpec {
        num_gpu_blocks: 64,
        max_model_len: 1024,
        ..spec()
    };
    let mut e = Engine::new(s, 1.0);
    // 8 × 64 prompt tokens fit (32 blocks); growing to 400 output tokens each does not.
    for id in 0..8 {
        e.submit(Duration::ZERO, req(id, 64, 400)).unwrap();
    }
    let (_, outputs) = drain(&mut e);
    assert!(
        e.stats().preemptions > 0,
        "no preemption with an overcommitted cache"
    );
    let finished: Vec<_> = outputs
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Finished {
                completion_tokens, ..
            } => Some(*completion_tokens),
            _ => None,
        })
        .collect();
    assert_eq!(finished, vec![400; 8]);
    assert_eq!(e.kv_usage(), 0.0);
}

#[test]
fn lora_slots_limit_active_adapters() {
    let mut e = Engine::new(spec(), 1.0);
    let on = |id, model: &str| Submit {
        model: model.into(),
        ..req(id, 100, 50)
    };
    e.submit(Duration::ZERO, on(1, "a")).unwrap();
    e.submit(Duration::ZERO, on(2, "b")).unwrap();
    e.submit(Duration::ZERO, on(3, "a")).unwrap();
    one_step(&mut e);
    let (running, waiting) = e.lora();
    assert_eq!(
        (running, waiting),
        (vec!["a".to_owned()], vec!["a".to_owned(), "b".to_owned()])
    );
    assert_eq!(
        e.running(),
        1,
        "FIFO: `b` waits for a slot and the second `a` waits behind it"
    );
    drain(&mut e);
    assert_eq!(e.stats().finished_length, 3);
}

#[test]
fn a_slower_server_is_slower_in_proportion() {
    let ttft = |speed| {
        let mut e = Engine::new(spec(), speed);
        e.submit(Duration::ZERO, req(1, 1000, 10)).unwrap();
        let (_, out) = drain(&mut e);
        first_token_time(&out, 1)
    };
    assert_eq!(ttft(0.5), ttft(1.0) * 2);
}

#[test]
fn decode_slows_as_the_batch_grows() {
    let itl = |n: u64| {
        let mut e = Engine::new(spec(), 1.0);
        for id in 0..n {
            e.submit(Duration::ZERO, req(id, 10, 20)).unwrap();
        }
        drain(&mut e);
        let h = &e.stats().itl;
        h.sum / h.count as f64
    };
    assert!(
        itl(48) > itl(1) * 1.5,
        "itl(48) {} vs itl(1) {}",
        itl(48),
        itl(1)
    );
}

#[test]
fn too_long_a_request_is_refused_with_vllms_message() {
    let mut e = Engine::new(spec(), 1.0);
    let err = e.submit(Duration::ZERO, req(1, 8000, 500)).unwrap_err();
    assert_eq!(
        err,
        Refused::TooLong {
            max: 8192,
            total: 8500,
            prompt: 8000,
            completion: 500
        }
    );
    assert!(err.to_string().starts_with(
        "This model's maximum context length is 8192 tokens. However, you requested 8500 tokens"
    ));
}

#[test]
fn an_abort_frees_blocks_and_counts() {
    let mut e = Engine::new(spec(), 1.0);
    e.submit(Duration::ZERO, req(1, 500, 500)).unwrap();
    e.advance(ms(200));
    assert!(e.kv_usage() > 0.0);
    e.abort(1);
    assert_eq!(
        (e.kv_usage(), e.running(), e.stats().finished_abort),
        (0.0, 0, 1)
    );
    assert_eq!(
        e.next_wakeup().map(|t| t > ms(200)),
        Some(true),
        "the step under way still ends"
    );
    e.advance(ms(10_000));
    assert_eq!(e.next_wakeup(), None);
}

#[test]
fn echo_pieces_rebuild_the_prompt_and_cycle() {
    for prompt in ["card 4111 1111 1111 1111 now", "héllo wörld ✓", "ab"] {
        let pieces = prompt.len().div_ceil(crate::tokens::BYTES_PER_TOKEN) as u32;
        let once: String = (0..pieces)
            .map(|i| crate::tokens::echoed(prompt, i))
            .collect();
        assert_eq!(once, prompt);
        assert_eq!(
            crate::tokens::echoed(prompt, pieces),
            crate::tokens::echoed(prompt, 0)
        );
    }
}
