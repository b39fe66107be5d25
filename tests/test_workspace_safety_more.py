"""More ways a learner's work could be lost, each seen to lose it before the fix: the last
checkpoint left behind by a reset, a chapter the course renamed, a JupyterLab settings file
that stopped `make lab` and `make env`, a settings file cut short, and an error in the middle
of a reset."""

import json
import os
import subprocess
import sys

import pytest
from course_folder import make_course, notebook
from transformer_course import workspace
from transformer_course.workspace import BACKUPS, Workspace, install_lab_settings, main


@pytest.fixture
def course(tmp_path):
    (tmp_path / "my course").mkdir()  # a folder name with a space, as learners have
    return make_course(tmp_path / "my course")


@pytest.fixture
def learner(course):
    ws = Workspace.of(course)
    ws.sync()
    (ws.folder / "01_embeddings.ipynb").write_text(notebook("my own attempt, autosaved"))
    return ws


def lab(course, monkeypatch, capsys) -> str:
    """`make lab` up to the point where JupyterLab would take over the process."""

    def exec_instead(path, cmd):
        raise SystemExit(0)

    monkeypatch.setattr(os, "execv", exec_instead)
    with pytest.raises(SystemExit):
        main(["--course", str(course), "lab"])
    out = capsys.readouterr()
    return out.out + out.err


def test_reset_keeps_the_last_checkpoint_when_it_differs_from_the_copy(learner, capsys):
    """The copy holds autosaved edits; the checkpoint holds the last "Save and Checkpoint", the
    version the learner can go back to. Reset left it where Jupyter overwrites it at the next
    save of the fresh copy."""
    checkpoints = learner.folder / ".ipynb_checkpoints"
    checkpoints.mkdir()
    (checkpoints / "01_embeddings-checkpoint.ipynb").write_text(notebook("my working version"))
    assert main(["--course", str(learner.chapters.parent), "reset", "01"]) == 0
    [backup] = (learner.folder / BACKUPS).glob("*/01_embeddings.ipynb")
    assert backup.read_text() == notebook("my own attempt, autosaved")
    kept = backup.parent / "01_embeddings-checkpoint.ipynb"
    assert kept.read_text() == notebook("my working version")
    out = capsys.readouterr().out
    assert str(backup) in out and "01_embeddings-checkpoint.ipynb" in out
    assert f"cp '{backup}' '{learner.folder / '01_embeddings-mine.ipynb'}'" in out


def test_reset_keeps_a_checkpoint_of_a_copy_that_is_as_shipped(learner):
    """The learner undid their edits in the copy (autosaved) but had saved a checkpoint of them."""
    checkpoints = learner.folder / ".ipynb_checkpoints"
    checkpoints.mkdir()
    (checkpoints / "00_welcome-checkpoint.ipynb").write_text(notebook("saved work"))
    [(_, backup)] = learner.reset("00")
    assert backup is not None and backup.read_text() == notebook("saved work")
    (checkpoints / "02_positional_encoding-checkpoint.ipynb").write_bytes(
        (learner.chapters / "02_positional_encoding.ipynb").read_bytes()
    )  # a checkpoint as shipped holds nothing of theirs
    assert learner.reset("02") == [("02_positional_encoding.ipynb", None)]


def test_a_chapter_the_course_renamed_is_reported_and_kept(learner, monkeypatch, capsys):
    old, new = learner.chapters / "01_embeddings.ipynb", learner.chapters / "01_token_embeddings.ipynb"
    old.rename(new)  # what `git pull` does to a renamed chapter
    out = lab(learner.chapters.parent, monkeypatch, capsys)
    assert "01_embeddings.ipynb is no longer in the course" in out
    status = learner.status()
    assert status["01_embeddings.ipynb"].startswith("no longer in the course")
    assert status["01_token_embeddings.ipynb"] == "as shipped"
    assert (learner.folder / "01_embeddings.ipynb").read_text() == notebook("my own attempt, autosaved")


@pytest.fixture
def prefix(tmp_path, monkeypatch):
    """This Python's environment, stood in for by a temporary folder."""
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "env"))
    path = tmp_path / "env" / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True)
    return path


@pytest.mark.parametrize(
    "text", ["{// my comment\n}", "[]", '{"@jupyterlab/apputils-extension:notification": 1}']
)
def test_a_settings_file_jupyterlab_tolerates_stops_neither_lab_nor_env(
    learner, prefix, monkeypatch, capsys, text
):
    """JupyterLab starts with a broken overrides.json (it logs the error); `make lab` refused to
    start, and `make env` failed, after which every make removed and reinstalled .venv."""
    prefix.write_text(text)
    out = lab(learner.chapters.parent, monkeypatch, capsys)
    assert "could not write JupyterLab settings" in out and "Traceback" not in out
    assert main(["settings"]) == 0
    assert "could not write JupyterLab settings" in capsys.readouterr().err
    assert prefix.read_text() == text  # the learner's file, as they left it
    with pytest.raises(ValueError, match="must hold a JSON object"):
        install_lab_settings()


def test_a_settings_write_cut_short_leaves_the_learners_settings_whole(prefix, monkeypatch):
    theirs = {"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}
    prefix.write_text(json.dumps(theirs))
    write_text = type(prefix).write_text

    def disk_full(self, data, *args, **kwargs):
        write_text(self, data[:10], *args, **kwargs)
        raise OSError("No space left on device")

    monkeypatch.setattr(type(prefix), "write_text", disk_full)
    with pytest.raises(OSError, match="No space"):
        install_lab_settings()
    monkeypatch.undo()
    assert json.loads(prefix.read_text()) == theirs
    assert [p.name for p in prefix.parent.iterdir()] == ["overrides.json"]


def test_an_error_during_reset_is_said_plainly_and_keeps_the_copy(learner, monkeypatch, capsys):
    """A read-only or full workspace: a traceback before, now one line; the copy is untouched."""

    def refused(self):
        raise PermissionError(13, "Permission denied", str(self.folder / BACKUPS))

    monkeypatch.setattr(Workspace, "_new_backup_folder", refused)
    assert main(["--course", str(learner.chapters.parent), "reset", "01"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: [Errno 13] Permission denied") and "Nothing of yours was deleted" in err
    assert (learner.folder / "01_embeddings.ipynb").read_text() == notebook("my own attempt, autosaved")


def test_workspace_files_with_non_ascii_names_survive_every_command(learner, capsys):
    own = {"mon cahier é.ipynb": "{broken", "données/ü.csv": "a\n", "笔记.ipynb": notebook("x")}
    for name, text in own.items():
        (learner.folder / name).parent.mkdir(exist_ok=True)
        (learner.folder / name).write_text(text, encoding="utf-8")
    course = str(learner.chapters.parent)
    for args in (["sync"], ["status"], ["reset", "all"], ["reset", "all"]):
        assert main(["--course", course, *args]) == 0
    assert {n: (learner.folder / n).read_text(encoding="utf-8") for n in own} == own
    assert workspace.BACKUPS in capsys.readouterr().out


@pytest.mark.skipif(__import__("shutil").which("make") is None, reason="make is not installed")
def test_make_run_from_another_folder_refuses_and_touches_nothing_there(tmp_path):
    """`make -f ../Makefile clean` from workspace/ deleted workspace/build/ and its checkpoints:
    every recipe acted on the folder make was run from. Now make refuses to run there at all."""
    from pathlib import Path

    makefile = Path(__file__).resolve().parents[1] / "Makefile"
    elsewhere = tmp_path / "workspace"
    (elsewhere / "build").mkdir(parents=True)
    (elsewhere / "build" / "mine.txt").write_text("the learner's")
    (elsewhere / ".ipynb_checkpoints").mkdir()
    command = ["make", "-s", "-f", str(makefile), "clean"]
    run = subprocess.run(command, cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "Run make in the course folder" in run.stderr, run
    assert (elsewhere / "build" / "mine.txt").read_text() == "the learner's"
    assert (elsewhere / ".ipynb_checkpoints").is_dir()


def test_two_syncs_in_the_same_second_keep_both_backups(tmp_path, monkeypatch):
    """`make sync` copies an out-of-sync pair to chapters/.sync-backup/<time>/ before jupytext
    overwrites one of them; a second run in the same second copied into the same folder,
    overwriting the first run's backups."""
    import importlib.util
    from pathlib import Path

    import nbformat

    path = Path(__file__).resolve().parents[1] / ".ci" / "sync_notebooks.py"
    spec = importlib.util.spec_from_file_location("sync_notebooks", path)
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    monkeypatch.setattr(sync.time, "strftime", lambda fmt: "20261206-120000")
    py, nb = tmp_path / "01_x.py", tmp_path / "01_x.ipynb"
    for text in ("first", "second"):
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x = '{text}'")]), nb)
        py.write_text(f"# %%\nx = 'edited {text}'\n")
        sync.main(tmp_path)
    backups = sorted((tmp_path / ".sync-backup").iterdir())
    assert [b.name for b in backups] == ["20261206-120000", "20261206-120000-2"]
    assert "edited first" in (backups[0] / "01_x.py").read_text()
    assert "edited second" in (backups[1] / "01_x.py").read_text()
