"""A right answer whose values carry no gradient: computed under ``torch.no_grad()``, detached,
or rebuilt from ``.item()`` / ``.tolist()`` into a new tensor. Later chapters train through the
exercise's function (the layers, attention, the loss), so where the reference's result has a
gradient (a ``grad_fn``), the learner's must have one too.

Judged on one case, after the values passed: the case's floating tensors are given gradients (as
activations, not leaves, so an in-place edit stays allowed) and its modules' weights keep theirs.
Only a result with no ``grad_fn`` at all is named: an answer that copies the weights into a new
layer first (lib's own layer, float64 copies) still trains that layer, and passes. Anything that
goes wrong in this extra run (an error, a loop that never ends) judges nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .cases import fresh
from .time_limit import LIMIT_S, TookTooLong, time_limit

LEARNER_ERRORS = (Exception, SystemExit)


def without_gradients(learner_fn: Callable, reference_fn: Callable, case: tuple, *, name: str) -> str | None:
    """The hint when the reference's result has a gradient and the learner's has none (None:
    it has one, or it could not be judged)."""
    if not _has_gradient(reference_fn, case):
        return None
    with time_limit(LIMIT_S):
        try:
            if _has_gradient(learner_fn, case) is not False:
                return None
        except TookTooLong:
            return None
    return (
        f"{name} has the right values, but they were computed without gradients (torch.no_grad / "
        "detach): its result has no grad_fn, so in training loss.backward() could not reach the "
        "inputs and weights it came from, and nothing before it would learn. Compute it with torch "
        "operations straight from the tensors and layers you were given: no torch.no_grad() or "
        "torch.inference_mode(), .detach(), .data, .item(), .tolist(), .numpy() or "
        "torch.tensor(...) rebuilt from the values."
    )


def _has_gradient(fn: Callable, case: tuple) -> bool | None:
    """Whether ``fn``'s result, on a copy of the case that needs gradients, has a grad_fn (None:
    the call failed)."""
    try:  # under torch.inference_mode() even the copy fails: nothing is judged then
        with torch.enable_grad(), torch.random.fork_rng(devices=[]):
            args = _with_gradients(case)
            torch.default_generator.manual_seed(0)
            return any(t.grad_fn is not None for t in _tensors(fn(*args)))
    except LEARNER_ERRORS:
        return None


def _with_gradients(case: tuple) -> tuple:
    """A fresh copy of the case whose floating tensors need gradients, as activations do (not
    leaves: in-place edits stay allowed). Modules keep their weights, which need gradients."""
    args = []
    for item in fresh(case):
        if isinstance(item, torch.Tensor) and item.is_floating_point():
            item = item.detach().requires_grad_() * 1
        args.append(item)
    return tuple(args)


def _tensors(value: object) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _tensors(item)]
    return []
