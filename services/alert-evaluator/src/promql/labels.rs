//! Label sets: immutable, sorted by name, cheap to clone.
//!
//! The metric name (`__name__`) is kept apart from the other labels so that
//! dropping it — which most PromQL operations do — shares the rest of the set
//! instead of copying it. The rest carries a precomputed hash, so hashing a
//! `Labels` (for maps keyed by series) costs two words.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock};

use super::hashing::{FxHasher, hash_pair};
use crate::template::write_quoted;

/// The label holding the metric name.
pub const METRIC_NAME: &str = "__name__";

/// Prometheus's `model.LabelName.IsValid`: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn is_valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The labels other than `__name__`, sorted by name, stored in one buffer
/// (so reading a label set touches one or two cache lines), with its hash.
struct LabelSet {
    hash: u64,
    /// Index of the first pair whose name sorts after `__name__`.
    name_pos: usize,
    /// Byte offsets in `buf`: pair `i`'s name ends at `ends[2i]`, its value
    /// at `ends[2i + 1]`.
    ends: Box<[u32]>,
    buf: Box<str>,
}

impl LabelSet {
    /// Builds from pairs sorted by name, unique, with non-empty values.
    fn new<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        let mut buf = String::new();
        let mut ends = Vec::new();
        let mut h = FxHasher::default();
        let mut name_pos = 0;
        for (n, v) in pairs {
            hash_pair(&mut h, n, v);
            if n < METRIC_NAME {
                name_pos += 1;
            }
            buf.push_str(n);
            ends.push(offset(buf.len()));
            buf.push_str(v);
            ends.push(offset(buf.len()));
        }
        LabelSet {
            hash: h.finish(),
            name_pos,
            ends: ends.into_boxed_slice(),
            buf: buf.into_boxed_str(),
        }
    }

    fn len(&self) -> usize {
        self.ends.len() / 2
    }

    #[inline]
    fn pair(&self, i: usize) -> (&str, &str) {
        let start = if i == 0 {
            0
        } else {
            self.ends[2 * i - 1] as usize
        };
        let mid = self.ends[2 * i] as usize;
        let end = self.ends[2 * i + 1] as usize;
        (&self.buf[start..mid], &self.buf[mid..end])
    }

    fn pairs(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = (&str, &str)> + Clone {
        range.map(move |i| self.pair(i))
    }

    fn eq_pairs(&self, other: &LabelSet) -> bool {
        self.ends == other.ends && self.buf == other.buf
    }
}

/// Label sets are far below 4 GiB.
fn offset(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

static EMPTY_SET: LazyLock<Arc<LabelSet>> =
    LazyLock::new(|| Arc::new(LabelSet::new(std::iter::empty())));

/// An immutable set of labels sorted by name; empty values are never stored
/// (in Prometheus an empty label is the same as an absent one).
#[derive(Clone)]
pub struct Labels {
    name: Option<Arc<str>>,
    rest: Arc<LabelSet>,
}

impl Labels {
    /// The empty label set.
    pub fn empty() -> Labels {
        Labels {
            name: None,
            rest: Arc::clone(&EMPTY_SET),
        }
    }

    /// Builds a label set from pairs in any order; later duplicates win and
    /// pairs with an empty value are dropped.
    pub fn from_pairs<I, K, V>(pairs: I) -> Labels
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut v: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        // Stable sort keeps insertion order among equal names, so the last
        // of each run is the latest duplicate.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(&str, &str)> = Vec::with_capacity(v.len());
        let mut iter = v.iter().peekable();
        while let Some((n, val)) = iter.next() {
            if iter.peek().is_some_and(|(next, _)| next == n) {
                continue;
            }
            if !val.is_empty() {
                out.push((n, val));
            }
        }
        Labels::from_sorted(out.into_iter())
    }

    /// Builds from pairs sorted by name, unique, with non-empty values.
    pub(crate) fn from_sorted<'a>(
        pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Labels {
        let name = pairs
            .clone()
            .find(|(n, _)| *n == METRIC_NAME)
            .map(|(_, v)| Arc::from(v));
        let mut rest = pairs.filter(|(n, _)| *n != METRIC_NAME).peekable();
        let rest = if rest.peek().is_none() {
            Arc::clone(&EMPTY_SET)
        } else {
            Arc::new(LabelSet::new(rest))
        };
        Labels { name, rest }
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        if name == METRIC_NAME {
            return self.name.as_deref();
        }
        let set = &*self.rest;
        let (mut lo, mut hi) = (0, set.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let (n, v) = set.pair(mid);
            match n.cmp(name) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(v),
            }
        }
        None
    }

    /// All pairs, sorted by name (`__name__` at its sorted position).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone + '_ {
        let set = &*self.rest;
        set.pairs(0..set.name_pos)
            .chain(self.name.as_deref().map(|n| (METRIC_NAME, n)))
            .chain(set.pairs(set.name_pos..set.len()))
    }

    /// The metric name (`__name__`), if present.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The same labels without `__name__`; shares storage with `self`.
    pub fn without_name(&self) -> Labels {
        Labels {
            name: None,
            rest: Arc::clone(&self.rest),
        }
    }

    /// The labels as an ordered map.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    /// Number of labels, `__name__` included.
    pub fn len(&self) -> usize {
        self.rest.len() + usize::from(self.name.is_some())
    }

    /// Whether there are no labels at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the pairs for editing; see [`LabelsBuilder`].
    pub(crate) fn builder(&self) -> LabelsBuilder<'_> {
        LabelsBuilder {
            pairs: self
                .iter()
                .map(|(n, v)| (Cow::Borrowed(n), Cow::Borrowed(v)))
                .collect(),
        }
    }

    /// Pairs selected for vector matching or grouping: with `include`, only
    /// the labels in `names` (as `on`/`by` do); otherwise all labels except
    /// those in `names` and `__name__` (as `ignoring`/`without` do).
    pub(crate) fn subset<'a>(
        &'a self,
        names: &'a [String],
        include: bool,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + Clone + 'a {
        self.iter().filter(move |(n, _)| {
            let listed = names.iter().any(|x| x == n);
            if include {
                listed
            } else {
                !listed && *n != METRIC_NAME
            }
        })
    }

    /// Hash of [`Labels::subset`].
    pub(crate) fn subset_hash(&self, names: &[String], include: bool) -> u64 {
        if !include && names.is_empty() {
            return self.rest.hash;
        }
        let mut h = FxHasher::default();
        for (n, v) in self.subset(names, include) {
            hash_pair(&mut h, n, v);
        }
        h.finish()
    }

    /// Whether two label sets have the same [`Labels::subset`].
    pub(crate) fn subset_eq(&self, other: &Labels, names: &[String], include: bool) -> bool {
        if !include && names.is_empty() {
            return self.rest_eq(other);
        }
        self.subset(names, include).eq(other.subset(names, include))
    }

    /// [`Labels::subset`] as a label set.
    pub(crate) fn subset_labels(&self, names: &[String], include: bool) -> Labels {
        if !include && names.is_empty() {
            return self.without_name();
        }
        Labels::from_sorted(self.subset(names, include))
    }

    /// The value of label `skip` (not `__name__`) and a hash of all the
    /// other labels, `__name__` included, in one pass.
    pub(crate) fn split_hash(&self, skip: &str) -> (Option<&str>, u64) {
        let mut h = FxHasher::default();
        if let Some(n) = &self.name {
            hash_pair(&mut h, METRIC_NAME, n);
        }
        let set = &*self.rest;
        let mut found = None;
        for i in 0..set.len() {
            let (n, v) = set.pair(i);
            if n == skip {
                found = Some(v);
            } else {
                hash_pair(&mut h, n, v);
            }
        }
        (found, h.finish())
    }

    /// Whether all labels except `skip` (not `__name__`) are equal.
    pub(crate) fn eq_except(&self, other: &Labels, skip: &str) -> bool {
        if self.name != other.name {
            return false;
        }
        let (a, b) = (&*self.rest, &*other.rest);
        let (mut i, mut j) = (0, 0);
        loop {
            if i < a.len() && a.pair(i).0 == skip {
                i += 1;
            }
            if j < b.len() && b.pair(j).0 == skip {
                j += 1;
            }
            match (i < a.len(), j < b.len()) {
                (false, false) => return true,
                (true, true) if a.pair(i) == b.pair(j) => {}
                _ => return false,
            }
            i += 1;
            j += 1;
        }
    }

    fn rest_eq(&self, other: &Labels) -> bool {
        Arc::ptr_eq(&self.rest, &other.rest)
            || (self.rest.hash == other.rest.hash && self.rest.eq_pairs(&other.rest))
    }

    /// Bytes held on the heap by this label set (for memory accounting):
    /// the shared rest (Arc header, struct, offsets, string buffer) and the
    /// name string.
    pub(crate) fn heap_bytes(&self) -> usize {
        let rest =
            16 + std::mem::size_of::<LabelSet>() + self.rest.ends.len() * 4 + self.rest.buf.len();
        let name = self.name.as_ref().map_or(0, |n| n.len() + 16);
        rest + name
    }
}

/// A mutable copy of a label set, for the few operations that edit labels.
pub(crate) struct LabelsBuilder<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl LabelsBuilder<'_> {
    /// Sets `name` to `value`; an empty value deletes the label.
    pub(crate) fn set(&mut self, name: &str, value: &str) -> &mut Self {
        if value.is_empty() {
            return self.del(name);
        }
        let value = Cow::Owned(value.to_owned());
        match self.pairs.binary_search_by(|(n, _)| (**n).cmp(name)) {
            Ok(i) => self.pairs[i].1 = value,
            Err(i) => self.pairs.insert(i, (Cow::Owned(name.to_owned()), value)),
        }
        self
    }

    /// Removes `name` if present.
    pub(crate) fn del(&mut self, name: &str) -> &mut Self {
        if let Ok(i) = self.pairs.binary_search_by(|(n, _)| (**n).cmp(name)) {
            self.pairs.remove(i);
        }
        self
    }

    /// Keeps only the labels listed in `names`.
    pub(crate) fn keep(&mut self, names: &[String]) -> &mut Self {
        self.pairs.retain(|(n, _)| names.iter().any(|x| **x == **n));
        self
    }

    pub(crate) fn build(&self) -> Labels {
        Labels::from_sorted(self.pairs.iter().map(|(n, v)| (&**n, &**v)))
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.rest_eq(other)
    }
}

impl Eq for Labels {}

impl Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.rest.hash);
        if let Some(n) = &self.name {
            state.write(n.as_bytes());
        }
    }
}

impl Ord for Labels {
    /// Prometheus's `labels.Compare`: pairwise by name then value, then by length.
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Default for Labels {
    fn default() -> Self {
        Labels::empty()
    }
}

impl fmt::Display for Labels {
    /// Like Go's `labels.Labels.String()`: `{__name__="up", job="x"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_label_set(f, self.iter())
    }
}

/// Prometheus's `labels.Labels.String()` (and Alertmanager's `LabelSet.String()`)
/// of `pairs` in the order given: `{a="b", c="d"}`, values quoted as Go's
/// `strconv.Quote`. The one label-set printer of the crate.
pub(crate) fn write_label_set<'a, W: fmt::Write>(
    out: &mut W,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> fmt::Result {
    out.write_char('{')?;
    for (i, (n, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.write_str(", ")?;
        }
        out.write_str(n)?;
        out.write_char('=')?;
        write_quoted(out, v)?;
    }
    out.write_char('}')
}

/// [`write_label_set`] as a `String`.
pub(crate) fn label_set_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    // Writing to a `String` cannot fail.
    let _ = write_label_set(&mut out, pairs);
    out
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_sorts_dedups_and_drops_empty() {
        let l = Labels::from_pairs([
            ("b", "1"),
            ("a", "x"),
            ("__name__", "m"),
            ("b", "2"),
            ("c", ""),
        ]);
        let v: Vec<_> = l.iter().collect();
        assert_eq!(v, [("__name__", "m"), ("a", "x"), ("b", "2")]);
        assert_eq!(l.len(), 3);
        assert_eq!(l.name(), Some("m"));
        assert_eq!(l.get("c"), None);
        assert_eq!(l.to_string(), r#"{__name__="m", a="x", b="2"}"#);
    }

    #[test]
    fn name_sorts_after_uppercase_labels() {
        let l = Labels::from_pairs([("A", "1"), ("__name__", "m"), ("z", "2")]);
        let names: Vec<_> = l.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["A", "__name__", "z"]);
        assert_eq!(l.without_name().to_string(), r#"{A="1", z="2"}"#);
    }

    #[test]
    fn equality_hash_and_order() {
        use std::collections::hash_map::DefaultHasher;
        let a = Labels::from_pairs([("__name__", "m"), ("a", "1")]);
        let b = Labels::from_pairs([("a", "1"), ("__name__", "m")]);
        assert_eq!(a, b);
        let hash = |l: &Labels| {
            let mut h = DefaultHasher::new();
            l.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(a, a.without_name());
        assert!(a < a.without_name()); // "__name__" < "a"
        let c = Labels::from_pairs([("a", "1"), ("b", "0")]);
        assert!(a.without_name() < c);
    }

    #[test]
    fn go_quoting() {
        let l = Labels::from_pairs([("a", "x\"y\\z\n\u{1}")]);
        assert_eq!(l.to_string(), r#"{a="x\"y\\z\n\x01"}"#);
    }

    #[test]
    fn builder_and_subsets() {
        let l = Labels::from_pairs([("__name__", "m"), ("a", "1"), ("b", "2")]);
        let names = vec!["a".to_string()];
        assert_eq!(l.subset_labels(&names, true).to_string(), r#"{a="1"}"#);
        assert_eq!(l.subset_labels(&names, false).to_string(), r#"{b="2"}"#);
        let other = Labels::from_pairs([("a", "1"), ("b", "3")]);
        assert!(l.subset_eq(&other, &names, true));
        assert_eq!(l.subset_hash(&names, true), other.subset_hash(&names, true));
        assert!(!l.subset_eq(&other, &names, false));
        let edited = l.builder().set("c", "3").del("a").set("b", "").build();
        assert_eq!(edited.to_string(), r#"{__name__="m", c="3"}"#);
    }
}
