//! promtool's rule unit-test files (`promtool test rules`), as Prometheus 2.42 reads them:
//! the YAML format, its durations, and the series descriptions of `input_series`.
//!
//! `runner.rs` runs them on our evaluator, with promtool's report.
//! Everything mirrors the 2.42 sources (`cmd/promtool/unittest.go`, `promql/parser`,
//! `prometheus/common/model` v0.39) and was checked against Debian's promtool 2.42.
//!
//! ```ignore
//! // (`ignore`: the path depends on the crate the module lives in; tests.rs runs the same.)
//! use crate::unittest::{parse_series, Point, UnitTestFile};
//!
//! let file = UnitTestFile::from_yaml("tests:\n  - interval: 1m\n    input_series:\n      - {series: up, values: 1x2}\n", "<input>")?;
//! assert_eq!(file.eval_interval().to_string(), "1m");
//! let loaded = file.tests[0].load_series()?;
//! assert_eq!(loaded[0].samples[2], (120_000, Point::Value(1.0)));
//! assert_eq!(parse_series("up _x2 stale")?.1, vec![None, None, Some(Point::Stale)]);
//! ```
//!
//! # Layout
//!
//! * [`duration`] — [`Duration`]: `1h30m`, `5m`, `90s`, `1d`, `1w`, `1y`,
//!   `100ms`, parsed and printed as `model.Duration`.
//! * [`format`](mod@format) — [`UnitTestFile`] and its parts, read strictly with yaml.v2's
//!   leniencies; [`TestGroup::load_series`] loads the input series as promtool does.
//! * [`series`] — [`parse_series`] (one `"<series> <values>"` line),
//!   [`parse_selector`], [`parse_values`], [`parse_metric`]: a port of `ParseSeriesDesc`
//!   and `ParseMetric` with their error messages.
//! * `runner.rs` — [`run_files`]: `poolpilot rules test`.
//! * `tests` — expansion and duration tables, and a load of every test file of the corpus.

pub mod duration;
pub mod format;
mod runner;
pub mod series;

#[cfg(test)]
mod tests;

pub use duration::{Duration, DurationError};
pub use format::{
    AlertTestCase, DEFAULT_EVALUATION_INTERVAL, ExpAlert, ExpSample, FormatError, InputSeries,
    LoadedSeries, PromqlTestCase, TestGroup, UnitTestFile,
};
pub use runner::{run_file, run_files};
pub use series::{
    Labels, MAX_POINTS, METRIC_NAME, Point, SeriesDesc, SeriesError, labels_to_string,
    parse_metric, parse_selector, parse_series, parse_values,
};

/// Go's `%v` of a float64 (what promtool prints for `{{ $value }}`).
pub use crate::template::go_float;
