//! The parser's tests: one file per concern, helpers here.

mod differential;
mod errors;
mod fixtures;
mod fuzz;
mod openmetrics;
mod rules;
mod typing;

use super::{Entry, ErrorKind, ParseError, Sample, parse};

/// The samples of a body that must parse without errors.
fn samples(body: &str) -> Vec<Sample<'_>> {
    parse(body)
        .filter_map(|e| match e.unwrap_or_else(|e| panic!("{e} in {body:?}")) {
            Entry::Sample(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// The single sample of a one-line body.
fn one(body: &str) -> Sample<'_> {
    let all = samples(body);
    assert_eq!(all.len(), 1, "{body:?}");
    all[0]
}

/// The errors of a body as (line, kind).
fn errors(body: &str) -> Vec<(usize, ErrorKind)> {
    parse(body)
        .filter_map(Result::err)
        .map(|ParseError { line, kind }| (line, kind))
        .collect()
}

/// The only error of a one-line body.
fn error(body: &str) -> ErrorKind {
    let mut all = errors(body);
    assert_eq!(all.len(), 1, "{body:?}: {all:?}");
    let (line, kind) = all.remove(0);
    assert_eq!(line, 1, "{body:?}");
    kind
}

/// A sample's labels, owned, in written order.
fn labels(s: &Sample<'_>) -> Vec<(String, String)> {
    s.labels()
        .map(|(k, v)| (k.to_owned(), v.into_owned()))
        .collect()
}

/// A capture from `shared/fixtures/samples/`.
fn fixture(name: &str) -> String {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/samples/"
    );
    std::fs::read_to_string(format!("{dir}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The capture file names.
const FIXTURES: [&str; 4] = [
    "vllm-metrics.txt",
    "sglang-metrics.txt",
    "triton-trtllm-metrics.txt",
    "dcgm-metrics.txt",
];
