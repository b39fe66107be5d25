"""The harness itself: check_function, check_then_batch, same, describe_difference, Result,
mistakes recognised by value, by behaviour or by the error raised, and seeded calls.

Each exercise's checker is tested through the contract in test_exercises.py.
"""

from pathlib import Path

import pytest
import torch
from transformer_course import checks
from transformer_course.checks import (
    ERROR,
    NOT_ATTEMPTED,
    PASSED,
    WRONG,
    Mistake,
    Result,
    check_function,
    check_then_batch,
    describe_difference,
    same,
    varies_between_calls,
)


def reference(x):
    return torch.softmax(x, dim=-1)


MISTAKES = [Mistake("softmax over the wrong axis", lambda x: torch.softmax(x, dim=0))]
CASES = [(torch.randn(3, 4),), (torch.randn(2, 5),)]


def run(fn, mistakes=MISTAKES):
    return check_function(fn, reference, CASES, name="softmax", mistakes=mistakes)


def test_reference_passes():
    result = run(reference)
    assert result.status == PASSED and result.passed and "on both inputs" in result.message


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


def test_a_learner_fn_that_is_not_a_function_is_refused():
    with pytest.raises(ValueError, match="learner_fn must be a function, got Tensor"):
        run(torch.ones(3))


def test_inputs_are_not_shared_with_the_learner():
    def vandal(x):
        out = torch.softmax(x, dim=-1)
        x.zero_()
        return out

    assert run(vandal).status == PASSED


def test_modules_in_a_case_are_copied_for_every_call():
    layer = torch.nn.Linear(3, 2)

    def vandal(lin, x):
        out = lin(x)
        with torch.no_grad():
            lin.weight.zero_()
        return out

    cases = [(layer, torch.randn(4, 3)), (layer, torch.randn(2, 3))]
    with torch.no_grad():
        assert check_function(vandal, lambda lin, x: lin(x), cases, name="linear").passed
    assert layer.weight.abs().sum() > 0  # the case's own module was never touched


def test_the_global_random_state_is_restored():
    def draws(x):
        torch.randn(100)
        return reference(x)

    before = torch.get_rng_state()
    assert run(draws).passed
    assert torch.equal(torch.get_rng_state(), before)


def test_a_mistake_that_cannot_run_or_has_no_compute_is_skipped():
    mistakes = [
        Mistake("crashes", lambda x: x @ torch.ones(99)),
        Mistake("named elsewhere", None),
        *MISTAKES,
    ]
    assert run(lambda x: torch.softmax(x, dim=0), mistakes).message == "softmax over the wrong axis"
    assert "differs from the reference" in run(lambda x: x * 0, mistakes).message


def batch_check(fn):
    g = torch.Generator().manual_seed(0)
    single = [(torch.randn(3, 4, generator=g),)]
    batched = [(torch.randn(2, 3, 4, generator=g),)]
    return check_then_batch(
        fn,
        reference,
        single,
        batched,
        name="softmax",
        mistakes=MISTAKES,
        batch_mistake=Mistake("2-D only", None),
        passed="all good, batch included",
    )


def test_check_then_batch_names_an_idiom_that_works_in_2d_only():
    result = batch_check(lambda x: torch.softmax(x, dim=1))  # dim=1 is the last axis only in 2-D
    assert result.status == WRONG and result.message.startswith("2-D only (softmax differs")
    crash = batch_check(lambda x: reference(x) if x.dim() == 2 else x.view(7))
    assert crash.status == WRONG and "2-D only (softmax raised RuntimeError" in crash.message


def test_check_then_batch_passes_and_names_known_mistakes_directly():
    assert batch_check(reference) == Result(PASSED, "all good, batch included")
    assert batch_check(lambda x: torch.softmax(x, dim=0)).message == "softmax over the wrong axis"
    assert batch_check(lambda x: torch.softmax(x, dim=-1) * 2).message.startswith("softmax differs")


def test_same_compares_shapes_values_and_tuples():
    a = torch.tensor([1.0, float("nan")])
    assert same(a, a.clone()) and same(a.double(), a)  # NaN equals NaN; dtypes may differ
    assert not same(a[:1], a) and not same(a + 1e-3, a)
    assert same((a, 2), (a.clone(), 2)) and not same((a,), (a, a)) and not same(a, (a,))
    assert same(3, 3) and not same(torch.tensor(3), 3)


def test_describe_difference_says_kind_shape_inf_or_where():
    want = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert describe_difference("text", want) == "expected a tensor, got str"
    assert describe_difference(want[0], want) == "expected shape (2, 2), got (2,)"
    assert "inf or NaN" in describe_difference(want / 0, want)
    where = describe_difference(want + torch.tensor([[0.0, 0.0], [0.5, 0.0]]), want)
    assert where == "largest difference 0.5 at index (1, 0) (expected 3.0000, got 3.5000)"
    assert describe_difference(4, 3) == "expected 3, got 4"
    assert describe_difference(2.5, 2.0) == "expected 2, got 2.5"
    assert describe_difference(torch.tensor(2.0), 2.0) == "expected a number, got shape ()"
    cube = torch.zeros(2, 3, 4)
    bumped = cube.clone()
    bumped[1, 2, 3] = 1.0
    assert "at index (1, 2, 3)" in describe_difference(bumped, cube)
    nan = float("nan")  # NaN where the reference has NaN too is no difference
    assert "at index (1,)" in describe_difference(torch.tensor([nan, 2.0]), torch.tensor([nan, 1.0]))


def test_a_tuple_where_one_tensor_is_expected_names_the_right_item_or_the_shapes():
    want = torch.ones(2, 3)
    right = describe_difference((torch.zeros(4), want.clone()), want)
    assert right == "expected one tensor, got a tuple of 2; its item 1 is the right answer: return only that"
    wrong = describe_difference([torch.zeros(4), torch.zeros(2, 3)], want)
    assert wrong.startswith("expected one tensor of shape (2, 3), got a list of 2 (shape (4,), shape (2, 3))")
    assert "out, _ = …" in wrong


def test_describe_difference_inside_a_tuple_names_the_part():
    want = (torch.zeros(2), torch.ones(3))
    assert describe_difference(torch.zeros(5), want) == "expected a tuple of 2, got a Tensor"
    assert describe_difference([torch.zeros(2)], want) == "expected a tuple of 2, got a list of 1"
    message = describe_difference((torch.zeros(2), torch.ones(4)), want)
    assert message == (
        "item 1 of the tuple differs: expected shape (3,), got (4,); item 0 of the tuple is right"
    )
    parts = ("output", "weights")
    named = describe_difference((torch.ones(2), torch.ones(3)), want, parts=parts)
    assert named.startswith("the output (item 0) differs: largest difference 1")
    assert named.endswith("; the weights (item 1) is right")
    both = describe_difference((torch.ones(2), torch.zeros(3)), want, parts=parts)
    assert both.endswith("; the weights (item 1) differs too")
    alone = describe_difference(torch.ones(3), want, parts=parts)
    assert alone == (
        "expected a tuple of 2 (output, weights); you returned one tensor, which is the weights "
        "(item 1): return all 2"
    )
    swapped = describe_difference((torch.ones(3), torch.zeros(2)), want, parts=parts)
    assert swapped == "your two items are in the wrong order: return (output, weights)"


def test_same_compares_numbers_with_a_tolerance():
    assert same(1.0 + 1e-7, 1.0) and same(3, 3.0) and not same(1.1, 1.0)
    assert not same(torch.tensor(1.0), 1.0) and not same(True, 1.0) and not same(None, 1.0)


def test_a_named_check_passes_the_parts_names_to_the_message():
    def pair(x):
        return torch.softmax(x, dim=-1), x

    result = check_function(
        lambda x: (torch.softmax(x, dim=-1), x + 1), pair, CASES, name="pair", parts=("weights", "scores")
    )
    assert "the scores (item 1) differs" in result.message
    assert "the weights (item 0) is right" in result.message


def test_every_call_starts_from_the_same_seed():
    def noisy(x):
        return x + torch.randn(x.shape)

    assert check_function(noisy, noisy, CASES, name="noisy").passed  # same draws on both sides
    assert check_function(noisy, noisy, CASES, name="noisy", seed=3).passed
    other = check_function(noisy, lambda x: x + torch.randn(x.shape) * 2, CASES, name="noisy")
    assert other.status == WRONG


def test_a_mistake_can_be_recognised_by_behaviour():
    random = Mistake("draws random numbers", None, recognise=varies_between_calls)

    def noisy(x):
        return torch.softmax(x + torch.randn(x.shape), dim=-1)

    assert run(noisy, [random]).message == "draws random numbers"
    assert "differs from the reference" in run(lambda x: reference(x) * 2, [random]).message
    assert varies_between_calls(noisy, CASES[0]) and not varies_between_calls(reference, CASES[0])


def test_a_mistake_can_be_recognised_by_the_error_it_raises():
    shapes = Mistake("the product does not fit", None, error="cannot be multiplied")
    result = run(lambda x: x @ x, [shapes])  # (3, 4) @ (3, 4)
    assert result.status == WRONG
    assert result.message.startswith("the product does not fit (softmax raised RuntimeError on input #1")
    other = run(lambda x: x[99], [shapes])
    assert other.status == ERROR and other.message.startswith("softmax raised IndexError")


def test_a_recogniser_that_raises_does_not_apply():
    def broken(fn, case, got):
        raise KeyError("oops")

    mistakes = [Mistake("broken", None, recognise=broken), *MISTAKES]
    assert run(lambda x: torch.softmax(x, dim=0), mistakes).message == "softmax over the wrong axis"


def test_result_shows_as_a_coloured_box_with_escaped_text():
    box = Result(WRONG, "use <b> & dim=-1")._repr_html_()
    assert "&lt;b&gt; &amp; dim=-1" in box and "✘" in box
    assert "var(--tc-check-wrong, var(--jp-error-color1, #b91c1c))" in box
    assert "var(--tc-check-passed, var(--jp-success-color0, #15803d))" in Result(PASSED, "ok")._repr_html_()
    dark = (Path(checks.__file__).parents[1] / "static" / "course.css").read_text()
    assert all(f"--tc-check-{kind}:" in dark for kind in ("passed", "waiting", "wrong"))  # on dark
    assert str(Result(ERROR, "boom")) == "[error] boom" and not Result(ERROR, "boom").passed
