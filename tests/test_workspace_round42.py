"""Round 42 of a learner's weeks with the course, each case seen to mislead or lose work before
its fix: a `git pull --rebase` stopped in conflict on a chapter edited in chapters/, a sync
while a `git stash pop` is in conflict, the advice of `make env` when an update fails, and a
JupyterHub learner never told that a chapter is newer in the course."""

import errno
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from course_folder import GIT_ENV, author_and_clone, git, make_course, needs_git, notebook
from transformer_course.workspace import Workspace, main

CHAPTER = "01_embeddings.ipynb"


@pytest.fixture
def clone(tmp_path):
    """(author's course, learner's clone): the learner has run `make lab` once."""
    return author_and_clone(tmp_path, pull_rebase="true")


def course_update(author: Path, name: str = CHAPTER) -> str:
    """The author commits a new version of chapter ``name``; returns it."""
    improved = notebook(f"the course, improved: {name}")
    (author / "chapters" / name).write_text(improved)
    git(author, "commit", "-qam", "a better chapter")
    return improved


def follow_advice(course: Path, monkeypatch, capsys) -> None:
    """`make status` in the course folder, then each command it prints, as the learner types it."""
    monkeypatch.chdir(course)
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    advice = [line for line in out.splitlines() if line.startswith("  ") and not line.startswith("  (")]
    assert advice, out
    for line in advice:
        run = subprocess.run(
            ["bash", "-c", line], cwd=course, env=dict(os.environ, **GIT_ENV), capture_output=True, text=True
        )
        assert run.returncode == 0, f"{line}\n{run.stdout}\n{run.stderr}"


def rebasing(course: Path) -> bool:
    return any((course / ".git" / state).exists() for state in ("rebase-merge", "rebase-apply"))


@needs_git
def test_the_advice_finishes_a_pull_rebase_stopped_in_conflict_on_an_edited_chapter(
    clone, monkeypatch, capsys
):
    """The learner committed an edit of chapters/01 and ran `git pull --rebase`: it stopped in
    conflict. The advice kept their side and restored the chapter, and left the rebase stopped:
    `git status` still said "rebase in progress", and the next pull refused."""
    author, course = clone
    mine = notebook("my commit of chapters/")
    (course / "chapters" / CHAPTER).write_text(mine)
    git(course, "commit", "-qam", "mine")
    improved = course_update(author)
    assert git(course, "pull", "-q", ok=False).returncode != 0  # stopped in conflict
    assert rebasing(course)
    follow_advice(course, monkeypatch, capsys)
    assert not rebasing(course)
    assert (course / "workspace" / "01_embeddings-mine.ipynb").read_text() == mine
    assert (course / "chapters" / CHAPTER).read_text() == improved
    assert git(course, "status", "--porcelain").stdout == ""
    assert git(course, "rev-parse", "HEAD").stdout == git(course, "rev-parse", "origin/main").stdout
    course_update(author, "02_positional_encoding.ipynb")
    git(course, "pull", "-q")  # pulls again


@needs_git
def test_a_rebased_commit_keeps_the_learners_other_changes(clone, monkeypatch, capsys):
    """The learner's commit holds a file of their own besides the chapter: the rebase goes on
    with it (`--continue`), rather than dropping the commit (`--skip`)."""
    author, course = clone
    (course / "chapters" / CHAPTER).write_text(notebook("mine"))
    (course / "my_notes.md").write_text("notes of mine\n")
    git(course, "add", "-A")
    git(course, "commit", "-qm", "mine")
    course_update(author)
    assert git(course, "pull", "-q", ok=False).returncode != 0
    follow_advice(course, monkeypatch, capsys)
    assert not rebasing(course)
    assert "my_notes.md" in git(course, "show", "--name-only", "HEAD").stdout
    assert (course / "my_notes.md").read_text() == "notes of mine\n"
    assert git(course, "status", "--porcelain").stdout == ""


@needs_git
def test_sync_does_not_copy_a_chapter_in_conflict(clone, capsys):
    """A `git stash pop` in conflict left git's markers in chapters/01: a sync (make lab) with
    that copy missing put the marker file in the workspace, which JupyterLab cannot open."""
    author, course = clone
    (course / "chapters" / CHAPTER).write_text(notebook("edited in chapters/ by mistake"))
    course_update(author)
    git(course, "stash", "-q")
    git(course, "pull", "-q")
    assert git(course, "stash", "pop", ok=False).returncode != 0  # in conflict
    (course / "workspace" / CHAPTER).unlink()
    ws = Workspace.of(course)
    assert CHAPTER not in ws.sync()
    assert not (course / "workspace" / CHAPTER).exists()
    err = capsys.readouterr().err
    assert f"not copying {CHAPTER}" in err and "in conflict" in err
    git(course, "restore", "--source=HEAD", "--staged", "--worktree", "chapters")
    assert CHAPTER in ws.sync()
    json.loads((course / "workspace" / CHAPTER).read_text())  # a notebook


def updated_course(tmp_path: Path) -> Workspace:
    """A learner's workspace (synced once) whose course then got a newer chapter 01."""
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    (ws.chapters / CHAPTER).write_text(notebook("the course, improved"))
    return ws


def test_sync_notice_names_a_newer_chapter_and_the_line_that_gets_it(tmp_path, capsys):
    """A JupyterHub's start hook runs `sync`, whose output goes to the hub's log: a learner never
    heard that a chapter is newer in the course. `sync --notice` writes it beside the copies."""
    ws = updated_course(tmp_path)
    assert main(["--course", str(tmp_path), "sync", "--notice"]) == 0
    notice = (ws.folder / "COURSE-UPDATES.md").read_text()
    assert CHAPTER in notice and "02_positional" not in notice
    line = next(x.strip() for x in notice.splitlines() if "reset 01" in x)
    run = subprocess.run(["bash", "-c", line], cwd=ws.folder, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert (ws.folder / CHAPTER).read_text() == (ws.chapters / CHAPTER).read_text()
    assert not (ws.folder / "COURSE-UPDATES.md").exists()  # reset took it away: nothing is newer
    capsys.readouterr()
    assert main(["--course", str(tmp_path), "sync", "--notice"]) == 0
    assert not (ws.folder / "COURSE-UPDATES.md").exists()


def test_sync_notice_never_overwrites_a_learners_file_of_that_name(tmp_path, capsys):
    ws = updated_course(tmp_path)
    (ws.folder / "COURSE-UPDATES.md").write_text("my own notes\n")
    assert main(["--course", str(tmp_path), "sync", "--notice"]) == 0
    assert (ws.folder / "COURSE-UPDATES.md").read_text() == "my own notes\n"
    assert "not the one sync wrote" in capsys.readouterr().out
    (ws.chapters / CHAPTER).write_text((ws.folder / CHAPTER).read_text())  # nothing newer now
    assert main(["--course", str(tmp_path), "sync", "--notice"]) == 0
    assert (ws.folder / "COURSE-UPDATES.md").read_text() == "my own notes\n"


def test_sync_notice_that_cannot_be_written_does_not_fail_the_hub_hook(tmp_path, monkeypatch, capsys):
    """A start hook that fails can stop the learner's server: the notice is said, never fatal."""
    from transformer_course import workspace

    ws = updated_course(tmp_path)

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(workspace, "update_notice", full_disk)
    assert main(["--course", str(tmp_path), "sync", "--notice"]) == 0
    assert "could not write the notice" in capsys.readouterr().out
    assert not (ws.folder / "COURSE-UPDATES.md").exists()


def test_plain_sync_writes_no_notice(tmp_path):
    """Only the hub's hook asks for it: `make lab` prints the same, and writes nothing more."""
    ws = updated_course(tmp_path)
    assert main(["--course", str(tmp_path), "sync"]) == 0
    assert sorted(p.name for p in ws.folder.iterdir() if not p.name.startswith(".")) == ws.course_names()


def disk_full_at(monkeypatch, name: str) -> None:
    """Writing ``name`` into the workspace fails as on a full disk; everything else is written."""
    write = Workspace._write

    def full(self, path, data):
        if path.name == name:
            raise OSError(errno.ENOSPC, "No space left on device")
        write(self, path, data)

    monkeypatch.setattr(Workspace, "_write", full)


def test_a_sync_stopped_by_a_full_disk_names_the_chapter_and_records_the_copies_made(
    tmp_path, monkeypatch, capsys
):
    """A full disk during the first `make lab`: "[Errno 28] No space left on device" with no
    file named, "a copy is moved to .backups/" (sync moves nothing), and the copies already made
    in no record, so a course fix to them later read "differs", not "newer in the course"."""
    ws = Workspace.of(make_course(tmp_path))
    disk_full_at(monkeypatch, "02_positional_encoding.ipynb")
    assert main(["--course", str(tmp_path), "sync"]) == 1
    err = capsys.readouterr().err
    assert "could not copy chapters/02_positional_encoding.ipynb" in err and "Free some space" in err
    assert sorted(json.loads((ws.folder / ".course.json").read_text())) == ["00_welcome.ipynb", CHAPTER]
    monkeypatch.undo()
    (ws.chapters / CHAPTER).write_text(notebook("the course, improved"))
    assert ws.status()[CHAPTER] == "newer in the course"


def test_a_reset_stopped_by_a_full_disk_says_to_free_space(tmp_path, monkeypatch, capsys):
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    mine = notebook("my own attempt")
    (ws.folder / CHAPTER).write_text(mine)
    disk_full_at(monkeypatch, CHAPTER)
    assert main(["--course", str(tmp_path), "reset", "01"]) == 1
    assert "Free some space" in capsys.readouterr().err
    assert (ws.folder / CHAPTER).read_text() == mine


def run_module(course: Path, *args: str, shell_tail: str = "", **env: str) -> subprocess.CompletedProcess:
    """``python -m transformer_course.workspace ARGS`` in ``course``, as a learner types it."""
    command = f"{shlex.quote(sys.executable)} -m transformer_course.workspace {' '.join(args)}{shell_tail}"
    return subprocess.run(
        ["bash", "-c", command], cwd=course, env=dict(os.environ, **env), capture_output=True, timeout=120
    )


def latin1_course(tmp_path: Path) -> Workspace:
    """A course in a folder whose name is not UTF-8 (caf\\xe9, in Latin-1)."""
    try:
        course = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9"))
        course.mkdir()
    except (OSError, UnicodeError):
        pytest.skip("this file system takes only UTF-8 names")
    return Workspace.of(make_course(course))


def test_a_course_folder_whose_name_is_not_utf8_still_says_where_the_backup_is(tmp_path):
    """A folder named in Latin-1 (caf\\xe9) under a UTF-8 locale: reset moved the copy to
    .backups/, then stopped on UnicodeEncodeError printing the path, never saying where it went."""
    ws = latin1_course(tmp_path)
    course = ws.chapters.parent
    ws.sync()
    (ws.folder / CHAPTER).write_text(notebook("my own attempt"))
    run = run_module(course, "reset", "01", PYTHONIOENCODING="utf-8:strict")
    assert run.returncode == 0, run.stderr
    assert b"caf\xe9/workspace/.backups/" in run.stdout


def test_status_read_by_a_pipe_that_closes_early_says_no_error(tmp_path):
    """`make status | head`: "error: [Errno 32] Broken pipe. Nothing of yours was deleted…"."""
    make_course(tmp_path)
    run = run_module(tmp_path, "status", shell_tail=" | true; exit ${PIPESTATUS[0]}")
    assert run.returncode == 141 and b"error" not in run.stderr, run.stderr


@needs_git
def test_reset_refuses_a_chapter_in_conflict_and_keeps_the_copy(clone, capsys):
    """`make reset 01` while a `git stash pop` left chapters/01 in conflict moved the learner's
    copy to .backups/ and put git's conflict markers in its place, which JupyterLab cannot open."""
    author, course = clone
    (course / "chapters" / CHAPTER).write_text(notebook("edited in chapters/ by mistake"))
    course_update(author)
    git(course, "stash", "-q")
    git(course, "pull", "-q")
    assert git(course, "stash", "pop", ok=False).returncode != 0  # in conflict
    mine = notebook("my work in my copy")
    (course / "workspace" / CHAPTER).write_text(mine)
    for which in ("01", "all"):
        assert main(["--course", str(course), "reset", which]) == 2
        err = capsys.readouterr().err
        assert f"chapter {CHAPTER} is in conflict" in err and "Nothing was reset" in err
        assert (course / "workspace" / CHAPTER).read_text() == mine
    assert not (course / "workspace" / ".backups").exists()


def test_sync_notice_says_nothing_when_its_notice_is_as_it_was(tmp_path, capsys):
    """A reset of another chapter, or each login, said "wrote COURSE-UPDATES.md" again."""
    updated_course(tmp_path)
    assert main(["--course", str(tmp_path), "sync", "--notice"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["--course", str(tmp_path), "reset", "02"]) == 0
    assert main(["--course", str(tmp_path), "sync", "--notice"]) == 0
    assert "COURSE-UPDATES" not in capsys.readouterr().out


def test_reset_of_a_chapter_the_course_renamed_says_so(tmp_path, capsys):
    """The course renamed 02_positional_encoding: `make reset 02_positional_encoding` (the name
    the learner's copy has) answered only "chapter must be 'all', a number …"."""
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    (ws.chapters / "02_positional_encoding.ipynb").rename(ws.chapters / "02_positions.ipynb")
    mine = (ws.folder / "02_positional_encoding.ipynb").read_text()
    assert main(["--course", str(tmp_path), "reset", "02_positional_encoding"]) == 2
    assert "02_positional_encoding.ipynb is no longer in the course" in capsys.readouterr().err
    assert (ws.folder / "02_positional_encoding.ipynb").read_text() == mine


ROOT = Path(__file__).resolve().parents[1]
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


@needs_git
@needs_make
@pytest.mark.skipif(os.name != "posix", reason="a shell script stands in for .venv's python")
def test_advice_of_make_status_typed_in_jupyterlabs_terminal_works_there(clone):
    """JupyterLab's terminal opens in workspace/, where the README says `make -C .. status`. The
    commands it printed were for the course folder: `cp 'chapters/…'` failed ("No such file"),
    and `make reset 02` answered "No rule to make target"."""
    author, course = clone
    shutil.copy2(ROOT / "Makefile", course / "Makefile")
    (course / "pyproject.toml").write_text('requires-python = ">=3.11"\n')
    (course / "requirements.lock").write_text("")
    python = course / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    python.chmod(0o755)
    (course / ".venv" / ".installed").touch()  # newer than the lock: nothing to install
    (course / ".git" / "info" / "exclude").write_text(
        "/Makefile\n/pyproject.toml\n/requirements.lock\n/.venv/\n"
    )
    course_update(author, "02_positional_encoding.ipynb")
    git(course, "pull", "-q")
    mine = "print('my edit')\n"
    (course / "chapters" / "01_embeddings.py").write_text(mine)
    here = course / "workspace"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env.update(GIT_ENV, PWD=str(here))  # as the terminal's shell sets it
    status = subprocess.run(["make", "-C", "..", "status"], cwd=here, env=env, capture_output=True, text=True)
    assert status.returncode == 0, status.stderr
    stale = subprocess.run(["make", "status"], cwd=course, env=env, capture_output=True, text=True)
    assert "`make reset 02`" in stale.stdout  # no -C: a PWD left by whoever ran make is not used
    lines = [x for x in status.stdout.splitlines() if x.startswith("  ")]
    lines.append(next(x.split("`")[1] for x in status.stdout.splitlines() if "reset 02`" in x))
    for line in lines:
        run = subprocess.run(["bash", "-c", line], cwd=here, env=env, capture_output=True, text=True)
        assert run.returncode == 0, f"{line}\n{run.stderr}"
    assert (here / "01_embeddings-mine.py").read_text() == mine
    assert git(course, "status", "--porcelain").stdout == ""
    assert Workspace.of(course).status()["02_positional_encoding.ipynb"] == "as shipped"


def test_jupyterlabs_terminals_get_the_courses_python_and_none_of_makes_variables(
    tmp_path, monkeypatch, capsys
):
    """`make lab` passed MAKELEVEL to JupyterLab, so every terminal opened in it had it: there
    `python -m transformer_course.workspace status` said `make reset 03`, which answers "No rule
    to make target" in workspace/; and `python` in that terminal was not the course's."""
    from transformer_course import workspace

    ws = Workspace.of(make_course(tmp_path))
    monkeypatch.setenv("MAKELEVEL", "1")
    monkeypatch.setenv("MAKEFLAGS", "w")
    monkeypatch.setenv("TC_CALLER_DIR", str(tmp_path))
    seen = {}

    def exec_instead(path, cmd):
        seen.update(os.environ)
        raise SystemExit(0)

    monkeypatch.setattr(os, "execv", exec_instead)
    monkeypatch.setattr(workspace, "install_lab_settings", lambda: None)
    monkeypatch.setattr(workspace, "_point_at_running_lab", lambda ws: False)
    with pytest.raises(SystemExit):
        main(["--course", str(ws.chapters.parent), "lab"])
    assert not {"MAKELEVEL", "MAKEFLAGS", "TC_CALLER_DIR"} & set(seen)
    if sys.prefix != sys.base_prefix:  # a venv, as make's .venv
        assert seen["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert os.environ["MAKELEVEL"] == "1"  # this process's own environment is as it was


def test_ctrl_c_during_sync_says_so_and_records_the_copies_made(tmp_path, monkeypatch, capsys):
    """Ctrl-C while `make lab` copied the chapters (or git answered slowly) printed a traceback."""
    ws = Workspace.of(make_course(tmp_path))
    copy_in = Workspace._copy_in

    def interrupted(self, name, record):
        if name == "02_positional_encoding.ipynb":
            raise KeyboardInterrupt
        copy_in(self, name, record)

    monkeypatch.setattr(Workspace, "_copy_in", interrupted)
    assert main(["--course", str(tmp_path), "sync"]) == 130
    assert "sync stopped (Ctrl-C)" in capsys.readouterr().err
    assert sorted(json.loads((ws.folder / ".course.json").read_text())) == ["00_welcome.ipynb", CHAPTER]


@pytest.mark.parametrize("trouble", ["full disk", "file where the workspace goes"])
def test_sync_notice_as_a_hub_start_hook_never_fails(tmp_path, monkeypatch, capsys, trouble):
    """The hub's start hook exited 1 on a full disk quota: a failing hook keeps the learner's
    server from starting, so they could not even log in to free some space."""
    ws = Workspace.of(make_course(tmp_path))
    if trouble == "full disk":
        disk_full_at(monkeypatch, CHAPTER)
    else:
        ws.folder.write_text("my notes\n")
    assert main(["--course", str(tmp_path), "sync", "--notice"]) == 0
    assert "error:" in capsys.readouterr().err
    assert main(["--course", str(tmp_path), "sync"]) != 0  # without --notice, as before


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners")
def test_a_workspace_left_roots_by_sudo_make_lab_is_named_with_the_fix(tmp_path, monkeypatch, capsys):
    """After one `sudo make lab`, workspace/ and its copies were root's: JupyterLab failed on
    every save, unexplained, and `make reset` said only "Permission denied"."""
    from course_folder import lab

    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    someone_else = ws.folder.stat().st_uid + 1
    monkeypatch.setattr(os, "getuid", lambda: someone_else)
    access = os.access

    def no_write_here(path, mode, **kw):  # as for a learner who is not root
        return access(path, mode, **kw) and not (mode == os.W_OK and Path(path).is_relative_to(ws.folder))

    monkeypatch.setattr(os, "access", no_write_here)
    out = lab(ws, monkeypatch, capsys)
    assert "belong to another user" in out and f"sudo chown -R \"$USER\" '{ws.folder}'" in out

    def refused(self):
        raise PermissionError(13, "Permission denied", str(self.folder / ".backups"))

    monkeypatch.setattr(Workspace, "_new_backup_folder", refused)
    (ws.folder / CHAPTER).write_text(notebook("my own attempt"))
    assert main(["--course", str(tmp_path), "reset", "01"]) == 1
    assert "sudo chown" in capsys.readouterr().err


def test_sync_notice_in_a_course_folder_whose_name_is_not_utf8(tmp_path):
    """The notice's reset line names the folders: one not in UTF-8 failed to be written."""
    ws = latin1_course(tmp_path)
    ws.sync()
    (ws.chapters / CHAPTER).write_text(notebook("the course, improved"))
    run = run_module(ws.chapters.parent, "sync", "--notice", PYTHONIOENCODING="utf-8:strict")
    assert run.returncode == 0 and b"error" not in run.stderr, run.stderr
    assert b"caf\xe9/workspace" in (ws.folder / "COURSE-UPDATES.md").read_bytes()


def test_lab_on_a_nearly_full_disk_says_so(tmp_path, monkeypatch, capsys):
    """Every copy in place, the disk full: lab started without a word, and JupyterLab then failed
    to save the learner's work."""
    from course_folder import lab
    from transformer_course import workspace

    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(workspace.shutil, "disk_usage", lambda path: usage._replace(free=300 * 1024))
    assert "has 300 KB free: JupyterLab may fail to save your work" in lab(ws, monkeypatch, capsys)
