"""A throw-away JupyterLab server for the browser tests, and helpers to drive its page.

The server serves a copy of the chapters (Run All must never write outputs into the
committed notebooks), binds 127.0.0.1 on a free port with a random token, and is always
stopped by its own PID.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from transformer_course.lab_server import SERVER_ARGS

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = ROOT / "chapters"
BUILD = ROOT / "build"
CHROMIUM = Path(os.environ.get("TC_CHROMIUM", "/usr/bin/chromium"))

# Settings that keep a fresh JupyterLab quiet: no kernel dialog, no news, no autosave.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    process: subprocess.Popen

    def page_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?token={self.token}&reset"

    def stop(self) -> None:
        """Stop the server by its own PID: SIGTERM, then SIGKILL after 10 s."""
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def start_lab(workdir: Path) -> Lab:
    """Copy the chapters into ``workdir`` and serve them; returns once the API answers."""
    if workdir.exists():
        shutil.rmtree(workdir)
    root, settings, home = workdir / "chapters", workdir / "settings", workdir / "home"
    root.mkdir(parents=True)
    for path in CHAPTERS.glob("[0-9][0-9]_*.ipynb"):
        shutil.copy2(path, root / path.name)
    for name, value in SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))
    (home / "workspaces").mkdir(parents=True)
    port, token = free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        PYTHONUNBUFFERED="1",
    )
    cmd = [
        str(Path(sys.executable).with_name("jupyter-lab")),
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=",
        "--ServerApp.disable_check_xsrf=False",
        *SERVER_ARGS,  # as `make lab` serves them: kernel messages sent at once (lab_server.py)
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(workdir / "lab.log", "wb")
    process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited ({process.returncode}); see {workdir / 'lab.log'}")
        try:
            with urllib.request.urlopen(f"{lab.url}/api/status?token={token}", timeout=2):
                return lab
        except OSError:
            time.sleep(0.3)
    lab.stop()
    raise RuntimeError(f"JupyterLab did not answer within 60 s; see {workdir / 'lab.log'}")


# --- driving the page -----------------------------------------------------------------

KERNEL_IDLE = "(ipykernel) | Idle"
CONTROLS = (
    ".widget-slider, .widget-dropdown, .widget-text, .widget-textarea, "
    ".widget-toggle-buttons, .widget-checkbox, .widget-select, .widget-select-multiple, "
    ".widget-radio, "
    ".widget-toggle-button:not(.widget-toggle-buttons *)"
)

# Figures of one explorer: revision, last paint time and a fingerprint of what plotly drew.
FIGURES_JS = """(root) => [...root.querySelectorAll('.tc-figure')].map(div => ({
    revision: Number(div.dataset.tcRevision || 0),
    painted: Number(div.dataset.tcPaintedAt || 0),
    received: Number(div.dataset.tcReceivedAt || 0),
    drawMs: Number(div.dataset.tcDrawMs || 0),
    busy: div.dataset.tcBusy === '1',
    drawn: !!div.querySelector('.main-svg'),
    print: JSON.stringify([div.data || null, (div.layout || {}).title || null,
                           (div.layout || {}).xaxis || null, (div.layout || {}).yaxis || null]),
}))"""

# Resolves once a figure of the explorer ``root`` has a revision newer than ``before`` (one
# per figure), none is still drawing and the kernel is idle (the status bar's text):
# "repainted"; or "unchanged" once the kernel has been idle ``settleMs`` with nothing
# redrawn; or "timeout". It checks every 20 ms inside the page, a few cheap DOM reads,
# rather than being asked from Python every 20 ms (test_chapters_in_lab.wait_repaint).
REPAINTED_JS = """(root, [before, settleMs, timeoutMs]) => new Promise(resolve => {
    const start = performance.now();
    let idleSince = null;
    const check = () => {
        const now = performance.now();
        const figures = [...root.querySelectorAll('.tc-figure')];
        const newer = figures.some((div, i) => Number(div.dataset.tcRevision || 0) > (before[i] ?? 0));
        const busy = figures.some(div => div.dataset.tcBusy === '1');
        const idle = [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(
            item => item.textContent.includes('(ipykernel) | Idle'));
        if (newer && idle && !busy) return resolve('repainted');
        idleSince = idle && !newer ? (idleSince ?? now) : null;
        if (idleSince !== null && now - idleSince > settleMs) return resolve('unchanged');
        if (now - start > timeoutMs) return resolve('timeout');
        setTimeout(check, 20);
    };
    check();
})"""

ERRORS_JS = """() => {
    const found = [];
    for (const out of document.querySelectorAll('.jp-OutputArea-output')) {
        const text = out.textContent || '';
        const mime = out.dataset.mimeType || '';
        const failed = /Traceback|^\\s*\\w*Error\\b/m.test(text);
        if (mime.includes('stderr') && failed) found.push(text.slice(0, 800));
        if (/Error displaying widget|Failed to load model class/.test(text)) found.push(text.slice(0, 300));
    }
    return found;
}"""

# Text of a plotly figure (its title, axis titles, legend, annotations) that runs past the
# figure's own box: plotly does not wrap a title, it clips it at both ends. → [{text, over}]
CLIPPED_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(div => {
    const svg = div.querySelector('.main-svg');
    if (!svg) return [];
    const box = svg.getBoundingClientRect();
    return [...div.querySelectorAll('.gtitle, .g-xtitle text, .g-ytitle text, .legendtext, .annotation-text')]
        .map(t => [t, t.getBoundingClientRect()])
        .filter(([t, r]) => t.textContent.trim() && r.width > 0
                && (r.left < box.left - 1 || r.right > box.right + 1))
        .map(([t, r]) => ({text: t.textContent.trim().slice(0, 80),
                           over: Math.round(Math.max(box.left - r.left, r.right - box.right))}));
})"""

EXECUTED_JS = """() => {
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt:not(.jp-Placeholder-prompt)')]
        .map(p => p.textContent.trim());
    return {total: prompts.length,
            pending: prompts.filter(p => p.includes('*')).length,
            numbered: prompts.filter(p => /\\[\\d+\\]/.test(p)).length};
}"""


def open_notebook(page, lab: Lab, name: str, timeout_ms: int = 90_000) -> None:
    page.goto(lab.page_url(name))
    page.get_by_text(KERNEL_IDLE).wait_for(timeout=timeout_ms)


def run_all(page) -> float:
    """Click Run → Run All Cells; returns the page clock (ms) at the click."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    item = page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first
    item.wait_for()
    t0 = page.evaluate("performance.now()")
    item.click()
    return t0


def wait_executed(page, timeout_s: float = 120) -> None:
    """Every code cell has run (numbered prompt), none is queued, the kernel is idle.

    Fails at once when an error output appears (Run All stops there).
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        errors = page.evaluate(ERRORS_JS)
        if errors:
            raise AssertionError("error output in the notebook:\n" + "\n---\n".join(errors))
        state = page.evaluate(EXECUTED_JS)
        idle = page.get_by_text(KERNEL_IDLE).count() > 0
        if idle and state["pending"] == 0 and state["numbered"] == state["total"] > 0:
            return
        time.sleep(0.25)
    raise AssertionError(f"cells still running after {timeout_s} s: {page.evaluate(EXECUTED_JS)}")


def run_alone(page, lab: Lab, name: str, settle_ms: int = 800) -> None:
    """Open and run the notebook ``name``, then hide the file browser (Ctrl+B, in command mode)
    so the notebook has the window to itself: the width a figure or a control is measured at."""
    open_notebook(page, lab, name)
    run_all(page)
    wait_executed(page)
    page.locator(".jp-Notebook").first.click()  # command mode: Ctrl+B reaches the lab
    page.keyboard.press("Control+b")  # the file browser off: the notebook takes the window
    page.wait_for_timeout(settle_ms)


def shutdown_kernels(lab: Lab) -> None:
    """Stop every kernel of the server (one chapter's kernel should not slow the next)."""

    def call(method: str, path: str):
        req = urllib.request.Request(
            f"{lab.url}{path}", method=method, headers={"Authorization": f"token {lab.token}"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
            return json.loads(body) if body else None

    try:
        for kernel in call("GET", "/api/kernels") or []:
            call("DELETE", f"/api/kernels/{kernel['id']}")
    except OSError:
        pass
