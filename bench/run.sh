#!/usr/bin/env bash
# Regenerates every benchmark result: raw data under bench/runs/<date>-<host>[-quick]/,
# plots under bench/plots/, and bench/RESULTS.md. See bench/README.md.
#   bench/run.sh [--quick]
set -uo pipefail

QUICK=""
for a in "$@"; do
    case "$a" in
        --quick) QUICK=--quick ;;
        -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
        *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
    esac
done

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
cd "$ROOT" || exit 1
unset LD_PRELOAD STATCACHE_STATS

echo "== building" >&2
cargo build --release -p statcache-bench || exit 1
if [ -n "${STATCACHE_LIB:-}" ]; then
    LIB=$STATCACHE_LIB
else
    LIB=$ROOT/target/release/libstatcache.so
    if ! cargo build --release -p statcache-shim; then
        [ -f "$LIB" ] || { echo "error: the library does not build and none was built before" >&2; exit 1; }
        echo "warning: the library does not build; measuring the one built before ($LIB)" >&2
    fi
fi
[ -f "$LIB" ] || { echo "error: no library at $LIB" >&2; exit 1; }
LIB=$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")
BIN=$ROOT/target/release/statcache-bench
HOST=$(hostname -s 2>/dev/null || uname -n)
RUN=$BENCH/runs/$(date +%Y-%m-%d)-$HOST${QUICK:+-quick}
OUT=$BENCH/out   # scratch space, not committed
rm -rf "$RUN"
mkdir -p "$RUN" "$OUT" || exit 1
START=$SECONDS
FAILED=()

# step NAME COMMAND...: runs one case; a failure is reported and the other cases still run.
step() {
    local name=$1 t0=$SECONDS
    shift
    echo "== $name" >&2
    sync   # flush what earlier cases wrote, so their writeback does not land in this one
    if ! "$@"; then
        echo "warning: $name failed" >&2
        FAILED+=("$name")
    fi
    echo "   $name: $((SECONDS - t0)) s" >&2
}

preloaded() {
    env LD_PRELOAD="$LIB" STATCACHE_MIN_REUSE=0 STATCACHE_STATS="$1" "${@:2}"
}

step machine "$BIN" machine --dir "$BENCH" --lib "$LIB" --out "$RUN/machine.json"
step per-call preloaded "$RUN/percall.stats.jsonl" \
    "$BIN" percall --dir "$OUT/percall" --out "$RUN/percall.json" $QUICK
step threads preloaded "$RUN/threads.stats.jsonl" \
    "$BIN" threads --dir "$OUT/threads" --out "$RUN/threads.json" $QUICK
step compile-stat1 cc -O2 -o "$OUT/stat1" "$BENCH/stat1.c"
step start-up "$BIN" startup --lib "$LIB" --prog /bin/true --prog "$OUT/stat1" \
    --out "$RUN/startup.json" $QUICK
step cost-to-others "$BIN" others --lib "$LIB" --dir "$OUT/others" --out "$RUN/others.json" $QUICK
step workloads "$BIN" workloads --lib "$LIB" --work "$OUT/work" --run "$RUN" \
    --out "$RUN/workloads.json" $QUICK
# Remove the large scratch trees of the in-process cases; the workload inputs are kept for reuse.
rm -rf "$OUT/percall" "$OUT/threads" "$OUT/others"

echo "== plots" >&2
PY=$(command -v python3 || true)
if [ -n "$PY" ] && ! "$PY" -c 'import matplotlib' 2>/dev/null; then
    "$PY" -m pip install --user --quiet matplotlib >&2 || true
fi
if [ -n "$PY" ] && "$PY" -c 'import matplotlib' 2>/dev/null; then
    "$PY" "$BENCH/plot.py" "$RUN" "$BENCH/plots" || echo "warning: plotting failed" >&2
else
    echo "warning: matplotlib is not available; no plots" >&2
fi
step report "$BIN" report --run "$RUN" --results "$BENCH/RESULTS.md" --command "bench/run.sh${QUICK:+ $QUICK}"

echo "== done in $((SECONDS - START)) s: $RUN, bench/RESULTS.md" >&2
if [ ${#FAILED[@]} -gt 0 ]; then
    echo "failed: ${FAILED[*]}" >&2
    exit 1
fi
