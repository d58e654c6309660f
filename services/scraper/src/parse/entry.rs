//! What one line of a body means: the [`Entry`] the parser yields, the family types of
//! `# TYPE`, and the two formats, which differ only in their timestamps' unit.

use std::borrow::Cow;

use super::Sample;

/// One meaningful line. Blank lines and ordinary comments yield nothing.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP family text`: kept for callers that forward descriptions.
    Help {
        /// The family it describes.
        family: &'a str,
        /// The text, unescaped (`\\`, `\n`, `\"`); borrowed unless it had escapes.
        text: Cow<'a, str>,
    },
    /// `# TYPE family kind`: what the family's samples are (counter, histogram, …).
    Type {
        /// The family it types.
        family: &'a str,
        /// Its type.
        kind: MetricType,
    },
    /// `# UNIT family unit` (OpenMetrics): the unit the family's name ends with.
    Unit {
        /// The family it belongs to.
        family: &'a str,
        /// The unit, e.g. `seconds`; empty when the line gives none.
        unit: &'a str,
    },
    /// One sample line.
    Sample(Sample<'a>),
    /// `# EOF`: the end of an OpenMetrics exposition; any later line is an error.
    Eof,
}

/// A family's type from `# TYPE`; the text format's five and OpenMetrics' additions.
/// Callers use it to tell a counter (rate it) from a gauge (use it as is).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// Monotonic; OpenMetrics samples end in `_total` (and `_created`).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// `_bucket{le=…}`, `_sum`, `_count` (and `_created`).
    Histogram,
    /// Quantile samples, `_sum`, `_count` (and `_created`).
    Summary,
    /// The text format's "no type given"; also what a family without `# TYPE` gets.
    Untyped,
    /// OpenMetrics: a constant 1 carrying labels; samples end in `_info`.
    Info,
    /// OpenMetrics: one series per state, value 0 or 1.
    StateSet,
    /// OpenMetrics: a histogram of a gauge, `_bucket`, `_gsum`, `_gcount`.
    GaugeHistogram,
    /// OpenMetrics' name for untyped.
    Unknown,
}

impl MetricType {
    /// The type a `# TYPE` word names, ignoring ASCII case as Go's parser does.
    pub fn from_word(word: &str) -> Option<MetricType> {
        const WORDS: [(&str, MetricType); 9] = [
            ("counter", MetricType::Counter),
            ("gauge", MetricType::Gauge),
            ("histogram", MetricType::Histogram),
            ("summary", MetricType::Summary),
            ("untyped", MetricType::Untyped),
            ("info", MetricType::Info),
            ("stateset", MetricType::StateSet),
            ("gaugehistogram", MetricType::GaugeHistogram),
            ("unknown", MetricType::Unknown),
        ];
        WORDS
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(word))
            .map(|&(_, kind)| kind)
    }

    /// Whether a sample named `family` + `suffix` belongs to a family of this type
    /// (`foo_bucket` to histogram `foo`, `foo_total` to counter `foo`, …).
    pub fn owns_suffix(self, suffix: &str) -> bool {
        use MetricType::*;
        match suffix {
            "_bucket" => matches!(self, Histogram | GaugeHistogram),
            "_sum" | "_count" => matches!(self, Histogram | Summary),
            "_gsum" | "_gcount" => self == GaugeHistogram,
            "_total" => self == Counter,
            "_created" => matches!(self, Counter | Histogram | Summary),
            "_info" => self == Info,
            _ => false,
        }
    }
}

/// Which exposition format a body is in. They share the grammar we accept; they differ
/// in the unit of sample timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4: timestamps are integer milliseconds.
    Text,
    /// OpenMetrics 1.0: timestamps are seconds, with fractions; the body ends with
    /// `# EOF`.
    OpenMetrics,
}

impl Format {
    /// OpenMetrics if the body's last line is `# EOF` (OpenMetrics requires it and the
    /// text format never has it), else the text format.
    pub fn detect(body: &str) -> Format {
        let trimmed = body.trim_end_matches(['\n', '\r', ' ', '\t']);
        match trimmed.strip_suffix("# EOF") {
            Some(before) if before.is_empty() || before.ends_with('\n') => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    /// The format a `Content-Type` header names: `application/openmetrics-text` is
    /// OpenMetrics, anything else (`text/plain; version=0.0.4`, none) the text format.
    pub fn from_content_type(content_type: &str) -> Format {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }
}
