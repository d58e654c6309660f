//! Prefix-affinity index: chained block hashes of routed prompts, remembered
//! per endpoint in an LRU, plus a reverse map hash → endpoints holding it.
//!
//! Follows the EPP prefix plugin
//! (kubernetes-sigs/gateway-api-inference-extension,
//! `pkg/epp/scheduling/framework/plugins/multi/prefix/plugin.go` and
//! `indexer.go`): the prompt is cut into fixed-size byte blocks (a trailing
//! partial block is ignored, at most 256 blocks are hashed), each block hash
//! is chained on the previous one (`hash(i) = XXH64(block i ++ hash(i-1) LE)`,
//! from `hash(-1) = XXH64("")`), the indexer keeps an LRU of hashes per
//! server, and the score is `matched leading blocks / total blocks`. The one
//! difference: EPP seeds the chain with the target model's name, which
//! `routed` does not carry, so the chain equals EPP's for an empty name.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use xxhash_rust::xxh64::{Xxh64, xxh64};

/// Most blocks hashed per prompt (EPP `DefaultMaxPrefixBlocks`).
pub const MAX_PREFIX_BLOCKS: usize = 256;

/// Chained XXH64 hashes of the full `block`-byte blocks of `prompt`, as EPP's
/// `hashPrompt` computes them for an empty model name. Empty when
/// `block == 0` or the prompt is shorter than one block.
pub fn block_hashes(prompt: &str, block: usize) -> Vec<u64> {
    BlockHashes::new(prompt, block).collect()
}

/// Number of blocks [`block_hashes`] yields for `prompt` (without hashing).
pub fn block_count(prompt: &str, block: usize) -> usize {
    prompt
        .len()
        .checked_div(block)
        .map_or(0, |n| n.min(MAX_PREFIX_BLOCKS))
}

/// Lazy form of [`block_hashes`]: each block is hashed only when asked
/// for, so a pick hashes just the blocks the index walk reaches.
pub struct BlockHashes<'a> {
    chunks: std::iter::Take<std::slice::ChunksExact<'a, u8>>,
    prev: u64,
}

impl<'a> BlockHashes<'a> {
    pub fn new(prompt: &'a str, block: usize) -> Self {
        // `chunks_exact(0)` panics; an empty slice yields no block.
        let (bytes, block) = if block == 0 {
            (&[][..], 1)
        } else {
            (prompt.as_bytes(), block)
        };
        Self {
            chunks: bytes.chunks_exact(block).take(MAX_PREFIX_BLOCKS),
            prev: xxh64(&[], 0),
        }
    }
}

impl Iterator for BlockHashes<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let chunk = self.chunks.next()?;
        let mut h = Xxh64::new(0);
        h.update(chunk);
        h.update(&self.prev.to_le_bytes());
        self.prev = h.digest();
        Some(self.prev)
    }
}

/// Word-at-a-time hasher (Fx-style mix + murmur3 finaliser) for the
/// index's maps: keys are block hashes (already uniform) and short
/// addresses, both on the pick hot path.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// LRU of block hashes for one endpoint: `stamps` holds the live entries,
/// `order` the touch history (stale entries skipped lazily, compacted when
/// the history grows past twice the capacity).
#[derive(Default)]
struct Lru {
    stamps: FastMap<u64, u64>,
    order: VecDeque<(u64, u64)>,
}

/// Per-endpoint LRUs plus `holders`: block hash → slots holding it.
#[derive(Default)]
pub struct PrefixIndex {
    capacity: usize,
    clock: u64,
    slots: FastMap<String, u32>,
    lrus: Vec<Lru>,
    holders: FastMap<u64, Vec<u32>>,
}

impl PrefixIndex {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            ..Self::default()
        }
    }

    /// Records that `hashes` (one prompt) was routed to `address`. Blocks are
    /// touched last-to-first so a prompt's leading block is always the most
    /// recent: eviction then removes deep blocks first and every endpoint's
    /// set stays prefix-closed.
    pub fn insert(&mut self, address: &str, hashes: &[u64]) {
        if hashes.is_empty() {
            return;
        }
        let slot = match self.slots.get(address) {
            Some(&s) => s,
            None => {
                let s = u32::try_from(self.lrus.len()).unwrap_or(u32::MAX);
                if s == u32::MAX {
                    return; // 4 billion endpoints: stop indexing new ones.
                }
                self.slots.insert(address.to_owned(), s);
                self.lrus.push(Lru::default());
                s
            }
        };
        for &h in hashes.iter().rev() {
            self.touch(slot, h);
        }
    }

    fn touch(&mut self, slot: u32, h: u64) {
        self.clock += 1;
        let stamp = self.clock;
        let cap = self.capacity;
        let Some(lru) = self.lrus.get_mut(slot as usize) else {
            return;
        };
        if lru.stamps.insert(h, stamp).is_none() {
            self.holders.entry(h).or_default().push(slot);
        }
        lru.order.push_back((h, stamp));
        while lru.stamps.len() > cap {
            let Some((old, s)) = lru.order.pop_front() else {
                break;
            };
            if lru.stamps.get(&old) == Some(&s) {
                lru.stamps.remove(&old);
                if let Some(list) = self.holders.get_mut(&old) {
                    if let Some(i) = list.iter().position(|&x| x == slot) {
                        list.swap_remove(i);
                    }
                    if list.is_empty() {
                        self.holders.remove(&old);
                    }
                }
            }
        }
        if lru.order.len() > 2 * cap + 64 {
            let stamps = &lru.stamps;
            lru.order.retain(|(k, s)| stamps.get(k) == Some(s));
        }
    }

    /// Leading blocks of `hashes` held by each slot, into a reused buffer
    /// indexed by slot: `hashes` is pulled lazily (only as deep as some
    /// endpoint still holds a block). Returns `false` (and leaves `matched`
    /// unspecified) when no endpoint holds the first block; otherwise
    /// `matched` has one entry per slot.
    ///
    /// Every slot's set is prefix-closed (see [`PrefixIndex::insert`]), so
    /// the holders of block `i + 1` are a subset of the holders of block
    /// `i`, and a slot's match is the deepest block it holds. Consecutive
    /// blocks with equally many holders therefore have the same holders:
    /// only the last block of each such run is walked, deepest run first,
    /// each slot taking the depth of the first run it appears in.
    pub fn matched_into(
        &self,
        mut hashes: impl Iterator<Item = u64>,
        matched: &mut Vec<u16>,
    ) -> bool {
        let Some(mut list) = hashes.next().and_then(|h| self.holders.get(&h)) else {
            return false;
        };
        // (holders, depth) of each run's last block; at most 256 blocks.
        let mut runs: [(&[u32], u16); MAX_PREFIX_BLOCKS] = [(&[], 0); MAX_PREFIX_BLOCKS];
        let mut n = 0;
        let mut depth: u16 = 1;
        for h in hashes {
            match self.holders.get(&h) {
                Some(next) if next.len() == list.len() => {}
                Some(next) => {
                    runs[n] = (list, depth);
                    n += 1;
                    list = next;
                }
                None => break,
            }
            depth += 1;
        }
        runs[n] = (list, depth);
        n += 1;
        matched.clear();
        matched.resize(self.lrus.len(), 0);
        for &(list, depth) in runs[..n].iter().rev() {
            for &s in list {
                if let Some(m) = matched.get_mut(s as usize)
                    && *m == 0
                {
                    *m = depth;
                }
            }
        }
        true
    }

    /// Whether `address` holds block hash `h` (for tests).
    #[cfg(test)]
    pub fn holds(&self, address: &str, h: u64) -> bool {
        self.slot(address)
            .and_then(|s| self.lrus.get(s))
            .is_some_and(|l| l.stamps.contains_key(&h))
    }

    /// Number of slots (endpoints ever routed a prompt); slots are never
    /// removed, so an address absent at one count stays absent until the
    /// count grows.
    pub fn slot_count(&self) -> usize {
        self.lrus.len()
    }

    /// Slot of `address`, if it was ever routed a prompt.
    pub fn slot(&self, address: &str) -> Option<usize> {
        self.slots.get(address).map(|&s| s as usize)
    }

    /// Live block hashes remembered for `address` (for tests and metrics).
    pub fn len_of(&self, address: &str) -> usize {
        self.slot(address)
            .and_then(|s| self.lrus.get(s))
            .map_or(0, |l| l.stamps.len())
    }
}
