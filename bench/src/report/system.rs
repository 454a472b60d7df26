//! Report sections for the machine and the cases that spawn processes: start-up, cost to
//! others, real workloads.

use super::{f, fmt, fmt_ratio, sum, Case, Report};
use crate::libstats::Totals;
use serde_json::Value;

fn s(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Null => "?".into(),
        other => other.to_string(),
    }
}

pub fn machine(r: &mut Report, m: &Value) {
    r.line("## Machine\n");
    if m.is_null() {
        r.line("Not recorded.");
        return;
    }
    let fs = &m["filesystem"];
    let lib = &m["library"];
    r.line("| | |\n|---|---|");
    for (k, v) in [
        ("host", s(&m["hostname"])),
        ("date (UTC)", s(&m["date_utc"])),
        ("CPU", s(&m["cpu_model"])),
        ("cores (nproc)", s(&m["nproc"])),
        ("memory", format!("{} MiB", s(&m["mem_total_mib"]))),
        (
            "kernel",
            format!("{} ({})", s(&m["kernel"]), s(&m["kernel_version"])),
        ),
        ("glibc", s(&m["glibc"])),
        (
            "bench dir filesystem",
            format!(
                "{} on {} (`{}`, mounted at `{}`, statfs type {})",
                s(&fs["fstype"]),
                s(&fs["source"]),
                s(&fs["options"]),
                s(&fs["mount_point"]),
                s(&fs["statfs_type"])
            ),
        ),
        ("load average at start", s(&m["loadavg"])),
        ("rustc", s(&m["tools"]["rustc"])),
        ("cc", s(&m["tools"]["cc"])),
        (
            "library",
            format!(
                "`{}`, {} bytes, sha256 {}",
                s(&lib["path"]),
                s(&lib["bytes"]),
                s(&lib["sha256"]).get(..16).unwrap_or("?")
            ),
        ),
        ("stat-family symbols it defines", s(&lib["exports"])),
        ("repository HEAD", s(&m["repo_head"])),
    ] {
        r.line(&format!("| {k} | {v} |"));
    }
    if lib["exports"].as_array().is_some_and(|a| a.is_empty()) {
        r.line("\n> The library defines **no stat-family symbol**: every \"library\" figure below is the plain libc call.");
    }
}

pub fn startup(r: &mut Report, v: Option<&Value>) {
    r.line("\n## 3. Start-up\n");
    let Some(v) = v else {
        r.line("Not run.");
        return;
    };
    r.line("Each program spawned (posix_spawn, then waitpid) in blocks of 25, alternating with and without");
    r.line("`LD_PRELOAD` (default library settings); µs per spawn.\n");
    r.line("| program | spawns each way | with library µs | without µs | difference µs | ratio (pairs) |");
    r.line("|---|---|---|---|---|---|");
    for x in v["rows"].as_array().into_iter().flatten() {
        let (l, k, p) = (sum(x, "lib_us"), sum(x, "real_us"), sum(x, "ratio_pairs"));
        let prog = s(&x["prog"]);
        let name = prog.rsplit('/').next().unwrap_or("").to_string();
        r.line(&format!(
            "| `{name}` | {} | {} | {} | {:+.1} | {} |",
            x["spawns_per_side"],
            fmt(&l, 1),
            fmt(&k, 1),
            f(x, "diff_us"),
            fmt_ratio(f(x, "ratio"), &p)
        ));
        r.record(Case {
            section: "start-up",
            name: format!("spawn {name}"),
            unit: "us/spawn",
            lib: l,
            real: k,
            ratio: f(x, "ratio"),
            pairs: p,
            note: String::new(),
        });
    }
}

pub fn others(r: &mut Report, v: Option<&Value>) {
    r.line("\n## 4. Cost to others\n");
    let Some(v) = v else {
        r.line("Not run.");
        return;
    };
    r.line("Writes by this (unpreloaded) process into `watched/`, where N idle preloaded processes have");
    r.line(
        "stat-ed every file 20 times, against the same writes into `plain/`, which nobody watches;",
    );
    r.line("ns per operation. \"watching\": holders whose /proc/PID/fdinfo shows an inotify watch on `watched/`.");
    r.line("0 holders is the noise floor.\n");
    r.line("| holders (watching) | operation | watched dir ns | plain dir ns | ratio (pairs) |");
    r.line("|---|---|---|---|---|");
    let mut unwatched = false;
    for x in v["rows"].as_array().into_iter().flatten() {
        let (w, p, pr) = (
            sum(x, "watched_ns"),
            sum(x, "plain_ns"),
            sum(x, "ratio_pairs"),
        );
        let (h, hw) = (
            x["holders"].as_u64().unwrap_or(0),
            x["holders_watching"].as_u64().unwrap_or(0),
        );
        unwatched |= hw < h;
        let op = s(&x["op"]);
        r.line(&format!(
            "| {h} ({hw}) | {op} | {} | {} | {} |",
            fmt(&w, 0),
            fmt(&p, 0),
            fmt_ratio(f(x, "ratio"), &pr)
        ));
        r.record(Case {
            section: "cost to others",
            name: if h == 0 {
                format!("{op}, no holder (noise floor)")
            } else {
                format!("{op}, {h} holders ({hw} watching)")
            },
            unit: "ns/op",
            lib: w,
            real: p,
            ratio: f(x, "ratio"),
            pairs: pr,
            note: String::new(),
        });
    }
    if unwatched {
        r.line("\n> Some holders held **no watch** on the directory: the library did not watch it, so these rows do");
        r.line("> not show the cost a watching cache imposes.");
    }
}

pub fn workloads(r: &mut Report, v: Option<&Value>) {
    r.line("\n## 5. Real workloads\n");
    let Some(v) = v else {
        r.line("Not run.");
        return;
    };
    r.line("Generated inputs under the bench output directory. One untimed run each way first (the one with");
    r.line("the library writes the statistics lines), then timed runs alternating; seconds per run. Hit rate =");
    r.line("(hits + negative hits) / calls the library saw, summed over every process of the statistics run.\n");
    r.line("| workload | runs each way | without library s | with library s | ratio (pairs) | processes | stat calls seen | hit rate | fallbacks |");
    r.line("|---|---|---|---|---|---|---|---|---|");
    let mut details = String::new();
    for x in v["rows"].as_array().into_iter().flatten() {
        let name = s(&x["name"]);
        if let Some(e) = x.get("error") {
            r.line(&format!("| {name} | failed: {} | | | | | | | |", s(e)));
            continue;
        }
        let (l, k, p) = (sum(x, "lib_s"), sum(x, "real_s"), sum(x, "ratio_pairs"));
        let t = Totals::from_json(&x["stats"]["all"]);
        let fb: Vec<String> = t
            .fallbacks
            .iter()
            .filter(|(_, &c)| c > 0)
            .map(|(k, c)| format!("{k} {c}"))
            .collect();
        let rate = if t.total > 0 {
            format!("{:.1}%", 100.0 * t.hit_rate())
        } else {
            "–".into()
        };
        r.line(&format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {rate} | {} |",
            x["runs"],
            fmt(&k, 3),
            fmt(&l, 3),
            fmt_ratio(f(x, "ratio"), &p),
            t.processes,
            t.total,
            fb.join(", ")
        ));
        r.record(Case {
            section: "workloads",
            name: name.clone(),
            unit: "s/run",
            lib: l,
            real: k,
            ratio: f(x, "ratio"),
            pairs: p,
            note: String::new(),
        });
        details.push_str(&format!(
            "\n**{name}**: {} — `{}`\n",
            s(&x["what"]),
            s(&x["cmd"])
        ));
        for (prog, pt) in x["stats"]["by_program"].as_object().into_iter().flatten() {
            let t = Totals::from_json(pt);
            details.push_str(&format!(
                "- `{prog}`: {} processes, {} calls, {} hits, {} negative hits, {} misses, hit rate {:.1}%\n",
                t.processes, t.total, t.hits, t.negative_hits, t.misses, 100.0 * t.hit_rate()
            ));
        }
    }
    for sk in v["skipped"].as_array().into_iter().flatten() {
        r.line(&format!(
            "| {} | skipped: {} | | | | | | | |",
            s(&sk["name"]),
            s(&sk["why"])
        ));
    }
    r.line(&format!("\n<details><summary>What each workload runs, and statistics per program</summary>\n{details}\n</details>"));
}
