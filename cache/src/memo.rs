//! A per-thread memo of whole-path walks: the same path asked again, with nothing applied to the
//! cache since (`gen` unchanged) and the same start (root, or the same cwd node), walks to the
//! same node. Only the final node's attributes are then read (under its seqcount, as always).
//!
//! Why this is exact: between two equal values of `gen` no node was killed and no attributes
//! were dropped (both only happen while applying events or flushing, which move `gen`). Fills
//! may add nodes meanwhile, but a path that already resolved to a node or to ENOENT/ENOTDIR does
//! not involve the names they add. So the earlier walk's result is the walk's result now.

use crate::dcache::NodeRef;
use crate::sys::Errno;

const ENTRIES: usize = 16;
/// Longest path memoized.
pub const MAX_PATH: usize = 184;

#[derive(Clone, Copy)]
struct Entry {
    gen: u64,
    hash: u64,
    /// The cwd node (packed) the walk started from, or 0 for an absolute path.
    start: u64,
    len: u16,
    nofollow: bool,
    /// 0 empty, 1 a node, 2 an error.
    kind: u8,
    errno: i32,
    node: NodeRef,
    path: [u8; MAX_PATH],
}

/// What a memo hit says.
pub enum Memoed {
    Node(NodeRef),
    Error(Errno),
}

/// The memo: a small direct-mapped table, owned by one thread.
pub struct Memo {
    e: [Entry; ENTRIES],
}

/// The key of a lookup.
pub struct Key<'a> {
    pub path: &'a [u8],
    pub start: u64,
    pub nofollow: bool,
    pub gen: u64,
}

impl Key<'_> {
    /// A 64-bit hash of the key (8 bytes at a time).
    pub fn hash(&self) -> u64 {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h =
            (self.start ^ (self.nofollow as u64) << 63 ^ self.path.len() as u64).wrapping_mul(K);
        let mut c = self.path.chunks_exact(8);
        for w in &mut c {
            let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            h = (h.rotate_left(5) ^ v).wrapping_mul(K);
        }
        let r = c.remainder();
        let mut last = [0u8; 8];
        last[..r.len()].copy_from_slice(r);
        let mut h = (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(K);
        // Finalize (murmur3's fmix64): the table index and the first-sight filter use low bits,
        // which a multiply alone leaves poorly mixed.
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

impl Memo {
    /// The memoized result for `k` (whose hash is `h`), if any and still valid.
    #[inline]
    pub fn get(&self, k: &Key<'_>, h: u64) -> Option<Memoed> {
        if k.path.len() > MAX_PATH {
            return None;
        }
        let e = &self.e[h as usize % ENTRIES];
        if e.kind == 0
            || e.gen != k.gen
            || e.hash != h
            || e.len as usize != k.path.len()
            || e.start != k.start
            || e.nofollow != k.nofollow
            || e.path[..k.path.len()] != *k.path
        {
            return None;
        }
        Some(if e.kind == 1 {
            Memoed::Node(e.node)
        } else {
            Memoed::Error(Errno(e.errno))
        })
    }

    /// Remembers the walk's result for `k` (whose hash is `h`).
    #[inline]
    pub fn put(&mut self, k: &Key<'_>, h: u64, r: Memoed) {
        if k.path.len() > MAX_PATH {
            return;
        }
        let e = &mut self.e[h as usize % ENTRIES];
        e.gen = k.gen;
        e.hash = h;
        e.start = k.start;
        e.len = k.path.len() as u16;
        e.nofollow = k.nofollow;
        e.path[..k.path.len()].copy_from_slice(k.path);
        match r {
            Memoed::Node(n) => {
                e.kind = 1;
                e.node = n;
            }
            Memoed::Error(x) => {
                e.kind = 2;
                e.errno = x.0;
            }
        }
    }
}
