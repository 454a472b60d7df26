//! Finding `libstatcache.so` and composing `LD_PRELOAD` with and without it.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// The library's file name.
pub const LIB_NAME: &str = "libstatcache.so";

/// Finds the library: `$STATCACHE_LIB` if set, else `libstatcache.so` beside the running binary,
/// else `../lib/libstatcache.so` relative to it. The path returned is absolute. On failure the error
/// says where it looked.
pub fn find_library() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().and_then(|p| p.canonicalize());
    locate(std::env::var_os("STATCACHE_LIB"), exe.ok().as_deref())
}

/// [`find_library`] with its inputs spelled out.
fn locate(env_lib: Option<OsString>, exe: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(lib) = env_lib.filter(|s| !s.is_empty()) {
        let lib = PathBuf::from(lib);
        return match lib.canonicalize() {
            Ok(p) if p.is_file() => usable(p),
            _ => Err(format!(
                "STATCACHE_LIB={} does not name a file",
                lib.display()
            )),
        };
    }
    let Some(dir) = exe.and_then(Path::parent) else {
        return Err("cannot find the statcache binary's own path; set STATCACHE_LIB".into());
    };
    let candidates = [dir.join(LIB_NAME), dir.join("../lib").join(LIB_NAME)];
    for c in &candidates {
        if let Ok(p) = c.canonicalize() {
            if p.is_file() {
                return usable(p);
            }
        }
    }
    Err(format!(
        "{LIB_NAME} not found (looked for {} and {}; set STATCACHE_LIB)",
        candidates[0].display(),
        candidates[1].display()
    ))
}

/// `LD_PRELOAD` splits on `:` and whitespace, so a path holding one cannot be preloaded.
fn usable(p: PathBuf) -> Result<PathBuf, String> {
    if p.as_os_str().as_bytes().iter().any(|&b| is_separator(b)) {
        Err(format!(
            "{} contains ':' or whitespace, which LD_PRELOAD cannot express",
            p.display()
        ))
    } else {
        Ok(p)
    }
}

fn is_separator(b: u8) -> bool {
    b == b':' || b.is_ascii_whitespace()
}

/// Whether an `LD_PRELOAD` entry is this library (the same path, or any file of its name).
fn is_statcache(entry: &[u8], lib: Option<&Path>) -> bool {
    let base = entry.rsplit(|&b| b == b'/').next().unwrap_or(entry);
    base == LIB_NAME.as_bytes() || lib.is_some_and(|l| l.as_os_str().as_bytes() == entry)
}

/// The entries of `existing` other than this library, in their order.
fn others<'a>(existing: Option<&'a OsStr>, lib: Option<&Path>) -> Vec<&'a [u8]> {
    existing
        .map(|s| s.as_bytes())
        .unwrap_or_default()
        .split(|&b| is_separator(b))
        .filter(|e| !e.is_empty() && !is_statcache(e, lib))
        .collect()
}

/// `LD_PRELOAD` with `lib` first and every other entry of `existing` kept, separated by `:`.
pub fn with_library(lib: &Path, existing: Option<&OsStr>) -> OsString {
    let mut entries = vec![lib.as_os_str().as_bytes()];
    entries.extend(others(existing, Some(lib)));
    OsString::from_vec(entries.join(&b':'))
}

/// `LD_PRELOAD` without this library; `None` when nothing else is left (unset the variable).
pub fn without_library(lib: Option<&Path>, existing: Option<&OsStr>) -> Option<OsString> {
    let entries = others(existing, lib);
    (!entries.is_empty()).then(|| OsString::from_vec(entries.join(&b':')))
}

/// Names of the `STATCACHE_*` variables in this process's environment.
pub fn statcache_vars() -> Vec<OsString> {
    std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| k.as_bytes().starts_with(b"STATCACHE"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> OsString {
        OsString::from(s)
    }

    #[test]
    fn prepends_and_keeps_existing_entries() {
        let lib = Path::new("/opt/sc/libstatcache.so");
        assert_eq!(with_library(lib, None), os("/opt/sc/libstatcache.so"));
        assert_eq!(
            with_library(lib, Some(&os(""))),
            os("/opt/sc/libstatcache.so")
        );
        assert_eq!(
            with_library(lib, Some(&os("/a/liba.so:/b/libb.so"))),
            os("/opt/sc/libstatcache.so:/a/liba.so:/b/libb.so")
        );
        // Spaces are separators too; empty entries are dropped.
        assert_eq!(
            with_library(lib, Some(&os(" liba.so  libb.so::"))),
            os("/opt/sc/libstatcache.so:liba.so:libb.so")
        );
    }

    #[test]
    fn never_preloads_twice() {
        let lib = Path::new("/opt/sc/libstatcache.so");
        let existing = os("/old/libstatcache.so:/a/liba.so:/opt/sc/libstatcache.so");
        assert_eq!(
            with_library(lib, Some(&existing)),
            os("/opt/sc/libstatcache.so:/a/liba.so")
        );
    }

    #[test]
    fn without_library_strips_it() {
        let lib = Path::new("/opt/sc/libstatcache.so");
        assert_eq!(without_library(Some(lib), None), None);
        assert_eq!(
            without_library(Some(lib), Some(&os("/opt/sc/libstatcache.so"))),
            None
        );
        assert_eq!(
            without_library(None, Some(&os("libstatcache.so:/a/liba.so"))),
            Some(os("/a/liba.so"))
        );
        assert_eq!(
            without_library(Some(lib), Some(&os("/a/liba.so"))),
            Some(os("/a/liba.so"))
        );
    }

    #[test]
    fn locates_library() {
        let dir = std::env::temp_dir().join(format!("statcache-cli-test-{}", std::process::id()));
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let exe = bin.join("statcache");
        assert!(locate(None, Some(&exe)).unwrap_err().contains("not found"));
        assert!(locate(None, None).is_err());
        std::fs::create_dir_all(dir.join("lib")).unwrap();
        std::fs::write(dir.join("lib").join(LIB_NAME), b"").unwrap();
        let found = locate(None, Some(&exe)).unwrap();
        assert_eq!(
            found,
            dir.join("lib").join(LIB_NAME).canonicalize().unwrap()
        );
        std::fs::write(bin.join(LIB_NAME), b"").unwrap();
        assert_eq!(
            locate(None, Some(&exe)).unwrap(),
            bin.join(LIB_NAME).canonicalize().unwrap()
        );
        let env = dir.join("lib").join(LIB_NAME).into_os_string();
        assert_eq!(locate(Some(env), Some(&exe)).unwrap(), found);
        assert!(locate(Some(os("/nonexistent/x.so")), Some(&exe)).is_err());
        let spaced = dir.join("a b");
        std::fs::create_dir_all(&spaced).unwrap();
        std::fs::write(spaced.join(LIB_NAME), b"").unwrap();
        let err = locate(Some(spaced.join(LIB_NAME).into_os_string()), None).unwrap_err();
        assert!(err.contains("whitespace"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
