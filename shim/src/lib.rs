//! `libstatcache.so`: the preloaded library.
//!
//! It exports the glibc stat family ([`exports`]), counts every call ([`thread`]), asks the
//! dentry cache ([`front`]) and passes anything the cache cannot answer exactly to the next
//! definition of the same symbol ([`next`]). It is `#![no_std]`: no allocator, no hidden locks,
//! nothing that is not async-signal-safe, and a start-up cost of a few microseconds.
#![no_std]

mod config;
mod creds;
mod exports;
mod fds;
mod fmt;
mod front;
mod log;
mod next;
mod signals;
mod stats;
mod thread;
mod uaccess;
mod verify;

/// A panic can only come from a bug; it must not unwind into C. Abort, as `panic = "abort"` does.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: abort(3) is async-signal-safe and never returns.
    unsafe { libc::abort() }
}

/// The library's constructor — runs when the dynamic loader maps the library, before `main`.
///
/// glibc passes `(argc, argv, envp)` to `.init_array` entries. Only cheap work happens here:
/// reading `STATCACHE_*`, resolving the next definitions, creating the thread key, and growing
/// the descriptor table while the process is single-threaded (see `reserve_fd_table`).
extern "C" fn init(argc: i32, argv: *const *const u8, envp: *const *const u8) {
    // SAFETY: glibc hands the process's own argv/envp arrays, NULL-terminated and alive for the
    // whole process.
    unsafe {
        config::init(envp);
        stats::remember_argv0(if argc > 0 { *argv } else { core::ptr::null() });
    }
    next::init();
    thread::init();
    front::init();
    if !config::OFF.load(core::sync::atomic::Ordering::Relaxed) {
        cache::notify::reserve_fd_table();
    }
}

/// The library's destructor — runs at `exit(3)`: writes the statistics line if asked and lets
/// go of the inotify instance without making the exit wait for its teardown.
extern "C" fn fini() {
    stats::write_at_exit();
    front::CACHE.at_exit();
}

#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn(i32, *const *const u8, *const *const u8) = init;

#[used]
#[link_section = ".fini_array"]
static FINI: extern "C" fn() = fini;
