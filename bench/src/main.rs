//! `statcache-bench`: the benchmark driver behind `bench/run.sh`.
//!
//! Every case measures the library beside the real call in the same run and reports the ratio
//! (time with the library / time without; above 1.0 means slower with the library). What each
//! subcommand measures is described in `bench/README.md`.

mod args;
mod calls;
mod libstats;
mod machine;
mod others;
mod percall;
mod report;
mod startup;
mod summary;
mod threads;
mod workloads;

use std::process::ExitCode;

/// The error type of every subcommand: a message for the operator.
pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "\
usage: statcache-bench <command> [--key value ...] [--quick]
  machine   --dir D --lib L --out F            record the machine and the library
  percall   --dir D --out F                    per-call latency (run under LD_PRELOAD)
  threads   --dir D --out F [--max-threads N]  calls/s by thread count (run under LD_PRELOAD)
  startup   --lib L --out F --prog P...        spawn cost with and without the library
  others    --lib L --dir D --out F            write cost in a directory the cache watches
  hold      --dir D                            (helper) stat files in D, then wait for EOF on stdin
  workloads --lib L --work D --run R --out F   real programs with and without the library
  report    --run R --results F [--command C]  write RESULTS.md and summary.csv from a run";

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let cmd = argv.next().unwrap_or_default();
    let args = args::Args::parse(argv);
    let res = match cmd.as_str() {
        "machine" => machine::run(&args),
        "percall" => percall::run(&args),
        "threads" => threads::run(&args),
        "startup" => startup::run(&args),
        "others" => others::run(&args),
        "hold" => others::hold(&args),
        "workloads" => workloads::run(&args),
        "report" => report::run(&args),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("statcache-bench {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}
