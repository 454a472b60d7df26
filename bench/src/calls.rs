//! The stat entry points, each reachable two ways: through libc's symbol (which the preloaded
//! library interposes) and as the raw system call (which nothing can interpose).

use libc::{c_char, c_int, c_uint, AT_FDCWD, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS};
use std::ffi::CStr;
use std::sync::OnceLock;

/// An entry point of the stat family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    Stat,
    Lstat,
    Fstatat,
    Statx,
}

impl Entry {
    pub const ALL: [Entry; 4] = [Entry::Stat, Entry::Lstat, Entry::Fstatat, Entry::Statx];

    pub fn name(self) -> &'static str {
        match self {
            Entry::Stat => "stat",
            Entry::Lstat => "lstat",
            Entry::Fstatat => "fstatat",
            Entry::Statx => "statx",
        }
    }

    /// The raw system call the real side uses for this entry point.
    pub fn syscall_name(self) -> &'static str {
        match self {
            Entry::Stat | Entry::Fstatat => "newfstatat(AT_FDCWD, path, buf, 0)",
            Entry::Lstat => "newfstatat(AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW)",
            Entry::Statx => "statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, buf)",
        }
    }
}

/// Which way a call goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// libc's symbol, interposed by the preloaded library when there is one.
    Library,
    /// The raw system call.
    Real,
    /// libc's own function, found with dlsym in libc.so.6: what the program would pay without the
    /// library, wrapper included, measured in the same (preloaded) process.
    Libc,
}

/// Output buffers for one thread.
pub struct Scratch {
    st: libc::stat,
    stx: libc::statx,
}

impl Scratch {
    pub fn new() -> Box<Scratch> {
        // SAFETY: `stat` and `statx` are plain C structs of integers, for which all-zero bytes are
        // a valid value.
        unsafe { Box::new(std::mem::zeroed()) }
    }

    /// The inode number the last successful call wrote.
    pub fn ino(&self, e: Entry) -> u64 {
        match e {
            Entry::Statx => self.stx.stx_ino,
            _ => self.st.st_ino,
        }
    }
}

/// A stat entry point bound to one side: returns 0, or -1 with `errno` set (glibc's `syscall()`
/// sets `errno` too).
pub type CallFn = fn(&CStr, &mut Scratch) -> c_int;

/// The function that calls `e` by way of `side`.
pub fn call_fn(side: Side, e: Entry) -> CallFn {
    match (side, e) {
        (Side::Library, Entry::Stat) => lib_stat,
        (Side::Library, Entry::Lstat) => lib_lstat,
        (Side::Library, Entry::Fstatat) => lib_fstatat,
        (Side::Library, Entry::Statx) => lib_statx,
        (Side::Real, Entry::Stat | Entry::Fstatat) => raw_newfstatat,
        (Side::Real, Entry::Lstat) => raw_newfstatat_nofollow,
        (Side::Real, Entry::Statx) => raw_statx,
        (Side::Libc, Entry::Stat) => libc_stat,
        (Side::Libc, Entry::Lstat) => libc_lstat,
        (Side::Libc, Entry::Fstatat) => libc_fstatat,
        (Side::Libc, Entry::Statx) => libc_statx,
    }
}

type StatFn = unsafe extern "C" fn(*const c_char, *mut libc::stat) -> c_int;
type FstatatFn = unsafe extern "C" fn(c_int, *const c_char, *mut libc::stat, c_int) -> c_int;
type StatxFn = unsafe extern "C" fn(c_int, *const c_char, c_int, c_uint, *mut libc::statx) -> c_int;

/// libc.so.6's own stat entry points, bypassing any interposer.
struct LibcFns {
    stat: StatFn,
    lstat: StatFn,
    fstatat: FstatatFn,
    statx: StatxFn,
}

/// dlopen(3) + dlsym(3) — looks up `name` in the already loaded libc.so.6.
fn libc_symbol(name: &CStr) -> *mut libc::c_void {
    // SAFETY: the name is NUL-terminated; RTLD_NOLOAD only returns a handle to a loaded object
    // (libc.so.6 is always loaded in this process).
    let h = unsafe { libc::dlopen(c"libc.so.6".as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
    if h.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: `h` is a valid handle (checked above) and `name` is NUL-terminated.
    unsafe { libc::dlsym(h, name.as_ptr()) }
}

fn libc_fns() -> &'static LibcFns {
    static FNS: OnceLock<LibcFns> = OnceLock::new();
    FNS.get_or_init(|| {
        let sym = |n: &CStr| {
            let p = libc_symbol(n);
            assert!(!p.is_null(), "{n:?} not found in libc.so.6");
            p
        };
        // SAFETY: each pointer is non-null (asserted) and is glibc's definition of the named
        // function, whose C prototype the target type spells out.
        unsafe {
            LibcFns {
                stat: std::mem::transmute::<*mut libc::c_void, StatFn>(sym(c"stat")),
                lstat: std::mem::transmute::<*mut libc::c_void, StatFn>(sym(c"lstat")),
                fstatat: std::mem::transmute::<*mut libc::c_void, FstatatFn>(sym(c"fstatat")),
                statx: std::mem::transmute::<*mut libc::c_void, StatxFn>(sym(c"statx")),
            }
        }
    })
}

fn libc_stat(p: &CStr, s: &mut Scratch) -> c_int {
    // SAFETY: glibc's stat; `p` is NUL-terminated and `s.st` is a writable `struct stat`.
    unsafe { (libc_fns().stat)(p.as_ptr(), &mut s.st) }
}

fn libc_lstat(p: &CStr, s: &mut Scratch) -> c_int {
    // SAFETY: glibc's lstat; `p` is NUL-terminated and `s.st` is a writable `struct stat`.
    unsafe { (libc_fns().lstat)(p.as_ptr(), &mut s.st) }
}

fn libc_fstatat(p: &CStr, s: &mut Scratch) -> c_int {
    // SAFETY: glibc's fstatat; `p` is NUL-terminated and `s.st` is a writable `struct stat`.
    unsafe { (libc_fns().fstatat)(AT_FDCWD, p.as_ptr(), &mut s.st, 0) }
}

fn libc_statx(p: &CStr, s: &mut Scratch) -> c_int {
    // SAFETY: glibc's statx; `p` is NUL-terminated and `s.stx` is a writable `struct statx`.
    unsafe { (libc_fns().statx)(AT_FDCWD, p.as_ptr(), 0, STATX_BASIC_STATS, &mut s.stx) }
}

/// Calls `f` once and returns its outcome as 0 or a positive errno.
pub fn outcome(f: CallFn, path: &CStr, s: &mut Scratch) -> i32 {
    let r = f(path, s);
    if r == 0 {
        0
    } else if r == -1 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        -r
    }
}

fn lib_stat(p: &CStr, s: &mut Scratch) -> c_int {
    // SAFETY: `p` is NUL-terminated and `s.st` is a writable `struct stat`.
    unsafe { libc::stat(p.as_ptr(), &mut s.st) }
}

fn lib_lstat(p: &CStr, s: &mut Scratch) -> c_int {
    // SAFETY: `p` is NUL-terminated and `s.st` is a writable `struct stat`.
    unsafe { libc::lstat(p.as_ptr(), &mut s.st) }
}

fn lib_fstatat(p: &CStr, s: &mut Scratch) -> c_int {
    // SAFETY: `p` is NUL-terminated, AT_FDCWD needs no open descriptor, and `s.st` is a writable
    // `struct stat`.
    unsafe { libc::fstatat(AT_FDCWD, p.as_ptr(), &mut s.st, 0) }
}

fn lib_statx(p: &CStr, s: &mut Scratch) -> c_int {
    // SAFETY: `p` is NUL-terminated and `s.stx` is a writable `struct statx`.
    unsafe { libc::statx(AT_FDCWD, p.as_ptr(), 0, STATX_BASIC_STATS, &mut s.stx) }
}

fn raw_newfstatat(p: &CStr, s: &mut Scratch) -> c_int {
    // SAFETY: newfstatat(2) reads the NUL-terminated path and writes one `struct stat` to `s.st`.
    let r = unsafe { libc::syscall(libc::SYS_newfstatat, AT_FDCWD, p.as_ptr(), &mut s.st, 0) };
    r as c_int
}

fn raw_newfstatat_nofollow(p: &CStr, s: &mut Scratch) -> c_int {
    // SAFETY: as in `raw_newfstatat`; AT_SYMLINK_NOFOLLOW is a valid flag.
    let r = unsafe {
        libc::syscall(
            libc::SYS_newfstatat,
            AT_FDCWD,
            p.as_ptr(),
            &mut s.st,
            AT_SYMLINK_NOFOLLOW,
        )
    };
    r as c_int
}

fn raw_statx(p: &CStr, s: &mut Scratch) -> c_int {
    // SAFETY: statx(2) reads the NUL-terminated path and writes one `struct statx` to `s.stx`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_statx,
            AT_FDCWD,
            p.as_ptr(),
            0,
            STATX_BASIC_STATS,
            &mut s.stx,
        )
    };
    r as c_int
}
