//! The machine a run was made on: CPU, cores, kernel, glibc, the filesystem of the bench
//! directory, tool versions, and the library under test.

use crate::args::Args;
use crate::summary::write_json;
use crate::Res;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

pub fn run(a: &Args) -> Res<()> {
    let dir = Path::new(a.req("dir")?).canonicalize()?;
    let lib = Path::new(a.req("lib")?);
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let mem_kb = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|n| n.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let lib_size = std::fs::metadata(lib).map(|m| m.len()).unwrap_or(0);
    let sha = output("sha256sum", &[&lib.display().to_string()])
        .and_then(|s| s.split_whitespace().next().map(str::to_string));
    let v = json!({
        "hostname": output("hostname", &[]),
        "date_utc": output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "nproc": nproc(),
        "cpu_model": model,
        "mem_total_mib": mem_kb / 1024,
        "kernel": output("uname", &["-r"]),
        "kernel_version": output("uname", &["-v"]),
        "glibc": glibc_version(),
        "bench_dir": dir.display().to_string(),
        "filesystem": filesystem(&dir),
        "loadavg": loadavg(),
        "tools": {
            "rustc": output("rustc", &["--version"]),
            "cc": output("cc", &["--version"]),
            "make": output("make", &["--version"]),
            "git": output("git", &["--version"]),
            "python3": output("python3", &["--version"]),
            "ninja": output("ninja", &["--version"]),
        },
        "library": {
            "path": lib.display().to_string(),
            "bytes": lib_size,
            "sha256": sha,
            "exports": exports(lib),
        },
        "repo_head": output("git", &["-C", &dir.display().to_string(), "rev-parse", "--short", "HEAD"]),
    });
    write_json(Path::new(a.req("out")?), &v)
}

/// Online CPUs.
pub fn nproc() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The 1-, 5- and 15-minute load averages, recorded around each case as a noise indicator.
pub fn loadavg() -> Value {
    let s = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let v: Vec<f64> = s
        .split_whitespace()
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect();
    json!(v)
}

/// The first line a command prints, if it runs.
fn output(prog: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(prog).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next()?.trim().to_string();
    (!line.is_empty()).then_some(line)
}

fn glibc_version() -> String {
    // SAFETY: gnu_get_libc_version() returns a pointer to a static NUL-terminated string.
    let p = unsafe { libc::gnu_get_libc_version() };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: `p` is non-null and points to a static NUL-terminated string (checked above).
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

/// The statfs type and the mount (from /proc/self/mountinfo) holding `dir`.
fn filesystem(dir: &Path) -> Value {
    let mut best: Option<(usize, Value)> = None;
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in info.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(dash) = f.iter().position(|&x| x == "-") else {
            continue;
        };
        if f.len() < dash + 3 || f.len() < 6 {
            continue;
        }
        let mnt = f[4];
        if !dir.starts_with(mnt) || best.as_ref().is_some_and(|(l, _)| *l > mnt.len()) {
            continue;
        }
        let v = json!({"mount_point": mnt, "fstype": f[dash + 1], "source": f[dash + 2],
                       "options": f[5], "super_options": f.get(dash + 3)});
        best = Some((mnt.len(), v));
    }
    let mut v = best.map(|b| b.1).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "statfs_type".into(),
            json!(format!("{:#x}", statfs_type(dir))),
        );
    }
    v
}

fn statfs_type(dir: &Path) -> i64 {
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return 0;
    };
    // SAFETY: all-zero bytes are a valid `struct statfs` (integers only).
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `s` is a writable `struct statfs`.
    if unsafe { libc::statfs(c.as_ptr(), &mut s) } != 0 {
        return 0;
    }
    s.f_type
}

/// Which stat-family symbols the library defines (from `nm -D`), if nm is installed.
fn exports(lib: &Path) -> Value {
    let Ok(out) = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib)
        .output()
    else {
        return Value::Null;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|n| n.contains("stat"))
        .collect();
    json!(names)
}
