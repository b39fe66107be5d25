"""``status``: for each chapter, whether the learner changed their copy, whether the course
has a newer version, and the cases between (a copy deleted, its record lost, the chapter
edited in chapters/ itself or gone from the course). ``CopyStatus`` is a part of
``workspace.Workspace``, which gives it the folders, the record and git's answers (not
imported: workspace imports this module)."""

from __future__ import annotations

from .workspace_backups import digest, newest_backup

EDITED_HERE = "edited in chapters/ itself, not in your workspace (see below)"
KEPT = "your newest backup of it is"
NO_LONGER = "no longer in the course (renamed or removed); your copy stays as it is"
DELETED_HERE = (
    "deleted from chapters/ in this checkout, not by the course: in the course folder, `git restore "
    "--source=HEAD --staged --worktree chapters/{name}` brings it back; your copy stays as it is"
)


class CopyStatus:
    """Each copy's state, from its bytes, the record and git."""

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
