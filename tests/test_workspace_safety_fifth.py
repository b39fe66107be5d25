"""A fifth round of what learners do: reset a chapter again and again (each reset stored the
same checkpoint once more), run `make lab` twice (the second started a server of its own), edit
a chapter while JupyterLab has it open and reset it, keep going after a `git pull` that updated
a chapter they had edited, reset a copy made read-only, ask for the status of a notebook that is
no longer valid JSON. The servers are real JupyterLabs on throw-away course folders, bound to
127.0.0.1 with a token, stopped by their own PID."""

import contextlib
import http.server
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from browser.lab import Lab, free_port
from course_folder import lab, make_course, notebook
from transformer_course import workspace
from transformer_course.workspace import BACKUPS, Workspace, checkpoint_of, main

CHAPTER = "01_embeddings.ipynb"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def learner(tmp_path):
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    (ws.folder / CHAPTER).write_text(notebook("my own attempt"))
    return ws


def backups_of(ws: Workspace) -> list[Path]:
    return sorted(p for p in (ws.folder / BACKUPS).rglob("*") if p.is_file())


def save_checkpoint(ws: Workspace, text: str) -> Path:
    """What File → Save and Checkpoint leaves beside the copy."""
    saved = checkpoint_of(ws.folder / CHAPTER)
    saved.parent.mkdir(exist_ok=True)
    saved.write_text(notebook(text))
    return saved


def reset(ws: Workspace, capsys) -> str:
    assert main(["--course", str(ws.chapters.parent), "reset", "01"]) == 0
    return capsys.readouterr().out


# Backups: the same bytes are stored once, anything that differs always.


def test_resetting_again_does_not_store_the_same_checkpoint_again(learner, capsys):
    save_checkpoint(learner, "my saved attempt")
    reset(learner, capsys)
    first = backups_of(learner)
    assert [p.name for p in first] == ["01_embeddings-checkpoint.ipynb", CHAPTER]
    for _ in range(3):  # the untouched fresh copy, its old checkpoint still beside it
        out = reset(learner, capsys)
        assert backups_of(learner) == first
        assert f"your last saved checkpoint is already backed up at {first[0]}" in out


def test_a_copy_the_same_as_its_newest_backup_is_not_stored_again(learner, capsys):
    [(_, backup)] = learner.reset("01")
    shutil.copy2(backup, learner.folder / CHAPTER)  # copied back under its own name, unchanged
    out = reset(learner, capsys)
    assert backups_of(learner) == [backup]
    assert f"your version is already backed up at {backup}" in out
    assert learner.status()[CHAPTER] == "as shipped"
    assert backup.read_text() == notebook("my own attempt")


def test_anything_that_differs_from_the_newest_backup_is_stored(learner, capsys):
    saved = save_checkpoint(learner, "my saved attempt")
    reset(learner, capsys)
    saved.write_text(notebook("saved again, later"))
    (learner.folder / CHAPTER).write_text(notebook("my own attempt"))  # as in an older backup …
    newest = learner.folder / BACKUPS / "29991231-235959" / CHAPTER  # … but not as in the newest
    newest.parent.mkdir()
    newest.write_text(notebook("another attempt"))
    out = reset(learner, capsys)
    assert "already" not in out
    kept = [p for p in backups_of(learner) if p.parent.name not in ("29991231-235959",)]
    texts = sorted(p.read_text() for p in kept)
    assert texts.count(notebook("my own attempt")) == 2
    assert notebook("saved again, later") in texts


def test_a_duplicate_is_not_deleted_when_the_fresh_copy_cannot_be_written(learner, monkeypatch):
    [(_, backup)] = learner.reset("01")
    shutil.copy2(backup, learner.folder / CHAPTER)

    def disk_full(self, path, data):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(Workspace, "_write", disk_full)
    with pytest.raises(OSError, match="No space"):
        learner.reset("01")
    assert (learner.folder / CHAPTER).read_text() == notebook("my own attempt")
    assert backups_of(learner) == [backup]


# A second `make lab`: pointed at the first, it still started a server of its own.


class Answering(http.server.BaseHTTPRequestHandler):
    """Jupyter server's /api/status, for the token "abc" only."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        ok = self.path == "/api/status" and self.headers.get("Authorization") == "token abc"
        body = b'{"started": "now"}' if ok else b"{}"
        self.send_response(200 if ok else 403)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def answering_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answering)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def records(monkeypatch, *servers: dict) -> None:
    import jupyter_server.serverapp as serverapp

    monkeypatch.setattr(serverapp, "list_running_servers", lambda *a, **k: iter(servers))


def test_a_second_lab_does_not_start_while_the_first_serves(learner, answering_server, monkeypatch, capsys):
    records(monkeypatch, {"url": answering_server, "token": "abc", "root_dir": str(learner.folder), "pid": 1})

    def started(*args):
        raise AssertionError("a second JupyterLab started")

    monkeypatch.setattr(os, "execv", started)
    monkeypatch.setattr(workspace, "install_lab_settings", lambda: None)
    assert main(["--course", str(learner.chapters.parent), "lab"]) == 0
    assert f"already serves your workspace at {answering_server}lab?token=abc" in capsys.readouterr().out


@pytest.mark.parametrize("token", ["abc", "stale"])
def test_a_record_whose_server_does_not_answer_starts_a_new_lab(
    learner, answering_server, monkeypatch, capsys, token
):
    dead = f"http://127.0.0.1:{free_port()}/"  # nothing listens: the PID was reused
    another = {"url": answering_server, "token": "abc", "root_dir": str(learner.chapters), "pid": 1}
    mine = {
        "url": dead if token == "abc" else answering_server,
        "token": token,
        "root_dir": str(learner.folder),
    }
    records(monkeypatch, another, {**mine, "pid": 1})
    out = lab(learner, monkeypatch, capsys)  # JupyterLab takes over: SystemExit from execv
    assert "does not answer: starting a new one" in out


def start_launcher(course: Path, home: Path, port: int) -> Lab:
    """The real `make lab` on ``course``, with its own Jupyter runtime folder in ``home``."""
    token = secrets.token_hex(16)
    cmd = [sys.executable, "-m", "transformer_course.workspace", "--course", str(course), "lab"]
    cmd += ["--port", str(port), "--no-browser"]
    log = open(home / f"lab-{port}.log", "wb")
    lab = Lab(f"http://127.0.0.1:{port}", token, course / "workspace", None)
    lab.process = subprocess.Popen(cmd, env=lab_env(home, JUPYTER_TOKEN=token), stdout=log, stderr=log)
    return lab


def lab_env(home: Path, **more: str) -> dict:
    return dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        **more,
    )


def serving(home: Path, course: Path) -> dict:
    """The runtime record of the server of ``course``'s workspace, once its API answers."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for path in (home / "runtime").glob("jpserver-*.json"):
            with contextlib.suppress(ValueError, OSError, KeyError):
                info = json.loads(path.read_text())
                if Path(info["root_dir"]).resolve() == (course / "workspace").resolve():
                    call(info, "GET", "/api/status")
                    return info
        time.sleep(0.3)
    logs = "\n".join(p.read_text()[-1500:] for p in home.glob("lab-*.log"))
    raise AssertionError(f"no JupyterLab answered for {course}: {logs}")


def call(info: dict, method: str, path: str, body: dict | None = None):
    req = urllib.request.Request(
        f"{info['url'].rstrip('/')}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"token {info['token']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read()
        return json.loads(text) if text else None


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """A course whose `make lab` runs: (course, home, its server's record)."""
    root = tmp_path_factory.mktemp("running")
    course, home = make_course(root), root / "home"
    home.mkdir()
    first = start_launcher(course, home, free_port())
    try:
        yield course, home, serving(home, course)
    finally:
        first.stop()


def test_a_second_make_lab_exits_and_names_the_first(running):
    course, home, info = running
    cmd = [sys.executable, "-m", "transformer_course.workspace", "--course", str(course), "lab"]
    second = subprocess.Popen(
        [*cmd, "--port", str(free_port()), "--no-browser"],
        env=lab_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        out, _ = second.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        second.kill()
        out, _ = second.communicate(timeout=30)
        raise AssertionError(f"a second JupyterLab started on the same workspace: {out[-1500:]}") from None
    assert second.returncode == 0, out
    assert f"already serves your workspace at {info['url']}lab?token={info['token']}" in out
    assert len(list((home / "runtime").glob("jpserver-*.json"))) == 1


def test_make_lab_starts_when_another_projects_lab_has_the_port(running, tmp_path):
    _, home, info = running
    other = make_course(tmp_path)  # another course folder: a JupyterLab of its own
    port = int(info["url"].rstrip("/").rsplit(":", 1)[1])
    lab_of_other = start_launcher(other, home, port)
    try:
        second = serving(home, other)
        assert second["url"] != info["url"]  # JupyterLab took the next free port
    finally:
        lab_of_other.stop()


def test_a_reset_while_the_chapter_is_open_keeps_the_saved_and_the_tab(running, capsys):
    """Saved edits go to the backup; the tab's own version, saved over the fresh copy (Overwrite
    in JupyterLab's "File Changed" question), goes to a backup of its own at the next reset."""
    course, _, info = running
    ws = Workspace.of(course)
    nb = call(info, "GET", f"/api/contents/{CHAPTER}?type=notebook&content=1")["content"]
    nb["cells"][0]["source"] = "my saved edit"
    call(info, "PUT", f"/api/contents/{CHAPTER}", {"type": "notebook", "format": "json", "content": nb})
    out = reset(ws, capsys)
    assert "Changes not saved in that tab are in no backup" in out
    nb["cells"][0]["source"] = "my edit in the open tab"
    call(info, "PUT", f"/api/contents/{CHAPTER}", {"type": "notebook", "format": "json", "content": nb})
    reset(ws, capsys)
    sources = sorted("".join(json.loads(p.read_text())["cells"][0]["source"]) for p in backups_of(ws))
    assert sources == ["my edit in the open tab", "my saved edit"]
    assert ws.status()[CHAPTER] == "as shipped"


# After a `git pull`, a read-only copy, a notebook that is no longer JSON.


def git(folder: Path, *args: str) -> str:
    who = ["-c", "user.name=Course", "-c", "user.email=course@example.org"]
    run = subprocess.run(["git", *who, *args], cwd=folder, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


@needs_git
def test_a_pull_that_updates_an_edited_chapter_keeps_the_learners_copy(tmp_path, capsys):
    (tmp_path / "author").mkdir()
    author = make_course(tmp_path / "author")
    (author / ".gitignore").write_text("/workspace/\n")
    git(author, "init", "-q", "-b", "main")
    git(author, "add", "-A")
    git(author, "commit", "-qm", "course")
    git(tmp_path, "clone", "-q", str(author), "learner")
    ws = Workspace.of(tmp_path / "learner")
    ws.sync()
    (ws.folder / CHAPTER).write_text(notebook("my own attempt"))
    (author / "chapters" / CHAPTER).write_text(notebook("the course, improved"))
    git(author, "commit", "-qam", "a better chapter")
    git(ws.chapters.parent, "pull", "-q")
    assert ws.status()[CHAPTER] == "changed by you; newer in the course"
    assert (ws.folder / CHAPTER).read_text() == notebook("my own attempt")
    [(_, backup)] = ws.reset("01")
    assert backup.read_text() == notebook("my own attempt")
    assert (ws.folder / CHAPTER).read_text() == notebook("the course, improved")


def test_a_read_only_copy_is_kept_and_the_fresh_one_can_be_saved(learner, capsys):
    (learner.folder / CHAPTER).chmod(0o444)
    [(_, backup)] = learner.reset("01")
    assert backup.read_text() == notebook("my own attempt")
    assert (learner.folder / CHAPTER).stat().st_mode & stat.S_IWUSR
    (learner.folder / CHAPTER).chmod(0o444)  # the fresh copy, untouched, made read-only: the same bytes
    out = reset(learner, capsys)
    assert "already" not in out and backups_of(learner) == [backup]


def test_status_and_reset_of_a_notebook_that_is_no_longer_json(learner, capsys):
    (learner.folder / CHAPTER).write_text('{"cells": [ cut short')
    assert main(["--course", str(learner.chapters.parent), "status"]) == 0
    out = capsys.readouterr()
    assert "changed by you" in out.out and "Traceback" not in out.err
    [(_, backup)] = learner.reset("01")
    assert backup.read_text() == '{"cells": [ cut short'


@pytest.mark.parametrize("edited_again", [False, True])
def test_a_checkpoint_the_same_as_a_copy_kept_before_is_not_stored_again(learner, capsys, edited_again):
    """Jupyter makes a checkpoint at a notebook's first save: the same bytes as the copy that the
    first reset keeps. The next reset stored that checkpoint once more, under its own name."""
    shutil.copy2(learner.folder / CHAPTER, save_checkpoint(learner, "x"))
    [(_, first)] = learner.reset("01")
    assert backups_of(learner) == [first]
    if edited_again:
        (learner.folder / CHAPTER).write_text(notebook("my next attempt"))
    out = reset(learner, capsys)
    [second] = [p for p in backups_of(learner) if p != first] if edited_again else [first]
    assert backups_of(learner) == sorted({first, second})
    assert second.read_text() == notebook("my next attempt" if edited_again else "my own attempt")
    assert f"already backed up at {first}" in out or edited_again


@pytest.fixture
def unreadable(learner, monkeypatch):
    """The learner's copy of chapter 01 made unreadable (chmod 000; root reads it anyway)."""
    copy, read_bytes = learner.folder / CHAPTER, Path.read_bytes

    def refused(path):
        if path == copy:
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refused)
    return copy


def test_one_unreadable_copy_stops_neither_status_nor_lab(learner, unreadable, monkeypatch, capsys):
    """`make status` and `make lab` both stopped at 'error: Permission denied' for every chapter."""
    assert main(["--course", str(learner.chapters.parent), "status"]) == 0
    out = capsys.readouterr().out
    assert f"cannot be read (Permission denied): give yourself read access to {unreadable}" in out
    assert "00_welcome.ipynb                         as shipped" in out
    (learner.folder / ".course.json").unlink()  # a lost record: sync compares the copies
    assert "Permission denied" not in lab(learner, monkeypatch, capsys)  # JupyterLab starts


def test_a_newest_backup_that_cannot_be_read_does_not_count_as_the_same(learner, monkeypatch):
    [(_, first)] = learner.reset("01")
    shutil.copy2(first, learner.folder / CHAPTER)
    read_bytes = Path.read_bytes

    def refused(path):
        if path == first:
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refused)
    [(_, second)] = learner.reset("01")
    assert second != first and second.read_text() == notebook("my own attempt")
