#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compares two scripts/bench runs cell by cell: whether the benchmark repeats.

    bench/bench_compare.py RUN_A RUN_B [--impl lfq] [--tolerance 0.15]

RUN_A and RUN_B are bench-results directories (copies of build/release/bench-results). For
every placement-table cell (rings and pools, spread and packed) of the implementation named
by --impl (default: every lfq row) it prints both medians and their ratio, and for every
ratio of that implementation to a peer measured in the same run (the targets' ratios) both
ratios and theirs. A line whose two values differ by more than the tolerance (default ±15 %)
is marked; the exit status is 1 if any is. It counts spread and packed apart, and first
prints each run's machine state (run.json): the CPU pressure at the start and the
cross-CPU hand-off before and after the spread cells. On a virtual machine the host may
move the vCPUs (two hyperthreads of one core, two cores, two sockets), which changes every
spread figure; the hand-off shows it, and the comparison says so.
"""

import json

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_placement  # noqa: E402
import bench_report  # noqa: E402


def cells(directory):
    """{label: value} of the placement tables' throughput cells, and of lfq ÷ peer ratios."""
    rows, _, _ = bench_report.load(directory)
    out = {}
    ring = bench_placement.ring_rows(rows)
    for (impl, shape, cap, where), r in ring.items():
        if where in ("spread", "packed") and not r.get("error") and r.get("items_per_second"):
            out[("ring", impl, f"{shape} {bench_placement.cap_label(cap)} {where}")] = \
                r["items_per_second"]
    pool = bench_placement.pool_rows(rows)
    for (impl, job, w, s, where), r in pool.items():
        if where in ("spread", "packed") and not r.get("error") and r.get("items_per_second"):
            out[("pool", impl, f"{job} W{w}/S{s} {where}")] = r["items_per_second"]
    return out


def ratios(values, mine):
    """{(group, 'mine ÷ peer', case): ratio} for every peer measured in the same cell."""
    out = {}
    for (group, impl, case), v in values.items():
        if not impl.startswith(mine):
            continue
        for (g2, peer, c2), pv in values.items():
            if g2 == group and c2 == case and not peer.startswith("lfq") and pv:
                out[(group, f"{impl} ÷ {peer}", case)] = v / pv
    return out


def machine(directory):
    try:
        with open(os.path.join(directory, "run.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def handoffs(run):
    return [run[k] for k in ("handoff_ns_before", "handoff_ns_after") if run.get(k)]


def print_machines(dirs, tolerance):
    """Each run's machine state; whether the host's CPU placement held (hand-off)."""
    seen = []
    for name, directory in zip("AB", dirs):
        run = machine(directory)
        h = handoffs(run)
        seen += h
        print(f"run {name}: {run.get('id', '?')}, CPU pressure at start "
              f"{run.get('cpu_pressure_start', '?')} %, cross-CPU hand-off "
              f"{' → '.join(f'{v:.0f} ns' for v in h) or '?'}")
    if seen and max(seen) > min(seen) * (1 + tolerance):
        print(f"the cross-CPU hand-off moved ({min(seen):.0f}–{max(seen):.0f} ns): the host "
              "placed the vCPUs differently during these runs, so their spread cells do not "
              "measure the same machine")


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    mine = "lfq"
    tolerance = 0.15
    if "--impl" in argv:
        mine = argv[argv.index("--impl") + 1]
        args.remove(mine)
    if "--tolerance" in argv:
        t = argv[argv.index("--tolerance") + 1]
        tolerance = float(t)
        args.remove(t)
    if len(args) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    print_machines(args, tolerance)
    a, b = cells(args[0]), cells(args[1])
    bad = total = 0
    counts = {}
    sections = [("cells (M items/s or jobs/s)", {k: v for k, v in a.items() if k[1].startswith(mine)},
                 {k: v for k, v in b.items() if k[1].startswith(mine)}, 1e6),
                ("ratios to peers of the same run", ratios(a, mine), ratios(b, mine), 1)]
    for title, va, vb, scale in sections:
        print(f"\n{title}: run A | run B | B / A")
        for key in sorted(set(va) & set(vb)):
            x, y = va[key], vb[key]
            off = abs(y / x - 1) > tolerance if x else True
            bad += off
            total += 1
            where = key[2].rsplit(" ", 1)[-1]
            n, nbad = counts.get(where, (0, 0))
            counts[where] = (n + 1, nbad + off)
            print(f"  {key[0]:4} {key[1]:22} {key[2]:24} {x / scale:9.2f} | {y / scale:9.2f} | "
                  f"{y / x if x else float('nan'):.2f}{'  ⚠' if off else ''}")
    print(f"\n{total - bad} of {total} within ±{tolerance:.0%} (" + ", ".join(
        f"{w}: {n - nbad} of {n}" for w, (n, nbad) in sorted(counts.items())) + ")")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
