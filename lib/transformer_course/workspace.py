"""A learner's own copies of the chapters, and the one launcher of JupyterLab on them.

The tracked chapters (``chapters/NN_topic.ipynb``, paired with ``NN_topic.py``) stay as
committed, for the tests, for course updates and for authors. A learner opens, runs and
edits copies in ``workspace/`` (git-ignored; only ``.ipynb`` files, so JupyterLab's file
browser shows one file per chapter). ``make lab``, uv, conda and Windows users all go
through this module, so each gets the same workspace and the same JupyterLab settings::

    python -m transformer_course.workspace lab [--port 8888]  # sync, then JupyterLab on workspace/
    python -m transformer_course.workspace sync     # copy the chapters the workspace lacks
    python -m transformer_course.workspace status   # which copies you changed, which the course updated
    python -m transformer_course.workspace reset 03 # a fresh copy of chapter 03 (or: all); yours is kept
    python -m transformer_course.workspace settings # JupyterLab settings into this environment

Run it in the course folder (the one holding ``chapters/``) or pass ``--course DIR``. Where
reset keeps the learner's copies is ``workspace_backups``; JupyterLab's settings and command,
``workspace_lab``; the commands printed for the learner, ``workspace_advice``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time  # noqa: F401 (workspace.time, workspace.shutil: as before the split, for callers who patch them)
from dataclasses import dataclass
from pathlib import Path

from .workspace_advice import (
    NOTICE,
    chown_hint,
    edited_advice,
    error_hint,
    owned_by_another,
    quoted,
    reset_hint,
    status_hint,
    update_notice,
)
from .workspace_backups import (  # noqa: F401 (BACKUPS … checkpoint_of: importable from here, as before)
    BACKUPS,
    CHECKPOINTS,
    Backups,
    checkpoint_of,
    digest,
    digest_or_none,
    new_backup_folder,
    newest_backup,
    report_reset,
)
from .workspace_lab import (  # noqa: F401 (LAB_SETTINGS: the course's settings, here as before)
    LAB_SETTINGS,
    answers,
    install_lab_settings,
    lab_command,
    lab_records,
    lab_url,
    terminal_environment,
    writable_jupyter_dirs,
)

PATTERN = "[0-9][0-9]_*.ipynb"
RECORD = ".course.json"  # for each copy: the hash of the course's notebook it was copied from
EDITED_HERE = "edited in chapters/ itself, not in your workspace (see below)"
KEPT = "your newest backup of it is"
NO_LONGER = "no longer in the course (renamed or removed); your copy stays as it is"
DELETED_HERE = (
    "deleted from chapters/ in this checkout, not by the course: in the course folder, `git restore "
    "--source=HEAD --staged --worktree chapters/{name}` brings it back; your copy stays as it is"
)


@dataclass(frozen=True)
class Workspace:
    """The course's tracked chapters (``chapters``) and the learner's copies (``folder``)."""

    chapters: Path
    folder: Path

    @classmethod
    def of(cls, course: Path, folder: Path | None = None) -> Workspace:
        """The workspace of a course folder; ValueError when ``course`` holds no chapters."""
        chapters = Path(course) / "chapters"
        if not any(chapters.glob(PATTERN)):
            raise ValueError(
                f"course must be the course folder (with chapters/NN_topic.ipynb), got {str(course)!r}: "
                "run this in the course folder or pass --course"
            )
        return cls(chapters, Path(folder) if folder else Path(course) / "workspace")

    def check_folder(self) -> None:
        """ValueError when ``folder`` cannot hold the copies: a file of that name (the learner's
        notes, say) or a link to nothing (a drive not mounted) made every command fail on
        "[Errno 17] File exists", or status call every chapter "not copied yet"."""
        folder = self.folder
        if folder.is_symlink() and not folder.exists():
            raise ValueError(
                f"workspace must be a folder for your copies of the chapters, but {folder} is a link to "
                f"{os.readlink(folder)}, which does not exist (a drive not mounted?): mount it, or "
                "remove the link to start a new workspace"
            )
        if folder.exists() and not folder.is_dir():
            raise ValueError(
                f"workspace must be a folder for your copies of the chapters, but {folder} is a file: "
                f"rename it (e.g. mv {quoted(folder)} {quoted(str(folder) + '-notes')}), then run this again"
            )

    def course_names(self) -> list[str]:
        return sorted(p.name for p in self.chapters.glob(PATTERN))

    def record(self) -> dict[str, str]:
        """Which course version each copy came from. An unreadable record (cut short, edited)
        counts as empty, with a warning: every copy that differs from the course then counts
        as the learner's, so ``reset`` backs it up; the launcher still starts."""
        path = self.folder / RECORD
        if not path.exists():
            return {}
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            record = err
        if isinstance(record, dict) and all(isinstance(v, str) for v in record.values()):
            return record
        print(
            f"workspace: ignoring {path} (not a record of copied chapters: {record!s:.80}); "
            "chapters that differ from the course count as changed by you",
            file=sys.stderr,
        )
        return {}

    def _write(self, path: Path, data: bytes) -> None:
        """Write ``path`` whole or not at all (a temporary file, then a rename), as a new file
        that its owner can write: a read-only course still gives copies the learner can save."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def _save_record(self, record: dict[str, str]) -> None:
        text = json.dumps(dict(sorted(record.items())), indent=1) + "\n"
        self._write(self.folder / RECORD, text.encode("utf-8"))

    def _copy_in(self, name: str, record: dict[str, str]) -> None:
        data = (self.chapters / name).read_bytes()
        self._write(self.folder / name, data)
        record[name] = hashlib.sha256(data).hexdigest()

    def sync(self) -> list[str]:
        """Copy every chapter the workspace lacks; existing copies are never touched. A copy
        missing from the record (it was lost) is recorded when it is the course's version."""
        self.folder.mkdir(parents=True, exist_ok=True)
        record, added, adopted = self.record(), [], False
        missing = [n for n in self.course_names() if not (self.folder / n).exists()]
        in_conflict = self.unmerged_files() if missing else set()  # (git only when needed)
        try:
            for name in self.course_names():
                copy = self.folder / name
                if name in in_conflict:  # git's conflict markers in it: no notebook JupyterLab can open
                    self._say_not_copied(name, copy)
                elif not copy.exists() and not copy.is_symlink():
                    self._copy_new(name, record)
                    added.append(name)
                elif name not in record and copy.is_file() and self._as_shipped(copy):
                    record[name], adopted = digest(copy), True
        except (OSError, KeyboardInterrupt):  # a full disk, Ctrl-C: the copies made so far are
            # recorded, if the record still fits
            if added or adopted:
                with contextlib.suppress(OSError):
                    self._save_record(record)
            raise
        if added:
            self._record_committed(added, record, self.edited_chapters())
        if added or adopted or not (self.folder / RECORD).exists():
            self._save_record(record)
        return added

    def _copy_new(self, name: str, record: dict[str, str]) -> None:
        """``_copy_in`` for sync, whose error names the chapter (a full disk said only "No space
        left on device", and added that a copy is moved to .backups/, which sync never does)."""
        try:
            self._copy_in(name, record)
        except OSError as err:
            where = f"chapters/{name} into {self.folder}"
            raise OSError(err.errno, f"could not copy {where}: {err.strerror or err}") from err

    def _say_not_copied(self, name: str, copy: Path) -> None:
        """One line on a chapter that a `git stash pop` or a pull left in conflict and the
        workspace lacks: copied, it was a file of conflict markers, unreadable in JupyterLab."""
        if not copy.exists() and not copy.is_symlink():
            print(
                f"workspace: not copying {name} yet: chapters/{name} is in conflict (git's markers in "
                f"it); `{status_hint()}` says how to keep your side, then lab copies it",
                file=sys.stderr,
            )

    def _as_shipped(self, copy: Path) -> bool:
        """Whether ``copy`` holds the course's bytes; False when it cannot be read (chmod 000)."""
        try:
            return digest(copy) == digest(self.chapters / copy.name)
        except OSError:
            return False

    def select(self, which: str) -> list[str]:
        """Chapter names for ``which``: ``all``, a number (``3``, ``03``) or a name (``03_queries…``)."""
        names = self.course_names()
        if str(which).lower() == "all":
            return names
        key = str(which).removesuffix(".ipynb")
        key = key.zfill(2) if key.isdigit() else key
        found = [n for n in names if n.removesuffix(".ipynb") == key or n.startswith(f"{key}_")]
        exact = [n for n in found if n.removesuffix(".ipynb") == key]
        found = exact or found  # 03_attention is that one, not also 03_attention_old, a prefix match
        if len(found) > 1:  # a copy made in chapters/ (JupyterLab's "-Copy1"), or two chapters NN
            raise ValueError(
                f"chapter {which!r} could be any of {', '.join(found)}: type the name of one, "
                f"such as {min(found, key=len).removesuffix('.ipynb')}"
            )
        if len(found) != 1:
            numbers = ", ".join(n[:2] for n in names)
            if (self.folder / f"{key}.ipynb").is_file():  # a chapter the course renamed or removed
                raise ValueError(
                    f"{key}.ipynb is no longer in the course (renamed or removed): there is no fresh "
                    f"copy of it to get, and your copy stays as it is (chapters: {numbers})"
                )
            raise ValueError(
                f"chapter must be 'all', a number such as 03 or a name such as "
                f"{names[-1].removesuffix('.ipynb')}, got {which!r} (chapters: {numbers})"
            )
        return found

    def reset(self, which: str, on_done=None, on_checkpoint=None) -> list[tuple[str, Path | None]]:
        """A fresh copy of each chosen chapter. A copy the learner changed is first moved to
        ``.backups/<time>/``, with a copy of its last checkpoint (``NN_topic-checkpoint.ipynb``)
        when that holds something else of theirs. Returns (name, backup or None) for each
        chapter; the backup is the checkpoint's copy when only the checkpoint was theirs. A file
        byte for byte the same as the newest backup of its name is not stored again: the backup
        returned is then that earlier one. ``on_done(name, backup)`` is called as each chapter
        is done, so that a reset stopped by an error has already said where the copies it moved went."""
        names = self.select(which)
        self._refuse_conflicts(names)
        self.folder.mkdir(parents=True, exist_ok=True)
        record, done, backups = self.record(), [], Backups(self.folder, self._new_backup_folder)
        edited = self.edited_chapters()
        try:
            for name in names:
                done.append((name, self._reset_one(name, record, backups)))
                if on_checkpoint and name in backups.checkpoints:  # kept apart from the copy's backup
                    on_checkpoint(name, backups.checkpoints[name])
                if on_done:
                    on_done(*done[-1])
                self._record_committed([name], record, edited)  # after on_done: the backup is named
        finally:  # a reset that stops half-way still records the chapters it did (and one that
            if done:  # did none leaves the record alone: its error, not the record's, is said)
                self._save_record(record)
        return done

    def _refuse_conflicts(self, names: list[str]) -> None:
        """ValueError, before anything moves, for a chapter that a `git stash pop` or a pull left
        in conflict: its "fresh copy" was git's conflict markers, which JupyterLab cannot open,
        and the learner's working copy went to .backups/ for it."""
        conflicts = sorted(set(names) & self.unmerged_files())
        if conflicts:
            raise ValueError(
                f"chapter {', '.join(conflicts)} is in conflict in chapters/ (git's markers in it, no "
                f"notebook to copy): `{status_hint()}` says how to keep your side and give chapters/ "
                "the course's version; reset after that. Nothing was reset."
            )

    def _reset_one(self, name: str, record: dict[str, str], backups: Backups) -> Path | None:
        """Reset one chapter. When the fresh copy cannot be written (a full disk), the learner's
        copy goes back in place: else it would sit in .backups/ while status called the chapter
        "deleted"."""
        copy, moved, kept, backup = self.folder / name, None, None, None
        ours = {digest(self.chapters / name), record.get(name)}  # today's version, the one copied
        try:
            if copy.is_symlink() or (copy.exists() and (not copy.is_file() or digest(copy) not in ours)):
                # Already backed up as it is: left in place, the fresh copy replaces it whole
                backup = backups.earlier(copy) or backups.move(copy)
                moved = backup if backup.parent == backups.folder else None
                if moved is not None and moved.is_file() and not moved.is_symlink() and digest(moved) in ours:
                    moved.unlink()  # another reset's fresh copy, moved since it was looked at: not theirs
                    backup = moved = None
            # The checkpoint is the learner's last explicit save; the copy may hold later
            # autosaved edits. Jupyter overwrites it at the next save of the fresh copy.
            checkpoint = checkpoint_of(copy)
            if checkpoint.is_file() and not checkpoint.is_symlink() and digest(checkpoint) not in ours:
                if backup is None or digest(checkpoint) != digest_or_none(backup):
                    kept = backups.earlier(checkpoint, checkpoint.name, name) or backups.copy(checkpoint)
                    if backup is not None:  # the copy's backup is the one returned: the message
                        backups.checkpoints[name] = kept  # names this other version too
            self._copy_in(name, record)
        except BaseException:
            if kept is not None and kept.parent == backups.folder:  # the chapter is not reset: its
                kept.unlink(missing_ok=True)  # learner's checkpoint is still in place
            if moved is not None and not copy.exists() and not copy.is_symlink():
                shutil.move(moved, copy)
            backups.discard_if_empty()
            raise
        return backup or kept

    def _new_backup_folder(self) -> Path:
        return new_backup_folder(self.folder)

    def git(self, *args: str) -> str | None:
        """``git ARGS``'s output in the course folder; None where the course folder is no git
        checkout, git is missing, or the command fails."""
        out = self._git_bytes(*args)
        return None if out is None else os.fsdecode(out)

    def _git_bytes(self, *args: str) -> bytes | None:
        course = self.chapters.parent
        if not (course / ".git").exists():
            return None
        try:
            run = subprocess.run(["git", "-C", str(course), *args], capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return run.stdout if run.returncode == 0 else None

    def _record_committed(self, names: list[str], record: dict[str, str], edited: set[str]) -> None:
        """A chapter edited in chapters/ itself is copied as it is there (the learner's edit, or
        git's conflict markers) but recorded as the version git has committed. Recorded as
        copied, the copy read "as shipped"; once chapters/ was restored, "newer in the course,
        you had not changed yours", and a reset replaced it without a backup, edits and all."""
        for name in set(names) & edited:
            committed = self._git_bytes("cat-file", "--filters", f"HEAD:chapters/{name}")
            if committed is not None:  # (none for a chapter git has never committed)
                record[name] = hashlib.sha256(committed).hexdigest()

    def edited_files(self) -> set[str]:
        """Names of the tracked files in chapters/ that git shows changed in this checkout: edits
        made in chapters/ itself, which `git pull` refuses to update and `make lab` never opens.
        Empty where the course folder is no git checkout, or git is missing. In a pull's merge,
        only files that differ from the course merged in too: the rest is the course's update."""
        changed = self._changed_since("HEAD")
        return changed & self._changed_since("MERGE_HEAD") if self.merging() else changed

    def _changed_since(self, commit: str) -> set[str]:
        out = self.git("diff", "--name-only", "-z", commit, "--", "chapters") or ""
        return {Path(p).name for p in out.split("\0") if p}

    def merging(self) -> bool:
        """Whether git is in the middle of a merge (a `git pull` that stopped on a conflict)."""
        return self.git("rev-parse", "-q", "--verify", "MERGE_HEAD") is not None

    def rebasing(self) -> bool:
        """Whether git is in the middle of a rebase (a `git pull --rebase` that stopped on a
        conflict): the learner's commit is then being replayed on the course's new version."""
        course = self.chapters.parent
        for state, marker in (("rebase-merge", "."), ("rebase-apply", "rebasing")):  # (not `git am`'s)
            path = self.git("rev-parse", "--git-path", state)
            if path and (course / path.strip() / marker).exists():
                return True
        return False

    def unmerged_files(self) -> set[str]:
        """Names of the files in chapters/ that a `git stash pop` or a pull left in conflict
        (conflict markers in the file, and git refuses a plain `git restore` of it)."""
        out = self.git("ls-files", "--unmerged", "-z", "--", "chapters") or ""
        return {Path(entry.split("\t", 1)[1]).name for entry in out.split("\0") if "\t" in entry}

    def edited_chapters(self, changed: set[str] | None = None) -> set[str]:
        """Chapters whose notebook or .py is among ``changed`` (default: ``edited_files``)."""
        changed = self.edited_files() if changed is None else changed
        return {n for n in self.course_names() if {n, n.removesuffix(".ipynb") + ".py"} & changed}

    def _state(self, name: str, record: dict[str, str], edited: bool) -> str:
        """One chapter's entry of ``status``."""
        copy, course = self.folder / name, digest(self.chapters / name)
        if not copy.exists() and not copy.is_symlink():
            return self._deleted(name) if name in record else "not copied yet"
        if not copy.is_file():
            return "not a notebook file (reset moves it to .backups/)"
        if name not in record and digest(copy) != course:
            return "differs from the course (changed by you or copied from an older one)"
        copied_from = record.get(name, course)
        changed, newer = digest(copy) != copied_from, course != copied_from and not edited
        words = [w for w, on in (("changed by you", changed), ("newer in the course", newer)) if on]
        return "; ".join(words + [EDITED_HERE] * edited) or "as shipped"

    def _deleted(self, name: str) -> str:
        """A copy gone from the workspace: a reset killed between moving it to .backups/ and
        writing the fresh one (SIGKILL) leaves it in a backup that nothing named, so say it."""
        kept = newest_backup(self.folder, name)
        return "deleted from your workspace (lab copies it again)" + (f"; {KEPT} {kept}" if kept else "")

    def status(self) -> dict[str, str]:
        """For each chapter: 'not copied yet', 'deleted from your workspace', 'as shipped',
        'changed by you', 'newer in the course', or both of the last two; 'differs from the
        course' when the record of the version copied is lost; 'not a notebook file' for a
        folder or a broken link in its place; EDITED_HERE, instead of 'newer in the course',
        when git shows the tracked chapter itself edited in this checkout."""
        record, states, changed = self.record(), {}, self.edited_files()
        edited_here = self.edited_chapters(changed)
        for name in self.course_names():
            try:
                states[name] = self._state(name, record, name in edited_here)
            except OSError as err:  # one unreadable copy (chmod 000) must not stop status, or lab
                why = err.strerror or err
                states[name] = f"cannot be read ({why}): give yourself read access to {err.filename}"
        for name in sorted(set(record) - set(states)):  # a chapter the course renamed or removed
            if (self.folder / name).exists() or (self.folder / name).is_symlink():  # (or the learner:
                gone = name in changed  # git shows it deleted here, and `git pull` may bring it back)
                states[name] = DELETED_HERE.format(name=name) if gone else NO_LONGER
        return states


def find_course(explicit: str | None) -> Path:
    """``--course``, else the current folder, else the checkout this module was loaded from."""
    if explicit:
        return Path(explicit)
    checkout = Path(__file__).resolve().parents[2]
    for folder in (Path.cwd(), checkout):
        if any((folder / "chapters").glob(PATTERN)):
            return folder
    return Path.cwd()  # Workspace.of says what is missing


def _point_at_running_lab(ws: Workspace) -> bool:
    """True when a JupyterLab already serves the workspace (said, with its address): a second
    server would give a chapter open in both two kernels, and a save in one tab would make the
    other ask whether to overwrite the file. A record whose server does not answer is said too,
    and the launch goes on. A server of another folder (another project on the port) does not
    count: JupyterLab then takes the next free port."""
    records = lab_records(ws)
    serving = next((info for info in records if answers(info)), None)
    if serving is not None:  # said alone: a dead record beside it would say "starting a new one"
        print(
            f"workspace: JupyterLab already serves your workspace at {lab_url(serving)} (another "
            "`make lab`): open that address. To start a new one here, stop that one first "
            "(Ctrl-C twice in its terminal)."
        )
        return True
    for info in records:
        print(
            f"workspace: Jupyter's records say JupyterLab already serves your workspace at "
            f"{lab_url(info)}, but it does not answer: starting a new one"
        )
    return False


def _say_states(states: dict[str, str]) -> None:
    """What `make lab` says of the copies: a newer chapter in the course, a chapter it no longer
    has, and copies whose record is lost. Those last ones never said a word: a course fix to
    them went unseen, since no record says which version the learner copied."""
    for name, state in states.items():
        if "newer in the course" in state:
            kept = "yours moves to .backups/" if "changed by you" in state else "you had not changed yours"
            print(f"workspace: the course has a newer {name}; `{reset_hint(name)}` gets it ({kept})")
        elif state.startswith("no longer in the course"):
            print(f"workspace: {name} is no longer in the course (renamed or removed); yours stays as it is")
        elif state.startswith("deleted from chapters/"):
            print(f"workspace: {name}: {state}")
    unknown = [name for name, state in states.items() if state.startswith("differs from the course")]
    if unknown:
        print(
            f"workspace: {', '.join(unknown)} {'differs' if len(unknown) == 1 else 'differ'} from the "
            "course's, and no record says which version "
            f"you copied: if the course updated one, `{reset_hint(unknown[0])}` gets it (yours moves to "
            ".backups/)"
        )


def _say_not_yours(ws: Workspace) -> None:
    """One line when the workspace or a copy in it is another user's: after one `sudo make lab`
    they were root's, and JupyterLab failed on every save of the learner's work, unexplained."""
    paths = [ws.folder, *(ws.folder / name for name in ws.course_names())]
    theirs = [
        p
        for p in paths  # (writable by a group of theirs, a class's shared folder is no trouble)
        if p.exists() and not p.is_symlink() and owned_by_another(p) == p and not os.access(p, os.W_OK)
    ]
    if theirs:
        names = ", ".join(p.name for p in theirs[:3]) + (" …" if len(theirs) > 3 else "")
        print(
            f"workspace: {names} in {ws.folder.parent} belong to another user (made by `sudo make lab`?), "
            f"so JupyterLab cannot save your work there: {chown_hint(ws.folder)}"
        )


LOW_SPACE = 10 * 2**20  # bytes: a chapter saved with its figures can take a few MB


def _say_disk_full(ws: Workspace) -> None:
    """One line when the disk holding the workspace is (nearly) full: with every copy already
    there, lab started, and JupyterLab then failed to save the learner's work."""
    try:
        free = shutil.disk_usage(ws.folder).free
    except OSError:
        return
    if free < LOW_SPACE:
        print(
            f"workspace: the disk holding {ws.folder} has {free // 1024} KB free: JupyterLab may fail "
            "to save your work. Free some space (df -h shows how full each disk is)."
        )


def _lab(ws: Workspace, args: argparse.Namespace, extra: list[str]) -> int:
    private = writable_jupyter_dirs()
    if private is not None:
        blocked = ", ".join(str(p) for p in private[1])
        print(
            f"workspace: Jupyter cannot write to {blocked} (a read-only home, or made by `sudo`): "
            f"it keeps its settings and records for this session in {private[0]}"
        )
    for name in ws.sync():
        kept = newest_backup(ws.folder, name)
        print(f"workspace: added {name}" + (f" ({KEPT} {kept})" if kept else ""))
    _say_states(ws.status())
    _say_not_yours(ws)
    _say_disk_full(ws)
    edited = sorted(ws.edited_chapters())
    if edited:
        print(f"workspace: {edited_advice(ws, edited)}")
    if _point_at_running_lab(ws):
        return 0
    try:
        install_lab_settings()
    except (OSError, ValueError) as err:  # a read-only environment, or a settings file JupyterLab
        # itself tolerates, still runs the course; JupyterLab may ask about news
        print(f"workspace: could not write JupyterLab settings ({err})", file=sys.stderr)
    cmd = lab_command(ws, args.port, extra)
    sys.stdout.flush()
    with terminal_environment():
        if os.name == "posix":  # JupyterLab takes this process over: Ctrl-C and signals reach it directly
            os.execv(cmd[0], cmd)
        process = subprocess.Popen(cmd)  # Windows has no real exec
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:  # the console sent Ctrl-C to JupyterLab too: it decides when to stop
            continue


def _report(ws: Workspace, args: argparse.Namespace) -> int:
    if args.command == "sync":
        added = ws.sync()
        print("\n".join(f"added {n}" for n in added) or f"{ws.folder} has every chapter")
        if args.notice:
            _say_notice(ws)
    elif args.command == "status":
        states = ws.status()
        for name, state in states.items():
            print(f"{name:40s} {state}")
        newer = [n for n, state in states.items() if "newer in the course" in state]
        if newer:
            print(
                f"`{reset_hint(newer[0])}` gets the course's newer version of a chapter; a copy you "
                "changed moves to workspace/.backups/ first, and reset says how to open it again."
            )
        edited = [n for n, state in states.items() if EDITED_HERE in state]
        if edited:
            print(edited_advice(ws, edited))
    elif args.command == "reset":
        code = report_reset(ws, args.chapter)
        if (ws.folder / NOTICE).is_file():  # sync --notice wrote it: no longer name what reset got
            _say_notice(ws)
        return code
    return 0


def _say_notice(ws: Workspace) -> None:
    """``sync --notice`` (a JupyterHub's start hook): the notice of newer chapters, in the
    workspace, since the hook's output goes to the hub's log, which no learner reads."""
    newer = [name for name, state in ws.status().items() if "newer in the course" in state]
    try:
        said = update_notice(ws, newer)
    except OSError as err:  # never fails the sync: a failing start hook can stop the learner's server
        said = f"could not write the notice of newer chapters ({err})"
    if said:
        print(f"workspace: {said}")


def _paths_printable() -> None:
    """Print a path whose name is not UTF-8 (a folder named in Latin-1) as its bytes: with a
    UTF-8 locale, printing it raised UnicodeEncodeError half-way through a reset, after the
    learner's copy was moved and before the line saying where. Where the terminal's encoding is
    not the file system's, such a character is printed escaped (\\xe9) rather than failing."""
    for stream in (sys.stdout, sys.stderr):
        encoding = str(getattr(stream, "encoding", "") or "").lower().replace("_", "-")
        same = encoding == sys.getfilesystemencoding().lower().replace("_", "-")
        with contextlib.suppress(AttributeError, ValueError, OSError):  # not a real stream (a notebook)
            stream.reconfigure(errors="surrogateescape" if same else "backslashreplace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m transformer_course.workspace", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--course", help="the course folder, holding chapters/ (default: here)")
    parser.add_argument("--workspace", help="where the learner's copies live (default: COURSE/workspace)")
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="copy new chapters, then open JupyterLab on the workspace")
    lab.add_argument("--port", type=int, default=8888)
    sync = sub.add_parser("sync", help="copy the chapters the workspace lacks (never touches a copy)")
    sync.add_argument(
        "--notice",
        action="store_true",
        help=f"also name the chapters newer in the course in WORKSPACE/{NOTICE} (a JupyterHub start hook)",
    )
    sub.add_parser("status", help="which copies you changed, which chapters the course has updated")
    reset = sub.add_parser("reset", help="a fresh copy of one chapter or all; yours is kept in .backups/")
    reset.add_argument("chapter", help="all, a number such as 03, or a name such as 03_queries_keys_values")
    sub.add_parser("settings", help="write the course's JupyterLab settings into this environment")
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "lab":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command == "settings":
            try:
                print(f"JupyterLab settings: {install_lab_settings()}")
            except (OSError, ValueError) as err:  # not fatal: `make env` fails on it and then
                # removes the whole .venv at the next make; JupyterLab runs without them
                print(f"workspace: could not write JupyterLab settings ({err})", file=sys.stderr)
            return 0
        ws = Workspace.of(find_course(args.course), args.workspace)
        ws.check_folder()
        return _lab(ws, args, extra) if args.command == "lab" else _report(ws, args)
    except KeyboardInterrupt:  # Ctrl-C while copying or asking git (reset says its own)
        print(f"{args.command} stopped (Ctrl-C). Nothing of yours was changed.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `make status | head`: the reader has all it wanted
        with contextlib.suppress(OSError, ValueError):  # (Python's own flush at exit says nothing)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell says of a process ended by SIGPIPE
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return _exit_code(args, 2)
    except OSError as err:  # a read-only or full workspace: say what, without a traceback
        print(
            f"error: {err}.{error_hint(err)} Nothing of yours was deleted: a copy is moved to "
            f"{BACKUPS}/ before a fresh one replaces it.",
            file=sys.stderr,
        )
        return _exit_code(args, 1)


def _exit_code(args: argparse.Namespace, code: int) -> int:
    """``code``, but 0 for `sync --notice`, a JupyterHub's start hook: a hook that fails stops
    the learner's server from starting, so a learner whose disk quota was full could not even
    log in to delete something. The error is said (in the hub's log) all the same."""
    return 0 if getattr(args, "notice", False) else code


if __name__ == "__main__":  # (only here: a caller's own streams, pytest's say, are left alone)
    _paths_printable()
    sys.exit(main())
