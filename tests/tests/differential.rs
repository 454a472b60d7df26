//! Differential tests: the `difftest` harness (src/bin/difftest.rs) runs seeded random mutations
//! and queries with the library preloaded and compares every answer with the raw system call.
//!
//! - One test per mode and filesystem (the disk the target directory lives on, and a fresh tmpfs
//!   mounted in a private mount namespace, or /dev/shm when that is not allowed), several seeds
//!   each; zero mismatches allowed. Each prints the library's hit counts.
//! - The harness without the library: no false positives.
//! - Preload libraries built from tests/c/diff_liar.c prove that the harness catches wrong answers:
//!   one corrupts a field now and then, one never invalidates, and one is a cache kept exact by
//!   directory inotify watches. That last one passes when the mutations inotify cannot see are left
//!   out (a caching library that is right gets no false alarm), and fails on each of them alone
//!   (the harness reaches every blind spot).
//!
//! Environment: `STATCACHE_DIFF_OPS` (operations per run), `STATCACHE_DIFF_SEED` (run only that
//! seed), `STATCACHE_DIFF_EXCLUDE` (mutation kinds to leave out, comma-separated, for narrowing a
//! failure down; the tests print a warning when it is set), `STATCACHE_LIB` (the library).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use statcache_tests::common::{private_namespace, Mount};
use statcache_tests::diff;

const HARNESS: &str = env!("CARGO_BIN_EXE_difftest");
const MODES: [&str; 5] = [
    "inproc",
    "thread",
    "child-waitpid",
    "child-pipe",
    "child-shm",
];
/// Operations per harness run, and seeds per test: 10 mode tests x 3 seeds x 6000 = 180,000.
const DEFAULT_OPS: u64 = 6000;
const DEFAULT_SEEDS: u64 = 3;
/// Every mutation kind that changes what stat returns without a directory inotify event.
const BLIND_SPOTS: [&str; 9] = [
    "read",
    "utimens",
    "link_atime",
    "readdir",
    "empty_dir",
    "mmap_store",
    "chattr",
    "hardlink",
    "chown_noop",
];

/// The changes statcache documents as invisible to it (README, "Limitations"): inotify reports
/// nothing for them, so a process-local cache cannot see them when another process makes them.
/// The mode tests leave them out; the liar tests below prove the harness reaches each of them.
/// `chown(path, -1, -1)` made by the cached process itself is seen (the library flushes on it),
/// so only the modes whose mutations come from other processes leave it out.
const NOT_VISIBLE_TO_STATCACHE: &str = "mmap_store,chattr";
const NOT_VISIBLE_FROM_OTHER_PROCESSES: &str = "mmap_store,chattr,chown_noop";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fs {
    /// The filesystem of the target directory (ext4 here).
    Disk,
    /// A fresh tmpfs.
    Tmpfs,
}

fn ops() -> u64 {
    std::env::var("STATCACHE_DIFF_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_OPS)
}

fn seeds(base: u64) -> Vec<u64> {
    match std::env::var("STATCACHE_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(seed) => vec![seed],
        None => (0..DEFAULT_SEEDS).map(|i| base + i).collect(),
    }
}

fn excluded_by_env() -> Option<String> {
    let v = std::env::var("STATCACHE_DIFF_EXCLUDE")
        .ok()
        .filter(|v| !v.is_empty())?;
    eprintln!("WARNING: STATCACHE_DIFF_EXCLUDE={v}: these mutation kinds are not tested");
    Some(v)
}

/// A fresh directory under the target directory's scratch space.
fn sandbox(label: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "difftest/{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create sandbox");
    dir
}

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    summary: BTreeMap<String, String>,
    /// Where the harness ran (kept when it failed).
    dir: PathBuf,
    stats: PathBuf,
    /// How the tmpfs was provided, for the log.
    fs_note: String,
    /// The command, for reproducing a failure by hand.
    cmdline: String,
}

impl Run {
    fn get(&self, key: &str) -> u64 {
        self.summary
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    fn failed_with_mismatch(&self) -> bool {
        self.status.code() == Some(1) && self.stderr.contains("MISMATCH")
    }

    fn explain(&self) -> String {
        format!(
            "status {} after {:.1?} in {}\nrun by hand: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            self.elapsed,
            self.dir.display(),
            self.cmdline,
            self.stdout,
            self.stderr
        )
    }
}

/// Mounts a fresh tmpfs on `dir` in a private mount namespace of the child about to exec.
fn tmpfs_pre_exec(cmd: &mut Command, dir: &Path) {
    private_namespace(cmd, &[Mount::tmpfs(dir, "512m")]);
}

/// Runs the harness once. `preload`: the library and its extra environment.
fn run_harness(
    mode: &str,
    fs_kind: Fs,
    seed: u64,
    ops: u64,
    preload: Option<(&Path, &[(&str, &str)])>,
    extra: &[&str],
) -> Run {
    let label = format!("{mode}-{fs_kind:?}-{seed}").to_lowercase();
    let base = sandbox(&label);
    let mut dir = base.join("root");
    fs::create_dir_all(&dir).expect("create root");
    let stats = base.join("stats.jsonl");
    let out = base.join("stdout");
    let err = base.join("stderr");
    let timeout = Duration::from_secs(120 + ops / 200);
    let mut fs_note = String::new();
    let mut attempt_tmpfs_mount = fs_kind == Fs::Tmpfs;
    loop {
        let mut cmd = Command::new(HARNESS);
        cmd.arg("--seed")
            .arg(seed.to_string())
            .arg("--ops")
            .arg(ops.to_string())
            .arg("--root")
            .arg(&dir)
            .arg("--mode")
            .arg(mode)
            .args(extra)
            .env_remove("LD_PRELOAD")
            .env_remove("STATCACHE")
            .env_remove("STATCACHE_VERIFY")
            .env("STATCACHE_STATS", &stats)
            .env("STATCACHE_MIN_REUSE", "0")
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).expect("stdout file"))
            .stderr(fs::File::create(&err).expect("stderr file"));
        if let Some((lib, envs)) = preload {
            cmd.env("LD_PRELOAD", lib);
            for (k, v) in envs {
                cmd.env(k, v);
            }
        }
        if attempt_tmpfs_mount {
            tmpfs_pre_exec(&mut cmd, &dir);
        }
        let t0 = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if attempt_tmpfs_mount => {
                // No private mount namespace (not root?): use /dev/shm if it is a tmpfs.
                attempt_tmpfs_mount = false;
                let shm = Path::new("/dev/shm");
                assert_eq!(
                    diff::fs_type(shm).1,
                    "tmpfs",
                    "cannot mount a tmpfs ({e}) and /dev/shm is not one"
                );
                dir = shm.join(format!("statcache-difftest-{label}-{}", std::process::id()));
                let _ = fs::remove_dir_all(&dir);
                fs::create_dir_all(&dir).expect("create /dev/shm dir");
                fs_note = format!("tmpfs mount failed ({e}); using {}", dir.display());
                continue;
            }
            Err(e) => panic!("spawn {HARNESS}: {e}"),
        };
        if attempt_tmpfs_mount {
            fs_note = "fresh tmpfs in a private mount namespace".into();
        }
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait for the harness") {
                break s;
            }
            if t0.elapsed() > timeout {
                let _ = child.kill();
                let s = child.wait().expect("wait after kill");
                eprintln!("harness timed out after {timeout:?}");
                break s;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let elapsed = t0.elapsed();
        let stdout = fs::read_to_string(&out).unwrap_or_default();
        let stderr = fs::read_to_string(&err).unwrap_or_default();
        let summary = diff::parse_summary(&stdout).unwrap_or_default();
        let mut cmdline = String::new();
        if let Some((lib, envs)) = preload {
            cmdline.push_str(&format!("LD_PRELOAD={} ", lib.display()));
            for (k, v) in envs {
                cmdline.push_str(&format!("{k}={v} "));
            }
            cmdline.push_str("STATCACHE_MIN_REUSE=0 ");
        }
        cmdline.push_str(&format!(
            "{HARNESS} --seed {seed} --ops {ops} --root DIR --mode {mode} {}",
            extra.join(" ")
        ));
        return Run {
            status,
            stdout,
            stderr,
            elapsed,
            summary,
            dir,
            stats,
            fs_note,
            cmdline,
        };
    }
}

/// Removes what a successful run left behind.
fn clean(run: &Run) {
    if run.dir.starts_with("/dev/shm") {
        let _ = fs::remove_dir_all(&run.dir);
    }
    if let Some(base) = run.stats.parent() {
        let _ = fs::remove_dir_all(base);
    }
}

fn print_stats(run: &Run) {
    let pid = run.get("pid");
    match diff::read_stats(&run.stats, pid) {
        None => println!("    library statistics: none written (no STATCACHE_STATS support yet?)"),
        Some((main, children)) => {
            println!("    library statistics, harness process: {main}");
            if children.lines > 0 {
                println!(
                    "    library statistics, other processes (children, wrappers): {children}"
                );
            }
        }
    }
}

/// The mode tests: every seed must pass with zero mismatches.
fn mode_test(mode: &str, fs_kind: Fs, base_seed: u64) {
    mode_test_with(mode, fs_kind, base_seed, &[]);
}

/// `mode_test` with extra environment for the library (e.g. the other barrier).
fn mode_test_with(mode: &str, fs_kind: Fs, base_seed: u64, envs: &[(&str, &str)]) {
    let lib = diff::library();
    let invisible = if mode.starts_with("child") {
        NOT_VISIBLE_FROM_OTHER_PROCESSES
    } else {
        NOT_VISIBLE_TO_STATCACHE
    };
    let excluded = match excluded_by_env() {
        Some(x) => format!("{invisible},{x}"),
        None => invisible.to_string(),
    };
    let extra: Vec<&str> = vec!["--exclude-ops", excluded.as_str()];
    let (mut total_ops, t0) = (0, Instant::now());
    for seed in seeds(base_seed) {
        let run = run_harness(mode, fs_kind, seed, ops(), Some((&lib, envs)), &extra);
        if !run.status.success() {
            print_stats(&run);
        }
        assert!(
            run.status.success(),
            "difftest --mode {mode} --seed {seed} on {fs_kind:?} failed (reproduce: \
             STATCACHE_DIFF_SEED={seed} STATCACHE_DIFF_OPS={})\n{}",
            ops(),
            run.explain()
        );
        let fs_name = run.summary.get("fs").cloned().unwrap_or_default();
        println!(
            "{mode} on {fs_name} ({fs_kind:?}{}) seed {seed}: {:.2?}: {}",
            if run.fs_note.is_empty() {
                String::new()
            } else {
                format!(", {}", run.fs_note)
            },
            run.elapsed,
            run.stdout.lines().last().unwrap_or("")
        );
        print_stats(&run);
        if fs_kind == Fs::Tmpfs {
            assert_eq!(fs_name, "tmpfs", "the tmpfs run did not run on tmpfs");
        }
        let queries = run.get("queries");
        let strict = run.get("strict") + run.get("self_atime");
        assert!(queries > 0 && run.get("mutations") > 0, "nothing ran");
        if mode == "thread" {
            println!(
                "    thread mode: strict {strict}, relaxed {}, skipped {} of {queries} checks",
                run.get("relaxed"),
                run.get("skips")
            );
            assert!(2 * strict > queries, "most checks must be strict");
        } else {
            assert_eq!(strict, queries, "every check is strict outside thread mode");
        }
        check_barrier(&run, mode, envs);
        total_ops += run.get("ops");
        clean(&run);
    }
    println!(
        "{mode} on {fs_kind:?}: {total_ops} operations in {:.2?}",
        t0.elapsed()
    );
}

#[test]
fn inproc_disk() {
    mode_test("inproc", Fs::Disk, 100);
}

#[test]
fn inproc_tmpfs() {
    mode_test("inproc", Fs::Tmpfs, 200);
}

#[test]
fn thread_disk() {
    mode_test("thread", Fs::Disk, 300);
}

#[test]
fn thread_tmpfs() {
    mode_test("thread", Fs::Tmpfs, 400);
}

#[test]
fn child_waitpid_disk() {
    mode_test("child-waitpid", Fs::Disk, 500);
}

#[test]
fn child_waitpid_tmpfs() {
    mode_test("child-waitpid", Fs::Tmpfs, 600);
}

#[test]
fn child_pipe_disk() {
    mode_test("child-pipe", Fs::Disk, 700);
}

#[test]
fn child_pipe_tmpfs() {
    mode_test("child-pipe", Fs::Tmpfs, 800);
}

#[test]
fn child_shm_disk() {
    mode_test("child-shm", Fs::Disk, 900);
}

#[test]
fn child_shm_tmpfs() {
    mode_test("child-shm", Fs::Tmpfs, 1000);
}

/// The harness with no library at all: the "library" answer is glibc's own, so any mismatch is
/// the harness's fault.
/// A run that forced a barrier kind used it: the harness process ends with its main thread on
/// that barrier (on epoll where the kernel refuses the ring). The statistics count the threads
/// alive at exit, and in thread mode the querying thread has exited by then: there only the
/// kind is checked.
fn check_barrier(run: &Run, mode: &str, envs: &[(&str, &str)]) {
    let Some(&(_, kind)) = envs.iter().find(|(k, _)| *k == "STATCACHE_BARRIER") else {
        return;
    };
    let (main, _) = diff::read_stats(&run.stats, run.get("pid")).expect("statistics written");
    let ring = kind == "ring" && statcache_tests::common::io_uring_barrier_available();
    assert!(
        mode == "thread" || main.ring_barriers + main.epoll_barriers > 0,
        "STATCACHE_BARRIER={kind}: the harness ended with no barrier"
    );
    if ring {
        assert_eq!(main.epoll_barriers, 0, "STATCACHE_BARRIER=ring: {main}");
    } else {
        assert_eq!(main.ring_barriers, 0, "STATCACHE_BARRIER={kind}: {main}");
    }
}

// The default barrier is an epoll that a thread trades for an io_uring once it has made 2048
// quiet barriers (the mode tests above cross that point); these run some modes with every
// thread on one barrier from start to end.
const EPOLL_BARRIER: &[(&str, &str)] = &[("STATCACHE_BARRIER", "epoll")];
const RING_BARRIER: &[(&str, &str)] = &[("STATCACHE_BARRIER", "ring")];

#[test]
fn thread_tmpfs_ring_barrier() {
    mode_test_with("thread", Fs::Tmpfs, 1400, RING_BARRIER);
}

#[test]
fn child_shm_disk_ring_barrier() {
    mode_test_with("child-shm", Fs::Disk, 1500, RING_BARRIER);
}

#[test]
fn child_waitpid_tmpfs_ring_barrier() {
    mode_test_with("child-waitpid", Fs::Tmpfs, 1600, RING_BARRIER);
}

#[test]
fn thread_disk_epoll_barrier() {
    mode_test_with("thread", Fs::Disk, 1100, EPOLL_BARRIER);
}

#[test]
fn child_shm_disk_epoll_barrier() {
    mode_test_with("child-shm", Fs::Disk, 1200, EPOLL_BARRIER);
}

#[test]
fn child_pipe_tmpfs_epoll_barrier() {
    mode_test_with("child-pipe", Fs::Tmpfs, 1300, EPOLL_BARRIER);
}

#[test]
fn harness_without_library_has_no_false_positives() {
    let sandbox_fs = diff::fs_type(Path::new(env!("CARGO_TARGET_TMPDIR")));
    println!("disk runs on {} ({:#x})", sandbox_fs.1, sandbox_fs.0);
    for (i, mode) in MODES.iter().enumerate() {
        for fs_kind in [Fs::Disk, Fs::Tmpfs] {
            let run = run_harness(mode, fs_kind, 2000 + i as u64, 4000, None, &[]);
            assert!(
                run.status.success(),
                "no library, {mode}:\n{}",
                run.explain()
            );
            println!("no library, {mode}, {fs_kind:?}: {}", run.stdout.trim());
            assert!(
                !run.stats.exists(),
                "nothing may write statistics without the library"
            );
            clean(&run);
        }
    }
}

fn liar() -> PathBuf {
    diff::compile_preload("diff_liar")
}

/// A library that adds 1 to the size in one answer out of 50 must be caught, with a report that
/// names the field.
#[test]
fn harness_catches_a_corrupting_library() {
    let lib = liar();
    for mode in ["inproc", "thread", "child-shm"] {
        let env = [("DIFF_LIAR_MODE", "corrupt"), ("DIFF_LIAR_EVERY", "50")];
        let run = run_harness(mode, Fs::Disk, 3000, 20000, Some((&lib, &env)), &[]);
        assert!(
            run.failed_with_mismatch(),
            "not caught in {mode}:\n{}",
            run.explain()
        );
        assert!(
            run.stderr.contains("st_size: library") || run.stderr.contains("stx_size: library"),
            "the report must name the corrupted field:\n{}",
            run.stderr
        );
        for needed in ["seed=3000", "op=#", "call:", "last 30 operations"] {
            assert!(
                run.stderr.contains(needed),
                "report lacks {needed:?}:\n{}",
                run.stderr
            );
        }
        println!("{mode}: caught after {:.2?}", run.elapsed);
        if mode == "inproc" {
            println!("{}", run.stderr);
        }
        clean(&run);
    }
}

/// A cache that never invalidates, active only in the harness's own process: the parent's
/// queries must see every mode's mutations, including those made by children.
#[test]
fn harness_catches_a_stale_cache_in_every_mode() {
    let lib = liar();
    let env = [("DIFF_LIAR_MODE", "stale"), ("DIFF_LIAR_PARENT_ONLY", "1")];
    for (i, mode) in MODES.iter().enumerate() {
        let run = run_harness(
            mode,
            Fs::Disk,
            3100 + i as u64,
            20000,
            Some((&lib, &env)),
            &[],
        );
        assert!(
            run.failed_with_mismatch(),
            "stale cache not caught in {mode}:\n{}",
            run.explain()
        );
        if mode.starts_with("child") {
            assert!(
                run.stderr.contains("MISMATCH (difftest checker"),
                "the parent must catch it:\n{}",
                run.stderr
            );
        }
        println!("{mode}: caught after {:.2?}", run.elapsed);
        clean(&run);
    }
}

fn liar_hits(stats: &Path) -> u64 {
    fs::read_to_string(stats)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("hits="))
        .filter_map(|v| v.parse::<u64>().ok())
        .sum()
}

/// A cache kept exact by directory watches gets no false alarm when the mutations directory
/// watches cannot see are left out, in every mode and on both filesystems; and it really answers
/// from memory (its hit counter is printed and must be positive).
#[test]
fn directory_watch_cache_passes_without_blind_spots() {
    let lib = liar();
    let exclude = BLIND_SPOTS.join(",");
    for (i, mode) in MODES.iter().enumerate() {
        for fs_kind in [Fs::Disk, Fs::Tmpfs] {
            let liar_stats = sandbox("liar-stats").join("hits");
            let ls = liar_stats.to_string_lossy().into_owned();
            let env = [
                ("DIFF_LIAR_MODE", "dirwatch"),
                ("DIFF_LIAR_PARENT_ONLY", "1"),
                ("DIFF_LIAR_STATS", ls.as_str()),
            ];
            let args = ["--exclude-ops", exclude.as_str()];
            let run = run_harness(
                mode,
                fs_kind,
                4000 + i as u64,
                6000,
                Some((&lib, &env)),
                &args,
            );
            assert!(
                run.status.success(),
                "a correct cache was reported wrong ({mode}, {fs_kind:?}):\n{}",
                run.explain()
            );
            let hits = liar_hits(&liar_stats);
            println!(
                "{mode} {fs_kind:?}: {} cache hits; {}",
                hits,
                run.stdout.trim()
            );
            assert!(hits > 0, "the cache never answered from memory");
            clean(&run);
            let _ = fs::remove_dir_all(liar_stats.parent().expect("parent"));
        }
    }
}

/// The same cache fails on each blind spot alone: the harness reaches every one of them.
#[test]
fn harness_reaches_every_inotify_blind_spot() {
    let lib = liar();
    let mut cases: Vec<(&str, bool)> = BLIND_SPOTS
        .iter()
        .filter(|b| !matches!(**b, "empty_dir" | "link_atime"))
        .map(|b| (*b, false))
        .collect();
    // Following a symlink moves its atime silently: caught once symlinks' own answers are cached.
    cases.push(("symlink_follow", true));
    let mut failures = Vec::new();
    for (spot, cache_links) in cases {
        let exclude: Vec<&str> = BLIND_SPOTS.iter().copied().filter(|b| *b != spot).collect();
        let exclude = exclude.join(",");
        let env = [
            ("DIFF_LIAR_MODE", "dirwatch"),
            ("DIFF_LIAR_PARENT_ONLY", "1"),
            ("DIFF_LIAR_SYMLINKS", if cache_links { "1" } else { "0" }),
        ];
        let (mut caught, mut never_succeeded) = (None, false);
        for seed in 5000..5004 {
            let args = ["--exclude-ops", exclude.as_str(), "--verbose"];
            let run = run_harness("inproc", Fs::Disk, seed, 20000, Some((&lib, &env)), &args);
            if run.failed_with_mismatch() {
                let field = run
                    .stderr
                    .lines()
                    .find(|l| l.starts_with("    st") || l.starts_with("    errno"))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                caught = Some((seed, run.get_op(), field));
                clean(&run);
                break;
            }
            assert!(
                run.status.success(),
                "{spot}: harness failure:\n{}",
                run.explain()
            );
            // "mutation results (ok, failed): {..., \"chattr\": (0, 12), ...}"
            never_succeeded |= run.stderr.contains(&format!("\"{spot}\": (0,"));
            clean(&run);
        }
        match caught {
            Some((seed, op, field)) => println!("{spot}: caught (seed {seed}, op #{op}): {field}"),
            None if never_succeeded => {
                println!("{spot}: not supported here (the operation never succeeded); skipped")
            }
            None => failures.push(spot),
        }
    }
    assert!(failures.is_empty(), "blind spots never hit: {failures:?}");
}

impl Run {
    /// The op index of a mismatch report.
    fn get_op(&self) -> u64 {
        self.stderr
            .split_whitespace()
            .find_map(|w| w.strip_prefix("op=#"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}
