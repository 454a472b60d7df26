//! Every one of the 17 exported entry points, on every kind of path, descriptor, flag and mask,
//! answers exactly as glibc does without the library, and is counted under its own name.

use statcache_tests::common::{
    assert_counts, assert_same, assert_success, compile_c, make_tree, probe_counts,
    single_stats_line, stat_u64, Invocation, TempDir, EAGER_CACHE, ENTRY_POINTS,
};

/// Passes over the whole call list: later passes may be answered from the cache.
const PASSES: u32 = 3;

#[test]
fn every_entry_point_answers_like_glibc() {
    let tmp = TempDir::new("entry-points");
    let work = make_tree(&tmp.join("tree"));
    let probe = compile_c("entry_points", &[]);
    let inv = Invocation::new(&probe, &work).arg(PASSES.to_string());

    let plain = inv.run_plain();
    assert_success("entry_points probe without the library", &plain);
    // The tree must not change under the probe, or the comparison below means nothing.
    let plain_again = inv.run_plain();
    assert_same(
        "entry_points probe, twice without the library",
        &plain,
        &plain_again,
        true,
    );

    let with = inv.run_preloaded(&tmp);
    assert_same("entry_points probe", &plain, &with.outcome, true);
    let (k, v) = EAGER_CACHE;
    let eager = inv.clone().env(k, v).run_preloaded(&tmp);
    assert_same(
        &format!("entry_points probe, {k}={v}"),
        &plain,
        &eager.outcome,
        true,
    );
}

#[test]
fn every_entry_point_is_counted_under_its_name() {
    let tmp = TempDir::new("entry-points-counts");
    let work = make_tree(&tmp.join("tree"));
    let probe = compile_c("entry_points", &[]);
    let inv = Invocation::new(&probe, &work).arg("1");
    let with = inv.run_preloaded(&tmp);
    assert_success("entry_points probe under the library", &with.outcome);
    let expected = probe_counts(&with.outcome.stdout);
    for name in ENTRY_POINTS {
        assert!(expected[name] > 0, "the probe never calls {name}");
    }
    let line = single_stats_line(&with);
    assert_counts(line, &expected, "entry_points probe");
}

#[test]
fn total_equals_statically_known_call_count() {
    let tmp = TempDir::new("entry-points-total");
    let work = make_tree(&tmp.join("tree"));
    let probe = compile_c("entry_points", &[]);
    let inv = Invocation::new(&probe, &work).arg("count");
    let plain = inv.run_plain();
    assert_success("entry_points count without the library", &plain);
    let with = inv.run_preloaded(&tmp);
    assert_same("entry_points count", &plain, &with.outcome, true);

    // Entry point i (contract order) is called i+1 times: 1 + 2 + ... + 17.
    let expected: std::collections::BTreeMap<String, u64> = ENTRY_POINTS
        .iter()
        .enumerate()
        .map(|(i, n)| (n.to_string(), i as u64 + 1))
        .collect();
    assert_eq!(probe_counts(&plain.stdout), expected, "probe's own counts");
    let line = single_stats_line(&with);
    assert_eq!(stat_u64(line, "total"), 153, "total: {line}");
    assert_counts(line, &expected, "entry_points count");
}
