//! `statcache report`: aggregates statistics lines and prints them for people or scripts.

use crate::args::ReportOpts;
use crate::stats::{ProcStats, StatsSet};
use crate::{print, CliError};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Appends one formatted line to a `String` (writing to a `String` cannot fail).
macro_rules! line {
    ($out:expr) => { $out.push('\n') };
    ($out:expr, $($arg:tt)*) => {{ let _ = writeln!($out, $($arg)*); }};
}
pub(crate) use line;

/// Reads the files, aggregates them and prints the summary.
pub fn report(o: ReportOpts) -> Result<i32, CliError> {
    let mut set = StatsSet::default();
    for f in &o.files {
        set.add_file(f)
            .map_err(|e| CliError::fail(format!("cannot read {}: {e}", f.display())))?;
    }
    let summary = Summary::from_set(&set);
    if o.json {
        print(&format!("{}\n", summary.to_json()))?;
    } else {
        print(&summary.render())?;
    }
    Ok(0)
}

/// Programs shown in the text table; the JSON form has all of them.
const MAX_PROGRAM_ROWS: usize = 20;

/// The counters of one program (all processes with the same `argv0` basename).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Program {
    pub name: String,
    pub processes: u64,
    pub total: u64,
    pub hits: u64,
    pub negative_hits: u64,
    pub misses: u64,
    pub fallbacks: BTreeMap<String, u64>,
}

impl Program {
    fn add(&mut self, r: &ProcStats) {
        self.processes += 1;
        self.total = self.total.saturating_add(r.total);
        self.hits = self.hits.saturating_add(r.hits);
        self.negative_hits = self.negative_hits.saturating_add(r.negative_hits);
        self.misses = self.misses.saturating_add(r.misses);
        add_map(&mut self.fallbacks, &r.fallbacks);
    }

    pub fn hit_rate(&self) -> Option<f64> {
        hit_rate(self.hits, self.negative_hits, self.total)
    }
}

/// The aggregate of a set of statistics lines.
#[derive(Debug, Default)]
pub struct Summary {
    /// Totals over every process, in the same shape as one process's counters.
    pub all: Program,
    pub fallback_total: u64,
    /// Calls per entry point.
    pub calls: BTreeMap<String, u64>,
    /// Sorted by calls, most first.
    pub programs: Vec<Program>,
    /// Processes per `cache` state (`on`, `off`, `disabled`, ...).
    pub cache_states: BTreeMap<String, u64>,
    pub verified: u64,
    pub mismatches: u64,
    /// Lines whose `total` is not the sum of their outcomes.
    pub inconsistent: u64,
    pub malformed: u64,
    pub first_error: Option<String>,
    pub max_nodes: u64,
    pub max_watches: u64,
    pub max_mem_bytes: u64,
}

/// `(hits + negative_hits) / total`, or `None` when there were no calls.
pub fn hit_rate(hits: u64, negative_hits: u64, total: u64) -> Option<f64> {
    (total > 0).then(|| hits.saturating_add(negative_hits) as f64 / total as f64)
}

fn add_map(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, &v) in from {
        let e = into.entry(k.clone()).or_insert(0);
        *e = e.saturating_add(v);
    }
}

/// Entries of a counter map, largest first (ties by name), zeros left out.
fn ranked(map: &BTreeMap<String, u64>) -> Vec<(&str, u64)> {
    let mut v: Vec<(&str, u64)> = map
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(k, &n)| (k.as_str(), n))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}

impl Summary {
    pub fn from_set(set: &StatsSet) -> Summary {
        let mut s = Summary {
            malformed: set.malformed,
            first_error: set
                .first_error
                .as_ref()
                .map(|(src, line, why)| format!("{src} line {line}: {why}")),
            ..Summary::default()
        };
        let mut programs: BTreeMap<&str, Program> = BTreeMap::new();
        for r in &set.records {
            s.all.add(r);
            programs.entry(r.program()).or_default().add(r);
            add_map(&mut s.calls, &r.calls);
            *s.cache_states.entry(r.cache.clone()).or_insert(0) += 1;
            s.verified = s.verified.saturating_add(r.verified);
            s.mismatches = s.mismatches.saturating_add(r.mismatches);
            s.inconsistent += u64::from(!r.is_consistent());
            s.max_nodes = s.max_nodes.max(r.nodes);
            s.max_watches = s.max_watches.max(r.watches);
            s.max_mem_bytes = s.max_mem_bytes.max(r.mem_bytes);
        }
        s.all.name = String::from("(all)");
        s.fallback_total = s
            .all
            .fallbacks
            .values()
            .fold(0, |a, &b| a.saturating_add(b));
        s.programs = programs
            .into_iter()
            .map(|(name, p)| Program {
                name: name.to_string(),
                ..p
            })
            .collect();
        s.programs
            .sort_by(|a, b| b.total.cmp(&a.total).then(a.name.cmp(&b.name)));
        s
    }

    pub fn hit_rate(&self) -> Option<f64> {
        self.all.hit_rate()
    }

    /// Text for `statcache report`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let a = &self.all;
        line!(out, "processes   {}", a.processes);
        if a.processes == 0 {
            line!(
                out,
                "(no statistics lines: was the library loaded, and STATCACHE_STATS set?)"
            );
        }
        if !self.cache_states.is_empty() {
            let states: Vec<String> = ranked(&self.cache_states)
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            line!(out, "cache       {}", states.join(", "));
        }
        line!(out, "calls       {}", a.total);
        for (label, n) in [
            ("hits", a.hits),
            ("negative hits", a.negative_hits),
            ("misses", a.misses),
            ("fallbacks", self.fallback_total),
        ] {
            line!(out, "  {label:<14}{n:>12}  {:>6}", pct(share(n, a.total)));
        }
        line!(
            out,
            "hit rate    {}  (hits + negative hits) / calls",
            pct(self.hit_rate())
        );
        self.render_verify(&mut out);
        if self.max_nodes > 0 || self.max_watches > 0 {
            line!(
                out,
                "largest cache: {} nodes, {} watches, {}",
                self.max_nodes,
                self.max_watches,
                human_bytes(self.max_mem_bytes)
            );
        }
        self.render_notes(&mut out);
        if !self.programs.is_empty() {
            line!(out);
            self.render_programs(&mut out);
        }
        render_ranked(
            &mut out,
            "fallbacks by reason",
            &self.all.fallbacks,
            a.total,
        );
        render_ranked(&mut out, "calls by entry point", &self.calls, a.total);
        out
    }

    /// The short form `statcache compare` prints under its timings.
    pub fn render_brief(&self, out: &mut String) {
        let a = &self.all;
        line!(
            out,
            "calls {}, hit rate {} (hits {}, negative hits {}, misses {}, fallbacks {}) in {} processes",
            a.total,
            pct(self.hit_rate()),
            a.hits,
            a.negative_hits,
            a.misses,
            self.fallback_total,
            a.processes
        );
        self.render_verify(out);
        self.render_notes(out);
        if !self.programs.is_empty() {
            self.render_programs(out);
        }
    }

    fn render_verify(&self, out: &mut String) {
        if self.verified > 0 || self.mismatches > 0 {
            line!(
                out,
                "verified    {} answers checked against the real call",
                self.verified
            );
            line!(out, "mismatches  {}", self.mismatches);
        }
        if self.mismatches > 0 {
            line!(
                out,
                "!!! {} MISMATCHES: the cache answered differently from the real call; \
                 please report this (run with --log 1 to see them) !!!",
                self.mismatches
            );
        }
    }

    fn render_notes(&self, out: &mut String) {
        if self.malformed > 0 {
            let first = self.first_error.as_deref().unwrap_or("");
            line!(
                out,
                "note: skipped {} malformed line(s); first: {first}",
                self.malformed
            );
        }
        if self.inconsistent > 0 {
            line!(
                out,
                "note: {} line(s) whose total is not hits + negative hits + misses + fallbacks",
                self.inconsistent
            );
        }
    }

    fn render_programs(&self, out: &mut String) {
        let width = self
            .programs
            .iter()
            .take(MAX_PROGRAM_ROWS)
            .map(|p| p.name.chars().count().min(24))
            .max()
            .unwrap_or(0)
            .max(7);
        line!(
            out,
            "{:<width$}  {:>6}  {:>12}  {:>8}  {:>10}  top fallbacks",
            "program",
            "procs",
            "calls",
            "hit rate",
            "misses"
        );
        for p in self.programs.iter().take(MAX_PROGRAM_ROWS) {
            let top: Vec<String> = ranked(&p.fallbacks)
                .iter()
                .take(3)
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            let name: String = p.name.chars().take(24).collect();
            line!(
                out,
                "{name:<width$}  {:>6}  {:>12}  {:>8}  {:>10}  {}",
                p.processes,
                p.total,
                pct(p.hit_rate()),
                p.misses,
                if top.is_empty() {
                    "-".to_string()
                } else {
                    top.join(", ")
                }
            );
        }
        if self.programs.len() > MAX_PROGRAM_ROWS {
            line!(
                out,
                "... and {} more programs (see --json)",
                self.programs.len() - MAX_PROGRAM_ROWS
            );
        }
    }

    /// The same aggregates as one JSON object; counter names follow the statistics line.
    pub fn to_json(&self) -> Value {
        let mut programs = Vec::new();
        for p in &self.programs {
            programs.push(program_json(p));
        }
        let mut v = program_json(&self.all);
        if let Value::Object(m) = &mut v {
            m.remove("program");
            m.insert("fallback_total".into(), json!(self.fallback_total));
            m.insert("calls".into(), json!(self.calls));
            m.insert("cache".into(), json!(self.cache_states));
            m.insert("verified".into(), json!(self.verified));
            m.insert("mismatches".into(), json!(self.mismatches));
            m.insert("max_nodes".into(), json!(self.max_nodes));
            m.insert("max_watches".into(), json!(self.max_watches));
            m.insert("max_mem_bytes".into(), json!(self.max_mem_bytes));
            m.insert("inconsistent_lines".into(), json!(self.inconsistent));
            m.insert("malformed_lines".into(), json!(self.malformed));
            m.insert("first_malformed".into(), json!(self.first_error));
            m.insert("programs".into(), Value::Array(programs));
        }
        v
    }
}

fn program_json(p: &Program) -> Value {
    let mut m = Map::new();
    m.insert("program".into(), json!(p.name));
    m.insert("processes".into(), json!(p.processes));
    m.insert("total".into(), json!(p.total));
    m.insert("hits".into(), json!(p.hits));
    m.insert("negative_hits".into(), json!(p.negative_hits));
    m.insert("misses".into(), json!(p.misses));
    m.insert("fallbacks".into(), json!(p.fallbacks));
    m.insert("hit_rate".into(), json!(p.hit_rate()));
    Value::Object(m)
}

fn render_ranked(out: &mut String, title: &str, map: &BTreeMap<String, u64>, total: u64) {
    let rows = ranked(map);
    if rows.is_empty() {
        return;
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0).max(12);
    line!(out);
    line!(out, "{title}");
    for (k, n) in rows {
        line!(out, "  {k:<width$}  {n:>12}  {:>6}", pct(share(n, total)));
    }
}

fn share(n: u64, total: u64) -> Option<f64> {
    (total > 0).then(|| n as f64 / total as f64)
}

/// A fraction as a percentage with one decimal, `-` when undefined.
pub fn pct(x: Option<f64>) -> String {
    match x {
        Some(x) => format!("{:.1}%", x * 100.0),
        None => "-".to_string(),
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut x = n as f64 / 1024.0;
    let mut unit = 0;
    while x >= 1024.0 && unit + 1 < UNITS.len() {
        x /= 1024.0;
        unit += 1;
    }
    format!("{x:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: &str = r#"{"v":1,"pid":10,"ppid":1,"argv0":"/usr/bin/make","cache":"on","calls":{"stat":90,"fstatat":10},"total":100,"hits":70,"negative_hits":10,"misses":5,"fallbacks":{"dirfd":10,"inactive":5},"verified":100,"mismatches":0,"nodes":500,"watches":20,"mem_bytes":65536}
{"v":1,"pid":11,"ppid":10,"argv0":"sh","cache":"on","calls":{"stat":4},"total":4,"hits":0,"negative_hits":0,"misses":0,"fallbacks":{"inactive":4},"verified":0,"mismatches":0,"nodes":0,"watches":0,"mem_bytes":0}
garbage
{"v":1,"pid":12,"ppid":10,"argv0":"make","cache":"disabled","calls":{"stat":20,"statx":6},"total":26,"hits":10,"negative_hits":0,"misses":6,"fallbacks":{"brand_new_reason":10},"verified":10,"mismatches":2,"nodes":7,"watches":1,"mem_bytes":100}
"#;

    fn summary() -> Summary {
        let mut set = StatsSet::default();
        set.add_text("sample", LINES.as_bytes());
        Summary::from_set(&set)
    }

    #[test]
    fn aggregates_totals() {
        let s = summary();
        assert_eq!(s.all.processes, 3);
        assert_eq!(s.all.total, 130);
        assert_eq!(s.all.hits, 80);
        assert_eq!(s.all.negative_hits, 10);
        assert_eq!(s.all.misses, 11);
        assert_eq!(s.fallback_total, 29);
        assert_eq!(s.hit_rate(), Some(90.0 / 130.0));
        assert_eq!(s.all.fallbacks["inactive"], 9);
        assert_eq!(s.all.fallbacks["brand_new_reason"], 10);
        assert_eq!(s.calls["stat"], 114);
        assert_eq!(s.calls["statx"], 6);
        assert_eq!((s.verified, s.mismatches), (110, 2));
        assert_eq!(s.cache_states["on"], 2);
        assert_eq!(s.cache_states["disabled"], 1);
        assert_eq!((s.malformed, s.inconsistent), (1, 0));
        assert_eq!(
            (s.max_nodes, s.max_watches, s.max_mem_bytes),
            (500, 20, 65536)
        );
        assert!(s.first_error.unwrap().starts_with("sample line 3:"));
    }

    #[test]
    fn groups_programs_by_basename_most_calls_first() {
        let s = summary();
        let names: Vec<&str> = s.programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["make", "sh"]);
        let make = &s.programs[0];
        assert_eq!((make.processes, make.total, make.misses), (2, 126, 11));
        assert_eq!(make.hit_rate(), Some(90.0 / 126.0));
        assert_eq!(s.programs[1].hit_rate(), Some(0.0));
    }

    #[test]
    fn text_and_json_forms() {
        let s = summary();
        let text = s.render();
        assert!(text.contains("processes   3"), "{text}");
        assert!(text.contains("hit rate    69.2%"), "{text}");
        assert!(text.contains("2 MISMATCHES"), "{text}");
        assert!(text.contains("brand_new_reason"), "{text}");
        assert!(text.contains("skipped 1 malformed"), "{text}");
        let j = s.to_json();
        assert_eq!(j["total"], 130);
        assert_eq!(j["fallback_total"], 29);
        assert_eq!(j["calls"]["stat"], 114);
        assert_eq!(j["programs"][0]["program"], "make");
        assert_eq!(j["programs"][1]["hit_rate"], 0.0);
        assert_eq!(j["malformed_lines"], 1);
    }

    #[test]
    fn empty_set_has_no_hit_rate() {
        let s = Summary::from_set(&StatsSet::default());
        assert_eq!(s.hit_rate(), None);
        assert_eq!(s.to_json()["hit_rate"], Value::Null);
        assert!(s.render().contains("no statistics lines"));
        assert_eq!(pct(None), "-");
    }

    #[test]
    fn formats_bytes() {
        assert_eq!(human_bytes(100), "100 bytes");
        assert_eq!(human_bytes(65536), "64.0 KiB");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
    }
}
