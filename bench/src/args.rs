//! Command-line options: `--key value` pairs (a key may repeat) and bare `--flag`s.

use std::collections::BTreeMap;
use std::str::FromStr;

/// Parsed options.
pub struct Args {
    values: BTreeMap<String, Vec<String>>,
}

impl Args {
    /// Parses `--key value` and `--flag` (a key followed by another `--key` or by nothing).
    pub fn parse(argv: impl Iterator<Item = String>) -> Args {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut argv = argv.peekable();
        while let Some(a) = argv.next() {
            let Some(key) = a.strip_prefix("--") else {
                values.entry(String::new()).or_default().push(a);
                continue;
            };
            let val = match argv.peek() {
                Some(v) if !v.starts_with("--") => argv.next().unwrap_or_default(),
                _ => String::new(),
            };
            values.entry(key.to_string()).or_default().push(val);
        }
        Args { values }
    }

    /// The last value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// The value of a required option.
    pub fn req(&self, key: &str) -> Result<&str, String> {
        self.get(key).ok_or_else(|| format!("missing --{key}"))
    }

    /// Every value given for `key`, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.values.get(key).cloned().unwrap_or_default()
    }

    /// Whether `--key` was given.
    pub fn flag(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// A numeric option, or `default` if absent.
    pub fn num<T: FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        match self.get(key) {
            None => Ok(default),
            Some(s) => s.parse().map_err(|_| format!("--{key}: not a number: {s}")),
        }
    }
}
