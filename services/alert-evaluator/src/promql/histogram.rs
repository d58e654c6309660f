//! `histogram_quantile` over classic (`le`-bucketed) histograms, and the
//! φ-quantile of a set of values shared by `quantile` and
//! `quantile_over_time`. Ported from Prometheus 2.42's `quantile.go`.

use std::cmp::Ordering;

use promql_parser::parser::Expr;

use super::eval::{EvalError, Evaluator};
use super::functions::arg;
use super::hashing::FxHashMap;
use super::labels::Labels;
use super::value::Sample;

const BUCKET_LABEL: &str = "le";

#[derive(Clone, Copy)]
struct Bucket {
    upper: f64,
    count: f64,
}

struct Group<'a> {
    /// A member's labels, for collision checks.
    key: &'a Labels,
    buckets: Vec<Bucket>,
}

/// `histogram_quantile(q, buckets)`: buckets are grouped by all labels but
/// `le` (the metric name included, as in Prometheus), and each group yields
/// one sample labelled without `le` and `__name__`.
pub(crate) fn histogram_quantile(
    ev: &Evaluator<'_>,
    args: &[&Expr],
    t: i64,
) -> Result<Vec<Sample>, EvalError> {
    let q = ev.eval_scalar(arg(args, 0)?, t)?;
    let input = ev.eval_vector(arg(args, 1)?, t)?;
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut index: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
    // Bucket bounds repeat across groups: parse each distinct string once.
    let mut bounds: FxHashMap<&str, Option<f64>> = FxHashMap::default();
    for s in &input {
        let (le, hash) = s.labels.split_hash(BUCKET_LABEL);
        let Some(upper) = le.and_then(|le| *bounds.entry(le).or_insert_with(|| parse_go_float(le)))
        else {
            continue;
        };
        let slot = index.entry(hash).or_default();
        let found = slot
            .iter()
            .copied()
            .find(|&g| groups[g].key.eq_except(&s.labels, BUCKET_LABEL));
        let g = match found {
            Some(g) => g,
            None => {
                groups.push(Group {
                    key: &s.labels,
                    buckets: Vec::new(),
                });
                slot.push(groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[g].buckets.push(Bucket {
            upper,
            count: s.value,
        });
    }
    Ok(groups
        .into_iter()
        .map(|mut g| Sample {
            labels: g.key.without_name().builder().del(BUCKET_LABEL).build(),
            value: bucket_quantile(q, &mut g.buckets),
        })
        .collect())
}

/// Parses a bucket bound like Go's `strconv.ParseFloat` does for the forms
/// exporters use ("0.5", "1e3", "+Inf", "Inf", "NaN").
fn parse_go_float(s: &str) -> Option<f64> {
    s.parse().ok()
}

/// Prometheus's `bucketQuantile`: linear interpolation inside the bucket
/// holding rank `q × count`, with its special cases (NaN for a missing +Inf
/// bucket, fewer than two buckets or no observations; the second-highest
/// bound when the rank falls in the +Inf bucket; monotonicity enforced).
fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.upper.total_cmp(&b.upper));
    if buckets.last().is_none_or(|b| b.upper != f64::INFINITY) {
        return f64::NAN;
    }
    coalesce(buckets);
    ensure_monotonic(buckets);
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let n = buckets.len();
    let observations = buckets[n - 1].count;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = go_search(n - 1, |i| buckets[i].count >= rank);
    if b == n - 1 {
        return buckets[n - 2].upper;
    }
    if b == 0 && buckets[0].upper <= 0.0 {
        return buckets[0].upper;
    }
    let end = buckets[b].upper;
    let mut count = buckets[b].count;
    let mut start = 0.0;
    if b > 0 {
        start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    start + (end - start) * (rank / count)
}

/// Go's `sort.Search`: the smallest `i < n` with `f(i)`, probing exactly as
/// Go does (which matters when NaN counts break monotonicity).
fn go_search(n: usize, f: impl Fn(usize) -> bool) -> usize {
    let (mut i, mut j) = (0, n);
    while i < j {
        let h = (i + j) / 2;
        if f(h) {
            j = h;
        } else {
            i = h + 1;
        }
    }
    i
}

/// Merges buckets with the same upper bound (input sorted).
fn coalesce(buckets: &mut Vec<Bucket>) {
    buckets.dedup_by(|b, last| {
        if b.upper == last.upper {
            last.count += b.count;
            true
        } else {
            false
        }
    });
}

/// Raises each count to at least the one before it.
fn ensure_monotonic(buckets: &mut [Bucket]) {
    let mut max = f64::NEG_INFINITY;
    for (i, b) in buckets.iter_mut().enumerate() {
        if i == 0 || b.count > max {
            max = b.count;
        } else if b.count < max {
            b.count = max;
        }
    }
}

/// The φ-quantile of `values` (sorted in place, NaN first), interpolating
/// between neighbours; NaN for no values or NaN `q`, ±Inf outside [0, 1].
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.total_cmp(b),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (n - 1.0).min(lower + 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}
