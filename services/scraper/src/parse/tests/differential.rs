//! Against `prometheus-parse` 0.2.5, the crate we replace: on the subset it handles we
//! must agree series for series; on real input we document where it fails.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use prometheus_parse::{Scrape as Theirs, Value};
use proptest::prelude::*;

use super::super::{MetricType, parse_all};
use super::fixture;

/// (name, labels, value bits, timestamp ms, type): one series, comparable.
type Row = (
    String,
    BTreeMap<String, String>,
    u64,
    Option<i64>,
    &'static str,
);

/// Their "no timestamp": they stamp such samples with the time we pass, so we pass one
/// no generated timestamp can equal.
const NO_TIMESTAMP: i64 = 5_000_000_000_000_000;

fn sentinel() -> DateTime<Utc> {
    Utc.timestamp_millis_opt(NO_TIMESTAMP)
        .single()
        .unwrap_or_default()
}

fn theirs(body: &str) -> Theirs {
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    Theirs::parse_at(lines, sentinel()).unwrap()
}

fn their_rows(body: &str) -> Vec<Row> {
    let mut rows: Vec<Row> = theirs(body)
        .samples
        .into_iter()
        .map(|s| {
            let (value, kind) = match s.value {
                Value::Counter(v) => (v, "counter"),
                Value::Gauge(v) => (v, "gauge"),
                Value::Untyped(v) => (v, "untyped"),
                other => panic!("no histograms or summaries were generated: {other:?}"),
            };
            let labels = s
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let ts = (s.timestamp != sentinel()).then(|| s.timestamp.timestamp_millis());
            (s.metric, labels, value.to_bits(), ts, kind)
        })
        .collect();
    rows.sort();
    rows
}

fn our_rows(body: &str) -> Vec<Row> {
    let scrape = parse_all(body);
    assert_eq!(scrape.errors, [], "{body}");
    let mut rows: Vec<Row> = scrape
        .samples
        .iter()
        .map(|(kind, s)| {
            let kind = match kind {
                MetricType::Counter => "counter",
                MetricType::Gauge => "gauge",
                MetricType::Untyped => "untyped",
                _ => "other",
            };
            let labels = s
                .labels()
                .map(|(k, v)| (k.to_owned(), v.into_owned()))
                .collect();
            (
                s.name.to_owned(),
                labels,
                s.value.to_bits(),
                s.timestamp_ms,
                kind,
            )
        })
        .collect();
    rows.sort();
    rows
}

/// One generated sample line's parts.
#[derive(Clone, Debug)]
struct Line {
    labels: BTreeMap<String, String>,
    trailing_comma: bool,
    value: f64,
    exponent: bool,
    timestamp: Option<i64>,
    gap: &'static str,
}

/// One generated family: `# HELP`, `# TYPE` (or none), samples.
#[derive(Clone, Debug)]
struct Family {
    base: String,
    kind: Option<&'static str>,
    help: Option<String>,
    lines: Vec<Line>,
}

fn line() -> impl Strategy<Value = Line> {
    (
        // No `,` `"` `\` `=` `}`: they split or cut the value in prometheus-parse.
        prop::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,8}", "[^,\"\\\\=}\n\r]{0,12}", 0..5),
        any::<bool>(),
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
        any::<bool>(),
        prop::option::of(-1_000_000_000_000_000i64..1_000_000_000_000_000),
        prop::sample::select(vec![" ", "\t", "  ", " \t "]),
    )
        .prop_map(
            |(labels, trailing_comma, value, exponent, timestamp, gap)| Line {
                labels,
                trailing_comma,
                value,
                exponent,
                timestamp,
                gap,
            },
        )
}

fn family() -> impl Strategy<Value = Family> {
    (
        "[a-zA-Z_][a-zA-Z0-9_]{0,12}",
        prop::option::of(prop::sample::select(vec!["gauge", "counter", "untyped"])),
        prop::option::of("[a-zA-Z0-9 .,:()_-]{1,30}"),
        prop::collection::vec(line(), 0..6),
    )
        .prop_map(|(base, kind, help, lines)| Family {
            base,
            kind,
            help,
            lines,
        })
}

/// The body: family `i` is named `{base}_{i}`, so names are unique and never end in a
/// suffix that would tie them to another family.
fn render(families: &[Family]) -> String {
    let mut body = String::new();
    for (i, f) in families.iter().enumerate() {
        let name = format!("{}_{i}", f.base);
        if let Some(help) = &f.help {
            body += &format!("# HELP {name} {help}\n");
        }
        if let Some(kind) = f.kind {
            body += &format!("# TYPE {name} {kind}\n");
        }
        for l in &f.lines {
            body += &name;
            if !l.labels.is_empty() {
                let pairs: Vec<_> = l
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{v}\""))
                    .collect();
                body += &format!(
                    "{{{}{}}}",
                    pairs.join(","),
                    if l.trailing_comma { "," } else { "" }
                );
            }
            body += " ";
            body += &if l.exponent {
                format!("{:e}", l.value)
            } else {
                format!("{}", l.value)
            };
            if let Some(ts) = l.timestamp {
                body += &format!("{}{ts}", l.gap);
            }
            body += "\n";
        }
    }
    body
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn we_agree_with_prometheus_parse_where_it_works(families in prop::collection::vec(family(), 0..6)) {
        let body = render(&families);
        prop_assert_eq!(our_rows(&body), their_rows(&body), "{}", body);
    }
}

#[test]
fn prometheus_parse_loses_every_vllm_series_and_we_do_not() {
    let body = fixture("vllm-metrics.txt");
    let theirs = theirs(&body);
    assert!(
        !theirs.samples.is_empty(),
        "it reads the python_ and http_ series"
    );
    assert!(
        theirs.samples.iter().all(|s| !s.metric.starts_with("vllm")),
        "no name with a `:` survives"
    );
    let ours = parse_all(&body);
    assert_eq!(ours.errors, []);
    assert_eq!(
        ours.samples
            .iter()
            .filter(|(_, s)| s.name.starts_with("vllm:"))
            .count(),
        289
    );

    let sglang = fixture("sglang-metrics.txt");
    assert!(super::super::parse_all(&sglang).samples.len() == 91);
    assert!(
        self::theirs(&sglang)
            .samples
            .iter()
            .all(|s| !s.metric.starts_with("sglang"))
    );
}

#[test]
fn prometheus_parse_mangles_quotes_and_commas_and_reports_nothing() {
    let body = "m{a=\"x\\\"y\",b=\"p,q\"} 1\nbroken{ 2\nn 3\n";
    let theirs = theirs(body);
    let m = theirs.samples.iter().find(|s| s.metric == "m").unwrap();
    assert_eq!(
        m.labels.get("a"),
        Some("x\\\"y"),
        "the escape is kept as written"
    );
    assert_eq!(
        m.labels.get("b"),
        Some("p"),
        "the value is cut at the comma"
    );
    assert_eq!(
        theirs.samples.len(),
        2,
        "the broken line vanished without a word"
    );

    let ours = parse_all(body);
    let s = ours.samples[0].1;
    assert_eq!(
        (s.label("a").as_deref(), s.label("b").as_deref()),
        (Some("x\"y"), Some("p,q"))
    );
    assert_eq!(ours.errors.len(), 1);
    assert_eq!(ours.errors[0].line, 2);
}
