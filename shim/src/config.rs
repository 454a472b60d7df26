//! `STATCACHE_*` — the library's whole configuration, parsed once in the constructor.
//!
//! This is the only module that reads the environment. Every knob is an atomic so that a call
//! racing the constructor (a thread started by another library's constructor) reads either the
//! default or the parsed value, never a torn one.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering::*};

/// `STATCACHE=off`: the kill switch. Calls are still counted, never answered from the cache.
pub static OFF: AtomicBool = AtomicBool::new(false);
/// `STATCACHE_VERIFY=1`: check every cached answer against the real call.
pub static VERIFY: AtomicBool = AtomicBool::new(false);
/// `STATCACHE_LOG=N`: 0 silent, 1 warnings, 2 info, 3 debug.
pub static LOG: AtomicU32 = AtomicU32::new(0);
/// `STATCACHE_MAX_NODES`: arena capacity.
pub static MAX_NODES: AtomicU32 = AtomicU32::new(1 << 16);
/// `STATCACHE_MAX_WATCHES`: cap on inotify watches.
pub static MAX_WATCHES: AtomicU32 = AtomicU32::new(8192);
/// `STATCACHE_MIN_REUSE`: repeated lookups seen before the cache turns itself on.
pub static MIN_REUSE: AtomicU32 = AtomicU32::new(64);
/// `STATCACHE_TRUST_OVERLAY=1`: overlayfs layers are immutable, cache it.
pub static TRUST_OVERLAY: AtomicBool = AtomicBool::new(false);
/// `STATCACHE_LEARN_AT`: sightings of a path before the cache learns it.
pub static LEARN_AT: AtomicU32 = AtomicU32::new(cache::LEARN_AT);
/// `STATCACHE_BARRIER`: `auto` (default: epoll, then a ring for a thread that keeps hitting),
/// `ring` (a ring from the start), `epoll` (never a ring). See `cache::ring`.
pub static BARRIER: AtomicU8 = AtomicU8::new(BARRIER_AUTO);
pub const BARRIER_AUTO: u8 = 0;
pub const BARRIER_RING: u8 = 1;
pub const BARRIER_EPOLL: u8 = 2;

/// `STATCACHE_STATS`: where the statistics line goes.
pub struct StatsPath {
    buf: UnsafeCell<[u8; 1024]>,
    len: AtomicUsize,
}

// SAFETY: `buf` is written only by `config::init` before `len` is published with Release;
// readers load `len` with Acquire and read only that prefix.
unsafe impl Sync for StatsPath {}

pub static STATS: StatsPath = StatsPath {
    buf: UnsafeCell::new([0; 1024]),
    len: AtomicUsize::new(0),
};

impl StatsPath {
    /// The configured path (NUL-terminated), `Some(b"-\0")` for standard error, or `None`.
    pub fn get(&self) -> Option<&[u8]> {
        // Acquire pairs with the Release in `set`.
        let n = self.len.load(Acquire);
        if n == 0 {
            return None;
        }
        // SAFETY: the first `n` bytes were written before `len` was published and never change.
        Some(unsafe { &(&*self.buf.get())[..n] })
    }

    fn set(&self, v: &[u8]) {
        if v.is_empty() || v.len() + 1 > 1024 || self.len.load(Relaxed) != 0 {
            return;
        }
        // SAFETY: only the constructor calls `set`, once, before publishing `len`.
        unsafe {
            let b = &mut *self.buf.get();
            b[..v.len()].copy_from_slice(v);
            b[v.len()] = 0;
        }
        // Release pairs with the Acquire in `get`.
        self.len.store(v.len() + 1, Release);
    }
}

fn parse_u32(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 9 {
        return None;
    }
    let mut n = 0u32;
    for &c in v {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as u32;
    }
    Some(n)
}

fn truthy(v: &[u8]) -> bool {
    matches!(v, b"1" | b"yes" | b"on" | b"true")
}

/// Applies one `NAME=VALUE` environment entry.
fn apply(name: &[u8], v: &[u8]) {
    match name {
        b"STATCACHE" => OFF.store(matches!(v, b"off" | b"0" | b"no" | b"false"), Relaxed),
        b"STATCACHE_VERIFY" => VERIFY.store(truthy(v), Relaxed),
        b"STATCACHE_LOG" => LOG.store(parse_u32(v).unwrap_or(1).min(3), Relaxed),
        b"STATCACHE_STATS" => STATS.set(v),
        b"STATCACHE_MAX_NODES" => {
            if let Some(n) = parse_u32(v) {
                MAX_NODES.store(n.clamp(16, 1 << 24), Relaxed)
            }
        }
        b"STATCACHE_MAX_WATCHES" => {
            if let Some(n) = parse_u32(v) {
                MAX_WATCHES.store(n, Relaxed)
            }
        }
        b"STATCACHE_MIN_REUSE" => {
            if let Some(n) = parse_u32(v) {
                MIN_REUSE.store(n, Relaxed)
            }
        }
        b"STATCACHE_TRUST_OVERLAY" => TRUST_OVERLAY.store(truthy(v), Relaxed),
        b"STATCACHE_LEARN_AT" => {
            if let Some(n) = parse_u32(v) {
                LEARN_AT.store(n.clamp(1, cache::MAX_LEARN_AT), Relaxed)
            }
        }
        b"STATCACHE_BARRIER" => BARRIER.store(
            match v {
                b"ring" => BARRIER_RING,
                b"epoll" => BARRIER_EPOLL,
                _ => BARRIER_AUTO,
            },
            Relaxed,
        ),
        _ => {}
    }
}

/// Parses `STATCACHE_*` from the environment block handed to the constructor.
///
/// # Safety
/// `envp` is null or a NULL-terminated array of NUL-terminated strings (the process environment).
pub unsafe fn init(envp: *const *const u8) {
    if envp.is_null() {
        return;
    }
    let mut p = envp;
    loop {
        // SAFETY: `p` walks the NULL-terminated array; we stop at the NULL.
        let e = unsafe { *p };
        if e.is_null() {
            break;
        }
        // SAFETY: every entry is a NUL-terminated string owned by the process.
        let s = unsafe { core::ffi::CStr::from_ptr(e.cast()) }.to_bytes();
        if s.starts_with(b"STATCACHE") {
            if let Some(eq) = s.iter().position(|&c| c == b'=') {
                apply(&s[..eq], &s[eq + 1..]);
            }
        }
        // SAFETY: not yet past the terminating NULL.
        p = unsafe { p.add(1) };
    }
}
