//! Logging to standard error, gated by `STATCACHE_LOG`. No allocation: lines are formatted into
//! a stack buffer and written with one `write(2)`.

use crate::config::LOG;
use crate::fmt::Buf;
use core::sync::atomic::Ordering::Relaxed;

pub const WARN: u32 = 1;
pub const INFO: u32 = 2;

/// Whether messages at `level` are wanted.
#[inline(always)]
pub fn enabled(level: u32) -> bool {
    LOG.load(Relaxed) >= level
}

/// Writes one `statcache[pid]: ...` line to standard error.
pub fn line(args: core::fmt::Arguments<'_>) {
    use core::fmt::Write;
    let mut b = Buf::<512>::new();
    let _ = write!(b, "statcache[{}]: ", cache::sys::getpid());
    let _ = b.write_fmt(args);
    if b.truncated {
        b.len -= 4.min(b.len);
        b.push(b"...");
    }
    b.push(b"\n");
    let _ = cache::sys::write_all(2, b.as_bytes());
}

/// `log!(level, "fmt", args...)` — logs when `STATCACHE_LOG >= level`.
macro_rules! log {
    ($lvl:expr, $($t:tt)*) => {
        if $crate::log::enabled($lvl) {
            $crate::log::line(format_args!($($t)*));
        }
    };
}
pub(crate) use log;
