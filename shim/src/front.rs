//! The policy, in one place: from a call to a cached answer or a reason to fall back.
//!
//! `answer` refuses early what the cache does not model (flags, fd-relative paths, a disabled
//! or foreign-preloaded cache), copies the path once through the fault-tolerant routine, asks
//! the cache, and writes the answer back the same way. A fault on either copy falls back: the
//! real call then produces the kernel's own `EFAULT`.

use crate::config;
use crate::log::{log, INFO, WARN};
use crate::next::{self, Sym};
use crate::thread::ThreadState;
use crate::uaccess::{self, CopyError};
use crate::verify;
use cache::{Cache, Lookup, Reason};
use core::ffi::c_int;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// The process's cache.
pub static CACHE: Cache = Cache::new();

/// Another preloaded library defines the stat family: its answers are not the kernel's.
static FOREIGN: AtomicBool = AtomicBool::new(false);

/// What the caller wants back.
#[derive(Clone, Copy)]
pub enum Want {
    /// A `struct stat` (stat, lstat, fstatat and the legacy forms).
    Stat(*mut libc::stat),
    /// A `struct statx` for this request mask.
    Statx(u32, *mut libc::statx),
    /// Nothing the cache can give (e.g. an invalid legacy version: the next definition errs).
    Nothing,
}

/// Flags an fstatat-family call may carry and still be answered from the cache.
const AT_OK: c_int = libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT;
/// Flags a statx call may carry and still be answered from the cache.
const STATX_OK: c_int = AT_OK | libc::AT_STATX_DONT_SYNC;

/// A snapshot of the cache for the statistics line.
pub struct Snapshot {
    pub state: &'static str,
    pub cache: cache::Snapshot,
}

/// Copies the configuration into the cache and checks the preload chain. Constructor only.
pub fn init() {
    let c = &CACHE.cfg;
    c.max_nodes.store(config::MAX_NODES.load(Relaxed), Relaxed);
    c.max_watches
        .store(config::MAX_WATCHES.load(Relaxed), Relaxed);
    c.min_reuse.store(config::MIN_REUSE.load(Relaxed), Relaxed);
    c.learn_at.store(config::LEARN_AT.load(Relaxed), Relaxed);
    match config::BARRIER.load(Relaxed) {
        config::BARRIER_EPOLL => c.ring.store(false, Relaxed),
        config::BARRIER_RING => c.ring_after.store(0, Relaxed),
        _ => {}
    }
    CACHE
        .mounts
        .trust_overlay
        .store(config::TRUST_OVERLAY.load(Relaxed) as u32, Relaxed);
}

/// Checks the preload chain once, when the cache is about to turn on (processes that never
/// activate never pay for it): if another library between us and libc defines the stat family,
/// its answers are not the kernel's and the cache must stay off.
fn foreign_preload() -> bool {
    let syms = [
        Sym::Stat,
        Sym::Stat64,
        Sym::Lstat,
        Sym::Fstatat,
        Sym::Statx,
        Sym::Xstat,
        Sym::Lxstat,
        Sym::Fxstatat,
    ];
    let foreign = syms.into_iter().find(|&s| next::foreign_definition(s));
    if let Some(s) = foreign {
        FOREIGN.store(true, Relaxed);
        log!(
            WARN,
            "another preloaded library defines {}: passing every call through",
            s.name()
        );
    }
    foreign.is_some()
}

pub fn snapshot() -> Snapshot {
    let state = if config::OFF.load(Relaxed) {
        "off"
    } else if CACHE.disabled() || FOREIGN.load(Relaxed) {
        "disabled"
    } else {
        "on"
    };
    Snapshot {
        state,
        cache: CACHE.snapshot(),
    }
}

/// The thread owning `t` exited: release its barrier descriptors.
pub fn release_thread(t: &ThreadState) {
    CACHE.release_thread(&t.pt);
}

/// glibc's fork child handler.
pub fn after_fork_child() {
    CACHE.after_fork_child();
}

/// A call the cache left to the kernel as a first sighting has been made: count the sighting.
#[inline]
pub fn note_cold(t: &ThreadState) {
    CACHE.note_cold(&t.pt);
}

/// The process changed its working directory.
pub fn cwd_changed() {
    CACHE.cwd_changed();
}

/// Credentials or the root changed: nothing cached can be trusted.
pub fn invalidate_all() {
    CACHE.invalidate_all();
}

/// Turns caching off for the rest of the process.
pub fn disable() {
    CACHE.disable();
    log!(
        INFO,
        "cache off: the process left its mount namespace or fs context"
    );
}

/// The program is about to close or replace one of the library's descriptors.
#[cold]
pub fn lose_fds() {
    if !CACHE.disabled() {
        CACHE.disable();
        log!(
            INFO,
            "cache off: the program closes or replaces the library's descriptors"
        );
    }
}

/// A call passed through while the cache was inactive and succeeded: note the inode, and turn
/// the cache on once the process shows reuse. The buffer was just written by the real call.
///
/// # Safety
/// The buffer in `want` must hold the successful result of the real call.
pub unsafe fn note_pass(want: Want) {
    let (dev, ino) = match want {
        // SAFETY: the real call just filled it (caller's contract).
        Want::Stat(b) => unsafe { ((*b).st_dev, (*b).st_ino) },
        // SAFETY: as above.
        Want::Statx(_, b) => unsafe {
            (
                ((*b).stx_dev_major as u64) << 32 | (*b).stx_dev_minor as u64,
                (*b).stx_ino,
            )
        },
        Want::Nothing => return,
    };
    if CACHE.note_reuse(dev, ino) {
        activate();
    }
}

#[cold]
fn activate() {
    if config::OFF.load(Relaxed) || FOREIGN.load(Relaxed) || foreign_preload() {
        return;
    }
    if !uaccess::install() {
        log!(
            WARN,
            "cannot install the fault handler: passing every call through"
        );
        CACHE.disable();
        return;
    }
    if CACHE.activate() {
        log!(INFO, "cache on");
    } else {
        log!(
            WARN,
            "cache could not start (inotify or memory limits): passing every call through"
        );
    }
}

/// Answers a path-based call from the cache, or says why not. On success the caller's buffer
/// (or errno) is set and the return value is what the real call would return.
///
/// # Safety
/// The pointers are the caller's, unvalidated: they are only touched through `uaccess`.
pub unsafe fn answer(
    t: &ThreadState,
    d: c_int,
    p: *const u8,
    fl: c_int,
    want: Want,
) -> Result<c_int, Reason> {
    if config::OFF.load(Relaxed) {
        return Err(Reason::Off);
    }
    if FOREIGN.load(Relaxed) {
        return Err(Reason::Foreign);
    }
    let (nofollow, cwant, out_ptr, out_len) = match want {
        Want::Stat(b) => {
            if fl & !AT_OK != 0 {
                return Err(if fl & libc::AT_EMPTY_PATH != 0 {
                    Reason::Fd
                } else {
                    Reason::Flags
                });
            }
            (
                fl & libc::AT_SYMLINK_NOFOLLOW != 0,
                cache::Want::Stat,
                b as *mut u8,
                144,
            )
        }
        Want::Statx(mask, b) => {
            if fl & !STATX_OK != 0 || mask & (libc::STATX__RESERVED as u32) != 0 {
                return Err(if fl & libc::AT_EMPTY_PATH != 0 {
                    Reason::Fd
                } else {
                    Reason::Flags
                });
            }
            (
                fl & libc::AT_SYMLINK_NOFOLLOW != 0,
                cache::Want::Statx(mask),
                b as *mut u8,
                256,
            )
        }
        Want::Nothing => return Err(Reason::Flags),
    };
    if !CACHE.active() {
        return Err(if CACHE.disabled() {
            Reason::Disabled
        } else {
            Reason::Inactive
        });
    }
    if !uaccess::installed() {
        return Err(Reason::Fault);
    }
    // SAFETY: the scratch belongs to this thread while `in_lib` is set.
    let path = unsafe { &mut (*t.pt.scratch.get()).path };
    // SAFETY: the fault handler is installed (checked above); `path` is 4096 bytes.
    let len = match unsafe { uaccess::copy_path_from_user(path, p) } {
        Ok(n) => n,
        Err(CopyError::Fault) => return Err(Reason::Fault),
        Err(CopyError::TooLong) => return Err(Reason::Name),
    };
    if len == 0 {
        return Err(Reason::Name);
    }
    if path[0] != b'/' && d != libc::AT_FDCWD {
        return Err(Reason::Dirfd);
    }
    // SAFETY: the answer buffer belongs to this thread while `in_lib` is set; `lookup` does not
    // touch it through `pt`.
    let out = unsafe { &mut *t.pt.out.get() };
    let r = CACHE.lookup(&t.pt, len, nofollow, cwant, out);
    let (ret, errno, filled) = match r {
        Lookup::Hit { filled } => (0, 0, filled),
        Lookup::Negative { errno, filled } => (-1, errno.0, filled),
        Lookup::Fallback(reason) => return Err(reason),
    };
    if config::VERIFY.load(Relaxed) {
        // SAFETY: same pointers; the real call validates them itself.
        return Ok(unsafe {
            verify::check(t, d, p, fl, want, ret, errno, &out[..out_len], out_ptr)
        });
    }
    if ret == 0 {
        // SAFETY: the handler is installed; `out` holds `out_len` bytes.
        if unsafe { uaccess::copy_to_user(out_ptr, out.as_ptr(), out_len) }.is_err() {
            return Err(Reason::Fault);
        }
    } else {
        // SAFETY: this thread's errno slot.
        unsafe { *libc::__errno_location() = errno };
    }
    count(t, ret != 0, filled);
    Ok(ret)
}

/// Counts an answer the cache gave.
pub fn count(t: &ThreadState, negative: bool, filled: bool) {
    if filled {
        t.count_fallback(Reason::Filled);
    } else {
        t.count_hit(negative);
    }
}
