//! Hostile environments: exhausted inotify limits, forks, vforks, raw clones and thousands of
//! threads, signal handlers that stat, chdir/chroot/mounts/credential changes under the cache,
//! filesystems that must never be cached, another preload library that alters answers, bad
//! pointers and racing callers, huge trees, closed descriptors and tight descriptor limits.
//!
//! Each case runs `tests/c/hostile_probe.c` (one mode per case) under the library with
//! `STATCACHE_MIN_REUSE=0`, so the cache is on from the first call. The probe compares every
//! answer of the interposed call with the raw system call made right after it (and, where
//! something may change concurrently, right before it) and prints a summary line per process.
//! Every run has a timeout (a hang fails the test), must exit 0 (no crash, no new error) and
//! leave consistent statistics lines; most cases also require hits (the case is not a
//! pass-through) or a given fallback reason. Cheap cases also run the probe without the
//! library, which must be clean too (the probe itself reports no false mismatch).
//!
//! Cases that need root skip with a note unless `CI=true`; cases that need a tool or a kernel
//! feature that is missing (FUSE, mksquashfs, mkfs.erofs) skip with a note everywhere.

use std::ffi::{CString, OsStr, OsString};
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use statcache_tests::common::{
    check_stats_line, cli, compile_c, compile_c_shared, in_ci, io_uring_barrier_available, library,
    preload_list, private_namespace, read_stats, stat_u64, tail, Mount, Outcome, TempDir,
};

/// Cases that exhaust a per-user limit or change the host's mount table take this lock
/// exclusively; every other case takes it shared, so their hit counts are not disturbed.
static GLOBAL: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    GLOBAL.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    GLOBAL.write().unwrap_or_else(|e| e.into_inner())
}

/// The probe executable.
fn probe() -> PathBuf {
    compile_c("hostile_probe", &["-pthread"])
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether a root-only case can run: true as root; otherwise a note (or, in CI, a failure).
fn root(what: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(!in_ci(), "{what} needs root (CI=true)");
    eprintln!("note: skipping {what}: needs root");
    false
}

/// A program on PATH, or a note that the case is skipped (also in CI: these are optional tools).
fn optional_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        eprintln!("note: skipping: {name} is not installed");
    }
    found
}

/// A started child: its output is read by two threads; stdout lines are also sent on `lines`.
struct Started {
    what: String,
    child: Child,
    out: JoinHandle<String>,
    err: JoinHandle<String>,
    lines: Receiver<String>,
    deadline: Instant,
}

/// Starts `cmd` in its own process group with piped output.
fn start(mut cmd: Command, what: &str, timeout: Duration) -> Started {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setpgid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start {:?}: {e}", cmd.get_program()));
    let (tx, lines) = channel();
    let stdout = child.stdout.take().expect("stdout");
    let out = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    let mut stderr = child.stderr.take().expect("stderr");
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    });
    Started {
        what: what.to_string(),
        child,
        out,
        err,
        lines,
        deadline: Instant::now() + timeout,
    }
}

impl Started {
    /// Waits for a stdout line equal to `want` (before the deadline).
    fn wait_line(&mut self, want: &str) {
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l == want => return,
                Ok(_) => {}
                Err(_) => {
                    let pid = self.child.id() as i32;
                    // SAFETY: signals our own child's process group.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                    panic!("{}: no line {want:?} before the timeout", self.what);
                }
            }
        }
    }

    /// Waits for the child (killing its process group at the deadline: a hang fails).
    fn finish(mut self) -> Outcome {
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() >= self.deadline {
                let pid = self.child.id() as i32;
                // SAFETY: signals our own child's process group.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
                let _ = self.child.wait();
                let out = self.out.join().unwrap_or_default();
                let err = self.err.join().unwrap_or_default();
                panic!(
                    "{}: still running at the timeout (hang?); killed\n--- stdout:\n{}\n--- stderr:\n{}",
                    self.what,
                    tail(&out, 4000),
                    tail(&err, 4000)
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Outcome {
            stdout: self.out.join().unwrap_or_default(),
            stderr: self.err.join().unwrap_or_default(),
            status,
        }
    }
}

/// How to run one probe mode (or another program) with and without the library.
#[derive(Clone)]
struct Run {
    what: String,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    /// Libraries after libstatcache.so in LD_PRELOAD (also preloaded in the run without it).
    preload_after: Vec<PathBuf>,
    /// Private mount namespace with these mounts (None: the test's own namespace).
    namespace: Option<Vec<Mount>>,
    /// RLIMIT_NOFILE soft limit for the child.
    nofile: Option<u64>,
    timeout: Duration,
    /// Statistics to standard error instead of a file (for processes that chroot).
    stats_on_stderr: bool,
}

/// A run under the library: its outcome and statistics lines.
struct Done {
    out: Outcome,
    stats: Vec<Value>,
}

impl Run {
    /// `hostile_probe MODE ARGS...`, named after its mode.
    fn probe<S: AsRef<OsStr>>(mode: &str, args: &[S]) -> Run {
        let mut all = vec![OsString::from(mode)];
        all.extend(args.iter().map(|a| a.as_ref().to_os_string()));
        Run {
            what: mode.to_string(),
            program: probe(),
            args: all,
            env: Vec::new(),
            preload_after: Vec::new(),
            namespace: None,
            nofile: None,
            timeout: Duration::from_secs(40),
            stats_on_stderr: false,
        }
    }

    fn named(mut self, what: &str) -> Run {
        self.what = what.to_string();
        self
    }

    fn env(mut self, k: &str, v: impl AsRef<OsStr>) -> Run {
        self.env.push((k.into(), v.as_ref().to_os_string()));
        self
    }

    fn namespace(mut self, mounts: Vec<Mount>) -> Run {
        self.namespace = Some(mounts);
        self
    }

    fn command(&self, cwd: &Path) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .current_dir(cwd)
            .env_remove("LD_PRELOAD");
        for (k, _) in std::env::vars_os() {
            if k.as_bytes().starts_with(b"STATCACHE") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(mounts) = &self.namespace {
            private_namespace(&mut cmd, mounts);
        }
        if let Some(n) = self.nofile {
            // SAFETY: the closure only makes the getrlimit/setrlimit system calls on a stack
            // variable between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let mut rl = libc::rlimit {
                        rlim_cur: 0,
                        rlim_max: 0,
                    };
                    if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    rl.rlim_cur = n.min(rl.rlim_max);
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        cmd
    }

    fn preload(&self, with: bool) -> Option<OsString> {
        let mut libs: Vec<PathBuf> = Vec::new();
        if with {
            libs.push(library());
        }
        libs.extend(self.preload_after.iter().cloned());
        preload_list(&libs)
    }

    /// Runs without the library (other preloads kept).
    fn plain(&self, tmp: &TempDir) -> Outcome {
        let mut cmd = self.command(tmp.path());
        if let Some(p) = self.preload(false) {
            cmd.env("LD_PRELOAD", p);
        }
        start(
            cmd,
            &format!("{} (without the library)", self.what),
            self.timeout,
        )
        .finish()
    }

    /// Starts under the library with `STATCACHE_MIN_REUSE=0` (unless set) and statistics.
    fn start_with(&self, tmp: &TempDir) -> (Started, PathBuf) {
        let stats = fresh_stats_file(tmp);
        let mut cmd = self.command(tmp.path());
        cmd.env("LD_PRELOAD", self.preload(true).expect("library"));
        if !self.env.iter().any(|(k, _)| k == "STATCACHE_MIN_REUSE") {
            cmd.env("STATCACHE_MIN_REUSE", "0");
        }
        if self.stats_on_stderr {
            cmd.env("STATCACHE_STATS", "-");
        } else {
            cmd.env("STATCACHE_STATS", &stats);
        }
        (start(cmd, &self.what, self.timeout), stats)
    }

    fn with(&self, tmp: &TempDir) -> Done {
        let (s, stats) = self.start_with(tmp);
        collect(s.finish(), &stats, self.stats_on_stderr)
    }
}

/// Reads the statistics of a finished run (from the file or from standard error) and checks
/// every line's invariants.
fn collect(out: Outcome, stats: &Path, on_stderr: bool) -> Done {
    let stats = if on_stderr {
        out.stderr
            .lines()
            .filter(|l| l.starts_with("{\"v\":"))
            .map(|l| serde_json::from_str(l).expect("statistics line"))
            .collect()
    } else {
        read_stats(stats)
    };
    for line in &stats {
        check_stats_line(line);
    }
    Done { out, stats }
}

fn fresh_stats_file(tmp: &TempDir) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let p = tmp.join(format!(
        "hostile-stats-{}.jsonl",
        N.fetch_add(1, Ordering::Relaxed)
    ));
    fs::write(&p, "").expect("create stats file");
    // Writable by everyone: a process may end under another uid.
    let c = CString::new(p.as_os_str().as_bytes()).expect("path");
    // SAFETY: `c` is NUL-terminated and outlives the call.
    unsafe { libc::chmod(c.as_ptr(), 0o666) };
    p
}

/// The probe's summary lines: (compared, mismatches, failures) per process.
fn summaries(out: &Outcome) -> Vec<(u64, u64, u64)> {
    out.stdout
        .lines()
        .filter(|l| l.starts_with("summary "))
        .map(|l| {
            let field = |k: &str| -> u64 {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(k))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(u64::MAX)
            };
            (field("compared="), field("mismatches="), field("failures="))
        })
        .collect()
}

/// Exit status 77: the probe found the situation unavailable here (printed `SKIP ...`).
fn skipped(what: &str, out: &Outcome) -> bool {
    if out.status.code() == Some(77) {
        let why = out
            .stdout
            .lines()
            .find(|l| l.starts_with("SKIP"))
            .unwrap_or("SKIP");
        eprintln!("note: skipping {what}: {why}");
        return true;
    }
    false
}

fn describe(what: &str, out: &Outcome) -> String {
    let problems: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| {
            l.starts_with("MISMATCH")
                || l.starts_with("FAIL")
                || l.starts_with("FATAL")
                || l.starts_with("  ")
        })
        .take(60)
        .collect();
    format!(
        "{what}: {}\n--- problems:\n{}\n--- stdout (tail):\n{}\n--- stderr (tail):\n{}",
        status_text(out),
        problems.join("\n"),
        tail(&out.stdout, 3000),
        tail(&out.stderr, 3000)
    )
}

fn status_text(out: &Outcome) -> String {
    match (out.status.code(), out.status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => format!("{:?}", out.status),
    }
}

/// The run exited 0, every process's summary is clean, and at least `min` answers were compared.
fn assert_clean(what: &str, out: &Outcome, min: u64) {
    let sums = summaries(out);
    let compared: u64 = sums.iter().map(|s| s.0).sum();
    let clean = out.status.success()
        && !sums.is_empty()
        && sums.iter().all(|s| s.1 == 0 && s.2 == 0)
        && !out
            .stdout
            .lines()
            .any(|l| l.starts_with("MISMATCH") || l.starts_with("FAIL") || l.starts_with("FATAL"));
    assert!(clean, "{}", describe(what, out));
    assert!(
        compared >= min,
        "{what}: only {compared} answers compared (expected at least {min})\n{}",
        describe(what, out)
    );
}

/// Statistics lines of the probe's own processes (not of shells or other programs).
fn probe_lines(done: &Done) -> Vec<&Value> {
    done.stats
        .iter()
        .filter(|l| {
            l.get("argv0")
                .and_then(Value::as_str)
                .is_some_and(|a| a.contains("hostile_probe"))
        })
        .collect()
}

fn sum(lines: &[&Value], key: &str) -> u64 {
    lines.iter().map(|l| stat_u64(l, key)).sum()
}

fn fallback(lines: &[&Value], reason: &str) -> u64 {
    lines
        .iter()
        .map(|l| {
            l.get("fallbacks")
                .and_then(|f| f.get(reason))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        })
        .sum()
}

fn show(lines: &[&Value]) -> String {
    lines
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The probe left `n` statistics lines (one per process) and together they have hits.
fn assert_hits(what: &str, done: &Done, processes: usize) {
    let lines = probe_lines(done);
    assert_eq!(
        lines.len(),
        processes,
        "{what}: expected {processes} statistics lines of the probe, got:\n{}\nstderr:\n{}",
        show(&lines),
        tail(&done.out.stderr, 2000)
    );
    for l in &lines {
        assert!(
            stat_u64(l, "hits") + stat_u64(l, "negative_hits") > 0,
            "{what}: a process of the probe was never answered from the cache (pass-through \
             only: the case proves nothing):\n{l}"
        );
    }
}

/// The common shape: without the library (must be clean: no false alarm from the probe), then
/// with it (clean, at least `min` comparisons); returns the run with the library. The run
/// without the library works on its own copy of the tree: arguments under `tmp/t` are moved to
/// `tmp/t-plain`.
fn both(run: &Run, tmp: &TempDir, min: u64) -> Done {
    let from = tmp.join("t");
    let to = tmp.join("t-plain");
    let mut moved = run.clone();
    for a in &mut moved.args {
        if let Ok(rest) = Path::new(a.as_os_str()).strip_prefix(&from) {
            *a = to.join(rest).into_os_string();
        }
    }
    let plain = moved.plain(tmp);
    assert_clean(&format!("{} without the library", run.what), &plain, min);
    let done = run.with(tmp);
    assert_clean(&run.what, &done.out, min);
    done
}

/// Builds the probe's flat tree at `dir` without the library.
fn build_tree(dir: &Path) {
    let mut c = Command::new(probe());
    c.arg("build").arg(dir).env_remove("LD_PRELOAD");
    let out = start(c, "build", Duration::from_secs(20)).finish();
    assert!(out.status.success(), "{}", describe("build", &out));
}

fn arg(p: &Path) -> OsString {
    p.as_os_str().to_os_string()
}

/// A directory for heavy trees: as root, a fresh tmpfs mounted on it in the probe's private
/// mount namespace (created and dropped with the probe, no cleanup cost); otherwise plain disk.
fn heavy(run: Run, dir: &Path) -> Run {
    fs::create_dir_all(dir).expect("mkdir");
    if is_root() {
        run.namespace(vec![Mount::tmpfs(dir, "1g")])
    } else {
        run
    }
}

/// Writes a sysctl and restores the old value when dropped.
struct Sysctl {
    path: PathBuf,
    old: String,
}

impl Sysctl {
    fn set(path: &str, value: &str) -> Sysctl {
        let old = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        fs::write(path, value).unwrap_or_else(|e| panic!("write {path}: {e}"));
        Sysctl {
            path: path.into(),
            old: old.trim().to_string(),
        }
    }
}

impl Drop for Sysctl {
    fn drop(&mut self) {
        if let Err(e) = fs::write(&self.path, &self.old) {
            eprintln!(
                "warning: could not restore {} to {}: {e}",
                self.path.display(),
                self.old
            );
        }
    }
}

/// Unmounts a bind mount made in the test's own namespace if a test fails while it is there.
struct BindMount {
    target: PathBuf,
    mounted: bool,
}

impl BindMount {
    fn toggle(&mut self, source: &Path) {
        let status = if self.mounted {
            // Lazy: the probe may hold a file under the mount at that instant (EBUSY otherwise);
            // the mount leaves the namespace at once all the same.
            Command::new("umount").arg("-l").arg(&self.target).status()
        } else {
            Command::new("mount")
                .arg("--bind")
                .arg(source)
                .arg(&self.target)
                .status()
        }
        .expect("run mount/umount");
        assert!(
            status.success(),
            "mount/umount of {}: {status}",
            self.target.display()
        );
        self.mounted = !self.mounted;
    }
}

impl Drop for BindMount {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(&self.target).status();
        }
    }
}

// ---- 1. inotify limits ----

#[test]
fn inotify_instances_exhausted_before_first_stat_pass_through() {
    // The probe holds every inotify instance the user may have: the whole user is affected.
    let _g = exclusive();
    let tmp = TempDir::new("hostile-instances");
    let run = Run::probe("instances", &[arg(&tmp.join("t"))]);
    let done = run.with(&tmp);
    assert_clean(&run.what, &done.out, 500);
    assert!(
        done.out.stdout.contains("errno 24"),
        "the probe did not reach EMFILE:\n{}",
        done.out.stdout
    );
    let lines = probe_lines(&done);
    assert_eq!(lines.len(), 1, "{}", show(&lines));
    assert_eq!(
        sum(&lines, "hits") + sum(&lines, "negative_hits"),
        0,
        "answers from a cache that could not get an inotify instance:\n{}",
        show(&lines)
    );
    assert!(fallback(&lines, "disabled") > 0, "{}", show(&lines));
}

#[test]
fn inotify_instances_exhausted_after_activation_then_flush() {
    let _g = exclusive();
    let tmp = TempDir::new("hostile-instances-late");
    let run = Run::probe("instances-late", &[arg(&tmp.join("t"))]);
    let done = run.with(&tmp);
    assert_clean(&run.what, &done.out, 1000);
    assert!(
        done.out.stdout.contains("errno 24"),
        "the probe did not reach EMFILE:\n{}",
        done.out.stdout
    );
    assert_hits(&run.what, &done, 1);
}

#[test]
fn tiny_watch_cap_stops_caching_mid_walk() {
    let _g = shared();
    let tmp = TempDir::new("hostile-watch-cap");
    let run = Run::probe("tree", &[arg(&tmp.join("t")), "8".into(), "4".into()])
        .named("tree, STATCACHE_MAX_WATCHES=3")
        .env("STATCACHE_MAX_WATCHES", "3");
    let done = both(&run, &tmp, 1000);
    let lines = probe_lines(&done);
    assert_hits(&run.what, &done, 1);
    assert!(
        fallback(&lines, "full") > 0,
        "the watch cap was never reached:\n{}",
        show(&lines)
    );
    assert!(sum(&lines, "watches") <= 3, "{}", show(&lines));
}

/// inotify watches the user `uid` holds now, over every process's inotify descriptors.
fn watches_of_user(uid: u32) -> u64 {
    let mut n = 0;
    let Ok(procs) = fs::read_dir("/proc") else {
        return 0;
    };
    for p in procs.flatten() {
        let pid = p.file_name();
        if !pid.as_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        let status = fs::read_to_string(p.path().join("status")).unwrap_or_default();
        let real_uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|u| u.parse::<u32>().ok());
        if real_uid != Some(uid) {
            continue;
        }
        let Ok(fds) = fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == "anon_inode:inotify") {
                let info = fs::read_to_string(p.path().join("fdinfo").join(fd.file_name()))
                    .unwrap_or_default();
                n += info
                    .lines()
                    .filter(|l| l.starts_with("inotify wd:"))
                    .count() as u64;
            }
        }
    }
    n
}

#[test]
fn user_watch_limit_exhausted_mid_walk() {
    if !root("lowering fs.inotify.max_user_watches") {
        return;
    }
    let _g = exclusive();
    let tmp = TempDir::new("hostile-user-watches");
    let run = Run::probe("tree", &[arg(&tmp.join("t")), "12".into(), "3".into()])
        .named("tree under a lowered max_user_watches");
    let done = {
        // A few watches beyond what root holds now: the walk gets some, then ENOSPC.
        let limit = watches_of_user(0) + 8;
        let _limit = Sysctl::set("/proc/sys/fs/inotify/max_user_watches", &limit.to_string());
        run.with(&tmp)
    };
    assert_clean(&run.what, &done.out, 1000);
    let lines = probe_lines(&done);
    assert_eq!(lines.len(), 1, "{}", show(&lines));
    assert!(
        fallback(&lines, "watch") > 0,
        "inotify_add_watch never failed with ENOSPC:\n{}",
        show(&lines)
    );
}

#[test]
fn inotify_queue_overflow_flushes() {
    let _g = shared();
    let tmp = TempDir::new("hostile-overflow");
    let run = Run::probe("overflow", &[arg(&tmp.join("t"))]);
    let done = run.with(&tmp);
    assert_clean(&run.what, &done.out, 1000);
    assert!(
        done.out.stdout.contains("overflow-seen 1"),
        "the burst did not overflow an inotify queue:\n{}",
        done.out.stdout
    );
    assert_hits(&run.what, &done, 1);
}

// ---- 2. processes ----

#[test]
fn fork_child_and_parent_stay_exact() {
    let _g = shared();
    let tmp = TempDir::new("hostile-fork");
    let run = Run::probe("fork", &[arg(&tmp.join("t"))]);
    let done = both(&run, &tmp, 3000);
    assert_hits(&run.what, &done, 2);
}

#[test]
fn vfork_child_stats_then_execs() {
    let _g = shared();
    let tmp = TempDir::new("hostile-vfork");
    let run = Run::probe("vfork", &[arg(&tmp.join("t"))]);
    let done = both(&run, &tmp, 2000);
    assert_hits(&run.what, &done, 2);
}

#[test]
fn posix_spawn_while_events_are_pending() {
    let _g = shared();
    let tmp = TempDir::new("hostile-spawn");
    let run = Run::probe("spawn", &[arg(&tmp.join("t"))]);
    let done = both(&run, &tmp, 2000);
    assert_hits(&run.what, &done, 2);
}

#[test]
fn raw_clone_child_does_not_steal_events() {
    let _g = shared();
    let tmp = TempDir::new("hostile-clone");
    let run = Run::probe("clone", &[arg(&tmp.join("t"))]);
    let done = both(&run, &tmp, 3000);
    assert_hits(&run.what, &done, 2);
}

#[test]
fn exec_chain_under_statcache_run() {
    let _g = shared();
    let Some(cli) = cli() else {
        assert!(!in_ci(), "the statcache command could not be built");
        eprintln!("note: skipping: the statcache command could not be built");
        return;
    };
    let tmp = TempDir::new("hostile-exec-chain");
    let dir = tmp.join("t");
    let probe = probe();
    build_tree(&dir);
    let files: Vec<String> = ["f0", "f1", "sub", "sub/g0", "link", "missing"]
        .iter()
        .map(|f| dir.join(f).display().to_string())
        .collect();
    let inner = format!(
        "stat -c '%n %s %i %h %f %Y %Z' {f}; stat -L -c '%n %s %i %h %f %Y %Z' {f}; \
         exec {p} child-check {d}",
        f = files.join(" "),
        p = probe.display(),
        d = dir.display()
    );
    let script = format!("sh -c \"{inner}\"");
    let clean = |mut c: Command| {
        c.env_remove("LD_PRELOAD");
        for (k, _) in std::env::vars_os() {
            if k.as_bytes().starts_with(b"STATCACHE") {
                c.env_remove(k);
            }
        }
        c.current_dir(tmp.path());
        c
    };
    let timeout = Duration::from_secs(30);
    let mut plain = clean(Command::new("sh"));
    plain.arg("-c").arg(&script);
    let plain = start(plain, "sh -c sh -c without the library", timeout).finish();
    let stats = fresh_stats_file(&tmp);
    let mut with = clean(Command::new(&cli));
    with.arg("run")
        .arg("--stats")
        .arg(&stats)
        .arg("--")
        .arg("sh")
        .arg("-c")
        .arg(&script)
        .env("STATCACHE_LIB", library())
        .env("STATCACHE_MIN_REUSE", "0");
    let done = collect(
        start(with, "statcache run -- sh -c sh -c", timeout).finish(),
        &stats,
        false,
    );
    // stat(1) fails on the missing path in both runs: the exit status comes from the probe.
    assert_clean("exec chain without the library", &plain, 200);
    assert_clean("exec chain under statcache run", &done.out, 200);
    let strip_pid = |s: &str| -> String {
        s.lines()
            .map(|l| {
                if l.starts_with("summary ") {
                    l.split_whitespace()
                        .filter(|w| !w.starts_with("pid="))
                        .collect::<Vec<_>>()
                        .join(" ")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip_pid(&plain.stdout),
        strip_pid(&done.out.stdout),
        "the exec chain printed differently under statcache run"
    );
    assert_eq!(plain.stderr, done.out.stderr, "stderr differs");
    assert!(
        done.stats.len() >= 2,
        "expected statistics lines from the shells and the probe:\n{:#?}",
        done.stats
    );
    assert_hits("exec chain", &done, 1);
}

#[test]
fn thousands_of_threads_leak_no_descriptors() {
    let _g = shared();
    let tmp = TempDir::new("hostile-threads");
    let run = Run::probe("threads", &[arg(&tmp.join("t")), "3000".into()]);
    let done = both(&run, &tmp, 50_000);
    assert_hits(&run.what, &done, 1);
}

// ---- 3. signals ----

fn handler_runs(out: &Outcome) -> u64 {
    out.stdout
        .lines()
        .find_map(|l| l.split(" handler-runs ").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// `signals DIR HOW 1.2`: stats from a signal handler while the interrupted thread stats and
/// mutates; at least 100 handler runs, clean answers, some hits.
fn signals_case(tag: &str, how: &str) {
    let _g = shared();
    let tmp = TempDir::new(tag);
    let run = Run::probe("signals", &[arg(&tmp.join("t")), how.into(), "1.2".into()])
        .named(&format!("signals {how}"));
    let done = run.with(&tmp);
    assert_clean(&run.what, &done.out, 10_000);
    assert!(
        handler_runs(&done.out) >= 100,
        "too few signals handled:\n{}",
        done.out.stdout
    );
    assert_hits(&run.what, &done, 1);
}

#[test]
fn stat_from_sigalrm_handler_while_main_thread_stats_and_mutates() {
    signals_case("hostile-sigalrm", "itimer");
}

#[test]
fn stat_from_handler_of_signals_sent_by_another_thread() {
    signals_case("hostile-sigkill", "kill");
}

// ---- 4. namespaces and credentials ----

#[test]
fn relative_lookups_after_chdir_and_fchdir() {
    let _g = shared();
    let tmp = TempDir::new("hostile-chdir");
    let run = Run::probe("chdir", &[arg(&tmp.join("t"))]);
    let done = both(&run, &tmp, 1000);
    assert_hits(&run.what, &done, 1);
}

#[test]
fn cwd_renamed_and_removed_under_the_process() {
    let _g = shared();
    let tmp = TempDir::new("hostile-cwdgone");
    let run = Run::probe("cwdgone", &[arg(&tmp.join("t"))]);
    let done = both(&run, &tmp, 1000);
    assert_hits(&run.what, &done, 1);
}

#[test]
fn chroot_with_cwd_left_outside_the_new_root() {
    if !root("chroot") {
        return;
    }
    let _g = shared();
    let tmp = TempDir::new("hostile-chroot");
    let mut run = Run::probe("chroot", &[arg(&tmp.join("t"))]);
    // The statistics file is not reachable after chroot: the line goes to standard error.
    run.stats_on_stderr = true;
    let done = both(&run, &tmp, 2000);
    assert_hits(&run.what, &done, 1);
}

#[test]
fn unshare_then_tmpfs_over_cached_directory() {
    if !root("unshare(CLONE_NEWNS)") {
        return;
    }
    let _g = shared();
    let tmp = TempDir::new("hostile-unshare");
    let run = Run::probe("unshare", &[arg(&tmp.join("t"))]);
    let done = run.with(&tmp);
    if skipped(&run.what, &done.out) {
        return;
    }
    assert_clean(&run.what, &done.out, 1000);
    assert_hits(&run.what, &done, 1);
}

#[test]
fn mounts_over_cached_paths_in_a_private_namespace() {
    if !root("mounting in a private namespace") {
        return;
    }
    let _g = shared();
    let tmp = TempDir::new("hostile-mountover");
    let run = Run::probe("mountover", &[arg(&tmp.join("t"))]).namespace(Vec::new());
    let done = both(&run, &tmp, 2000);
    assert_hits(&run.what, &done, 1);
}

#[test]
fn bind_mounts_by_another_process_while_stating() {
    if !root("mount --bind") {
        return;
    }
    // Mount changes in the test's own namespace flush every cache in it.
    let _g = exclusive();
    let tmp = TempDir::new("hostile-bind");
    let dir = tmp.join("t");
    let src = tmp.join("src");
    let stop = tmp.join("stop");
    let run = Run::probe("bindwatch", &[arg(&dir), arg(&src), arg(&stop)]);
    let (mut started, stats) = run.start_with(&tmp);
    started.wait_line("ready");
    let mut bind = BindMount {
        target: dir.join("m"),
        mounted: false,
    };
    for _ in 0..6 {
        bind.toggle(&src);
        std::thread::sleep(Duration::from_millis(40));
        bind.toggle(&src);
        std::thread::sleep(Duration::from_millis(40));
    }
    fs::write(&stop, "").expect("create stop file");
    let done = collect(started.finish(), &stats, false);
    drop(bind);
    assert_clean(&run.what, &done.out, 1000);
    assert_hits(&run.what, &done, 1);
}

#[test]
fn seteuid_to_nobody_reproduces_eacces() {
    if !root("seteuid") {
        return;
    }
    let _g = shared();
    let tmp = TempDir::new("hostile-setuid");
    let run = Run::probe("setuid", &[arg(&tmp.join("t"))]);
    let done = both(&run, &tmp, 500);
    assert_hits(&run.what, &done, 1);
}

#[test]
fn per_thread_setfsuid_reproduces_eacces() {
    if !root("setfsuid") {
        return;
    }
    let _g = shared();
    let tmp = TempDir::new("hostile-fsuid");
    let run = Run::probe("fsuid", &[arg(&tmp.join("t"))]);
    let done = both(&run, &tmp, 300);
    assert_hits(&run.what, &done, 1);
}

// ---- 5. filesystems ----

/// An overlay of a flat tree: lower (built without the library), upper, work, merged.
fn overlay(tmp: &TempDir, name: &str) -> (PathBuf, Mount) {
    let base = tmp.join(name);
    for d in ["lower", "upper", "work", "merged"] {
        fs::create_dir_all(base.join(d)).expect("mkdir");
    }
    build_tree(&base.join("lower/t"));
    let m = Mount {
        source: "overlay".into(),
        target: base.join("merged"),
        fstype: "overlay".into(),
        data: format!(
            "lowerdir={},upperdir={},workdir={}",
            base.join("lower").display(),
            base.join("upper").display(),
            base.join("work").display()
        ),
    };
    (base.join("merged/t"), m)
}

#[test]
fn overlayfs_is_never_cached_by_default() {
    if !root("mounting overlayfs") {
        return;
    }
    let _g = shared();
    let tmp = TempDir::new("hostile-overlay");
    let (plain_dir, plain_mount) = overlay(&tmp, "a");
    let (with_dir, with_mount) = overlay(&tmp, "b");
    let plain = Run::probe("flat", &[arg(&plain_dir), "5".into(), "1".into()])
        .namespace(vec![plain_mount])
        .plain(&tmp);
    assert_clean("overlay without the library", &plain, 500);
    let run = Run::probe("flat", &[arg(&with_dir), "5".into(), "1".into()])
        .named("overlay")
        .namespace(vec![with_mount]);
    let done = run.with(&tmp);
    assert_clean(&run.what, &done.out, 500);
    let lines = probe_lines(&done);
    assert_eq!(
        sum(&lines, "hits") + sum(&lines, "negative_hits"),
        0,
        "overlayfs answered from the cache without STATCACHE_TRUST_OVERLAY:\n{}",
        show(&lines)
    );
    assert!(fallback(&lines, "fs_type") > 0, "{}", show(&lines));
}

#[test]
fn overlayfs_trusted_is_cached_and_exact_while_read() {
    if !root("mounting overlayfs") {
        return;
    }
    let _g = shared();
    let tmp = TempDir::new("hostile-overlay-trust");
    let (dir, mount) = overlay(&tmp, "a");
    let run = Run::probe("flat", &[arg(&dir), "6".into(), "0".into()])
        .named("overlay, trusted, no changes")
        .namespace(vec![mount])
        .env("STATCACHE_TRUST_OVERLAY", "1");
    let done = run.with(&tmp);
    assert_clean(&run.what, &done.out, 500);
    assert_hits(&run.what, &done, 1);
}

#[test]
#[ignore = "limitation, documented: STATCACHE_TRUST_OVERLAY=1 promises that nothing writes to the overlay; a copy-up through the merged view changes nlink and ctime with no event"]
fn overlayfs_trusted_stays_exact_through_copy_up() {
    if !root("mounting overlayfs") {
        return;
    }
    let _g = shared();
    let tmp = TempDir::new("hostile-overlay-copy-up");
    let (dir, mount) = overlay(&tmp, "a");
    let run = Run::probe("flat", &[arg(&dir), "6".into(), "1".into()])
        .named("overlay, trusted, changes through it")
        .namespace(vec![mount])
        .env("STATCACHE_TRUST_OVERLAY", "1");
    let done = run.with(&tmp);
    assert_clean(&run.what, &done.out, 500);
    assert_hits(&run.what, &done, 1);
}

#[test]
fn proc_sys_and_dev_are_never_cached() {
    let _g = shared();
    let tmp = TempDir::new("hostile-procfs");
    let paths = [
        "/proc/self/status",
        "/proc/uptime",
        "/proc/1",
        "/proc/self",
        "/proc/self/fd",
        "/proc/self/fd/1",
        "/proc/sys/fs/inotify/max_user_watches",
        "/proc/missing",
        "/sys/kernel",
        "/sys/class/net/lo",
        "/sys/devices",
        "/sys/missing",
        "/dev/null",
        "/dev/zero",
        "/dev/pts",
        "/dev/missing",
        "/dev/null/x",
    ];
    let mut args: Vec<OsString> = vec!["5".into(), "1".into()];
    args.extend(paths.iter().map(OsString::from));
    let run = Run::probe("paths", &args).named("/proc, /sys, /dev");
    let done = both(&run, &tmp, 300);
    let lines = probe_lines(&done);
    assert_eq!(
        sum(&lines, "hits") + sum(&lines, "negative_hits"),
        0,
        "/proc, /sys or /dev answered from the cache:\n{}",
        show(&lines)
    );
    assert!(fallback(&lines, "fs_type") > 0, "{}", show(&lines));
}

#[test]
fn fuse_is_never_cached() {
    if !root("mounting FUSE") {
        return;
    }
    if !Path::new("/dev/fuse").exists() {
        eprintln!("note: skipping FUSE: /dev/fuse does not exist");
        return;
    }
    let _g = shared();
    let tmp = TempDir::new("hostile-fuse");
    let run = Run::probe("fuse", &[arg(&tmp.join("mnt")), "8".into()]).namespace(Vec::new());
    let done = run.with(&tmp);
    if skipped(&run.what, &done.out) {
        return;
    }
    assert_clean(&run.what, &done.out, 100);
    let lines = probe_lines(&done);
    assert_eq!(
        sum(&lines, "hits") + sum(&lines, "negative_hits"),
        0,
        "FUSE answered from the cache:\n{}",
        show(&lines)
    );
    assert!(fallback(&lines, "fs_type") > 0, "{}", show(&lines));
}

/// Builds an image of a flat tree with `mkfs` and checks it mounted read-only: it is on the
/// allowlist, so it is cached, and answers stay exact.
fn read_only_image(kind: &str, tool: &str, make: impl Fn(&Path, &Path, &Path) -> Command) {
    let Some(tool) = optional_tool(tool) else {
        return;
    };
    if !root(&format!("mounting {kind}")) {
        return;
    }
    let _g = shared();
    let tmp = TempDir::new(&format!("hostile-{kind}"));
    let src = tmp.join("src/t");
    fs::create_dir_all(tmp.join("src")).expect("mkdir");
    build_tree(&src);
    let image = tmp.join("image");
    let mnt = tmp.join("mnt");
    fs::create_dir_all(&mnt).expect("mkdir");
    let made = make(&tool, &tmp.join("src"), &image)
        .output()
        .expect("run mkfs");
    assert!(
        made.status.success(),
        "{kind} image: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    // The loop mount needs the mount command; the probe runs after it in the same namespace.
    let script = format!(
        "mount -t {kind} -o loop,ro {} {} || exit 77; exec {} walk 5 {}",
        image.display(),
        mnt.display(),
        probe().display(),
        mnt.join("t").display()
    );
    let mut run = Run::probe("-c", &[script])
        .named(kind)
        .namespace(Vec::new());
    run.program = PathBuf::from("sh");
    let done = run.with(&tmp);
    if done.out.status.code() == Some(77) {
        eprintln!(
            "note: skipping {kind}: cannot loop-mount the image: {}",
            done.out.stderr.trim()
        );
        return;
    }
    assert_clean(&run.what, &done.out, 200);
    assert_hits(&run.what, &done, 1);
}

#[test]
fn squashfs_image_is_cached_and_exact() {
    read_only_image("squashfs", "mksquashfs", |tool, src, image| {
        let mut c = Command::new(tool);
        c.arg(src).arg(image).arg("-noappend").arg("-quiet");
        c
    });
}

#[test]
fn erofs_image_is_cached_and_exact() {
    read_only_image("erofs", "mkfs.erofs", |tool, src, image| {
        let mut c = Command::new(tool);
        c.arg("--quiet").arg(image).arg(src);
        c
    });
}

// ---- 6. another preload ----

#[test]
fn preload_that_alters_answers_is_passed_through() {
    let _g = shared();
    let tmp = TempDir::new("hostile-liar");
    let dir = tmp.join("t");
    let liar = compile_c_shared("hostile_liar", &["-ldl"]);
    let files = ["f1", "sub", "sub/g0", "link", "missing", "f0/x"];
    let mut args: Vec<OsString> = vec!["4".into()];
    args.extend(files.iter().map(|f| arg(&dir.join(f))));
    build_tree(&dir);
    // Following a symlink moves its atime while atime is not newer than its ctime: follow it once,
    // a clock tick after creating it, so both runs print the same settled atime.
    std::thread::sleep(Duration::from_millis(20));
    fs::metadata(dir.join("link")).expect("follow the link once");
    let mut run = Run::probe("print", &args)
        .named("print under statcache then the liar")
        .env("STATCACHE_LOG", "1");
    run.preload_after.push(liar);
    let plain = run.plain(&tmp);
    assert!(plain.status.success(), "{}", describe("liar alone", &plain));
    assert!(
        plain.stdout.contains("size-delta=1"),
        "the liar library did not change st_size:\n{}",
        plain.stdout
    );
    let done = run.with(&tmp);
    assert!(
        done.out.status.success(),
        "{}",
        describe(&run.what, &done.out)
    );
    assert_eq!(
        plain.stdout, done.out.stdout,
        "answers differ from the liar's own (statcache did not pass through to it)"
    );
    let lines = probe_lines(&done);
    assert_eq!(lines.len(), 1, "{}", show(&lines));
    assert_eq!(
        sum(&lines, "hits") + sum(&lines, "negative_hits"),
        0,
        "answered from the cache past another stat definition:\n{}",
        show(&lines)
    );
    assert!(fallback(&lines, "foreign") > 0, "{}", show(&lines));
    let logged = done
        .out
        .stderr
        .lines()
        .filter(|l| l.contains("another preloaded library"))
        .count();
    assert_eq!(
        logged, 1,
        "expected one log line about the other library with STATCACHE_LOG=1:\n{}",
        done.out.stderr
    );
}

// ---- 7. bad callers ----

#[test]
fn bad_pointers_on_warm_paths() {
    let _g = shared();
    let tmp = TempDir::new("hostile-badptr");
    let run = Run::probe("badptr", &[arg(&tmp.join("t"))]);
    let done = both(&run, &tmp, 1000);
    let lines = probe_lines(&done);
    assert_hits(&run.what, &done, 1);
    assert!(fallback(&lines, "fault") > 0, "{}", show(&lines));
}

#[test]
fn path_rewritten_by_another_thread_during_the_call() {
    let _g = shared();
    let tmp = TempDir::new("hostile-pathrace");
    let run = Run::probe("pathrace", &[arg(&tmp.join("t")), "1.0".into()]);
    let done = run.with(&tmp);
    assert_clean(&run.what, &done.out, 10_000);
    assert_hits(&run.what, &done, 1);
}

#[test]
fn path_max_deep_tree() {
    let _g = shared();
    let tmp = TempDir::new("hostile-deep");
    let fast = tmp.join("fast");
    let run = heavy(Run::probe("deep", &[arg(&fast.join("t"))]), &fast);
    let done = run.with(&tmp);
    assert_clean(&run.what, &done.out, 1000);
    assert_hits(&run.what, &done, 1);
}

#[test]
fn directory_with_100000_entries() {
    let _g = shared();
    let tmp = TempDir::new("hostile-bigdir");
    let fast = tmp.join("fast");
    let run = heavy(
        Run::probe("bigdir", &[arg(&fast.join("t")), "100000".into()]),
        &fast,
    );
    let done = run.with(&tmp);
    assert_clean(&run.what, &done.out, 200_000);
    assert_hits(&run.what, &done, 1);
}

#[test]
fn many_distinct_paths_with_a_small_arena() {
    let _g = shared();
    let tmp = TempDir::new("hostile-manypaths");
    let fast = tmp.join("fast");
    let run = heavy(
        Run::probe(
            "manypaths",
            &[arg(&fast.join("t")), "200000".into(), "2000".into()],
        )
        .named("manypaths, STATCACHE_MAX_NODES=1000")
        .env("STATCACHE_MAX_NODES", "1000"),
        &fast,
    );
    let done = run.with(&tmp);
    assert_clean(&run.what, &done.out, 400_000);
    assert_hits(&run.what, &done, 1);
    let lines = probe_lines(&done);
    assert!(
        sum(&lines, "nodes") <= 1000,
        "more live nodes than STATCACHE_MAX_NODES:\n{}",
        show(&lines)
    );
    assert_eq!(
        lines[0].get("cache").and_then(Value::as_str),
        Some("on"),
        "a full arena must evict or flush, not turn the cache off:\n{}",
        show(&lines)
    );
}

// ---- 8. descriptors ----

fn close_everything(how: &str) {
    let _g = shared();
    let tmp = TempDir::new(&format!("hostile-close-{how}"));
    let run = Run::probe("closeall", &[arg(&tmp.join("t")), how.into(), "0".into()])
        .named(&format!("closeall {how}"));
    let done = both(&run, &tmp, 1000);
    assert!(
        done.out.stdout.contains("libfd "),
        "the library had no descriptors before the close:\n{}",
        done.out.stdout
    );
    assert_hits(&run.what, &done, 1);
}

#[test]
fn program_closes_every_descriptor_in_a_loop() {
    close_everything("loop");
}

#[test]
fn program_closes_every_descriptor_with_closefrom() {
    close_everything("closefrom");
}

#[test]
fn program_closes_every_descriptor_with_close_range() {
    close_everything("close_range");
}

#[test]
fn program_dup2s_its_own_descriptors_over_the_library_ones() {
    let _g = shared();
    let tmp = TempDir::new("hostile-dup2");
    let run = Run::probe(
        "closeall",
        &[arg(&tmp.join("t")), "dup2".into(), "0".into()],
    )
    .named("dup2 over the library's descriptors");
    let done = run.with(&tmp);
    assert_clean(&run.what, &done.out, 1000);
    assert!(
        done.out.stdout.contains("pipe ") && !done.out.stdout.contains("pipe -1"),
        "no pipe was put on the library's inotify number:\n{}",
        done.out.stdout
    );
    assert_hits(&run.what, &done, 1);
}

#[test]
fn program_reuses_the_library_descriptor_numbers() {
    let _g = shared();
    let tmp = TempDir::new("hostile-reuse-fds");
    // A low limit puts the library's descriptors low enough for the program to reach them.
    let mut run = Run::probe(
        "closeall",
        &[arg(&tmp.join("t")), "loop".into(), "1".into()],
    )
    .named("closeall loop, then the program's files and a pipe on the library's numbers");
    run.nofile = Some(64);
    let done = both(&run, &tmp, 1000);
    assert!(
        done.out.stdout.contains("pipe ") && !done.out.stdout.contains("pipe -1"),
        "no pipe landed on the library's inotify number:\n{}",
        done.out.stdout
    );
}

#[test]
fn one_free_descriptor_before_activation() {
    let _g = shared();
    let tmp = TempDir::new("hostile-rlimit");
    let run = Run::probe("rlimit", &[arg(&tmp.join("t"))]);
    both(&run, &tmp, 500);
}

#[test]
fn library_descriptors_are_high_and_close_on_exec() {
    // The default barrier: epoll, traded for a ring by a thread that keeps hitting.
    library_descriptors_high_and_cloexec(None, &["epoll", "io_uring"]);
}

#[test]
fn library_descriptors_are_high_and_close_on_exec_with_epoll_barriers() {
    library_descriptors_high_and_cloexec(Some("epoll"), &["epoll"]);
}

#[test]
fn library_descriptors_are_high_and_close_on_exec_with_ring_barriers() {
    // A ring where the kernel allows io_uring, else the epoll the library falls back to.
    let kind = if io_uring_barrier_available() {
        "io_uring"
    } else {
        "epoll"
    };
    library_descriptors_high_and_cloexec(Some("ring"), &[kind]);
}

fn library_descriptors_high_and_cloexec(barrier: Option<&str>, barrier_kinds: &[&str]) {
    let _g = shared();
    let tmp = TempDir::new("hostile-fds");
    let mut run = Run::probe("fds", &[arg(&tmp.join("t"))]);
    if let Some(b) = barrier {
        run.env.push(("STATCACHE_BARRIER".into(), b.into()));
    }
    run.nofile = Some(1024);
    let done = run.with(&tmp);
    assert_clean(&run.what, &done.out, 500);
    let out = &done.out.stdout;
    let limit: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("rlimit "))
        .and_then(|v| v.parse().ok())
        .expect("rlimit line");
    // The library moves its descriptors to 3/4 of the soft limit (at least 16, at most 1000).
    let base = (limit * 3 / 4).clamp(16, 1000);
    let fds: Vec<(u64, String, bool)> = out
        .lines()
        .filter_map(|l| l.strip_prefix("libfd "))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (
                w[0].parse().expect("fd"),
                w[1].to_string(),
                w.get(2) == Some(&"cloexec=1"),
            )
        })
        .collect();
    for kind in ["inotify", "mountinfo"] {
        assert!(
            fds.iter().any(|f| f.1 == kind),
            "no {kind} descriptor of the library found:\n{out}"
        );
    }
    assert!(
        fds.iter().any(|f| barrier_kinds.contains(&f.1.as_str())),
        "no barrier descriptor ({barrier_kinds:?}) of the library found:\n{out}"
    );
    for (fd, kind, cloexec) in &fds {
        assert!(
            *fd >= base,
            "library {kind} descriptor {fd} is below {base} (limit {limit}):\n{out}"
        );
        assert!(
            *cloexec,
            "library {kind} descriptor {fd} lacks FD_CLOEXEC:\n{out}"
        );
    }
    assert_hits(&run.what, &done, 1);
}

// ---- 9. memory ----

#[test]
fn mem_bytes_shrinks_with_max_nodes() {
    let _g = shared();
    let tmp = TempDir::new("hostile-mem");
    let run = Run::probe("flat", &[arg(&tmp.join("t")), "4".into(), "1".into()]);
    let default = run.with(&tmp);
    assert_clean("flat with the default arena", &default.out, 500);
    let small = run.clone().env("STATCACHE_MAX_NODES", "1000").with(&tmp);
    assert_clean("flat with STATCACHE_MAX_NODES=1000", &small.out, 500);
    let mem = |d: &Done| {
        let lines = probe_lines(d);
        assert_eq!(lines.len(), 1, "{}", show(&lines));
        assert!(
            lines[0].get("mem_bytes").is_some(),
            "no mem_bytes in the statistics line: {}",
            lines[0]
        );
        stat_u64(lines[0], "mem_bytes")
    };
    let (big, little) = (mem(&default), mem(&small));
    assert!(big > 0, "mem_bytes is 0 with the cache on");
    assert!(
        little < big,
        "mem_bytes with STATCACHE_MAX_NODES=1000 ({little}) is not below the default ({big})"
    );
}

/// strace logging into a directory the cache watches: every read of the inotify queue is a
/// logged system call, which writes the log, which queues an event, which the drain reads...
/// A drain that read "until EAGAIN" never returned (the program hung). The drain now gives up
/// after a bounded number of reads and forgets everything (which removes the watches, so the
/// ping-pong stops); the answers stay exact and the program finishes.
#[test]
fn strace_logging_into_a_watched_directory_does_not_hang() {
    let Some(strace) = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("strace"))
        .find(|p| p.is_file())
    else {
        eprintln!("skipped: strace is not installed");
        return;
    };
    let _g = shared();
    let tmp = TempDir::new("hostile-strace");
    let dir = tmp.join("t");
    // The tree's parent: watched, since the cache watches the directory of every name it knows.
    let log = tmp.join("strace.log");
    let probe = Run::probe("flat", &[arg(&dir), "6".into(), "0".into()]);
    let mut run = probe
        .clone()
        .named("flat under strace logging into the tree");
    run.program = strace;
    run.args = vec![
        "-f".into(),
        "-o".into(),
        log.into_os_string(),
        probe.program.into(),
    ];
    run.args.extend(probe.args);
    run.timeout = Duration::from_secs(120);
    let done = run.with(&tmp);
    assert_clean(&run.what, &done.out, 500);
    let flushes: u64 = done
        .stats
        .iter()
        .map(|s| s["flushes"].as_u64().unwrap_or(0))
        .sum();
    println!("flushes: {flushes}");
}
