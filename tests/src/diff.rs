//! Differential harness helpers, shared by the `difftest` program and `tests/differential.rs`:
//! locating (and if need be building) the library, compiling the C preload libraries under
//! `tests/c/diff_*.c`, a seeded PRNG, the byte layouts of `struct stat` and `struct statx` for
//! field-by-field reports, filesystem-type names, and readers for the harness's summary line and
//! the library's statistics lines.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use crate::common::{library, target_dir, workspace_root};

/// Compiles `tests/c/NAME.c` into a preloadable shared library (cached by content, like every
/// probe; see [`crate::common::compile_c_shared`]).
pub fn compile_preload(name: &str) -> PathBuf {
    crate::common::compile_c_shared(name, &["-O2", "-ldl"])
}

/// splitmix64: a small, seedable, good-enough PRNG (the harness needs reproducibility, not
/// cryptographic quality).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x6a09_e667_f3bc_c909)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `0..n` as a usize.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A uniformly chosen element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// An index chosen with the given relative weights (not all zero).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut r = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if r < u64::from(w) {
                return i;
            }
            r -= u64::from(w);
        }
        weights.len() - 1
    }
}

/// Which kernel structure a result buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// x86_64 `struct stat` (= `struct stat64`, the kernel's `struct stat`), 144 bytes.
    Stat,
    /// `struct statx`, 256 bytes.
    Statx,
}

/// Size in bytes of x86_64 `struct stat`.
pub const STAT_SIZE: usize = 144;
/// Size in bytes of `struct statx`.
pub const STATX_SIZE: usize = 256;

/// (name, offset, size, signed) of every field of x86_64 `struct stat`, padding included.
pub const STAT_FIELDS: &[(&str, usize, usize, bool)] = &[
    ("st_dev", 0, 8, false),
    ("st_ino", 8, 8, false),
    ("st_nlink", 16, 8, false),
    ("st_mode", 24, 4, false),
    ("st_uid", 28, 4, false),
    ("st_gid", 32, 4, false),
    ("__pad0", 36, 4, false),
    ("st_rdev", 40, 8, false),
    ("st_size", 48, 8, true),
    ("st_blksize", 56, 8, true),
    ("st_blocks", 64, 8, true),
    ("st_atime", 72, 8, true),
    ("st_atime_nsec", 80, 8, true),
    ("st_mtime", 88, 8, true),
    ("st_mtime_nsec", 96, 8, true),
    ("st_ctime", 104, 8, true),
    ("st_ctime_nsec", 112, 8, true),
    ("__glibc_reserved[0]", 120, 8, true),
    ("__glibc_reserved[1]", 128, 8, true),
    ("__glibc_reserved[2]", 136, 8, true),
];

/// (name, offset, size, signed) of every field of `struct statx` (Linux 6.18), spares included.
pub const STATX_FIELDS: &[(&str, usize, usize, bool)] = &[
    ("stx_mask", 0, 4, false),
    ("stx_blksize", 4, 4, false),
    ("stx_attributes", 8, 8, false),
    ("stx_nlink", 16, 4, false),
    ("stx_uid", 20, 4, false),
    ("stx_gid", 24, 4, false),
    ("stx_mode", 28, 2, false),
    ("__spare0", 30, 2, false),
    ("stx_ino", 32, 8, false),
    ("stx_size", 40, 8, false),
    ("stx_blocks", 48, 8, false),
    ("stx_attributes_mask", 56, 8, false),
    ("stx_atime.tv_sec", 64, 8, true),
    ("stx_atime.tv_nsec", 72, 4, false),
    ("stx_atime.__reserved", 76, 4, false),
    ("stx_btime.tv_sec", 80, 8, true),
    ("stx_btime.tv_nsec", 88, 4, false),
    ("stx_btime.__reserved", 92, 4, false),
    ("stx_ctime.tv_sec", 96, 8, true),
    ("stx_ctime.tv_nsec", 104, 4, false),
    ("stx_ctime.__reserved", 108, 4, false),
    ("stx_mtime.tv_sec", 112, 8, true),
    ("stx_mtime.tv_nsec", 120, 4, false),
    ("stx_mtime.__reserved", 124, 4, false),
    ("stx_rdev_major", 128, 4, false),
    ("stx_rdev_minor", 132, 4, false),
    ("stx_dev_major", 136, 4, false),
    ("stx_dev_minor", 140, 4, false),
    ("stx_mnt_id", 144, 8, false),
    ("stx_dio_mem_align", 152, 4, false),
    ("stx_dio_offset_align", 156, 4, false),
    ("stx_subvol", 160, 8, false),
    ("stx_atomic_write_unit_min", 168, 4, false),
    ("stx_atomic_write_unit_max", 172, 4, false),
    ("stx_atomic_write_segments_max", 176, 4, false),
    ("stx_dio_read_offset_align", 180, 4, false),
    ("stx_atomic_write_unit_max_opt", 184, 4, false),
    ("__spare2", 188, 4, false),
    ("__spare3[0]", 192, 8, false),
    ("__spare3[1]", 200, 8, false),
    ("__spare3[2]", 208, 8, false),
    ("__spare3[3]", 216, 8, false),
    ("__spare3[4]", 224, 8, false),
    ("__spare3[5]", 232, 8, false),
    ("__spare3[6]", 240, 8, false),
    ("__spare3[7]", 248, 8, false),
];

impl Layout {
    pub fn size(self) -> usize {
        match self {
            Layout::Stat => STAT_SIZE,
            Layout::Statx => STATX_SIZE,
        }
    }

    pub fn fields(self) -> &'static [(&'static str, usize, usize, bool)] {
        match self {
            Layout::Stat => STAT_FIELDS,
            Layout::Statx => STATX_FIELDS,
        }
    }

    /// Byte ranges of the access-time fields.
    pub fn atime_ranges(self) -> [(usize, usize); 2] {
        match self {
            Layout::Stat => [(72, 80), (80, 88)],
            Layout::Statx => [(64, 72), (72, 76)],
        }
    }

    /// The access time as (seconds, nanoseconds).
    pub fn atime(self, buf: &[u8]) -> (i64, u32) {
        let [(s0, s1), (n0, _)] = self.atime_ranges();
        let sec = i64::from_le_bytes(buf[s0..s1].try_into().expect("8 bytes"));
        let nsec = u32::from_le_bytes(buf[n0..n0 + 4].try_into().expect("4 bytes"));
        (sec, nsec)
    }

    /// The file type and mode bits.
    pub fn mode(self, buf: &[u8]) -> u32 {
        match self {
            Layout::Stat => u32::from_le_bytes(buf[24..28].try_into().expect("4 bytes")),
            Layout::Statx => u32::from(u16::from_le_bytes(buf[28..30].try_into().expect("2"))),
        }
    }
}

/// Reads a little-endian field of `size` bytes.
pub fn field_value(buf: &[u8], offset: usize, size: usize, signed: bool) -> i128 {
    let bytes = &buf[offset..offset + size];
    let mut v: u64 = 0;
    for (i, b) in bytes.iter().enumerate() {
        v |= u64::from(*b) << (8 * i);
    }
    if signed && size == 8 {
        i128::from(v as i64)
    } else if signed && size == 4 {
        i128::from(v as u32 as i32)
    } else {
        i128::from(v)
    }
}

/// Field-by-field differences between two result buffers of `layout`, then any difference in
/// the bytes past the structure (which neither call may write), one line each:
/// `name: LEFT_LABEL V (0xV) / RIGHT_LABEL W (0xW)`.
pub fn diff_fields(layout: Layout, a: &[u8], b: &[u8], la: &str, lb: &str) -> Vec<String> {
    let mut out = Vec::new();
    for &(name, off, size, signed) in layout.fields() {
        if a[off..off + size] != b[off..off + size] {
            let (x, y) = (
                field_value(a, off, size, signed),
                field_value(b, off, size, signed),
            );
            out.push(format!("{name}: {la} {x} ({x:#x}) / {lb} {y} ({y:#x})"));
        }
    }
    let end = layout.size();
    let n = a.len().min(b.len());
    if n > end && a[end..n] != b[end..n] {
        let first = (end..n).find(|&i| a[i] != b[i]).unwrap_or(end);
        out.push(format!(
            "bytes past the {end}-byte structure differ from offset {first}: written beyond the struct"
        ));
    }
    out
}

/// The `statfs` magic of the filesystem holding `path`, and its name.
pub fn fs_type(path: &Path) -> (i64, &'static str) {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return (0, "?");
    };
    // SAFETY: statfs is plain old data; all-zero is a valid value.
    let mut sfs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `sfs` is a writable statfs; both outlive the call.
    if unsafe { libc::statfs(c.as_ptr(), &mut sfs) } != 0 {
        return (0, "?");
    }
    let magic = sfs.f_type as i64;
    let name = match magic {
        0xEF53 => "ext4",
        0x0102_1994 => "tmpfs",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0xF2F5_2010 => "f2fs",
        0x8584_58f6 => "ramfs",
        0x794c_7630 => "overlayfs",
        0x6969 => "nfs",
        0x6573_5546 => "fuse",
        0x0102_1997 => "9p",
        _ => "other",
    };
    (magic, name)
}

/// The `key=value` pairs of the harness's summary line (the last stdout line starting with
/// `difftest:`).
pub fn parse_summary(stdout: &str) -> Option<BTreeMap<String, String>> {
    let line = stdout.lines().rev().find(|l| l.starts_with("difftest:"))?;
    Some(
        line.split_whitespace()
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// Counters summed over statistics lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatTotals {
    pub lines: u64,
    pub total: u64,
    pub hits: u64,
    pub negative_hits: u64,
    pub misses: u64,
    pub fallbacks: u64,
    pub mismatches: u64,
    /// Threads alive at exit whose barrier was an io_uring / an epoll.
    pub ring_barriers: u64,
    pub epoll_barriers: u64,
    pub fallback_reasons: BTreeMap<String, u64>,
}

impl StatTotals {
    fn add(&mut self, v: &Value) {
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        self.lines += 1;
        self.total += n("total");
        self.hits += n("hits");
        self.negative_hits += n("negative_hits");
        self.misses += n("misses");
        self.mismatches += n("mismatches");
        self.ring_barriers += n("ring_barriers");
        self.epoll_barriers += n("epoll_barriers");
        if let Some(Value::Object(f)) = v.get("fallbacks") {
            for (reason, count) in f {
                let c = count.as_u64().unwrap_or(0);
                self.fallbacks += c;
                *self.fallback_reasons.entry(reason.clone()).or_insert(0) += c;
            }
        }
    }
}

impl std::fmt::Display for StatTotals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "lines={} total={} hits={} negative_hits={} misses={} fallbacks={} {:?}",
            self.lines,
            self.total,
            self.hits,
            self.negative_hits,
            self.misses,
            self.fallbacks,
            self.fallback_reasons
        )
    }
}

/// The statistics lines of a `STATCACHE_STATS` file, summed separately for the process `pid` and
/// for all other processes (its forked children). `None` when the file is missing or empty.
pub fn read_stats(path: &Path, pid: u64) -> Option<(StatTotals, StatTotals)> {
    let text = fs::read_to_string(path).ok()?;
    let (mut main, mut others) = (StatTotals::default(), StatTotals::default());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v.get("pid").and_then(Value::as_u64) == Some(pid) {
            main.add(&v);
        } else {
            others.add(&v);
        }
    }
    (main.lines + others.lines > 0).then_some((main, others))
}

/// A short name for an errno value, for reports.
pub fn errno_name(e: i32) -> String {
    let name = match e {
        0 => "0",
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENOTTY => "ENOTTY",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ELOOP => "ELOOP",
        libc::ENODATA => "ENODATA",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ENXIO => "ENXIO",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_cover_the_structures_exactly() {
        for layout in [Layout::Stat, Layout::Statx] {
            let mut next = 0;
            for &(name, off, size, _) in layout.fields() {
                assert_eq!(off, next, "{name} does not follow the previous field");
                next = off + size;
            }
            assert_eq!(next, layout.size());
        }
        assert_eq!(std::mem::size_of::<libc::stat>(), STAT_SIZE);
        assert_eq!(std::mem::size_of::<libc::statx>(), STATX_SIZE);
    }

    #[test]
    fn rng_is_reproducible_and_in_range() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            assert!(a.below(10) < 10);
            b.below(10);
        }
        assert_eq!(a.weighted(&[0, 5, 0]), 1);
    }

    #[test]
    fn diff_names_the_field() {
        let a = [0u8; 256];
        let mut b = [0u8; 256];
        b[48] = 1;
        let d = diff_fields(Layout::Stat, &a, &b, "library", "raw");
        assert_eq!(d.len(), 1);
        assert!(d[0].starts_with("st_size: library 0"), "{d:?}");
        b[200] = 1;
        assert_eq!(diff_fields(Layout::Stat, &a, &b, "l", "r").len(), 2);
    }
}
