#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/bench_report.py --fill-docs against small results written here.

Checks that the tables of the suites in a run land between their markers with the run's
stamp, with a column for every implementation in the JSON (names it does not know too),
that a second fill changes nothing, that a suite missing from the run leaves its old table
and the runs summary says the pages mix runs, and that --one-run then refuses and writes
nothing. The placement tables: spread and packed side by side, each cell a median with its
min-max and a mark where that leaves ±15 %, CPU ns per item, and a verdict for each target.

    tests/test_bench_report.py bench/bench_report.py
"""

import json
import os
import subprocess
import sys
import tempfile

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f"FAIL: {what}")


def bench(name, **counters):
    """One median aggregate as Google Benchmark writes it."""
    b = {"name": name + "_median", "run_name": name, "run_type": "aggregate",
         "aggregate_name": "median", "repetitions": 3, "real_time": counters.pop("ms", 1.0),
         "time_unit": "ms"}
    b.update(counters)
    return b


def spread(name, metric, lo, hi):
    """The min and max statistics (bench_common.h's with_spread) of one benchmark."""
    return [{"name": f"{name}_{agg}", "run_name": name, "run_type": "aggregate",
             "aggregate_name": agg, "repetitions": 3, "real_time": 1.0, "time_unit": "ms",
             metric: v} for agg, v in (("min", lo), ("max", hi))]


def placed(name, rate, lo, hi, metric="items_per_second", **counters):
    return [bench(name, **{metric: rate}, **counters)] + spread(name, metric, lo, hi)


def write_json(path, benchmarks, cpu="Test CPU 9000", **context):
    ctx = {"date": "2030-01-02T03:04:05+00:00", "cpu_model": cpu, "cpus_allowed": 3,
           "num_cpus": 3, **context}
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"context": ctx, "benchmarks": benchmarks}, f)


def results(directory, date, pool_rate):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "run.json"), "w", encoding="utf-8") as f:
        json.dump({"id": date, "date": date, "cpu_model": "Test CPU 9000", "vcpus": 3,
                   "command": "scripts/bench --only pool,tutorial"}, f)
    write_json(os.path.join(directory, "pool.json"), [
        bench("pool/throughput/lfq/empty/W2/C1024", items_per_second=pool_rate),
        bench("pool/throughput/mutex/empty/W2/C1024", items_per_second=2.0e6),
        # A peer the report has never heard of: it must still get its column.
        bench("pool/throughput/zz_newpeer/empty/W2/C1024", items_per_second=1.5e6),
        bench("pool/latency/lfq", p50_ns=2500.0, p99_ns=30000.0, p999_ns=2.5e6),
    ] + spread("pool/throughput/lfq/empty/W2/C1024", "items_per_second", pool_rate * 0.8,
               pool_rate * 1.01) + spread("pool/latency/lfq", "p99_ns", 29000.0, 31000.0))
    write_json(os.path.join(directory, "tutorial.json"), [
        bench(f"pool/tutorial/{impl}/io/S2ms/W{w}/Q{q}", ms=200.0 / w * 1.05,
              ideal_ms=200.0 / w)
        for impl in ("lfq", "mutex") for w in (1, 2) for q in (10, 100)
    ])


DOC = """# Benchmarks

<!-- bench-runs:begin -->
<!-- bench-runs:end -->

## Pool

<!-- pool-table:begin -->
<!-- pool-table:end -->

<!-- pool-latency:begin -->
<!-- pool-latency:end -->

## Tutorial

<!-- tutorial-table:begin -->
<!-- tutorial-table:end -->

## Redis

<!-- redis-table:begin -->
| jobs/s | batch 1 |
|---|---|
| 1 source | 7.2k |

<!-- run: 2029-05-05T00:00:00Z -->
*an older run*
<!-- redis-table:end -->
"""


PLACED_DOC = """# Placement

<!-- ring-placement:begin -->
<!-- ring-placement:end -->

<!-- pool-placement:begin -->
<!-- pool-placement:end -->

<!-- pool-table:begin -->
<!-- pool-table:end -->
"""


def placement_results(directory):
    """Rings pinned spread and packed (placement in the names), pools run once per placement
    (placement in each program's context, not in the names); a busy machine at the end."""
    with open(os.path.join(directory, "run.json"), "w", encoding="utf-8") as f:
        json.dump({"id": "2030-03-04T05:06:07Z", "date": "2030-03-04T05:06:07Z",
                   "cpu_model": "Test CPU 9000", "vcpus": 2, "command": "scripts/bench",
                   "load_start": 3.5, "cpu_pressure_start": 40.0, "load_end": 0.1,
                   "cpu_pressure_end": 0.0, "handoff_ns_before": 210.0,
                   "handoff_ns_after": 35.0}, f)
    ring = []
    for impl, s64, p64 in (("lfq", 20e6, 60e6), ("vyukov", 40e6, 65e6)):
        for cap in (1024, 65536):
            ring += placed(f"ring/mpmc/{impl}/P1C1/cap{cap}/spread", s64, s64 * 0.5, s64 * 1.05,
                           cpu_ns_per_item=77.0)
            ring += placed(f"ring/mpmc/{impl}/P1C1/cap{cap}/packed", p64, p64 * 0.95, p64)
    write_json(os.path.join(directory, "ring.json"), ring)
    for where, go in (("packed", 8e6), ("free", 4e6)):
        write_json(os.path.join(directory, f"pool.{where}.json"),
                   placed("pool/throughput/lfq/empty/W2/S1/C1024", 6e6, 5.9e6, 6.1e6,
                          metric="jobs_per_s", cpu_ns_per_job=150.0) +
                   placed("pool/throughput/glib/empty/W2/S1/C1024", 2e6, 1.9e6, 2.1e6,
                          metric="jobs_per_s"), placement=where)
        write_json(os.path.join(directory, f"pool.{where}_go.json"),
                   placed("pool/throughput/go/empty/W2/S1/C1024", go, go, go,
                          metric="jobs_per_s", cpu_ns_per_job=100.0), placement=where)


def check_placement(script, tmp):
    res, docs = os.path.join(tmp, "placed"), os.path.join(tmp, "placed-docs")
    os.makedirs(res)
    os.makedirs(docs)
    with open(os.path.join(docs, "benchmarks.md"), "w", encoding="utf-8") as f:
        f.write(PLACED_DOC)
    placement_results(res)
    r = report(script, res, docs)
    check(r.returncode == 0, f"placement report exits 0 (stderr: {r.stderr.strip()})")
    text = read_all(docs)["benchmarks.md"]
    ring = block(text, "ring-placement")
    check("| ring | P1C1 1Ki spread | P1C1 1Ki packed | P1C1 64Ki spread | P1C1 64Ki packed |"
          in ring, "ring placement: spread and packed side by side")
    check("| `lfq` | 20.0 [10.0–21.0] ⚠ | 60.0 [57.0–60.0] |" in ring,
          "ring cell: median [min–max], ⚠ where the spread leaves ±15 %")
    check("| `lfq` | 77 | — |" in ring, "on-CPU ns per item beside throughput")
    check("lfq ≥ 0.9× Vyukov: **missed**, 0.50×" in ring, "a missed target, with its ratio")
    check("packed: lfq ≥ 0.85× Vyukov: **met**, 0.92×" in ring, "a met target, with its ratio")
    check("DPDK SP/SC: **not measured**" in ring, "a target whose peer did not run says so")
    check("hand-off 210 ns before, 35 ns after" in ring, "the hand-off time beside spread")
    check("load 3.5 → 0.1, CPU pressure 40 % → 0 % (**busy machine**" in ring,
          "the stamp records load and CPU pressure and flags a machine busy before the run")
    pool = block(text, "pool-placement")
    check("**packed**" in pool and "**free**" in pool, "pool: one table per placement")
    check("| empty, 2×1 | 6.0 [5.9–6.1] | 8.0 [8.0–8.0] | 2.0 [1.9–2.1] | 0.75 | 3.00 | 150 / 100 |"
          in pool, "pool row: each pool, lfq ÷ go, lfq ÷ glib, CPU ns per job")
    check("packed: lfq ≥ 1.0× the Go pool, empty jobs: **missed**, 0.75×" in pool,
          "pool target missed on one CPU")
    check("free: lfq ≥ 1.0× the Go pool, empty jobs: **met**, 1.50×" in pool,
          "pool target met on two CPUs")


def check_compare(script, tmp):
    """bench/bench_compare.py: two runs agree where they should, and a cell that moved by more
    than ±15 % (here lfq spread at 1Ki: 20 vs 30 M items/s) is marked and fails the run."""
    compare = os.path.join(os.path.dirname(script), "bench_compare.py")
    a, b = os.path.join(tmp, "cmp-a"), os.path.join(tmp, "cmp-b")
    for d in (a, b):
        os.makedirs(d)
        placement_results(d)
    r = subprocess.run([sys.executable, compare, a, b], capture_output=True, text=True)
    check(r.returncode == 0 and "⚠" not in r.stdout, f"identical runs agree: {r.stdout}")
    write_json(os.path.join(b, "ring.json"), [
        b2 for cap in (1024, 65536) for impl, rate in (("lfq", 30e6 if cap == 1024 else 20e6),
                                                      ("vyukov", 40e6))
        for b2 in placed(f"ring/mpmc/{impl}/P1C1/cap{cap}/spread", rate, rate, rate)])
    r = subprocess.run([sys.executable, compare, a, b], capture_output=True, text=True)
    check(r.returncode == 1, "a cell that moved fails the comparison")
    moved = [ln for ln in r.stdout.splitlines() if "⚠" in ln]
    check(any("lfq" in ln and "P1C1 1Ki spread" in ln and "1.50" in ln for ln in moved),
          f"the moved cell is marked with its ratio: {moved}")
    check(any("lfq ÷ vyukov" in ln and "P1C1 1Ki spread" in ln for ln in moved),
          "its ratio to the peer is marked too")
    check(not any("64Ki" in ln for ln in moved), "cells that did not move are not marked")


def read_all(directory):
    out = {}
    for fn in sorted(os.listdir(directory)):
        with open(os.path.join(directory, fn), encoding="utf-8") as f:
            out[fn] = f.read()
    return out


def block(text, name):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    return text[text.index(begin) + len(begin):text.index(end)]


def report(script, res, docs, *extra):
    return subprocess.run([sys.executable, script, res, "--no-plots", "--fill-docs", docs,
                           *extra], capture_output=True, text=True)


def main(argv):
    script = argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        res, docs = os.path.join(tmp, "results"), os.path.join(tmp, "docs")
        os.makedirs(docs)
        with open(os.path.join(docs, "benchmarks.md"), "w", encoding="utf-8") as f:
            f.write(DOC)
        with open(os.path.join(docs, "other.md"), "w", encoding="utf-8") as f:
            f.write("no markers here\n")
        results(res, "2030-01-02T03:04:05Z", 4.88e6)

        # --one-run: the docs have a redis table this run lacks, so nothing is written.
        r = report(script, res, docs, "--one-run")
        check(r.returncode != 0, "--one-run with a suite missing exits nonzero")
        check("redis-table" in r.stderr, "--one-run names the missing table")
        check(read_all(docs)["benchmarks.md"] == DOC, "--one-run wrote nothing")

        r = report(script, res, docs)
        check(r.returncode == 0, f"report exits 0 (stderr: {r.stderr.strip()})")
        first = read_all(docs)
        text = first["benchmarks.md"]
        pool = block(text, "pool-table")
        check("| empty jobs, W2, C1024 |" in pool, "pool table has the case row")
        check("4.88 [3.90–4.93] ⚠ (×2.44)" in pool,
              "pool cell: M jobs/s, the spread of the repetitions, ⚠, the ratio to mutex")
        check("2.00 (×" not in pool and "| 2.00 |" in pool,
              "a row without min and max statistics shows its median alone")
        check("`zz_newpeer`" in pool and "1.50 (×0.75)" in pool,
              "an unknown implementation gets its own column")
        check(pool.index("`lfq`") < pool.index("`mutex`") < pool.index("`zz_newpeer`"),
              "columns: preferred order, unknown names last")
        check("<!-- run: 2030-01-02T03:04:05Z -->" in pool, "pool table carries the run tag")
        check("Test CPU 9000, 3 vCPUs, `scripts/bench --only pool,tutorial`; from pool.json" in pool,
              "the stamp names CPU, vCPU count and command line")
        check("medians of 3 repetitions" in pool, "the stamp says medians of how many")
        lat = block(text, "pool-latency")
        check("| `lfq` | 2.50 µs | 30 µs [29 µs–31 µs] | 2.50 ms |" in lat,
              "pool latency row in µs/ms, with the spread where the program reports it")
        tut = block(text, "tutorial-table")
        check("| sleep 2 ms | 2 | 100 | 100 | 105.0 (0.95) | 105.0 (0.95) |" in tut,
              "tutorial row: time to finish and ideal / measured")
        check(tut.count("| sleep 2 ms |") == 4, "tutorial: one row per workers x queue")
        check("7.2k" in block(text, "redis-table") and
              "2029-05-05" in block(text, "redis-table"),
              "a suite missing from the run keeps its old table and stamp")
        runs = block(text, "bench-runs")
        check("2 runs" in runs and "`redis-table` | 2029-05-05T00:00:00Z" in runs,
              "the runs summary says the page mixes runs, and which table is older")
        check(first["other.md"] == "no markers here\n", "a file without markers is untouched")

        r = report(script, res, docs)
        check(r.returncode == 0, "second fill exits 0")
        check(read_all(docs) == first, "a second fill from the same results changes nothing")

        # A later run with different numbers replaces the tables it has.
        results(res, "2030-02-03T04:05:06Z", 6.0e6)
        r = report(script, res, docs)
        text = read_all(docs)["benchmarks.md"]
        check("6.00 [4.80–6.06] ⚠ (×3.00)" in block(text, "pool-table") and
              "4.88" not in block(text, "pool-table"), "a new run replaces the table")
        check("2030-02-03T04:05:06Z" in block(text, "pool-table"), "with the new stamp")
        runs = block(text, "bench-runs")
        check("2 runs" in runs and "2030-01-02" not in runs,
              "the summary forgets the replaced run")

        check_placement(script, tmp)
        check_compare(script, tmp)

    if FAILURES:
        print(f"{len(FAILURES)} checks failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
