"""A checker run after the learner's cell failed to define their function again.

A real IPython shell runs the cells as a notebook would: the learner's right answer, then the
same cell with a bracket left open (it compiles to nothing, so the name keeps the right
answer), then the check. The check must say the cell failed, not "passed", however many
cells ran in between. Where the failed cell did define the function (a line after the def
raised), or the check's own cell defines it anew, or the function comes from elsewhere (a
module, a cell magic), or the failure was in another cell, the check runs as usual.
"""

import pytest
from ipykernel.compiler import XCachingCompiler
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config
from transformer_course import checks
from transformer_course.checks.harness import every_input
from transformer_course.checks.stale import learner_check

RIGHT = "def my_scores(q, k):\n    return q @ k.transpose(-2, -1)\n"
WRONG = "def my_scores(q, k):\n    return q @ k.transpose(-2, -1) / 2\n"
BROKEN = "def my_scores(q, k):\n    return q @ k.transpose(-2, -1\n"  # a bracket left open
CHECK = "verdict = checks.check_attention_scores(my_scores)"


@pytest.fixture
def shell():
    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # no history thread, nothing written to ~/.ipython
    shell = InteractiveShell.instance(config=config)
    shell.user_ns["checks"] = checks
    yield shell
    InteractiveShell.clear_instance()  # get_ipython() is None again for the other tests


def run(shell, *cells: str):
    for cell in cells:
        shell.run_cell(cell, store_history=True, silent=False)
    return shell.user_ns["verdict"]


def test_a_check_after_a_cell_that_failed_to_compile_names_the_failure(shell):
    verdict = run(shell, RIGHT, BROKEN, CHECK)
    assert verdict.status == checks.ERROR and not verdict.passed
    assert "my_scores stopped with SyntaxError" in verdict.message
    assert "Mend that cell and run it" in verdict.message


def test_the_same_check_passes_once_the_cell_is_mended(shell):
    assert run(shell, RIGHT, BROKEN, CHECK, RIGHT, CHECK).passed


def test_a_def_that_ran_before_a_later_line_raised_is_checked(shell):
    # The def ran: the function is the one on the screen, even though the cell then failed.
    verdict = run(shell, RIGHT + "my_scores(1)\n", CHECK)
    assert verdict.passed


def test_a_failed_cell_about_something_else_changes_nothing(shell):
    assert run(shell, RIGHT, "1 / 0", CHECK).passed
    assert run(shell, RIGHT, "def other(:\n    pass\n", CHECK).passed


def test_a_check_cell_that_defines_the_function_anew_is_checked(shell):
    assert run(shell, BROKEN, RIGHT + CHECK).passed


def test_a_wrong_answer_after_a_failed_cell_of_its_own_is_still_refused_as_stale(shell):
    verdict = run(shell, WRONG, BROKEN, CHECK)
    assert verdict.status == checks.ERROR and "stopped with SyntaxError" in verdict.message


def test_outside_ipython_checks_run_as_before():
    verdict = checks.check_attention_scores(lambda q, k: q @ k.transpose(-2, -1))
    assert verdict.passed
    with pytest.raises(ValueError, match="learner_fn"):
        checks.check_attention_scores("not a function")


def test_every_checker_is_wrapped_and_keeps_its_name():
    for ex in checks.EXERCISES:
        assert ex.check.__name__ == f"check_{ex.name}"
        assert ex.check.__code__ is learner_check(lambda f: None).__code__  # wrapped by learner_check


@pytest.mark.parametrize(
    ("count", "said"), [(1, "its one input"), (2, "both inputs"), (3, "all 3 inputs"), (7, "all 7 inputs")]
)
def test_a_pass_says_how_many_inputs_in_words(count, said):
    assert every_input(count) == said


def test_train_step_passes_with_what_it_ran():
    from transformer_course.checks.train_step import step_solution

    message = checks.check_train_step(step_solution).message
    assert "three batches in a row" in message and "SGD" in message and "Adam" in message


def test_a_check_run_twice_after_a_failed_cell_still_refuses(shell):
    assert run(shell, RIGHT, BROKEN, CHECK, CHECK).status == checks.ERROR


def test_a_cell_run_between_the_failed_cell_and_the_check_changes_nothing(shell):
    assert run(shell, RIGHT, BROKEN, "print(1)", CHECK).status == checks.ERROR


def test_a_front_ends_silent_request_between_changes_nothing(shell):
    run(shell, RIGHT, BROKEN, "verdict = None")
    shell.run_cell("x = 1", silent=True)  # VS Code's Variables view, variable inspectors
    assert run(shell, CHECK).status == checks.ERROR


def test_a_decorated_def_that_ran_before_a_later_line_raised_is_checked(shell):
    shell.user_ns["torch"] = __import__("torch")
    # enable_grad, not no_grad: scores computed without gradients are named (round 42b)
    assert run(shell, RIGHT, "@torch.enable_grad()\n" + RIGHT + "my_scores(1, 2)\n", CHECK).passed


def test_a_def_under_a_cell_magic_is_checked(shell):
    verdict = run(shell, RIGHT, "%%time\n" + WRONG + "my_scores(1, 2)\n", CHECK)
    assert verdict.status == checks.WRONG


def test_a_function_imported_in_the_check_cell_is_checked(shell, tmp_path, monkeypatch):
    (tmp_path / "mine.py").write_text(RIGHT)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert run(shell, BROKEN, "from mine import my_scores\n" + CHECK).passed


def test_ipykernels_cell_names_are_followed(shell):
    shell.compile = XCachingCompiler()  # a cell's code name is a hash of its text, as in Jupyter
    assert run(shell, RIGHT, BROKEN, CHECK).status == checks.ERROR
    assert run(shell, RIGHT + "my_scores(1)\n", CHECK).passed
