//! The program's SIGSEGV and SIGBUS dispositions, kept for it while the fault handler of
//! [`uaccess`] owns the real ones.
//!
//! # The invariant
//! While [`owned`] is true, the kernel's disposition for SIGSEGV and SIGBUS is our handler, and
//! the table here holds, in the kernel's own form, exactly what the kernel would hold without
//! us. Everything the program can observe is answered from the table:
//!
//! - `sigaction` and every libc entry point that sets these two dispositions (`__sigaction`,
//!   `signal`, `bsd_signal`, `ssignal`, `sysv_signal`, `__sysv_signal`, `sigset`, `sigignore`,
//!   `siginterrupt`) records the change instead of making it, and reports the previous record
//!   as glibc would report the kernel's (flags with `SA_RESTORER` and the kernel's unknown bits
//!   cleared, glibc's restorer, SIGKILL and SIGSTOP out of the mask). glibc's wrappers call its
//!   internal `__sigaction` directly, never through the PLT, so each is interposed and
//!   re-implemented here on top of the table, as glibc 2.36 writes them. Every other signal is
//!   forwarded to the next definition untouched.
//! - A fault that is not in a copy routine is delivered by [`deliver`] as the kernel would:
//!   the program's handler runs with the mask the kernel would have set (`sa_mask`, the signal
//!   itself unless `SA_NODEFER`, on top of the interrupted mask), gets the kernel's siginfo and
//!   ucontext (so changes it makes to them take effect), may `siglongjmp` out, and is reset by
//!   `SA_RESETHAND`. `SIG_DFL` and a synchronous `SIG_IGN` hand both dispositions back to the
//!   kernel and return: the faulting instruction runs again and the kernel does what it would
//!   have done (kills the process). An asynchronous SIGSEGV (`kill`) under `SIG_DFL` is sent
//!   again, with its siginfo, to be delivered when the handler returns.
//! - Our handler mirrors the program's `SA_ONSTACK` and `SA_RESTART`, so its frame lands on the
//!   stack the program's handler expects and interrupted system calls restart as they would.
//! - Setting `SIG_IGN` hands both dispositions back: only the kernel can carry `SIG_IGN` across
//!   `execve`. A program that ignores either signal never gets the copy routines.
//!
//! # Concurrency
//! Writers (the interposed calls, [`take_over`], a reset by `SA_RESETHAND`, a hand-back) take a
//! spin lock with every signal blocked, and touch no user memory while they hold it, so the
//! holder can never be interrupted on its own thread, not even by a fault. Readers in the
//! handler use a per-record sequence count and never wait for more than a writer's few
//! instructions. A call forwarded to libc races with [`take_over`] only through a handshake
//! (see [`forward`]) that lets the take-over record its effect.
//!
//! # References
//! glibc 2.36 `sysdeps/unix/sysv/linux/libc_sigaction.c`, `sysdeps/posix/signal.c`,
//! `sysdeps/posix/sysv_signal.c`, `sysdeps/posix/sigset.c`, `signal/sigignore.c`,
//! `sysdeps/posix/siginterrupt.c`; Linux `kernel/signal.c` (`do_sigaction`,
//! `force_sig_info_to_task`, `get_signal`), `arch/x86/kernel/signal.c`; `sigaction(2)`.

use core::ffi::{c_int, c_void, CStr};
use core::mem::{offset_of, size_of, transmute, zeroed, MaybeUninit};
use core::ptr;
use core::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use cache::sys::{self, syscall6, Errno};

use crate::uaccess::{self, CopyError};

const SIG_DFL: usize = 0;
const SIG_IGN: usize = 1;
const SIG_HOLD: usize = 2;
const SIG_ERR: usize = usize::MAX;

const SA_SIGINFO: u64 = libc::SA_SIGINFO as u64;
const SA_ONSTACK: u64 = libc::SA_ONSTACK as u64;
const SA_RESTART: u64 = libc::SA_RESTART as u64;
const SA_NODEFER: u64 = libc::SA_NODEFER as u64;
const SA_RESETHAND: u64 = 0x8000_0000;
const SA_RESTORER: u64 = 0x0400_0000;
/// The flags the x86_64 kernel keeps (`UAPI_SA_FLAGS`; since Linux 5.11 `do_sigaction` clears
/// the others): NOCLDSTOP, NOCLDWAIT, SIGINFO, EXPOSE_TAGBITS, RESTORER, ONSTACK, RESTART,
/// NODEFER, RESETHAND.
const UAPI_SA_FLAGS: u64 = 0xdc00_0807;
/// glibc's `sysv_signal` flags: `SA_ONESHOT | SA_NOMASK | SA_INTERRUPT`.
const SYSV_FLAGS: c_int = 0xe000_0000_u32 as c_int;
/// Signals are 1..NSIG.
const NSIG: c_int = 65;
/// glibc's SIGCANCEL and SIGSETXID, which `sigaction` refuses with EINVAL.
const fn is_internal(sig: c_int) -> bool {
    sig == 32 || sig == 33
}
/// Bits the kernel drops from every `sa_mask`.
const UNBLOCKABLE: u64 = (1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1));
/// `BUS_MCEERR_AO`: an asynchronous machine-check notice, despite its positive si_code.
const BUS_MCEERR_AO: c_int = 5;

/// The mask bit of a signal in 1..=64.
const fn bit(sig: c_int) -> u64 {
    1 << ((sig - 1) & 63)
}

/// `struct sigaction` as the x86_64 kernel stores it (`struct kernel_sigaction` in glibc).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Default)]
struct KSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// `rt_sigaction(2)` — the raw call, 8-byte masks.
fn rt_sigaction(
    sig: c_int,
    act: Option<&KSigaction>,
    old: Option<&mut KSigaction>,
) -> Result<(), Errno> {
    let act = act.map_or(ptr::null(), |a| a as *const KSigaction);
    let old = old.map_or(ptr::null_mut(), |o| o as *mut KSigaction);
    // SAFETY: both pointers are null or live records in the kernel's layout, whose mask size
    // is the 8 bytes passed.
    unsafe {
        syscall6(
            libc::SYS_rt_sigaction,
            sig as usize,
            act as usize,
            old as usize,
            8,
            0,
            0,
        )
    }
    .map(drop)
}

/// `rt_sigprocmask(2)` — the raw call on the calling thread.
fn rt_sigprocmask(how: c_int, set: Option<&u64>, old: Option<&mut u64>) -> Result<(), Errno> {
    let set = set.map_or(ptr::null(), |s| s as *const u64);
    let old = old.map_or(ptr::null_mut(), |o| o as *mut u64);
    // SAFETY: both pointers are null or live 8-byte masks, the size passed.
    unsafe {
        syscall6(
            libc::SYS_rt_sigprocmask,
            how as usize,
            set as usize,
            old as usize,
            8,
            0,
            0,
        )
    }
    .map(drop)
}

fn set_errno(e: c_int) {
    // SAFETY: `__errno_location` returns the calling thread's errno, always valid.
    unsafe { *libc::__errno_location() = e };
}

/// The first 64 signals of a glibc `sigset_t`, all the kernel reads.
fn mask_of(set: &libc::sigset_t) -> u64 {
    // SAFETY: `sigset_t` is 128 bytes of `unsigned long`, aligned for u64.
    unsafe { *(set as *const libc::sigset_t).cast::<u64>() }
}

fn set_mask(set: &mut libc::sigset_t, mask: u64) {
    // SAFETY: as in `mask_of`, writable.
    unsafe { *(set as *mut libc::sigset_t).cast::<u64>() = mask };
}

fn zeroed_sigaction() -> libc::sigaction {
    // SAFETY: all-zero is a valid `struct sigaction` (SIG_DFL, empty mask, no restorer).
    unsafe { zeroed() }
}

// ---------------------------------------------------------------------------------------------
// The table

/// One recorded disposition, readable under a sequence count.
struct Slot {
    seq: AtomicU32,
    handler: AtomicUsize,
    flags: AtomicU64,
    restorer: AtomicUsize,
    mask: AtomicU64,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            seq: AtomicU32::new(0),
            handler: AtomicUsize::new(0),
            flags: AtomicU64::new(0),
            restorer: AtomicUsize::new(0),
            mask: AtomicU64::new(0),
        }
    }

    /// Reads the record; never blocks for longer than a writer's four stores.
    fn load(&self) -> KSigaction {
        loop {
            // Acquire pairs with the Release store that ends `store`: an even count means the
            // fields read next are at least that write's.
            let s = self.seq.load(Ordering::Acquire);
            if s & 1 == 0 {
                let a = KSigaction {
                    handler: self.handler.load(Ordering::Relaxed),
                    flags: self.flags.load(Ordering::Relaxed),
                    restorer: self.restorer.load(Ordering::Relaxed),
                    mask: self.mask.load(Ordering::Relaxed),
                };
                // Acquire fence pairs with the Release fence in `store`: if a field came from a
                // newer write, the count read below has moved.
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == s {
                    return a;
                }
            }
            core::hint::spin_loop();
        }
    }

    /// Writes the record. Only with [`LOCK`] held.
    fn store(&self, a: &KSigaction) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        // Release fence pairs with the Acquire fence in `load`: the odd count is visible before
        // any of the new fields.
        fence(Ordering::Release);
        self.handler.store(a.handler, Ordering::Relaxed);
        self.flags.store(a.flags, Ordering::Relaxed);
        self.restorer.store(a.restorer, Ordering::Relaxed);
        self.mask.store(a.mask, Ordering::Relaxed);
        // Release pairs with the Acquire count load in `load`.
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }
}

static SLOTS: [Slot; 2] = [Slot::new(), Slot::new()];
/// The signals whose dispositions are kept here, in `SLOTS` order.
const GUARDED: [c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

fn slot(sig: c_int) -> Option<&'static Slot> {
    match sig {
        libc::SIGSEGV => Some(&SLOTS[0]),
        libc::SIGBUS => Some(&SLOTS[1]),
        _ => None,
    }
}

/// Our handler is installed for both signals and the table is authoritative.
static OWNED: AtomicBool = AtomicBool::new(false);
/// Odd while [`take_over`] swaps handlers; bumped twice per take-over.
static EPOCH: AtomicU32 = AtomicU32::new(0);
/// Calls for a guarded signal on their way to libc's `sigaction` (see [`forward`]).
static FORWARDING: AtomicU32 = AtomicU32::new(0);
/// How long [`take_over`] waits for forwarded calls: ~64 `sched_yield`s.
const FORWARD_WAIT: u32 = 1 << 16;
static OUR_HANDLER: AtomicUsize = AtomicUsize::new(0);
/// The restorer glibc's `sigaction` puts in every action it sets; learned on first need.
static PROGRAM_RESTORER: AtomicUsize = AtomicUsize::new(0);
/// `siginterrupt` state per signal: glibc's `_sigintr`, which `signal` consults.
static INTR: AtomicU64 = AtomicU64::new(0);
static LOCK: AtomicBool = AtomicBool::new(false);

/// Whether our handler owns SIGSEGV and SIGBUS (what `uaccess::installed` reports).
#[inline(always)]
pub(crate) fn owned() -> bool {
    // Acquire pairs with the Release store in `take_over`: the table is filled in.
    OWNED.load(Ordering::Acquire)
}

/// Holds [`LOCK`] with every signal blocked on this thread.
struct Locked {
    saved: u64,
}

fn lock() -> Locked {
    let mut saved = 0;
    // Blocking first means no handler can run on this thread while it holds the lock, so a
    // handler that takes it never waits for its own thread.
    let _ = rt_sigprocmask(libc::SIG_SETMASK, Some(&!0), Some(&mut saved));
    let mut spins = 0u32;
    // Acquire pairs with the Release store in `drop`: the previous holder's writes are seen.
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        relax(&mut spins);
    }
    Locked { saved }
}

/// One step of a wait for another thread: a pause, and now and then `sched_yield` so that a
/// waiter never starves the thread it waits for.
pub(crate) fn relax(spins: &mut u32) {
    *spins = spins.wrapping_add(1);
    if *spins & 1023 == 0 {
        // SAFETY: sched_yield takes no arguments.
        let _ = unsafe { syscall6(libc::SYS_sched_yield, 0, 0, 0, 0, 0, 0) };
    } else {
        core::hint::spin_loop();
    }
}

/// Runs `f` with every signal blocked on this thread.
pub(crate) fn with_signals_blocked<R>(f: impl FnOnce() -> R) -> R {
    let mut saved = 0;
    let _ = rt_sigprocmask(libc::SIG_SETMASK, Some(&!0), Some(&mut saved));
    let r = f();
    let _ = rt_sigprocmask(libc::SIG_SETMASK, Some(&saved), None);
    r
}

impl Drop for Locked {
    fn drop(&mut self) {
        LOCK.store(false, Ordering::Release);
        let _ = rt_sigprocmask(libc::SIG_SETMASK, Some(&self.saved), None);
    }
}

/// The mask `fork_prepare` saved; written only by the holder of [`LOCK`].
static FORK_SAVED_MASK: AtomicU64 = AtomicU64::new(0);

/// `fork` holds [`LOCK`] across the system call, so a child never starts with the lock taken by
/// a thread it does not have, nor with a half-written record.
unsafe extern "C" fn fork_prepare() {
    let g = lock();
    FORK_SAVED_MASK.store(g.saved, Ordering::Relaxed);
    core::mem::forget(g);
}

/// After `fork`, in the parent and in the child: releases what `fork_prepare` took.
unsafe extern "C" fn fork_release() {
    drop(Locked {
        saved: FORK_SAVED_MASK.load(Ordering::Relaxed),
    });
}

/// The action our handler is installed with while `rec` is the program's: every signal blocked
/// while it runs, and the program's `SA_ONSTACK` and `SA_RESTART` (both for SIG_DFL, so a
/// stack overflow still reaches it on an alternate stack, and ignored asynchronous signals do
/// not interrupt system calls).
fn our_action(rec: &KSigaction) -> KSigaction {
    let keep = if rec.handler > SIG_IGN {
        rec.flags & (SA_ONSTACK | SA_RESTART)
    } else {
        SA_ONSTACK | SA_RESTART
    };
    KSigaction {
        handler: OUR_HANDLER.load(Ordering::Relaxed),
        flags: SA_SIGINFO | SA_RESTORER | keep,
        restorer: uaccess::restorer(),
        mask: !0,
    }
}

/// Records `new` over `prev` and re-installs our handler if its mirrored flags change.
/// With [`LOCK`] held.
fn record(sig: c_int, slot: &Slot, new: &KSigaction, prev: &KSigaction) {
    slot.store(new);
    let ours = our_action(new);
    if OWNED.load(Ordering::Relaxed) && ours.flags != our_action(prev).flags {
        let _ = rt_sigaction(sig, Some(&ours), None);
    }
}

/// Installs `handler` for SIGSEGV and SIGBUS, recording the program's dispositions. Declines
/// (and changes nothing) if either is ignored.
pub(crate) fn take_over(handler: usize) -> bool {
    let _g = lock();
    if OWNED.load(Ordering::Relaxed) {
        return true;
    }
    OUR_HANDLER.store(handler, Ordering::Relaxed);
    // SeqCst, and so the load below: see `forward`.
    EPOCH.fetch_add(1, Ordering::SeqCst);
    let mut spins = 0;
    while FORWARDING.load(Ordering::SeqCst) != 0 && spins < FORWARD_WAIT {
        relax(&mut spins);
    }
    let mut taken = 0;
    for (i, &sig) in GUARDED.iter().enumerate() {
        match swap_in(sig) {
            Some(prev) if prev.handler != SIG_IGN => {
                SLOTS[i].store(&prev);
                taken += 1;
            }
            Some(prev) => {
                let _ = rt_sigaction(sig, Some(&prev), None);
                break;
            }
            None => break,
        }
    }
    let ok = taken == GUARDED.len();
    if ok {
        // Release pairs with the Acquire load in `owned`.
        OWNED.store(true, Ordering::Release);
    } else {
        for (i, &sig) in GUARDED.iter().enumerate().take(taken) {
            let _ = rt_sigaction(sig, Some(&SLOTS[i].load()), None);
        }
    }
    EPOCH.fetch_add(1, Ordering::SeqCst);
    ok
}

/// Swaps our handler in for `sig`, mirroring the flags of what it replaces; returns that.
fn swap_in(sig: c_int) -> Option<KSigaction> {
    let mut old = KSigaction::default();
    rt_sigaction(sig, None, Some(&mut old)).ok()?;
    let mut tries = 0;
    loop {
        let mut prev = KSigaction::default();
        rt_sigaction(sig, Some(&our_action(&old)), Some(&mut prev)).ok()?;
        tries += 1;
        // Changed between the read and the swap (a raw syscall in another thread): mirror again.
        if prev == old || tries == 8 {
            return Some(prev);
        }
        old = prev;
    }
}

/// Hands both dispositions back to the kernel. With [`LOCK`] held.
fn give_back_locked() {
    if !OWNED.load(Ordering::Relaxed) {
        return;
    }
    // Release pairs with the Acquire load in `owned` (nothing new to publish; kept symmetric).
    OWNED.store(false, Ordering::Release);
    for (i, &sig) in GUARDED.iter().enumerate() {
        let _ = rt_sigaction(sig, Some(&SLOTS[i].load()), None);
    }
}

/// Whether a SIGSEGV/SIGBUS was raised by the faulting instruction (set by the kernel), as
/// opposed to sent by `kill`, `tgkill`, `sigqueue` or a machine-check notice.
pub(crate) fn is_synchronous(sig: c_int, info: &libc::siginfo_t) -> bool {
    info.si_code > 0 && !(sig == libc::SIGBUS && info.si_code == BUS_MCEERR_AO)
}

/// Delivers a SIGSEGV/SIGBUS that is not a copy-routine fault to the program's disposition,
/// as the kernel would have.
///
/// # Safety
/// Only from our handler, with the kernel's `info` and `ctx`, and every signal blocked.
pub(crate) unsafe fn deliver(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void, sync: bool) {
    let Some(slot) = slot(sig) else { return };
    let act = loop {
        let a = slot.load();
        if a.handler <= SIG_IGN || a.flags & SA_RESETHAND == 0 {
            break a;
        }
        // SA_RESETHAND: the kernel resets the handler as it delivers, atomically with reading
        // it; only one of two threads faulting at once gets the handler.
        let _g = lock();
        if slot.load() != a {
            continue;
        }
        record(
            sig,
            slot,
            &KSigaction {
                handler: SIG_DFL,
                ..a
            },
            &a,
        );
        break a;
    };
    // Our own handler recorded as the program's (read with a raw syscall, set back through
    // sigaction) would call itself forever: treat it as what it stands for, the default.
    let handler = if act.handler == OUR_HANDLER.load(Ordering::Relaxed) {
        SIG_DFL
    } else {
        act.handler
    };
    match handler {
        SIG_DFL => {
            give_back_locked_now();
            if !sync {
                requeue(sig, info);
            }
        }
        SIG_IGN => {
            if sync {
                give_back_locked_now();
            }
        }
        handler => {
            // SAFETY: `ctx` is the kernel's ucontext; its sigmask is the interrupted thread's,
            // restored by sigreturn, and its first 8 bytes are the kernel's mask.
            let interrupted = unsafe {
                ptr::addr_of!((*ctx.cast::<libc::ucontext_t>()).uc_sigmask)
                    .cast::<u64>()
                    .read()
            };
            let mut blocked = interrupted | act.mask;
            if act.flags & SA_NODEFER == 0 {
                blocked |= bit(sig);
            }
            let _ = rt_sigprocmask(libc::SIG_SETMASK, Some(&blocked), None);
            // SAFETY: `handler` is the program's handler for `sig`; we hold nothing across the
            // call, so it may siglongjmp out.
            unsafe { uaccess::call_handler(handler, sig, info, ctx) };
            let _ = rt_sigprocmask(libc::SIG_SETMASK, Some(&!0), None);
        }
    }
}

fn give_back_locked_now() {
    let _g = lock();
    give_back_locked();
}

/// Sends an asynchronous signal again to this thread, to be delivered under the disposition
/// just handed back once the handler returns and the mask is restored.
fn requeue(sig: c_int, info: *mut libc::siginfo_t) {
    let (pid, tid) = (sys::getpid() as usize, sys::gettid() as usize);
    // SAFETY: `info` is the kernel's siginfo, readable; sending to our own thread is allowed
    // whatever its si_code.
    let queued = unsafe {
        syscall6(
            libc::SYS_rt_tgsigqueueinfo,
            pid,
            tid,
            sig as usize,
            info as usize,
            0,
            0,
        )
    };
    if queued.is_err() {
        // SAFETY: no pointers.
        let _ = unsafe { syscall6(libc::SYS_tgkill, pid, tid, sig as usize, 0, 0, 0) };
    }
}

// ---------------------------------------------------------------------------------------------
// sigaction on the table

/// What glibc's `sigaction` reads of `act`: handler, mask and flags, not the padding or
/// `sa_restorer` (glibc always substitutes its own).
const ACT_READ: usize = offset_of!(libc::sigaction, sa_flags) + size_of::<c_int>();
const RESTORER_AT: usize = offset_of!(libc::sigaction, sa_restorer);

/// The fields of a new action, as the program passed them.
#[derive(Clone, Copy)]
struct NewAction {
    handler: usize,
    flags: c_int,
    mask: u64,
}

impl NewAction {
    fn from_glibc(a: &libc::sigaction) -> Self {
        NewAction {
            handler: a.sa_sigaction,
            flags: a.sa_flags,
            mask: mask_of(&a.sa_mask),
        }
    }
}

/// Records a new action (if any) and returns the previous one; `None` if the table is not
/// authoritative (not owned).
fn exchange(sig: c_int, new: Option<NewAction>) -> Option<KSigaction> {
    let slot = slot(sig)?;
    // Resolved before the lock: dlsym may wait for the loader's lock.
    let real = next(Next::Sigaction);
    let _g = lock();
    if !OWNED.load(Ordering::Relaxed) {
        return None;
    }
    let prev = slot.load();
    if let Some(n) = new {
        // What glibc and then the kernel make of it: glibc sign-extends the int flags and adds
        // SA_RESTORER with its restorer; the kernel drops unknown flags, SIGKILL and SIGSTOP.
        let k = KSigaction {
            handler: n.handler,
            flags: ((n.flags as i64 as u64) | SA_RESTORER) & UAPI_SA_FLAGS,
            restorer: program_restorer(real),
            mask: n.mask & !UNBLOCKABLE,
        };
        record(sig, slot, &k, &prev);
        if k.handler == SIG_IGN {
            give_back_locked();
        }
    }
    Some(prev)
}

/// glibc's `__restore_rt`, which its `sigaction` puts in every action. Not exported, so it is
/// learned once: our handler is installed again through the real `sigaction` (same handler,
/// flags and mask, so nothing changes for a concurrent fault) and the kernel is asked what it
/// got. With [`LOCK`] held.
fn program_restorer(real: Option<usize>) -> usize {
    let known = PROGRAM_RESTORER.load(Ordering::Relaxed);
    if known != 0 {
        return known;
    }
    let learned = real
        .and_then(probe_restorer)
        .unwrap_or_else(uaccess::restorer);
    PROGRAM_RESTORER.store(learned, Ordering::Relaxed);
    learned
}

fn probe_restorer(real: usize) -> Option<usize> {
    let sig = libc::SIGSEGV;
    let ours = our_action(&slot(sig)?.load());
    let mut a = zeroed_sigaction();
    a.sa_sigaction = ours.handler;
    a.sa_flags = (ours.flags & !SA_RESTORER) as c_int;
    set_mask(&mut a.sa_mask, ours.mask);
    // SAFETY: `real` is dlsym's `sigaction`; `a` is a live action whose handler is ours.
    let f = unsafe { transmute::<usize, SigactionFn>(real) };
    // SAFETY: `a` is live and readable; no old action is asked for.
    unsafe { f(sig, &a, ptr::null_mut()) };
    let mut k = KSigaction::default();
    rt_sigaction(sig, None, Some(&mut k)).ok()?;
    if k.handler == ours.handler && k.flags & SA_RESTORER != 0 && k.restorer != 0 {
        return Some(k.restorer);
    }
    // Something else answered for `sigaction`: put ours back as it was.
    let _ = rt_sigaction(sig, Some(&ours), None);
    None
}

/// Writes `k` to the program's `oact` as glibc does: every field but the padding after
/// `sa_flags`; mask words past the first 64 signals are zero (glibc leaves stack garbage).
///
/// # Safety
/// `oact` may be any value; the write is fault-tolerant.
unsafe fn write_oact(oact: *mut libc::sigaction, k: &KSigaction) -> Result<(), CopyError> {
    let mut g = zeroed_sigaction();
    g.sa_sigaction = k.handler;
    set_mask(&mut g.sa_mask, k.mask);
    g.sa_flags = k.flags as u32 as c_int;
    let dst = oact.cast::<u8>();
    // SAFETY: `g` is a live sigaction, readable for ACT_READ bytes; writes to `dst` are
    // fault-tolerant.
    unsafe { uaccess::copy_to_user(dst, (&g as *const libc::sigaction).cast(), ACT_READ) }?;
    // SAFETY: `k.restorer` is a live usize; as above.
    unsafe {
        uaccess::copy_to_user(
            dst.wrapping_add(RESTORER_AT),
            (&k.restorer as *const usize).cast(),
            size_of::<usize>(),
        )
    }
}

/// `sigaction` for SIGSEGV and SIGBUS.
///
/// # Safety
/// `act` and `oact` may be any values (as for libc's `sigaction`, a bad one faults).
unsafe fn guarded_sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    oact: *mut libc::sigaction,
) -> c_int {
    if !owned() {
        // SAFETY: forwarded from the caller's contract.
        return unsafe { forward(sig, act, oact) };
    }
    let new = if act.is_null() {
        None
    } else {
        let mut a = MaybeUninit::<libc::sigaction>::zeroed();
        // SAFETY: `a` is writable for its size, more than ACT_READ; reads of `act` are
        // fault-tolerant.
        if unsafe { uaccess::copy_from_user(a.as_mut_ptr().cast(), act.cast(), ACT_READ) }.is_err()
        {
            // glibc reads `act` first and faults there: let it, with the program's disposition
            // in force.
            // SAFETY: forwarded from the caller's contract.
            return unsafe { forward_while_owned(sig, act, oact) };
        }
        // SAFETY: zero-initialised, then plain data copied over its first ACT_READ bytes.
        Some(NewAction::from_glibc(unsafe { a.assume_init_ref() }))
    };
    let Some(prev) = exchange(sig, new) else {
        // Handed back in the meantime: the kernel is authoritative again.
        // SAFETY: forwarded from the caller's contract.
        return unsafe { forward(sig, act, oact) };
    };
    // SAFETY: `write_oact` is fault-tolerant.
    if !oact.is_null() && unsafe { write_oact(oact, &prev) }.is_err() {
        // glibc writes `oact` after the change and faults there: reproduce the fault in libc.
        // SAFETY: `act` is null, so nothing changes; `oact` faults as it would.
        unsafe { real_sigaction(sig, ptr::null(), oact) };
        // SAFETY: fault-tolerant; reached only if `oact` became writable.
        let _ = unsafe { write_oact(oact, &prev) };
    }
    0
}

fn settled_epoch() -> u32 {
    let mut spins = 0;
    loop {
        // SeqCst: see `forward`.
        let e = EPOCH.load(Ordering::SeqCst);
        if e & 1 == 0 {
            return e;
        }
        relax(&mut spins);
    }
}

/// Makes the real call for a guarded signal while the table is not authoritative.
///
/// A Dekker handshake with [`take_over`]: this call announces itself in [`FORWARDING`] and
/// then checks [`EPOCH`]; take_over bumps EPOCH and then waits for FORWARDING to drain (all
/// four SeqCst). So either take_over sees this call and swaps our handler in after it lands
/// (recording its effect), or this call sees the take-over and goes to the table instead. If
/// take_over stops waiting (a forwarded call that faulted and never came back), the call is
/// reconciled afterwards.
///
/// # Safety
/// As libc's `sigaction`.
unsafe fn forward(sig: c_int, act: *const libc::sigaction, oact: *mut libc::sigaction) -> c_int {
    loop {
        let e0 = settled_epoch();
        FORWARDING.fetch_add(1, Ordering::SeqCst);
        if EPOCH.load(Ordering::SeqCst) != e0 {
            FORWARDING.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        if owned() {
            FORWARDING.fetch_sub(1, Ordering::SeqCst);
            // SAFETY: forwarded from the caller's contract; the table is authoritative now.
            return unsafe { guarded_sigaction(sig, act, oact) };
        }
        // SAFETY: forwarded from the caller's contract.
        let r = unsafe { real_sigaction(sig, act, oact) };
        FORWARDING.fetch_sub(1, Ordering::SeqCst);
        if r == 0 && EPOCH.load(Ordering::SeqCst) != e0 {
            // SAFETY: `oact` was just written by libc; reconcile reads it fault-tolerantly.
            unsafe { reconcile(sig, oact) };
        }
        return r;
    }
}

/// Makes the real call for a guarded signal while we own it (only to let libc fault on a bad
/// `act` as it would), then repairs the table if the call went through after all.
///
/// # Safety
/// As libc's `sigaction`.
unsafe fn forward_while_owned(
    sig: c_int,
    act: *const libc::sigaction,
    oact: *mut libc::sigaction,
) -> c_int {
    // SAFETY: forwarded from the caller's contract.
    let r = unsafe { real_sigaction(sig, act, oact) };
    if r == 0 {
        // SAFETY: `oact` was just written by libc; reconcile reads it fault-tolerantly.
        unsafe { reconcile(sig, oact) };
    }
    r
}

/// After a real `sigaction` that may have replaced our handler: if the kernel holds the
/// program's action, record it and put ours back; if `oact` reported our handler, report the
/// record instead.
///
/// # Safety
/// `oact` may be any value.
unsafe fn reconcile(sig: c_int, oact: *mut libc::sigaction) {
    let Some(slot) = slot(sig) else { return };
    let ours = OUR_HANDLER.load(Ordering::Relaxed);
    let report = {
        let _g = lock();
        if !OWNED.load(Ordering::Relaxed) {
            return;
        }
        let mut k = KSigaction::default();
        if rt_sigaction(sig, None, Some(&mut k)).is_err() {
            return;
        }
        let prev = slot.load();
        if k.handler != ours {
            slot.store(&k);
            let _ = rt_sigaction(sig, Some(&our_action(&k)), None);
            if k.handler == SIG_IGN {
                give_back_locked();
            }
        }
        prev
    };
    if oact.is_null() {
        return;
    }
    let mut reported = 0usize;
    // SAFETY: `reported` is writable for 8 bytes; reads of `oact` are fault-tolerant.
    let read = unsafe {
        uaccess::copy_from_user(
            (&mut reported as *mut usize).cast(),
            oact.cast(),
            size_of::<usize>(),
        )
    };
    if read.is_ok() && reported == ours {
        // SAFETY: fault-tolerant.
        let _ = unsafe { write_oact(oact, &report) };
    }
}

// ---------------------------------------------------------------------------------------------
// The next definitions

type SigactionFn =
    unsafe extern "C" fn(c_int, *const libc::sigaction, *mut libc::sigaction) -> c_int;
type SignalFn = unsafe extern "C" fn(c_int, libc::sighandler_t) -> libc::sighandler_t;
type SigignoreFn = unsafe extern "C" fn(c_int) -> c_int;
type SiginterruptFn = unsafe extern "C" fn(c_int, c_int) -> c_int;
/// A `sigaction` to build glibc's wrappers on: the table's, or the fallback's.
type Backend = unsafe fn(c_int, *const libc::sigaction, *mut libc::sigaction) -> c_int;

#[derive(Clone, Copy)]
enum Next {
    Sigaction,
    UnderSigaction,
    Signal,
    BsdSignal,
    Ssignal,
    SysvSignal,
    UnderSysvSignal,
    Sigset,
    Sigignore,
    Siginterrupt,
}

const NEXT_NAMES: [&CStr; 10] = [
    c"sigaction",
    c"__sigaction",
    c"signal",
    c"bsd_signal",
    c"ssignal",
    c"sysv_signal",
    c"__sysv_signal",
    c"sigset",
    c"sigignore",
    c"siginterrupt",
];
const UNRESOLVED: usize = 0;
const MISSING: usize = 1;
static NEXT: [AtomicUsize; 10] = [const { AtomicUsize::new(UNRESOLVED) }; 10];

/// `dlsym(RTLD_NEXT, name)`, resolved once (at load, or on first use before that).
fn next(which: Next) -> Option<usize> {
    let i = which as usize;
    // Relaxed: the value is a code address, and publishes nothing else.
    let mut v = NEXT[i].load(Ordering::Relaxed);
    if v == UNRESOLVED {
        // SAFETY: RTLD_NEXT with a NUL-terminated name.
        let p = unsafe { libc::dlsym(libc::RTLD_NEXT, NEXT_NAMES[i].as_ptr()) } as usize;
        v = if p == 0 { MISSING } else { p };
        NEXT[i].store(v, Ordering::Relaxed);
    }
    (v != MISSING).then_some(v)
}

extern "C" fn resolve_next() {
    for which in [
        Next::Sigaction,
        Next::UnderSigaction,
        Next::Signal,
        Next::BsdSignal,
        Next::Ssignal,
        Next::SysvSignal,
        Next::UnderSysvSignal,
        Next::Sigset,
        Next::Sigignore,
        Next::Siginterrupt,
    ] {
        next(which);
    }
    // SAFETY: registers three functions that live as long as the library.
    unsafe { libc::pthread_atfork(Some(fork_prepare), Some(fork_release), Some(fork_release)) };
}

/// Resolves the next definitions at load, so no interposed call made later (perhaps from a
/// signal handler) runs dlsym, and registers the `fork` handlers.
#[used]
#[link_section = ".init_array"]
static RESOLVE_NEXT_AT_LOAD: extern "C" fn() = resolve_next;

/// The real `sigaction`: the next definition, or the raw call with glibc's semantics.
///
/// # Safety
/// As libc's `sigaction`.
unsafe fn real_sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    oact: *mut libc::sigaction,
) -> c_int {
    match next(Next::Sigaction) {
        // SAFETY: dlsym's `sigaction`, called with the caller's arguments.
        Some(p) => unsafe { transmute::<usize, SigactionFn>(p)(sig, act, oact) },
        // SAFETY: forwarded from the caller's contract.
        None => unsafe { raw_sigaction(sig, act, oact) },
    }
}

/// glibc's `__sigaction` over the raw system call, for when dlsym finds none.
///
/// # Safety
/// As libc's `sigaction`: `act` and `oact` are read and written directly, and fault if bad.
unsafe fn raw_sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    oact: *mut libc::sigaction,
) -> c_int {
    if !(1..NSIG).contains(&sig) || is_internal(sig) {
        set_errno(libc::EINVAL);
        return -1;
    }
    // SAFETY: as glibc does, the caller's struct is read directly (caller's contract).
    let new = (!act.is_null())
        .then(|| unsafe { &*act })
        .map(|a| KSigaction {
            handler: a.sa_sigaction,
            flags: (a.sa_flags as i64 as u64) | SA_RESTORER,
            restorer: uaccess::restorer(),
            mask: mask_of(&a.sa_mask),
        });
    let mut old = KSigaction::default();
    let want_old = (!oact.is_null()).then_some(&mut old);
    if let Err(e) = rt_sigaction(sig, new.as_ref(), want_old) {
        set_errno(e.0);
        return -1;
    }
    if !oact.is_null() {
        // SAFETY: as glibc does, the caller's struct is written directly (caller's contract);
        // the padding after sa_flags is left alone.
        unsafe {
            (*oact).sa_sigaction = old.handler;
            (*oact).sa_mask = zeroed();
            set_mask(&mut (*oact).sa_mask, old.mask);
            (*oact).sa_flags = old.flags as u32 as c_int;
            (*oact).sa_restorer = transmute::<usize, Option<extern "C" fn()>>(old.restorer);
        }
    }
    0
}

// ---------------------------------------------------------------------------------------------
// glibc 2.36's wrappers, over a backend

/// `sysdeps/posix/signal.c` (`__bsd_signal`): BSD semantics, SA_RESTART unless
/// `siginterrupt` said otherwise.
///
/// # Safety
/// `backend` must be a `sigaction`.
unsafe fn bsd_signal_with(
    sig: c_int,
    handler: libc::sighandler_t,
    backend: Backend,
) -> libc::sighandler_t {
    if handler == SIG_ERR || !(1..NSIG).contains(&sig) || is_internal(sig) {
        set_errno(libc::EINVAL);
        return SIG_ERR;
    }
    let mut act = zeroed_sigaction();
    act.sa_sigaction = handler;
    set_mask(&mut act.sa_mask, bit(sig));
    act.sa_flags = if INTR.load(Ordering::Relaxed) & bit(sig) != 0 {
        0
    } else {
        libc::SA_RESTART
    };
    let mut oact = zeroed_sigaction();
    // SAFETY: both structs are live locals.
    if unsafe { backend(sig, &act, &mut oact) } < 0 {
        return SIG_ERR;
    }
    oact.sa_sigaction
}

/// `sysdeps/posix/sysv_signal.c`: one-shot, not masked while it runs.
///
/// # Safety
/// `backend` must be a `sigaction`.
unsafe fn sysv_signal_with(
    sig: c_int,
    handler: libc::sighandler_t,
    backend: Backend,
) -> libc::sighandler_t {
    if handler == SIG_ERR || !(1..NSIG).contains(&sig) {
        set_errno(libc::EINVAL);
        return SIG_ERR;
    }
    let mut act = zeroed_sigaction();
    act.sa_sigaction = handler;
    act.sa_flags = SYSV_FLAGS;
    let mut oact = zeroed_sigaction();
    // SAFETY: both structs are live locals.
    if unsafe { backend(sig, &act, &mut oact) } < 0 {
        return SIG_ERR;
    }
    oact.sa_sigaction
}

/// `sysdeps/posix/sigset.c`: System V `sigset`, with `SIG_HOLD`.
///
/// # Safety
/// `backend` must be a `sigaction`.
unsafe fn sigset_with(
    sig: c_int,
    disp: libc::sighandler_t,
    backend: Backend,
) -> libc::sighandler_t {
    // SAFETY: all-zero is an empty sigset_t.
    let mut set: libc::sigset_t = unsafe { zeroed() };
    // SAFETY: `set` is a live sigset_t; sigaddset validates `sig` (EINVAL) as glibc's sigset does.
    if unsafe { libc::sigaddset(&mut set, sig) } < 0 {
        return SIG_ERR;
    }
    // SAFETY: as above.
    let mut oset: libc::sigset_t = unsafe { zeroed() };
    let mut oact = zeroed_sigaction();
    if disp == SIG_HOLD {
        // SAFETY: live sets.
        if unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, &mut oset) } < 0 {
            return SIG_ERR;
        }
        // SAFETY: live set.
        if unsafe { libc::sigismember(&oset, sig) } > 0 {
            return SIG_HOLD;
        }
        // SAFETY: a live local; no new action.
        if unsafe { backend(sig, ptr::null(), &mut oact) } < 0 {
            return SIG_ERR;
        }
        return oact.sa_sigaction;
    }
    let mut act = zeroed_sigaction();
    act.sa_sigaction = disp;
    // SAFETY: live locals.
    if unsafe { backend(sig, &act, &mut oact) } < 0 {
        return SIG_ERR;
    }
    // SAFETY: live sets.
    if unsafe { libc::sigprocmask(libc::SIG_UNBLOCK, &set, &mut oset) } < 0 {
        return SIG_ERR;
    }
    // SAFETY: live set.
    if unsafe { libc::sigismember(&oset, sig) } > 0 {
        SIG_HOLD
    } else {
        oact.sa_sigaction
    }
}

/// `signal/sigignore.c`.
///
/// # Safety
/// `backend` must be a `sigaction`.
unsafe fn sigignore_with(sig: c_int, backend: Backend) -> c_int {
    let mut act = zeroed_sigaction();
    act.sa_sigaction = SIG_IGN;
    // SAFETY: a live local; no old action.
    unsafe { backend(sig, &act, ptr::null_mut()) }
}

/// `sysdeps/posix/siginterrupt.c`: flips SA_RESTART and remembers it for `signal`.
///
/// # Safety
/// `backend` must be a `sigaction`.
unsafe fn siginterrupt_with(sig: c_int, interrupt: c_int, backend: Backend) -> c_int {
    let mut action = zeroed_sigaction();
    // SAFETY: a live local; no new action.
    if unsafe { backend(sig, ptr::null(), &mut action) } < 0 {
        return -1;
    }
    // `sig` is valid: the backend accepted it.
    if interrupt != 0 {
        INTR.fetch_or(bit(sig), Ordering::Relaxed);
        action.sa_flags &= !libc::SA_RESTART;
    } else {
        INTR.fetch_and(!bit(sig), Ordering::Relaxed);
        action.sa_flags |= libc::SA_RESTART;
    }
    // SAFETY: a live local; no old action.
    if unsafe { backend(sig, &action, ptr::null_mut()) } < 0 {
        -1
    } else {
        0
    }
}

// ---------------------------------------------------------------------------------------------
// The exports

/// The backend for `sig` when it is guarded, else `None` (forward to the next definition).
fn guarded(sig: c_int) -> Option<Backend> {
    slot(sig).map(|_| guarded_sigaction as Backend)
}

/// The next definition of a wrapper, or glibc's algorithm over the raw call if there is none.
fn next_or_raw(which: Next) -> Result<usize, Backend> {
    next(which).ok_or(raw_sigaction as Backend)
}

/// # Safety
/// As libc's `sigaction`.
unsafe fn sigaction_via(
    which: Next,
    sig: c_int,
    act: *const libc::sigaction,
    oact: *mut libc::sigaction,
) -> c_int {
    let backend = match guarded(sig).ok_or_else(|| next_or_raw(which)) {
        Ok(b) | Err(Err(b)) => b,
        // SAFETY: dlsym's definition of this very function, called with the caller's arguments.
        Err(Ok(p)) => return unsafe { transmute::<usize, SigactionFn>(p)(sig, act, oact) },
    };
    // SAFETY: forwarded from the caller's contract.
    unsafe { backend(sig, act, oact) }
}

/// # Safety
/// As libc's `signal`.
unsafe fn signal_via(which: Next, sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t {
    let backend = match guarded(sig).ok_or_else(|| next_or_raw(which)) {
        Ok(b) | Err(Err(b)) => b,
        // SAFETY: dlsym's definition of this very function.
        Err(Ok(p)) => return unsafe { transmute::<usize, SignalFn>(p)(sig, handler) },
    };
    // SAFETY: `backend` is a sigaction.
    unsafe { bsd_signal_with(sig, handler, backend) }
}

/// # Safety
/// As libc's `sysv_signal`.
unsafe fn sysv_signal_via(
    which: Next,
    sig: c_int,
    handler: libc::sighandler_t,
) -> libc::sighandler_t {
    let backend = match guarded(sig).ok_or_else(|| next_or_raw(which)) {
        Ok(b) | Err(Err(b)) => b,
        // SAFETY: dlsym's definition of this very function.
        Err(Ok(p)) => return unsafe { transmute::<usize, SignalFn>(p)(sig, handler) },
    };
    // SAFETY: `backend` is a sigaction.
    unsafe { sysv_signal_with(sig, handler, backend) }
}

/// `sigaction(2)` — examines or changes a signal's action; SIGSEGV and SIGBUS go to the table.
///
/// # Safety
/// As libc's `sigaction`: `act` readable, `oact` writable, or null (bad pointers fault, as in
/// libc).
#[no_mangle]
pub unsafe extern "C" fn sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    oact: *mut libc::sigaction,
) -> c_int {
    // SAFETY: forwarded from the caller's contract.
    unsafe { sigaction_via(Next::Sigaction, sig, act, oact) }
}

/// `__sigaction` — glibc's other name for `sigaction`.
///
/// # Safety
/// As [`sigaction`].
#[no_mangle]
pub unsafe extern "C" fn __sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    oact: *mut libc::sigaction,
) -> c_int {
    // SAFETY: forwarded from the caller's contract.
    unsafe { sigaction_via(Next::UnderSigaction, sig, act, oact) }
}

/// `signal(2)` — sets a handler with BSD semantics.
///
/// # Safety
/// `handler` must be SIG_DFL, SIG_IGN or a function the program may be interrupted into.
#[no_mangle]
pub unsafe extern "C" fn signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t {
    // SAFETY: forwarded from the caller's contract.
    unsafe { signal_via(Next::Signal, sig, handler) }
}

/// `bsd_signal(3)` — glibc's `signal` under its BSD name.
///
/// # Safety
/// As [`signal`].
#[no_mangle]
pub unsafe extern "C" fn bsd_signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t {
    // SAFETY: forwarded from the caller's contract.
    unsafe { signal_via(Next::BsdSignal, sig, handler) }
}

/// `ssignal(3)` — glibc's alias of `signal`.
///
/// # Safety
/// As [`signal`].
#[no_mangle]
pub unsafe extern "C" fn ssignal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t {
    // SAFETY: forwarded from the caller's contract.
    unsafe { signal_via(Next::Ssignal, sig, handler) }
}

/// `sysv_signal(3)` — sets a one-shot handler with System V semantics.
///
/// # Safety
/// As [`signal`].
#[no_mangle]
pub unsafe extern "C" fn sysv_signal(
    sig: c_int,
    handler: libc::sighandler_t,
) -> libc::sighandler_t {
    // SAFETY: forwarded from the caller's contract.
    unsafe { sysv_signal_via(Next::SysvSignal, sig, handler) }
}

/// `__sysv_signal` — glibc's other name for `sysv_signal`.
///
/// # Safety
/// As [`signal`].
#[no_mangle]
pub unsafe extern "C" fn __sysv_signal(
    sig: c_int,
    handler: libc::sighandler_t,
) -> libc::sighandler_t {
    // SAFETY: forwarded from the caller's contract.
    unsafe { sysv_signal_via(Next::UnderSysvSignal, sig, handler) }
}

/// `sigset(3)` — System V signal management, including `SIG_HOLD`.
///
/// # Safety
/// As [`signal`].
#[no_mangle]
pub unsafe extern "C" fn sigset(sig: c_int, disp: libc::sighandler_t) -> libc::sighandler_t {
    let backend = match guarded(sig).ok_or_else(|| next_or_raw(Next::Sigset)) {
        Ok(b) | Err(Err(b)) => b,
        // SAFETY: dlsym's `sigset`.
        Err(Ok(p)) => return unsafe { transmute::<usize, SignalFn>(p)(sig, disp) },
    };
    // SAFETY: `backend` is a sigaction.
    unsafe { sigset_with(sig, disp, backend) }
}

/// `sigignore(3)` — sets a signal to `SIG_IGN`.
///
/// # Safety
/// None beyond libc's: every argument value is accepted or refused with EINVAL.
#[no_mangle]
pub unsafe extern "C" fn sigignore(sig: c_int) -> c_int {
    let backend = match guarded(sig).ok_or_else(|| next_or_raw(Next::Sigignore)) {
        Ok(b) | Err(Err(b)) => b,
        // SAFETY: dlsym's `sigignore`.
        Err(Ok(p)) => return unsafe { transmute::<usize, SigignoreFn>(p)(sig) },
    };
    // SAFETY: `backend` is a sigaction.
    unsafe { sigignore_with(sig, backend) }
}

/// `siginterrupt(3)` — whether a handler interrupts system calls (clears or sets SA_RESTART).
///
/// # Safety
/// None beyond libc's: every argument value is accepted or refused with EINVAL.
#[no_mangle]
pub unsafe extern "C" fn siginterrupt(sig: c_int, interrupt: c_int) -> c_int {
    let backend = match guarded(sig).ok_or_else(|| next_or_raw(Next::Siginterrupt)) {
        Ok(b) | Err(Err(b)) => b,
        Err(Ok(p)) => {
            // SAFETY: dlsym's `siginterrupt`.
            let r = unsafe { transmute::<usize, SiginterruptFn>(p)(sig, interrupt) };
            // Tracked for every signal, for the fallback `signal` (glibc keeps its own copy).
            if r == 0 && (1..NSIG).contains(&sig) {
                if interrupt != 0 {
                    INTR.fetch_or(bit(sig), Ordering::Relaxed);
                } else {
                    INTR.fetch_and(!bit(sig), Ordering::Relaxed);
                }
            }
            return r;
        }
    };
    // SAFETY: `backend` is a sigaction.
    unsafe { siginterrupt_with(sig, interrupt, backend) }
}
