"""Whether the workspace folder can hold the learner's work: a folder, not a file, a link to
nothing or chapters/ itself (refused, with what to do), and, before lab starts, one line when
it belongs to another user, is read-only, or its disk is (nearly) full, since JupyterLab
would then fail on every save. ``FolderChecks`` is a part of ``workspace.Workspace``, which
gives it ``folder`` and ``chapters``; ``ws`` is a ``workspace.Workspace`` (not imported:
workspace imports this module)."""

from __future__ import annotations

import contextlib
import os
import shutil

from .workspace_advice import chown_hint, owned_by_another, quoted

LOW_SPACE = 10 * 2**20  # bytes: a chapter saved with its figures can take a few MB


class FolderChecks:
    """Refuses a ``folder`` that cannot hold the copies."""

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
        self._check_not_chapters()
        if folder.is_dir() and not os.access(folder, os.R_OK | os.X_OK):  # (chmod 000, another's)
            theirs = owned_by_another(folder) == folder
            fix = chown_hint(folder) if theirs else f"`chmod u+rwx {quoted(folder)}` gives it back to you"
            raise ValueError(
                f"workspace folder {folder} cannot be read (its permissions): {fix}, then run this again"
            )

    def _check_not_chapters(self) -> None:
        """ValueError when ``folder`` is chapters/ itself (`--workspace chapters`, or a workspace
        linked to it): its "copies" were the course's files, so a reset moved a chapter the
        learner had edited out of chapters/ and then had no course version to copy."""
        with contextlib.suppress(OSError, RuntimeError):  # (a link loop: the checks above say it)
            if self.folder.exists() and self.folder.resolve() == self.chapters.resolve():
                link = f" (a link to {os.readlink(self.folder)})" if self.folder.is_symlink() else ""
                raise ValueError(
                    f"workspace must be a folder of its own for your copies of the chapters, but "
                    f"{self.folder}{link} is the course's chapters/ folder: pass another --workspace, or "
                    "remove the link, then run this again"
                )


def say_not_yours(ws) -> None:
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
    _say_read_only([p for p in paths if p not in theirs])


def _say_read_only(paths: list) -> None:
    """One line when the workspace or a copy in it is the learner's own but read-only (a `chmod`,
    a copy unpacked read-only): JupyterLab opened it and failed on every save of their work,
    with nothing said before (JupyterLab saves through a file beside the copy: the folder too)."""
    locked = [p for p in paths if p.exists() and not p.is_symlink() and not os.access(p, os.W_OK)]
    if locked:  # (one that cannot be read either, chmod 000: u+w did not let JupyterLab open it)
        names = ", ".join(p.name for p in locked[:3]) + (" …" if len(locked) > 3 else "")
        unreadable = any(not os.access(p, os.R_OK) for p in locked)
        state = (
            "cannot be read or saved" if unreadable else f"{'is' if len(locked) == 1 else 'are'} read-only"
        )
        print(
            f"workspace: {names} {state}, so JupyterLab cannot save your work there: "
            f"`chmod u+{'rw' if unreadable else 'w'} {' '.join(quoted(p) for p in locked)}` lets it"
        )


def say_disk_full(ws) -> None:
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
