"""The record ``workspace/.course.json``: for each of the learner's copies, the hash of the
course's notebook it was copied from, so that status can tell the learner's changes from the
course's updates. Also how a copy and the record are written: whole or not at all.
``CopyRecord`` is a part of ``workspace.Workspace``, which gives it ``chapters``, ``folder``,
``_git_bytes`` and ``course_version`` (not imported: workspace imports this module)."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

RECORD = ".course.json"  # for each copy: the hash of the course's notebook it was copied from
# Before a hash: the bytes copied, which no git could vouch were the course's (a course folder
# without .git, git not on PATH): they may be an edit made in chapters/ itself, so status and lab
# never say "you had not changed yours" of them alone (an older version reads "changed by you")
UNCHECKED = "unchecked:"
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
            _put_new(stage / name, self.folder / name, data)
        finally:
            (stage / name).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                stage.rmdir()
        record[name] = hashlib.sha256(data).hexdigest()

    def git_answers(self) -> bool:
        """Whether git can say what the course's version of chapters/ is (a checkout, git on PATH)."""
        return self._git_bytes("rev-parse", "-q", "--verify", "HEAD^{commit}") is not None

    def _mark_unchecked(self, names, record: dict[str, str]) -> None:
        """Record ``names``' copies as bytes copied, not as the course's version (UNCHECKED)."""
        for name in names:
            if name in record:
                record[name] = UNCHECKED + record[name].removeprefix(UNCHECKED)

    def _record_committed(self, names: list[str], record: dict[str, str], edited: set[str]) -> None:
        """A chapter edited in chapters/ itself is copied as it is there (the learner's edit, or
        git's conflict markers) but recorded as the course's version: the one git has committed,
        or, for an edit the learner committed, the one their checkout took from the course
        (``course_version``). Recorded as copied, the copy read "as shipped"; once chapters/ was
        restored, "newer in the course, you had not changed yours", and a reset replaced it
        without a backup, edits and all. Where git cannot answer, nothing tells an edit made
        in chapters/ from the course's version: the copies are recorded UNCHECKED."""
        if names and not self.git_answers():
            self._mark_unchecked(names, record)
            return
        version = self.course_version() if set(names) & edited else "HEAD"
        for name in set(names) & edited:
            committed = self._git_bytes("cat-file", "--filters", f"{version}:chapters/{name}")
            if committed is not None:  # (none for a chapter git has never committed)
                record[name] = hashlib.sha256(committed).hexdigest()


# What os.link raises where the file system has no hard links (FAT, exFAT, some network shares)
# or the link would cross devices: then a rename that never replaces, or a new file, instead.
NO_LINKS = {
    errno.EPERM,
    errno.EXDEV,
    errno.EMLINK,
    errno.ENOSYS,
    errno.ENOTSUP,
    errno.EOPNOTSUPP,
    errno.EACCES,
    errno.EINVAL,  # Windows, on FAT and exFAT (ERROR_INVALID_FUNCTION)
}


def _put_new(fresh: Path, path: Path, data: bytes) -> None:
    """Give the whole file ``fresh`` (which holds ``data``) the name ``path`` too, unless a file
    is there already (SavedMeanwhile), in one step: a hard link. Where the file system has none
    (FAT, some network shares), a rename that never replaces (``rename_new``); where that is
    missing too (NFS), a new file made only where none is (O_EXCL), then written. A save that
    lands first is never replaced; one that lands after is the learner's, and wins."""
    try:
        os.link(fresh, path)
        return
    except FileExistsError:
        raise SavedMeanwhile(path) from None
    except OSError as err:
        if err.errno not in NO_LINKS:  # a missing folder, a full disk …: said as it is
            raise
    try:
        if not rename_new(fresh, path):
            _create_new(path, data)
    except FileExistsError:
        raise SavedMeanwhile(path) from None


def rename_new(src: Path, dst: Path) -> bool:
    """Rename ``src`` to ``dst`` in one step that fails (FileExistsError) where ``dst`` is: a
    check, then a rename, replaced a save landing in between. False where the system cannot
    (no renameat2, a file system without RENAME_NOREPLACE such as NFS or CIFS)."""
    if os.name == "nt":
        os.rename(src, dst)  # Windows' rename never replaces a file
        return True
    call = _renameat2()
    if call is None:
        return False
    if call(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(src), None, str(dst))  # EEXIST: a FileExistsError


_AT_FDCWD, _RENAME_NOREPLACE = -100, 1  # <fcntl.h>, <linux/fs.h>


@functools.cache
def _renameat2():
    """libc's renameat2 (Linux, glibc 2.28 and later), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        call = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


def _create_new(path: Path, data: bytes) -> None:
    """Write ``data`` as a new file ``path``, made only where no file is (O_EXCL: FileExistsError
    otherwise, also over NFSv3 and on FAT). Cut short (a full disk), the file made is removed
    while it is still the one made here. Left open: jupyter_server saves in place, so a save
    opening the file between the open and the write below shares it, and this write lands over
    the save's first bytes (one system call, where a check then a rename left a whole window)."""
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o666)
    try:
        view = memoryview(data)
        while view:  # one call for a notebook, in practice
            view = view[os.write(fd, view) :]
    except BaseException:
        with contextlib.suppress(OSError):
            mine, there = os.fstat(fd), os.lstat(path)
            if (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino):
                os.unlink(path)
        raise
    finally:
        os.close(fd)


def move_new(src: Path, dst: Path) -> None:
    """Move the file ``src`` to ``dst`` where no file is (FileExistsError otherwise), as
    ``_put_new`` puts a fresh copy in: never over a save that lands meanwhile."""
    try:
        os.link(src, dst)
    except OSError as err:
        if err.errno not in NO_LINKS:  # FileExistsError, a missing src …: said as it is
            raise
        if not rename_new(src, dst):
            _create_new(dst, src.read_bytes())
            with contextlib.suppress(OSError):  # (times and mode: FAT keeps few of them)
                shutil.copystat(src, dst)
            os.unlink(src)
        return
    os.unlink(src)
