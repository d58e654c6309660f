//! Aggregation operators (`sum`, `avg`, `min`, `max`, `count`, `group`,
//! `stddev`, `stdvar`, `topk`, `bottomk`, `quantile`, `count_values`) with
//! `by`/`without`, ported from Prometheus 2.42's `aggregation()`.

use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_GROUP, T_MAX, T_MIN, T_QUANTILE, T_STDDEV,
    T_STDVAR, T_SUM, T_TOPK,
};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::eval::{EvalError, Evaluator};
use super::gomath::{format_f, format_v};
use super::hashing::FxHashMap;
use super::histogram::quantile;
use super::labels::{Labels, is_valid_label_name};
use super::value::{Sample, Value};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    Quantile,
    CountValues,
}

impl Op {
    fn from_token(id: u16) -> Option<Op> {
        Some(match id {
            T_SUM => Op::Sum,
            T_AVG => Op::Avg,
            T_COUNT => Op::Count,
            T_MIN => Op::Min,
            T_MAX => Op::Max,
            T_GROUP => Op::Group,
            T_STDDEV => Op::Stddev,
            T_STDVAR => Op::Stdvar,
            T_TOPK => Op::Topk,
            T_BOTTOMK => Op::Bottomk,
            T_QUANTILE => Op::Quantile,
            T_COUNT_VALUES => Op::CountValues,
            _ => return None,
        })
    }
}

struct Group {
    /// The first member's labels (for collision checks).
    key: Labels,
    labels: Labels,
    value: f64,
    mean: f64,
    count: usize,
    /// Members kept by topk/bottomk/quantile.
    heap: Vec<Sample>,
}

/// Evaluates an aggregation.
pub(crate) fn eval(ev: &Evaluator<'_>, a: &AggregateExpr, t: i64) -> Result<Value, EvalError> {
    let op = Op::from_token(a.op.id())
        .ok_or_else(|| EvalError::Unsupported(super::check::unsupported_aggregation(&a.op)))?;
    let (mut grouping, without): (Vec<String>, bool) = match &a.modifier {
        None => (Vec::new(), false),
        Some(LabelModifier::Include(l)) => (l.labels.clone(), false),
        Some(LabelModifier::Exclude(l)) => (l.labels.clone(), true),
    };
    grouping.sort();
    // Like Prometheus, evaluate the parameter, then the input, then check.
    let param = match &a.param {
        Some(p) => Some(ev.eval(p, t)?),
        None => None,
    };
    let input = ev.eval_vector(&a.expr, t)?;
    let (mut k, mut q, mut value_label) = (0usize, 0.0, String::new());
    match param {
        Some(Value::String(s)) if op == Op::CountValues => {
            if !is_valid_label_name(&s) {
                return Err(EvalError::InvalidArgument(format!(
                    "invalid label name \"{s}\""
                )));
            }
            if !without {
                grouping.push(s.clone());
                grouping.sort();
            }
            value_label = s;
        }
        Some(Value::Scalar(x)) if matches!(op, Op::Topk | Op::Bottomk) => {
            // Go's convertibleToInt64 bounds.
            if !(-9_223_372_036_854_775_808.0..=9_223_372_036_854_774_784.0).contains(&x) {
                return Err(EvalError::InvalidArgument(format!(
                    "Scalar value {} overflows int64",
                    format_v(x)
                )));
            }
            if x < 1.0 {
                // k < 1 after Go's truncation towards zero.
                return Ok(Value::Vector(Vec::new()));
            }
            k = usize::try_from(x as i64).unwrap_or(usize::MAX);
        }
        Some(Value::Scalar(x)) => q = x,
        Some(other) => return Err(super::eval::wrong_type("scalar or string", &other)),
        None => {}
    }
    Ok(Value::Vector(aggregate(
        op,
        &grouping,
        without,
        k,
        q,
        &value_label,
        input,
    )))
}

fn aggregate(
    op: Op,
    grouping: &[String],
    without: bool,
    k: usize,
    q: f64,
    value_label: &str,
    input: Vec<Sample>,
) -> Vec<Sample> {
    let include = !without;
    let mut groups: Vec<Group> = Vec::new();
    let mut index: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
    for mut s in input {
        if op == Op::CountValues {
            s.labels = s
                .labels
                .builder()
                .set(value_label, &format_f(s.value))
                .build();
        }
        let hash = s.labels.subset_hash(grouping, include);
        let slot = index.entry(hash).or_default();
        let found = slot
            .iter()
            .copied()
            .find(|&g| groups[g].key.subset_eq(&s.labels, grouping, include));
        let Some(g) = found else {
            slot.push(groups.len());
            groups.push(new_group(op, grouping, include, s));
            continue;
        };
        accumulate(op, k, &mut groups[g], s);
    }
    let mut out = Vec::with_capacity(groups.len());
    for mut g in groups {
        let value = match op {
            Op::Avg => g.mean,
            Op::Count | Op::CountValues => g.count as f64,
            Op::Stdvar => g.value / g.count as f64,
            Op::Stddev => (g.value / g.count as f64).sqrt(),
            Op::Topk | Op::Bottomk => {
                // Highest first for topk, lowest first for bottomk; NaN last.
                let desc = op == Op::Topk;
                g.heap.sort_by(|a, b| nan_last(a.value, b.value, desc));
                out.append(&mut g.heap);
                continue;
            }
            Op::Quantile => {
                let mut values: Vec<f64> = g.heap.iter().map(|s| s.value).collect();
                quantile(q, &mut values)
            }
            Op::Sum | Op::Min | Op::Max | Op::Group => g.value,
        };
        out.push(Sample {
            labels: g.labels,
            value,
        });
    }
    out
}

fn new_group(op: Op, grouping: &[String], include: bool, s: Sample) -> Group {
    let labels = if include && grouping.is_empty() {
        Labels::empty()
    } else {
        s.labels.subset_labels(grouping, include)
    };
    let mut g = Group {
        key: s.labels.clone(),
        labels,
        value: s.value,
        mean: s.value,
        count: 1,
        heap: Vec::new(),
    };
    match op {
        Op::Stddev | Op::Stdvar => g.value = 0.0,
        Op::Group => g.value = 1.0,
        Op::Topk | Op::Bottomk | Op::Quantile => g.heap.push(s),
        _ => {}
    }
    g
}

fn accumulate(op: Op, k: usize, g: &mut Group, s: Sample) {
    let v = s.value;
    match op {
        Op::Sum => g.value += v,
        Op::Avg => {
            g.count += 1;
            if g.mean.is_infinite() {
                if v.is_infinite() && (g.mean > 0.0) == (v > 0.0) {
                    return;
                }
                if !v.is_infinite() && !v.is_nan() {
                    return;
                }
            }
            let n = g.count as f64;
            g.mean += v / n - g.mean / n;
        }
        Op::Group => {}
        Op::Max => {
            if g.value < v || g.value.is_nan() {
                g.value = v;
            }
        }
        Op::Min => {
            if g.value > v || g.value.is_nan() {
                g.value = v;
            }
        }
        Op::Count | Op::CountValues => g.count += 1,
        Op::Stddev | Op::Stdvar => {
            g.count += 1;
            let delta = v - g.mean;
            g.mean += delta / g.count as f64;
            g.value += delta * (v - g.mean);
        }
        Op::Topk => heap_offer(&mut g.heap, k, s, |a, b| a.is_nan() || a < b),
        Op::Bottomk => heap_offer(&mut g.heap, k, s, |a, b| a.is_nan() || a > b),
        Op::Quantile => g.heap.push(s),
    }
}

/// Prometheus's topk/bottomk step on a Go `container/heap` ordered by
/// `less` (its root is the element to evict first). Ported operation for
/// operation so ties resolve to the same samples as Prometheus.
fn heap_offer(heap: &mut Vec<Sample>, k: usize, s: Sample, less: fn(f64, f64) -> bool) {
    let root = heap[0].value;
    if !(heap.len() < k || less(root, s.value) || root.is_nan()) {
        return;
    }
    if heap.len() == k {
        if k == 1 {
            heap[0] = s;
            return;
        }
        // heap.Pop: move the root to the end, sift down, remove it.
        let n = heap.len() - 1;
        heap.swap(0, n);
        sift_down(heap, 0, n, less);
        heap.pop();
    }
    // heap.Push: append and sift up.
    heap.push(s);
    let mut j = heap.len() - 1;
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(heap[j].value, heap[i].value) {
            break;
        }
        heap.swap(i, j);
        j = i;
    }
}

fn sift_down(heap: &mut [Sample], mut i: usize, n: usize, less: fn(f64, f64) -> bool) {
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1 + 1;
        if j2 < n && less(heap[j2].value, heap[j1].value) {
            j = j2;
        }
        if !less(heap[j].value, heap[i].value) {
            break;
        }
        heap.swap(i, j);
        i = j;
    }
}

fn nan_last(a: f64, b: f64, desc: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Equal,
        (true, false) => Greater,
        (false, true) => Less,
        (false, false) if desc => b.total_cmp(&a),
        (false, false) => a.total_cmp(&b),
    }
}
