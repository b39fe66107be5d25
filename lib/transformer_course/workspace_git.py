"""What git says of the course checkout a workspace copies from: chapters edited in
chapters/ itself, a merge or a rebase stopped on a conflict, files left in conflict. Every
answer is empty (or False) where the course folder is no git checkout or git is missing.
``CourseGit`` is a part of ``workspace.Workspace``, which gives it ``chapters`` and
``course_names`` (not imported: workspace imports this module)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class CourseGit:
    """Git's view of ``chapters``' checkout, for a ``workspace.Workspace``."""

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
