"""Review of 60f9d1b: what reset says about a checkpoint kept apart from the copy's backup, a
fresh copy moved by a concurrent reset, a move to another disk cut short, and `make lab`'s
detection (a server that takes any token, one that trickles, a record it cannot read, a dead
record listed before a live one, a record whose root is a symlink loop)."""

import contextlib
import errno
import http.server
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from course_folder import lab, make_course, notebook
from transformer_course import workspace, workspace_backups
from transformer_course.workspace import BACKUPS, Workspace, checkpoint_of, main
from transformer_course.workspace_lab import answers, lab_records

CHAPTER = "01_embeddings.ipynb"


@pytest.fixture
def ws(tmp_path):
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    return ws


def write(ws, text):
    (ws.folder / CHAPTER).write_text(notebook(text))


def save_checkpoint(ws, text):
    saved = checkpoint_of(ws.folder / CHAPTER)
    saved.parent.mkdir(exist_ok=True)
    saved.write_text(notebook(text))


def reset(ws, capsys) -> str:
    assert main(["--course", str(ws.chapters.parent), "reset", "01"]) == 0
    return capsys.readouterr().out.splitlines()[0]


def named_texts(ws, line: str) -> set[str]:
    """The notebooks' texts at every backup path a line of reset names."""
    paths = [w.rstrip(";,)") for w in line.split() if BACKUPS in w]
    return {"".join(json.loads(Path(p).read_text())["cells"][0]["source"]) for p in paths}


@pytest.mark.parametrize("copy_is_new", [False, True])
def test_reset_names_the_checkpoint_kept_apart_from_the_copys_backup(ws, capsys, copy_is_new):
    write(ws, "A")
    save_checkpoint(ws, "B")
    reset(ws, capsys)  # A and B kept in one folder
    write(ws, "C" if copy_is_new else "A")  # the copy new, or the same as its backup
    save_checkpoint(ws, "B" if copy_is_new else "D")  # the checkpoint the same, or new
    line = reset(ws, capsys)
    assert named_texts(ws, line) == ({"C", "B"} if copy_is_new else {"A", "D"})


def test_a_fresh_copy_moved_by_a_concurrent_reset_is_not_named_as_the_learners(ws, capsys, monkeypatch):
    write(ws, "mine")
    earlier, fired = workspace_backups.Backups.earlier, []

    def other_reset_first(self, path, *names):  # the other `make reset` runs at this instant
        if not fired:
            fired.append(True)
            Workspace.of(ws.chapters.parent).reset("01")
        return earlier(self, path, *names)

    monkeypatch.setattr(workspace_backups.Backups, "earlier", other_reset_first)
    line = reset(ws, capsys)
    assert named_texts(ws, line) <= {"mine"}


def test_a_move_to_another_disk_cut_short_leaves_no_half_backup(ws, monkeypatch):
    write(ws, "mine" * 100)
    rename, copyfile = os.rename, shutil.copyfile

    def across_disks(src, dst, *args, **kwargs):
        if BACKUPS in str(dst):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return rename(src, dst, *args, **kwargs)

    def disk_full(src, dst, *args, **kwargs):
        Path(dst).write_bytes(Path(src).read_bytes()[:50])
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(os, "rename", across_disks)
    monkeypatch.setattr(shutil, "copyfile", disk_full)
    with pytest.raises(OSError, match="No space"):
        ws.reset("01")
    monkeypatch.setattr(shutil, "copyfile", copyfile)
    assert (ws.folder / CHAPTER).read_text() == notebook("mine" * 100)
    assert [p for p in (ws.folder / BACKUPS).rglob("*") if p.is_file()] == []


class AnyToken(http.server.BaseHTTPRequestHandler):
    """A Jupyter server started without a token (another user's, say): any token will do."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"started": "now"}')

    def log_message(self, *args):
        pass


class OnlyAbc(AnyToken):
    def do_GET(self):  # noqa: N802
        if self.headers.get("Authorization") == "token abc":
            return super().do_GET()
        self.send_response(403)
        self.end_headers()


def serve(handler) -> str:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


def test_a_server_that_takes_any_token_is_not_taken_for_ours(ws):
    record = {"url": serve(AnyToken), "token": "of-the-crashed-lab", "root_dir": str(ws.folder), "pid": 1}
    assert not answers(record)
    assert answers({**record, "url": serve(OnlyAbc), "token": "abc"})


def test_a_server_that_trickles_its_answer_is_given_up_in_time():
    listener = socket.create_server(("127.0.0.1", 0))

    def trickle():
        conn, _ = listener.accept()
        with contextlib.suppress(OSError):  # the client gave up and closed: as it should
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n":
                conn.send(bytes([byte]))
                time.sleep(0.5)

    threading.Thread(target=trickle, daemon=True).start()
    record = {"url": f"http://127.0.0.1:{listener.getsockname()[1]}/", "token": "t"}
    start = time.monotonic()
    assert not answers(record, timeout=1.0)
    assert time.monotonic() - start < 3


@pytest.mark.parametrize("odd", ["folder", "7"])
def test_one_record_that_cannot_be_read_hides_no_other(ws, tmp_path, monkeypatch, odd):
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    good = {"url": "http://127.0.0.1:9/", "token": "t", "root_dir": str(ws.folder), "pid": os.getpid()}
    (runtime / "jpserver-1.json").write_text(json.dumps(good))
    bad = runtime / "jpserver-2.json"  # a folder stands for a file this user may not read (root reads all)
    bad.mkdir() if odd == "folder" else bad.write_text(odd)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    assert [r["token"] for r in lab_records(ws)] == ["t"]


def test_a_dead_record_before_a_live_one_is_not_said_to_start_a_new_lab(ws, monkeypatch, capsys):
    import jupyter_server.serverapp as serverapp

    dead = {"url": "http://127.0.0.1:9/", "token": "x", "root_dir": str(ws.folder), "pid": 1}
    live = {"url": serve(OnlyAbc), "token": "abc", "root_dir": str(ws.folder), "pid": 1}
    monkeypatch.setattr(serverapp, "list_running_servers", lambda *a, **k: iter([dead, live]))
    monkeypatch.setattr(os, "execv", lambda *a: pytest.fail("a second JupyterLab started"))
    monkeypatch.setattr(workspace, "install_lab_settings", lambda: None)
    assert main(["--course", str(ws.chapters.parent), "lab"]) == 0
    out = capsys.readouterr().out
    assert "starting a new one" not in out and "token=abc" in out


def test_a_record_whose_root_is_a_symlink_loop_does_not_stop_lab(ws, monkeypatch, capsys):
    import jupyter_server.serverapp as serverapp

    loop = ws.chapters.parent / "loop"
    loop.symlink_to("loop")
    other = {"url": "http://127.0.0.1:9/", "token": "x", "root_dir": str(loop / "x"), "pid": 1}
    monkeypatch.setattr(serverapp, "list_running_servers", lambda *a, **k: iter([other]))
    assert "Traceback" not in lab(ws, monkeypatch, capsys)
