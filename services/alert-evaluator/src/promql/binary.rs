//! Binary operators: arithmetic, comparisons (filtering or `bool`), `atan2`
//! and the set operators, with vector matching (`on`/`ignoring`,
//! `group_left`/`group_right`). Ported from Prometheus 2.42's
//! `VectorBinop`, `VectorscalarBinop`, `VectorAnd`/`Or`/`Unless`.

use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS, T_MOD,
    T_MUL, T_NEQ, T_POW, T_SUB,
};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::eval::{EvalError, Evaluator, check_unique, wrong_type};
use super::hashing::FxHashMap;
use super::labels::{Labels, METRIC_NAME};
use super::value::{Sample, Value};
use super::{golibm, gomath};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl Op {
    fn from_token(id: u16) -> Option<Op> {
        Some(match id {
            T_ADD => Op::Add,
            T_SUB => Op::Sub,
            T_MUL => Op::Mul,
            T_DIV => Op::Div,
            T_MOD => Op::Mod,
            T_POW => Op::Pow,
            T_ATAN2 => Op::Atan2,
            T_EQLC => Op::Eq,
            T_NEQ => Op::Ne,
            T_GTR => Op::Gt,
            T_LSS => Op::Lt,
            T_GTE => Op::Ge,
            T_LTE => Op::Le,
            T_LAND => Op::And,
            T_LOR => Op::Or,
            T_LUNLESS => Op::Unless,
            _ => return None,
        })
    }

    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    /// Prometheus's `shouldDropMetricName` (note: not `atan2`).
    fn drops_name(self) -> bool {
        matches!(
            self,
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod | Op::Pow
        )
    }

    /// `vectorElemBinop`: the value, and whether to keep the element.
    fn apply(self, l: f64, r: f64) -> (f64, bool) {
        match self {
            Op::Add => (l + r, true),
            Op::Sub => (l - r, true),
            Op::Mul => (l * r, true),
            Op::Div => (l / r, true),
            // Rust's `%` on floats is C's fmod, as Go's math.Mod.
            Op::Mod => (l % r, true),
            Op::Pow => (gomath::pow(l, r), true),
            Op::Atan2 => (golibm::atan2(l, r), true),
            Op::Eq => (l, l == r),
            Op::Ne => (l, l != r),
            Op::Gt => (l, l > r),
            Op::Lt => (l, l < r),
            Op::Ge => (l, l >= r),
            Op::Le => (l, l <= r),
            Op::And | Op::Or | Op::Unless => (l, false),
        }
    }
}

/// How the two sides of a vector/vector operation are matched.
struct Matching<'a> {
    card: &'a VectorMatchCardinality,
    /// `on(...)` (true) or `ignoring(...)` (false).
    on: bool,
    names: Vec<String>,
    /// Labels copied from the "one" side by `group_left`/`group_right`.
    include: &'a [String],
}

impl Matching<'_> {
    fn sig(&self, l: &Labels) -> u64 {
        l.subset_hash(&self.names, self.on)
    }

    fn same(&self, a: &Labels, b: &Labels) -> bool {
        a.subset_eq(b, &self.names, self.on)
    }
}

/// Evaluates a binary expression.
pub(crate) fn eval(ev: &Evaluator<'_>, b: &BinaryExpr, t: i64) -> Result<Value, EvalError> {
    let op = Op::from_token(b.op.id()).ok_or_else(|| {
        EvalError::Unsupported(format!("binary operator {} is not supported", b.op))
    })?;
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    if b.modifier
        .as_ref()
        .is_some_and(|m| m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
    {
        return Err(EvalError::Unsupported(super::check::FILL_MODIFIERS.into()));
    }
    let lhs = ev.eval(&b.lhs, t)?;
    let rhs = ev.eval(&b.rhs, t)?;
    let out = match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            let (v, keep) = op.apply(l, r);
            let v = if op.is_comparison() {
                f64::from(u8::from(keep))
            } else {
                v
            };
            return Ok(Value::Scalar(v));
        }
        (Value::Vector(l), Value::Scalar(r)) => vector_scalar(op, l, r, false, return_bool),
        (Value::Scalar(l), Value::Vector(r)) => vector_scalar(op, r, l, true, return_bool),
        (Value::Vector(l), Value::Vector(r)) => {
            let default_card = VectorMatchCardinality::OneToOne;
            let (card, matching) = match &b.modifier {
                Some(m) => (&m.card, m.matching.as_ref()),
                None => (&default_card, None),
            };
            let (on, names) = match matching {
                Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
                Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
                None => (false, Vec::new()),
            };
            let include = card.labels().map_or(&[][..], |l| &l.labels[..]);
            let m = Matching {
                card,
                on,
                names,
                include,
            };
            match op {
                Op::And => set_and(l, r, &m, true),
                Op::Unless => set_and(l, r, &m, false),
                Op::Or => set_or(l, r, &m),
                _ => vector_vector(op, l, r, &m, return_bool)?,
            }
        }
        (Value::Vector(_) | Value::Scalar(_), other) | (other, _) => {
            return Err(wrong_type("scalar or vector", &other));
        }
    };
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// `VectorscalarBinop`; `swap` means the scalar was on the left.
fn vector_scalar(
    op: Op,
    v: Vec<Sample>,
    scalar: f64,
    swap: bool,
    return_bool: bool,
) -> Vec<Sample> {
    let mut out = Vec::with_capacity(v.len());
    for mut s in v {
        let (l, r) = if swap {
            (scalar, s.value)
        } else {
            (s.value, scalar)
        };
        let (mut value, mut keep) = op.apply(l, r);
        // A comparison keeps the vector's value even when it is on the right.
        if op.is_comparison() && swap {
            value = r;
        }
        if return_bool {
            value = f64::from(u8::from(keep));
            keep = true;
        }
        if keep {
            s.value = value;
            if op.drops_name() || return_bool {
                s.labels = s.labels.without_name();
            }
            out.push(s);
        }
    }
    out
}

/// Index from match signature to sample indexes.
fn index(v: &[Sample], m: &Matching<'_>) -> FxHashMap<u64, Vec<usize>> {
    let mut idx: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
    idx.reserve(v.len());
    for (i, s) in v.iter().enumerate() {
        idx.entry(m.sig(&s.labels)).or_default().push(i);
    }
    idx
}

fn has_match(idx: &FxHashMap<u64, Vec<usize>>, v: &[Sample], m: &Matching<'_>, l: &Labels) -> bool {
    idx.get(&m.sig(l))
        .is_some_and(|is| is.iter().any(|&i| m.same(&v[i].labels, l)))
}

/// `and` (keep left samples with a match on the right) or `unless`
/// (`keep_matched == false`: keep those without).
fn set_and(l: Vec<Sample>, r: Vec<Sample>, m: &Matching<'_>, keep_matched: bool) -> Vec<Sample> {
    if l.is_empty() || r.is_empty() {
        return if keep_matched { Vec::new() } else { l };
    }
    let idx = index(&r, m);
    l.into_iter()
        .filter(|s| has_match(&idx, &r, m, &s.labels) == keep_matched)
        .collect()
}

/// `or`: all left samples, plus right samples whose signature is absent on
/// the left.
fn set_or(mut l: Vec<Sample>, r: Vec<Sample>, m: &Matching<'_>) -> Vec<Sample> {
    if l.is_empty() {
        return r;
    }
    if r.is_empty() {
        return l;
    }
    let idx = index(&l, m);
    let extra: Vec<Sample> = r
        .into_iter()
        .filter(|s| !has_match(&idx, &l, m, &s.labels))
        .collect();
    l.extend(extra);
    l
}

/// `VectorBinop`: one-to-one and many-to-one/one-to-many matching.
fn vector_vector(
    op: Op,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    m: &Matching<'_>,
    return_bool: bool,
) -> Result<Vec<Sample>, EvalError> {
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let one_to_many = matches!(m.card, VectorMatchCardinality::OneToMany(_));
    let one_to_one = matches!(m.card, VectorMatchCardinality::OneToOne);
    // Make the right side the "one" side.
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };

    // Signature -> indexes into `one`; duplicates on the one side are an error.
    let mut one_idx: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
    one_idx.reserve(one.len());
    for (i, s) in one.iter().enumerate() {
        let slot = one_idx.entry(m.sig(&s.labels)).or_default();
        if let Some(&d) = slot.iter().find(|&&d| m.same(&one[d].labels, &s.labels)) {
            return Err(EvalError::DuplicateMatchSeries {
                group: s.labels.subset_labels(&m.names, m.on),
                side: if one_to_many { "left" } else { "right" },
                first: s.labels.clone(),
                second: one[d].labels.clone(),
            });
        }
        slot.push(i);
    }

    // Per matched one-side sample: the result label sets produced so far
    // (many-to-one), or just "seen" (one-to-one).
    let mut matched: FxHashMap<usize, Vec<Labels>> = FxHashMap::default();
    let mut out = Vec::new();
    for ls in many {
        let sig = m.sig(&ls.labels);
        let Some(ri) = one_idx.get(&sig).and_then(|is| {
            is.iter()
                .copied()
                .find(|&i| m.same(&one[i].labels, &ls.labels))
        }) else {
            continue;
        };
        let rs = &one[ri];
        let (vl, vr) = if one_to_many {
            (rs.value, ls.value)
        } else {
            (ls.value, rs.value)
        };
        let (mut value, keep) = op.apply(vl, vr);
        if return_bool {
            value = f64::from(u8::from(keep));
        } else if !keep {
            continue;
        }
        let mut labels = result_labels(&ls.labels, &rs.labels, op, m);
        if return_bool {
            labels = labels.without_name();
        }
        let seen = matched.entry(ri).or_default();
        if one_to_one {
            if !seen.is_empty() {
                return Err(EvalError::ManyToOneNotExplicit);
            }
            seen.push(Labels::empty());
        } else {
            if seen.contains(&labels) {
                return Err(EvalError::GroupingNotUnique);
            }
            seen.push(labels.clone());
        }
        out.push(Sample { labels, value });
    }
    Ok(out)
}

/// Prometheus's `resultMetric`: the "many" side's labels, without the name
/// for arithmetic, reduced to the matching labels for one-to-one matching,
/// plus the `group_x` labels copied from the "one" side.
fn result_labels(many: &Labels, one: &Labels, op: Op, m: &Matching<'_>) -> Labels {
    let one_to_one = matches!(m.card, VectorMatchCardinality::OneToOne);
    if m.include.is_empty() && !(one_to_one && (m.on || !m.names.is_empty())) {
        return if op.drops_name() {
            many.without_name()
        } else {
            many.clone()
        };
    }
    let mut b = many.builder();
    if op.drops_name() {
        b.del(METRIC_NAME);
    }
    if one_to_one {
        if m.on {
            b.keep(&m.names);
        } else {
            for n in &m.names {
                b.del(n);
            }
        }
    }
    for n in m.include {
        match one.get(n) {
            Some(v) => b.set(n, v),
            None => b.del(n),
        };
    }
    b.build()
}
