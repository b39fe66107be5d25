"""JupyterLab for the learner's workspace: the course's settings, the command that starts it,
and the servers already serving it (``workspace``'s ``lab`` puts them together). ``workspace``
and ``ws`` are a ``workspace.Workspace`` (not imported: workspace imports this module)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

# The course runs offline: JupyterLab should neither ask to fetch news nor check for updates.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}
}


def install_lab_settings(prefix: Path | str | None = None) -> Path:
    """Merge the course's JupyterLab settings into ``<prefix>/share/jupyter/lab/settings/overrides.json``
    (the environment's defaults, which a learner can still change); ``prefix`` defaults to this
    Python's environment. Other keys in the file are kept; the file is rewritten only when it changes."""
    path = Path(prefix or sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    try:
        current = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        if not isinstance(current, dict):
            raise ValueError(f"found {type(current).__name__}")
        for plugin in LAB_SETTINGS:
            if not isinstance(current.get(plugin, {}), dict):
                raise ValueError(f"{plugin} is not an object")
    except ValueError as err:
        raise ValueError(f"{path} must hold a JSON object of JupyterLab settings: {err}") from None
    merged = dict(current)
    for plugin, values in LAB_SETTINGS.items():
        merged[plugin] = {**current.get(plugin, {}), **values}
    if merged != current:  # whole or not at all: a cut-short file would lose the other settings
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(merged, indent=1) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path


# The folders Jupyter writes to as it starts, in the order each may depend on the one before
# (the runtime folder is inside the data folder unless set). A config folder that exists but
# cannot be written stops it too (it writes ~/.jupyter/migrated), as does the runtime folder.
JUPYTER_DIRS = (
    ("JUPYTER_CONFIG_DIR", "jupyter_config_dir"),
    ("JUPYTER_DATA_DIR", "jupyter_data_dir"),
    ("JUPYTER_RUNTIME_DIR", "jupyter_runtime_dir"),
)


def writable_jupyter_dirs() -> tuple[Path, list[Path]] | None:
    """Point Jupyter at a private folder in the temp folder when the ones it writes to as it
    starts (``~/.jupyter``, ``~/.local/share/jupyter``) cannot be made or written: with a
    read-only home, or a ~/.jupyter that `sudo make lab` left root's, JupyterLab stopped on a
    PermissionError traceback, after the course had said nothing. Sets the environment
    variables for this process (and so for JupyterLab); returns the folder used and the
    folders that could not be written, or None when Jupyter's own folders will do."""
    try:
        from jupyter_core import paths
    except ImportError:  # no JupyterLab at all: its own error says so
        return None
    base, blocked = None, []
    for variable, where in JUPYTER_DIRS:
        folder = Path(getattr(paths, where)())
        if not _writable(folder):
            base = base or Path(tempfile.mkdtemp(prefix="transformer-course-jupyter-"))
            blocked.append(folder)
            os.environ[variable] = str(base / variable.lower())
    return (base, blocked) if base else None


def _writable(folder: Path) -> bool:
    """Whether ``folder`` is there or can be made, and can be written."""
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
    return folder.is_dir() and os.access(folder, os.W_OK)


def lab_command(workspace, port: int = 8888, extra: list[str] | tuple = ()) -> list[str]:
    """JupyterLab on the workspace: bound to 127.0.0.1, token auth (JupyterLab's default), the
    first chapter open, kernel messages sent to the page at once (``lab_server``)."""
    from .lab_server import SERVER_ARGS  # imports jupyter_server: only when a lab is started

    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={int(port)}",
        f"--ServerApp.root_dir={workspace.folder}",
        *SERVER_ARGS,
    ]  # fmt: skip
    names = workspace.course_names()
    if names:
        cmd.append(f"--LabApp.default_url=/lab/tree/{names[0]}")
    if getattr(os, "geteuid", lambda: 1)() == 0:  # JupyterLab refuses to run as root without it
        cmd.append("--allow-root")
    return cmd + list(extra)


# make's own variables, and the learner's folder the Makefile passes (workspace_advice): set for
# `make lab`, they reached every terminal opened in JupyterLab. There `python -m
# transformer_course.workspace status` then printed `make reset 03` (MAKELEVEL), which answers
# "No rule to make target" in workspace/, and a make typed there ran as make's child.
MAKE_VARIABLES = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "TC_CALLER_DIR")


@contextlib.contextmanager
def terminal_environment():
    """The environment JupyterLab passes to its terminals (and kernels) while it starts, as a
    shell in the course's environment has it: none of make's variables, and this environment's
    ``bin`` first on PATH when it is a virtual environment (.venv), so that `python` typed in a
    terminal is the course's, as after ``source .venv/bin/activate`` (a conda or system Python
    is left alone). Put back as it was after: only an exec that failed, or a started
    subprocess, comes back here."""
    before = dict(os.environ)
    for variable in MAKE_VARIABLES:
        os.environ.pop(variable, None)
    if sys.prefix != sys.base_prefix:
        bin_ = str(Path(sys.executable).parent)
        path = os.environ.get("PATH", "")
        if path.split(os.pathsep)[:1] != [bin_]:
            os.environ["PATH"] = os.pathsep.join([bin_, path]) if path else bin_
    try:
        yield
    finally:
        for variable in set(os.environ) - set(before):
            del os.environ[variable]
        os.environ.update(before)


def lab_records(ws) -> list[dict]:
    """Jupyter's records (its runtime files) of the servers whose process lives and whose root
    is this workspace: another `make lab` on it, or a dead one's record on a reused PID."""
    try:
        from jupyter_server.serverapp import list_running_servers

        servers = list(list_running_servers())
    except Exception:  # noqa: BLE001 (one record it cannot read stops it: read each on its own)
        servers = _each_record()
    found = []
    for info in servers:
        with contextlib.suppress(OSError, ValueError, RuntimeError):  # RuntimeError: a symlink loop
            if isinstance(info, dict) and _serves(info, ws):
                found.append(info)
    return found


def _each_record() -> list[dict]:
    """The records of live servers, each read on its own: one that cannot be read (another
    user's, cut short, not an object) hides no other. Empty without jupyter_server."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir
        from jupyter_server.utils import check_pid

        files = sorted(Path(jupyter_runtime_dir()).glob("jpserver-*.json"))
    except Exception:  # noqa: BLE001 (no jupyter_server, an unreadable runtime folder: nothing to say)
        return []
    found = []
    for path in files:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            info = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(info, dict) and check_pid(int(info["pid"])):
                found.append(info)
    return found


def _serves(info: dict, ws) -> bool:
    return Path(str(info.get("root_dir", ""))).resolve() == ws.folder.resolve()


def lab_url(info: dict) -> str:
    """The address that opens JupyterLab of a server's record, its token included."""
    return f"{info.get('url', '')}lab?token={info.get('token', '')}"


def answers(info: dict, timeout: float = 3.0) -> bool:
    """Whether the server of a record answers its API with the record's token, and refuses any
    other: a record whose PID was reused (after a crash or a reboot), a server that hangs, or a
    server without a token (another user's, on the port the record names) serves no one here.
    At most ``timeout`` seconds in all, however slowly a server sends its answer."""
    url = str(info.get("url", ""))
    if not url.startswith(("http://", "https://")):
        return False
    result: list[bool] = []

    def ask() -> None:
        token = str(info.get("token", ""))
        ours = bool(token) and _status(url, token, timeout)
        result.append(ours and not _status(url, f"{token}-not-the-token", timeout))

    asking = threading.Thread(target=ask, daemon=True)  # a daemon: a server that trickles is left behind
    asking.start()
    asking.join(timeout)
    return bool(result and result[0])


def _status(url: str, token: str, timeout: float) -> bool:
    """Whether ``url``'s /api/status answers 200 with a JSON object for ``token``."""
    headers = {"Authorization": f"token {token}"}
    request = urllib.request.Request(f"{url.rstrip('/')}/api/status", headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1: no proxy
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status == 200 and isinstance(json.loads(response.read()), dict)
    except (OSError, ValueError):  # refused, timed out, 403 for another token, not JSON
        return False
