//! Keeping the cache exact: the inotify instance, event application, the per-hit barrier, and
//! flushing on overflow, unknown watches and mount changes.
//!
//! Events are queued inside the modifying system call, before it returns. So if a hit proves
//! that the queue is empty (the barrier) and that no batch was being applied meanwhile (`gen`
//! unchanged and even), every change that happened-before the call is already reflected.

use crate::dcache::*;
use crate::sys::{self, Errno};
use crate::{Cache, PerThread};
use core::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering::*};

/// What a directory or file watch listens for. Child events arrive with a name on the
/// directory's watch; self events on the inode's own watch.
pub const WATCH_MASK: u32 = libc::IN_ATTRIB
    | libc::IN_MODIFY
    | libc::IN_ACCESS
    | libc::IN_CLOSE_WRITE
    | libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_DONT_FOLLOW;

const ENTRY_EVENTS: u32 =
    libc::IN_CREATE | libc::IN_DELETE | libc::IN_MOVED_FROM | libc::IN_MOVED_TO;
const SELF_GONE: u32 = libc::IN_DELETE_SELF | libc::IN_MOVE_SELF | libc::IN_UNMOUNT;

/// Reads of the inotify queue one drain makes before it gives up and flushes (each read takes up
/// to 4 KiB of events, about a hundred).
const MAX_DRAIN_READS: u32 = 64;

/// Set once the kernel refused an io_uring barrier for a reason that is not this thread's: every
/// thread uses epoll from then on.
static RING_BROKEN: AtomicBool = AtomicBool::new(false);

/// The descriptors the library owns (inotify, mountinfo, per-thread epolls), as a bitmap, so
/// that the program's `close`/`dup2` family can be checked against them.
static OURS: [AtomicU64; 64] = [const { AtomicU64::new(0) }; 64];

/// Lowest fd number the library uses: out of the way of programs that expect small numbers;
/// `None` when the descriptor limit leaves no such room (then the library stays out entirely).
pub fn fd_base() -> Option<usize> {
    fd_limits().map(|(base, _)| base)
}

/// `fd_base()` and the soft `RLIMIT_NOFILE` it derives from.
fn fd_limits() -> Option<(usize, usize)> {
    let cur = sys::getrlimit(libc::RLIMIT_NOFILE)
        .map(|r| r.rlim_cur)
        .unwrap_or(1024);
    if cur < 64 {
        return None;
    }
    let cur = cur.min(usize::MAX as u64) as usize;
    Some(((cur.saturating_mul(3) / 4).min(1000), cur))
}

/// Descriptors above `fd_base()` the library may come to hold: the inotify and mountinfo fds,
/// and a barrier fd and a mountinfo fd for each of up to 64 threads, with room to spare.
const FD_SPAN: usize = 192;

/// Grows the process's descriptor table to hold the library's high numbers now. Called from the
/// constructor, while the process is still single-threaded: growing a table that threads share
/// waits for an RCU grace period (`expand_fdtable` -> `synchronize_rcu`), measured at ~11 ms
/// here, against ~4 us single-threaded. Without it, a multithreaded program paid that when the
/// cache turned on (cargo: +15 ms on a 27 ms run).
pub fn reserve_fd_table() {
    let Some((base, cur)) = fd_limits() else {
        return;
    };
    let top = (base + FD_SPAN).min(cur.saturating_sub(1));
    // SAFETY: NUL-terminated constant path; an O_PATH descriptor touches nothing.
    let Ok(fd) = (unsafe {
        sys::openat(
            libc::AT_FDCWD,
            b"/\0".as_ptr(),
            libc::O_PATH | libc::O_CLOEXEC,
            0,
        )
    }) else {
        return;
    };
    if let Ok(d) = sys::fcntl(fd as i32, libc::F_DUPFD_CLOEXEC, top) {
        let _ = sys::close(d as i32);
    }
    let _ = sys::close(fd as i32);
}

/// Moves `fd` to a high, close-on-exec number and records it as ours. If no high number is
/// free, closes it and returns `None`: the library never keeps a descriptor in the program's
/// low range, where it would take one of the program's last free numbers.
pub fn hide_fd(fd: i32) -> Option<i32> {
    let moved = fd_base().and_then(|base| sys::fcntl(fd, libc::F_DUPFD_CLOEXEC, base).ok());
    let _ = sys::close(fd);
    let fd = moved? as i32;
    if (0..4096).contains(&fd) {
        OURS[fd as usize / 64].fetch_or(1 << (fd % 64), Relaxed);
    }
    Some(fd)
}

/// Closes one of our descriptors.
pub fn close_own(fd: i32) {
    if fd < 0 {
        return;
    }
    if (0..4096).contains(&fd) {
        OURS[fd as usize / 64].fetch_and(!(1 << (fd % 64)), Relaxed);
    }
    let _ = sys::close(fd);
}

/// Lets go of inotify instance `fd` without waiting for the kernel to tear it down.
///
/// Destroying an inotify group that had watches waits for an SRCU grace period
/// (`fsnotify_destroy_group` -> `fsnotify_wait_marks_destroyed`): 12-15 ms on the development VM,
/// paid by whoever drops the last reference, at process exit the exiting process. So the last
/// reference is handed to the kernel's unix-socket garbage collector instead: the descriptor is
/// sent, together with the receiving socket itself, into a socketpair that is then closed. The
/// unreachable cycle is collected by `unix_gc`, which runs from a workqueue, and the instance is
/// destroyed there, off the program's path. If that fails, the descriptor is simply closed.
pub fn retire(fd: i32) {
    if fd < 0 {
        return;
    }
    let mut sv = [-1i32; 2];
    // SAFETY: `sv` holds two ints, written by the kernel.
    let pair = unsafe {
        sys::syscall6(
            libc::SYS_socketpair,
            libc::AF_UNIX as usize,
            (libc::SOCK_DGRAM | libc::SOCK_CLOEXEC) as usize,
            0,
            sv.as_mut_ptr() as usize,
            0,
            0,
        )
    };
    if pair.is_ok() {
        const SPACE: usize = 32; // CMSG_SPACE(2 * sizeof(int)) on x86_64
        let mut control = [0u64; SPACE / 8];
        let mut byte = 0u8;
        let mut iov = libc::iovec {
            iov_base: (&mut byte as *mut u8).cast(),
            iov_len: 1,
        };
        // SAFETY: all-zero is a valid msghdr; the pointers set below outlive the call.
        let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = SPACE;
        // SAFETY: `msg` has a control buffer of CMSG_SPACE(8) bytes, so the first header and its
        // 8 data bytes fit; CMSG_FIRSTHDR/CMSG_DATA only compute addresses inside it.
        unsafe {
            let cm = libc::CMSG_FIRSTHDR(&msg);
            (*cm).cmsg_level = libc::SOL_SOCKET;
            (*cm).cmsg_type = libc::SCM_RIGHTS;
            (*cm).cmsg_len = libc::CMSG_LEN(8) as usize;
            let data = libc::CMSG_DATA(cm) as *mut i32;
            data.write_unaligned(fd);
            data.add(1).write_unaligned(sv[1]);
            let _ = sys::syscall6(
                libc::SYS_sendmsg,
                sv[0] as usize,
                &msg as *const libc::msghdr as usize,
                libc::MSG_DONTWAIT as usize,
                0,
                0,
                0,
            );
        }
        let _ = sys::close(sv[0]);
        let _ = sys::close(sv[1]);
    }
    close_own(fd);
}

/// Whether the library owns a descriptor in `lo..=hi` (descriptors above 4095 are never
/// recorded: `hide_fd` keeps below 1000 whenever the limit allows).
pub fn owns_any(lo: u32, hi: u32) -> bool {
    let hi = hi.min(4095);
    (lo..=hi).any(|fd| OURS[fd as usize / 64].load(Relaxed) & 1 << (fd % 64) != 0)
}

impl Cache {
    /// The writer lock: a try-lock only. Whoever cannot take it falls back (never waits, so a
    /// signal handler interrupting the holder in the same thread cannot deadlock).
    pub(crate) fn try_lock(&self, pt: &PerThread) -> bool {
        let h = self.arena.header();
        let tid = match pt.tid.load(Relaxed) {
            0 => {
                let t = (sys::gettid() as u32).max(1);
                pt.tid.store(t, Relaxed);
                t
            }
            t => t,
        };
        // Acquire pairs with the Release in `unlock`: we see everything the last holder wrote.
        h.wlock.compare_exchange(0, tid, Acquire, Relaxed).is_ok()
    }

    pub(crate) fn unlock(&self) {
        // Release pairs with the Acquire CAS in `try_lock`.
        self.arena.header().wlock.store(0, Release);
    }

    /// The barrier: true when an event or a mount change is pending. Gives the thread its own
    /// barrier on first use: an io_uring whose state is read without a system call (see
    /// `ring`), or else an epoll instance watching the shared inotify fd and the thread's own
    /// mountinfo fd.
    #[inline]
    pub(crate) fn barrier(&self, pt: &PerThread) -> Result<bool, crate::Reason> {
        // SAFETY: the ring belongs to this thread for the duration of the call.
        let ring = unsafe { &*pt.ring.get() };
        if ring.ready() {
            return Ok(!ring.quiet());
        }
        self.barrier_epoll(pt)
    }

    fn barrier_epoll(&self, pt: &PerThread) -> Result<bool, crate::Reason> {
        let h = self.arena.header();
        let ig = h.inotify_gen.load(Acquire);
        let ep = pt.epoll_fd.load(Relaxed);
        if ep <= 0 || pt.epoll_gen.load(Relaxed) != ig {
            self.setup_barrier(pt, ig)?;
            // SAFETY: as in `barrier`.
            let ring = unsafe { &*pt.ring.get() };
            if ring.ready() {
                return Ok(!ring.quiet());
            }
        }
        let ep = pt.epoll_fd.load(Relaxed);
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 2];
        // SAFETY: `evs` holds 2 events.
        match unsafe { sys::epoll_wait(ep, evs.as_mut_ptr(), 2, 0) } {
            Ok(0) => {
                // A thread that keeps hitting trades its epoll for a ring (whose first setup
                // in a process costs ~130 us here, some 1400 epoll barriers' worth).
                let n = pt.calls.load(Relaxed).wrapping_add(1);
                pt.calls.store(n, Relaxed);
                if n >= self.cfg.ring_after.load(Relaxed) {
                    self.upgrade_to_ring(pt, ig);
                }
                Ok(false)
            }
            Ok(n) => {
                for e in &evs[..n] {
                    if e.u64 == 2 {
                        // Our own mountinfo fd fired (each thread has its own, since poll
                        // reports a mount change once per open file). Flag it for the drainer.
                        h.mount_dirty.store(1, Release);
                    }
                }
                Ok(true)
            }
            Err(Errno::EINTR) => Ok(true),
            Err(_) => {
                // Our epoll fd was closed or replaced by the program: stop caching.
                self.disable();
                Err(crate::Reason::Disabled)
            }
        }
    }

    /// Consumes this thread's ring notices (writer lock held, just before the inotify queue is
    /// read to the end). A ring that misbehaves is released: the thread goes on with epoll, and
    /// since a mount notice may have been lost with it, everything is flushed once.
    fn consume_ring(&self, pt: &PerThread) {
        // SAFETY: the ring belongs to this thread for the duration of the call.
        let ring = unsafe { &*pt.ring.get() };
        if !ring.ready() {
            return;
        }
        let h = self.arena.header();
        match ring.consume() {
            Ok(n) => {
                if n.mounts {
                    h.mount_dirty.store(1, Release);
                }
            }
            Err(_) => {
                // As at thread exit: the ring, its mountinfo fd and the barrier slot go.
                self.release_thread(pt);
                pt.calls.store(u32::MAX / 2, Relaxed); // set up epoll on the next barrier
                RING_BROKEN.store(true, Relaxed);
                h.mount_dirty.store(1, Release);
            }
        }
    }

    #[cold]
    fn setup_barrier(&self, pt: &PerThread, ig: u32) -> Result<(), crate::Reason> {
        let h = self.arena.header();
        if !self.owner(pt) {
            // A vfork child shares this thread's state: a barrier it made would be the child's
            // (its descriptors, its ring's submitter) and stale for the parent.
            return Err(crate::Reason::Busy);
        }
        let old = pt.epoll_fd.load(Relaxed);
        if old > 0 {
            // Same thread, stale inotify registration: rebuild.
            release_thread_fds(pt);
            h.epolls
                .store(h.epolls.load(Relaxed).saturating_sub(1), Relaxed);
        }
        let n = pt.calls.load(Relaxed);
        pt.calls.store(n + 1, Relaxed);
        if n < self.cfg.epoll_after.load(Relaxed) {
            return Err(crate::Reason::Cold);
        }
        // Each epoll registered on the inotify fd costs every writer on the machine ~50 ns per
        // event: only so many threads get one; the rest pass through.
        if h.epolls.load(Relaxed) >= self.cfg.max_epolls.load(Relaxed) {
            return Err(crate::Reason::Busy);
        }
        if self.cfg.ring_after.load(Relaxed) == 0 && self.setup_ring(pt, ig, -1) {
            h.epolls.store(h.epolls.load(Relaxed) + 1, Relaxed);
            return Ok(());
        }
        let Ok(ep) = sys::epoll_create1(libc::EPOLL_CLOEXEC) else {
            return Err(crate::Reason::Watch);
        };
        let Some(ep) = hide_fd(ep as i32) else {
            return Err(crate::Reason::Watch);
        };
        let Some(mfd) = open_mountinfo() else {
            close_own(ep);
            return Err(crate::Reason::Watch);
        };
        let ifd = h.inotify_fd.load(Acquire);
        let mut e1 = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 1,
        };
        let mut e2 = libc::epoll_event {
            events: (libc::EPOLLPRI | libc::EPOLLERR) as u32,
            u64: 2,
        };
        // SAFETY: both events are live; the fds are ours.
        let ok = unsafe {
            sys::epoll_ctl(ep, libc::EPOLL_CTL_ADD, ifd, &mut e1).is_ok()
                && sys::epoll_ctl(ep, libc::EPOLL_CTL_ADD, mfd, &mut e2).is_ok()
        };
        if !ok {
            close_own(ep);
            close_own(mfd);
            return Err(crate::Reason::Watch);
        }
        pt.mount_fd.store(mfd, Relaxed);
        pt.epoll_gen.store(ig, Relaxed);
        pt.epoll_fd.store(ep, Relaxed);
        h.epolls.store(h.epolls.load(Relaxed) + 1, Relaxed);
        // The mount table may have changed after the cache's table was read and before our fd
        // existed: a fresh fd does not report that, but the cache's own fd (reset just before
        // each table load) does.
        if mount_changed(h.mount_fd.load(Relaxed)) {
            h.mount_dirty.store(1, Release);
        }
        Ok(())
    }

    /// Replaces the thread's epoll barrier by a ring, keeping its mountinfo fd (a change that
    /// fd had to report was already taken by the last `epoll_wait`, and the ring's first poll
    /// sees whatever the inotify queue holds now). On failure the thread keeps its epoll.
    #[cold]
    fn upgrade_to_ring(&self, pt: &PerThread, ig: u32) {
        pt.calls.store(0, Relaxed);
        if !self.owner(pt) {
            return;
        }
        let ep = pt.epoll_fd.load(Relaxed);
        if ep <= 0 || !self.setup_ring(pt, ig, pt.mount_fd.load(Relaxed)) {
            return;
        }
        // The thread keeps its barrier slot (`epolls`), now a ring.
        close_own(ep);
    }

    /// Gives the thread an io_uring barrier, polling `mfd` (or a new mountinfo fd if -1); the
    /// caller accounts for the thread's barrier slot (`epolls`). False if the kernel refuses one (then the thread uses epoll, and so will every later thread if
    /// the refusal is not about this thread).
    #[cold]
    fn setup_ring(&self, pt: &PerThread, ig: u32, mfd: i32) -> bool {
        if !self.cfg.ring.load(Relaxed) || RING_BROKEN.load(Relaxed) {
            return false;
        }
        let h = self.arena.header();
        let own_mfd = mfd < 0;
        let mfd = if own_mfd {
            match open_mountinfo() {
                Some(m) => m,
                None => return false,
            }
        } else {
            mfd
        };
        let ifd = h.inotify_fd.load(Acquire);
        match crate::ring::Ring::setup(ifd, mfd, hide_fd) {
            Ok(r) => {
                // SAFETY: the ring belongs to this thread.
                unsafe { *pt.ring.get() = r };
                pt.mount_fd.store(mfd, Relaxed);
                pt.epoll_gen.store(ig, Relaxed);
                // Marks the thread as having a barrier (the fd itself is the ring's).
                pt.epoll_fd.store(i32::MAX, Relaxed);
                h.rings.store(h.rings.load(Relaxed) + 1, Relaxed);
                if own_mfd && mount_changed(h.mount_fd.load(Relaxed)) {
                    h.mount_dirty.store(1, Release);
                }
                true
            }
            Err(e) => {
                if own_mfd {
                    close_own(mfd);
                }
                if e != Errno::EMFILE && e != Errno::ENOMEM {
                    RING_BROKEN.store(true, Relaxed);
                }
                false
            }
        }
    }

    /// Reads and applies every pending event. Writer lock held. Returns false if the process
    /// is not the one that owns the inotify fd (a vfork child): then nothing is read.
    pub(crate) fn drain(&self, pt: &PerThread) -> bool {
        let h = self.arena.header();
        if !self.owner(pt) {
            return false;
        }
        // SAFETY: the ring belongs to this thread for the duration of the call.
        let ring = unsafe { &*pt.ring.get() };
        if ring.ready() && ring.quiet() && h.mount_dirty.load(Acquire) == 0 {
            // Nothing was queued since this thread last took its notices and read the queue to
            // its end (see `ring`): the queue is empty, a read would say EAGAIN. Skipping it also
            // leaves `gen` (and so every memoized walk) alone.
            return true;
        }
        self.gen_begin();
        // Notices first, then the queue to its end: whatever is queued after the notices were
        // taken shows as a new one (see `ring`).
        self.consume_ring(pt);
        if h.mount_dirty.swap(0, AcqRel) != 0 {
            self.flush(pt);
        }
        // SAFETY: the scratch buffer belongs to this thread (in_lib guard) and is 4096 bytes.
        let buf = unsafe { &mut (*pt.scratch.get()).events };
        let mut reads = 0;
        loop {
            if reads == MAX_DRAIN_READS {
                // Events arrive as fast as they are read (a writer busy in a watched directory,
                // or one that writes because we read, as strace logging into one does): stop
                // chasing them. Forgetting everything removes every watch, so what is left in
                // the queue is finite and thrown away, and nothing stale can be answered.
                self.flush(pt);
                break;
            }
            reads += 1;
            let fd = h.inotify_fd.load(Relaxed);
            // SAFETY: `buf` is writable for its length.
            let r = unsafe { sys::read(fd, buf.as_mut_ptr(), buf.len()) };
            let n = match r {
                Ok(0) | Err(Errno::EAGAIN) => break,
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(_) => {
                    self.gen_end();
                    self.disable();
                    return false;
                }
            };
            let mut off = 0;
            let mut flushed = false;
            while off + 16 <= n {
                let wd = i32::from_ne_bytes(buf[off..off + 4].try_into().unwrap_or([0; 4]));
                let mask = u32::from_ne_bytes(buf[off + 4..off + 8].try_into().unwrap_or([0; 4]));
                let len = u32::from_ne_bytes(buf[off + 12..off + 16].try_into().unwrap_or([0; 4]))
                    as usize;
                let end = (off + 16 + len).min(n);
                let raw = &buf[off + 16..end];
                let name = &raw[..raw.iter().position(|&c| c == 0).unwrap_or(raw.len())];
                if !self.apply(wd, mask, name) {
                    flushed = true;
                    break;
                }
                off = end;
            }
            if flushed {
                // Overflow or an unknown watch: start over from an empty cache (the old fd, with
                // whatever it still holds, is gone).
                self.flush(pt);
            }
        }
        self.gen_end();
        true
    }

    /// Applies one event; false means "flush everything".
    fn apply(&self, wd: i32, mask: u32, name: &[u8]) -> bool {
        let a = &self.arena;
        if mask & libc::IN_Q_OVERFLOW != 0 || wd < 0 {
            return false;
        }
        let Some(e) = a.wd_entry(wd, false) else {
            return false;
        };
        e.gen.store(e.gen.load(Relaxed).wrapping_add(1), Relaxed);
        if mask & libc::IN_IGNORED != 0 {
            a.for_each_on_wd(wd, |i| a.kill(i));
            a.drop_wd(wd);
            return true;
        }
        if !name.is_empty() {
            a.for_each_on_wd(wd, |d| {
                let dn = a.node(d);
                if dn.flags.load(Relaxed) & IS_DIR == 0 {
                    return;
                }
                let dref = NodeRef {
                    idx: d,
                    incarn: dn.incarn.load(Relaxed),
                };
                let child = a.lookup_fast(dref, name).map(|(c, f, _)| (c, f));
                if mask & ENTRY_EVENTS != 0 {
                    a.bump_entries(d);
                    a.forget_attrs(d);
                    if let Some((c, _)) = child {
                        a.kill(c);
                    }
                } else if let Some((c, f)) = child {
                    if f & (IS_DIR | IS_LNK) != 0 && mask & libc::IN_ATTRIB != 0 || f & IS_LNK != 0
                    {
                        a.kill(c);
                    } else {
                        a.forget_attrs(c);
                    }
                }
            });
        } else {
            a.for_each_on_wd(wd, |i| {
                let f = a.node(i).flags.load(Relaxed);
                if mask & SELF_GONE != 0
                    || (mask & libc::IN_ATTRIB != 0 && f & (IS_DIR | IS_LNK) != 0)
                {
                    a.bump_entries(i);
                    a.kill(i);
                } else {
                    a.forget_attrs(i);
                }
            });
        }
        true
    }

    /// Starts a batch that may invalidate: `gen` becomes odd (readers will fall back).
    pub(crate) fn gen_begin(&self) {
        let h = self.arena.header();
        h.gen.store(h.gen.load(Relaxed) | 1, Relaxed);
        // SeqCst fence: the odd gen is visible before any event is consumed from the queue, so
        // a reader whose barrier found the queue empty because we read it sees gen move.
        fence(SeqCst);
    }

    /// Ends the batch: `gen` becomes even and larger.
    pub(crate) fn gen_end(&self) {
        let h = self.arena.header();
        // Release pairs with the readers' Acquire fence before their second gen load.
        h.gen.store((h.gen.load(Relaxed) | 1) + 1, Release);
    }

    /// Forgets everything: no watch left, nothing queued, an empty arena, a re-read mount
    /// table. Writer lock held, `gen` odd.
    pub(crate) fn flush(&self, pt: &PerThread) {
        let h = self.arena.header();
        h.flushes.store(h.flushes.load(Relaxed) + 1, Relaxed);
        // Keep the instance (replacing it would make someone wait for the old group's teardown,
        // or pile instances up waiting for it): remove every watch, then throw away what the
        // queue holds, all of it about those watches (IN_IGNORED included).
        let fd = h.inotify_fd.load(Relaxed);
        self.arena.for_each_wd(|wd| {
            let _ = sys::inotify_rm_watch(fd, wd);
        });
        // SAFETY: the scratch buffers belong to this thread.
        let sc = unsafe { &mut *pt.scratch.get() };
        // SAFETY: `events` is writable for its length.
        while let Ok(n) = unsafe { sys::read(fd, sc.events.as_mut_ptr(), sc.events.len()) } {
            if n == 0 {
                break;
            }
        }
        self.arena.clear();
        let mfd = h.mount_fd.load(Relaxed);
        let _ = mount_changed(mfd); // reset its change report before reading the table
        if !self.mounts.load(mfd, &mut sc.walk[0]) {
            self.disable();
        }
    }
}

/// Closes a thread's barrier fds (thread exit, or rebuilding after a flush).
pub fn release_thread_fds(pt: &PerThread) {
    // SAFETY: the calling thread owns `pt` (thread exit, or its own rebuild).
    let ring = unsafe { &mut *pt.ring.get() };
    let had_ring = ring.ready();
    ring.release();
    let ep = pt.epoll_fd.swap(-1, Relaxed);
    if ep > 0 && !had_ring {
        close_own(ep);
    }
    let m = pt.mount_fd.swap(-1, Relaxed);
    if m > 0 {
        close_own(m);
    }
}

/// A new descriptor of `/proc/self/mountinfo`, moved out of the program's way.
pub(crate) fn open_mountinfo() -> Option<i32> {
    // SAFETY: NUL-terminated constant path.
    let m = unsafe {
        sys::openat(
            libc::AT_FDCWD,
            b"/proc/self/mountinfo\0".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
            0,
        )
    };
    hide_fd(m.ok()? as i32)
}

/// Whether the mount table changed since `fd` was last polled (`POLLPRI` on mountinfo; the
/// report is consumed by this poll).
pub fn mount_changed(fd: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLPRI,
        revents: 0,
    };
    // SAFETY: one live pollfd.
    matches!(unsafe { sys::poll(&mut p, 1, 0) }, Ok(1))
        && p.revents & (libc::POLLPRI | libc::POLLERR) != 0
}
