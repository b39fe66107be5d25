"""Each chapter's kernel memory after Run All, so an instructor can size a JupyterHub.

    python -m transformer_course.kernel_memory [chapters] [--json FILE]     (make memory)

Every chapter runs top to bottom in a fresh ``python3`` kernel (nbclient, as nbval and
``make html`` run it); then the kernel process is measured with psutil:

- ``rss``: resident memory after the last cell: what the learner's open chapter holds.
- ``peak``: the most it held at any point (Linux reports it; elsewhere it is left out).
- ``uss``: memory no other process shares. Kernels share PyTorch's code pages, so each
  further kernel on the same machine costs about its uss, less than its rss.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

MIB = 2**20


def _peak_rss(pid: int) -> int | None:
    """The kernel's high-water mark of resident memory (VmHWM), where /proc tells it."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def measure(path: Path, timeout: int = 300) -> dict:
    """Run ``path`` in a fresh kernel; its memory (bytes) after the last cell, and the run's seconds.

    A failing cell ends the run; the kernel is measured where it stopped and ``error`` says why.
    """
    if isinstance(path, str):  # a str names a file as well as a Path does (path.parent below)
        path = Path(path)
    if not isinstance(path, Path):  # else a TypeError or AttributeError from inside nbformat
        raise ValueError(f"path must be a pathlib.Path (or str) of a notebook, got {type(path).__name__}")
    # nbclient's timeout: seconds per cell, or None for none; a bool or 0 would end at once.
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0):
        raise ValueError(f"timeout must be a positive int of seconds per cell (or None), got {timeout!r}")
    import nbformat
    import psutil
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    result: dict = {"chapter": path.stem, "error": None}
    start = time.perf_counter()
    with client.setup_kernel(stderr=subprocess.DEVNULL):  # the kernel's own warnings are noise here
        kernel = psutil.Process(client.km.provisioner.pid)
        result["rss_at_start"] = kernel.memory_info().rss
        try:
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
        except Exception as err:  # noqa: BLE001 - a failing chapter is a result, not a crash
            # nbclient's CellExecutionError carries the cell's own exception as ename/evalue
            name, value = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
            result["error"] = f"{name}: {str(value).strip()[:200]}"
        result["seconds"] = time.perf_counter() - start
        result["rss"] = kernel.memory_info().rss
        result["uss"] = kernel.memory_full_info().uss
        result["peak"] = _peak_rss(kernel.pid)
    return result


def table(results: list[dict]) -> str:
    """A Markdown table of the results, in MiB."""

    def mib(value: int | None) -> str:
        return "—" if value is None else f"{value / MIB:.0f}"

    lines = [
        "| chapter | rss after Run All (MiB) | peak rss (MiB) | uss (MiB) | at start (MiB) | run (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        name = r["chapter"] + (f" (failed: {r['error']})" if r["error"] else "")
        cells = [mib(r["rss"]), mib(r["peak"]), mib(r["uss"]), mib(r["rss_at_start"]), f"{r['seconds']:.1f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m transformer_course.kernel_memory", description=__doc__)
    parser.add_argument("folder", nargs="?", default="chapters", help="where the NN_topic.ipynb chapters are")
    parser.add_argument("--json", help="also write the numbers (bytes) to this file")
    args = parser.parse_args(argv)
    chapters = sorted(Path(args.folder).glob("[0-9][0-9]_*.ipynb"))
    if not chapters:
        print(f"error: folder must hold chapters NN_topic.ipynb, got {args.folder!r}", file=sys.stderr)
        return 2
    results = []
    for path in chapters:
        results.append(measure(path))
        print(f"{path.stem}: {results[-1]['rss'] / MIB:.0f} MiB", file=sys.stderr, flush=True)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 1 if any(r["error"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
