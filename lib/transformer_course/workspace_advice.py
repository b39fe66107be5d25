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
    each edited file of the pair is copied (a .py edited by hand is not in the notebook). The
    restore takes the index too: a plain `git restore` left an edit staged by `git add`, and
    refused a file in conflict. A file in conflict is copied from git's record of the learner's
    side, not with its conflict markers (no notebook); in a pull's merge, the course's version
    is the branch merged in, and a commit ends the merge."""
    course, changed, conflicts = ws.chapters.parent.resolve(), ws.edited_files(), ws.unmerged_files()
    git = "git" if course == Path.cwd().resolve() else f"git -C {quoted(course)}"
    merging = ws.merging()
    lines = [
        f"{', '.join(names)}: edited in chapters/ itself (git shows the change), not in your copy in "
        "workspace/, the one JupyterLab opens. `git pull` refuses to update a chapter edited there. "
        "To keep those edits as files of your own and give chapters/ back the course's version:"
    ]
    for name in names:
        stem = name.removesuffix(".ipynb")
        pair = [f for f in (name, f"{stem}.py") if f in changed] or [name]
        mine = {f: _shown(free_name(ws.folder, stem, Path(f).suffix)) for f in pair}
        copies = [_keep(git, ws, f, mine[f], f in conflicts, merging) for f in pair]
        paths = f"{quoted(f'chapters/{name}')} {quoted(f'chapters/{stem}.py')}"
        restore = (
            f"{git} restore --source={'MERGE_HEAD' if merging else 'HEAD'} --staged --worktree -- {paths}"
        )
        lines.append(f"  {' && '.join(copies)} && {restore}")
    if merging:  # once, after every chapter: a commit on an earlier line ended the merge, and the
        # next line's restore from MERGE_HEAD then failed ("could not resolve MERGE_HEAD")
        lines.append(f"  {git} commit -q --no-edit")
    return "\n".join(lines)


def _keep(git: str, ws, name: str, mine: str, conflicted: bool, merging: bool) -> str:
    """The command that copies the learner's ``chapters/<name>`` to ``mine``. In conflict, git
    keeps the learner's side as stage 2 in a merge (their commit), else as stage 3 (the stash
    popped, or the commit a rebase replays)."""
    if not conflicted:
        return f"cp {quoted(_shown(ws.chapters / name))} {quoted(mine)}"
    return f"{git} show {quoted(f':{2 if merging else 3}:chapters/{name}')} > {quoted(mine)}"
