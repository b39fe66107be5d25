"""``sync``: copy into the workspace every chapter it lacks, never touching a copy that is
there. A chapter left in conflict by git is not copied (a file of conflict markers is no
notebook JupyterLab can open). ``SyncCopies`` is a part of ``workspace.Workspace``, which gives
it the folders, the record and git's answers (not imported: workspace imports this module)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from .workspace_advice import error_hint, status_hint
from .workspace_backups import digest
from .workspace_record import RECORD, SavedMeanwhile


class SyncCopies:
    """The chapters the workspace lacks, copied in and recorded."""

    def sync(self) -> list[str]:
        """Copy every chapter the workspace lacks; existing copies are never touched. A copy
        missing from the record (it was lost) is recorded when it is the course's version."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.recover_set_aside()  # a killed reset's copy of theirs, back in place before anything is copied
        record, added, adopted = self.record(), [], []
        missing = [n for n in self.course_names() if not (self.folder / n).exists()]
        in_conflict = self.unmerged_files() if missing else set()  # (git only when needed)
        try:
            for name in self.course_names():
                copy = self.folder / name
                if name in in_conflict:  # git's conflict markers in it: no notebook JupyterLab can open
                    self._say_not_copied(name, copy)
                elif not copy.exists() and not copy.is_symlink():
                    if self._copy_new(name, record):
                        added.append(name)
                elif name not in record and copy.is_file() and (shipped := self._as_shipped(copy)):
                    record[name] = shipped
                    adopted.append(name)
        except (OSError, KeyboardInterrupt):  # a full disk, Ctrl-C: the copies made so far are
            # recorded, if the record still fits (as bytes copied, where git cannot vouch for them)
            if added or adopted:
                with contextlib.suppress(OSError):
                    if not self.git_answers():
                        self._mark_unchecked(added + adopted, record)
                    self._save_record(record)
            raise
        if added or adopted:  # (an adopted copy is chapters/'s bytes: an edit made there, maybe)
            edited = self.edited_chapters() | self.committed_chapters()
            self._record_committed(added + adopted, record, edited)
        if added or adopted or not (self.folder / RECORD).exists():
            self._save_record(record)
        return added

    def sync_or_say(self) -> list[str]:
        """``sync`` for lab: a chapter that cannot be copied (a full disk, a folder that is not
        writable, a record that cannot be written) is said, with why and the fix, and lab goes
        on to start JupyterLab on the copies there. It refused to start at all, so the learner
        could not even open a copy to clear its outputs and free some space."""
        try:
            return self.sync()
        except OSError as err:
            if not self.folder.is_dir():  # no folder to start JupyterLab on: said as an error
                raise
            hint = error_hint(err, self.folder)
            print(
                f"workspace: {err}.{hint} JupyterLab starts on the copies that are there; the next "
                "lab copies the missing ones once that is fixed.",
                file=sys.stderr,
            )
            return []

    def _copy_new(self, name: str, record: dict[str, str]) -> bool:
        """``_copy_in`` for sync, whose error names the chapter (a full disk said only "No space
        left on device", and added that a copy is moved to .backups/, which sync never does).
        False when a file came to the copy's place meanwhile: the learner's, left as it is."""
        try:
            self._copy_in(name, record)
            return True
        except SavedMeanwhile:
            return False
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

    def _as_shipped(self, copy: Path) -> str | None:
        """The course's hash when ``copy`` holds the course's bytes, else None (also when it cannot
        be read, chmod 000). The hash read once: a copy JupyterLab saved between a first and a
        second read was recorded as the course's version with the learner's hash, so it read "as
        shipped", and a reset replaced it without a backup."""
        try:
            ours = digest(copy)
            return ours if ours == digest(self.chapters / copy.name) else None
        except OSError:
            return None
