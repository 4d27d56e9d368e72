# SPDX-License-Identifier: MIT
"""The placement tables: the same cells measured with threads spread over the CPUs and packed
on one, side by side, each cell a median with the spread of its repetitions, and the targets
the docs set for them with a generated verdict (met / missed, the ratio, the run).

bench_report.py loads the rows (each with "placement" and, from the programs' min and max
statistics, "<metric>_min" / "<metric>_max"); this module turns them into Markdown blocks
("ring-placement", "pool-placement") and terminal tables.
"""

import bench_docs

PLACEMENTS = ("spread", "packed", "free")
RING_CELLS = [("P1C1", 1024), ("P1C1", 65536), ("P2C2", 1024)]
RING_ORDER = ["lfq", "lfq_spsc", "vyukov", "aq_b2", "aq_b2_spsc", "dpdk", "dpdk_spsc", "mutex"]
POOL_IMPLS = ["lfq", "go", "glib", "uv", "mutex"]

# Targets: (label, numerator impl, denominator impl, cell filter, placement, bound).
RING_TARGETS = [
    ("1P1C spread: lfq ≥ 0.9× Vyukov", "lfq", "vyukov", "P1C1", "spread", 0.9),
    ("1P1C spread: lfq ≥ 0.9× atomic_queue (ticket/turn ring)", "lfq", "aq_b2", "P1C1",
     "spread", 0.9),
    ("1P1C spread: SP|SC lfq ≥ 1.0× DPDK SP/SC", "lfq_spsc", "dpdk_spsc", "P1C1", "spread", 1.0),
    ("1P1C spread: SP|SC lfq ≥ 1.0× atomic_queue SPSC", "lfq_spsc", "aq_b2_spsc", "P1C1",
     "spread", 1.0),
    ("1P1C packed: lfq ≥ 0.85× Vyukov", "lfq", "vyukov", "P1C1", "packed", 0.85),
]


def cell(r, metric="items_per_second"):
    """'23.0 [19.6–31.2]' in millions, ' ⚠' when the spread exceeds ±15 %, or a state."""
    return bench_docs.spread_cell(r, metric, lambda v: f"{v / 1e6:.1f}")


def ns(r, metric):
    v = None if r is None or r.get("error") else r.get(metric)
    return "—" if v is None else f"{v:.0f}"


def ratio(a, b, metric="items_per_second"):
    va = None if a is None or a.get("error") else a.get(metric)
    vb = None if b is None or b.get("error") else b.get(metric)
    return None if not va or not vb else va / vb


def verdict_line(label, value, bound, where):
    if value is None:
        return f"- {label}: **not measured** ({where})"
    word = "met" if value >= bound else "missed"
    return f"- {label}: **{word}**, {value:.2f}× ({where})"


# ---------------------------------------------------------------------------------------------
# Rings


def ring_rows(rows):
    """{(impl, shape, capacity, placement): row} of the pinned ring/mpmc cells."""
    out = {}
    for r in rows.values():
        if r["group"] != "ring" or r["bench"] != "mpmc" or r.get("placement") not in PLACEMENTS:
            continue
        shape = f"P{r['producers']}C{r['consumers']}"
        out[(r["impl"], shape, r["capacity"], r["placement"])] = r
    return out


def cap_label(c):
    return f"{c // 1024}Ki" if c % 1024 == 0 else str(c)


def ring_markdown(rows, run):
    grid = ring_rows(rows)
    if not any(k[3] in ("spread", "packed") for k in grid):
        return None
    impls = [i for i in RING_ORDER if any(k[0] == i for k in grid)]
    impls += sorted({k[0] for k in grid} - set(impls))
    cols = [(s, c, p) for s, c in RING_CELLS for p in ("spread", "packed")
            if any(k[1:] == (s, c, p) for k in grid)]
    head = " | ".join(f"{s} {cap_label(c)} {p}" for s, c, p in cols)
    lines = [f"| ring | {head} |", "|" + "---|" * (len(cols) + 1)]
    for i in impls:
        lines.append(f"| `{i}` | " + " | ".join(cell(grid.get((i,) + k)) for k in cols) + " |")
    lines += ["", "On-CPU time per item, all threads (ns):", "",
              f"| ring | {head} |", "|" + "---|" * (len(cols) + 1)]
    for i in impls:
        lines.append(f"| `{i}` | " + " | ".join(ns(grid.get((i,) + k), "cpu_ns_per_item")
                                               for k in cols) + " |")
    lines += ["", "Targets (1P1C, both capacities; the lower ratio counts):", ""]
    for label, a, b, shape, where, bound in RING_TARGETS:
        vals = [ratio(grid.get((a, shape, c, where)), grid.get((b, shape, c, where)))
                for c in (1024, 65536)]
        vals = [v for v in vals if v is not None]
        lines.append(verdict_line(label, min(vals) if vals else None, bound,
                                  f"run {run['id']}"))
    used = list(grid.values())
    return bench_docs.block(
        lines, "M items/s, median [min–max] of the repetitions (interleaved across rings); "
        "⚠: a repetition left ±15 % of the median. spread: producer and consumer threads "
        "pinned round-robin over the allowed CPUs (every hand-off crosses cores); packed: all "
        "on one CPU." + (f" The machine's {run['handoff']}." if run.get("handoff") else ""),
        run, used)


# ---------------------------------------------------------------------------------------------
# Pools


def pool_rows(rows):
    """{(impl, job, W, S, placement): row} of the pool throughput grid at C1024."""
    out = {}
    for r in rows.values():
        if r["group"] != "pool" or r["bench"] != "throughput" or r["capacity"] != 1024:
            continue
        out[(r["impl"], r["job"], r["workers"], r["submitters"],
             r.get("placement") or "free")] = r
    return out


def pool_markdown(rows, run):
    grid = pool_rows(rows)
    wheres = [p for p in ("packed", "free", "spread") if any(k[4] == p for k in grid)]
    if len(wheres) < 2:
        return None
    impls = [i for i in POOL_IMPLS if any(k[0] == i for k in grid)]
    shapes = sorted({(k[1], k[2], k[3]) for k in grid}, key=lambda t: (t[0] != "empty",) + t[1:])
    head = " | ".join(f"`{i}`" for i in impls)
    lines = []
    worst = {}  # (target, placement) -> lowest ratio
    for where in wheres:
        lines += [f"**{where}**" + {"packed": " (the whole process on one CPU)",
                                    "free": " (two CPUs, unpinned: placement-dependent)",
                                    "spread": " (lfq's threads pinned round-robin; the peers' "
                                              "own threads unpinned)"}[where], "",
                  f"| jobs, W×S | {head} | lfq ÷ go | lfq ÷ glib | CPU ns/job lfq / go |",
                  "|" + "---|" * (len(impls) + 4)]
        for job, w, s in shapes:
            row = {i: grid.get((i, job, w, s, where)) for i in impls}
            r_go = ratio(row.get("lfq"), row.get("go"))
            r_gl = ratio(row.get("lfq"), row.get("glib"))
            cpu = f"{ns(row.get('lfq'), 'cpu_ns_per_job')} / {ns(row.get('go'), 'cpu_ns_per_job')}"
            lines.append(f"| {job}, {w}×{s} | " + " | ".join(cell(row[i]) for i in impls) +
                         f" | {'—' if r_go is None else f'{r_go:.2f}'}"
                         f" | {'—' if r_gl is None else f'{r_gl:.2f}'} | {cpu} |")
            for name, v in (("go", r_go), ("glib", r_gl)):
                if v is not None and (job == "empty" or name == "go"):
                    key = (name, job, where)
                    worst[key] = min(worst.get(key, v), v)
        lines.append("")
    lines += ["Targets (every cell of the grid; the lowest ratio counts):", ""]
    for where in ("packed", "free"):
        for name, job, bound in (("go", "empty", 1.0), ("glib", "empty", 1.5), ("go", "1us", 1.0)):
            label = f"{where}: lfq ≥ {bound}× {'the Go pool' if name == 'go' else 'GLib'}, {job} jobs"
            lines.append(verdict_line(label, worst.get((name, job, where)), bound,
                                      f"run {run['id']}"))
    used = list(grid.values())
    return bench_docs.block(
        lines, "M jobs/s, median [min–max] of the repetitions (interleaved across pools); ⚠: "
        "a repetition left ±15 % of the median. W workers, S submitter threads "
        "(`lfq_pool_submit_wait`), queue capacity 1024. CPU ns/job: on-CPU time of the whole "
        "process per job.", run, used)


def blocks(rows, run):
    return {"ring-placement": ring_markdown(rows, run), "pool-placement": pool_markdown(rows, run)}
