//! The cache driven directly (no preload): every answer compared with the real call.

use cache::{Cache, Lookup, PerThread, Reason, Want};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;

fn per_thread() -> Box<PerThread> {
    // SAFETY: all-zero is a valid PerThread (atomics and byte arrays); fds <= 0 mean none.
    let pt: Box<PerThread> = unsafe { Box::new_zeroed().assume_init() };
    pt.epoll_fd.store(-1, Relaxed);
    pt.mount_fd.store(-1, Relaxed);
    pt
}

fn cache() -> &'static Cache {
    let c: &'static Cache = Box::leak(Box::new(Cache::new()));
    c.cfg.min_reuse.store(0, Relaxed);
    c.cfg.epoll_after.store(0, Relaxed);
    assert!(c.activate());
    c
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("statcache-walk-{}-{}", tag, std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The real answer: (ret, errno, bytes).
fn real(path: &Path, nofollow: bool) -> (i32, i32, Vec<u8>) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut st = [0u8; 144];
    let fl = if nofollow {
        libc::AT_SYMLINK_NOFOLLOW
    } else {
        0
    };
    // SAFETY: valid path and buffer.
    let r = unsafe {
        libc::syscall(
            libc::SYS_newfstatat,
            libc::AT_FDCWD,
            c.as_ptr(),
            st.as_mut_ptr(),
            fl,
        )
    };
    let e = if r < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap()
    } else {
        0
    };
    (r as i32, e, st.to_vec())
}

fn ask(c: &Cache, pt: &PerThread, path: &Path, nofollow: bool) -> (Lookup, Vec<u8>) {
    let b = path.as_os_str().as_bytes();
    // SAFETY: the scratch belongs to this test thread.
    let sc = unsafe { &mut *pt.scratch.get() };
    sc.path[..b.len()].copy_from_slice(b);
    sc.path[b.len()] = 0;
    let mut out = [0u8; 256];
    let l = c.lookup(pt, b.len(), nofollow, Want::Stat, &mut out);
    if l == Lookup::Fallback(Reason::Cold) {
        // What the embedding library does after the real call: count the sighting.
        c.note_cold(pt);
    }
    (l, out[..144].to_vec())
}

/// Asks until the cache answers (cold sightings, a fill, hits; an unstable file waits for the
/// periodic barrier) and checks every answer against the kernel's.
fn check(c: &Cache, pt: &PerThread, path: &Path, nofollow: bool) -> Lookup {
    let mut last = Lookup::Fallback(Reason::Raced);
    for _ in 0..40 {
        let (l, out) = ask(c, pt, path, nofollow);
        let (r, e, st) = real(path, nofollow);
        match l {
            Lookup::Hit { .. } => assert!(r == 0 && out == st, "{path:?}: cached answer differs"),
            Lookup::Negative { errno, .. } => assert_eq!((r, e), (-1, errno.0), "{path:?}"),
            Lookup::Fallback(_) => {}
        }
        last = l;
    }
    last
}

/// Reads the file after a pause, so its atime is newer than its mtime and ctime: until then a
/// read could change atime without any inotify event, and the cache must not answer for it.
fn settle(f: &Path) {
    std::thread::sleep(std::time::Duration::from_millis(30));
    let _ = std::fs::read(f).unwrap();
}

#[test]
fn fresh_files_are_not_answered_until_atime_is_stable() {
    let c = cache();
    let pt = per_thread();
    let d = tmpdir("fresh");
    let f = d.join("file");
    std::fs::write(&f, b"x").unwrap();
    assert_eq!(check(c, &pt, &f, false), Lookup::Fallback(Reason::Inode));
    settle(&f);
    assert_eq!(check(c, &pt, &f, false), Lookup::Hit { filled: false });
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn hits_after_second_sight_and_follows_changes() {
    let c = cache();
    let pt = per_thread();
    let d = tmpdir("basic");
    let f = d.join("file");
    std::fs::write(&f, b"x").unwrap();
    settle(&f);
    assert_eq!(check(c, &pt, &f, false), Lookup::Hit { filled: false });
    std::fs::write(&f, b"longer").unwrap();
    check(c, &pt, &f, false);
    std::fs::remove_file(&f).unwrap();
    assert!(matches!(check(c, &pt, &f, false), Lookup::Negative { .. }));
    std::fs::write(&f, b"again").unwrap();
    settle(&f);
    assert_eq!(check(c, &pt, &f, false), Lookup::Hit { filled: false });
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn walk_semantics_match_the_kernel() {
    let c = cache();
    let pt = per_thread();
    let d = tmpdir("sem");
    std::fs::create_dir_all(d.join("a/b")).unwrap();
    std::fs::write(d.join("a/f"), b"f").unwrap();
    std::os::unix::fs::symlink("a/b", d.join("lb")).unwrap();
    std::os::unix::fs::symlink("a/f", d.join("lf")).unwrap();
    std::os::unix::fs::symlink(d.join("a"), d.join("abs")).unwrap();
    std::os::unix::fs::symlink("nowhere", d.join("dangle")).unwrap();
    std::os::unix::fs::symlink("loop2", d.join("loop1")).unwrap();
    std::os::unix::fs::symlink("loop1", d.join("loop2")).unwrap();
    let cases = [
        "a",
        "a/",
        "a/.",
        "a/..",
        "a/b/..",
        "a/b/../f",
        "a/f",
        "a/f/",
        "a/f/.",
        "a/f/x",
        "a/missing",
        "a/missing/..",
        "a/missing/x",
        "lb",
        "lb/",
        "lb/..",
        "lf",
        "lf/",
        "abs/f",
        "abs/../a",
        "dangle",
        "dangle/",
        "loop1",
        "a//f",
        "a/./f",
        "..",
        ".",
    ];
    for case in cases {
        for nofollow in [false, true] {
            check(c, &pt, &d.join(case), nofollow);
        }
    }
    check(c, &pt, Path::new("/"), false);
    check(c, &pt, Path::new("/.."), false);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn renames_and_replacements_are_seen() {
    let c = cache();
    let pt = per_thread();
    let d = tmpdir("ren");
    std::fs::create_dir_all(d.join("x/y")).unwrap();
    std::fs::write(d.join("x/y/f"), b"1").unwrap();
    let f = d.join("x/y/f");
    check(c, &pt, &f, false);
    std::fs::rename(d.join("x"), d.join("z")).unwrap();
    assert!(matches!(check(c, &pt, &f, false), Lookup::Negative { .. }));
    check(c, &pt, &d.join("z/y/f"), false);
    std::fs::create_dir_all(d.join("x/y")).unwrap();
    std::fs::write(d.join("x/y/f"), b"22").unwrap();
    check(c, &pt, &f, false);
    std::fs::write(d.join("new"), b"333").unwrap();
    std::fs::rename(d.join("new"), &f).unwrap();
    check(c, &pt, &f, false);
    std::fs::hard_link(&f, d.join("hl")).unwrap();
    check(c, &pt, &f, false);
    let _ = std::fs::remove_dir_all(&d);
}
