//! The statcache dentry cache: a process-local, lock-free userspace copy of the kernel's dentry
//! cache, kept exact by inotify. It knows nothing of LD_PRELOAD; `shim` drives it.
#![cfg_attr(not(test), no_std)]
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

pub mod reason;
pub mod sys;

pub use reason::{Reason, N_REASON};
