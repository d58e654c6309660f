//! The text format 0.0.4, rule by rule.

use std::borrow::Cow;

use super::super::{Entry, MetricType, parse};
use super::{labels, one, samples};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn names_may_hold_colons_as_vllm_writes_them() {
    let s = one("vllm:num_requests_waiting{model_name=\"m\"} 3\n");
    assert_eq!((s.name, s.value), ("vllm:num_requests_waiting", 3.0));
    assert_eq!(one(":leading_colon 1").name, ":leading_colon");
    assert_eq!(one("_under_9 1").name, "_under_9");
}

#[test]
fn a_sample_without_labels_has_none() {
    let s = one("up 1");
    assert_eq!((s.name, s.value, s.timestamp_ms), ("up", 1.0, None));
    assert_eq!(s.labels().count(), 0);
    assert_eq!(s.raw_labels(), "");
}

#[test]
fn an_empty_label_set_is_no_labels() {
    let s = one("up{} 1");
    assert_eq!((s.name, s.value), ("up", 1.0));
    assert_eq!(s.labels().count(), 0);
}

#[test]
fn labels_come_in_written_order() {
    let s = one(r#"m{b="2",a="1",_c9="3"} 1"#);
    assert_eq!(labels(&s), pairs(&[("b", "2"), ("a", "1"), ("_c9", "3")]));
    assert_eq!(s.label("a").as_deref(), Some("1"));
    assert_eq!(s.label("z"), None);
}

#[test]
fn a_trailing_comma_closes_a_label_set() {
    assert_eq!(labels(&one(r#"m{a="1",} 1"#)), pairs(&[("a", "1")]));
    assert_eq!(labels(&one(r#"m{a="1" , } 1"#)), pairs(&[("a", "1")]));
}

#[test]
fn label_values_unescape_backslash_quote_and_newline() {
    let s =
        one(r#"m{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9"#);
    assert_eq!(
        labels(&s),
        pairs(&[
            ("path", r"C:\DIR\FILE.TXT"),
            ("error", "Cannot find file:\n\"FILE.TXT\"")
        ])
    );
    assert_eq!(s.value, 1.458255915e9);
}

#[test]
fn only_values_with_escapes_are_copied() {
    let s = one(r#"m{plain="abc",esc="a\\b"} 1"#);
    assert!(matches!(s.label("plain"), Some(Cow::Borrowed("abc"))));
    assert!(matches!(s.label("esc"), Some(Cow::Owned(v)) if v == r"a\b"));
}

#[test]
fn quoted_values_may_hold_commas_braces_hashes_and_equals() {
    let s = one(r##"m{a="x,y",b="{}}",c="# not a comment",d="k=v",e=""} 2"##);
    assert_eq!(
        labels(&s),
        pairs(&[
            ("a", "x,y"),
            ("b", "{}}"),
            ("c", "# not a comment"),
            ("d", "k=v"),
            ("e", "")
        ])
    );
}

#[test]
fn label_values_may_be_any_utf8() {
    let s = one("m{who=\"Zoë ✓ 東京\"} 1");
    assert_eq!(s.label("who").as_deref(), Some("Zoë ✓ 東京"));
}

#[test]
fn blanks_and_tabs_between_tokens_as_go_allows() {
    let s = one("  m \t{ a = \"1\" ,\tb=\"2\" }\t 7 \t 1000 \t");
    assert_eq!(s.name, "m");
    assert_eq!(labels(&s), pairs(&[("a", "1"), ("b", "2")]));
    assert_eq!((s.value, s.timestamp_ms), (7.0, Some(1000)));
    assert_eq!(one("m{a=\"1\"}7").value, 7.0, "no blank needed after `}}`");
}

#[test]
fn special_values() {
    assert!(one("m NaN").value.is_nan());
    assert_eq!(one("m +Inf").value, f64::INFINITY);
    assert_eq!(one("m Inf").value, f64::INFINITY);
    assert_eq!(one("m -Inf").value, f64::NEG_INFINITY);
    assert!(one("m nan").value.is_nan(), "any case, as Go's ParseFloat");
}

#[test]
fn numeric_values() {
    assert_eq!(one("m 1.372014592e+010").value, 1.372014592e10);
    assert_eq!(one("m 7.557572e+06").value, 7_557_572.0);
    assert_eq!(one("m -1.5E-3").value, -0.0015);
    assert_eq!(one("m 0.0011764705882353343").value, 0.0011764705882353343);
    assert_eq!(one("m 42").value, 42.0);
    assert_eq!(one("m +3").value, 3.0);
    assert_eq!(one("m .5").value, 0.5);
    assert_eq!(one("m 18446744073709551616").value, 18446744073709551616.0);
}

#[test]
fn timestamps_are_integer_milliseconds_and_may_be_negative() {
    assert_eq!(
        one("m 1 1395066363000").timestamp_ms,
        Some(1_395_066_363_000)
    );
    assert_eq!(
        one(r#"something_weird{problem="division by zero"} +Inf -3982045"#).timestamp_ms,
        Some(-3_982_045)
    );
    assert_eq!(one("m 1").timestamp_ms, None);
}

#[test]
fn help_and_type_lines() {
    let body = "# HELP m Some text with \\\\ and \\n escapes.\n# TYPE m counter\nm 1\n";
    let entries: Vec<_> = parse(body).map(Result::unwrap).collect();
    assert_eq!(
        entries[0],
        Entry::Help {
            family: "m",
            text: Cow::Owned("Some text with \\ and \n escapes.".to_owned())
        }
    );
    assert_eq!(
        entries[1],
        Entry::Type {
            family: "m",
            kind: MetricType::Counter
        }
    );
    assert_eq!(entries.len(), 3);
}

#[test]
fn help_text_is_borrowed_without_escapes_and_may_be_empty() {
    let entries: Vec<_> = parse("# HELP a plain text \n# HELP b\n# HELP vllm:c x")
        .map(Result::unwrap)
        .collect();
    assert!(matches!(
        &entries[0],
        Entry::Help {
            family: "a",
            text: Cow::Borrowed("plain text ")
        }
    ));
    assert!(matches!(&entries[1], Entry::Help { family: "b", text } if text.is_empty()));
    assert!(matches!(&entries[2], Entry::Help { family: "vllm:c", text } if text == "x"));
}

#[test]
fn every_type_word_in_any_case() {
    let words = [
        ("counter", MetricType::Counter),
        ("GAUGE", MetricType::Gauge),
        ("histogram", MetricType::Histogram),
        ("summary", MetricType::Summary),
        ("untyped", MetricType::Untyped),
        ("info", MetricType::Info),
        ("stateset", MetricType::StateSet),
        ("gaugehistogram", MetricType::GaugeHistogram),
        ("unknown", MetricType::Unknown),
    ];
    for (word, kind) in words {
        let line = format!("#  TYPE\tf {word} ");
        let entries: Vec<_> = parse(&line).collect();
        assert_eq!(entries, [Ok(Entry::Type { family: "f", kind })], "{word}");
    }
}

#[test]
fn other_comments_and_blank_lines_yield_nothing() {
    let body =
        "\n# just a comment\n#\n   \n\t\n# HELPER not help\n#TYPEx y\n# EOF but not quite\nm 1\n\n";
    assert_eq!(samples(body).len(), 1);
    assert_eq!(parse(body).count(), 1);
}

#[test]
fn crlf_line_ends() {
    let body = "# HELP m text\r\n# TYPE m gauge\r\nm{a=\"b\"} 1 1000\r\nn 2\r\n";
    let all = samples(body);
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].value, all[0].timestamp_ms), (1.0, Some(1000)));
    assert_eq!(all[1].value, 2.0);
    let help = parse(body).next();
    assert!(matches!(
        help,
        Some(Ok(Entry::Help {
            text: Cow::Borrowed("text"),
            ..
        }))
    ));
}

#[test]
fn a_body_without_a_final_newline_keeps_its_last_line() {
    assert_eq!(samples("a 1\nb 2").len(), 2);
    assert_eq!(parse("").count(), 0);
}
