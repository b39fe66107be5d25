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

Run it in the course folder (the one holding ``chapters/``) or pass ``--course DIR``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PATTERN = "[0-9][0-9]_*.ipynb"
RECORD = ".course.json"  # for each copy: the hash of the course's notebook it was copied from
BACKUPS = ".backups"  # hidden, so JupyterLab's file browser does not list it
CHECKPOINTS = ".ipynb_checkpoints"  # where Jupyter keeps a notebook's last "Save and Checkpoint"
# The course runs offline: JupyterLab should neither ask to fetch news nor check for updates.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}
}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digest_or_none(path: Path) -> str | None:
    return digest(path) if path.is_file() and not path.is_symlink() else None


def checkpoint_of(copy: Path) -> Path:
    """Where Jupyter server keeps the last explicit save ("Save and Checkpoint") of ``copy``."""
    return copy.parent / CHECKPOINTS / f"{copy.stem}-checkpoint{copy.suffix}"


@dataclass(frozen=True)
class Workspace:
    """The course's tracked chapters (``chapters``) and the learner's copies (``folder``)."""

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

    def record(self) -> dict[str, str]:
        """Which course version each copy came from. An unreadable record (cut short, edited)
        counts as empty, with a warning: every copy that differs from the course then counts
        as the learner's, so ``reset`` backs it up; the launcher still starts."""
        path = self.folder / RECORD
        if not path.exists():
            return {}
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            record = err
        if isinstance(record, dict) and all(isinstance(v, str) for v in record.values()):
            return record
        print(
            f"workspace: ignoring {path} (not a record of copied chapters: {record!s:.80}); "
            "chapters that differ from the course count as changed by you",
            file=sys.stderr,
        )
        return {}

    def _write(self, path: Path, data: bytes) -> None:
        """Write ``path`` whole or not at all (a temporary file, then a rename), as a new file
        that its owner can write: a read-only course still gives copies the learner can save."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def _save_record(self, record: dict[str, str]) -> None:
        text = json.dumps(dict(sorted(record.items())), indent=1) + "\n"
        self._write(self.folder / RECORD, text.encode("utf-8"))

    def _copy_in(self, name: str, record: dict[str, str]) -> None:
        data = (self.chapters / name).read_bytes()
        self._write(self.folder / name, data)
        record[name] = hashlib.sha256(data).hexdigest()

    def sync(self) -> list[str]:
        """Copy every chapter the workspace lacks; existing copies are never touched. A copy
        missing from the record (it was lost) is recorded when it is the course's version."""
        self.folder.mkdir(parents=True, exist_ok=True)
        record, added, adopted = self.record(), [], False
        for name in self.course_names():
            copy = self.folder / name
            if not copy.exists() and not copy.is_symlink():
                self._copy_in(name, record)
                added.append(name)
            elif name not in record and copy.is_file() and digest(copy) == digest(self.chapters / name):
                record[name], adopted = digest(copy), True
        if added or adopted or not (self.folder / RECORD).exists():
            self._save_record(record)
        return added

    def select(self, which: str) -> list[str]:
        """Chapter names for ``which``: ``all``, a number (``3``, ``03``) or a name (``03_queries…``)."""
        names = self.course_names()
        if str(which).lower() == "all":
            return names
        key = str(which).removesuffix(".ipynb")
        key = key.zfill(2) if key.isdigit() else key
        found = [n for n in names if n.removesuffix(".ipynb") == key or n.startswith(f"{key}_")]
        if len(found) != 1:
            numbers = ", ".join(n[:2] for n in names)
            raise ValueError(
                f"chapter must be 'all', a number such as 03 or a name such as "
                f"{names[-1].removesuffix('.ipynb')}, got {which!r} (chapters: {numbers})"
            )
        return found

    def reset(self, which: str) -> list[tuple[str, Path | None]]:
        """A fresh copy of each chosen chapter. A copy the learner changed is first moved to
        ``.backups/<time>/``, with a copy of its last checkpoint (``NN_topic-checkpoint.ipynb``)
        when that holds something else of theirs. Returns (name, backup or None) for each
        chapter; the backup is the checkpoint's copy when only the checkpoint was theirs."""
        names = self.select(which)
        self.folder.mkdir(parents=True, exist_ok=True)
        record, done, backups = self.record(), [], None
        try:
            for name in names:
                copy, backup = self.folder / name, None
                ours = {digest(self.chapters / name), record.get(name)}  # today's version, the one copied
                if copy.is_symlink() or (copy.exists() and (not copy.is_file() or digest(copy) not in ours)):
                    backups = backups or self._new_backup_folder()
                    backup = backups / name
                    shutil.move(copy, backup)  # a link or folder moves as itself
                # The checkpoint is the learner's last explicit save; the copy may hold later
                # autosaved edits. Jupyter overwrites it at the next save of the fresh copy.
                checkpoint = checkpoint_of(copy)
                if checkpoint.is_file() and not checkpoint.is_symlink() and digest(checkpoint) not in ours:
                    if backup is None or digest(checkpoint) != digest_or_none(backup):
                        backups = backups or self._new_backup_folder()
                        kept = backups / checkpoint.name
                        shutil.copy2(checkpoint, kept)
                        backup = backup or kept
                self._copy_in(name, record)
                done.append((name, backup))
        finally:  # a reset that stops half-way still records the chapters it did
            self._save_record(record)
        return done

    def _new_backup_folder(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        (self.folder / BACKUPS).mkdir(parents=True, exist_ok=True)
        folder, n = self.folder / BACKUPS / stamp, 1
        while True:  # two resets within one second, or at once, keep both backups
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                n += 1
                folder = self.folder / BACKUPS / f"{stamp}-{n}"

    def status(self) -> dict[str, str]:
        """For each chapter: 'not copied yet', 'deleted from your workspace', 'as shipped',
        'changed by you', 'newer in the course', or both of the last two; 'differs from the
        course' when the record of the version copied is lost; 'not a notebook file' for a
        folder or a broken link in its place."""
        record, states = self.record(), {}
        for name in self.course_names():
            copy, course = self.folder / name, digest(self.chapters / name)
            if not copy.exists() and not copy.is_symlink():
                gone = "deleted from your workspace (lab copies it again)"
                states[name] = gone if name in record else "not copied yet"
                continue
            if not copy.is_file():
                states[name] = "not a notebook file (reset moves it to .backups/)"
                continue
            if name not in record and digest(copy) != course:
                states[name] = "differs from the course (changed by you or copied from an older one)"
                continue
            copied_from = record.get(name, course)
            changed, newer = digest(copy) != copied_from, course != copied_from
            words = [w for w, on in (("changed by you", changed), ("newer in the course", newer)) if on]
            states[name] = "; ".join(words) or "as shipped"
        for name in sorted(set(record) - set(states)):  # a chapter the course renamed or removed
            if (self.folder / name).exists() or (self.folder / name).is_symlink():
                states[name] = "no longer in the course (renamed or removed); your copy stays as it is"
        return states


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


def lab_command(workspace: Workspace, port: int = 8888, extra: list[str] | tuple = ()) -> list[str]:
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


def find_course(explicit: str | None) -> Path:
    """``--course``, else the current folder, else the checkout this module was loaded from."""
    if explicit:
        return Path(explicit)
    checkout = Path(__file__).resolve().parents[2]
    for folder in (Path.cwd(), checkout):
        if any((folder / "chapters").glob(PATTERN)):
            return folder
    return Path.cwd()  # Workspace.of says what is missing


def reset_hint(name: str) -> str:
    if os.environ.get("MAKELEVEL"):  # run by make: the target the learner knows
        return f"make reset CHAPTER={name[:2]}"
    return f"python -m transformer_course.workspace reset {name[:2]}"


def _lab(ws: Workspace, args: argparse.Namespace, extra: list[str]) -> int:
    for name in ws.sync():
        print(f"workspace: added {name}")
    for name, state in ws.status().items():
        if "newer in the course" in state:
            kept = "yours moves to .backups/" if "changed by you" in state else "you had not changed yours"
            print(f"workspace: the course has a newer {name}; `{reset_hint(name)}` gets it ({kept})")
        elif state.startswith("no longer in the course"):
            print(f"workspace: {name} is no longer in the course (renamed or removed); yours stays as it is")
    try:
        install_lab_settings()
    except (OSError, ValueError) as err:  # a read-only environment, or a settings file JupyterLab
        # itself tolerates, still runs the course; JupyterLab may ask about news
        print(f"workspace: could not write JupyterLab settings ({err})", file=sys.stderr)
    cmd = lab_command(ws, args.port, extra)
    sys.stdout.flush()
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
    elif args.command == "status":
        for name, state in ws.status().items():
            print(f"{name:40s} {state}")
    elif args.command == "reset":
        done = ws.reset(args.chapter)
        for name, backup in done:
            kept = ""
            if backup and backup.name == checkpoint_of(backup.parent / name).name:
                kept = f"; your last saved checkpoint is in {backup}"
            elif backup:
                kept = f"; your copy is in {backup}"
                if (backup.parent / checkpoint_of(backup).name).exists():
                    kept += f" (its last saved checkpoint beside it, {checkpoint_of(backup).name})"
            print(f"{name}: fresh copy from the course{kept}")
        last = next((b for _, b in reversed(done) if b and b.suffix == ".ipynb"), None)
        if last:  # Jupyter server does not serve hidden folders such as .backups/
            mine = f"{last.stem.removesuffix('-checkpoint')}-mine.ipynb"
            print(
                f"Backups stay in {ws.folder / BACKUPS} until you delete them. JupyterLab does not "
                f"open hidden folders: copy one back under a new name to open it, e.g.\n"
                f"  cp '{last}' '{ws.folder / mine}'"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m transformer_course.workspace", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--course", help="the course folder, holding chapters/ (default: here)")
    parser.add_argument("--workspace", help="where the learner's copies live (default: COURSE/workspace)")
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="copy new chapters, then open JupyterLab on the workspace")
    lab.add_argument("--port", type=int, default=8888)
    sub.add_parser("sync", help="copy the chapters the workspace lacks (existing copies are never touched)")
    sub.add_parser("status", help="which copies you changed, which chapters the course has updated")
    reset = sub.add_parser("reset", help="a fresh copy of one chapter or all; yours is kept in .backups/")
    reset.add_argument("chapter", help="all, a number such as 03, or a name such as 03_queries_keys_values")
    sub.add_parser("settings", help="write the course's JupyterLab settings into this environment")
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "lab":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command == "settings":
            try:
                print(f"JupyterLab settings: {install_lab_settings()}")
            except (OSError, ValueError) as err:  # not fatal: `make env` fails on it and then
                # removes the whole .venv at the next make; JupyterLab runs without them
                print(f"workspace: could not write JupyterLab settings ({err})", file=sys.stderr)
            return 0
        ws = Workspace.of(find_course(args.course), args.workspace)
        return _lab(ws, args, extra) if args.command == "lab" else _report(ws, args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a read-only or full workspace: say what, without a traceback
        print(
            f"error: {err}. Nothing of yours was deleted: a copy is moved to "
            f"{BACKUPS}/ before a fresh one replaces it.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
