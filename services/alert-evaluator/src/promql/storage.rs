//! In-memory time-series storage: series keyed by label set, an index from
//! metric name to series (kept sorted by labels), and each series' points in
//! [`SeriesPoints`](super::chunks::SeriesPoints).

use std::sync::Arc;

use super::chunks::SeriesPoints;
use super::hashing::FxHashMap;
use super::labels::Labels;

/// Prometheus's staleness marker: a NaN with a distinctive bit pattern.
pub const STALE_NAN: f64 = f64::from_bits(0x7ff0_0000_0000_0002);

/// Whether `v` is the staleness marker (compared bit for bit: other NaNs are
/// ordinary values).
#[inline]
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN.to_bits()
}

/// Why [`Storage::append`] refused a point (Prometheus's wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// Older than the series' latest point.
    #[error("out of order sample")]
    OutOfOrder,
    /// Same timestamp as the latest point but a different value.
    #[error("duplicate sample for timestamp")]
    Duplicate,
}

/// One stored series.
pub(crate) struct MemSeries {
    pub(crate) labels: Labels,
    pub(crate) points: SeriesPoints,
}

/// Series and their points, in memory.
#[derive(Default)]
pub struct Storage {
    /// Slab of series; `None` marks a free slot.
    series: Vec<Option<MemSeries>>,
    free: Vec<u32>,
    ids: FxHashMap<Labels, u32>,
    /// Metric name ("" for series without one) to ids sorted by labels.
    by_name: FxHashMap<Arc<str>, Vec<u32>>,
    points: usize,
}

impl Storage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a point (timestamp in milliseconds). Older than the series'
    /// last point is [`AppendError::OutOfOrder`]; the same timestamp with a
    /// different value (bit for bit) is [`AppendError::Duplicate`]; the same
    /// timestamp and value is accepted and ignored. [`STALE_NAN`] values are
    /// staleness markers.
    pub fn append(&mut self, labels: &Labels, t_ms: i64, value: f64) -> Result<(), AppendError> {
        let id = match self.ids.get(labels) {
            Some(&id) => id,
            None => self.create(labels.clone()),
        };
        let s = self.slot_mut(id);
        if let Some((last_t, last_v)) = s.points.last() {
            if t_ms < last_t {
                return Err(AppendError::OutOfOrder);
            }
            if t_ms == last_t {
                return if last_v.to_bits() == value.to_bits() {
                    Ok(())
                } else {
                    Err(AppendError::Duplicate)
                };
            }
        }
        s.points.push(t_ms, value);
        self.points += 1;
        Ok(())
    }

    /// Drops points with `t < min_t_ms`, and series left empty.
    pub fn truncate_before(&mut self, min_t_ms: i64) {
        let mut emptied = Vec::new();
        for (id, slot) in self.series.iter_mut().enumerate() {
            if let Some(s) = slot {
                self.points -= s.points.truncate_before(min_t_ms);
                if s.points.len() == 0 {
                    emptied.push(id);
                }
            }
        }
        for id in emptied {
            self.remove(id);
        }
    }

    /// Number of series.
    pub fn series_count(&self) -> usize {
        self.ids.len()
    }

    /// Number of points, stale markers included.
    pub fn point_count(&self) -> usize {
        self.points
    }

    /// Approximate heap bytes: chunk queues and chunk data of every series,
    /// the label sets, the slab, and both hash indexes (capacity times entry
    /// size plus one control byte per bucket).
    pub fn approx_bytes(&self) -> usize {
        let series: usize = self
            .series
            .iter()
            .flatten()
            .map(|s| s.points.heap_bytes() + s.labels.heap_bytes())
            .sum();
        let slab = self.series.capacity() * std::mem::size_of::<Option<MemSeries>>()
            + self.free.capacity() * 4;
        let ids = self.ids.capacity() * (std::mem::size_of::<(Labels, u32)>() + 1);
        let by_name: usize = self
            .by_name
            .iter()
            .map(|(k, v)| k.len() + 16 + v.capacity() * 4)
            .sum::<usize>()
            + self.by_name.capacity() * (std::mem::size_of::<(Arc<str>, Vec<u32>)>() + 1);
        series + slab + ids + by_name
    }

    /// Every series whose latest point is not a stale marker, with that
    /// point's timestamp.
    pub fn live_series(&self) -> impl Iterator<Item = (&Labels, i64)> {
        self.series.iter().flatten().filter_map(|s| {
            let (t, v) = s.points.last()?;
            (!is_stale(v)).then_some((&s.labels, t))
        })
    }

    /// Series named `name` ("" for unnamed series), sorted by labels.
    pub(crate) fn series_named(&self, name: &str) -> impl Iterator<Item = &MemSeries> {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|&id| self.slot(id))
    }

    /// All metric names ("" for unnamed series).
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(|k| &**k)
    }

    fn slot(&self, id: u32) -> Option<&MemSeries> {
        self.series.get(id as usize).and_then(Option::as_ref)
    }

    fn slot_mut(&mut self, id: u32) -> &mut MemSeries {
        match self.series.get_mut(id as usize) {
            Some(Some(s)) => s,
            // Ids come only from `ids`/`by_name`, which are updated together
            // with the slab.
            _ => unreachable!("series id {id} not in slab"),
        }
    }

    fn create(&mut self, labels: Labels) -> u32 {
        let s = MemSeries {
            labels: labels.clone(),
            points: SeriesPoints::default(),
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.series[id as usize] = Some(s);
                id
            }
            None => {
                let id = u32::try_from(self.series.len()).unwrap_or(u32::MAX);
                self.series.push(Some(s));
                id
            }
        };
        let name: Arc<str> = Arc::from(labels.name().unwrap_or(""));
        let series = &self.series;
        let list = self.by_name.entry(name).or_default();
        let pos = list.partition_point(|&other| {
            series[other as usize]
                .as_ref()
                .is_some_and(|o| o.labels < labels)
        });
        list.insert(pos, id);
        self.ids.insert(labels, id);
        id
    }

    fn remove(&mut self, id: usize) {
        let Some(s) = self.series.get_mut(id).and_then(Option::take) else {
            return;
        };
        self.ids.remove(&s.labels);
        let name = s.labels.name().unwrap_or("");
        if let Some(list) = self.by_name.get_mut(name) {
            list.retain(|&x| x as usize != id);
            if list.is_empty() {
                self.by_name.remove(name);
            }
        }
        // Slab indexes always fit in u32 (see `create`).
        self.free.push(id as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(name: &str, job: &str) -> Labels {
        Labels::from_pairs([("__name__", name), ("job", job)])
    }

    #[test]
    fn append_rules() {
        let mut s = Storage::new();
        let a = l("up", "a");
        assert_eq!(s.append(&a, 1000, 1.0), Ok(()));
        assert_eq!(s.append(&a, 999, 1.0), Err(AppendError::OutOfOrder));
        assert_eq!(s.append(&a, 1000, 2.0), Err(AppendError::Duplicate));
        assert_eq!(s.append(&a, 1000, 1.0), Ok(()));
        assert_eq!(s.append(&a, 2000, STALE_NAN), Ok(()));
        assert_eq!(s.append(&a, 2000, f64::NAN), Err(AppendError::Duplicate));
        assert_eq!(s.point_count(), 2);
        assert_eq!(s.series_count(), 1);
        assert_eq!(s.live_series().count(), 0);
        assert!(is_stale(STALE_NAN) && !is_stale(f64::NAN));
    }

    #[test]
    fn truncate_drops_empty_series_and_reuses_slots() {
        let mut s = Storage::new();
        s.append(&l("up", "a"), 1000, 1.0).unwrap();
        s.append(&l("up", "b"), 5000, 1.0).unwrap();
        s.truncate_before(2000);
        assert_eq!(s.series_count(), 1);
        assert_eq!(s.point_count(), 1);
        let live: Vec<_> = s.live_series().map(|(l, t)| (l.to_string(), t)).collect();
        assert_eq!(live, [(r#"{__name__="up", job="b"}"#.to_string(), 5000)]);
        s.append(&l("up", "c"), 6000, 1.0).unwrap();
        s.append(&l("up", "a"), 6000, 1.0).unwrap();
        let jobs: Vec<_> = s.series_named("up").map(|m| m.labels.get("job")).collect();
        assert_eq!(jobs, [Some("a"), Some("b"), Some("c")]);
        assert!(s.approx_bytes() > 0);
    }
}
