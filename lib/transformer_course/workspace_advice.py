"""What ``workspace`` tells the learner to type: the reset that gets a newer chapter, a free
name to copy their own version to, and how to keep edits made in chapters/ itself. ``ws`` is a
``workspace.Workspace`` (not imported: workspace imports this module)."""

from __future__ import annotations

import os
from pathlib import Path


def reset_hint(name: str) -> str:
    if os.environ.get("MAKELEVEL"):  # run by make: the target the learner knows
        return f"make reset {name[:2]}"
    return f"python -m transformer_course.workspace reset {name[:2]}"


def quoted(path: Path | str) -> str:
    """``path`` in single quotes for a shell, an apostrophe in it ("Ann's course") included."""
    return "'" + str(path).replace("'", "'\\''") + "'"


def _shown(path: Path) -> str:
    """``path`` as a learner types it here: relative to the current folder when inside it."""
    path, here = path.resolve(), Path.cwd().resolve()
    return str(path.relative_to(here) if path.is_relative_to(here) and path != here else path)


def free_name(folder: Path, stem: str, suffix: str = ".ipynb") -> Path:
    """``folder/<stem>-mine.ipynb``, or -mine-2, -3 … : a name the cp we print cannot overwrite."""
    path, n = folder / f"{stem}-mine{suffix}", 1
    while path.exists() or path.is_symlink():
        n += 1
        path = folder / f"{stem}-mine-{n}{suffix}"
    return path


def edited_advice(ws, names: list[str]) -> str:
    """How to keep edits made in chapters/ itself and let `git pull` update the course again:
    each edited file of the pair is copied (a .py edited by hand is not in the notebook)."""
    course, changed = ws.chapters.parent.resolve(), ws.edited_files()
    git = "git" if course == Path.cwd().resolve() else f"git -C {quoted(course)}"
    lines = [
        f"{', '.join(names)}: edited in chapters/ itself (git shows the change), not in your copy in "
        "workspace/, the one JupyterLab opens. `git pull` refuses to update a chapter edited there. "
        "To keep those edits as files of your own and give chapters/ back the course's version:"
    ]
    for name in names:
        stem = name.removesuffix(".ipynb")
        pair = [f for f in (name, f"{stem}.py") if f in changed] or [name]
        mine = {f: _shown(free_name(ws.folder, stem, Path(f).suffix)) for f in pair}
        copies = [f"cp {quoted(_shown(ws.chapters / f))} {quoted(mine[f])}" for f in pair]
        restore = f"{quoted(f'chapters/{name}')} {quoted(f'chapters/{stem}.py')}"
        lines.append(f"  {' && '.join(copies)} && {git} restore {restore}")
    return "\n".join(lines)
