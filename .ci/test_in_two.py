"""`make test`'s unit tests and notebooks, as two pytest processes at once: one per core.

The browser suite runs before, alone (its control-to-repaint latencies are measured, and a
second process would slow them). What is left is single-threaded (one torch thread per test,
tests/conftest.py), so on a 2-core machine two processes take about half the time of one.
Job A: every notebook under nbval and two test files in five; job B: the other three in five
(the notebooks take about 80 s, chapter 09's training half a minute of it: with a third of the
files A ended 4:08 into a CI run and B 5:00). Each job's output is printed whole once
it ends, so the two never interleave; the exit status is the first job's that failed.

Usage: python .ci/test_in_two.py [pytest options for both jobs]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def jobs(files: list[str]) -> tuple[list[str], list[str]]:
    """(job A's arguments, job B's): A takes the notebooks and two files in five."""
    a = [f for i, f in enumerate(files) if i % 5 in (0, 2)]
    b = [f for i, f in enumerate(files) if i % 5 not in (0, 2)]
    return ["--nbval-lax", "chapters", *a], b


def main(options: list[str]) -> int:
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py"))
    base = [sys.executable, "-m", "pytest", "-m", "not browser and not install", "-p", "no:cacheprovider"]
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        logs, running = [], []
        for name, args in zip("AB", jobs(files), strict=True):
            log = Path(tmp) / f"{name}.log"
            with log.open("w") as out:
                running.append(subprocess.Popen([*base, *options, *args], cwd=ROOT, stdout=out, stderr=out))
            logs.append((name, log))
        for (name, log), job in zip(logs, running, strict=True):
            code = job.wait()
            print(f"===== job {name} ({'passed' if code == 0 else f'exit {code}'}) =====", flush=True)
            sys.stdout.write(log.read_text(errors="replace"))
            status = status or code
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
