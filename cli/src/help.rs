//! Help texts.

pub const MAIN: &str = "\
statcache: run programs with a process-local, inotify-exact stat cache

Usage: statcache <COMMAND> [OPTIONS] ...

Commands:
  run      Run a command with libstatcache.so preloaded
  report   Summarise a statistics file written by the library
  compare  Time a command without and with the library, side by side
  demo     Show the cache at work on a generated workload
  help     Print this message or the help of a command

Options:
  -h, --help     Print help (see 'statcache help <COMMAND>' for more)
  -V, --version  Print version

The library is found at $STATCACHE_LIB if set, else libstatcache.so beside this
binary, else ../lib/libstatcache.so relative to it.

Examples:
  statcache run --stats /tmp/sc.jsonl -- make -j8
  statcache report /tmp/sc.jsonl
  statcache compare -n 5 -- make
  statcache demo
";

pub const RUN: &str = "\
Run a command with libstatcache.so preloaded

Usage: statcache run [OPTIONS] [--] CMD [ARGS...]

The library is put first in LD_PRELOAD (other entries are kept) and the command
replaces statcache (exec), so its exit status and signals are its own. If the
library cannot be found, a warning is printed and the command runs without it.
A command that cannot be found exits 127, one that cannot be run 126.

Options:
      --stats FILE  At each process's exit, append one JSON line of statistics
                    to FILE ('-': standard error); read it with 'statcache report'
      --verify      Check every cached answer against the real call; mismatches
                    are counted and the real answer is returned
      --off         Load the library but pass every call through (kill switch;
                    calls are still counted)
      --log N       Log to standard error: 0 none (default), 1 warnings,
                    2 info, 3 debug
  -h, --help        Print help

Environment set: LD_PRELOAD, and as asked STATCACHE_STATS, STATCACHE_VERIFY=1,
STATCACHE=off, STATCACHE_LOG. Other STATCACHE_* variables pass through.

Examples:
  statcache run make -j8
  statcache run --stats stats.jsonl --verify -- cargo build
";

pub const REPORT: &str = "\
Summarise statistics files written by the library

Usage: statcache report [OPTIONS] FILE...

Reads one JSON line per process (FILE '-' is standard input) and prints the
totals (processes, calls, hits, negative hits, misses, fallbacks, hit rate),
a table per program, fallbacks by reason and calls by entry point. With
--verify runs it shows the answers checked and any mismatches. Malformed
lines are skipped and counted.

Options:
      --json  Print the aggregates as one JSON object
  -h, --help  Print help

Exit status: 0, or 1 if a file cannot be read.
";

pub const COMPARE: &str = "\
Time a command without and with the library

Usage: statcache compare [OPTIONS] [--] CMD [ARGS...]

Runs CMD alternately without and with libstatcache.so (A B A B ...), after
warm-up pairs that are not counted, and prints for each side the median, min
and max wall time and the median user and system time; the ratio with/without
taken pair by pair (median, min, max; below 1 is faster); and the statistics of
the runs with the library. The side without runs in the same environment less
the library in LD_PRELOAD and less every STATCACHE_* variable.

Options:
  -n, --runs N       Pairs of runs to count (default 10)
      --warmup N     Pairs to run first and not count (default 1)
      --prepare CMD  Run 'sh -c CMD' before every run (e.g. 'touch src/x.c')
      --cwd DIR      Run the command (and --prepare) in DIR
      --show-output  Let the command's output through (default: discarded)
      --json         Print the results as one JSON object
  -h, --help         Print help

Exit status: 0; 1 if a run of the command fails (the run and its status are
reported) or --prepare fails; 130 if interrupted.

Example:
  statcache compare -n 5 --prepare 'touch src/main.c' -- make -s
";

pub const DEMO: &str = "\
Show the cache at work on a generated workload

Usage: statcache demo [OPTIONS]

Builds a tree of 2000 source files in a fresh directory under $TMPDIR (or
/tmp) and times, without and with the library (as 'statcache compare' does):
  - a Python script that re-stats every file 10 times and probes as many
    missing paths, as a build tool polling its inputs does;
  - a no-op GNU make over the same tree (make stats each name once, so expect
    little gain: it is shown to be honest).
A workload whose tool (python3, make) is missing is skipped with a note.

Options:
  -n, --runs N  Pairs of runs per workload (default 5)
      --keep    Keep the generated directory and print its path
  -h, --help    Print help
";
