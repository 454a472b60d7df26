//! Calls that change what the cache may assume: credentials (which directories are searchable,
//! who may follow a protected symlink), the root directory, and the mount or fs namespace.
//!
//! Each export forwards to the next definition and then tells the cache: credential and root
//! changes flush it (it relearns with the new credentials); leaving the mount namespace or the
//! shared fs context (`unshare(CLONE_NEWNS | CLONE_FS)`, `setns`) turns it off for the process,
//! since the mount-change signal and the cwd it tracks would no longer be this thread's.
//! Raw system calls that bypass libc cannot be seen (see the README's limitations).
#![allow(clippy::missing_safety_doc)] // C ABI exports: the C contract of each function applies.

use crate::front;
use core::ffi::{c_char, c_int};
use core::sync::atomic::AtomicUsize;

use crate::next::lazy as next;

fn missing() -> c_int {
    // SAFETY: this thread's errno slot.
    unsafe { *libc::__errno_location() = libc::ENOSYS };
    -1
}

/// Exports `$name`, forwarding to the next definition, then flushing the cache when `$when`
/// (an expression over the arguments) holds.
macro_rules! flushing {
    ($name:ident ( $($a:ident : $t:ty),* )) => {
        flushing!($name($($a: $t),*) if true);
    };
    ($name:ident ( $($a:ident : $t:ty),* ) if $when:expr) => {
        #[no_mangle]
        pub unsafe extern "C" fn $name($($a: $t),*) -> c_int {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let f = next(&NEXT, concat!(stringify!($name), "\0").as_bytes());
            if f == 0 {
                return missing();
            }
            // SAFETY: the next definition of this very symbol has this very signature.
            let r = unsafe { core::mem::transmute::<usize, unsafe extern "C" fn($($t),*) -> c_int>(f)($($a),*) };
            if $when {
                front::invalidate_all();
            }
            r
        }
    };
}

flushing!(setuid(u: libc::uid_t));
flushing!(seteuid(u: libc::uid_t));
flushing!(setreuid(r: libc::uid_t, e: libc::uid_t));
flushing!(setresuid(r: libc::uid_t, e: libc::uid_t, s: libc::uid_t));
flushing!(setgid(g: libc::gid_t));
flushing!(setegid(g: libc::gid_t));
flushing!(setregid(r: libc::gid_t, e: libc::gid_t));
flushing!(setresgid(r: libc::gid_t, e: libc::gid_t, s: libc::gid_t));
flushing!(setgroups(n: libc::size_t, g: *const libc::gid_t));
flushing!(chroot(p: *const c_char));

/// `setfsuid(2)` and `setfsgid(2)` change only the calling thread's credentials: from then on
/// threads may see different permissions, and one process-wide cache cannot serve them all.
macro_rules! per_thread_creds {
    ($name:ident, $t:ty) => {
        #[no_mangle]
        pub unsafe extern "C" fn $name(id: $t) -> c_int {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let f = next(&NEXT, concat!(stringify!($name), "\0").as_bytes());
            if f == 0 {
                return missing();
            }
            // Asking (an invalid id, -1, changes nothing) is harmless; anything else stops caching.
            if id != <$t>::MAX {
                front::disable();
            }
            // SAFETY: the next definition of this very symbol has this very signature.
            unsafe { core::mem::transmute::<usize, unsafe extern "C" fn($t) -> c_int>(f)(id) }
        }
    };
}

per_thread_creds!(setfsuid, libc::uid_t);
per_thread_creds!(setfsgid, libc::gid_t);

/// `unshare(2)` — leaving the mount namespace or the shared fs context stops caching.
#[no_mangle]
pub unsafe extern "C" fn unshare(flags: c_int) -> c_int {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let f = next(&NEXT, b"unshare\0");
    if f == 0 {
        return missing();
    }
    if flags & (libc::CLONE_NEWNS | libc::CLONE_FS | libc::CLONE_NEWUSER) != 0 {
        front::disable();
    }
    // SAFETY: the next `unshare` has this signature.
    unsafe { core::mem::transmute::<usize, unsafe extern "C" fn(c_int) -> c_int>(f)(flags) }
}

/// `setns(2)` — joining another namespace stops caching.
#[no_mangle]
pub unsafe extern "C" fn setns(fd: c_int, nstype: c_int) -> c_int {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let f = next(&NEXT, b"setns\0");
    if f == 0 {
        return missing();
    }
    front::disable();
    // SAFETY: the next `setns` has this signature.
    unsafe {
        core::mem::transmute::<usize, unsafe extern "C" fn(c_int, c_int) -> c_int>(f)(fd, nstype)
    }
}

// `chown` family — `chown(path, -1, -1)` changes ctime without any inotify event (the kernel
// computes no event mask for a bare ATTR_CTIME change), so a call made in this process flushes
// the cache. The same call made by another process is a documented blind spot.
flushing!(chown(p: *const c_char, uid: libc::uid_t, gid: libc::gid_t) if uid == u32::MAX && gid == u32::MAX);
flushing!(lchown(p: *const c_char, uid: libc::uid_t, gid: libc::gid_t) if uid == u32::MAX && gid == u32::MAX);
flushing!(fchown(fd: c_int, uid: libc::uid_t, gid: libc::gid_t) if uid == u32::MAX && gid == u32::MAX);
flushing!(fchownat(d: c_int, p: *const c_char, uid: libc::uid_t, gid: libc::gid_t, fl: c_int) if uid == u32::MAX && gid == u32::MAX);
