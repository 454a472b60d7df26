//! The library's statistics lines (`docs/CONTRACT.md`), summed over the processes of one run.
//! Unknown keys are ignored, absent counters count as zero, and lines that are not JSON objects
//! are counted as malformed.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Counters summed over processes.
#[derive(Default, Clone)]
pub struct Totals {
    pub processes: u64,
    pub total: u64,
    pub hits: u64,
    pub negative_hits: u64,
    pub misses: u64,
    pub fallbacks: BTreeMap<String, u64>,
    pub calls: BTreeMap<String, u64>,
    pub cache_states: BTreeMap<String, u64>,
    pub mismatches: u64,
}

impl Totals {
    fn add(&mut self, v: &Value) {
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        self.processes += 1;
        self.total += n("total");
        self.hits += n("hits");
        self.negative_hits += n("negative_hits");
        self.misses += n("misses");
        self.mismatches += n("mismatches");
        for (key, map) in [
            ("fallbacks", &mut self.fallbacks),
            ("calls", &mut self.calls),
        ] {
            if let Some(o) = v.get(key).and_then(Value::as_object) {
                for (k, c) in o {
                    *map.entry(k.clone()).or_default() += c.as_u64().unwrap_or(0);
                }
            }
        }
        let state = v.get("cache").and_then(Value::as_str).unwrap_or("on");
        *self.cache_states.entry(state.to_string()).or_default() += 1;
    }

    /// Share of calls answered from the cache (hits and negative hits).
    pub fn hit_rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            (self.hits + self.negative_hits) as f64 / self.total as f64
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "processes": self.processes, "total": self.total, "hits": self.hits,
            "negative_hits": self.negative_hits, "misses": self.misses,
            "fallbacks": self.fallbacks, "calls": self.calls, "cache": self.cache_states,
            "mismatches": self.mismatches, "hit_rate": self.hit_rate(),
        })
    }

    pub fn from_json(v: &Value) -> Totals {
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        let map = |k: &str| -> BTreeMap<String, u64> {
            v.get(k)
                .and_then(Value::as_object)
                .map(|o| {
                    o.iter()
                        .map(|(k, c)| (k.clone(), c.as_u64().unwrap_or(0)))
                        .collect()
                })
                .unwrap_or_default()
        };
        Totals {
            processes: n("processes"),
            total: n("total"),
            hits: n("hits"),
            negative_hits: n("negative_hits"),
            misses: n("misses"),
            fallbacks: map("fallbacks"),
            calls: map("calls"),
            cache_states: map("cache"),
            mismatches: n("mismatches"),
        }
    }
}

/// Everything in one statistics file: all processes, and per program (basename of argv0).
#[derive(Default)]
pub struct StatsFile {
    pub all: Totals,
    pub by_program: BTreeMap<String, Totals>,
    pub malformed: u64,
}

impl StatsFile {
    /// Reads `path`; an absent file reads as no processes.
    pub fn read(path: &Path) -> StatsFile {
        let mut s = StatsFile::default();
        let text = std::fs::read(path).unwrap_or_default();
        for line in text.split(|&b| b == b'\n') {
            if line.trim_ascii().is_empty() {
                continue;
            }
            match serde_json::from_slice::<Value>(line) {
                Ok(v) if v.is_object() => {
                    s.all.add(&v);
                    let argv0 = v.get("argv0").and_then(Value::as_str).unwrap_or("?");
                    let prog = argv0.rsplit('/').next().unwrap_or("?");
                    s.by_program.entry(prog.to_string()).or_default().add(&v);
                }
                _ => s.malformed += 1,
            }
        }
        s
    }

    pub fn json(&self) -> Value {
        let progs: BTreeMap<&String, Value> =
            self.by_program.iter().map(|(k, t)| (k, t.json())).collect();
        json!({"all": self.all.json(), "by_program": progs, "malformed_lines": self.malformed})
    }
}
