"""More of ``masks``'s catalogue: the wrong answers met in the seventh audit, each
with what it computes, its hint and a learner-style example.
"""

from __future__ import annotations

import torch

from . import masks_learners as learner
from .describe import same
from .harness import Mistake


def _allowed(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, L, L) bool: the causal mask and the real keys, True = may attend."""
    length = ids.shape[1]
    return torch.ones(length, length, dtype=torch.bool).tril() & (ids != pad_id)[:, None, :]


def _weights(scores, allowed, fill=float("-inf")):
    return torch.softmax(scores.masked_fill(~allowed, fill), dim=-1)


def _filled(fill: float):
    """The masks right, the blocked scores filled with ``fill``."""
    return lambda scores, ids, pad_id: _weights(scores, _allowed(ids, pad_id), fill)


def _future_zeroed(scores, ids, pad_id):
    return _weights(scores.tril(), (ids != pad_id)[:, None, :])


def _transposed(case: tuple, got: object) -> bool:
    """The right weights, transposed; filled with -inf or -1e9 alike. ``got`` has its rows of
    queries that see nothing zeroed already, and those are padding keys, 0 in every row."""
    scores, ids, pad_id = case
    if not isinstance(got, torch.Tensor) or got.shape != scores.shape:
        return False
    allowed = _allowed(ids, pad_id)
    empty = ~allowed.any(dim=-1, keepdim=True)
    back = got.transpose(1, 2).masked_fill(empty, 0.0)
    return same(back, _weights(scores, allowed).masked_fill(empty, 0.0))


def _filled_after_the_softmax(case: tuple, got: object) -> bool:
    """The plain softmax of the scores where attending is allowed, a huge negative number (-inf,
    -1e9) where it is blocked. ``got``'s rows of queries that see nothing are zeroed already."""
    scores, ids, pad_id = case
    if not isinstance(got, torch.Tensor) or got.shape != scores.shape:
        return False
    allowed = _allowed(ids, pad_id)
    blocked = ~allowed & allowed.any(dim=-1, keepdim=True)
    plain = torch.softmax(scores, dim=-1).masked_fill(~allowed, 0.0)
    huge = bool(blocked.any()) and bool((got[blocked] <= -1e8).all())
    return huge and same(got.masked_fill(~allowed, 0.0), plain)


_NOT_NEGATIVE_ENOUGH = (
    "You filled the blocked scores with a small negative number (-1, -10): exp of it is not "
    "near 0, so blocked keys keep some weight. Fill with float('-inf') (or -1e9), whose exp "
    "is 0."
)

# Answers met in the seventh audit: each names what it computes.
MORE_MISTAKES = (
    Mistake(
        name="future zeroed with tril",
        hint="scores.tril() sets the future scores to 0, not -inf: exp(0) = 1, so every query "
        "still gives weight to later keys. Fill them with -inf instead: "
        "scores.masked_fill(~allowed, float('-inf')), allowed the causal & padding mask.",
        compute=_future_zeroed,
        example=learner.zeroes_the_future_with_tril,
    ),
    Mistake(
        name="filled with -1",
        hint=_NOT_NEGATIVE_ENOUGH,
        compute=_filled(-1.0),
        example=learner.fills_with_minus_one,
    ),
    Mistake(
        name="filled with -10",
        hint=_NOT_NEGATIVE_ENOUGH,
        compute=_filled(-10.0),
        example=learner.fills_with_minus_ten,
    ),
    Mistake(
        name="filled with +inf",
        hint="You filled the blocked scores with +inf: exp(+inf) is infinite, and every row "
        "with a blocked key becomes NaN. Blocked scores take MINUS infinity, float('-inf'), "
        "whose exp is 0.",
        compute=_filled(float("inf")),
        example=learner.fills_with_plus_inf,
    ),
    Mistake(
        name="weights transposed",
        hint="Your weights are transposed: row i must be query i's weights over the keys, each "
        "ROW summing to 1. Return the softmax's result as it is, without .transpose(1, 2).",
        compute=None,
        recognise=lambda fn, case, got: _transposed(case, got),
        example=learner.transposes_the_weights,
    ),
    Mistake(
        name="-inf filled after the softmax",
        hint="You filled the blocked WEIGHTS with -inf (or -1e9) after the softmax: it goes on the "
        "SCORES, before it, so that the softmax turns it into a weight of 0. "
        "torch.softmax(scores.masked_fill(~allowed, float('-inf')), dim=-1).",
        compute=None,
        recognise=lambda fn, case, got: _filled_after_the_softmax(case, got),
        example=learner.fills_minus_inf_after_the_softmax,
    ),
)
