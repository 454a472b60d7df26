//! The statcache dentry cache: a process-local, lock-free userspace copy of the kernel's dentry
//! cache, kept exact by inotify. It knows nothing of LD_PRELOAD; `shim` drives it.
//!
//! The one rule: a cached answer may be returned only if the real system call could have
//! returned it at some instant during the call. [`Cache::lookup`] is the whole policy: prove no
//! change is pending (the barrier), walk the cached nodes without locks, check that no
//! invalidation was applied meanwhile, and otherwise fill what is missing (under the writer
//! lock, watch first) or fall back.
#![cfg_attr(not(test), no_std)]
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]
// Raw syscalls take byte pointers; `b"...\0"` keeps them as `*const u8`.
#![allow(clippy::manual_c_str_literals)]

pub mod arena;
pub mod dcache;
mod fill;
pub mod memo;
pub mod mounts;
pub mod namei;
pub mod notify;
pub mod reason;
pub mod ring;
pub mod statx;
pub mod sys;

pub use reason::{Reason, N_REASON};
pub use sys::Errno;

use arena::{Arena, ACTIVE, DISABLED};
use core::cell::UnsafeCell;
use core::sync::atomic::{
    fence, AtomicBool, AtomicI32, AtomicU16, AtomicU32, AtomicU64, Ordering::*,
};
use dcache::STATX_SIZE;
use mounts::Mounts;
use namei::{Start, Walk};

/// A copy of the inotify fd number outside the wiped-on-fork region, so glibc's fork child
/// handler can close the descriptor it inherited.
pub static INOTIFY_FD_COPY: AtomicI32 = AtomicI32::new(-1);
static MOUNT_FD_COPY: AtomicI32 = AtomicI32::new(-1);

/// A thread's scratch space: the caller's path, the walk's symlink buffers, the fill's path.
pub struct Scratch {
    pub path: [u8; 4096],
    pub walk: [[u8; 4096]; 2],
    pub fill: [u8; 4096],
    pub aux: [u8; 4096],
    pub events: [u8; 4096],
    /// Lookups that found an unstable file (see `Walk::Unstable`).
    pub unstable_calls: u32,
    /// The hash of the path the last `Reason::Cold` answer was for (see `Cache::note_cold`).
    pub cold_hash: u64,
    /// This call already checked that it runs in the process that owns the cache (not a vfork
    /// child sharing its memory); reset at the start of every lookup.
    pub owner_checked: bool,
}

/// Per-thread state the cache needs: the barrier's epoll fd and scratch space. Owned by one
/// thread; the embedding library guarantees it is never used by two calls at once (re-entry
/// from a signal handler passes through).
pub struct PerThread {
    pub epoll_fd: AtomicI32,
    pub mount_fd: AtomicI32,
    pub epoll_gen: AtomicU32,
    pub calls: AtomicU32,
    /// The thread's id, for the writer lock (0 until first needed).
    pub tid: AtomicU32,
    /// The thread's io_uring barrier, if it has one (see `ring`).
    pub ring: UnsafeCell<ring::Ring>,
    /// Where a lookup's answer is built before it is copied to the caller (kept here so that
    /// no call zeroes 256 bytes of stack first).
    pub out: UnsafeCell<[u8; STATX_SIZE]>,
    pub scratch: UnsafeCell<Scratch>,
}

impl PerThread {
    /// Forgets the barrier of a previous owner (whose descriptors were released or belong to
    /// another process): the next barrier sets one up for the calling thread.
    pub fn reset(&self) {
        self.epoll_fd.store(-1, Relaxed);
        self.mount_fd.store(-1, Relaxed);
        self.calls.store(0, Relaxed);
        self.tid.store(0, Relaxed);
        // SAFETY: the block is being handed to the calling thread; nobody else uses it.
        unsafe { *self.ring.get() = ring::Ring::none() };
    }
}

// SAFETY: `scratch` is only touched by the owning thread (see the type's documentation); the
// rest are atomics.
unsafe impl Sync for PerThread {}

/// What the caller asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// A `struct stat` (144 bytes).
    Stat,
    /// A `struct statx` for this request mask (256 bytes).
    Statx(u32),
}

/// The answer of a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The output buffer holds the answer; `filled` if this call had to learn from the kernel.
    Hit { filled: bool },
    /// The real call would fail with this errno.
    Negative { errno: Errno, filled: bool },
    /// Ask the kernel.
    Fallback(Reason),
}

/// The cache's size and history, for the statistics line.
#[derive(Clone, Copy, Debug, Default)]
pub struct Snapshot {
    pub nodes: u64,
    pub watches: u64,
    /// Bytes of address space mapped for the arena (reserved lazily, not all resident).
    pub mapped_bytes: u64,
    /// Bytes of the arena actually in memory.
    pub resident_bytes: u64,
    /// Times everything was forgotten (overflow, mount change, full arena...).
    pub flushes: u64,
    /// Live threads whose barrier is an io_uring (a memory load) / an epoll (a system call).
    pub ring_barriers: u64,
    pub epoll_barriers: u64,
}

/// Tunables (set once by the embedding library).
pub struct Config {
    pub max_nodes: AtomicU32,
    pub max_watches: AtomicU32,
    pub min_reuse: AtomicU32,
    /// Path calls a thread makes before it gets its own barrier epoll.
    pub epoll_after: AtomicU32,
    pub max_epolls: AtomicU32,
    /// Sightings of a path before it is learned (1..=15).
    pub learn_at: AtomicU32,
    /// Threads may use an io_uring barrier (a memory load) instead of epoll (a system call).
    pub ring: AtomicBool,
    /// Quiet epoll barriers a thread makes before it trades its epoll for a ring (0: a ring
    /// from the start).
    pub ring_after: AtomicU32,
}

/// Slots of the reuse filter: each remembers a 32-bit tag of one inode, so a repeat is a repeat
/// of that inode, not of another one hashed to the same bit (a 64 Ki-bit filter turned the cache
/// on in `git status`, which asks 30,000 inodes once each: ~2,900 distinct inodes make 64 false
/// repeats). 16 KiB: every page of it is written before the cache turns on, and a page fault
/// costs ~2.5 us here.
const REUSE_SLOTS: usize = 4096;
/// Default of `Config::ring_after`: a ring's first setup in a process costs ~130 us on the
/// development VM, and saves ~90 ns per hit over an `epoll_wait`.
pub const RING_AFTER: u32 = 2048;
/// Default of `Config::learn_at`: sightings of a path before it is learned; the kernel answers
/// the first ones. Learning a file costs an inode watch (~3-5 us with the rest of the fill), so a
/// path asked only two or three times is cheaper left to the kernel.
pub const LEARN_AT: u32 = 3;
/// The most sightings a slot can count (4 bits).
pub const MAX_LEARN_AT: u32 = 15;
const SIGHTINGS: usize = 1 << 16;

/// Per-path sighting counters (hashed, zero-initialized, so in .bss: the library file stays
/// small). Each slot holds a 12-bit tag of the path's hash and a 4-bit count, so a path is
/// learned on its own third sighting, not because others shared its slot (an untagged counter
/// made about one first sighting in a hundred pay for a fill once a build had seen a few
/// thousand paths). Two paths alternating on one slot keep resetting it and are left to the
/// kernel.
static SEEN: [AtomicU16; SIGHTINGS] = [const { AtomicU16::new(0) }; SIGHTINGS];

/// One bit per `SEEN` slot: its path has been sighted `LEARN_AT - 1` times, so the next sighting
/// learns it. This is what a call consults first: 8 KiB stay in cache, where a random line of the
/// 128 KiB counters does not while the kernel walks cold dentries (measured: +70-100 ns on every
/// first sighting). The counter itself is updated after the real call (`Cache::note_cold`),
/// its line prefetched meanwhile. A bit set by another path of the same slot only sends a
/// first sighting to the walk, which checks the counter before it learns anything.
static RIPE: [AtomicU64; SIGHTINGS / 64] = [const { AtomicU64::new(0) }; SIGHTINGS / 64];

#[inline(always)]
fn slot(h: u64) -> usize {
    (h as usize) & (SIGHTINGS - 1)
}

#[inline(always)]
fn ripe(h: u64) -> bool {
    let i = slot(h);
    RIPE[i / 64].load(Relaxed) & 1 << (i % 64) != 0
}

/// Sets or clears the ripe bit of `h`'s slot (a plain load and store: lossy under races, which
/// only moves a path's learning by a sighting).
#[inline(always)]
fn set_ripe(h: u64, on: bool) {
    let i = slot(h);
    let w = &RIPE[i / 64];
    let v = w.load(Relaxed);
    let n = if on {
        v | 1 << (i % 64)
    } else {
        v & !(1 << (i % 64))
    };
    if n != v {
        w.store(n, Relaxed);
    }
}

/// The sighting count of `h`'s path in its slot (0 if the slot holds another path's tag), and
/// the tag the path would store.
#[inline(always)]
fn sightings(h: u64) -> (u16, u16) {
    // The tag comes from bits the index does not use; never 0, so an empty slot matches nothing.
    let tag = ((h >> 52) as u16) | 1;
    let v = SEEN[slot(h)].load(Relaxed);
    (if v >> 4 == tag { v & 0xf } else { 0 }, tag)
}

/// Sightings before the one that learns a path.
#[inline(always)]
fn learn_after(learn_at: u32) -> u16 {
    learn_at.clamp(1, MAX_LEARN_AT) as u16 - 1
}

/// Whether the path hashed `h` has been sighted often enough to be learned now.
#[inline(always)]
fn learnable(h: u64, learn_at: u32) -> bool {
    sightings(h).0 >= learn_after(learn_at)
}

/// Counts one more sighting of the path hashed `h` (a plain load and store: lossy under races,
/// never a shared-line read-modify-write), and marks its slot ripe when the next sighting should
/// learn it.
#[inline(always)]
fn note_sighting(h: u64, learn_at: u32) {
    let k = learn_after(learn_at);
    let (n, tag) = sightings(h);
    if n >= k {
        return;
    }
    SEEN[slot(h)].store(tag << 4 | (n + 1), Relaxed);
    // The slot now speaks for this path only: ripe exactly when its next sighting should learn.
    set_ripe(h, n + 1 >= k);
}

const MAX_ROUNDS: usize = 64;

/// The cache.
pub struct Cache {
    pub arena: Arena,
    pub mounts: Mounts,
    pub cfg: Config,
    disabled: AtomicBool,
    activating: AtomicBool,
    reuse: [AtomicU32; REUSE_SLOTS],
    reuse_count: AtomicU32,
    /// The process `reuse_count` was counted in.
    reuse_pid: AtomicI32,
}

impl Default for Cache {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether the slot of `h` already holds its tag; stores it otherwise (a plain load and store:
/// lossy under races, never a shared-line read-modify-write).
#[inline(always)]
fn seen_before(slots: &[AtomicU32], h: u64) -> bool {
    let s = &slots[(h as usize) % slots.len()];
    let tag = (h >> 32) as u32 | 1;
    if s.load(Relaxed) == tag {
        return true;
    }
    s.store(tag, Relaxed);
    false
}

#[inline(always)]
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

impl Cache {
    pub const fn new() -> Self {
        Cache {
            arena: Arena::new(),
            mounts: Mounts::new(),
            cfg: Config {
                max_nodes: AtomicU32::new(1 << 16),
                max_watches: AtomicU32::new(8192),
                min_reuse: AtomicU32::new(64),
                epoll_after: AtomicU32::new(4),
                max_epolls: AtomicU32::new(64),
                ring: AtomicBool::new(true),
                ring_after: AtomicU32::new(RING_AFTER),
                learn_at: AtomicU32::new(LEARN_AT),
            },
            disabled: AtomicBool::new(false),
            activating: AtomicBool::new(false),
            reuse: [const { AtomicU32::new(0) }; REUSE_SLOTS],
            reuse_count: AtomicU32::new(0),
            reuse_pid: AtomicI32::new(0),
        }
    }

    /// Whether the cache is answering (activated in this process and not disabled).
    #[inline(always)]
    pub fn active(&self) -> bool {
        !self.disabled.load(Relaxed)
            && self.arena.mapped()
            && self.arena.header().state.load(Acquire) == ACTIVE
    }

    pub fn disabled(&self) -> bool {
        self.disabled.load(Relaxed)
    }

    /// Turns caching off for the rest of the process: every call passes through.
    pub fn disable(&self) {
        self.disabled.store(true, SeqCst);
        if self.arena.mapped() {
            self.arena.header().state.store(DISABLED, SeqCst);
        }
    }

    /// Notes a successful pass-through of inode (dev, ino) before activation; true when the
    /// process has shown enough reuse that the cache should turn itself on.
    pub fn note_reuse(&self, dev: u64, ino: u64) -> bool {
        if self.disabled.load(Relaxed) || self.activating.load(Relaxed) {
            return false;
        }
        let min = self.cfg.min_reuse.load(Relaxed);
        if min == 0 {
            return true;
        }
        if seen_before(&self.reuse, mix(dev.rotate_left(32) ^ ino)) {
            let n = self.reuse_count.load(Relaxed) + 1;
            self.reuse_count.store(n, Relaxed);
            if n >= min {
                // A child of fork inherits the count (and the filter) as they were: its own
                // process must show the reuse too.
                let pid = sys::getpid();
                let counted_in = self.reuse_pid.swap(pid, Relaxed);
                if counted_in != 0 && counted_in != pid {
                    self.reuse_count.store(0, Relaxed);
                    for w in &self.reuse {
                        w.store(0, Relaxed);
                    }
                    return false;
                }
                return true;
            }
        }
        false
    }

    /// Turns the cache on: maps the arena, creates the inotify instance, reads the mount table.
    /// Any failure disables caching for the process. Returns whether it is active.
    pub fn activate(&self) -> bool {
        if self.active() {
            return true;
        }
        if self.disabled.load(Relaxed) || self.activating.swap(true, Acquire) {
            return false;
        }
        let ok = self.activate_inner();
        if !ok {
            self.disable();
        }
        self.activating.store(false, Release);
        ok
    }

    fn activate_inner(&self) -> bool {
        if !self.arena.map(
            self.cfg.max_nodes.load(Relaxed),
            self.cfg.max_watches.load(Relaxed),
        ) {
            return false;
        }
        let h = self.arena.header();
        h.owner_pid.store(sys::getpid(), Relaxed);
        // SAFETY: setfsuid(-1) changes nothing and returns the current fsuid.
        let fsuid = unsafe { sys::syscall6(libc::SYS_setfsuid, u32::MAX as usize, 0, 0, 0, 0, 0) };
        h.euid.store(fsuid.unwrap_or(0) as u32, Relaxed);
        h.protected_symlinks.store(
            read_sysctl_u32(b"/proc/sys/fs/protected_symlinks\0").unwrap_or(1),
            Relaxed,
        );
        let Ok(ifd) = sys::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) else {
            return false;
        };
        let Some(ifd) = notify::hide_fd(ifd as i32) else {
            return false;
        };
        INOTIFY_FD_COPY.store(ifd, Relaxed);
        h.inotify_fd.store(ifd, Release);
        let Some(mfd) = notify::open_mountinfo() else {
            notify::close_own(INOTIFY_FD_COPY.swap(-1, Relaxed));
            return false;
        };
        MOUNT_FD_COPY.store(mfd, Relaxed);
        h.mount_fd.store(mfd, Relaxed);
        let mut buf = [0u8; 2048];
        let _ = notify::mount_changed(mfd); // reset its change report before reading the table
        if !self.mounts.load(mfd, &mut buf) {
            notify::close_own(INOTIFY_FD_COPY.swap(-1, Relaxed));
            notify::close_own(MOUNT_FD_COPY.swap(-1, Relaxed));
            return false;
        }
        h.gen.store(0, Relaxed);
        h.cwd.store(0, Relaxed);
        h.next_unused.store(dcache::ROOT + 1, Relaxed);
        // Release pairs with the Acquire in `active`: all of the above is visible first.
        h.state.store(ACTIVE, Release);
        true
    }

    /// The process changed its working directory (or may have): relearn it on next use.
    pub fn cwd_changed(&self) {
        if self.arena.mapped() {
            self.arena.header().cwd.store(0, Release);
        }
    }

    /// Something the cache cannot track changed (credentials, root): forget everything.
    /// Takes effect before the next hit: the next barrier sees the flag.
    pub fn invalidate_all(&self) {
        if self.arena.mapped() {
            self.arena.header().mount_dirty.store(1, SeqCst);
            self.arena.header().cwd.store(0, SeqCst);
        }
    }

    /// glibc's fork child handler: the child must never read the parent's inotify queue. Its
    /// copy of the arena reads as zeros (MADV_WIPEONFORK); close the inherited descriptors.
    pub fn after_fork_child(&self) {
        for c in [&INOTIFY_FD_COPY, &MOUNT_FD_COPY] {
            let fd = c.swap(-1, Relaxed);
            if fd >= 0 {
                notify::close_own(fd);
            }
        }
        self.activating.store(false, Relaxed);
        self.reuse_count.store(0, Relaxed);
    }

    /// The process is exiting (`exit(3)`): let go of the inotify instance without making the
    /// exit wait for its teardown (see `notify::retire`).
    pub fn at_exit(&self) {
        if !self.arena.mapped() || sys::getpid() != self.arena.header().owner_pid.load(Relaxed) {
            return;
        }
        let fd = self.arena.header().inotify_fd.swap(-1, AcqRel);
        INOTIFY_FD_COPY.store(-1, Relaxed);
        notify::retire(fd);
    }

    /// Counts for the statistics line.
    pub fn snapshot(&self) -> Snapshot {
        if !self.arena.mapped() {
            return Snapshot::default();
        }
        let h = self.arena.header();
        Snapshot {
            nodes: h.live.load(Relaxed) as u64,
            watches: h.watches.load(Relaxed) as u64,
            mapped_bytes: self.arena.bytes() as u64,
            resident_bytes: self.arena.resident_bytes() as u64,
            flushes: h.flushes.load(Relaxed) as u64,
            ring_barriers: h.rings.load(Relaxed) as u64,
            epoll_barriers: h.epolls.load(Relaxed).saturating_sub(h.rings.load(Relaxed)) as u64,
        }
    }

    /// Counts the sighting of a path `lookup` just left to the kernel as `Reason::Cold` (called
    /// after the real call, so that the counter's line arrives while the kernel works).
    pub fn note_cold(&self, pt: &PerThread) {
        // SAFETY: the scratch belongs to this thread for the duration of the call.
        let h = unsafe { (*pt.scratch.get()).cold_hash };
        note_sighting(h, self.cfg.learn_at.load(Relaxed));
    }

    /// Releases a thread's barrier descriptors (the thread is exiting).
    pub fn release_thread(&self, pt: &PerThread) {
        if pt.epoll_fd.load(Relaxed) > 0 && self.arena.mapped() {
            let h = self.arena.header();
            h.epolls
                .store(h.epolls.load(Relaxed).saturating_sub(1), Relaxed);
            // SAFETY: the exiting thread owns `pt`.
            if unsafe { (*pt.ring.get()).ready() } {
                h.rings
                    .store(h.rings.load(Relaxed).saturating_sub(1), Relaxed);
            }
        }
        notify::release_thread_fds(pt);
    }

    /// The whole policy: answers the path in `pt`'s scratch `path[..len]` (already copied from
    /// the caller, no NUL) into `out`, or says why the kernel must answer.
    pub fn lookup(
        &self,
        pt: &PerThread,
        len: usize,
        nofollow: bool,
        want: Want,
        out: &mut [u8; STATX_SIZE],
    ) -> Lookup {
        if !self.active() {
            return Lookup::Fallback(if self.disabled.load(Relaxed) {
                Reason::Disabled
            } else {
                Reason::Inactive
            });
        }
        let h = self.arena.header();
        // SAFETY: the scratch belongs to this thread for the duration of the call.
        let sc = unsafe { &mut *pt.scratch.get() };
        if len == 0 || len >= sc.path.len() {
            return Lookup::Fallback(Reason::Name);
        }
        let start = if sc.path[0] == b'/' {
            Start::Root
        } else {
            Start::Cwd
        };
        sc.owner_checked = false;
        let mut filled = false;
        for _ in 0..MAX_ROUNDS {
            let g1 = h.gen.load(Acquire);
            if g1 & 1 != 0 {
                return Lookup::Fallback(Reason::Busy);
            }
            // Walk first, optimistically; only an answer needs the barrier. The answer is the
            // state at the barrier's instant: nothing was pending then, and `gen` did not move
            // from before the walk to after the barrier, so every change completed before the
            // barrier had already been applied when the walk read the nodes.
            let key = memo::Key {
                path: &sc.path[..len],
                start: if matches!(start, Start::Cwd) {
                    h.cwd.load(Acquire)
                } else {
                    0
                },
                nofollow,
                gen: g1,
            };
            let kh = key.hash();
            if !filled && !ripe(kh) && self.cfg.learn_at.load(Relaxed) > 1 {
                // Early sight of this path: the kernel answers, without even a walk (most paths
                // of a build are asked once or twice); learn it when it keeps coming. The
                // sighting is counted after the real call (`note_cold`); fetch its line now.
                // SAFETY: prefetching is a hint; the address is inside `SEEN`.
                unsafe {
                    core::arch::x86_64::_mm_prefetch(
                        SEEN.as_ptr().add(slot(kh)) as *const i8,
                        core::arch::x86_64::_MM_HINT_T0,
                    )
                };
                sc.cold_hash = kh;
                return Lookup::Fallback(Reason::Cold);
            }
            let memo = self.arena.memo();
            let w = match memo.get(&key, kh) {
                Some(memo::Memoed::Node(r)) => self.complete_walk(r, want, out),
                Some(memo::Memoed::Error(e)) => Walk::Negative(e),
                None => {
                    let w = self.path_lookupat(
                        &sc.path[..len],
                        &mut sc.walk,
                        start,
                        nofollow,
                        want,
                        out,
                    );
                    match w {
                        Walk::Found(r) | Walk::Unstable(r) => {
                            memo.put(&key, kh, memo::Memoed::Node(r))
                        }
                        Walk::Negative(e) => memo.put(&key, kh, memo::Memoed::Error(e)),
                        _ => {}
                    }
                    w
                }
            };
            let answer = match w {
                Walk::Found(_) | Walk::Negative(_) => true,
                // An unstable file waits for an event about it. Look for one now and then, not
                // on every call: the kernel answers either way, and the barrier is most of what
                // such a fallback costs.
                Walk::Unstable(_) => {
                    sc.unstable_calls = sc.unstable_calls.wrapping_add(1);
                    sc.unstable_calls % 16 == 1
                }
                _ => false,
            };
            if answer {
                let pending = match self.barrier(pt) {
                    Ok(p) => p || h.mount_dirty.load(Acquire) != 0,
                    Err(r) => return Lookup::Fallback(r),
                };
                if pending {
                    if !self.try_lock(pt) {
                        return Lookup::Fallback(Reason::Busy);
                    }
                    let ok = self.drain(pt);
                    self.unlock();
                    if !ok {
                        return Lookup::Fallback(Reason::Busy);
                    }
                    continue;
                }
            }
            // Orders the walk's node loads and the barrier's look at the queue before the re-check
            // of gen. Message passing, so Acquire is enough: a drainer makes gen odd, then a
            // SeqCst fence, then takes the events; a barrier that found the queue empty because
            // of that read synchronizes with the fence and sees gen move (gen_end's Release pairs
            // the same way). The reader stores nothing the drainer must see, so it needs no
            // store-load fence (on x86 this compiles to nothing; SeqCst cost ~15 ns a hit).
            fence(Acquire);
            if h.gen.load(Relaxed) != g1 {
                continue;
            }
            let need = match w {
                Walk::Found(_) => return Lookup::Hit { filled },
                Walk::Negative(errno) => return Lookup::Negative { errno, filled },
                Walk::Fallback(r) => return Lookup::Fallback(r),
                Walk::Unstable(_) => return Lookup::Fallback(Reason::Inode),
                need => need,
            };
            if !filled && !learnable(kh, self.cfg.learn_at.load(Relaxed)) {
                // Ripe only through another path of its slot: this one is still early (its
                // sighting is counted after the real call, like any other).
                sc.cold_hash = kh;
                return Lookup::Fallback(Reason::Cold);
            }
            if !self.try_lock(pt) {
                return Lookup::Fallback(Reason::Busy);
            }
            let r = self.fill(pt, need, want);
            self.unlock();
            if let Err(reason) = r {
                return Lookup::Fallback(reason);
            }
            filled = true;
        }
        Lookup::Fallback(Reason::Raced)
    }

    /// Learns what the walk was missing. Writer lock held.
    fn fill(&self, pt: &PerThread, need: Walk, want: Want) -> Result<(), Reason> {
        if !self.owner(pt) {
            return Err(Reason::Busy); // a vfork child shares our memory: never write it
        }
        match need {
            Walk::NeedChild { parent, name, len } => self.fill_child(pt, parent, &name[..len]),
            Walk::NeedAttrs(r) => self.fill_attrs(pt, r, want),
            Walk::NeedRoot => self.fill_root(pt),
            Walk::NeedCwd => self.resolve_cwd(pt),
            _ => Err(Reason::Raced),
        }
    }

    /// Whether this call runs in the process that owns the cache (a vfork child shares its
    /// memory, this thread's state included, but must never write the cache or read the
    /// queue). One `getpid` per lookup: the answer cannot change during a call.
    pub(crate) fn owner(&self, pt: &PerThread) -> bool {
        // SAFETY: the scratch belongs to this thread for the duration of the call.
        let sc = unsafe { &mut *pt.scratch.get() };
        if !sc.owner_checked {
            sc.owner_checked = sys::getpid() == self.arena.header().owner_pid.load(Relaxed);
        }
        sc.owner_checked
    }

    /// Finds the node of the working directory: `getcwd`, walk (filling as needed), then check
    /// that it is the same inode as `.`.
    fn resolve_cwd(&self, pt: &PerThread) -> Result<(), Reason> {
        // SAFETY: this thread's scratch; `aux` holds the cwd path while `walk` is used.
        let sc = unsafe { &mut *pt.scratch.get() };
        // SAFETY: `aux` is writable for its length.
        let n =
            unsafe { sys::getcwd(sc.aux.as_mut_ptr(), sc.aux.len()) }.map_err(|_| Reason::Cwd)?;
        if n < 2 || sc.aux[0] != b'/' {
            return Err(Reason::Cwd);
        }
        let len = n - 1;
        let mut out = [0u8; STATX_SIZE];
        for _ in 0..MAX_ROUNDS {
            if !self.drain(pt) {
                return Err(Reason::Busy);
            }
            let w = self.path_lookupat(
                &sc.aux[..len],
                &mut sc.walk,
                Start::Root,
                true,
                Want::Stat,
                &mut out,
            );
            match w {
                Walk::Found(r) => {
                    // SAFETY: zeroed stat is a valid buffer.
                    let mut dot: libc::stat = unsafe { core::mem::zeroed() };
                    // SAFETY: NUL-terminated ".", writable buffer.
                    unsafe { sys::newfstatat(libc::AT_FDCWD, b".\0".as_ptr(), &mut dot, 0) }
                        .map_err(|_| Reason::Cwd)?;
                    let dev = u64::from_ne_bytes(out[0..8].try_into().unwrap_or([0; 8]));
                    let ino = u64::from_ne_bytes(out[8..16].try_into().unwrap_or([0; 8]));
                    if dev != dot.st_dev
                        || ino != dot.st_ino
                        || !self.drain(pt)
                        || self.live(r).is_none()
                    {
                        return Err(Reason::Cwd);
                    }
                    self.arena
                        .header()
                        .cwd
                        .store((r.idx as u64) << 32 | r.incarn as u64, Release);
                    return Ok(());
                }
                Walk::NeedChild { parent, name, len } => {
                    self.fill_child(pt, parent, &name[..len])?
                }
                Walk::NeedAttrs(r) => self.fill_attrs(pt, r, Want::Stat)?,
                Walk::NeedRoot => self.fill_root(pt)?,
                Walk::Negative(_) | Walk::NeedCwd | Walk::Unstable(_) => return Err(Reason::Cwd),
                Walk::Fallback(r) => return Err(r),
            }
        }
        Err(Reason::Cwd)
    }
}

/// Reads a small unsigned integer from a /proc/sys file.
fn read_sysctl_u32(path: &[u8]) -> Option<u32> {
    // SAFETY: NUL-terminated path.
    let fd = unsafe {
        sys::openat(
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
            0,
        )
    }
    .ok()? as i32;
    let mut b = [0u8; 16];
    // SAFETY: `b` is writable.
    let n = unsafe { sys::read(fd, b.as_mut_ptr(), b.len()) };
    let _ = sys::close(fd);
    let n = n.ok()?;
    let mut v = 0u32;
    for &c in &b[..n] {
        if !c.is_ascii_digit() {
            break;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}
