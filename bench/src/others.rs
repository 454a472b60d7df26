//! Cost to others: what a process using the library costs every other process writing into a
//! directory its cache watches. Holders (this binary's `hold` command, preloaded) stat files in
//! `watched/` until the cache watches it, then sit idle; this process, not preloaded, times writes
//! in `watched/` against the same writes in `plain/`, which nobody watches.

use crate::args::Args;
use crate::summary::{flip, pair_ratios, ratio, write_json, Summary};
use crate::{machine, startup, Res};
use serde_json::{json, Value};
use std::ffi::CString;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// The `hold` helper: stat every file in `--dir` many times, say "ready", wait for EOF on stdin.
pub fn hold(a: &Args) -> Res<()> {
    let dir = PathBuf::from(a.req("dir")?);
    let mut s = crate::calls::Scratch::new();
    let f = crate::calls::call_fn(crate::calls::Side::Library, crate::calls::Entry::Stat);
    let mut paths = vec![CString::new(dir.as_os_str().as_encoded_bytes())?];
    for e in std::fs::read_dir(&dir)? {
        paths.push(CString::new(
            e?.path().into_os_string().into_encoded_bytes(),
        )?);
    }
    for _ in 0..20 {
        for p in &paths {
            f(p, &mut s);
        }
    }
    println!("ready");
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    Ok(())
}

/// Inotify watches a process holds: (all of them, those on inode `ino`), from /proc/PID/fdinfo.
fn watches(pid: u32, ino: u64) -> (usize, usize) {
    let (mut all, mut on) = (0, 0);
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return (0, 0);
    };
    for e in rd.flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        for l in text.lines().filter(|l| l.starts_with("inotify wd:")) {
            all += 1;
            let hex = l.split_whitespace().find_map(|w| w.strip_prefix("ino:"));
            if hex.and_then(|h| u64::from_str_radix(h, 16).ok()) == Some(ino) {
                on += 1;
            }
        }
    }
    (all, on)
}

fn spawn_holder(lib: &str, dir: &Path) -> Res<Child> {
    let mut c = Command::new(std::env::current_exe()?)
        .args(["hold", "--dir"])
        .arg(dir)
        .env_clear()
        .envs(startup::clean_env())
        .env("LD_PRELOAD", lib)
        .env("STATCACHE_MIN_REUSE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    if let Some(out) = c.stdout.as_mut() {
        BufReader::new(out).read_line(&mut line)?;
    }
    if line.trim() != "ready" {
        return Err("holder did not get ready".into());
    }
    Ok(c)
}

/// 64-byte pwrite(2) at offset 0 of `file`, `n` times; ns per write.
fn pwrites(file: &std::fs::File, n: usize) -> f64 {
    use std::os::unix::fs::FileExt;
    let buf = [7u8; 64];
    let t = Instant::now();
    for _ in 0..n {
        let _ = file.write_at(&buf, 0);
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// create (open O_CREAT|O_EXCL, close) + unlink of one name in `dir`, `n` times; ns per pair.
fn create_unlink(dir: &Path, n: usize) -> f64 {
    let p = dir.join("tmp-create");
    let t = Instant::now();
    for _ in 0..n {
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p);
        let _ = std::fs::remove_file(&p);
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

pub fn run(a: &Args) -> Res<()> {
    let quick = a.flag("quick");
    let lib = a.req("lib")?.to_string();
    let root = PathBuf::from(a.req("dir")?);
    let out = PathBuf::from(a.req("out")?);
    let (blocks, holder_counts): (usize, &[usize]) = if quick {
        (5, &[0, 1])
    } else {
        (11, &[0, 1, 8])
    };
    let load_before = machine::loadavg();
    let _ = std::fs::remove_dir_all(&root);
    let (watched, plain) = (root.join("watched"), root.join("plain"));
    for d in [&watched, &plain] {
        std::fs::create_dir_all(d)?;
        for i in 0..16 {
            std::fs::write(d.join(format!("f{i}")), b"x")?;
        }
    }
    let ino = std::fs::metadata(&watched)?.ino();
    let open = |d: &Path| std::fs::OpenOptions::new().write(true).open(d.join("f0"));
    let (fw, fp) = (open(&watched)?, open(&plain)?);
    let mut rows = Vec::new();
    for &holders in holder_counts {
        let mut kids = Vec::new();
        for _ in 0..holders {
            kids.push(spawn_holder(&lib, &watched)?);
        }
        let seen: Vec<Value> = kids
            .iter()
            .map(|k| {
                let (all, on) = watches(k.id(), ino);
                json!({"inotify_watches": all, "on_watched_dir": on})
            })
            .collect();
        let watching = seen
            .iter()
            .filter(|s| s["on_watched_dir"].as_u64() > Some(0))
            .count();
        for op in ["pwrite64", "create+unlink"] {
            let run_op = |d: &Path, f: &std::fs::File| match op {
                "pwrite64" => pwrites(f, 20_000),
                _ => create_unlink(d, 2_000),
            };
            run_op(&watched, &fw);
            run_op(&plain, &fp);
            let (mut w, mut p) = (Vec::new(), Vec::new());
            for b in 0..blocks {
                if flip(b) {
                    p.push(run_op(&plain, &fp));
                    w.push(run_op(&watched, &fw));
                } else {
                    w.push(run_op(&watched, &fw));
                    p.push(run_op(&plain, &fp));
                }
            }
            let (ws, ps) = (Summary::of(&w), Summary::of(&p));
            rows.push(json!({
                "holders": holders, "holders_watching": watching, "holder_watches": seen,
                "op": op, "watched_ns": ws.json(), "plain_ns": ps.json(),
                "ratio": ratio(ws.median, ps.median), "ratio_pairs": pair_ratios(&w, &p).json(),
            }));
        }
        for mut k in kids {
            drop(k.stdin.take());
            let _ = k.wait();
        }
    }
    let v = json!({
        "case": "others", "quick": quick, "blocks": blocks,
        "ops_per_block": {"pwrite64": 20_000, "create+unlink": 2_000},
        "holder": "statcache-bench hold (preloaded, STATCACHE_MIN_REUSE=0): 20 stats of each of 17 paths, then idle",
        "loadavg_before": load_before, "loadavg_after": machine::loadavg(), "rows": rows,
    });
    write_json(&out, &v)
}
