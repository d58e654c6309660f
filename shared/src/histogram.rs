//! A cumulative histogram with fixed bounds: what the simulator's vLLM page and the
//! aggregator's `inference_model_*` series are made of. Plain data, so it can be
//! cloned into a snapshot and stored.

/// Counts per bucket (the last is `+Inf`), sum and count.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// Upper bounds, ascending, without `+Inf`.
    pub bounds: &'static [f64],
    counts: Vec<u64>,
    /// Sum of observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    /// An empty histogram over `bounds`.
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    /// Records `v` in the first bucket whose bound is at least `v` (`le` semantics).
    pub fn observe(&mut self, v: f64) {
        let i = self.bounds.partition_point(|b| *b < v);
        self.counts[i] += 1;
        self.sum += v;
        self.count += 1;
    }

    /// The per-bucket counts (the last is `+Inf`), for storing.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// A histogram over `bounds` rebuilt from stored parts; `None` when the counts do
    /// not fit the bounds (stored under other bounds).
    pub fn from_parts(bounds: &'static [f64], counts: Vec<u64>, sum: f64) -> Option<Self> {
        (counts.len() == bounds.len() + 1).then(|| Self {
            bounds,
            count: counts.iter().sum(),
            counts,
            sum,
        })
    }

    /// `(upper bound, count in that bucket alone)`, ending with `+Inf`.
    pub fn buckets(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        self.bounds
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(self.counts.iter().copied())
    }

    /// `(le, cumulative count)` per bucket, ending with `+Inf`, as the text format
    /// writes them.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let mut acc = 0;
        self.buckets().map(move |(le, c)| {
            acc += c;
            (le, acc)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn le_is_inclusive_and_counts_accumulate() {
        let mut h = Histogram::new(&[1.0, 2.0]);
        for v in [0.5, 1.0, 1.5, 3.0] {
            h.observe(v);
        }
        assert_eq!(
            h.buckets().collect::<Vec<_>>(),
            [(1.0, 2), (2.0, 1), (f64::INFINITY, 1)]
        );
        assert_eq!(
            h.cumulative().collect::<Vec<_>>(),
            [(1.0, 2), (2.0, 3), (f64::INFINITY, 4)]
        );
        assert_eq!((h.sum, h.count), (6.0, 4));
    }
}
