//! Malformed lines: each is an error with its line number, and only that line is lost.

use super::super::{ErrorKind, ParseError, parse, parse_all};
use super::{error, errors, samples};

fn s(text: &str) -> String {
    text.to_owned()
}

#[test]
fn bad_metric_names() {
    assert_eq!(error("9lives 1"), ErrorKind::InvalidMetricName(s("9lives")));
    assert_eq!(
        error("foo-bar 1"),
        ErrorKind::InvalidMetricName(s("foo-bar"))
    );
    assert_eq!(
        error("foo.bar{a=\"b\"} 1"),
        ErrorKind::InvalidMetricName(s("foo.bar"))
    );
    assert_eq!(error("{a=\"b\"} 1"), ErrorKind::InvalidMetricName(s("")));
    assert_eq!(
        error("# TYPE 9x gauge"),
        ErrorKind::InvalidMetricName(s("9x"))
    );
    assert_eq!(
        error("# HELP x{ text"),
        ErrorKind::InvalidMetricName(s("x{"))
    );
}

#[test]
fn bad_label_names() {
    assert_eq!(
        error(r#"m{9a="b"} 1"#),
        ErrorKind::InvalidLabelName(s("9a"))
    );
    assert_eq!(
        error(r#"m{a:b="c"} 1"#),
        ErrorKind::InvalidLabelName(s("a:b")),
        "no colons in label names"
    );
    assert_eq!(
        error(r#"m{a-b="c"} 1"#),
        ErrorKind::InvalidLabelName(s("a-b"))
    );
    assert_eq!(error(r#"m{,} 1"#), ErrorKind::InvalidLabelName(s("")));
    assert_eq!(
        error(r#"m{a="1",,b="2"} 1"#),
        ErrorKind::InvalidLabelName(s(""))
    );
}

#[test]
fn label_syntax() {
    assert_eq!(error(r#"m{a} 1"#), ErrorKind::ExpectedEquals(s("a")));
    assert_eq!(error(r#"m{a "b"} 1"#), ErrorKind::ExpectedEquals(s("a")));
    assert_eq!(error(r#"m{a=b} 1"#), ErrorKind::ExpectedQuote(s("a")));
    assert_eq!(error(r#"m{a='b'} 1"#), ErrorKind::ExpectedQuote(s("a")));
    assert_eq!(
        error(r#"m{a="b" c="d"} 1"#),
        ErrorKind::ExpectedCommaOrBrace(s("a"))
    );
    assert_eq!(error(r#"m{a="b""#), ErrorKind::UnclosedLabels);
    assert_eq!(error(r#"m{a="b","#), ErrorKind::UnclosedLabels);
    assert_eq!(error("m{"), ErrorKind::UnclosedLabels);
}

#[test]
fn unterminated_quotes() {
    assert_eq!(error(r#"m{a="b} 1"#), ErrorKind::UnterminatedValue(s("a")));
    assert_eq!(
        error(r#"m{a="b\"} 1"#),
        ErrorKind::UnterminatedValue(s("a")),
        "the quote is escaped"
    );
    assert_eq!(error(r#"m{a="b\"#), ErrorKind::UnterminatedValue(s("a")));
}

#[test]
fn bad_escapes() {
    let bad = |escape| ErrorKind::InvalidEscape {
        label: s("a"),
        escape,
    };
    assert_eq!(error(r#"m{a="\t"} 1"#), bad('t'));
    assert_eq!(error(r#"m{a="x\ y"} 1"#), bad(' '));
    assert_eq!(error("m{a=\"\\é\"} 1"), bad('é'));
    assert_eq!(
        error("# HELP m bad \\t escape"),
        ErrorKind::InvalidHelpEscape('t')
    );
    assert_eq!(error("# HELP m ends in \\"), ErrorKind::HelpEndsInBackslash);
}

#[test]
fn duplicate_label_names() {
    assert_eq!(
        error(r#"m{a="1",b="2",a="3"} 1"#),
        ErrorKind::DuplicateLabel(s("a"))
    );
    assert!(
        errors(r#"m{a="1",aa="2",b="1"} 1"#).is_empty(),
        "prefixes are other names"
    );
}

#[test]
fn missing_and_garbage_values() {
    assert_eq!(error("m"), ErrorKind::MissingValue(s("m")));
    assert_eq!(error("m   "), ErrorKind::MissingValue(s("m")));
    assert_eq!(error(r#"m{a="b"}"#), ErrorKind::MissingValue(s("m")));
    assert_eq!(error("m abc"), ErrorKind::InvalidValue(s("abc")));
    assert_eq!(error("m 1,5"), ErrorKind::InvalidValue(s("1,5")));
    assert_eq!(error("m 0x10"), ErrorKind::InvalidValue(s("0x10")));
    assert_eq!(error("m 1#"), ErrorKind::InvalidValue(s("1#")));
}

#[test]
fn bad_timestamps_and_trailing_text() {
    let ms = "integer milliseconds";
    assert_eq!(
        error("m 1 12.5"),
        ErrorKind::InvalidTimestamp(s("12.5"), ms)
    );
    assert_eq!(
        error("m 1 soon"),
        ErrorKind::InvalidTimestamp(s("soon"), ms)
    );
    assert_eq!(
        error("m 1 99999999999999999999"),
        ErrorKind::InvalidTimestamp(s("99999999999999999999"), ms)
    );
    assert_eq!(error("m 1 2 3"), ErrorKind::TrailingText(s("3")));
}

#[test]
fn bad_type_lines() {
    assert_eq!(error("# TYPE m"), ErrorKind::MissingType(s("m")));
    assert_eq!(
        error("# TYPE m gauge extra"),
        ErrorKind::TrailingText(s("extra"))
    );
    assert_eq!(
        error("# TYPE m meter"),
        ErrorKind::UnknownType {
            family: s("m"),
            kind: s("meter")
        }
    );
    assert_eq!(error("# TYPE"), ErrorKind::MissingFamily("TYPE"));
    assert_eq!(error("# HELP  "), ErrorKind::MissingFamily("HELP"));
}

#[test]
fn a_second_type_line_is_an_error_in_parse_all() {
    let scrape = parse_all("# TYPE m gauge\nm 1\n# TYPE m counter\nm 2\n");
    assert_eq!(
        scrape.errors,
        [ParseError {
            line: 3,
            kind: ErrorKind::DuplicateType(s("m"))
        }]
    );
    assert_eq!(scrape.samples.len(), 2);
    assert!(
        scrape
            .samples
            .iter()
            .all(|(k, _)| *k == super::super::MetricType::Gauge),
        "the first TYPE stays"
    );
}

#[test]
fn text_after_eof() {
    let found = errors("m 1\n# EOF\nn 2\no 3\n");
    assert_eq!(
        found,
        [(3, ErrorKind::TextAfterEof)],
        "one error, then the parser stops"
    );
    assert!(
        errors("m 1\n# EOF\n\n\n").is_empty(),
        "empty lines after EOF are tolerated"
    );
    assert_eq!(errors("# EOF\n# comment"), [(2, ErrorKind::TextAfterEof)]);
}

#[test]
fn one_bad_line_loses_only_itself() {
    let body = "\
# TYPE a gauge
a 1
a{x=\"unterminated} 2
b 3
c{9=\"x\"} 4
d 5 6 7
e{k=\"v\",k=\"w\"} 8
f not_a_number
g 9
";
    let found: Vec<usize> = errors(body).into_iter().map(|(line, _)| line).collect();
    assert_eq!(found, [3, 5, 6, 7, 8]);
    let names: Vec<_> = samples_ok(body).iter().map(|s| (s.name, s.value)).collect();
    assert_eq!(names, [("a", 1.0), ("b", 3.0), ("g", 9.0)]);
    let scrape = parse_all(body);
    assert_eq!((scrape.samples.len(), scrape.errors.len()), (3, 5));
}

/// The samples of a body with errors in it.
fn samples_ok(body: &str) -> Vec<super::super::Sample<'_>> {
    parse(body)
        .filter_map(|e| match e {
            Ok(super::super::Entry::Sample(s)) => Some(s),
            _ => None,
        })
        .collect()
}

#[test]
fn errors_display_their_line() {
    let e = parse("ok 1\n\nbad").find_map(Result::err).unwrap();
    assert_eq!(e.to_string(), "line 3: sample bad has no value");
    let e = parse(r#"m{a="\q"} 1"#).find_map(Result::err).unwrap();
    assert_eq!(
        e.to_string(),
        r#"line 1: label a: invalid escape `\q` (only `\\`, `\"` and `\n`)"#
    );
}

#[test]
fn long_garbage_is_cut_in_messages() {
    let junk = "x".repeat(10_000);
    let ErrorKind::InvalidValue(shown) = error(&format!("m {junk}")) else {
        panic!("expected an invalid value");
    };
    assert_eq!(shown.chars().count(), 65, "64 characters and an ellipsis");
    assert!(samples("ok 1").len() == 1);
}

#[test]
fn duplicates_among_many_labels_are_found_without_quadratic_cost() {
    let many: Vec<String> = (0..50_000).map(|k| format!("l{k}=\"v\"")).collect();
    let line = format!("m{{{}}} 1", many.join(","));
    assert_eq!(super::one(&line).labels().count(), 50_000);
    let line = format!("m{{{},l77=\"again\"}} 1", many.join(","));
    assert_eq!(error(&line), ErrorKind::DuplicateLabel(s("l77")));
    let few = r#"m{a="1",b="2",c="3",d="4",e="5",f="6",g="7",h="8",i="9",j="10",k="11",l="12",n="13",o="14",p="15",q="16",r="17",a="x"} 1"#;
    assert_eq!(
        error(few),
        ErrorKind::DuplicateLabel(s("a")),
        "a repeat past the pairwise limit"
    );
}
