//! Tests: expansions checked against real Go (`tests/go_cases.rs`, from
//! `goref/`), error positions, the `query` restriction, Go float printing,
//! known divergences, stack safety and a no-panic fuzz run.

mod go_cases;

use std::collections::BTreeMap;

use super::{Data, Template, TemplateError, expand, go_float};

/// One expansion verified with Go (see `goref/cases.txt`).
pub(super) struct GoCase {
    pub(super) name: &'static str,
    /// Which alert value the case runs with (`goref/main.go` datasets).
    pub(super) dataset: &'static str,
    pub(super) text: &'static str,
    pub(super) want: &'static str,
}

/// The alert value of a dataset of `goref/main.go`.
fn dataset_value(name: &str) -> f64 {
    match name {
        "a" => 0.123456789,
        "big" => 1234567.0,
        "tiny" => 1e-7,
        "zero" => 0.0,
        "negzero" => -0.0,
        "nan" => f64::NAN,
        "inf" => f64::INFINITY,
        "neginf" => f64::NEG_INFINITY,
        "e21" => 1e21,
        "e20" => 1e20,
        "n9" => 123456789.0,
        "e-5" => 1e-5,
        "e-4" => 0.0001,
        "pt3" => 0.1 + 0.2,
        "neg" => -1234.5678,
        "int" => 42.0,
        "dur" => 93784.5,
        "ts" => 1700000000.123,
        "frac" => 12345.678,
        other => panic!("unknown dataset {other}"),
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The fixture of `goref/main.go` and `promtool/`.
struct Fixture {
    labels: BTreeMap<String, String>,
    external_labels: BTreeMap<String, String>,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            labels: map(&[
                ("instance", "host.example.com:9090"),
                ("job", "node"),
                ("severity", "critical"),
                ("msg", "disk \"sda\" <90% & rising"),
            ]),
            external_labels: map(&[("cluster", "prod-eu"), ("region", "eu-west-1")]),
        }
    }

    fn data(&self, value: f64) -> Data<'_> {
        Data {
            labels: &self.labels,
            external_labels: &self.external_labels,
            external_url: "http://prom.example.com:9090/prometheus",
            value,
        }
    }
}

const NAME: &str = "__alert_T";

/// Cases whose result depends on Go's own regexp engine (see above).
const REGEX_ENGINE_CASES: [&str; 7] = [
    "regex_posix_bad",
    "re_replace_bad2",
    "re_errors",
    "regex_more",
    "regex_replace_edge",
    "regex_nested_repeat_error",
    "regex_repeat_op_error",
];

#[test]
fn go_cases_expand_like_go() {
    let fx = Fixture::new();
    let mut failures = Vec::new();
    for case in go_cases::GO_CASES {
        let got = expand(NAME, case.text, &fx.data(dataset_value(case.dataset)));
        // Regexps compile with the `regex` crate (as PromQL's matchers do): the same
        // RE2 syntax, other error details, and a few corners where Go 1.19 differs:
        // `\Q…\E`, `(?U)`, `a{,2}` as a literal, `a**`, `{1001}` and `[[:foo:]]` refused by Go.
        if let Some((want, _)) = case.want.split_once("error parsing regexp: ")
            && got.starts_with(want)
        {
            continue;
        }
        if REGEX_ENGINE_CASES.contains(&case.name) {
            continue;
        }
        if got != case.want {
            failures.push(format!(
                "{}:\n  want {:?}\n  got  {:?}",
                case.name, case.want, got
            ));
        }
    }
    assert!(go_cases::GO_CASES.len() >= 60);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn parsed_templates_are_reusable() {
    let fx = Fixture::new();
    let t = Template::parse(NAME, "{{ $labels.job }}={{ humanize $value }}").unwrap();
    assert!(!t.is_static());
    assert_eq!(t.render(&fx.data(1234567.0)).unwrap(), "node=1.235M");
    assert_eq!(t.render(&fx.data(0.5)).unwrap(), "node=500m");
    let other = map(&[("job", "api")]);
    let data = Data {
        labels: &other,
        ..fx.data(2.0)
    };
    assert_eq!(t.render(&data).unwrap(), "api=2");
}

#[test]
fn text_without_actions_is_static() {
    let fx = Fixture::new();
    for text in ["", "plain", "a } b }} c {", "{ {"] {
        let t = Template::parse(NAME, text).unwrap();
        assert!(t.is_static(), "{text}");
        assert_eq!(t.render(&fx.data(1.0)).unwrap(), text);
        assert_eq!(t.text(), text);
        assert_eq!(t.name(), NAME);
    }
}

#[test]
fn templates_are_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Template>();
    check::<TemplateError>();
}

#[test]
fn missing_labels_print_nothing() {
    // Prometheus runs templates with missingkey=zero: a missing label is "".
    let fx = Fixture::new();
    let got = expand(
        NAME,
        "[{{ $labels.nope }}][{{ .Labels.nope }}]",
        &fx.data(1.0),
    );
    assert_eq!(got, "[][]");
}

#[test]
fn query_is_rejected_when_parsing() {
    let err = Template::parse(NAME, "ok\n  {{ query \"up\" | first | value }}").unwrap_err();
    match &err {
        TemplateError::Parse {
            line,
            column,
            message,
            ..
        } => {
            assert_eq!((*line, *column), (2, 6));
            assert_eq!(
                message,
                "function \"query\" is not supported: templates cannot run PromQL queries here"
            );
        }
        other => panic!("not a parse error: {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "template: __alert_T:2: function \"query\" is not supported: templates cannot run PromQL queries here"
    );
    let fx = Fixture::new();
    assert_eq!(
        expand(NAME, "{{ with query \"up\" }}{{ end }}", &fx.data(1.0)),
        "<error expanding template: error parsing template __alert_T: template: __alert_T:1: function \"query\" is not supported: templates cannot run PromQL queries here>"
    );
}

fn parse_err(text: &str) -> (usize, usize, String) {
    match Template::parse(NAME, text) {
        Err(TemplateError::Parse {
            line,
            column,
            message,
            ..
        }) => (line, column, message),
        other => panic!("{text:?}: expected a parse error, got {other:?}"),
    }
}

#[test]
fn parse_errors_carry_positions() {
    let cases = [
        ("{{ $value", 1, 10, "unclosed action"),
        ("a\n{{ foo }}", 2, 4, "function \"foo\" not defined"),
        ("x\n\n  {{ $nope }}", 3, 6, "undefined variable \"$nope\""),
        ("{{ if true }}x", 1, 15, "unexpected EOF"),
        ("{{ end }}", 1, 4, "unexpected {{end}}"),
        (
            "{{ if 1 }}{{ else }}{{ else }}{{ end }}",
            1,
            24,
            "expected end; found {{else}}",
        ),
        (
            "{{ 3 | 4 }}",
            1,
            10,
            "non executable command in pipeline stage 2",
        ),
        ("é {{ \"x }}", 1, 7, "unterminated quoted string"),
        (
            "{{ printf \"%s\"\n\"x }}",
            2,
            1,
            "unterminated quoted string in action started at __alert_T:1",
        ),
        ("{{ $nope\n}}", 1, 4, "undefined variable \"$nope\""),
    ];
    for (text, line, column, message) in cases {
        assert_eq!(
            parse_err(text),
            (line, column, message.to_owned()),
            "{text:?}"
        );
    }
    // Go's message names the line of its look-ahead token.
    let err = Template::parse(NAME, "{{ $nope\n}}").unwrap_err();
    assert!(matches!(
        err,
        TemplateError::Parse {
            line: 1,
            go_line: 2,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "template: __alert_T:2: undefined variable \"$nope\""
    );
}

#[test]
fn exec_errors_carry_positions() {
    let fx = Fixture::new();
    let t = Template::parse(NAME, "line one\n  x {{ humanize \"abc\" }}").unwrap();
    let err = t.render(&fx.data(1.0)).unwrap_err();
    match &err {
        TemplateError::Exec {
            line,
            column,
            template,
            context,
            message,
            ..
        } => {
            assert_eq!((*line, *column), (2, 8));
            assert_eq!(template, NAME);
            assert_eq!(context, "humanize \"abc\"");
            assert_eq!(
                message,
                "error calling humanize: strconv.ParseFloat: parsing \"abc\": invalid syntax"
            );
        }
        other => panic!("not an exec error: {other:?}"),
    }
    assert_eq!(
        err.message(),
        "error calling humanize: strconv.ParseFloat: parsing \"abc\": invalid syntax"
    );
    // Go's column is 0-based and, on line 1, counts the prelude.
    let err = Template::parse(NAME, "{{ $value.x }}")
        .unwrap()
        .render(&fx.data(1.0))
        .unwrap_err();
    // As in Go, `$value.x` is positioned at its first field (`.x`).
    assert!(matches!(
        err,
        TemplateError::Exec {
            line: 1,
            column: 10,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "template: __alert_T:1:121: executing \"__alert_T\" at <$value.x>: can't evaluate field x in type float64"
    );
    assert_eq!(
        t.expand(&fx.data(1.0)),
        "<error expanding template: error executing template __alert_T: template: __alert_T:2:7: executing \"__alert_T\" at <humanize \"abc\">: error calling humanize: strconv.ParseFloat: parsing \"abc\": invalid syntax>"
    );
}

#[test]
fn go_float_matches_fmt_sprint() {
    // From `goref floats`: fmt.Sprint(v) in Go.
    let one = 0.1;
    let cases: [(f64, &str); 25] = [
        (0.0, "0"),
        (-0.0, "-0"),
        (1e21, "1e+21"),
        (1e20, "1e+20"),
        (123456789.0, "1.23456789e+08"),
        (1e-5, "1e-05"),
        (0.0001, "0.0001"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (one + 0.2, "0.30000000000000004"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (0.000012345, "1.2345e-05"),
        (1234567.0, "1.234567e+06"),
        (2.5e-05, "2.5e-05"),
        (12345.678, "12345.678"),
        (0.1, "0.1"),
        (1.5, "1.5"),
        (-2.75, "-2.75"),
        (1e-7, "1e-07"),
        (0.123456789, "0.123456789"),
        (999999.9999, "999999.9999"),
    ];
    for (v, want) in cases {
        assert_eq!(go_float(v), want, "{v:e}");
    }
}

/// The templates of `promtool/templates.rules.yaml`.
const PROMTOOL_TEMPLATES: &[(&str, &str)] = &[
    (
        "severity",
        r#"{{ if gt $value 1.0 }}critical{{ else }}warning{{ end }}"#,
    ),
    ("host", r#"{{ $labels.instance | stripPort }}"#),
    (
        "summary",
        r#"Instance {{ $labels.instance }} of job {{ $labels.job }} in {{ $externalLabels.cluster }}/{{ .ExternalLabels.region }}"#,
    ),
    ("value", r#"{{ $value }}"#),
    ("humanized", r#"{{ humanize $value }}"#),
    ("humanized1024", r#"{{ humanize1024 $value }}"#),
    ("percentage", r#"{{ humanizePercentage $value }}"#),
    ("duration", r#"{{ humanizeDuration $value }}"#),
    ("fixed", r#"{{ printf "%.2f" $value }}"#),
    (
        "formats",
        r#"{{ printf "%g|%e|%8.3f|%d|%s" $value $value $value 42 $labels.job }}"#,
    ),
    (
        "missing",
        r#"[{{ $labels.nonexistent }}][{{ index $labels "nonexistent" }}]"#,
    ),
    (
        "url",
        r#"{{ $externalURL }}{{ graphLink "template_test_value > 0" }}"#,
    ),
    (
        "text",
        r#"{{ toUpper $labels.job }} {{ title "disk full" }} {{ reReplaceAll "(.+)\\.example\\.com:.*" "$1" $labels.instance }} {{ stripDomain $labels.instance }}"#,
    ),
    (
        "control",
        r#"{{- range $k, $v := $labels }}{{ if ne $k "__name__" }}{{ $k }}={{ $v }};{{ end }}{{ end -}} {{ with $labels.team }} team={{ . }}{{ else }} no team{{ end }}"#,
    ),
    ("error", r#"{{ humanize $labels.job }}"#),
];

/// `promtool test rules promtool/templates.test.yaml` passes with these
/// expansions (Prometheus 2.42); the port must produce the same.
#[test]
fn promtool_fixture() {
    let external = map(&[("cluster", "prod-eu"), ("region", "eu-west-1")]);
    let alerts: [(&str, &str, f64, [&str; 15]); 3] = [
        (
            "a.example.com:9100",
            "node",
            0.123456789,
            [
                r#"warning"#,
                r#"a.example.com"#,
                r#"Instance a.example.com:9100 of job node in prod-eu/eu-west-1"#,
                r#"0.123456789"#,
                r#"123.5m"#,
                r#"0.1235"#,
                r#"12.35%"#,
                r#"123.5ms"#,
                r#"0.12"#,
                r#"0.123456789|1.234568e-01|   0.123|42|node"#,
                r#"[][]"#,
                r#"http://prom.example.com:9090/prometheus/graph?g0.expr=template_test_value+%3E+0&g0.tab=0"#,
                r#"NODE Disk Full a a:9100"#,
                r#"instance=a.example.com:9100;job=node; no team"#,
                r#"<error expanding template: error executing template __alert_TemplateExpansion: template: __alert_TemplateExpansion:1:115: executing "__alert_TemplateExpansion" at <humanize $labels.job>: error calling humanize: strconv.ParseFloat: parsing "node": invalid syntax>"#,
            ],
        ),
        (
            "b.example.com:9100",
            "node",
            1234567.0,
            [
                r#"critical"#,
                r#"b.example.com"#,
                r#"Instance b.example.com:9100 of job node in prod-eu/eu-west-1"#,
                r#"1.234567e+06"#,
                r#"1.235M"#,
                r#"1.177Mi"#,
                r#"1.235e+08%"#,
                r#"14d 6h 56m 7s"#,
                r#"1234567.00"#,
                r#"1.234567e+06|1.234567e+06|1234567.000|42|node"#,
                r#"[][]"#,
                r#"http://prom.example.com:9090/prometheus/graph?g0.expr=template_test_value+%3E+0&g0.tab=0"#,
                r#"NODE Disk Full b b:9100"#,
                r#"instance=b.example.com:9100;job=node; no team"#,
                r#"<error expanding template: error executing template __alert_TemplateExpansion: template: __alert_TemplateExpansion:1:115: executing "__alert_TemplateExpansion" at <humanize $labels.job>: error calling humanize: strconv.ParseFloat: parsing "node": invalid syntax>"#,
            ],
        ),
        (
            "10.0.0.3:9100",
            "api",
            1e-7,
            [
                r#"warning"#,
                r#"10.0.0.3"#,
                r#"Instance 10.0.0.3:9100 of job api in prod-eu/eu-west-1"#,
                r#"1e-07"#,
                r#"100n"#,
                r#"1e-07"#,
                r#"1e-05%"#,
                r#"100ns"#,
                r#"0.00"#,
                r#"1e-07|1.000000e-07|   0.000|42|api"#,
                r#"[][]"#,
                r#"http://prom.example.com:9090/prometheus/graph?g0.expr=template_test_value+%3E+0&g0.tab=0"#,
                r#"API Disk Full 10.0.0.3:9100 10.0.0.3:9100"#,
                r#"instance=10.0.0.3:9100;job=api; no team"#,
                r#"<error expanding template: error executing template __alert_TemplateExpansion: template: __alert_TemplateExpansion:1:115: executing "__alert_TemplateExpansion" at <humanize $labels.job>: error calling humanize: strconv.ParseFloat: parsing "api": invalid syntax>"#,
            ],
        ),
    ];
    for (instance, job, value, wants) in alerts {
        let labels = map(&[
            ("__name__", "template_test_value"),
            ("instance", instance),
            ("job", job),
        ]);
        let data = Data {
            labels: &labels,
            external_labels: &external,
            external_url: "http://prom.example.com:9090/prometheus",
            value,
        };
        for ((key, text), want) in PROMTOOL_TEMPLATES.iter().zip(wants) {
            let got = expand("__alert_TemplateExpansion", text, &data);
            assert_eq!(got, want, "{instance} {key}");
        }
    }
}

/// Where this port knowingly differs from Prometheus 2.42.
#[test]
fn divergences() {
    let fx = Fixture::new();
    let data = fx.data(1.0);
    // Unicode classes work, as in Go.
    assert_eq!(expand(NAME, r#"{{ match "\\pL" "a" }}"#, &data), "true");
    // Template recursion stops at depth 100 (Go: 100000).
    let text = r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}"#;
    assert!(expand(NAME, text, &data).ends_with("exceeded maximum template depth (100)>"));
    // Methods of toTime's *time.Time are not supported (Go: 1700000000).
    assert!(
        expand(NAME, "{{ (toTime 1700000000).Unix }}", &data)
            .ends_with("can't evaluate field Unix in type *time.Time>")
    );
    // Complex number literals are rejected (Go: (0+1i)).
    assert!(expand(NAME, "{{ 1i }}", &data).ends_with("complex number 1i is not supported>"));
}

/// Runs `f` on a thread with a 2 MiB stack, the default of Rust threads.
fn on_small_stack(f: impl FnOnce() -> String + Send + 'static) -> String {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .and_then(|h| h.join().map_err(|_| std::io::Error::other("panicked")))
        .unwrap()
}

#[test]
fn deep_nesting_fails_cleanly() {
    let n = 1000;
    let texts = [
        format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n)),
        format!("{}x{}", "{{if 1}}".repeat(n), "{{end}}".repeat(n)),
        format!("{}x{}", "{{define \"a\"}}".repeat(2), "{{end}}".repeat(2)),
        format!(
            "{{{{ match \"{}a{}\" \"a\" }}}}",
            "(".repeat(n),
            ")*".repeat(n)
        ),
    ];
    let wants = [
        "max expression depth exceeded>",
        "max nesting depth exceeded>",
        "unexpected <define> in command>",
        "exceed the maximum number of nested parentheses",
    ];
    for (text, want) in texts.into_iter().zip(wants) {
        let got = on_small_stack(move || {
            let fx = Fixture::new();
            expand(NAME, &text, &fx.data(1.0))
        });
        assert!(got.contains(want), "{got}");
    }
    // The deepest accepted nesting still runs on a small stack.
    let text = format!(
        "{}{{{{ {}1{} }}}}{}",
        "{{with 1}}".repeat(19),
        "(len (print ".repeat(10),
        "))".repeat(10),
        "{{end}}".repeat(19)
    );
    assert_eq!(
        on_small_stack(move || expand(NAME, &text, &Fixture::new().data(1.0))),
        "1"
    );
}

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_input_never_panics() {
    const PIECES: &[&str] = &[
        "{{",
        "}}",
        "{{-",
        "-}}",
        " ",
        "\n",
        "(",
        ")",
        "|",
        "$",
        "$x",
        ":=",
        "=",
        ".",
        ",",
        "$labels",
        ".Labels",
        ".job",
        "$value",
        "if",
        "else",
        "end",
        "range",
        "with",
        "define",
        "template",
        "block",
        "break",
        "continue",
        "nil",
        "true",
        "1",
        "-2",
        "1.5e3",
        "0x1F",
        "'a'",
        "\"s\"",
        "\"%d %s %v %x %5.2f %q %!\"",
        "`r`",
        "/*",
        "*/",
        "printf",
        "print",
        "index",
        "slice",
        "len",
        "eq",
        "lt",
        "and",
        "or",
        "not",
        "html",
        "js",
        "humanize",
        "humanizeDuration",
        "humanizeTimestamp",
        "toTime",
        "title",
        "match",
        "reReplaceAll",
        "\"(a|b)*\"",
        "\"[^x]+$\"",
        "\"a{2,}?\"",
        "\"(?i)\\\\w+\"",
        "args",
        "stripDomain",
        "parseDuration",
        "\"1h30m\"",
        "first",
        "label",
        "safeHtml",
        "é",
        "\u{0}",
        "}",
    ];
    let fx = Fixture::new();
    let data = fx.data(0.25);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..30_000 {
        let text: String = if i % 3 == 0 {
            let len = rng.below(64);
            let bytes: Vec<u8> = (0..len)
                .map(|_| match rng.below(4) {
                    0 => b"{}()$.|\"'`-:= \n"[rng.below(15)],
                    _ => rng.below(256) as u8,
                })
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else if i % 3 == 1 {
            (0..rng.below(24))
                .map(|_| PIECES[rng.below(PIECES.len())])
                .collect()
        } else {
            // Mutate a verified case.
            let base = go_cases::GO_CASES[rng.below(go_cases::GO_CASES.len())].text;
            let mut chars: Vec<char> = base.chars().collect();
            for _ in 0..1 + rng.below(3) {
                if chars.is_empty() {
                    break;
                }
                let at = rng.below(chars.len());
                match rng.below(3) {
                    0 => {
                        chars.remove(at);
                    }
                    1 => chars.insert(at, ['{', '}', '(', ')', '"', '$', ' ', '|'][rng.below(8)]),
                    _ => chars.truncate(at),
                }
            }
            chars.into_iter().collect()
        };
        let out = expand(NAME, &text, &data);
        assert!(out.len() < 1 << 22, "{text:?}");
    }
}
