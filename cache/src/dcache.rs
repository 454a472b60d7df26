//! The node arena and the (parent, name) hash index — the userspace dcache.
//!
//! Nodes live in one fixed-capacity region mapped once and never unmapped while the process
//! runs; a node is named by a `u32` index, never by a pointer. Every node carries a seqcount
//! (`seq`, odd while a writer changes it) and an incarnation (`incarn`, bumped when the node
//! dies). A child records its parent's incarnation, so killing a directory makes its whole
//! subtree unreachable at once (the kernel's `d_invalidate`, without walking it). A reader that
//! raced with reuse sees `seq` move and falls back (the kernel's SLAB_TYPESAFE_BY_RCU idea).
//!
//! Readers take no lock, do no read-modify-write and never allocate: every field is an atomic
//! read with `Relaxed` ordering between two loads of `seq` (a seqlock). Writers hold the
//! cache's writer lock.

use core::sync::atomic::{fence, AtomicI32, AtomicU32, AtomicU64, Ordering::*};

/// Longest name stored inline; longer names are never cached.
pub const NAME_INLINE: usize = 64;
/// Longest symlink body stored inline; longer links are never cached.
pub const LINK_INLINE: usize = 128;
/// `struct stat` on x86_64.
pub const STAT_SIZE: usize = 144;
/// `struct statx`.
pub const STATX_SIZE: usize = 256;

/// No node.
pub const NIL: u32 = 0;
/// The root directory's node.
pub const ROOT: u32 = 1;

// `flags` layout.
pub const ST_MASK: u32 = 0b11;
/// Slot unused.
pub const ST_FREE: u32 = 0;
/// A name that exists; `stat` holds its lstat when `HAS_STAT`.
pub const ST_POSITIVE: u32 = 1;
/// A name that does not exist (ENOENT).
pub const ST_NEGATIVE: u32 = 2;
/// A name that exists but is never answered from the cache (FIFO, device, foreign fs).
pub const ST_NOCACHE: u32 = 3;
pub const IS_DIR: u32 = 1 << 2;
pub const IS_LNK: u32 = 1 << 3;
pub const HAS_STAT: u32 = 1 << 4;
pub const HAS_STATX: u32 = 1 << 5;
/// A symlink the caller may follow (protected_symlinks allows it).
pub const FOLLOW_OK: u32 = 1 << 6;
/// A regular file whose atime a read could change silently: only its name is cached, with no
/// inode watch; any event about it (through its directory's watch) clears the mark.
pub const UNSTABLE: u32 = 1 << 7;
pub const NAME_SHIFT: u32 = 16;

/// One cached dentry.
#[repr(C, align(64))]
pub struct Node {
    pub seq: AtomicU32,
    pub incarn: AtomicU32,
    pub parent: AtomicU32,
    pub parent_incarn: AtomicU32,
    pub hash_next: AtomicU32,
    pub flags: AtomicU32,
    /// Bumped by every entry event (create, delete, rename) in this directory.
    pub entry_gen: AtomicU32,
    pub wd: AtomicI32,
    pub wd_next: AtomicU32,
    pub link_len: AtomicU32,
    pub statx_mask: AtomicU32,
    pub hash: AtomicU32,
    /// For regular files: the second (CLOCK_REALTIME) until which a read cannot change atime.
    pub atime_deadline: AtomicU64,
    pub name: [AtomicU64; NAME_INLINE / 8],
    pub link: [AtomicU64; LINK_INLINE / 8],
    pub stat: [AtomicU64; STAT_SIZE / 8],
    pub statx: [AtomicU64; STATX_SIZE / 8],
}

/// A node's identity: its index and the incarnation it had when seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeRef {
    pub idx: u32,
    pub incarn: u32,
}

impl Node {
    /// Begins a read: the seqcount, or `None` while a writer is active.
    #[inline(always)]
    pub fn read_begin(&self) -> Option<u32> {
        // Acquire pairs with the Release store in `write_end`: we see the data it published.
        let s = self.seq.load(Acquire);
        if s & 1 == 1 {
            None
        } else {
            Some(s)
        }
    }

    /// Ends a read: true if no writer touched the node since `read_begin` returned `s`.
    #[inline(always)]
    pub fn read_retry(&self, s: u32) -> bool {
        // The fence orders our Relaxed data loads before the re-check (seqlock reader side).
        fence(Acquire);
        self.seq.load(Relaxed) != s
    }

    /// Starts a write (writer lock held).
    #[inline]
    pub fn write_begin(&self) {
        let s = self.seq.load(Relaxed);
        self.seq.store(s.wrapping_add(1), Relaxed);
        // Orders the odd seq before the data stores (pairs with the reader's fence).
        fence(Release);
    }

    /// Ends a write (writer lock held).
    #[inline]
    pub fn write_end(&self) {
        let s = self.seq.load(Relaxed);
        // Release pairs with `read_begin`'s Acquire: the data is visible with the even seq.
        self.seq.store(s.wrapping_add(1), Release);
    }

    #[inline(always)]
    pub fn name_len(f: u32) -> usize {
        (f >> NAME_SHIFT) as usize
    }

    /// Compares the stored name with `name` (a torn read only makes it differ; the caller
    /// validates `seq` afterwards).
    #[inline(always)]
    pub fn name_eq(&self, f: u32, name: &[u8]) -> bool {
        if Self::name_len(f) != name.len() {
            return false;
        }
        // Word by word: stored names are zero-padded, so the last partial word compares whole.
        let mut chunks = name.chunks_exact(8);
        let mut i = 0;
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            if self.name[i].load(Relaxed) != w {
                return false;
            }
            i += 1;
        }
        let r = chunks.remainder();
        if !r.is_empty() {
            let mut b = [0u8; 8];
            b[..r.len()].copy_from_slice(r);
            if self.name[i].load(Relaxed) != u64::from_le_bytes(b) {
                return false;
            }
        }
        true
    }

    pub fn set_name(&self, name: &[u8]) {
        store_bytes(&self.name, name);
    }

    pub fn copy_name(&self, f: u32, out: &mut [u8]) -> usize {
        let n = Self::name_len(f).min(out.len());
        load_bytes(&self.name, &mut out[..n]);
        n
    }
}

/// Stores `src` into an atomic word array (zero-padding the last word).
pub fn store_bytes(dst: &[AtomicU64], src: &[u8]) {
    for (i, w) in dst.iter().enumerate() {
        let mut b = [0u8; 8];
        let lo = i * 8;
        if lo < src.len() {
            let n = (src.len() - lo).min(8);
            b[..n].copy_from_slice(&src[lo..lo + n]);
        } else if lo > src.len() + 8 {
            break;
        }
        w.store(u64::from_le_bytes(b), Relaxed);
    }
}

/// Loads `out.len()` bytes from an atomic word array.
#[inline(always)]
pub fn load_bytes(src: &[AtomicU64], out: &mut [u8]) {
    let mut i = 0;
    while i < out.len() {
        let w = src[i / 8].load(Relaxed).to_le_bytes();
        let n = (out.len() - i).min(8);
        out[i..i + n].copy_from_slice(&w[..n]);
        i += 8;
    }
}

/// FxHash-style hash of (parent, incarnation, name).
#[inline(always)]
pub fn hash(parent: u32, incarn: u32, name: &[u8]) -> u32 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = ((parent as u64) << 32 | incarn as u64).wrapping_mul(K);
    let mut chunks = name.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let mut last = [0u8; 8];
    let r = chunks.remainder();
    last[..r.len()].copy_from_slice(r);
    h = (h.rotate_left(5) ^ u64::from_le_bytes(last) ^ name.len() as u64).wrapping_mul(K);
    (h >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_roundtrip() {
        let words: [AtomicU64; 8] = Default::default();
        for len in [0usize, 1, 7, 8, 9, 63, 64] {
            let src: Vec<u8> = (0..len as u8).map(|x| x.wrapping_mul(7) + 1).collect();
            store_bytes(&words, &src);
            let mut out = vec![0u8; len];
            load_bytes(&words, &mut out);
            assert_eq!(out, src);
        }
    }

    #[test]
    fn node_names_compare_exactly() {
        // SAFETY: zeroed memory is a valid Node (all atomics).
        let n: Node = unsafe { core::mem::zeroed() };
        n.set_name(b"hello.c");
        let f = 7 << NAME_SHIFT;
        assert!(n.name_eq(f, b"hello.c"));
        assert!(!n.name_eq(f, b"hello.h"));
        assert!(!n.name_eq(f, b"hello."));
        let mut out = [0u8; 64];
        let k = n.copy_name(f, &mut out);
        assert_eq!(&out[..k], b"hello.c");
    }

    #[test]
    fn hash_separates_parents_and_incarnations() {
        assert_ne!(hash(1, 0, b"a"), hash(2, 0, b"a"));
        assert_ne!(hash(1, 0, b"a"), hash(1, 1, b"a"));
        assert_ne!(hash(1, 0, b"ab"), hash(1, 0, b"ba"));
        assert_ne!(hash(1, 0, b""), hash(1, 0, b"\0"));
    }
}
