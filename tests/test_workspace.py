"""The learner's workspace: their own copies of the chapters, reset with a backup, never the
tracked chapters; and the launcher every way in uses."""

import json
import os
import time

import pytest
from course_folder import make_course, notebook
from transformer_course.workspace import (
    BACKUPS,
    LAB_SETTINGS,
    Workspace,
    install_lab_settings,
    lab_command,
    main,
)


@pytest.fixture
def course(tmp_path):
    """A course folder with three chapters, each paired with a .py as in chapters/."""
    return make_course(tmp_path)


def learner_edits(path):
    nb = json.loads(path.read_text())
    nb["cells"][0]["source"] = "my own attempt"
    path.write_text(json.dumps(nb))


def test_sync_copies_only_the_notebooks_and_never_touches_a_copy(course):
    ws = Workspace.of(course)
    assert ws.sync() == ["00_welcome.ipynb", "01_embeddings.ipynb", "02_positional_encoding.ipynb"]
    assert sorted(p.name for p in ws.folder.iterdir() if not p.name.startswith(".")) == ws.course_names()
    learner_edits(ws.folder / "01_embeddings.ipynb")
    mine = (ws.folder / "01_embeddings.ipynb").read_bytes()
    (course / "chapters" / "03_queries_keys_values.ipynb").write_text(notebook("new chapter"))
    (course / "chapters" / "01_embeddings.ipynb").write_text(notebook("course update"))
    assert ws.sync() == ["03_queries_keys_values.ipynb"]  # a course update brings the new chapter
    assert (ws.folder / "01_embeddings.ipynb").read_bytes() == mine  # and leaves the learner's work


def test_status_tells_the_learners_changes_from_the_courses(course):
    ws = Workspace.of(course)
    ws.sync()
    learner_edits(ws.folder / "01_embeddings.ipynb")
    (course / "chapters" / "02_positional_encoding.ipynb").write_text(notebook("course update"))
    (course / "chapters" / "03_queries_keys_values.ipynb").write_text(notebook("new chapter"))
    learner_edits(ws.folder / "00_welcome.ipynb")
    (course / "chapters" / "00_welcome.ipynb").write_text(notebook("course update"))
    assert ws.status() == {
        "00_welcome.ipynb": "changed by you; newer in the course",
        "01_embeddings.ipynb": "changed by you",
        "02_positional_encoding.ipynb": "newer in the course",
        "03_queries_keys_values.ipynb": "not copied yet",
    }


def test_reset_restores_the_chapter_and_keeps_the_learners_copy(course):
    ws = Workspace.of(course)
    ws.sync()
    learner_edits(ws.folder / "01_embeddings.ipynb")
    mine = (ws.folder / "01_embeddings.ipynb").read_bytes()
    [(name, backup)] = ws.reset("1")
    assert name == "01_embeddings.ipynb"
    assert (ws.folder / name).read_bytes() == (course / "chapters" / name).read_bytes()
    assert backup.read_bytes() == mine and backup.parent.parent == ws.folder / BACKUPS
    assert time.strftime("%Y%m%d") in backup.parent.name  # a timestamped folder
    assert ws.status()[name] == "as shipped"


def test_reset_twice_within_a_second_keeps_both_backups(course):
    ws = Workspace.of(course)
    ws.sync()
    kept = []
    for attempt in ["first attempt", "second attempt"]:
        nb = json.loads((ws.folder / "00_welcome.ipynb").read_text())
        nb["cells"][0]["source"] = attempt
        (ws.folder / "00_welcome.ipynb").write_text(json.dumps(nb))
        [(_, backup)] = ws.reset("00_welcome")
        kept.append(backup)
    assert kept[0] != kept[1]
    assert [json.loads(p.read_text())["cells"][0]["source"] for p in kept] == [
        "first attempt",
        "second attempt",
    ]


def test_reset_all_without_git_backs_up_every_copy_that_is_not_todays_course_file(course):
    """No git vouches that the bytes first copied were the course's (they may be an edit made
    in chapters/ itself: round 51's F0), so an outdated copy is kept in .backups/ too."""
    ws = Workspace.of(course)
    ws.sync()
    learner_edits(ws.folder / "02_positional_encoding.ipynb")
    (course / "chapters" / "00_welcome.ipynb").write_text(notebook("course update"))
    done = dict(ws.reset("all"))
    assert [n for n, b in done.items() if b] == ["00_welcome.ipynb", "02_positional_encoding.ipynb"]
    assert set(ws.status().values()) == {"as shipped"}


@pytest.mark.parametrize("which", ["4", "99", "embeddings", "", "0_welcome"])
def test_an_unknown_chapter_is_refused_by_name(course, which):
    with pytest.raises(ValueError, match="chapter must be 'all', a number such as 03"):
        Workspace.of(course).select(which)


def test_a_folder_without_chapters_is_refused(tmp_path):
    with pytest.raises(ValueError, match="course must be the course folder"):
        Workspace.of(tmp_path)


def test_the_command_line_resets_and_reports(course, capsys):
    assert main(["--course", str(course), "sync"]) == 0
    learner_edits(course / "workspace" / "02_positional_encoding.ipynb")
    assert main(["--course", str(course), "status"]) == 0
    assert "02_positional_encoding.ipynb" in capsys.readouterr().out
    assert main(["--course", str(course), "reset", "02"]) == 0
    assert "your copy is in" in capsys.readouterr().out
    assert main(["--course", str(course), "reset", "12"]) == 2
    assert "chapter must be" in capsys.readouterr().err


def test_lab_settings_are_merged_into_the_environment(tmp_path):
    path = install_lab_settings(tmp_path)
    assert json.loads(path.read_text()) == LAB_SETTINGS
    assert path == tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    theirs = {"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}
    path.write_text(json.dumps(theirs))
    install_lab_settings(tmp_path)
    assert json.loads(path.read_text()) == {**theirs, **LAB_SETTINGS}
    path.write_text("{not json")
    with pytest.raises(ValueError, match="overrides.json must hold a JSON object"):
        install_lab_settings(tmp_path)


def test_lab_serves_the_workspace_on_localhost_with_a_token(course):
    ws = Workspace.of(course)
    cmd = lab_command(ws, 8890, ["--no-browser"])
    assert cmd[1:3] == ["-m", "jupyterlab"]
    assert "--ServerApp.ip=127.0.0.1" in cmd and "--ServerApp.port=8890" in cmd
    assert f"--ServerApp.root_dir={ws.folder}" in cmd
    assert "--LabApp.default_url=/lab/tree/00_welcome.ipynb" in cmd
    assert not [a for a in cmd if "token" in a.lower() or "password" in a.lower()]  # JupyterLab's token
    assert cmd[-1] == "--no-browser"
    assert ("--allow-root" in cmd) == (os.name == "posix" and os.geteuid() == 0)
    connection = "transformer_course.lab_server.NoDelayKernelConnection"
    assert f"--ServerApp.kernel_websocket_connection_class={connection}" in cmd
