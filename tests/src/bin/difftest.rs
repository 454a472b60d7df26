//! `difftest`: the differential harness for the preloaded library.
//!
//! Usage: `difftest --seed N --ops N --root DIR --mode MODE [--entry LIST] [--exclude-ops LIST]
//! [--history N] [--verbose]`
//!
//! - `--root DIR`: an existing directory; the tree is built in `DIR/tree` (removed first). Symlinks
//!   may point into `DIR` or elsewhere, but every mutation resolves its path beneath the tree
//!   (openat2 with RESOLVE_BENEATH), so nothing outside it is ever changed.
//! - `--ops N`: mutations plus queries (30% mutations); retried checks count as queries.
//! - `--entry all|legacy|fd|NAME,...`: the entry points to query (default all 17).
//! - `--exclude-ops KIND,...`: leave mutation kinds out, to narrow a failure down (`--help` lists
//!   them). Excluding `hardlink` also drops the tree's initial second name.
//! - `--history N`: show the last N operations in a report instead of 30.
//! - `--verbose`: print per-kind mutation results and per-entry answers at the end.
//!
//! Run under `LD_PRELOAD=libstatcache.so`. It builds a small random tree in `DIR/tree`, then runs a
//! seeded sequence of operations: mutations of the tree (creates, writes, truncates, chmod, chown,
//! utimensat in all its forms, renames and exchanges of files and directories, symlink creation and
//! replacement, hard links from other directories written through, unlinks, mkdir, rmdir, reads
//! that move atime, shared-mmap stores, chattr, xattrs, fallocate, FIFOs) and queries through every
//! stat entry point the library exports. Every query's answer (return value, errno, and the whole
//! result buffer, which is pre-filled with a pattern so that stray or missing writes show) is
//! compared with the raw system call made with `syscall(2)`, which the library cannot intercept.
//!
//! Modes decide where the mutations run:
//! - `inproc`: in the querying thread, between queries.
//! - `thread`: in a second thread, concurrently. The mutator makes a shared counter odd around each
//!   mutation. A check reads it before a raw call, around the library call and after a second raw
//!   call; when no mutation ran during the library call the answer must equal a raw answer taken
//!   with no mutation in between (strict), otherwise it must equal one of the raw answers that are
//!   still valid or the check is counted as skipped and retried.
//! - `child-waitpid`: a forked child runs a batch of mutations and exits; the parent waits, then
//!   queries.
//! - `child-pipe`: a long-lived child mutates, then writes a byte on a pipe that the parent blocks
//!   on; the parent queries, then lets the child continue.
//! - `child-shm`: like `child-pipe`, but the handshake is an atomic word in shared memory with
//!   spinning: nothing but the mutation's own system calls happens between the mutation and the
//!   store the parent waits for, and the parent's first query follows its load with no system call.
//!
//! Children inherit the library through fork and use it for their own probes, which are checked
//! too. Exits 0 with a `difftest: key=value ...` summary line; on the first mismatch prints a
//! report (seed, op index, call, field-by-field differences, the last 30 operations) and exits 1.

use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use statcache_tests::diff::{self, Layout, Rng};

/// The byte every result buffer is filled with before a call (library and raw alike).
const FILL: u8 = 0xA5;
/// errno is set to this before every call: a call that succeeds must leave it alone.
const ERRNO_SENTINEL: i32 = 0x5EED;
/// A descriptor number that is never open.
const BAD_FD: i32 = 999_999;
/// How many operations a mismatch report shows (`--history N` shows more, up to 1024).
static HISTORY_LEN: AtomicU64 = AtomicU64::new(30);

const DIRS: [&str; 3] = ["d0", "d1", "d2"];
const FILES: [&str; 4] = ["f0", "f1", "f2", "f3"];
const LINKS: [&str; 3] = ["l0", "l1", "l2"];

const RESOLVE_BENEATH: u64 = 0x08;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const SYS_FCHMODAT2: libc::c_long = 452;

// ---------------------------------------------------------------------------------------------
// Small system helpers

fn errno() -> i32 {
    // SAFETY: __errno_location returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() }
}

fn set_errno(v: i32) {
    // SAFETY: as above; writing errno is always allowed.
    unsafe { *libc::__errno_location() = v };
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in paths")
}

fn close(fd: i32) {
    if fd >= 0 {
        // SAFETY: close takes any integer; the callers own the descriptors they close.
        unsafe { libc::close(fd) };
    }
}

fn sched_yield() {
    // SAFETY: sched_yield has no preconditions.
    unsafe { libc::sched_yield() };
}

/// "ok" or the errno name of a -1 result (read right after the call).
fn res(r: i64) -> String {
    if r < 0 {
        diff::errno_name(errno())
    } else {
        "ok".to_string()
    }
}

fn now_secs() -> i64 {
    // SAFETY: time(NULL) has no preconditions.
    unsafe { libc::time(std::ptr::null_mut()) }
}

fn getpid() -> i32 {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

// ---------------------------------------------------------------------------------------------
// Shared memory: the mutation counter, the op counter, the handshake word, and three rings
// (history for reports, paths the checker queried for the mutator, paths the mutator changed for
// the checker). It is a MAP_SHARED anonymous mapping, so forked children share it.

const WORDS: usize = 64;

struct Slot {
    seq: AtomicU64,
    words: [AtomicU64; WORDS],
}

struct Ring<const N: usize> {
    head: AtomicU64,
    slots: [Slot; N],
}

impl<const N: usize> Ring<N> {
    fn push(&self, text: &str) {
        let idx = self.head.fetch_add(1, Ordering::SeqCst);
        let slot = &self.slots[(idx % N as u64) as usize];
        slot.seq.store(idx * 2 + 1, Ordering::Relaxed);
        fence(Ordering::Release);
        let bytes = text.as_bytes();
        let n = bytes.len().min((WORDS - 1) * 8);
        slot.words[0].store(n as u64, Ordering::Relaxed);
        for (i, chunk) in bytes[..n].chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            slot.words[i + 1].store(u64::from_le_bytes(w), Ordering::Relaxed);
        }
        slot.seq.store(idx * 2 + 2, Ordering::Release);
    }

    fn get(&self, idx: u64) -> Option<String> {
        let slot = &self.slots[(idx % N as u64) as usize];
        let s1 = slot.seq.load(Ordering::Acquire);
        if s1 != idx * 2 + 2 {
            return None;
        }
        let n = (slot.words[0].load(Ordering::Relaxed) as usize).min((WORDS - 1) * 8);
        let mut bytes = Vec::with_capacity(n + 8);
        for w in &slot.words[1..=n.div_ceil(8)] {
            bytes.extend_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
        }
        bytes.truncate(n);
        fence(Ordering::Acquire);
        if slot.seq.load(Ordering::Relaxed) != s1 {
            return None;
        }
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    fn latest(&self, n: usize) -> Vec<String> {
        let h = self.head();
        (h.saturating_sub(n as u64)..h)
            .filter_map(|i| self.get(i))
            .collect()
    }
}

struct Shared {
    /// Odd while a mutation is in progress (thread mode); incremented around every mutation.
    seq: AtomicU64,
    /// Global operation index (mutations and queries, all processes).
    op: AtomicU64,
    /// child-shm handshake: 0 = the parent's turn, 1..=3 = the child runs that many mutations,
    /// QUIT = the child exits.
    turn: AtomicU32,
    /// Queries completed by the checker (thread mode pacing).
    queries_done: AtomicU64,
    /// The mutator finished (thread mode).
    mutator_done: AtomicBool,
    /// Mutations performed, in every process.
    mutations: AtomicU64,
    /// Strict checks made by the mutators' own probes, in every process.
    probe_checks: AtomicU64,
    history: Ring<1024>,
    queried: Ring<32>,
    hints: Ring<32>,
}

const QUIT: u32 = 255;

fn shared() -> &'static Shared {
    let size = std::mem::size_of::<Shared>();
    // SAFETY: an anonymous shared mapping with no address hint; the result is checked.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert!(p != libc::MAP_FAILED, "mmap shared: {}", errno());
    // SAFETY: the mapping is zero-filled, page-aligned and as large as Shared; all-zero is a valid
    // Shared (atomics and arrays of atomics only); it is never unmapped, so 'static holds.
    unsafe { &*(p as *const Shared) }
}

// ---------------------------------------------------------------------------------------------
// Entry points

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    Stat,
    Stat64,
    Lstat,
    Lstat64,
    Fstatat,
    Fstatat64,
    Statx,
    Xstat,
    Xstat64,
    Lxstat,
    Lxstat64,
    Fxstatat,
    Fxstatat64,
    Fstat,
    Fstat64,
    Fxstat,
    Fxstat64,
}

impl Entry {
    const ALL: [Entry; 17] = [
        Entry::Stat,
        Entry::Stat64,
        Entry::Lstat,
        Entry::Lstat64,
        Entry::Fstatat,
        Entry::Fstatat64,
        Entry::Statx,
        Entry::Xstat,
        Entry::Xstat64,
        Entry::Lxstat,
        Entry::Lxstat64,
        Entry::Fxstatat,
        Entry::Fxstatat64,
        Entry::Fstat,
        Entry::Fstat64,
        Entry::Fxstat,
        Entry::Fxstat64,
    ];

    fn name(self) -> &'static str {
        match self {
            Entry::Stat => "stat",
            Entry::Stat64 => "stat64",
            Entry::Lstat => "lstat",
            Entry::Lstat64 => "lstat64",
            Entry::Fstatat => "fstatat",
            Entry::Fstatat64 => "fstatat64",
            Entry::Statx => "statx",
            Entry::Xstat => "__xstat",
            Entry::Xstat64 => "__xstat64",
            Entry::Lxstat => "__lxstat",
            Entry::Lxstat64 => "__lxstat64",
            Entry::Fxstatat => "__fxstatat",
            Entry::Fxstatat64 => "__fxstatat64",
            Entry::Fstat => "fstat",
            Entry::Fstat64 => "fstat64",
            Entry::Fxstat => "__fxstat",
            Entry::Fxstat64 => "__fxstat64",
        }
    }

    fn is_fd(self) -> bool {
        matches!(
            self,
            Entry::Fstat | Entry::Fstat64 | Entry::Fxstat | Entry::Fxstat64
        )
    }

    fn takes_dirfd(self) -> bool {
        matches!(
            self,
            Entry::Fstatat | Entry::Fstatat64 | Entry::Fxstatat | Entry::Fxstatat64 | Entry::Statx
        )
    }

    fn layout(self) -> Layout {
        if self == Entry::Statx {
            Layout::Statx
        } else {
            Layout::Stat
        }
    }

    /// The raw system call that gives the expected answer.
    fn raw_name(self) -> &'static str {
        match self {
            Entry::Statx => "statx",
            e if e.is_fd() => "fstat",
            _ => "newfstatat",
        }
    }
}

type XstatFn = unsafe extern "C" fn(c_int, *const c_char, *mut libc::stat) -> c_int;
type FxstatFn = unsafe extern "C" fn(c_int, c_int, *mut libc::stat) -> c_int;
type FxstatatFn =
    unsafe extern "C" fn(c_int, c_int, *const c_char, *mut libc::stat, c_int) -> c_int;

/// The legacy `__xstat` family, found the way an old binary binds them: by the versioned name.
struct Legacy {
    xstat: Option<XstatFn>,
    xstat64: Option<XstatFn>,
    lxstat: Option<XstatFn>,
    lxstat64: Option<XstatFn>,
    fxstat: Option<FxstatFn>,
    fxstat64: Option<FxstatFn>,
    fxstatat: Option<FxstatatFn>,
    fxstatat64: Option<FxstatatFn>,
    /// The object that defines `__xstat` (the library when it interposes it, else libc).
    origin: String,
}

/// The definition an old binary importing `name@version` binds to. Unversioned `dlsym` first:
/// it finds the preloaded library's unversioned definition, as the loader does for a binary's
/// versioned reference, whereas `dlvsym` would skip it (dlvsym asks for a hidden-version match)
/// and return libc's; then `dlvsym` for the libc symbol when nothing else defines it.
fn lookup(name: &str, version: &str) -> *mut c_void {
    let (n, v) = (cstr(name), cstr(version));
    // SAFETY: both strings are NUL-terminated and outlive the calls; RTLD_DEFAULT is a valid handle.
    unsafe {
        let p = libc::dlsym(libc::RTLD_DEFAULT, n.as_ptr());
        if p.is_null() {
            libc::dlvsym(libc::RTLD_DEFAULT, n.as_ptr(), v.as_ptr())
        } else {
            p
        }
    }
}

fn object_of(p: *mut c_void) -> String {
    if p.is_null() {
        return "none".into();
    }
    // SAFETY: Dl_info is plain old data; all-zero is valid.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the address and fills `info`.
    if unsafe { libc::dladdr(p, &mut info) } == 0 || info.dli_fname.is_null() {
        return "?".into();
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by the loader, valid while loaded.
    let name = unsafe { CStr::from_ptr(info.dli_fname) }.to_string_lossy();
    name.rsplit('/').next().unwrap_or(&name).to_string()
}

impl Legacy {
    fn resolve() -> Legacy {
        fn x(p: *mut c_void) -> Option<XstatFn> {
            // SAFETY: the symbol is glibc's `int __xstat(int, const char *, struct stat *)` (or
            // __lxstat, same type) or the library's definition with that prototype.
            (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, XstatFn>(p) })
        }
        fn f(p: *mut c_void) -> Option<FxstatFn> {
            // SAFETY: the symbol is `int __fxstat(int, int, struct stat *)`.
            (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, FxstatFn>(p) })
        }
        fn a(p: *mut c_void) -> Option<FxstatatFn> {
            // SAFETY: the symbol is `int __fxstatat(int, int, const char *, struct stat *, int)`.
            (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, FxstatatFn>(p) })
        }
        let xs = lookup("__xstat", "GLIBC_2.2.5");
        Legacy {
            xstat: x(xs),
            xstat64: x(lookup("__xstat64", "GLIBC_2.2.5")),
            lxstat: x(lookup("__lxstat", "GLIBC_2.2.5")),
            lxstat64: x(lookup("__lxstat64", "GLIBC_2.2.5")),
            fxstat: f(lookup("__fxstat", "GLIBC_2.2.5")),
            fxstat64: f(lookup("__fxstat64", "GLIBC_2.2.5")),
            fxstatat: a(lookup("__fxstatat", "GLIBC_2.4")),
            fxstatat64: a(lookup("__fxstatat64", "GLIBC_2.4")),
            origin: object_of(xs),
        }
    }

    fn has(&self, e: Entry) -> bool {
        match e {
            Entry::Xstat => self.xstat.is_some(),
            Entry::Xstat64 => self.xstat64.is_some(),
            Entry::Lxstat => self.lxstat.is_some(),
            Entry::Lxstat64 => self.lxstat64.is_some(),
            Entry::Fxstat => self.fxstat.is_some(),
            Entry::Fxstat64 => self.fxstat64.is_some(),
            Entry::Fxstatat => self.fxstatat.is_some(),
            Entry::Fxstatat64 => self.fxstatat64.is_some(),
            _ => true,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Queries and answers

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Base {
    Cwd,
    Dir(usize),
    File(usize),
    Bad,
}

#[derive(Clone, Debug)]
struct Query {
    entry: Entry,
    base: Base,
    /// None: a NULL path pointer.
    path: Option<CString>,
    /// The namespace path (relative to the tree root) the path was made from, when it has one.
    ns: Option<String>,
    flags: i32,
    mask: u32,
}

impl Query {
    fn path_ptr(&self) -> *const c_char {
        self.path.as_ref().map_or(std::ptr::null(), |p| p.as_ptr())
    }
}

#[repr(C, align(16))]
#[derive(Clone, Copy, PartialEq, Eq)]
struct Buf([u8; 256]);

#[derive(Clone, Copy, PartialEq, Eq)]
struct Answer {
    ret: i64,
    errno: i32,
    buf: Buf,
}

impl Answer {
    fn new() -> Answer {
        Answer {
            ret: 0,
            errno: 0,
            buf: Buf([FILL; 256]),
        }
    }

    fn show(&self) -> String {
        if self.ret == 0 {
            "ret=0".into()
        } else {
            format!("ret={} errno={}", self.ret, diff::errno_name(self.errno))
        }
    }
}

/// Calls the entry point as a program would: through the PLT (or the versioned legacy symbol),
/// so the preloaded library answers.
fn call_lib(legacy: &Legacy, q: &Query, fd: i32) -> Answer {
    let mut a = Answer::new();
    let p = q.path_ptr();
    let b = a.buf.0.as_mut_ptr();
    let st = b.cast::<libc::stat>();
    set_errno(ERRNO_SENTINEL);
    // SAFETY: `b` points to 256 writable, 16-aligned bytes: room for struct stat (144 bytes) and
    // struct statx (256). `p` is NUL-terminated or NULL (a NULL path makes the real call fail with
    // EFAULT, which is what is being compared). Legacy entries are only chosen when resolved.
    let r = unsafe {
        match q.entry {
            Entry::Stat => i64::from(libc::stat(p, st)),
            Entry::Stat64 => i64::from(libc::stat64(p, b.cast())),
            Entry::Lstat => i64::from(libc::lstat(p, st)),
            Entry::Lstat64 => i64::from(libc::lstat64(p, b.cast())),
            Entry::Fstatat => i64::from(libc::fstatat(fd, p, st, q.flags)),
            Entry::Fstatat64 => i64::from(libc::fstatat64(fd, p, b.cast(), q.flags)),
            Entry::Statx => i64::from(libc::statx(fd, p, q.flags, q.mask, b.cast())),
            Entry::Xstat => i64::from(legacy.xstat.expect("resolved")(1, p, st)),
            Entry::Xstat64 => i64::from(legacy.xstat64.expect("resolved")(1, p, st)),
            Entry::Lxstat => i64::from(legacy.lxstat.expect("resolved")(1, p, st)),
            Entry::Lxstat64 => i64::from(legacy.lxstat64.expect("resolved")(1, p, st)),
            Entry::Fxstatat => i64::from(legacy.fxstatat.expect("resolved")(1, fd, p, st, q.flags)),
            Entry::Fxstatat64 => {
                i64::from(legacy.fxstatat64.expect("resolved")(1, fd, p, st, q.flags))
            }
            Entry::Fstat => i64::from(libc::fstat(fd, st)),
            Entry::Fstat64 => i64::from(libc::fstat64(fd, b.cast())),
            Entry::Fxstat => i64::from(legacy.fxstat.expect("resolved")(1, fd, st)),
            Entry::Fxstat64 => i64::from(legacy.fxstat64.expect("resolved")(1, fd, st)),
        }
    };
    a.ret = r;
    a.errno = errno();
    a
}

/// The same question asked of the kernel directly with syscall(2): the expected answer.
fn call_raw(q: &Query, fd: i32) -> Answer {
    let mut a = Answer::new();
    let p = q.path_ptr();
    let b = a.buf.0.as_mut_ptr();
    let nofollow = libc::AT_SYMLINK_NOFOLLOW;
    set_errno(ERRNO_SENTINEL);
    // SAFETY: as in call_lib: a 256-byte buffer, a NUL-terminated or NULL path; syscall(2) with
    // the kernel's argument order for newfstatat, statx and fstat.
    let r = unsafe {
        match q.entry {
            Entry::Stat | Entry::Stat64 | Entry::Xstat | Entry::Xstat64 => {
                libc::syscall(libc::SYS_newfstatat, libc::AT_FDCWD, p, b, 0)
            }
            Entry::Lstat | Entry::Lstat64 | Entry::Lxstat | Entry::Lxstat64 => {
                libc::syscall(libc::SYS_newfstatat, libc::AT_FDCWD, p, b, nofollow)
            }
            Entry::Fstatat | Entry::Fstatat64 | Entry::Fxstatat | Entry::Fxstatat64 => {
                libc::syscall(libc::SYS_newfstatat, fd, p, b, q.flags)
            }
            Entry::Statx => libc::syscall(libc::SYS_statx, fd, p, q.flags, q.mask, b),
            Entry::Fstat | Entry::Fstat64 | Entry::Fxstat | Entry::Fxstat64 => {
                libc::syscall(libc::SYS_fstat, fd, b)
            }
        }
    };
    a.ret = r;
    a.errno = errno();
    a
}

/// Equal except for the access-time fields.
fn same_but_atime(layout: Layout, a: &Answer, b: &Answer) -> bool {
    if a.ret != 0 || b.ret != 0 || a.errno != b.errno {
        return false;
    }
    let [(s0, _), (_, n1)] = layout.atime_ranges();
    a.buf.0[..s0] == b.buf.0[..s0] && a.buf.0[n1..] == b.buf.0[n1..]
}

enum Verdict {
    Same,
    /// Differs from the answer after it only by an access time that moved between the raw call
    /// before and the raw call after, through the lookups themselves (following a symlink
    /// updates its atime under relatime): the library's value lies in that interval.
    SelfAtime,
    Differ,
}

/// Judges `lib` against the raw answers taken just before (`before`, when there is one) and just
/// after it with no mutation in between.
fn judge(layout: Layout, lib: &Answer, before: Option<&Answer>, after: &Answer) -> Verdict {
    if lib == after {
        return Verdict::Same;
    }
    if let Some(before) = before {
        if before != after
            && same_but_atime(layout, before, after)
            && same_but_atime(layout, lib, after)
        {
            let (lo, hi, t) = (
                layout.atime(&before.buf.0),
                layout.atime(&after.buf.0),
                layout.atime(&lib.buf.0),
            );
            if lo <= t && t <= hi {
                return Verdict::SelfAtime;
            }
        }
    }
    Verdict::Differ
}

/// Without a raw answer from before the call (the first query after a handshake), an access-time
/// difference is still the lookup's own doing when the answer is a symlink whose name the path
/// walked through before reaching it as the last component ("l/../l"): following it moved its
/// atime (relatime), and may again for the raw call after.
fn self_atime_without_before(layout: Layout, q: &Query, lib: &Answer, after: &Answer) -> bool {
    if !same_but_atime(layout, lib, after)
        || layout.mode(&after.buf.0) & libc::S_IFMT != libc::S_IFLNK
        || layout.atime(&lib.buf.0) > layout.atime(&after.buf.0)
    {
        return false;
    }
    let Some(path) = &q.path else { return false };
    let path = path.to_string_lossy();
    let comps: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    match comps.last() {
        Some(last) if *last != ".." => comps.iter().filter(|c| *c == last).count() >= 2,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// The context every actor shares

struct Ctx {
    seed: u64,
    mode: String,
    /// The tree root (absolute, no trailing slash).
    root: String,
    /// The directory holding the tree root (the --root argument).
    sandbox: String,
    root_fd: i32,
    legacy: Legacy,
    entries: Vec<Entry>,
    is_root_user: bool,
    sh: &'static Shared,
    verbose: bool,
    /// Mutation kinds left out (--exclude-ops), for narrowing a failure down.
    excluded: Vec<String>,
}

static REPORTING: AtomicBool = AtomicBool::new(false);

/// Describes a query for reports and the history.
fn describe(q: &Query, fdesc: &str) -> String {
    let path = match &q.path {
        None => "NULL".to_string(),
        Some(p) => {
            let s = p.to_string_lossy();
            if s.len() > 160 {
                format!("\"{}...\" ({} bytes)", &s[..80], s.len())
            } else {
                format!("{s:?}")
            }
        }
    };
    let e = q.entry;
    let legacy_ver = if e.name().starts_with("__") {
        "1, "
    } else {
        ""
    };
    if e.is_fd() {
        format!("{}({legacy_ver}fd={fdesc})", e.name())
    } else if e == Entry::Statx {
        format!(
            "statx(dirfd={fdesc}, {path}, flags={:#x}, mask={:#x})",
            q.flags, q.mask
        )
    } else if e.takes_dirfd() {
        format!(
            "{}({legacy_ver}dirfd={fdesc}, {path}, flags={:#x})",
            e.name(),
            q.flags
        )
    } else {
        format!("{}({legacy_ver}{path})", e.name())
    }
}

/// Prints a mismatch report and exits 1. Only the first report in a process is printed.
#[allow(clippy::too_many_arguments)]
fn report(
    cx: &Ctx,
    who: &str,
    op: u64,
    q: &Query,
    call: &str,
    cwd: &str,
    lib: &Answer,
    before: Option<&Answer>,
    after: &Answer,
    note: &str,
) -> ! {
    if REPORTING.swap(true, Ordering::SeqCst) {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
    let layout = q.entry.layout();
    let mut s = String::new();
    let _ = writeln!(s, "\nMISMATCH (difftest {who}, pid {})", getpid());
    let _ = writeln!(
        s,
        "  seed={} mode={} op=#{op} fs={}",
        cx.seed,
        cx.mode,
        diff::fs_type(std::path::Path::new(&cx.root)).1
    );
    let _ = writeln!(s, "  call:     {call}");
    let _ = writeln!(
        s,
        "  path:     {:?}",
        q.path.as_ref().map(|p| p.to_string_lossy())
    );
    let _ = writeln!(s, "  ns path:  {:?}   cwd: {cwd}", q.ns);
    let _ = writeln!(
        s,
        "  library:  {}   raw {} after: {}",
        lib.show(),
        q.entry.raw_name(),
        after.show()
    );
    if lib.errno != after.errno && lib.ret == after.ret && lib.ret == 0 {
        let _ = writeln!(
            s,
            "  errno after a successful call: library {} / raw {}",
            lib.errno, after.errno
        );
    }
    if lib.errno != after.errno {
        let _ = writeln!(
            s,
            "  errno: library {} ({}) / raw {} ({}); {ERRNO_SENTINEL} = left untouched by the call",
            lib.errno,
            diff::errno_name(lib.errno),
            after.errno,
            diff::errno_name(after.errno)
        );
    }
    let _ = writeln!(s, "  field differences (library / raw after):");
    let d = diff::diff_fields(layout, &lib.buf.0, &after.buf.0, "library", "raw");
    if d.is_empty() {
        let _ = writeln!(s, "    (none in the buffer)");
    }
    for line in d {
        let _ = writeln!(s, "    {line}");
    }
    if let Some(b) = before {
        if b == after {
            let _ = writeln!(s, "  raw before the call: identical to raw after");
        } else {
            let _ = writeln!(
                s,
                "  raw before the call: {} differs from raw after:",
                b.show()
            );
            for line in diff::diff_fields(layout, &b.buf.0, &after.buf.0, "before", "after") {
                let _ = writeln!(s, "    {line}");
            }
            if b == lib {
                let _ = writeln!(s, "    (the library answer equals raw before)");
            }
        }
    }
    if !note.is_empty() {
        let _ = writeln!(s, "  {note}");
    }
    let facts = |a: &Answer| -> Option<(u64, String)> {
        (a.ret == 0).then(|| {
            let f = |name: &str| {
                let &(_, off, size, signed) = layout
                    .fields()
                    .iter()
                    .find(|f| f.0 == name)
                    .expect("known field");
                diff::field_value(&a.buf.0, off, size, signed)
            };
            let (ino, nlink, size) = match layout {
                Layout::Stat => (f("st_ino"), f("st_nlink"), f("st_size")),
                Layout::Statx => (f("stx_ino"), f("stx_nlink"), f("stx_size")),
            };
            let mode = layout.mode(&a.buf.0);
            (
                ino as u64,
                format!("mode={mode:o} ino={ino} nlink={nlink} size={size}"),
            )
        })
    };
    let mut names: Vec<String> = q.ns.iter().filter(|n| !n.is_empty()).cloned().collect();
    let ns_name = names.first().cloned();
    if let Some((ino, text)) = facts(after) {
        let _ = writeln!(s, "  raw after: {text}");
        if ino != 0 {
            let aliases = find_aliases(&cx.root, ino);
            if !aliases.is_empty() {
                let _ = writeln!(s, "  names of inode {ino} in the tree now: {aliases:?}");
            }
            names.extend(aliases.into_iter().filter(|a| Some(a) != ns_name.as_ref()));
        }
    }
    let all = cx.sh.history.latest(1024);
    let shown = HISTORY_LEN.load(Ordering::Relaxed) as usize;
    let (older, last) = all.split_at(all.len().saturating_sub(shown));
    let named: Vec<&String> = older
        .iter()
        .filter(|h| names.iter().any(|n| mentions(h, n)))
        .collect();
    if !named.is_empty() {
        let _ = writeln!(
            s,
            "  earlier operations naming {names:?} (the last 15 of {}):",
            named.len()
        );
        for h in &named[named.len().saturating_sub(15)..] {
            let _ = writeln!(s, "    {h}");
        }
    }
    let _ = writeln!(s, "  last {shown} operations (oldest first):");
    for h in last {
        let _ = writeln!(s, "    {h}");
    }
    let _ = writeln!(
        s,
        "  reproduce: difftest --seed {} --mode {} (same --ops)",
        cx.seed, cx.mode
    );
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(s.as_bytes());
    let _ = err.flush();
    std::process::exit(1);
}

/// Whether a history line names the namespace path `name` (as a mutation argument or at the end
/// of a query's path).
fn mentions(line: &str, name: &str) -> bool {
    for pat in [
        format!(" {name}"),
        format!("tree/{name}"),
        format!("//{name}"),
    ] {
        let mut from = 0;
        while let Some(i) = line[from..].find(&pat) {
            let end = from + i + pat.len();
            let next = line[end..].chars().next();
            if !matches!(next, Some(c) if c.is_alphanumeric() || c == '/') {
                return true;
            }
            from = end;
        }
    }
    false
}

/// Every namespace path in the tree (symlinks not followed) whose inode number is `ino`, found
/// with raw system calls.
fn find_aliases(root: &str, ino: u64) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(dir) = stack.pop() {
        let p = cstr(&format!("{root}/{dir}"));
        // SAFETY: open with a NUL-terminated path.
        let fd = unsafe {
            libc::open(
                p.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            continue;
        }
        for name in read_dir_fd(fd) {
            let ns = if dir.is_empty() {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };
            let c = cstr(&name);
            let mut b = Buf([0; 256]);
            // SAFETY: newfstatat relative to an open directory into a 256-byte buffer.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_newfstatat,
                    fd,
                    c.as_ptr(),
                    b.0.as_mut_ptr(),
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            };
            if r != 0 {
                continue;
            }
            if u64::from_le_bytes(b.0[8..16].try_into().expect("8 bytes")) == ino {
                out.push(ns.clone());
            }
            if Layout::Stat.mode(&b.0) & libc::S_IFMT == libc::S_IFDIR && out.len() < 64 {
                stack.push(ns);
            }
        }
        close(fd);
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// Namespace paths: every path is made of names from a small fixed alphabet, so paths repeat and
// most of them exist.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Dir,
    File,
    Link,
    NonDir,
    Any,
}

fn kind_matches(kind: Kind, mode: u32) -> bool {
    let t = mode & libc::S_IFMT;
    match kind {
        Kind::Dir => t == libc::S_IFDIR,
        Kind::File => t == libc::S_IFREG,
        Kind::Link => t == libc::S_IFLNK,
        Kind::NonDir => t != libc::S_IFDIR,
        Kind::Any => true,
    }
}

fn ns_name(rng: &mut Rng, kind: Kind) -> &'static str {
    match kind {
        Kind::Dir => DIRS[rng.index(DIRS.len())],
        Kind::File => FILES[rng.index(FILES.len())],
        Kind::Link => LINKS[rng.index(LINKS.len())],
        Kind::NonDir | Kind::Any => match rng.weighted(&[30, 40, 25, 5]) {
            0 if kind == Kind::Any => DIRS[rng.index(DIRS.len())],
            0 | 1 => FILES[rng.index(FILES.len())],
            2 => LINKS[rng.index(LINKS.len())],
            _ => "zz",
        },
    }
}

/// A random namespace path of 1..=max_depth components whose last one is of `kind`.
fn ns_path(rng: &mut Rng, max_depth: usize, kind: Kind) -> String {
    let depth = (1 + rng.weighted(&[25, 35, 25, 15])).min(max_depth.max(1));
    let mut s = String::new();
    for _ in 0..depth - 1 {
        let c = match rng.weighted(&[80, 17, 3]) {
            0 => DIRS[rng.index(DIRS.len())],
            1 => LINKS[rng.index(LINKS.len())],
            _ => FILES[rng.index(FILES.len())],
        };
        s.push_str(c);
        s.push('/');
    }
    s.push_str(ns_name(rng, kind));
    s
}

fn parent_ns(ns: &str) -> &str {
    ns.rsplit_once('/').map_or("", |(p, _)| p)
}

fn ns_depth(ns: &str) -> usize {
    if ns.is_empty() {
        0
    } else {
        ns.split('/').count()
    }
}

/// A symlink body for a link created in directory `parent` (namespace path).
fn link_target(rng: &mut Rng, root: &str, parent: &str) -> String {
    match rng.weighted(&[25, 14, 12, 15, 8, 5, 2, 2, 5, 10]) {
        0 => ns_name(rng, Kind::Any).to_string(),
        1 => ns_path(rng, 2, Kind::Any),
        2 => format!("../{}", ns_path(rng, 2, Kind::Any)),
        3 => format!("{root}/{}", ns_path(rng, 3, Kind::Any)),
        4 => {
            if rng.percent(50) {
                "missing/x".into()
            } else {
                format!("{root}/zz/{}", ns_name(rng, Kind::Any))
            }
        }
        5 => rng.pick(&[".", "..", "./d0/..", "../.."]).to_string(),
        6 => "/".into(),
        7 => "/dev/null".into(),
        8 => {
            if parent.is_empty() {
                format!("{root}/.")
            } else {
                root.to_string()
            }
        }
        _ => rng.pick(&LINKS).to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Probing: the mutators look before they change, through the library, and check what they see.

fn probe_check(cx: &Ctx, rng: &mut Rng, ns: &str, who: &str) -> Option<u32> {
    let path = cstr(&format!("{}/{ns}", cx.root));
    let mut entry = *rng.pick(&[
        Entry::Lstat,
        Entry::Lstat64,
        Entry::Lxstat,
        Entry::Statx,
        Entry::Fstatat,
    ]);
    if !cx.entries.contains(&entry) {
        entry = *rng.pick(&cx.entries);
        if entry.is_fd() {
            entry = Entry::Lstat;
        }
    }
    let q = Query {
        entry,
        base: Base::Cwd,
        path: Some(path),
        ns: Some(ns.to_string()),
        flags: libc::AT_SYMLINK_NOFOLLOW,
        mask: libc::STATX_BASIC_STATS,
    };
    let before = call_raw(&q, libc::AT_FDCWD);
    let lib = call_lib(&cx.legacy, &q, libc::AT_FDCWD);
    let after = call_raw(&q, libc::AT_FDCWD);
    cx.sh.probe_checks.fetch_add(1, Ordering::Relaxed);
    if let Verdict::Differ = judge(q.entry.layout(), &lib, Some(&before), &after) {
        let op = cx.sh.op.fetch_add(1, Ordering::SeqCst);
        let call = describe(&q, "AT_FDCWD");
        report(
            cx,
            who,
            op,
            &q,
            &call,
            "(absolute path)",
            &lib,
            Some(&before),
            &after,
            "a mutator's probe",
        );
    }
    if after.ret != 0 {
        return None;
    }
    Some(q.entry.layout().mode(&after.buf.0))
}

// ---------------------------------------------------------------------------------------------
// The mutator

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

struct Mapping {
    fd: i32,
    ptr: *mut u8,
    ns: String,
}

struct Mutator<'a> {
    cx: &'a Ctx,
    rng: Rng,
    who: String,
    map: Option<Mapping>,
    tmp: u64,
    stats: std::collections::BTreeMap<&'static str, (u64, u64)>,
}

const OPS: &[(&str, u32)] = &[
    ("create", 8),
    ("append", 8),
    ("overwrite", 5),
    ("truncate", 5),
    ("chmod", 6),
    ("chown", 5),
    ("chown_noop", 2),
    ("utimens", 9),
    ("rename_file", 6),
    ("rename_dir", 4),
    ("exchange", 2),
    ("symlink", 4),
    ("symlink_replace", 4),
    ("hardlink", 6),
    ("unlink", 5),
    ("mkdir", 5),
    ("rmdir", 3),
    ("empty_dir", 1),
    ("read", 8),
    ("open_wronly", 3),
    ("readdir", 3),
    ("mmap_store", 3),
    ("chattr", 2),
    ("xattr", 2),
    ("fallocate", 2),
    ("link_atime", 3),
    ("mkfifo", 1),
];

impl<'a> Mutator<'a> {
    fn new(cx: &'a Ctx, seed: u64, who: &str) -> Mutator<'a> {
        Mutator {
            cx,
            rng: Rng::new(seed),
            who: who.to_string(),
            map: None,
            tmp: 0,
            stats: Default::default(),
        }
    }

    fn open_beneath(&self, ns: &str, flags: i32, mode: u32) -> i32 {
        let p = cstr(if ns.is_empty() { "." } else { ns });
        let how = OpenHow {
            flags: (flags | libc::O_CLOEXEC) as u64,
            mode: if flags & libc::O_CREAT != 0 {
                u64::from(mode)
            } else {
                0
            },
            resolve: RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        // SAFETY: openat2 with a valid directory fd, a NUL-terminated path and an open_how of the
        // size passed. RESOLVE_BENEATH keeps every mutation inside the tree whatever the links say.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                self.cx.root_fd,
                p.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        r as i32
    }

    /// The parent directory (opened beneath the root; the root itself is not owned) and the name.
    fn parent(&self, ns: &str) -> Option<(i32, bool, CString)> {
        let (dir, name) = match ns.rsplit_once('/') {
            Some((d, n)) => (d, n),
            None => ("", ns),
        };
        let name = cstr(name);
        if dir.is_empty() {
            return Some((self.cx.root_fd, false, name));
        }
        let fd = self.open_beneath(dir, libc::O_PATH | libc::O_DIRECTORY, 0);
        (fd >= 0).then_some((fd, true, name))
    }

    fn probe(&mut self, ns: &str) -> Option<u32> {
        probe_check(self.cx, &mut self.rng, ns, &self.who)
    }

    /// An existing path of the given kind: half the time one the checker queried recently.
    fn pick(&mut self, kind: Kind) -> Option<String> {
        for _ in 0..8 {
            let cand = if self.rng.percent(50) {
                let recent = self.cx.sh.queried.latest(16);
                if recent.is_empty() {
                    ns_path(&mut self.rng, 4, kind)
                } else {
                    self.rng.pick(&recent).clone()
                }
            } else {
                ns_path(&mut self.rng, 4, kind)
            };
            if cand.is_empty()
                || cand
                    .split('/')
                    .any(|c| c.is_empty() || c == "." || c == "..")
            {
                continue;
            }
            if let Some(mode) = self.probe(&cand) {
                if kind_matches(kind, mode) {
                    return Some(cand);
                }
            }
        }
        None
    }

    /// An existing directory at depth <= max_depth ("" is the root).
    fn pick_dir(&mut self, max_depth: usize) -> String {
        if self.rng.percent(20) {
            return String::new();
        }
        match self.pick(Kind::Dir) {
            Some(d) if ns_depth(&d) <= max_depth => d,
            _ => String::new(),
        }
    }

    fn join(dir: &str, name: &str) -> String {
        if dir.is_empty() {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        }
    }

    fn hint(&self, ns: &str) {
        self.cx.sh.hints.push(ns);
    }

    fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| b'a' + self.rng.below(26) as u8).collect()
    }

    fn times(&mut self) -> ([libc::timespec; 2], String) {
        let now = now_secs();
        let t = |rng: &mut Rng| -> libc::timespec {
            let sec = match rng.weighted(&[40, 30, 10, 10]) {
                0 => now - 1 - rng.below(5000) as i64,
                1 => now + 100 + rng.below(5000) as i64,
                2 => 1_000_000_000 + rng.below(1_000_000) as i64,
                _ => now,
            };
            libc::timespec {
                tv_sec: sec,
                tv_nsec: rng.below(1_000_000_000) as i64,
            }
        };
        let (mut a, mut m) = (t(&mut self.rng), t(&mut self.rng));
        let what = match self.rng.weighted(&[25, 25, 15, 10, 10, 8, 7]) {
            0 => "atime+mtime",
            1 => {
                m.tv_nsec = libc::UTIME_OMIT;
                "atime only"
            }
            2 => {
                a.tv_nsec = libc::UTIME_OMIT;
                "mtime only"
            }
            3 => {
                a.tv_nsec = libc::UTIME_NOW;
                m.tv_nsec = libc::UTIME_NOW;
                "UTIME_NOW both"
            }
            4 => {
                a.tv_nsec = libc::UTIME_NOW;
                m.tv_nsec = libc::UTIME_OMIT;
                "atime UTIME_NOW, mtime UTIME_OMIT"
            }
            5 => {
                a.tv_nsec = libc::UTIME_OMIT;
                m.tv_nsec = libc::UTIME_OMIT;
                "UTIME_OMIT both"
            }
            _ => {
                a.tv_nsec = libc::UTIME_OMIT;
                m.tv_nsec = libc::UTIME_NOW;
                "atime UTIME_OMIT, mtime UTIME_NOW"
            }
        };
        (
            [a, m],
            format!(
                "{what} a={}.{} m={}.{}",
                a.tv_sec, a.tv_nsec, m.tv_sec, m.tv_nsec
            ),
        )
    }

    /// One mutation: the history gets its description and result.
    fn step(&mut self) {
        let weights: Vec<u32> = OPS
            .iter()
            .map(|o| {
                if self.cx.excluded.iter().any(|e| e == o.0) {
                    0
                } else {
                    o.1
                }
            })
            .collect();
        let i = self.rng.weighted(&weights);
        let name = OPS[i].0;
        let (ok, d) = self.run_op(name);
        let e = self.stats.entry(name).or_insert((0, 0));
        if ok {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
        let op = self.cx.sh.op.fetch_add(1, Ordering::SeqCst);
        self.cx.sh.mutations.fetch_add(1, Ordering::SeqCst);
        self.cx
            .sh
            .history
            .push(&format!("#{op} M[{}] {name}: {d}", self.who));
    }

    /// Runs one mutation; returns whether its main system call succeeded and a description.
    fn run_op(&mut self, name: &str) -> (bool, String) {
        let cx = self.cx;
        macro_rules! sys {
            ($e:expr) => {{
                // SAFETY: a plain system call on descriptors this function owns (or the tree
                // root), NUL-terminated strings and local buffers that outlive the call.
                let r = unsafe { $e } as i64;
                (r >= 0, res(r))
            }};
        }
        match name {
            "create" => {
                let dir = self.pick_dir(3);
                let ns = Self::join(&dir, ns_name(&mut self.rng, Kind::File));
                let mut flags = libc::O_CREAT | libc::O_WRONLY | libc::O_NONBLOCK;
                if self.rng.percent(40) {
                    flags |= libc::O_TRUNC;
                }
                if self.rng.percent(30) {
                    flags |= libc::O_EXCL;
                }
                let fd = self.open_beneath(&ns, flags, 0o644);
                if fd < 0 {
                    return (false, format!("{ns} flags={flags:#x} = {}", res(-1)));
                }
                let data = {
                    let n = self.rng.index(300);
                    self.random_bytes(n)
                };
                let (_, w) = sys!(libc::write(fd, data.as_ptr().cast(), data.len()));
                close(fd);
                self.hint(&ns);
                (
                    true,
                    format!("{ns} flags={flags:#x} write {} = {w}", data.len()),
                )
            }
            "append" | "overwrite" => {
                let Some(ns) = self.pick(Kind::NonDir) else {
                    return (false, "no file".into());
                };
                let append = name == "append";
                let flags =
                    libc::O_WRONLY | libc::O_NONBLOCK | if append { libc::O_APPEND } else { 0 };
                let fd = self.open_beneath(&ns, flags, 0);
                if fd < 0 {
                    return (false, format!("{ns} open = {}", res(-1)));
                }
                let n = 1 + self.rng.index(200);
                let data = self.random_bytes(n);
                let (ok, w) = if append {
                    sys!(libc::write(fd, data.as_ptr().cast(), n))
                } else {
                    sys!(libc::pwrite(fd, data.as_ptr().cast(), n.min(8), 0))
                };
                close(fd);
                self.hint(&ns);
                (ok, format!("{ns} {n} bytes = {w}"))
            }
            "truncate" => {
                let Some(ns) = self.pick(Kind::NonDir) else {
                    return (false, "no file".into());
                };
                let fd = self.open_beneath(&ns, libc::O_WRONLY | libc::O_NONBLOCK, 0);
                if fd < 0 {
                    return (false, format!("{ns} open = {}", res(-1)));
                }
                let len = *self.rng.pick(&[0i64, 1, 7, 100, 4096, 5000]);
                let (ok, r) = sys!(libc::ftruncate(fd, len));
                close(fd);
                self.hint(&ns);
                (ok, format!("{ns} to {len} = {r}"))
            }
            "chmod" => {
                let Some(ns) = self.pick(Kind::Any) else {
                    return (false, "nothing".into());
                };
                let fd = self.open_beneath(&ns, libc::O_PATH, 0);
                if fd < 0 {
                    return (false, format!("{ns} open = {}", res(-1)));
                }
                let modes: &[u32] = if cx.is_root_user {
                    &[
                        0o644, 0o600, 0o755, 0o444, 0o4755, 0o2755, 0o000, 0o666, 0o1777, 0o711,
                    ]
                } else {
                    &[0o644, 0o600, 0o755, 0o700, 0o744]
                };
                let mode = *self.rng.pick(modes);
                let e = cstr("");
                let (ok, r) = sys!(libc::syscall(
                    SYS_FCHMODAT2,
                    fd,
                    e.as_ptr(),
                    mode,
                    libc::AT_EMPTY_PATH
                ));
                close(fd);
                self.hint(&ns);
                (ok, format!("{ns} {mode:o} = {r}"))
            }
            "chown" | "chown_noop" => {
                if !cx.is_root_user && name == "chown" {
                    return (false, "not root".into());
                }
                let Some(ns) = self.pick(Kind::Any) else {
                    return (false, "nothing".into());
                };
                let nofollow = self.rng.percent(40);
                let flags = libc::O_PATH | if nofollow { libc::O_NOFOLLOW } else { 0 };
                let fd = self.open_beneath(&ns, flags, 0);
                if fd < 0 {
                    return (false, format!("{ns} open = {}", res(-1)));
                }
                // chown(-1, -1) changes nothing but ctime, and inotify reports nothing for it.
                let ids = [0u32, 1, 1000, 65534, 4242];
                let (uid, gid) = if name == "chown_noop" {
                    (u32::MAX, u32::MAX)
                } else {
                    match self.rng.below(4) {
                        0 => (u32::MAX, *self.rng.pick(&ids)),
                        1 => (*self.rng.pick(&ids), u32::MAX),
                        _ => (*self.rng.pick(&ids), *self.rng.pick(&ids)),
                    }
                };
                let e = cstr("");
                let (ok, r) = sys!(libc::fchownat(
                    fd,
                    e.as_ptr(),
                    uid,
                    gid,
                    libc::AT_EMPTY_PATH
                ));
                close(fd);
                self.hint(&ns);
                (ok, format!("{ns} nofollow={nofollow} {uid}:{gid} = {r}"))
            }
            "utimens" | "link_atime" => {
                let link = name == "link_atime";
                let Some(ns) = self.pick(if link { Kind::Link } else { Kind::Any }) else {
                    return (false, "nothing".into());
                };
                let nofollow = link || self.rng.percent(30);
                let flags = libc::O_PATH | if nofollow { libc::O_NOFOLLOW } else { 0 };
                let fd = self.open_beneath(&ns, flags, 0);
                if fd < 0 {
                    return (false, format!("{ns} open = {}", res(-1)));
                }
                let (mut ts, mut what) = self.times();
                if link {
                    // An old atime: the next lookup that follows the link moves it silently.
                    ts[0] = libc::timespec {
                        tv_sec: now_secs() - 3000 - self.rng.below(1000) as i64,
                        tv_nsec: self.rng.below(1_000_000_000) as i64,
                    };
                    ts[1].tv_nsec = libc::UTIME_OMIT;
                    what = format!(
                        "atime {}.{} (old), mtime UTIME_OMIT",
                        ts[0].tv_sec, ts[0].tv_nsec
                    );
                }
                let e = cstr("");
                let (ok, r) = sys!(libc::utimensat(
                    fd,
                    e.as_ptr(),
                    ts.as_ptr(),
                    libc::AT_EMPTY_PATH
                ));
                close(fd);
                self.hint(&ns);
                (ok, format!("{ns} nofollow={nofollow} {what} = {r}"))
            }
            "rename_file" | "rename_dir" | "exchange" => {
                let kind = match name {
                    "rename_file" => Kind::NonDir,
                    "rename_dir" => Kind::Dir,
                    _ => Kind::Any,
                };
                let Some(src) = self.pick(kind) else {
                    return (false, "nothing".into());
                };
                let dst = if name == "exchange" || self.rng.percent(35) {
                    let k = if self.rng.percent(70) {
                        kind
                    } else {
                        Kind::Any
                    };
                    match self.pick(k) {
                        Some(d) => d,
                        None => return (false, format!("{src}: no target")),
                    }
                } else {
                    let dir = self.pick_dir(3);
                    let k = if self.rng.percent(85) {
                        kind
                    } else {
                        Kind::Any
                    };
                    let k = if k == Kind::NonDir { Kind::File } else { k };
                    Self::join(&dir, ns_name(&mut self.rng, k))
                };
                let flags = if name == "exchange" {
                    libc::RENAME_EXCHANGE
                } else if self.rng.percent(10) {
                    libc::RENAME_NOREPLACE
                } else {
                    0
                };
                let (Some((p1, o1, n1)), Some((p2, o2, n2))) =
                    (self.parent(&src), self.parent(&dst))
                else {
                    return (false, format!("{src} -> {dst}: no parent"));
                };
                let (ok, r) = sys!(libc::renameat2(p1, n1.as_ptr(), p2, n2.as_ptr(), flags));
                if o1 {
                    close(p1);
                }
                if o2 {
                    close(p2);
                }
                self.hint(&src);
                self.hint(&dst);
                (ok, format!("{src} -> {dst} flags={flags} = {r}"))
            }
            "symlink" | "symlink_replace" => {
                let replace = name == "symlink_replace";
                let ns = if replace {
                    match self.pick(Kind::Link) {
                        Some(l) => l,
                        None => return (false, "no link".into()),
                    }
                } else {
                    let dir = self.pick_dir(3);
                    Self::join(&dir, ns_name(&mut self.rng, Kind::Link))
                };
                let target = link_target(&mut self.rng, &cx.root, parent_ns(&ns));
                let t = cstr(&target);
                let Some((pfd, owned, n)) = self.parent(&ns) else {
                    return (false, format!("{ns}: no parent"));
                };
                let (ok, r) = if replace {
                    self.tmp += 1;
                    let tmp = cstr(&format!(".tmp{}.{}", getpid(), self.tmp));
                    let (ok, r) = sys!(libc::symlinkat(t.as_ptr(), pfd, tmp.as_ptr()));
                    if ok {
                        let (ok2, r2) = sys!(libc::renameat(pfd, tmp.as_ptr(), pfd, n.as_ptr()));
                        if !ok2 {
                            sys!(libc::unlinkat(pfd, tmp.as_ptr(), 0));
                        }
                        (ok2, r2)
                    } else {
                        (ok, r)
                    }
                } else {
                    sys!(libc::symlinkat(t.as_ptr(), pfd, n.as_ptr()))
                };
                if owned {
                    close(pfd);
                }
                self.hint(&ns);
                (ok, format!("{ns} -> {target:?} = {r}"))
            }
            "hardlink" => {
                let Some(src) = self.pick(Kind::File) else {
                    return (false, "no file".into());
                };
                let mut dir = self.pick_dir(3);
                if dir == parent_ns(&src) {
                    dir = self.pick_dir(3);
                }
                let dst = Self::join(&dir, ns_name(&mut self.rng, Kind::File));
                let (Some((p1, o1, n1)), Some((p2, o2, n2))) =
                    (self.parent(&src), self.parent(&dst))
                else {
                    return (false, format!("{src} -> {dst}: no parent"));
                };
                let (ok, r) = sys!(libc::linkat(p1, n1.as_ptr(), p2, n2.as_ptr(), 0));
                if o1 {
                    close(p1);
                }
                if o2 {
                    close(p2);
                }
                let mut d = format!("{src} => {dst} = {r}");
                // Write, chmod and sometimes chown through the other name.
                let fd =
                    self.open_beneath(&dst, libc::O_WRONLY | libc::O_APPEND | libc::O_NONBLOCK, 0);
                if fd >= 0 {
                    let data = {
                        let n = 1 + self.rng.index(50);
                        self.random_bytes(n)
                    };
                    let (_, w) = sys!(libc::write(fd, data.as_ptr().cast(), data.len()));
                    let mode = *self.rng.pick(&[0o600u32, 0o644, 0o755, 0o640]);
                    let (_, c) = sys!(libc::fchmod(fd, mode));
                    let _ = write!(
                        d,
                        "; via {dst}: write {} = {w}, chmod {mode:o} = {c}",
                        data.len()
                    );
                    if cx.is_root_user && self.rng.percent(30) {
                        let (_, o) = sys!(libc::fchown(fd, 1000, 1000));
                        let _ = write!(d, ", chown 1000:1000 = {o}");
                    }
                    close(fd);
                }
                if self.rng.percent(20) {
                    if let Some((p, o, n)) = self.parent(&dst) {
                        let (_, u) = sys!(libc::unlinkat(p, n.as_ptr(), 0));
                        let _ = write!(d, "; unlink {dst} = {u}");
                        if o {
                            close(p);
                        }
                    }
                }
                self.hint(&src);
                (ok, d)
            }
            "unlink" => {
                let Some(ns) = self.pick(Kind::NonDir) else {
                    return (false, "nothing".into());
                };
                let Some((p, o, n)) = self.parent(&ns) else {
                    return (false, format!("{ns}: no parent"));
                };
                let (ok, r) = sys!(libc::unlinkat(p, n.as_ptr(), 0));
                if o {
                    close(p);
                }
                self.hint(&ns);
                (ok, format!("{ns} = {r}"))
            }
            "mkdir" | "mkfifo" => {
                let dir = self.pick_dir(if name == "mkdir" { 2 } else { 3 });
                let kind = if name == "mkdir" {
                    Kind::Dir
                } else {
                    Kind::File
                };
                let ns = Self::join(&dir, ns_name(&mut self.rng, kind));
                let Some((p, o, n)) = self.parent(&ns) else {
                    return (false, format!("{ns}: no parent"));
                };
                let (ok, r) = if name == "mkdir" {
                    let mode = *self.rng.pick(&[0o755u32, 0o700, 0o775]);
                    sys!(libc::mkdirat(p, n.as_ptr(), mode))
                } else {
                    sys!(libc::mknodat(p, n.as_ptr(), libc::S_IFIFO | 0o644, 0))
                };
                if o {
                    close(p);
                }
                self.hint(&ns);
                (ok, format!("{ns} = {r}"))
            }
            "rmdir" | "empty_dir" => {
                let Some(ns) = self.pick(Kind::Dir) else {
                    return (false, "no dir".into());
                };
                let mut d = String::new();
                if name == "empty_dir" {
                    let fd = self.open_beneath(&ns, libc::O_RDONLY | libc::O_DIRECTORY, 0);
                    if fd >= 0 {
                        for entry in read_dir_fd(fd) {
                            let c = cstr(&entry);
                            let (_, r) = sys!(libc::unlinkat(fd, c.as_ptr(), 0));
                            let _ = write!(d, "unlink {entry} = {r}; ");
                        }
                        close(fd);
                    }
                }
                let Some((p, o, n)) = self.parent(&ns) else {
                    return (false, format!("{ns}: no parent"));
                };
                let (ok, r) = sys!(libc::unlinkat(p, n.as_ptr(), libc::AT_REMOVEDIR));
                if o {
                    close(p);
                }
                self.hint(&ns);
                (ok, format!("{d}rmdir {ns} = {r}"))
            }
            "read" => {
                let Some(ns) = self.pick(Kind::NonDir) else {
                    return (false, "no file".into());
                };
                let fd = self.open_beneath(&ns, libc::O_RDONLY | libc::O_NONBLOCK, 0);
                if fd < 0 {
                    return (false, format!("{ns} open = {}", res(-1)));
                }
                let mut buf = [0u8; 64];
                let (ok, r) = sys!(libc::read(fd, buf.as_mut_ptr().cast(), buf.len()));
                close(fd);
                self.hint(&ns);
                (ok, format!("{ns} = {r}"))
            }
            "open_wronly" => {
                let Some(ns) = self.pick(Kind::NonDir) else {
                    return (false, "no file".into());
                };
                let fd = self.open_beneath(&ns, libc::O_WRONLY | libc::O_NONBLOCK, 0);
                let r = res(i64::from(fd));
                close(fd);
                self.hint(&ns);
                (fd >= 0, format!("{ns} open+close = {r}"))
            }
            "readdir" => {
                let Some(ns) = self.pick(Kind::Dir) else {
                    return (false, "no dir".into());
                };
                let fd = self.open_beneath(&ns, libc::O_RDONLY | libc::O_DIRECTORY, 0);
                if fd < 0 {
                    return (false, format!("{ns} open = {}", res(-1)));
                }
                let n = read_dir_fd(fd).len();
                close(fd);
                self.hint(&ns);
                (true, format!("{ns}: {n} entries"))
            }
            "mmap_store" => self.mmap_store(),
            "chattr" => {
                let Some(ns) = self.pick(Kind::Any) else {
                    return (false, "nothing".into());
                };
                let fd = self.open_beneath(&ns, libc::O_RDONLY | libc::O_NONBLOCK, 0);
                if fd < 0 {
                    return (false, format!("{ns} open = {}", res(-1)));
                }
                let mut fl: libc::c_long = 0;
                let (ok, r) = sys!(libc::ioctl(
                    fd,
                    libc::FS_IOC_GETFLAGS,
                    &mut fl as *mut libc::c_long
                ));
                let mut d = format!("{ns} getflags = {r}");
                let mut done = false;
                if ok {
                    fl ^= 0x40; // FS_NODUMP_FL
                    let (ok2, r2) = sys!(libc::ioctl(
                        fd,
                        libc::FS_IOC_SETFLAGS,
                        &fl as *const libc::c_long
                    ));
                    let _ = write!(d, ", setflags {fl:#x} = {r2}");
                    done = ok2;
                }
                close(fd);
                self.hint(&ns);
                (done, d)
            }
            "xattr" => {
                let Some(ns) = self.pick(Kind::Any) else {
                    return (false, "nothing".into());
                };
                let fd = self.open_beneath(&ns, libc::O_RDONLY | libc::O_NONBLOCK, 0);
                if fd < 0 {
                    return (false, format!("{ns} open = {}", res(-1)));
                }
                let key = cstr("user.difftest");
                let (ok, r) = if self.rng.percent(70) {
                    let v = {
                        let n = 1 + self.rng.index(20);
                        self.random_bytes(n)
                    };
                    sys!(libc::fsetxattr(
                        fd,
                        key.as_ptr(),
                        v.as_ptr().cast(),
                        v.len(),
                        0
                    ))
                } else {
                    sys!(libc::fremovexattr(fd, key.as_ptr()))
                };
                close(fd);
                self.hint(&ns);
                (ok, format!("{ns} = {r}"))
            }
            "fallocate" => {
                let Some(ns) = self.pick(Kind::File) else {
                    return (false, "no file".into());
                };
                let fd = self.open_beneath(&ns, libc::O_WRONLY | libc::O_NONBLOCK, 0);
                if fd < 0 {
                    return (false, format!("{ns} open = {}", res(-1)));
                }
                let keep = self.rng.percent(50);
                let mode = if keep { libc::FALLOC_FL_KEEP_SIZE } else { 0 };
                let len = 1 + self.rng.below(20000) as i64;
                let (ok, r) = sys!(libc::fallocate(fd, mode, 0, len));
                close(fd);
                self.hint(&ns);
                (ok, format!("{ns} keep_size={keep} len={len} = {r}"))
            }
            _ => unreachable!("unknown op {name}"),
        }
    }

    /// Stores through a shared mapping: the first store after mapping (or after writeback) moves
    /// mtime and ctime with no inotify event until the mapping goes away.
    fn mmap_store(&mut self) -> (bool, String) {
        if let Some(m) = &self.map {
            if self.rng.percent(30) {
                let ns = m.ns.clone();
                // SAFETY: the mapping was created by this mutator with this length and is unmapped once.
                unsafe { libc::munmap(m.ptr.cast(), 4096) };
                close(m.fd);
                self.map = None;
                self.hint(&ns);
                return (true, format!("munmap+close {ns}"));
            }
        } else {
            let Some(ns) = self.pick(Kind::File) else {
                return (false, "no file".into());
            };
            let fd = self.open_beneath(&ns, libc::O_RDWR | libc::O_NONBLOCK, 0);
            if fd < 0 {
                return (false, format!("{ns} open = {}", res(-1)));
            }
            // SAFETY: a fresh shared mapping of an open regular file; the result is checked.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    4096,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                let r = res(-1);
                close(fd);
                return (false, format!("{ns} mmap = {r}"));
            }
            self.map = Some(Mapping {
                fd,
                ptr: p.cast(),
                ns,
            });
        }
        let m = self.map.as_ref().expect("mapped");
        let mut st = Buf([0; 256]);
        // SAFETY: fstat of a descriptor this mutator owns into a 256-byte buffer.
        let r = unsafe { libc::syscall(libc::SYS_fstat, m.fd, st.0.as_mut_ptr()) };
        let size = i64::from_le_bytes(st.0[48..56].try_into().expect("8 bytes"));
        if r != 0 || size < 1 {
            return (false, format!("{}: size {size}, no store", m.ns));
        }
        let v = b'A' + self.rng.below(26) as u8;
        // SAFETY: offset 0 of a live 4096-byte shared mapping of a file at least 1 byte long (only
        // this mutator changes that file's size), so the store cannot fault past the end.
        unsafe { std::ptr::write_volatile(m.ptr, v) };
        let ns = m.ns.clone();
        self.hint(&ns);
        (true, format!("store {:?} at offset 0 of {ns}", v as char))
    }
}

/// The names in a directory (getdents64; "." and ".." left out).
fn read_dir_fd(fd: i32) -> Vec<String> {
    let mut names = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: getdents64 into a buffer of the length passed.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
        if n <= 0 {
            break;
        }
        let mut off = 0usize;
        while off < n as usize {
            let reclen = u16::from_le_bytes([buf[off + 16], buf[off + 17]]) as usize;
            let name = &buf[off + 19..off + reclen];
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            let s = String::from_utf8_lossy(&name[..end]).into_owned();
            if s != "." && s != ".." {
                names.push(s);
            }
            off += reclen;
        }
    }
    names
}

// ---------------------------------------------------------------------------------------------
// The checker

#[derive(Default, Clone, Copy)]
struct Counts {
    queries: u64,
    strict: u64,
    self_atime: u64,
    relaxed: u64,
    skips: u64,
    aux: u64,
}

struct Checker<'a> {
    cx: &'a Ctx,
    rng: Rng,
    recent: VecDeque<Query>,
    dir_fds: [i32; 3],
    dir_desc: [String; 3],
    file_fds: [i32; 3],
    file_desc: [String; 3],
    cwd: String,
    cwd_depth: Option<usize>,
    last_hint: u64,
    counts: Counts,
    /// Answers by outcome (for --verbose).
    outcomes: std::collections::BTreeMap<String, u64>,
    /// The next query must not be preceded by a raw call (the first one after a handshake).
    first_after_wake: bool,
    concurrent: bool,
}

const STATX_MASKS: &[u32] = &[
    libc::STATX_TYPE | libc::STATX_MODE,
    libc::STATX_SIZE,
    libc::STATX_MTIME,
    libc::STATX_INO,
    libc::STATX_TYPE | libc::STATX_MODE | libc::STATX_SIZE | libc::STATX_MTIME | libc::STATX_INO,
    libc::STATX_TYPE | libc::STATX_MODE | libc::STATX_UID | libc::STATX_GID,
    libc::STATX_ATIME | libc::STATX_MTIME | libc::STATX_CTIME,
    libc::STATX_NLINK | libc::STATX_BLOCKS,
    libc::STATX_BASIC_STATS | libc::STATX_MNT_ID,
    libc::STATX_ALL | libc::STATX_DIOALIGN,
];

impl<'a> Checker<'a> {
    fn new(cx: &'a Ctx, seed: u64, concurrent: bool) -> Checker<'a> {
        let mut c = Checker {
            cx,
            rng: Rng::new(seed),
            recent: VecDeque::new(),
            dir_fds: [-1; 3],
            dir_desc: Default::default(),
            file_fds: [-1; 3],
            file_desc: Default::default(),
            cwd: String::new(),
            cwd_depth: Some(0),
            last_hint: cx.sh.hints.head(),
            counts: Counts::default(),
            outcomes: Default::default(),
            first_after_wake: false,
            concurrent,
        };
        let root = cstr(&cx.root);
        // SAFETY: chdir with a NUL-terminated path.
        let r = unsafe { libc::chdir(root.as_ptr()) };
        assert_eq!(r, 0, "chdir to the tree");
        for i in 0..3 {
            c.reopen_dir(i);
            c.reopen_file(i);
        }
        c
    }

    fn reopen_dir(&mut self, i: usize) {
        let ns = if self.rng.percent(25) {
            String::new()
        } else {
            ns_path(&mut self.rng, 3, Kind::Dir)
        };
        let path = cstr(&format!("{}/{ns}", self.cx.root));
        let flags = if self.rng.percent(50) {
            libc::O_RDONLY
        } else {
            libc::O_PATH
        };
        // SAFETY: open with a NUL-terminated path.
        let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if fd >= 0 {
            close(self.dir_fds[i]);
            self.dir_fds[i] = fd;
            self.dir_desc[i] = format!("fd {fd} opened on {:?}", format!("/{ns}"));
        } else if self.dir_fds[i] < 0 {
            let root = cstr(&self.cx.root);
            // SAFETY: as above.
            self.dir_fds[i] = unsafe {
                libc::open(
                    root.as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            };
            self.dir_desc[i] = format!("fd {} opened on \"/\"", self.dir_fds[i]);
        }
    }

    fn reopen_file(&mut self, i: usize) {
        let ns = ns_path(&mut self.rng, 4, Kind::Any);
        let path = cstr(&format!("{}/{ns}", self.cx.root));
        let flags = match self.rng.weighted(&[40, 30, 30]) {
            0 => libc::O_RDONLY | libc::O_NONBLOCK,
            1 => libc::O_PATH | libc::O_NOFOLLOW,
            _ => libc::O_PATH,
        };
        // SAFETY: open with a NUL-terminated path.
        let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd >= 0 {
            close(self.file_fds[i]);
            self.file_fds[i] = fd;
            self.file_desc[i] = format!("fd {fd} opened on {ns:?} flags={flags:#x}");
        }
    }

    fn fd_of(&self, base: Base) -> (i32, String) {
        match base {
            Base::Cwd => (libc::AT_FDCWD, "AT_FDCWD".into()),
            Base::Dir(i) if self.dir_fds[i] >= 0 => (self.dir_fds[i], self.dir_desc[i].clone()),
            Base::File(i) if self.file_fds[i] >= 0 => (self.file_fds[i], self.file_desc[i].clone()),
            _ => (BAD_FD, format!("{BAD_FD} (not open)")),
        }
    }

    fn chdir_op(&mut self) {
        let (r, what, depth) = match self.rng.weighted(&[60, 25, 15]) {
            0 => {
                let ns = ns_path(&mut self.rng, 3, Kind::Dir);
                let p = cstr(&format!("{}/{ns}", self.cx.root));
                // SAFETY: chdir with a NUL-terminated path.
                let r = unsafe { libc::chdir(p.as_ptr()) };
                let d = ns_depth(&ns);
                (r, format!("chdir {ns}"), Some(d))
            }
            1 => {
                let i = self.rng.index(3);
                let fd = self.dir_fds[i];
                // SAFETY: fchdir takes any descriptor.
                let r = unsafe { libc::fchdir(fd) };
                (r, format!("fchdir {}", self.dir_desc[i]), None)
            }
            _ => {
                let p = cstr(&self.cx.root);
                // SAFETY: chdir with a NUL-terminated path.
                let r = unsafe { libc::chdir(p.as_ptr()) };
                (r, "chdir /".into(), Some(0))
            }
        };
        if r == 0 {
            self.cwd = what.clone();
            self.cwd_depth = depth;
        }
        self.counts.aux += 1;
        let op = self.cx.sh.op.fetch_add(1, Ordering::SeqCst);
        self.cx
            .sh
            .history
            .push(&format!("#{op} C {what} = {}", res(i64::from(r))));
    }

    fn root_prefix(&mut self) -> String {
        let root = &self.cx.root;
        match self.rng.weighted(&[70, 6, 6, 6, 6, 6]) {
            0 => root.clone(),
            1 => format!("/{root}"),
            2 => format!("{root}/."),
            3 => format!("{}/./tree", self.cx.sandbox),
            4 => format!("{root}/../tree"),
            _ => root.replacen('/', "//", 2),
        }
    }

    /// Renders a namespace path with the decorations a path can carry.
    fn render(&mut self, ns: &str, absolute: bool) -> String {
        let mut s = if absolute {
            self.root_prefix()
        } else {
            let mut p = String::new();
            if let Some(d) = self.cwd_depth.filter(|_| self.rng.percent(25)) {
                for _ in 0..d {
                    p.push_str("../");
                }
            } else if self.rng.percent(10) {
                p.push_str("./");
            }
            p
        };
        let mut first = true;
        for c in ns.split('/') {
            if !first || absolute {
                match self.rng.weighted(&[86, 5, 5, 4]) {
                    0 => s.push('/'),
                    1 => s.push_str("//"),
                    2 => s.push_str("/./"),
                    _ => {
                        let other = ns_name(&mut self.rng, Kind::Any);
                        s.push('/');
                        s.push_str(other);
                        s.push_str("/../");
                    }
                }
            } else if !s.is_empty() && !s.ends_with('/') {
                s.push('/');
            }
            first = false;
            s.push_str(c);
        }
        s.push_str(match self.rng.weighted(&[78, 8, 5, 3, 3, 3]) {
            0 => "",
            1 => "/",
            2 => "/.",
            3 => "/..",
            4 => "//",
            _ => "/./",
        });
        s
    }

    fn pick_entry(&mut self) -> Entry {
        *self.rng.pick(&self.cx.entries)
    }

    fn flags_for(&mut self, e: Entry) -> (i32, u32) {
        if e == Entry::Statx {
            let flags = match self.rng.weighted(&[35, 20, 15, 10, 5, 4, 2, 4, 2, 3]) {
                0 => 0,
                1 => libc::AT_SYMLINK_NOFOLLOW,
                2 => libc::AT_STATX_DONT_SYNC,
                3 => libc::AT_SYMLINK_NOFOLLOW | libc::AT_STATX_DONT_SYNC,
                4 => libc::AT_NO_AUTOMOUNT,
                5 => libc::AT_STATX_FORCE_SYNC,
                6 => libc::AT_STATX_FORCE_SYNC | libc::AT_STATX_DONT_SYNC,
                7 => libc::AT_EMPTY_PATH,
                8 => 0x400,
                _ => libc::AT_NO_AUTOMOUNT | libc::AT_SYMLINK_NOFOLLOW | libc::AT_STATX_DONT_SYNC,
            };
            let mask = match self.rng.weighted(&[20, 15, 25, 20, 3, 5, 3, 1, 1]) {
                0 => libc::STATX_BASIC_STATS,
                1 => libc::STATX_ALL,
                2 => 1u32 << self.rng.below(14),
                3 => *self.rng.pick(STATX_MASKS),
                4 => 0,
                5 => (self.rng.next_u64() as u32) & 0x3ffff,
                6 => 1u32 << (14 + self.rng.below(4)),
                7 => 0x8000_0000,
                _ => u32::MAX,
            };
            (flags, mask)
        } else {
            let flags = match self.rng.weighted(&[40, 25, 15, 10, 5, 3, 2]) {
                0 => 0,
                1 => libc::AT_SYMLINK_NOFOLLOW,
                2 => libc::AT_NO_AUTOMOUNT,
                3 => libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT,
                4 => libc::AT_EMPTY_PATH,
                5 => 0x400,
                _ => libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            };
            (flags, 0)
        }
    }

    fn fresh_query(&mut self) -> Query {
        let entry = self.pick_entry();
        let (flags, mask) = self.flags_for(entry);
        if entry.is_fd() {
            let base = match self.rng.weighted(&[45, 50, 5]) {
                0 => Base::Dir(self.rng.index(3)),
                1 => Base::File(self.rng.index(3)),
                _ => Base::Bad,
            };
            return Query {
                entry,
                base,
                path: None,
                ns: None,
                flags,
                mask,
            };
        }
        let base = if entry.takes_dirfd() {
            match self.rng.weighted(&[50, 35, 8, 7]) {
                0 => Base::Cwd,
                1 => Base::Dir(self.rng.index(3)),
                2 => Base::File(self.rng.index(3)),
                _ => Base::Bad,
            }
        } else {
            Base::Cwd
        };
        // Odd paths, rarely.
        if self.rng.percent(3) {
            let (path, ns) = match self.rng.below(9) {
                0 => (None, None),
                1 => (Some(String::new()), None),
                2 => (Some(format!("{}/{}", self.cx.root, "a".repeat(300))), None),
                3 => (
                    Some(format!("{}/{}d0", self.cx.root, "./".repeat(2100))),
                    None,
                ),
                4 => (Some("/".into()), None),
                5 => (Some(".".into()), None),
                6 => (Some("..".into()), None),
                7 => (Some(self.cx.root.clone()), Some(String::new())),
                _ => (Some(format!("{}/", self.cx.sandbox)), None),
            };
            return Query {
                entry,
                base,
                path: path.map(|p| cstr(&p)),
                ns,
                flags,
                mask,
            };
        }
        let ns = ns_path(&mut self.rng, 4, Kind::Any);
        let absolute = match base {
            Base::Cwd => self.rng.percent(60),
            _ => self.rng.percent(15),
        };
        let path = self.render(&ns, absolute);
        Query {
            entry,
            base,
            path: Some(cstr(&path)),
            ns: Some(ns),
            flags,
            mask,
        }
    }

    fn query_for_hint(&mut self, ns: &str) -> Query {
        let mut q = self.fresh_query();
        if q.entry.is_fd() {
            q.entry = Entry::Lstat;
            if !self.cx.entries.contains(&q.entry) {
                q.entry = self.cx.entries[0];
            }
        }
        if q.entry.is_fd() {
            return q;
        }
        q.base = Base::Cwd;
        let path = self.render(ns, true);
        q.path = Some(cstr(&path));
        q.ns = Some(ns.to_string());
        q
    }

    /// Takes the paths the mutator changed since the last look into the recently-used set.
    fn take_hints(&mut self) -> Option<Query> {
        let head = self.cx.sh.hints.head();
        let mut first = None;
        let from = self.last_hint.max(head.saturating_sub(4));
        for idx in from..head {
            if let Some(ns) = self.cx.sh.hints.get(idx) {
                let q = self.query_for_hint(&ns);
                first = Some(q.clone());
                self.recent.push_front(q);
            }
        }
        self.last_hint = head;
        while self.recent.len() > 16 {
            self.recent.pop_back();
        }
        first
    }

    /// One checker step: a query (70% of them repeat a recently used path), or now and then a
    /// change of directory or of the open descriptors.
    fn step(&mut self) {
        let hinted = self.take_hints();
        let r = self.rng.below(1000);
        if hinted.is_none() {
            if r < 12 {
                return self.chdir_op();
            } else if r < 22 {
                let i = self.rng.index(3);
                self.reopen_dir(i);
                self.counts.aux += 1;
                return;
            } else if r < 30 {
                let i = self.rng.index(3);
                self.reopen_file(i);
                self.counts.aux += 1;
                return;
            }
        }
        let q = if let Some(q) = hinted {
            q
        } else if !self.recent.is_empty() && self.rng.percent(70) {
            let mut q = self.rng.pick(self.recent.make_contiguous()).clone();
            if self.rng.percent(40) {
                let e = self.pick_entry();
                if e.is_fd() == q.entry.is_fd() {
                    q.entry = e;
                    let (f, m) = self.flags_for(e);
                    q.flags = f;
                    q.mask = m;
                    if !e.takes_dirfd() && !e.is_fd() {
                        q.base = Base::Cwd;
                    }
                }
            }
            q
        } else {
            let q = self.fresh_query();
            self.recent.push_front(q.clone());
            if self.recent.len() > 16 {
                self.recent.pop_back();
            }
            q
        };
        if let Some(ns) = &q.ns {
            if !ns.is_empty() && matches!(q.base, Base::Cwd) {
                self.cx.sh.queried.push(ns);
            }
        }
        self.check(&q);
    }

    fn wait_even(&self) -> u64 {
        let mut spins = 0u32;
        loop {
            let c = self.cx.sh.seq.load(Ordering::SeqCst);
            if c.is_multiple_of(2) {
                return c;
            }
            spins += 1;
            if spins > 20 {
                sched_yield();
            }
        }
    }

    fn seq(&self) -> u64 {
        fence(Ordering::SeqCst);
        self.cx.sh.seq.load(Ordering::SeqCst)
    }

    /// Checks one query; reports and exits on a mismatch.
    fn check(&mut self, q: &Query) {
        let (fd, fdesc) = self.fd_of(q.base);
        let layout = q.entry.layout();
        let skip_before = std::mem::take(&mut self.first_after_wake);
        for attempt in 0..4 {
            self.counts.queries += 1;
            self.cx.sh.queries_done.fetch_add(1, Ordering::Relaxed);
            let c0 = if self.concurrent { self.wait_even() } else { 0 };
            let before = (!skip_before || attempt > 0).then(|| call_raw(q, fd));
            let ca = self.seq();
            let lib = call_lib(&self.cx.legacy, q, fd);
            let cb = self.seq();
            let after = call_raw(q, fd);
            let c1 = self.seq();
            let op = self.cx.sh.op.fetch_add(1, Ordering::SeqCst);
            let call = describe(q, &fdesc);
            let outcome;
            if !self.concurrent || c0 == c1 {
                let mut verdict = judge(layout, &lib, before.as_ref(), &after);
                if matches!(verdict, Verdict::Differ)
                    && before.is_none()
                    && self_atime_without_before(layout, q, &lib, &after)
                {
                    verdict = Verdict::SelfAtime;
                }
                match verdict {
                    Verdict::Same => {
                        self.counts.strict += 1;
                        outcome = "strict";
                    }
                    Verdict::SelfAtime => {
                        self.counts.self_atime += 1;
                        outcome = "strict (atime moved by the lookups themselves)";
                    }
                    Verdict::Differ => {
                        self.cx
                            .sh
                            .history
                            .push(&format!("#{op} Q {call} => MISMATCH"));
                        report(
                            self.cx,
                            "checker",
                            op,
                            q,
                            &call,
                            &self.cwd,
                            &lib,
                            before.as_ref(),
                            &after,
                            "",
                        );
                    }
                }
            } else {
                // A mutation ran somewhere in the window. raw-before is valid if none ran between
                // it and the library call; raw-after if none ran between the call and it.
                let pinned = ca == cb && ca.is_multiple_of(2);
                let before_ok = c0 == ca;
                let after_ok = cb == c1 && c1.is_multiple_of(2);
                let b = before.as_ref().filter(|_| before_ok);
                let a = Some(&after).filter(|_| after_ok);
                let matches = b == Some(&lib) || a == Some(&lib);
                if matches && pinned {
                    self.counts.strict += 1;
                    outcome = "strict (state pinned during the call)";
                } else if matches {
                    self.counts.relaxed += 1;
                    outcome = "relaxed (equals a raw answer at an edge of the call)";
                } else if pinned && (b.is_some() || a.is_some()) {
                    // Nothing changed during the call: it had exactly one right answer.
                    let v = match (b, a) {
                        (Some(b), Some(a)) => judge(layout, &lib, Some(b), a),
                        (None, Some(a)) => judge(layout, &lib, None, a),
                        (Some(b), None)
                            if same_but_atime(layout, &lib, b)
                                && layout.atime(&lib.buf.0) >= layout.atime(&b.buf.0) =>
                        {
                            Verdict::SelfAtime
                        }
                        _ => Verdict::Differ,
                    };
                    match v {
                        Verdict::Same => unreachable!("compared above"),
                        Verdict::SelfAtime => {
                            self.counts.self_atime += 1;
                            outcome = "strict (atime moved by the lookups themselves)";
                        }
                        Verdict::Differ => {
                            let reference = a.or(b).expect("one is valid");
                            let note = format!(
                                "counter: before={c0} call=[{ca},{cb}] after={c1}: no mutation ran during the library call; compared with raw {}",
                                if a.is_some() { "after" } else { "before" }
                            );
                            self.cx
                                .sh
                                .history
                                .push(&format!("#{op} Q {call} => MISMATCH"));
                            report(
                                self.cx, "checker", op, q, &call, &self.cwd, &lib, b, reference,
                                &note,
                            );
                        }
                    }
                } else {
                    self.counts.skips += 1;
                    self.cx.sh.history.push(&format!(
                        "#{op} Q {call} => skipped (mutation during the call: counter {c0} [{ca},{cb}] {c1})"
                    ));
                    continue;
                }
            }
            self.cx
                .sh
                .history
                .push(&format!("#{op} Q {call} => {} {outcome}", lib.show()));
            if self.cx.verbose {
                let key = format!(
                    "{} {}",
                    q.entry.name(),
                    if lib.ret == 0 {
                        "ok".into()
                    } else {
                        diff::errno_name(lib.errno)
                    }
                );
                *self.outcomes.entry(key).or_insert(0) += 1;
            }
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The initial tree

fn build_tree(cx: &Ctx, rng: &mut Rng) {
    let root = &cx.root;
    let c = cstr(root);
    // SAFETY: mkdir with a NUL-terminated path.
    let r = unsafe { libc::mkdir(c.as_ptr(), 0o755) };
    assert_eq!(r, 0, "mkdir {root}: {}", errno());
    let mut dirs = vec![String::new()];
    let mut level = vec![String::new()];
    for (depth, chance) in [(1, 95), (2, 55), (3, 30)] {
        let mut next = Vec::new();
        for parent in &level {
            for d in DIRS {
                if rng.percent(chance) {
                    let ns = if depth == 1 {
                        d.to_string()
                    } else {
                        format!("{parent}/{d}")
                    };
                    let p = cstr(&format!("{root}/{ns}"));
                    // SAFETY: mkdir with a NUL-terminated path.
                    unsafe { libc::mkdir(p.as_ptr(), 0o755) };
                    next.push(ns);
                }
            }
        }
        dirs.extend(next.iter().cloned());
        level = next;
    }
    let now = now_secs();
    let mut files = Vec::new();
    for dir in &dirs {
        let prefix = if dir.is_empty() {
            root.clone()
        } else {
            format!("{root}/{dir}")
        };
        for f in FILES {
            if !rng.percent(60) {
                continue;
            }
            let path = format!("{prefix}/{f}");
            let len = rng.index(400);
            let data: Vec<u8> = (0..len).map(|_| b'a' + rng.below(26) as u8).collect();
            std::fs::write(&path, &data).expect("write a tree file");
            files.push(path.clone());
            // Half of the files get an atime before their mtime, so a read moves it (relatime);
            // the others an atime in the future, so reads leave it.
            let mtime = now - 1 - rng.below(3600) as i64;
            let atime = if rng.percent(50) {
                mtime - 1 - rng.below(100) as i64
            } else {
                now + 100 + rng.below(10000) as i64
            };
            set_times(&path, atime, mtime, rng, 0);
        }
        for l in LINKS {
            if !rng.percent(50) {
                continue;
            }
            let path = format!("{prefix}/{l}");
            let t = cstr(&link_target(rng, root, dir));
            let p = cstr(&path);
            // SAFETY: symlink with NUL-terminated strings.
            unsafe { libc::symlink(t.as_ptr(), p.as_ptr()) };
            if rng.percent(50) {
                set_times(
                    &path,
                    now - 4000,
                    now - 3000,
                    rng,
                    libc::AT_SYMLINK_NOFOLLOW,
                );
            }
        }
    }
    // A file that starts with a second name in another directory (unless hard links are
    // excluded altogether).
    if files.len() >= 2 && !cx.excluded.iter().any(|e| e == "hardlink") {
        let src = cstr(&files[0]);
        let dst = cstr(&format!("{root}/{}/f3", dirs[dirs.len() - 1]));
        // SAFETY: link with NUL-terminated paths.
        unsafe { libc::link(src.as_ptr(), dst.as_ptr()) };
    }
}

fn set_times(path: &str, atime: i64, mtime: i64, rng: &mut Rng, flags: i32) {
    let ts = [
        libc::timespec {
            tv_sec: atime,
            tv_nsec: rng.below(1_000_000_000) as i64,
        },
        libc::timespec {
            tv_sec: mtime,
            tv_nsec: rng.below(1_000_000_000) as i64,
        },
    ];
    let p = cstr(path);
    // SAFETY: utimensat with a NUL-terminated path and two timespecs.
    unsafe { libc::utimensat(libc::AT_FDCWD, p.as_ptr(), ts.as_ptr(), flags) };
}

// ---------------------------------------------------------------------------------------------
// Modes

struct Totals {
    counts: Counts,
}

fn verbose_outcomes(c: &Checker) {
    if c.cx.verbose {
        eprintln!("answers: {:?}", c.outcomes);
    }
}

fn split(ops: u64) -> (u64, u64) {
    let m = (ops * 3 / 10).max(1);
    (m, ops.saturating_sub(m).max(1))
}

fn run_inproc(cx: &Ctx, ops: u64) -> Totals {
    let (muts, queries) = split(ops);
    let mut rng = Rng::new(cx.seed ^ 0x1111);
    let mut m = Mutator::new(cx, cx.seed ^ 0x2222, "inproc");
    let mut c = Checker::new(cx, cx.seed ^ 0x3333, false);
    let (mut done_m, mut done_q) = (0u64, 0u64);
    while done_m < muts || done_q < queries {
        let left = (muts - done_m) + (queries - done_q);
        if rng.below(left) < muts - done_m {
            m.step();
            done_m += 1;
        } else {
            let before = c.counts.queries;
            c.step();
            if c.counts.queries > before {
                done_q += 1;
            }
        }
    }
    if cx.verbose {
        eprintln!("mutation results (ok, failed): {:?}", m.stats);
    }
    verbose_outcomes(&c);
    Totals { counts: c.counts }
}

fn run_thread(cx: &Ctx, ops: u64) -> Totals {
    let (muts, queries) = split(ops);
    let sh = cx.sh;
    std::thread::scope(|s| {
        let mutator = s.spawn(move || {
            let mut m = Mutator::new(cx, cx.seed ^ 0x2222, "thread");
            let mut rng = Rng::new(cx.seed ^ 0x4444);
            for i in 0..muts {
                // Pace on the checker's progress, with bursts now and then.
                let target = i * queries / muts;
                let target = if rng.percent(10) {
                    target.saturating_sub(8)
                } else {
                    target
                };
                let mut spins = 0u32;
                while sh.queries_done.load(Ordering::Relaxed) < target {
                    spins += 1;
                    if spins > 20 {
                        sched_yield();
                    }
                }
                sh.seq.fetch_add(1, Ordering::SeqCst);
                m.step();
                sh.seq.fetch_add(1, Ordering::SeqCst);
            }
            sh.mutator_done.store(true, Ordering::SeqCst);
            if cx.verbose {
                eprintln!("mutation results (ok, failed): {:?}", m.stats);
            }
        });
        let mut c = Checker::new(cx, cx.seed ^ 0x3333, true);
        let mut done_q = 0;
        while done_q < queries || !sh.mutator_done.load(Ordering::SeqCst) {
            let before = c.counts.queries;
            c.step();
            if c.counts.queries > before {
                done_q += 1;
            }
        }
        mutator.join().expect("mutator thread");
        verbose_outcomes(&c);
        Totals { counts: c.counts }
    })
}

fn wait_child(cx: &Ctx, pid: i32) {
    let mut status = 0;
    // SAFETY: waitpid on our own child with a valid status pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid, "waitpid: {}", errno());
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        eprintln!(
            "difftest: the mutating child {pid} failed (wait status {status:#x}; a MISMATCH report from it is above); seed={} mode={}",
            cx.seed, cx.mode
        );
        std::process::exit(1);
    }
}

fn fork() -> i32 {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let parent = getpid();
    // SAFETY: the process is single-threaded in the child modes, so the child may run Rust code.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", errno());
    if pid == 0 {
        // A child must not outlive the harness (it would spin on the handshake forever).
        // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid have no memory arguments.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != parent {
                libc::_exit(1);
            }
        }
    }
    pid
}

fn child_exit(code: i32) -> ! {
    let _ = std::io::stderr().flush();
    // exit(3), not _exit(2): the library's exit path runs in forked children too.
    std::process::exit(code)
}

/// The parent's side of every child mode: queries until they keep pace with the mutations.
fn parent_queries(c: &mut Checker, muts_total: u64, queries_total: u64, first_after_wake: bool) {
    let m = c.cx.sh.mutations.load(Ordering::SeqCst);
    let target = (m * queries_total)
        .checked_div(muts_total)
        .unwrap_or(queries_total);
    c.first_after_wake = first_after_wake;
    let mut n = 0;
    while c.counts.queries < target.max(1) || n == 0 {
        let before = c.counts.queries;
        c.step();
        if c.counts.queries > before {
            n += 1;
        }
    }
}

fn run_child_waitpid(cx: &Ctx, ops: u64) -> Totals {
    let (muts, queries) = split(ops);
    let mut rng = Rng::new(cx.seed ^ 0x5555);
    let mut c = Checker::new(cx, cx.seed ^ 0x3333, false);
    while cx.sh.mutations.load(Ordering::SeqCst) < muts {
        let batch = (1 + rng.below(6)).min(muts - cx.sh.mutations.load(Ordering::SeqCst));
        let seed = rng.next_u64();
        let pid = fork();
        if pid == 0 {
            let mut m = Mutator::new(cx, seed, &format!("child {}", getpid()));
            for _ in 0..batch {
                m.step();
            }
            child_exit(0);
        }
        wait_child(cx, pid);
        parent_queries(&mut c, muts, queries, false);
    }
    verbose_outcomes(&c);
    Totals { counts: c.counts }
}

fn run_child_pipe(cx: &Ctx, ops: u64) -> Totals {
    let (muts, queries) = split(ops);
    let mut rng = Rng::new(cx.seed ^ 0x6666);
    let (mut p2c, mut c2p) = ([0i32; 2], [0i32; 2]);
    // SAFETY: pipe2 with a two-int array each.
    unsafe {
        assert_eq!(libc::pipe2(p2c.as_mut_ptr(), libc::O_CLOEXEC), 0);
        assert_eq!(libc::pipe2(c2p.as_mut_ptr(), libc::O_CLOEXEC), 0);
    }
    let seed = rng.next_u64();
    let pid = fork();
    if pid == 0 {
        close(p2c[1]);
        close(c2p[0]);
        let mut m = Mutator::new(cx, seed, &format!("child {}", getpid()));
        loop {
            let mut b = [0u8; 1];
            // SAFETY: read into a one-byte buffer.
            let n = unsafe { libc::read(p2c[0], b.as_mut_ptr().cast(), 1) };
            if n != 1 || b[0] == 0 {
                child_exit(0);
            }
            for _ in 0..b[0] {
                m.step();
            }
            // SAFETY: write a one-byte buffer.
            unsafe { libc::write(c2p[1], b.as_ptr().cast(), 1) };
        }
    }
    close(p2c[0]);
    close(c2p[1]);
    let mut c = Checker::new(cx, cx.seed ^ 0x3333, false);
    while cx.sh.mutations.load(Ordering::SeqCst) < muts {
        let batch = (1 + rng.below(4)).min(muts - cx.sh.mutations.load(Ordering::SeqCst)) as u8;
        let b = [batch];
        let mut r = [0u8; 1];
        // SAFETY: one-byte write and read on our pipe ends.
        let (w, n) = unsafe {
            (
                libc::write(p2c[1], b.as_ptr().cast(), 1),
                libc::read(c2p[0], r.as_mut_ptr().cast(), 1),
            )
        };
        if w != 1 || n != 1 {
            wait_child(cx, pid);
            panic!("the child went away without failing");
        }
        parent_queries(&mut c, muts, queries, true);
    }
    let b = [0u8];
    // SAFETY: one-byte write on our pipe end.
    unsafe { libc::write(p2c[1], b.as_ptr().cast(), 1) };
    wait_child(cx, pid);
    verbose_outcomes(&c);
    Totals { counts: c.counts }
}

fn run_child_shm(cx: &Ctx, ops: u64) -> Totals {
    let (muts, queries) = split(ops);
    let mut rng = Rng::new(cx.seed ^ 0x7777);
    let sh = cx.sh;
    sh.turn.store(0, Ordering::SeqCst);
    let seed = rng.next_u64();
    let pid = fork();
    if pid == 0 {
        let mut m = Mutator::new(cx, seed, &format!("child {}", getpid()));
        loop {
            let mut spins = 0u32;
            let n = loop {
                let t = sh.turn.load(Ordering::Acquire);
                if t != 0 {
                    break t;
                }
                spins += 1;
                if spins > 100 {
                    sched_yield();
                }
            };
            if n == QUIT {
                child_exit(0);
            }
            for _ in 0..n {
                m.step();
            }
            // Nothing between the last mutation's system calls and this store.
            sh.turn.store(0, Ordering::Release);
        }
    }
    let mut c = Checker::new(cx, cx.seed ^ 0x3333, false);
    while sh.mutations.load(Ordering::SeqCst) < muts {
        let batch = (1 + rng.below(3)).min(muts - sh.mutations.load(Ordering::SeqCst)) as u32;
        sh.turn.store(batch, Ordering::Release);
        let mut spins = 0u64;
        while sh.turn.load(Ordering::Acquire) != 0 {
            spins += 1;
            if spins > 100 {
                sched_yield();
            }
            if spins.is_multiple_of(200_000) {
                let mut status = 0;
                // SAFETY: non-blocking waitpid on our child.
                if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
                    eprintln!(
                        "difftest: the mutating child {pid} failed (wait status {status:#x}; a MISMATCH report from it is above); seed={} mode={}",
                        cx.seed, cx.mode
                    );
                    std::process::exit(1);
                }
            }
        }
        parent_queries(&mut c, muts, queries, true);
    }
    sh.turn.store(QUIT, Ordering::Release);
    wait_child(cx, pid);
    verbose_outcomes(&c);
    Totals { counts: c.counts }
}

// ---------------------------------------------------------------------------------------------

fn usage() -> ! {
    eprintln!(
        "usage: difftest --seed N --ops N --root DIR --mode inproc|thread|child-waitpid|child-pipe|child-shm [--entry all|legacy|fd|NAME,...] [--exclude-ops OP,...] [--history N] [--verbose]"
    );
    eprintln!(
        "mutation kinds: {}",
        OPS.iter().map(|o| o.0).collect::<Vec<_>>().join(",")
    );
    std::process::exit(2);
}

fn parse_entries(spec: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for word in spec.split(',') {
        match word {
            "all" => out.extend(Entry::ALL),
            "legacy" => out.extend(Entry::ALL.iter().filter(|e| e.name().starts_with("__"))),
            "fd" => out.extend(Entry::ALL.iter().filter(|e| e.is_fd())),
            w => match Entry::ALL.iter().find(|e| e.name() == w) {
                Some(e) => out.push(*e),
                None => {
                    eprintln!("unknown entry point {w:?}");
                    usage();
                }
            },
        }
    }
    out.dedup();
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut seed, mut ops, mut root, mut mode, mut entry, mut verbose) = (
        1u64,
        10_000u64,
        None,
        String::from("inproc"),
        String::from("all"),
        false,
    );
    let mut excluded: Vec<String> = Vec::new();
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--seed" => seed = val().parse().unwrap_or_else(|_| usage()),
            "--ops" => ops = val().parse().unwrap_or_else(|_| usage()),
            "--root" => root = Some(val()),
            "--mode" => mode = val(),
            "--entry" => entry = val(),
            "--verbose" => verbose = true,
            "--history" => {
                HISTORY_LEN.store(val().parse().unwrap_or_else(|_| usage()), Ordering::Relaxed)
            }
            "--exclude-ops" => excluded = val().split(',').map(str::to_string).collect(),
            "--help" | "-h" => usage(),
            _ => usage(),
        }
    }
    let Some(sandbox) = root else { usage() };
    if ![
        "inproc",
        "thread",
        "child-waitpid",
        "child-pipe",
        "child-shm",
    ]
    .contains(&mode.as_str())
    {
        usage();
    }
    let sandbox = std::fs::canonicalize(&sandbox)
        .unwrap_or_else(|e| panic!("--root {sandbox}: {e}"))
        .to_string_lossy()
        .into_owned();
    let tree = format!("{sandbox}/tree");
    let _ = std::fs::remove_dir_all(&tree);
    let legacy = Legacy::resolve();
    let mut entries = parse_entries(&entry);
    let missing: Vec<&str> = entries
        .iter()
        .filter(|e| !legacy.has(**e))
        .map(|e| e.name())
        .collect();
    if !missing.is_empty() {
        eprintln!("difftest: note: not resolvable, not tested: {missing:?}");
    }
    entries.retain(|e| legacy.has(*e));
    assert!(!entries.is_empty(), "no entry point to test");
    let t0 = Instant::now();
    let mut cx = Ctx {
        seed,
        mode: mode.clone(),
        root: tree.clone(),
        sandbox: sandbox.clone(),
        root_fd: -1,
        legacy,
        entries,
        // SAFETY: geteuid has no preconditions.
        is_root_user: unsafe { libc::geteuid() } == 0,
        sh: shared(),
        verbose,
        excluded,
    };
    if let Some(bad) = cx
        .excluded
        .iter()
        .find(|e| !OPS.iter().any(|o| o.0 == e.as_str()))
    {
        eprintln!("unknown mutation kind {bad:?}");
        usage();
    }
    assert!(
        OPS.iter().any(|o| !cx.excluded.iter().any(|e| e == o.0)),
        "every mutation kind excluded"
    );
    let mut rng = Rng::new(seed);
    build_tree(&cx, &mut rng);
    let t = cstr(&tree);
    // SAFETY: open with a NUL-terminated path.
    cx.root_fd = unsafe {
        libc::open(
            t.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    assert!(cx.root_fd >= 0, "open the tree root");
    let fs = diff::fs_type(std::path::Path::new(&tree)).1;
    let totals = match mode.as_str() {
        "inproc" => run_inproc(&cx, ops),
        "thread" => run_thread(&cx, ops),
        "child-waitpid" => run_child_waitpid(&cx, ops),
        "child-pipe" => run_child_pipe(&cx, ops),
        _ => run_child_shm(&cx, ops),
    };
    let sl = cstr("/");
    // SAFETY: chdir with a NUL-terminated path.
    unsafe { libc::chdir(sl.as_ptr()) };
    let c = totals.counts;
    let mutations = cx.sh.mutations.load(Ordering::SeqCst);
    println!(
        "difftest: mode={mode} fs={fs} seed={seed} ops={} queries={} mutations={mutations} strict={} self_atime={} relaxed={} skips={} probe_checks={} aux={} mismatches=0 legacy_from={} pid={} elapsed_ms={}",
        c.queries + mutations,
        c.queries,
        c.strict,
        c.self_atime,
        c.relaxed,
        c.skips,
        cx.sh.probe_checks.load(Ordering::SeqCst),
        c.aux,
        cx.legacy.origin,
        getpid(),
        t0.elapsed().as_millis()
    );
}
