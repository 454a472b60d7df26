//! Real workloads over generated inputs, each timed with and without the library in alternating
//! runs (A B, B A, ...) after one untimed run each way; the untimed run with the library also
//! collects the statistics lines (`STATCACHE_STATS`) for hit rates, so the timed runs pay nothing
//! for statistics.

mod gen;

use crate::args::Args;
use crate::libstats::StatsFile;
use crate::summary::{flip, pair_ratios, ratio, write_json, Summary};
use crate::{machine, startup, Res};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime};

/// Sizes of the generated inputs.
struct Sizes {
    c_files: usize,
    crates: usize,
    git_files: usize,
    py: (usize, usize),
    runs: usize,
}

/// One timed command.
struct Workload {
    name: &'static str,
    what: String,
    dir: PathBuf,
    cmd: Vec<String>,
    env: Vec<(String, String)>,
    /// A file whose mtime is set to now before every run (not timed).
    touch: Option<PathBuf>,
}

/// The first line `prog args` prints, or `fallback`.
fn resolve(prog: &str, args: &[&str], fallback: &str) -> String {
    Command::new(prog)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| fallback.to_string())
}

fn have(prog: &str) -> bool {
    Command::new(prog)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Generates (or reuses) every input and returns the workloads, and those skipped with why.
fn prepare(work: &Path, z: &Sizes) -> Res<(Vec<Workload>, Vec<Value>)> {
    let mut list = Vec::new();
    let mut skipped = Vec::new();
    let nproc = machine::nproc().to_string();
    let s = |x: &str| x.to_string();
    let ctree = work.join(format!("ctree-{}", z.c_files));
    let params = format!("c_files={}", z.c_files);
    if !gen::is_ready(&ctree, &params) {
        eprintln!("  generating and building the C tree ({} files)", z.c_files);
        gen::c_tree(&ctree, z.c_files)?;
        gen::setup(&ctree, "make", &["-s", "-j", &nproc], &[])?;
        gen::mark_ready(&ctree, &params)?;
    }
    let what = format!(
        "GNU make over {} C files + {} objects, nothing to do",
        z.c_files, z.c_files
    );
    list.push(Workload {
        name: "make-noop",
        what,
        dir: ctree.clone(),
        cmd: vec![s("make"), s("-s")],
        env: vec![],
        touch: None,
    });
    let what = format!(
        "GNU make after touching one of {} C files: 1 compile + 1 link",
        z.c_files
    );
    let touch = Some(ctree.join("src/d00/f0.c"));
    list.push(Workload {
        name: "make-incremental",
        what,
        dir: ctree.clone(),
        cmd: vec![s("make"), s("-s")],
        env: vec![],
        touch,
    });
    if have("ninja") {
        if !ctree.join("nprog").exists() {
            gen::setup(&ctree, "ninja", &["-j", &nproc], &[])?;
        }
        let what = format!("ninja over {} C files, nothing to do", z.c_files);
        list.push(Workload {
            name: "ninja-noop",
            what,
            dir: ctree.clone(),
            cmd: vec![s("ninja")],
            env: vec![],
            touch: None,
        });
    } else {
        skipped.push(json!({"name": "ninja-noop", "why": "ninja is not installed"}));
    }
    let ws = work.join(format!("cargo-{}", z.crates));
    let cargo = resolve("rustup", &["which", "cargo"], "cargo");
    let rustc = resolve("rustup", &["which", "rustc"], "rustc");
    let env = vec![
        (
            s("CARGO_TARGET_DIR"),
            ws.join("target").display().to_string(),
        ),
        (s("RUSTC"), rustc),
        (s("CARGO_TERM_COLOR"), s("never")),
    ];
    let cargo_args = vec![cargo.clone(), s("build"), s("--offline"), s("-q")];
    let params = format!("crates={}", z.crates);
    if !gen::is_ready(&ws, &params) {
        eprintln!(
            "  generating and building the cargo workspace ({} crates)",
            z.crates
        );
        gen::cargo_ws(&ws, z.crates)?;
        gen::setup(&ws, &cargo, &["build", "--offline", "-q"], &env)?;
        gen::mark_ready(&ws, &params)?;
    }
    let what = format!(
        "cargo build of a workspace of {} path-dependent crates + 1 bin, nothing to do",
        z.crates
    );
    list.push(Workload {
        name: "cargo-noop",
        what,
        dir: ws,
        cmd: cargo_args,
        env,
        touch: None,
    });
    let repo = work.join(format!("git-{}", z.git_files));
    let params = format!("git_files={}", z.git_files);
    if !gen::is_ready(&repo, &params) {
        eprintln!("  generating the git repository ({} files)", z.git_files);
        gen::git_repo(&repo, z.git_files)?;
        gen::mark_ready(&repo, &params)?;
    }
    let what = format!("git status in a clean repository of {} files", z.git_files);
    list.push(Workload {
        name: "git-status",
        what,
        dir: repo,
        cmd: vec![s("git"), s("status"), s("--porcelain")],
        env: vec![],
        touch: None,
    });
    let py = work.join(format!("python-{}x{}", z.py.0, z.py.1));
    let params = format!("py={}x{}", z.py.0, z.py.1);
    if !gen::is_ready(&py, &params) {
        gen::py_pkg(&py, z.py.0, z.py.1)?;
        gen::mark_ready(&py, &params)?;
    }
    let python = resolve(
        "python3",
        &["-c", "import sys; print(sys.executable)"],
        "python3",
    );
    let what = format!(
        "python3 importing a package of {} subpackages x {} modules (bytecode cached)",
        z.py.0, z.py.1
    );
    list.push(Workload {
        name: "python-import",
        what,
        dir: py,
        cmd: vec![python, s("-c"), s("import benchpkg")],
        env: vec![],
        touch: None,
    });
    Ok((list, skipped))
}

/// Runs `w` once (preloading `lib` if given, writing statistics to `stats` if given); seconds.
fn run_once(w: &Workload, lib: Option<&str>, stats: Option<&Path>, log: &Path) -> Res<f64> {
    if let Some(t) = &w.touch {
        std::fs::File::options()
            .write(true)
            .open(t)?
            .set_modified(SystemTime::now())?;
    }
    let mut c = Command::new(&w.cmd[0]);
    c.args(&w.cmd[1..])
        .current_dir(&w.dir)
        .env_clear()
        .envs(startup::clean_env());
    c.envs(w.env.iter().cloned()).stdout(Stdio::null());
    c.stderr(
        std::fs::File::options()
            .create(true)
            .append(true)
            .open(log)?,
    );
    if let Some(l) = lib {
        c.env("LD_PRELOAD", l);
    }
    if let Some(s) = stats {
        c.env("STATCACHE_STATS", s);
    }
    let t = Instant::now();
    let st = c.status()?;
    let secs = t.elapsed().as_secs_f64();
    if !st.success() {
        return Err(format!("{} exited with {st} (see {})", w.name, log.display()).into());
    }
    Ok(secs)
}

fn measure(w: &Workload, lib: &str, runs: usize, run_dir: &Path) -> Res<Value> {
    let log = run_dir.join(format!("stats/{}.stderr", w.name));
    let stats = run_dir.join(format!("stats/{}.jsonl", w.name));
    let _ = std::fs::remove_file(&stats);
    let _ = std::fs::remove_file(&log);
    run_once(w, None, None, &log)?;
    run_once(w, Some(lib), Some(&stats), &log)?;
    let (mut l, mut r) = (Vec::new(), Vec::new());
    for i in 0..runs {
        if flip(i) {
            r.push(run_once(w, None, None, &log)?);
        }
        l.push(run_once(w, Some(lib), None, &log)?);
        if !flip(i) {
            r.push(run_once(w, None, None, &log)?);
        }
    }
    if std::fs::metadata(&log).is_ok_and(|m| m.len() == 0) {
        let _ = std::fs::remove_file(&log);
    }
    let (ls, rs) = (Summary::of(&l), Summary::of(&r));
    Ok(json!({
        "lib_s": ls.json(), "real_s": rs.json(), "ratio": ratio(ls.median, rs.median),
        "ratio_pairs": pair_ratios(&l, &r).json(), "stats": StatsFile::read(&stats).json(),
    }))
}

pub fn run(a: &Args) -> Res<()> {
    let quick = a.flag("quick");
    let z = if quick {
        Sizes {
            c_files: 1000,
            crates: 10,
            git_files: 10000,
            py: (10, 10),
            runs: 5,
        }
    } else {
        Sizes {
            c_files: 3000,
            crates: 40,
            git_files: 30000,
            py: (20, 25),
            runs: 11,
        }
    };
    let lib = std::fs::canonicalize(a.req("lib")?)?.display().to_string();
    let work = PathBuf::from(a.req("work")?);
    let run_dir = PathBuf::from(a.req("run")?);
    std::fs::create_dir_all(&work)?;
    std::fs::create_dir_all(run_dir.join("stats"))?;
    let work = work.canonicalize()?;
    let runs = a.num("runs", z.runs)?;
    let only = a.all("only");
    let load_before = machine::loadavg();
    let (list, skipped) = prepare(&work, &z)?;
    let mut rows = Vec::new();
    for w in list
        .iter()
        .filter(|w| only.is_empty() || only.iter().any(|o| o == w.name))
    {
        eprintln!("  {} ({} runs each way)", w.name, runs);
        let mut row = json!({"name": w.name, "what": w.what, "cmd": w.cmd.join(" "), "runs": runs});
        match measure(w, &lib, runs, &run_dir) {
            Ok(Value::Object(m)) => row
                .as_object_mut()
                .into_iter()
                .for_each(|o| o.extend(m.clone())),
            Ok(_) => {}
            Err(e) => row["error"] = json!(e.to_string()),
        }
        rows.push(row);
    }
    let v = json!({
        "case": "workloads", "quick": quick, "work_dir": work.display().to_string(),
        "stats_env": "default library settings (only LD_PRELOAD and, in the untimed run, STATCACHE_STATS set)",
        "skipped": skipped, "loadavg_before": load_before, "loadavg_after": machine::loadavg(),
        "rows": rows,
    });
    write_json(Path::new(a.req("out")?), &v)
}
