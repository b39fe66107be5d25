"""The record ``workspace/.course.json``: for each of the learner's copies, the hash of the
course's notebook it was copied from, so that status can tell the learner's changes from the
course's updates. Also how a copy and the record are written: whole or not at all.
``CopyRecord`` is a part of ``workspace.Workspace``, which gives it ``chapters``, ``folder``,
``_git_bytes`` and ``course_version`` (not imported: workspace imports this module)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import sys
from pathlib import Path

RECORD = ".course.json"  # for each copy: the hash of the course's notebook it was copied from
_SAID: set[str] = set()  # the warnings of unreadable records said by this process


class SavedMeanwhile(FileExistsError):
    """A file came to a copy's place after the caller found it empty, before the fresh copy went
    in (JupyterLab saving the learner's notebook during a reset): it is left as it is."""

    def __init__(self, path: Path):
        super().__init__(errno.EEXIST, "a file came to its place meanwhile", str(path))


class CopyRecord:
    """Copies into ``folder`` and the record of which course version each one came from."""

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
        said = f"workspace: ignoring {path} (not a record of copied chapters: {record!s:.80}); "
        if said not in _SAID:  # once: lab reads the record for sync, then for status, and said it twice
            _SAID.add(said)
            print(said + "chapters that differ from the course count as changed by you", file=sys.stderr)
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
        """Copy the course's ``name`` into the workspace, where the caller found no file, and
        record it. Never over a file: JupyterLab saves in place (it creates the file when none
        is there), and a save that landed after a reset moved the copy away was replaced, lost.
        Such a file stays as it is (SavedMeanwhile), and nothing is recorded."""
        data = (self.chapters / name).read_bytes()
        stage = self.folder / f".fresh-{os.getpid()}"  # the fresh copy is written whole first,
        stage.mkdir(exist_ok=True)  # under its own name (which an error then names)
        try:
            self._write(stage / name, data)
            _put_new(stage / name, self.folder / name)
        finally:
            (stage / name).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                stage.rmdir()
        record[name] = hashlib.sha256(data).hexdigest()

    def _record_committed(self, names: list[str], record: dict[str, str], edited: set[str]) -> None:
        """A chapter edited in chapters/ itself is copied as it is there (the learner's edit, or
        git's conflict markers) but recorded as the course's version: the one git has committed,
        or, for an edit the learner committed, the one their checkout took from the course
        (``course_version``). Recorded as copied, the copy read "as shipped"; once chapters/ was
        restored, "newer in the course, you had not changed yours", and a reset replaced it
        without a backup, edits and all."""
        version = self.course_version() if set(names) & edited else "HEAD"
        for name in set(names) & edited:
            committed = self._git_bytes("cat-file", "--filters", f"{version}:chapters/{name}")
            if committed is not None:  # (none for a chapter git has never committed)
                record[name] = hashlib.sha256(committed).hexdigest()


def _put_new(fresh: Path, path: Path) -> None:
    """Give the whole file ``fresh`` the name ``path`` too, unless a file is there already
    (SavedMeanwhile): a hard link is made, or fails, in one step. Where the file system has no
    hard links (FAT, some network shares), a rename after a last look: a save landing within
    those microseconds would still be replaced."""
    try:
        os.link(fresh, path)
    except FileExistsError:
        raise SavedMeanwhile(path) from None
    except OSError:
        if path.exists() or path.is_symlink():
            raise SavedMeanwhile(path) from None
        os.replace(fresh, path)
