"""Pair every chapter's .py (percent format) with its .ipynb, as `make sync` does.

A missing half is created from the other. When both exist and differ, jupytext's
--sync takes the inputs from the newer file (keeping the notebook's outputs). Before
anything is overwritten both files are copied to chapters/.sync-backup/<time>/, so a
learner's edits are never lost.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import jupytext


def in_sync(py: Path, nb: Path) -> bool:
    return jupytext.writes(jupytext.read(nb), fmt="py:percent") == py.read_text()


def new_folder(parent: Path, stamp: str) -> Path:
    """parent/stamp, or stamp-2, -3 … when a run in the same second made it: never an earlier
    run's backups, which copying again would overwrite."""
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = parent / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"no free backup folder for {stamp} in {parent}")


def main(folder: Path) -> int:
    stamp, backup = time.strftime("%Y%m%d-%H%M%S"), None
    stems = sorted({p.with_suffix("") for p in folder.glob("[0-9][0-9]_*.py")}
                   | {p.with_suffix("") for p in folder.glob("[0-9][0-9]_*.ipynb")})
    for stem in stems:
        py, nb = stem.with_suffix(".py"), stem.with_suffix(".ipynb")
        if py.exists() and nb.exists() and in_sync(py, nb):
            continue
        if py.exists() and nb.exists():
            backup = backup or new_folder(folder / ".sync-backup", stamp)
            shutil.copy2(py, backup / py.name)
            shutil.copy2(nb, backup / nb.name)
            print(f"{stem.name}: out of sync; copies kept in {backup}")
        target = py if py.exists() else nb
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", str(target)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "chapters")))
