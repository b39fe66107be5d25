"""A checker run right after the learner's cell failed to define their function again.

A real IPython shell runs the cells as a notebook would: the learner's right answer, then the
same cell with a bracket left open (it compiles to nothing, so the name keeps the right
answer), then the check. The check must say the cell failed, not "passed". Where the failed
cell did define the function (a line after the def raised), or the check's own cell defines
it anew, or the failure was in another cell, the check runs as usual.
"""

import pytest
from IPython.core.interactiveshell import InteractiveShell
from transformer_course import checks
from transformer_course.checks.harness import every_input

RIGHT = "def my_scores(q, k):\n    return q @ k.transpose(-2, -1)\n"
BROKEN = "def my_scores(q, k):\n    return q @ k.transpose(-2, -1\n"  # a bracket left open
CHECK = "verdict = checks.check_attention_scores(my_scores)"


@pytest.fixture
def shell():
    shell = InteractiveShell.instance()
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
    wrong = "def my_scores(q, k):\n    return q @ k.transpose(-2, -1) / 2\n"
    verdict = run(shell, wrong, BROKEN, CHECK)
    assert verdict.status == checks.ERROR and "stopped with SyntaxError" in verdict.message


def test_outside_ipython_checks_run_as_before():
    verdict = checks.check_attention_scores(lambda q, k: q @ k.transpose(-2, -1))
    assert verdict.passed
    with pytest.raises(ValueError, match="learner_fn"):
        checks.check_attention_scores("not a function")


def test_every_checker_is_wrapped_and_keeps_its_name():
    for ex in checks.EXERCISES:
        assert ex.check.__name__ == f"check_{ex.name}"
        assert ex.check.__wrapped__ is not None  # learner_check's functools.wraps


@pytest.mark.parametrize(
    ("count", "said"), [(1, "its one input"), (2, "both inputs"), (3, "all 3 inputs"), (7, "all 7 inputs")]
)
def test_a_pass_says_how_many_inputs_in_words(count, said):
    assert every_input(count) == said


def test_train_step_passes_with_what_it_ran():
    from transformer_course.checks.train_step import step_solution

    message = checks.check_train_step(step_solution).message
    assert "three batches in a row" in message and "SGD" in message and "Adam" in message
