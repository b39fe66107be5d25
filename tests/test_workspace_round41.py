"""Round 41 of a learner's weeks with the course, each case seen to lose work or mislead before
its fix: the advice for a chapter edited in chapters/ after `git add`, after git's own "stash
them before you merge" (`git stash`, `git pull`, `git stash pop` in conflict) and after a pull
that merged a commit of theirs in conflict; a reset killed half-way (the terminal closed,
SIGTERM, SIGKILL); a file where the workspace goes; a lost record; a chapter deleted from
chapters/; a duplicate in chapters/; a home that cannot be written."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from course_folder import GIT_ENV, author_and_clone, git, lab, make_course, needs_git, notebook
from transformer_course import workspace
from transformer_course.workspace import BACKUPS, Workspace, main

CHAPTER = "01_embeddings.ipynb"


@pytest.fixture
def clone(tmp_path):
    """(author's course, learner's clone): the learner has run `make lab` once."""
    return author_and_clone(tmp_path)


def course_update(author: Path) -> str:
    """The author commits a new version of chapter 01; returns it."""
    improved = notebook("the course, improved")
    (author / "chapters" / CHAPTER).write_text(improved)
    git(author, "commit", "-qam", "a better chapter")
    return improved


def follow_advice(course: Path, monkeypatch, capsys) -> None:
    """`make status` in the course folder, then the command it prints, as the learner types it."""
    monkeypatch.chdir(course)
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    advice = [
        line for line in out.splitlines() if line.startswith("  ") and ("restore" in line or "commit" in line)
    ]
    assert advice
    for line in advice:  # one line per chapter, then (while merging) the commit that ends the merge
        run = subprocess.run(
            ["bash", "-c", line], cwd=course, env=dict(os.environ, **GIT_ENV), capture_output=True, text=True
        )
        assert run.returncode == 0, f"{line}\n{run.stderr}"


@needs_git
def test_the_advice_also_undoes_an_edit_staged_by_git_add(clone, monkeypatch, capsys):
    """`git add -A` after editing chapters/01.py: the advice's `git restore` restored the file
    from the index, i.e. the learner's edit, and `git pull` went on refusing."""
    author, course = clone
    mine = "print('my edit, staged')\n"
    (course / "chapters" / "01_embeddings.py").write_text(mine)
    git(course, "add", "-A")
    follow_advice(course, monkeypatch, capsys)
    assert (course / "workspace" / "01_embeddings-mine.py").read_text() == mine
    assert git(course, "status", "--porcelain").stdout == ""
    improved = course_update(author)
    git(course, "pull", "-q")
    assert (course / "chapters" / CHAPTER).read_text() == improved


@needs_git
def test_the_advice_after_a_stash_pop_in_conflict_keeps_the_learners_notebook(clone, monkeypatch, capsys):
    """git says "stash them before you merge": after `git stash`, `git pull`, `git stash pop`
    in conflict, the advice's `git restore` failed ('path … is unmerged'), and its `cp` had
    copied a file with conflict markers, which JupyterLab cannot open as a notebook."""
    author, course = clone
    mine = notebook("edited in chapters/ by mistake")
    (course / "chapters" / CHAPTER).write_text(mine)
    improved = course_update(author)
    assert git(course, "pull", "-q", ok=False).returncode != 0  # git refuses: local changes
    git(course, "stash", "-q")
    git(course, "pull", "-q")
    assert git(course, "stash", "pop", ok=False).returncode != 0  # in conflict
    follow_advice(course, monkeypatch, capsys)
    assert (course / "workspace" / "01_embeddings-mine.ipynb").read_text() == mine
    assert (course / "chapters" / CHAPTER).read_text() == improved
    assert git(course, "status", "--porcelain").stdout == ""


@needs_git
def test_the_advice_after_a_pull_that_merged_a_commit_in_conflict(clone, monkeypatch, capsys):
    """The learner committed their edit of chapters/01, then pulled: the merge stopped in
    conflict, status offered `cp` of a file with conflict markers and a `git restore` that git
    refuses for a file in conflict. Now: their side kept, the course's taken, the merge ended;
    a chapter the course alone changed in that pull is not called edited."""
    author, course = clone
    mine = notebook("my commit of chapters/")
    (course / "chapters" / CHAPTER).write_text(mine)
    git(course, "commit", "-qam", "mine")
    improved = course_update(author)
    (author / "chapters" / "02_positional_encoding.ipynb").write_text(notebook("02, improved"))
    git(author, "commit", "-qam", "02 too")
    assert git(course, "pull", "-q", "--no-rebase", ok=False).returncode != 0  # in conflict
    assert Workspace.of(course).edited_chapters() == {CHAPTER}
    follow_advice(course, monkeypatch, capsys)
    assert (course / "workspace" / "01_embeddings-mine.ipynb").read_text() == mine
    assert (course / "chapters" / CHAPTER).read_text() == improved
    assert git(course, "status", "--porcelain").stdout == ""
    assert git(course, "rev-parse", "-q", "--verify", "MERGE_HEAD", ok=False).returncode != 0


KILLED_HALF_WAY = """
import os, signal, sys
# As in a terminal: a test run under nohup hands its children SIGHUP ignored, which the reset
# rightly leaves ignored (and then nothing stops it).
signal.signal(getattr(signal, sys.argv[2]), signal.SIG_DFL)
from transformer_course import workspace
write = workspace.Workspace._copy_in
def stopped_here(self, name, record):  # the copy is in .backups/, the fresh one not yet written
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
    return write(self, name, record)
workspace.Workspace._copy_in = stopped_here
sys.exit(workspace.main(["--course", sys.argv[1], "reset", "01"]))
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGHUP and os.kill's signals are POSIX")
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_reset_killed_half_way_puts_the_learners_copy_back(tmp_path, signame):
    """The terminal closed (SIGHUP) or a kill (SIGTERM) during `make reset 01` ended Python
    between moving the copy to .backups/ and writing the fresh one: status then said "deleted
    from your workspace", and the next `make lab` put a fresh copy in its place, unnamed."""
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    mine = notebook("my own attempt")
    (ws.folder / CHAPTER).write_text(mine)
    command = [sys.executable, "-c", KILLED_HALF_WAY, str(tmp_path), signame]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert run.returncode == 128 + getattr(signal, signame)
    assert "Nothing of yours was deleted" in run.stderr and signame in run.stderr
    assert (ws.folder / CHAPTER).read_text() == mine
    assert ws.status()[CHAPTER] == "changed by you"


def test_a_copy_left_in_a_backup_by_a_killed_reset_is_named(tmp_path, monkeypatch, capsys):
    """SIGKILL (or a power cut) between a reset's move and its fresh copy: status called the
    chapter deleted, and `make lab` copied a fresh one, neither naming where the learner's went."""
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    (ws.folder / CHAPTER).write_text(notebook("my own attempt"))
    kept = ws.folder / BACKUPS / "20261206-143000" / CHAPTER
    kept.parent.mkdir(parents=True)
    (ws.folder / CHAPTER).rename(kept)  # where the killed reset left it
    assert str(kept) in ws.status()[CHAPTER]
    out = lab(ws, monkeypatch, capsys)
    assert f"added {CHAPTER}" in out and str(kept) in out
    assert (ws.folder / CHAPTER).read_text() == (ws.chapters / CHAPTER).read_text()


@needs_git
def test_a_reset_of_a_chapter_edited_in_chapters_says_whose_version_it_copied(clone, capsys):
    """`make reset 01` with chapters/01 edited (or left in conflict by `git stash pop`) said
    "fresh copy from the course" and gave the learner their own edit, or a file of conflict
    markers, as the course's version."""
    _, course = clone
    mine = notebook("edited in chapters/ by mistake")
    (course / "chapters" / CHAPTER).write_text(mine)
    assert main(["--course", str(course), "reset", "01"]) == 0
    out = capsys.readouterr().out
    assert f"Your fresh copy of {CHAPTER} holds the edits made in chapters/ itself" in out
    assert "restore --source=HEAD" in out
    assert main(["--course", str(course), "reset", "02"]) == 0
    assert "holds the edits" not in capsys.readouterr().out  # only where chapters/ is edited


def test_a_chapter_number_that_names_two_notebooks_lists_them(tmp_path, capsys):
    """A duplicate made in chapters/ (JupyterLab names it 01_embeddings-Copy1.ipynb) made
    `make reset 01` answer "chapter must be … got '01' (chapters: 00, 01, 01, 02)"."""
    course = make_course(tmp_path)
    shutil.copy(course / "chapters" / CHAPTER, course / "chapters" / "01_embeddings-Copy1.ipynb")
    assert main(["--course", str(course), "reset", "01"]) == 2
    err = capsys.readouterr().err
    assert "01_embeddings-Copy1.ipynb" in err and "such as 01_embeddings:" not in err
    assert "type the name of one, such as 01_embeddings" in err
    assert main(["--course", str(course), "reset", "01_embeddings"]) == 0


@pytest.mark.parametrize("command", ["lab", "status", "reset"])
def test_a_file_where_the_workspace_goes_is_named_and_kept(tmp_path, monkeypatch, capsys, command):
    """A file called workspace (the learner's notes): lab and reset failed on "[Errno 17] File
    exists" with a word about backups, and status called every chapter "not copied yet"."""
    course = make_course(tmp_path)
    (course / "workspace").write_text("my notes\n")
    monkeypatch.setattr(os, "execv", lambda *a: pytest.fail("JupyterLab started"))
    monkeypatch.setattr(workspace, "install_lab_settings", lambda: None)  # not this venv's settings
    args = {"lab": ["lab"], "status": ["status"], "reset": ["reset", "01"]}[command]
    assert main(["--course", str(course), *args]) == 2
    err = capsys.readouterr().err
    assert "workspace must be a folder" in err and "is a file: rename it" in err
    assert (course / "workspace").read_text() == "my notes\n"


def test_lab_names_copies_whose_record_is_lost(tmp_path, monkeypatch, capsys):
    """With .course.json deleted, a copy the learner changed read "differs from the course" in
    `make status` only: `make lab` said nothing, so a course fix to it went unseen."""
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    (ws.folder / CHAPTER).write_text(notebook("my own attempt"))
    (ws.folder / ".course.json").unlink()
    out = lab(ws, monkeypatch, capsys)
    assert f"workspace: {CHAPTER} differs from the course's" in out and "reset 01` gets it" in out
    assert "00_welcome" not in out  # as shipped: not named
    assert (ws.folder / CHAPTER).read_text() == notebook("my own attempt")


@needs_git
@pytest.mark.parametrize("how", [["rm"], ["git", "rm", "-q"]])
def test_a_chapter_deleted_from_chapters_is_not_called_removed_by_the_course(clone, monkeypatch, capsys, how):
    """chapters/01 deleted by the learner (rm, or git rm): status and lab said the chapter was
    "no longer in the course (renamed or removed)", as if the course had dropped it."""
    _, course = clone
    subprocess.run([*how, f"chapters/{CHAPTER}"], cwd=course, check=True)
    ws = Workspace.of(course)
    state = ws.status()[CHAPTER]
    assert state.startswith("deleted from chapters/ in this checkout, not by the course")
    assert f"workspace: {CHAPTER}: deleted from chapters/" in lab(ws, monkeypatch, capsys)
    command = state.split("`")[1]
    subprocess.run(["bash", "-c", command], cwd=course, check=True)
    assert git(course, "status", "--porcelain").stdout == ""
    assert ws.status()[CHAPTER] == "as shipped"


def test_lab_starts_with_a_home_it_cannot_write(tmp_path, monkeypatch, capsys):
    """A read-only home (a classroom machine): `make lab` copied the chapters, then JupyterLab
    stopped on a PermissionError traceback from ~/.jupyter, with no word from the course."""
    from jupyter_core import paths

    home = tmp_path / "home"
    home.write_text("no folder can be made in here, not even by root\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "XDG_"))}
    monkeypatch.setattr(os, "environ", {**clean, "HOME": str(home)})
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    (tmp_path / "course").mkdir()
    ws = Workspace.of(make_course(tmp_path / "course"))
    out = lab(ws, monkeypatch, capsys)
    assert f"Jupyter cannot write to {home / '.jupyter'}" in out
    for folder in (paths.jupyter_config_dir(), paths.jupyter_data_dir(), paths.jupyter_runtime_dir()):
        Path(folder).mkdir(parents=True, exist_ok=True)  # what JupyterLab does as it starts
        assert Path(folder).is_relative_to(tmp_path) and not Path(folder).is_relative_to(home)


ROOT = Path(__file__).resolve().parents[1]
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
OFFLINE_PYTHON = f"""#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "ERROR: No matching distribution (offline)" >&2; exit 1; fi
exec {sys.executable} "$@"
"""


@needs_make
@pytest.mark.skipif(os.name != "posix", reason="a shell script stands in for .venv's python")
def test_make_status_and_lab_run_on_the_old_environment_when_an_update_fails(tmp_path):
    """Offline after a `git pull` that changed requirements.lock (or pyproject.toml): `make lab`,
    `make reset` and `make status` tried to update .venv, failed, and stopped, so the learner
    could not open their work (and was told `make distclean`, which removes the .venv they had)."""
    course = make_course(tmp_path)
    shutil.copy2(ROOT / "Makefile", course / "Makefile")
    (course / "pyproject.toml").write_text('requires-python = ">=3.11"\n')
    (course / "requirements.lock").write_text("torch==99.0\n")  # the course's new pins
    python = course / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(OFFLINE_PYTHON)
    python.chmod(0o755)
    (course / ".venv" / ".installed").touch()
    os.utime(course / ".venv" / ".installed", (1, 1))  # installed before the update
    env = dict(os.environ, PYTHON=sys.executable)
    env.pop("MAKEFLAGS", None)
    run = subprocess.run(["make", "status"], cwd=course, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "going on with the one you had" in run.stderr and f"{CHAPTER:40s} not copied yet" in run.stdout
    env_run = subprocess.run(
        ["make", "env"], cwd=course, env=env, capture_output=True, text=True, timeout=120
    )
    assert env_run.returncode != 0  # `make env` (and test) still stop on a failed install


@needs_git
@pytest.mark.parametrize("copied_by", ["reset", "lab"])
def test_a_copy_taken_from_an_edited_chapter_is_backed_up_after_chapters_is_restored(clone, copied_by):
    """Edit chapters/01 by mistake, `make reset 01` (or delete the copy, `make lab`): the copy
    now holds that edit. Then `git restore` chapters/01: status said "newer in the course", lab
    "you had not changed yours", and the reset it offered replaced the copy without a backup:
    the edit was nowhere any more."""
    _, course = clone
    mine = notebook("edited in chapters/ by mistake")
    (course / "chapters" / CHAPTER).write_text(mine)
    ws = Workspace.of(course)
    if copied_by == "reset":
        ws.reset("01")
    else:
        (ws.folder / CHAPTER).unlink()
        assert ws.sync() == [CHAPTER]
    assert (ws.folder / CHAPTER).read_text() == mine
    git(course, "restore", f"chapters/{CHAPTER}")
    assert ws.status()[CHAPTER].startswith("changed by you")
    [(_, backup)] = ws.reset("01")
    assert backup is not None and backup.read_text() == mine


@needs_git
def test_the_advice_for_two_chapters_in_a_merge_ends_the_merge_once(clone, monkeypatch, capsys):
    """Two chapters the learner committed and the course changed, one in conflict, one merged
    cleanly (other lines): each chapter's line ended with `git commit`, so the first line ended
    the merge and the next one's `git restore --source=MERGE_HEAD` failed ("could not resolve
    MERGE_HEAD"), its edits left committed in chapters/."""
    author, course = clone
    welcome = "00_welcome.py"
    lines = [f"line {i}\n" for i in range(8)]
    (author / "chapters" / welcome).write_text("".join(lines))
    git(author, "commit", "-qam", "a longer chapter 00")
    git(course, "pull", "-q", "--no-rebase")
    (course / "chapters" / CHAPTER).write_text(notebook("my commit of 01"))
    (course / "chapters" / welcome).write_text("".join(["my first line\n", *lines[1:]]))
    git(course, "commit", "-qam", "mine")
    (author / "chapters" / welcome).write_text("".join([*lines[:-1], "the course's last line\n"]))
    git(author, "commit", "-qam", "00's last line")
    course_update(author)  # 01 conflicts; 00 merges cleanly, its lines apart
    assert git(course, "pull", "-q", "--no-rebase", ok=False).returncode != 0
    assert Workspace.of(course).edited_chapters() == {"00_welcome.ipynb", CHAPTER}
    follow_advice(course, monkeypatch, capsys)
    assert git(course, "rev-parse", "-q", "--verify", "MERGE_HEAD", ok=False).returncode != 0
    assert git(course, "status", "--porcelain").stdout == ""
    assert (course / "chapters" / welcome).read_text() == git(
        author, "show", f"HEAD:chapters/{welcome}"
    ).stdout


def test_the_name_a_duplicate_message_suggests_selects_that_chapter(tmp_path):
    """With 01_embeddings.ipynb and a learner's 01_embeddings_old.ipynb in chapters/, `reset 01`
    suggested "01_embeddings", which then failed the same way: a prefix of the other name."""
    course = make_course(tmp_path)
    shutil.copy(course / "chapters" / CHAPTER, course / "chapters" / "01_embeddings_old.ipynb")
    ws = Workspace.of(course)
    with pytest.raises(ValueError, match="such as 01_embeddings"):
        ws.select("01")
    assert ws.select("01_embeddings") == [CHAPTER]
    assert ws.select("01_embeddings_old") == ["01_embeddings_old.ipynb"]
