"""Every verdict names the learner's function as their notebook does (my_softmax), not only
"not attempted": a learner looks for that name in their cells."""

import torch
from transformer_course import checks


def my_softmax(x):
    return torch.softmax(x, dim=-1) * 2  # wrong by a factor no mistake names


def my_softmax_raises(x):
    return x[99, 99]  # IndexError on every input the checker gives


def my_softmax_exits(x):
    raise SystemExit(0)


def test_a_wrong_answer_is_named_as_the_learner_named_it():
    result = checks.check_softmax(my_softmax)
    assert not result.passed
    assert result.message.startswith("my_softmax differs from the reference"), result.message


def test_an_error_is_named_as_the_learner_named_it():
    result = checks.check_softmax(my_softmax_raises)
    assert "my_softmax_raises raised IndexError" in result.message, result.message


def test_exit_is_named_as_the_learner_named_it():
    result = checks.check_softmax(my_softmax_exits)
    assert result.message.startswith("my_softmax_exits called exit()"), result.message


def test_a_function_named_otherwise_is_called_by_the_exercise():
    def f(x):
        return torch.softmax(x, dim=-1) * 2

    result = checks.check_softmax(f)
    assert result.message.startswith("softmax differs from the reference"), result.message
    result = checks.check_softmax(lambda x: torch.softmax(x, dim=-1) * 2)
    assert result.message.startswith("softmax differs from the reference"), result.message
