"""``make html``: every chapter exported, an index page, previous / next links, a report.

A chapter whose cells raise is still exported (the error shows in its cell); the command
lists every failure at the end and then exits with status 1.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .charts import STATIC
from .page import Failure, chapter_title, execute, first_line, hide_solutions, to_html

INDEX_TEMPLATE = STATIC / "offline_index.html.j2"
PATTERN = "[0-9][0-9]_*.ipynb"


@dataclass(frozen=True)
class Chapter:
    path: Path
    title: str  # "04 · Softmax and scaling"

    @property
    def page(self) -> str:
        return self.path.stem + ".html"


def find_chapters(chapters_dir: Path) -> list[Chapter]:
    """Every NN_topic.ipynb of the folder, in order, with its title (nothing is run)."""
    paths = sorted(chapters_dir.glob(PATTERN))
    return [Chapter(p, chapter_title(nbformat.read(p, as_version=4), p.stem)) for p in paths]


def nav_for(chapter: Chapter, linked: list[Chapter]) -> dict:
    """Links to the index and to the neighbours of ``chapter`` among ``linked``."""
    i = linked.index(chapter)
    link = lambda c: {"href": c.page, "title": c.title} if c else None  # noqa: E731
    return {
        "index": "index.html",
        "prev": link(linked[i - 1] if i > 0 else None),
        "next": link(linked[i + 1] if i + 1 < len(linked) else None),
    }


def export_notebook(
    path: Path,
    out_dir: Path,
    *,
    solutions: bool = False,
    nav: dict | None = None,
    timeout: int = 300,
    starting=None,
) -> tuple[Path, list[Failure]]:
    """Run one notebook and write ``out_dir/NN_topic.html``; returns the page and what failed.
    ``starting``: the lock its kernel starts under (``page.execute``)."""
    nb, failures = execute(path, timeout=timeout, starting=starting)
    if not solutions:
        hide_solutions(nb)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / (path.stem + ".html")
    target.write_text(to_html(nb, chapter_title(nb, path.stem), nav), encoding="utf-8")
    return target, failures


def write_index(chapters: list[Chapter], out_dir: Path, *, solutions: bool) -> Path:
    """``out_dir/index.html``: the chapters in order; one not exported yet is listed unlinked."""
    import jinja2

    template = jinja2.Template(INDEX_TEMPLATE.read_text(encoding="utf-8"), autoescape=True)
    rows = [{"title": c.title, "href": c.page if (out_dir / c.page).exists() else None} for c in chapters]
    target = out_dir / "index.html"
    target.write_text(template.render(chapters=rows, solutions=solutions), encoding="utf-8")
    return target


def report(failures: list[Failure]) -> str:
    chapters = sorted({f.chapter for f in failures})
    lines = [
        f"\n{len(failures)} failure(s) in {len(chapters)} chapter(s); each chapter was still "
        "exported, with the error in its cell:"
    ]
    return "\n".join(lines + [f"  {f}" for f in failures])


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m transformer_course.export",
        description="Run the chapters and write each as one HTML page that works offline.",
    )
    parser.add_argument("chapters", nargs="?", default="chapters", type=Path, help="default: chapters")
    parser.add_argument("out_dir", nargs="?", default="build/html", type=Path, help="default: build/html")
    parser.add_argument("names", nargs="*", help="only chapters whose name starts so, e.g. 04 05")
    parser.add_argument(
        "--solutions", action="store_true", help="include the worked solutions (folded); hidden by default"
    )
    parser.add_argument("--timeout", type=int, default=300, help="seconds one cell may run (default 300)")
    parser.add_argument(
        "--jobs",
        type=_positive,
        default=min(4, _cores()),
        help="chapters run at once, each in its own kernel (default: the cores, at most 4)",
    )
    return parser.parse_args(argv)


def _cores() -> int:
    """The cores this process may run on (a container or taskset may allow fewer than the machine has)."""
    if hasattr(os, "sched_getaffinity"):  # Linux
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    chapters = find_chapters(args.chapters)
    chosen = [c for c in chapters if not args.names or any(c.path.stem.startswith(n) for n in args.names)]
    if not chosen:
        print(f"no chapters found in {args.chapters} (names: {args.names or 'all'})", file=sys.stderr)
        return 1
    # Link the chapters this run writes and those an earlier run left in out_dir.
    linked = [c for c in chapters if c in chosen or (args.out_dir / c.page).exists()]
    failures = _export_all(chosen, linked, args)
    print(write_index(chapters, args.out_dir, solutions=args.solutions))
    if failures:
        print(report(failures), file=sys.stderr)
        return 1
    return 0


def _export_all(chosen: list[Chapter], linked: list[Chapter], args: argparse.Namespace) -> list[Failure]:
    """Export every chapter of ``chosen``; what failed, in chapter order.

    Each chapter runs in a kernel of its own, so ``args.jobs`` of them run at once in
    worker processes (on 2 cores the whole course exports in about 0.6 of the time). The
    last chapters train models and take longest, so they start first."""
    work = [(chapter, nav_for(chapter, linked)) for chapter in chosen]
    if args.jobs == 1 or len(work) == 1:
        return [f for chapter, nav in work for f in _export_one(chapter, args, nav)]
    context = multiprocessing.get_context()
    starting = context.Lock()  # one kernel starts at a time (page.execute says why)
    workers = min(args.jobs, len(work))
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_share, initargs=(starting,)) as pool:
        running = {chapter: pool.submit(_export_one, chapter, args, nav) for chapter, nav in reversed(work)}
        return [f for chapter in chosen for f in _collect(chapter, running[chapter])]


_STARTING = None  # in a worker process of _export_all: the lock its kernels start under


def _share(starting) -> None:
    """Run in each worker process as it starts: keep the lock the workers share."""
    global _STARTING
    _STARTING = starting


def _collect(chapter: Chapter, future) -> list[Failure]:
    """A worker's failures; a worker that died (out of memory, killed) is a failure too."""
    try:
        return future.result()
    except BrokenProcessPool as err:
        return [_not_exported(chapter, f"the worker process died ({first_line(err)})")]


def _not_exported(chapter: Chapter, error: str) -> Failure:
    """Say that ``chapter`` has no page, and why; the failure the report lists at the end."""
    print(f"{chapter.path}  NOT EXPORTED: {error}", file=sys.stderr, flush=True)
    return Failure(chapter.path.name, "export", error)


def _export_one(chapter: Chapter, args: argparse.Namespace, nav: dict) -> list[Failure]:
    """Export one chapter and say so; whatever goes wrong is returned, never raised."""
    start = time.perf_counter()
    try:
        target, failed = export_notebook(
            chapter.path,
            args.out_dir,
            solutions=args.solutions,
            nav=nav,
            timeout=args.timeout,
            starting=_STARTING,
        )
    except Exception as err:  # this chapter has no page; the others still get theirs
        return [_not_exported(chapter, f"{type(err).__name__}: {first_line(err)}")]
    note = f", {len(failed)} failed" if failed else ""
    seconds = time.perf_counter() - start
    print(f"{target}  ({target.stat().st_size / 1e6:.1f} MB, {seconds:.1f} s{note})", flush=True)
    return failed
