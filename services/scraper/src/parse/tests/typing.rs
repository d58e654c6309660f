//! `parse_all`: which family's `# TYPE` each sample takes.

use super::super::{MetricType, parse_all};

fn kinds(body: &str) -> Vec<(&str, MetricType)> {
    let scrape = parse_all(body);
    assert!(scrape.errors.is_empty(), "{:?}", scrape.errors);
    scrape.samples.iter().map(|(k, s)| (s.name, *k)).collect()
}

#[test]
fn histogram_lines_take_the_histogram_type() {
    use MetricType::*;
    let body = "\
# TYPE vllm:iteration_tokens_total histogram
vllm:iteration_tokens_total_bucket{le=\"1.0\"} 1
vllm:iteration_tokens_total_sum 2
vllm:iteration_tokens_total_count 1
# TYPE vllm:iteration_tokens_total_created gauge
vllm:iteration_tokens_total_created 1.7e9
";
    assert_eq!(
        kinds(body),
        [
            ("vllm:iteration_tokens_total_bucket", Histogram),
            ("vllm:iteration_tokens_total_sum", Histogram),
            ("vllm:iteration_tokens_total_count", Histogram),
            ("vllm:iteration_tokens_total_created", Gauge),
        ],
        "a family of its own wins over the suffix rule"
    );
}

#[test]
fn summary_lines_take_the_summary_type() {
    use MetricType::*;
    let body =
        "# TYPE rpc summary\nrpc{quantile=\"0.5\"} 1\nrpc_sum 2\nrpc_count 3\nrpc_bucket 4\n";
    assert_eq!(
        kinds(body),
        [
            ("rpc", Summary),
            ("rpc_sum", Summary),
            ("rpc_count", Summary),
            ("rpc_bucket", Untyped)
        ]
    );
}

#[test]
fn counters_in_both_spellings() {
    use MetricType::*;
    let body = "# TYPE a_total counter\na_total 1\n# TYPE b counter\nb_total 2\nb_created 3\n";
    assert_eq!(
        kinds(body),
        [
            ("a_total", Counter),
            ("b_total", Counter),
            ("b_created", Counter)
        ]
    );
}

#[test]
fn suffixes_a_type_does_not_own_stay_untyped() {
    use MetricType::*;
    let body = "# TYPE g gauge\ng 1\ng_bucket 2\ng_total 3\ng_info 4\n";
    assert_eq!(
        kinds(body),
        [
            ("g", Gauge),
            ("g_bucket", Untyped),
            ("g_total", Untyped),
            ("g_info", Untyped)
        ]
    );
}

#[test]
fn samples_without_a_type_line_are_untyped() {
    use MetricType::*;
    let body = "early 1\n# TYPE early gauge\nlate 2\nearly 3\n";
    assert_eq!(
        kinds(body),
        [("early", Untyped), ("late", Untyped), ("early", Gauge)]
    );
}

#[test]
fn interleaved_families_still_resolve() {
    use MetricType::*;
    let body = "# TYPE h histogram\n# TYPE c counter\nh_bucket{le=\"+Inf\"} 1\nc 2\nh_count 1\n";
    assert_eq!(
        kinds(body),
        [
            ("h_bucket", Histogram),
            ("c", Counter),
            ("h_count", Histogram)
        ]
    );
}

#[test]
fn a_family_typed_earlier_keeps_its_own_samples() {
    use MetricType::*;
    let body = "# TYPE h_sum gauge\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 2\nh_count 1\nh_bucket{le=\"+Inf\"} 1\n";
    assert_eq!(
        kinds(body),
        [
            ("h_bucket", Histogram),
            ("h_sum", Gauge),
            ("h_count", Histogram),
            ("h_bucket", Histogram)
        ]
    );
}

#[test]
fn parsed_values_may_cross_threads_and_awaits() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<super::super::Scrape<'static>>();
    send_sync::<super::super::Parser<'static>>();
    send_sync::<super::super::ParseError>();
}
