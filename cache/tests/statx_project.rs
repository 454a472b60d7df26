//! `statx::project` checked against the kernel: for files of every kind on every filesystem at
//! hand, one sealed fetch, then for every single request bit, every combination of the common
//! bits, a list of usual masks and ~2000 seeded random ones, each projected answer is compared
//! byte for byte with a fresh raw `statx(2)` with that mask.
//!
//! Filesystems: the temporary directory (ext4 on the development machine); tmpfs (a fresh mount
//! when running as root, else `/dev/shm`); ramfs when root (no multigrain timestamps, so mtime
//! and ctime come back unasked there); and any directories named in `STATCACHE_STATX_DIRS`
//! (colon-separated: writable ones get the same fixtures, read-only ones have their top-level
//! entries checked as they are).

use cache::statx::{self, *};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The raw system call, not following a final symlink.
fn real(path: &Path, mask: u32) -> Result<[u8; 256], i32> {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut b = [0u8; 256];
    // SAFETY: NUL-terminated path, 256 writable bytes.
    let r = unsafe {
        libc::syscall(
            libc::SYS_statx,
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            mask,
            b.as_mut_ptr(),
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap())
    } else {
        Ok(b)
    }
}

fn fetch(path: &Path) -> ([u8; 256], bool) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut rec = [0u8; 256];
    // SAFETY: NUL-terminated path.
    let sealed = unsafe { statx::fetch(libc::AT_FDCWD, c.as_ptr().cast(), &mut rec) }
        .unwrap_or_else(|e| panic!("fetch {}: {e:?}", path.display()));
    (rec, sealed)
}

fn mask_of(b: &[u8; 256]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

const FIELDS: [(usize, &str); 27] = [
    (0x00, "mask"),
    (0x04, "blksize"),
    (0x08, "attributes"),
    (0x10, "nlink"),
    (0x14, "uid"),
    (0x18, "gid"),
    (0x1c, "mode"),
    (0x20, "ino"),
    (0x28, "size"),
    (0x30, "blocks"),
    (0x38, "attributes_mask"),
    (0x40, "atime"),
    (0x50, "btime"),
    (0x60, "ctime"),
    (0x70, "mtime"),
    (0x80, "rdev"),
    (0x88, "dev"),
    (0x90, "mnt_id"),
    (0x98, "dio_mem_align"),
    (0x9c, "dio_offset_align"),
    (0xa0, "subvol"),
    (0xa8, "atomic_write_unit_min/max/segments"),
    (0xb4, "dio_read_offset_align"),
    (0xb8, "atomic_write_unit_max_opt"),
    (0xbc, "spare2"),
    (0xc0, "spare3"),
    (0x100, ""),
];

fn diff(a: &[u8; 256], b: &[u8; 256]) -> String {
    let mut s = String::new();
    for w in FIELDS.windows(2) {
        let (o, name) = w[0];
        let e = w[1].0;
        if a[o..e] != b[o..e] {
            s += &format!(" {name}@{o:#x}: {:02x?} vs {:02x?};", &a[o..e], &b[o..e]);
        }
    }
    s
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The request masks tried on every file.
fn masks() -> Vec<u32> {
    // First 0 and the single bits, in order (the report's row).
    let mut m = vec![0];
    m.extend((0..32).map(|i| 1u32 << i));
    // Every combination of the common bits.
    let common = STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID;
    m.extend((0..=common).filter(|x| x & !common == 0));
    m.extend([
        STATX_TYPE | STATX_MODE,
        STATX_TYPE | STATX_MODE | STATX_INO,
        STATX_SIZE | STATX_MTIME,
        STATX_BASIC_STATS | STATX_BTIME,
        STATX_ALL | STATX_MNT_ID_UNIQUE,
        STATX_BASIC_STATS | STATX_MNT_ID_UNIQUE,
        STATX_TYPE | STATX_MNT_ID_UNIQUE,
        STATX_DIOALIGN,
        STATX_DIOALIGN | STATX_TYPE,
        STATX_DIO_READ_ALIGN,
        STATX_DIOALIGN | STATX_DIO_READ_ALIGN,
        STATX_WRITE_ATOMIC,
        STATX_WRITE_ATOMIC | STATX_BASIC_STATS,
        STATX_SUBVOL,
        STATX_SUBVOL | STATX_ALL,
        FETCH_MASK,
        KNOWN,
        STATX_ALL | STATX_CHANGE_COOKIE,
        STATX_BASIC_STATS | STATX_RESERVED,
        0x7fff_ffff,
        !0,
    ]);
    let mut r = Rng(0x5eed_5eed_1234_5678);
    for i in 0..2000 {
        let x = r.next() as u32;
        m.push(match i % 10 {
            0..=6 => x & KNOWN,
            7 | 8 => (x & KNOWN) | 1 << (18 + (r.next() % 14) as u32),
            _ => x,
        });
    }
    m
}

#[derive(Default)]
struct Tally {
    files: usize,
    compared: usize,
    projected: usize,
    fallback: usize,
}

/// Checks every mask on one file; returns the single-bit row for the report.
fn check(fs: &str, kind: &str, path: &Path, masks: &[u32], t: &mut Tally) -> String {
    let (rec, sealed) = fetch(path);
    assert!(sealed, "{fs}/{kind}: the probe did not fit the model");
    assert!(statx::is_sealed(&rec));
    let common = STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID;
    let mut row = format!("{fs:>8} {kind:<10}");
    t.files += 1;
    for (i, &req) in masks.iter().enumerate() {
        let r = real(path, req);
        if i <= 18 {
            row += &match (p_peek(&rec, req), r) {
                (true, Ok(k)) => format!(" {:x}", mask_of(&k)),
                (false, Ok(k)) => format!(" ({:x})", mask_of(&k)),
                (_, Err(e)) => format!(" E{e}"),
            };
        }
        let mut out = [0x5au8; 256];
        let p = statx::project(&rec, req, &mut out);
        t.compared += 1;
        match (p, r) {
            (Some(()), Ok(k)) => {
                t.projected += 1;
                assert!(
                    out == k,
                    "{fs}/{kind} req {req:#x}: projection differs:{}",
                    diff(&out, &k)
                );
            }
            (Some(()), Err(e)) => panic!("{fs}/{kind} req {req:#x}: projected, kernel says {e}"),
            (None, r) => {
                t.fallback += 1;
                if req & STATX_RESERVED != 0 {
                    assert_eq!(r.err(), Some(libc::EINVAL), "{fs}/{kind} {req:#x}");
                } else {
                    r.unwrap_or_else(|e| panic!("{fs}/{kind} {req:#x}: {e}"));
                }
                // The only known-bit requests not derived: one DIO alignment without the other.
                if projectable(req) {
                    let dio = req & (STATX_DIOALIGN | STATX_DIO_READ_ALIGN);
                    assert!(
                        dio == STATX_DIOALIGN || dio == STATX_DIO_READ_ALIGN,
                        "{fs}/{kind} req {req:#x}: known bits but no projection"
                    );
                }
            }
        }
        if req & !common == 0 {
            assert!(
                p.is_some(),
                "{fs}/{kind} req {req:#x}: common mask not served"
            );
        }
    }
    // Nothing changed while the masks were tried (else a mismatch could be a race).
    let (again, _) = fetch(path);
    assert!(
        again == rec,
        "{fs}/{kind}: the file changed during the test"
    );
    row
}

fn p_peek(rec: &[u8; 256], req: u32) -> bool {
    statx::project(rec, req, &mut [0u8; 256]).is_some()
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

/// Atime far in the future (so no read moves it), mtime fixed, not following symlinks.
fn pin_times(p: &Path) {
    let ts = [
        libc::timespec {
            tv_sec: 4_000_000_000,
            tv_nsec: 123_456_789,
        },
        libc::timespec {
            tv_sec: 1_600_000_000,
            tv_nsec: 987_654_321,
        },
    ];
    // SAFETY: NUL-terminated path, two timespecs. Failure (append-only file) is tolerated.
    unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            cpath(p).as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
}

const FS_IOC_GETFLAGS: libc::c_ulong = 0x8008_6601;
const FS_IOC_SETFLAGS: libc::c_ulong = 0x4008_6602;
const FS_APPEND_FL: libc::c_int = 0x20;
const FS_NODUMP_FL: libc::c_int = 0x40;

/// Sets inode flags (chattr); false where the filesystem or the credentials refuse.
fn set_flags(p: &Path, flags: libc::c_int) -> bool {
    let Ok(f) = std::fs::File::open(p) else {
        return false;
    };
    use std::os::fd::AsRawFd;
    let mut cur: libc::c_int = 0;
    // SAFETY: valid fd and an int-sized argument, as the ioctls expect.
    unsafe {
        if libc::ioctl(f.as_raw_fd(), FS_IOC_GETFLAGS, &mut cur) != 0 {
            return false;
        }
        cur = (cur & !(FS_APPEND_FL | FS_NODUMP_FL)) | flags;
        libc::ioctl(f.as_raw_fd(), FS_IOC_SETFLAGS, &cur) == 0
    }
}

/// Creates the fixtures in `dir` (which must exist and be empty) and pins their timestamps.
fn fixtures(dir: &Path, mount_root: bool) -> Vec<(String, PathBuf)> {
    let mut v = Vec::new();
    let j = |n: &str| dir.join(n);
    std::fs::write(j("file"), b"some bytes\n").unwrap();
    v.push(("file".to_string(), j("file")));
    std::fs::write(j("empty"), b"").unwrap();
    v.push(("empty".to_string(), j("empty")));
    std::fs::create_dir(j("dir")).unwrap();
    v.push(("dir".to_string(), j("dir")));
    std::os::unix::fs::symlink("file", j("symlink")).unwrap();
    v.push(("symlink".to_string(), j("symlink")));
    std::fs::write(j("setuid"), b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        j("setuid"),
        std::os::unix::fs::PermissionsExt::from_mode(0o4755),
    )
    .unwrap();
    v.push(("setuid".to_string(), j("setuid")));
    std::fs::write(j("nodump"), b"x").unwrap();
    if set_flags(&j("nodump"), FS_NODUMP_FL) {
        v.push(("nodump".to_string(), j("nodump")));
    }
    std::fs::write(j("append"), b"x").unwrap();
    if set_flags(&j("append"), FS_APPEND_FL) {
        v.push(("append".to_string(), j("append")));
    }
    if mount_root {
        v.push(("mountroot".to_string(), dir.to_path_buf()));
    }
    for (_, p) in &v {
        pin_times(p);
    }
    pin_times(dir);
    v
}

fn cleanup(dir: &Path) {
    let _ = set_flags(&dir.join("append"), 0);
    let _ = std::fs::remove_dir_all(dir);
}

fn run_dir(fs: &str, dir: &Path, mount_root: bool) -> Tally {
    let masks = masks();
    let mut t = Tally::default();
    let mut rows = Vec::new();
    for (kind, p) in fixtures(dir, mount_root) {
        rows.push(check(fs, &kind, &p, &masks, &mut t));
    }
    report(fs, &rows, &t);
    t
}

fn report(fs: &str, rows: &[String], t: &Tally) {
    let mut s = format!(
        "{fs}: {} files, {} masks compared, {} projected (all byte-identical), {} fell back\n\
         stx_mask for requests 0, 0x1, 0x2 .. 0x20000 (in parentheses: not projected)\n",
        t.files, t.compared, t.projected, t.fallback
    );
    for r in rows {
        s += r;
        s.push('\n');
    }
    eprint!("{s}");
    assert!(t.projected > 0);
}

fn statfs_magic(p: &Path) -> Option<i64> {
    // SAFETY: all-zero statfs is a valid output buffer.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: NUL-terminated path, writable buffer.
    let r = unsafe { libc::statfs(cpath(p).as_ptr(), &mut s) };
    (r == 0).then_some(s.f_type)
}

fn fresh_dir(base: &Path, tag: &str) -> PathBuf {
    let d = base.join(format!("statcache-statx-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A private mount of `fstype` on a fresh directory, unmounted on drop; None if not permitted.
struct Mount(PathBuf);

impl Mount {
    fn new(fstype: &str) -> Option<Mount> {
        let d = fresh_dir(&std::env::temp_dir(), &format!("mnt-{fstype}"));
        let src = CString::new("statcache-test").unwrap();
        let ty = CString::new(fstype).unwrap();
        let opts = CString::new("mode=0755").unwrap();
        // SAFETY: NUL-terminated strings; a plain new mount on our own empty directory.
        let r = unsafe {
            libc::mount(
                src.as_ptr(),
                cpath(&d).as_ptr(),
                ty.as_ptr(),
                libc::MS_NOSUID,
                opts.as_ptr().cast(),
            )
        };
        if r != 0 {
            let _ = std::fs::remove_dir(&d);
            return None;
        }
        Some(Mount(d))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = set_flags(&self.0.join("append"), 0);
        // SAFETY: NUL-terminated path of the mount made in `new`.
        unsafe { libc::umount2(cpath(&self.0).as_ptr(), libc::MNT_DETACH) };
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn temp_dir_filesystem() {
    let base = std::env::temp_dir();
    let label = match statfs_magic(&base) {
        Some(0xef53) => "ext4",
        Some(0x0102_1994) => "tmpfs",
        _ => "tmpdir",
    };
    let d = fresh_dir(&base, "tmp");
    run_dir(label, &d, false);
    cleanup(&d);
}

#[test]
fn tmpfs() {
    if let Some(m) = Mount::new("tmpfs") {
        run_dir("tmpfs", &m.0, true);
        return;
    }
    let shm = Path::new("/dev/shm");
    if statfs_magic(shm) != Some(0x0102_1994) {
        eprintln!("tmpfs: no tmpfs mount permitted and /dev/shm is not tmpfs; skipped");
        return;
    }
    let d = fresh_dir(shm, "shm");
    run_dir("shm", &d, false);
    cleanup(&d);
}

#[test]
fn ramfs_fills_times_unasked() {
    let Some(m) = Mount::new("ramfs") else {
        eprintln!("ramfs: not permitted here; skipped");
        return;
    };
    run_dir("ramfs", &m.0, true);
    // No multigrain timestamps: a request for the type alone still gets mtime and ctime.
    let (rec, _) = fetch(&m.0.join("file"));
    let mut out = [0u8; 256];
    statx::project(&rec, STATX_TYPE, &mut out).unwrap();
    assert_eq!(
        mask_of(&out) & (STATX_MTIME | STATX_CTIME),
        STATX_MTIME | STATX_CTIME
    );
}

#[test]
fn listed_directories() {
    let Ok(list) = std::env::var("STATCACHE_STATX_DIRS") else {
        return;
    };
    for dir in list.split(':').filter(|s| !s.is_empty()) {
        let dir = Path::new(dir);
        let label = dir.file_name().unwrap().to_string_lossy().into_owned();
        let probe = dir.join(format!(".statcache-statx-{}", std::process::id()));
        if std::fs::create_dir(&probe).is_ok() {
            let _ = std::fs::remove_dir(&probe);
            let d = fresh_dir(dir, "x");
            run_dir(&label, &d, false);
            cleanup(&d);
        } else {
            // Read-only: check what is there.
            let masks = masks();
            let mut t = Tally::default();
            let mut rows = Vec::new();
            let mut entries: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            entries.sort();
            entries.push(dir.to_path_buf());
            for p in entries {
                let kind = p
                    .file_name()
                    .map_or("root".into(), |n| n.to_string_lossy().into_owned());
                rows.push(check(&label, &kind, &p, &masks, &mut t));
            }
            report(&label, &rows, &t);
        }
    }
}
