//! The fault-tolerant copy routines and the SIGSEGV/SIGBUS handler that makes them safe.
//!
//! `uaccess_copy` drives the routines directly through the library's test hooks (bad pointers
//! of every kind must report a fault, never crash). `uaccess_signals` checks that a program's
//! own SIGSEGV/SIGBUS handling is unchanged by the library's handler: every scenario runs
//! without and with the library, with the handler installed before and after the program sets
//! its own, and must print the same and end the same way (exit code or killing signal).

use std::os::unix::process::ExitStatusExt;

use statcache_tests::common::{assert_same, compile_c, Invocation, Outcome, TempDir};

const SIGBUS: i32 = 7;
const SIGSEGV: i32 = 11;

fn assert_no_fail(what: &str, o: &Outcome) {
    let fails: Vec<&str> = o.stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(
        fails.is_empty(),
        "{what}: self-checks failed:\n{}\n--- stderr:\n{}",
        fails.join("\n"),
        o.stderr
    );
}

/// Runs the copy probe under the library and returns its output.
fn copy_probe(case: &str) -> Outcome {
    let tmp = TempDir::new(&format!("uaccess-copy-{case}"));
    let probe = compile_c("uaccess_copy", &["-pthread"]);
    let with = Invocation::new(&probe, tmp.path())
        .arg(case)
        .run_preloaded(&tmp)
        .outcome;
    assert!(
        with.status.success(),
        "uaccess_copy {case}: {}\n{}\n{}",
        with.status_text(),
        with.stdout,
        with.stderr
    );
    assert!(
        !with.stdout.contains("no-selftest"),
        "the library does not export the selftest hooks"
    );
    assert_no_fail(&format!("uaccess_copy {case}"), &with);
    with
}

#[test]
fn copy_routines_report_faults_for_bad_pointers() {
    let out = copy_probe("cases");
    let expected = [
        "short 19",
        "empty 0",
        "null -1",
        "low-address -1",
        "prot-none -1",
        "vsyscall-page -1",
        "kernel-half -1",
        "non-canonical -1",
        "top -1",
        "page-end-lengths ok",
        "max-length ok-if-no-FAIL",
        "too-long-at-guard -2",
        "unterminated-4095-at-guard -1",
        "write-ok 0",
        "write-null -1",
        "write-zero-length-null 0",
        "write-prot-none -1",
        "write-vsyscall -1",
        "write-read-only -1",
        "write-text -1",
        "write-straddle -1",
        "write-straddle-large -1",
        "bus-read -1",
        "bus-read-into -1",
        "bus-read-nul-before 9",
        "bus-write -1",
        "bus-write-straddle -1",
        "sigsegv-after SIG_DFL flags=0",
        "sigbus-after SIG_DFL flags=0",
    ];
    let got: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(got, expected, "uaccess_copy cases:\n{}", out.stdout);
}

#[test]
fn copy_path_reads_each_byte_once() {
    let out = copy_probe("race");
    assert!(out.stdout.contains("race bad=0"), "{}", out.stdout);
}

#[test]
fn copy_routines_are_fast() {
    let out = copy_probe("speed");
    eprintln!("{}", out.stdout.trim());
}

/// How a scenario must end without the library (checked, so the probe tests what it means to).
#[derive(Clone, Copy, Debug)]
enum End {
    Exit0,
    Killed(i32),
}

fn check_end(what: &str, o: &Outcome, end: End) {
    let ok = match end {
        End::Exit0 => o.status.code() == Some(0),
        End::Killed(sig) => o.status.signal() == Some(sig),
    };
    assert!(
        ok,
        "{what}: expected {end:?}, got {}\n{}\n{}",
        o.status_text(),
        o.stdout,
        o.stderr
    );
}

/// Runs `uaccess_signals SCENARIO` with the library's handler installed before and after the
/// program's own, each without and with the library, and requires the same results.
fn same_as_without(scenario: &str, end: End) {
    let tmp = TempDir::new(&format!("uaccess-{scenario}"));
    let probe = compile_c("uaccess_signals", &["-pthread"]);
    for when in ["before", "after"] {
        let what = format!("uaccess_signals {scenario} {when}");
        let inv = Invocation::new(&probe, tmp.path()).args([scenario, when]);
        let plain = inv.run_plain();
        check_end(&format!("{what} without the library"), &plain, end);
        assert_no_fail(&format!("{what} without the library"), &plain);
        let with = inv.run_preloaded(&tmp).outcome;
        assert_same(&what, &plain, &with, false);
        assert_no_fail(&what, &with);
        if when == "after" {
            assert!(
                with.stderr.contains("selftest: installed"),
                "{what}: the hook did not install the handler:\n{}",
                with.stderr
            );
        }
    }
}

#[test]
fn own_handler_via_sigaction_catches_its_faults() {
    same_as_without("catch-sigaction", End::Exit0);
}

#[test]
fn own_handler_with_siginfo_catches_its_faults() {
    same_as_without("catch-siginfo", End::Exit0);
}

#[test]
fn own_handler_via_signal_catches_its_faults() {
    same_as_without("catch-signal", End::Exit0);
}

#[test]
fn own_handler_via_bsd_signal_catches_its_faults() {
    same_as_without("catch-bsd_signal", End::Exit0);
}

#[test]
fn own_handler_via_sigset_catches_its_faults() {
    same_as_without("catch-sigset", End::Exit0);
}

#[test]
fn sysv_signal_is_one_shot() {
    same_as_without("sysv", End::Killed(SIGSEGV));
}

#[test]
fn fault_without_handler_kills_with_sigsegv() {
    same_as_without("die", End::Killed(SIGSEGV));
}

#[test]
fn own_sigbus_handler_catches_truncated_mapping() {
    same_as_without("bus-catch", End::Exit0);
}

#[test]
fn truncated_mapping_without_handler_kills_with_sigbus() {
    same_as_without("bus-die", End::Killed(SIGBUS));
}

#[test]
fn sigaction_reports_the_programs_action() {
    same_as_without("query", End::Exit0);
}

#[test]
fn errors_are_libcs() {
    same_as_without("errors", End::Exit0);
}

#[test]
fn bad_act_and_oact_fault_as_in_libc() {
    same_as_without("badptr", End::Killed(SIGSEGV));
}

#[test]
fn ignored_sigsegv_still_kills_on_a_fault() {
    same_as_without("ignore-sigaction", End::Killed(SIGSEGV));
    same_as_without("ignore-signal", End::Killed(SIGSEGV));
    same_as_without("ignore-sigignore", End::Killed(SIGSEGV));
}

#[test]
fn inherited_ignored_sigsegv_declines_install() {
    let tmp = TempDir::new("uaccess-inherited-ignore");
    let probe = compile_c("uaccess_signals", &["-pthread"]);
    let inv = Invocation::new("/bin/sh", tmp.path()).args([
        "-c".as_ref(),
        "trap '' SEGV; exec \"$0\" inherited-ignore".as_ref(),
        probe.as_os_str(),
    ]);
    let plain = inv.run_plain();
    check_end(
        "inherited-ignore without the library",
        &plain,
        End::Killed(SIGSEGV),
    );
    let with = inv.run_preloaded(&tmp).outcome;
    assert_same("inherited-ignore", &plain, &with, false);
    assert!(
        with.stderr.contains("selftest: not installed (-3)"),
        "{}",
        with.stderr
    );
}

#[test]
fn asynchronous_sigsegv_reaches_the_handler() {
    same_as_without("async-handler", End::Exit0);
}

#[test]
fn asynchronous_sigsegv_without_handler_kills() {
    same_as_without("async-die", End::Killed(SIGSEGV));
}

#[test]
fn resethand_resets_to_default() {
    same_as_without("resethand", End::Killed(SIGSEGV));
}

#[test]
fn handler_runs_with_the_kernels_mask() {
    same_as_without("masks", End::Exit0);
}

#[test]
fn handler_may_change_the_ucontext() {
    same_as_without("ucontext", End::Exit0);
}

#[test]
fn faults_in_many_threads() {
    same_as_without("threads", End::Exit0);
}

#[test]
fn faults_on_a_minimal_alternate_stack() {
    same_as_without("altstack", End::Exit0);
}
