"""Round 44: a softmax whose values are right but carry no gradient (a math.exp loop rebuilt
with torch.tensor, .tolist(), NumPy, torch.no_grad). The exercise is the formula, so it passes;
the verdict warns that a model built on it could not learn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch

from .cases import fresh
from .result import Result
from .time_limit import LIMIT_S, TookTooLong, time_limit

LEARNER_ERRORS = (Exception, SystemExit)
_NUMPY = "numpy() on Tensor that requires grad"  # what .numpy() raises on scores that need grad


def carries_no_gradient(learner_fn: Callable, case: tuple) -> bool:
    """Whether the learner's softmax, given scores that require grad (as a model's activations
    do), returns a tensor with no grad_fn, or fails because it goes through NumPy. Any other
    error, or no tensor at all, judges nothing (False); so does a check run under
    torch.inference_mode(), where no gradient can be asked for."""
    if torch.is_inference_mode_enabled():
        return False
    (scores,) = fresh(case)
    leaf = scores.detach().requires_grad_()
    try:
        with torch.enable_grad(), torch.random.fork_rng(devices=[]), time_limit(LIMIT_S):
            got = learner_fn(leaf * 1)  # an activation, not a leaf: in-place edits stay allowed
    except TookTooLong:
        return False
    except LEARNER_ERRORS as err:
        return _NUMPY in str(err)
    return isinstance(got, torch.Tensor) and got.is_floating_point() and got.grad_fn is None


def no_gradient_warning(name: str, *, also: bool = False, noted: bool = False) -> str:
    """What a passed verdict adds for a softmax that carries no gradient; ``noted``: the verdict
    already says the exercise is left undone (a built-in did the work), so it does not call
    the formula the learner's."""
    where = "In a layer" if noted else "The formula is right, which is what this exercise asks; in a layer"
    return (" Also, " if also else " But beware: ") + (
        f"{name}'s result carries no gradient: it is rebuilt from plain numbers (math.exp, "
        ".tolist(), .item(), NumPy, torch.tensor(...)) or computed under torch.no_grad(), so "
        f"in a model loss.backward() would stop here and nothing before it could learn. {where}, "
        "compute it with torch operations on the tensor itself: "
        "(x - x.max(dim=-1, keepdim=True).values).exp(), then divide by the row sum."
    )


def warn_without_gradient(result: Result, learner_fn: Callable, case: tuple, name: str) -> Result:
    """``result`` with the no-gradient warning added where it passed and the learner's softmax
    carries no gradient; otherwise ``result`` as it is."""
    if not result.passed or not carries_no_gradient(learner_fn, case):
        return result
    warning = no_gradient_warning(name, also=bool(result.warning), noted=bool(result.note))
    return replace(result, message=result.message + warning, warning=result.warning + warning)
