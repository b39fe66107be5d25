"""``status``: for each chapter, whether the learner changed their copy, whether the course
has a newer version, and the cases between (a copy deleted, its record lost, the chapter
edited in chapters/ itself or gone from the course). ``CopyStatus`` is a part of
``workspace.Workspace``, which gives it the folders, the record and git's answers (not
imported: workspace imports this module)."""

from __future__ import annotations

from .workspace_advice import quoted
from .workspace_backups import digest, newest_backup
from .workspace_record import UNCHECKED

EDITED_HERE = "edited in chapters/ itself, not in your workspace (see below)"
COMMITTED_HERE = "changed by a commit of yours in chapters/"  # then: not in which branch (see below)
DELETED_BY_COMMIT = (
    "deleted from chapters/ by a commit of yours, not by the course: in the course folder, `git restore "
    "--source={base} --staged --worktree -- {paths} && git commit -qm 'chapters: the course version "
    "again' -- {paths}` brings it back; your copy stays as it is"
)
KEPT = "your newest backup of it is"
NO_LONGER = "no longer in the course (renamed or removed); your copy stays as it is"
DELETED_HERE = (
    "deleted from chapters/ in this checkout, not by the course: in the course folder, `git restore "
    "--source=HEAD --staged --worktree chapters/{name}` brings it back; your copy stays as it is"
)


class CopyStatus:
    """Each copy's state, from its bytes, the record and git."""

    def _state(self, name: str, record: dict[str, str], edited: bool, committed: str = "") -> str:
        """One chapter's entry of ``status``. A chapter edited (``edited``) or committed
        (``committed``: its words, ``_committed_here``) in chapters/ is never "newer in the
        course": chapters/ holds the learner's version, and a reset would copy it as the course's."""
        copy, course = self.folder / name, digest(self.chapters / name)
        if not copy.exists() and not copy.is_symlink():
            return self._deleted(name) if name in record else "not copied yet"
        if not copy.is_file():
            return "not a notebook file (reset moves it to .backups/)"
        if name not in record and digest(copy) != course:
            return "differs from the course (changed by you or copied from an older one)"
        copied_from = record.get(name, course).removeprefix(UNCHECKED)
        changed = digest(copy) != copied_from
        newer = course != copied_from and not edited and not committed
        words = [w for w, on in (("changed by you", changed), ("newer in the course", newer)) if on]
        here = [committed] if committed else [EDITED_HERE] * edited  # (the commit's advice
        return "; ".join(words + here) or "as shipped"  # keeps an uncommitted edit on top too)

    def _committed_here(self) -> str:
        """COMMITTED_HERE and the branch the commit is not on. "Not in the course's version" was
        wrong for the course's author, whose commit not pushed yet is the course's next version;
        with a remote named upstream (a fork), that branch is the course's."""
        course = ", the course's" if self.course_ref() not in (None, "@{upstream}") else ""
        return f"{COMMITTED_HERE}, not in {self.course_ref_name()}{course} (see below)"

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
        when git shows the tracked chapter itself edited in this checkout; COMMITTED_HERE when
        a commit of the learner's changed it and the course has not."""
        self.recover_set_aside()  # a killed reset's copy of theirs: said, and its state told below
        record, states, changed = self.record(), {}, self.edited_files()
        edited_here, committed = self.edited_chapters(changed), self.committed_chapters()
        words = self._committed_here() if committed else ""
        for name in self.course_names():
            try:
                mine = words if name in committed else ""
                states[name] = self._state(name, record, name in edited_here, mine)
            except OSError as err:  # one unreadable copy (chmod 000) must not stop status, or lab
                why = err.strerror or err
                states[name] = f"cannot be read ({why}): give yourself read access to {err.filename}"
        renames, removed = None, set(record) - set(states)
        committed_out = self.deleted_by_commit() if removed else set()
        for name in sorted(removed):  # a chapter the course renamed or removed
            if (self.folder / name).exists() or (self.folder / name).is_symlink():  # (or the learner:
                if name in changed:  # git shows it deleted here, and `git pull` may bring it back)
                    states[name] = DELETED_HERE.format(name=name)
                elif name in committed_out:  # a `git rm` or `git mv` the learner committed
                    states[name] = self._deleted_by_commit(name, committed_out)
                else:
                    renames = self.renames() if renames is None else renames
                    states[name] = self._no_longer(name, renames)
        return states

    def _deleted_by_commit(self, name: str, gone: set[str]) -> str:
        """DELETED_BY_COMMIT, with the commit the checkout took from the course and those files of
        the chapter's pair that the learner's commit deleted (``gone``)."""
        stem = name.removesuffix(".ipynb")
        paths = " ".join(quoted(f"chapters/{f}") for f in (name, f"{stem}.py") if f in gone)
        return DELETED_BY_COMMIT.format(base=self.course_version(), paths=paths)

    def renamed(self, old: str, renames: dict[str, str] | None = None) -> tuple[str, bool] | None:
        """The chapter the course renamed ``old`` to, and whether git's history says so (else
        it is the one chapter of its number ``NN_``, which a tarball tells too); None when
        neither tells. ``renames``: ``self.renames()``, when the caller has it already."""
        names = self.course_names()
        new = (self.renames() if renames is None else renames).get(old)
        if new in names:
            return new, True
        same = [n for n in names if old[:2].isdigit() and n[:3] == old[:3]]
        return (same[0], False) if len(same) == 1 else None

    def _no_longer(self, name: str, renames: dict[str, str]) -> str:
        """NO_LONGER, naming the new name when it can be told."""
        new = self.renamed(name, renames)
        if new is None:
            return NO_LONGER
        said = f"renamed {new[0]}" if new[1] else f"its chapter {name[:2]} is {new[0]} now"
        return f"no longer in the course ({said}); your copy stays as it is"
