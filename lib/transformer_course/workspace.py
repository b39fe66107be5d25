"""A learner's own copies of the chapters, and the one launcher of JupyterLab on them.

The tracked chapters (``chapters/NN_topic.ipynb``, paired with ``NN_topic.py``) stay as
committed, for the tests, for course updates and for authors. A learner opens, runs and
edits copies in ``workspace/`` (git-ignored; only ``.ipynb`` files, so JupyterLab's file
browser shows one file per chapter). ``make lab``, uv, conda and Windows users all go
through this module, so each gets the same workspace and the same JupyterLab settings::

    python -m transformer_course.workspace lab [--port 8888]  # sync, then JupyterLab on workspace/
    python -m transformer_course.workspace sync     # copy the chapters the workspace lacks
    python -m transformer_course.workspace status   # which copies you changed, which the course updated
    python -m transformer_course.workspace reset 03 # a fresh copy of chapter 03 (or: all); yours is kept
    python -m transformer_course.workspace settings # JupyterLab settings into this environment

Run it in the course folder (the one holding ``chapters/``) or pass ``--course DIR``. A
``Workspace`` is put together from one module per command or idea: ``workspace_sync``,
``workspace_status`` and ``workspace_reset``; the record of the versions copied,
``workspace_record``; what git says of the course checkout, ``workspace_git``; whether the
folder can hold the learner's work, ``workspace_folder``. Where reset keeps the learner's
copies is ``workspace_backups``; JupyterLab's settings and command, ``workspace_lab``; the
commands printed for the learner, ``workspace_advice``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib  # noqa: F401 (each F401 name in this file: importable from here as before the split)
import json  # noqa: F401 (for callers who import or patch them: workspace.shutil.disk_usage, say)
import os
import shutil  # noqa: F401
import subprocess
import sys
import time  # noqa: F401
from dataclasses import dataclass
from pathlib import Path

from .workspace_advice import (  # noqa: F401
    NOTICE,
    chown_hint,
    committed_advice,
    edited_advice,
    error_hint,
    fork_note,
    owned_by_another,
    quoted,
    reset_hint,
    status_hint,
    update_notice,
)
from .workspace_backups import (  # noqa: F401
    BACKUPS,
    CHECKPOINTS,
    Backups,
    checkpoint_of,
    digest,
    digest_or_none,
    new_backup_folder,
    newest_backup,
    report_reset,
)
from .workspace_folder import LOW_SPACE, FolderChecks  # noqa: F401
from .workspace_folder import say_disk_full as _say_disk_full
from .workspace_folder import say_not_yours as _say_not_yours
from .workspace_git import CourseGit
from .workspace_lab import (  # noqa: F401
    LAB_SETTINGS,
    answers,
    install_lab_settings,
    lab_command,
    lab_records,
    lab_url,
    terminal_environment,
    writable_jupyter_dirs,
)
from .workspace_record import RECORD, UNCHECKED, CopyRecord  # noqa: F401
from .workspace_reset import Leftovers, ResetCopies
from .workspace_status import (  # noqa: F401
    COMMITTED_HERE,
    DELETED_BY_COMMIT,
    DELETED_HERE,
    EDITED_HERE,
    KEPT,
    NO_LONGER,
    CopyStatus,
)
from .workspace_sync import SyncCopies

PATTERN = "[0-9][0-9]_*.ipynb"


@dataclass(frozen=True)
class Workspace(SyncCopies, ResetCopies, CopyStatus, Leftovers, CopyRecord, CourseGit, FolderChecks):
    """The course's tracked chapters (``chapters``) and the learner's copies (``folder``): the
    commands ``sync``, ``status`` and ``reset`` are its methods, each from a module of its own."""

    chapters: Path
    folder: Path

    @classmethod
    def of(cls, course: Path, folder: Path | None = None) -> Workspace:
        """The workspace of a course folder; ValueError when ``course`` holds no chapters."""
        chapters = Path(course) / "chapters"
        if not any(chapters.glob(PATTERN)):
            raise ValueError(
                f"course must be the course folder (with chapters/NN_topic.ipynb), got {str(course)!r}: "
                "run this in the course folder or pass --course"
            )
        return cls(chapters, Path(folder) if folder else Path(course) / "workspace")

    def course_names(self) -> list[str]:
        return sorted(p.name for p in self.chapters.glob(PATTERN))


def find_course(explicit: str | None) -> Path:
    """``--course``, else the current folder, else the checkout this module was loaded from."""
    if explicit:
        return Path(explicit)
    checkout = Path(__file__).resolve().parents[2]
    for folder in (Path.cwd(), checkout):
        if any((folder / "chapters").glob(PATTERN)):
            return folder
    return Path.cwd()  # Workspace.of says what is missing


def _point_at_running_lab(ws: Workspace) -> bool:
    """True when a JupyterLab already serves the workspace (said, with its address): a second
    server would give a chapter open in both two kernels, and a save in one tab would make the
    other ask whether to overwrite the file. A record whose server does not answer is said too,
    and the launch goes on. A server of another folder (another project on the port) does not
    count: JupyterLab then takes the next free port."""
    records = lab_records(ws)
    serving = next((info for info in records if answers(info)), None)
    if serving is not None:  # said alone: a dead record beside it would say "starting a new one"
        print(
            f"workspace: JupyterLab already serves your workspace at {lab_url(serving)} (another "
            "`make lab`): open that address. To start a new one here, stop that one first "
            "(Ctrl-C twice in its terminal)."
        )
        return True
    for info in records:
        print(
            f"workspace: Jupyter's records say JupyterLab already serves your workspace at "
            f"{lab_url(info)}, but it does not answer: starting a new one"
        )
    return False


def _say_states(
    states: dict[str, str], names: list[str], unchecked: set[str] | frozenset = frozenset()
) -> None:
    """What `make lab` says of the copies: a newer chapter in the course, a chapter it no longer
    has, and copies whose record is lost. Those last ones never said a word: a course fix to
    them went unseen, since no record says which version the learner copied. ``unchecked``:
    copies no git vouched were the course's version (they may hold an edit made in chapters/
    itself): "you had not changed yours" is said of workspace/ only."""
    for name, state in states.items():
        if "newer in the course" in state:
            kept = "yours moves to .backups/"  # (a reset backs up every copy not the course's today)
            if "changed by you" not in state:
                kept = "you had not changed yours; it moves to .backups/ all the same"
            if "changed by you" not in state and name in unchecked:
                kept = (
                    "you had not changed yours in workspace/; it moves to .backups/ all the same: with "
                    "no git here, an edit made in chapters/ cannot be told from the course's version"
                )
            print(f"workspace: the course has a newer {name}; `{reset_hint(name, names)}` gets it ({kept})")
        elif state.startswith("no longer in the course"):  # (it names the new name when told)
            print(f"workspace: {name} is {state}")
        elif state.startswith("deleted from chapters/"):
            print(f"workspace: {name}: {state}")
    unknown = [name for name, state in states.items() if state.startswith("differs from the course")]
    if unknown:
        print(
            f"workspace: {', '.join(unknown)} {'differs' if len(unknown) == 1 else 'differ'} from the "
            "course's, and no record says which version "
            f"you copied: if the course updated one, `{reset_hint(unknown[0], names)}` gets it "
            "(yours moves to .backups/)"
        )


def _lab(ws: Workspace, args: argparse.Namespace, extra: list[str]) -> int:
    private = writable_jupyter_dirs()
    if private is not None:
        blocked = ", ".join(str(p) for p in private[1])
        print(
            f"workspace: Jupyter cannot write to {blocked} (a read-only home, or made by `sudo`): "
            f"it keeps its settings and records for this session in {private[0]}"
        )
    for name in ws.sync_or_say():  # (a chapter that cannot be copied is said; lab starts all the same)
        kept = newest_backup(ws.folder, name)
        print(f"workspace: added {name}" + (f" ({KEPT} {kept})" if kept else ""))
    states = ws.status()
    unchecked = {name for name, value in ws.record().items() if value.startswith(UNCHECKED)}
    _say_states(states, ws.course_names(), unchecked)
    note = fork_note(ws) if any("newer in the course" in s for s in states.values()) else None
    if note:  # once, as status says it: what "newer" rests on in a fork with no upstream remote
        print(f"workspace: {note}")
    _say_not_yours(ws)
    _say_disk_full(ws)
    committed = ws.committed_chapters()
    edited = sorted(ws.edited_chapters() - committed)
    if edited:
        print(f"workspace: {edited_advice(ws, edited)}")
    if committed:
        print(f"workspace: {committed_advice(ws, sorted(committed))}")
    if _point_at_running_lab(ws):
        return 0
    try:
        install_lab_settings()
    except (OSError, ValueError) as err:  # a read-only environment, or a settings file JupyterLab
        # itself tolerates, still runs the course; JupyterLab may ask about news
        print(f"workspace: could not write JupyterLab settings ({err})", file=sys.stderr)
    cmd = lab_command(ws, args.port, extra)
    sys.stdout.flush()
    with terminal_environment():
        if os.name == "posix":  # JupyterLab takes this process over: Ctrl-C and signals reach it directly
            os.execv(cmd[0], cmd)
        process = subprocess.Popen(cmd)  # Windows has no real exec
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:  # the console sent Ctrl-C to JupyterLab too: it decides when to stop
            continue


def _report(ws: Workspace, args: argparse.Namespace) -> int:
    if args.command == "sync":
        added = ws.sync()
        print("\n".join(f"added {n}" for n in added) or f"{ws.folder} has every chapter")
        if args.notice:
            _say_notice(ws)
    elif args.command == "status":
        states = ws.status()
        for name, state in states.items():
            print(f"{name:40s} {state}")
        newer = [n for n, state in states.items() if "newer in the course" in state]
        if newer:
            print(
                f"`{reset_hint(newer[0], ws.course_names())}` gets the course's newer version of a "
                "chapter; your copy moves to workspace/.backups/ first, and reset says how to "
                "open it again."
            )
            note = fork_note(ws)
            if note:
                print(note)
        edited = [n for n, state in states.items() if EDITED_HERE in state]
        if edited:
            print(edited_advice(ws, edited))
        committed = [n for n, state in states.items() if COMMITTED_HERE in state]
        if committed:
            print(committed_advice(ws, committed))
    elif args.command == "reset":
        code = report_reset(ws, args.chapter)
        noticed = False
        with contextlib.suppress(OSError):  # (an unreadable folder: reset said its one error)
            noticed = (ws.folder / NOTICE).is_file()
        if noticed:  # sync --notice wrote it: no longer name what reset got
            _say_notice(ws)
        return code
    return 0


def _say_notice(ws: Workspace) -> None:
    """``sync --notice`` (a JupyterHub's start hook): the notice of newer chapters and of those
    the course renamed, in the workspace, since the hook's output goes to the hub's log, which
    no learner reads."""
    states = ws.status()
    newer = [name for name, state in states.items() if "newer in the course" in state]
    gone = [name for name, state in states.items() if state.startswith("no longer in the course")]
    renames = ws.renames() if gone else {}
    try:
        said = update_notice(ws, newer, {name: ws.renamed(name, renames) for name in gone})
    except OSError as err:  # never fails the sync: a failing start hook can stop the learner's server
        said = f"could not write the notice of newer chapters ({err})"
    if said:
        print(f"workspace: {said}")


def _paths_printable() -> None:
    """Print a path whose name is not UTF-8 (a folder named in Latin-1) as its bytes: with a
    UTF-8 locale, printing it raised UnicodeEncodeError half-way through a reset, after the
    learner's copy was moved and before the line saying where. Where the terminal's encoding is
    not the file system's, such a character is printed escaped (\\xe9) rather than failing."""
    for stream in (sys.stdout, sys.stderr):
        encoding = str(getattr(stream, "encoding", "") or "").lower().replace("_", "-")
        same = encoding == sys.getfilesystemencoding().lower().replace("_", "-")
        with contextlib.suppress(AttributeError, ValueError, OSError):  # not a real stream (a notebook)
            stream.reconfigure(errors="surrogateescape" if same else "backslashreplace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m transformer_course.workspace", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--course", help="the course folder, holding chapters/ (default: here)")
    parser.add_argument("--workspace", help="where the learner's copies live (default: COURSE/workspace)")
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="copy new chapters, then open JupyterLab on the workspace")
    lab.add_argument("--port", type=int, default=8888)
    sync = sub.add_parser("sync", help="copy the chapters the workspace lacks (never touches a copy)")
    sync.add_argument(
        "--notice",
        action="store_true",
        help=f"also name the chapters newer in the course in WORKSPACE/{NOTICE} (a JupyterHub start hook)",
    )
    sub.add_parser("status", help="which copies you changed, which chapters the course has updated")
    reset = sub.add_parser("reset", help="a fresh copy of one chapter or all; yours is kept in .backups/")
    reset.add_argument("chapter", help="all, a number such as 03, or a name such as 03_queries_keys_values")
    sub.add_parser("settings", help="write the course's JupyterLab settings into this environment")
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "lab":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    ws = None
    try:
        if args.command == "settings":
            try:
                print(f"JupyterLab settings: {install_lab_settings()}")
            except (OSError, ValueError) as err:  # not fatal: `make env` fails on it and then
                # removes the whole .venv at the next make; JupyterLab runs without them
                print(f"workspace: could not write JupyterLab settings ({err})", file=sys.stderr)
            return 0
        ws = Workspace.of(find_course(args.course), args.workspace)
        ws.check_folder()
        return _lab(ws, args, extra) if args.command == "lab" else _report(ws, args)
    except KeyboardInterrupt:  # Ctrl-C while copying or asking git (reset says its own)
        print(f"{args.command} stopped (Ctrl-C). Nothing of yours was changed.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `make status | head`: the reader has all it wanted
        with contextlib.suppress(OSError, ValueError):  # (Python's own flush at exit says nothing)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell says of a process ended by SIGPIPE
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return _exit_code(args, 2)
    except OSError as err:  # a read-only or full workspace: say what, without a traceback
        print(
            f"error: {err}.{error_hint(err, ws.folder if ws else None)}", file=sys.stderr
        )  # (reset says its own: nothing moves here)
        return _exit_code(args, 1)


def _exit_code(args: argparse.Namespace, code: int) -> int:
    """``code``, but 0 for `sync --notice`, a JupyterHub's start hook: a hook that fails stops
    the learner's server from starting, so a learner whose disk quota was full could not even
    log in to delete something. The error is said (in the hub's log) all the same."""
    return 0 if getattr(args, "notice", False) else code


if __name__ == "__main__":  # (only here: a caller's own streams, pytest's say, are left alone)
    _paths_printable()
    sys.exit(main())
