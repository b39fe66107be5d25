import torch
from transformer_course.checks import ERROR, NOT_ATTEMPTED, PASSED, WRONG, Mistake, check_function


def reference(x):
    return torch.softmax(x, dim=-1)


MISTAKES = [Mistake("softmax over the wrong axis", lambda x: torch.softmax(x, dim=0))]
CASES = [(torch.randn(3, 4),), (torch.randn(2, 5),)]


def run(fn):
    return check_function(fn, reference, CASES, name="softmax", mistakes=MISTAKES)


def test_reference_passes():
    assert run(reference).status == PASSED


def test_unattempted_does_not_raise():
    def learner(x):
        raise NotImplementedError

    result = run(learner)
    assert result.status == NOT_ATTEMPTED and "not attempted" in result._repr_html_()


def test_known_mistake_gets_its_hint():
    result = run(lambda x: torch.softmax(x, dim=0))
    assert result.status == WRONG and result.message == "softmax over the wrong axis"


def test_unknown_mistake_says_where():
    result = run(lambda x: torch.softmax(x, dim=-1) + 0.1)
    assert result.status == WRONG and "input #1" in result.message and "largest difference" in result.message
    assert "shape" in run(lambda x: x[0]).message


def test_exception_is_reported():
    result = run(lambda x: x @ torch.ones(7))
    assert result.status == ERROR and "RuntimeError" in result.message


def test_inputs_are_not_shared_with_the_learner():
    def vandal(x):
        out = torch.softmax(x, dim=-1)
        x.zero_()
        return out

    assert run(vandal).status == PASSED
