"""Round 51: a reviewer's findings on the workspace (r1), each seen to lose or mislay the
learner's work, or mislead them, before its fix: a copy made from an edited chapters/ file
where no git answers (F0), a copy that is a link (F1), lab refusing to start when one chapter
cannot be copied (F2), and the `.backups` sentence on errors that move nothing (F3)."""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from course_folder import author_and_clone, git, lab, make_course, needs_git, notebook, status_of
from transformer_course import workspace_record, workspace_reset
from transformer_course.workspace import Workspace, main, newest_backup

CHAPTER = "01_embeddings.ipynb"
EDIT = notebook("MY EDIT, MADE IN chapters/ BY MISTAKE")
MINE = notebook("my work, kept elsewhere and linked in")


def backups_holding(ws: Workspace, text: str) -> list[Path]:
    return [p for p in (ws.folder / ".backups").glob("*/*.ipynb") if p.read_text() == text]


def test_without_git_a_copy_of_an_edited_chapter_is_backed_up_once_chapters_is_restored(
    tmp_path, monkeypatch, capsys
):
    """F0: a course folder without .git (a tarball): the learner's edit in chapters/ reached
    their copy; once chapters/ had the course's bytes again, lab said "you had not changed
    yours" and reset replaced the copy, edit and all, with no backup."""
    ws = Workspace.of(make_course(tmp_path))
    course = (ws.chapters / CHAPTER).read_text()
    (ws.chapters / CHAPTER).write_text(EDIT)
    ws.sync()
    (ws.chapters / CHAPTER).write_text(course)  # the next tarball, or the edit undone
    monkeypatch.delenv("MAKELEVEL", raising=False)
    out = lab(ws, monkeypatch, capsys)
    assert "all the same" in out  # reset backs it up: no git says it is the course's version
    assert main(["--course", str(tmp_path), "reset", "01"]) == 0
    [backup] = backups_holding(ws, EDIT)
    assert str(backup) in capsys.readouterr().out
    assert (ws.folder / CHAPTER).read_text() == course


def test_without_git_a_course_update_still_backs_up_the_copy_it_replaces(tmp_path):
    """F0, belt and braces: without git, bytes that are not the course's current ones are never
    deleted without a backup, even where the record says they were the ones copied."""
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    old = (ws.folder / CHAPTER).read_text()
    (ws.chapters / CHAPTER).write_text(notebook("the course, improved"))
    [(_, backup)] = ws.reset("01")
    assert backup is not None and backup.read_text() == old


def test_a_record_written_before_this_round_does_not_vouch_for_a_copy(tmp_path):
    """F0: a record written by an earlier version holds the hash of the bytes copied with no
    mark of whether git vouched for them: the copy of an edited chapters/ file is backed up."""
    ws = Workspace.of(make_course(tmp_path))
    course = (ws.chapters / CHAPTER).read_text()
    (ws.chapters / CHAPTER).write_text(EDIT)
    ws.sync()
    record = ws.folder / ".course.json"
    record.write_text(
        json.dumps({k: v.removeprefix("unchecked:") for k, v in json.loads(record.read_text()).items()})
    )
    (ws.chapters / CHAPTER).write_text(course)
    [(_, backup)] = ws.reset("01")
    assert backup is not None and backup.read_text() == EDIT


@needs_git
def test_a_copy_made_while_git_was_not_on_path_is_backed_up(tmp_path, monkeypatch):
    """F0 in a git clone with git missing from PATH: the copy of an edited chapters/ file was
    recorded as the course's version, and a reset (with or without git) deleted the edit."""
    _, course = author_and_clone(tmp_path)
    ws = Workspace.of(course)
    (ws.folder / CHAPTER).unlink()
    (ws.chapters / CHAPTER).write_text(EDIT)
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert ws.sync() == [CHAPTER]
    monkeypatch.setenv("PATH", path)
    git(course, "checkout", "--", "chapters/")
    assert "newer in the course" in ws.status()[CHAPTER]  # (git cannot tell: said with a backup)
    [(_, backup)] = ws.reset("01")
    assert backup is not None and backup.read_text() == EDIT


def test_a_copy_that_is_a_relative_link_is_backed_up_as_a_file_and_its_cp_works(tmp_path, capsys):
    """F1: a copy linked to the learner's file elsewhere (``../mywork/01.ipynb``) was moved to
    .backups/ as a link, which pointed at nothing from there: "your copy is in …" and the cp
    printed both failed. The backup is now a real file with the learner's bytes, the file
    linked to is left alone, and the message says what happened."""
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    (tmp_path / "mywork").mkdir()
    (tmp_path / "mywork" / "01.ipynb").write_text(MINE)
    (ws.folder / CHAPTER).unlink()
    (ws.folder / CHAPTER).symlink_to(Path("..") / "mywork" / "01.ipynb")
    assert main(["--course", str(tmp_path), "reset", "01"]) == 0
    out = capsys.readouterr().out
    [backup] = (ws.folder / ".backups").glob(f"*/{CHAPTER}")
    assert not backup.is_symlink() and backup.read_text() == MINE
    assert f"was a link to {(tmp_path / 'mywork' / '01.ipynb').resolve()}" in out
    assert (tmp_path / "mywork" / "01.ipynb").read_text() == MINE  # left alone
    copy = ws.folder / CHAPTER
    assert not copy.is_symlink() and copy.read_text() == (ws.chapters / CHAPTER).read_text()
    [cp] = [line.strip() for line in out.splitlines() if line.strip().startswith("cp ")]
    assert f"'{backup}'" in cp


def test_a_copy_linked_to_the_course_bytes_is_replaced_without_a_backup(tmp_path):
    """F1: a link to a file holding the course's bytes needs no backup; the link is replaced
    by a real fresh copy and the file it pointed to is left alone."""
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    (tmp_path / "elsewhere.ipynb").write_bytes((ws.chapters / CHAPTER).read_bytes())
    (ws.folder / CHAPTER).unlink()
    (ws.folder / CHAPTER).symlink_to(tmp_path / "elsewhere.ipynb")
    [(_, backup)] = ws.reset("01")
    assert backup is None and not (ws.folder / CHAPTER).is_symlink()
    assert (tmp_path / "elsewhere.ipynb").exists()


def full_disk(monkeypatch) -> None:
    """Every fresh copy fails as on a full disk."""

    def put_new(fresh, path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(workspace_record, "_put_new", put_new)


def test_lab_starts_when_a_missing_chapter_cannot_be_copied(tmp_path, monkeypatch, capsys):
    """F2: one missing copy and a full disk (or a folder not writable): lab ended on the error,
    so the learner could not open the copies that were there, even to free some space."""
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    (ws.folder / "00_welcome.ipynb").unlink()
    full_disk(monkeypatch)
    out = lab(ws, monkeypatch, capsys)  # (reaches the exec of JupyterLab)
    assert "could not copy chapters/00_welcome.ipynb" in out and "No space left on device" in out
    assert "Free some space" in out and "JupyterLab starts on the copies that are there" in out
    assert ".backups" not in out


def test_a_failed_sync_does_not_speak_of_backups(tmp_path, monkeypatch, capsys):
    """F3: every error of sync, lab and status ended "a copy is moved to .backups/ before a
    fresh one replaces it", though they move nothing."""
    ws = Workspace.of(make_course(tmp_path))
    full_disk(monkeypatch)
    assert main(["--course", str(tmp_path), "sync"]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and ".backups" not in err
    assert not (ws.folder / "00_welcome.ipynb").exists()


def unreadable(monkeypatch, folder: Path) -> None:
    """``folder`` reads as chmod 000 to os.access (the tests may run as root)."""
    real = os.access

    def access(path, mode, *args, **kwargs):
        if Path(path) == folder and mode & os.R_OK:
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


def test_an_unreadable_workspace_is_one_error_with_its_fix(tmp_path, monkeypatch, capsys):
    """F3: status of a workspace chmod 000 named a hidden file (.course.json) and spoke of
    .backups/; reset printed two errors. Now one line, naming the folder and the chmod."""
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    unreadable(monkeypatch, ws.folder)
    for command in (["status"], ["reset", "01"], ["sync"]):
        assert main(["--course", str(tmp_path), *command]) != 0
        err = capsys.readouterr().err
        assert err.count("error:") == 1 and ".backups" not in err, command
        assert f"chmod u+rwx '{ws.folder}'" in err


def no_backups_folder(monkeypatch, blocked: Path) -> None:
    """Making a reset's backup folder fails on ``blocked`` (EACCES), as in a folder not writable."""

    def refused(workspace):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(blocked))

    monkeypatch.setattr(workspace_reset, "new_backup_folder", refused)


def edited_workspace(tmp_path: Path) -> Workspace:
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    (ws.folder / CHAPTER).write_text(MINE)
    return ws


def test_a_reset_refused_by_the_learners_read_only_workspace_says_the_chmod(tmp_path, monkeypatch, capsys):
    """F4a: reset in a workspace chmod 555 said "Permission denied: '…/.backups'" (a folder not
    there yet) with no fix; lab itself says `chmod u+w` of the folder."""
    ws = edited_workspace(tmp_path)
    no_backups_folder(monkeypatch, ws.folder / ".backups")
    real = os.access

    def access(path, mode, *args, **kwargs):
        return not (Path(path) == ws.folder and mode & os.W_OK) and real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    assert main(["--course", str(tmp_path), "reset", "01"]) == 1
    err = capsys.readouterr().err
    assert f"`chmod u+w '{ws.folder}'`" in err
    assert (ws.folder / CHAPTER).read_text() == MINE


def test_a_reset_in_a_workspace_of_another_user_names_the_folder_to_chown(tmp_path, monkeypatch, capsys):
    """F4b: `sudo make lab` left the folder and its files root's: the chown printed named the
    one file in the error, and the reset still failed on the folder after it."""
    ws = edited_workspace(tmp_path)
    no_backups_folder(monkeypatch, ws.folder / CHAPTER)
    monkeypatch.setattr(os, "getuid", lambda: os.stat(ws.folder).st_uid + 4242)  # all is another's
    assert main(["--course", str(tmp_path), "reset", "01"]) == 1
    err = capsys.readouterr().err
    assert f"""`sudo chown -R "$USER" '{ws.folder}'`""" in err
    assert f"chown -R \"$USER\" '{ws.folder / CHAPTER}'" not in err


def test_lab_says_a_copy_that_cannot_be_read_needs_read_access(tmp_path, monkeypatch, capsys):
    """F4d: a copy chmod 000 was "read-only … `chmod u+w` lets it": u+w left it unreadable."""
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    locked = ws.folder / CHAPTER
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, *a, **k: Path(p) != locked and real(p, m, *a, **k))
    out = lab(ws, monkeypatch, capsys)
    assert f"`chmod u+rw '{locked}'` lets it" in out


def test_a_digit_that_is_no_number_is_an_unknown_chapter(tmp_path):
    """F8: `reset '³'` said "invalid literal for int() with base 10" ('³'.isdigit() is True)."""
    ws = Workspace.of(make_course(tmp_path))
    with pytest.raises(ValueError, match="chapter must be 'all', a number such as 03"):
        ws.select("³")
    assert ws.select("０１") == [CHAPTER]


def dead_pid() -> int:
    """The PID of a process that has ended."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_a_fresh_copy_left_by_a_killed_reset_is_removed_and_anything_else_kept(tmp_path):
    """F6: a reset killed while writing the fresh copy left `.fresh-<pid>/` (a full chapter,
    hidden) in the workspace for ever. The next status removes it when its process is gone and
    it holds only the course's bytes; a folder holding anything else stays as it is."""
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    stale, other = ws.folder / f".fresh-{dead_pid()}", ws.folder / f".fresh-{dead_pid()}"
    for stage in (stale, other):
        stage.mkdir()
        (stage / CHAPTER).write_bytes((ws.chapters / CHAPTER).read_bytes())
        (stage / f".{CHAPTER}.{stage.name[7:]}.tmp").write_text("{")  # a write cut short
    (other / "02_positional_encoding.ipynb").write_text(MINE)  # not the course's: kept
    ws.status()
    assert not stale.exists()
    assert (other / "02_positional_encoding.ipynb").read_text() == MINE
    mine = ws.folder / f".fresh-{os.getpid()}"  # a running process's: left to it
    mine.mkdir()
    ws.status()
    assert mine.is_dir()


@needs_git
def test_a_course_update_pulled_by_its_address_is_not_a_commit_of_yours(tmp_path, capsys):
    """F5: `git pull <course address> main` leaves origin/main behind: every chapter the update
    changed read "changed by a commit of yours", one it removed "deleted by a commit of yours",
    and the advice printed restored the old course version, undoing the update."""
    author, course = author_and_clone(tmp_path)
    (author / "chapters" / CHAPTER).write_text(notebook("the course, improved"))
    git(author, "rm", "-q", "chapters/02_positional_encoding.ipynb", "chapters/02_positional_encoding.py")
    git(author, "commit", "-qam", "course update")
    git(course, "pull", "-q", "--no-rebase", str(author), "main")
    states = Workspace.of(course).status()
    assert states[CHAPTER] == "newer in the course"
    assert states["02_positional_encoding.ipynb"].startswith("no longer in the course")
    assert "a commit of yours" not in status_of(course, capsys)


def test_the_newest_backup_is_the_last_written_whatever_the_time_zone(tmp_path):
    """F10: backup folders are named in local time: after a change of time zone, an older
    backup (named in Tokyo's time) sorted after a newer one (named in UTC), and status named
    it as "your newest backup"."""
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    (ws.folder / CHAPTER).unlink()
    older, newer = (ws.folder / ".backups" / stamp for stamp in ("20261208-084000", "20261207-234000"))
    for folder, text, when in ((older, "V1", 1_000_000), (newer, "V2", 2_000_000)):
        folder.mkdir(parents=True)
        (folder / CHAPTER).write_text(notebook(text))
        os.utime(folder, (when, when))
    assert newest_backup(ws.folder, CHAPTER) == newer / CHAPTER
    assert str(newer / CHAPTER) in ws.status()[CHAPTER]  # (no copy: deleted from the workspace)


@needs_git
def test_the_readmes_git_clean_keeps_what_make_clean_keeps(tmp_path):
    """F9: the README offered `git clean -fdx -e /workspace/` beside `make clean`, but it
    deleted the checkpoint and the .sync-backup/ copies that `make clean` and `make sync` keep."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    command = "git clean -fdx -e /workspace/ -e /chapters/.sync-backup/ -e .ipynb_checkpoints/"
    assert f"`{command}`" in readme
    _, course = author_and_clone(tmp_path)
    kept = [
        course / "chapters" / ".sync-backup" / "20261207-120000" / CHAPTER,
        course / "chapters" / ".ipynb_checkpoints" / "01_embeddings-checkpoint.ipynb",
        course / "workspace" / CHAPTER,
    ]
    for path in kept[:2]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(MINE)
    (course / "build").mkdir()
    git(course, *command.split()[1:])
    assert all(path.exists() for path in kept) and not (course / "build").exists()


@needs_git
def test_in_a_git_clone_reset_all_backs_up_only_what_the_learner_changed(tmp_path):
    """Where git vouches for the version copied, an outdated copy the learner never changed is
    replaced without a backup; only the learner's changed copy goes to .backups/."""
    author, course = author_and_clone(tmp_path)
    ws = Workspace.of(course)
    ws.sync()
    (ws.folder / "02_positional_encoding.ipynb").write_text(notebook("my own notes"))
    (author / "chapters" / "00_welcome.ipynb").write_text(notebook("the course, improved"))
    git(author, "commit", "-qam", "a better chapter")
    git(course, "pull", "-q")
    done = dict(ws.reset("all"))
    assert [n for n, b in done.items() if b] == ["02_positional_encoding.ipynb"]
    assert set(ws.status().values()) == {"as shipped"}
