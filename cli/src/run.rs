//! `statcache run`: exec a command with the library preloaded.

use crate::args::RunOpts;
use crate::{child, preload, warn, CliError};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Sets up the environment and replaces this process with the command; returns only on failure.
pub fn run(o: RunOpts) -> Result<i32, CliError> {
    let Some((prog, args)) = o.argv.split_first() else {
        return Err(CliError::usage(
            Some("run"),
            "no command to run given".into(),
        ));
    };
    let mut cmd = Command::new(prog);
    cmd.args(args);
    match preload::find_library() {
        Ok(lib) => {
            let existing = std::env::var_os("LD_PRELOAD");
            cmd.env(
                "LD_PRELOAD",
                preload::with_library(&lib, existing.as_deref()),
            );
        }
        Err(why) => warn(&format!(
            "warning: {why}; running the command without the cache"
        )),
    }
    if let Some(stats) = &o.stats {
        // Every process of the command appends to the same file, whatever its working directory.
        let stats = if stats == "-" {
            stats.clone()
        } else {
            std::path::absolute(stats)
                .map_err(|e| CliError::fail(format!("bad --stats path: {e}")))?
                .into_os_string()
        };
        cmd.env("STATCACHE_STATS", stats);
    }
    if o.verify {
        cmd.env("STATCACHE_VERIFY", "1");
    }
    if o.off {
        cmd.env("STATCACHE", "off");
    }
    if let Some(level) = o.log {
        cmd.env("STATCACHE_LOG", level.to_string());
    }
    let err = cmd.exec();
    Err(child::spawn_error(prog, &err))
}
