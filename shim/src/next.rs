//! The next definitions of the symbols we export — `dlsym(RTLD_NEXT, name)`, resolved once.
//!
//! Pass-through goes to whatever the next object in the lookup order defines (glibc, or another
//! preload such as fakeroot), so statcache stacks with other preloads. Resolution happens in the
//! constructor, where `dlsym` may safely allocate; a call that arrives before that (from another
//! library's constructor) or finds no next definition gets the raw system call instead, which is
//! exactly what glibc 2.36 does for these functions on x86_64.

use core::sync::atomic::{AtomicUsize, Ordering};

/// The symbols we interpose and pass through. The order is the counters' order too.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(usize)]
pub enum Sym {
    Stat,
    Stat64,
    Lstat,
    Lstat64,
    Fstat,
    Fstat64,
    Fstatat,
    Fstatat64,
    Statx,
    Xstat,
    Xstat64,
    Lxstat,
    Lxstat64,
    Fxstat,
    Fxstat64,
    Fxstatat,
    Fxstatat64,
    Chdir,
    Fchdir,
}

/// Number of stat-family entry points (the first 17 of [`Sym`]).
pub const N_ENTRY: usize = 17;
const N_SYM: usize = 19;

/// NUL-terminated names, indexed by [`Sym`].
pub const NAMES: [&str; N_SYM] = [
    "stat\0",
    "stat64\0",
    "lstat\0",
    "lstat64\0",
    "fstat\0",
    "fstat64\0",
    "fstatat\0",
    "fstatat64\0",
    "statx\0",
    "__xstat\0",
    "__xstat64\0",
    "__lxstat\0",
    "__lxstat64\0",
    "__fxstat\0",
    "__fxstat64\0",
    "__fxstatat\0",
    "__fxstatat64\0",
    "chdir\0",
    "fchdir\0",
];

impl Sym {
    /// The symbol's name without the NUL.
    pub fn name(self) -> &'static str {
        let n = NAMES[self as usize];
        &n[..n.len() - 1]
    }
}

static NEXT: [AtomicUsize; N_SYM] = [const { AtomicUsize::new(0) }; N_SYM];

/// Resolves every next definition. Called once from the constructor.
pub fn init() {
    for (i, name) in NAMES.iter().enumerate() {
        // SAFETY: `name` is a NUL-terminated static string; RTLD_NEXT from a function in this
        // object searches the objects loaded after it.
        let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr().cast()) };
        // Release pairs with the Acquire in `get`: whoever sees the pointer sees a resolved symbol.
        NEXT[i].store(p as usize, Ordering::Release);
    }
}

/// The next definition of `s`, or `None` before the constructor ran or if there is none.
#[inline(always)]
pub fn get(s: Sym) -> Option<usize> {
    // Acquire pairs with the Release in `init`.
    match NEXT[s as usize].load(Ordering::Acquire) {
        0 => None,
        p => Some(p),
    }
}

/// Whether some other object between us and libc also defines `s` (fakeroot, libfaketime, a
/// test preload): then its answers may not be the kernel's, and the cache must not serve them.
/// Compares the next definition with libc's own (two hash lookups; `dladdr` would scan libc's
/// whole symbol table).
pub fn foreign_definition(s: Sym) -> bool {
    let Some(p) = get(s) else { return false };
    // SAFETY: RTLD_NOLOAD only looks up the already-loaded libc; the name is NUL-terminated.
    let libc_handle =
        unsafe { libc::dlopen(c"libc.so.6".as_ptr(), libc::RTLD_NOLOAD | libc::RTLD_LAZY) };
    if libc_handle.is_null() {
        return true;
    }
    // SAFETY: a valid handle and a NUL-terminated name.
    let own = unsafe { libc::dlsym(libc_handle, NAMES[s as usize].as_ptr().cast()) } as usize;
    // SAFETY: balances the dlopen above (NOLOAD still takes a reference).
    unsafe { libc::dlclose(libc_handle) };
    own != p
}

/// The next definition of `name` (NUL-terminated), resolved on first use and kept in `slot`:
/// for the rarely called functions interposed outside the stat family (credentials, `close`...).
pub fn lazy(slot: &AtomicUsize, name: &[u8]) -> usize {
    let p = slot.load(Ordering::Acquire);
    if p != 0 {
        return p;
    }
    // SAFETY: `name` is NUL-terminated; RTLD_NEXT searches the objects after this one.
    let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr().cast()) } as usize;
    // Release pairs with the Acquire above.
    slot.store(p, Ordering::Release);
    p
}
