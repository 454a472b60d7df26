//! The barrier without a system call: a per-thread io_uring holding two multishot polls, one on
//! the shared inotify fd and one on the thread's own `/proc/self/mountinfo` fd.
//!
//! Why a memory load is a sound barrier here (kernel 6.1+, `io_uring/tw.c`, `io_uring/poll.c`):
//! the ring is made with `IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
//! IORING_SETUP_TASKRUN_FLAG`. When inotify queues an event it wakes its wait queue from inside
//! the modifying system call; the poll's wake callback (`io_poll_wake`) either finds the poll
//! already owned (its task work is queued or running) or queues task work for the ring, and
//! `io_req_local_work_add` then sets `IORING_SQ_TASKRUN` in the ring's `sq_flags` with a locked
//! `atomic_or`, in the writer's context, before the writer's call returns. That work only runs
//! in this thread's own `io_uring_enter`, which clears the flag before taking the work list and
//! sets it again if work is left over (`__io_run_local_work`, `io_run_local_work_continue`);
//! running it posts a CQE while the fd is ready. Wake callbacks of one wait queue run one at a
//! time under its lock, so a second writer cannot return before the first has set the flag.
//!
//! So, while this thread runs in user space, "`sq_flags` has neither `TASKRUN` nor
//! `CQ_OVERFLOW`, and the CQ ring is empty" means: nothing was queued to inotify (and the mount
//! table did not change) since this thread last consumed its CQEs. The cache consumes them only
//! with the writer lock held and immediately before reading the inotify queue until `EAGAIN`
//! (`Cache::drain`), so every event queued before that consumption is read (and applied, or being
//! applied under an odd `gen`), and every event queued after it shows in the ring. That is what
//! the epoll barrier proves, for the price of two loads instead of a system call.
//!
//! Anything unexpected (setup refused, a poll ended, a CQE with an error) releases the ring and
//! the thread uses the epoll barrier instead.

use crate::sys::{self, Errno};
use core::sync::atomic::{AtomicU32, Ordering::*};

const SYS_IO_URING_SETUP: i64 = 425;
const SYS_IO_URING_ENTER: i64 = 426;

const SETUP_CQSIZE: u32 = 1 << 3;
const SETUP_TASKRUN_FLAG: u32 = 1 << 9;
const SETUP_SINGLE_ISSUER: u32 = 1 << 12;
const SETUP_DEFER_TASKRUN: u32 = 1 << 13;
const FEAT_SINGLE_MMAP: u32 = 1 << 0;
const FEAT_NODROP: u32 = 1 << 1;
const SQ_CQ_OVERFLOW: u32 = 1 << 1;
const SQ_TASKRUN: u32 = 1 << 2;
const ENTER_GETEVENTS: usize = 1 << 0;
const OP_POLL_ADD: u8 = 6;
const POLL_ADD_MULTI: u32 = 1 << 0;
const CQE_F_MORE: u32 = 1 << 1;
const OFF_SQ_RING: usize = 0;
const OFF_SQES: usize = 0x1000_0000;

const SQ_ENTRIES: u32 = 2;
const CQ_ENTRIES: u32 = 16;
const SQE_SIZE: usize = 64;
const CQE_SIZE: usize = 16;

/// `user_data` of the inotify poll and of the mountinfo poll.
pub const TAG_INOTIFY: u64 = 1;
pub const TAG_MOUNTS: u64 = 2;

#[repr(C)]
#[derive(Default)]
struct SqOffsets {
    head: u32,
    tail: u32,
    ring_mask: u32,
    ring_entries: u32,
    flags: u32,
    dropped: u32,
    array: u32,
    resv1: u32,
    user_addr: u64,
}

#[repr(C)]
#[derive(Default)]
struct CqOffsets {
    head: u32,
    tail: u32,
    ring_mask: u32,
    ring_entries: u32,
    overflow: u32,
    cqes: u32,
    flags: u32,
    resv1: u32,
    user_addr: u64,
}

#[repr(C)]
#[derive(Default)]
struct Params {
    sq_entries: u32,
    cq_entries: u32,
    flags: u32,
    sq_thread_cpu: u32,
    sq_thread_idle: u32,
    features: u32,
    wq_fd: u32,
    resv: [u32; 3],
    sq_off: SqOffsets,
    cq_off: CqOffsets,
}

const _: () = assert!(core::mem::size_of::<Params>() == 120);

/// What the CQEs said.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Notices {
    /// The mount table changed.
    pub mounts: bool,
}

/// One thread's ring. All zero (`fd == 0`) means none; only the owning thread touches it.
pub struct Ring {
    fd: i32,
    map: usize,
    map_len: usize,
    sqes: usize,
    sqes_len: usize,
    sq_flags: usize,
    sq_tail: usize,
    sq_mask: u32,
    sq_array: usize,
    cq_head: usize,
    cq_tail: usize,
    cq_mask: u32,
    cqes: usize,
}

impl Ring {
    pub const fn none() -> Self {
        Ring {
            fd: 0,
            map: 0,
            map_len: 0,
            sqes: 0,
            sqes_len: 0,
            sq_flags: 0,
            sq_tail: 0,
            sq_mask: 0,
            sq_array: 0,
            cq_head: 0,
            cq_tail: 0,
            cq_mask: 0,
            cqes: 0,
        }
    }

    /// Whether this thread has a working ring.
    #[inline(always)]
    pub fn ready(&self) -> bool {
        self.fd > 0
    }

    #[inline(always)]
    fn word(&self, at: usize) -> &AtomicU32 {
        // SAFETY: `at` is the address of a 4-byte-aligned u32 inside the live ring mapping
        // (offsets given by the kernel at setup), which stays mapped while `fd > 0`.
        unsafe { &*(at as *const AtomicU32) }
    }

    /// The barrier: true when nothing was queued (and the mount table did not change) since the
    /// CQEs were last consumed. Two loads; call only when [`ready`](Self::ready).
    #[inline(always)]
    pub fn quiet(&self) -> bool {
        // Acquire: what the kernel wrote before setting the flag or publishing a CQE is visible.
        self.word(self.sq_flags).load(Acquire) & (SQ_TASKRUN | SQ_CQ_OVERFLOW) == 0
            && self.word(self.cq_tail).load(Acquire) == self.word(self.cq_head).load(Relaxed)
    }

    /// Creates a ring polling `ifd` (readable) and `mfd` (mount change) for the calling thread,
    /// which becomes its only submitter. `hide` moves the ring's fd out of the program's way.
    pub fn setup(ifd: i32, mfd: i32, hide: impl Fn(i32) -> Option<i32>) -> Result<Ring, Errno> {
        let mut p = Params {
            cq_entries: CQ_ENTRIES,
            flags: SETUP_CQSIZE | SETUP_TASKRUN_FLAG | SETUP_SINGLE_ISSUER | SETUP_DEFER_TASKRUN,
            ..Params::default()
        };
        // SAFETY: `p` is a writable io_uring_params.
        let fd = unsafe {
            sys::syscall6(
                SYS_IO_URING_SETUP,
                SQ_ENTRIES as usize,
                &mut p as *mut Params as usize,
                0,
                0,
                0,
                0,
            )
        }? as i32;
        let Some(fd) = hide(fd) else {
            return Err(Errno::EMFILE);
        };
        let mut r = Ring::none();
        r.fd = fd;
        if p.features & (FEAT_SINGLE_MMAP | FEAT_NODROP) != FEAT_SINGLE_MMAP | FEAT_NODROP {
            r.release();
            return Err(Errno::EINVAL);
        }
        let sq_len = p.sq_off.array as usize + p.sq_entries as usize * 4;
        let cq_len = p.cq_off.cqes as usize + p.cq_entries as usize * CQE_SIZE;
        r.map_len = sq_len.max(cq_len);
        r.sqes_len = p.sq_entries as usize * SQE_SIZE;
        let (Ok(map), Ok(sqes)) = (
            map_ring(fd, r.map_len, OFF_SQ_RING),
            map_ring(fd, r.sqes_len, OFF_SQES),
        ) else {
            r.release();
            return Err(Errno::ENOMEM);
        };
        r.map = map;
        r.sqes = sqes;
        r.sq_flags = map + p.sq_off.flags as usize;
        r.sq_tail = map + p.sq_off.tail as usize;
        r.sq_array = map + p.sq_off.array as usize;
        r.cq_head = map + p.cq_off.head as usize;
        r.cq_tail = map + p.cq_off.tail as usize;
        r.sq_mask = r.word(map + p.sq_off.ring_mask as usize).load(Relaxed);
        r.cq_mask = r.word(map + p.cq_off.ring_mask as usize).load(Relaxed);
        r.cqes = map + p.cq_off.cqes as usize;
        if r.arm(TAG_INOTIFY, ifd, libc::POLLIN as u32).is_err()
            || r.arm(TAG_MOUNTS, mfd, (libc::POLLPRI | libc::POLLERR) as u32)
                .is_err()
        {
            r.release();
            return Err(Errno::EINVAL);
        }
        Ok(r)
    }

    /// Submits a multishot poll of `fd` for `events`, tagged `tag`.
    fn arm(&self, tag: u64, fd: i32, events: u32) -> Result<(), Errno> {
        let tail = self.word(self.sq_tail).load(Relaxed);
        let i = (tail & self.sq_mask) as usize;
        let mut sqe = [0u8; SQE_SIZE];
        sqe[0] = OP_POLL_ADD;
        sqe[4..8].copy_from_slice(&fd.to_ne_bytes());
        sqe[24..28].copy_from_slice(&POLL_ADD_MULTI.to_ne_bytes()); // len: the multishot flag
        sqe[28..32].copy_from_slice(&events.to_ne_bytes()); // poll32_events
        sqe[32..40].copy_from_slice(&tag.to_ne_bytes());
        // SAFETY: SQE `i` and array slot `i` lie inside the live mappings (i <= sq_mask).
        unsafe {
            core::ptr::copy_nonoverlapping(
                sqe.as_ptr(),
                (self.sqes + i * SQE_SIZE) as *mut u8,
                SQE_SIZE,
            );
            *((self.sq_array + i * 4) as *mut u32) = i as u32;
        }
        // Release: the kernel reads the SQE after it sees the new tail.
        self.word(self.sq_tail).store(tail.wrapping_add(1), Release);
        match self.enter(1) {
            Ok(1) => Ok(()),
            Ok(_) => Err(Errno::EINVAL),
            Err(e) => Err(e),
        }
    }

    fn enter(&self, submit: usize) -> Result<usize, Errno> {
        loop {
            // SAFETY: no pointers (no extended argument, no signal mask).
            let r = unsafe {
                sys::syscall6(
                    SYS_IO_URING_ENTER,
                    self.fd as usize,
                    submit,
                    0,
                    ENTER_GETEVENTS,
                    0,
                    0,
                )
            };
            match r {
                Err(Errno::EINTR) => continue,
                r => return r,
            }
        }
    }

    /// Runs the ring's pending work and consumes every CQE. Call with the writer lock held and
    /// read the inotify queue until `EAGAIN` right after (see the module documentation). An
    /// error means the ring can no longer be trusted: release it.
    pub fn consume(&self) -> Result<Notices, Errno> {
        let mut n = Notices::default();
        if self.word(self.sq_flags).load(Acquire) & (SQ_TASKRUN | SQ_CQ_OVERFLOW) != 0 {
            self.enter(0)?;
        }
        let head_w = self.word(self.cq_head);
        let mut head = head_w.load(Relaxed);
        let tail = self.word(self.cq_tail).load(Acquire);
        let mut rearm = [false; 2];
        while head != tail {
            let at = self.cqes + (head & self.cq_mask) as usize * CQE_SIZE;
            // SAFETY: CQE `head & mask` lies inside the live mapping; the Acquire load of the
            // tail made its contents visible.
            let (tag, res, flags) = unsafe {
                (
                    (at as *const u64).read(),
                    ((at + 8) as *const i32).read(),
                    ((at + 12) as *const u32).read(),
                )
            };
            head = head.wrapping_add(1);
            if res < 0 && res != -libc::ECANCELED {
                head_w.store(head, Release);
                return Err(Errno(-res));
            }
            match tag {
                TAG_INOTIFY => rearm[0] |= flags & CQE_F_MORE == 0,
                TAG_MOUNTS => {
                    n.mounts |= res > 0 && res & (libc::POLLPRI | libc::POLLERR) as i32 != 0;
                    rearm[1] |= flags & CQE_F_MORE == 0;
                }
                _ => {}
            }
        }
        // Release: the kernel may reuse the slots once it sees the new head.
        head_w.store(head, Release);
        if rearm[0] || rearm[1] {
            // A poll ended (the kernel stops a multishot poll it cannot post for): the caller
            // falls back to epoll rather than guessing what was missed while it was off.
            return Err(Errno::ECANCELED);
        }
        Ok(n)
    }

    /// Unmaps the ring and closes its fd (thread exit, or giving up on it).
    pub fn release(&mut self) {
        if self.map != 0 {
            // SAFETY: our own mapping, no longer used.
            let _ = unsafe { sys::munmap(self.map as *mut u8, self.map_len) };
        }
        if self.sqes != 0 {
            // SAFETY: as above.
            let _ = unsafe { sys::munmap(self.sqes as *mut u8, self.sqes_len) };
        }
        if self.fd > 0 {
            crate::notify::close_own(self.fd);
        }
        *self = Ring::none();
    }
}

/// Maps `len` bytes of ring `fd` at `off`, not inherited by fork children.
fn map_ring(fd: i32, len: usize, off: usize) -> Result<usize, Errno> {
    // SAFETY: a fresh shared mapping of the ring; touches no existing memory.
    let a = unsafe {
        sys::syscall6(
            libc::SYS_mmap,
            0,
            len,
            (libc::PROT_READ | libc::PROT_WRITE) as usize,
            (libc::MAP_SHARED | libc::MAP_POPULATE) as usize,
            fd as usize,
            off,
        )
    }?;
    // SAFETY: our own fresh mapping; a fork child must not see it (its thread state is wiped).
    let _ = unsafe { sys::madvise(a as *mut u8, len, libc::MADV_DONTFORK) };
    Ok(a)
}
