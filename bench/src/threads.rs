//! Thread scaling: 1, 2, 4, ... up to twice the CPU count, every thread stat-ing the same file, or
//! each its own file in one directory; total calls per second through the library and as the raw
//! system call, in the same process. Run under `LD_PRELOAD` with `STATCACHE_MIN_REUSE=0`.

use crate::args::Args;
use crate::calls::{call_fn, CallFn, Entry, Scratch, Side};
use crate::summary::{flip, pair_ratios, ratio, write_json, Summary};
use crate::{machine, Res};
use serde_json::json;
use std::ffi::CString;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

pub fn run(a: &Args) -> Res<()> {
    let quick = a.flag("quick");
    let (reps, dur) = if quick { (3, 150) } else { (9, 500) };
    let nproc = machine::nproc();
    let max: usize = a.num("max-threads", 2 * nproc)?;
    let mut counts: Vec<usize> = std::iter::successors(Some(1usize), |n| Some(n * 2))
        .take_while(|&n| n <= max)
        .collect();
    if counts.last() != Some(&max) {
        counts.push(max);
    }
    let root = PathBuf::from(a.req("dir")?);
    let out = PathBuf::from(a.req("out")?);
    let load_before = machine::loadavg();
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("thr"))?;
    std::env::set_current_dir(&root)?;
    std::fs::write("thr/shared", b"x")?;
    for i in 0..max {
        std::fs::write(format!("thr/t{i}"), b"x")?;
    }
    // Read them back a clock tick later (see percall::build_depth: files never read since they
    // were written are not answered from the cache).
    std::thread::sleep(std::time::Duration::from_millis(20));
    for entry in std::fs::read_dir("thr")? {
        std::fs::read(entry?.path())?;
    }
    let dur = Duration::from_millis(a.num("ms", dur)?);
    let mut rows = Vec::new();
    let mut lib_calls = 0u64;
    for mode in ["same-file", "own-file"] {
        for &t in &counts {
            let paths: Vec<CString> = (0..t)
                .map(|i| match mode {
                    "same-file" => CString::new("thr/shared"),
                    _ => CString::new(format!("thr/t{i}")),
                })
                .collect::<Result<_, _>>()?;
            let (mut l, mut r) = (Vec::new(), Vec::new());
            for rep in 0..reps {
                let lib = call_fn(Side::Library, Entry::Stat);
                let real = call_fn(Side::Real, Entry::Stat);
                if flip(rep) {
                    r.push(throughput(real, &paths, dur).0);
                }
                let (rate, calls) = throughput(lib, &paths, dur);
                l.push(rate);
                lib_calls += calls;
                if !flip(rep) {
                    r.push(throughput(real, &paths, dur).0);
                }
            }
            let (ls, rs) = (Summary::of(&l), Summary::of(&r));
            // A time ratio, like every other ratio: real throughput over library throughput.
            rows.push(json!({
                "mode": mode, "threads": t,
                "lib_calls_per_s": ls.json(), "real_calls_per_s": rs.json(),
                "ratio": ratio(rs.median, ls.median), "ratio_pairs": pair_ratios(&r, &l).json(),
            }));
        }
    }
    let v = json!({
        "case": "threads", "quick": quick, "nproc": nproc, "thread_counts": counts,
        "entry": "stat", "real_call": Entry::Stat.syscall_name(),
        "paths": {"same-file": "thr/shared", "own-file": "thr/t<i>"},
        "reps": reps, "ms_per_rep": dur.as_millis() as u64,
        "library_calls": lib_calls,
        "loadavg_before": load_before, "loadavg_after": machine::loadavg(),
        "rows": rows,
    });
    write_json(&out, &v)
}

/// Runs one thread per path, each calling `f` on its path in a loop for about `dur`; returns total
/// calls per second and the number of calls made. The interval is taken by the workers themselves
/// (earliest start to latest stop), so a main thread scheduled late cannot inflate the rate.
fn throughput(f: CallFn, paths: &[CString], dur: Duration) -> (f64, u64) {
    let stop = AtomicBool::new(false);
    let start = Barrier::new(paths.len() + 1);
    std::thread::scope(|sc| {
        let workers: Vec<_> = paths
            .iter()
            .map(|p| {
                let (stop, start) = (&stop, &start);
                sc.spawn(move || {
                    let mut s = Scratch::new();
                    let mut n = 0u64;
                    start.wait();
                    let t0 = Instant::now();
                    // Relaxed: the flag carries no data; the counts travel through `join`.
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..64 {
                            black_box(f(black_box(p.as_c_str()), &mut s));
                        }
                        n += 64;
                    }
                    (n, t0, Instant::now())
                })
            })
            .collect();
        start.wait();
        std::thread::sleep(dur);
        stop.store(true, Ordering::Relaxed);
        let done: Vec<(u64, Instant, Instant)> =
            workers.into_iter().filter_map(|w| w.join().ok()).collect();
        let total: u64 = done.iter().map(|d| d.0).sum();
        let (Some(first), Some(last)) = (
            done.iter().map(|d| d.1).min(),
            done.iter().map(|d| d.2).max(),
        ) else {
            return (0.0, 0);
        };
        (total as f64 / (last - first).as_secs_f64(), total)
    })
}
