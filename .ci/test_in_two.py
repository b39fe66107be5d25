"""`make test`'s unit tests and notebooks as two pytest processes, beside the browser suite.

The browser suite (``--with-browser``) runs in the foreground, its output streamed: it mostly
waits on Chromium, the server and a kernel, and uses well under one of two cores. The unit
tests and notebooks run beside it as two processes at a lower CPU priority (``nice``), so they
take the cores the browser suite leaves idle and give way whenever it needs them: its repaint
latencies are measured and its waits have time limits. What they run is single-threaded (one
torch thread per test, tests/conftest.py). A clean-clone CI run took 26:04 so (the browser suite
24:46, the unit jobs done 10:23 and 12:51 into it), against 30:20 with them after it (22:17, then
6:05): the browser suite alone keeps about one core of two busy.

Job A: every notebook under nbval and two test files in five; job B: the other three in five
(the notebooks take about 80 s, chapter 09's training half a minute of it). Each job's output
is printed whole once the browser suite has ended, so nothing interleaves; the exit status is
the first that failed (the browser suite's, then A's, then B's).

Usage: python .ci/test_in_two.py [--with-browser] [pytest options for every job]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NICE = 10  # CFS weight 110 against the browser suite's 1024: about a tenth of a core it wants


def jobs(files: list[str]) -> tuple[list[str], list[str]]:
    """(job A's arguments, job B's): A takes the notebooks and two files in five."""
    a = [f for i, f in enumerate(files) if i % 5 in (0, 2)]
    b = [f for i, f in enumerate(files) if i % 5 not in (0, 2)]
    return ["--nbval-lax", "chapters", *a], b


def _lower_priority() -> None:
    os.nice(NICE)


def start_unit_jobs(options: list[str], tmp: Path, *, nice: bool) -> list[tuple[str, Path, subprocess.Popen]]:
    """Job A and job B started, each writing to its own log in ``tmp``."""
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py"))
    base = [sys.executable, "-m", "pytest", "-m", "not browser and not install", "-p", "no:cacheprovider"]
    lower = _lower_priority if nice and hasattr(os, "nice") else None
    running = []
    for name, args in zip("AB", jobs(files), strict=True):
        log = tmp / f"{name}.log"
        with log.open("w") as out:
            command = [*base, *options, *args]
            job = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=out, preexec_fn=lower)
        running.append((name, log, job))
    return running


def browser_suite(options: list[str]) -> int:
    """The browser suite in the foreground, its output streamed (it skips without Chromium)."""
    command = [sys.executable, "-m", "pytest", "tests/browser", "-m", "not install", *options]
    return subprocess.call(command, cwd=ROOT)


def main(argv: list[str]) -> int:
    with_browser = "--with-browser" in argv
    options = [a for a in argv if a != "--with-browser"]
    with tempfile.TemporaryDirectory() as tmp:
        running = start_unit_jobs(options, Path(tmp), nice=with_browser)
        status = browser_suite(options) if with_browser else 0
        for name, log, job in running:
            code = job.wait()
            print(f"===== job {name} ({'passed' if code == 0 else f'exit {code}'}) =====", flush=True)
            sys.stdout.write(log.read_text(errors="replace"))
            sys.stdout.flush()
            status = status or code
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
