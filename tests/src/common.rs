//! Interposition-layer test helpers: locating (and if need be building) the library and the
//! `statcache` command, compiling the C probes under `tests/c/`, temporary directories, running a
//! command without and with the library, and reading the statistics lines it appends.
//!
//! Every comparison in the interposition tests has the same shape: run the same command on the same
//! files once without `LD_PRELOAD` and once with it, and require identical output. Answers may come
//! from the cache or from the real call; the tests never assume which.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use serde_json::Value;

/// The 17 glibc symbols the library replaces, in the order of the statistics line's `calls` object.
pub const ENTRY_POINTS: [&str; 17] = [
    "stat",
    "stat64",
    "lstat",
    "lstat64",
    "fstat",
    "fstat64",
    "fstatat",
    "fstatat64",
    "statx",
    "__xstat",
    "__xstat64",
    "__lxstat",
    "__lxstat64",
    "__fxstat",
    "__fxstat64",
    "__fxstatat",
    "__fxstatat64",
];

/// Environment that makes the cache turn itself on after the first repeated lookup instead of
/// waiting for many: probes run under the library both with the default and with this, so that
/// their answers come from the cache as well as from the real call.
pub const EAGER_CACHE: (&str, &str) = ("STATCACHE_MIN_REUSE", "1");

/// The workspace root: the parent of this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The target directory: `CARGO_TARGET_DIR` if set, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// Whether this run is in CI (`CI=true`), where a missing program is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// An exclusive `flock(2)` on a file in the target directory, released on drop. Serializes the
/// `cargo build` runs that parallel test processes (one per test under nextest) would otherwise
/// start together.
struct BuildLock(fs::File);

impl BuildLock {
    fn acquire() -> BuildLock {
        let dir = target_dir();
        fs::create_dir_all(&dir).expect("create target dir");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("statcache-tests.lock"))
            .expect("open lock file");
        loop {
            // SAFETY: flock takes a descriptor that `file` keeps open for the whole call.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if r == 0 {
                return BuildLock(file);
            }
            let err = std::io::Error::last_os_error();
            assert_eq!(err.raw_os_error(), Some(libc::EINTR), "flock: {err}");
        }
    }
}

impl Drop for BuildLock {
    fn drop(&mut self) {
        // SAFETY: the descriptor is still open (owned by self.0); unlocking cannot fail harmfully.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Runs `cargo build --release -p PACKAGE` unless `product` exists, once per process and under the
/// build lock. Returns whether `product` exists afterwards.
fn build_if_missing(package: &str, product: &Path) -> bool {
    if product.exists() {
        return true;
    }
    let _lock = BuildLock::acquire();
    if product.exists() {
        return true;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("note: {} is missing; building {package}", product.display());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", package])
        .current_dir(workspace_root())
        .status();
    match status {
        Ok(s) if s.success() => product.exists(),
        Ok(s) => {
            eprintln!("note: cargo build -p {package} failed: {s}");
            false
        }
        Err(e) => {
            eprintln!("note: cannot run cargo: {e}");
            false
        }
    }
}

/// The preloaded library: `STATCACHE_LIB` if set, else `target/release/libstatcache.so`, built if
/// missing. Panics if it cannot be found or built.
pub fn library() -> PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        if let Some(lib) = std::env::var_os("STATCACHE_LIB") {
            let lib = PathBuf::from(lib);
            assert!(
                lib.exists(),
                "STATCACHE_LIB={} does not exist",
                lib.display()
            );
            return fs::canonicalize(&lib).unwrap_or(lib);
        }
        let lib = target_dir().join("release/libstatcache.so");
        assert!(
            build_if_missing("statcache-shim", &lib),
            "{} is missing and `cargo build --release -p statcache-shim` did not produce it",
            lib.display()
        );
        lib
    })
    .clone()
}

/// The `statcache` command (`target/release/statcache`), built if missing; `None` when it cannot be
/// built (the command is optional for these tests).
pub fn cli() -> Option<PathBuf> {
    static CLI: OnceLock<Option<PathBuf>> = OnceLock::new();
    CLI.get_or_init(|| {
        let bin = target_dir().join("release/statcache");
        build_if_missing("statcache-cli", &bin).then_some(bin)
    })
    .clone()
}

/// A program found on `PATH`. `None` (with a note) when it is missing, except in CI, where a
/// missing program fails the test.
pub fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p));
    if found.is_none() {
        assert!(
            !in_ci(),
            "{name} is not installed (CI=true: a missing program is a failure)"
        );
        eprintln!("note: skipping: {name} is not installed");
    }
    found
}

fn is_executable(p: &Path) -> bool {
    let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a NUL-terminated string that outlives the call.
    p.is_file() && unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0
}

/// A temporary directory under `std::env::temp_dir()`, named after the process and a counter,
/// removed on drop (kept, with a note, when the test is failing).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh directory; `label` only makes the name readable.
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "statcache-tests-{}-{n}-{label}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.path.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("note: keeping {} for inspection", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// FNV-1a, 64 bits: a stable content hash for the probe cache.
fn fnv1a(data: &[u8], mut h: u64) -> u64 {
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// The directory holding the C probe sources.
pub fn c_dir() -> PathBuf {
    workspace_root().join("tests/c")
}

/// Compiles `tests/c/NAME.c` into an executable with `cc -O1 -Wall EXTRA...`. Outputs are cached
/// by a hash of the source, every header in `tests/c/` and the arguments, under `target/probes/`.
pub fn compile_c(name: &str, extra: &[&str]) -> PathBuf {
    compile(name, extra, false)
}

/// Compiles `tests/c/NAME.c` into a shared library (`-shared -fPIC`), cached like [`compile_c`].
pub fn compile_c_shared(name: &str, extra: &[&str]) -> PathBuf {
    compile(name, extra, true)
}

fn compile(name: &str, extra: &[&str], shared: bool) -> PathBuf {
    let src = c_dir().join(format!("{name}.c"));
    let source = fs::read(&src).unwrap_or_else(|e| panic!("read {}: {e}", src.display()));
    let mut h = fnv1a(&source, 0xcbf2_9ce4_8422_2325);
    let mut headers: Vec<PathBuf> = fs::read_dir(c_dir())
        .expect("read tests/c")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension() == Some(OsStr::new("h")))
        .collect();
    headers.sort();
    for header in &headers {
        h = fnv1a(header.as_os_str().as_bytes(), h);
        h = fnv1a(&fs::read(header).expect("read header"), h);
    }
    for arg in extra {
        h = fnv1a(arg.as_bytes(), fnv1a(b"\0", h));
    }
    h = fnv1a(if shared { b"shared" } else { b"exec" }, h);
    let dir = target_dir().join("probes");
    fs::create_dir_all(&dir).expect("create target/probes");
    let suffix = if shared { ".so" } else { "" };
    let out = dir.join(format!("{name}-{h:016x}{suffix}"));
    if out.exists() {
        return out;
    }
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let tmp = dir.join(format!(
        ".{name}-{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut cmd = Command::new(std::env::var_os("CC").unwrap_or_else(|| "cc".into()));
    cmd.args(["-O1", "-Wall", "-I"]).arg(c_dir());
    if shared {
        cmd.args(["-shared", "-fPIC"]);
    }
    cmd.arg("-o").arg(&tmp).arg(&src).args(extra);
    let res = cmd.output().expect("run cc");
    let diagnostics = String::from_utf8_lossy(&res.stderr);
    assert!(
        res.status.success(),
        "cc failed for {}:\n{diagnostics}",
        src.display()
    );
    if !diagnostics.trim().is_empty() {
        eprintln!("cc diagnostics for {}:\n{diagnostics}", src.display());
    }
    // rename(2) is atomic: a parallel test process sees either no file or a complete one.
    fs::rename(&tmp, &out).expect("rename probe into the cache");
    out
}

/// What a finished command produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub status: ExitStatus,
}

impl Outcome {
    /// The exit status in words: `exit N` or `signal N`.
    pub fn status_text(&self) -> String {
        match (self.status.code(), self.status.signal()) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => format!(
                "signal {s}{}",
                if self.status.core_dumped() {
                    " (core dumped)"
                } else {
                    ""
                }
            ),
            _ => format!("{:?}", self.status),
        }
    }
}

/// How to run a command under test: program, arguments, working directory, extra environment.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    pub env: Vec<(OsString, OsString)>,
    /// Libraries preloaded in every run, with and without the library.
    pub preload: Vec<PathBuf>,
    /// Whether the statcache library goes before `preload` in `LD_PRELOAD` (`true`) or after.
    pub statcache_first: bool,
}

/// A run under the library: its outcome and the statistics lines it appended.
#[derive(Clone, Debug)]
pub struct Preloaded {
    pub outcome: Outcome,
    pub stats: Vec<Value>,
    pub stats_path: PathBuf,
}

impl Invocation {
    pub fn new(program: impl AsRef<Path>, cwd: impl AsRef<Path>) -> Invocation {
        Invocation {
            program: program.as_ref().to_path_buf(),
            args: Vec::new(),
            cwd: cwd.as_ref().to_path_buf(),
            env: Vec::new(),
            preload: Vec::new(),
            statcache_first: false,
        }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Invocation {
        self.args.push(a.as_ref().to_os_string());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Invocation {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Invocation {
        self.env
            .push((k.as_ref().to_os_string(), v.as_ref().to_os_string()));
        self
    }

    /// The command with a clean environment for the library: no inherited `LD_PRELOAD`,
    /// `STATCACHE_STATS` or `STATCACHE_LOG`.
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.cwd)
            .env_remove("LD_PRELOAD")
            .env_remove("STATCACHE_STATS")
            .env_remove("STATCACHE_LOG")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn preload_value(&self, statcache: Option<&Path>) -> Option<OsString> {
        let mut libs: Vec<&Path> = self.preload.iter().map(PathBuf::as_path).collect();
        if let Some(lib) = statcache {
            if self.statcache_first {
                libs.insert(0, lib);
            } else {
                libs.push(lib);
            }
        }
        preload_list(&libs)
    }

    /// Runs the command without the library.
    pub fn run_plain(&self) -> Outcome {
        let mut cmd = self.command(&self.program);
        cmd.args(&self.args);
        if let Some(p) = self.preload_value(None) {
            cmd.env("LD_PRELOAD", p);
        }
        capture(cmd)
    }

    /// Runs the command with the library in `LD_PRELOAD` and `STATCACHE_STATS` pointing at a fresh
    /// file in `tmp`.
    pub fn run_preloaded(&self, tmp: &TempDir) -> Preloaded {
        let stats_path = fresh_stats_file(tmp);
        let mut cmd = self.command(&self.program);
        cmd.args(&self.args)
            .env(
                "LD_PRELOAD",
                self.preload_value(Some(&library())).expect("library"),
            )
            .env("STATCACHE_STATS", &stats_path);
        let outcome = capture(cmd);
        let stats = read_stats(&stats_path);
        Preloaded {
            outcome,
            stats,
            stats_path,
        }
    }

    /// Runs the command as `statcache run --stats FILE -- PROGRAM ARGS...`.
    pub fn run_via_cli(&self, cli: &Path, tmp: &TempDir) -> Preloaded {
        let stats_path = fresh_stats_file(tmp);
        let mut cmd = self.command(cli);
        cmd.arg("run")
            .arg("--stats")
            .arg(&stats_path)
            .arg("--")
            .arg(&self.program)
            .args(&self.args);
        if let Some(p) = self.preload_value(None) {
            cmd.env("LD_PRELOAD", p);
        }
        let outcome = capture(cmd);
        let stats = read_stats(&stats_path);
        Preloaded {
            outcome,
            stats,
            stats_path,
        }
    }
}

fn fresh_stats_file(tmp: &TempDir) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let path = tmp.join(format!(
        "stats-{}.jsonl",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::File::create(&path).expect("create stats file");
    path
}

/// Runs `cmd` to completion, capturing standard output and error.
pub fn capture(mut cmd: Command) -> Outcome {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    Outcome {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        status: out.status,
    }
}

/// Parses every line of a statistics file (one JSON object per line); panics on a malformed line.
pub fn read_stats(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("bad statistics line in {}: {e}\n{l}", path.display()))
        })
        .collect()
}

/// A numeric field of a statistics line (0 when absent).
pub fn stat_u64(line: &Value, key: &str) -> u64 {
    line.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// The `calls` object of a statistics line as a map from entry point to count; panics if any of
/// the 17 names is missing.
pub fn calls_of(line: &Value) -> BTreeMap<String, u64> {
    let calls = line
        .get("calls")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("statistics line without a calls object: {line}"));
    ENTRY_POINTS
        .iter()
        .map(|&name| {
            let n = calls
                .get(name)
                .and_then(Value::as_u64)
                .unwrap_or_else(|| panic!("calls.{name} missing in {line}"));
            (name.to_string(), n)
        })
        .collect()
}

/// Checks the invariants every statistics line must satisfy (CONTRACT.md): `total` is the sum of
/// `calls` and of the outcome counters, and no verified answer mismatched.
pub fn check_stats_line(line: &Value) {
    assert_eq!(
        line.get("v").and_then(Value::as_u64),
        Some(1),
        "statistics version: {line}"
    );
    assert!(
        line.get("pid").and_then(Value::as_u64).is_some(),
        "pid missing: {line}"
    );
    let total = stat_u64(line, "total");
    let sum_calls: u64 = calls_of(line).values().sum();
    assert_eq!(total, sum_calls, "total != sum(calls): {line}");
    let fallbacks: u64 = line
        .get("fallbacks")
        .and_then(Value::as_object)
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    let outcomes = stat_u64(line, "hits")
        + stat_u64(line, "negative_hits")
        + stat_u64(line, "misses")
        + fallbacks;
    assert_eq!(
        total, outcomes,
        "total != hits + negative_hits + misses + fallbacks: {line}"
    );
    assert_eq!(
        stat_u64(line, "mismatches"),
        0,
        "verification mismatches: {line}"
    );
}

/// The single statistics line of a one-process run; panics (showing the run) otherwise.
pub fn single_stats_line(run: &Preloaded) -> &Value {
    assert_eq!(
        run.stats.len(),
        1,
        "expected exactly one statistics line in {} (the library saw the call?), got {}:\n{:#?}\n\
         status: {}\nstderr:\n{}",
        run.stats_path.display(),
        run.stats.len(),
        run.stats,
        run.outcome.status_text(),
        run.outcome.stderr
    );
    check_stats_line(&run.stats[0]);
    &run.stats[0]
}

/// Checks the statistics of a multi-process run: at least one line, one line per process (no pid
/// twice), every line consistent. Returns the sum of every process's `total`.
pub fn check_stats_lines(run: &Preloaded, what: &str) -> u64 {
    assert!(
        !run.stats.is_empty(),
        "{what}: no statistics line in {} (the library saw no process exit?)\nstatus: {}\nstderr:\n{}",
        run.stats_path.display(),
        run.outcome.status_text(),
        run.outcome.stderr
    );
    let mut pids = std::collections::BTreeSet::new();
    for line in &run.stats {
        check_stats_line(line);
        let pid = stat_u64(line, "pid");
        assert!(
            pids.insert(pid),
            "{what}: two statistics lines for pid {pid}:\n{:#?}",
            run.stats
        );
    }
    run.stats.iter().map(|l| stat_u64(l, "total")).sum()
}

/// Lines of the form `calls NAME N` printed by the probes: the probe's own count of its calls.
pub fn probe_counts(stdout: &str) -> BTreeMap<String, u64> {
    let mut counts: BTreeMap<String, u64> =
        ENTRY_POINTS.iter().map(|n| (n.to_string(), 0)).collect();
    for line in stdout.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("calls") {
            continue;
        }
        if let (Some(name), Some(n)) = (words.next(), words.next()) {
            let n: u64 = n.parse().expect("count");
            *counts
                .get_mut(name)
                .unwrap_or_else(|| panic!("unknown entry point {name}")) += n;
        }
    }
    counts
}

/// Asserts that the library counted exactly `expected` calls per entry point.
pub fn assert_counts(line: &Value, expected: &BTreeMap<String, u64>, what: &str) {
    let seen = calls_of(line);
    let diffs: Vec<String> = ENTRY_POINTS
        .iter()
        .filter(|&&n| seen[n] != expected[n])
        .map(|&n| {
            format!(
                "  {n}: expected {}, library counted {}",
                expected[n], seen[n]
            )
        })
        .collect();
    assert!(
        diffs.is_empty(),
        "{what}: call counts differ:\n{}\nline: {line}",
        diffs.join("\n")
    );
}

/// The first differing lines of two texts, with line numbers, for failure messages.
pub fn first_differences(a: &str, b: &str, max: usize) -> String {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut out = String::new();
    let mut shown = 0;
    for i in 0..la.len().max(lb.len()) {
        let (x, y) = (la.get(i), lb.get(i));
        if x != y {
            out.push_str(&format!(
                "line {}:\n  without: {}\n  with:    {}\n",
                i + 1,
                x.unwrap_or(&"<missing>"),
                y.unwrap_or(&"<missing>")
            ));
            shown += 1;
            if shown == max {
                out.push_str("  ...\n");
                break;
            }
        }
    }
    if la.len() != lb.len() {
        out.push_str(&format!(
            "({} lines without, {} with)\n",
            la.len(),
            lb.len()
        ));
    }
    out
}

/// The last `max` bytes of `s` (at a character boundary).
pub fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Asserts that two runs exited alike and printed the same standard output (and, if
/// `compare_stderr`, the same standard error); the message shows both.
pub fn assert_same(what: &str, plain: &Outcome, with: &Outcome, compare_stderr: bool) {
    let same_status =
        plain.status.code() == with.status.code() && plain.status.signal() == with.status.signal();
    let same_out = plain.stdout == with.stdout;
    let same_err = !compare_stderr || plain.stderr == with.stderr;
    if same_status && same_out && same_err {
        return;
    }
    let mut msg = format!(
        "{what}: runs differ\nstatus without: {}\nstatus with:    {}\n",
        plain.status_text(),
        with.status_text()
    );
    if !same_out {
        msg.push_str("stdout differs:\n");
        msg.push_str(&first_differences(&plain.stdout, &with.stdout, 20));
    }
    if !same_err {
        msg.push_str("stderr differs:\n");
        msg.push_str(&first_differences(&plain.stderr, &with.stderr, 20));
    }
    msg.push_str(&format!(
        "--- stdout without (tail):\n{}\n--- stdout with (tail):\n{}\n--- stderr without:\n{}\n--- stderr with:\n{}\n",
        tail(&plain.stdout, 2000),
        tail(&with.stdout, 2000),
        tail(&plain.stderr, 4000),
        tail(&with.stderr, 4000)
    ));
    panic!("{msg}");
}

/// Asserts that a run exited with status 0 (a probe that fails without the library means a broken
/// probe or tree, not a library bug).
pub fn assert_success(what: &str, o: &Outcome) {
    assert!(
        o.status.success(),
        "{what} failed ({}):\nstdout (tail):\n{}\nstderr (tail):\n{}",
        o.status_text(),
        tail(&o.stdout, 4000),
        tail(&o.stderr, 4000)
    );
}

/// The fixed access time given to test trees: in the future, so that relatime never updates it
/// (a followed symlink or a read file keeps its atime) and both runs see the same value.
pub const FIXED_ATIME: (i64, i64) = (4_000_000_000, 123_456_789);
/// The fixed modification time given to test trees.
pub const FIXED_MTIME: (i64, i64) = (1_000_000_000, 987_654_321);

/// Sets `path`'s access and modification times (not following a final symlink) to the given
/// `(seconds, nanoseconds)` pairs.
pub fn set_times(path: &Path, atime: (i64, i64), mtime: (i64, i64)) {
    let c = CString::new(path.as_os_str().as_bytes()).expect("path without NUL");
    let times = [
        libc::timespec {
            tv_sec: atime.0,
            tv_nsec: atime.1,
        },
        libc::timespec {
            tv_sec: mtime.0,
            tv_nsec: mtime.1,
        },
    ];
    // SAFETY: `c` is NUL-terminated and `times` is an array of two timespecs, both outliving the
    // call.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(
        r,
        0,
        "utimensat {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// Gives every entry under `root` (and `root` itself) the fixed times, children before parents.
pub fn fix_times_recursively(root: &Path) {
    let meta = fs::symlink_metadata(root).expect("lstat");
    if meta.is_dir() {
        for entry in fs::read_dir(root).expect("read_dir") {
            fix_times_recursively(&entry.expect("dir entry").path());
        }
    }
    set_times(root, FIXED_ATIME, FIXED_MTIME);
}

/// Writes `content` to `path`, creating parent directories.
pub fn write_file(path: &Path, content: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create parent");
    }
    let mut f = fs::File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    f.write_all(content.as_ref()).expect("write");
}

/// Builds the shared test tree under `root` and returns the working directory `root/work`:
///
/// ```text
/// work/file            "hello\n"          work/hardlink  second name of file
/// work/empty           ""                 work/fifo      a FIFO
/// work/dir/inner       "inner\n"          work/dir/sub/  an empty directory
/// work/link -> file    work/dirlink -> dir    work/dangling -> nowhere
/// work/chain40 -> c40_1 -> ... -> file (40 links)   work/chain41 (41 links)
/// ```
///
/// `root` itself is private to the test, so `..` from `work` changes only if the test changes it.
/// Every entry gets the fixed times.
pub fn make_tree(root: &Path) -> PathBuf {
    use std::os::unix::fs::symlink;
    let work = root.join("work");
    fs::create_dir_all(work.join("dir/sub")).expect("mkdir");
    write_file(&work.join("file"), "hello\n");
    write_file(&work.join("empty"), "");
    write_file(&work.join("dir/inner"), "inner\n");
    fs::hard_link(work.join("file"), work.join("hardlink")).expect("link");
    symlink("file", work.join("link")).expect("symlink");
    symlink("dir", work.join("dirlink")).expect("symlink");
    symlink("nowhere", work.join("dangling")).expect("symlink");
    let fifo = CString::new(work.join("fifo").as_os_str().as_bytes()).expect("path");
    // SAFETY: `fifo` is a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0, "mkfifo");
    for n in [40usize, 41] {
        // chainN -> cN_1 -> cN_2 -> ... -> cN_{N-1} -> file: N links in all.
        let name = |i: usize| {
            if i == 0 {
                format!("chain{n}")
            } else {
                format!("c{n}_{i}")
            }
        };
        for i in 0..n {
            let target = if i + 1 == n {
                "file".to_string()
            } else {
                name(i + 1)
            };
            symlink(target, work.join(name(i))).expect("symlink");
        }
    }
    fix_times_recursively(root);
    work
}

/// The `LD_PRELOAD` value for `libs`, in order (`None` when there are none).
pub fn preload_list(libs: &[impl AsRef<Path>]) -> Option<OsString> {
    let mut v = OsString::new();
    for (i, lib) in libs.iter().enumerate() {
        if i > 0 {
            v.push(":");
        }
        v.push(lib.as_ref().as_os_str());
    }
    (!libs.is_empty()).then_some(v)
}

/// A mount made in a child's private mount namespace before it execs.
#[derive(Clone, Debug)]
pub struct Mount {
    pub source: String,
    pub target: PathBuf,
    pub fstype: String,
    pub data: String,
}

impl Mount {
    /// A fresh tmpfs of `size` (mount syntax: "512m", "1g") on `target`.
    pub fn tmpfs(target: &Path, size: &str) -> Mount {
        Mount {
            source: "tmpfs".into(),
            target: target.to_path_buf(),
            fstype: "tmpfs".into(),
            data: format!("size={size},mode=0755"),
        }
    }
}

/// Makes the child of `cmd` enter a private mount namespace (root), and make `mounts` there,
/// before it execs.
pub fn private_namespace(cmd: &mut Command, mounts: &[Mount]) {
    use std::os::unix::process::CommandExt;
    let c = |s: &[u8]| CString::new(s).expect("no NUL");
    let root = c(b"/");
    let prepared: Vec<(CString, CString, CString, CString)> = mounts
        .iter()
        .map(|m| {
            (
                c(m.source.as_bytes()),
                c(m.target.as_os_str().as_bytes()),
                c(m.fstype.as_bytes()),
                c(m.data.as_bytes()),
            )
        })
        .collect();
    // SAFETY: the closure runs between fork and exec; it only makes the unshare and mount system
    // calls on strings built before the fork, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::unshare(libc::CLONE_NEWNS) != 0
                || libc::mount(
                    std::ptr::null(),
                    root.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            for (source, target, fstype, data) in &prepared {
                if libc::mount(
                    source.as_ptr(),
                    target.as_ptr(),
                    fstype.as_ptr(),
                    0,
                    data.as_ptr().cast(),
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Whether this kernel gives the calling process an io_uring set up as the library's ring
/// barrier is (`cache/src/ring.rs`: `DEFER_TASKRUN | SINGLE_ISSUER | TASKRUN_FLAG | CQSIZE`).
/// Where it does not (seccomp, `io_uring_disabled`, kernels before 6.1), the library uses epoll.
pub fn io_uring_barrier_available() -> bool {
    // struct io_uring_params: 120 bytes; `cq_entries` at 4, `flags` at 8.
    let mut p = [0u32; 30];
    p[1] = 16;
    p[2] = (1 << 3) | (1 << 9) | (1 << 12) | (1 << 13);
    // SAFETY: io_uring_setup(2) with a writable 120-byte params block.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 2u32, p.as_mut_ptr()) };
    if fd < 0 {
        return false;
    }
    // SAFETY: the descriptor just returned is ours.
    unsafe { libc::close(fd as i32) };
    true
}
