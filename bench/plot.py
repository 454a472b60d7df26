#!/usr/bin/env python3
"""Plots for one benchmark run: per-call latency against path depth, thread scaling, and the
ratios of the process-level cases. Usage: plot.py RUN_DIR PLOTS_DIR

Reads the JSON files `statcache-bench` wrote into RUN_DIR; writes PNG files into PLOTS_DIR.
Error bars span the min and max of the blocks (or runs) behind each median.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(run, name):
    try:
        with open(os.path.join(run, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def err(s, scale=1.0):
    """(median, [[lower], [upper]]) error-bar arguments for one summary."""
    m = s["median"] / scale
    return m, [[m - s["min"] / scale], [s["max"] / scale - m]]


def series(rows, key, scale=1.0):
    ys, lo, hi = [], [], []
    for r in rows:
        m, e = err(r[key], scale)
        ys.append(m)
        lo.append(e[0][0])
        hi.append(e[1][0])
    return ys, [lo, hi]


def percall(d, out):
    kinds = ["hit", "negative", "miss"]
    entries = ["stat", "lstat", "fstatat", "statx"]
    fig, axes = plt.subplots(3, 4, figsize=(16, 11), sharex=True)
    for i, kind in enumerate(kinds):
        for j, entry in enumerate(entries):
            ax = axes[i][j]
            for form, style in (("relative", "-"), ("absolute", "--")):
                rows = [r for r in d["rows"] if r["kind"] == kind and r["entry"] == entry and r["form"] == form]
                rows.sort(key=lambda r: r["depth"])
                xs = [r["depth"] for r in rows]
                for key, label, color in (("lib_ns", "library", "C0"), ("real_ns", "raw syscall", "C1"),
                                          ("libc_ns", "libc (bypassing library)", "C2")):
                    ys, e = series(rows, key)
                    ax.errorbar(xs, ys, yerr=e, fmt=style, marker="o", ms=3, capsize=2, color=color,
                                alpha=0.5 if key == "libc_ns" else 1.0, label=f"{label}, {form}")
            medians = [r[k]["median"] for r in d["rows"] if r["kind"] == kind and r["entry"] == entry
                       for k in ("lib_ns", "real_ns", "libc_ns")]
            ax.set_ylim(0, 2.0 * max(medians))
            ax.set_title(f"{entry}: {kind}")
            ax.set_xscale("log", base=2)
            ax.set_xticks([1, 3, 6, 12, 24])
            ax.set_xticklabels(["1", "3", "6", "12", "24"])
            if j == 0:
                ax.set_ylabel("ns per call (median, min-max)")
            if i == 2:
                ax.set_xlabel("components in the relative path")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Per-call latency against path depth (absolute paths dashed; "
                 "y axis cut at twice the largest median, so some max whiskers are clipped)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "percall_depth.png"), dpi=90)
    plt.close(fig)


def threads(d, out):
    modes = ["same-file", "own-file"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, mode in zip(axes, modes):
        rows = sorted((r for r in d["rows"] if r["mode"] == mode), key=lambda r: r["threads"])
        xs = [r["threads"] for r in rows]
        for key, label in (("lib_calls_per_s", "library"), ("real_calls_per_s", "raw syscall")):
            ys, e = series(rows, key, 1e6)
            ax.errorbar(xs, ys, yerr=e, marker="o", capsize=3, label=label)
        ax.axvline(d["nproc"], color="grey", ls=":", lw=1)
        ax.set_title(f"{mode} (nproc = {d['nproc']})")
        ax.set_xlabel("threads")
        ax.set_ylabel("million stat calls per second, total")
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.set_ylim(bottom=0)
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "threads.png"), dpi=90)
    plt.close(fig)


def ratios(run, out):
    labels, vals, lo, hi = [], [], [], []

    def add(label, r):
        p = r.get("ratio_pairs") or {}
        v = r.get("ratio", 0.0)
        labels.append(label)
        vals.append(v)
        lo.append(max(0.0, v - p.get("min", v)))
        hi.append(max(0.0, p.get("max", v) - v))

    s = load(run, "startup.json")
    for r in (s or {}).get("rows", []):
        add("start-up: " + os.path.basename(r["prog"]), r)
    o = load(run, "others.json")
    for r in (o or {}).get("rows", []):
        add(f"others: {r['op']}, {r['holders']} holders", r)
    w = load(run, "workloads.json")
    for r in (w or {}).get("rows", []):
        if "ratio" in r:
            add("workload: " + r["name"], r)
    if not labels:
        return
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(labels) + 1.5))
    ys = range(len(labels))
    for y, v, a, b in zip(ys, vals, lo, hi):
        ax.errorbar([v], [y], xerr=[[a], [b]], fmt="o", capsize=4, color="C3" if v > 1.0 else "C2")
    ax.axvline(1.0, color="black", lw=1)
    ax.grid(axis="x", alpha=0.3)
    ax.set_yticks(list(ys))
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.set_xlabel("time with library / time without (above 1.0: slower with the library);\n"
                  "dot: ratio of medians, whiskers: range of side-by-side ratios")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "ratios.png"), dpi=90)
    plt.close(fig)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py RUN_DIR PLOTS_DIR")
    run, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    d = load(run, "percall.json")
    if d:
        percall(d, out)
    d = load(run, "threads.json")
    if d:
        threads(d, out)
    ratios(run, out)
    print(f"plots written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
