#!/usr/bin/env python3
"""Turns the records of one bench/compare.sh run into its markdown table.

Usage: report.py RESULTS_DIR  — reads RESULTS_DIR/results.jsonl and meta.json, prints the table
and writes RESULTS_DIR/results.json (meta + every record). Standard library only.

Ratios: "Saturn" is saturn-async (the same durability as the peers' defaults: acknowledged
from memory, flushed in the background); a ratio above 1 means Saturn is faster (msgs/s) or
slower (p99). Saturn rows have no ratio.
"""

import json
import os
import sys

SATURN = "saturn-async"
SATURN_SYSTEMS = ("saturn-async", "saturn-sync")


def size_label(size):
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} B"


def fmt_us(us):
    if us is None:
        return "—"
    if us < 1000:
        return f"{us} µs"
    if us < 1_000_000:
        return f"{us / 1000:.2f} ms"
    return f"{us / 1_000_000:.2f} s"


def fmt_rate(v):
    return f"{v:,.0f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}"


def workload_label(rec):
    size, p, kind = rec["size"], rec["producers"], rec["workload"]
    if kind == "produce":
        return f"produce {size_label(size)}, {p} producer{'s' if p != 1 else ''} (sync sends)"
    if kind == "consume":
        return f"consume catch-up {size_label(size)}, 1 consumer"
    if kind == "e2e-max":
        return f"e2e {size_label(size)}, {p} producers + 1 consumer, unpaced (end-to-end maximum)"
    if kind == "e2e-pmax":
        return f"e2e {size_label(size)}, {p} producers at a share of the produce-only maximum"
    return f"e2e {size_label(size)}, {p} producers at a share of the end-to-end maximum"


def main():
    results = sys.argv[1]
    with open(os.path.join(results, "meta.json")) as f:
        meta = json.load(f)
    records = []
    with open(os.path.join(results, "results.jsonl")) as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
    with open(os.path.join(results, "results.json"), "w") as f:
        json.dump({"meta": meta, "records": records}, f, indent=1)

    systems = []
    for r in records:
        if r["system"] not in systems:
            systems.append(r["system"])
    # Workloads in the order they ran; rows keyed by (label, system).
    order, rows = [], {}
    for r in records:
        if r["type"] != "result":
            continue
        label = workload_label(r)
        if label not in order:
            order.append(label)
        rows[(label, r["system"])] = r

    print(f"Run {meta['date']} on {meta['machine']}; Saturn {meta['saturn']}; peers: {meta['versions']}.")
    print(f"Settings: {meta['settings']}.")
    print()
    print("| workload | system | msgs/s | MiB/s | p50 | p99 | p99.9 | max | Saturn/peer msgs/s | Saturn/peer p99 | notes |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    for label in order:
        base = rows.get((label, SATURN))
        base_s = (base or {}).get("summary") or {}
        for system in systems:
            r = rows.get((label, system))
            if r is None:
                continue
            s = r.get("summary")
            notes = []
            if s is None:
                if r["workload"] == "consume" and r.get("backlog") == 0:
                    notes.append("no backlog could be written")
                print(f"| {label} | {system} | failed | | | | | | | | {'; '.join(notes) or 'see logs/'} |")
                continue
            lat = s.get("latency_us", {})
            p50, p99, p999, mx = (lat.get(k) for k in ("p50", "p99", "p999", "max"))
            if r["workload"] == "consume":
                # Store-to-delivery of an old backlog is its age, not a latency.
                p50 = p99 = p999 = mx = None
                mib = r.get("backlog", 0) * r["size"] / 2**20
                notes.append(f"backlog {r.get('backlog', 0):,} msgs ({mib:,.0f} MiB), page cache {r.get('cache')}")
            paced = r["workload"] in ("e2e", "e2e-pmax")
            if paced:
                notes.append(f"at {r.get('rate')} msg/s, latency born→delivery, lost {s.get('lost', 0)}")
            elif r["workload"] == "e2e-max":
                notes.append(f"latency born→delivery at saturation, lost {s.get('lost', 0)}")
            if s.get("errors"):
                notes.append(f"{s['errors']} errors: {s.get('first_error', '')[:80]}")
            peer = system not in SATURN_SYSTEMS
            # An e2e rate is set (a share of each system's own maximum), not measured.
            r_rate = ratio(base_s.get("msgs_per_sec"), s.get("msgs_per_sec")) if peer and not paced else "—"
            r_p99 = ratio((base_s.get("latency_us") or {}).get("p99"), p99) if peer and p99 else "—"
            print(
                f"| {label} | {system} | {fmt_rate(s['msgs_per_sec'])} | {s['mb_per_sec']:.1f} | "
                f"{fmt_us(p50)} | {fmt_us(p99)} | {fmt_us(p999)} | {fmt_us(mx)} | {r_rate} | {r_p99} | "
                f"{'; '.join(notes)} |"
            )
    rss = {r["system"]: r for r in records if r["type"] == "rss"}
    base_rss = rss.get(SATURN, {}).get("kib")
    for system in systems:
        r = rss.get(system)
        if r is None:
            continue
        kib = r.get("kib") or None
        shown = f"{kib / 1024:,.0f} MiB" if kib else "—"
        note = "VmHWM during those runs" + ("" if r.get("reset") == "yes" else " (peak not resettable: since start)")
        if r.get("anon_kib") is not None and r.get("file_kib") is not None:
            note += f"; at their end {r['anon_kib'] / 1024:,.0f} MiB anonymous + {r['file_kib'] / 1024:,.0f} MiB file-backed (mapped data)"
        r_rss = f"{ratio(base_rss, kib)} (RSS)" if system not in SATURN_SYSTEMS else "—"
        print(f"| peak RSS, {r['producers']} producers | {system} | {shown} | | | | | | {r_rss} | | {note} |")
    print()
    print(
        "Saturn = saturn-async (acknowledged from memory, like the peers' defaults here). "
        "Saturn/peer msgs/s above 1: Saturn is faster; Saturn/peer p99 (and RSS) below 1: Saturn is lower. "
        "Produce latency = send to acknowledgement; e2e latency = scheduled send to delivery. Paced e2e runs "
        "each system at E2E_LOAD of its own maximum: of its unpaced e2e rate (the load the goal means), and, "
        "for comparison with runs before 2026-11-26, of its produce-only rate, which is ~75% of the e2e "
        "capacity since the consumer's work comes on top (E2E_RATE fixes one rate for all)."
    )
    loads = [f"{r['system']} {r['start']} → {r['end']}" for r in records if r["type"] == "load"]
    if loads:
        print(f"Load average (1/5/15 min) when each system started → stopped: {'; '.join(loads)}.")
    for r in records:
        if r["type"] == "skipped":
            print(f"\nSkipped {r['system']}: {r['reason']}")


if __name__ == "__main__":
    main()
