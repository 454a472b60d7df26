//! Per-call latency: each entry point, at several path depths, relative and absolute, for hits,
//! negative hits and misses, through the library and as the raw system call, in one process.
//!
//! Run under `LD_PRELOAD` with `STATCACHE_MIN_REUSE=0`. A third side, libc's own function found
//! with dlsym (bypassing the library), shows what the libc wrapper alone adds to the raw call.
//! Blocks rotate between the sides so drift weighs on all alike; each figure is the median ns/call
//! of the blocks with their min and max.

use crate::args::Args;
use crate::calls::{call_fn, outcome, CallFn, Entry, Scratch, Side};
use crate::summary::{pair_ratios, ratio, write_json, Summary};
use crate::{machine, Res};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Path depths measured, in components of the relative path (the last one is the file).
pub const DEPTHS: [usize; 5] = [1, 3, 6, 12, 24];

/// What a case looks up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The same existing file, again and again.
    Hit,
    /// The same missing name, again and again.
    Negative,
    /// A file never looked up before: each call takes the next of many fresh files.
    Miss,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Hit => "hit",
            Kind::Negative => "negative",
            Kind::Miss => "miss",
        }
    }
}

/// The three ways each case is called, in the order of the measurement arrays.
const SIDES: [Side; 3] = [Side::Library, Side::Real, Side::Libc];

/// Block counts and sizes.
struct Plan {
    blocks: usize,
    calls: usize,
    miss_blocks: usize,
    miss_calls: usize,
}

pub fn run(a: &Args) -> Res<()> {
    let plan = if a.flag("quick") {
        Plan {
            blocks: 9,
            calls: 1000,
            miss_blocks: 6,
            miss_calls: 32,
        }
    } else {
        Plan {
            blocks: 21,
            calls: 5000,
            miss_blocks: 9,
            miss_calls: 64,
        }
    };
    let root = PathBuf::from(a.req("dir")?);
    let out = PathBuf::from(a.req("out")?);
    let load_before = machine::loadavg();
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    let root = root.canonicalize()?;
    std::env::set_current_dir(&root)?;
    let files_per_set = plan.miss_blocks * plan.miss_calls;
    for &d in &DEPTHS {
        build_depth(d, files_per_set)?;
    }
    let root_components = root.components().count() - 1;
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut scratch = Scratch::new();
    for &d in &DEPTHS {
        for e in Entry::ALL {
            for absolute in [false, true] {
                for kind in [Kind::Hit, Kind::Negative, Kind::Miss] {
                    let case = Case {
                        depth: d,
                        entry: e,
                        absolute,
                        kind,
                    };
                    let (row, lib_calls) = case.measure(&root, &plan, &mut scratch)?;
                    *counted.entry(kind.name().into()).or_default() += lib_calls;
                    *counted.entry(format!("entry:{}", e.name())).or_default() += lib_calls;
                    rows.push(row);
                }
            }
        }
    }
    let v = json!({
        "case": "percall",
        "quick": a.flag("quick"),
        "root": root.display().to_string(),
        "root_components": root_components,
        "blocks": plan.blocks, "calls_per_block": plan.calls,
        "miss_blocks": plan.miss_blocks, "miss_calls_per_block": plan.miss_calls,
        "library_calls": counted,
        "real_calls": Entry::ALL.iter().map(|e| (e.name(), e.syscall_name())).collect::<BTreeMap<_, _>>(),
        "env": {"LD_PRELOAD": std::env::var("LD_PRELOAD").unwrap_or_default(),
                "STATCACHE_MIN_REUSE": std::env::var("STATCACHE_MIN_REUSE").unwrap_or_default()},
        "loadavg_before": load_before, "loadavg_after": machine::loadavg(),
        "rows": rows,
    });
    write_json(&out, &v)
}

/// The directory chain `d01/d02/...` holding the depth-`d` files (empty for depth 1).
fn leaf_dir(d: usize) -> PathBuf {
    (1..d).map(|i| format!("d{i:02}")).collect()
}

/// The name of the `i`th fresh file for a miss case.
fn miss_name(e: Entry, absolute: bool, side: Side, i: usize) -> String {
    let form = if absolute { 'a' } else { 'r' };
    let side = match side {
        Side::Library => 'l',
        Side::Real => 'k',
        Side::Libc => 'c',
    };
    format!("m-{}-{form}{side}-{i}", e.name())
}

/// Creates the depth-`d` file `hit` and the fresh files for every miss case.
fn build_depth(d: usize, files_per_set: usize) -> Res<()> {
    let dir = leaf_dir(d);
    std::fs::create_dir_all(if d == 1 { Path::new(".") } else { &dir })?;
    std::fs::write(dir.join("hit"), b"x")?;
    // Read it back a clock tick later, as a source file has been read since it was written: the
    // library answers a regular file only once no read can move its atime silently (README,
    // "atime"); a file written and never read is a fallback, measured by the miss cases' kind.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::read(dir.join("hit"))?;
    for e in Entry::ALL {
        for absolute in [false, true] {
            for side in SIDES {
                for i in 0..files_per_set {
                    std::fs::File::create(dir.join(miss_name(e, absolute, side, i)))?;
                }
            }
        }
    }
    Ok(())
}

struct Case {
    depth: usize,
    entry: Entry,
    absolute: bool,
    kind: Kind,
}

impl Case {
    fn path(&self, root: &Path, name: &str) -> CString {
        let rel = leaf_dir(self.depth).join(name);
        let p = if self.absolute { root.join(rel) } else { rel };
        CString::new(p.into_os_string().into_encoded_bytes()).unwrap_or_default()
    }

    /// The paths one side looks up: one path repeated, or the fresh files in order.
    fn paths(&self, root: &Path, side: Side, plan: &Plan) -> Vec<CString> {
        match self.kind {
            Kind::Hit => vec![self.path(root, "hit")],
            Kind::Negative => vec![self.path(root, "no-such-file")],
            Kind::Miss => (0..plan.miss_blocks * plan.miss_calls)
                .map(|i| self.path(root, &miss_name(self.entry, self.absolute, side, i)))
                .collect(),
        }
    }

    /// Measures one case; returns its row and how many calls it made through the library.
    fn measure(&self, root: &Path, plan: &Plan, s: &mut Scratch) -> Res<(Value, u64)> {
        let fns = SIDES.map(|side| call_fn(side, self.entry));
        let paths = SIDES.map(|side| self.paths(root, side, plan));
        let (blocks, calls) = match self.kind {
            Kind::Miss => (plan.miss_blocks, plan.miss_calls),
            _ => (plan.blocks, plan.calls),
        };
        // One call each way first: the answers must agree, or the figures mean nothing.
        let mut rets = [0; 3];
        let mut inos = [0; 3];
        for i in 0..3 {
            rets[i] = outcome(fns[i], &paths[i][0], s);
            inos[i] = s.ino(self.entry);
        }
        let mut lib_calls = 1u64;
        let same_file = self.kind != Kind::Hit || (inos[0] == inos[1] && inos[1] == inos[2]);
        let expected = if self.kind == Kind::Negative {
            libc::ENOENT
        } else {
            0
        };
        let agree = same_file && rets.iter().all(|&r| r == expected);
        if self.kind != Kind::Miss {
            // Warm-up: the first lookups fill the cache (and the kernel's); not recorded.
            for i in 0..3 {
                block(fns[i], &paths[i], calls / 4, 0, s);
            }
            lib_calls += (calls / 4) as u64;
        }
        let mut ns: [Vec<f64>; 3] = Default::default();
        for b in 0..blocks {
            // Miss blocks start after the one file the agreement check already used.
            let start = if self.kind == Kind::Miss {
                1 + b * calls
            } else {
                0
            };
            let n = if self.kind == Kind::Miss && b == blocks - 1 {
                calls - 1
            } else {
                calls
            };
            // Rotate the order (L R C, R C L, C L R, ...) so drift weighs on every side alike.
            for k in 0..3 {
                let i = (b + k) % 3;
                ns[i].push(block(fns[i], &paths[i], n, start, s));
            }
            lib_calls += n as u64;
        }
        let sums = ns.each_ref().map(|v| Summary::of(v));
        let row = json!({
            "depth": self.depth,
            "components": self.depth + if self.absolute { root.components().count() - 1 } else { 0 },
            "entry": self.entry.name(),
            "form": if self.absolute { "absolute" } else { "relative" },
            "kind": self.kind.name(),
            "lib_ns": sums[0].json(), "real_ns": sums[1].json(), "libc_ns": sums[2].json(),
            "ratio": ratio(sums[0].median, sums[1].median), "ratio_pairs": pair_ratios(&ns[0], &ns[1]).json(),
            "ratio_libc": ratio(sums[0].median, sums[2].median),
            "ratio_libc_pairs": pair_ratios(&ns[0], &ns[2]).json(),
            "agree": agree, "errno": rets,
        });
        Ok((row, lib_calls))
    }
}

/// Times `n` calls of `f` on `paths[start..]` (or on `paths[0]` `n` times if there is only one
/// path); returns ns per call.
#[inline(never)]
fn block(f: CallFn, paths: &[std::ffi::CString], n: usize, start: usize, s: &mut Scratch) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let t = Instant::now();
    if paths.len() == 1 {
        let p = paths[0].as_c_str();
        for _ in 0..n {
            black_box(f(black_box(p), s));
        }
    } else {
        for p in &paths[start..start + n] {
            black_box(f(p.as_c_str(), s));
        }
    }
    t.elapsed().as_nanos() as f64 / n as f64
}
