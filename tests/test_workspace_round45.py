"""Round 45 of a learner's weeks with the course, each case seen to lose work or mislead before
its fix: a JupyterLab save racing a fresh copy on a file system without hard links (FAT, some
network shares), a copy left under a hidden name by a reset that was killed, and the fork note
that only `status` said."""

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from course_folder import (
    author_and_clone,
    commit_mine,
    fork_and_clone,
    git,
    lab,
    make_course,
    needs_git,
    newer_course,
    notebook,
    status_of,
)
from transformer_course import workspace_record
from transformer_course.workspace import Workspace, main

CHAPTER = "01_embeddings.ipynb"
SAVED = notebook("saved by JupyterLab while the fresh copy went in")
MINE = notebook("my attempt, set aside by a reset that was killed")
FORK_NOTE = '"Newer in the course" means newer in'


def no_hard_links(monkeypatch, code: int, renameat2: bool) -> None:
    """A file system without hard links: os.link fails as FAT or a network share makes it fail
    (``code``); without ``renameat2``, one without RENAME_NOREPLACE either (NFS, CIFS)."""

    def link(src, dst, *args, **kwargs):
        raise OSError(code, os.strerror(code), str(src), None, str(dst))

    monkeypatch.setattr(os, "link", link)
    if not renameat2:
        monkeypatch.setattr(workspace_record, "_renameat2", lambda: None, raising=False)


def save_as_put_in(monkeypatch, copy: Path, after: bool = False, renameat2: bool = True) -> list[Path]:
    """JupyterLab saves ``copy`` just before (``after``: just after) the first operation, past
    the failed hard link, that puts a file at the copy's place: a rename (``renameat2``: one
    that never replaces), a replace, a file opened to be made there. Returns a list that holds
    the place once saved."""
    saved = []

    def hooked(real, where: int):
        def operation(*args, **kwargs):
            touches = Path(args[where]) == copy and not saved
            if touches and not after:
                copy.write_text(SAVED)
                saved.append(copy)
            done = real(*args, **kwargs)
            if touches and after:
                copy.write_text(SAVED)
                saved.append(copy)
            return done

        return operation

    for module, name, where in ((os, "replace", 1), (os, "rename", 1), (os, "open", 0)):
        monkeypatch.setattr(module, name, hooked(getattr(module, name), where))
    if renameat2 and hasattr(workspace_record, "rename_new"):
        monkeypatch.setattr(workspace_record, "rename_new", hooked(workspace_record.rename_new, 1))
    return saved


@pytest.mark.parametrize("renameat2", [True, False], ids=["renameat2", "O_EXCL"])
@pytest.mark.parametrize("code", [errno.EPERM, errno.ENOTSUP, errno.EXDEV])
def test_a_save_landing_as_reset_puts_the_fresh_copy_in_without_hard_links_is_kept(
    tmp_path, monkeypatch, capsys, code, renameat2
):
    """Without hard links, reset looked at the copy's place, then renamed the fresh copy over
    it: a save landing in between was replaced, in no backup."""
    ws = newer_course(tmp_path)
    no_hard_links(monkeypatch, code, renameat2)
    saved = save_as_put_in(monkeypatch, ws.folder / CHAPTER, renameat2=renameat2)
    assert main(["--course", str(tmp_path), "reset", "01"]) == 1
    monkeypatch.undo()
    assert saved and (ws.folder / CHAPTER).read_text() == SAVED
    assert "your save is left there" in capsys.readouterr().err
    assert [p.name for p in ws.folder.iterdir() if p.name.startswith(".01")] == []


@pytest.mark.parametrize("renameat2", [True, False], ids=["renameat2", "O_EXCL"])
def test_a_file_landing_as_sync_copies_without_hard_links_is_left_alone(tmp_path, monkeypatch, renameat2):
    """Sync found no copy of 01, then the learner's file of that name came: without hard
    links, sync's rename wrote the course's over it."""
    ws = Workspace.of(make_course(tmp_path))
    no_hard_links(monkeypatch, errno.EPERM, renameat2)
    saved = save_as_put_in(monkeypatch, ws.folder / CHAPTER, renameat2=renameat2)
    added = ws.sync()
    monkeypatch.undo()
    assert saved and CHAPTER not in added and len(added) == 2
    assert (ws.folder / CHAPTER).read_text() == SAVED
    assert sorted(p.name for p in ws.folder.iterdir()) == sorted([*added, CHAPTER, ".course.json"])


def test_a_save_landing_just_after_the_fresh_copy_went_in_wins(tmp_path, monkeypatch):
    """A save that lands once the fresh copy is in place is the learner's latest: it stays."""
    ws = newer_course(tmp_path, under_git=True)  # (git vouches for the copy: no backup of it)
    no_hard_links(monkeypatch, errno.EPERM, renameat2=True)
    saved = save_as_put_in(monkeypatch, ws.folder / CHAPTER, after=True)
    [(_, backup)] = ws.reset("01")
    monkeypatch.undo()
    assert saved and backup is None and (ws.folder / CHAPTER).read_text() == SAVED


@pytest.mark.parametrize("renameat2", [True, False], ids=["renameat2", "O_EXCL"])
def test_without_hard_links_a_fresh_copy_still_goes_in(tmp_path, monkeypatch, renameat2):
    """No race: each way of putting a new file in place gives the course's bytes, and no
    hidden file is left behind."""
    ws = newer_course(tmp_path)
    (ws.folder / CHAPTER).write_text(MINE)
    no_hard_links(monkeypatch, errno.ENOTSUP, renameat2)
    [(_, backup)] = ws.reset("01")
    monkeypatch.undo()
    assert backup.read_text() == MINE
    assert (ws.folder / CHAPTER).read_bytes() == (ws.chapters / CHAPTER).read_bytes()
    assert [p.name for p in ws.folder.iterdir() if p.name.startswith(".0")] == []


def dead_pid() -> int:
    """The PID of a process that has ended (a reset killed by SIGKILL)."""
    run = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    return int(run.stdout)


def killed_reset(ws: Workspace, text: str = MINE, pid: int | None = None) -> Path:
    """What a reset killed (SIGKILL) between setting the learner's copy of 01 aside and putting
    the fresh copy in leaves: the copy under the hidden name ``_set_aside`` gives it, none in place."""
    (ws.folder / CHAPTER).write_text(text)
    aside = ws.folder / f".{CHAPTER}.{pid or dead_pid()}-{time.time_ns()}.replaced"
    os.rename(ws.folder / CHAPTER, aside)
    return aside


@pytest.mark.parametrize("links", ["hard links", "renameat2", "O_EXCL"])
def test_status_puts_back_a_copy_a_killed_reset_left_set_aside(tmp_path, monkeypatch, capsys, links):
    """The copy read "deleted from your workspace", the learner's file under a hidden name that
    nothing said, and the next `make lab` copied the course's in beside it."""
    ws = newer_course(tmp_path)
    aside = killed_reset(ws)
    with monkeypatch.context() as patched:
        if links != "hard links":
            no_hard_links(patched, errno.EPERM, renameat2=links == "renameat2")
        out = status_of(tmp_path, capsys)
    assert (ws.folder / CHAPTER).read_text() == MINE and not aside.exists()
    [line] = [x for x in out.splitlines() if aside.name in x]
    assert line.startswith(f"workspace: {CHAPTER} is back in place")
    assert "changed by you; newer in the course" in out
    assert status_of(tmp_path, capsys).count("workspace:") == 0  # said once: nothing is left


@pytest.mark.parametrize("renameat2", [True, False], ids=["renameat2", "O_EXCL"])
def test_a_save_landing_as_a_leftover_is_put_back_stays_and_the_leftover_is_backed_up(
    tmp_path, monkeypatch, capsys, renameat2
):
    """JupyterLab saves the chapter just as status puts the leftover back: both are kept."""
    ws = newer_course(tmp_path)
    killed_reset(ws)
    no_hard_links(monkeypatch, errno.EPERM, renameat2)
    saved = save_as_put_in(monkeypatch, ws.folder / CHAPTER, renameat2=renameat2)
    ws.status()
    monkeypatch.undo()
    [backup] = (ws.folder / ".backups").glob(f"*/{CHAPTER}")
    assert saved and (ws.folder / CHAPTER).read_text() == SAVED and backup.read_text() == MINE
    assert f"it is in {backup}" in capsys.readouterr().out


def test_lab_backs_up_a_leftover_beside_a_copy_in_place(tmp_path, monkeypatch, capsys):
    """A copy is in place (an older `make lab` copied the course's in): the leftover, the
    learner's, goes to .backups/ as reset names its backups, and lab says where."""
    ws = newer_course(tmp_path)
    aside = killed_reset(ws)
    (ws.folder / CHAPTER).write_bytes((ws.chapters / CHAPTER).read_bytes())
    out = lab(ws, monkeypatch, capsys)
    [backup] = (ws.folder / ".backups").glob(f"*/{CHAPTER}")
    assert backup.read_text() == MINE and not aside.exists()
    assert f"workspace: {CHAPTER}: a reset stopped part-way (killed?) had left a version of yours" in out
    assert f"it is in {backup}" in out


def test_reset_backs_up_the_copy_a_killed_reset_left_set_aside(tmp_path, capsys):
    """Reset again after the kill: the learner's version is put back, then backed up as any
    copy they changed, and the fresh copy goes in."""
    ws = newer_course(tmp_path)
    killed_reset(ws)
    [(_, backup)] = ws.reset("01")
    assert backup.read_text() == MINE
    assert (ws.folder / CHAPTER).read_bytes() == (ws.chapters / CHAPTER).read_bytes()
    assert "is back in place" in capsys.readouterr().out


def test_a_leftover_of_the_courses_bytes_is_removed_and_one_of_a_running_reset_left(tmp_path, capsys):
    """The course's own bytes set aside hold nothing of the learner's: removed, unsaid. A
    leftover whose reset still runs (its PID lives) is that reset's: left alone."""
    ws = newer_course(tmp_path)
    course = (ws.chapters / CHAPTER).read_text()
    ours = killed_reset(ws, course)
    (ws.folder / CHAPTER).write_text(course)
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as running:
        try:
            theirs = killed_reset(ws, MINE, pid=running.pid)
            (ws.folder / CHAPTER).write_text(course)
            assert ws.sync() == [] and capsys.readouterr().out == ""
            assert not ours.exists() and theirs.read_text() == MINE
        finally:
            running.kill()
    running.wait()
    ws.status()  # its reset is gone now: the learner's version goes to .backups/
    [backup] = (ws.folder / ".backups").glob(f"*/{CHAPTER}")
    assert backup.read_text() == MINE and not theirs.exists()


@needs_git
def test_lab_says_the_fork_note_once_where_it_applies(tmp_path, monkeypatch, capsys):
    """Without a remote named upstream, "newer in the course" may be the learner's own edit
    pushed to their fork: status said so, `make lab` did not."""
    _, course = fork_and_clone(tmp_path, upstream=False)
    ws = Workspace.of(course)
    assert FORK_NOTE not in lab(ws, monkeypatch, capsys)  # nothing newer: nothing to explain
    commit_mine(course)
    git(course, "push", "-q")
    out = lab(ws, monkeypatch, capsys)
    assert out.count(FORK_NOTE) == 1 and "git remote add upstream" in out
    [line] = [x for x in out.splitlines() if FORK_NOTE in x]
    assert line.startswith("workspace: (") and "origin/main" in line


@needs_git
def test_lab_says_no_fork_note_with_an_upstream_remote(tmp_path, monkeypatch, capsys):
    """With the course as the remote named upstream, "newer" is the course's: no note."""
    author, course = fork_and_clone(tmp_path)
    (author / "chapters" / CHAPTER).write_text(notebook("the course, improved"))
    git(author, "commit", "-qam", "a better chapter")
    git(course, "pull", "-q", "--no-rebase", "upstream", "main")
    out = lab(Workspace.of(course), monkeypatch, capsys)
    assert "the course has a newer" in out and FORK_NOTE not in out


@needs_git
def test_the_readmes_git_clean_keeps_the_workspace(tmp_path):
    """`git clean -fdx` deletes workspace/ with the learner's work (git ignores it). The
    README's command for cleaning everything else, run in a learner's clone, keeps it."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    command = "git clean -fdx -e /workspace/"
    assert f"`{command}`" in readme
    _, course = author_and_clone(tmp_path)
    ws = Workspace.of(course)
    (ws.folder / CHAPTER).write_text(MINE)
    (course / "build").mkdir()
    (course / "build" / "output.html").write_text("built")
    git(course, *command.split()[1:])
    assert (ws.folder / CHAPTER).read_text() == MINE and not (course / "build").exists()
    git(course, "clean", "-fdx")  # the warning holds: without -e, the work is gone
    assert not ws.folder.exists()


def test_moving_a_missing_file_names_it_not_the_destination(tmp_path):
    """A missing src is not a file system without hard links: the error names src."""
    from transformer_course.workspace_record import move_new

    with pytest.raises(FileNotFoundError) as raised:
        move_new(tmp_path / "gone.ipynb", tmp_path / "there.ipynb")
    assert "gone.ipynb" in str(raised.value)
    assert not (tmp_path / "there.ipynb").exists()


def test_windows_fat_einval_from_link_still_puts_the_fresh_copy_in(tmp_path, monkeypatch):
    """On Windows, os.link on FAT or exFAT fails with EINVAL (ERROR_INVALID_FUNCTION): that is a
    file system without hard links too, not an error to stop at."""
    ws = newer_course(tmp_path)
    (ws.folder / CHAPTER).write_text(MINE)
    no_hard_links(monkeypatch, errno.EINVAL, renameat2=False)
    [(_, backup)] = ws.reset("01")
    monkeypatch.undo()
    assert backup.read_text() == MINE
    assert (ws.folder / CHAPTER).read_bytes() == (ws.chapters / CHAPTER).read_bytes()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_leftover_whose_pid_a_later_process_took_is_recovered(tmp_path, capsys):
    """A container's PIDs are soon reused: a live process that started after the copy was set
    aside is not the reset that set it aside."""
    ws = newer_course(tmp_path)
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as later:
        try:
            (ws.folder / CHAPTER).write_text(MINE)
            a_minute_ago = time.time_ns() - 60 * 10**9
            aside = ws.folder / f".{CHAPTER}.{later.pid}-{a_minute_ago}.replaced"
            os.rename(ws.folder / CHAPTER, aside)
            ws.status()
            assert (ws.folder / CHAPTER).read_text() == MINE and not aside.exists()
            assert "is back in place" in capsys.readouterr().out
        finally:
            later.kill()
    later.wait()
