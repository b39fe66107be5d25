"""Round 43 of a learner's weeks with the course, each case seen to mislead or lose work before
its fix: an edit (or deletion) of chapters/ the learner committed (git then shows no edit, and
the learner's version read as the course's newer one), the hub's notice of a chapter the course
renamed, and odd states met along the way: two chapters of one number, a chapter typed as a
path, a copy saved while sync reads it, a read-only copy, a record edited by hand, and
chapters/ itself given as the workspace."""

import os
import subprocess
from pathlib import Path

import pytest
from course_folder import (
    GIT_ENV,
    author_and_clone,
    commit_mine,
    git,
    lab,
    make_course,
    needs_git,
    notebook,
    status_of,
)
from transformer_course.workspace import Workspace, main

COMMITTED_HERE = "changed by a commit of yours in chapters/"

CHAPTER = "01_embeddings.ipynb"


@pytest.fixture
def clone(tmp_path):
    """(author's course, learner's clone): the learner has run `make lab` once; `git pull` merges."""
    return author_and_clone(tmp_path, pull_rebase="false")


def follow_advice(course: Path, out: str) -> None:
    """Each command line ``out`` prints (indented), typed by the learner in the course folder."""
    advice = [line for line in out.splitlines() if line.startswith("  ") and not line.startswith("  (")]
    assert advice, out
    for line in advice:
        run = subprocess.run(
            ["bash", "-c", line], cwd=course, env=dict(os.environ, **GIT_ENV), capture_output=True, text=True
        )
        assert run.returncode == 0, f"{line}\n{run.stdout}\n{run.stderr}"


@needs_git
@pytest.mark.parametrize("rebase", ["false", "true"])
def test_a_committed_edit_of_chapters_is_said_to_be_the_learners_and_can_be_kept(
    clone, monkeypatch, capsys, rebase
):
    """The learner edited chapters/01 and committed it: git showed no edit, and status called
    their version "newer in the course" (reset would copy it as the course's). It is theirs,
    the advice keeps it, and the course's next version of 01 is pulled without a conflict,
    whether `git pull` merges or rebases."""
    author, course = clone
    git(course, "config", "pull.rebase", rebase)
    mine = commit_mine(course)
    monkeypatch.chdir(course)
    out = status_of(course, capsys)
    line = next(x for x in out.splitlines() if x.startswith(CHAPTER))
    assert COMMITTED_HERE in line and "newer in the course" not in line
    follow_advice(course, out)
    assert (course / "workspace" / "01_embeddings-mine.ipynb").read_text() == mine
    assert git(course, "status", "--porcelain").stdout == ""
    assert Workspace.of(course).status()[CHAPTER] == "as shipped"
    improved = notebook("the course, improved")
    (author / "chapters" / CHAPTER).write_text(improved)
    git(author, "commit", "-qam", "a better chapter")
    git(course, "pull", "-q", "--no-edit")  # no conflict
    assert (course / "chapters" / CHAPTER).read_text() == improved
    assert Workspace.of(course).status()[CHAPTER] == "newer in the course"


@needs_git
def test_a_committed_edit_beside_other_work_keeps_that_work_and_pulls(clone, monkeypatch, capsys):
    """The learner's commit holds notes of their own besides chapters/01: the advice commits the
    course's version of 01 back, keeping the notes, and a `git pull` merges the course's next 01."""
    author, course = clone
    mine = notebook("mine, with my notes")
    (course / "chapters" / CHAPTER).write_text(mine)
    (course / "my_notes.md").write_text("notes of mine\n")
    git(course, "add", "-A")
    git(course, "commit", "-qm", "mine")
    monkeypatch.chdir(course)
    follow_advice(course, status_of(course, capsys))
    assert (course / "workspace" / "01_embeddings-mine.ipynb").read_text() == mine
    assert "my_notes.md" in git(course, "ls-files").stdout
    assert git(course, "status", "--porcelain").stdout == ""
    (author / "chapters" / CHAPTER).write_text(notebook("the course, improved"))
    git(author, "commit", "-qam", "a better chapter")
    git(course, "pull", "-q", "--no-edit")
    assert Workspace.of(course).status()[CHAPTER] == "newer in the course"


@needs_git
def test_with_pull_rebase_the_advice_says_the_pull_that_merges(clone, monkeypatch, capsys):
    """The review's finding: with pull.rebase=true, a plain `git pull` after the restore commit
    replayed the learner's commit onto the course's update and stopped in conflict; the advice
    names `git pull --no-rebase`, which merges."""
    author, course = clone
    git(course, "config", "pull.rebase", "true")
    (course / "chapters" / CHAPTER).write_text(notebook("mine, with my notes"))
    (course / "my_notes.md").write_text("notes of mine\n")
    git(course, "add", "-A")
    git(course, "commit", "-qm", "mine")
    monkeypatch.chdir(course)
    out = status_of(course, capsys)
    assert "git pull --no-rebase" in out, out
    follow_advice(course, out)
    (author / "chapters" / CHAPTER).write_text(notebook("the course, improved"))
    git(author, "commit", "-qam", "a better chapter")
    git(course, "pull", "-q", "--no-rebase", "--no-edit")
    assert Workspace.of(course).status()[CHAPTER] == "newer in the course"


@needs_git
def test_a_hub_notice_does_not_offer_the_learners_own_commit_as_a_course_update(clone, capsys):
    author, course = clone
    commit_mine(course)
    assert main(["--course", str(course), "sync", "--notice"]) == 0
    assert not (course / "workspace" / "COURSE-UPDATES.md").exists()


@needs_git
def test_a_copy_taken_from_a_committed_edit_is_the_learners_once_chapters_is_restored(
    clone, monkeypatch, capsys
):
    """The copy was missing when the learner's commit was in chapters/: sync copied their
    version and recorded it as the course's. Once chapters/ had the course's version again,
    the copy read "newer in the course, you had not changed yours", and reset replaced it
    without a backup."""
    author, course = clone
    mine = commit_mine(course)
    (course / "workspace" / CHAPTER).unlink()
    assert CHAPTER in Workspace.of(course).sync()
    monkeypatch.chdir(course)
    out = status_of(course, capsys)
    follow_advice(course, out)
    ws = Workspace.of(course)
    assert ws.status()[CHAPTER] == "changed by you"
    (course / "workspace" / "01_embeddings-mine.ipynb").unlink()
    [(name, backup)] = ws.reset("01")
    assert backup is not None and backup.read_text() == mine


@needs_git
def test_reset_of_a_committed_chapter_says_whose_version_it_copied(clone, capsys):
    author, course = clone
    commit_mine(course)
    assert main(["--course", str(course), "reset", "01"]) == 0
    out = capsys.readouterr().out
    assert "holds the edits made in chapters/ itself" in out and "restore --source=" in out


@needs_git
def test_without_an_upstream_a_commit_is_the_courses_version(tmp_path):
    """An author's own checkout (no upstream): a commit to chapters/ is the course's new version."""
    course = make_course(tmp_path)
    (course / ".gitignore").write_text("/workspace/\n")
    git(course, "init", "-q", "-b", "main")
    git(course, "add", "-A")
    git(course, "commit", "-qm", "course")
    Workspace.of(course).sync()
    commit_mine(course, "the author's next version")
    assert Workspace.of(course).status()[CHAPTER] == "newer in the course"


def notice_of(course: Path, capsys) -> str:
    """`sync --notice`, a JupyterHub's start hook: the notice it leaves in the workspace."""
    assert main(["--course", str(course), "sync", "--notice"]) == 0
    capsys.readouterr()
    path = course / "workspace" / "COURSE-UPDATES.md"
    return path.read_text() if path.exists() else ""


@needs_git
def test_the_hub_notice_names_a_chapter_the_course_renamed_and_its_new_name(clone, capsys):
    """The course renamed chapter 01 and renumbered it: the learner's copy stays under the old
    name (status: no longer in the course), and the hub's notice said nothing of it."""
    author, course = clone
    git(author, "mv", "chapters/01_embeddings.ipynb", "chapters/04_token_embeddings.ipynb")
    git(author, "mv", "chapters/01_embeddings.py", "chapters/04_token_embeddings.py")
    git(author, "commit", "-qm", "renamed")
    git(course, "pull", "-q")
    notice = notice_of(course, capsys)
    line = next(x for x in notice.splitlines() if CHAPTER in x)
    assert "renamed it `04_token_embeddings.ipynb`" in line
    assert "stays under its old name" in notice
    assert (course / "workspace" / "04_token_embeddings.ipynb").exists()
    assert "renamed 04_token_embeddings.ipynb" in Workspace.of(course).status()[CHAPTER]
    (course / "workspace" / CHAPTER).rename(course / "workspace" / "01_my_embeddings.ipynb")
    assert notice_of(course, capsys) == ""  # the learner moved their copy: nothing to say


def test_the_hub_notice_of_a_course_without_git_names_the_chapter_of_the_same_number(tmp_path, capsys):
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    mine = (ws.folder / CHAPTER).read_text()
    (ws.chapters / CHAPTER).rename(ws.chapters / "01_token_embeddings.ipynb")  # a new tarball
    (ws.chapters / "02_positional_encoding.ipynb").unlink()
    notice = notice_of(tmp_path, capsys)
    assert "`01_embeddings.ipynb`: the course has a chapter of its number now, `01_token_embeddings" in notice
    assert "`02_positional_encoding.ipynb`: the course no longer has it" in notice
    assert (ws.folder / CHAPTER).read_text() == mine


def two_chapters_02(tmp_path: Path) -> Workspace:
    """A course with two chapters numbered 02 (an author's draft beside it, say), 02 newer."""
    ws = Workspace.of(make_course(tmp_path))
    (ws.chapters / "02_extra.ipynb").write_text(notebook("extra"))
    ws.sync()
    (ws.chapters / "02_positional_encoding.ipynb").write_text(notebook("the course, improved"))
    return ws


def test_the_reset_status_prints_for_one_of_two_chapters_of_a_number_works(tmp_path, capsys):
    """Status said `… reset 02` to get the newer 02_positional_encoding, and reset refused it:
    "could be any of 02_extra, 02_positional_encoding"."""
    ws = two_chapters_02(tmp_path)
    out = status_of(tmp_path, capsys)
    typed = next(x for x in out.split("`") if " reset " in x).split(" reset ")[1]
    assert main(["--course", str(tmp_path), "reset", typed]) == 0
    assert ws.status()["02_positional_encoding.ipynb"] == "as shipped"


def test_the_hub_notice_for_one_of_two_chapters_of_a_number_gets_it(tmp_path, capsys):
    ws = two_chapters_02(tmp_path)
    notice = notice_of(tmp_path, capsys)
    line = next(x.strip() for x in notice.splitlines() if " reset " in x)
    run = subprocess.run(["bash", "-c", line], cwd=ws.folder, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert ws.status()["02_positional_encoding.ipynb"] == "as shipped"


@pytest.mark.parametrize("typed", ["workspace/01_embeddings.ipynb", "chapters/01_embeddings.py", "001"])
def test_reset_takes_a_chapter_as_a_tab_completes_it(tmp_path, typed):
    """`make reset CH=workspace/01_<Tab>` typed a path: reset answered "chapter must be …"."""
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    assert [name for name, _ in ws.reset(typed)] == [CHAPTER]


def test_a_copy_saved_while_sync_adopts_it_is_not_recorded_as_the_courses(tmp_path, monkeypatch):
    """The record was lost; sync found the copy as shipped and recorded its hash read a second
    time: JupyterLab's autosave in between made the learner's version "as shipped", and reset
    replaced it without a backup."""
    from transformer_course import workspace_sync

    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    (ws.folder / ".course.json").unlink()
    copy, mine, digest = ws.folder / CHAPTER, notebook("saved by JupyterLab meanwhile"), workspace_sync.digest

    def read_then_saved(path):
        found = digest(path)
        if path == copy and copy.read_text() != mine:
            copy.write_text(mine)  # the autosave, just after sync read the copy
        return found

    monkeypatch.setattr(workspace_sync, "digest", read_then_saved)
    ws.sync()
    monkeypatch.undo()
    assert ws.status()[CHAPTER] == "changed by you"
    [(name, backup)] = ws.reset("01")
    assert backup is not None and backup.read_text() == mine


def test_a_notice_mark_that_is_not_text_does_not_stop_the_notice(tmp_path, capsys):
    ws = updated_course(tmp_path)
    (ws.folder / ".course-updates.sha256").write_bytes(b"\xff\xfe cut short")
    assert CHAPTER in notice_of(tmp_path, capsys)


def updated_course(tmp_path: Path) -> Workspace:
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    (ws.chapters / CHAPTER).write_text(notebook("the course, improved"))
    return ws


@needs_git
def test_a_chapter_deleted_by_a_commit_of_the_learner_is_not_called_removed_by_the_course(
    clone, monkeypatch, capsys
):
    """`git rm chapters/01…` committed: status said "no longer in the course", as if the course
    had dropped it, and the uncommitted case's `git restore --source=HEAD` brings nothing back."""
    author, course = clone
    git(course, "rm", "-q", f"chapters/{CHAPTER}", "chapters/01_embeddings.py")
    git(course, "commit", "-qm", "not for me")
    state = Workspace.of(course).status()[CHAPTER]
    assert state.startswith("deleted from chapters/ by a commit of yours, not by the course")
    assert f"workspace: {CHAPTER}: deleted from chapters/ by a commit" in lab(
        Workspace.of(course), monkeypatch, capsys
    )
    subprocess.run(
        ["bash", "-c", state.split("`")[1]], cwd=course, env=dict(os.environ, **GIT_ENV), check=True
    )
    assert git(course, "status", "--porcelain").stdout == ""
    assert Workspace.of(course).status()[CHAPTER] == "as shipped"


def test_reset_of_a_chapter_the_course_renamed_names_its_new_name(tmp_path, capsys):
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    (ws.chapters / CHAPTER).rename(ws.chapters / "01_token_embeddings.ipynb")
    assert main(["--course", str(tmp_path), "reset", "01_embeddings"]) == 2
    assert "the course has a chapter of its number now, 01_token_embeddings.ipynb" in capsys.readouterr().err


def test_lab_names_a_read_only_copy_and_how_to_save_in_it_again(tmp_path, monkeypatch, capsys):
    """A copy the learner made read-only (chmod, an archive unpacked read-only): lab said
    nothing, and JupyterLab failed on every save of their work in it."""
    import stat

    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    (ws.folder / CHAPTER).chmod(0o444)

    def by_mode(path, mode):  # a learner's account, not root (whom no mode bit stops)
        return not (mode & os.W_OK) or bool(os.stat(path).st_mode & stat.S_IWUSR)

    monkeypatch.setattr(os, "access", by_mode)
    out = lab(ws, monkeypatch, capsys)
    line = next(x for x in out.splitlines() if "read-only" in x)
    assert CHAPTER in line and "00_welcome" not in line
    subprocess.run(["bash", "-c", line.split("`")[1]], check=True)
    assert "read-only" not in lab(ws, monkeypatch, capsys)


@needs_git
def test_lab_does_not_call_the_learners_commit_a_newer_chapter(clone, monkeypatch, capsys):
    author, course = clone
    commit_mine(course)
    out = lab(Workspace.of(course), monkeypatch, capsys)
    assert "the course has a newer" not in out
    assert f"{CHAPTER}: changed by a commit of yours in chapters/ itself" in out


def test_lab_says_once_that_it_ignores_a_record_edited_by_hand(tmp_path, monkeypatch, capsys):
    ws = Workspace.of(make_course(tmp_path))
    ws.sync()
    for name in ws.course_names():
        (ws.folder / name).write_text(notebook(f"mine: {name}"))
    (ws.folder / ".course.json").write_text('{"01_embeddings.ipynb": "abc",}\n')  # a trailing comma
    assert lab(ws, monkeypatch, capsys).count("ignoring") == 1


@pytest.mark.parametrize("how", ["flag", "link"])
def test_chapters_itself_is_refused_as_the_workspace(tmp_path, capsys, how):
    """`--workspace chapters`, or workspace/ linked to chapters/: the "copies" were the course's
    files, sync wrote its record into chapters/, and a reset of an edited chapter moved it out
    of chapters/ to .backups/."""
    course = make_course(tmp_path)
    args = ["--course", str(course)]
    if how == "flag":
        args += ["--workspace", str(course / "chapters")]
    else:
        (course / "workspace").symlink_to("chapters")
    before = sorted(p.name for p in (course / "chapters").iterdir())
    (course / "chapters" / CHAPTER).write_text(notebook("edited by the learner"))
    for command in (["sync"], ["reset", "01"], ["status"]):
        assert main([*args, *command]) == 2
        assert "is the course's chapters/ folder" in capsys.readouterr().err
    assert sorted(p.name for p in (course / "chapters").iterdir()) == before
    assert (course / "chapters" / CHAPTER).read_text() == notebook("edited by the learner")
