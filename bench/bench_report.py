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
    with --fill-docs FILE, also puts it into FILE (docs/benchmarks.md) between the lines
    <!-- freeze-table:begin --> and <!-- freeze-table:end -->.

    bench/bench_report.py build/release/bench-results [--no-plots] [--fill-docs FILE]

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

SUFFIXES = re.compile(r"/(iterations:\d+|process_time|manual_time|real_time|repeats:\d+)")

# Display order of implementations; others follow alphabetically.
IMPL_ORDER = ["lfq", "lfq_scq", "ringb", "ringb_spread", "lfq_nopin", "lfq_queue", "lfq_queue_lim", "lfq_ring", "mutex", "spin",
              "vyukov", "ck", "ck_spsc", "ck_mpsc", "ck_spmc", "boost", "tbb", "dpdk",
              "dpdk_rts", "dpdk_hts", "dpdk_spsc", "aq_b2", "aq_b", "aq_b2_blk", "aq_b_blk",
              "aq_b2_spsc", "aq_b_spsc", "moodycamel", "xenium", "libcds", "wfcq", "rculfq",
              "go"]


def impl_key(name):
    return (IMPL_ORDER.index(name) if name in IMPL_ORDER else len(IMPL_ORDER), name)


def parse(name):
    """'ring/mpmc/lfq/P1C1/cap1024/pin/iterations:1/...' -> dict of fields, or None."""
    name = SUFFIXES.sub("", name)
    parts = name.split("/")
    if len(parts) < 3:
        return None
    row = {"name": name, "group": parts[0], "bench": parts[1], "impl": parts[2],
           "producers": "", "consumers": "", "workers": "", "capacity": "", "pinned": 0,
           "job": ""}
    if row["group"] == "pool" and row["bench"] == "features":
        return None  # issue 6's feature-cost benchmarks: see docs/pool.md
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
        if p == "pin":
            row["pinned"] = 1
            shape.append(p)
            continue
        row["job"] = (row["job"] + "/" + p).strip("/")
    row["case"] = "/".join([row["bench"]] + ([row["job"]] if row["job"] else []) + shape)
    return row


METRICS = ["items_per_second", "jobs_per_s", "p50_ns", "p99_ns", "p999_ns", "chunk_p50_us",
           "chunk_p99_us", "ideal_ms", "push_eagain_per_item", "pop_eagain_per_item",
           "vol_csw_per_item", "threads_per_cpu", "stalled", "out_of_order_per_item",
           "freezes", "stalled_producer", "stalled_consumer", "starved", "ops_per_window_p50",
           "out_of_order"]


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
        cvs = {}
        for b in report.get("benchmarks", []):
            row = parse(b.get("run_name", b["name"]))
            if row is None:
                continue
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
    return rows, contexts, errors


def to_ms(value, unit):
    if value is None:
        return None
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}.get(unit, 1e-6)
    return value * scale


# ---------------------------------------------------------------------------------------------
# Tables


def fmt_rate(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


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

FREEZE_BEGIN = "<!-- freeze-table:begin -->"
FREEZE_END = "<!-- freeze-table:end -->"
FREEZE_FIELDS = ["impl", "capacity", "freezes", "stalled", "stalled_producer",
                 "stalled_consumer", "starved", "ops_per_window_p50", "error"]


def freeze_rows(rows):
    """The freeze/stall rows, in display order (impl, then capacity)."""
    out = [r for r in rows.values() if r["group"] == "freeze" and r["bench"] == "stall"]
    return sorted(out, key=lambda r: (impl_key(r["impl"]), r["capacity"] or 0))


def freeze_markdown(frows, ctx):
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
    machine = ""
    if ctx:
        machine = (f"{ctx.get('cpu_model')}, {ctx.get('cpus_allowed')} CPUs allowed, "
                   f"{ctx.get('kernel', '').split(' #')[0]}, {ctx.get('date', '')}")
    probe = ctx.get("freeze_probe", "") if ctx else ""
    lines.append("")
    lines.append(f"Generated by bench/bench_report.py from bench_ring_freeze ({probe}); "
                 f"{machine}.")
    return "\n".join(lines) + "\n"


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


def fill_docs(path, markdown, begin_marker=FREEZE_BEGIN, end_marker=FREEZE_END):
    """Replaces what is between two markers in @path. @return True if done."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    begin, end = text.find(begin_marker), text.find(end_marker)
    if begin < 0 or end < begin:
        print(f"bench_report: {path}: no {begin_marker} ... {end_marker} markers",
              file=sys.stderr)
        return False
    text = text[:begin + len(begin_marker)] + "\n" + markdown + text[end:]
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return True


# The ring tables of issue 11 (bench_ring and bench_ring_proto), for docs/benchmarks.md
RING_BEGIN, RING_END = "<!-- ring-table:begin -->", "<!-- ring-table:end -->"
DESIGNS_BEGIN, DESIGNS_END = "<!-- ring-designs:begin -->", "<!-- ring-designs:end -->"
RING_SHAPES = ["P1C1", "P2C2", "P4C4", "P8C8"]
RING_CAPS = [1024, 65536]


def ring_cell(r):
    if r is None:
        return "—"
    if r.get("error"):
        return "error"
    v = r.get("items_per_second")
    if v is None:
        return "—"
    text = f"{v / 1e6:.1f}"
    return text + " (stalled)" if r.get("stalled") else text


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


def ring_markdown_of(grid, ctx, program, ratio_to):
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
                cells.append("—" if r is None or r.get("error") else
                             f"{r.get('real_time_ms', 0) * 1e6:.1f}")
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
    lines.append("")
    machine = (f"{ctx.get('cpu_model', '?')}, {ctx.get('cpus_allowed', '?')} CPUs allowed, "
               f"{ctx.get('kernel', '').split(' #')[0]}") if ctx else "?"
    date = ctx.get("date", "") if ctx else ""
    lines.append(f"Generated by bench/bench_report.py from one `scripts/bench` run ({program}, "
                 f"{date}; {machine}): M items/s, medians of the repetitions, threads unpinned; "
                 "push+pop pair: one thread, nanoseconds per pair (lower is better); "
                 "— = not run (a mode's shape limits, or a peer not built).")
    return "\n".join(lines) + "\n"


# The single-side modes of issue 15: each mode beside the rings it is measured against.
MODES_BEGIN, MODES_END = "<!-- ring-modes:begin -->", "<!-- ring-modes:end -->"
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


def ring_modes_markdown(rows, ctx):
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
            if col[0] == "pair":
                ns = pair_ns(r)
                cells.append(f"{ns:.1f}" if ns else "—")
            else:
                cells.append(ring_cell(r))
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
    lines.append("")
    machine = (f"{ctx.get('cpu_model', '?')}, {ctx.get('cpus_allowed', '?')} CPUs allowed"
               if ctx else "?")
    lines.append(f"Generated by bench/bench_report.py from one `scripts/bench` run (bench_ring, "
                 f"{ctx.get('date', '') if ctx else ''}; {machine}): M items/s, medians, "
                 "unpinned; push+pop pair: one thread, ns (lower is better; its ratio too); "
                 "— = not run.")
    return "\n".join(lines) + "\n"


def write_ring_tables(rows, contexts, docs, results_dir=None):
    ok = True
    ring = ring_grid(rows, "ring", "mpmc", "pushpop")
    if ring:
        md = ring_markdown_of(ring, contexts.get("ring.json", {}), "bench_ring", "vyukov")
        print()
        print(md)
        if docs:
            ok = fill_docs(docs, md, RING_BEGIN, RING_END) and ok
    modes = ring_modes_markdown(rows, contexts.get("ring.json", {}))
    if modes:
        print(modes)
        if docs:
            ok = fill_docs(docs, modes, MODES_BEGIN, MODES_END) and ok
    shared = os.path.join(results_dir, "ring_shared.txt") if results_dir else None
    if shared and os.path.exists(shared) and docs:
        with open(shared, encoding="utf-8") as f:
            text = f.read().strip()
        ok = fill_docs(docs, "```\n" + text + "\n```\n", "<!-- ring-shared:begin -->",
                       "<!-- ring-shared:end -->") and ok
    designs = ring_grid(rows, "ring_proto", "mpmc", "pushpop")
    if designs:
        md = ring_markdown_of(designs, contexts.get("designs.json", {}), "bench_ring_proto",
                              "vyukov")
        print(md)
        if docs:
            ok = fill_docs(docs, md, DESIGNS_BEGIN, DESIGNS_END) and ok
    return ok


def write_freeze(frows, ctx, directory, docs):
    """freeze.md and freeze.csv in @directory, and the table into @docs if given."""
    md = freeze_markdown(frows, ctx)
    with open(os.path.join(directory, "freeze.md"), "w", encoding="utf-8") as f:
        f.write(md)
    with open(os.path.join(directory, "freeze.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=FREEZE_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in frows:
            w.writerow({k: (int(v) if isinstance(v, float) and v.is_integer() else v)
                        for k, v in r.items()})
    ok = True
    if docs:
        ok = fill_docs(docs, md)
        if ok:
            print(f"filled the freeze table in {docs}")
    return ok


# ---------------------------------------------------------------------------------------------
# CSV and JSON

CSV_FIELDS = ["program", "group", "bench", "impl", "case", "job", "producers", "consumers",
              "workers", "capacity", "pinned", "items_per_second", "real_time_ms", "cv",
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


def color(impl):
    return PALETTE.get(impl, "#333333")


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
        full = f"set terminal {term}\nset output '{path}'\n{script}\nunset output\n"
        r = subprocess.run([gp], input=full, text=True, capture_output=True)
        if r.returncode != 0:
            print(f"bench_report: gnuplot failed for {stem}: {r.stderr.strip()}",
                  file=sys.stderr)
            continue
        out.append(path)
    return out


COMMON = """set grid ytics mytics lc rgb '#dddddd'
set border 3
set tics nomirror
set key outside right top vertical Left reverse noenhanced samplen 2
"""


def line_plot(outdir, stem, title, xlabel, ylabel, series, logx=True, logy=False,
              xtics=None):
    """series: {impl: [(x, y), ...]}."""
    series = {k: sorted(v) for k, v in series.items() if v}
    if not series:
        return []
    datadir = os.path.join(outdir, "data")
    os.makedirs(datadir, exist_ok=True)
    plots = []
    for impl in sorted(series, key=impl_key):
        dat = os.path.join(datadir, f"{stem}_{impl}.dat")
        with open(dat, "w", encoding="utf-8") as f:
            for x, y in series[impl]:
                f.write(f"{x} {y}\n")
        width = 3 if impl.startswith("lfq") else 2
        plots.append(f"'{dat}' using 1:2 with linespoints lw {width} pt 7 ps 0.9 "
                     f"lc rgb '{color(impl)}' title '{impl}'")
    script = COMMON + f"set title '{title}' noenhanced\nset xlabel '{xlabel}'\n"
    script += f"set ylabel '{ylabel}'\nset yrange [0:*]\n" if not logy else \
        f"set ylabel '{ylabel}'\nset logscale y\n"
    if logx:
        xs = [x for v in series.values() for x, _ in v]
        script += f"set logscale x 2\nset xrange [{min(xs) / 1.25}:{max(xs) * 1.25}]\n"
    if xtics:
        script += "set xtics (" + ", ".join(f"'{t}' {x}" for x, t in xtics) + ")\n"
    script += "plot " + ", \\\n     ".join(plots) + "\n"
    return gnuplot(script, outdir, stem)


def bar_plot(outdir, stem, title, ylabel, categories, impls, value, logy=False):
    """Clustered bars: one cluster per category, one bar per impl; value(cat, impl)."""
    impls = [i for i in impls if any(value(c, i) is not None for c in categories)]
    if not impls or not categories:
        return []
    datadir = os.path.join(outdir, "data")
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


def render_plots(rows, outdir):
    os.makedirs(outdir, exist_ok=True)
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
                                (16, "16 (8P8C)")])

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
                         "workers", "million jobs/s", series)

    # Tutorial: time vs workers at Q100, io and cpu, with the ideal.
    for kind in ("io", "cpu"):
        t = [r for r in ok if (r["group"], r["bench"]) == ("pool", "tutorial")
             and r["job"].startswith(kind + "/") and r["capacity"] == 100]
        if not t:
            continue
        series = {}
        for r in t:
            series.setdefault(r["impl"], []).append((r["workers"], r["real_time_ms"]))
        ideal = {}
        for r in t:
            ideal[r["workers"]] = r.get("ideal_ms")
        series["ideal"] = sorted((w, v) for w, v in ideal.items() if v)
        PALETTE["ideal"] = "#000000"
        job = t[0]["job"].split("/")[1]
        written += line_plot(outdir, f"tutorial_{kind}",
                             f"tutorial: 100 jobs that {'sleep' if kind == 'io' else 'spin'} "
                             f"{job[1:]}, queue 100: time to finish",
                             "workers", "milliseconds (log scale)", series, logy=True)
    return written


def main(argv):
    argv = list(argv)
    docs = None
    if "--fill-docs" in argv:
        i = argv.index("--fill-docs")
        if i + 1 >= len(argv):
            print("bench_report: --fill-docs wants a file", file=sys.stderr)
            return 2
        docs = argv[i + 1]
        del argv[i:i + 2]
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    directory = args[0]
    rows, contexts, errors = load(directory)
    if not rows:
        print(f"bench_report: no results in {directory}", file=sys.stderr)
        return 1

    ctx = next((c for c in contexts.values() if "cpu_model" in c), {})
    if ctx:
        print(f"machine: {ctx.get('cpu_model')}, {ctx.get('cpus_allowed')} CPUs allowed "
              f"({ctx.get('num_cpus')} online), {ctx.get('kernel', '').split(' #')[0]}, "
              f"{ctx.get('cxx_compiler')}, {ctx.get('buildtype')} -O{ctx.get('optimization')}")
        print(f"peers found: {ctx.get('peers_found') or '(none)'}; skipped: "
              f"{ctx.get('peers_skipped') or '(none)'}")
    print_tables(rows)
    status = 0
    if not write_ring_tables(rows, contexts, docs, directory):
        status = 1
    frows = freeze_rows(rows)
    if frows:
        print_freeze(frows)
        fctx = contexts.get("freeze.json", ctx)
        if not write_freeze(frows, fctx, directory, docs):
            status = 1
    elif docs:
        print(f"bench_report: no freeze probe results in {directory}: {docs} not filled",
              file=sys.stderr)
        status = 1
    if errors:
        print()
        print("benchmarks that reported an error instead of a number:")
        for key, msg in errors:
            print(f"  {key}: {msg}")

    csv_path = os.path.join(directory, "results.csv")
    write_csv(rows, csv_path)
    with open(os.path.join(directory, "summary.json"), "w", encoding="utf-8") as f:
        json.dump({"context": contexts, "results": [rows[k] for k in sorted(rows)]}, f,
                  indent=1, default=str)
    print()
    print(f"wrote {csv_path} and {os.path.join(directory, 'summary.json')}")
    if "--no-plots" not in argv:
        if shutil.which("gnuplot") is None:
            print("gnuplot not found: no plots (install gnuplot-nox)", file=sys.stderr)
        else:
            written = render_plots(rows, os.path.join(directory, "plots"))
            pngs = [p for p in written if p.endswith(".png")]
            print(f"wrote {len(written)} plots ({len(pngs)} PNG + SVG) in "
                  f"{os.path.join(directory, 'plots')}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
