//! Timing a command without and with the library, alternately (A B A B ...), for `compare` and
//! `demo`.

use crate::child::{self, Measured};
use crate::report::Summary;
use crate::stats::StatsSet;
use crate::{preload, CliError};
use std::ffi::{OsStr, OsString};
use std::io::{IsTerminal, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

/// What to measure and how often.
pub struct Spec<'a> {
    pub argv: &'a [OsString],
    pub cwd: Option<&'a Path>,
    /// Run through `sh -c` before every run.
    pub prepare: Option<&'a OsStr>,
    /// Pairs counted.
    pub runs: u32,
    /// Pairs run first and not counted.
    pub warmup: u32,
    pub show_output: bool,
    /// Starts each progress line.
    pub label: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Without,
    With,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Without => "without statcache",
            Side::With => "with statcache",
        }
    }
}

/// One counted run, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub wall: f64,
    pub user: f64,
    pub sys: f64,
}

impl From<Measured> for Sample {
    fn from(m: Measured) -> Sample {
        Sample {
            wall: m.wall.as_secs_f64(),
            user: m.user.as_secs_f64(),
            sys: m.sys.as_secs_f64(),
        }
    }
}

/// Median, min and max of some values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// The [`Range`] of `v`; `None` when empty. An even count takes the mean of the middle two.
pub fn range(v: &[f64]) -> Option<Range> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = match n {
        0 => return None,
        _ if n % 2 == 1 => s[n / 2],
        _ => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    };
    Some(Range {
        median,
        min: s[0],
        max: s[n - 1],
    })
}

/// with / without for each pair (pairs whose run without took no measurable time are left out).
pub fn pair_ratios(without: &[f64], with: &[f64]) -> Vec<f64> {
    without
        .iter()
        .zip(with)
        .filter(|(a, _)| **a > 0.0)
        .map(|(a, b)| b / a)
        .collect()
}

/// One field of every sample.
pub fn column(v: &[Sample], f: fn(&Sample) -> f64) -> Vec<f64> {
    v.iter().map(f).collect()
}

/// The counted runs of both sides and the statistics of the runs with the library.
pub struct Outcome {
    pub without: Vec<Sample>,
    pub with: Vec<Sample>,
    pub stats: Summary,
}

impl Outcome {
    pub fn wall_without(&self) -> Option<Range> {
        range(&column(&self.without, |s| s.wall))
    }

    pub fn wall_with(&self) -> Option<Range> {
        range(&column(&self.with, |s| s.wall))
    }

    pub fn ratio(&self) -> Option<Range> {
        let a = column(&self.without, |s| s.wall);
        let b = column(&self.with, |s| s.wall);
        range(&pair_ratios(&a, &b))
    }
}

/// The environment of each side: the side without loses the library and every `STATCACHE_*`.
struct Env {
    statcache_vars: Vec<OsString>,
    preload_without: Option<OsString>,
    preload_with: Option<OsString>,
}

impl Env {
    fn new(lib: Option<&Path>) -> Env {
        let existing = std::env::var_os("LD_PRELOAD");
        Env {
            statcache_vars: preload::statcache_vars(),
            preload_without: preload::without_library(lib, existing.as_deref()),
            preload_with: lib.map(|l| preload::with_library(l, existing.as_deref())),
        }
    }

    fn apply(&self, cmd: &mut Command, side: Side, stats: &Path) {
        let preload = match side {
            Side::Without => {
                for k in &self.statcache_vars {
                    cmd.env_remove(k);
                }
                &self.preload_without
            }
            Side::With => {
                cmd.env("STATCACHE_STATS", stats);
                match self.preload_with {
                    Some(_) => &self.preload_with,
                    None => &self.preload_without,
                }
            }
        };
        match preload {
            Some(v) => cmd.env("LD_PRELOAD", v),
            None => cmd.env_remove("LD_PRELOAD"),
        };
    }
}

/// The progress line on standard error: rewritten in place on a terminal, one line per pair otherwise.
struct Progress<'a> {
    label: &'a str,
    tty: bool,
}

impl Progress<'_> {
    fn show(&self, msg: &str, done: bool) {
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r\x1b[K{}: {msg}", self.label)
        } else if done {
            writeln!(err, "{}: {msg}", self.label)
        } else {
            Ok(())
        };
        let _ = err.flush();
    }

    fn clear(&self) {
        if self.tty {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
        }
    }
}

/// Seconds as a short human duration.
pub fn fmt_time(secs: f64) -> String {
    if !secs.is_finite() {
        "-".to_string()
    } else if secs < 1e-3 {
        format!("{:.0} us", secs * 1e6)
    } else if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{secs:.3} s")
    }
}

/// Runs the pairs and collects the samples and statistics; `work` holds the scratch files.
pub fn measure(spec: &Spec, lib: Option<&Path>, work: &Path) -> Result<Outcome, CliError> {
    let env = Env::new(lib);
    let progress = Progress {
        label: spec.label,
        // The command's own output would run into a line rewritten in place.
        tty: std::io::stderr().is_terminal() && !spec.show_output,
    };
    let errors = work.join("stderr.txt");
    let (mut without, mut with) = (Vec::new(), Vec::new());
    let mut set = StatsSet::default();
    let mut succeeded_without = false;
    let pairs = spec.warmup.saturating_add(spec.runs);
    for pair in 0..pairs {
        let counted = pair >= spec.warmup;
        let title = match counted {
            true => format!("pair {}/{}", pair - spec.warmup + 1, spec.runs),
            false => format!("warm-up {}/{}", pair + 1, spec.warmup),
        };
        let mut walls = [0.0; 2];
        for (i, side) in [Side::Without, Side::With].into_iter().enumerate() {
            progress.show(&format!("{title}, {}", side.name()), false);
            let stats = work.join(format!("stats-{pair}.jsonl"));
            let run = || -> Result<Measured, CliError> {
                if let Some(p) = spec.prepare {
                    prepare(spec, &env, p, &errors)?;
                }
                let mut cmd = Command::new(&spec.argv[0]);
                cmd.args(&spec.argv[1..]);
                env.apply(&mut cmd, side, &stats);
                output(spec, &mut cmd, &errors)?;
                child::run_measured(&mut cmd).map_err(|e| child::spawn_error(&spec.argv[0], &e))
            };
            let result = run();
            if child::interrupted() {
                progress.clear();
                return Err(child::interrupted_error());
            }
            let m = result.inspect_err(|_| progress.clear())?;
            if !m.status.success() {
                progress.clear();
                let mut msg = format!(
                    "the command failed in {title} ({}): {}",
                    side.name(),
                    m.status.describe()
                );
                if side == Side::With && succeeded_without {
                    msg.push_str("\nit succeeded without statcache in this comparison");
                }
                return Err(CliError::fail(msg + &stderr_tail(spec, &errors)));
            }
            succeeded_without |= side == Side::Without;
            walls[i] = m.wall.as_secs_f64();
            if counted {
                match side {
                    Side::Without => without.push(Sample::from(m)),
                    Side::With => with.push(Sample::from(m)),
                }
            }
            if side == Side::With && counted {
                // A run that loaded no library writes no file: that is reported, not an error.
                let _ = set.add_file(&stats);
            }
            let _ = std::fs::remove_file(&stats);
        }
        let msg = format!(
            "{title}: without {}, with {} ({:.2}x)",
            fmt_time(walls[0]),
            fmt_time(walls[1]),
            if walls[0] > 0.0 {
                walls[1] / walls[0]
            } else {
                f64::NAN
            }
        );
        progress.show(&msg, true);
    }
    progress.clear();
    Ok(Outcome {
        without,
        with,
        stats: Summary::from_set(&set),
    })
}

/// Standard input is never the terminal's; output goes to the terminal only if asked, and
/// standard error is kept in a scratch file to show if the run fails.
fn output(spec: &Spec, cmd: &mut Command, errors: &Path) -> Result<(), CliError> {
    cmd.stdin(Stdio::null());
    if let Some(dir) = spec.cwd {
        cmd.current_dir(dir);
    }
    if !spec.show_output {
        let f = std::fs::File::create(errors)
            .map_err(|e| CliError::fail(format!("cannot create {}: {e}", errors.display())))?;
        cmd.stdout(Stdio::null()).stderr(f);
    }
    Ok(())
}

fn prepare(spec: &Spec, env: &Env, script: &OsStr, errors: &Path) -> Result<(), CliError> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    env.apply(&mut cmd, Side::Without, Path::new(""));
    output(spec, &mut cmd, errors)?;
    let status = cmd
        .status()
        .map_err(|e| CliError::fail(format!("cannot run sh for --prepare: {e}")))?;
    if status.success() {
        return Ok(());
    }
    let status = child::Status::from_raw(std::os::unix::process::ExitStatusExt::into_raw(status));
    let msg = format!(
        "--prepare '{}' failed: {}",
        script.to_string_lossy(),
        status.describe()
    );
    Err(CliError::fail(msg + &stderr_tail(spec, errors)))
}

fn stderr_tail(spec: &Spec, errors: &Path) -> String {
    let tail = if spec.show_output {
        String::new()
    } else {
        child::tail(errors, 20)
    };
    if tail.is_empty() {
        return String::new();
    }
    let indented: Vec<String> = tail.lines().map(|l| format!("  | {l}")).collect();
    format!("\nits standard error ended with:\n{}", indented.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations() {
        assert_eq!(fmt_time(0.000_25), "250 us");
        assert_eq!(fmt_time(0.1234), "123.4 ms");
        assert_eq!(fmt_time(2.5), "2.500 s");
        assert_eq!(fmt_time(f64::NAN), "-");
    }

    #[test]
    fn median_min_max() {
        assert_eq!(range(&[]), None);
        assert_eq!(
            range(&[2.0]),
            Some(Range {
                median: 2.0,
                min: 2.0,
                max: 2.0
            })
        );
        assert_eq!(
            range(&[3.0, 1.0, 2.0]),
            Some(Range {
                median: 2.0,
                min: 1.0,
                max: 3.0
            })
        );
        assert_eq!(
            range(&[4.0, 1.0, 3.0, 2.0]),
            Some(Range {
                median: 2.5,
                min: 1.0,
                max: 4.0
            })
        );
    }

    #[test]
    fn ratios_are_taken_pair_by_pair() {
        let r = pair_ratios(&[1.0, 2.0, 0.0, 4.0], &[0.5, 3.0, 1.0, 4.0]);
        assert_eq!(r, [0.5, 1.5, 1.0]);
        let s = |wall| Sample {
            wall,
            user: 0.0,
            sys: 0.0,
        };
        let out = Outcome {
            without: vec![s(1.0), s(2.0), s(10.0)],
            with: vec![s(0.8), s(1.0), s(9.0)],
            stats: Summary::default(),
        };
        // Per pair 0.8, 0.5, 0.9: the median is 0.8, not 10.8/13.0.
        assert_eq!(
            out.ratio(),
            Some(Range {
                median: 0.8,
                min: 0.5,
                max: 0.9
            })
        );
        assert_eq!(out.wall_without().unwrap().median, 2.0);
        assert_eq!(out.wall_with().unwrap().median, 1.0);
    }
}
