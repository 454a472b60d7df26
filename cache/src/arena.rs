//! The shared region: a header, the hash buckets, the node array and the watch table, mapped
//! once (`MADV_WIPEONFORK`, so a fork child starts from zero) and never unmapped.
//!
//! Everything here that mutates runs with the writer lock held (`Header::wlock`); the read side
//! (`lookup_fast`, `node`) is lock-free.

use crate::dcache::*;
use crate::sys;
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};

/// Cache life states (`Header::state`).
pub const INACTIVE: u32 = 0;
pub const ACTIVATING: u32 = 1;
pub const ACTIVE: u32 = 2;
pub const DISABLED: u32 = 3;

/// Global state of the cache.
#[repr(C)]
pub struct Header {
    pub state: AtomicU32,
    /// Writer lock: 0 free, else holder's tid.
    pub wlock: AtomicU32,
    /// Event-application seqcount: odd while a batch of events (or a flush) is being applied.
    pub gen: AtomicU64,
    pub inotify_fd: AtomicI32,
    /// Bumped whenever the inotify fd is replaced, so per-thread epolls re-register.
    pub inotify_gen: AtomicU32,
    pub mount_fd: AtomicI32,
    /// The cwd node, packed `idx << 32 | incarn`; 0 when unknown.
    pub cwd: AtomicU64,
    pub free_head: AtomicU32,
    pub next_unused: AtomicU32,
    pub live: AtomicU32,
    pub watches: AtomicU32,
    pub flushes: AtomicU32,
    pub owner_pid: AtomicI32,
    pub euid: AtomicU32,
    pub protected_symlinks: AtomicU32,
    /// Threads holding a barrier instance (an epoll or a ring): bounded by `max_epolls`.
    pub epolls: AtomicU32,
    /// Of those, the threads whose barrier is a ring.
    pub rings: AtomicU32,
    /// Set by a barrier that saw its mountinfo fd fire; the drainer flushes and clears it.
    pub mount_dirty: AtomicU32,
    /// Watch-table slots ever used (live entries and tombstones).
    pub wd_used: AtomicU32,
}

/// Nodes faulted in together as the arena grows.
const NODE_CHUNK: u32 = 64;

/// `madvise(2)` advice that faults a range in for writing (Linux 5.14).
const MADV_POPULATE_WRITE: i32 = 23;

/// Bytes of the mapping before the memo table: header, buckets, nodes, watch table.
#[inline(always)]
fn len_before_memo(header: usize, nb: usize, cap: usize, wdcap: usize) -> usize {
    header + nb * 4 + cap * core::mem::size_of::<Node>() + wdcap * core::mem::size_of::<WdEntry>()
}

/// A watch-table slot whose watch the kernel dropped.
const TOMB: i32 = -1;

/// One watch: the kernel's wd, the first node attached to it, and a generation bumped by every
/// event on it (the fill path compares it across its real call).
#[repr(C)]
pub struct WdEntry {
    pub wd: AtomicI32,
    pub head: AtomicU32,
    pub gen: AtomicU32,
    pub _pad: AtomicU32,
}

/// The mapped region and its geometry.
pub struct Arena {
    base: AtomicUsize,
    pub cap: AtomicU32,
    nbuckets: AtomicU32,
    wdcap: AtomicU32,
    len: AtomicUsize,
}

const HEADER_BYTES: usize = 4096;

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

impl Arena {
    pub const fn new() -> Self {
        Arena {
            base: AtomicUsize::new(0),
            cap: AtomicU32::new(0),
            nbuckets: AtomicU32::new(0),
            wdcap: AtomicU32::new(0),
            len: AtomicUsize::new(0),
        }
    }

    /// Maps the region once; later calls (also in a fork child, where it reads as zeros) reuse it.
    pub fn map(&self, max_nodes: u32, max_watches: u32) -> bool {
        if self.base.load(Acquire) != 0 {
            return true;
        }
        let cap = max_nodes.clamp(64, 1 << 24);
        // Chains of four at a full arena (`lookup_fast` compares the stored hash first): a small
        // process touches few pages of the (hashed) array, each fault ~2.5 us here.
        let nb = (cap as usize / 4).next_power_of_two().max(64);
        let wdcap = (max_watches.max(16) as usize * 2).next_power_of_two();
        let len = len_before_memo(HEADER_BYTES, nb, cap as usize, wdcap)
            + crate::memo::ENTRIES * core::mem::size_of::<crate::memo::Entry>();
        let len = (len + 4095) & !4095;
        let Ok(m) = sys::mmap_anon(len) else {
            return false;
        };
        // SAFETY: `m` is our fresh mapping of `len` bytes.
        let _ = unsafe { sys::madvise(m, len, libc::MADV_WIPEONFORK) };
        // The first nodes are written by every process that fills: fault them in with one call
        // rather than a fault each (~1.5 us on a VM; the hashed bucket array and memo are left
        // to fault page by page, since a small process touches only some of their pages).
        // Kernels without MADV_POPULATE_WRITE (before 5.14) just fault as before.
        let first_nodes = HEADER_BYTES + nb * 4;
        // SAFETY: the range lies inside our fresh mapping.
        unsafe {
            let _ = sys::madvise(
                m.add(first_nodes & !4095),
                ((first_nodes & 4095) + NODE_CHUNK as usize * core::mem::size_of::<Node>() + 4095)
                    & !4095,
                MADV_POPULATE_WRITE,
            );
        }
        self.cap.store(cap, Relaxed);
        self.nbuckets.store(nb as u32, Relaxed);
        self.wdcap.store(wdcap as u32, Relaxed);
        self.len.store(len, Relaxed);
        // Release pairs with the Acquire loads of `base`: geometry is visible with the pointer.
        self.base.store(m as usize, Release);
        true
    }

    #[inline(always)]
    pub fn mapped(&self) -> bool {
        self.base.load(Acquire) != 0
    }

    pub fn bytes(&self) -> usize {
        self.len.load(Relaxed)
    }

    /// Bytes of the mapping actually resident (`mincore(2)`, 1 MiB at a time).
    pub fn resident_bytes(&self) -> usize {
        let base = self.base.load(Acquire);
        let len = self.len.load(Relaxed);
        let mut vec = [0u8; 256];
        let mut pages = 0;
        let mut off = 0;
        while off < len {
            let n = (len - off).min(256 * 4096);
            // SAFETY: the range lies inside our mapping; `vec` holds one byte per page.
            let r = unsafe {
                sys::syscall6(
                    libc::SYS_mincore,
                    base + off,
                    n,
                    vec.as_mut_ptr() as usize,
                    0,
                    0,
                    0,
                )
            };
            if r.is_err() {
                return 0;
            }
            pages += vec[..n.div_ceil(4096)]
                .iter()
                .filter(|&&b| b & 1 != 0)
                .count();
            off += n;
        }
        pages * 4096
    }

    #[inline(always)]
    pub fn header(&self) -> &Header {
        // SAFETY: callers only use the arena once `mapped()`; the header sits at the start and
        // zeroed memory is a valid Header (all atomics).
        unsafe { &*(self.base.load(Acquire) as *const Header) }
    }

    #[inline(always)]
    fn buckets(&self) -> &[AtomicU32] {
        let b = self.base.load(Acquire) + HEADER_BYTES;
        // SAFETY: the bucket array follows the header inside the mapping; AtomicU32 from zero.
        unsafe {
            core::slice::from_raw_parts(b as *const AtomicU32, self.nbuckets.load(Relaxed) as usize)
        }
    }

    #[inline(always)]
    pub fn node(&self, i: u32) -> &Node {
        let cap = self.cap.load(Relaxed);
        let i = if i < cap { i } else { 0 };
        let b = self.base.load(Acquire) + HEADER_BYTES + self.nbuckets.load(Relaxed) as usize * 4;
        // SAFETY: `i < cap` (clamped above), so the node lies inside the mapping.
        unsafe { &*((b as *const Node).add(i as usize)) }
    }

    /// The shared walk memo (after the watch table). Its table grows with the arena: two
    /// entries per live node, between `MIN_ENTRIES` and `ENTRIES`, so a small process writes a
    /// few pages of it rather than one page per memoized walk. (An entry left at an index the
    /// grown table no longer uses is only a miss.)
    #[inline(always)]
    pub fn memo(&self) -> crate::memo::Memo<'_> {
        let b = self.base.load(Acquire)
            + len_before_memo(
                HEADER_BYTES,
                self.nbuckets.load(Relaxed) as usize,
                self.cap.load(Relaxed) as usize,
                self.wdcap.load(Relaxed) as usize,
            );
        let live = self.header().live.load(Relaxed) as usize;
        let n = (live * 2)
            .next_power_of_two()
            .clamp(crate::memo::MIN_ENTRIES, crate::memo::ENTRIES);
        // SAFETY: the memo table is the last part of the mapping (64-byte aligned: every part
        // before it is a multiple of 64 bytes), `n <= ENTRIES`; all-zero entries are valid and
        // empty.
        let e = unsafe { core::slice::from_raw_parts(b as *const crate::memo::Entry, n) };
        crate::memo::Memo { e }
    }

    fn wdtab(&self) -> &[WdEntry] {
        let b = self.base.load(Acquire)
            + HEADER_BYTES
            + self.nbuckets.load(Relaxed) as usize * 4
            + self.cap.load(Relaxed) as usize * core::mem::size_of::<Node>();
        // SAFETY: the watch table is the last part of the mapping.
        unsafe {
            core::slice::from_raw_parts(b as *const WdEntry, self.wdcap.load(Relaxed) as usize)
        }
    }

    /// `lookup_fast` — finds the live child `name` of `parent`: (index, flags, seq).
    /// Lock-free; the caller validates `seq` after copying what it needs.
    #[inline]
    pub fn lookup_fast(&self, parent: NodeRef, name: &[u8]) -> Option<(u32, u32, u32)> {
        let h = hash(parent.idx, parent.incarn, name);
        let b = self.buckets();
        let mut i = b[h as usize & (b.len() - 1)].load(Acquire);
        let mut steps = 0;
        while i != NIL && steps < 64 {
            let n = self.node(i);
            let s = n.read_begin()?;
            let f = n.flags.load(Relaxed);
            let hit = f & ST_MASK != ST_FREE
                && n.hash.load(Relaxed) == h
                && n.parent.load(Relaxed) == parent.idx
                && n.parent_incarn.load(Relaxed) == parent.incarn
                && n.name_eq(f, name);
            let next = n.hash_next.load(Acquire);
            if n.read_retry(s) {
                return None;
            }
            if hit {
                return Some((i, f, s));
            }
            i = next;
            steps += 1;
        }
        None
    }

    /// Allocates a free node (writer lock held); `None` when full.
    pub fn alloc(&self) -> Option<u32> {
        let h = self.header();
        let f = h.free_head.load(Relaxed);
        if f != NIL {
            h.free_head
                .store(self.node(f).hash_next.load(Relaxed), Relaxed);
            return Some(f);
        }
        let u = h.next_unused.load(Relaxed).max(ROOT + 1);
        if u >= self.cap.load(Relaxed) {
            return None;
        }
        h.next_unused.store(u + 1, Relaxed);
        if u.is_multiple_of(NODE_CHUNK) {
            self.populate_grown(u);
        }
        Some(u)
    }

    /// The arena grew to node `u` (a multiple of `NODE_CHUNK`): fault in the next chunk of
    /// nodes, and the memo table's grown part, with one call each rather than a page fault at a
    /// time (~0.8 us a page against ~2.5 us a fault here; writer lock held).
    #[cold]
    fn populate_grown(&self, u: u32) {
        let base = self.base.load(Acquire);
        let start = self.node(u) as *const Node as usize;
        let end = start
            + (NODE_CHUNK as usize).min((self.cap.load(Relaxed) - u) as usize)
                * core::mem::size_of::<Node>();
        // The memo table doubles with the arena (see `memo`); its entries land anywhere in it,
        // so most of its pages get written: fault in the part the grown arena will use.
        let m = self.memo().e.as_ptr() as usize;
        let memo_end = m
            + ((u + NODE_CHUNK) as usize * 2)
                .next_power_of_two()
                .clamp(crate::memo::MIN_ENTRIES, crate::memo::ENTRIES)
                * core::mem::size_of::<crate::memo::Entry>();
        for (a, b) in [(start, end), (m, memo_end)] {
            let a = a & !4095;
            if a >= base && b > a {
                // SAFETY: the range lies inside our mapping; populating changes no contents
                // (pages already in are skipped by the kernel).
                let _ = unsafe { sys::madvise(a as *mut u8, b - a, MADV_POPULATE_WRITE) };
            }
        }
    }

    /// Publishes node `i` (already written between write_begin/write_end) as child `name` of
    /// `parent` in the hash index (writer lock held).
    pub fn link(&self, i: u32, parent: NodeRef, name: &[u8]) {
        let h = hash(parent.idx, parent.incarn, name);
        let n = self.node(i);
        n.hash.store(h, Relaxed);
        let b = self.buckets();
        let slot = &b[h as usize & (b.len() - 1)];
        n.hash_next.store(slot.load(Relaxed), Relaxed);
        // Release pairs with the Acquire bucket load in `lookup_fast`.
        slot.store(i, Release);
        self.header()
            .live
            .store(self.header().live.load(Relaxed) + 1, Relaxed);
    }

    /// Removes node `i` from its hash chain (writer lock held). Readers already on the chain
    /// keep walking through it: its own `hash_next` is left intact.
    fn unlink_hash(&self, i: u32) {
        let n = self.node(i);
        let b = self.buckets();
        let slot = &b[n.hash.load(Relaxed) as usize & (b.len() - 1)];
        let mut cur = slot.load(Relaxed);
        if cur == i {
            slot.store(n.hash_next.load(Relaxed), Release);
            return;
        }
        let mut steps = 0;
        while cur != NIL && steps < 1 << 20 {
            let c = self.node(cur);
            let nx = c.hash_next.load(Relaxed);
            if nx == i {
                c.hash_next.store(n.hash_next.load(Relaxed), Release);
                return;
            }
            cur = nx;
            steps += 1;
        }
    }

    /// `d_invalidate` — kills node `i`: unreachable from now on, its subtree with it (children
    /// name the old incarnation). Writer lock held. The slot is recycled.
    pub fn kill(&self, i: u32) {
        let n = self.node(i);
        if n.flags.load(Relaxed) & ST_MASK == ST_FREE || i == NIL {
            return;
        }
        if i != ROOT {
            self.unlink_hash(i);
        }
        self.detach_wd(i);
        n.write_begin();
        n.flags.store(ST_FREE, Relaxed);
        n.incarn
            .store(n.incarn.load(Relaxed).wrapping_add(1), Relaxed);
        n.write_end();
        let h = self.header();
        h.live
            .store(h.live.load(Relaxed).saturating_sub(1), Relaxed);
        if i != ROOT {
            // The free list reuses `hash_next` only after readers can no longer reach the node
            // through a bucket; a reader still on it sees `seq` moved and falls back.
            n.hash_next.store(h.free_head.load(Relaxed), Relaxed);
            h.free_head.store(i, Relaxed);
        }
    }

    /// Drops the node's cached attributes (the name stays valid). Writer lock held.
    pub fn forget_attrs(&self, i: u32) {
        let n = self.node(i);
        let f = n.flags.load(Relaxed);
        if f & (HAS_STAT | HAS_STATX | UNSTABLE) == 0 {
            return;
        }
        n.write_begin();
        n.flags
            .store(f & !(HAS_STAT | HAS_STATX | UNSTABLE), Relaxed);
        n.write_end();
    }

    /// Bumps a directory's entry generation (writer lock held).
    pub fn bump_entries(&self, i: u32) {
        let n = self.node(i);
        n.entry_gen
            .store(n.entry_gen.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// Resets everything to empty (writer lock held, `gen` odd).
    pub fn clear(&self) {
        let h = self.header();
        let used = h.next_unused.load(Relaxed).min(self.cap.load(Relaxed));
        for i in 1..used {
            let n = self.node(i);
            n.write_begin();
            n.flags.store(ST_FREE, Relaxed);
            n.incarn
                .store(n.incarn.load(Relaxed).wrapping_add(1), Relaxed);
            n.wd.store(0, Relaxed);
            n.write_end();
        }
        for b in self.buckets() {
            b.store(NIL, Release);
        }
        for w in self.wdtab() {
            w.wd.store(0, Relaxed);
            w.head.store(NIL, Relaxed);
        }
        h.free_head.store(NIL, Relaxed);
        h.next_unused.store(ROOT + 1, Relaxed);
        h.live.store(0, Relaxed);
        h.watches.store(0, Relaxed);
        h.wd_used.store(0, Relaxed);
        h.cwd.store(0, Relaxed);
    }

    /// The watch table entry for `wd`, creating it if `create` (writer lock held). Open
    /// addressing with tombstones (`TOMB`) for watches the kernel dropped.
    pub fn wd_entry(&self, wd: i32, create: bool) -> Option<&WdEntry> {
        let t = self.wdtab();
        let mask = t.len() - 1;
        let mut i = (wd as u32).wrapping_mul(0x9e37_79b9) as usize & mask;
        let mut tomb: Option<&WdEntry> = None;
        for _ in 0..t.len() {
            let e = &t[i];
            let w = e.wd.load(Relaxed);
            if w == wd {
                return Some(e);
            }
            if w == TOMB && tomb.is_none() {
                tomb = Some(e);
            }
            if w == 0 {
                if !create {
                    return None;
                }
                let h = self.header();
                let slot = match tomb {
                    Some(t) => t,
                    None => {
                        // Keep probe sequences short: never fill more than half the table.
                        if h.wd_used.load(Relaxed) as usize * 2 >= t.len() {
                            return None;
                        }
                        h.wd_used.store(h.wd_used.load(Relaxed) + 1, Relaxed);
                        e
                    }
                };
                slot.wd.store(wd, Relaxed);
                slot.head.store(NIL, Relaxed);
                slot.gen.store(0, Relaxed);
                h.watches.store(h.watches.load(Relaxed) + 1, Relaxed);
                return Some(slot);
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Attaches node `i` to watch `wd` (writer lock held).
    pub fn attach_wd(&self, i: u32, wd: i32) -> bool {
        let Some(e) = self.wd_entry(wd, true) else {
            return false;
        };
        let n = self.node(i);
        n.wd.store(wd, Relaxed);
        n.wd_next.store(e.head.load(Relaxed), Relaxed);
        e.head.store(i, Relaxed);
        true
    }

    fn detach_wd(&self, i: u32) {
        let n = self.node(i);
        let wd = n.wd.load(Relaxed);
        if wd <= 0 {
            return;
        }
        n.wd.store(0, Relaxed);
        let Some(e) = self.wd_entry(wd, false) else {
            return;
        };
        let mut cur = e.head.load(Relaxed);
        if cur == i {
            e.head.store(n.wd_next.load(Relaxed), Relaxed);
            return;
        }
        while cur != NIL {
            let c = self.node(cur);
            let nx = c.wd_next.load(Relaxed);
            if nx == i {
                c.wd_next.store(n.wd_next.load(Relaxed), Relaxed);
                return;
            }
            cur = nx;
        }
    }

    /// Calls `f` on every node attached to `wd` (writer lock held; `f` may kill nodes).
    pub fn for_each_on_wd(&self, wd: i32, mut f: impl FnMut(u32)) {
        let Some(e) = self.wd_entry(wd, false) else {
            return;
        };
        let mut buf = [NIL; 32];
        let mut n = 0;
        let mut cur = e.head.load(Relaxed);
        while cur != NIL && n < buf.len() {
            buf[n] = cur;
            n += 1;
            cur = self.node(cur).wd_next.load(Relaxed);
        }
        for &i in &buf[..n] {
            f(i);
        }
        if cur != NIL {
            // More than 32 names for one inode: too many to track exactly.
            self.for_each_on_wd(wd, f);
        }
    }

    /// Forgets watch `wd` entirely (IN_IGNORED). Its nodes must already be dead.
    pub fn drop_wd(&self, wd: i32) {
        if let Some(e) = self.wd_entry(wd, false) {
            e.head.store(NIL, Relaxed);
            e.wd.store(TOMB, Relaxed);
            let h = self.header();
            h.watches
                .store(h.watches.load(Relaxed).saturating_sub(1), Relaxed);
        }
    }

    /// Calls `f` on every watch descriptor in the table (writer lock held).
    pub fn for_each_wd(&self, mut f: impl FnMut(i32)) {
        for e in self.wdtab() {
            let wd = e.wd.load(Relaxed);
            if wd > 0 {
                f(wd);
            }
        }
    }

    /// Whether any node is attached to `wd`.
    pub fn wd_in_use(&self, wd: i32) -> bool {
        self.wd_entry(wd, false)
            .is_some_and(|e| e.head.load(Relaxed) != NIL)
    }

    /// Reclaims nodes whose parent died (garbage left by subtree kills). Writer lock held.
    pub fn reclaim(&self) -> u32 {
        let used = self
            .header()
            .next_unused
            .load(Relaxed)
            .min(self.cap.load(Relaxed));
        let mut freed = 0;
        for _pass in 0..4 {
            let mut this = 0;
            for i in ROOT + 1..used {
                let n = self.node(i);
                if n.flags.load(Relaxed) & ST_MASK == ST_FREE {
                    continue;
                }
                let p = self.node(n.parent.load(Relaxed));
                if p.flags.load(Relaxed) & ST_MASK == ST_FREE
                    || p.incarn.load(Relaxed) != n.parent_incarn.load(Relaxed)
                {
                    self.kill(i);
                    this += 1;
                }
            }
            freed += this;
            if this == 0 {
                break;
            }
        }
        freed
    }
}
