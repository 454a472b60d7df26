//! Report sections for the in-process cases: per-call latency and thread scaling.

use super::{f, fmt, fmt_map, fmt_ratio, sum, Case, Report};
use crate::libstats::StatsFile;
use crate::percall::DEPTHS;
use serde_json::Value;
use std::path::Path;

pub fn percall(r: &mut Report, v: Option<&Value>, dir: &Path) {
    r.line("\n## 1. Per-call latency\n");
    let Some(v) = v else {
        r.line("Not run.");
        return;
    };
    let rows = v["rows"].as_array().cloned().unwrap_or_default();
    r.line(&format!(
        "One process, preloaded, `STATCACHE_MIN_REUSE={}`. Library side: libc's `stat`, `lstat`, `fstatat(AT_FDCWD, ..., 0)`,",
        v["env"]["STATCACHE_MIN_REUSE"].as_str().unwrap_or("?")
    ));
    r.line("`statx(AT_FDCWD, ..., 0, STATX_BASIC_STATS)`; real side: the raw system call on the same path");
    r.line("(`newfstatat`, with `AT_SYMLINK_NOFOLLOW` for lstat; `statx`). **hit**: the same existing file again");
    r.line("and again; **negative**: the same missing name; **miss**: each call takes the next of many files created");
    r.line("beforehand and never looked up (a new name in a directory the cache already knows; the real side");
    r.line("uses its own, equally fresh files). A third side, **libc**: libc's own function found with `dlsym` in");
    r.line("`libc.so.6` (bypassing the library), shows what glibc's wrapper alone adds to the raw call; the");
    r.line("library can be no faster than libc on a call it passes through. Depth = components of the relative path (the last is the file);");
    r.line(&format!(
        "absolute paths add the {} components of the bench directory. {} blocks of {} calls (miss: {} of {}),",
        v["root_components"], v["blocks"], v["calls_per_block"], v["miss_blocks"], v["miss_calls_per_block"]
    ));
    r.line("rotating library/real/libc. Cells: ratio library/real (medians of ns/call).\n");
    if v["env"]["LD_PRELOAD"].as_str().unwrap_or("").is_empty() {
        r.line("> **This process was not preloaded**: the library side is plain libc.\n");
    }
    for kind in ["hit", "negative", "miss"] {
        r.line(&format!("**{kind}**\n"));
        let head: Vec<String> = DEPTHS.iter().map(|d| format!("depth {d}")).collect();
        r.line(&format!("| entry | form | {} |", head.join(" | ")));
        r.line(&format!("|---|---|{}", "---|".repeat(DEPTHS.len())));
        for e in ["stat", "lstat", "fstatat", "statx"] {
            for form in ["relative", "absolute"] {
                let cells: Vec<String> = DEPTHS
                    .iter()
                    .map(|&d| {
                        rows.iter()
                            .find(|x| {
                                x["entry"] == e
                                    && x["form"] == form
                                    && x["kind"] == kind
                                    && x["depth"] == d
                            })
                            .map_or("–".into(), |x| format!("{:.2}", f(x, "ratio")))
                    })
                    .collect();
                r.line(&format!("| {e} | {form} | {} |", cells.join(" | ")));
            }
        }
        r.line("");
    }
    r.line("<details><summary>Every per-call case: ns/call, median [min–max] of the blocks</summary>\n");
    r.line("| kind | entry | form | depth | components | library ns | real ns | libc ns | ratio (pairs) | vs libc (pairs) | answers agree |");
    r.line("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut disagree = 0;
    for x in &rows {
        let (l, k, p) = (sum(x, "lib_ns"), sum(x, "real_ns"), sum(x, "ratio_pairs"));
        let (c, cp) = (sum(x, "libc_ns"), sum(x, "ratio_libc_pairs"));
        let agree = x["agree"].as_bool() == Some(true);
        disagree += usize::from(!agree);
        let case = format!(
            "{} {} {} depth {}",
            x["kind"].as_str().unwrap_or(""),
            x["entry"].as_str().unwrap_or(""),
            x["form"].as_str().unwrap_or(""),
            x["depth"]
        );
        r.line(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            x["kind"].as_str().unwrap_or(""),
            x["entry"].as_str().unwrap_or(""),
            x["form"].as_str().unwrap_or(""),
            x["depth"],
            x["components"],
            fmt(&l, 0),
            fmt(&k, 0),
            fmt(&c, 0),
            fmt_ratio(f(x, "ratio"), &p),
            fmt_ratio(f(x, "ratio_libc"), &cp),
            if agree {
                "yes".to_string()
            } else {
                format!("NO (errno library/real/libc: {})", x["errno"])
            }
        ));
        let note = format!(" (vs libc's own function: {:.2})", f(x, "ratio_libc"));
        r.record(Case {
            section: "per-call",
            name: case,
            unit: "ns/call",
            lib: l,
            real: k,
            ratio: f(x, "ratio"),
            pairs: p,
            note,
        });
    }
    r.line("\n</details>\n");
    if disagree > 0 {
        r.line(&format!("**{disagree} cases where the library's answer differed from the real call's** (see the table)."));
    }
    let stats = StatsFile::read(&dir.join("percall.stats.jsonl"));
    let c = &v["library_calls"];
    let n = |k: &str| c[k].as_u64().unwrap_or(0);
    r.line("Library statistics for this process (to show the hits were hits):\n");
    if stats.all.processes == 0 {
        r.line("- The library wrote **no statistics line**: nothing shows that hits were served from the cache.");
        return;
    }
    let t = &stats.all;
    let pct = |x: u64, of: u64| {
        if of == 0 {
            0.0
        } else {
            100.0 * x as f64 / of as f64
        }
    };
    for (kind, made, counted, what) in [
        ("hit", n("hit"), t.hits, "hits"),
        ("negative", n("negative"), t.negative_hits, "negative hits"),
        ("miss", n("miss"), t.misses, "misses"),
    ] {
        r.line(&format!(
            "- {kind} cases: {made} calls through the library; it counted {counted} {what} ({:.1}%)",
            pct(counted, made)
        ));
    }
    if pct(t.hits, n("hit")) < 90.0 || pct(t.negative_hits, n("negative")) < 90.0 {
        r.line("- **The hit and negative figures above are not served from the cache**: the library counted");
        r.line("  fewer than 90% of those calls as hits; they measure its pass-through path.");
    }
    r.line(&format!(
        "- all calls the library saw: {} (includes the program's own start-up); fallbacks: {}; cache state: {}",
        t.total, fmt_map(&t.fallbacks), fmt_map(&t.cache_states)
    ));
    let by_entry: Vec<String> = ["stat", "lstat", "fstatat", "statx"]
        .iter()
        .map(|e| {
            format!(
                "{e}: {} made / {} counted",
                n(&format!("entry:{e}")),
                t.calls.get(*e).copied().unwrap_or(0)
            )
        })
        .collect();
    r.line(&format!("- per entry point: {}", by_entry.join(", ")));
}

pub fn threads(r: &mut Report, v: Option<&Value>, dir: &Path) {
    r.line("\n## 2. Threads\n");
    let Some(v) = v else {
        r.line("Not run.");
        return;
    };
    r.line(&format!(
        "`stat` by N threads for {} ms per repetition ({} repetitions, alternating), `nproc` = {}. **same-file**:",
        v["ms_per_rep"], v["reps"], v["nproc"]
    ));
    r.line("every thread stats `thr/shared`; **own-file**: thread i stats `thr/t<i>` in one directory. Million calls per");
    r.line("second in total; the ratio is real throughput / library throughput (a time ratio like the others).\n");
    r.line("| mode | threads | library Mcalls/s | real Mcalls/s | ratio (pairs) |");
    r.line("|---|---|---|---|---|");
    for x in v["rows"].as_array().into_iter().flatten() {
        let scale = |s: crate::summary::Summary| crate::summary::Summary {
            median: s.median / 1e6,
            min: s.min / 1e6,
            max: s.max / 1e6,
            n: s.n,
        };
        let (l, k, p) = (
            scale(sum(x, "lib_calls_per_s")),
            scale(sum(x, "real_calls_per_s")),
            sum(x, "ratio_pairs"),
        );
        let mode = x["mode"].as_str().unwrap_or("");
        r.line(&format!(
            "| {mode} | {} | {} | {} | {} |",
            x["threads"],
            fmt(&l, 2),
            fmt(&k, 2),
            fmt_ratio(f(x, "ratio"), &p)
        ));
        r.record(Case {
            section: "threads",
            name: format!("{mode}, {} threads", x["threads"]),
            unit: "Mcalls/s",
            lib: l,
            real: k,
            ratio: f(x, "ratio"),
            pairs: p,
            note: String::new(),
        });
    }
    let stats = StatsFile::read(&dir.join("threads.stats.jsonl"));
    if stats.all.processes == 0 {
        r.line("\nThe library wrote no statistics line for this process.");
    } else {
        let t = &stats.all;
        r.line(&format!(
            "\nLibrary statistics: {} calls through the library in the timed loops; library counted {} hits, {} misses, fallbacks: {}.",
            v["library_calls"], t.hits, t.misses, fmt_map(&t.fallbacks)
        ));
    }
}
