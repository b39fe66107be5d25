"""``reset``: a fresh copy of the chapters the learner names (``all``, ``03``, a name), each
copy they changed first moved to ``.backups/`` (where, ``workspace_backups``), and put back in
place when the fresh copy cannot be written. A chapter git left in conflict is refused before
anything moves. A copy that a killed reset left set aside is recovered by the next status,
reset or sync (``Leftovers``). ``ResetCopies`` and ``Leftovers`` are parts of
``workspace.Workspace``, which gives them the folders, the record and git's answers (not
imported: workspace imports this module)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from pathlib import Path

from .workspace_advice import free_name, status_hint
from .workspace_backups import Backups, checkpoint_of, digest, digest_or_none, new_backup_folder
from .workspace_record import UNCHECKED, SavedMeanwhile, move_new


class ResetCopies:
    """Which chapters ``reset`` means, and their fresh copies with the learner's kept."""

    def select(self, which: str) -> list[str]:
        """Chapter names for ``which``: ``all``, a number (``3``, ``03``) or a name (``03_queries…``)."""
        names = self.course_names()
        if str(which).lower() == "all":
            return names
        typed = Path(str(which))  # workspace/03_….ipynb or chapters/03_….py, as a Tab completes it
        key = str(typed.name if typed.parent.name in ("chapters", self.folder.name) else typed)
        key = key.removesuffix(".ipynb").removesuffix(".py")
        key = str(int(key)).zfill(2) if key.isdecimal() else key  # ("³" is a digit, not a number)
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
                new = self.renamed(f"{key}.ipynb")
                how = "renamed it" if new and new[1] else "has a chapter of its number now,"
                now = f"; the course {how} {new[0]}" if new else ""
                raise ValueError(
                    f"{key}.ipynb is no longer in the course (renamed or removed): there is no fresh "
                    f"copy of it to get, and your copy stays as it is{now} (chapters: {numbers})"
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
        self.recover_set_aside()  # a killed reset's copy of theirs: judged as their copy below
        record, done, backups = self.record(), [], Backups(self.folder, self._new_backup_folder)
        edited = self.edited_chapters() | self.committed_chapters()
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
        "deleted". A copy judged the course's (or backed up already) is not replaced where it
        is: JupyterLab may save into it after it was judged. It is set aside, the fresh copy
        goes in (never over a file: a save that took the place stays), and what was set aside
        is judged again."""
        copy, moved, kept, backup, aside = self.folder / name, None, None, None, None
        # Today's course bytes go without a backup, and the version recorded when git vouched
        # for it. Not a record marked UNCHECKED, nor any record where git cannot answer now (an
        # older tool recorded without git what was copied): those bytes may be an edit made in
        # chapters/ itself, which status then called "as shipped" (F0, round 51)
        ours = {digest(self.chapters / name)}
        recorded = record.get(name)
        if recorded and not recorded.startswith(UNCHECKED) and self.git_answers():
            ours.add(recorded)
        # A link to a file (the learner's work kept elsewhere): its bytes are copied to the
        # backup, a real file; the link is then replaced and the file it points to left alone.
        # Moved as itself, a relative link pointed at nothing from .backups/ (F1, round 51)
        target = copy.resolve() if copy.is_symlink() and copy.is_file() else None
        try:
            if target is not None:
                if digest(target) not in ours:
                    backup = backups.earlier(target, name) or backups.copy(copy, name)
            elif copy.is_symlink() or (copy.exists() and (not copy.is_file() or digest(copy) not in ours)):
                # Already backed up as it is: left in place, set aside below
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
            if copy.exists() or copy.is_symlink():
                aside = _set_aside(copy)
            try:
                self._copy_in(name, record)
            except SavedMeanwhile:
                raise self._saved_meanwhile(name, aside, ours, backup, backups) from None
        except BaseException:
            if kept is not None and kept.parent == backups.folder:  # the chapter is not reset: its
                kept.unlink(missing_ok=True)  # learner's checkpoint is still in place
            back = aside if aside is not None else moved
            if back is not None and os.path.lexists(back) and not os.path.lexists(copy):
                shutil.move(back, copy)
            if (
                target is not None
                and copy.is_symlink()
                and backup is not None
                and backup.parent == backups.folder
            ):
                backup.unlink(missing_ok=True)  # a copy of the file linked, which stays linked
            backups.discard_if_empty()
            raise
        if aside is not None:
            backup = self._keep_aside(aside, name, ours, backup, backups)
        if target is not None:
            print(
                f"{name} was a link to {target}: that file is left as it is"
                + (", and a copy of it is in the backup named below" if backup is not None else "")
                + "; the link is replaced by the fresh copy",
                flush=True,
            )
        if backup is not None and kept is not None:  # the copy's backup is the one returned: the
            backups.checkpoints[name] = kept  # message names this other version too
        return backup or kept

    def _keep_aside(
        self, aside: Path, name: str, ours: set[str | None], backup: Path | None, backups: Backups
    ) -> Path | None:
        """What the copy's place held as it was set aside: removed when it is the course's
        version or bytes already in a backup; else (a save landed after the copy was judged)
        kept in .backups/, or, where that cannot take it, beside the fresh copy under a name of
        its own. Returns the backup of the learner's copy now."""
        if aside.is_symlink():  # a link: the file it points to is never touched; its bytes,
            # saved meanwhile, are copied to the backup unless the course's or kept already
            held = digest(aside) if aside.is_file() else None
            if held is not None and held not in ours and held != digest_or_none(backup or aside):
                backup = backups.earlier(aside.resolve(), name) or backups.copy(aside, name)
            aside.unlink()
            return backup
        held = digest_or_none(aside)
        if held is not None and (held in ours or (backup is not None and held == digest_or_none(backup))):
            aside.unlink()
            return backup
        earlier = backups.earlier(aside, name)
        if earlier is not None:
            aside.unlink()
            return earlier
        try:
            return backups.move(aside, name)
        except OSError:  # never left under its hidden name, which nothing says
            mine = free_name(self.folder, name.removesuffix(".ipynb"))
            os.rename(aside, mine)
            return mine

    def _saved_meanwhile(
        self, name: str, aside: Path | None, ours: set[str | None], backup: Path | None, backups: Backups
    ) -> OSError:
        """The error of a chapter whose place a save took while the fresh copy went in: the
        save is left there, the version before it kept (``aside``, judged) and named."""
        if aside is not None:
            backup = self._keep_aside(aside, name, ours, backup, backups)
        before = f"; the version before it is in {backup}" if backup is not None else ""
        return OSError(
            f"{name} was saved (by JupyterLab?) while reset put the fresh copy in its place: your save "
            f"is left there as you saved it, and the chapter is not reset{before}. Reset it again for "
            "the fresh copy"
        )

    def _new_backup_folder(self) -> Path:
        return new_backup_folder(self.folder)


def _set_aside(copy: Path) -> Path:
    """Rename ``copy`` to a hidden name beside it, in one step: whatever it holds at that
    instant goes with it, and so does a save still being written into it (jupyter_server
    writes a notebook in place)."""
    aside = copy.with_name(f".{copy.name}.{os.getpid()}-{time.time_ns()}.replaced")
    os.rename(copy, aside)
    return aside


FRESH = re.compile(r"\.fresh-(?P<pid>\d+)")  # where _copy_in writes a fresh copy first
SET_ASIDE = re.compile(r"\.(?P<name>.+\.ipynb)\.(?P<pid>\d+)-(?P<ns>\d+)\.replaced")
DAY_NS = 24 * 3600 * 10**9  # no reset runs this long: an older leftover's PID is another process's


class Leftovers:
    """The learner's copies left set aside by a reset that was killed (SIGKILL, a power cut)
    before the fresh copy went in: their file sat under the hidden name ``_set_aside`` gives it,
    which nothing said. ``status``, ``reset`` and ``sync`` (so ``lab``) look for them first."""

    def recover_set_aside(self) -> list[str]:
        """Put back or back up each leftover of a reset no longer running; returns (and prints)
        one line for each one of the learner's."""
        try:
            entries = list(self.folder.iterdir())
        except OSError:  # no workspace yet, or one that cannot be read (its own checks say so)
            return []
        found = sorted(p for p in entries if SET_ASIDE.fullmatch(p.name))
        for stage in (p for p in entries if FRESH.fullmatch(p.name)):
            with contextlib.suppress(OSError):
                self._remove_stage(stage)
        said, backups = [], Backups(self.folder)
        for path in found:
            match = SET_ASIDE.fullmatch(path.name)
            if _running(int(match["pid"]), int(match["ns"])):  # another reset's, still at work
                continue
            try:
                line = self._recover(path, match["name"], backups)
            except OSError as err:  # a read-only workspace: said, and left where it is
                line = (
                    f"{match['name']}: a reset stopped part-way (killed?) left a version of it as "
                    f"{path}, which could not be moved ({err.strerror or err}): copy it to keep it"
                )
            if line:
                print(f"workspace: {line}", flush=True)
                said.append(line)
        return said

    def _remove_stage(self, stage: Path) -> None:
        """Remove the folder ``_copy_in`` writes a fresh copy in (``.fresh-<pid>``) that a reset
        or sync killed meanwhile left behind (a full chapter, hidden, for ever), once its process
        is gone: only when it holds nothing but the course's chapters as they are now and the
        temporary files of their writing (never a byte of the learner's)."""
        if stage.is_symlink() or not stage.is_dir():
            return
        if _running(int(FRESH.fullmatch(stage.name)["pid"]), stage.stat().st_mtime_ns):
            return
        files = list(stage.iterdir())
        for path in files:
            temporary = re.fullmatch(r"\.(.+\.ipynb)\.\d+\.tmp", path.name)
            course = self.chapters / path.name
            same = course.is_file() and digest_or_none(path) == digest(course)
            if path.is_symlink() or not path.is_file() or not (temporary or same):
                return
        for path in files:
            path.unlink()
        stage.rmdir()

    def _recover(self, path: Path, name: str, backups: Backups) -> str | None:
        """One leftover: back in place, removed (the course's bytes), or moved to .backups/."""
        copy, stopped = self.folder / name, "a reset stopped part-way (killed?) had left"
        if not os.path.lexists(copy) and path.is_file() and not path.is_symlink():
            try:
                move_new(path, copy)
                return f"{name} is back in place: {stopped} it as {path.name}"
            except FileExistsError:  # a save took the place meanwhile: it stays; this one is backed up
                pass
        course = {digest_or_none(self.chapters / name)} - {None}  # (not the record's: _reset_one)
        if digest_or_none(path) in course:  # the course's own bytes: nothing of the learner's
            path.unlink()
            return None
        kept = backups.move(path, name)
        return f"{name}: {stopped} a version of yours as {path.name}; it is in {kept}"


def _running(pid: int, ns: int) -> bool:
    """Whether the reset that set a copy aside (process ``pid``, at ``ns``) may still run."""
    if pid == os.getpid():
        return True
    if time.time_ns() - ns > DAY_NS or ns < _booted_ns():  # (before a reboot: a power cut)
        return False
    if os.name != "posix":  # Windows' os.kill would end the process: a reset takes seconds
        return time.time_ns() - ns < 600 * 10**9
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: another user's process lives
        pass
    started = _started_ns(pid)  # a process that started after the copy was set aside reuses the PID
    return started is None or started <= ns


def _started_ns(pid: int) -> int | None:
    """When process ``pid`` started (Linux's /proc/PID/stat, field 22, in clock ticks after boot),
    in ns since the epoch; None where it cannot be read. A container's PIDs start again at 1 and
    are soon reused: a live PID alone does not say the reset that set a copy aside still runs."""
    booted = _booted_ns()
    with contextlib.suppress(OSError, ValueError, IndexError, AttributeError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22 of the line; fields[0] is field 3, the state
        if booted:
            return booted + ticks * 10**9 // os.sysconf("SC_CLK_TCK")
    return None


def _booted_ns() -> int:
    """When this machine last started (Linux's /proc/stat), in ns since the epoch; 0 elsewhere."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return int(line.split()[1]) * 10**9
    return 0
