"""Round 44 of a learner's weeks with the course, each case seen to lose work or mislead before
its fix: a JupyterLab save that lands while reset (or sync) puts a fresh copy in place, an
edit committed and pushed to the learner's own fork, and an author's commit not yet pushed."""

import os
import subprocess
from pathlib import Path

import pytest
from course_folder import (
    GIT_ENV,
    commit_mine,
    fork_and_clone,
    git,
    make_course,
    needs_git,
    newer_course,
    notebook,
    published_and_author,
    status_of,
)
from transformer_course import workspace_backups
from transformer_course.workspace import Workspace, main

CHAPTER = "01_embeddings.ipynb"
SAVED = notebook("saved by JupyterLab while reset ran")


def save_when_touched(monkeypatch, copy: Path, putting_in: bool = False, after: bool = False) -> list[Path]:
    """JupyterLab saves ``copy`` (in place, as jupyter_server does) just before the first file
    operation that changes the copy's place (``putting_in``: the first that puts a file there,
    once the copy was moved or set aside; ``after``: just after that operation). Returns a
    list that holds the place once saved."""
    saved = []

    def hooked(real):
        def operation(src, dst, *args, **kwargs):
            touches = Path(dst) == copy if putting_in else copy in (Path(src), Path(dst))
            if touches and not saved and not after:
                copy.write_text(SAVED)
                saved.append(copy)
            done = real(src, dst, *args, **kwargs)
            if touches and not saved and after:
                copy.write_text(SAVED)
                saved.append(copy)
            return done

        return operation

    for name in ("replace", "rename", "link"):
        monkeypatch.setattr(os, name, hooked(getattr(os, name)))
    return saved


def test_a_save_landing_as_reset_replaces_an_unchanged_copy_is_kept(tmp_path, monkeypatch, capsys):
    """The copy was judged unchanged (the course's), then JupyterLab saved the learner's work
    into it before the fresh copy replaced it: the save was gone, in no backup."""
    ws = newer_course(tmp_path)
    saved = save_when_touched(monkeypatch, ws.folder / CHAPTER)
    assert main(["--course", str(tmp_path), "reset", "01"]) == 0
    monkeypatch.undo()
    assert saved  # the save did land during the reset
    [backup] = (ws.folder / ".backups").glob(f"*/{CHAPTER}")
    assert backup.read_text() == SAVED
    assert f"your copy is in {backup}" in capsys.readouterr().out
    assert (ws.folder / CHAPTER).read_text() == (ws.chapters / CHAPTER).read_text()
    assert [p.name for p in ws.folder.iterdir() if p.name.startswith(f".{CHAPTER}")] == []


@pytest.mark.parametrize("changed", [False, True])
def test_a_save_landing_after_the_copy_was_moved_is_left_in_place(tmp_path, monkeypatch, capsys, changed):
    """The learner's copy was moved to .backups/ (or set aside), then JupyterLab's save made a
    new file in its place just before the fresh copy went in: the fresh copy replaced it."""
    ws = newer_course(tmp_path)
    before = notebook("my attempt before the save") if changed else (ws.folder / CHAPTER).read_text()
    (ws.folder / CHAPTER).write_text(before)
    save_when_touched(monkeypatch, ws.folder / CHAPTER, putting_in=True)
    assert main(["--course", str(tmp_path), "reset", "01"]) == 1
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert (ws.folder / CHAPTER).read_text() == SAVED
    assert "saved" in err and "not reset" in err and "Reset it again" in err
    backups = list((ws.folder / ".backups").glob(f"*/{CHAPTER}"))
    # (a course without git: even the copy as first made is kept, as no git vouched for it)
    assert [b.read_text() for b in backups] == [before]
    assert f"the version before it is in {backups[0]}" in err
    assert ws.status()[CHAPTER] == "changed by you; newer in the course"
    [(_, backup)] = ws.reset("01")  # reset again: the save goes to .backups/ too
    assert backup.read_text() == SAVED


def test_a_save_landing_just_after_a_changed_copy_was_moved_keeps_both_versions(tmp_path, monkeypatch):
    """JupyterLab saved a new file in the copy's place just after reset moved the learner's
    copy to .backups/: that save is kept too, beside the version moved, not over it."""
    ws = newer_course(tmp_path)
    (ws.folder / CHAPTER).write_text(notebook("my attempt before the save"))
    saved = save_when_touched(monkeypatch, ws.folder / CHAPTER, after=True)
    [(_, backup)] = ws.reset("01")
    monkeypatch.undo()
    assert saved and backup.read_text() == SAVED
    kept = sorted(p.read_text() for p in (ws.folder / ".backups").glob("*/*.ipynb"))
    assert kept == sorted([SAVED, notebook("my attempt before the save")])
    assert (ws.folder / CHAPTER).read_text() == (ws.chapters / CHAPTER).read_text()


def test_a_file_that_appears_while_sync_copies_the_chapter_is_left_alone(tmp_path, monkeypatch, capsys):
    """Sync found no copy of 01, then the learner's file of that name came (a second `make lab`'s
    copy, a notebook saved under that name): sync wrote the course's over it."""
    ws = Workspace.of(make_course(tmp_path))
    save_when_touched(monkeypatch, ws.folder / CHAPTER, putting_in=True)
    added = ws.sync()
    monkeypatch.undo()
    assert CHAPTER not in added and len(added) == 2
    assert (ws.folder / CHAPTER).read_text() == SAVED
    assert ws.status()[CHAPTER] == "differs from the course (changed by you or copied from an older one)"


def test_a_save_set_aside_that_backups_cannot_take_stays_in_sight(tmp_path, monkeypatch, capsys):
    """What a save put in the copy's place is kept under a name of its own in the workspace when
    .backups/ cannot take it, never left under the hidden name it was set aside as."""
    ws = newer_course(tmp_path, under_git=True)  # (git vouches for the copy: no backup of it)
    save_when_touched(monkeypatch, ws.folder / CHAPTER)
    move = workspace_backups.Backups.move

    def refused(self, path, name=None):
        if path.name.startswith("."):
            raise PermissionError(13, "Permission denied", str(ws.folder / ".backups"))
        return move(self, path, name)

    monkeypatch.setattr(workspace_backups.Backups, "move", refused)
    [(_, kept)] = ws.reset("01")
    monkeypatch.undo()
    assert kept == ws.folder / "01_embeddings-mine.ipynb" and kept.read_text() == SAVED
    assert (ws.folder / CHAPTER).read_text() == (ws.chapters / CHAPTER).read_text()
    assert [p.name for p in ws.folder.iterdir() if p.name.startswith(f".{CHAPTER}")] == []


COMMITTED_HERE = "changed by a commit of yours in chapters/"


def line_of(out: str) -> str:
    return next(x for x in out.splitlines() if x.startswith(CHAPTER))


def follow_advice(course: Path, out: str) -> None:
    """Each command line ``out`` prints (indented), typed by the learner in the course folder."""
    advice = [line for line in out.splitlines() if line.startswith("  ") and not line.startswith("  (")]
    assert advice, out
    for line in advice:
        env = dict(os.environ, **GIT_ENV)
        run = subprocess.run(["bash", "-c", line], cwd=course, env=env, capture_output=True, text=True)
        assert run.returncode == 0, f"{line}\n{run.stdout}\n{run.stderr}"


@needs_git
def test_an_edit_pushed_to_the_learners_fork_is_theirs_not_the_courses(tmp_path, monkeypatch, capsys):
    """origin is the learner's fork, the course the remote named upstream: an edit of chapters/
    committed and pushed to the fork read "newer in the course", and reset offered it as the
    course's update. It is theirs; the advice keeps it without taking the pushed commit off the
    branch, and the course's next version of 01 comes from upstream without a conflict."""
    author, course = fork_and_clone(tmp_path)
    mine = commit_mine(course)
    git(course, "push", "-q")
    monkeypatch.chdir(course)
    out = status_of(course, capsys)
    assert COMMITTED_HERE in line_of(out) and "upstream/main" in line_of(out)
    assert "newer in the course" not in line_of(out)
    assert "reset -q --soft" not in out and "git pull --no-rebase upstream main" in out
    follow_advice(course, out)
    assert (course / "workspace" / "01_embeddings-mine.ipynb").read_text() == mine
    assert git(course, "status", "--porcelain").stdout == ""
    assert Workspace.of(course).status()[CHAPTER] == "as shipped"
    git(course, "push", "-q")  # the fork takes the course's version back: no force needed
    improved = notebook("the course, improved")
    (author / "chapters" / CHAPTER).write_text(improved)
    git(author, "commit", "-qam", "a better chapter")
    git(course, "pull", "-q", "--no-rebase", "upstream", "main")  # no conflict
    assert (course / "chapters" / CHAPTER).read_text() == improved
    assert Workspace.of(course).status()[CHAPTER] == "newer in the course"


@needs_git
def test_a_fork_with_no_upstream_remote_is_told_what_git_cannot_tell(tmp_path, capsys):
    """Without a remote named upstream, git has no record of the course's own history: an edit
    pushed to the fork reads as the course's. Status says so, and how to let it tell them apart."""
    _, course = fork_and_clone(tmp_path, upstream=False)
    commit_mine(course)
    git(course, "push", "-q")
    out = status_of(course, capsys)
    assert "newer in the course" in line_of(out)
    assert "fork" in out and "git remote add upstream" in out and "origin/main" in out


@needs_git
def test_a_fork_whose_upstream_remote_is_added_but_not_fetched_is_told_only_to_fetch(tmp_path, capsys):
    """`git remote add upstream …` would fail there ("remote upstream already exists"), and by &&
    skip the fetch: the note names the one command that helps."""
    author, course = fork_and_clone(tmp_path, upstream=False)
    git(course, "remote", "add", "upstream", str(author))  # added, not fetched
    commit_mine(course)
    git(course, "push", "-q")
    out = status_of(course, capsys)
    assert "`git fetch upstream`" in out and "git remote add" not in out


@needs_git
def test_an_authors_commit_not_yet_pushed_is_named_as_such(tmp_path, monkeypatch, capsys):
    """The author commits chapters/01, the course's next version, before pushing: status said
    "not in the course's version", and its advice only undid the commit. It says where the
    commit is not yet, and that pushing it makes it the version reset copies."""
    published, author = published_and_author(tmp_path)
    next_version = commit_mine(author, "the course's next version")
    monkeypatch.chdir(author)
    out = status_of(author, capsys)
    assert COMMITTED_HERE in line_of(out) and "not in origin/main" in line_of(out)
    assert "the course's version" not in line_of(out)
    assert "If you write the course" in out and "`git push`" in out
    git(author, "push", "-q")
    assert Workspace.of(author).status()[CHAPTER] == "newer in the course"
    [(_, backup)] = Workspace.of(author).reset("01")
    assert backup is None and (author / "workspace" / CHAPTER).read_text() == next_version
