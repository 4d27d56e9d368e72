#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Summarise lfq benchmark results: a compact table, CSV, one JSON, and plots.

Reads every Google Benchmark JSON report in a directory (the C++ programs' --benchmark_out
and the Go peers' -out; both use the same format), takes each benchmark's "median"
aggregate (or its single run when there are no aggregates), and

  - prints tables of items/s per implementation, each with its ratio to the mutex baseline
    (and latency percentiles, the tutorial's times beside the ideal);
  - writes RESULTS/results.csv (one row per benchmark and implementation) and
    RESULTS/summary.json (the same rows plus each program's machine context);
  - renders plots with gnuplot into RESULTS/plots/*.png and *.svg, unless --no-plots;
  - from the freeze probe (bench_ring_freeze, freeze/stall/...), prints which rings stalled
    while one thread was frozen and writes that table to RESULTS/freeze.md and freeze.csv;
  - with --fill-docs DOCS (a directory, docs/, or one Markdown file), puts every suite's
    table into the files between its markers <!-- NAME:begin --> ... <!-- NAME:end -->
    (bench_docs.py: the blocks, their run stamps, and how partial runs are handled), and,
    when DOCS is a directory, the plots into DOCS/img/benchmarks/. --one-run refuses to fill
    anything unless this run has results for every table the docs have.

    bench/bench_report.py RESULTS [--no-plots] [--fill-docs DOCS [--one-run]]

RESULTS/run.json, written by scripts/bench, gives the run's date, CPU, vCPU count and command
line for the stamps.

Benchmark names are split on '/': <group>/<bench>/<impl>/<params...>, where the params are
P<p>C<c> (producers, consumers), cap<n> (capacity), pin, W<w> (workers), C<n> or Q<n>
(pool queue capacity), and a job kind. Python standard library and gnuplot only.
"""

import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_docs  # noqa: E402  (the generated parts of the docs)
import bench_placement  # noqa: E402  (the spread / packed tables and their targets)

SUFFIXES = re.compile(r"/(iterations:\d+|process_time|manual_time|real_time|repeats:\d+)")

# Display order of implementations; others follow alphabetically.
IMPL_ORDER = ["lfq", "lfq_spsc", "lfq_mpsc", "lfq_spmc", "lfq_pin", "lfq_scq", "ringb", "ringb_spread", "lfq_nopin", "lfq_queue", "lfq_queue_lim", "lfq_ring", "mutex", "spin",
              "vyukov", "ck", "ck_spsc", "ck_mpsc", "ck_spmc", "boost", "tbb", "dpdk",
              "dpdk_rts", "dpdk_hts", "dpdk_spsc", "aq_b2", "aq_b", "aq_b2_blk", "aq_b_blk",
              "aq_b2_spsc", "aq_b_spsc", "moodycamel", "xenium", "libcds", "wfcq", "rculfq",
              "glib", "uv", "go"]


def impl_key(name):
    return (IMPL_ORDER.index(name) if name in IMPL_ORDER else len(IMPL_ORDER), name)


def parse(name):
    """'ring/mpmc/lfq/P1C1/cap1024/pin/iterations:1/...' -> dict of fields, or None."""
    name = SUFFIXES.sub("", name)
    parts = name.split("/")
    if len(parts) < 3:
        return None
    row = {"name": name, "group": parts[0], "bench": parts[1], "impl": parts[2],
           "producers": "", "consumers": "", "workers": "", "submitters": "", "capacity": "",
           "pinned": 0, "placement": "", "job": ""}
    shape = []
    for p in parts[3:]:
        m = re.fullmatch(r"P(\d+)C(\d+)", p)
        if m:
            row["producers"], row["consumers"] = int(m[1]), int(m[2])
            shape.append(p)
            continue
        m = re.fullmatch(r"(?:cap|C|Q)(\d+)", p)
        if m:
            row["capacity"] = int(m[1])
            shape.append(p)
            continue
        m = re.fullmatch(r"W(\d+)", p)
        if m:
            row["workers"] = int(m[1])
            shape.append(p)
            continue
        # Submitter threads: only the pool throughput grid (redis's S<n>/B<n> is its job).
        m = re.fullmatch(r"S(\d+)", p) if parts[:2] == ["pool", "throughput"] else None
        if m:
            row["submitters"] = int(m[1])
            shape.append(p)
            continue
        if p in ("pin", "spread", "packed", "free"):
            # "pin" is what older runs called spread.
            row["placement"] = "spread" if p == "pin" else p
            row["pinned"] = int(p != "free")
            shape.append(row["placement"])
            continue
        row["job"] = (row["job"] + "/" + p).strip("/")
    row["case"] = "/".join([row["bench"]] + ([row["job"]] if row["job"] else []) + shape)
    return row


METRICS = ["items_per_second", "jobs_per_s", "p50_ns", "p99_ns", "p999_ns", "chunk_p50_us",
           "chunk_p99_us", "ideal_ms", "push_eagain_per_item", "pop_eagain_per_item",
           "vol_csw_per_item", "threads_per_cpu", "stalled", "out_of_order_per_item",
           "freezes", "stalled_producer", "stalled_consumer", "starved", "ops_per_window_p50",
           "out_of_order", "cpu_ns_per_item", "csw_per_item", "cpu_ns_per_job", "csw_per_job"]
# Every metric's spread over the repetitions (the programs' min and max statistics), which the
# tables show beside the median; the wall time too ("real_time_ms_min" / "_max").
SPREAD_METRICS = METRICS


def load(directory):
    rows, contexts, errors = {}, {}, []
    for fn in sorted(os.listdir(directory)):
        if not fn.endswith(".json") or fn == "summary.json":
            continue
        path = os.path.join(directory, fn)
        try:
            with open(path, encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, ValueError) as e:
            print(f"bench_report: {path}: {e}", file=sys.stderr)
            continue
        contexts[fn] = report.get("context", {})
        # A program run under one placement (the pool suite: LFQ_BENCH_PLACEMENT) says so in
        # its context; its rows get the placement in their names.
        where = contexts[fn].get("placement", "")
        cvs, spreads = {}, {}
        for b in report.get("benchmarks", []):
            row = parse(b.get("run_name", b["name"]))
            if row is None:
                continue
            if where in ("spread", "packed") and not row["placement"] and row["group"] == "pool":
                row["placement"] = where
                row["pinned"] = 1
                row["name"] += "/" + where
                row["case"] += "/" + where
            if fn.endswith("_scq.json") and row["impl"] == "lfq":
                # The portable backend's build of the same program (scripts/bench, designs).
                row["impl"] = "lfq_scq"
                row["name"] = row["name"].replace("/lfq/", "/lfq_scq/", 1)
            key = row["name"]
            if b.get("error_occurred"):
                row["error"] = b.get("error_message", "error")
                row["program"] = fn[:-5]
                rows.setdefault(key, row)
                if key not in [k for k, _ in errors]:
                    errors.append((key, row["error"]))
                continue
            if b.get("run_type") == "aggregate":
                if b.get("aggregate_name") == "cv":
                    cvs[key] = b.get("real_time")
                if b.get("aggregate_name") in ("min", "max"):
                    end = b["aggregate_name"]
                    for metric in SPREAD_METRICS:
                        if metric in b:
                            spreads.setdefault(key, {})[f"{metric}_{end}"] = b[metric]
                    if b.get("real_time") is not None:
                        spreads.setdefault(key, {})[f"real_time_ms_{end}"] = to_ms(
                            b["real_time"], b.get("time_unit", "ns"))
                if b.get("aggregate_name") != "median":
                    continue
            elif key in rows:
                continue
            row["program"] = fn[:-5]
            row["real_time_ms"] = to_ms(b.get("real_time"), b.get("time_unit", "ns"))
            row["repetitions"] = b.get("repetitions", 1)
            for m in METRICS:
                if m in b:
                    row[m] = b[m]
            if "jobs_per_s" in row and "items_per_second" not in row:
                row["items_per_second"] = row["jobs_per_s"]
            row["error"] = ""
            rows[key] = row
        for key, cv in cvs.items():
            if key in rows and cv is not None:
                rows[key]["cv"] = cv
        for key, values in spreads.items():
            if key in rows:
                rows[key].update(values)
                # A pool row reports jobs_per_s, read as items_per_second (above).
                for end in ("min", "max"):
                    if f"jobs_per_s_{end}" in values:
                        rows[key][f"items_per_second_{end}"] = values[f"jobs_per_s_{end}"]
    return rows, contexts, errors


def to_ms(value, unit):
    if value is None:
        return None
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}.get(unit, 1e-6)
    return value * scale


# ---------------------------------------------------------------------------------------------
# Tables


def fmt_rate(v):
    """As the docs' rate(), with the console's "-" for a missing value."""
    return "-" if v is None else bench_docs.rate(v)


def fmt_ns(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f}ms"
    if v >= 1e3:
        return f"{v / 1e3:.1f}us"
    return f"{v:.0f}ns"


def table(title, rows, metric, fmt, ratio_to="mutex", higher_better=True, width=15):
    """Rows grouped by case; one column per implementation; cell = value (xratio)."""
    cases = {}
    for r in rows:
        cases.setdefault(r["case"], {})[r["impl"]] = r
    if not cases:
        return
    impls = sorted({r["impl"] for r in rows}, key=impl_key)
    casew = max(len(c) for c in cases) + 2
    print()
    note = f"  (cell: median, and x ratio to {ratio_to}"
    note += "; > 1 is faster)" if higher_better else "; < 1 is faster)"
    print(title + note)
    print(f"{'':<{casew}}" + "".join(f"{i:>{width}}" for i in impls))
    for case in sorted(cases, key=case_sort_key):
        cells = []
        base = cases[case].get(ratio_to, {}).get(metric)
        for impl in impls:
            r = cases[case].get(impl)
            if r is None:
                cells.append("")
            elif r.get("error"):
                cells.append("error")
            else:
                v = r.get(metric)
                s = fmt(v)
                if v is not None and base and impl != ratio_to:
                    s += f" x{v / base:.2f}"
                if r.get("stalled"):
                    s = "stalled " + s  # moved this much, then no progress until the deadline
                cells.append(s)
        print(f"{case:<{casew}}" + "".join(f"{c:>{width}}" for c in cells))


def case_sort_key(case):
    """Sort numbers inside case names numerically."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", case)]


def print_tables(rows):
    by = lambda pred: [r for r in rows.values() if pred(r)]
    ring = by(lambda r: r["group"] == "ring")
    table("ring: items/s, single-item calls unless burst32", ring, "items_per_second",
          fmt_rate)
    if any(r.get("out_of_order_per_item") for r in ring):
        print("  (aq_*: atomic_queue is not FIFO under preemption, not even per producer; "
              "its runs count the order inversions, out_of_order_per_item in the CSV)")
    table("ring_wait (blocking calls): items/s",
          by(lambda r: r["group"] == "ring_wait" and r["bench"] == "throughput"),
          "items_per_second", fmt_rate)
    pp = by(lambda r: r["group"] == "ring_wait" and r["bench"] == "pingpong")
    for m, label in (("p50_ns", "p50"), ("p99_ns", "p99"), ("p999_ns", "p99.9")):
        table(f"ring_wait pingpong hand-off latency {label}", pp, m, fmt_ns,
              higher_better=False)
    table("queue: items/s (lfq_ring and mutex: 16384 slots; lfq_queue_lim: 32 x 512)",
          by(lambda r: r["group"] == "queue"), "items_per_second", fmt_rate,
          ratio_to="mutex")
    table("queue bursty: time to push one 10k chunk, p99 (us)",
          by(lambda r: r["group"] == "queue" and r["bench"] == "bursty"), "chunk_p99_us",
          lambda v: "-" if v is None else f"{v:.0f}us", higher_better=False)
    table("pool: jobs/s (submitters = workers)",
          by(lambda r: r["group"] == "pool" and r["bench"] == "throughput"),
          "items_per_second", fmt_rate)
    lat = by(lambda r: r["group"] == "pool" and r["bench"] == "latency")
    for m, label in (("p50_ns", "p50"), ("p99_ns", "p99"), ("p999_ns", "p99.9")):
        table(f"pool latency submit -> job starts {label}", lat, m, fmt_ns,
              higher_better=False)
    tut = by(lambda r: r["group"] == "pool" and r["bench"] == "tutorial")
    if tut:
        print_tutorial(tut)
    red = by(lambda r: r["group"] == "redis" and r["bench"] == "drain")
    if red:
        print_redis(red)


def print_redis(rows):
    """Issue 8: jobs/s through Redis, sources x batch, beside lfq_pool alone."""
    cells, batches = {}, set()
    base = None
    for r in rows:
        m = re.fullmatch(r"S(\d+)/B(\d+)", r["job"])
        if not m:
            continue
        v = r.get("jobs_per_s")
        if r["impl"] == "inproc":
            base = v
            continue
        cells[(int(m[1]), int(m[2]))] = r.get("error") or v
        batches.add(int(m[2]))
    batches = sorted(batches)
    print()
    print("redis: jobs/s drained through Redis Streams (2 workers per source), "
          "(x fraction of in-process lfq_pool)")
    print(f"{'sources':<10}" + "".join(f"{'batch ' + str(b):>18}" for b in batches))
    for src in sorted({k[0] for k in cells}):
        out = []
        for b in batches:
            v = cells.get((src, b))
            if isinstance(v, str):
                out.append("error")
            elif v is None:
                out.append("-")
            else:
                out.append(fmt_rate(v) + (f" (x{v / base:.3f})" if base else ""))
        print(f"{src:<10}" + "".join(f"{c:>18}" for c in out))
    print(f"{'inproc':<10}{(fmt_rate(base) if base else '-'):>18}   (lfq_pool alone, "
          "1 submitter, 2 workers)")


def print_tutorial(rows):
    impls = sorted({r["impl"] for r in rows}, key=impl_key)
    cases = {}
    for r in rows:
        cases.setdefault((r["job"], r["workers"], r["capacity"]), {})[r["impl"]] = r
    print()
    print("pool tutorial: 100 jobs, time to finish (ms) beside the ideal jobs x S / workers,"
          " and ideal / measured")
    print(f"{'job':<12}{'W':>3}{'Q':>6}{'ideal':>9}" + "".join(f"{i:>18}" for i in impls))
    for key in sorted(cases, key=lambda k: (k[0], k[1], k[2])):
        job, w, q = key
        ideal = next((r.get("ideal_ms") for r in cases[key].values() if r.get("ideal_ms")),
                     None)
        cells = []
        for impl in impls:
            r = cases[key].get(impl)
            if r is None:
                cells.append("")
            elif r.get("error"):
                cells.append("error")
            else:
                t = r.get("real_time_ms")
                eff = ideal / t if ideal and t else None
                cells.append(f"{t:.1f} ({eff:.2f})" if eff else f"{t:.1f}")
        print(f"{job:<12}{w:>3}{q:>6}{(ideal or 0):>9.1f}" + "".join(f"{c:>18}" for c in cells))


# ---------------------------------------------------------------------------------------------
# The freeze probe (bench/bench_ring_freeze.cc)

FREEZE_FIELDS = ["impl", "capacity", "freezes", "stalled", "stalled_producer",
                 "stalled_consumer", "starved", "ops_per_window_p50", "error"]


def freeze_rows(rows):
    """The freeze/stall rows, in display order (impl, then capacity)."""
    out = [r for r in rows.values() if r["group"] == "freeze" and r["bench"] == "stall"]
    return sorted(out, key=lambda r: (impl_key(r["impl"]), r["capacity"] or 0))


def freeze_markdown(frows, ctx, run):
    """The freeze table as Markdown: one row per ring, one column pair per capacity."""
    caps = sorted({r["capacity"] for r in frows if r["capacity"] != ""})
    impls = sorted({r["impl"] for r in frows}, key=impl_key)
    cell = {(r["impl"], r["capacity"]): r for r in frows}
    lines = []
    head = "| ring |"
    rule = "|---|"
    for c in caps:
        head += f" capacity {c}: stalled / freezes | (producer / consumer frozen) |"
        rule += "---|---|"
    head += " others' ops per window, median (capacity " + str(caps[-1] if caps else "") + ") |"
    rule += "---|"
    lines += [head, rule]
    for impl in impls:
        line = f"| `{impl}` |"
        last = None
        for c in caps:
            r = cell.get((impl, c))
            if r is None:
                line += " | |"
            elif r.get("error"):
                line += " error | |"
            else:
                stalled = int(r.get("stalled", 0))
                text = f"{stalled} / {int(r.get('freezes', 0))}"
                if r.get("starved"):
                    text += f" ({int(r['starved'])} undecided)"
                line += f" {'**' + text + '**' if stalled else text} |"
                line += f" {int(r.get('stalled_producer', 0))} / " \
                        f"{int(r.get('stalled_consumer', 0))} |"
                last = r
        ops = last.get("ops_per_window_p50") if last else None
        line += f" {fmt_rate(ops) if ops is not None else '-'} |"
        lines.append(line)
    probe = ctx.get("freeze_probe", "") if ctx else ""
    return bench_docs.block(lines, f"The probe: {probe}." if probe else None, run, frows)


def print_freeze(frows):
    caps = sorted({r["capacity"] for r in frows if r["capacity"] != ""})
    impls = sorted({r["impl"] for r in frows}, key=impl_key)
    cell = {(r["impl"], r["capacity"]): r for r in frows}
    print()
    print("freeze probe: windows in which no other thread completed a push or pop while one "
          "thread was frozen (stalled / freezes; P = producer frozen, C = consumer frozen)")
    print(f"{'ring':<14}" + "".join(f"{'capacity ' + str(c):>28}" for c in caps))
    for impl in impls:
        cells = []
        for c in caps:
            r = cell.get((impl, c))
            if r is None:
                cells.append("")
            elif r.get("error"):
                cells.append("error")
            else:
                t = (f"{int(r.get('stalled', 0))}/{int(r.get('freezes', 0))} "
                     f"(P {int(r.get('stalled_producer', 0))}, "
                     f"C {int(r.get('stalled_consumer', 0))})")
                if r.get("starved"):
                    t += f" +{int(r['starved'])}?"
                cells.append(t)
        print(f"{impl:<14}" + "".join(f"{c:>28}" for c in cells))
    if any(r.get("starved") for r in frows):
        print("  +N?: N freezes undecided, the others were not given a CPU (loaded machine)")


# The ring tables of issue 11 (bench_ring and bench_ring_proto), for docs/benchmarks.md
RING_SHAPES = ["P1C1", "P2C2", "P4C4", "P8C8"]
RING_CAPS = [1024, 65536]


def ring_cell(r):
    return bench_docs.spread_cell(r, "items_per_second", lambda v: f"{v / 1e6:.1f}")


def pair_cell(r):
    """The push+pop pair in ns, with the spread of its repetitions."""
    return bench_docs.spread_cell(r, "real_time_ms", lambda v: f"{v * 1e6:.1f}")


def ring_grid(rows, group, mpmc, single):
    """{impl: {column: row}} for the unpinned shapes x capacities, bursts, push+pop pair."""
    grid = {}
    for r in rows.values():
        if r["group"] != group or r.get("pinned"):
            continue
        impl = r["impl"]
        col = None
        if r["bench"] == mpmc and r["capacity"] in RING_CAPS:
            shape = f"P{r['producers']}C{r['consumers']}"
            if shape in RING_SHAPES:
                col = (shape, r["capacity"])
        elif r["bench"] == mpmc + "_burst32" and r["capacity"] in RING_CAPS and \
                r["producers"] == 1 and r["consumers"] == 1:
            col = ("burst32", r["capacity"])
        elif r["bench"] == single:
            col = ("pair", 0)
        if col:
            grid.setdefault(impl, {})[col] = r
    return grid


def ring_markdown_of(grid, ratio_to, run):
    cols = [(sh, c) for c in RING_CAPS for sh in RING_SHAPES] + \
        [("burst32", c) for c in RING_CAPS] + [("pair", 0)]
    head = "| ring | " + " | ".join(
        f"{sh} {c // 1024}Ki" if sh != "pair" else "push+pop pair (ns)" for sh, c in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    impls = sorted(grid, key=impl_key)
    for impl in impls:
        cells = []
        for col in cols:
            r = grid[impl].get(col)
            if col[0] == "pair":
                cells.append(pair_cell(r))
            else:
                cells.append(ring_cell(r))
        lines.append(f"| {impl} | " + " | ".join(cells) + " |")
    base = grid.get(ratio_to, {})
    if "lfq" in grid and base:
        cells = []
        for col in cols:
            a, b = grid["lfq"].get(col), base.get(col)
            if col[0] == "pair":
                ok = a and b and a.get("real_time_ms") and b.get("real_time_ms")
                cells.append(f"{a['real_time_ms'] / b['real_time_ms']:.2f}" if ok else "—")
            else:
                ok = a and b and a.get("items_per_second") and b.get("items_per_second")
                cells.append(f"{a['items_per_second'] / b['items_per_second']:.2f}" if ok else "—")
        lines.append(f"| **lfq ÷ {ratio_to}** | " + " | ".join(cells) + " |")
    rows = [r for cols in grid.values() for r in cols.values()]
    return bench_docs.block(lines, "M items/s, threads unpinned; push+pop pair: one thread, "
                            "nanoseconds per pair (lower is better); — = not run (a mode's "
                            "shape limits, or a peer not built).", run, rows)


# The single-side modes of issue 15: each mode beside the rings it is measured against.
MODE_COLS = [("P1C1", 1024), ("P1C1", 65536), ("P4C1", 1024), ("P1C4", 1024)]
MODE_IMPLS = ["lfq", "lfq_spsc", "lfq_mpsc", "lfq_spmc", "mutex", "dpdk_spsc", "aq_b2_spsc",
              "aq_b_spsc", "ck_spsc", "ck_mpsc", "ck_spmc"]
# (ratio row, numerator, denominator, the columns it is meant for)
MODE_RATIOS = [
    ("lfq_spsc ÷ dpdk_spsc", "lfq_spsc", "dpdk_spsc", {("P1C1", 1024), ("P1C1", 65536)}),
    ("lfq_spsc ÷ aq_b2_spsc", "lfq_spsc", "aq_b2_spsc", {("P1C1", 1024), ("P1C1", 65536)}),
    ("lfq_spsc ÷ aq_b_spsc", "lfq_spsc", "aq_b_spsc", {("P1C1", 1024), ("P1C1", 65536)}),
    ("lfq_spsc ÷ lfq", "lfq_spsc", "lfq", {("P1C1", 1024), ("P1C1", 65536)}),
    ("lfq_mpsc ÷ lfq", "lfq_mpsc", "lfq", {("P4C1", 1024)}),
    ("lfq_mpsc ÷ ck_mpsc", "lfq_mpsc", "ck_mpsc", {("P4C1", 1024)}),
    ("lfq_spmc ÷ lfq", "lfq_spmc", "lfq", {("P1C4", 1024)}),
    ("lfq_spmc ÷ ck_spmc", "lfq_spmc", "ck_spmc", {("P1C4", 1024)}),
]


def ring_modes_markdown(rows, run):
    """The modes table, or None if no single-side lfq row was run."""
    grid = {}
    for r in rows.values():
        if r["group"] != "ring" or r.get("pinned") or r["impl"] not in MODE_IMPLS:
            continue
        if r["bench"] == "mpmc":
            col = (f"P{r['producers']}C{r['consumers']}", r["capacity"])
            if col in MODE_COLS:
                grid.setdefault(r["impl"], {})[col] = r
        elif r["bench"] == "pushpop":
            grid.setdefault(r["impl"], {})[("pair", 0)] = r
    if not any(i in grid for i in ("lfq_spsc", "lfq_mpsc", "lfq_spmc")):
        return None
    cols = MODE_COLS + [("pair", 0)]
    lines = ["| ring | " + " | ".join(f"{sh} {c // 1024}Ki" if sh != "pair" else
                                      "push+pop pair (ns)" for sh, c in cols) + " |",
             "|" + "---|" * (len(cols) + 1)]

    def pair_ns(r):
        return r.get("real_time_ms", 0) * 1e6 if r and not r.get("error") else None

    for impl in [i for i in MODE_IMPLS if i in grid]:
        cells = []
        for col in cols:
            r = grid[impl].get(col)
            cells.append(pair_cell(r) if col[0] == "pair" else ring_cell(r))
        lines.append(f"| {impl} | " + " | ".join(cells) + " |")
    for label, a, b, meant in MODE_RATIOS + [("lfq_spsc pair ÷ mutex pair", "lfq_spsc", "mutex",
                                                {("pair", 0)})]:
        cells = []
        for col in cols:
            ra, rb = grid.get(a, {}).get(col), grid.get(b, {}).get(col)
            if col not in meant or not ra or not rb:
                cells.append("")
            elif col[0] == "pair":
                na, nb = pair_ns(ra), pair_ns(rb)
                cells.append(f"{na / nb:.2f}" if na and nb else "—")
            else:
                va, vb = ra.get("items_per_second"), rb.get("items_per_second")
                cells.append(f"{va / vb:.2f}" if va and vb else "—")
        if any(cells):
            lines.append(f"| **{label}** | " + " | ".join(cells) + " |")
    used = [r for cols in grid.values() for r in cols.values()]
    return bench_docs.block(lines, "M items/s, threads unpinned; push+pop pair: one thread, "
                            "nanoseconds per pair (lower is better; its ratio too); — = not "
                            "run (a mode's shape limits, or a peer not built).", run, used)


def doc_blocks(rows, contexts, directory, run):
    """{marker name: Markdown block} for every suite present in this run's results."""
    blocks = {}
    ring = ring_grid(rows, "ring", "mpmc", "pushpop")
    if ring:
        blocks["ring-table"] = ring_markdown_of(ring, "vyukov", run)
    in_grid = {r["name"] for cols in ring.values() for r in cols.values()}
    blocks["ring-other"] = bench_docs.ring_other(rows, in_grid, impl_key, run)
    blocks["ring-modes"] = ring_modes_markdown(rows, run)
    designs = ring_grid(rows, "ring_proto", "mpmc", "pushpop")
    if designs:
        blocks["ring-designs"] = ring_markdown_of(designs, "vyukov", run)
    blocks["ring-shared"] = bench_docs.shared(directory, run)
    blocks["ring-wait-table"] = bench_docs.ring_wait(rows, impl_key, run)
    blocks["queue-table"] = bench_docs.queue(rows, impl_key, run)
    blocks["pool-table"] = bench_docs.pool(rows, impl_key, run)
    blocks["pool-latency"] = bench_docs.pool_latency(rows, impl_key, run)
    blocks["pool-features"] = bench_docs.pool_features(rows, impl_key, run)
    blocks["tutorial-table"] = bench_docs.tutorial(rows, impl_key, run)
    blocks["redis-table"] = bench_docs.redis(rows, run)
    blocks.update(bench_placement.blocks(rows, run))
    frows = freeze_rows(rows)
    if frows:
        blocks["freeze-table"] = freeze_markdown(frows, contexts.get("freeze.json", {}), run)
    return {k: v for k, v in blocks.items() if v is not None}


def write_freeze(frows, md, directory):
    """freeze.md and freeze.csv in @directory."""
    with open(os.path.join(directory, "freeze.md"), "w", encoding="utf-8") as f:
        f.write(md)
    with open(os.path.join(directory, "freeze.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=FREEZE_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in frows:
            w.writerow({k: (int(v) if isinstance(v, float) and v.is_integer() else v)
                        for k, v in r.items()})


# ---------------------------------------------------------------------------------------------
# CSV and JSON

CSV_FIELDS = ["program", "group", "bench", "impl", "case", "job", "producers", "consumers",
              "workers", "capacity", "pinned", "placement", "items_per_second",
              "items_per_second_min", "items_per_second_max", "cpu_ns_per_item", "csw_per_item",
              "cpu_ns_per_job", "csw_per_job", "real_time_ms", "cv",
              "p50_ns", "p99_ns", "p999_ns", "chunk_p50_us", "chunk_p99_us", "ideal_ms",
              "push_eagain_per_item", "pop_eagain_per_item", "out_of_order_per_item",
              "threads_per_cpu", "repetitions", "error", "name"]


def write_csv(rows, path):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for key in sorted(rows, key=case_sort_key):
            w.writerow(rows[key])


# ---------------------------------------------------------------------------------------------
# Plots (gnuplot)

PALETTE = {"lfq": "#d62728", "lfq_ring": "#d62728", "lfq_queue": "#ff7f0e",
           "lfq_queue_lim": "#bcbd22", "lfq_nopin": "#ff9896", "mutex": "#1f77b4",
           "spin": "#17becf", "vyukov": "#2ca02c", "ck": "#9467bd", "boost": "#8c564b",
           "tbb": "#e377c2", "wfcq": "#7f7f7f", "rculfq": "#393b79", "go": "#00add8",
           "dpdk": "#8c6d31", "dpdk_rts": "#bd9e39", "dpdk_hts": "#e7ba52",
           "dpdk_spsc": "#e7cb94", "aq_b2": "#637939", "aq_b": "#8ca252",
           "aq_b2_blk": "#b5cf6b", "aq_b_blk": "#cedb9c", "aq_b2_spsc": "#31a354",
           "aq_b_spsc": "#74c476", "moodycamel": "#843c39", "xenium": "#ad494a",
           "libcds": "#d6616b", "ck_spsc": "#a55194", "ck_mpsc": "#ce6dbd",
           "ck_spmc": "#de9ed6"}


# Implementations without a colour of their own (new peers) get one of these, chosen by a
# hash of the name, so that two new rows do not share one grey line.
SPARE_COLOURS = ["#e6550d", "#3182bd", "#31a354", "#756bb1", "#636363", "#fd8d3c",
                 "#6baed6", "#74c476", "#9e9ac8", "#bdbdbd", "#a63603", "#08519c"]


def color(impl):
    if impl in PALETTE:
        return PALETTE[impl]
    return SPARE_COLOURS[zlib.crc32(impl.encode()) % len(SPARE_COLOURS)]


def gnuplot(script, outdir, stem, size=(900, 520)):
    """Runs @script once for PNG and once for SVG. @return the files written."""
    gp = shutil.which("gnuplot")
    if gp is None:
        return []
    out = []
    for term, ext in ((f"pngcairo size {size[0]},{size[1]} font 'sans,11'", "png"),
                      (f"svg size {size[0]},{size[1]} font 'sans,12' background '#ffffff'",
                       "svg")):
        path = os.path.join(outdir, f"{stem}.{ext}")
        full = f"set terminal {term}\nset output '{path}'\n{PLOT['stamp']}{script}\nunset output\n"
        r = subprocess.run([gp], input=full, text=True, capture_output=True)
        if r.returncode != 0:
            print(f"bench_report: gnuplot failed for {stem}: {r.stderr.strip()}",
                  file=sys.stderr)
            continue
        out.append(path)
    return out


# Set by render_plots: where the .dat files go, and the run's stamp (a label on every plot).
PLOT = {"data": None, "stamp": ""}

COMMON = """set grid ytics mytics lc rgb '#dddddd'
set border 3
set tics nomirror
set key outside right top vertical Left reverse noenhanced samplen 2
"""


def line_plot(outdir, stem, title, xlabel, ylabel, series, logx=True, logy=False,
              xtics=None, vline=None, styles=None):
    """series: {label: [(x, y), ...]}; styles: {label: (impl for the colour, dash type)};
    vline: (x, text), a dashed vertical line (the CPU count)."""
    series = {k: sorted(v) for k, v in series.items() if v}
    if not series:
        return []
    styles = styles or {}
    datadir = PLOT["data"] or os.path.join(outdir, "data")
    os.makedirs(datadir, exist_ok=True)
    plots = []
    order = lambda k: (impl_key(styles.get(k, (k, 1))[0]), styles.get(k, (k, 1))[1], k)
    for label in sorted(series, key=order):
        impl, dt = styles.get(label, (label, 1))
        dat = os.path.join(datadir, f"{stem}_{label.replace(' ', '_')}.dat")
        with open(dat, "w", encoding="utf-8") as f:
            for x, y in series[label]:
                f.write(f"{x} {y}\n")
        width = 3 if impl.startswith("lfq") else 2
        plots.append(f"'{dat}' using 1:2 with linespoints lw {width} dt {dt} pt 7 ps 0.9 "
                     f"lc rgb '{color(impl)}' title '{label}'")
    script = COMMON + f"set title '{title}' noenhanced\nset xlabel '{xlabel}'\n"
    script += f"set ylabel '{ylabel}'\nset yrange [0:*]\n" if not logy else \
        f"set ylabel '{ylabel}'\nset logscale y\n"
    if logx:
        xs = [x for v in series.values() for x, _ in v]
        script += f"set logscale x 2\nset xrange [{min(xs) / 1.25}:{max(xs) * 1.25}]\n"
    if xtics:
        script += "set xtics (" + ", ".join(f"'{t}' {x}" for x, t in xtics) + ")\n"
    if vline:
        script += (f"set arrow from {vline[0]}, graph 0 to {vline[0]}, graph 1 nohead dt 2 "
                   f"lw 2 lc rgb '#555555'\nset label '{vline[1]}' at {vline[0]}, graph 0.96 "
                   "offset 0.5,0 noenhanced tc rgb '#555555'\n")
    script += "plot " + ", \\\n     ".join(plots) + "\n"
    return gnuplot(script, outdir, stem)


def bar_plot(outdir, stem, title, ylabel, categories, impls, value, logy=False):
    """Clustered bars: one cluster per category, one bar per impl; value(cat, impl)."""
    impls = [i for i in impls if any(value(c, i) is not None for c in categories)]
    if not impls or not categories:
        return []
    datadir = PLOT["data"] or os.path.join(outdir, "data")
    os.makedirs(datadir, exist_ok=True)
    dat = os.path.join(datadir, f"{stem}.dat")
    with open(dat, "w", encoding="utf-8") as f:
        f.write("# category " + " ".join(impls) + "\n")
        for c in categories:
            vals = [value(c, i) for i in impls]
            f.write(f'"{c}" ' + " ".join("NaN" if v is None else f"{v:.6g}" for v in vals)
                    + "\n")
    script = COMMON + f"set title '{title}' noenhanced\nset ylabel '{ylabel}'\n"
    script += "set style data histograms\nset style histogram clustered gap 1\n"
    script += "set style fill solid 0.9 border -1\nset boxwidth 0.9\n"
    script += "set xtics noenhanced rotate by 25 right\nset bmargin 6\n"
    script += "set logscale y\n" if logy else "set yrange [0:*]\n"
    cols = []
    for k, impl in enumerate(impls):
        first = ":xtic(1)" if k == 0 else ""
        cols.append(f"'{dat}' using {k + 2}{first} lc rgb '{color(impl)}' title '{impl}'")
    script += "plot " + ", \\\n     ".join(cols) + "\n"
    return gnuplot(script, outdir, stem)


def render_plots(rows, outdir, run, datadir=None):
    """The plots of the suites present in @rows, into @outdir; each carries @run's stamp and,
    where the x axis counts threads or workers, a dashed line at the CPU count."""
    os.makedirs(outdir, exist_ok=True)
    PLOT["data"] = datadir
    text = f"run {run['date']}, {run['cpu']}, {run['vcpus']} vCPUs".replace("'", "")
    PLOT["stamp"] = (f"set label 99 '{text}' at screen 0.01, screen 0.015 left font ',8' "
                     "noenhanced tc rgb '#666666'\n")
    try:
        ncpu = int(run["vcpus"])
    except (TypeError, ValueError):
        ncpu = None
    ok = [r for r in rows.values() if not r.get("error")]
    written = []

    # Throughput vs threads: ring/mpmc, cap 1024, unpinned, symmetric shapes.
    series = {}
    for r in ok:
        if (r["group"], r["bench"]) == ("ring", "mpmc") and r["capacity"] == 1024 \
                and not r["pinned"] and r["producers"] == r["consumers"]:
            series.setdefault(r["impl"], []).append(
                (r["producers"] + r["consumers"], r["items_per_second"] / 1e6))
    written += line_plot(outdir, "ring_threads",
                         "lfq_ring vs baselines and peers: throughput vs threads "
                         "(PkCk, capacity 1024, not pinned)",
                         "threads (producers + consumers)", "million items/s", series,
                         xtics=[(2, "2 (1P1C)"), (4, "4 (2P2C)"), (8, "8 (4P4C)"),
                                (16, "16 (8P8C)")],
                         vline=(ncpu, f"{ncpu} CPUs") if ncpu else None)

    # Throughput vs capacity: ring/mpmc, P2C2, unpinned.
    series = {}
    for r in ok:
        if (r["group"], r["bench"]) == ("ring", "mpmc") and r["producers"] == 2 \
                and r["consumers"] == 2 and not r["pinned"]:
            series.setdefault(r["impl"], []).append(
                (r["capacity"], r["items_per_second"] / 1e6))
    written += line_plot(outdir, "ring_capacity",
                         "throughput vs capacity (2 producers, 2 consumers, not pinned)",
                         "capacity (slots)", "million items/s", series)

    # Latency percentiles: ring_wait pingpong and pool latency, per impl.
    cats, vals = [], {}
    for r in sorted(ok, key=lambda r: (r["group"], impl_key(r["impl"]))):
        if (r["group"], r["bench"]) in (("ring_wait", "pingpong"), ("pool", "latency")):
            label = ("pingpong " if r["group"] == "ring_wait" else "pool ") + r["impl"]
            cats.append(label)
            for m in ("p50_ns", "p99_ns", "p999_ns"):
                if r.get(m):
                    vals[(label, m)] = r[m] / 1e3
    if cats:
        names = {"p50_ns": "p50", "p99_ns": "p99", "p999_ns": "p99.9"}
        global PALETTE
        saved = dict(PALETTE)
        PALETTE.update({"p50": "#9ecae1", "p99": "#3182bd", "p99.9": "#08306b"})
        written += bar_plot(outdir, "latency",
                            "hand-off latency: ring_wait ping-pong (push_wait -> pop_wait) and "
                            "pool (submit -> job starts)",
                            "microseconds (log scale)", cats, ["p50", "p99", "p99.9"],
                            lambda c, i: vals.get((c, {v: k for k, v in names.items()}[i])),
                            logy=True)
        PALETTE = saved

    # Queue benchmark: clustered bars.
    q = [r for r in ok if r["group"] == "queue"]
    if q:
        cats = sorted({r["case"] for r in q}, key=lambda c: (not c.startswith("stream"), c))
        impls = sorted({r["impl"] for r in q}, key=impl_key)
        idx = {(r["case"], r["impl"]): r["items_per_second"] / 1e6 for r in q}
        written += bar_plot(outdir, "queue",
                            "unbounded queues: lfq_queue vs lfq_ring (16384), liburcu, mutex",
                            "million items/s", cats, impls, lambda c, i: idx.get((c, i)))

    # Pool throughput vs workers (empty jobs, capacity 1024).
    series = {}
    for r in ok:
        if (r["group"], r["bench"]) == ("pool", "throughput") and r["job"] == "empty" \
                and r["capacity"] == 1024:
            series.setdefault(r["impl"], []).append((r["workers"], r["items_per_second"] / 1e6))
    written += line_plot(outdir, "pool_workers",
                         "pool: empty jobs/s vs workers (submitters = workers, capacity 1024)",
                         "workers", "million jobs/s", series,
                         vline=(ncpu, f"{ncpu} CPUs") if ncpu else None)

    # The tutorial (bench_pool_tutorial): time vs workers at every queue size, with the
    # ideal; and throughput (jobs / time) vs queue capacity, one line per workers count.
    dash = {}
    for kind in ("io", "cpu"):
        t = [r for r in ok if (r["group"], r["bench"]) == ("pool", "tutorial")
             and r["job"].startswith(kind + "/") and r.get("real_time_ms")]
        if not t:
            continue
        caps = sorted({r["capacity"] for r in t})
        dash = {q: k + 1 for k, q in enumerate(caps)}
        series, styles, ideal = {}, {}, {}
        for r in t:
            label = f"{r['impl']} Q{r['capacity']}"
            series.setdefault(label, []).append((r["workers"], r["real_time_ms"]))
            styles[label] = (r["impl"], dash[r["capacity"]])
            if r.get("ideal_ms"):
                ideal[r["workers"]] = r["ideal_ms"]
        series["ideal"] = sorted(ideal.items())
        styles["ideal"] = ("ideal", 1)
        PALETTE["ideal"] = "#000000"
        job = bench_docs.job_label(t[0]["job"])
        written += line_plot(outdir, f"tutorial_{kind}",
                             f"tutorial: {bench_docs.tutorial_jobs(t)} jobs that {job}, every queue size: "
                             "time to finish", "workers", "milliseconds (log scale)", series,
                             logy=True, styles=styles,
                             vline=(ncpu, f"{ncpu} CPUs") if ncpu else None)
        series, styles = {}, {}
        ws = sorted({r["workers"] for r in t})
        for r in t:
            label = f"{r['impl']} W{r['workers']}"
            jobs = bench_docs.tutorial_jobs([r])
            if not isinstance(jobs, int):
                continue
            jobs_per_s = jobs / (r["real_time_ms"] / 1e3)
            series.setdefault(label, []).append((r["capacity"], jobs_per_s))
            styles[label] = (r["impl"], ws.index(r["workers"]) + 1)
        written += line_plot(outdir, f"pool_capacity_{kind}",
                             f"tune buffer size: tutorial jobs that {job}, throughput vs queue "
                             f"capacity (dash: workers; {ncpu or '?'} CPUs)",
                             "queue capacity (slots)", "jobs/s", series, styles=styles,
                             xtics=[(q, str(q)) for q in caps])
    return written


def main(argv):
    argv = list(argv)
    docs = None
    if "--fill-docs" in argv:
        i = argv.index("--fill-docs")
        if i + 1 >= len(argv):
            print("bench_report: --fill-docs wants a directory or a file", file=sys.stderr)
            return 2
        docs = argv[i + 1]
        del argv[i:i + 2]
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    directory = args[0]
    rows, contexts, errors = load(directory)
    if not rows and not os.path.exists(os.path.join(directory, "ring_shared.txt")):
        print(f"bench_report: no results in {directory}", file=sys.stderr)
        return 1

    run = bench_docs.run_info(directory, contexts)
    ctx = next((c for c in contexts.values() if "cpu_model" in c), {})
    print(f"run {run['id']}: {run['command']}")
    if ctx:
        print(f"machine: {ctx.get('cpu_model')}, {ctx.get('cpus_allowed')} CPUs allowed "
              f"({ctx.get('num_cpus')} online), {ctx.get('kernel', '').split(' #')[0]}, "
              f"{ctx.get('cxx_compiler')}, {ctx.get('buildtype')} -O{ctx.get('optimization')}")
        print(f"peers found: {ctx.get('peers_found') or '(none)'}; skipped: "
              f"{ctx.get('peers_skipped') or '(none)'}")
    print_tables(rows)
    status = 0
    blocks = doc_blocks(rows, contexts, directory, run)
    for name in ("ring-placement", "pool-placement", "ring-table", "ring-modes", "ring-designs"):
        if name in blocks:
            print()
            print(blocks[name])
    frows = freeze_rows(rows)
    if frows:
        print_freeze(frows)
        write_freeze(frows, blocks["freeze-table"], directory)
    if errors:
        print()
        print("benchmarks that reported an error instead of a number:")
        for key, msg in errors:
            print(f"  {key}: {msg}")

    csv_path = os.path.join(directory, "results.csv")
    write_csv(rows, csv_path)
    with open(os.path.join(directory, "summary.json"), "w", encoding="utf-8") as f:
        json.dump({"context": contexts, "run": run,
                   "results": [rows[k] for k in sorted(rows)]}, f, indent=1, default=str)
    print()
    print(f"wrote {csv_path} and {os.path.join(directory, 'summary.json')}")
    if docs:
        filled, problems = bench_docs.fill(docs, blocks, one_run="--one-run" in argv)
        for p in problems:
            print(f"bench_report: {p}", file=sys.stderr)
        if problems:
            status = 1
        print(f"filled {len(filled)} tables in {docs}: {', '.join(sorted(filled)) or '(none)'}")
    if "--no-plots" not in argv:
        if shutil.which("gnuplot") is None:
            print("gnuplot not found: no plots (install gnuplot-nox)", file=sys.stderr)
        else:
            outdirs = [os.path.join(directory, "plots")]
            if docs and os.path.isdir(docs) and status == 0:
                outdirs.append(os.path.join(docs, "img", "benchmarks"))
            for outdir in outdirs:
                written = render_plots(rows, outdir, run, os.path.join(directory, "plots",
                                                                       "data"))
                pngs = [p for p in written if p.endswith(".png")]
                print(f"wrote {len(written)} plots ({len(pngs)} PNG + SVG) in {outdir}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
