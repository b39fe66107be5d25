"""A third round of a learner's weeks with the course, each case seen to lose work or mislead
before its fix: a reset stopped by a full disk, the backups named before an error, the `cp` that
reset prints, a chapter edited in chapters/ itself (then `git pull`), a second `make lab`,
`make reset 03` as typed, `make clean` and a checkpoint of the learner's, a course folder whose
path holds a space."""

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from course_folder import lab, make_course, notebook
from transformer_course import workspace
from transformer_course.workspace import BACKUPS, EDITED_HERE, Workspace, main

ROOT = Path(__file__).resolve().parents[1]
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def course(tmp_path):
    return make_course(tmp_path)


@pytest.fixture
def learner(course):
    ws = Workspace.of(course)
    ws.sync()
    (ws.folder / "01_embeddings.ipynb").write_text(notebook("my own attempt"))
    (ws.folder / "02_positional_encoding.ipynb").write_text(notebook("my second attempt"))
    return ws


def backups_of(ws: Workspace) -> list[Path]:
    return sorted(p for p in (ws.folder / BACKUPS).rglob("*") if p.is_file())


def test_a_reset_the_disk_cannot_finish_leaves_the_copy_in_place(learner, monkeypatch, capsys):
    """The copy was moved to .backups/, then the fresh one could not be written: the chapter was
    gone from the workspace, status called it "deleted", and the error did not say where it was."""

    def disk_full(self, path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(Workspace, "_write", disk_full)
    assert main(["--course", str(learner.chapters.parent), "reset", "01"]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "keeps your copy where it was" in err
    assert ".course.json" not in err  # the error of the chapter, not of the record after it
    monkeypatch.undo()
    assert (learner.folder / "01_embeddings.ipynb").read_text() == notebook("my own attempt")
    assert learner.status()["01_embeddings.ipynb"] == "changed by you"
    assert backups_of(learner) == []


def test_a_checkpoint_cut_short_by_a_full_disk_is_no_backup(learner, monkeypatch):
    checkpoints = learner.folder / ".ipynb_checkpoints"
    checkpoints.mkdir()
    (checkpoints / "01_embeddings-checkpoint.ipynb").write_text(notebook("my saved version"))

    def copy_cut_short(src, dst):
        Path(dst).write_text(Path(src).read_text()[:7])
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(workspace.shutil, "copy2", copy_cut_short)
    with pytest.raises(OSError, match="No space"):
        learner.reset("01")
    assert (learner.folder / "01_embeddings.ipynb").read_text() == notebook("my own attempt")
    assert (checkpoints / "01_embeddings-checkpoint.ipynb").read_text() == notebook("my saved version")
    assert backups_of(learner) == []  # no half file that looks like a backup


def test_reset_all_stopped_by_an_error_has_named_the_backups_it_made(learner, monkeypatch, capsys):
    """Every line was printed after the whole reset: one stopped at chapter 02 had moved 01 to
    .backups/ without a word of where."""
    copy_in = Workspace._copy_in

    def fails_on_02(self, name, record):
        if name.startswith("02"):
            raise OSError(errno.ENOSPC, "No space left on device")
        copy_in(self, name, record)

    monkeypatch.setattr(Workspace, "_copy_in", fails_on_02)
    assert main(["--course", str(learner.chapters.parent), "reset", "all"]) == 1
    out = capsys.readouterr()
    [backup] = (learner.folder / BACKUPS).glob("*/01_embeddings.ipynb")
    assert f"01_embeddings.ipynb: fresh copy from the course; your copy is in {backup}" in out.out
    assert "the ones above are done" in out.err
    assert (learner.folder / "02_positional_encoding.ipynb").read_text() == notebook("my second attempt")


def test_the_cp_that_reset_prints_never_overwrites_a_notebook_of_the_learner(learner, capsys):
    """Reset twice, follow the printed `cp` each time: the second replaced the first -mine copy."""
    taken = learner.folder / "01_embeddings-mine.ipynb"
    taken.write_text(notebook("what I copied back last week"))
    assert main(["--course", str(learner.chapters.parent), "reset", "01"]) == 0
    out = capsys.readouterr().out
    [backup] = (learner.folder / BACKUPS).glob("*/01_embeddings.ipynb")
    assert f"cp '{backup}' '{learner.folder / '01_embeddings-mine-2.ipynb'}'" in out
    assert f"'{taken}'" not in out


def test_status_says_how_to_get_a_newer_chapter_and_what_happens_to_yours(learner, capsys):
    (learner.chapters / "01_embeddings.ipynb").write_text(notebook("version 2"))
    assert main(["--course", str(learner.chapters.parent), "status"]) == 0
    out = capsys.readouterr().out
    assert "changed by you; newer in the course" in out
    assert "reset 01` gets the course's newer version" in out and "moves to workspace/.backups/" in out


def test_a_reset_tells_how_an_open_tab_shows_the_fresh_copy(learner, capsys):
    assert main(["--course", str(learner.chapters.parent), "reset", "01"]) == 0
    assert "File → Reload Notebook from Disk" in capsys.readouterr().out


def git(course: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="a", GIT_AUTHOR_EMAIL="a@b", GIT_COMMITTER_NAME="a")
    env["GIT_COMMITTER_EMAIL"] = "a@b"
    run = subprocess.run(["git", *args], cwd=course, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


@needs_git
@pytest.mark.parametrize("edited", [["ipynb"], ["py"], ["ipynb", "py"]])
def test_a_chapter_edited_in_chapters_is_not_called_newer_and_can_be_kept(
    learner, monkeypatch, capsys, edited
):
    """Editing chapters/00 itself made status say "newer in the course" and lab offer the reset
    that "gets it"; `git pull` then refused to update the chapter, with no word from the course.
    The advice copies each edited file: a .py edited by hand is not in the notebook."""
    course = learner.chapters.parent
    (course / ".gitignore").write_text("/workspace/\n")
    git(course, "init", "-q")
    git(course, "add", ".")
    git(course, "commit", "-qm", "course")
    mine = {"ipynb": notebook("edited in chapters/"), "py": "print('edited by hand')\n"}
    for suffix in edited:
        (learner.chapters / f"00_welcome.{suffix}").write_text(mine[suffix])
    assert learner.status()["00_welcome.ipynb"] == EDITED_HERE
    assert learner.status()["01_embeddings.ipynb"] == "changed by you"
    out = lab(learner, monkeypatch, capsys)
    assert "newer" not in out and "edited in chapters/ itself" in out
    monkeypatch.chdir(course)
    assert main(["status"]) == 0
    [advice] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  cp ")]
    run = subprocess.run(["bash", "-c", advice], cwd=course, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    for suffix in edited:
        assert (learner.folder / f"00_welcome-mine.{suffix}").read_text() == mine[suffix]
    assert git(course, "status", "--porcelain") == ""  # `git pull` can update chapters/ again
    assert learner.status()["00_welcome.ipynb"] == "as shipped"


def test_a_second_lab_on_the_same_workspace_points_at_the_first(learner, monkeypatch, capsys):
    """Two `make lab`: the second started on the next port without a word, each open chapter
    then had two kernels, and a save in one tab was a 'file changed' question in the other."""
    import jupyter_server.serverapp as serverapp

    running = [
        {"url": "http://127.0.0.1:8888/", "token": "abc", "root_dir": str(learner.folder), "pid": 1},
        {"url": "http://127.0.0.1:9999/", "token": "xyz", "root_dir": str(learner.chapters), "pid": 2},
    ]
    monkeypatch.setattr(serverapp, "list_running_servers", lambda *a, **k: iter(running))
    out = lab(learner, monkeypatch, capsys)
    assert "already serves your workspace at http://127.0.0.1:8888/lab?token=abc" in out
    assert "9999" not in out


def make(course: Path, *goals: str) -> subprocess.CompletedProcess:
    """`make GOALS` in ``course``, with this test's Python standing in for the course's .venv."""
    bin_dir = str(Path(sys.executable).parent)
    command = ["make", "-s", "-o", ".venv/.installed", f"BIN={bin_dir}", *goals]
    return subprocess.run(command, cwd=course, capture_output=True, text=True, timeout=120)


def with_makefile(course: Path) -> Path:
    shutil.copy2(ROOT / "Makefile", course / "Makefile")
    (course / "pyproject.toml").write_text('requires-python = ">=3.11"\n')
    return course


@needs_make
@pytest.mark.parametrize("which", ["1", "01", "01_embeddings"])
def test_make_reset_takes_the_chapter_as_typed(learner, which):
    """`make reset 1` said "Say which: make reset CHAPTER=03" and reset nothing."""
    run = make(with_makefile(learner.chapters.parent), "reset", which)
    assert run.returncode == 0, run.stderr
    [backup] = (learner.folder / BACKUPS).glob("*/01_embeddings.ipynb")
    assert backup.read_text() == notebook("my own attempt") and str(backup) in run.stdout
    assert learner.status()["01_embeddings.ipynb"] == "as shipped"


@needs_make
@pytest.mark.parametrize("typed", [["3"], ["01_x"], ["01", "02"], ["lab"], ["clean"]])
def test_make_reset_with_a_typo_is_refused_and_runs_nothing_else(learner, typed):
    (learner.chapters.parent / "build").mkdir()
    run = make(with_makefile(learner.chapters.parent), "reset", *typed)
    assert run.returncode == 2 and "chapter must be 'all', a number such as 03" in run.stderr
    assert (learner.chapters.parent / "build").is_dir()  # `make reset clean` cleaned nothing
    assert not (learner.folder / BACKUPS).exists()


@needs_make
def test_make_clean_keeps_a_checkpoint_of_the_learner_and_removes_the_rest(learner):
    """A learner who opened chapters/ in JupyterLab has their last Save and Checkpoint in
    chapters/.ipynb_checkpoints: `make clean` deleted it with the folder."""
    course = with_makefile(learner.chapters.parent)
    saved = course / "chapters" / ".ipynb_checkpoints"
    saved.mkdir()
    (saved / "00_welcome-checkpoint.ipynb").write_bytes(
        (course / "chapters" / "00_welcome.ipynb").read_bytes()
    )
    (saved / "01_embeddings-checkpoint.ipynb").write_text(notebook("my saved edit of the chapter"))
    (course / "my notes" / ".ipynb_checkpoints").mkdir(parents=True)
    (course / "my notes" / "a b.ipynb").write_text(notebook("a b"))
    (course / "my notes" / ".ipynb_checkpoints" / "a b-checkpoint.ipynb").write_text(notebook("a b"))
    run = make(course, "clean")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in saved.iterdir()) == ["01_embeddings-checkpoint.ipynb"]
    assert (saved / "01_embeddings-checkpoint.ipynb").read_text() == notebook("my saved edit of the chapter")
    assert "kept ./chapters/.ipynb_checkpoints/01_embeddings-checkpoint.ipynb" in run.stdout
    assert not (course / "my notes" / ".ipynb_checkpoints").exists()  # the same as its notebook


@needs_make
def test_make_runs_in_a_course_folder_whose_path_holds_a_space(tmp_path):
    """make splits $(realpath ...) at spaces: in "/Users/Ann Lee/course" every target refused,
    saying to cd into the folder it was run in."""
    (tmp_path / "Ann Lee").mkdir()
    course = with_makefile(make_course(tmp_path / "Ann Lee"))
    run = make(course, "status")
    assert run.returncode == 0, run.stderr
    assert "00_welcome.ipynb" in run.stdout and "not copied yet" in run.stdout
    elsewhere = subprocess.run(
        ["make", "-s", "-f", str(course / "Makefile"), "clean"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert elsewhere.returncode != 0 and "Run make in the course folder" in elsewhere.stderr
