//! Fault-tolerant access to the caller's memory — the kernel's exception table, in userspace.
//!
//! On a cache hit the library reads the caller's path and writes the caller's result buffer
//! itself. The kernel answers a bad pointer with `EFAULT`; we must never turn that into a
//! SIGSEGV or SIGBUS. Validating every pointer with a system call would cost more than the hit
//! saves, so this module does what the kernel does (`copy_from_user`, `strncpy_from_user`,
//! `fixup_exception`):
//!
//! - The copy routines are written in assembly, so every instruction that may fault lies
//!   between two known addresses, and the routine touches no stack of its own.
//! - An exception table (`statcache_extable`) maps each routine's range to a fixup label that
//!   returns "faulted". Its entries are 32-bit offsets relative to the entry, as in the kernel's
//!   `struct exception_table_entry`, so the table needs no relocation.
//! - A SIGSEGV/SIGBUS handler ([`on_fault`]) looks the faulting RIP up in the table; on a match
//!   it rewrites RIP to the fixup and returns: the routine returns [`CopyError::Fault`] and the
//!   caller makes the real call, which produces the exact errno. Every other signal goes to
//!   [`signals::deliver`], which does what the kernel would have done with the program's own
//!   disposition.
//!
//! The one rule for callers: **check [`installed`] before calling a copy routine**, and pass the
//! call through otherwise (the routines also check it, and report a fault when it is false).
//!
//! # References
//! Linux `arch/x86/mm/extable.c`, `arch/x86/lib/copy_user_64.S`, `lib/strncpy_from_user.c`;
//! `sigaction(2)`, `signal(7)`.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicU8, Ordering};

use crate::signals;

/// Why a copy did not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyError {
    /// A byte the copy needed could not be accessed (the kernel's `EFAULT`).
    Fault,
    /// No NUL in the first 4096 bytes (the kernel's `ENAMETOOLONG`).
    TooLong,
}

/// Size of the path buffer: `PATH_MAX`, NUL included, as the kernel's `getname()`.
pub const PATH_BUF: usize = 4096;

// The routines, the exception table and the signal trampolines.
//
// `statcache_copy_path(dst, src)`: copies the NUL-terminated string at `src` into the 4096-byte
// buffer `dst`, NUL included, loading each source byte exactly once: bytes one at a time up to
// an 8-byte boundary, then aligned 8-byte words (an aligned word never straddles a page, so it
// faults only where the byte loop would have), then the last few bytes of the 4096 one at a
// time. Returns the length, -2 when the first 4096 bytes hold no NUL, -1 (from the fixup) on a
// fault. The zero-byte test is the classic `(v - 0x01..01) & !v & 0x80..80`, whose lowest set
// bit always marks the first zero byte.
//
// `statcache_copy_user(dst, src, len)`: `rep movsb`; returns 0, or -1 from the fixup.
//
// `statcache_restore_rt`: the `rt_sigreturn` trampoline for handlers this library installs;
// its bytes are exactly glibc's `__restore_rt`, which unwinders (libgcc, gdb) recognize.
//
// `statcache_call_handler(fn, sig, info, ctx)`: calls a program's handler the way the kernel
// enters one on x86_64: `rdi` = signal, `rsi` = siginfo, `rdx` = ucontext whatever the
// handler's prototype, `rax` = 0. A tail jump, so the handler returns to our caller.
//
// Labels made only of 0s and 1s are avoided: the Intel-syntax parser reads `1b` as binary.
core::arch::global_asm!(
    ".pushsection .text.statcache_uaccess,\"ax\",@progbits",
    ".p2align 4",
    ".globl statcache_copy_path",
    ".hidden statcache_copy_path",
    ".type statcache_copy_path,@function",
    "statcache_copy_path:",
    "    xor eax, eax",
    "    test sil, 7",
    "    jz 3f",
    "2:",
    "    movzx ecx, byte ptr [rsi + rax]",
    "    mov byte ptr [rdi + rax], cl",
    "    test ecx, ecx",
    "    jz 9f",
    "    add rax, 1",
    "    lea rdx, [rsi + rax]",
    "    test dl, 7",
    "    jnz 2b",
    "3:",
    "    movabs r8, 0x0101010101010101",
    "    movabs r9, 0x8080808080808080",
    "4:",
    "    cmp rax, 4088",
    "    ja 6f",
    "    mov rdx, qword ptr [rsi + rax]",
    "    mov qword ptr [rdi + rax], rdx",
    "    mov rcx, rdx",
    "    sub rcx, r8",
    "    not rdx",
    "    and rcx, rdx",
    "    and rcx, r9",
    "    jnz 5f",
    "    add rax, 8",
    "    jmp 4b",
    "5:",
    "    bsf rcx, rcx",
    "    shr ecx, 3",
    "    add rax, rcx",
    "    ret",
    "6:",
    "    cmp rax, 4096",
    "    je 8f",
    "    movzx ecx, byte ptr [rsi + rax]",
    "    mov byte ptr [rdi + rax], cl",
    "    test ecx, ecx",
    "    jz 9f",
    "    add rax, 1",
    "    jmp 6b",
    "8:",
    "    mov rax, -2",
    "9:",
    "    ret",
    "statcache_copy_path_end:",
    "statcache_copy_path_fixup:",
    "    mov rax, -1",
    "    ret",
    ".size statcache_copy_path, . - statcache_copy_path",
    "",
    ".p2align 4",
    ".globl statcache_copy_user",
    ".hidden statcache_copy_user",
    ".type statcache_copy_user,@function",
    "statcache_copy_user:",
    "    mov rcx, rdx",
    "    rep movsb",
    "    xor eax, eax",
    "    ret",
    "statcache_copy_user_end:",
    "statcache_copy_user_fixup:",
    "    mov rax, -1",
    "    ret",
    ".size statcache_copy_user, . - statcache_copy_user",
    "",
    ".p2align 4",
    "    nop",
    ".globl statcache_restore_rt",
    ".hidden statcache_restore_rt",
    ".type statcache_restore_rt,@function",
    "statcache_restore_rt:",
    "    .byte 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00",
    "    syscall",
    ".size statcache_restore_rt, . - statcache_restore_rt",
    "",
    ".p2align 4",
    ".globl statcache_call_handler",
    ".hidden statcache_call_handler",
    ".type statcache_call_handler,@function",
    "statcache_call_handler:",
    "    mov r11, rdi",
    "    mov edi, esi",
    "    mov rsi, rdx",
    "    mov rdx, rcx",
    "    xor eax, eax",
    "    jmp r11",
    ".size statcache_call_handler, . - statcache_call_handler",
    ".popsection",
    "",
    ".pushsection .rodata.statcache_extable,\"a\",@progbits",
    ".p2align 2",
    ".globl statcache_extable",
    ".hidden statcache_extable",
    "statcache_extable:",
    "    .long statcache_copy_path - .",
    "    .long statcache_copy_path_end - .",
    "    .long statcache_copy_path_fixup - .",
    "    .long statcache_copy_user - .",
    "    .long statcache_copy_user_end - .",
    "    .long statcache_copy_user_fixup - .",
    ".popsection",
);

/// One exception-table entry: the routine's `[start, end)` and its fixup, each an offset from
/// the field's own address.
#[repr(C)]
struct ExEntry {
    start: i32,
    end: i32,
    fixup: i32,
}

extern "C" {
    fn statcache_copy_path(dst: *mut u8, src: *const u8) -> isize;
    fn statcache_copy_user(dst: *mut u8, src: *const u8, len: usize) -> isize;
    fn statcache_restore_rt();
    fn statcache_call_handler(f: usize, sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void);
    static statcache_extable: [ExEntry; 2];
}

/// The absolute address an exception-table field names.
fn ex_addr(field: &i32) -> usize {
    (field as *const i32 as usize).wrapping_add(*field as isize as usize)
}

/// `search_exception_tables` — the fixup for a faulting RIP inside a copy routine, if any.
fn search_extable(rip: usize) -> Option<usize> {
    // SAFETY: `statcache_extable` is immutable data defined by the `global_asm!` above, with
    // exactly the two entries declared.
    let table = unsafe { &*core::ptr::addr_of!(statcache_extable) };
    table
        .iter()
        .find(|e| ex_addr(&e.start) <= rip && rip < ex_addr(&e.end))
        .map(|e| ex_addr(&e.fixup))
}

/// Whether a pointer is outside user space. The kernel's `access_ok()` answers `EFAULT` for
/// every address above the user range without touching it, but one such page is readable
/// from userspace when `vsyscall=emulate`: the vsyscall page at `0xffffffffff600000`. Every
/// address with the top bit set is refused here; the rest of the non-user range is
/// non-canonical or unmapped and faults.
#[inline(always)]
fn is_kernel_address(p: usize) -> bool {
    (p as isize) < 0
}

/// `strncpy_from_user(dst, src, PATH_MAX)` — copies the caller's NUL-terminated path.
///
/// Reads each source byte exactly once (a concurrent writer cannot make us see two versions of
/// the path) and stops at the NUL. Returns the length without the NUL; the NUL is stored in
/// `dst` too, and `dst` past it holds junk. A NULL `src` is an ordinary fault.
///
/// # Errors
/// [`CopyError::Fault`] if a byte before the NUL cannot be read, or if [`installed`] is false;
/// [`CopyError::TooLong`] if the first 4096 bytes hold no NUL.
///
/// # Safety
/// `src` may be any value. Call only when [`installed`] has returned true: without the fault
/// handler a bad `src` kills the process with SIGSEGV (the function checks, but the handler may
/// be removed between that check and the fault if the program dies of its own fault at that
/// moment).
#[inline]
pub unsafe fn copy_path_from_user(
    dst: &mut [u8; PATH_BUF],
    src: *const u8,
) -> Result<usize, CopyError> {
    if !installed() || is_kernel_address(src as usize) {
        return Err(CopyError::Fault);
    }
    // SAFETY: `dst` is a live, writable 4096-byte buffer, all the routine writes; every read of
    // `src` lies inside the routine's exception-table range and the fault handler is installed
    // (checked just above), so a bad `src` returns -1 instead of killing the process.
    let r = unsafe { statcache_copy_path(dst.as_mut_ptr(), src) };
    match r {
        -1 => Err(CopyError::Fault),
        -2 => Err(CopyError::TooLong),
        n => Ok(n as usize),
    }
}

/// `copy_to_user(dst, src, len)` — writes `len` bytes to the caller's buffer.
///
/// A fault may leave part of `dst` written, as in the kernel; the caller then makes the real
/// call, which rewrites or reports `EFAULT`.
///
/// # Errors
/// [`CopyError::Fault`] if a byte of `dst` cannot be written, or if [`installed`] is false.
///
/// # Safety
/// `src` must be readable for `len` bytes. `dst` may be any value, but when it is writable it
/// must be memory the caller may write (the caller's result buffer): a valid pointer into the
/// wrong object is corrupted, not caught. Call only when [`installed`] has returned true (see
/// [`copy_path_from_user`]).
#[inline]
pub unsafe fn copy_to_user(dst: *mut u8, src: *const u8, len: usize) -> Result<(), CopyError> {
    if !installed() || is_kernel_address(dst as usize) {
        return Err(CopyError::Fault);
    }
    // SAFETY: `src` is readable for `len` bytes (caller's contract); every write to `dst` lies
    // inside the routine's exception-table range and the handler is installed (checked above).
    match unsafe { statcache_copy_user(dst, src, len) } {
        0 => Ok(()),
        _ => Err(CopyError::Fault),
    }
}

/// `copy_from_user(dst, src, len)` — reads `len` bytes of the caller's memory.
///
/// # Errors
/// [`CopyError::Fault`] if a byte of `src` cannot be read, or if [`installed`] is false.
///
/// # Safety
/// `dst` must be writable for `len` bytes; `src` may be any value. Call only when [`installed`]
/// has returned true (see [`copy_path_from_user`]).
#[inline]
pub(crate) unsafe fn copy_from_user(
    dst: *mut u8,
    src: *const u8,
    len: usize,
) -> Result<(), CopyError> {
    if !installed() || is_kernel_address(src as usize) {
        return Err(CopyError::Fault);
    }
    // SAFETY: `dst` is writable for `len` bytes (caller's contract); every read of `src` lies
    // inside the routine's exception-table range and the handler is installed (checked above).
    match unsafe { statcache_copy_user(dst, src, len) } {
        0 => Ok(()),
        _ => Err(CopyError::Fault),
    }
}

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const DONE: u8 = 2;

/// Where [`install`] stands: `IDLE` until a first caller claims it, `BUSY` while it works,
/// `DONE` afterwards, whatever the outcome (it is never retried: the handler is either
/// installed, declined, or was handed back because the program ignores the signals or is dying
/// of its own fault).
static INSTALL_STATE: AtomicU8 = AtomicU8::new(IDLE);

/// Installs the SIGSEGV and SIGBUS handler that makes the copy routines safe — once.
///
/// The first caller installs it with raw `rt_sigaction` (libc's `sigaction` is interposed by
/// this library), saving the program's dispositions into the table that [`signals`] keeps;
/// callers racing with it wait for it (a few system calls). Declines, and returns false
/// forever, when the program ignores SIGSEGV or SIGBUS (only the kernel can carry `SIG_IGN`
/// across `execve`). Async-signal-safe; the fast path is one load.
pub fn install() -> bool {
    // Acquire pairs with the Release store below: a caller that sees DONE sees the table.
    if INSTALL_STATE.load(Ordering::Acquire) == DONE {
        return installed();
    }
    // Signals are blocked before claiming the work: while BUSY no handler runs on the
    // installing thread, so a thread that waits below never waits for itself.
    let won = signals::with_signals_blocked(|| {
        // Acquire as above.
        if INSTALL_STATE
            .compare_exchange(IDLE, BUSY, Ordering::Acquire, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        signals::take_over(on_fault as *const () as usize);
        INSTALL_STATE.store(DONE, Ordering::Release);
        true
    });
    if !won {
        let mut spins = 0;
        // Acquire as above.
        while INSTALL_STATE.load(Ordering::Acquire) != DONE {
            signals::relax(&mut spins);
        }
    }
    installed()
}

/// Whether the fault handler is installed, so the copy routines may be called. One load.
#[inline(always)]
pub fn installed() -> bool {
    signals::owned()
}

/// The SIGSEGV/SIGBUS handler: `fixup_exception` for the copy routines, the program's own
/// disposition for everything else.
///
/// Only synchronous faults (`si_code > 0`, set by the kernel) are fixed up: a SIGSEGV sent by
/// `kill` while a copy routine runs belongs to the program. Runs with every signal blocked (its
/// `sa_mask` is full), allocates nothing and takes no lock the interrupted code could hold.
///
/// # Safety
/// Called by the kernel only, with the `siginfo_t` and `ucontext_t` of the frame it built.
unsafe extern "C" fn on_fault(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
    let sync = unsafe { signals::is_synchronous(sig, &*info) };
    if sync {
        let uc = ctx.cast::<libc::ucontext_t>();
        // SAFETY: the kernel passes a valid, writable ucontext; REG_RIP indexes `gregs`, whose
        // value `sigreturn` loads back into RIP.
        let rip = unsafe { &mut (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] };
        if let Some(fixup) = search_extable(*rip as usize) {
            *rip = fixup as i64;
            return;
        }
    }
    // SAFETY: forwarded from the kernel's call.
    unsafe { signals::deliver(sig, info, ctx, sync) }
}

/// The `rt_sigreturn` trampoline for actions this library installs itself.
pub(crate) fn restorer() -> usize {
    statcache_restore_rt as *const () as usize
}

/// Calls a program's signal handler with the kernel's register convention.
///
/// # Safety
/// `f` must be the program's handler for `sig` (an address it gave `sigaction`); `info` and
/// `ctx` the kernel's frame. The handler may not return (`siglongjmp`).
pub(crate) unsafe fn call_handler(
    f: usize,
    sig: c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut c_void,
) {
    // SAFETY: the trampoline only moves the arguments into place and jumps to `f`, as the
    // kernel would have entered it; the caller vouches for `f`.
    unsafe { statcache_call_handler(f, sig, info, ctx) }
}

/// Test hook: installs the handler, then copies the path at `src` into `out` (4096 bytes).
/// Returns the length, -1 on a fault, -2 if too long, -3 if the handler is not installed.
///
/// # Safety
/// `out` must be writable for 4096 bytes; `src` may be any value.
#[no_mangle]
pub unsafe extern "C" fn statcache_selftest_copy_path(src: *const u8, out: *mut u8) -> i32 {
    if out.is_null() || !install() {
        return -3;
    }
    // SAFETY: `out` is non-null (checked) and writable for 4096 bytes (caller's contract).
    let dst = unsafe { &mut *out.cast::<[u8; PATH_BUF]>() };
    // SAFETY: installed (checked above); `src` may be anything.
    match unsafe { copy_path_from_user(dst, src) } {
        Ok(n) => n as i32,
        Err(CopyError::Fault) => -1,
        Err(CopyError::TooLong) => -2,
    }
}

/// Test hook: installs the handler, then writes `len` bytes of 0xA5 to `dst`.
/// Returns 0, -1 on a fault, -3 if the handler is not installed.
///
/// # Safety
/// `dst` may be any value, but if writable it must be memory the caller may overwrite.
#[no_mangle]
pub unsafe extern "C" fn statcache_selftest_copy_to_user(dst: *mut u8, len: usize) -> i32 {
    if !install() {
        return -3;
    }
    let pattern = [0xA5u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(pattern.len());
        // SAFETY: installed (checked above); `pattern` is readable for `n` <= 256 bytes; the
        // caller vouches for `dst`.
        if unsafe { copy_to_user(dst.wrapping_add(done), pattern.as_ptr(), n) }.is_err() {
            return -1;
        }
        done += n;
    }
    0
}
