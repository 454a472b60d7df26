//! The statistics line: one JSON object per process, as fixed in `docs/CONTRACT.md`.
//!
//! Readers accept any fallback reason and any entry-point name, ignore unknown keys, and take a
//! missing counter as zero. A line that is not a JSON object, has no `total`, or has a counter that is
//! not a non-negative integer is malformed: it is skipped and counted, never fatal.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// What one process reported at exit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcStats {
    pub pid: Option<u64>,
    pub argv0: String,
    /// `on`, `off` (kill switch), `disabled` (turned itself off), whatever a newer library says,
    /// or `unknown` when the line has none.
    pub cache: String,
    /// Calls per entry point (`stat`, `statx`, `__xstat64`, ...).
    pub calls: BTreeMap<String, u64>,
    pub total: u64,
    pub hits: u64,
    pub negative_hits: u64,
    pub misses: u64,
    /// Calls passed to the real syscall, by reason.
    pub fallbacks: BTreeMap<String, u64>,
    pub verified: u64,
    pub mismatches: u64,
    pub nodes: u64,
    pub watches: u64,
    pub mem_bytes: u64,
}

impl ProcStats {
    /// The program name the table groups by: the basename of `argv0`.
    pub fn program(&self) -> &str {
        let base = self.argv0.rsplit('/').next().unwrap_or("");
        if base.is_empty() {
            "?"
        } else {
            base
        }
    }

    /// Sum of all fallback counters.
    pub fn fallback_total(&self) -> u64 {
        self.fallbacks.values().fold(0, |a, &b| a.saturating_add(b))
    }

    /// Whether the line keeps the contract's identity
    /// `total == hits + negative_hits + misses + sum(fallbacks)`.
    pub fn is_consistent(&self) -> bool {
        let parts = self
            .hits
            .checked_add(self.negative_hits)
            .and_then(|s| s.checked_add(self.misses))
            .and_then(|s| s.checked_add(self.fallback_total()));
        parts == Some(self.total)
    }
}

/// Everything read from one or more statistics files.
#[derive(Debug, Default)]
pub struct StatsSet {
    pub records: Vec<ProcStats>,
    /// Non-empty lines that were not statistics lines.
    pub malformed: u64,
    /// The first malformed line: (source, 1-based line number, why).
    pub first_error: Option<(String, usize, String)>,
}

impl StatsSet {
    /// Parses `bytes` (the contents of `source`) and adds its lines to the set.
    pub fn add_text(&mut self, source: &str, bytes: &[u8]) {
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            match parse_line(line) {
                Ok(rec) => self.records.push(rec),
                Err(why) => {
                    self.malformed += 1;
                    if self.first_error.is_none() {
                        self.first_error = Some((source.to_string(), i + 1, why));
                    }
                }
            }
        }
    }

    /// Reads the file at `path` (`-`: standard input) and adds its lines to the set.
    pub fn add_file(&mut self, path: &Path) -> io::Result<()> {
        let bytes = if path.as_os_str() == "-" {
            let mut buf = Vec::new();
            io::Read::read_to_end(&mut io::stdin().lock(), &mut buf)?;
            buf
        } else {
            std::fs::read(path)?
        };
        let source = match path.as_os_str() == "-" {
            true => "standard input".to_string(),
            false => path.display().to_string(),
        };
        self.add_text(&source, &bytes);
        Ok(())
    }
}

/// Parses one statistics line.
pub fn parse_line(line: &[u8]) -> Result<ProcStats, String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let obj = value.as_object().ok_or("not a JSON object")?;
    if !obj.contains_key("total") {
        return Err("no \"total\" key".into());
    }
    let argv0 = match obj.get("argv0") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err("\"argv0\" is not a string".into()),
    };
    let cache = match obj.get("cache") {
        None | Some(Value::Null) => String::from("unknown"),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err("\"cache\" is not a string".into()),
    };
    Ok(ProcStats {
        pid: match obj.get("pid") {
            None | Some(Value::Null) => None,
            Some(_) => Some(counter(obj, "pid")?),
        },
        argv0,
        cache,
        calls: counter_map(obj, "calls")?,
        total: counter(obj, "total")?,
        hits: counter(obj, "hits")?,
        negative_hits: counter(obj, "negative_hits")?,
        misses: counter(obj, "misses")?,
        fallbacks: counter_map(obj, "fallbacks")?,
        verified: counter(obj, "verified")?,
        mismatches: counter(obj, "mismatches")?,
        nodes: counter(obj, "nodes")?,
        watches: counter(obj, "watches")?,
        mem_bytes: counter(obj, "mem_bytes")?,
    })
}

/// A non-negative integer field; absent means 0.
fn counter(obj: &Map<String, Value>, key: &str) -> Result<u64, String> {
    match obj.get(key) {
        None => Ok(0),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| format!("\"{key}\" is not a non-negative integer")),
    }
}

/// An object of non-negative integers; absent means empty.
fn counter_map(obj: &Map<String, Value>, key: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut out = BTreeMap::new();
    match obj.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (name, v) in m {
                let n = v
                    .as_u64()
                    .ok_or_else(|| format!("\"{key}.{name}\" is not a non-negative integer"))?;
                out.insert(name.clone(), n);
            }
        }
        Some(_) => return Err(format!("\"{key}\" is not an object")),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAKE: &str = r#"{"v":1,"pid":1234,"ppid":1200,"argv0":"/usr/bin/make","cache":"on","calls":{"stat":10,"statx":0},"total":10,"hits":6,"negative_hits":1,"misses":2,"fallbacks":{"dirfd":1},"verified":0,"mismatches":0,"nodes":40,"watches":3,"mem_bytes":4096,"new_field":[1,2]}"#;

    #[test]
    fn parses_contract_line_and_ignores_unknown_keys() {
        let s = parse_line(MAKE.as_bytes()).unwrap();
        assert_eq!(s.pid, Some(1234));
        assert_eq!(s.program(), "make");
        assert_eq!(s.calls["stat"], 10);
        assert_eq!(s.total, 10);
        assert_eq!(s.fallbacks["dirfd"], 1);
        assert_eq!(s.mem_bytes, 4096);
        assert!(s.is_consistent());
    }

    #[test]
    fn missing_counters_are_zero() {
        let s = parse_line(br#"{"total":0}"#).unwrap();
        assert_eq!(
            s,
            ProcStats {
                cache: "unknown".into(),
                ..ProcStats::default()
            }
        );
        assert_eq!(s.program(), "?");
    }

    #[test]
    fn rejects_malformed_lines() {
        for bad in [
            &b"hello"[..],
            b"[1,2]",
            b"{\"hits\":3}",
            b"{\"total\":-1}",
            b"{\"total\":1.5}",
            b"{\"total\":1,\"fallbacks\":{\"x\":\"y\"}}",
            b"{\"total\":1,\"calls\":3}",
            b"{\"total\":1,\"argv0\":7}",
            b"{\"total\":3",
        ] {
            assert!(parse_line(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn set_counts_malformed_and_skips_blank_lines() {
        let mut text = format!("{MAKE}\n\nnot json\n").into_bytes();
        text.extend_from_slice(b"\xff\xfe\n");
        text.extend_from_slice(format!("{MAKE}\n{{\"total\":1}}\n").as_bytes());
        let mut set = StatsSet::default();
        set.add_text("f", &text);
        assert_eq!(set.records.len(), 3);
        assert_eq!(set.malformed, 2);
        let (src, line, _) = set.first_error.unwrap();
        assert_eq!((src.as_str(), line), ("f", 3));
        assert!(!set.records[2].is_consistent());
    }
}
