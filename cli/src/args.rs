//! Command-line parsing: `statcache <COMMAND> [OPTIONS] ...`.
//!
//! Options are recognised up to the first positional argument of `run` and `compare` (the command to
//! run, whose own options are left alone) or up to `--`. `--opt=VALUE` and `-nVALUE` are accepted.

use crate::CliError;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Cmd {
    Help(&'static str),
    Version,
    Run(RunOpts),
    Report(ReportOpts),
    Compare(CompareOpts),
    Demo(DemoOpts),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct RunOpts {
    pub stats: Option<OsString>,
    pub verify: bool,
    pub off: bool,
    pub log: Option<u8>,
    pub argv: Vec<OsString>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReportOpts {
    pub files: Vec<PathBuf>,
    pub json: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub struct CompareOpts {
    pub runs: u32,
    pub warmup: u32,
    pub prepare: Option<OsString>,
    pub cwd: Option<PathBuf>,
    pub show_output: bool,
    pub json: bool,
    pub argv: Vec<OsString>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct DemoOpts {
    pub runs: u32,
    pub keep: bool,
}

/// One step of the command line.
enum Arg {
    /// An option as typed, without any `=VALUE` (held back for [`Parser::value`]).
    Opt(String),
    Pos(OsString),
    /// `--`: everything after it is positional.
    Rest,
}

struct Parser {
    sub: &'static str,
    args: VecDeque<OsString>,
    /// The `VALUE` of `--opt=VALUE` or `-nVALUE`, not yet taken.
    inline: Option<OsString>,
}

impl Parser {
    fn next(&mut self) -> Result<Option<Arg>, CliError> {
        if let Some(v) = self.inline.take() {
            let shown = v.to_string_lossy().into_owned();
            return Err(self.usage(format!(
                "unexpected value '{shown}' for an option that takes none"
            )));
        }
        let Some(arg) = self.args.pop_front() else {
            return Ok(None);
        };
        if arg == "--" {
            return Ok(Some(Arg::Rest));
        }
        let bytes = arg.as_encoded_bytes();
        if bytes.len() < 2 || bytes[0] != b'-' {
            return Ok(Some(Arg::Pos(arg)));
        }
        let Some(text) = arg.to_str() else {
            return Err(self.usage(format!("unknown option '{}'", arg.to_string_lossy())));
        };
        if let Some(long) = text.strip_prefix("--") {
            if let Some((name, value)) = long.split_once('=') {
                self.inline = Some(value.into());
                return Ok(Some(Arg::Opt(format!("--{name}"))));
            }
            return Ok(Some(Arg::Opt(text.to_string())));
        }
        let mut chars = text.chars();
        chars.next();
        let short = chars.next().unwrap_or('-');
        let rest = chars.as_str();
        if !rest.is_empty() {
            self.inline = Some(rest.into());
        }
        Ok(Some(Arg::Opt(format!("-{short}"))))
    }

    /// The value of the option just returned by [`Parser::next`].
    fn value(&mut self, opt: &str) -> Result<OsString, CliError> {
        self.inline
            .take()
            .or_else(|| self.args.pop_front())
            .ok_or_else(|| self.usage(format!("option '{opt}' needs a value")))
    }

    fn number(&mut self, opt: &str, min: u32) -> Result<u32, CliError> {
        let v = self.value(opt)?;
        match v.to_str().and_then(|s| s.parse::<u32>().ok()) {
            Some(n) if n >= min => Ok(n),
            _ => Err(self.usage(format!(
                "option '{opt}' needs a whole number of at least {min}, not '{}'",
                v.to_string_lossy()
            ))),
        }
    }

    fn rest(&mut self) -> Vec<OsString> {
        self.args.drain(..).collect()
    }

    fn usage(&self, msg: String) -> CliError {
        CliError::usage(Some(self.sub), msg)
    }

    fn unknown(&self, opt: &str) -> CliError {
        self.usage(format!("unknown option '{opt}'"))
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: Vec<OsString>) -> Result<Cmd, CliError> {
    let mut args: VecDeque<OsString> = args.into();
    let Some(first) = args.pop_front() else {
        return Err(CliError::usage(None, "no command given".into()));
    };
    let name = first.to_string_lossy();
    let sub: &'static str = match name.as_ref() {
        "-h" | "--help" | "help" => {
            let topic = args.front().map(|a| a.to_string_lossy().into_owned());
            return match topic.as_deref() {
                None => Ok(Cmd::Help(crate::help::MAIN)),
                Some(t) => help_for(t).map(Cmd::Help).ok_or_else(|| {
                    CliError::usage(None, format!("no help for '{t}': unknown command"))
                }),
            };
        }
        "-V" | "--version" | "version" => return Ok(Cmd::Version),
        "run" => "run",
        "report" => "report",
        "compare" => "compare",
        "demo" => "demo",
        other if other.starts_with('-') => {
            return Err(CliError::usage(None, format!("unknown option '{other}'")))
        }
        other => return Err(CliError::usage(None, format!("unknown command '{other}'"))),
    };
    let mut p = Parser {
        sub,
        args,
        inline: None,
    };
    match sub {
        "run" => parse_run(&mut p),
        "report" => parse_report(&mut p),
        "compare" => parse_compare(&mut p),
        _ => parse_demo(&mut p),
    }
}

fn help_for(topic: &str) -> Option<&'static str> {
    Some(match topic {
        "run" => crate::help::RUN,
        "report" => crate::help::REPORT,
        "compare" => crate::help::COMPARE,
        "demo" => crate::help::DEMO,
        "help" => crate::help::MAIN,
        _ => return None,
    })
}

/// The command to run: the first positional argument and everything after it.
fn command(p: &mut Parser, first: Option<OsString>) -> Result<Vec<OsString>, CliError> {
    let mut argv: Vec<OsString> = first.into_iter().collect();
    argv.extend(p.rest());
    if argv.is_empty() || argv[0].is_empty() {
        return Err(p.usage("no command to run given".into()));
    }
    Ok(argv)
}

fn parse_run(p: &mut Parser) -> Result<Cmd, CliError> {
    let mut o = RunOpts::default();
    while let Some(arg) = p.next()? {
        match arg {
            Arg::Rest => break,
            Arg::Pos(cmd) => {
                o.argv = command(p, Some(cmd))?;
                return Ok(Cmd::Run(o));
            }
            Arg::Opt(opt) => match opt.as_str() {
                "-h" | "--help" => return Ok(Cmd::Help(crate::help::RUN)),
                "--stats" => o.stats = Some(p.value(&opt)?),
                "--verify" => o.verify = true,
                "--off" => o.off = true,
                "--log" => {
                    let n = p.number(&opt, 0)?;
                    if n > 3 {
                        return Err(p.usage(format!("option '--log' takes 0 to 3, not {n}")));
                    }
                    o.log = Some(n as u8);
                }
                _ => return Err(p.unknown(&opt)),
            },
        }
    }
    o.argv = command(p, None)?;
    Ok(Cmd::Run(o))
}

fn parse_report(p: &mut Parser) -> Result<Cmd, CliError> {
    let mut o = ReportOpts::default();
    while let Some(arg) = p.next()? {
        match arg {
            Arg::Rest => o.files.extend(p.rest().into_iter().map(PathBuf::from)),
            Arg::Pos(f) => o.files.push(f.into()),
            Arg::Opt(opt) => match opt.as_str() {
                "-h" | "--help" => return Ok(Cmd::Help(crate::help::REPORT)),
                "--json" => o.json = true,
                _ => return Err(p.unknown(&opt)),
            },
        }
    }
    if o.files.is_empty() {
        return Err(p.usage("no statistics FILE given".into()));
    }
    Ok(Cmd::Report(o))
}

fn parse_compare(p: &mut Parser) -> Result<Cmd, CliError> {
    let mut o = CompareOpts {
        runs: 10,
        warmup: 1,
        prepare: None,
        cwd: None,
        show_output: false,
        json: false,
        argv: Vec::new(),
    };
    while let Some(arg) = p.next()? {
        match arg {
            Arg::Rest => break,
            Arg::Pos(cmd) => {
                o.argv = command(p, Some(cmd))?;
                return Ok(Cmd::Compare(o));
            }
            Arg::Opt(opt) => match opt.as_str() {
                "-h" | "--help" => return Ok(Cmd::Help(crate::help::COMPARE)),
                "-n" | "--runs" => o.runs = p.number(&opt, 1)?,
                "--warmup" => o.warmup = p.number(&opt, 0)?,
                "--prepare" => o.prepare = Some(p.value(&opt)?),
                "--cwd" => o.cwd = Some(p.value(&opt)?.into()),
                "--show-output" => o.show_output = true,
                "--json" => o.json = true,
                _ => return Err(p.unknown(&opt)),
            },
        }
    }
    o.argv = command(p, None)?;
    Ok(Cmd::Compare(o))
}

fn parse_demo(p: &mut Parser) -> Result<Cmd, CliError> {
    let mut o = DemoOpts {
        runs: 5,
        keep: false,
    };
    while let Some(arg) = p.next()? {
        match arg {
            Arg::Opt(opt) => match opt.as_str() {
                "-h" | "--help" => return Ok(Cmd::Help(crate::help::DEMO)),
                "-n" | "--runs" => o.runs = p.number(&opt, 1)?,
                "--keep" => o.keep = true,
                _ => return Err(p.unknown(&opt)),
            },
            Arg::Pos(a) => {
                return Err(p.usage(format!("unexpected argument '{}'", a.to_string_lossy())))
            }
            Arg::Rest => {}
        }
    }
    Ok(Cmd::Demo(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Cmd, CliError> {
        parse(s.split_whitespace().map(OsString::from).collect())
    }

    fn argv(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    fn code(s: &str) -> i32 {
        parse_str(s).unwrap_err().code
    }

    #[test]
    fn top_level() {
        assert_eq!(parse_str("--version").unwrap(), Cmd::Version);
        assert_eq!(parse_str("-V").unwrap(), Cmd::Version);
        assert_eq!(parse_str("help").unwrap(), Cmd::Help(crate::help::MAIN));
        assert_eq!(parse_str("--help").unwrap(), Cmd::Help(crate::help::MAIN));
        assert_eq!(
            parse_str("help compare").unwrap(),
            Cmd::Help(crate::help::COMPARE)
        );
        assert_eq!(
            parse_str("demo --help").unwrap(),
            Cmd::Help(crate::help::DEMO)
        );
        for bad in ["", "frobnicate", "--frob", "help nope"] {
            assert_eq!(code(bad), 2, "{bad}");
        }
    }

    #[test]
    fn run_options_stop_at_the_command() {
        let Cmd::Run(o) =
            parse_str("run --stats s.jsonl --verify --log=2 ls -l --stats x").unwrap()
        else {
            panic!()
        };
        assert_eq!(o.stats, Some("s.jsonl".into()));
        assert!(o.verify && !o.off);
        assert_eq!(o.log, Some(2));
        assert_eq!(o.argv, argv("ls -l --stats x"));

        let Cmd::Run(o) = parse_str("run --off --stats=- -- -weird-cmd --help").unwrap() else {
            panic!()
        };
        assert!(o.off);
        assert_eq!(o.stats, Some("-".into()));
        assert_eq!(o.argv, argv("-weird-cmd --help"));
        assert_eq!(
            parse_str("run --help ls").unwrap(),
            Cmd::Help(crate::help::RUN)
        );
    }

    #[test]
    fn run_errors() {
        for bad in [
            "run",
            "run --",
            "run --verify",
            "run -x ls",
            "run --log 4 ls",
            "run --log x ls",
            "run --log",
            "run --verify=1 ls",
            "run --stats",
        ] {
            assert_eq!(code(bad), 2, "{bad}");
        }
    }

    #[test]
    fn report_options_anywhere() {
        let Cmd::Report(o) = parse_str("report a.jsonl --json b.jsonl").unwrap() else {
            panic!()
        };
        assert!(o.json);
        assert_eq!(
            o.files,
            [PathBuf::from("a.jsonl"), PathBuf::from("b.jsonl")]
        );
        let Cmd::Report(o) = parse_str("report - -- --json").unwrap() else {
            panic!()
        };
        assert!(!o.json);
        assert_eq!(o.files, [PathBuf::from("-"), PathBuf::from("--json")]);
        assert_eq!(code("report"), 2);
        assert_eq!(code("report --json"), 2);
        assert_eq!(code("report --csv f"), 2);
    }

    #[test]
    fn compare_options() {
        let Cmd::Compare(o) =
            parse_str("compare -n3 --warmup 0 --prepare true --cwd /tmp --json make -s").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (o.runs, o.warmup, o.json, o.show_output),
            (3, 0, true, false)
        );
        assert_eq!(o.prepare, Some("true".into()));
        assert_eq!(o.cwd, Some(PathBuf::from("/tmp")));
        assert_eq!(o.argv, argv("make -s"));
        let Cmd::Compare(o) = parse_str("compare --runs=7 --show-output -- -x").unwrap() else {
            panic!()
        };
        assert_eq!((o.runs, o.warmup, o.show_output), (7, 1, true));
        assert_eq!(o.argv, argv("-x"));
        let Cmd::Compare(o) = parse_str("compare true").unwrap() else {
            panic!()
        };
        assert_eq!((o.runs, o.warmup), (10, 1));
        for bad in [
            "compare",
            "compare -n 0 true",
            "compare -n -1 true",
            "compare --warmup x true",
        ] {
            assert_eq!(code(bad), 2, "{bad}");
        }
    }

    #[test]
    fn demo_options() {
        assert_eq!(
            parse_str("demo").unwrap(),
            Cmd::Demo(DemoOpts {
                runs: 5,
                keep: false
            })
        );
        assert_eq!(
            parse_str("demo --keep -n 2").unwrap(),
            Cmd::Demo(DemoOpts {
                runs: 2,
                keep: true
            })
        );
        assert_eq!(code("demo extra"), 2);
        assert_eq!(code("demo --fast"), 2);
    }

    #[test]
    fn non_utf8_arguments_pass_through() {
        use std::os::unix::ffi::OsStringExt;
        let odd = OsString::from_vec(vec![b'f', 0xff]);
        let Cmd::Run(o) = parse(vec!["run".into(), "echo".into(), odd.clone()]).unwrap() else {
            panic!()
        };
        assert_eq!(o.argv, vec![OsString::from("echo"), odd]);
    }
}
