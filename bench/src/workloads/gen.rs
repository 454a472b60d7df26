//! Generated inputs for the workloads: a C tree (make, ninja), a cargo workspace, a git repository
//! and a Python package tree. Each is generated once per size and reused: a stamp file records
//! the parameters of a finished generation and first build.

use crate::Res;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

/// Whether `dir` holds a finished generation for `params`.
pub fn is_ready(dir: &Path, params: &str) -> bool {
    fs::read_to_string(dir.join(".bench-stamp")).is_ok_and(|s| s == params)
}

/// Records that `dir` holds a finished generation for `params`.
pub fn mark_ready(dir: &Path, params: &str) -> Res<()> {
    Ok(fs::write(dir.join(".bench-stamp"), params)?)
}

/// Runs a set-up command (not timed, never preloaded); fails with its standard error.
pub fn setup(dir: &Path, prog: &str, args: &[&str], env: &[(String, String)]) -> Res<()> {
    let out = Command::new(prog)
        .args(args)
        .current_dir(dir)
        .env_remove("LD_PRELOAD")
        .envs(env.iter().cloned())
        .stdout(Stdio::null())
        .output()?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("{prog} {args:?} in {}: {}", dir.display(), err.trim()).into());
    }
    Ok(())
}

/// `n` tiny C files in directories of 100, two shared headers, a main, a Makefile, and (for
/// ninja) a build.ninja that builds into `nobj/`.
pub fn c_tree(dir: &Path, n: usize) -> Res<()> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir.join("include"))?;
    fs::write(
        dir.join("include/common.h"),
        "#include \"config.h\"\n#define COMMON 1\n",
    )?;
    fs::write(dir.join("include/config.h"), "#define CONFIG 2\n")?;
    fs::write(
        dir.join("main.c"),
        "#include \"common.h\"\nint main(void) { return 0; }\n",
    )?;
    let mut ninja = String::from(
        "rule cc\n  command = cc -O0 -Iinclude -c $in -o $out\nrule link\n  command = cc -o $out $in\n",
    );
    let mut objs = String::new();
    for i in 0..n {
        let sub = format!("src/d{:02}", i / 100);
        fs::create_dir_all(dir.join(&sub))?;
        let body =
            format!("#include \"common.h\"\nint f{i}(void) {{ return {i} + COMMON + CONFIG; }}\n");
        fs::write(dir.join(format!("{sub}/f{i}.c")), body)?;
        let obj = format!("nobj/d{:02}/f{i}.o", i / 100);
        writeln!(
            ninja,
            "build {obj}: cc {sub}/f{i}.c | include/common.h include/config.h"
        )?;
        write!(objs, " {obj}")?;
    }
    writeln!(
        ninja,
        "build nobj/main.o: cc main.c | include/common.h include/config.h"
    )?;
    writeln!(ninja, "build nprog: link{objs} nobj/main.o\ndefault nprog")?;
    fs::write(dir.join("build.ninja"), ninja)?;
    let make = "\
SRCS := $(sort $(wildcard src/*/*.c))
OBJS := $(patsubst src/%.c,obj/%.o,$(SRCS))
prog: $(OBJS) obj/main.o
\t$(CC) -o $@ $^
obj/%.o: src/%.c include/common.h include/config.h
\t@mkdir -p $(@D)
\t$(CC) -O0 -Iinclude -c $< -o $@
obj/main.o: main.c include/common.h include/config.h
\t@mkdir -p $(@D)
\t$(CC) -O0 -Iinclude -c $< -o $@
";
    fs::write(dir.join("Makefile"), make)?;
    Ok(())
}

/// A workspace of `n` library crates (crate i depends on crate (i-1)/2) and one binary that
/// depends on all of them; no external dependencies.
pub fn cargo_ws(dir: &Path, n: usize) -> Res<()> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir.join("app/src"))?;
    fs::write(
        dir.join("Cargo.toml"),
        "[workspace]\nresolver = \"2\"\nmembers = [\"app\", \"crates/*\"]\n\n[profile.dev]\ndebug = false\n",
    )?;
    let pkg = |name: &str| {
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n")
    };
    let mut app = pkg("app");
    let mut main = String::from("fn main() {\n    let mut s = 0u64;\n");
    for i in 0..n {
        let name = format!("c{i:02}");
        let cdir = dir.join("crates").join(&name);
        fs::create_dir_all(cdir.join("src"))?;
        let mut toml = pkg(&name);
        let mut lib = format!("/// Crate {i}.\npub fn value() -> u64 {{\n    {i}");
        if i > 0 {
            let p = format!("c{:02}", (i - 1) / 2);
            writeln!(toml, "{p} = {{ path = \"../{p}\" }}")?;
            write!(lib, " + {p}::value()")?;
        }
        lib.push_str("\n}\n");
        fs::write(cdir.join("Cargo.toml"), toml)?;
        fs::write(cdir.join("src/lib.rs"), lib)?;
        writeln!(app, "{name} = {{ path = \"../crates/{name}\" }}")?;
        writeln!(main, "    s += {name}::value();")?;
    }
    main.push_str("    println!(\"{s}\");\n}\n");
    fs::write(dir.join("app/Cargo.toml"), app)?;
    fs::write(dir.join("app/src/main.rs"), main)?;
    Ok(())
}

/// A git repository of `n` small committed files in directories of 200.
pub fn git_repo(dir: &Path, n: usize) -> Res<()> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir)?;
    for i in 0..n {
        let sub = dir.join(format!("d{:03}", i / 200));
        if i % 200 == 0 {
            fs::create_dir_all(&sub)?;
        }
        fs::write(sub.join(format!("f{i}.txt")), format!("{i}\n"))?;
    }
    let id = [
        ("GIT_AUTHOR_NAME", "bench"),
        ("GIT_AUTHOR_EMAIL", "bench@localhost"),
        ("GIT_COMMITTER_NAME", "bench"),
        ("GIT_COMMITTER_EMAIL", "bench@localhost"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    setup(dir, "git", &["init", "-q"], &id)?;
    setup(dir, "git", &["add", "-A"], &id)?;
    setup(dir, "git", &["commit", "-q", "-m", "generated"], &id)?;
    Ok(())
}

/// A Python package `benchpkg` of `subs` subpackages with `mods` modules each; importing
/// `benchpkg` imports all of them.
pub fn py_pkg(dir: &Path, subs: usize, mods: usize) -> Res<()> {
    let _ = fs::remove_dir_all(dir);
    let top = dir.join("benchpkg");
    fs::create_dir_all(&top)?;
    let names = |p: &str, k: usize| {
        (0..k)
            .map(|i| format!("{p}{i:02}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    fs::write(
        top.join("__init__.py"),
        format!("from . import {}\n", names("s", subs)),
    )?;
    for s in 0..subs {
        let sd = top.join(format!("s{s:02}"));
        fs::create_dir_all(&sd)?;
        fs::write(
            sd.join("__init__.py"),
            format!("from . import {}\n", names("m", mods)),
        )?;
        for m in 0..mods {
            let body = format!("VALUE = {}\n\n\ndef f():\n    return VALUE\n", s * mods + m);
            fs::write(sd.join(format!("m{m:02}.py")), body)?;
        }
    }
    Ok(())
}
