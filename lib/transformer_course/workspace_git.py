"""What git says of the course checkout a workspace copies from: chapters edited in
chapters/ itself, a merge or a rebase stopped on a conflict, files left in conflict. Every
answer is empty (or False) where the course folder is no git checkout or git is missing.
``CourseGit`` is a part of ``workspace.Workspace``, which gives it ``chapters`` and
``course_names`` (not imported: workspace imports this module)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

COURSE_REMOTE = "upstream"  # a fork's name for the course it was forked from (GitHub's guide)


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
        return self._names("diff", "--name-only", "-z", commit)

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

    def renames(self) -> dict[str, str]:
        """Old name → name now, of the files in chapters/ that the course's history shows renamed
        (up to ``course_version``: a rename the learner committed is not the course's), each
        followed through later renames; empty without git."""
        since = self.course_version()
        out = self.git(
            "log", "--reverse", "-M", "--diff-filter=R", "--name-status", "--format=", "-z", since, "--"
        )
        fields, found = (out or "").split("\0"), {}
        for i, field in enumerate(fields[:-2]):
            if field.strip().startswith("R") and field.strip()[1:].isdigit():
                old, new = fields[i + 1], fields[i + 2]
                if old.startswith("chapters/") and new.startswith("chapters/"):
                    found[Path(old).name] = Path(new).name
        for old in found:  # 01_a → 01_b, then 01_b → 01_c: 01_a is 01_c now
            seen = {old}
            while found[old] in found and found[old] not in seen:
                seen.add(found[old])
                found[old] = found[found[old]]
        return found

    def upstream_base(self) -> str | None:
        """The commit this checkout last took from the course (the merge-base of HEAD and
        ``course_ref``): None without one (a tarball, a branch of the learner's own, a detached
        HEAD), and while a merge or a rebase is stopped on a conflict, which ``edited_files`` says."""
        ref = self.course_ref()
        if ref is None or self.merging() or self.rebasing():
            return None
        return (self.git("merge-base", "HEAD", ref) or "").strip() or None

    def course_ref(self) -> str | None:
        """Where git has the course's own history: the branch of the remote named upstream that
        this branch follows, where there is one (``origin`` is then the learner's fork, and a
        commit pushed to it is theirs, not the course's), else this branch's upstream
        (``@{upstream}``); None without either. With no remote named upstream, git keeps no
        record of the course's history apart from the branch pulled from: a commit pushed to a
        fork of the learner's reads as the course's (``fork_note`` says so)."""
        if COURSE_REMOTE in (self.git("remote") or "").split():
            followed = (self.git("rev-parse", "-q", "--abbrev-ref", "@{upstream}") or "").strip()
            here = (self.git("branch", "--show-current") or "").strip()
            for branch in dict.fromkeys(b for b in (followed.partition("/")[2], here, "main", "master") if b):
                if self.git("rev-parse", "-q", "--verify", f"{COURSE_REMOTE}/{branch}^{{commit}}"):
                    return f"{COURSE_REMOTE}/{branch}"
        return "@{upstream}" if self.git("rev-parse", "-q", "--verify", "@{upstream}") else None

    def course_ref_name(self) -> str:
        """``course_ref`` as git names it to the learner (``origin/main``, ``upstream/main``)."""
        ref = self.course_ref() or "@{upstream}"
        return (self.git("rev-parse", "-q", "--abbrev-ref", ref) or "").strip() or ref

    def pushed_since_base(self) -> bool:
        """Whether commits made since the course's version are on this branch's upstream (pushed
        to the learner's fork): advice then never takes them off the branch, which would make
        the next `git pull` from the fork bring them back."""
        base = self.upstream_base()
        if base is None or self.course_ref() == "@{upstream}":
            return False
        pushed = (self.git("merge-base", "HEAD", "@{upstream}") or "").strip()
        return pushed not in ("", base)

    def committed_files(self) -> set[str]:
        """Names of the course's files in chapters/ that a commit of the learner's changed and the
        course has not (HEAD differs from both the base and the upstream): once committed, git
        shows no edit, and the learner's version read as the course's "newer" one."""
        return self._committed("M")

    def deleted_by_commit(self) -> set[str]:
        """Names of the course's files in chapters/ that a commit of the learner's deleted (or
        renamed: the old name) and the course still has."""
        return self._committed("D")

    def files_since(self, commit: str) -> set[str]:
        """Paths (from the course folder) of every file that differs between ``commit`` and HEAD."""
        out = self.git("diff", "--name-only", "-z", "--no-renames", commit, "HEAD") or ""
        return {p for p in out.split("\0") if p}

    def _committed(self, changes: str) -> set[str]:
        """Files whose change since the upstream base is one of ``changes`` (git's letters) and
        that HEAD has otherwise than ``course_ref``: the change is the learner's alone."""
        base = self.upstream_base()
        if base is None:
            return set()
        theirs = self._names(
            "diff", "--name-only", "-z", "--no-renames", f"--diff-filter={changes}", base, "HEAD"
        )
        ref = self.course_ref() or "@{upstream}"
        theirs = theirs & self._names("diff", "--name-only", "-z", "HEAD", ref) if theirs else set()
        if theirs and self.git("rev-parse", "-q", "--verify", "FETCH_HEAD^{commit}"):
            # As the last fetch has them: a course update pulled by its address (`git pull <url>
            # main` leaves origin/main behind), whose files read "a commit of yours", and whose
            # advice restored the old course version (F5, round 51)
            theirs &= self._names("diff", "--name-only", "-z", "HEAD", "FETCH_HEAD")
        return theirs

    def _names(self, *args: str) -> set[str]:
        out = self.git(*args, "--", "chapters") or ""
        return {Path(p).name for p in out.split("\0") if p}

    def committed_chapters(self) -> set[str]:
        """Chapters whose notebook or .py a commit of the learner's changed (``committed_files``)."""
        return self.edited_chapters(self.committed_files())

    def course_version(self) -> str:
        """The commit holding the course's version of the chapters: the upstream base, or HEAD."""
        return self.upstream_base() or "HEAD"
