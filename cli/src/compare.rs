//! `statcache compare`: prints what [`measure`](crate::measure) found, for people or scripts.

use crate::args::CompareOpts;
use crate::child::{self, TempDir};
use crate::measure::{column, fmt_time, measure, range, Outcome, Range, Sample, Spec};
use crate::report::line;
use crate::{preload, print, warn, CliError};
use serde_json::{json, Value};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;

/// One sentence on the median ratio, saying when the pairs disagree.
pub fn verdict(r: &Range) -> String {
    let change = (1.0 - r.median).abs() * 100.0;
    let mut s = if r.median < 1.0 {
        format!("{change:.0}% less time with statcache")
    } else if r.median > 1.0 {
        format!("{change:.0}% more time with statcache")
    } else {
        "the same time with statcache".to_string()
    };
    if r.min < 1.0 && r.max > 1.0 {
        s.push_str(" (not clear-cut: some pairs were faster, some slower)");
    }
    s
}

pub fn compare(o: CompareOpts) -> Result<i32, CliError> {
    child::catch_interrupts();
    if let Some(dir) = &o.cwd {
        if !dir.is_dir() {
            return Err(CliError::fail(format!(
                "--cwd {}: not a directory",
                dir.display()
            )));
        }
    }
    let lib = match preload::find_library() {
        Ok(lib) => Some(lib),
        Err(why) => {
            warn(&format!(
                "warning: {why}; both sides will run without the cache"
            ));
            None
        }
    };
    let tmp = TempDir::new("statcache-compare")?;
    let spec = Spec {
        argv: &o.argv,
        cwd: o.cwd.as_deref(),
        prepare: o.prepare.as_deref(),
        runs: o.runs,
        warmup: o.warmup,
        show_output: o.show_output,
        label: "statcache compare",
    };
    let outcome = measure(&spec, lib.as_deref(), tmp.path())?;
    if o.json {
        print(&format!("{}\n", to_json(&o, lib.as_deref(), &outcome)))?;
    } else {
        print(&render(&o, lib.as_deref(), &outcome))?;
    }
    Ok(0)
}

/// The command as a shell would read it back.
fn command_line(argv: &[OsString]) -> String {
    let words: Vec<String> = argv
        .iter()
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect();
    words.join(" ")
}

fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn render(o: &CompareOpts, lib: Option<&Path>, out: &Outcome) -> String {
    let mut s = String::new();
    line!(s, "command  {}", command_line(&o.argv));
    if let Some(dir) = &o.cwd {
        line!(s, "in       {}", dir.display());
    }
    match lib {
        Some(lib) => line!(s, "library  {}", lib.display()),
        None => line!(s, "library  not found: both sides ran without it"),
    }
    line!(
        s,
        "runs     {} pairs, after {} warm-up pair(s) not counted",
        o.runs,
        o.warmup
    );
    line!(s);
    line!(
        s,
        "{:<9} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "",
        "median",
        "min",
        "max",
        "user",
        "sys"
    );
    for (name, samples) in [("without", &out.without), ("with", &out.with)] {
        let wall = range(&column(samples, |x| x.wall));
        let user = range(&column(samples, |x| x.user)).map_or(f64::NAN, |r| r.median);
        let sys = range(&column(samples, |x| x.sys)).map_or(f64::NAN, |r| r.median);
        let [med, min, max] = wall.map_or([f64::NAN; 3], |r| [r.median, r.min, r.max]);
        line!(
            s,
            "{name:<9} {:>10} {:>10} {:>10} {:>10} {:>10}",
            fmt_time(med),
            fmt_time(min),
            fmt_time(max),
            fmt_time(user),
            fmt_time(sys)
        );
    }
    line!(
        s,
        "(wall time; user and sys are medians of the CPU time of the command and its children)"
    );
    if let Some(r) = out.ratio() {
        line!(s);
        line!(
            s,
            "ratio with/without, pair by pair: median {:.3}x (min {:.3}x, max {:.3}x)",
            r.median,
            r.min,
            r.max
        );
        line!(s, "=> {}", verdict(&r));
    }
    line!(s);
    line!(
        s,
        "statistics of the {} counted runs with statcache:",
        out.with.len()
    );
    out.stats.render_brief(&mut s);
    s
}

fn side_json(samples: &[Sample]) -> Value {
    let r = |f: fn(&Sample) -> f64| range(&column(samples, f));
    let wall = r(|x| x.wall);
    json!({
        "wall": wall.map(|w| json!({"median": w.median, "min": w.min, "max": w.max})),
        "user_median": r(|x| x.user).map(|x| x.median),
        "sys_median": r(|x| x.sys).map(|x| x.median),
        "runs": samples.iter().map(|x| json!({"wall": x.wall, "user": x.user, "sys": x.sys})).collect::<Vec<_>>(),
    })
}

fn to_json(o: &CompareOpts, lib: Option<&Path>, out: &Outcome) -> Value {
    let argv: Vec<String> = o
        .argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    json!({
        "command": argv,
        "cwd": o.cwd.as_ref().map(|d| d.display().to_string()),
        "library": lib.map(|l| l.display().to_string()),
        "pairs": o.runs,
        "warmup": o.warmup,
        "without": side_json(&out.without),
        "with": side_json(&out.with),
        "ratio": out.ratio().map(|r| json!({"median": r.median, "min": r.min, "max": r.max})),
        "stats": out.stats.to_json(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_a_shell() {
        let argv: Vec<OsString> = ["sh", "-c", "echo it's", ""]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(command_line(&argv), r"sh -c 'echo it'\''s' ''");
    }

    #[test]
    fn words() {
        let v = verdict(&Range {
            median: 0.8,
            min: 0.7,
            max: 0.9,
        });
        assert_eq!(v, "20% less time with statcache");
        let v = verdict(&Range {
            median: 1.02,
            min: 0.95,
            max: 1.1,
        });
        assert!(
            v.starts_with("2% more time") && v.contains("not clear-cut"),
            "{v}"
        );
    }
}
