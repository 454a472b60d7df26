//! Per-thread state: the re-entry guard, the counters, the thread's epoll fd and scratch space.
//!
//! Found through a pthread key (`pthread_getspecific` is a few ns and async-signal-safe).
//! Blocks are mapped with `mmap`, never freed, and handed to the next new thread when their
//! thread exits, so the counters of exited threads are still summed at exit without any
//! shared-cache-line write on the hot path: each counter has exactly one writer, the owning
//! thread, which uses a plain load and store (no read-modify-write).
//!
//! Blocks are marked `MADV_WIPEONFORK`: a child of `fork` (with or without glibc's handlers)
//! sees them zeroed, so it neither reports its parent's counts nor reuses its parent's epoll fd.

use crate::next::N_ENTRY;
use cache::sys;
use cache::{Reason, N_REASON};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering::*};

/// Counters of one thread.
#[repr(C)]
pub struct Counters {
    pub calls: [AtomicU64; N_ENTRY],
    pub hits: AtomicU64,
    pub negative_hits: AtomicU64,
    pub fallbacks: [AtomicU64; N_REASON],
    pub verified: AtomicU64,
    pub mismatches: AtomicU64,
}

/// One thread's state block.
#[repr(C, align(64))]
pub struct ThreadState {
    /// Process generation this block is registered in (0 after fork: not registered).
    epoch: AtomicU64,
    /// Next block in the registry list.
    next: AtomicPtr<ThreadState>,
    /// A live thread owns this block.
    in_use: AtomicBool,
    /// Set while this thread is inside the library: a nested call (signal handler) passes through.
    pub in_lib: AtomicBool,
    pub counters: Counters,
    /// The cache's per-thread part: barrier fds and scratch buffers.
    pub pt: cache::PerThread,
}

const BLOCK: usize = (core::mem::size_of::<ThreadState>() + 4095) & !4095;
const _: () = assert!(core::mem::size_of::<ThreadState>() <= BLOCK);

static KEY: AtomicU32 = AtomicU32::new(u32::MAX);
/// Head of the registry list, valid only for blocks whose epoch equals [`epoch`].
static HEAD: AtomicPtr<ThreadState> = AtomicPtr::new(core::ptr::null_mut());
/// Blocks registered before a fork, reachable from `HEAD`; after fork the child rebuilds.
static EPOCH: AtomicU64 = AtomicU64::new(0);
/// The pid the registry belongs to: a different `getpid()` means we are a fork child.
static OWNER: AtomicI32 = AtomicI32::new(0);

/// Creates the thread key. Called once from the constructor.
pub fn init() {
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: `key` is writable; `release` is a valid destructor for the key's values.
    if unsafe { libc::pthread_key_create(&mut key, Some(release)) } == 0 {
        KEY.store(key, Release);
    }
    OWNER.store(sys::getpid(), Relaxed);
    EPOCH.store(1, Release);
    // SAFETY: the handler is an `extern "C" fn()` that only touches atomics and raw syscalls.
    unsafe { libc::pthread_atfork(None, None, Some(after_fork_child)) };
}

/// `pthread_atfork` child handler: the child starts with an empty registry and its own epoch.
extern "C" fn after_fork_child() {
    forget_registry();
    crate::front::after_fork_child();
}

fn forget_registry() {
    OWNER.store(sys::getpid(), Relaxed);
    HEAD.store(core::ptr::null_mut(), Relaxed);
    EPOCH.store(EPOCH.load(Relaxed).wrapping_add(1) | 1, Release);
}

/// Key destructor: the thread is exiting. Release its epoll fd and hand the block on.
extern "C" fn release(p: *mut libc::c_void) {
    let t = p as *mut ThreadState;
    if t.is_null() {
        return;
    }
    // SAFETY: values of our key are always live, never-unmapped ThreadState blocks.
    let t = unsafe { &*t };
    crate::front::release_thread(t);
    // Release pairs with the Acquire CAS in `adopt`: the next owner sees our last counts.
    t.in_use.store(false, Release);
}

/// The calling thread's state, creating it on first use; `None` before init or when memory
/// cannot be had (then the caller passes through).
#[inline]
pub fn current() -> Option<&'static ThreadState> {
    let key = KEY.load(Acquire);
    if key == u32::MAX {
        return None;
    }
    // SAFETY: getspecific on a created key is always defined; it returns our block or null.
    let p = unsafe { libc::pthread_getspecific(key) } as *const ThreadState;
    if !p.is_null() {
        // SAFETY: blocks are never unmapped.
        let t = unsafe { &*p };
        if t.epoch.load(Relaxed) == EPOCH.load(Relaxed) {
            return Some(t);
        }
    }
    attach(key, p)
}

#[cold]
fn attach(key: libc::pthread_key_t, old: *const ThreadState) -> Option<&'static ThreadState> {
    if !old.is_null() || OWNER.load(Relaxed) != sys::getpid() {
        // A fork child without glibc's handlers (raw clone): the registry is the parent's.
        if OWNER.load(Relaxed) != sys::getpid() {
            forget_registry();
        }
    }
    let epoch = EPOCH.load(Acquire);
    let t = adopt(epoch).or_else(|| fresh(epoch))?;
    // SAFETY: key is valid; storing a pointer value does not allocate for low key indices.
    unsafe { libc::pthread_setspecific(key, t as *const ThreadState as *const libc::c_void) };
    Some(t)
}

/// Takes over a block whose thread has exited.
fn adopt(epoch: u64) -> Option<&'static ThreadState> {
    let mut p = HEAD.load(Acquire);
    while !p.is_null() {
        // SAFETY: registry blocks are never unmapped.
        let t = unsafe { &*p };
        if t.epoch.load(Relaxed) == epoch
            && t.in_use
                .compare_exchange(false, true, Acquire, Relaxed)
                .is_ok()
        {
            t.in_lib.store(false, Relaxed);
            t.pt.reset();
            return Some(t);
        }
        p = t.next.load(Acquire);
    }
    None
}

/// Maps and registers a new block.
fn fresh(epoch: u64) -> Option<&'static ThreadState> {
    let m = sys::mmap_anon(BLOCK).ok()?;
    // SAFETY: `m` is a fresh private mapping of BLOCK bytes.
    let _ = unsafe { sys::madvise(m, BLOCK, libc::MADV_WIPEONFORK) };
    // SAFETY: zeroed memory is a valid ThreadState (all atomics zero); we own it exclusively.
    let t = unsafe { &*(m as *const ThreadState) };
    t.pt.reset();
    t.in_use.store(true, Relaxed);
    t.epoch.store(epoch, Relaxed);
    let mut head = HEAD.load(Relaxed);
    loop {
        t.next.store(head, Relaxed);
        // Release pairs with the Acquire loads in `adopt`/`sum`: the block is initialised.
        match HEAD.compare_exchange_weak(head, m as *mut ThreadState, Release, Relaxed) {
            Ok(_) => return Some(t),
            Err(h) => head = h,
        }
    }
}

#[inline(always)]
fn bump(c: &AtomicU64) {
    // One writer per counter: a plain load and store, no lock prefix, no shared line.
    c.store(c.load(Relaxed).wrapping_add(1), Relaxed);
}

impl ThreadState {
    #[inline(always)]
    pub fn count_call(&self, i: usize) {
        bump(&self.counters.calls[i]);
    }
    #[inline(always)]
    pub fn count_hit(&self, negative: bool) {
        bump(if negative {
            &self.counters.negative_hits
        } else {
            &self.counters.hits
        });
    }
    #[inline(always)]
    pub fn count_fallback(&self, r: Reason) {
        bump(&self.counters.fallbacks[r as usize]);
    }
    #[inline(always)]
    pub fn count_verified(&self, mismatch: bool) {
        bump(&self.counters.verified);
        if mismatch {
            bump(&self.counters.mismatches);
        }
    }
}

/// Counts from calls made before the thread key existed (another library's constructor).
pub static EARLY_CALLS: [AtomicU64; N_ENTRY] = [const { AtomicU64::new(0) }; N_ENTRY];

/// Process totals, summed over every block registered in this process.
pub struct Totals {
    pub calls: [u64; N_ENTRY],
    pub hits: u64,
    pub negative_hits: u64,
    pub fallbacks: [u64; N_REASON],
    pub verified: u64,
    pub mismatches: u64,
}

/// Sums every thread's counters (racy reads of other threads' counters are fine at exit).
pub fn sum() -> Totals {
    let mut s = Totals {
        calls: [0; N_ENTRY],
        hits: 0,
        negative_hits: 0,
        fallbacks: [0; N_REASON],
        verified: 0,
        mismatches: 0,
    };
    for (i, c) in EARLY_CALLS.iter().enumerate() {
        let n = c.load(Relaxed);
        s.calls[i] += n;
        s.fallbacks[Reason::Reentry as usize] += n;
    }
    let epoch = EPOCH.load(Acquire);
    let mut p = HEAD.load(Acquire);
    while !p.is_null() {
        // SAFETY: registry blocks are never unmapped.
        let t = unsafe { &*p };
        if t.epoch.load(Relaxed) == epoch {
            let c = &t.counters;
            for i in 0..N_ENTRY {
                s.calls[i] += c.calls[i].load(Relaxed);
            }
            for i in 0..N_REASON {
                s.fallbacks[i] += c.fallbacks[i].load(Relaxed);
            }
            s.hits += c.hits.load(Relaxed);
            s.negative_hits += c.negative_hits.load(Relaxed);
            s.verified += c.verified.load(Relaxed);
            s.mismatches += c.mismatches.load(Relaxed);
        }
        p = t.next.load(Acquire);
    }
    s
}
