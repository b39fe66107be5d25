"""What ``workspace`` tells the learner to type: the reset that gets a newer chapter, a free
name to copy their own version to, and how to keep edits made in chapters/ itself. ``ws`` is a
``workspace.Workspace`` (not imported: workspace imports this module)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import sys
from pathlib import Path


def reset_hint(name: str, names: list[str] | tuple = ()) -> str:
    if os.environ.get("MAKELEVEL"):  # run by make: the target the learner knows
        return f"{_make()} reset {chapter_key(name, names)}"
    return f"python -m transformer_course.workspace reset {chapter_key(name, names)}"


def chapter_key(name: str, names: list[str] | tuple = ()) -> str:
    """What to type to reset ``name``: its number, or its name where another of ``names`` (the
    course's chapters) has that number too, since reset refuses a number that names two."""
    same = [n for n in names if n[:3] == name[:3]]
    return name[:2] if len(same) <= 1 else name.removesuffix(".ipynb")


def status_hint() -> str:
    return (
        f"{_make()} status"
        if os.environ.get("MAKELEVEL")
        else "python -m transformer_course.workspace status"
    )


def _caller_dir() -> Path:
    """The folder the learner typed the command in. `make -C .. status`, typed in JupyterLab's
    terminal (it opens in workspace/), runs this in the course folder: the Makefile passes the
    learner's folder as TC_CALLER_DIR, and the commands printed must work there."""
    given = os.environ.get("TC_CALLER_DIR")
    if given and Path(given).is_dir():
        return Path(given).resolve()
    return Path.cwd().resolve()


def _make() -> str:
    """`make` (run by make, in the course folder), or `make -C <course folder>` for a learner
    in another folder, where a plain `make reset 03` answers "No rule to make target"."""
    here = Path.cwd().resolve()
    return "make" if _caller_dir() == here else f"make -C {quoted(here)}"


def error_hint(err: OSError, folder: Path | None = None) -> str:
    """What to do about a full disk (or quota), or a file of another user's in the way (a
    `sudo make lab` made the workspace root's): " Free some space …", " … `sudo chown` …", or "".
    ``folder``: the workspace, named by the chown when it is another user's (the file named in
    the error was, and the chown of it left the reset failing on the folder). A path of the
    learner's own that is read-only gets its `chmod u+w`."""
    if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return " Free some space on that disk (df -h shows how full each is), then run this again."
    if err.errno not in (errno.EACCES, errno.EPERM) or not (err.filename or folder):
        return ""
    path = Path(err.filename or folder)
    owned = folder if folder is not None and owned_by_another(folder) == folder else owned_by_another(path)
    if owned is not None:
        return f" {owned} belongs to another user (made by `sudo make lab`?): {chown_hint(owned)}."
    locked = _read_only(path)
    return f" {locked} is read-only: `chmod u+w {quoted(locked)}` lets you write there." if locked else ""


def _read_only(path: Path) -> Path | None:
    """``path``, or the folder holding it, that cannot be written, up to the first folder that exists."""
    for where in (path, *path.parents):
        with contextlib.suppress(OSError, ValueError):
            if not os.path.lexists(where):
                continue
            if not os.access(where, os.W_OK):
                return where
            if where.is_dir():
                return None
    return None


def chown_hint(path: Path) -> str:
    return f'`sudo chown -R "$USER" {quoted(path)}` gives it back to you'


def owned_by_another(path: Path) -> Path | None:
    """``path``, or the folder above it that exists, when another user owns it (POSIX only)."""
    getuid = getattr(os, "getuid", None)
    for where in (path, *path.parents):
        try:
            owner = where.stat().st_uid
        except (OSError, ValueError):
            continue
        return where if getuid is not None and owner != getuid() else None
    return None


def quoted(path: Path | str) -> str:
    """``path`` in single quotes for a shell, an apostrophe in it ("Ann's course") included."""
    return "'" + str(path).replace("'", "'\\''") + "'"


def _shown(path: Path) -> str:
    """``path`` as the learner types it: relative to their folder when inside it."""
    path, here = path.resolve(), _caller_dir()
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
    git = "git" if course == _caller_dir() else f"git -C {quoted(course)}"
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
    elif ws.rebasing():
        lines.append(_finish_rebase(git))
    return "\n".join(lines)


def committed_advice(ws, names: list[str]) -> str:
    """How to keep chapters changed by a commit of the learner's and give chapters/ the course's
    version again: each of the pair is copied as it is now (an uncommitted edit on top
    included) and restored from the commit the checkout took from the course. When the
    learner's commits since then hold nothing but those chapters, and none is pushed to a fork
    of theirs, the branch goes back to that commit (a `git pull --rebase` replayed the edit's
    commit onto the course's update, and stopped in conflict); else the restore is committed,
    of those files only (anything else staged stays staged), and a `git pull` that merges (from
    the remote named upstream, for a fork) takes the course's next version."""
    course, base = ws.chapters.parent.resolve(), ws.course_version()
    changed = ws.committed_files() | ws.edited_files()
    git = "git" if course == _caller_dir() else f"git -C {quoted(course)}"
    ref = ws.course_ref_name()
    fork = ws.course_ref() not in (None, "@{upstream}")
    remote = f" {' '.join(ref.split('/', 1))}" if fork else ""  # git pull upstream main
    lines = [_committed_header(names, f"git pull{remote}", None if fork else ref)]
    paths, pairs = [], set()
    for name in names:
        stem = name.removesuffix(".ipynb")
        pair = [f for f in (name, f"{stem}.py") if f in changed] or [name]
        mine = {f: _shown(free_name(ws.folder, stem, Path(f).suffix)) for f in pair}
        copies = [_keep(git, ws, f, mine[f], conflicted=False, merging=False) for f in pair]
        paths.append(f"{quoted(f'chapters/{name}')} {quoted(f'chapters/{stem}.py')}")
        pairs |= {f"chapters/{name}", f"chapters/{stem}.py"}
        restore = f"{git} restore --source={base} --staged --worktree -- {paths[-1]}"
        lines.append(f"  {' && '.join(copies)} && {restore}")
    if ws.files_since(base) <= pairs and not ws.pushed_since_base():  # these chapters alone: gone
        lines.append(f"  {git} reset -q --soft {base}")  # from the branch, no pull replays them
    else:
        lines.append(f"  {git} commit -q -m 'chapters: the course version again' -- {' '.join(paths)}")
        # With pull.rebase=true a plain pull would replay the old commit onto the update, and
        # stop in conflict again: this pull merges, whatever the learner's git settings.
        lines.append(f"  # then take the course's updates with: {git} pull --no-rebase{remote}")
    return "\n".join(lines)


def _committed_header(names: list[str], pull: str, pushed_to: str | None) -> str:
    """The first line of ``committed_advice``. ``pushed_to``: the branch the course is pulled
    from, where no remote names the course apart (None for a fork with one): the commit may
    then be the author's next version of the course, which pushing publishes."""
    where, author = "", ""
    if pushed_to:
        where = f", and not in {pushed_to}"
        author = (
            f"If you write the course and this commit is its next version, `git push` it: once "
            f"{pushed_to} has it, it is the course's version, and reset copies it into your workspace. Else "
        )
    return (
        f"{', '.join(names)}: changed by a commit of yours in chapters/ itself (`git log` shows it), "
        f"not in your copy in workspace/, the one JupyterLab opens{where}. {author}chapters/ holds your "
        f"version, not the course's, and a `{pull}` of a course update to it stops in conflict. To keep "
        "your version as files of your own and give chapters/ back the course's version:"
    )


def fork_note(ws) -> str | None:
    """What "newer in the course" rests on, where git has no record of the course's own history
    apart from the branch this checkout pulls from (no remote named upstream): when that is the
    learner's fork, an edit they committed and pushed there reads as the course's, and nothing
    can tell it apart. None where there is such a remote, or no branch pulled from at all."""
    if ws.course_ref() != "@{upstream}":
        return None
    # A remote named upstream added but not fetched (or without the branch): `remote add` would
    # fail ("remote upstream already exists") and, by &&, skip the fetch.
    added = "upstream" in (ws.git("remote") or "").split()
    command = "git fetch upstream"
    if not added:
        command = f"git remote add upstream <the course's address> && {command}"
    return (
        f'("Newer in the course" means newer in {ws.course_ref_name()}, the branch this checkout pulls '
        "from. If that is your own fork of the course, an edit you committed and pushed there reads as "
        f"the course's too: git has no other record of the course's history. `{command}` gives it one, "
        "and status then tells them apart.)"
    )


def _finish_rebase(git: str) -> str:
    """The line that lets a `git pull --rebase` stopped in conflict go on. Once the chapters are
    restored, the learner's commit may hold nothing else: `--continue` then refuses ("No
    changes"), and `--skip` drops it. With other changes of theirs staged (or files still in
    conflict, which `--continue` names), `--continue` keeps them. No editor opens for the message."""
    return (
        f"  if {git} diff --cached --quiet; then {git} rebase --skip; "
        f"else GIT_EDITOR=true {git} rebase --continue; fi\n"
        f"  (the pull replays your commits one at a time: if it stops again, `{status_hint()}` "
        "says what to do)"
    )


def _keep(git: str, ws, name: str, mine: str, conflicted: bool, merging: bool) -> str:
    """The command that copies the learner's ``chapters/<name>`` to ``mine``. In conflict, git
    keeps the learner's side as stage 2 in a merge (their commit), else as stage 3 (the stash
    popped, or the commit a rebase replays)."""
    if not conflicted:
        return f"cp {quoted(_shown(ws.chapters / name))} {quoted(mine)}"
    return f"{git} show {quoted(f':{2 if merging else 3}:chapters/{name}')} > {quoted(mine)}"


NOTICE = "COURSE-UPDATES.md"  # beside the copies, where a JupyterHub learner's file browser shows it
NOTICE_MARK = ".course-updates.sha256"  # the hash of the notice last written: a file of that name
# that is not it is the learner's own, and is never overwritten or removed


def update_notice(
    ws, newer: list[str], renamed: dict[str, tuple[str, bool] | None] | None = None
) -> str | None:
    """Write ``ws.folder/COURSE-UPDATES.md`` naming the chapters in ``newer`` and the command that
    gets each, and the learner's copies of chapters the course renamed or removed (``renamed``:
    old name → (new name, whether git says so) or None), or remove the one written before when
    there is nothing to name. On JupyterHub, `sync` runs at login and its output goes to the
    hub's log: without this, no learner ever heard of a newer chapter. Returns one line saying
    what was done, or None when there was nothing to do."""
    renamed = renamed or {}
    path, mark = ws.folder / NOTICE, ws.folder / NOTICE_MARK
    # (a mark that is not text, cut short or edited, names no notice: the learner's file stays)
    written = mark.read_bytes().decode("utf-8", "replace").strip() if mark.is_file() else None
    ours = (not path.exists() and not path.is_symlink()) or (path.is_file() and _sha256(path) == written)
    if not ours:
        return f"{path} is not the one sync wrote: left as it is, with no notice of newer chapters"
    if not newer and not renamed:
        if not path.exists():
            return None
        path.unlink()
        mark.unlink(missing_ok=True)
        return f"removed {path}: no chapter is newer in the course"
    text = (_notice_text(ws, newer) if newer else "# Course updates\n") + _renamed_text(renamed)
    data = text.encode("utf-8", "surrogateescape")  # a path not in UTF-8: its bytes
    if path.is_file() and path.read_bytes() == data:  # as it was: nothing to say again
        return None
    ws._write(path, data)
    ws._write(mark, (hashlib.sha256(data).hexdigest() + "\n").encode("utf-8"))
    said = [f"{', '.join(newer)} newer in the course"] * bool(newer)
    said += [f"{', '.join(renamed)} no longer in the course"] * bool(renamed)
    return f"wrote {path}: {'; '.join(said)}"


def _renamed_text(renamed: dict[str, tuple[str, bool] | None]) -> str:
    """The notice's lines on the learner's copies of chapters the course renamed or removed."""
    if not renamed:
        return ""
    lines = []
    for old, new in renamed.items():
        if new is None:
            lines.append(f"- `{old}`: the course no longer has it (removed, or renamed).")
        else:
            how = "renamed it" if new[1] else "has a chapter of its number now,"
            lines.append(f"- `{old}`: the course {how} `{new[0]}`, copied beside it as the course has it.")
    return (
        "\n## Chapters no longer in the course\n\n"
        + "\n".join(lines)
        + "\n\nYour copy stays under its old name, as it is, with everything you wrote in it: nothing\n"
        "updates or removes it. Once you no longer need it, rename or delete it and this part goes.\n"
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _notice_text(ws, newer: list[str]) -> str:
    python, names = "python" if _on_path(sys.executable) else quoted(sys.executable), ws.course_names()
    where = f"--course {quoted(ws.chapters.parent.resolve())} --workspace {quoted(ws.folder.resolve())}"
    commands = "\n".join(
        f"    {python} -m transformer_course.workspace {where} reset {chapter_key(n, names)}" for n in newer
    )
    return (
        "# Course updates\n\n"
        f"The course has a newer version of {', '.join(newer)} than your copy in this folder.\n"
        "To get one, open a terminal (File → New → Terminal) and type its line:\n\n"
        f"{commands}\n\n"
        "If you changed your copy, it moves to `.backups/<date-time>/` first, and reset says how to\n"
        "open it again. A chapter open in JupyterLab shows the new version after File → Reload\n"
        "Notebook from Disk. This file is written again at each start, and removed once it has\n"
        "nothing to tell.\n"
    )


def _on_path(executable: str) -> bool:
    """Whether a plain ``python`` in a terminal is this environment's (it is on a repo2docker hub)."""
    found = shutil.which("python")
    return found is not None and Path(found).resolve() == Path(executable).resolve()
