//! OpenMetrics 1.0: `# EOF`, `# UNIT`, exemplars, timestamps in seconds, format choice.

use super::super::{Entry, ErrorKind, Format, MetricType, parse, parse_all, parse_as};
use super::{errors, samples};

const BODY: &str = "\
# TYPE acme_http_router_request_seconds summary
# UNIT acme_http_router_request_seconds seconds
# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.
acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32
acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0
acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0
# TYPE foo histogram
foo_bucket{le=\"0.0\"} 0
foo_bucket{le=\"1e-05\"} 0 # {trace_id=\"KOO5S4vxi0o\"} 0.67
foo_bucket{le=\"0.1\"} 8 # {trace_id=\"oHg5SJYRHA0\",note=\"a # b } c\"} 9.8 1520879607.789
foo_bucket{le=\"+Inf\"} 17
foo_count 17
foo_sum 324789.3
foo_created 1520430000.123
# TYPE build info
build_info{version=\"1.2\"} 1
# TYPE door stateset
door{door=\"open\"} 1
door{door=\"closed\"} 0
# TYPE queue gaugehistogram
queue_bucket{le=\"+Inf\"} 3
queue_gcount 3
queue_gsum 2.5
# TYPE mystery unknown
mystery 1 1520879607.789
# EOF
";

#[test]
fn a_full_exposition_parses_without_errors() {
    assert_eq!(Format::detect(BODY), Format::OpenMetrics);
    assert_eq!(samples(BODY).len(), 17);
    let last = parse(BODY).last();
    assert_eq!(
        last,
        Some(Ok(Entry::Eof)),
        "nothing after EOF, and no error"
    );
}

#[test]
fn unit_lines() {
    let unit = parse(BODY)
        .map(Result::unwrap)
        .find(|e| matches!(e, Entry::Unit { .. }));
    assert_eq!(
        unit,
        Some(Entry::Unit {
            family: "acme_http_router_request_seconds",
            unit: "seconds"
        })
    );
    let bare: Vec<_> = parse("# UNIT x\n").collect();
    assert_eq!(
        bare,
        [Ok(Entry::Unit {
            family: "x",
            unit: ""
        })]
    );
}

#[test]
fn exemplars_are_checked_and_dropped() {
    let all = samples(BODY);
    let with = all
        .iter()
        .find(|s| s.label("le").as_deref() == Some("0.1"))
        .unwrap();
    assert_eq!(
        (with.value, with.timestamp_ms),
        (8.0, None),
        "the exemplar's numbers are not the sample's"
    );
    assert_eq!(with.labels().count(), 1);
    let ts = samples("m 1 2 # {a=\"b\"} 3 4\n# EOF\n");
    assert_eq!(ts[0].timestamp_ms, Some(2000));
}

#[test]
fn malformed_exemplars_are_errors() {
    let exemplar = |k| ErrorKind::Exemplar(Box::new(k));
    assert_eq!(
        errors("m 1 # trace\n# EOF"),
        [(1, exemplar(ErrorKind::ExpectedLabels))]
    );
    assert_eq!(
        errors("m 1 # {a=\"b\"}\n# EOF"),
        [(1, exemplar(ErrorKind::MissingValue("exemplar".into())))]
    );
    assert_eq!(
        errors("m 1 # {a=b} 1\n# EOF"),
        [(1, exemplar(ErrorKind::ExpectedQuote("a".into())))]
    );
    assert_eq!(
        errors("m 1 # {a=\"b\"} x\n# EOF"),
        [(1, exemplar(ErrorKind::InvalidValue("x".into())))]
    );
    assert_eq!(
        errors("m 1 # {} 1 2 3\n# EOF"),
        [(1, exemplar(ErrorKind::TrailingText("3".into())))]
    );
}

#[test]
fn timestamps_are_seconds_converted_to_milliseconds() {
    let all = samples(BODY);
    let mystery = all.iter().find(|s| s.name == "mystery").unwrap();
    assert_eq!(mystery.timestamp_ms, Some(1_520_879_607_789));
    let body = "a 1 1600000000\nb 1 -1.5\nc 1 1.6e9\n# EOF\n";
    let ts: Vec<_> = samples(body).iter().map(|s| s.timestamp_ms).collect();
    assert_eq!(
        ts,
        [
            Some(1_600_000_000_000),
            Some(-1500),
            Some(1_600_000_000_000)
        ]
    );
    let bad = errors("a 1 NaN\nb 1 1e300\n# EOF\n");
    let kinds: Vec<_> = bad.iter().map(|(line, _)| *line).collect();
    assert_eq!(kinds, [1, 2]);
    assert_eq!(
        bad[0].1,
        ErrorKind::InvalidTimestamp("NaN".into(), "seconds")
    );
}

#[test]
fn the_same_timestamp_is_milliseconds_in_the_text_format() {
    assert_eq!(
        samples("a 1 1600000000\n")[0].timestamp_ms,
        Some(1_600_000_000)
    );
}

#[test]
fn suffixed_samples_take_their_familys_type() {
    let scrape = parse_all(BODY);
    assert!(scrape.errors.is_empty(), "{:?}", scrape.errors);
    let kind = |name: &str| {
        scrape
            .samples
            .iter()
            .find(|(_, s)| s.name == name)
            .map(|(k, _)| *k)
    };
    assert_eq!(
        kind("acme_http_router_request_seconds_created"),
        Some(MetricType::Summary)
    );
    assert_eq!(kind("foo_bucket"), Some(MetricType::Histogram));
    assert_eq!(kind("foo_created"), Some(MetricType::Histogram));
    assert_eq!(kind("build_info"), Some(MetricType::Info));
    assert_eq!(kind("door"), Some(MetricType::StateSet));
    assert_eq!(kind("queue_gcount"), Some(MetricType::GaugeHistogram));
    assert_eq!(kind("queue_gsum"), Some(MetricType::GaugeHistogram));
    assert_eq!(kind("queue_bucket"), Some(MetricType::GaugeHistogram));
    assert_eq!(kind("mystery"), Some(MetricType::Unknown));
}

#[test]
fn format_detection() {
    assert_eq!(Format::detect("# EOF"), Format::OpenMetrics);
    assert_eq!(Format::detect("a 1\n# EOF\r\n\n"), Format::OpenMetrics);
    assert_eq!(Format::detect("a 1\n"), Format::Text);
    assert_eq!(Format::detect("a 1\nb 2 # EOF"), Format::Text);
    assert_eq!(Format::detect(""), Format::Text);
    assert_eq!(
        Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        Format::OpenMetrics
    );
    assert_eq!(
        Format::from_content_type("text/plain; version=0.0.4"),
        Format::Text
    );
    assert_eq!(Format::from_content_type(""), Format::Text);
}

#[test]
fn an_openmetrics_body_cut_short_is_an_error_on_its_last_line() {
    let found: Vec<_> = parse_as("a 1\nb 2\n", Format::OpenMetrics)
        .filter_map(Result::err)
        .collect();
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].line, &found[0].kind), (2, &ErrorKind::MissingEof));
    let empty: Vec<_> = parse_as("", Format::OpenMetrics).collect();
    assert_eq!(empty.len(), 1, "an empty body is cut short too");
    assert_eq!(
        parse_as("a 1\n", Format::Text)
            .filter(Result::is_err)
            .count(),
        0
    );
}
