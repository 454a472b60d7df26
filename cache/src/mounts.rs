//! The mount table: which devices are on filesystems that report every change through the
//! local VFS (the allowlist), read from `/proc/self/mountinfo`.
//!
//! The file is also the mount-change signal: poll reports `POLLPRI` once per change of the
//! mount namespace, so the cache flushes everything when it fires.

use crate::sys;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

const MAX_DEVS: usize = 512;

/// Reads never change atime on this mount.
pub const NOATIME: u64 = 0;
/// Reads change atime only when `relatime_need_update` (fs/inode.c) says so.
pub const RELATIME: u64 = 1;
/// Every read changes atime.
pub const STRICTATIME: u64 = 2;
const MODE_MASK: u64 = 3;

/// Devices on allowlisted filesystems, as `major << 32 | minor`; `TRUST_OVERLAY` adds overlayfs.
pub struct Mounts {
    devs: [AtomicU64; MAX_DEVS],
    n: AtomicU32,
    pub trust_overlay: AtomicU32,
}

impl Default for Mounts {
    fn default() -> Self {
        Self::new()
    }
}

impl Mounts {
    pub const fn new() -> Self {
        Mounts {
            devs: [const { AtomicU64::new(0) }; MAX_DEVS],
            n: AtomicU32::new(0),
            trust_overlay: AtomicU32::new(0),
        }
    }

    /// Whether `st_dev` (the `struct stat` encoding) is on an allowlisted filesystem.
    #[inline]
    pub fn allowed(&self, st_dev: u64) -> bool {
        self.atime_mode(st_dev).is_some()
    }

    /// How reads update atime on `st_dev`, if it is allowlisted: the strictest over every mount
    /// of the device ([`NOATIME`], [`RELATIME`] or [`STRICTATIME`]).
    pub fn atime_mode(&self, st_dev: u64) -> Option<u64> {
        let key = (major(st_dev) as u64) << 32 | minor(st_dev) as u64;
        let n = self.n.load(Acquire) as usize;
        let mut mode = None;
        for d in &self.devs[..n.min(MAX_DEVS)] {
            let v = d.load(Relaxed);
            if v & !MODE_MASK == key << 2 {
                mode = Some(mode.unwrap_or(0).max(v & MODE_MASK));
            }
        }
        mode
    }

    /// Re-reads the table from an open mountinfo fd (rewound with pread). Writer lock held.
    /// Returns false if the table could not be read whole.
    pub fn load(&self, fd: i32, buf: &mut [u8]) -> bool {
        let mut n = 0usize;
        let mut off = 0usize;
        let mut carry = 0usize;
        loop {
            // SAFETY: the destination is the unfilled tail of `buf`.
            let r = unsafe {
                sys::syscall6(
                    libc::SYS_pread64,
                    fd as usize,
                    buf.as_mut_ptr().add(carry) as usize,
                    buf.len() - carry,
                    off,
                    0,
                    0,
                )
            };
            let Ok(got) = r else { return false };
            let end = carry + got;
            if got == 0 {
                break;
            }
            off += got;
            let mut start = 0;
            while let Some(nl) = buf[start..end].iter().position(|&c| c == b'\n') {
                if let Some(dev) = self.parse_line(&buf[start..start + nl]) {
                    if n < MAX_DEVS {
                        self.devs[n].store(dev, Relaxed);
                        n += 1;
                    }
                }
                start += nl + 1;
            }
            carry = end - start;
            if carry == buf.len() {
                return false; // a line longer than the buffer
            }
            buf.copy_within(start..end, 0);
        }
        // Release pairs with the Acquire in `allowed`.
        self.n.store(n as u32, Release);
        true
    }

    /// One mountinfo line -> the device, if its filesystem is allowlisted.
    fn parse_line(&self, line: &[u8]) -> Option<u64> {
        let mut fields = line.split(|&c| c == b' ');
        let _id = fields.next()?;
        let _parent = fields.next()?;
        let dev = fields.next()?;
        let _root = fields.next()?;
        let _mountpoint = fields.next()?;
        let opts = fields.next()?;
        let has = |o: &[u8]| opts.split(|&c| c == b',').any(|x| x == o);
        // Reads never move atime on a read-only or noatime mount (atime_needs_update, fs/inode.c).
        let mode = if has(b"noatime") || has(b"ro") {
            NOATIME
        } else if has(b"relatime") {
            RELATIME
        } else {
            STRICTATIME
        };
        // Skip to the separator "-".
        let mut fields = fields.skip_while(|f| *f != b"-");
        fields.next()?;
        let fstype = fields.next()?;
        let _source = fields.next()?;
        let sopts = fields.next().unwrap_or(b"");
        if !fs_allowed(fstype, sopts, self.trust_overlay.load(Relaxed) != 0) {
            return None;
        }
        let colon = dev.iter().position(|&c| c == b':')?;
        let ma = parse_dec(&dev[..colon])?;
        let mi = parse_dec(&dev[colon + 1..])?;
        Some(((ma as u64) << 32 | mi as u64) << 2 | mode)
    }
}

/// The allowlist: filesystems whose every change goes through the local VFS and so reaches
/// inotify. Read-only images qualify trivially (nothing changes).
pub fn fs_allowed(fstype: &[u8], super_opts: &[u8], trust_overlay: bool) -> bool {
    match fstype {
        b"ext2" | b"ext3" | b"ext4" | b"xfs" | b"btrfs" | b"f2fs" | b"tmpfs" | b"ramfs" => true,
        b"squashfs" | b"erofs" | b"iso9660" => true,
        b"overlay" => trust_overlay,
        _ => {
            let _ = super_opts;
            false
        }
    }
}

fn parse_dec(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    s.iter().try_fold(0u32, |a, &c| {
        if c.is_ascii_digit() {
            Some(a * 10 + (c - b'0') as u32)
        } else {
            None
        }
    })
}

/// glibc's `major()` of a `struct stat` `st_dev`.
#[inline]
pub fn major(dev: u64) -> u32 {
    (((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)) as u32
}

/// glibc's `minor()` of a `struct stat` `st_dev`.
#[inline]
pub fn minor(dev: u64) -> u32 {
    ((dev & 0xff) | ((dev >> 12) & !0xff)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_lines() {
        let m = Mounts::new();
        let l = b"29 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard";
        assert_eq!(m.parse_line(l), Some((254u64 << 32) << 2 | RELATIME));
        let l = b"30 29 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=1k";
        assert_eq!(m.parse_line(l), None);
        let l = b"31 30 0:25 / /dev/shm rw - tmpfs tmpfs rw";
        assert_eq!(m.parse_line(l), Some(25 << 2 | STRICTATIME));
        let l = b"32 30 0:26 / /n rw,noatime - tmpfs tmpfs rw";
        assert_eq!(m.parse_line(l), Some(26 << 2 | NOATIME));
        let l = b"33 30 0:27 / /img ro,relatime - squashfs /dev/loop0 ro";
        assert_eq!(m.parse_line(l), Some(27 << 2 | NOATIME));
        let l = b"40 29 0:40 / /mnt/o rw - overlay overlay rw,lowerdir=/a";
        assert_eq!(m.parse_line(l), None);
        m.trust_overlay.store(1, Relaxed);
        assert_eq!(m.parse_line(l), Some(40 << 2 | STRICTATIME));
        let l = b"41 29 0:41 / /proc rw - proc proc rw";
        assert_eq!(m.parse_line(l), None);
    }

    #[test]
    fn dev_encoding_matches_glibc() {
        // makedev(254, 0) and makedev(8, 300) as glibc encodes them.
        let mk = |ma: u64, mi: u64| {
            (mi & 0xff) | ((ma & 0xfff) << 8) | ((mi & !0xff) << 12) | ((ma & !0xfff) << 32)
        };
        for (ma, mi) in [(254u64, 0u64), (8, 300), (0, 25), (4097, 70000)] {
            assert_eq!(major(mk(ma, mi)) as u64, ma);
            assert_eq!(minor(mk(ma, mi)) as u64, mi);
        }
    }

    #[test]
    fn loads_this_machines_table() {
        let path = b"/proc/self/mountinfo\0";
        // SAFETY: NUL-terminated path.
        let fd = unsafe {
            sys::openat(
                libc::AT_FDCWD,
                path.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
                0,
            )
        }
        .unwrap();
        let m = Mounts::new();
        let mut buf = vec![0u8; 8192];
        assert!(m.load(fd as i32, &mut buf));
        let _ = sys::close(fd as i32);
        // SAFETY: all-zero is a valid struct stat.
        let mut st: libc::stat = unsafe { core::mem::zeroed() };
        // SAFETY: valid path and buffer.
        unsafe { sys::newfstatat(libc::AT_FDCWD, b"/proc/self\0".as_ptr(), &mut st, 0) }.unwrap();
        assert!(!m.allowed(st.st_dev), "procfs must not be allowlisted");
    }
}
