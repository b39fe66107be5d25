"""A course folder for the workspace tests: chapters/ with three small chapters, each a
notebook paired with a .py, as in the real chapters/."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

NAMES = ["00_welcome", "01_embeddings", "02_positional_encoding"]


def notebook(text: str) -> str:
    """A one-cell notebook whose cell holds ``text``."""
    cell = {"cell_type": "code", "metadata": {}, "source": text, "outputs": [], "execution_count": None}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def make_course(root: Path) -> Path:
    chapters = root / "chapters"
    chapters.mkdir()
    for name in NAMES:
        (chapters / f"{name}.ipynb").write_text(notebook(f"print('{name}')"))
        (chapters / f"{name}.py").write_text(f"print('{name}')\n")
    (chapters / "jupytext.toml").write_text('formats = "ipynb,py:percent"\n')
    return root


def lab(ws, monkeypatch, capsys) -> str:
    """`make lab` on ``ws`` (a Workspace) up to the point where JupyterLab would take over the
    process: what it printed, stdout and stderr."""
    import os

    import pytest
    from transformer_course import workspace

    def exec_instead(path, cmd):
        raise SystemExit(0)

    monkeypatch.setattr(os, "execv", exec_instead)
    monkeypatch.setattr(workspace, "install_lab_settings", lambda: None)  # not this venv's settings
    with pytest.raises(SystemExit):
        workspace.main(["--course", str(ws.chapters.parent), "lab"])
    out = capsys.readouterr()
    return out.out + out.err


# git as a learner's clone runs it: a fixed author, no system config (tests of the workspace).
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "a",
    "GIT_AUTHOR_EMAIL": "a@b",
    "GIT_COMMITTER_NAME": "a",
    "GIT_COMMITTER_EMAIL": "a@b",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(folder: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, **GIT_ENV)
    run = subprocess.run(["git", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 or not ok, run.stderr
    return run


def author_and_clone(tmp_path: Path, pull_rebase: str | None = None) -> tuple[Path, Path]:
    """(author's course under git, learner's clone with ``pull.rebase`` set when given): the
    learner has run `make lab` once (their workspace synced)."""
    from transformer_course.workspace import Workspace

    (tmp_path / "author").mkdir()
    author = make_course(tmp_path / "author")
    (author / ".gitignore").write_text("/workspace/\n")
    git(author, "init", "-q", "-b", "main")
    git(author, "add", "-A")
    git(author, "commit", "-qm", "course")
    git(tmp_path, "clone", "-q", str(author), "learner")
    if pull_rebase is not None:
        git(tmp_path / "learner", "config", "pull.rebase", pull_rebase)
    Workspace.of(tmp_path / "learner").sync()
    return author, tmp_path / "learner"


def fork_and_clone(tmp_path: Path, upstream: bool = True) -> tuple[Path, Path]:
    """(author's course under git, learner's clone of their own fork of it): ``origin`` is the
    fork (a bare repository), and, when ``upstream``, the course is the remote named upstream,
    fetched, as GitHub's guide to forks sets it up. The learner has run `make lab` once."""
    from transformer_course.workspace import Workspace

    author, _ = author_and_clone(tmp_path)
    git(tmp_path, "clone", "-q", "--bare", str(author), "fork.git")
    git(tmp_path, "clone", "-q", str(tmp_path / "fork.git"), "forked")
    course = tmp_path / "forked"
    git(course, "config", "pull.rebase", "false")
    if upstream:
        git(course, "remote", "add", "upstream", str(author))
        git(course, "fetch", "-q", "upstream")
    Workspace.of(course).sync()
    return author, course


def published_and_author(tmp_path: Path) -> tuple[Path, Path]:
    """(the course as published, a bare repository; the author's checkout of it, whose origin
    it is): the author has run `make lab` once."""
    from transformer_course.workspace import Workspace

    first, _ = author_and_clone(tmp_path)
    git(tmp_path, "clone", "-q", "--bare", str(first), "published.git")
    git(tmp_path, "clone", "-q", str(tmp_path / "published.git"), "authoring")
    Workspace.of(tmp_path / "authoring").sync()
    return tmp_path / "published.git", tmp_path / "authoring"


def commit_mine(course: Path, text: str = "my commit of chapters/") -> str:
    """The learner edits chapters/01 in the course folder itself and commits it; returns the notebook."""
    mine = notebook(text)
    (course / "chapters" / "01_embeddings.ipynb").write_text(mine)
    git(course, "commit", "-qam", "mine")
    return mine


def status_of(course: Path, capsys) -> str:
    """What `python -m transformer_course.workspace status` prints for ``course``."""
    from transformer_course.workspace import main

    assert main(["--course", str(course), "status"]) == 0
    return capsys.readouterr().out


def newer_course(tmp_path: Path, chapter: str = "01_embeddings.ipynb", *, under_git: bool = False):
    """A learner's workspace, synced; the course then has a newer ``chapter`` (``under_git``: the
    course is a git checkout and the newer chapter a commit, so git vouches for the version first
    copied, and an outdated copy the learner never changed is replaced without a backup)."""
    from transformer_course.workspace import Workspace

    course = make_course(tmp_path)
    if under_git:
        (course / ".gitignore").write_text("/workspace/\n")
        git(course, "init", "-q", "-b", "main")
        git(course, "add", "-A")
        git(course, "commit", "-qm", "course")
    ws = Workspace.of(course)
    ws.sync()
    (ws.chapters / chapter).write_text(notebook("the course, improved"))
    if under_git:
        git(course, "commit", "-qam", "a better chapter")
    return ws
