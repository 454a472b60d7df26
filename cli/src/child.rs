//! Running children: timing and resource use (`wait4`), exit statuses as a shell reports them,
//! interrupts, and scratch directories.

use crate::CliError;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Signaled(i32),
}

impl Status {
    /// Decodes a `wait` status word.
    pub fn from_raw(raw: libc::c_int) -> Status {
        if libc::WIFSIGNALED(raw) {
            Status::Signaled(libc::WTERMSIG(raw))
        } else {
            Status::Exited(libc::WEXITSTATUS(raw))
        }
    }

    pub fn success(self) -> bool {
        self == Status::Exited(0)
    }

    pub fn describe(self) -> String {
        match self {
            Status::Exited(code) => format!("exit status {code}"),
            Status::Signaled(sig) => match signal_name(sig) {
                Some(name) => format!("killed by signal {sig} ({name})"),
                None => format!("killed by signal {sig}"),
            },
        }
    }
}

fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSYS => "SIGSYS",
        _ => return None,
    })
}

/// One finished run of a command.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub wall: Duration,
    /// CPU time of the child and of every descendant it waited for.
    pub user: Duration,
    pub sys: Duration,
    pub status: Status,
}

fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u32::try_from(tv.tv_usec).unwrap_or(0).min(999_999);
    Duration::new(secs, micros * 1000)
}

/// Spawns `cmd`, waits for it with `wait4` and returns its wall time, CPU time and status.
pub fn run_measured(cmd: &mut Command) -> io::Result<Measured> {
    let start = Instant::now();
    let child = cmd.spawn()?;
    let pid = libc::pid_t::try_from(child.id()).map_err(io::Error::other)?;
    let mut raw: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all zero bytes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own unreaped child (`Child` never waits on its own when dropped), and
        // both out-pointers are valid, exclusive borrows for the duration of the call.
        let r = unsafe { libc::wait4(pid, &mut raw, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let wall = start.elapsed();
    drop(child);
    Ok(Measured {
        wall,
        user: timeval(usage.ru_utime),
        sys: timeval(usage.ru_stime),
        status: Status::from_raw(raw),
    })
}

/// The error a shell gives when it cannot start `prog`: 127 if not found, 126 if not runnable.
pub fn spawn_error(prog: &std::ffi::OsStr, err: &io::Error) -> CliError {
    let name = prog.to_string_lossy();
    let has_slash = prog.as_encoded_bytes().contains(&b'/');
    match err.kind() {
        io::ErrorKind::NotFound if has_slash && Path::new(prog).exists() => CliError {
            code: 126,
            msg: format!("{name}: cannot run it: bad interpreter ({err})"),
        },
        io::ErrorKind::NotFound if has_slash => CliError {
            code: 127,
            msg: format!("{name}: No such file or directory"),
        },
        io::ErrorKind::NotFound => CliError {
            code: 127,
            msg: format!("{name}: command not found"),
        },
        _ => CliError {
            code: 126,
            msg: format!("{name}: cannot run it: {err}"),
        },
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_sig: libc::c_int) {
    // Relaxed: the flag carries no other data; it is read after `wait4` returns.
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Catches SIGINT so that a Ctrl-C, which also reaches the child, ends the loop between runs and
/// the scratch directory is removed. Children get the default action back at exec.
pub fn catch_interrupts() {
    // SAFETY: all-zero bytes is a valid `sigaction` (no flags, empty mask). The handler only stores
    // to an atomic, which is async-signal-safe, and it is a plain `extern "C" fn(c_int)` as the
    // kernel calls it without SA_SIGINFO.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
}

/// Whether a SIGINT arrived since [`catch_interrupts`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// The error for an interrupted loop (exit 130, as a shell reports SIGINT).
pub fn interrupted_error() -> CliError {
    CliError {
        code: 130,
        msg: "interrupted".to_string(),
    }
}

/// A fresh directory under `$TMPDIR` (or `/tmp`), removed when dropped unless kept.
pub struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    pub fn new(prefix: &str) -> Result<TempDir, CliError> {
        let base = std::path::absolute(std::env::temp_dir())
            .map_err(|e| CliError::fail(format!("cannot find the temporary directory: {e}")))?;
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        for attempt in 0..100u32 {
            let path = base.join(format!(
                "{prefix}-{}-{:x}",
                std::process::id(),
                nanos ^ attempt
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path, keep: false }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(CliError::fail(format!(
                        "cannot create a directory in {}: {e}",
                        base.display()
                    )))
                }
            }
        }
        Err(CliError::fail(format!(
            "cannot create a fresh directory in {}",
            base.display()
        )))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The last `max_lines` lines of a file (for showing why a run failed), at most 4 KiB.
pub fn tail(path: &Path, max_lines: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = bytes.len().saturating_sub(4096);
    let text = String::from_utf8_lossy(&bytes[start..]);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(max_lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_exit_status_and_time() {
        let m = run_measured(Command::new("sh").args(["-c", "exit 3"])).unwrap();
        assert_eq!(m.status, Status::Exited(3));
        assert!(!m.status.success());
        assert_eq!(m.status.describe(), "exit status 3");
        let m = run_measured(Command::new("sh").args(["-c", "kill -TERM $$"])).unwrap();
        assert_eq!(m.status, Status::Signaled(libc::SIGTERM));
        assert_eq!(m.status.describe(), "killed by signal 15 (SIGTERM)");
        let m = run_measured(Command::new("sh").args(["-c", "sleep 0.01"])).unwrap();
        assert!(m.status.success());
        assert!(m.wall >= Duration::from_millis(10));
    }

    #[test]
    fn shell_style_spawn_errors() {
        let err = Command::new("statcache-no-such-command")
            .spawn()
            .unwrap_err();
        let e = spawn_error("statcache-no-such-command".as_ref(), &err);
        assert_eq!(e.code, 127);
        assert!(e.msg.contains("command not found"));
        let err = Command::new("/").spawn().unwrap_err();
        assert_eq!(spawn_error("/".as_ref(), &err).code, 126);
    }

    #[test]
    fn temp_dir_is_removed_unless_kept() {
        let t = TempDir::new("statcache-cli-test").unwrap();
        let p = t.path().to_path_buf();
        assert!(p.is_dir() && p.is_absolute());
        std::fs::write(p.join("f"), "a\nb\nc\n").unwrap();
        assert_eq!(tail(&p.join("f"), 2), "b\nc");
        drop(t);
        assert!(!p.exists());
        let mut t = TempDir::new("statcache-cli-test").unwrap();
        t.keep();
        let p = t.path().to_path_buf();
        drop(t);
        assert!(p.is_dir());
        std::fs::remove_dir(p).unwrap();
    }
}
