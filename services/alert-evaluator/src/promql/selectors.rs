//! Vector and range selectors: finding the matching series and reading their
//! points at an instant (with lookback) or over a closed time range.

use std::borrow::Cow;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{MatrixSelector, VectorSelector};

use super::chunks::{Window, WindowIter};
use super::eval::{EvalError, Evaluator, LOOKBACK_MS, check_unique, duration_ms};
use super::labels::{Labels, METRIC_NAME};
use super::storage::{MemSeries, Storage, is_stale};
use super::value::{Sample, Series};

/// The series matching a selector, sorted by labels.
pub(crate) fn matching_series<'s>(
    storage: &'s Storage,
    vs: &VectorSelector,
) -> Result<Vec<&'s MemSeries>, EvalError> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(EvalError::Unsupported(super::check::OR_MATCHERS.into()));
    }
    let matchers = &vs.matchers.matchers;
    let name_eq = vs.name.as_deref().or_else(|| {
        matchers
            .iter()
            .find(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal)
            .map(|m| m.value.as_str())
    });
    if let Some(name) = name_eq {
        // The index already guarantees the name: check the other matchers.
        let rest: Vec<&Matcher> = matchers
            .iter()
            .filter(|m| !(m.name == METRIC_NAME && m.op == MatchOp::Equal && m.value == name))
            .collect();
        return Ok(storage
            .series_named(name)
            .filter(|s| rest.iter().all(|m| matches(m, &s.labels)))
            .collect());
    }
    let keep = |s: &&MemSeries| matchers.iter().all(|m| matches(m, &s.labels));
    let name_matchers: Vec<&Matcher> = matchers.iter().filter(|m| m.name == METRIC_NAME).collect();
    let mut names: Vec<&str> = storage
        .names()
        .filter(|n| name_matchers.iter().all(|m| m.is_match(n)))
        .collect();
    names.sort_unstable();
    let mut out: Vec<&MemSeries> = names
        .iter()
        .flat_map(|n| storage.series_named(n))
        .filter(keep)
        .collect();
    if names.len() > 1 {
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
    }
    Ok(out)
}

fn matches(m: &Matcher, labels: &Labels) -> bool {
    m.is_match(labels.get(&m.name).unwrap_or(""))
}

/// Calls `f(labels, t, v)` for the latest point of each matching series in
/// the lookback window `[ref - 5m, ref]`, unless that point is a stale marker.
pub(crate) fn for_each_instant<'s>(
    ev: &Evaluator<'s>,
    vs: &VectorSelector,
    t: i64,
    mut f: impl FnMut(&'s Labels, i64, f64),
) -> Result<(), EvalError> {
    let ref_t = ev.ref_time(vs.at.as_ref(), vs.offset.as_ref(), t);
    for s in matching_series(ev.storage, vs)? {
        if let Some((pt, v)) = s.points.latest_at(ref_t)
            && pt >= ref_t - LOOKBACK_MS
            && !is_stale(v)
        {
            f(&s.labels, pt, v);
        }
    }
    Ok(())
}

/// An instant vector selector's result.
pub(crate) fn instant_vector(
    ev: &Evaluator<'_>,
    vs: &VectorSelector,
    t: i64,
) -> Result<Vec<Sample>, EvalError> {
    let mut out = Vec::new();
    for_each_instant(ev, vs, t, |labels, _, value| {
        out.push(Sample {
            labels: labels.clone(),
            value,
        });
    })?;
    Ok(out)
}

/// A range selector's result: the points in `[ref - range, ref]` of each
/// matching series that has any, stale markers removed.
pub(crate) fn range_vector<'s>(
    ev: &Evaluator<'s>,
    ms: &MatrixSelector,
    t: i64,
) -> Result<RangeArg<'s>, EvalError> {
    let vs = &ms.vs;
    let end = ev.ref_time(vs.at.as_ref(), vs.offset.as_ref(), t);
    let range = duration_ms(ms.range);
    let series = matching_series(ev.storage, vs)?
        .into_iter()
        .filter_map(|s| {
            let w = s.points.window(end - range, end);
            let points = if w.is_empty() {
                return None;
            } else if w.has_stale() {
                let owned: Vec<_> = w.iter().filter(|&(_, v)| !is_stale(v)).collect();
                if owned.is_empty() {
                    return None;
                }
                Points::Owned(owned)
            } else {
                Points::Window(w)
            };
            Some(RangeSeries {
                labels: Cow::Borrowed(&s.labels),
                points,
            })
        })
        .collect();
    let single_name = vs.name.is_some()
        || vs
            .matchers
            .matchers
            .iter()
            .any(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal);
    Ok(RangeArg {
        series,
        start: end - range,
        end,
        range,
        names_unique: single_name,
    })
}

/// Applies `f` to the points of each series of `arg` (a `None` result drops
/// the series); the output keeps the series' labels, without `__name__`
/// unless `keep_name`.
pub(crate) fn map_range(
    arg: &RangeArg<'_>,
    keep_name: bool,
    mut f: impl FnMut(&Points<'_>) -> Option<f64>,
) -> Result<Vec<Sample>, EvalError> {
    let mut out = Vec::with_capacity(arg.series.len());
    for s in &arg.series {
        if let Some(value) = f(&s.points) {
            let labels = if keep_name {
                Labels::clone(&s.labels)
            } else {
                s.labels.without_name()
            };
            out.push(Sample { labels, value });
        }
    }
    if !keep_name && !arg.names_unique {
        check_unique(&out)?;
    }
    Ok(out)
}

/// A range vector as function input, with the window it was taken over.
pub(crate) struct RangeArg<'s> {
    pub(crate) series: Vec<RangeSeries<'s>>,
    /// Window start (`end - range`), used for extrapolation.
    pub(crate) start: i64,
    /// Window end (the reference time).
    pub(crate) end: i64,
    pub(crate) range: i64,
    /// Dropping `__name__` cannot make two series' labels equal (all series
    /// share one metric name).
    pub(crate) names_unique: bool,
}

impl<'s> RangeArg<'s> {
    /// Wraps evaluated series (a subquery's result) ending at `end`.
    pub(crate) fn from_series(series: Vec<Series>, end: i64, range: i64) -> RangeArg<'s> {
        RangeArg {
            series: series
                .into_iter()
                .filter(|s| !s.points.is_empty())
                .map(|s| RangeSeries {
                    labels: Cow::Owned(s.labels),
                    points: Points::Owned(s.points),
                })
                .collect(),
            start: end - range,
            end,
            range,
            names_unique: false,
        }
    }

    /// The points as owned series.
    pub(crate) fn into_series(self) -> Vec<Series> {
        self.series
            .into_iter()
            .map(|s| Series {
                labels: s.labels.into_owned(),
                points: match s.points {
                    Points::Owned(p) => p,
                    Points::Window(w) => w.iter().collect(),
                },
            })
            .collect()
    }
}

/// One series of a range vector.
pub(crate) struct RangeSeries<'s> {
    /// Borrowed from storage for selectors (no reference-count traffic).
    pub(crate) labels: Cow<'s, Labels>,
    pub(crate) points: Points<'s>,
}

/// A non-empty run of points without stale markers: borrowed from storage,
/// or owned (subquery results, or stored points with stale markers removed).
pub(crate) enum Points<'s> {
    Window(Window<'s>),
    Owned(Vec<(i64, f64)>),
}

impl Points<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Points::Window(w) => w.len(),
            Points::Owned(p) => p.len(),
        }
    }

    pub(crate) fn first(&self) -> Option<(i64, f64)> {
        match self {
            Points::Window(w) => w.first(),
            Points::Owned(p) => p.first().copied(),
        }
    }

    pub(crate) fn last(&self) -> Option<(i64, f64)> {
        match self {
            Points::Window(w) => w.last(),
            Points::Owned(p) => p.last().copied(),
        }
    }

    /// The two newest points, older first.
    pub(crate) fn last_two(&self) -> Option<((i64, f64), (i64, f64))> {
        match self {
            Points::Window(w) => w.last_two(),
            Points::Owned(p) => match p.as_slice() {
                [.., a, b] => Some((*a, *b)),
                _ => None,
            },
        }
    }

    /// All points, oldest first.
    pub(crate) fn iter(&self) -> PointsIter<'_> {
        match self {
            Points::Window(w) => PointsIter::Window(w.iter()),
            Points::Owned(p) => PointsIter::Slice(p.iter()),
        }
    }

    /// All values, oldest first.
    pub(crate) fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// Adds to `acc`, in order, the value before each decrease (Prometheus's
    /// counter-reset correction). Skips the scan when storage metadata proves
    /// there is no decrease.
    pub(crate) fn add_resets(&self, acc: &mut f64) {
        if let Points::Window(w) = self
            && !w.may_drop()
        {
            return;
        }
        let mut values = self.values();
        let Some(mut prev) = values.next() else {
            return;
        };
        for v in values {
            if v < prev {
                *acc += prev;
            }
            prev = v;
        }
    }
}

/// Iterator over [`Points`].
pub(crate) enum PointsIter<'a> {
    Window(WindowIter<'a>),
    Slice(std::slice::Iter<'a, (i64, f64)>),
}

impl Iterator for PointsIter<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        match self {
            PointsIter::Window(it) => it.next(),
            PointsIter::Slice(it) => it.next().copied(),
        }
    }
}
