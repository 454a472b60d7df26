//! A memo of whole-path walks, shared by every thread of the process: the same path asked
//! again, with nothing applied to the cache since (`gen` unchanged) and the same start (root,
//! or the same cwd node), walks to the same node. Only the final node's attributes are then read
//! (under its seqcount, as always), whatever the path's depth.
//!
//! Why this is exact: between two equal values of `gen` no node was killed and no attributes
//! were dropped (both only happen while applying events or flushing, which move `gen`). Fills
//! may add nodes meanwhile, but a path that already resolved to a node or to ENOENT/ENOTDIR does
//! not involve the names they add. So the earlier walk's result is the walk's result now.
//!
//! The table is 4-way set-associative and lives in the arena. Entries are seqlocked: a writer claims one
//! with a compare-and-swap of its even seqcount (and skips it if another thread holds it), so the
//! lookup side stays free of read-modify-writes; a reader that raced a writer simply misses.

use crate::dcache::NodeRef;
use crate::sys::Errno;
use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering::*};

/// Entries in the table at most (a power of two).
pub const ENTRIES: usize = 8192;
/// Entries in use while the arena is small (see `Arena::memo`).
pub const MIN_ENTRIES: usize = 64;
/// Entries per set (the table is set-associative: paths that share a slot do not evict each
/// other at once).
const WAYS: usize = 4;
/// Longest path memoized.
pub const MAX_PATH: usize = 184;
const WORDS: usize = MAX_PATH / 8;

/// One memoized walk.
#[repr(C, align(64))]
pub struct Entry {
    seq: AtomicU32,
    /// Path length | nofollow << 15 | kind << 16 | errno << 20 (kind: 0 empty, 1 node, 2 error).
    meta: AtomicU32,
    gen: AtomicU64,
    hash: AtomicU64,
    /// The cwd node (packed) the walk started from, or 0 for an absolute path.
    start: AtomicU64,
    node: AtomicU64,
    path: [AtomicU64; WORDS],
}

/// What a memo hit says.
pub enum Memoed {
    Node(NodeRef),
    Error(Errno),
}

/// The key of a lookup.
pub struct Key<'a> {
    pub path: &'a [u8],
    pub start: u64,
    pub nofollow: bool,
    pub gen: u64,
}

#[inline(always)]
fn word(p: &[u8], i: usize) -> u64 {
    let lo = i * 8;
    match p.get(lo..lo + 8) {
        Some(w) => u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]),
        None => {
            // The last 1-7 bytes, zero-extended (a byte loop: no call to memcpy on the path
            // every first sighting takes).
            let mut v = 0u64;
            for (j, &b) in p.get(lo..).unwrap_or(&[]).iter().enumerate() {
                v |= (b as u64) << (8 * j);
            }
            v
        }
    }
}

impl Key<'_> {
    /// A 64-bit hash of the key (8 bytes at a time).
    pub fn hash(&self) -> u64 {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h =
            (self.start ^ (self.nofollow as u64) << 63 ^ self.path.len() as u64).wrapping_mul(K);
        for i in 0..self.path.len().div_ceil(8) {
            h = (h.rotate_left(5) ^ word(self.path, i)).wrapping_mul(K);
        }
        // Finalize (murmur3's fmix64): the table index and the first-sight filter use low bits,
        // which a multiply alone leaves poorly mixed.
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }

    fn meta(&self, kind: u32, errno: i32) -> u32 {
        self.path.len() as u32
            | (self.nofollow as u32) << 15
            | kind << 16
            | (errno as u32 & 0xfff) << 20
    }
}

/// The table, over entries in the arena.
pub struct Memo<'a> {
    pub e: &'a [Entry],
}

impl Memo<'_> {
    /// The memoized result for `k` (whose hash is `h`), if any and still valid.
    #[inline]
    pub fn get(&self, k: &Key<'_>, h: u64) -> Option<Memoed> {
        if k.path.len() > MAX_PATH || self.e.is_empty() {
            return None;
        }
        let set = (h as usize & (self.e.len() - 1)) & !(WAYS - 1);
        self.e[set..set + WAYS]
            .iter()
            .find_map(|e| Self::get_in(e, k, h))
    }

    #[inline(always)]
    fn get_in(e: &Entry, k: &Key<'_>, h: u64) -> Option<Memoed> {
        // Acquire pairs with the Release store that ends `put`.
        let s = e.seq.load(Acquire);
        if s & 1 != 0 || e.hash.load(Relaxed) != h || e.gen.load(Relaxed) != k.gen {
            return None;
        }
        let meta = e.meta.load(Relaxed);
        if meta & 0x7fff != k.path.len() as u32
            || (meta >> 15) & 1 != k.nofollow as u32
            || e.start.load(Relaxed) != k.start
        {
            return None;
        }
        for i in 0..k.path.len().div_ceil(8) {
            if e.path[i].load(Relaxed) != word(k.path, i) {
                return None;
            }
        }
        let node = e.node.load(Relaxed);
        // The seqlock reader's check: nothing was rewritten while we read.
        fence(Acquire);
        if e.seq.load(Relaxed) != s {
            return None;
        }
        match (meta >> 16) & 0xf {
            1 => Some(Memoed::Node(NodeRef {
                idx: (node >> 32) as u32,
                incarn: node as u32,
            })),
            2 => Some(Memoed::Error(Errno((meta >> 20) as i32))),
            _ => None,
        }
    }

    /// Remembers the walk's result for `k` (whose hash is `h`); skipped if another thread is
    /// writing the same entry.
    #[inline]
    pub fn put(&self, k: &Key<'_>, h: u64, r: Memoed) {
        if k.path.len() > MAX_PATH || self.e.is_empty() {
            return;
        }
        // A set of WAYS entries: the one already holding this key or a stale one (older `gen`),
        // else one picked by the hash's high bits.
        let set = (h as usize & (self.e.len() - 1)) & !(WAYS - 1);
        let ways = &self.e[set..set + WAYS];
        let e = ways
            .iter()
            .find(|e| e.hash.load(Relaxed) == h)
            .or_else(|| ways.iter().find(|e| e.gen.load(Relaxed) != k.gen))
            .unwrap_or(&ways[(h >> 40) as usize & (WAYS - 1)]);
        let s = e.seq.load(Relaxed);
        // Acquire: our stores below come after the claim (pairs with the reader's seq checks).
        if s & 1 != 0
            || e.seq
                .compare_exchange(s, s.wrapping_add(1), Acquire, Relaxed)
                .is_err()
        {
            return;
        }
        let (meta, node) = match r {
            Memoed::Node(n) => (k.meta(1, 0), (n.idx as u64) << 32 | n.incarn as u64),
            Memoed::Error(x) => (k.meta(2, x.0), 0),
        };
        e.gen.store(k.gen, Relaxed);
        e.hash.store(h, Relaxed);
        e.start.store(k.start, Relaxed);
        e.meta.store(meta, Relaxed);
        e.node.store(node, Relaxed);
        for i in 0..k.path.len().div_ceil(8) {
            e.path[i].store(word(k.path, i), Relaxed);
        }
        // Release pairs with the reader's Acquire load of `seq`.
        e.seq.store(s.wrapping_add(2), Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize) -> Vec<Entry> {
        // SAFETY: all-zero is a valid Entry (atomics).
        (0..n).map(|_| unsafe { core::mem::zeroed() }).collect()
    }

    #[test]
    fn remembers_and_checks_every_part_of_the_key() {
        let t = table(64);
        let m = Memo { e: &t };
        let k = Key {
            path: b"/usr/include/stdio.h",
            start: 0,
            nofollow: false,
            gen: 4,
        };
        let h = k.hash();
        assert!(m.get(&k, h).is_none());
        m.put(&k, h, Memoed::Node(NodeRef { idx: 7, incarn: 3 }));
        assert!(matches!(
            m.get(&k, h),
            Some(Memoed::Node(NodeRef { idx: 7, incarn: 3 }))
        ));
        for other in [
            Key {
                path: b"/usr/include/stdio.H",
                start: 0,
                nofollow: false,
                gen: 4,
            },
            Key {
                path: b"/usr/include/stdio.h",
                start: 0,
                nofollow: true,
                gen: 4,
            },
            Key {
                path: b"/usr/include/stdio.h",
                start: 0,
                nofollow: false,
                gen: 6,
            },
            Key {
                path: b"/usr/include/stdio.h",
                start: 9,
                nofollow: false,
                gen: 4,
            },
        ] {
            assert!(
                m.get(&other, h).is_none(),
                "{:?}",
                core::str::from_utf8(other.path)
            );
            assert!(m.get(&other, other.hash()).is_none());
        }
        let k2 = Key {
            path: b"missing",
            start: 5,
            nofollow: true,
            gen: 4,
        };
        m.put(&k2, k2.hash(), Memoed::Error(Errno(2)));
        assert!(matches!(
            m.get(&k2, k2.hash()),
            Some(Memoed::Error(Errno(2)))
        ));
    }

    #[test]
    fn a_claimed_entry_is_neither_read_nor_overwritten() {
        let t = table(WAYS);
        for e in &t[1..] {
            e.seq.store(1, Relaxed); // the other ways are held too
        }
        let m = Memo { e: &t };
        let k = Key {
            path: b"/a",
            start: 0,
            nofollow: false,
            gen: 0,
        };
        m.put(&k, k.hash(), Memoed::Node(NodeRef { idx: 1, incarn: 1 }));
        t[0].seq.fetch_add(1, Relaxed); // a writer holds it
        assert!(m.get(&k, k.hash()).is_none());
        m.put(&k, k.hash(), Memoed::Node(NodeRef { idx: 2, incarn: 2 }));
        t[0].seq.fetch_add(1, Relaxed);
        assert!(matches!(
            m.get(&k, k.hash()),
            Some(Memoed::Node(NodeRef { idx: 1, incarn: 1 }))
        ));
    }
}
