"""The contract every registered exercise keeps, tested once for all of them.

For each exercise in ``checks.EXERCISES``: the worked solution and every correct alternative
pass; each catalogued mistake's learner-style example gets its own hint and no other; the
starter reports "not attempted"; the global random state is untouched; an exception is
reported by name; changing the inputs in place, a wrong shape or a wrong value are handled.
A new exercise is covered as soon as it is registered. Exercise-specific tests are at the end.
"""

import inspect

import pytest
import torch
from transformer_course import checks
from transformer_course.checks import ERROR, EXERCISES, NOT_ATTEMPTED, WRONG
from transformer_course.checks.generation import CountingModel

ALTERNATIVES = [
    pytest.param(ex, fn, id=f"{ex.name}: {name}") for ex in EXERCISES for name, fn in ex.alternatives.items()
]
MISTAKES = [pytest.param(ex, m, id=f"{ex.name}: {m.name}") for ex in EXERCISES for m in ex.mistakes]
each_exercise = pytest.mark.parametrize("ex", EXERCISES, ids=lambda ex: ex.name)


def map_tensors(fn, out):
    """``fn`` applied to every tensor of an output (a tensor, or a tuple/list of them)."""
    if isinstance(out, tuple | list):
        return type(out)(map_tensors(fn, o) for o in out)
    return fn(out) if isinstance(out, torch.Tensor) else out


def test_the_registry_is_complete():
    names = [ex.name for ex in EXERCISES]
    assert len(set(names)) == len(names)
    exported = {n for n in checks.__all__ if n.startswith("check_") and n not in ("check_function",)}
    assert exported - {"check_then_batch"} == {f"check_{n}" for n in names}
    assert [ex.chapter for ex in EXERCISES] == sorted(ex.chapter for ex in EXERCISES)
    assert checks.exercise("softmax") is next(ex for ex in EXERCISES if ex.name == "softmax")
    with pytest.raises(ValueError, match="name must be one of"):
        checks.exercise("softmaks")


@each_exercise
def test_the_catalogue_is_well_formed(ex):
    assert getattr(checks, f"check_{ex.name}") is ex.check
    assert ex.alternatives and ex.mistakes
    names = [m.name for m in ex.mistakes]
    assert all(names) and len(set(names)) == len(names)
    for m in ex.mistakes:
        assert m.hint and m.example is not None and m.example is not m.compute, m.name
    # The starter has the solution's signature, so the chapter's cell and the checker agree.
    assert list(inspect.signature(ex.starter).parameters) == list(inspect.signature(ex.solution).parameters)


@each_exercise
def test_the_solution_passes(ex):
    result = ex.check(ex.solution)
    assert result.passed, result.message
    assert ex.name in result.message


@pytest.mark.parametrize(("ex", "fn"), ALTERNATIVES)
def test_each_correct_alternative_passes(ex, fn):
    result = ex.check(fn)
    assert result.passed, result.message


@pytest.mark.filterwarnings("ignore:The use of `x.T`:UserWarning")  # k.T on a batch, on purpose
@pytest.mark.parametrize(("ex", "mistake"), MISTAKES)
def test_each_mistake_gets_its_own_hint_and_no_other(ex, mistake):
    result = ex.check(mistake.example)
    assert result.status == WRONG and mistake.hint in result.message, result.message
    others = {m.hint for m in ex.mistakes} - {mistake.hint}
    assert not [h for h in others if h in result.message]


@each_exercise
def test_the_starter_is_reported_as_not_attempted(ex):
    result = ex.check(ex.starter)  # does not raise
    assert result.status == NOT_ATTEMPTED and ex.name in result.message
    assert "not attempted" in result._repr_html_()


@each_exercise
def test_a_check_leaves_the_global_random_state_alone(ex):
    def draws_randomly(*args):
        torch.rand(5)  # e.g. dropout, or sampling where greedy was asked
        return ex.solution(*args)

    before = torch.get_rng_state()
    for fn in (ex.solution, ex.starter, draws_randomly, ex.mistakes[0].example):
        ex.check(fn)
    assert torch.equal(torch.get_rng_state(), before)


@each_exercise
def test_an_exception_is_reported_by_name(ex):
    class LearnerBug(Exception):
        pass

    def broken(*args):
        raise LearnerBug("index 7 is out of range")

    result = ex.check(broken)
    assert result.status == ERROR and "LearnerBug" in result.message and "index 7" in result.message


@each_exercise
def test_changing_the_inputs_in_place_cannot_spoil_the_check(ex):
    def vandal(*args):
        out = map_tensors(torch.clone, ex.solution(*args))
        with torch.no_grad():
            for arg in args:
                if isinstance(arg, torch.Tensor):
                    arg.fill_(3)
                elif isinstance(arg, torch.nn.Module):
                    for p in arg.parameters():
                        p.fill_(0.5)
        return out

    result = ex.check(vandal)
    assert result.passed, result.message


@each_exercise
def test_a_wrong_shape_is_explained(ex):
    result = ex.check(lambda *args: map_tensors(lambda t: t.unsqueeze(0), ex.solution(*args)))
    assert result.status == WRONG and "shape" in result.message, result.message


@each_exercise
def test_an_unknown_mistake_says_where_it_differs(ex):
    result = ex.check(lambda *args: map_tensors(lambda t: t + 1, ex.solution(*args)))
    assert result.status == WRONG, result.message
    assert "differs from the reference on input #1" in result.message
    assert "largest difference" in result.message


# --- Exercise-specific ---


def test_attention_names_what_it_got_instead_of_a_pair():
    result = checks.check_attention(lambda *a: {"output": 1})
    assert result.status == WRONG and result.message.endswith("got dict.")


def test_a_batch_only_failure_keeps_the_details():
    result = checks.check_attention_scores(lambda q, k: q @ k.permute(*reversed(range(k.dim()))))
    assert result.status == WRONG and "k.T reverses ALL" in result.message
    assert "raised RuntimeError on input #1" in result.message


def test_greedy_reports_a_prefix_without_its_batch_dimension():
    result = checks.check_greedy_decode(lambda f, p, n, e: f(p))  # forgot the batch dimension
    assert result.status == ERROR and "(1, t)" in result.message


def test_the_fake_model_depends_on_history_and_stops():
    model = CountingModel(stop_at=4)
    a = model(torch.tensor([[3, 5, 2]]))[0, -1].argmax()
    b = model(torch.tensor([[5, 3, 2]]))[0, -1].argmax()
    assert a != b  # order of the history matters
    assert model(torch.tensor([[3, 5, 2, 4]]))[0, -1].argmax() == model.eos_id
    # causal: earlier rows do not change when a token is appended
    assert torch.equal(model(torch.tensor([[3, 5, 2, 4]]))[0, :3], model(torch.tensor([[3, 5, 2]]))[0])
