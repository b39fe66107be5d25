"""A learner edits a chapter the way JupyterLab does it (through a running server's contents
API, in the workspace that `make lab` serves), and the tracked chapters stay as committed:
their hygiene and nbval tests still pass. Then the reset command brings the chapter back
and keeps the learner's copy.

The server is the real launcher (`python -m transformer_course.workspace lab`) on a copy of
the course's layout, bound to 127.0.0.1 with a token, stopped by its own PID.
"""

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser.lab import Lab, free_port

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "01_embeddings.ipynb"
UNFINISHED = "raise RuntimeError('my unfinished exercise')"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The chapters (notebooks, their .py pairs, jupytext.toml), the hygiene test and pytest's settings."""
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "chapters", root / "chapters", ignore=shutil.ignore_patterns(".*"))
    (root / "tests").mkdir()
    shutil.copy2(ROOT / "tests" / "test_hygiene.py", root / "tests")
    shutil.copy2(ROOT / "pyproject.toml", root)
    return root


def fingerprint(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()
    }


def start_launcher(course: Path, home: Path) -> Lab:
    port, token = free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        JUPYTER_TOKEN=token,
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
    )
    cmd = [
        sys.executable, "-m", "transformer_course.workspace", "--course", str(course), "lab",
        "--port", str(port), "--no-browser", "--ServerApp.port_retries=0",
    ]  # fmt: skip
    home.mkdir(parents=True, exist_ok=True)
    log = open(home / "lab.log", "wb")
    lab = Lab(
        f"http://127.0.0.1:{port}",
        token,
        course / "workspace",
        subprocess.Popen(cmd, env=env, stdout=log, stderr=log),
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise AssertionError(f"the launcher exited: {(home / 'lab.log').read_text()[-2000:]}")
        try:
            call(lab, "GET", "/api/status")
            return lab
        except OSError:
            time.sleep(0.3)
    lab.stop()
    raise AssertionError(f"JupyterLab did not answer: {(home / 'lab.log').read_text()[-2000:]}")


def call(lab: Lab, method: str, path: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"{lab.url}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"token {lab.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read()
        return json.loads(text) if text else None


def save_as_a_learner(lab: Lab) -> None:
    """Run a cell (its output and count land in the file), start an exercise, save: what JupyterLab sends."""
    model = call(lab, "GET", f"/api/contents/{CHAPTER}?type=notebook&content=1")
    nb = model["content"]
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    first["execution_count"] = 1
    first["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "what I saw\n"}]
    nb["cells"].append(
        {"cell_type": "code", "metadata": {}, "source": UNFINISHED, "outputs": [], "execution_count": None}
    )
    call(lab, "PUT", f"/api/contents/{CHAPTER}", {"type": "notebook", "format": "json", "content": nb})
    call(lab, "POST", f"/api/contents/{CHAPTER}/checkpoints")  # File → Save and Checkpoint


def test_a_learners_saved_work_leaves_the_tracked_chapters_passing(course, tmp_path):
    before = fingerprint(course / "chapters")
    lab = start_launcher(course, tmp_path / "home")
    try:
        listing = call(lab, "GET", "/api/contents?content=1")["content"]
        shown = sorted(item["name"] for item in listing)
        assert shown == sorted(p.name for p in (course / "chapters").glob("[0-9][0-9]_*.ipynb")), (
            "the file browser should show one notebook per chapter"
        )
        save_as_a_learner(lab)
        saved = call(lab, "GET", f"/api/contents/{CHAPTER}?content=1")["content"]
        assert any(c["source"] == UNFINISHED for c in saved["cells"])
        after_save = sorted(item["name"] for item in call(lab, "GET", "/api/contents?content=1")["content"])
        assert after_save == shown, "saving must not pair the copy with a .py (jupytext) or add files"
    finally:
        lab.stop()

    assert fingerprint(course / "chapters") == before, "the tracked chapters changed"
    copy = json.loads((course / "workspace" / CHAPTER).read_text())
    assert any(c.get("outputs") for c in copy["cells"]), "the learner's copy holds what they ran"

    # The tracked chapters' own tests, as `make test` runs them, on this course folder.
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_hygiene.py", "--nbval-lax", f"chapters/{CHAPTER}",
         "-q", "-p", "no:cacheprovider"],
        cwd=course, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]

    # The reset command gives the chapter back and keeps the learner's copy.
    reset = subprocess.run(
        [sys.executable, "-m", "transformer_course.workspace", "--course", str(course), "reset", "01"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert reset.returncode == 0, reset.stderr
    assert (course / "workspace" / CHAPTER).read_bytes() == (course / "chapters" / CHAPTER).read_bytes()
    [backup] = (course / "workspace" / ".backups").glob(f"*/{CHAPTER}")
    assert UNFINISHED in backup.read_text() and str(backup) in reset.stdout
