//! The exported symbols: ABI-exact replacements for glibc 2.36's x86_64 stat family.
//!
//! Each export counts the call, asks [`front`] for a cached answer, and otherwise passes the
//! call, arguments untouched, to the next definition of the same name ([`pass`]). Nothing here
//! reads or writes the caller's memory; only the cache does, through fault-tolerant copies.
#![allow(clippy::missing_safety_doc)] // C ABI exports: the C contract of each function applies.

use crate::front::{self, Want};
use crate::next::{self, Sym};
use crate::thread;
use cache::sys::{self, Errno, SysResult};
use cache::Reason;
use core::ffi::{c_char, c_int, c_uint};
use libc::{stat as Stat, statx as Statx};

/// glibc's `_STAT_VER_KERNEL` (0) and `_STAT_VER_LINUX` (1) are the only versions x86_64 takes;
/// anything else is EINVAL before any memory is touched (measured on glibc 2.36).
#[inline]
fn valid_ver(v: c_int) -> bool {
    v == 0 || v == 1
}

/// Sets `errno` and returns -1, the libc convention, from a raw syscall result.
#[inline]
fn libc_ret(r: SysResult) -> c_int {
    match r {
        Ok(_) => 0,
        Err(Errno(e)) => {
            // SAFETY: __errno_location returns this thread's errno slot.
            unsafe { *libc::__errno_location() = e };
            -1
        }
    }
}

/// Pass-through: the next definition of `sym` with the caller's own arguments, or the raw
/// system call glibc itself would make.
mod pass {
    use super::*;

    type PathFn = unsafe extern "C" fn(*const c_char, *mut Stat) -> c_int;
    type FdFn = unsafe extern "C" fn(c_int, *mut Stat) -> c_int;
    type AtFn = unsafe extern "C" fn(c_int, *const c_char, *mut Stat, c_int) -> c_int;
    type StatxFn = unsafe extern "C" fn(c_int, *const c_char, c_int, c_uint, *mut Statx) -> c_int;
    type XPathFn = unsafe extern "C" fn(c_int, *const c_char, *mut Stat) -> c_int;
    type XFdFn = unsafe extern "C" fn(c_int, c_int, *mut Stat) -> c_int;
    type XAtFn = unsafe extern "C" fn(c_int, c_int, *const c_char, *mut Stat, c_int) -> c_int;

    /// `stat`, `stat64` (`nofollow` false) and `lstat`, `lstat64` (true).
    pub unsafe fn path(sym: Sym, p: *const c_char, buf: *mut Stat, nofollow: bool) -> c_int {
        match next::get(sym) {
            // SAFETY: the next definition of this very symbol has this very signature.
            Some(f) => unsafe { core::mem::transmute::<usize, PathFn>(f)(p, buf) },
            None => {
                let fl = if nofollow {
                    libc::AT_SYMLINK_NOFOLLOW
                } else {
                    0
                };
                // SAFETY: the kernel validates both pointers (EFAULT).
                libc_ret(unsafe { sys::newfstatat(libc::AT_FDCWD, p.cast(), buf, fl) })
            }
        }
    }

    /// `fstat`, `fstat64`.
    pub unsafe fn fd(sym: Sym, fd: c_int, buf: *mut Stat) -> c_int {
        match next::get(sym) {
            // SAFETY: as in `path`.
            Some(f) => unsafe { core::mem::transmute::<usize, FdFn>(f)(fd, buf) },
            // SAFETY: the kernel validates the pointer.
            None => libc_ret(unsafe { sys::fstat(fd, buf) }),
        }
    }

    /// `fstatat`, `fstatat64`.
    pub unsafe fn at(sym: Sym, d: c_int, p: *const c_char, buf: *mut Stat, fl: c_int) -> c_int {
        match next::get(sym) {
            // SAFETY: as in `path`.
            Some(f) => unsafe { core::mem::transmute::<usize, AtFn>(f)(d, p, buf, fl) },
            // SAFETY: the kernel validates the pointers and flags.
            None => libc_ret(unsafe { sys::newfstatat(d, p.cast(), buf, fl) }),
        }
    }

    /// `statx`.
    pub unsafe fn statx(
        d: c_int,
        p: *const c_char,
        fl: c_int,
        m: c_uint,
        buf: *mut Statx,
    ) -> c_int {
        match next::get(Sym::Statx) {
            // SAFETY: as in `path`.
            Some(f) => unsafe { core::mem::transmute::<usize, StatxFn>(f)(d, p, fl, m, buf) },
            // SAFETY: the kernel validates the pointers, flags and mask.
            None => libc_ret(unsafe { sys::statx(d, p.cast(), fl, m, buf) }),
        }
    }

    /// `__xstat`, `__xstat64`, `__lxstat`, `__lxstat64`.
    pub unsafe fn xpath(
        sym: Sym,
        v: c_int,
        p: *const c_char,
        buf: *mut Stat,
        nofollow: bool,
    ) -> c_int {
        match next::get(sym) {
            // SAFETY: as in `path`.
            Some(f) => unsafe { core::mem::transmute::<usize, XPathFn>(f)(v, p, buf) },
            None if !valid_ver(v) => libc_ret(Err(Errno::EINVAL)),
            // SAFETY: as in `path`.
            None => unsafe { path(Sym::Stat, p, buf, nofollow) },
        }
    }

    /// `__fxstat`, `__fxstat64`.
    pub unsafe fn xfd(sym: Sym, v: c_int, fd: c_int, buf: *mut Stat) -> c_int {
        match next::get(sym) {
            // SAFETY: as in `path`.
            Some(f) => unsafe { core::mem::transmute::<usize, XFdFn>(f)(v, fd, buf) },
            None if !valid_ver(v) => libc_ret(Err(Errno::EINVAL)),
            // SAFETY: the kernel validates the pointer.
            None => libc_ret(unsafe { sys::fstat(fd, buf) }),
        }
    }

    /// `__fxstatat`, `__fxstatat64`.
    pub unsafe fn xat(
        sym: Sym,
        v: c_int,
        d: c_int,
        p: *const c_char,
        buf: *mut Stat,
        fl: c_int,
    ) -> c_int {
        match next::get(sym) {
            // SAFETY: as in `path`.
            Some(f) => unsafe { core::mem::transmute::<usize, XAtFn>(f)(v, d, p, buf, fl) },
            None if !valid_ver(v) => libc_ret(Err(Errno::EINVAL)),
            // SAFETY: the kernel validates the pointers and flags.
            None => libc_ret(unsafe { sys::newfstatat(d, p.cast(), buf, fl) }),
        }
    }
}

/// The shared front half of every export: count, guard against re-entry, try the cache.
/// `pass` is the pass-through for this call; it runs when the cache does not answer.
#[inline(always)]
unsafe fn serve(
    sym: Sym,
    d: c_int,
    p: *const c_char,
    fl: c_int,
    want: Want,
    pass: impl FnOnce() -> c_int,
) -> c_int {
    let Some(t) = thread::current() else {
        thread::EARLY_CALLS[sym as usize].fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        return pass();
    };
    t.count_call(sym as usize);
    if t.in_lib.load(core::sync::atomic::Ordering::Relaxed) {
        t.count_fallback(Reason::Reentry);
        return pass();
    }
    t.in_lib.store(true, core::sync::atomic::Ordering::Relaxed);
    // SAFETY: the caller's pointers are only touched through fault-tolerant copies in `front`.
    let r = match unsafe { front::answer(t, d, p.cast(), fl, want) } {
        Ok(ret) => ret,
        Err(reason) => {
            t.count_fallback(reason);
            let r = pass();
            if reason == Reason::Cold {
                front::note_cold(t);
            }
            if reason == Reason::Inactive && r == 0 {
                // SAFETY: the real call just succeeded, so the buffer in `want` holds its result.
                unsafe { front::note_pass(want) };
            }
            r
        }
    };
    t.in_lib.store(false, core::sync::atomic::Ordering::Relaxed);
    r
}

/// Counts an fd-based call and passes it through: the kernel answers `fstat` fastest.
#[inline(always)]
fn serve_fd(sym: Sym, pass: impl FnOnce() -> c_int) -> c_int {
    match thread::current() {
        Some(t) => {
            t.count_call(sym as usize);
            t.count_fallback(Reason::Fd);
        }
        None => {
            thread::EARLY_CALLS[sym as usize].fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        }
    }
    pass()
}

macro_rules! path_export {
    ($name:ident, $sym:expr, $nofollow:expr) => {
        #[no_mangle]
        pub unsafe extern "C" fn $name(p: *const c_char, buf: *mut Stat) -> c_int {
            let fl = if $nofollow {
                libc::AT_SYMLINK_NOFOLLOW
            } else {
                0
            };
            // SAFETY: arguments forwarded untouched; see `serve`.
            unsafe {
                serve($sym, libc::AT_FDCWD, p, fl, Want::Stat(buf), || {
                    pass::path($sym, p, buf, $nofollow)
                })
            }
        }
    };
}
path_export!(stat, Sym::Stat, false);
path_export!(stat64, Sym::Stat64, false);
path_export!(lstat, Sym::Lstat, true);
path_export!(lstat64, Sym::Lstat64, true);

macro_rules! fd_export {
    ($name:ident, $sym:expr) => {
        #[no_mangle]
        pub unsafe extern "C" fn $name(fd: c_int, buf: *mut Stat) -> c_int {
            // SAFETY: arguments forwarded untouched.
            serve_fd($sym, || unsafe { pass::fd($sym, fd, buf) })
        }
    };
}
fd_export!(fstat, Sym::Fstat);
fd_export!(fstat64, Sym::Fstat64);

macro_rules! at_export {
    ($name:ident, $sym:expr) => {
        #[no_mangle]
        pub unsafe extern "C" fn $name(
            d: c_int,
            p: *const c_char,
            buf: *mut Stat,
            fl: c_int,
        ) -> c_int {
            // SAFETY: arguments forwarded untouched; see `serve`.
            unsafe {
                serve($sym, d, p, fl, Want::Stat(buf), || {
                    pass::at($sym, d, p, buf, fl)
                })
            }
        }
    };
}
at_export!(fstatat, Sym::Fstatat);
at_export!(fstatat64, Sym::Fstatat64);

#[no_mangle]
pub unsafe extern "C" fn statx(
    d: c_int,
    p: *const c_char,
    fl: c_int,
    mask: c_uint,
    buf: *mut Statx,
) -> c_int {
    // SAFETY: arguments forwarded untouched; see `serve`.
    unsafe {
        serve(Sym::Statx, d, p, fl, Want::Statx(mask, buf), || {
            pass::statx(d, p, fl, mask, buf)
        })
    }
}

macro_rules! xpath_export {
    ($name:ident, $sym:expr, $nofollow:expr) => {
        #[no_mangle]
        pub unsafe extern "C" fn $name(v: c_int, p: *const c_char, buf: *mut Stat) -> c_int {
            let fl = if $nofollow {
                libc::AT_SYMLINK_NOFOLLOW
            } else {
                0
            };
            let want = if valid_ver(v) {
                Want::Stat(buf)
            } else {
                Want::Nothing
            };
            // SAFETY: arguments forwarded untouched; see `serve`.
            unsafe {
                serve($sym, libc::AT_FDCWD, p, fl, want, || {
                    pass::xpath($sym, v, p, buf, $nofollow)
                })
            }
        }
    };
}
xpath_export!(__xstat, Sym::Xstat, false);
xpath_export!(__xstat64, Sym::Xstat64, false);
xpath_export!(__lxstat, Sym::Lxstat, true);
xpath_export!(__lxstat64, Sym::Lxstat64, true);

macro_rules! xfd_export {
    ($name:ident, $sym:expr) => {
        #[no_mangle]
        pub unsafe extern "C" fn $name(v: c_int, fd: c_int, buf: *mut Stat) -> c_int {
            // SAFETY: arguments forwarded untouched.
            serve_fd($sym, || unsafe { pass::xfd($sym, v, fd, buf) })
        }
    };
}
xfd_export!(__fxstat, Sym::Fxstat);
xfd_export!(__fxstat64, Sym::Fxstat64);

macro_rules! xat_export {
    ($name:ident, $sym:expr) => {
        #[no_mangle]
        pub unsafe extern "C" fn $name(
            v: c_int,
            d: c_int,
            p: *const c_char,
            buf: *mut Stat,
            fl: c_int,
        ) -> c_int {
            let want = if valid_ver(v) {
                Want::Stat(buf)
            } else {
                Want::Nothing
            };
            // SAFETY: arguments forwarded untouched; see `serve`.
            unsafe { serve($sym, d, p, fl, want, || pass::xat($sym, v, d, p, buf, fl)) }
        }
    };
}
xat_export!(__fxstatat, Sym::Fxstatat);
xat_export!(__fxstatat64, Sym::Fxstatat64);

type ChdirFn = unsafe extern "C" fn(*const c_char) -> c_int;
type FchdirFn = unsafe extern "C" fn(c_int) -> c_int;

/// `chdir(2)` — changes the working directory; the cache re-learns its cwd node afterwards.
#[no_mangle]
pub unsafe extern "C" fn chdir(p: *const c_char) -> c_int {
    let r = match next::get(Sym::Chdir) {
        // SAFETY: the next `chdir` has this signature.
        Some(f) => unsafe { core::mem::transmute::<usize, ChdirFn>(f)(p) },
        // SAFETY: the kernel validates the pointer.
        None => libc_ret(unsafe { sys::syscall6(libc::SYS_chdir, p as usize, 0, 0, 0, 0, 0) }),
    };
    front::cwd_changed();
    r
}

/// `fchdir(2)` — as [`chdir`].
#[no_mangle]
pub unsafe extern "C" fn fchdir(fd: c_int) -> c_int {
    let r = match next::get(Sym::Fchdir) {
        // SAFETY: the next `fchdir` has this signature.
        Some(f) => unsafe { core::mem::transmute::<usize, FchdirFn>(f)(fd) },
        // SAFETY: no pointers.
        None => libc_ret(unsafe { sys::syscall6(libc::SYS_fchdir, fd as usize, 0, 0, 0, 0, 0) }),
    };
    front::cwd_changed();
    r
}
