"""More of ``softmax``'s catalogue: the slips met in the round-43a battery (a 1 added to the
denominator, the exps divided by their mean, the softmax taken twice, squares for exps), each
with what it computes, its hint and a learner-style example."""

from __future__ import annotations

import torch

from ..softmax import stable_softmax
from .describe import same
from .harness import Mistake


def _exps(x: torch.Tensor) -> torch.Tensor:
    return (x - x.amax(dim=-1, keepdim=True)).exp()  # (..., Lk), largest entry 1


def _one_more_in_the_sum(fn, case, got) -> bool:
    """e / (1 + Σe), with e the shifted exps or the raw ones (the "quiet" softmax)."""
    (x,) = case
    return any(same(got, e / (1 + e.sum(dim=-1, keepdim=True))) for e in (_exps(x), x.exp()))


def _learner_adds_one(scores):
    e = torch.exp(scores - scores.max(dim=-1, keepdim=True).values)
    return e / (e.sum(dim=-1, keepdim=True) + 1)  # "+1 so that we never divide by 0"


def _learner_divides_by_the_mean(scores):
    e = torch.exp(scores - scores.max(dim=-1, keepdim=True).values)
    return e / torch.mean(e, dim=-1, keepdim=True)


def _learner_softmaxes_twice(scores):
    e = torch.exp(scores - scores.max(dim=-1, keepdim=True).values)
    weights = e / e.sum(dim=-1, keepdim=True)
    return torch.softmax(weights, dim=-1)  # "to be sure they sum to 1"


def _learner_squares(scores):
    return scores.pow(2) / scores.pow(2).sum(dim=-1, keepdim=True)  # "squares are positive too"


_RIGHT = "e = (x - x.max(dim=-1, keepdim=True).values).exp(); return e / e.sum(dim=-1, keepdim=True)"

SLIPS = (
    Mistake(
        name="one added to the denominator",
        hint="You divided by 1 + Σe: the rows then sum to less than 1. Σe is never 0 once the "
        f"max is subtracted (its largest exp is exp(0) = 1), so no guard is needed: {_RIGHT}.",
        compute=None,
        recognise=_one_more_in_the_sum,
        example=_learner_adds_one,
    ),
    Mistake(
        name="divided by the mean",
        hint="You divided the exps by their MEAN: each row then sums to its length, not to 1. "
        f"Divide by the row's sum: {_RIGHT}.",
        compute=lambda x: stable_softmax(x) * x.shape[-1],
        example=_learner_divides_by_the_mean,
    ),
    Mistake(
        name="softmax applied twice",
        hint="You applied a softmax to weights that were already a softmax: the second one "
        "flattens them towards uniform (its inputs are all between 0 and 1). Apply it once, "
        f"to the scores: {_RIGHT}.",
        compute=lambda x: stable_softmax(stable_softmax(x)),
        example=_learner_softmaxes_twice,
    ),
    Mistake(
        name="squares instead of exp",
        hint="You made the scores positive by squaring them: a score of -3 then weighs as much as "
        "+3, and the largest weight no longer goes to the largest score. Softmax "
        f"exponentiates, which keeps the order: {_RIGHT}.",
        compute=lambda x: x**2 / (x**2).sum(dim=-1, keepdim=True),
        example=_learner_squares,
    ),
)


def _lse_without_keepdim(fn, case, got) -> bool:
    """exp(x - logsumexp(x)) with the logsumexp's axis dropped: (..., L) minus (...,) lines
    the row totals up with the COLUMNS (where the shapes allow it at all)."""
    (x,) = case
    try:
        want = (x - x.logsumexp(dim=-1)).exp()
    except RuntimeError:  # the shapes do not broadcast: the learner's code raised, not this
        return False
    return same(got, want)


def _learner_lse_without_keepdim(scores):
    return torch.exp(scores - scores.logsumexp(-1))


SLIPS += (
    Mistake(
        name="log-sum-exp without keepdim",
        hint="Your logsumexp lost its last axis (no keepdim=True): its (..., L) row totals were "
        "then subtracted along the COLUMNS. Keep the axis, x - x.logsumexp(dim=-1, keepdim=True), "
        "then .exp().",
        compute=None,
        recognise=_lse_without_keepdim,
        example=_learner_lse_without_keepdim,
    ),
)


def _learner_divides_by_the_length(scores):
    e = torch.exp(scores - scores.max(dim=-1, keepdim=True).values)
    return e / scores.shape[-1]  # "divide by the count, like a mean"


SLIPS += (
    Mistake(
        name="divided by the row length",
        hint="You divided the exps by the row's LENGTH, a fixed count: the rows then sum to "
        f"anything but 1. Divide by the row's sum of exps: {_RIGHT}.",
        compute=lambda x: _exps(x) / x.shape[-1],
        example=_learner_divides_by_the_length,
    ),
)
