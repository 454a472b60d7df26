//! `statcache demo`: a generated stat-heavy tree, timed without and with the library.

use crate::args::DemoOpts;
use crate::child::{self, TempDir};
use crate::measure::{self, fmt_time, Outcome, Spec};
use crate::report::{line, pct};
use crate::{preload, print, warn, CliError};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

/// Tree shape: `src/dAA/dBB/fCC.c`, so 10 * 10 * 20 = 2000 sources.
const TOP_DIRS: usize = 10;
const SUB_DIRS: usize = 10;
const FILES: usize = 20;
const HEADERS: usize = 30;
/// How many times the polling script re-stats every file.
const PASSES: usize = 40;

/// The polling workload: stats every input, probes outputs that do not exist, again and again, and
/// checks the answers (a wrong size or a phantom file fails the run).
const POLL_PY: &str = r#"# Polls a source tree the way a build tool or a file watcher does.
import os, sys

root, passes, expected = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(os.path.join(root, "paths.txt")) as f:
    paths = f.read().split()
missing = [p[:-2] + ".o" for p in paths]
stat, exists = os.stat, os.path.exists
for _ in range(passes):
    size = 0
    for p in paths:
        size += stat(p).st_size
    if size != expected:
        sys.exit("wrong total size %d, expected %d" % (size, expected))
    for p in missing:
        if exists(p):
            sys.exit("unexpected file " + p)
"#;

/// What [`generate`] made.
struct Tree {
    sources: usize,
    /// Sum of the sizes of the sources, which the polling script checks.
    source_bytes: u64,
}

/// Writes the tree, the Makefile (every object already built), the path list and the script.
fn generate(root: &Path) -> io::Result<Tree> {
    let old = SystemTime::now() - Duration::from_secs(3600);
    let write_old = |path: &Path, text: &str| -> io::Result<()> {
        std::fs::write(path, text)?;
        std::fs::File::options()
            .write(true)
            .open(path)?
            .set_modified(old)
    };
    let mut headers = String::new();
    std::fs::create_dir_all(root.join("include"))?;
    for h in 0..HEADERS {
        let name = format!("include/h{h:02}.h");
        write_old(&root.join(&name), &format!("#define H{h} {h}\n"))?;
        let _ = write!(headers, " {name}");
    }
    let (mut objects, mut paths, mut source_bytes) = (String::new(), String::new(), 0u64);
    for a in 0..TOP_DIRS {
        for b in 0..SUB_DIRS {
            let dir = format!("d{a:02}/d{b:02}");
            std::fs::create_dir_all(root.join("src").join(&dir))?;
            std::fs::create_dir_all(root.join("obj").join(&dir))?;
            for c in 0..FILES {
                let n = (a * SUB_DIRS + b) * FILES + c;
                let text = format!("int f{n}(void) {{ return {n}; }}\n");
                let src = root.join(format!("src/{dir}/f{c:02}.c"));
                write_old(&src, &text)?;
                std::fs::write(root.join(format!("obj/{dir}/f{c:02}.o")), &text)?;
                source_bytes += text.len() as u64;
                let _ = writeln!(paths, "{}", src.display());
                let _ = write!(objects, " \\\n\tobj/{dir}/f{c:02}.o");
            }
        }
    }
    let makefile = format!(
        "# A no-op build: every object is newer than its source and every header.\n\
         HEADERS :={headers}\n\
         OBJECTS :={objects}\n\n\
         all: $(OBJECTS)\n\n\
         obj/%.o: src/%.c $(HEADERS)\n\
         \t@mkdir -p $(@D)\n\
         \tcp $< $@\n\n\
         .PHONY: all\n"
    );
    std::fs::write(root.join("Makefile"), makefile)?;
    std::fs::write(root.join("paths.txt"), &paths)?;
    std::fs::write(root.join("poll.py"), POLL_PY)?;
    // A real source tree has been read (checked out, compiled, hashed) since it was written.
    // The cache answers for a regular file only once a read can no longer move its atime
    // silently (README, "atime"), so read every input once, a clock tick after writing it.
    std::thread::sleep(Duration::from_millis(20));
    let headers = (0..HEADERS).map(|h| root.join(format!("include/h{h:02}.h")));
    for p in paths.lines().map(PathBuf::from).chain(headers) {
        std::fs::read(p)?;
    }
    Ok(Tree {
        sources: TOP_DIRS * SUB_DIRS * FILES,
        source_bytes,
    })
}

/// The first executable `name` on `PATH`.
fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The interpreter itself, not a wrapper script (pyenv's shims start a shell and more per run,
/// which would drown what is measured).
fn real_python(python: &Path) -> PathBuf {
    let out = Command::new(python)
        .args(["-c", "import sys; print(sys.executable)"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let p = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            if p.is_file() {
                p
            } else {
                python.to_path_buf()
            }
        }
        _ => python.to_path_buf(),
    }
}

/// The hidden subcommand the demo runs as its compiled workload.
pub const POLL_CMD: &str = "__demo-poll";

/// `statcache __demo-poll ROOT PASSES BYTES`: polls the demo tree the way a long-lived build
/// tool or file watcher written in Rust does (`std::fs::metadata`, which is `statx`): sums the
/// sources' sizes and checks that no object file exists, PASSES times. Fails on a wrong answer.
pub fn poll(args: &[OsString]) -> Result<i32, CliError> {
    let usage = || {
        CliError::usage(
            None,
            format!("usage: statcache {POLL_CMD} ROOT PASSES BYTES"),
        )
    };
    let [root, passes, expected] = args else {
        return Err(usage());
    };
    let passes: usize = passes
        .to_str()
        .and_then(|p| p.parse().ok())
        .ok_or_else(usage)?;
    let expected: u64 = expected
        .to_str()
        .and_then(|p| p.parse().ok())
        .ok_or_else(usage)?;
    let list = std::fs::read_to_string(Path::new(root).join("paths.txt"))
        .map_err(|e| CliError::fail(format!("cannot read the path list: {e}")))?;
    let paths: Vec<PathBuf> = list.split_whitespace().map(PathBuf::from).collect();
    let missing: Vec<PathBuf> = paths.iter().map(|p| p.with_extension("o")).collect();
    for _ in 0..passes {
        let mut size = 0;
        for p in &paths {
            size += std::fs::metadata(p)
                .map_err(|e| CliError::fail(format!("{}: {e}", p.display())))?
                .len();
        }
        if size != expected {
            return Err(CliError::fail(format!(
                "wrong total size {size}, expected {expected}"
            )));
        }
        if let Some(p) = missing.iter().find(|p| p.exists()) {
            return Err(CliError::fail(format!("unexpected file {}", p.display())));
        }
    }
    Ok(0)
}

struct Workload {
    name: String,
    argv: Vec<OsString>,
}

fn workloads(root: &Path, tree: &Tree, notes: &mut Vec<String>) -> Vec<Workload> {
    let mut out = Vec::new();
    if let Ok(me) = std::env::current_exe() {
        out.push(Workload {
            name: format!(
                "rust: metadata of {} files x{PASSES}, probe {0} missing",
                tree.sources
            ),
            argv: vec![
                me.into(),
                POLL_CMD.into(),
                root.into(),
                PASSES.to_string().into(),
                tree.source_bytes.to_string().into(),
            ],
        });
    }
    match find_in_path("python3") {
        Some(py) => out.push(Workload {
            name: format!(
                "python: stat {} files x{PASSES}, probe {0} missing",
                tree.sources
            ),
            argv: vec![
                real_python(&py).into(),
                "-I".into(),
                "-S".into(),
                root.join("poll.py").into(),
                root.into(),
                PASSES.to_string().into(),
                tree.source_bytes.to_string().into(),
            ],
        }),
        None => notes.push("python3 not found on PATH: the Python workload was skipped".into()),
    }
    match find_in_path("make") {
        Some(make) => out.push(Workload {
            name: format!("make: no-op over {} files, {HEADERS} headers", tree.sources),
            argv: vec![make.into(), "-s".into()],
        }),
        None => notes.push("make not found on PATH: the make workload was skipped".into()),
    }
    out
}

pub fn demo(o: DemoOpts) -> Result<i32, CliError> {
    child::catch_interrupts();
    let lib = match preload::find_library() {
        Ok(lib) => Some(lib),
        Err(why) => {
            warn(&format!(
                "warning: {why}; both sides will run without the cache"
            ));
            None
        }
    };
    let mut tmp = TempDir::new("statcache-demo")?;
    if o.keep {
        tmp.keep();
    }
    let root = tmp.path().join("tree");
    let tree = std::fs::create_dir(&root)
        .and_then(|()| generate(&root))
        .map_err(|e| {
            CliError::fail(format!(
                "cannot generate the demo tree in {}: {e}",
                root.display()
            ))
        })?;
    let mut notes = Vec::new();
    let work = workloads(&root, &tree, &mut notes);
    let mut intro = String::new();
    line!(
        intro,
        "statcache demo: {} source files in {}",
        tree.sources,
        root.display()
    );
    line!(
        intro,
        "each workload runs {} times without and {0} times with statcache, alternately",
        o.runs
    );
    print(&intro)?;

    let mut rows = Vec::new();
    for (i, w) in work.iter().enumerate() {
        let scratch = tmp.path().join(format!("run-{i}"));
        std::fs::create_dir(&scratch)
            .map_err(|e| CliError::fail(format!("cannot create {}: {e}", scratch.display())))?;
        let label = format!(
            "statcache demo: {}",
            w.name.split(':').next().unwrap_or("workload")
        );
        let spec = Spec {
            argv: &w.argv,
            cwd: Some(&root),
            prepare: None,
            runs: o.runs,
            warmup: 1,
            show_output: false,
            label: &label,
        };
        rows.push((
            w.name.as_str(),
            measure::measure(&spec, lib.as_deref(), &scratch)?,
        ));
    }
    print(&table(&rows, lib.is_some(), &notes))?;
    if o.keep {
        print(&format!(
            "kept {} (remove it with: rm -r '{0}')\n",
            tmp.path().display()
        ))?;
    }
    Ok(0)
}

fn table(rows: &[(&str, Outcome)], have_lib: bool, notes: &[String]) -> String {
    let mut s = String::new();
    if rows.is_empty() {
        line!(s, "nothing to measure: no workload could run here.");
        for n in notes {
            line!(s, "note: {n}");
        }
        return s;
    }
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0).max(8);
    line!(s);
    line!(
        s,
        "{:<width$}  {:>10}  {:>10}  {:>6}  {:>8}  {:>9}",
        "workload",
        "without",
        "with",
        "ratio",
        "hit rate",
        "calls/run"
    );
    // Only if no workload got a single hit (make alone never does: it asks each name once).
    let no_hits = rows
        .iter()
        .all(|(_, o)| o.stats.all.hits + o.stats.all.negative_hits == 0)
        && rows.iter().any(|(_, o)| o.stats.all.total > 0);
    for (name, out) in rows {
        let median = |r: Option<measure::Range>| r.map_or(f64::NAN, |r| r.median);
        let ratio = out
            .ratio()
            .map_or("-".to_string(), |r| format!("{:.2}x", r.median));
        line!(
            s,
            "{name:<width$}  {:>10}  {:>10}  {ratio:>6}  {:>8}  {:>9}",
            fmt_time(median(out.wall_without())),
            fmt_time(median(out.wall_with())),
            pct(out.stats.hit_rate()),
            out.stats.all.total / (out.with.len().max(1) as u64)
        );
    }
    line!(s);
    line!(
        s,
        "times are medians of wall time; ratio = with / without, the median of the per-pair"
    );
    line!(
        s,
        "ratios (below 1.00x is faster); hit rate = calls answered from the cache."
    );
    line!(
        s,
        "make keeps its own per-process record of every name it stats, so it asks little twice:"
    );
    line!(
        s,
        "expect about 1.00x there. Long-lived processes that re-stat the same paths gain most."
    );
    if !have_lib {
        line!(
            s,
            "note: the library was not found, so both sides ran without it."
        );
    } else if rows.iter().all(|(_, o)| o.stats.all.processes == 0) {
        line!(
            s,
            "note: the runs with statcache wrote no statistics: was the library loaded?"
        );
    } else if no_hits {
        line!(s, "note: the library answered no call from its cache; this build may only pass calls through.");
    }
    for n in notes {
        line!(s, "note: {n}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_no_op_tree() {
        let tmp = TempDir::new("statcache-cli-test-demo").unwrap();
        let tree = generate(tmp.path()).unwrap();
        assert_eq!(tree.sources, 2000);
        let paths = std::fs::read_to_string(tmp.path().join("paths.txt")).unwrap();
        assert_eq!(paths.lines().count(), 2000);
        let first = Path::new(paths.lines().next().unwrap());
        assert!(first.is_absolute() && first.is_file());
        let obj = tmp.path().join("obj/d00/d00/f00.o");
        let src_time = std::fs::metadata(first).unwrap().modified().unwrap();
        assert!(std::fs::metadata(obj).unwrap().modified().unwrap() > src_time);
        let makefile = std::fs::read_to_string(tmp.path().join("Makefile")).unwrap();
        assert!(makefile.contains("obj/d09/d09/f19.o") && makefile.contains("include/h29.h"));
    }

    #[test]
    fn table_is_honest_without_library() {
        let text = table(&[], false, &["make not found on PATH: skipped".into()]);
        assert!(text.contains("nothing to measure") && text.contains("make not found"));
        let s = |wall| measure::Sample {
            wall,
            user: 0.0,
            sys: 0.0,
        };
        let out = Outcome {
            without: vec![s(0.2), s(0.2)],
            with: vec![s(0.1), s(0.3)],
            stats: crate::report::Summary::default(),
        };
        let text = table(&[("python: x", out)], false, &[]);
        assert!(
            text.contains("python: x") && text.contains("1.00x"),
            "{text}"
        );
        assert!(text.contains("both sides ran without it"), "{text}");
    }
}
