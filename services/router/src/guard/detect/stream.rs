//! Incremental scanning of streamed text (e.g. SSE deltas).

use super::Detectors;
use super::finding::Finding;

/// Bytes of already-pushed text kept and rescanned with each chunk.
const WINDOW_BYTES: usize = 512;

/// Incremental scanning of a streamed text (e.g. SSE deltas): findings split across chunks
/// are caught.
///
/// Each [`push`](Self::push) scans the last [`WINDOW_BYTES`] bytes already pushed (cut on a
/// char boundary) plus the new chunk. A finding is new unless a finding of the same filter
/// reported earlier covers its range; a finding that grows as more text arrives (an e-mail
/// whose domain continues in the next chunk) is reported again with the longer range.
/// Matches longer than the window (a PEM block) are seen only partly (a PEM header-only
/// finding, Medium).
#[derive(Default)]
pub struct StreamScanner {
    /// Window + latest chunk.
    buf: String,
    /// Stream offset of `buf[0]`.
    base: usize,
    /// Reported findings that can still be seen again (end beyond the window start).
    reported: Vec<Finding>,
    scratch: Vec<Finding>,
}

impl StreamScanner {
    /// A scanner at stream offset 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scans window+chunk; returns only findings not reported before, with offsets relative
    /// to the whole stream so far.
    pub fn push(&mut self, detectors: &Detectors, chunk: &str) -> Vec<Finding> {
        self.buf.push_str(chunk);
        self.scratch.clear();
        detectors.scan_at(&self.buf, self.base == 0, &mut self.scratch);
        let mut fresh = Vec::new();
        for f in self.scratch.drain(..) {
            let f = Finding {
                start: f.start + self.base,
                end: f.end + self.base,
                ..f
            };
            let seen = self
                .reported
                .iter()
                .any(|r| r.filter == f.filter && r.start <= f.start && f.end <= r.end);
            if !seen {
                self.reported.push(f.clone());
                fresh.push(f);
            }
        }
        if self.buf.len() > WINDOW_BYTES {
            let mut cut = self.buf.len() - WINDOW_BYTES;
            while !self.buf.is_char_boundary(cut) {
                cut += 1;
            }
            self.buf.drain(..cut);
            self.base += cut;
        }
        let base = self.base;
        self.reported.retain(|r| r.end > base);
        fresh
    }
}
