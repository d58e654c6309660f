//! The scraper's internal events: each logs and counts; the loop calls `emit()` and
//! never the metrics API directly.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use shared::telemetry::MetricsRegistry;

use crate::fetch::FetchError;
use crate::parse::ParseError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabel {
    pool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    pool: String,
    result: &'static str,
}

/// The scraper's metrics.
#[derive(Clone)]
pub struct ScraperMetrics {
    scrapes: Family<ResultLabel, Counter>,
    duration: Family<PoolLabel, Histogram>,
    parse_errors: Family<PoolLabel, Counter>,
    publish_errors: Counter,
}

impl ScraperMetrics {
    /// Registers `poolpilot_scraper_*`.
    pub fn register(registry: &MetricsRegistry) -> Self {
        let m = Self {
            scrapes: Family::default(),
            duration: Family::new_with_constructor(|| {
                Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5])
            }),
            parse_errors: Family::default(),
            publish_errors: Counter::default(),
        };
        registry.register(
            "poolpilot_scraper_scrapes",
            "Scrapes by pool and result (ok or the error kind)",
            m.scrapes.clone(),
        );
        registry.register(
            "poolpilot_scraper_scrape_duration_seconds",
            "Time to fetch and parse one target",
            m.duration.clone(),
        );
        registry.register(
            "poolpilot_scraper_parse_errors",
            "Malformed lines in scraped bodies",
            m.parse_errors.clone(),
        );
        registry.register(
            "poolpilot_scraper_publish_errors",
            "Samples the bus refused",
            m.publish_errors.clone(),
        );
        m
    }
}

/// A target answered and parsed.
pub struct TargetScraped<'a> {
    /// The pool.
    pub pool: &'a str,
    /// Fetch and parse time.
    pub seconds: f64,
    /// Malformed lines (the rest of the body still counted).
    pub errors: &'a [ParseError],
    /// The target, for the log line.
    pub url: &'a str,
}

impl TargetScraped<'_> {
    /// Counts it; logs the first malformed line, if any.
    pub fn emit(&self, m: &ScraperMetrics) {
        let pool = self.pool.to_owned();
        m.scrapes
            .get_or_create(&ResultLabel {
                pool: pool.clone(),
                result: "ok",
            })
            .inc();
        m.duration
            .get_or_create(&PoolLabel { pool: pool.clone() })
            .observe(self.seconds);
        if let Some(first) = self.errors.first() {
            m.parse_errors
                .get_or_create(&PoolLabel { pool })
                .inc_by(self.errors.len() as u64);
            tracing::warn!(target_url = self.url, errors = self.errors.len(), first = %first, "Scraped body has malformed lines; the rest was used.");
        }
    }
}

/// A target did not answer properly; its pod is published as `up=0`.
pub struct TargetScrapeFailed<'a> {
    /// The pool.
    pub pool: &'a str,
    /// Why.
    pub error: &'a FetchError,
}

impl TargetScrapeFailed<'_> {
    /// Logs and counts it.
    pub fn emit(&self, m: &ScraperMetrics) {
        m.scrapes
            .get_or_create(&ResultLabel {
                pool: self.pool.to_owned(),
                result: self.error.kind(),
            })
            .inc();
        tracing::warn!(pool = self.pool, error = %self.error, "Scrape failed; published up=0.");
    }
}

/// The bus refused a samples message.
pub struct SamplesPublishFailed<'a> {
    /// Why.
    pub error: &'a shared::bus::BusError,
}

impl SamplesPublishFailed<'_> {
    /// Logs and counts it.
    pub fn emit(&self, m: &ScraperMetrics) {
        m.publish_errors.inc();
        tracing::warn!(error = %self.error, "Samples not published.");
    }
}
