//! `statcache`: runs programs under `libstatcache.so`, reports its statistics, measures it.

mod args;
mod child;
mod compare;
mod demo;
mod help;
mod measure;
mod preload;
mod report;
mod run;
mod stats;

use std::io::Write;

/// A failure that ends the command: what to print and the exit status.
#[derive(Debug, PartialEq, Eq)]
pub struct CliError {
    pub code: i32,
    pub msg: String,
}

impl CliError {
    /// A bad command line (exit 2), with a pointer to the help of `sub`.
    pub fn usage(sub: Option<&str>, msg: String) -> CliError {
        let hint = match sub {
            Some(sub) => format!("try 'statcache {sub} --help'"),
            None => "try 'statcache --help'".to_string(),
        };
        CliError {
            code: 2,
            msg: format!("{msg}\n{hint}"),
        }
    }

    /// Any other failure (exit 1).
    pub fn fail(msg: String) -> CliError {
        CliError { code: 1, msg }
    }
}

/// Prints a line to standard error, prefixed with the program name; never fails.
pub fn warn(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "statcache: {msg}");
}

/// Writes `text` to standard output. A closed pipe (`statcache report f | head`) ends the program
/// quietly, as it would for a C program.
pub fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(CliError::fail(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

fn dispatch() -> Result<i32, CliError> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if argv.first().is_some_and(|a| a == demo::POLL_CMD) {
        return demo::poll(&argv[1..]);
    }
    match args::parse(argv)? {
        args::Cmd::Help(text) => print(text).map(|()| 0),
        args::Cmd::Version => {
            print(concat!("statcache ", env!("CARGO_PKG_VERSION"), "\n")).map(|()| 0)
        }
        args::Cmd::Run(o) => run::run(o),
        args::Cmd::Report(o) => report::report(o),
        args::Cmd::Compare(o) => compare::compare(o),
        args::Cmd::Demo(o) => demo::demo(o),
    }
}

fn main() {
    let code = match dispatch() {
        Ok(code) => code,
        Err(e) => {
            warn(&e.msg);
            e.code
        }
    };
    std::process::exit(code);
}
