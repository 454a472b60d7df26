//! Start-up cost: programs spawned again and again, with and without the library preloaded, in
//! alternating blocks; per-spawn microseconds (posix_spawn to waitpid).

use crate::args::Args;
use crate::summary::{flip, pair_ratios, ratio, write_json, Summary};
use crate::{machine, Res};
use libc::{c_char, pid_t};
use serde_json::json;
use std::ffi::CString;
use std::path::PathBuf;
use std::time::Instant;

/// The environment of the current process without the variables a case sets itself.
pub fn clean_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k != "LD_PRELOAD" && k != "STATCACHE_STATS")
        .collect()
}

/// A prepared argv or envp: C strings and the NULL-terminated pointer array into them.
struct CVec {
    _strings: Vec<CString>,
    ptrs: Vec<*mut c_char>,
}

impl CVec {
    fn new(items: impl IntoIterator<Item = String>) -> Res<CVec> {
        let strings: Vec<CString> = items
            .into_iter()
            .map(CString::new)
            .collect::<Result<_, _>>()?;
        let mut ptrs: Vec<*mut c_char> =
            strings.iter().map(|s| s.as_ptr() as *mut c_char).collect();
        ptrs.push(std::ptr::null_mut());
        Ok(CVec {
            _strings: strings,
            ptrs,
        })
    }
}

/// posix_spawn(3) then waitpid(2) — runs `prog` to completion; returns its wait status.
fn spawn_wait(prog: &CString, argv: &CVec, envp: &CVec) -> std::io::Result<i32> {
    let mut pid: pid_t = 0;
    // SAFETY: `prog` is NUL-terminated; `argv.ptrs` and `envp.ptrs` are NULL-terminated arrays of
    // pointers into C strings that `argv` and `envp` keep alive; posix_spawn does not write
    // through them. NULL file actions and attributes are allowed.
    let r = unsafe {
        libc::posix_spawn(
            &mut pid,
            prog.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            argv.ptrs.as_ptr(),
            envp.ptrs.as_ptr(),
        )
    };
    if r != 0 {
        return Err(std::io::Error::from_raw_os_error(r));
    }
    let mut status = 0;
    loop {
        // SAFETY: `pid` is our child and `status` is a writable int.
        let w = unsafe { libc::waitpid(pid, &mut status, 0) };
        if w == pid {
            return Ok(status);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

pub fn run(a: &Args) -> Res<()> {
    let quick = a.flag("quick");
    let lib = a.req("lib")?.to_string();
    let n: usize = a.num("n", if quick { 200 } else { 2000 })?;
    let per_block = 25usize;
    let blocks = n.div_ceil(per_block);
    let out = PathBuf::from(a.req("out")?);
    let load_before = machine::loadavg();
    let base = clean_env();
    let to_strings = |env: &[(String, String)]| {
        env.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
    };
    let mut with = base.clone();
    with.push(("LD_PRELOAD".into(), lib.clone()));
    let env_without = CVec::new(to_strings(&base))?;
    let env_with = CVec::new(to_strings(&with))?;
    let mut rows = Vec::new();
    for prog in a.all("prog") {
        let cprog = CString::new(prog.clone())?;
        let argv = CVec::new([prog.clone()])?;
        let st_with = spawn_wait(&cprog, &argv, &env_with)?;
        let st_without = spawn_wait(&cprog, &argv, &env_without)?;
        let timed = |envp: &CVec| -> Res<f64> {
            let t = Instant::now();
            for _ in 0..per_block {
                spawn_wait(&cprog, &argv, envp)?;
            }
            Ok(t.elapsed().as_secs_f64() * 1e6 / per_block as f64)
        };
        let (mut l, mut r) = (Vec::new(), Vec::new());
        for b in 0..blocks {
            if flip(b) {
                r.push(timed(&env_without)?);
                l.push(timed(&env_with)?);
            } else {
                l.push(timed(&env_with)?);
                r.push(timed(&env_without)?);
            }
        }
        let (ls, rs) = (Summary::of(&l), Summary::of(&r));
        rows.push(json!({
            "prog": prog, "spawns_per_side": blocks * per_block, "spawns_per_block": per_block,
            "lib_us": ls.json(), "real_us": rs.json(), "diff_us": ls.median - rs.median,
            "ratio": ratio(ls.median, rs.median), "ratio_pairs": pair_ratios(&l, &r).json(),
            "exit_status_with": st_with, "exit_status_without": st_without,
        }));
    }
    let v = json!({
        "case": "startup", "quick": quick, "method": "posix_spawn + waitpid, blocks alternating",
        "loadavg_before": load_before, "loadavg_after": machine::loadavg(), "rows": rows,
    });
    write_json(&out, &v)
}
