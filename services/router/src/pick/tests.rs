//! Unit tests: each rule with hand-computed expectations.

use serde::Deserialize;

use super::picker::{below, next_u64};
use super::scorers::{QueueRange, kv_score, lora_score, queue_score};
use super::*;

const NOW: i64 = 10_000;

fn ep(address: &str, queue: f64, kv: f64) -> Endpoint {
    Endpoint {
        address: address.to_owned(),
        pod: format!("pod-{address}"),
        up: true,
        sampled_at_ms: NOW,
        queue,
        kv,
        ..Endpoint::default()
    }
}

fn picker(config: PickerConfig) -> Picker {
    match Picker::new(config) {
        Ok(p) => p,
        Err(e) => panic!("valid config rejected: {e}"),
    }
}

fn req(prompt: &str) -> Request<'_> {
    Request {
        model: "m",
        objective: None,
        prompt,
    }
}

/// `(ranked, scores)` of a Route, panics otherwise.
fn route(d: Decision) -> (Vec<usize>, Vec<f64>) {
    match d {
        Decision::Route { ranked, scores, .. } => (ranked, scores),
        other => panic!("expected Route, got {other:?}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn model(name: &str, criticality: Criticality, targets: &[(&str, u32, bool)]) -> ModelConfig {
    ModelConfig {
        name: name.to_owned(),
        criticality,
        targets: targets
            .iter()
            .map(|&(n, weight, lora)| TargetModel {
                name: n.to_owned(),
                weight,
                lora,
            })
            .collect(),
    }
}

#[test]
fn stale_and_down_endpoints_are_filtered() {
    let mut stale = ep("a:1", 0.0, 0.0);
    stale.sampled_at_ms = NOW - 2001;
    let mut down = ep("b:1", 0.0, 0.0);
    down.up = false;
    let mut edge = ep("c:1", 3.0, 0.0);
    edge.sampled_at_ms = NOW - 2000; // exactly at the freshness limit: kept
    let eps = [stale, down, edge, ep("d:1", 4.0, 0.0)];
    let (ranked, _) = route(picker(PickerConfig::default()).pick(NOW, &eps, &req(""), &mut 1));
    assert_eq!(ranked, vec![2, 3]);
}

#[test]
fn busier_endpoint_is_avoided() {
    // queue score: (4-0)/(4-0)=1 and 0; kv score 0.8 both; weights 2/2.
    let eps = [ep("a:1", 4.0, 0.2), ep("b:1", 0.0, 0.2)];
    let (ranked, scores) = route(picker(PickerConfig::default()).pick(NOW, &eps, &req(""), &mut 7));
    assert_eq!(ranked, vec![1, 0]);
    assert!(close(scores[0], 2.0 * 1.0 + 2.0 * 0.8));
    assert!(close(scores[1], 2.0 * 0.0 + 2.0 * 0.8));
}

#[test]
fn in_flight_counts_as_queue() {
    let mut a = ep("a:1", 0.0, 0.0);
    a.in_flight = 3; // effective 3 > 1
    let eps = [a, ep("b:1", 1.0, 0.0)];
    let (ranked, _) = route(picker(PickerConfig::default()).pick(NOW, &eps, &req(""), &mut 7));
    assert_eq!(ranked[0], 1);
}

#[test]
fn queue_scorer_normalises_min_max() {
    let eps = [
        ep("a:1", 1.0, 0.0),
        ep("b:1", 3.0, 0.0),
        ep("c:1", 5.0, 0.0),
    ];
    let r = QueueRange::of(&eps);
    assert!(close(queue_score(r, 1.0), 1.0));
    assert!(close(queue_score(r, 3.0), 0.5));
    assert!(close(queue_score(r, 5.0), 0.0));
    let same = [ep("a:1", 2.0, 0.0), ep("b:1", 2.0, 0.0)];
    assert!(close(queue_score(QueueRange::of(&same), 2.0), 1.0));
}

#[test]
fn kv_scorer_prefers_free_cache() {
    assert!(close(kv_score(0.25), 0.75));
    let eps = [ep("a:1", 1.0, 0.5), ep("b:1", 1.0, 0.1)];
    let (ranked, scores) = route(picker(PickerConfig::default()).pick(NOW, &eps, &req(""), &mut 3));
    assert_eq!(ranked, vec![1, 0]);
    assert!(close(scores[0], 2.0 + 2.0 * 0.9));
    assert!(close(scores[1], 2.0 + 2.0 * 0.5));
}

#[test]
fn headroom_filter_drops_saturated_unless_none_left() {
    // queue 6 > 5 and kv 0.9 > 0.8 are over the default headroom.
    let eps = [
        ep("a:1", 6.0, 0.0),
        ep("b:1", 5.0, 0.8),
        ep("c:1", 0.0, 0.9),
    ];
    let p = picker(PickerConfig::default());
    assert_eq!(route(p.pick(NOW, &eps, &req(""), &mut 3)).0, vec![1]);
    let all_over = [ep("a:1", 6.0, 0.0), ep("c:1", 0.0, 0.9)];
    assert_eq!(route(p.pick(NOW, &all_over, &req(""), &mut 3)).0.len(), 2);
}

fn lora_ep(address: &str, running: &[&str], waiting: &[&str], max: u32) -> Endpoint {
    Endpoint {
        lora_running: running.iter().map(|s| (*s).to_owned()).collect(),
        lora_waiting: waiting.iter().map(|s| (*s).to_owned()).collect(),
        lora_max: max,
        ..ep(address, 1.0, 0.5)
    }
}

#[test]
fn lora_scores_follow_the_epp() {
    assert!(close(lora_score(&lora_ep("a", &["x"], &[], 1), "x"), 1.0));
    assert!(close(lora_score(&lora_ep("a", &["y"], &[], 2), "x"), 0.8));
    // free slot is checked before waiting, as in the EPP scorer
    assert!(close(lora_score(&lora_ep("a", &[], &["x"], 2), "x"), 0.8));
    assert!(close(
        lora_score(&lora_ep("a", &["y"], &["x"], 2), "x"),
        0.6
    ));
    assert!(close(
        lora_score(&lora_ep("a", &["y"], &["z"], 2), "x"),
        0.0
    ));
    assert!(close(lora_score(&lora_ep("a", &[], &[], 0), "x"), 0.0)); // unknown max
}

#[test]
fn lora_affinity_orders_running_free_waiting() {
    let config = PickerConfig {
        models: vec![model("m", Criticality::Standard, &[("ad1", 1, true)])],
        ..PickerConfig::default()
    };
    let eps = [
        lora_ep("none:1", &["b", "c"], &["d"], 3),
        lora_ep("waiting:1", &["b", "c"], &["ad1"], 3),
        lora_ep("free:1", &["b"], &[], 4),
        lora_ep("running:1", &["ad1"], &[], 1),
    ];
    let d = picker(config).pick(NOW, &eps, &req(""), &mut 9);
    let Decision::Route {
        target_model,
        ranked,
        scores,
        ..
    } = d
    else {
        panic!("expected Route, got {d:?}");
    };
    assert_eq!(target_model, "ad1");
    assert_eq!(ranked, vec![3, 2, 1, 0]);
    // equal loads: 2×1 (queue) + 2×0.5 (kv) = 3, plus 1 × lora
    for (s, lora) in scores.iter().zip([1.0, 0.8, 0.6, 0.0]) {
        assert!(close(*s, 3.0 + lora), "{s} vs {lora}");
    }
}

#[test]
fn block_hashes_are_epps() {
    // Printed by EPP's `hashPrompt` (prefix plugin) with an empty target model,
    // run in Go on github.com/cespare/xxhash/v2 v2.3.0.
    assert_eq!(block_hashes("a", 1), vec![0x475e_8692_36b4_efbc]);
    assert_eq!(
        block_hashes("aabb", 2),
        vec![0xe541_5442_4298_05d1, 0xc519_dea6_c50c_5e09]
    );
    assert_eq!(
        block_hashes("ccbb", 2),
        vec![0xccb1_3202_2fc3_e324, 0x9d67_9371_4b8d_7e3c]
    );
    let fox = "The quick brown fox jumps over the lazy dog, again and again, and again!!";
    assert_eq!(block_hashes(fox, 64), vec![0x2490_53b2_5c8e_b465]);
    assert_eq!(block_hashes("abc", 2).len(), 1); // partial block ignored
    assert!(block_hashes("abc", 4).is_empty());
    let x = block_hashes("aabb", 2);
    let y = block_hashes("ccbb", 2);
    assert_eq!(x.len(), 2);
    assert_ne!(
        x[1], y[1],
        "same block after a different prefix must differ"
    );
}

#[test]
fn repeat_prompt_sticks_via_prefix_affinity() {
    let eps: Vec<Endpoint> = (0..4)
        .map(|i| ep(&format!("10.0.0.{i}:8000"), 1.0, 0.5))
        .collect();
    let mut p = picker(PickerConfig::default());
    let prompt = "x".repeat(64 * 10);
    let mut rng = 5;
    let (ranked, _) = route(p.pick(NOW, &eps, &req(&prompt), &mut rng));
    let first = ranked[0];
    p.routed(&eps[first].address, &prompt);
    for _ in 0..50 {
        let (ranked, scores) = route(p.pick(NOW, &eps, &req(&prompt), &mut rng));
        assert_eq!(ranked[0], first);
        // 2×1 + 2×0.5 + 3 × 10/10
        assert!(close(scores[0], 6.0));
        assert!(close(scores[1], 3.0));
    }
    // Half the prompt shared: 5 of 10 blocks match → 3 × 0.5.
    let other = format!("{}{}", &prompt[..320], "y".repeat(320));
    let (ranked, scores) = route(p.pick(NOW, &eps, &req(&other), &mut rng));
    assert_eq!(ranked[0], first);
    assert!(close(scores[0], 3.0 + 1.5));
}

#[test]
fn lru_evicts_deep_blocks_first() {
    let config = PickerConfig {
        prefix_block_chars: 1,
        prefix_lru_blocks: 4,
        ..PickerConfig::default()
    };
    let mut p = picker(config);
    p.routed("a:1", "abc");
    p.routed("a:1", "xyz");
    assert_eq!(p.remembered_blocks("a:1"), 4);
    // "abc" keeps only its leading block: prefix score 1/3.
    let eps = [ep("a:1", 1.0, 0.0), ep("b:1", 1.0, 0.0)];
    let (ranked, scores) = route(p.pick(NOW, &eps, &req("abc"), &mut 1));
    assert_eq!(ranked[0], 0);
    assert!(close(scores[0], 4.0 + 3.0 / 3.0));
    let (_, scores) = route(p.pick(NOW, &eps, &req("xyz"), &mut 1));
    assert!(close(scores[0], 4.0 + 3.0));
}

#[test]
fn weighted_split_90_10() {
    let config = PickerConfig {
        models: vec![model(
            "m",
            Criticality::Standard,
            &[("big", 90, false), ("small", 10, false)],
        )],
        ..PickerConfig::default()
    };
    let p = picker(config);
    let eps = [ep("a:1", 0.0, 0.0)];
    let mut rng = 0x1234_5678;
    let big = (0..10_000)
        .filter(|_| {
            matches!(p.pick(NOW, &eps, &req(""), &mut rng),
                Decision::Route { target_model, .. } if target_model == "big")
        })
        .count();
    assert!((8_700..=9_300).contains(&big), "big = {big}");
}

#[test]
fn only_sheddable_is_shed_at_saturation() {
    let config = PickerConfig {
        models: vec![
            model("shed", Criticality::Sheddable, &[]),
            model("std", Criticality::Standard, &[]),
            model("crit", Criticality::Critical, &[]),
        ],
        ..PickerConfig::default()
    };
    let p = picker(config);
    let r = |m| Request {
        model: m,
        objective: None,
        prompt: "",
    };
    // saturation = mean(max(5/5, 0), max(0, 0.8/0.8)) = 1.0
    let full = [ep("a:1", 5.0, 0.0), ep("b:1", 0.0, 0.8)];
    assert!(close(p.saturation(NOW, &full), 1.0));
    assert_eq!(
        p.pick(NOW, &full, &r("shed"), &mut 1),
        Decision::Shed { retry_after_s: 1 }
    );
    for m in ["std", "crit"] {
        let d = p.pick(NOW, &full, &r(m), &mut 1);
        assert!(matches!(d, Decision::Route { .. }), "{m}: {d:?}");
    }
    // saturation = mean(4/5, 0.8/0.8) = 0.9 < 1 → routed
    let busy = [ep("a:1", 4.0, 0.0), ep("b:1", 0.0, 0.8)];
    assert!(close(p.saturation(NOW, &busy), 0.9));
    assert!(matches!(
        p.pick(NOW, &busy, &r("shed"), &mut 1),
        Decision::Route { .. }
    ));
}

#[test]
fn saturation_ignores_stale_and_is_infinite_when_empty() {
    let p = picker(PickerConfig::default());
    let mut stale = ep("s:1", 100.0, 1.0);
    stale.sampled_at_ms = 0;
    let eps = [ep("a:1", 2.5, 0.2), ep("b:1", 0.0, 0.6), stale.clone()];
    assert!(close(p.saturation(NOW, &eps), (0.5 + 0.75) / 2.0));
    assert_eq!(p.saturation(NOW, &[stale]), f64::INFINITY);
}

#[test]
fn no_endpoint_when_all_stale() {
    let mut a = ep("a:1", 0.0, 0.0);
    a.sampled_at_ms = NOW - 5_000;
    let p = picker(PickerConfig::default());
    assert_eq!(p.pick(NOW, &[a], &req(""), &mut 1), Decision::NoEndpoint);
    assert_eq!(p.pick(NOW, &[], &req(""), &mut 1), Decision::NoEndpoint);
}

#[test]
fn model_resolution_objective_unknown_and_pass_through() {
    let eps = [ep("a:1", 0.0, 0.0)];
    let pass = picker(PickerConfig::default());
    let d = pass.pick(NOW, &eps, &req(""), &mut 1);
    assert!(
        matches!(&d, Decision::Route { target_model, criticality: Criticality::Standard, .. }
        if target_model == "m")
    );

    let p = picker(PickerConfig {
        models: vec![model(
            "chat",
            Criticality::Critical,
            &[("chat-v2", 1, false)],
        )],
        ..PickerConfig::default()
    });
    assert_eq!(p.pick(NOW, &eps, &req(""), &mut 1), Decision::UnknownModel);
    let with_objective = Request {
        model: "anything",
        objective: Some("chat"),
        prompt: "",
    };
    let d = p.pick(NOW, &eps, &with_objective, &mut 1);
    assert!(
        matches!(&d, Decision::Route { target_model, criticality: Criticality::Critical, .. }
        if target_model == "chat-v2")
    );
    let wrong_objective = Request {
        model: "chat",
        objective: Some("nope"),
        prompt: "",
    };
    assert_eq!(
        p.pick(NOW, &eps, &wrong_objective, &mut 1),
        Decision::UnknownModel
    );
}

#[test]
fn ties_are_random_but_seeded() {
    let eps = [ep("a:1", 1.0, 0.3), ep("b:1", 1.0, 0.3)];
    let p = picker(PickerConfig::default());
    let run = |seed: u64| -> Vec<usize> {
        let mut rng = seed;
        (0..1_000)
            .map(|_| route(p.pick(NOW, &eps, &req(""), &mut rng)).0[0])
            .collect()
    };
    let a = run(99);
    assert_eq!(a, run(99), "same seed, same choices");
    let zeros = a.iter().filter(|&&i| i == 0).count();
    assert!(
        (400..=600).contains(&zeros),
        "endpoint 0 chosen {zeros} times"
    );
}

#[test]
fn ranked_is_capped_and_descending() {
    let eps: Vec<Endpoint> = (0..10)
        .map(|i| ep(&format!("e:{i}"), f64::from(i) * 0.5, 0.1))
        .collect();
    let p = picker(PickerConfig {
        max_ranked: 3,
        ..PickerConfig::default()
    });
    let (ranked, scores) = route(p.pick(NOW, &eps, &req(""), &mut 4));
    assert_eq!(ranked, vec![0, 1, 2]);
    assert!(scores.windows(2).all(|w| w[0] >= w[1]));
}

#[test]
fn round_robin_cycles_over_eligible() {
    let mut down = ep("b:1", 0.0, 0.0);
    down.up = false;
    let eps = [ep("a:1", 0.0, 0.0), down, ep("c:1", 9.0, 0.9)];
    let rr = RoundRobin::new(2000);
    let firsts: Vec<usize> = (0..4)
        .map(|_| route(rr.pick(NOW, &eps, &req(""))).0[0])
        .collect();
    assert_eq!(firsts, vec![0, 2, 0, 2]);
    assert_eq!(route(rr.pick(NOW, &eps, &req(""))).0, vec![0, 2]);
    assert_eq!(rr.pick(NOW, &eps[1..2], &req("")), Decision::NoEndpoint);
}

#[test]
fn config_validation() {
    let bad = |c: PickerConfig| Picker::new(c).err();
    let w = Weights {
        kv: -1.0,
        ..Weights::default()
    };
    assert_eq!(
        bad(PickerConfig {
            weights: w,
            ..PickerConfig::default()
        }),
        Some(ConfigError::BadWeight("kv"))
    );
    let zero = Weights {
        queue: 0.0,
        kv: 0.0,
        prefix: 0.0,
        lora: 0.0,
    };
    assert_eq!(
        bad(PickerConfig {
            weights: zero,
            ..PickerConfig::default()
        }),
        Some(ConfigError::ZeroWeights)
    );
    let eleven: Vec<(&str, u32, bool)> = (0..11).map(|_| ("t", 1, false)).collect();
    assert!(matches!(
        bad(PickerConfig {
            models: vec![model("m", Criticality::Standard, &eleven)],
            ..PickerConfig::default()
        }),
        Some(ConfigError::TooManyTargets { count: 11, .. })
    ));
    assert!(matches!(
        bad(PickerConfig {
            models: vec![model(
                "m",
                Criticality::Standard,
                &[("a", 0, false), ("b", 0, false)]
            )],
            ..PickerConfig::default()
        }),
        Some(ConfigError::ZeroTargetWeights(_))
    ));
    assert!(matches!(
        bad(PickerConfig {
            models: vec![
                model("m", Criticality::Standard, &[]),
                model("m", Criticality::Standard, &[])
            ],
            ..PickerConfig::default()
        }),
        Some(ConfigError::DuplicateModel(_))
    ));
    assert_eq!(
        bad(PickerConfig {
            prefix_block_chars: 0,
            ..PickerConfig::default()
        }),
        Some(ConfigError::Zero("prefix_block_chars"))
    );
}

#[test]
fn criticality_deserializes_pascal_case() {
    use serde::de::value::{Error, StrDeserializer};
    let c = Criticality::deserialize(StrDeserializer::<Error>::new("Sheddable"));
    assert_eq!(c, Ok(Criticality::Sheddable));
    assert!(Criticality::deserialize(StrDeserializer::<Error>::new("sheddable")).is_err());
}

#[test]
fn rng_is_xorshift_and_never_stuck() {
    let mut s = 0;
    assert_ne!(next_u64(&mut s), 0);
    assert_ne!(s, 0);
    // 1 → 0x2001 (<<13) → 0x2041 (>>7) → 0x4082_2041 (<<17)
    let mut s = 1;
    assert_eq!(next_u64(&mut s), 0x4082_2041);
    assert!((0..1000).all(|_| below(&mut s, 7) < 7));
}

#[test]
fn matched_blocks_equal_a_brute_force_walk_under_eviction() {
    use super::prefix::{BlockHashes, PrefixIndex};
    // Small LRUs, prompts from a few shared stems: runs of equal holder
    // lists, partial evictions, and endpoints holding nothing.
    let mut index = PrefixIndex::new(12);
    let mut rng = 7u64;
    let stems = ["abcdefgh", "abcdxyzw", "qrstuvwx"];
    let prompt = |rng: &mut u64| {
        let stem = stems[below(rng, 3) as usize];
        let tail: String = (0..below(rng, 8))
            .map(|_| char::from(b'a' + below(rng, 3) as u8))
            .collect();
        format!("{stem}{tail}")
    };
    let addresses: Vec<String> = (0..9).map(|i| format!("e{i}:1")).collect();
    let mut matched = Vec::new();
    for round in 0..2_000 {
        let p = prompt(&mut rng);
        let a = &addresses[below(&mut rng, 8) as usize];
        index.insert(a, &block_hashes(&p, 1));
        if round % 10 != 0 {
            continue;
        }
        let q = prompt(&mut rng);
        let hashes = block_hashes(&q, 1);
        let any = index.matched_into(BlockHashes::new(&q, 1), &mut matched);
        for a in &addresses {
            let want = hashes.iter().take_while(|&&h| index.holds(a, h)).count();
            let got = match index.slot(a) {
                Some(s) if any => usize::from(matched[s]),
                _ => 0,
            };
            assert_eq!(got, want, "round {round}, prompt {q:?}, endpoint {a}");
        }
    }
}
