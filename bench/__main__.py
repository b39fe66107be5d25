"""``python -m bench [--only attention,training,gpt,kv_cache,memory,chapters,widgets]``: run, print, write
RESULTS.md.

Each run updates its own sections in bench/results.json (kept between runs, so a subset
run keeps the other sections' last results, each with its own date and machine) and
rewrites bench/RESULTS.md from it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import torch

from . import attention, course, gpt, memory, training
from ._common import Section, machine

HERE = Path(__file__).resolve().parent
BENCHES = {
    "attention": attention.run,
    "training": training.run,
    "gpt": gpt.run_training,
    "kv_cache": gpt.run_generation,
    "memory": memory.run,
    "chapters": course.run_chapters_section,
    "widgets": course.run_widgets_section,
}


def table(section: dict) -> str:
    lines = [
        "| measured | figure | median (min–max) / details | goal | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in section["rows"]:
        met = {True: "✅ met", False: "❌ not met", None: "—"}[row["met"]]
        cells = [
            row["item"],
            f"**{row['value']}**",
            row["spread"],
            row["goal"] or "—",
            met if row["goal"] else "—",
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def render(results: dict) -> str:
    out = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`); run a subset with "
        "`make bench BENCH=attention` (names: " + ", ".join(BENCHES) + ", comma-separated). "
        "Lib-vs-PyTorch and widget figures are medians over alternating runs in one process; "
        "chapters are one run each; memory is one run per fresh process. Each section states the "
        "machine, torch's thread count and the load average when it ran.",
        "",
    ]
    for name in BENCHES:
        if name not in results:
            continue
        sec = results[name]
        m = sec["machine"]
        out += [
            f"## {sec['title']}",
            "",
            f"*{sec['date']}, {m['cpu']}, {m['cores']} cores, torch {m['torch']} with "
            f"{m['torch threads']} threads, load average {m['load average (1/5/15 min)']} at start; "
            f"took {sec['seconds']:.0f} s.*",
            "",
        ]
        out += [f"{note}" for note in sec["notes"]] + [""]
        out += [table(sec), ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated subset of: " + ", ".join(BENCHES))
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads in this process (default: torch's own); chapter kernels and "
        "memory subprocesses keep their own",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHES)}")
    if args.threads:
        torch.set_num_threads(args.threads)

    store = HERE / "results.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    print("Machine:", ", ".join(f"{k} {v}" for k, v in machine().items()), flush=True)
    for name in names:
        print(f"\n== {name} ==", flush=True)
        start, info = time.perf_counter(), machine()
        section: Section = BENCHES[name]()
        results[name] = {
            "title": section.title,
            "notes": section.notes,
            "rows": [r.as_dict() for r in section.rows],
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": info,
            "seconds": time.perf_counter() - start,
        }
        print(table(results[name]), flush=True)
        if not args.no_write:  # write after each section: an interrupted run keeps what it did
            store.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
            (HERE / "RESULTS.md").write_text(render(results))
    if not args.no_write:
        print(f"\nWrote {HERE / 'RESULTS.md'}")
    missed = [r["item"] for s in results.values() for r in s["rows"] if r["met"] is False]
    print(f"Goals not met: {len(missed)}" + "".join(f"\n  - {m}" for m in missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
