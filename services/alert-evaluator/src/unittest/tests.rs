//! Tables checked against Prometheus 2.42: the series expansions (each also a
//! `promql_expr_test` in the corpus's `series.test.yaml`, which promtool passes), parser
//! errors (as promtool or 2.42's `ParseSeriesDesc` print them), durations, and a load of
//! every test file of the corpus.
//!
//! The corpus folder is `$UNITTEST_CORPUS_DIR`, else `testdata/rules` in this crate; the
//! bad files are `$UNITTEST_BAD_DIR`, else `testdata/bad`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;

fn dir(var: &str, default: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(default),
    }
}

fn corpus_dir() -> PathBuf {
    let d = dir("UNITTEST_CORPUS_DIR", "testdata/rules");
    assert!(d.is_dir(), "corpus folder {} not found", d.display());
    d
}

fn render(points: &[Option<Point>]) -> String {
    points
        .iter()
        .map(|p| match p {
            None => "_".to_string(),
            Some(p) => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `(case, values, expansion)`: the case is `exp{case="..."}` in series.test.yaml.
const EXPANSIONS: &[(&str, &str, &str)] = &[
    ("plus", "1+1x3", "1 2 3 4"),
    ("minus", "1-1x3", "1 0 -1 -2"),
    ("repeat", "5x3", "5 5 5 5"),
    ("repeat_plus0", "5+0x3", "5 5 5 5"),
    ("blank_mid", "1 _ 3", "1 _ 3"),
    ("blank_times", "_x3 7", "_ _ _ 7"),
    ("blank_stale", "1 _x3 stale", "1 _ _ _ stale"),
    ("stale_first", "stale 5", "stale 5"),
    ("doc_neg_start", "-2+4x3", "-2 2 6 10"),
    ("doc_dec", "1-2x4", "1 -1 -3 -5 -7"),
    ("sci", "1e3", "1000"),
    ("sci_neg_exp", "1.5e-3x2", "0.0015 0.0015 0.0015"),
    ("inf", "Inf", "+Inf"),
    ("neg_inf", "-Inf", "-Inf"),
    ("nan", "NaN", "NaN"),
    ("octal", "010", "8"),
    ("hex_is_times", "0x10", "0 0 0 0 0 0 0 0 0 0 0"),
    ("leading_dot", ".5x2", "0.5 0.5 0.5"),
    ("trailing_dot", "1.", "1"),
    ("explicit_plus", "+5", "5"),
    (
        "float_accum",
        "0.1+0.1x9",
        "0.1 0.2 0.30000000000000004 0.4 0.5 0.6 0.7 0.7999999999999999 0.8999999999999999 0.9999999999999999",
    ),
    ("times_zero", "1x0", "1"),
    ("blank_times_zero", "_x0 5", "5"),
    ("mixed", "1+1x2 _ 10-5x2", "1 2 3 _ 10 5 0"),
    ("whitespace", "1   2\t\t3", "1 2 3"),
    ("big_int", "9007199254740993", "9.007199254740992e+15"),
    ("frac_step", "2-0.5x4", "2 1.5 1 0.5 0"),
    ("negatives", "1 -1 -2.5", "1 -1 -2.5"),
    ("stale_between", "1+1x2 stale 3x1", "1 2 3 stale 3 3"),
    ("inf_lower", "inf", "+Inf"),
    ("nan_upper", "NAN", "NaN"),
    ("sci_upper", "2E2", "200"),
    ("sci_plus_exp", "2e+2x1", "200 200"),
    ("neg_step_sci", "1e2-2.5e1x4", "100 75 50 25 0"),
];

#[test]
fn expansion_table() {
    for (case, values, want) in EXPANSIONS {
        let line = format!("exp{{case=\"{case}\"}} {values}");
        let (labels, points) = parse_series(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(render(&points), *want, "{line}");
        assert_eq!(
            labels_to_string(&labels),
            format!("{{__name__=\"exp\", case=\"{case}\"}}")
        );
        let alone = parse_values(values).unwrap_or_else(|e| panic!("{values}: {e}"));
        assert_eq!(render(&alone), *want, "parse_values({values:?})");
    }
}

/// Each expansion's count, sum and last value are what promtool computed for the same
/// values in series.test.yaml (which `promtool test rules` passes).
#[test]
fn expansion_table_matches_promtool_corpus() {
    let file =
        UnitTestFile::load(&corpus_dir().join("series.test.yaml")).expect("series.test.yaml");
    let group = &file.tests[0];
    for (case, values, _) in EXPANSIONS {
        let selector = format!("exp{{case=\"{case}\"}}");
        let input = group
            .input_series
            .iter()
            .find(|s| s.series == selector)
            .unwrap_or_else(|| panic!("{selector} missing from series.test.yaml"));
        assert_eq!(input.values, *values, "{selector}");
        let test = group
            .promql_expr_test
            .iter()
            .find(|t| t.expr.contains(&format!("{selector}[1h]")))
            .unwrap_or_else(|| panic!("no promql_expr_test for {selector}"));
        let expected: BTreeMap<String, f64> = test
            .exp_samples
            .iter()
            .map(|s| {
                let labels = s.parsed_labels().expect("exp_samples labels");
                let f = labels
                    .iter()
                    .find(|(n, _)| n == "f")
                    .map_or("count", |(_, v)| v.as_str());
                (f.to_string(), s.value)
            })
            .collect();
        let (_, points) = parse_series(&format!("{selector} {values}")).expect("parses");
        let samples: Vec<f64> = points
            .iter()
            .filter_map(|p| match p {
                Some(Point::Value(v)) => Some(*v),
                _ => None,
            })
            .collect();
        assert_eq!(expected["count"], samples.len() as f64, "{selector} count");
        if let Some(sum) = expected.get("sum") {
            let mine: f64 = samples.iter().sum();
            assert_eq!(*sum, mine, "{selector} sum");
        }
        if let Some(last) = expected.get("last") {
            assert_eq!(Some(last), samples.last(), "{selector} last");
        }
    }
}

/// Label-set syntax of `series`, as promtool stored it (series.test.yaml, second group).
#[test]
fn selector_table() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{__name__="exp_sel", form="name_label"}"#,
            r#"{__name__="exp_sel", form="name_label"}"#,
        ),
        (
            r#"exp_sel{form="escaped", v="a\"b\\c\n"}"#,
            r#"{__name__="exp_sel", form="escaped", v="a\"b\\c\n"}"#,
        ),
        (
            r#"exp_sel{form='single', v='it\'s'}"#,
            r#"{__name__="exp_sel", form="single", v="it's"}"#,
        ),
        (
            r#"exp_sel{form=`raw`, v=`a\b`}"#,
            r#"{__name__="exp_sel", form="raw", v="a\\b"}"#,
        ),
        (
            r#"exp_sel{form="trailing_comma",}"#,
            r#"{__name__="exp_sel", form="trailing_comma"}"#,
        ),
        (
            r#"exp:sel:colons{form="colons"}"#,
            r#"{__name__="exp:sel:colons", form="colons"}"#,
        ),
        (
            r#"sum{form="keyword_name"}"#,
            r#"{__name__="sum", form="keyword_name"}"#,
        ),
        (
            r#"exp_sel{form="unicode", v="caf\u00e9 \x41"}"#,
            r#"{__name__="exp_sel", form="unicode", v="café A"}"#,
        ),
        ("exp_bare", r#"{__name__="exp_bare"}"#),
        (
            r#"exp_sel{ form = "spaces" , v="x" }"#,
            r#"{__name__="exp_sel", form="spaces", v="x"}"#,
        ),
        (
            r#"exp_sel{form="name_override", __name__="other"}"#,
            r#"{__name__="exp_sel", form="name_override"}"#,
        ),
        (r#"m{a=""}"#, r#"{__name__="m"}"#),
        (r#"{a=""}"#, r#"{a=""}"#),
        ("", "{}"),
    ];
    for (input, want) in cases {
        let labels = parse_selector(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(labels_to_string(&labels), *want, "{input}");
    }
    assert!(parse_selector("m 1").is_err());
    assert!(parse_selector("m _x0").is_err());
}

/// First errors, worded and positioned as Prometheus 2.42 reports them.
#[test]
fn error_table() {
    let cases: &[(&str, &str)] = &[
        // Printed by promtool for bad/bad_series.test.yaml and bad_series_label.test.yaml.
        (
            r#"queue{pool="b"} 1x2.5"#,
            r#"1:19: parse error: invalid repetition in series values: strconv.ParseUint: parsing "2.5": invalid syntax"#,
        ),
        (
            r#"queue{pool!="a"} 1"#,
            r#"1:11: parse error: unexpected <op:!=> in label set, expected "=""#,
        ),
        // From 2.42's ParseSeriesDesc.
        (
            "m 1 2 #",
            "1:7: parse error: unexpected character in series sequence: '#'",
        ),
        ("on 1", "1:1: parse error: unexpected <on> in series values"),
        (
            "m Infinity",
            r#"1:3: parse error: unexpected identifier "Infinity" in series values, expected number or "stale""#,
        ),
        (
            "m 1x",
            "1:5: parse error: unexpected end of input in series values",
        ),
        (
            "m 1e",
            r#"1:3: parse error: error parsing number: strconv.ParseFloat: parsing "1e": invalid syntax"#,
        ),
        (
            "m 1e400",
            r#"1:3: parse error: error parsing number: strconv.ParseFloat: parsing "1e400": value out of range"#,
        ),
        ("m 2x3x4", r#"1:6: parse error: unexpected "x""#),
        (
            "m 1x-2",
            "1:5: parse error: unexpected <op:-> in series values",
        ),
        ("m _+1x2", "1:4: parse error: unexpected <op:+>"),
        ("m 1.5.5", r#"1:6: parse error: unexpected number ".5""#),
        (
            "m 1+ 2",
            r#"1:5: parse error: unexpected " " in series values"#,
        ),
        (
            r#"m{a="b" c="d"} 1"#,
            r#"1:9: parse error: unexpected identifier "c" in label set, expected "," or "}""#,
        ),
        (
            r#"m{a="\q"} 1"#,
            "1:5: parse error: unknown escape sequence U+0071 'q'",
        ),
        (
            "m{a} 1",
            r#"1:4: parse error: unexpected "}" in label set, expected "=""#,
        ),
        (
            "m{",
            "1:3: parse error: unexpected end of input inside braces",
        ),
        (
            r#"m{a="b"}{c="d"} 1"#,
            "1:9: parse error: unexpected character in series sequence: '{'",
        ),
        ("m 0b1", r#"1:3: parse error: bad number syntax: "0""#),
        (
            "1 2",
            r#"1:1: parse error: unexpected number "1" in series values"#,
        ),
        (
            "m stalex2",
            r#"1:3: parse error: unexpected identifier "stalex2" in series values, expected number or "stale""#,
        ),
    ];
    for (input, want) in cases {
        match parse_series(input) {
            Ok(v) => panic!("{input}: parsed as {v:?}"),
            Err(e) => assert_eq!(e.to_string(), *want, "{input}"),
        }
    }
    // parse_values reports columns within the values.
    let e = parse_values("1 2x3x4").expect_err("bad");
    assert_eq!((e.line, e.column), (1, 6));
    // ParseMetric, as promtool printed it for bad/fail_expr.test.yaml.
    let e = parse_metric("queue{pool=a}").expect_err("bad");
    assert_eq!(
        e.to_string(),
        r#"1:12: parse error: unexpected identifier "a" in label set, expected string"#
    );
    // Beyond promtool: a bounded expansion, and no invalid UTF-8 in labels.
    assert!(parse_series("m 1x99999999999").is_err());
    assert!(parse_series("m 1x18446744073709551616").is_err());
    assert!(parse_series(r#"m{a="\xff"} 1"#).is_err());
}

#[test]
fn duration_table() {
    let ok: &[(&str, u64, &str)] = &[
        ("0", 0, "0s"),
        ("0s", 0, "0s"),
        ("100ms", 100, "100ms"),
        ("90s", 90_000, "1m30s"),
        ("5m", 300_000, "5m"),
        ("1h30m", 5_400_000, "1h30m"),
        ("90m", 5_400_000, "1h30m"),
        ("1d", 86_400_000, "1d"),
        ("7d", 604_800_000, "1w"),
        ("1w", 604_800_000, "1w"),
        ("8d", 691_200_000, "8d"),
        ("1y", 31_536_000_000, "1y"),
        ("365d", 31_536_000_000, "1y"),
        // Years and weeks print only when they divide the duration exactly.
        ("1y1w1d1h1m1s1ms", 32_230_861_001, "373d1h1m1s1ms"),
        ("1y52w", 62_985_600_000, "729d"),
        ("14d", 1_209_600_000, "2w"),
        ("21d1h", 1_818_000_000, "21d1h"),
        ("106751d", 9_223_286_400_000, "106751d"),
        ("2h5m", 7_500_000, "2h5m"),
        ("4m59s999ms", 299_999, "4m59s999ms"),
        ("1m5ms", 60_005, "1m5ms"),
        ("0h0m", 0, "0s"),
        ("292y", 292 * 31_536_000_000, "292y"),
    ];
    for (text, millis, shown) in ok {
        let d = Duration::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(d.as_millis(), *millis, "{text}");
        assert_eq!(d.to_string(), *shown, "{text}");
        assert_eq!(Duration::parse(shown), Ok(d), "{shown} round-trips");
    }
    let bad: &[(&str, &str)] = &[
        ("", "empty duration string"),
        ("5", r#"not a valid duration string: "5""#),
        ("90", r#"not a valid duration string: "90""#),
        ("1.5m", r#"not a valid duration string: "1.5m""#),
        ("5m1h", r#"not a valid duration string: "5m1h""#),
        ("1h1h", r#"not a valid duration string: "1h1h""#),
        ("-5m", r#"not a valid duration string: "-5m""#),
        ("5M", r#"not a valid duration string: "5M""#),
        (" 5m", r#"not a valid duration string: " 5m""#),
        ("1ms1s", r#"not a valid duration string: "1ms1s""#),
        ("293y", "duration out of range"),
        ("106752d", "duration out of range"),
        ("99999999999999999999999s", "duration out of range"),
    ];
    for (text, msg) in bad {
        let e = Duration::parse(text).expect_err(text);
        assert_eq!(e.to_string(), *msg, "{text:?}");
    }
}

/// The examples of the module docs.
#[test]
fn doc_examples() {
    let file = UnitTestFile::from_yaml(
        "tests:\n  - interval: 1m\n    input_series:\n      - {series: up, values: 1x2}\n",
        "<input>",
    )
    .expect("loads");
    assert_eq!(file.eval_interval().to_string(), "1m");
    let loaded = file.tests[0].load_series().expect("loads");
    assert_eq!(loaded[0].samples[2], (120_000, Point::Value(1.0)));
    assert_eq!(
        parse_series("up _x2 stale").expect("parses").1,
        vec![None, None, Some(Point::Stale)]
    );
    let (labels, points) = parse_series(r#"up{job="api"} 1+1x2 _ stale"#).expect("parses");
    assert_eq!(labels[0], ("__name__".to_string(), "up".to_string()));
    assert_eq!(points.len(), 5);
    assert_eq!(points[4], Some(Point::Stale));
    assert_eq!(parse_values("").expect("empty"), vec![]);
    assert_eq!(
        parse_values("  1  ").expect("spaces"),
        vec![Some(Point::Value(1.0))]
    );
}

#[test]
fn go_float_table() {
    // As promtool printed {{ $value }} (templates.test.yaml) and Go's %v.
    let cases: &[(f64, &str)] = &[
        (0.123456789, "0.123456789"),
        (1234567.0, "1.234567e+06"),
        (1e-7, "1e-07"),
        (1e21, "1e+21"),
        (1e20, "1e+20"),
        (100000.0, "100000"),
        (-0.0001, "-0.0001"),
        (0.00001, "1e-05"),
        (42.0, "42"),
        (f64::NEG_INFINITY, "-Inf"),
        (f64::INFINITY, "+Inf"),
        (123456.7, "123456.7"),
        (123456789.0, "1.23456789e+08"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
    ];
    for (v, want) in cases {
        assert_eq!(go_float(*v), *want, "{v:e}");
    }
}

/// Case counts per corpus file; the README lists the same numbers.
const CORPUS_CASES: &[(&str, usize)] = &[
    ("functions.test.yaml", 60),
    ("functions_order.test.yaml", 4),
    ("seed.test.yaml", 20),
    ("seed_boundary.test.yaml", 8),
    ("series.test.yaml", 51),
    ("slo.test.yaml", 15),
    ("templates.test.yaml", 11),
    ("thresholds_for.test.yaml", 21),
];

#[test]
fn corpus_files_parse() {
    let dir = corpus_dir();
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .expect("read corpus")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".test.yaml"))
        .collect();
    found.sort();
    let listed: Vec<&str> = CORPUS_CASES.iter().map(|(f, _)| *f).collect();
    assert_eq!(found, listed);
    let mut total = 0;
    for (name, cases) in CORPUS_CASES {
        let path = dir.join(name);
        let file = UnitTestFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
        file.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(file.case_count(), *cases, "{name}");
        total += file.case_count();
        assert!(
            !file.rule_file_paths(&dir).is_empty() || file.rule_files.is_empty(),
            "{name}"
        );
        for group in &file.tests {
            let loaded = group
                .load_series()
                .unwrap_or_else(|e| panic!("{name} / {}: {e}", group.name));
            assert!(
                !loaded.is_empty() || group.input_series.is_empty(),
                "{name}"
            );
            for t in &group.promql_expr_test {
                for s in &t.exp_samples {
                    s.parsed_labels()
                        .unwrap_or_else(|e| panic!("{name}: {}: {e}", s.labels));
                }
            }
        }
    }
    assert_eq!(total, 190);
}

#[test]
fn corpus_details() {
    let dir = corpus_dir();
    let seed = UnitTestFile::load(&dir.join("seed_boundary.test.yaml")).expect("load");
    assert_eq!(seed.eval_interval(), Duration::from_secs(1));
    assert_eq!(
        seed.tests[0].alert_rule_test[1].eval_time,
        Duration::from_millis(299_999)
    );
    let f = UnitTestFile::load(&dir.join("functions.test.yaml")).expect("load");
    assert_eq!(f.group_eval_order, ["fn-records", "fn-alerts"]);
    let inf = &f
        .tests
        .iter()
        .find(|t| t.name == "histogram-quantile")
        .expect("group")
        .promql_expr_test[4];
    assert_eq!(inf.exp_samples[0].value, f64::INFINITY);
    let t = UnitTestFile::load(&dir.join("templates.test.yaml")).expect("load");
    assert_eq!(t.tests[0].external_labels["cluster"], "eu-west1-prod");
    assert_eq!(t.tests[0].external_url, "https://prometheus.example.com");
    // The duplicate series of series.test.yaml: the later entry replaces the earlier one.
    let s = UnitTestFile::load(&dir.join("series.test.yaml")).expect("load");
    let loaded = s.tests[1].load_series().expect("load");
    let dup = loaded
        .iter()
        .find(|l| labels_to_string(&l.labels) == r#"{__name__="exp_pts", case="dup"}"#)
        .expect("dup");
    assert_eq!(dup.samples, vec![(60_000, Point::Value(2.0))]);
}

/// The bad test files: those promtool rejects while reading are rejected here too.
#[test]
fn bad_test_files() {
    let bad = dir("UNITTEST_BAD_DIR", "testdata/bad");
    assert!(bad.is_dir(), "{} not found", bad.display());
    let load = |name: &str| UnitTestFile::load(&bad.join(name));
    for name in [
        "unknown_field.test.yaml",
        "duplicate_key.test.yaml",
        "bad_duration.test.yaml",
        "float_value_string.test.yaml",
    ] {
        assert!(load(name).is_err(), "{name} should not load");
    }
    let missing = load("missing_alertname.test.yaml").expect("loads");
    assert_eq!(
        missing.validate().expect_err("no alertname").to_string(),
        "an item under alert_rule_test misses required attribute alertname at eval_time 1m (in TestGroup nameless)"
    );
    let series = load("bad_series.test.yaml").expect("loads");
    assert_eq!(
        series.tests[0]
            .load_series()
            .expect_err("bad values")
            .to_string(),
        r#"1:19: parse error: invalid repetition in series values: strconv.ParseUint: parsing "2.5": invalid syntax"#
    );
    // interval left out: 0s in 2.42, every point at t=0.
    let zero = load("interval_omitted.test.yaml").expect("loads");
    let points = &zero.tests[0].load_series().expect("loads")[0].samples;
    assert!(points.iter().all(|(t, _)| *t == 0));
    // A values block scalar ending in a newline ends the load: `later` is dropped.
    let nl = load("trailing_newline_values.test.yaml").expect("loads");
    let loaded = nl.tests[0].load_series().expect("loads");
    assert_eq!(loaded.len(), 1);
    assert_eq!(labels_to_string(&loaded[0].labels), r#"{__name__="first"}"#);
    assert!(no_rule_match(
        &load("no_rule_file.test.yaml").expect("loads"),
        &bad
    ));
}

fn no_rule_match(file: &UnitTestFile, dir: &std::path::Path) -> bool {
    file.rule_file_paths(dir).is_empty()
}

/// yaml.v2's leniencies, which promtool 2.42 accepted for this very text.
#[test]
fn yaml_shapes() {
    let text = "rule_files: [y.rules.yaml]\nevaluation_interval:\ngroup_eval_order:\ntests:\n- interval: 1m\n  name:\n  external_labels:\n  input_series:\n  - series: m\n    values: 1 2 3\n  alert_rule_test:\n  - eval_time:\n    alertname: A\n    exp_alerts:\n    - exp_labels: {code: 500, empty: x}\n      exp_annotations:\n  promql_expr_test:\n  - expr: m\n    eval_time: 0\n    exp_samples:\n    - labels: m\n      value: 0b1\n  - expr: vector(8)\n    eval_time: 0\n    exp_samples:\n    - value: 010\n  - expr: vector(0)\n    eval_time: 0\n    exp_samples:\n    - value:\n  - expr: vector(5)\n    eval_time: 0\n    exp_samples:\n    - value: 5\n      labels:\n";
    let f = UnitTestFile::from_yaml(text, "<input>").expect("promtool accepts this");
    assert_eq!(f.eval_interval(), DEFAULT_EVALUATION_INTERVAL);
    let g = &f.tests[0];
    assert_eq!(g.alert_rule_test[0].eval_time, Duration::ZERO);
    assert_eq!(g.alert_rule_test[0].exp_alerts[0].exp_labels["code"], "500");
    assert!(
        g.alert_rule_test[0].exp_alerts[0]
            .exp_annotations
            .is_empty()
    );
    let values: Vec<f64> = g
        .promql_expr_test
        .iter()
        .map(|t| t.exp_samples[0].value)
        .collect();
    assert_eq!(values, [1.0, 8.0, 0.0, 5.0]);
    assert_eq!(g.input_series[0].values, "1 2 3");
    // Rejected by promtool too: quoted numbers, Go's Inf, booleans.
    for v in ["'2'", "Inf", "true"] {
        let text = format!(
            "tests:\n- promql_expr_test:\n  - expr: x\n    exp_samples:\n    - value: {v}\n"
        );
        assert!(UnitTestFile::from_yaml(&text, "<input>").is_err(), "{v}");
    }
    // The YAML spellings of the special values.
    let text = "tests:\n- promql_expr_test:\n  - expr: x\n    exp_samples:\n    - value: .inf\n    - value: -.Inf\n    - value: .nan\n    - value: 0x2\n    - value: 1_000\n";
    let f = UnitTestFile::from_yaml(text, "<input>").expect("loads");
    let v: Vec<f64> = f.tests[0].promql_expr_test[0]
        .exp_samples
        .iter()
        .map(|s| s.value)
        .collect();
    assert_eq!(
        (v[0], v[1], v[3], v[4]),
        (f64::INFINITY, f64::NEG_INFINITY, 2.0, 1000.0)
    );
    assert!(v[2].is_nan());
    assert!(
        UnitTestFile::from_yaml("", "<input>")
            .expect("empty")
            .tests
            .is_empty()
    );
    assert!(UnitTestFile::from_yaml("tests: [1", "<input>").is_err());
}
