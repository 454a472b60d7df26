//! The library's own descriptors versus programs that close or replace every descriptor.
//!
//! The library keeps a few descriptors (the inotify instance, mountinfo, per-thread epolls) at
//! high numbers with close-on-exec. A program that closes them (a `close` loop, `closefrom`,
//! `close_range`) or puts something else at their numbers (`dup2`, `dup3`) would leave the
//! barrier blind or, worse, make the library poll a descriptor that now belongs to the program.
//! So before such a call goes through, caching is turned off for the process; the call itself
//! is forwarded untouched.
#![allow(clippy::missing_safety_doc)] // C ABI exports: the C contract of each function applies.

use crate::front;
use cache::notify::owns_any;
use core::ffi::{c_int, c_uint};
use core::sync::atomic::AtomicUsize;

use crate::next::lazy as next;

#[inline]
fn guard(lo: c_int, hi: c_int) {
    if lo >= 0 && hi >= lo && owns_any(lo as u32, hi as u32) {
        front::lose_fds();
    }
}

/// The raw system call, for when no next definition exists.
fn raw(n: i64, a: usize, b: usize, c: usize) -> c_int {
    // SAFETY: integer arguments only (descriptor numbers and flags).
    match unsafe { cache::sys::syscall6(n, a, b, c, 0, 0, 0) } {
        Ok(v) => v as c_int,
        Err(e) => {
            // SAFETY: this thread's errno slot.
            unsafe { *libc::__errno_location() = e.0 };
            -1
        }
    }
}

/// `close(2)`.
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    guard(fd, fd);
    match next(&NEXT, b"close\0") {
        0 => raw(libc::SYS_close, fd as usize, 0, 0),
        // SAFETY: the next `close` has this signature.
        f => unsafe { core::mem::transmute::<usize, unsafe extern "C" fn(c_int) -> c_int>(f)(fd) },
    }
}

/// `close_range(2)`.
#[no_mangle]
pub unsafe extern "C" fn close_range(lo: c_uint, hi: c_uint, flags: c_int) -> c_int {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    if flags & libc::CLOSE_RANGE_CLOEXEC as c_int == 0 {
        guard(
            lo.min(i32::MAX as u32) as c_int,
            hi.min(i32::MAX as u32) as c_int,
        );
    }
    match next(&NEXT, b"close_range\0") {
        0 => raw(
            libc::SYS_close_range,
            lo as usize,
            hi as usize,
            flags as usize,
        ),
        // SAFETY: the next `close_range` has this signature.
        f => unsafe {
            core::mem::transmute::<usize, unsafe extern "C" fn(c_uint, c_uint, c_int) -> c_int>(f)(
                lo, hi, flags,
            )
        },
    }
}

/// `closefrom(3)`.
#[no_mangle]
pub unsafe extern "C" fn closefrom(lo: c_int) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    guard(lo.max(0), i32::MAX);
    match next(&NEXT, b"closefrom\0") {
        0 => {
            let _ = raw(
                libc::SYS_close_range,
                lo.max(0) as usize,
                u32::MAX as usize,
                0,
            );
        }
        // SAFETY: the next `closefrom` has this signature.
        f => unsafe { core::mem::transmute::<usize, unsafe extern "C" fn(c_int)>(f)(lo) },
    }
}

/// `dup2(2)`.
#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    if old != new {
        guard(new, new);
    }
    match next(&NEXT, b"dup2\0") {
        0 => raw(libc::SYS_dup2, old as usize, new as usize, 0),
        // SAFETY: the next `dup2` has this signature.
        f => unsafe {
            core::mem::transmute::<usize, unsafe extern "C" fn(c_int, c_int) -> c_int>(f)(old, new)
        },
    }
}

/// `dup3(2)`.
#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    if old != new {
        guard(new, new);
    }
    match next(&NEXT, b"dup3\0") {
        0 => raw(libc::SYS_dup3, old as usize, new as usize, flags as usize),
        // SAFETY: the next `dup3` has this signature.
        f => unsafe {
            core::mem::transmute::<usize, unsafe extern "C" fn(c_int, c_int, c_int) -> c_int>(f)(
                old, new, flags,
            )
        },
    }
}
