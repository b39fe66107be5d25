"""More of ``softmax``'s catalogue: the slips met in the round-43a battery (a 1 added to the
denominator, the exps divided by their mean, the softmax taken twice, squares for exps), each
with what it computes, its hint and a learner-style example."""

from __future__ import annotations

import torch

from ..softmax import stable_softmax
from .describe import same
from .failure import lost_an_axis, run
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


def _lost_its_axis_to(fn, x: torch.Tensor, *by: str) -> bool:
    """Whether ``fn``, run on ``x`` one row short, (..., L - 1, L), where a row total without
    keepdim, (..., L - 1), no longer fits the columns, fails at an op that took what one of ``by``
    returned without keepdim. On a square x a logsumexp's slip and a sum's give the same numbers,
    exp(x_ij) / Σ_k exp(x_jk): only which reduction the learner called tells them apart."""
    if x.dim() < 2 or x.shape[-2] < 2:
        return False
    outcome = run(fn, (x[..., :-1, :].clone(),))
    return outcome is not None and outcome.failure is not None and lost_an_axis(outcome.failure, *by)


def _row_totals_on_the_columns(x: torch.Tensor) -> torch.Tensor | None:
    """exp(x) divided by its row sums laid along the columns, as exp(x - x.logsumexp(-1)) and
    exp(x) / exp(x).sum(-1) both compute; None where the shapes do not broadcast."""
    try:
        return (x - x.logsumexp(dim=-1)).exp()
    except RuntimeError:  # the shapes do not broadcast: the learner's code raised, not this
        return None


def _lse_without_keepdim(fn, case, got) -> bool:
    """exp(x - logsumexp(x)) with the logsumexp's axis dropped: (..., L) minus (...,) lines
    the row totals up with the COLUMNS (where the shapes allow it at all), a logsumexp's doing."""
    (x,) = case
    want = _row_totals_on_the_columns(x)
    return want is not None and same(got, want) and _lost_its_axis_to(fn, x, "logsumexp")


def _sum_without_keepdim_unshifted(fn, case, got) -> bool:
    """The same numbers, exp(x) / exp(x).sum(-1), where a sum lost its axis (review R9: e / e.sum(-1)
    was told its logsumexp lost its axis)."""
    (x,) = case
    want = _row_totals_on_the_columns(x)
    return want is not None and same(got, want) and _lost_its_axis_to(fn, x, "sum", "nansum")


def _learner_lse_without_keepdim(scores):
    return torch.exp(scores - scores.logsumexp(-1))


def _learner_sums_without_keepdim(scores):
    e = scores.exp()
    return e / e.sum(dim=-1)


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
    Mistake(
        name="sum without keepdim, exps not shifted",
        hint="Your e.sum(dim=-1) lost its last axis (no keepdim=True): its (..., L) row sums then "
        "divided along the COLUMNS, so entry (i, j) was divided by row j's sum. Keep the axis: "
        "e / e.sum(dim=-1, keepdim=True). Your exps are not shifted by each row's own max either, "
        "and the later inputs have rows near 1000 and rows thousands apart, where that matters: "
        "e = (x - x.max(dim=-1, keepdim=True).values).exp().",
        compute=None,
        recognise=_sum_without_keepdim_unshifted,
        example=_learner_sums_without_keepdim,
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
