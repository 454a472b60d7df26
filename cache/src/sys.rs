//! Raw Linux system calls for x86_64, with no libc wrapper in between.
//!
//! Nothing here touches `errno`: every call returns the kernel's raw result, a non-negative value
//! or `-errno`, wrapped as [`Result`]. The preloaded library must never call libc's stat family
//! (that would re-enter its own exports) and must never change the program's `errno` on a path
//! where the real call would not have changed it.

use core::arch::asm;

/// An errno value as the kernel returns it (positive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    pub const ENOTDIR: Errno = Errno(libc::ENOTDIR);
    pub const EAGAIN: Errno = Errno(libc::EAGAIN);
    pub const EINTR: Errno = Errno(libc::EINTR);
    pub const EFAULT: Errno = Errno(libc::EFAULT);
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    pub const ENAMETOOLONG: Errno = Errno(libc::ENAMETOOLONG);
    pub const ELOOP: Errno = Errno(libc::ELOOP);
    pub const EACCES: Errno = Errno(libc::EACCES);
    pub const EMFILE: Errno = Errno(libc::EMFILE);
    pub const ENOMEM: Errno = Errno(libc::ENOMEM);
    pub const ECANCELED: Errno = Errno(libc::ECANCELED);
}

/// The result of a raw system call.
pub type SysResult = Result<usize, Errno>;

#[inline(always)]
fn ret(r: isize) -> SysResult {
    if (-4095..0).contains(&r) {
        Err(Errno(-r as i32))
    } else {
        Ok(r as usize)
    }
}

/// `syscall(2)` with up to six arguments — performs the raw system call `n`.
///
/// # Safety
/// The arguments must be valid for system call `n`: pointers the kernel will write through must
/// point to writable memory of the size the call expects, or the kernel writes there. A bad
/// pointer the kernel only dereferences gives `EFAULT`, never a fault in this process.
#[inline(always)]
pub unsafe fn syscall6(
    n: i64,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
    a6: usize,
) -> SysResult {
    let r: isize;
    // SAFETY: the x86_64 Linux system call ABI; the caller vouches for the arguments. rcx and r11
    // are clobbered by `syscall` itself.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") n as isize => r,
            in("rdi") a1,
            in("rsi") a2,
            in("rdx") a3,
            in("r10") a4,
            in("r8") a5,
            in("r9") a6,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret(r)
}

macro_rules! sc {
    ($n:expr) => { syscall6($n as i64, 0, 0, 0, 0, 0, 0) };
    ($n:expr, $a:expr) => { syscall6($n as i64, $a as usize, 0, 0, 0, 0, 0) };
    ($n:expr, $a:expr, $b:expr) => { syscall6($n as i64, $a as usize, $b as usize, 0, 0, 0, 0) };
    ($n:expr, $a:expr, $b:expr, $c:expr) => { syscall6($n as i64, $a as usize, $b as usize, $c as usize, 0, 0, 0) };
    ($n:expr, $a:expr, $b:expr, $c:expr, $d:expr) => { syscall6($n as i64, $a as usize, $b as usize, $c as usize, $d as usize, 0, 0) };
    ($n:expr, $a:expr, $b:expr, $c:expr, $d:expr, $e:expr) => { syscall6($n as i64, $a as usize, $b as usize, $c as usize, $d as usize, $e as usize, 0) };
    ($n:expr, $a:expr, $b:expr, $c:expr, $d:expr, $e:expr, $f:expr) => { syscall6($n as i64, $a as usize, $b as usize, $c as usize, $d as usize, $e as usize, $f as usize) };
}

/// `newfstatat(2)` — the kernel's `fstatat` (what glibc's `stat`, `lstat` and `fstatat` issue).
///
/// # Safety
/// `buf` must be writable for a `struct stat` if the kernel succeeds; `path` may be any pointer
/// (the kernel reports a bad one as `EFAULT`).
#[inline]
pub unsafe fn newfstatat(
    dirfd: i32,
    path: *const u8,
    buf: *mut libc::stat,
    flags: i32,
) -> SysResult {
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        sc!(
            libc::SYS_newfstatat,
            dirfd as isize,
            path,
            buf,
            flags as isize
        )
    }
}

/// `fstat(2)` — stat an open descriptor.
///
/// # Safety
/// As [`newfstatat`].
#[inline]
pub unsafe fn fstat(fd: i32, buf: *mut libc::stat) -> SysResult {
    // SAFETY: forwarded from the caller's contract.
    unsafe { sc!(libc::SYS_fstat, fd as isize, buf) }
}

/// `statx(2)` — extended stat.
///
/// # Safety
/// As [`newfstatat`], for a `struct statx`.
#[inline]
pub unsafe fn statx(
    dirfd: i32,
    path: *const u8,
    flags: i32,
    mask: u32,
    buf: *mut libc::statx,
) -> SysResult {
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        sc!(
            libc::SYS_statx,
            dirfd as isize,
            path,
            flags as isize,
            mask as usize,
            buf
        )
    }
}

/// `readlinkat(2)` — read a symbolic link's body.
///
/// # Safety
/// `buf` must be writable for `len` bytes.
#[inline]
pub unsafe fn readlinkat(dirfd: i32, path: *const u8, buf: *mut u8, len: usize) -> SysResult {
    // SAFETY: forwarded from the caller's contract.
    unsafe { sc!(libc::SYS_readlinkat, dirfd as isize, path, buf, len) }
}

/// `inotify_init1(2)` — create an inotify instance.
#[inline]
pub fn inotify_init1(flags: i32) -> SysResult {
    // SAFETY: no pointers.
    unsafe { sc!(libc::SYS_inotify_init1, flags as isize) }
}

/// `inotify_add_watch(2)` — watch a path.
///
/// # Safety
/// `path` must be NUL-terminated readable memory (a bad one gives `EFAULT`).
#[inline]
pub unsafe fn inotify_add_watch(fd: i32, path: *const u8, mask: u32) -> SysResult {
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        sc!(
            libc::SYS_inotify_add_watch,
            fd as isize,
            path,
            mask as usize
        )
    }
}

/// `inotify_rm_watch(2)` — remove a watch.
#[inline]
pub fn inotify_rm_watch(fd: i32, wd: i32) -> SysResult {
    // SAFETY: no pointers.
    unsafe { sc!(libc::SYS_inotify_rm_watch, fd as isize, wd as isize) }
}

/// `read(2)`.
///
/// # Safety
/// `buf` must be writable for `len` bytes.
#[inline]
pub unsafe fn read(fd: i32, buf: *mut u8, len: usize) -> SysResult {
    // SAFETY: forwarded from the caller's contract.
    unsafe { sc!(libc::SYS_read, fd as isize, buf, len) }
}

/// `write(2)`.
///
/// # Safety
/// `buf` must be readable for `len` bytes.
#[inline]
pub unsafe fn write(fd: i32, buf: *const u8, len: usize) -> SysResult {
    // SAFETY: forwarded from the caller's contract.
    unsafe { sc!(libc::SYS_write, fd as isize, buf, len) }
}

/// `write(2)` of a whole slice.
pub fn write_all(fd: i32, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        // SAFETY: `buf` is a live slice.
        match unsafe { write(fd, buf.as_ptr(), buf.len()) } {
            Ok(0) => return Err(Errno(libc::EIO)),
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `openat(2)`.
///
/// # Safety
/// `path` must be NUL-terminated.
#[inline]
pub unsafe fn openat(dirfd: i32, path: *const u8, flags: i32, mode: u32) -> SysResult {
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        sc!(
            libc::SYS_openat,
            dirfd as isize,
            path,
            flags as isize,
            mode as usize
        )
    }
}

/// `close(2)`.
#[inline]
pub fn close(fd: i32) -> SysResult {
    // SAFETY: no pointers.
    unsafe { sc!(libc::SYS_close, fd as isize) }
}

/// `fcntl(2)` with an integer argument.
#[inline]
pub fn fcntl(fd: i32, cmd: i32, arg: usize) -> SysResult {
    // SAFETY: integer commands only (F_DUPFD_CLOEXEC, F_GETFD, F_SETFD).
    unsafe { sc!(libc::SYS_fcntl, fd as isize, cmd as isize, arg) }
}

/// `epoll_create1(2)`.
#[inline]
pub fn epoll_create1(flags: i32) -> SysResult {
    // SAFETY: no pointers.
    unsafe { sc!(libc::SYS_epoll_create1, flags as isize) }
}

/// `epoll_ctl(2)`.
///
/// # Safety
/// `ev` must be readable (or null for `EPOLL_CTL_DEL`).
#[inline]
pub unsafe fn epoll_ctl(epfd: i32, op: i32, fd: i32, ev: *mut libc::epoll_event) -> SysResult {
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        sc!(
            libc::SYS_epoll_ctl,
            epfd as isize,
            op as isize,
            fd as isize,
            ev
        )
    }
}

/// `epoll_wait(2)`.
///
/// # Safety
/// `evs` must be writable for `max` events.
#[inline]
pub unsafe fn epoll_wait(
    epfd: i32,
    evs: *mut libc::epoll_event,
    max: i32,
    timeout: i32,
) -> SysResult {
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        sc!(
            libc::SYS_epoll_wait,
            epfd as isize,
            evs,
            max as isize,
            timeout as isize
        )
    }
}

/// `poll(2)`.
///
/// # Safety
/// `fds` must be valid for `n` entries.
#[inline]
pub unsafe fn poll(fds: *mut libc::pollfd, n: usize, timeout: i32) -> SysResult {
    // SAFETY: forwarded from the caller's contract.
    unsafe { sc!(libc::SYS_poll, fds, n, timeout as isize) }
}

/// `mmap(2)` of anonymous private memory; returns the address.
pub fn mmap_anon(len: usize) -> Result<*mut u8, Errno> {
    // SAFETY: a fresh anonymous mapping touches no existing memory.
    let r = unsafe {
        sc!(
            libc::SYS_mmap,
            0usize,
            len,
            (libc::PROT_READ | libc::PROT_WRITE) as isize,
            (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE) as isize,
            -1isize,
            0usize
        )
    }?;
    Ok(r as *mut u8)
}

/// `munmap(2)`.
///
/// # Safety
/// Nothing may use the range afterwards.
#[inline]
pub unsafe fn munmap(addr: *mut u8, len: usize) -> SysResult {
    // SAFETY: forwarded from the caller's contract.
    unsafe { sc!(libc::SYS_munmap, addr, len) }
}

/// `madvise(2)`.
///
/// # Safety
/// `advice` must not discard memory still in use unless that is intended (MADV_WIPEONFORK is safe).
#[inline]
pub unsafe fn madvise(addr: *mut u8, len: usize, advice: i32) -> SysResult {
    // SAFETY: forwarded from the caller's contract.
    unsafe { sc!(libc::SYS_madvise, addr, len, advice as isize) }
}

/// `getpid(2)`.
#[inline]
pub fn getpid() -> i32 {
    // SAFETY: no arguments.
    unsafe { sc!(libc::SYS_getpid) }.unwrap_or(0) as i32
}

/// `getppid(2)`.
#[inline]
pub fn getppid() -> i32 {
    // SAFETY: no arguments.
    unsafe { sc!(libc::SYS_getppid) }.unwrap_or(0) as i32
}

/// `gettid(2)`.
#[inline]
pub fn gettid() -> i32 {
    // SAFETY: no arguments.
    unsafe { sc!(libc::SYS_gettid) }.unwrap_or(0) as i32
}

/// `getcwd(2)` — the raw call: writes the NUL-terminated path, returns its length with the NUL.
///
/// # Safety
/// `buf` must be writable for `len` bytes.
#[inline]
pub unsafe fn getcwd(buf: *mut u8, len: usize) -> SysResult {
    // SAFETY: forwarded from the caller's contract.
    unsafe { sc!(libc::SYS_getcwd, buf, len) }
}

/// `getrlimit(2)` via `prlimit64` on this process.
pub fn getrlimit(resource: u32) -> Result<libc::rlimit, Errno> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a live, writable rlimit.
    unsafe {
        sc!(
            libc::SYS_prlimit64,
            0usize,
            resource as usize,
            0usize,
            &mut r as *mut libc::rlimit
        )
    }?;
    Ok(r)
}
