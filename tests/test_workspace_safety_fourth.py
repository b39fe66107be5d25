"""Workspace and Makefile, after a review of the third round: make reset under -j or -k (a
target named after reset ran anyway), a CHAPTER exported in the environment, a course folder whose
path holds an apostrophe (the printed cp, make -f with the Makefile's absolute path)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from course_folder import make_course, notebook
from transformer_course.workspace import BACKUPS, Workspace, main

ROOT = Path(__file__).resolve().parents[1]
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def learner_in(folder: Path) -> Workspace:
    folder.mkdir(parents=True)
    ws = Workspace.of(make_course(folder))
    ws.sync()
    (ws.folder / "01_embeddings.ipynb").write_text(notebook("my own attempt"))
    shutil.copy2(ROOT / "Makefile", ws.chapters.parent / "Makefile")
    (ws.chapters.parent / "pyproject.toml").write_text('requires-python = ">=3.11"\n')
    return ws


def make(course: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    bin_dir = str(Path(sys.executable).parent)
    command = ["make", "-s", "-o", ".venv/.installed", f"BIN={bin_dir}", *args]
    return subprocess.run(command, cwd=course, capture_output=True, text=True, timeout=60, env=env)


def test_the_printed_cp_works_in_a_folder_whose_path_holds_an_apostrophe(tmp_path, capsys):
    ws = learner_in(tmp_path / "Ann's course")
    assert main(["--course", str(ws.chapters.parent), "reset", "01"]) == 0
    [cp] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  cp ")]
    run = subprocess.run(["bash", "-c", cp], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert (ws.folder / "01_embeddings-mine.ipynb").read_text() == notebook("my own attempt")


@needs_make
@pytest.mark.parametrize("flag", ["-j4", "-k"])
@pytest.mark.parametrize("target", ["clean", "status"])
def test_make_reset_with_a_target_runs_nothing_under_j_or_k(tmp_path, flag, target):
    ws = learner_in(tmp_path / "course")
    (ws.chapters.parent / "build").mkdir()
    run = make(ws.chapters.parent, flag, "reset", target)
    assert run.returncode == 2 and "chapter must be 'all'" in run.stderr
    assert (ws.chapters.parent / "build").is_dir() and "not copied yet" not in run.stdout
    assert "as shipped" not in run.stdout and not (ws.folder / BACKUPS).exists()


@needs_make
def test_make_reset_resets_the_chapter_typed_even_with_chapter_exported(tmp_path):
    ws = learner_in(tmp_path / "course")
    (ws.folder / "02_positional_encoding.ipynb").write_text(notebook("my second attempt"))
    env = {**__import__("os").environ, "CHAPTER": "02"}
    run = make(ws.chapters.parent, "reset", "01", env=env)
    assert run.returncode == 0, run.stderr
    assert (ws.folder / "02_positional_encoding.ipynb").read_text() == notebook("my second attempt")
    assert ws.status()["01_embeddings.ipynb"] == "as shipped"


@needs_make
def test_make_f_with_the_makefiles_own_path_runs_in_an_apostrophe_folder(tmp_path):
    ws = learner_in(tmp_path / "o'brien" / "course")
    course = ws.chapters.parent
    run = make(course, "-f", str(course / "Makefile"), "status")
    assert run.returncode == 0, run.stderr
    assert "01_embeddings.ipynb" in run.stdout
    elsewhere = make(tmp_path, "-f", str(course / "Makefile"), "status")
    assert elsewhere.returncode != 0 and f"course folder {course}" in elsewhere.stderr
