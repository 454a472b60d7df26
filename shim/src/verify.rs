//! Verify mode (`STATCACHE_VERIFY=1`): every answer the cache would give is also obtained from
//! the real call and compared field by field; a mismatch is counted, logged with the path and
//! the differing fields, and the real answer is returned.

use crate::front::{self, Want};
use crate::log::{log, WARN};
use crate::thread::ThreadState;
use crate::uaccess;
use cache::sys;
use core::ffi::c_int;

const STAT_FIELDS: [(&str, usize, usize); 13] = [
    ("st_dev", 0, 8),
    ("st_ino", 8, 8),
    ("st_nlink", 16, 8),
    ("st_mode", 24, 4),
    ("st_uid", 28, 4),
    ("st_gid", 32, 4),
    ("st_rdev", 40, 8),
    ("st_size", 48, 8),
    ("st_blksize", 56, 8),
    ("st_blocks", 64, 8),
    ("st_atime", 72, 16),
    ("st_mtime", 88, 16),
    ("st_ctime", 104, 16),
];

const STATX_FIELDS: [(&str, usize, usize); 18] = [
    ("stx_mask", 0, 4),
    ("stx_blksize", 4, 4),
    ("stx_attributes", 8, 8),
    ("stx_nlink", 16, 4),
    ("stx_uid", 20, 4),
    ("stx_gid", 24, 4),
    ("stx_mode", 28, 2),
    ("stx_ino", 32, 8),
    ("stx_size", 40, 8),
    ("stx_blocks", 48, 8),
    ("stx_attributes_mask", 56, 8),
    ("stx_atime", 64, 16),
    ("stx_btime", 80, 16),
    ("stx_ctime", 96, 16),
    ("stx_mtime", 112, 16),
    ("stx_rdev", 128, 8),
    ("stx_dev", 136, 8),
    ("stx_rest", 144, 112),
];

/// Compares the cache's answer (`ret`, `errno`, `cached`) with the real call's, counts it, and
/// gives the caller the real answer. Returns the value for the caller.
///
/// # Safety
/// `p` and `out` are the caller's pointers: only the kernel and `uaccess` touch them.
#[allow(clippy::too_many_arguments)]
pub unsafe fn check(
    t: &ThreadState,
    d: c_int,
    p: *const u8,
    fl: c_int,
    want: Want,
    ret: c_int,
    errno: i32,
    cached: &[u8],
    out: *mut u8,
) -> c_int {
    let mut real = [0u8; 256];
    // SAFETY: `real` is large enough for either struct; the kernel validates `p`.
    let r = unsafe {
        match want {
            Want::Statx(mask, _) => sys::statx(d, p, fl, mask, real.as_mut_ptr().cast()),
            _ => sys::newfstatat(d, p, real.as_mut_ptr().cast(), fl),
        }
    };
    let (rret, rerrno) = match r {
        Ok(_) => (0, 0),
        Err(e) => (-1, e.0),
    };
    let n = cached.len();
    let same = rret == ret && rerrno == errno && (ret != 0 || real[..n] == cached[..]);
    t.count_verified(!same);
    if !same {
        // SAFETY: this thread's scratch path holds the copied path (NUL-terminated).
        let path = unsafe { &(*t.pt.scratch.get()).path };
        let plen = path.iter().position(|&c| c == 0).unwrap_or(0);
        let path = core::str::from_utf8(&path[..plen]).unwrap_or("<non-utf8>");
        log!(
            WARN,
            "verify mismatch on {:?}: cache ret={} errno={}, real ret={} errno={}",
            path,
            ret,
            errno,
            rret,
            rerrno
        );
        if ret == 0 && rret == 0 {
            let fields: &[(&str, usize, usize)] = if n == 256 {
                &STATX_FIELDS
            } else {
                &STAT_FIELDS
            };
            for &(name, off, len) in fields {
                if real[off..off + len] != cached[off..off + len] {
                    log!(WARN, "  field {} differs", name);
                }
            }
        }
    }
    front::count(t, rret != 0, false);
    if rret == 0 {
        // SAFETY: the handler is installed (we got here from a cache answer); `real` holds n bytes.
        if unsafe { uaccess::copy_to_user(out, real.as_ptr(), n) }.is_err() {
            // SAFETY: this thread's errno slot.
            unsafe { *libc::__errno_location() = libc::EFAULT };
            return -1;
        }
        0
    } else {
        // SAFETY: this thread's errno slot.
        unsafe { *libc::__errno_location() = rerrno };
        -1
    }
}
