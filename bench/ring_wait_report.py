#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Summarise ring_wait results from Google Benchmark JSON files.

Reads any number of JSON reports (bench_ring_wait's --benchmark_out and the Go peer's
-json / -out output; both use the same format), takes the "median" aggregate of each
ring_wait benchmark (or the single run when a file has no aggregates), and prints
items/s for throughput and p50/p99/p99.9 latency for ping-pong per implementation, then
the ratios of lfq to every other implementation.

    bench/ring_wait_report.py build/relbench/bench/ring_wait.json \\
        build/relbench/bench/chanbench.json
"""

import json
import sys


def parse_name(name):
    """'ring_wait/throughput/lfq/P1C1/iterations:1/...' -> ('throughput P1C1', 'lfq')."""
    parts = name.split("/")
    if len(parts) < 3 or parts[0] != "ring_wait":
        return None
    bench, impl = parts[1], parts[2]
    if len(parts) > 3 and parts[3].startswith("P"):
        bench += " " + parts[3]
    return bench, impl


def load(paths):
    """{(bench, impl): entry}; a median aggregate wins over a single run."""
    rows = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
        for b in report.get("benchmarks", []):
            if b.get("error_occurred"):
                print(f"{path}: {b['name']}: {b.get('error_message')}", file=sys.stderr)
                continue
            key = parse_name(b.get("run_name", b["name"]))
            if key is None:
                continue
            if b.get("run_type") == "aggregate":
                if b.get("aggregate_name") == "median":
                    rows[key] = b
            elif key not in rows:
                rows[key] = b
    return rows


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    rows = load(argv[1:])
    benches = sorted({k[0] for k in rows})
    impls = sorted({k[1] for k in rows}, key=lambda i: (i != "lfq", i))
    metrics = {}  # bench -> [(label, field)]
    for bench in benches:
        if bench.startswith("pingpong"):
            metrics[bench] = [("items/s", "items_per_second"), ("p50 ns", "p50_ns"),
                              ("p99 ns", "p99_ns"), ("p99.9 ns", "p999_ns")]
        else:
            metrics[bench] = [("items/s", "items_per_second")]

    print(f"{'benchmark':<20} {'metric':<9}" + "".join(f"{i:>14}" for i in impls))
    for bench in benches:
        for label, field in metrics[bench]:
            cells = []
            for impl in impls:
                v = rows.get((bench, impl), {}).get(field)
                cells.append(f"{v:>14.4g}" if v is not None else f"{'-':>14}")
            print(f"{bench:<20} {label:<9}" + "".join(cells))

    others = [i for i in impls if i != "lfq"]
    if "lfq" not in impls or not others:
        return 0
    print()
    print("ratios lfq/<impl> (items/s: > 1 is lfq faster; latency: < 1 is lfq faster)")
    print(f"{'benchmark':<20} {'metric':<9}" + "".join(f"{'lfq/' + i:>14}" for i in others))
    for bench in benches:
        for label, field in metrics[bench]:
            lfq = rows.get((bench, "lfq"), {}).get(field)
            cells = []
            for impl in others:
                v = rows.get((bench, impl), {}).get(field)
                ok = lfq is not None and v
                cells.append(f"{lfq / v:>14.3f}" if ok else f"{'-':>14}")
            print(f"{bench:<20} {label:<9}" + "".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
