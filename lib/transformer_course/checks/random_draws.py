"""Answers that draw random numbers where the exercise computes a model in evaluation (dropout
left on, sampling where greedy was asked): recognised by two calls from different random states."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .cases import fresh
from .describe import same
from .records import Mistake


def varies_between_calls(learner_fn: Callable, case: tuple, got: object = None) -> bool:
    """True when two calls on the same input, from different random states, give different
    results: the function draws random numbers (dropout left on, sampling where greedy was
    asked). A ``Mistake.recognise`` for such mistakes."""
    outputs = []
    for seed in (1, 2):
        torch.default_generator.manual_seed(seed)
        outputs.append(learner_fn(*fresh(case)))
    # Only numbers can vary: a module or another object returned by mistake is a new copy
    # at every call, unequal to the last without anything having been drawn.
    if not all(_numeric(out) for out in outputs):
        return False
    return not same(outputs[0], outputs[1], 0.0)


def draws_at_random(example: Callable, *, parts: str = "", also: str = "") -> Mistake:
    """The mistake of a function that draws random numbers where the exercise computes a model
    in evaluation: dropout left on (F.dropout, or dropout_p in PyTorch's attention).
    ``parts``: what already applies dropout where it belongs, named in the hint; ``also``: a
    sentence on the other way this exercise's answers draw, added at the end."""
    where = f" ({parts} already apply their own, off in evaluation)" if parts else ""
    also = f" {also}" if also else ""
    return Mistake(
        name="draws at random",
        hint="Your result changes from call to call: something draws random numbers, usually "
        "dropout left on. F.dropout(x, p) drops unless told training=False, and so does "
        "F.scaled_dot_product_attention's dropout_p. This exercise computes the model as it is "
        f"used, in evaluation: leave dropout out{where}.{also}",
        compute=None,
        recognise=varies_between_calls,
        example=example,
    )


def _numeric(value: object) -> bool:
    """A tensor, a number, or a tuple/list of them (what a drawing function can return). Only
    a dense tensor that holds numbers counts: a sparse, nested or "meta" one never compares
    equal to another, so it would look drawn at random without being so."""
    if isinstance(value, tuple | list):
        return bool(value) and all(_numeric(v) for v in value)
    if isinstance(value, torch.Tensor):
        return value.layout == torch.strided and not value.is_nested and not value.is_meta
    return isinstance(value, int | float) and not isinstance(value, bool)
