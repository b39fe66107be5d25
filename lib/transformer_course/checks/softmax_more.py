"""More of ``softmax``'s catalogue: the wrong answers met in the seventh audit, each
with what it computes, its hint and a learner-style example.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..softmax import naive_softmax, stable_softmax
from .describe import same
from .harness import Mistake, fresh


def _learner_takes_the_max(scores: torch.Tensor) -> torch.Tensor:
    return (scores == scores.max(dim=-1, keepdim=True).values).float()  # "the biggest wins"


def _learner_uses_a_sigmoid(scores: torch.Tensor) -> torch.Tensor:
    return 1 / (1 + torch.exp(-scores))


def _learner_forgets_the_exp(scores: torch.Tensor) -> torch.Tensor:
    shifted = scores - scores.max(dim=-1, keepdim=True).values
    return shifted / shifted.sum(dim=-1, keepdim=True)


def _learner_divides_by_the_length(scores: torch.Tensor) -> torch.Tensor:
    e = torch.exp(scores - scores.max(dim=-1, keepdim=True).values)
    return e / e.norm(dim=-1, keepdim=True)  # |e| = 1, not Σe = 1


def _learner_divides_by_the_max(scores: torch.Tensor) -> torch.Tensor:
    e = torch.exp(scores / scores.max(dim=-1, keepdim=True).values)  # meant scores - max
    return e / e.sum(dim=-1, keepdim=True)


def _learner_scales_the_scores(scores: torch.Tensor) -> torch.Tensor:
    return stable_softmax(scores / scores.shape[-1] ** 0.5)  # the attention's √d_k, too early


def _plain_ratio(x: torch.Tensor) -> torch.Tensor:
    return x / x.sum(dim=-1, keepdim=True)


def _exps(x: torch.Tensor) -> torch.Tensor:
    return (x - x.amax(dim=-1, keepdim=True)).exp()


# Answers met in the seventh audit: each names what it computes.
MORE_MISTAKES = (
    Mistake(
        name="the max, one-hot",
        hint="You kept only each row's largest score (a 1 there, 0 elsewhere): that is an argmax, "
        "a hard choice. Softmax is its smooth version: every entry gets a share, "
        "exp(x - max) / its row sum.",
        compute=lambda x: F.one_hot(x.argmax(dim=-1), x.shape[-1]).to(x.dtype),
        example=_learner_takes_the_max,
    ),
    Mistake(
        name="sigmoid",
        hint="You applied a sigmoid, 1 / (1 + exp(-x)), to each score on its own: its rows do "
        "not sum to 1. Softmax compares the scores of a row with each other: "
        "exp(x - max) / its row sum.",
        compute=torch.sigmoid,
        example=_learner_uses_a_sigmoid,
    ),
    Mistake(
        name="no exp",
        hint="You divided the (shifted) scores by their row sum without taking exp first: "
        "negative scores give negative weights. Softmax exponentiates first: "
        "e = (x - max).exp(), then e / e.sum(dim=-1, keepdim=True).",
        compute=None,  # the scores shifted by the max or not: each its own ratio
        recognise=lambda fn, case, got: any(
            same(got, _plain_ratio(x)) for x in (case[0], case[0] - case[0].amax(dim=-1, keepdim=True))
        ),
        example=_learner_forgets_the_exp,
    ),
    Mistake(
        name="divided by the norm",
        hint="You divided the exps by their length, e.norm(dim=-1): that makes the squares sum "
        "to 1. Weights must themselves sum to 1: divide by e.sum(dim=-1, keepdim=True).",
        compute=lambda x: _exps(x) / _exps(x).norm(dim=-1, keepdim=True),
        example=_learner_divides_by_the_length,
    ),
    Mistake(
        name="divided by the max",
        hint="You DIVIDED the scores by the row max before exp: subtract it instead, "
        "exp(x - max). Subtracting leaves the softmax unchanged and stops the overflow; dividing "
        "changes every weight (and flips them where the max is negative).",
        compute=lambda x: _plain_ratio((x / x.amax(dim=-1, keepdim=True)).exp()),
        example=_learner_divides_by_the_max,
    ),
    Mistake(
        name="scaled by √Lk",
        hint="You divided the scores by √(row length) before the softmax: scaling by √d_k is "
        "attention's step (the next exercise), not the softmax's. Softmax takes the scores as "
        "given: exp(x - max) / its row sum.",
        # The first case's rows are 4 long, so any division by 2 looks like this one: a second
        # width tells √Lk from a temperature of 2.
        compute=None,
        recognise=lambda fn, case, got: same(got, _root_width(case[0])) and _does(fn, _root_width),
        example=_learner_scales_the_scores,
    ),
)


# --- Met in the forty-first read: fixes for overflow that are no fix, and signs and constants ---


def _root_width(x: torch.Tensor) -> torch.Tensor:
    return stable_softmax(x / x.shape[-1] ** 0.5)


def _does(fn, compute, width: int = 9) -> bool:
    """Whether fn, on a probe whose rows are ``width`` long, computes what ``compute`` does."""
    probe = torch.randn(2, width, generator=torch.Generator().manual_seed(41)) * 2
    return same(fn(*fresh((probe,))), compute(probe))


def _flipped(x: torch.Tensor) -> torch.Tensor:
    return _plain_ratio((x.amax(dim=-1, keepdim=True) - x).exp())


def _fitted_temperature(x: torch.Tensor, got: object) -> float | None:
    """The T for which got = softmax(x / T), fitted by least squares on the log-weights
    (None when got is no positive tensor of x's shape, or no T fits)."""
    if not isinstance(got, torch.Tensor) or got.shape != x.shape or not got.is_floating_point():
        return None
    if not bool((got > 0).all()) or not bool(torch.isfinite(got).all()):
        return None
    xc = x.double() - x.double().mean(dim=-1, keepdim=True)
    logs = got.double().log()
    lc = logs - logs.mean(dim=-1, keepdim=True)
    slope = float((xc * lc).sum() / (xc * xc).sum())  # 1 / T
    return None if slope <= 0 else 1 / slope


# 2 ** x and 10 ** x are softmaxes at these temperatures too, but no T appears in such code:
# tests/test_exercise_tryout.py keeps 2 ** x to the generic message, which is honest about it.
_OTHER_BASES = (1 / math.log(2), 1 / math.log(10))


def _scaled_by_a_constant(fn, case, got) -> bool:
    (x,) = case
    t = _fitted_temperature(x, got)
    if t is None or abs(t - 1) < 1e-3 or any(math.isclose(t, b, rel_tol=1e-3) for b in _OTHER_BASES):
        return False
    return same(got, stable_softmax(x / t), 1e-4)


def _another_base(fn, case, got) -> bool:
    """got = b ** x / its row sum for b = 2 or 10: the softmax at temperature 1/ln b."""
    (x,) = case
    return any(same(got, stable_softmax(x / t), 1e-4) for t in _OTHER_BASES)


def _learner_uses_powers_of_two(scores: torch.Tensor) -> torch.Tensor:
    e = 2 ** (scores - scores.max(dim=-1, keepdim=True).values)  # "exponential" as 2^x
    return e / e.sum(dim=-1, keepdim=True)


def _overflow_patched(x: torch.Tensor) -> torch.Tensor:
    return torch.nan_to_num(naive_softmax(x))  # NaN → 0: the rows that overflowed sum to 0


def _ordinary_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows exp can take without a shift: every score well inside float32's range."""
    return x.abs().amax(dim=-1) < 80


def _squashed_large_rows(fn, case, got) -> bool:
    """Right on the rows of ordinary scores, finite and summing to 1 everywhere, wrong on a row
    of large ones: the scores were clamped or rescaled to keep exp from overflowing."""
    (x,) = case
    if not isinstance(got, torch.Tensor) or got.shape != x.shape or not got.is_floating_point():
        return False
    want = stable_softmax(x)
    ordinary = _ordinary_rows(x)
    if bool(ordinary.all()) or not bool(torch.isfinite(got).all()):
        return False
    sums_to_one = torch.allclose(
        got.double().sum(dim=-1), torch.ones(x.shape[:-1], dtype=torch.float64), atol=1e-4
    )
    return sums_to_one and same(got[ordinary], want[ordinary]) and not same(got, want)


def _ignores_scores(fn, case, got) -> bool:
    """The same result for other scores: the function reads a notebook variable instead."""
    if (
        not isinstance(got, torch.Tensor)
        or not got.is_floating_point()
        or not bool(torch.isfinite(got).all())
    ):
        return False
    (x,) = case
    other = 1 - x.flip(-1)  # every row's order reversed: another softmax altogether
    return same(fn(*fresh((other,))), got, 0.0)


def _learner_flips_the_shift(scores: torch.Tensor) -> torch.Tensor:
    e = torch.exp(scores.max(dim=-1, keepdim=True).values - scores)  # meant scores - max
    return e / e.sum(dim=-1, keepdim=True)


def _learner_uses_the_temperature(scores: torch.Tensor) -> torch.Tensor:
    T = 4.0  # the notebook's T, left by the temperature cell
    e = torch.exp(scores / T - (scores / T).max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def _learner_patches_the_nan(scores: torch.Tensor) -> torch.Tensor:
    weights = torch.exp(scores) / torch.exp(scores).sum(dim=-1, keepdim=True)
    return torch.where(torch.isnan(weights), torch.zeros_like(weights), weights)


def _learner_clamps(scores: torch.Tensor) -> torch.Tensor:
    e = scores.clamp(-50, 50).exp()  # "so that exp cannot overflow"
    return e / e.sum(dim=-1, keepdim=True)


def _learner_overflows_math_exp(scores: torch.Tensor) -> torch.Tensor:
    rows = []
    for row in scores.reshape(-1, scores.shape[-1]).tolist():
        exps = [math.exp(s) for s in row]
        rows.append([e / sum(exps) for e in exps])
    return torch.tensor(rows).reshape(scores.shape)


def _learner_goes_to_float64(scores: torch.Tensor) -> torch.Tensor:
    e = scores.double().exp()  # "float64 holds bigger numbers"
    return (e / e.sum(dim=-1, keepdim=True)).float()


def _learner_reads_a_global(scores: torch.Tensor) -> torch.Tensor:
    return stable_softmax(_NOTEBOOK_BIG)  # `big` from the notebook, not the argument


_NOTEBOOK_BIG = torch.tensor([1000.0, 999.0, 990.0])

_NO_SHIFT_IN_FLOAT64 = (
    "No max subtraction: float64 only moves the overflow, from exp(89) to exp(710), and the "
    "checker's rows reach 2000: exp overflows to inf, and inf/inf = NaN. Subtract each row's "
    "maximum before exp (it does not change the result); then float32 is enough."
)

MORE_MISTAKES += (
    Mistake(
        name="exp(max - x)",
        hint="Your weights favour the SMALLEST scores: exp(max - x) (or exp(-x)) flips their "
        "sign. Subtract the max FROM the scores, exp(x - max): the largest score then gets the "
        "largest weight, and exp(0) = 1 is the biggest entry.",
        compute=_flipped,
        example=_learner_flips_the_shift,
    ),
    Mistake(
        name="scores divided by a constant",
        hint="Your weights are the softmax of the scores divided by one same number (a "
        "temperature T other than 1, or a scale such as √d_k): softmax takes the scores as given. "
        "Is a T or d_k from the notebook in your code? Return exp(x - max) / its row sum.",
        compute=None,
        recognise=_scaled_by_a_constant,
        example=_learner_uses_the_temperature,
    ),
    Mistake(
        name="NaN replaced by 0",
        hint="You replaced the NaN with 0 (nan_to_num, or torch.where on isnan): the NaN came "
        "from exp overflowing, and the rows that had one now sum to 0, not 1. Stop the overflow "
        "instead: subtract each row's max before exp.",
        compute=_overflow_patched,
        example=_learner_patches_the_nan,
    ),
    Mistake(
        name="large scores clamped",
        hint="Right for ordinary scores, wrong for a row of large ones: clamping the scores (or "
        "scaling them down) keeps exp from overflowing but changes the gaps between them, and "
        "softmax depends on those gaps. The one change softmax does not notice is subtracting the "
        "same number from a whole row: subtract the row's max.",
        compute=None,
        recognise=_squashed_large_rows,
        example=_learner_clamps,
    ),
    Mistake(
        name="math.exp overflows",
        hint="math.exp overflowed (OverflowError: math range error): exp of a score near 1000 is "
        "too big for any float. Subtract the row's max first, math.exp(s - max(row)), or stay "
        "in torch: (x - x.max(dim=-1, keepdim=True).values).exp().",
        compute=None,
        error=r"OverflowError: math range error",
        example=_learner_overflows_math_exp,
    ),
    Mistake(
        name="no max subtraction, in float64",
        hint=_NO_SHIFT_IN_FLOAT64,
        compute=lambda x: naive_softmax(x.double()),
        example=_learner_goes_to_float64,
    ),
    Mistake(
        name="scores returned unchanged",
        hint="You returned the scores themselves: softmax turns them into weights, "
        "exp(x - max) divided by its row sum, each row then positive and summing to 1.",
        compute=lambda x: x,
        example=lambda scores: scores.clone(),
    ),
    Mistake(
        name="argument ignored",
        hint="Your result stays the same when the scores change: the function does not use its "
        "argument. Is it reading a notebook variable (big, row, scores from a cell above) "
        "instead? Compute from the `scores` it is given.",
        compute=None,
        recognise=_ignores_scores,
        example=_learner_reads_a_global,
    ),
    Mistake(
        name="powers of 2 or 10",
        hint="You raised 2 (or 10) to the power of the scores (2 ** x, torch.exp2, torch.pow(10, "
        "x)): a softmax in another base, as if every score were multiplied by ln 2 (or ln 10). "
        "Softmax uses e: torch.exp(x - max) divided by its row sum.",
        compute=None,
        recognise=_another_base,
        example=_learner_uses_powers_of_two,
    ),
)


# --- Round 43: another right answer, in a style not registered before ---
def softmax_in_float64_by_dtype(scores):
    """F.softmax computing in float64 (its dtype argument), the result cast back."""
    return F.softmax(scores, dim=-1, dtype=torch.float64).to(scores.dtype)
