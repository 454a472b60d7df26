//! The policy, in one place: from a call to a cached answer or a reason to fall back.

use crate::config;
use crate::thread::ThreadState;
use cache::Reason;
use core::ffi::c_int;
use core::sync::atomic::Ordering::Relaxed;

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

/// A snapshot of the cache for the statistics line.
pub struct Snapshot {
    pub state: &'static str,
    pub nodes: u64,
    pub watches: u64,
    pub mem_bytes: u64,
}

pub fn init() {}

pub fn snapshot() -> Snapshot {
    let state = if config::OFF.load(Relaxed) { "off" } else { "on" };
    Snapshot { state, nodes: 0, watches: 0, mem_bytes: 0 }
}

/// The thread that owned `fd` exited.
pub fn release_epoll(fd: c_int) {
    let _ = cache::sys::close(fd);
}

/// The process changed its working directory.
pub fn cwd_changed() {}

/// Answers a path-based call from the cache, or says why not.
///
/// # Safety
/// The pointers are the caller's, unvalidated: they may only be touched through `uaccess`.
pub unsafe fn answer(_t: &ThreadState, _d: c_int, _p: *const u8, _fl: c_int, want: Want) -> Result<c_int, Reason> {
    if config::OFF.load(Relaxed) {
        return Err(Reason::Off);
    }
    if let Want::Nothing = want {
        return Err(Reason::Flags);
    }
    Err(Reason::Inactive)
}
