"""Where ``workspace``'s reset keeps the learner's copies: ``workspace/.backups/<time>/``, one
folder per reset, made at its first backup. A file byte for byte the same as the newest backup
of that name is not stored again (a checkpoint that outlives reset after reset, say): reset
names the earlier backup instead. Also what reset tells the learner. ``ws`` is a
``workspace.Workspace`` (not imported: workspace imports this module)."""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from .workspace_advice import committed_advice, edited_advice, error_hint, free_name, quoted

BACKUPS = ".backups"  # hidden, so JupyterLab's file browser does not list it
CHECKPOINTS = ".ipynb_checkpoints"  # where Jupyter keeps a notebook's last "Save and Checkpoint"
STAMP = re.compile(r"(\d{8}-\d{6})(?:-(\d+))?")  # a reset's folder: its time, -2, -3 … within one second


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digest_or_none(path: Path) -> str | None:
    return digest(path) if path.is_file() and not path.is_symlink() else None


def checkpoint_of(copy: Path) -> Path:
    """Where Jupyter server keeps the last explicit save ("Save and Checkpoint") of ``copy``."""
    return copy.parent / CHECKPOINTS / f"{copy.stem}-checkpoint{copy.suffix}"


def newest_backup(workspace: Path, name: str, besides: Path | None = None) -> Path | None:
    """The backup of ``name`` in the newest (last written) of ``workspace/.backups/``'s reset
    folders holding one (a plain file), or None. Folders not named by a reset, and ``besides``,
    are not looked at."""
    found = []
    with contextlib.suppress(OSError):  # no .backups/ yet, or an unreadable one: nothing to compare
        for folder in (workspace / BACKUPS).iterdir():
            match = STAMP.fullmatch(folder.name)
            path = folder / name
            if match and folder != besides and path.is_file() and not path.is_symlink():
                # By the time the folder was last written, then by its name: a name is local
                # time, and after a change of time zone (or DST ending) an older one sorted last
                found.append(((folder.stat().st_mtime_ns, match[1], int(match[2] or 1)), path))
    return max(found)[1] if found else None


def new_backup_folder(workspace: Path) -> Path:
    """A new folder in ``workspace/.backups/`` named by the time: a reset's own."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (workspace / BACKUPS).mkdir(parents=True, exist_ok=True)
    folder, n = workspace / BACKUPS / stamp, 1
    while True:  # two resets within one second, or at once, keep both backups
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            n += 1
            folder = workspace / BACKUPS / f"{stamp}-{n}"


class Backups:
    """The backups of one reset, in a folder of its own made at the first one it stores."""

    def __init__(self, workspace: Path, new_folder=None):
        self.workspace = workspace
        self.new_folder = new_folder or (lambda: new_backup_folder(workspace))
        self.folder: Path | None = None
        self.checkpoints: dict[str, Path] = {}  # chapter → its checkpoint's backup, beside the copy's

    def earlier(self, path: Path, *names: str) -> Path | None:
        """The newest backup of ``path``'s name (or of each of ``names``, in turn) when it holds
        the same bytes as ``path``: a checkpoint may be the same as the copy an earlier reset kept."""
        if not path.is_file() or path.is_symlink():
            return None
        for name in names or (path.name,):
            before = newest_backup(self.workspace, name, besides=self.folder)  # an earlier reset's
            with contextlib.suppress(OSError):  # a backup that cannot be read is no backup to trust
                if before is not None and digest(before) == digest(path):
                    return before
        return None

    def place(self, name: str) -> Path:
        """Where this reset stores a file called ``name``: ``name-2``, ``-3`` … when one of that
        name is stored already (a save that came to the copy's place just after reset moved the
        copy: both are the learner's)."""
        if self.folder is None:
            self.folder = self.new_folder()
        path, n = self.folder / name, 1
        while path.exists() or path.is_symlink():
            n += 1
            path = self.folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
        return path

    def discard_if_empty(self) -> None:
        """Remove this reset's folder when nothing is in it (a reset stopped by an error)."""
        if self.folder is not None:
            with contextlib.suppress(OSError):
                self.folder.rmdir()

    def move(self, path: Path, name: str | None = None) -> Path:
        """Move the learner's ``path`` into this reset's folder (a link or folder as itself),
        named ``name`` (default: its own name)."""
        target = self.place(name or path.name)
        try:
            shutil.move(path, target)
        except BaseException:  # across disks, shutil.move copies then deletes: a copy cut short
            if (path.exists() or path.is_symlink()) and target.is_file() and not target.is_symlink():
                target.unlink(missing_ok=True)  # is no backup while the learner's file is in place
            raise
        return target

    def copy(self, path: Path, name: str | None = None) -> Path:
        """A copy of ``path`` (of the file it links to, for a link) in this reset's folder, named
        ``name`` (default: its own name); none at all when the copy fails."""
        target = self.place(name or path.name)
        try:
            shutil.copy2(path, target)
        except BaseException:  # a copy cut short by a full disk is no backup
            target.unlink(missing_ok=True)
            raise
        return target


def say_reset(name: str, backup: Path | None, already: bool = False, checkpoint: Path | None = None) -> None:
    """One line on a chapter reset: where the learner's copy (or checkpoint) is kept. ``already``:
    ``backup`` is an earlier reset's, holding the same bytes, so nothing was stored again (it may
    be the copy an earlier reset kept, standing for today's checkpoint: "your version")."""
    kept = ""
    if backup and backup.name == checkpoint_of(backup.parent / name).name:
        kept = f"; your last saved checkpoint {'is already backed up at' if already else 'is in'} {backup}"
    elif backup and already:
        kept = f"; your version is already backed up at {backup}"
    elif backup:
        kept = f"; your copy is in {backup}"
        if (backup.parent / checkpoint_of(backup).name).exists():
            kept += f" (its last saved checkpoint beside it, {checkpoint_of(backup).name})"
    if checkpoint is not None and checkpoint.parent != backup.parent:  # another version of theirs
        kept += f"; your last saved checkpoint, another version, is in {checkpoint}"
    print(f"{name}: fresh copy from the course{kept}", flush=True)


def report_reset(ws, which: str) -> int:
    """``reset`` as the command line runs it: a line per chapter as it is done, then how to open
    a backup and an open tab's fresh copy. 1 (and why, on stderr) when a reset fails."""
    done, names = [], []
    before = reset_folders(ws.folder)

    checkpoints: dict[str, Path] = {}

    def say(name: str, backup: Path | None) -> None:  # as each is done: an error later still
        done.append(backup)  # leaves the backups made before it named
        names.append(name)
        already = backup is not None and backup.parent in before
        say_reset(name, backup, already=already, checkpoint=checkpoints.get(name))

    try:
        with signals_stop_reset():
            ws.reset(which, on_done=say, on_checkpoint=checkpoints.__setitem__)
    except OSError as err:
        print(
            f"error: {err}.{error_hint(err, ws.folder)} Nothing of yours was deleted: a chapter whose reset "
            f"failed keeps your copy where it was, in {ws.folder}"
            + ("; the ones above are done." if done else "."),
            file=sys.stderr,
        )
        return 1
    except (Stopped, KeyboardInterrupt) as err:
        signum = err.args[0] if isinstance(err, Stopped) else signal.SIGINT
        print(
            f"reset stopped ({signal.Signals(signum).name}). Nothing of yours was deleted: the chapter "
            f"it was on keeps your copy where it was, in {ws.folder}"
            + ("; the ones above are done." if done else "."),
            file=sys.stderr,
        )
        return 128 + signum
    # (one kept beside the copies, when .backups/ could not take it, opens as it is)
    last = next(  # (a file: a link moved there may point at nothing, and its cp fails)
        (b for b in reversed(done) if b and b.suffix == ".ipynb" and b.parent != ws.folder and b.is_file()),
        None,
    )
    if last:  # Jupyter server does not serve hidden folders such as .backups/
        mine = free_name(ws.folder, last.stem.removesuffix("-checkpoint")).name
        print(
            f"Backups stay in {ws.folder / BACKUPS} until you delete them. JupyterLab does not "
            f"open hidden folders: copy one back under a new name to open it, e.g.\n"
            f"  cp {quoted(last)} {quoted(ws.folder / mine)}"
        )
    if done:  # an open tab still shows the old version, and saving it would ask to overwrite
        print(
            "A chapter open in JupyterLab shows the fresh copy after File → Reload Notebook from Disk. "
            "Changes not saved in that tab are in no backup: to keep them, save the tab first "
            "(choose Overwrite), then reset again."
        )
    _say_edited_here(ws, names)
    return 0


def _say_edited_here(ws, names: list[str]) -> None:
    """A chapter edited (or committed) in chapters/ itself is copied as it is there: "fresh copy
    from the course" was then the learner's own edit (or a file with git's conflict markers), unsaid."""
    committed = set(names) & ws.committed_chapters()  # (its advice keeps an uncommitted edit too)
    edited = (set(names) & ws.edited_chapters()) - committed
    for chapters, advice in ((edited, edited_advice), (committed, committed_advice)):
        if chapters:
            print(
                f"Your fresh copy of {', '.join(sorted(chapters))} holds the edits made in chapters/ "
                f"itself, not the course's version: reset again after giving chapters/ the course's "
                f"version.\n" + advice(ws, sorted(chapters))
            )


class Stopped(BaseException):
    """A signal that ends the process by default (a kill, the terminal closed) came during a reset."""


@contextlib.contextmanager
def signals_stop_reset():
    """SIGTERM and SIGHUP raise Stopped while a reset runs. Left to their default, they ended
    Python at once, between moving the learner's copy to .backups/ and writing the fresh one:
    the chapter then read "deleted", its copy in a backup that nothing named. Raised, they let
    the reset put the copy back, as Ctrl-C does. A signal ignored (nohup) stays ignored."""
    names = ("SIGTERM", "SIGHUP")
    taken = [getattr(signal, n) for n in names if hasattr(signal, n)]
    if threading.current_thread() is not threading.main_thread():  # only it may set handlers
        taken = []
    taken = [s for s in taken if signal.getsignal(s) == signal.SIG_DFL]

    def stop(signum, frame):
        raise Stopped(signum)

    for signum in taken:
        signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum in taken:
            signal.signal(signum, signal.SIG_DFL)


def reset_folders(workspace: Path) -> set[Path]:
    """The folders in ``workspace/.backups/`` now (an earlier reset's backup lies in one)."""
    with contextlib.suppress(OSError):
        return set((workspace / BACKUPS).iterdir())
    return set()
