//! Real programs under the library: make, git, python3 and cargo each run a scripted session
//! (build, no-op, change a file, rebuild; status, modify, status; ...) on a fresh copy of a
//! generated project, once without the library, once with it in `LD_PRELOAD`, and once through
//! `statcache run` when the command is built. Every step must print the same and exit the same, and
//! every process must leave one statistics line.
//!
//! A missing program is skipped with a note, except in CI (`CI=true`), where it fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use statcache_tests::common::{
    assert_same, check_stats_lines, cli, program, set_times, write_file, Invocation, Outcome,
    Preloaded, TempDir,
};

/// How a step is run.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Plain,
    Preload,
    Cli,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Plain => "without the library",
            Mode::Preload => "with LD_PRELOAD",
            Mode::Cli => "through statcache run",
        }
    }
}

/// One scripted session in one mode: runs steps in `dir`, records each step's outcome and
/// collects the statistics of every run.
struct Session<'a> {
    mode: Mode,
    dir: PathBuf,
    tmp: &'a TempDir,
    env: Vec<(String, String)>,
    steps: Vec<(String, Outcome)>,
    runs: Vec<(String, Preloaded)>,
}

impl<'a> Session<'a> {
    fn new(mode: Mode, tmp: &'a TempDir, env: &[(&str, String)]) -> Session<'a> {
        let dir = tmp.join(format!("{mode:?}").to_lowercase());
        fs::create_dir_all(&dir).expect("mkdir");
        let env = env
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.replace("{dir}", dir.to_str().expect("UTF-8")),
                )
            })
            .collect();
        Session {
            mode,
            dir,
            tmp,
            env,
            steps: Vec::new(),
            runs: Vec::new(),
        }
    }

    /// Runs `program args...` in `self.dir/cwd` and records it under `label`.
    fn step(&mut self, label: &str, program: &Path, args: &[&str], cwd: &str) {
        let mut inv = Invocation::new(program, self.dir.join(cwd)).args(args);
        for (k, v) in &self.env {
            inv = inv.env(k, v);
        }
        let outcome = match self.mode {
            Mode::Plain => inv.run_plain(),
            Mode::Preload => {
                let run = inv.run_preloaded(self.tmp);
                let outcome = run.outcome.clone();
                self.runs.push((label.to_string(), run));
                outcome
            }
            Mode::Cli => {
                let run = inv.run_via_cli(&cli().expect("statcache command"), self.tmp);
                let outcome = run.outcome.clone();
                self.runs.push((label.to_string(), run));
                outcome
            }
        };
        eprintln!(
            "{:?} {label}: {}, {} bytes of output\n{}",
            self.mode,
            outcome.status_text(),
            outcome.stdout.len() + outcome.stderr.len(),
            outcome
                .stdout
                .lines()
                .chain(outcome.stderr.lines())
                .take(4)
                .collect::<Vec<_>>()
                .join("\n")
        );
        self.steps.push((label.to_string(), outcome));
    }

    /// Records a note (e.g. which files a step changed) as a step of its own.
    fn note(&mut self, label: &str, text: String) {
        let status = std::process::ExitStatus::default();
        self.steps.push((
            label.to_string(),
            Outcome {
                stdout: text,
                stderr: String::new(),
                status,
            },
        ));
    }
}

/// Runs `script` in every available mode and compares each mode's steps with the run without the
/// library; checks the statistics of the runs under the library.
fn compare_modes(what: &str, env: &[(&str, String)], script: impl Fn(&mut Session)) {
    let tmp = TempDir::new(what);
    let mut modes = vec![Mode::Plain, Mode::Preload];
    match cli() {
        Some(_) => modes.push(Mode::Cli),
        None => eprintln!("note: statcache command not built; {what} runs only via LD_PRELOAD"),
    }
    let mut sessions = Vec::new();
    for mode in modes {
        let mut s = Session::new(mode, &tmp, env);
        script(&mut s);
        sessions.push(s);
    }
    let plain = &sessions[0];
    for s in &sessions[1..] {
        assert_eq!(
            s.steps.len(),
            plain.steps.len(),
            "{what}: step counts differ"
        );
        for ((label, p), (_, w)) in plain.steps.iter().zip(&s.steps) {
            // `statcache run` may add its own messages on standard error.
            assert_same(
                &format!("{what}, step '{label}', {}", s.mode.name()),
                p,
                w,
                s.mode == Mode::Preload,
            );
        }
        for (label, run) in &s.runs {
            let what = format!("{what}, step '{label}', {}", s.mode.name());
            let total = check_stats_lines(run, &what);
            // The built program itself may well never call stat; the tools all do.
            assert!(
                total > 0 || label == "run",
                "{what}: no stat call counted in any process:\n{:#?}",
                run.stats
            );
        }
    }
}

/// The names of regular files under `dir` (recursively, relative) with their modification times.
fn mtimes(dir: &Path) -> Vec<(String, SystemTime)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, SystemTime)>) {
        for e in fs::read_dir(dir).expect("read_dir") {
            let e = e.expect("entry");
            let meta = fs::symlink_metadata(e.path()).expect("lstat");
            if meta.is_dir() {
                walk(base, &e.path(), out);
            } else {
                let rel = e
                    .path()
                    .strip_prefix(base)
                    .expect("prefix")
                    .display()
                    .to_string();
                out.push((rel, meta.modified().expect("mtime")));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The files whose modification time differs between two snapshots, or that appeared.
fn changed(before: &[(String, SystemTime)], after: &[(String, SystemTime)]) -> String {
    let mut names: Vec<&str> = after
        .iter()
        .filter(|a| !before.contains(a))
        .map(|a| a.0.as_str())
        .collect();
    names.sort();
    names.join("\n")
}

/// An hour ago, a time that makes every generated file clearly older than what a build writes.
fn an_hour_ago() -> SystemTime {
    SystemTime::now() - Duration::from_secs(3600)
}

fn set_mtime(path: &Path, t: SystemTime) {
    let d = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after epoch");
    let ts = (d.as_secs() as i64, i64::from(d.subsec_nanos()));
    set_times(path, ts, ts);
}

/// Sets every file under `dir` to the same time.
fn age_tree(dir: &Path, t: SystemTime) {
    for (name, _) in mtimes(dir) {
        set_mtime(&dir.join(name), t);
    }
}

#[test]
fn make_builds_noops_and_rebuilds_alike() {
    let Some(make) = program("make") else { return };
    if program("cc").is_none() {
        return;
    }
    compare_modes("make", &[], |s| {
        let proj = s.dir.join("proj");
        let mut objs = Vec::new();
        for name in ["ant", "bee", "cat", "dog"] {
            write_file(
                &proj.join(format!("{name}.c")),
                format!(
                    "#include \"common.h\"\nint {name}(void) {{ return {}; }}\n",
                    name.len()
                ),
            );
            objs.push(format!("{name}.o"));
        }
        write_file(
            &proj.join("common.h"),
            "int ant(void), bee(void), cat(void), dog(void);\n",
        );
        write_file(
            &proj.join("main.c"),
            "#include <stdio.h>\n#include \"common.h\"\nint main(void) { printf(\"%d\\n\", ant() + bee() + cat() + dog()); return 0; }\n",
        );
        write_file(
            &proj.join("Makefile"),
            format!(
                "CC = cc\nCFLAGS = -O0\nOBJS = main.o {}\n\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n\n%.o: %.c common.h\n\t$(CC) $(CFLAGS) -c $< -o $@\n",
                objs.join(" ")
            ),
        );
        age_tree(&proj, an_hour_ago());
        let make_args = ["-r", "--no-print-directory"];

        let before = mtimes(&proj);
        s.step("build", &make, &make_args, "proj");
        let after = mtimes(&proj);
        s.note("changed by build", changed(&before, &after));
        s.step("no-op", &make, &make_args, "proj");
        s.note("changed by no-op", changed(&after, &mtimes(&proj)));

        // Touch one source: only its object and the program are rebuilt.
        set_mtime(&proj.join("bee.c"), SystemTime::now());
        let before = mtimes(&proj);
        s.step("rebuild after touching bee.c", &make, &make_args, "proj");
        s.note("changed by rebuild", changed(&before, &mtimes(&proj)));

        // Change a source's content, keeping its size.
        write_file(
            &proj.join("cat.c"),
            "#include \"common.h\"\nint cat(void) { return 7; }\n",
        );
        set_mtime(&proj.join("cat.c"), SystemTime::now());
        let before = mtimes(&proj);
        s.step("rebuild after editing cat.c", &make, &make_args, "proj");
        s.note(
            "changed by second rebuild",
            changed(&before, &mtimes(&proj)),
        );
        s.step("question mode", &make, &["-q", "-r"], "proj");
        s.step("run", &proj.join("prog"), &[], "proj");
    });
}

#[test]
fn git_status_sees_every_change() {
    let Some(git) = program("git") else { return };
    let env = [
        ("HOME", "{dir}/home".to_string()),
        ("GIT_CONFIG_NOSYSTEM", "1".to_string()),
        ("GIT_AUTHOR_NAME", "t".to_string()),
        ("GIT_AUTHOR_EMAIL", "t@example.invalid".to_string()),
        ("GIT_COMMITTER_NAME", "t".to_string()),
        ("GIT_COMMITTER_EMAIL", "t@example.invalid".to_string()),
        ("GIT_AUTHOR_DATE", "2001-09-09T01:46:40Z".to_string()),
        ("GIT_COMMITTER_DATE", "2001-09-09T01:46:40Z".to_string()),
    ];
    compare_modes("git", &env, |s| {
        let repo = s.dir.join("repo");
        fs::create_dir_all(s.dir.join("home")).expect("mkdir home");
        fs::create_dir_all(&repo).expect("mkdir repo");
        s.step("init", &git, &["init", "-q", "-b", "main"], "repo");
        for d in 0..4 {
            for f in 0..8 {
                write_file(
                    &repo.join(format!("d{d}/f{f}.txt")),
                    format!("file {d} {f}\n"),
                );
            }
        }
        write_file(&repo.join("top.txt"), "hello\n");
        s.step(
            "status, untracked",
            &git,
            &["status", "--porcelain", "--untracked-files=all"],
            "repo",
        );
        // Files older than the index, so that git trusts their stat data from now on.
        age_tree(&repo.join("d0"), an_hour_ago());
        age_tree(&repo.join("d1"), an_hour_ago());
        set_mtime(&repo.join("top.txt"), an_hour_ago());
        s.step("add", &git, &["add", "-A"], "repo");
        s.step("status, added", &git, &["status", "--porcelain"], "repo");
        s.step("commit", &git, &["commit", "-q", "-m", "init"], "repo");
        s.step("status, clean", &git, &["status", "--porcelain"], "repo");
        // Same size, new content: only the stat data says it changed.
        write_file(&repo.join("top.txt"), "HELLO\n");
        write_file(&repo.join("d1/f3.txt"), "FILE 1 3\n");
        s.step("status, modified", &git, &["status", "--porcelain"], "repo");
        fs::remove_file(repo.join("d0/f1.txt")).expect("rm");
        write_file(&repo.join("d2/new.txt"), "new\n");
        fs::rename(repo.join("d3/f0.txt"), repo.join("d3/renamed.txt")).expect("rename");
        s.step(
            "status, deleted and added",
            &git,
            &["status", "--porcelain", "--untracked-files=all"],
            "repo",
        );
        s.step("diff", &git, &["diff", "--name-status"], "repo");
        s.step("add again", &git, &["add", "-A"], "repo");
        s.step("status, staged", &git, &["status", "--porcelain"], "repo");
    });
}

/// The Python session: imports a generated package tree and stats a list of paths, changing some
/// in between; prints what it saw (no inode numbers or change times: each mode has its own copy).
const PYTHON_SCRIPT: &str = r#"
import importlib, os, stat, sys

def show(p):
    try:
        st = os.stat(p)
        fixed = "fixed" if st.st_mtime_ns == 10**18 else "other"
        r = "stat mode=%o size=%d nlink=%d mtime=%s" % (st.st_mode, st.st_size, st.st_nlink, fixed)
    except OSError as e:
        r = "stat %s" % type(e).__name__
    try:
        r += " lstat mode=%o" % os.lstat(p).st_mode
    except OSError as e:
        r += " lstat %s" % type(e).__name__
    print(p, r, os.path.exists(p), os.path.isdir(p), os.path.isfile(p), os.path.islink(p))

import pkg
for i in range(12):
    m = importlib.import_module("pkg.sub%d.mod%d" % (i % 3, i))
    print(m.__name__, os.path.relpath(m.__file__), m.VALUE)
paths = ["pkg", "pkg/__init__.py", "pkg/sub0", "pkg/sub0/mod0.py", "pkg/missing.py",
         "pkg/sub0/mod0.py/x", "pkg/link", "pkg/dangling", "pkg/sub1/", "pkg/sub1/..", ".", "/"]
for p in paths:
    show(p)
os.makedirs("pkg/fresh")
with open("pkg/fresh/new.py", "w") as f:
    f.write("VALUE = 99\n")
show("pkg/fresh/new.py")
import pkg.fresh.new
print(pkg.fresh.new.VALUE)
os.chmod("pkg/fresh/new.py", 0o600)
show("pkg/fresh/new.py")
os.rename("pkg/fresh/new.py", "pkg/fresh/renamed.py")
show("pkg/fresh/new.py")
show("pkg/fresh/renamed.py")
os.unlink("pkg/fresh/renamed.py")
show("pkg/fresh/renamed.py")
os.rmdir("pkg/fresh")
show("pkg/fresh")
for p in paths:
    show(p)
"#;

#[test]
fn python_imports_and_stats_alike() {
    let Some(python) = program("python3") else {
        return;
    };
    compare_modes(
        "python3",
        &[("PYTHONDONTWRITEBYTECODE", "1".to_string())],
        |s| {
            let root = s.dir.join("py");
            write_file(&root.join("pkg/__init__.py"), "VALUE = 0\n");
            for sub in 0..3 {
                write_file(&root.join(format!("pkg/sub{sub}/__init__.py")), "");
            }
            for i in 0..12 {
                write_file(
                    &root.join(format!("pkg/sub{}/mod{i}.py", i % 3)),
                    format!("VALUE = {i}\n"),
                );
            }
            std::os::unix::fs::symlink("__init__.py", root.join("pkg/link")).expect("symlink");
            std::os::unix::fs::symlink("nowhere", root.join("pkg/dangling")).expect("symlink");
            write_file(&root.join("probe.py"), PYTHON_SCRIPT);
            age_tree(
                &root,
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000),
            );
            s.step("python", &python, &["-B", "probe.py"], "py");
        },
    );
}

#[test]
fn cargo_builds_noops_and_rebuilds_alike() {
    let Some(cargo) = program("cargo") else {
        return;
    };
    let env = [
        ("CARGO_TARGET_DIR", "{dir}/target".to_string()),
        ("CARGO_BUILD_JOBS", "2".to_string()),
        ("CARGO_TERM_COLOR", "never".to_string()),
    ];
    compare_modes("cargo", &env, |s| {
        let krate = s.dir.join("tiny");
        write_file(
            &krate.join("Cargo.toml"),
            "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n\n[workspace]\n",
        );
        write_file(
            &krate.join("src/main.rs"),
            "fn main() {\n    println!(\"tiny 1\");\n}\n",
        );
        age_tree(&krate, an_hour_ago());
        s.step("build", &cargo, &["build", "--offline", "-q"], "tiny");
        s.step("no-op build", &cargo, &["build", "--offline", "-q"], "tiny");
        write_file(
            &krate.join("src/main.rs"),
            "fn main() {\n    println!(\"tiny 2\");\n}\n",
        );
        set_mtime(&krate.join("src/main.rs"), SystemTime::now());
        s.step("rebuild", &cargo, &["build", "--offline", "-q"], "tiny");
        s.step("run", &s.dir.join("target/debug/tiny"), &[], "tiny");
    });
}
