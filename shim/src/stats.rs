//! The statistics line: at exit, when `STATCACHE_STATS` is set, each process appends one JSON
//! object with its pid, `argv[0]` and counters (format in `docs/CONTRACT.md`). One `write(2)` on
//! an `O_APPEND` descriptor, so the processes of a whole build can share one file.

use crate::config;
use crate::fmt::Buf;
use crate::next::{NAMES, N_ENTRY};
use crate::thread;
use cache::sys;
use cache::Reason;
use core::cell::UnsafeCell;
use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering::*};

struct Argv0 {
    buf: UnsafeCell<[u8; 256]>,
    len: AtomicUsize,
}
// SAFETY: written once by the constructor before `len` is published (Release); read after an
// Acquire load of `len`.
unsafe impl Sync for Argv0 {}
static ARGV0: Argv0 = Argv0 {
    buf: UnsafeCell::new([0; 256]),
    len: AtomicUsize::new(0),
};

/// Copies `argv[0]` (truncated to 255 bytes).
///
/// # Safety
/// `p` is null or a NUL-terminated string.
pub unsafe fn remember_argv0(p: *const u8) {
    if p.is_null() {
        return;
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    let s = unsafe { core::ffi::CStr::from_ptr(p.cast()) }.to_bytes();
    let n = s.len().min(255);
    // SAFETY: only the constructor writes, before publishing `len`.
    unsafe { (&mut *ARGV0.buf.get())[..n].copy_from_slice(&s[..n]) };
    ARGV0.len.store(n, Release);
}

fn argv0() -> &'static [u8] {
    let n = ARGV0.len.load(Acquire);
    // SAFETY: the first `n` bytes were written before `len` was published.
    unsafe { &(&*ARGV0.buf.get())[..n] }
}

/// Formats this process's statistics line.
pub fn format(out: &mut Buf<4096>) {
    let t = thread::sum();
    let f = crate::front::snapshot();
    let total: u64 = t.calls.iter().sum();
    let misses = t.fallbacks[Reason::Cold as usize] + t.fallbacks[Reason::Filled as usize];
    let _ = write!(
        out,
        "{{\"v\":1,\"pid\":{},\"ppid\":{},\"argv0\":\"",
        sys::getpid(),
        sys::getppid()
    );
    out.push_json_str(argv0());
    let _ = write!(out, "\",\"cache\":\"{}\",\"calls\":{{", f.state);
    for (i, n) in NAMES[..N_ENTRY].iter().enumerate() {
        let _ = write!(
            out,
            "{}\"{}\":{}",
            if i > 0 { "," } else { "" },
            &n[..n.len() - 1],
            t.calls[i]
        );
    }
    let _ = write!(
        out,
        "}},\"total\":{},\"hits\":{},\"negative_hits\":{},\"misses\":{},\"fallbacks\":{{",
        total, t.hits, t.negative_hits, misses
    );
    let mut first = true;
    for r in Reason::ALL {
        let n = t.fallbacks[r as usize];
        if n == 0 || matches!(r, Reason::Cold | Reason::Filled) {
            continue;
        }
        let _ = write!(
            out,
            "{}\"{}\":{}",
            if first { "" } else { "," },
            r.name(),
            n
        );
        first = false;
    }
    let _ = write!(
        out,
        "}},\"verified\":{},\"mismatches\":{},\"nodes\":{},\"watches\":{},\"mem_bytes\":{},\"mapped_bytes\":{},\"flushes\":{},\"ring_barriers\":{},\"epoll_barriers\":{}}}",
        t.verified,
        t.mismatches,
        f.cache.nodes,
        f.cache.watches,
        f.cache.resident_bytes,
        f.cache.mapped_bytes,
        f.cache.flushes,
        f.cache.ring_barriers,
        f.cache.epoll_barriers
    );
    out.push(b"\n");
}

/// Writes the line if `STATCACHE_STATS` asks for it. Called from the library's destructor.
pub fn write_at_exit() {
    let Some(path) = config::STATS.get() else {
        return;
    };
    let mut b = Buf::<4096>::new();
    format(&mut b);
    if path == b"-\0" {
        let _ = sys::write_all(2, b.as_bytes());
        return;
    }
    // SAFETY: `path` is NUL-terminated (config stores it so).
    let fd = unsafe {
        sys::openat(
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC,
            0o644,
        )
    };
    if let Ok(fd) = fd {
        // SAFETY: `b` is a live buffer; one write keeps the line whole under O_APPEND.
        let _ = unsafe { sys::write(fd as i32, b.as_bytes().as_ptr(), b.len) };
        let _ = sys::close(fd as i32);
    }
}
