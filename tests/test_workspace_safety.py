"""Nothing a learner wrote in workspace/ is overwritten or lost by a make target or a course
update: preparing the workspace again, reset (good and bad chapter names), a course update, a
deleted or half-saved copy, an unreadable record, a read-only course, older backups of the same
name, and `make clean`, `distclean`, `sync`, `format`."""

import hashlib
import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from course_folder import NAMES, lab, make_course, notebook
from transformer_course import workspace
from transformer_course.workspace import BACKUPS, RECORD, Workspace, main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def course(tmp_path):
    return make_course(tmp_path)


@pytest.fixture
def learner(course):
    """A prepared workspace with an edited chapter 01 and files of the learner's own."""
    ws = Workspace.of(course)
    ws.sync()
    (ws.folder / "01_embeddings.ipynb").write_text(notebook("my own attempt"))
    (ws.folder / "my_notes.ipynb").write_text(notebook("notes"))
    (ws.folder / "data.csv").write_text("a,b\n1,2\n")
    (ws.folder / "sub" / "__pycache__").mkdir(parents=True)
    (ws.folder / "sub" / "helper.py").write_text("X = 1\n")
    (ws.folder / "sub" / "__pycache__" / "helper.pyc").write_bytes(b"\0cache")
    (ws.folder / ".ipynb_checkpoints").mkdir()
    (ws.folder / ".ipynb_checkpoints" / "01_embeddings-checkpoint.ipynb").write_text(notebook("saved"))
    return ws


def files(folder: Path) -> dict[str, str]:
    """Every file under folder (hidden ones too), by relative path, with its hash."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def mine(before: dict[str, str]) -> dict[str, str]:
    """The learner's own files and edited copy: everything but the chapters they did not touch."""
    shipped = {f"{n}.ipynb" for n in NAMES} - {"01_embeddings.ipynb"}
    return {k: v for k, v in before.items() if k not in shipped and k != RECORD}


def test_preparing_the_workspace_twice_touches_nothing(learner, monkeypatch, capsys):
    before = files(learner.folder)
    lab(learner, monkeypatch, capsys)
    assert main(["--course", str(learner.chapters.parent), "sync"]) == 0
    lab(learner, monkeypatch, capsys)
    assert files(learner.folder) == before


def test_resets_and_refused_chapter_names_keep_every_file_of_the_learner(learner, capsys):
    before = files(learner.folder)
    course = str(learner.chapters.parent)
    for which in ["3", "99", "../x", "", "0_welcome", "01 02", "*", "../01_embeddings"]:
        assert main(["--course", course, "reset", which]) == 2
        assert "chapter must be" in capsys.readouterr().err
    assert files(learner.folder) == before
    assert main(["--course", course, "reset", "all"]) == 0
    [backup] = (learner.folder / BACKUPS).glob("*/01_embeddings.ipynb")
    assert str(backup) in capsys.readouterr().out
    after = files(learner.folder)
    moved = f"{BACKUPS}/{backup.parent.name}/01_embeddings.ipynb"
    assert after[moved] == before["01_embeddings.ipynb"]
    assert {k: v for k, v in mine(before).items() if k != "01_embeddings.ipynb"}.items() <= after.items()
    assert set(learner.status().values()) == {"as shipped"}


def test_a_course_update_keeps_the_edited_copy_and_tells_the_learner(learner, monkeypatch, capsys):
    for name in ["01_embeddings", "02_positional_encoding"]:  # what `git pull` brings
        (learner.chapters / f"{name}.ipynb").write_text(notebook(f"{name}, version 2"))
    before = files(learner.folder)
    monkeypatch.delenv("MAKELEVEL", raising=False)
    out = lab(learner, monkeypatch, capsys)
    assert files(learner.folder) == before
    assert (
        "the course has a newer 01_embeddings.ipynb; "
        "`python -m transformer_course.workspace reset 01` gets it (yours moves to .backups/)"
    ) in out
    assert "newer 02_positional_encoding.ipynb" in out and "you had not changed yours" in out
    assert "00_welcome" not in out
    monkeypatch.setenv("MAKELEVEL", "1")  # started by `make lab`: the hint is the make target
    assert "`make reset 01` gets it" in lab(learner, monkeypatch, capsys)
    [(_, backup)] = learner.reset("01")
    assert backup.read_text() == notebook("my own attempt")
    assert (learner.folder / "01_embeddings.ipynb").read_text() == notebook("01_embeddings, version 2")


def test_a_deleted_chapter_is_said_to_be_deleted_and_comes_back(learner, monkeypatch, capsys):
    (learner.folder / "02_positional_encoding.ipynb").unlink()
    assert learner.status()["02_positional_encoding.ipynb"].startswith("deleted from your workspace")
    assert "added 02_positional_encoding.ipynb" in lab(learner, monkeypatch, capsys)
    assert learner.status()["02_positional_encoding.ipynb"] == "as shipped"


@pytest.mark.parametrize("text", ["", '{"cells": [{"cell_type": "co'])
def test_a_half_saved_notebook_is_kept_then_backed_up_whole(learner, text):
    copy = learner.folder / "00_welcome.ipynb"
    copy.write_text(text)
    learner.sync()
    assert copy.read_text() == text
    assert learner.status()["00_welcome.ipynb"] == "changed by you"
    [(_, backup)] = learner.reset("00")
    assert backup.read_text() == text


@pytest.mark.parametrize("record", ["", '{\n "00_welcome.ipynb": "ab', "[]", '{"00_welcome.ipynb": 3}'])
def test_an_unreadable_record_does_not_lock_the_learner_out(learner, monkeypatch, capsys, record):
    """The record is written whole (a temporary file, then a rename); one cut short or edited by
    hand is ignored with a warning, and what differs from the course still counts as the learner's."""
    (learner.folder / RECORD).write_text(record)
    out = lab(learner, monkeypatch, capsys)
    assert f"ignoring {learner.folder / RECORD}" in out and "Traceback" not in out
    assert isinstance(json.loads((learner.folder / RECORD).read_text()), dict)  # written again
    assert learner.status()["01_embeddings.ipynb"].startswith("differs from the course")
    assert learner.status()["00_welcome.ipynb"] == "as shipped"
    [(_, backup)] = learner.reset("01")
    assert backup.read_text() == notebook("my own attempt")
    assert not list(learner.folder.glob(".*.tmp"))


def test_copies_of_a_read_only_course_can_be_saved_and_reset(course):
    for path in (course / "chapters").glob("*.ipynb"):
        path.chmod(0o444)
    ws = Workspace.of(course)
    ws.sync()
    copy = ws.folder / "00_welcome.ipynb"
    assert copy.stat().st_mode & stat.S_IWUSR, "the learner could not save their copy"
    copy.chmod(0o444)  # read-only as shipped: reset still replaces it (it holds nothing of theirs)
    assert ws.reset("00") == [("00_welcome.ipynb", None)]
    assert copy.stat().st_mode & stat.S_IWUSR


def test_a_backup_never_replaces_an_older_one_of_the_same_name(learner, monkeypatch):
    monkeypatch.setattr(workspace.time, "strftime", lambda fmt: "20300101-120000")
    older = {}
    for folder in ["20300101-120000", "20300101-120000-2"]:
        path = learner.folder / BACKUPS / folder / "01_embeddings.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(f"older backup {folder}")
        older[path] = path.read_text()
    [(_, backup)] = learner.reset("01")
    assert backup == learner.folder / BACKUPS / "20300101-120000-3" / "01_embeddings.ipynb"
    assert backup.read_text() == notebook("my own attempt")
    assert {p: p.read_text() for p in older} == older


def test_a_linked_copy_is_replaced_and_its_file_is_untouched(learner, tmp_path):
    """A link to a file holding the course's own text: the file stays as it is, the link is
    replaced by a real copy, and no backup is needed (round 51: a link moved to .backups/ as a
    link pointed at nothing from there when it was relative)."""
    elsewhere = tmp_path / "elsewhere.ipynb"
    text = (learner.chapters / "00_welcome.ipynb").read_bytes()
    elsewhere.write_bytes(text)  # the same text
    (learner.folder / "00_welcome.ipynb").unlink()
    (learner.folder / "00_welcome.ipynb").symlink_to(elsewhere)
    learner.sync()
    assert (learner.folder / "00_welcome.ipynb").is_symlink()
    [(_, backup)] = learner.reset("00")
    assert backup is None and elsewhere.read_bytes() == text and not elsewhere.is_symlink()
    assert not (learner.folder / "00_welcome.ipynb").is_symlink()


def test_a_reset_that_stops_half_way_records_what_it_did(learner, monkeypatch):
    (learner.chapters / "00_welcome.ipynb").write_text(notebook("version 2"))
    copy_in = Workspace._copy_in

    def fails_on_02(self, name, record):
        if name.startswith("02"):
            raise OSError("disk full")
        copy_in(self, name, record)

    monkeypatch.setattr(Workspace, "_copy_in", fails_on_02)
    with pytest.raises(OSError, match="disk full"):
        learner.reset("all")
    assert learner.status()["00_welcome.ipynb"] == "as shipped"
    assert learner.status()["01_embeddings.ipynb"] == "as shipped"
    [backup] = (learner.folder / BACKUPS).glob("*/01_embeddings.ipynb")
    assert backup.read_text() == notebook("my own attempt")


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


@needs_make
def test_make_clean_and_distclean_keep_the_workspace(learner):
    course = learner.chapters.parent
    shutil.copy2(ROOT / "Makefile", course / "Makefile")
    (course / "pyproject.toml").write_text('requires-python = ">=3.11"\n')
    for folder in ["build", ".venv/bin", "lib/__pycache__", "chapters/.ipynb_checkpoints"]:
        (course / folder).mkdir(parents=True)
    before = files(learner.folder)
    for target in ["clean", "distclean"]:
        run = subprocess.run(["make", "-s", target], cwd=course, capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr
        assert files(learner.folder) == before
    assert not [
        p
        for p in ["build", ".venv", "lib/__pycache__", "chapters/.ipynb_checkpoints"]
        if (course / p).exists()
    ]


@needs_make
def test_make_sync_format_and_reset_name_only_their_own_folders(tmp_path):
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text('requires-python = ">=3.11"\n')
    run = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "sync", "format", "reset", "CHAPTER=0*"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "workspace/" not in run.stdout and "sync_notebooks.py chapters" in run.stdout
    assert 'workspace reset "0*"' in run.stdout  # a pattern reaches the launcher as typed, and is refused


def test_a_folder_in_a_chapters_place_is_reported_and_moved_whole(learner):
    copy = learner.folder / "02_positional_encoding.ipynb"
    copy.unlink()
    (copy / "inside").mkdir(parents=True)
    (copy / "inside" / "work.txt").write_text("mine")
    learner.sync()
    assert learner.status()[copy.name].startswith("not a notebook file")
    [(_, backup)] = learner.reset("02")
    assert (backup / "inside" / "work.txt").read_text() == "mine"
    assert learner.status()[copy.name] == "as shipped"
