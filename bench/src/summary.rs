//! Medians with their spread, and small JSON helpers shared by every case.

use serde_json::{json, Value};
use std::path::Path;

/// A median with the smallest and largest sample it was taken from.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Summary {
    /// Summarises `xs` (NaN-free); an empty slice gives all zeros.
    pub fn of(xs: &[f64]) -> Summary {
        if xs.is_empty() {
            return Summary::default();
        }
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Summary {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        }
    }

    pub fn json(&self) -> Value {
        json!({"median": self.median, "min": self.min, "max": self.max, "n": self.n})
    }

    pub fn from_json(v: &Value) -> Summary {
        let f = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        Summary {
            median: f("median"),
            min: f("min"),
            max: f("max"),
            n: v.get("n").and_then(Value::as_u64).unwrap_or(0) as usize,
        }
    }
}

/// The ratio of paired samples `a[i] / b[i]` (blocks measured next to each other), summarised.
pub fn pair_ratios(a: &[f64], b: &[f64]) -> Summary {
    let r: Vec<f64> = a
        .iter()
        .zip(b)
        .filter(|(_, &y)| y > 0.0)
        .map(|(x, y)| x / y)
        .collect();
    Summary::of(&r)
}

/// The ratio of two medians, 0 when undefined.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// Writes `v` as pretty JSON to `path`.
pub fn write_json(path: &Path, v: &Value) -> crate::Res<()> {
    let text = serde_json::to_string_pretty(v)?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()).into())
}

/// Reads a JSON file, or `None` if it is absent or unreadable.
pub fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Whether block pair `block` runs the real call first: pairs go A B, B A, A B, ... so that a
/// linear drift in the machine's speed weighs on both sides alike.
pub fn flip(block: usize) -> bool {
    block % 2 == 1
}
