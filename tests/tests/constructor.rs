//! Calls that reach the library before its own constructor has run: from the program's
//! `.preinit_array` (which runs before every library constructor) and from another library's
//! constructor. They must be answered exactly as without the library, must not crash, and must be
//! counted.
//!
//! The dynamic loader runs constructors in reverse load order, so (measured with glibc 2.36) with
//! the probe linked against `libearly`:
//! - `LD_PRELOAD=libstatcache.so`: preinit, libearly, libstatcache, main;
//! - `LD_PRELOAD=libearly.so:libstatcache.so`: preinit, libstatcache, libearly, main;
//! - `LD_PRELOAD=libstatcache.so:libearly.so`: preinit, libearly, libstatcache, main.

use std::path::PathBuf;

use statcache_tests::common::{
    assert_counts, assert_same, assert_success, compile_c, compile_c_shared, make_tree,
    probe_counts, single_stats_line, Invocation, TempDir, EAGER_CACHE,
};

/// The early library and the probe linked against it (by absolute path, so no rpath is needed).
fn probes() -> (PathBuf, PathBuf) {
    let early = compile_c_shared("ctor_early", &[]);
    let main = compile_c("ctor_main", &[early.to_str().expect("UTF-8 path")]);
    (early, main)
}

/// Runs the probe without and with the library, with `libearly` also preloaded if `preload_early`
/// (before or after statcache as `statcache_first` says); compares and checks the counts.
fn check(label: &str, preload_early: bool, statcache_first: bool) {
    let tmp = TempDir::new(label);
    let work = make_tree(&tmp.join("tree"));
    let (early, main) = probes();
    let mut inv = Invocation::new(&main, &work);
    if preload_early {
        inv.preload.push(early);
    }
    inv.statcache_first = statcache_first;

    let plain = inv.run_plain();
    assert_success(&format!("{label} without the library"), &plain);
    for phase in ["preinit", "constructor", "main"] {
        let prefix = format!("{phase} ");
        assert!(
            plain.stdout.lines().any(|l| l.starts_with(&prefix)),
            "no {phase} calls"
        );
    }
    let with = inv.run_preloaded(&tmp);
    assert_same(label, &plain, &with.outcome, true);
    let (k, v) = EAGER_CACHE;
    let eager = inv.clone().env(k, v).run_preloaded(&tmp);
    assert_same(&format!("{label}, {k}={v}"), &plain, &eager.outcome, true);

    let expected = probe_counts(&plain.stdout);
    for name in ["stat", "lstat", "statx", "__xstat"] {
        assert_eq!(expected[name], 18, "{name}: 6 paths in each of 3 phases");
    }
    assert_counts(single_stats_line(&with), &expected, label);
    assert_counts(single_stats_line(&eager), &expected, label);
}

/// libearly's constructor runs before statcache's.
#[test]
fn calls_from_preinit_and_from_linked_library_constructor() {
    check("ctor-linked", false, false);
}

/// statcache's constructor runs before libearly's.
#[test]
fn calls_from_constructor_of_library_listed_before_statcache_in_ld_preload() {
    check("ctor-preload-early-first", true, false);
}

/// libearly's constructor runs before statcache's.
#[test]
fn calls_from_constructor_of_library_listed_after_statcache_in_ld_preload() {
    check("ctor-preload-statcache-first", true, true);
}
