//! The points of one series: a queue of fixed-size chunks.
//!
//! A chunk holds up to [`CHUNK_CAP`] points as `u32` millisecond offsets from
//! the chunk's first timestamp plus `f64` values (12 bytes a point, stored as
//! two arrays so scans over values touch only values). Small per-chunk
//! metadata (first/last point, "has a decrease", "has a stale marker") lives
//! inline in the queue, so most window queries — `rate` over a counter that
//! did not reset — are answered with two binary searches and no scan.

use std::collections::VecDeque;

use super::storage::is_stale;

/// Points per chunk.
pub(crate) const CHUNK_CAP: usize = 128;

struct ChunkData {
    dts: [u32; CHUNK_CAP],
    vals: [f64; CHUNK_CAP],
}

struct Chunk {
    base: i64,
    /// Index of the first live point (only the oldest chunk is trimmed).
    start: u16,
    /// One past the last point.
    end: u16,
    /// Some value is lower than the one before it (in this chunk).
    has_drop: bool,
    /// Some value is a stale marker.
    has_stale: bool,
    first_t: i64,
    first_v: f64,
    last_t: i64,
    last_v: f64,
    data: Box<ChunkData>,
}

impl Chunk {
    fn new(t: i64, v: f64) -> Chunk {
        let mut data = Box::new(ChunkData {
            dts: [0; CHUNK_CAP],
            vals: [0.0; CHUNK_CAP],
        });
        data.vals[0] = v;
        Chunk {
            base: t,
            start: 0,
            end: 1,
            has_drop: false,
            has_stale: is_stale(v),
            first_t: t,
            first_v: v,
            last_t: t,
            last_v: v,
            data,
        }
    }

    #[inline]
    fn t(&self, i: usize) -> i64 {
        self.base + i64::from(self.data.dts[i])
    }

    #[inline]
    fn range(&self) -> std::ops::Range<usize> {
        usize::from(self.start)..usize::from(self.end)
    }

    /// Appends if there is room and the offset fits in `u32`.
    fn try_push(&mut self, t: i64, v: f64) -> bool {
        let i = usize::from(self.end);
        let Ok(dt) = u32::try_from(t - self.base) else {
            return false;
        };
        if i == CHUNK_CAP {
            return false;
        }
        self.data.dts[i] = dt;
        self.data.vals[i] = v;
        self.has_drop |= v < self.last_v;
        self.has_stale |= is_stale(v);
        self.last_t = t;
        self.last_v = v;
        self.end += 1;
        true
    }

    /// First index in the live range whose timestamp is not `before`,
    /// starting from where regular spacing would put it.
    fn partition(&self, before: impl Fn(i64) -> bool, t: i64) -> usize {
        let r = self.range();
        let guess = interpolate(t, self.first_t, self.last_t, r.len());
        partition_from(r.start, r.end, r.start + guess, |i| before(self.t(i)))
    }
}

/// Where `t` falls among `n` evenly spaced slots spanning `[first, last]`.
fn interpolate(t: i64, first: i64, last: i64, n: usize) -> usize {
    if n <= 1 || last <= first || t <= first {
        return 0;
    }
    let frac = (t - first) as f64 / (last - first) as f64;
    (frac * (n - 1) as f64) as usize
}

/// The first index in `lo..hi` for which `before` is false (`before` must be
/// true then false along the range), found by galloping outwards from
/// `guess` and then bisecting: O(log distance), so a good guess touches
/// only a cache line or two.
fn partition_from(lo: usize, hi: usize, guess: usize, before: impl Fn(usize) -> bool) -> usize {
    let g = guess.clamp(lo, hi);
    let (mut left, mut right);
    if g < hi && before(g) {
        left = g + 1;
        right = hi;
        let mut step = 1;
        while g + step < hi {
            if before(g + step) {
                left = g + step + 1;
                step *= 2;
            } else {
                right = g + step;
                break;
            }
        }
    } else {
        left = lo;
        right = g;
        let mut step = 1;
        while step <= g - lo {
            if before(g - step) {
                left = g - step + 1;
                break;
            }
            right = g - step;
            step *= 2;
        }
    }
    while left < right {
        let mid = (left + right) / 2;
        if before(mid) {
            left = mid + 1;
        } else {
            right = mid;
        }
    }
    left
}

/// A point position: chunk index and index inside that chunk.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Pos {
    chunk: usize,
    idx: usize,
}

/// All points of one series, oldest first.
#[derive(Default)]
pub(crate) struct SeriesPoints {
    chunks: VecDeque<Chunk>,
    len: usize,
}

impl SeriesPoints {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn last(&self) -> Option<(i64, f64)> {
        self.chunks.back().map(|c| (c.last_t, c.last_v))
    }

    /// Appends a point; the caller guarantees `t` is after the last point.
    pub(crate) fn push(&mut self, t: i64, v: f64) {
        let pushed = self.chunks.back_mut().is_some_and(|c| c.try_push(t, v));
        if !pushed {
            self.chunks.push_back(Chunk::new(t, v));
        }
        self.len += 1;
    }

    /// Drops points older than `min_t`; returns how many were dropped.
    pub(crate) fn truncate_before(&mut self, min_t: i64) -> usize {
        let before = self.len;
        while self.chunks.front().is_some_and(|c| c.last_t < min_t) {
            if let Some(c) = self.chunks.pop_front() {
                self.len -= c.range().len();
            }
        }
        if let Some(c) = self.chunks.front_mut()
            && c.first_t < min_t
        {
            let idx = c.partition(|t| t < min_t, min_t);
            self.len -= idx - usize::from(c.start);
            // `idx < end` because the chunk's last point is >= min_t, and
            // `end <= CHUNK_CAP` fits in u16.
            c.start = idx as u16;
            c.first_t = c.t(idx);
            c.first_v = c.data.vals[idx];
        }
        before - self.len
    }

    /// The position of the first point not `before` (or the end); `t` is
    /// the timestamp the predicate compares with, used to guess the spot.
    fn partition(&self, before: impl Fn(i64) -> bool, t: i64) -> Pos {
        let n = self.chunks.len();
        if n == 0 {
            return self.end_pos();
        }
        // Rules read the newest minutes of the window: gallop from the newest chunk,
        // so the chunks probed are the last few, adjacent in memory (interpolating
        // between the oldest and newest chunk touched both ends and a guess: a
        // cache miss each, per series per query).
        let chunk = partition_from(0, n, n - 1, |i| before(self.chunks[i].last_t));
        match self.chunks.get(chunk) {
            None => Pos { chunk, idx: 0 },
            Some(c) if !before(c.first_t) => Pos {
                chunk,
                idx: usize::from(c.start),
            },
            Some(c) => Pos {
                chunk,
                idx: c.partition(before, t),
            },
        }
    }

    fn end_pos(&self) -> Pos {
        Pos {
            chunk: self.chunks.len(),
            idx: 0,
        }
    }

    /// The latest point with timestamp `<= t`.
    pub(crate) fn latest_at(&self, t: i64) -> Option<(i64, f64)> {
        let last = self.chunks.back()?;
        if last.last_t <= t {
            return Some((last.last_t, last.last_v));
        }
        let pos = self.partition(|x| x <= t, t);
        let c = &self.chunks[pos.chunk];
        if pos.idx > usize::from(c.start) {
            let i = pos.idx - 1;
            return Some((c.t(i), c.data.vals[i]));
        }
        let prev = self.chunks.get(pos.chunk.checked_sub(1)?)?;
        Some((prev.last_t, prev.last_v))
    }

    /// The points with `mint <= t <= maxt`.
    pub(crate) fn window(&self, mint: i64, maxt: i64) -> Window<'_> {
        let start = self.partition(|t| t < mint, mint);
        let end = match self.chunks.back() {
            Some(c) if c.last_t <= maxt => self.end_pos(),
            _ => self.partition(|t| t <= maxt, maxt),
        };
        let mut w = Window {
            chunks: &self.chunks,
            start,
            end,
            len: 0,
        };
        w.len = w.segments().map(|s| s.vals.len()).sum();
        w
    }

    /// Bytes used by the points (chunk queue plus chunk data).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Chunk>()
            + self.chunks.len() * std::mem::size_of::<ChunkData>()
    }
}

/// A contiguous run of points inside one chunk.
pub(crate) struct Segment<'a> {
    base: i64,
    dts: &'a [u32],
    pub(crate) vals: &'a [f64],
}

impl Segment<'_> {
    #[inline]
    pub(crate) fn t(&self, i: usize) -> i64 {
        self.base + i64::from(self.dts[i])
    }
}

/// A borrowed, possibly empty, time range of one series' points.
#[derive(Clone, Copy)]
pub(crate) struct Window<'a> {
    chunks: &'a VecDeque<Chunk>,
    start: Pos,
    end: Pos,
    len: usize,
}

impl<'a> Window<'a> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk-wise runs of points, oldest first.
    pub(crate) fn segments(&self) -> impl Iterator<Item = Segment<'a>> + 'a {
        let (start, end, chunks) = (self.start, self.end, self.chunks);
        let last = end.chunk.min(chunks.len().saturating_sub(1));
        (start.chunk..=last).filter_map(move |ci| {
            let c = chunks.get(ci)?;
            let lo = if ci == start.chunk {
                start.idx
            } else {
                usize::from(c.start)
            };
            let hi = if ci == end.chunk {
                end.idx
            } else {
                usize::from(c.end)
            };
            (lo < hi).then(|| Segment {
                base: c.base,
                dts: &c.data.dts[lo..hi],
                vals: &c.data.vals[lo..hi],
            })
        })
    }

    /// Chunks overlapping the window.
    fn chunks(&self) -> impl Iterator<Item = &'a Chunk> + 'a {
        let last = self.end.chunk.min(self.chunks.len());
        self.chunks.range(self.start.chunk..last).chain(
            (self.end.chunk < self.chunks.len() && self.end.idx > 0)
                .then(|| &self.chunks[self.end.chunk]),
        )
    }

    /// All points, oldest first.
    pub(crate) fn iter(&self) -> WindowIter<'a> {
        let mut it = WindowIter {
            chunks: self.chunks,
            end: self.end,
            chunk: self.start.chunk,
            current: None,
            idx: self.start.idx,
            hi: self.start.idx,
        };
        if let Some(c) = self.chunks.get(self.start.chunk) {
            it.current = Some(c);
            it.hi = if self.end.chunk == self.start.chunk {
                self.end.idx
            } else {
                usize::from(c.end)
            };
        }
        it
    }

    /// The oldest point.
    pub(crate) fn first(&self) -> Option<(i64, f64)> {
        if self.is_empty() {
            return None;
        }
        let c = self.chunks.get(self.start.chunk)?;
        Some((c.t(self.start.idx), c.data.vals[self.start.idx]))
    }

    /// The newest point.
    pub(crate) fn last(&self) -> Option<(i64, f64)> {
        if self.is_empty() {
            return None;
        }
        if self.end.chunk == self.chunks.len() {
            // The window reaches the series' end: use the chunk metadata.
            return self.chunks.back().map(|c| (c.last_t, c.last_v));
        }
        let s = self.segments().last()?;
        let i = s.vals.len() - 1;
        Some((s.t(i), s.vals[i]))
    }

    /// The two newest points (older first).
    pub(crate) fn last_two(&self) -> Option<((i64, f64), (i64, f64))> {
        let mut prev: Option<Segment<'a>> = None;
        let mut cur: Option<Segment<'a>> = None;
        for s in self.segments() {
            prev = cur.replace(s);
        }
        let s = cur?;
        let n = s.vals.len();
        let last = (s.t(n - 1), s.vals[n - 1]);
        if n >= 2 {
            return Some(((s.t(n - 2), s.vals[n - 2]), last));
        }
        let p = prev?;
        let m = p.vals.len();
        Some(((p.t(m - 1), p.vals[m - 1]), last))
    }

    /// Whether some point is a stale marker.
    pub(crate) fn has_stale(&self) -> bool {
        self.chunks().any(|c| c.has_stale)
            && self.segments().any(|s| s.vals.iter().any(|&v| is_stale(v)))
    }

    /// Whether some value may be lower than the one before it (false means
    /// certainly monotonic non-decreasing, NaN comparisons counting as no
    /// decrease, as Prometheus's counter-reset check does).
    pub(crate) fn may_drop(&self) -> bool {
        let mut prev_last: Option<f64> = None;
        for c in self.chunks() {
            if c.has_drop {
                return true;
            }
            if prev_last.is_some_and(|p| c.first_v < p) {
                return true;
            }
            prev_last = Some(c.last_v);
        }
        false
    }
}

/// Iterator over a [`Window`]'s points.
pub(crate) struct WindowIter<'a> {
    chunks: &'a VecDeque<Chunk>,
    end: Pos,
    chunk: usize,
    current: Option<&'a Chunk>,
    idx: usize,
    hi: usize,
}

impl Iterator for WindowIter<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        loop {
            let c = self.current?;
            if self.idx < self.hi {
                let i = self.idx;
                self.idx += 1;
                return Some((c.t(i), c.data.vals[i]));
            }
            if self.chunk >= self.end.chunk {
                self.current = None;
                return None;
            }
            self.chunk += 1;
            let next = self.chunks.get(self.chunk);
            self.current = next;
            if let Some(n) = next {
                self.idx = usize::from(n.start);
                self.hi = if self.chunk == self.end.chunk {
                    self.end.idx
                } else {
                    usize::from(n.end)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(points: impl IntoIterator<Item = (i64, f64)>) -> SeriesPoints {
        let mut s = SeriesPoints::default();
        for (t, v) in points {
            s.push(t, v);
        }
        s
    }

    #[test]
    fn windows_across_chunks_are_closed_intervals() {
        let s = series((0..1000).map(|i| (i * 1000, i as f64)));
        assert!(s.chunks.len() > 5);
        for (mint, maxt) in [
            (0, 0),
            (5_000, 300_000),
            (127_000, 128_000),
            (-5, 999_000),
            (1, 999),
        ] {
            let w = s.window(mint, maxt);
            let want: Vec<_> = (0..1000)
                .map(|i| (i * 1000, i as f64))
                .filter(|&(t, _)| t >= mint && t <= maxt)
                .collect();
            assert_eq!(w.iter().collect::<Vec<_>>(), want, "{mint} {maxt}");
            assert_eq!(w.len(), want.len());
            assert_eq!(w.first(), want.first().copied());
            assert_eq!(w.last(), want.last().copied());
            if want.len() >= 2 {
                assert_eq!(
                    w.last_two(),
                    Some((want[want.len() - 2], want[want.len() - 1]))
                );
            }
            assert!(!w.may_drop());
        }
    }

    #[test]
    fn irregular_spacing_and_galloping_search() {
        // Bursts and gaps defeat the interpolation guess; results must not change.
        let mut t = 0;
        let mut pts = Vec::new();
        for i in 0..2000i64 {
            t += if i % 300 < 5 { 100_000 } else { 1 + i % 7 };
            pts.push((t, i as f64));
        }
        let s = series(pts.clone());
        for (k, &(pt, _)) in pts.iter().enumerate().step_by(37) {
            for (mint, maxt) in [(pt, pt + 5000), (pt - 1, pt + 1), (pt + 1, pt + 200_000)] {
                let want: Vec<_> = pts
                    .iter()
                    .copied()
                    .filter(|&(x, _)| x >= mint && x <= maxt)
                    .collect();
                assert_eq!(s.window(mint, maxt).iter().collect::<Vec<_>>(), want, "{k}");
            }
            assert_eq!(s.latest_at(pt), Some(pts[k]));
            assert_eq!(s.latest_at(pt - 1), k.checked_sub(1).map(|j| pts[j]));
        }
        for n in 0..40 {
            for g in 0..=n {
                for p in 0..=n {
                    assert_eq!(partition_from(0, n, g, |i| i < p), p);
                }
            }
        }
    }

    #[test]
    fn latest_and_truncate() {
        let mut s = series((0..300).map(|i| (i * 10, i as f64)));
        assert_eq!(s.latest_at(1285), Some((1280, 128.0)));
        assert_eq!(s.latest_at(1279), Some((1270, 127.0)));
        assert_eq!(s.latest_at(-1), None);
        assert_eq!(s.truncate_before(1275), 128);
        assert_eq!(s.len(), 172);
        assert_eq!(s.window(0, 1300).first(), Some((1280, 128.0)));
        assert_eq!(s.latest_at(1279), None);
        assert_eq!(s.truncate_before(10_000), 172);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn drop_detection_includes_chunk_boundaries() {
        let mut pts: Vec<_> = (0..200).map(|i| (i, i as f64)).collect();
        pts[CHUNK_CAP].1 = 0.0; // first point of the second chunk drops
        let s = series(pts);
        assert!(!s.window(0, 127).may_drop());
        assert!(s.window(100, 150).may_drop());
    }
}
