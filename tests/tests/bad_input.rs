//! Malformed arguments through every entry point: the return value, errno and the buffer
//! afterwards must match glibc without the library, and nothing may crash where libc returns an
//! error (NULL, unmapped and read-only pointers, unterminated strings at a page end, bad flags,
//! masks, descriptors and version arguments, over-long paths and components, symlink loops).

use statcache_tests::common::{
    assert_counts, assert_same, assert_success, compile_c, make_tree, probe_counts,
    single_stats_line, Invocation, Outcome, TempDir, EAGER_CACHE,
};

/// Two passes: the second may be answered from what the first cached.
const PASSES: &str = "2";

/// Runs one group of cases without and with the library on the same tree and requires the same
/// output; returns the run without the library for further checks.
fn same_as_glibc(group: &str) -> Outcome {
    let tmp = TempDir::new(&format!("bad-input-{group}"));
    let work = make_tree(&tmp.join("tree"));
    let probe = compile_c("bad_input", &[]);
    let inv = Invocation::new(&probe, &work).args([PASSES, group]);
    let plain = inv.run_plain();
    assert_success(&format!("bad_input {group} without the library"), &plain);
    let with = inv.run_preloaded(&tmp);
    assert_same(&format!("bad_input {group}"), &plain, &with.outcome, true);
    let (k, v) = EAGER_CACHE;
    let eager = inv.env(k, v).run_preloaded(&tmp);
    assert_same(
        &format!("bad_input {group}, {k}={v}"),
        &plain,
        &eager.outcome,
        true,
    );
    plain
}

/// Asserts that, without the library, `entry` on case `label` gave `ret=R errno=E` (the kernel
/// and glibc behave as this suite assumes, so the comparison tests what it means to).
fn expect(plain: &Outcome, label: &str, entry: &str, result: &str) {
    let prefix = format!("{label} {entry} ");
    let line = plain
        .stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line for {label} {entry}"));
    assert!(
        line[prefix.len()..].starts_with(result),
        "without the library, {label} {entry} gave {line:.120}, expected {result}"
    );
}

#[test]
fn null_unmapped_and_read_only_pointers() {
    let plain = same_as_glibc("pointers");
    expect(&plain, "null-path", "stat", "ret=-1 errno=14");
    expect(
        &plain,
        "rust-std-probe-statx(0,NULL,0,STATX_ALL,NULL)",
        "statx",
        "ret=-1 errno=14",
    );
    expect(&plain, "null-buf-missing", "lstat", "ret=-1 errno=2");
    expect(
        &plain,
        "unterminated-at-page-end",
        "statx",
        "ret=-1 errno=14",
    );
    expect(&plain, "page-without-nul", "stat", "ret=-1 errno=36");
    expect(&plain, "terminated-at-page-end", "__xstat", "ret=0");
    expect(&plain, "read-only-buf-file", "fstat", "ret=-1 errno=14");
    expect(
        &plain,
        "straddling-buf-file",
        "statx",
        "ret=-1 errno=14 partial=",
    );
    expect(&plain, "null-path-empty-path-file-fd", "statx", "ret=0");
}

#[test]
fn bad_flags_and_masks() {
    let plain = same_as_glibc("flags");
    expect(&plain, "bad-flags-0x12345678", "fstatat", "ret=-1 errno=22");
    expect(
        &plain,
        "force-sync-and-dont-sync",
        "statx",
        "ret=-1 errno=22",
    );
    expect(&plain, "mask-reserved", "statx", "ret=-1 errno=22");
    expect(&plain, "mask-reserved-missing", "statx", "ret=-1 errno=22");
}

#[test]
fn bad_and_non_directory_dirfds() {
    let plain = same_as_glibc("dirfds");
    expect(
        &plain,
        "dirfd-minus-5-relative",
        "fstatat",
        "ret=-1 errno=9",
    );
    expect(&plain, "dirfd-9999-absolute", "statx", "ret=0");
    expect(
        &plain,
        "dirfd-file-relative",
        "__fxstatat",
        "ret=-1 errno=20",
    );
    expect(&plain, "fd-AT_FDCWD", "fstat", "ret=-1 errno=9");
}

#[test]
fn empty_paths_with_and_without_at_empty_path() {
    let plain = same_as_glibc("empty");
    expect(&plain, "empty-path", "stat", "ret=-1 errno=2");
    expect(
        &plain,
        "empty-path-AT_EMPTY_PATH-file-fd",
        "fstatat64",
        "ret=0",
    );
}

#[test]
fn over_long_paths_and_components() {
    let plain = same_as_glibc("lengths");
    expect(&plain, "path-of-4095-bytes", "stat", "ret=0");
    expect(&plain, "path-of-4096-bytes", "stat", "ret=-1 errno=36");
    expect(
        &plain,
        "path-of-5000-bytes-missing",
        "statx",
        "ret=-1 errno=36",
    );
    expect(&plain, "dir-component-255", "lstat", "ret=-1 errno=2");
    expect(&plain, "dir-component-256", "lstat", "ret=-1 errno=36");
}

#[test]
fn symlink_loops_and_path_shapes() {
    let plain = same_as_glibc("shapes");
    expect(&plain, "40-symlinks", "stat", "ret=0");
    expect(&plain, "41-symlinks", "stat", "ret=-1 errno=40");
    expect(&plain, "41-symlinks", "lstat", "ret=0");
    expect(&plain, "missing/..", "stat", "ret=-1 errno=2");
    expect(&plain, "file/.", "stat", "ret=-1 errno=20");
}

#[test]
fn legacy_version_checked_first() {
    let plain = same_as_glibc("legacy");
    expect(
        &plain,
        "bad-version-null-path",
        "__xstat",
        "ret=-1 errno=22",
    );
    expect(
        &plain,
        "bad-version-null-buf",
        "__fxstat64",
        "ret=-1 errno=22",
    );
    expect(
        &plain,
        "version-0-bad-flags",
        "__fxstatat",
        "ret=-1 errno=22",
    );
    expect(&plain, "version-0-bad-flags", "__lxstat", "ret=0");
}

#[test]
fn bad_input_calls_are_counted() {
    let tmp = TempDir::new("bad-input-counts");
    let work = make_tree(&tmp.join("tree"));
    let probe = compile_c("bad_input", &[]);
    let with = Invocation::new(&probe, &work).arg("1").run_preloaded(&tmp);
    assert_success("bad_input under the library", &with.outcome);
    let line = single_stats_line(&with);
    assert_counts(line, &probe_counts(&with.outcome.stdout), "bad_input");
}
