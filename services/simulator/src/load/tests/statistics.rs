//! Percentiles, the report and its table.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::load::stats::Tally;

#[test]
fn percentiles_interpolate() {
    let v = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(percentile(&v, 0.5), 2.5);
    assert!((percentile(&v, 0.9) - 3.7).abs() < 1e-12);
    assert_eq!(percentile(&v, 0.0), 1.0);
    assert_eq!(percentile(&v, 1.0), 4.0);
    assert_eq!(percentile(&[], 0.5), 0.0);
    assert_eq!(percentile(&[7.0], 0.99), 7.0);
    let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
    assert!((percentile(&hundred, 0.99) - 99.01).abs() < 1e-9);
    let s = Summary::of(&[3.0, 1.0, 2.0]);
    assert_eq!(
        s,
        Summary {
            count: 3,
            p50: 2.0,
            p90: 2.8,
            p99: 2.98,
            mean: 2.0,
            max: 3.0
        }
    );
    assert_eq!(Summary::of(&[]), Summary::default());
}

fn sample_report() -> Report {
    let mut t = Tally::default();
    t.add(Sample::Completed(Completed {
        ttft: ms(100),
        itl: vec![ms(10), ms(30)],
        e2e: ms(400),
        input_tokens: 50,
        output_tokens: 4,
    }));
    t.add(Sample::Completed(Completed {
        ttft: ms(200),
        itl: vec![ms(20)],
        e2e: ms(600),
        input_tokens: 50,
        output_tokens: 2,
    }));
    t.add(Sample::Failed("429".into()));
    t.add(Sample::Failed("429".into()));
    t.add(Sample::Failed("timeout".into()));
    t.report(5, Duration::from_secs(2))
}

#[test]
fn report_counts_and_rates() {
    let r = sample_report();
    assert_eq!(
        (r.requests_sent, r.requests_completed, r.requests_failed),
        (5, 2, 3)
    );
    assert_eq!(
        r.errors,
        BTreeMap::from([("429".into(), 2), ("timeout".into(), 1)])
    );
    assert_eq!(r.requests_per_second, 1.0);
    assert_eq!(r.output_tokens_per_second, 3.0);
    assert_eq!((r.input_tokens_total, r.output_tokens_total), (100, 6));
    assert_eq!(r.itl_seconds.count, 3);
    assert!((r.ttft_seconds.p50 - 0.15).abs() < 1e-12);
    // NTPOT: 400 ms / 4 and 600 ms / 2.
    assert!((r.ntpot_seconds.mean - 0.2).abs() < 1e-12);
    assert!((r.ntpot_seconds.max - 0.3).abs() < 1e-12);
    let json = serde_json::to_string(&r).expect("serialize");
    assert_eq!(
        serde_json::from_str::<Report>(&json).expect("deserialize"),
        r
    );
}

#[test]
fn table_shows_the_numbers() {
    let t = sample_report().table();
    for want in [
        "duration 2.00 s",
        "sent 5",
        "completed 2",
        "failed 3",
        "requests/s 1.00",
        "output tokens/s 3.0",
        "p99 ms",
        "150.00",
        "600.00",
        "429 ×2",
        "timeout ×1",
    ] {
        assert!(t.contains(want), "{want:?} missing from\n{t}");
    }
    let ttft = t
        .lines()
        .find(|l| l.starts_with("TTFT"))
        .unwrap_or_default();
    assert!(ttft.contains("150.00") && ttft.ends_with(" 2"), "{ttft}");
}
