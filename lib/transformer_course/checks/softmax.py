"""Exercise 04a: a softmax over the last dimension that does not overflow for large scores.

``fn(scores (..., Lk)) → weights (..., Lk)``, each row summing to 1, finite for scores near 1000.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from ..softmax import naive_softmax, stable_softmax
from . import asked_for
from .built_ins import note_built_ins
from .harness import Exercise, Mistake, Result, check_then_batch, randn
from .softmax_inputs import warn_without_gradient
from .softmax_more import MORE_MISTAKES, softmax_in_float64_by_dtype
from .softmax_round49 import ROUND_49
from .softmax_round51 import ROUND_51
from .softmax_slips import SLIPS
from .stale import learner_check
from .wording import own_name

# --- The learner's side: the starter, a worked solution, other correct answers ---


def starter(scores: torch.Tensor) -> torch.Tensor:
    """scores (..., Lk) → weights (..., Lk), each row summing to 1, no overflow."""
    raise NotImplementedError


def solution(scores: torch.Tensor) -> torch.Tensor:
    """scores (..., Lk) → weights (..., Lk), each row summing to 1, no overflow."""
    e = (scores - scores.max(dim=-1, keepdim=True).values).exp()  # largest entry: exp(0) = 1
    return e / e.sum(dim=-1, keepdim=True)


def by_hand(
    x, *, subtract="row", dim=-1, keepdim=True, normalise=True, max_dim=None, sum_dim=None, sum_keepdim=True
):
    """A learner's softmax with one switch per catalogued mistake (all off: correct)."""
    max_dim = dim if max_dim is None else max_dim
    sum_dim = dim if sum_dim is None else sum_dim
    if subtract == "row":
        x = x - (x.max(dim=max_dim, keepdim=True).values if keepdim else x.max(dim=max_dim).values)
    elif subtract == "all":
        x = x - x.max()
    elif subtract == "min":
        x = x - x.min(dim=-1, keepdim=True).values
    elif subtract == "mean":
        x = x - x.mean(dim=-1, keepdim=True)
    e = x.exp()
    if normalise == "all":
        return e / e.sum()
    return e / e.sum(dim=sum_dim, keepdim=sum_keepdim) if normalise else e


ALTERNATIVES = {
    "lib's stable_softmax": stable_softmax,
    "torch.softmax": lambda x: torch.softmax(x, dim=-1),
    "F.softmax": lambda x: F.softmax(x, dim=-1),
    "through logsumexp": lambda x: (x - x.logsumexp(dim=-1, keepdim=True)).exp(),
    "by hand, every switch off": by_hand,
    "in float64": lambda x: solution(x.double()),
    "F.softmax(dtype=torch.float64), cast back": softmax_in_float64_by_dtype,
}


# --- The checker's side: test cases, the catalogue of mistakes ---


def _cases() -> list[tuple[torch.Tensor]]:
    # Square first, so that a sum without keepdim runs (and is named) instead of failing on
    # shapes. Then rows near 1000 and rows spanning thousands: exp overflows unless each row's
    # MAXIMUM is subtracted, and subtracting the row's minimum or mean overflows in different
    # rows, so each of those mistakes leaves its own pattern of NaN.
    g = torch.Generator().manual_seed(4)
    huge = torch.tensor(
        [
            [1000.0, 999.0, 990.0, 998.0],
            [-1000.0, 0.0, 1000.0, 500.0],
            [0.0, 1000.0, 2000.0, 1500.0],
            [1.0, 2.0, 3.0, -1.0],
            [-5.0, 0.0, 5.0, 2.0],
        ]
    )
    return [
        (randn(4, 4, gen=g, scale=2.0),),
        (randn(3, 6, gen=g, scale=3.0),),
        (huge,),
        (randn(2, 3, 5, gen=g, scale=2.0),),
    ]


def _global_max(x):
    e = (x - x.max()).exp()
    return e / e.sum(dim=-1, keepdim=True)


def _no_keepdim(x):
    e = (x - x.max(dim=-1).values).exp()  # (..., L) broadcasts against the COLUMNS
    return e / e.sum(dim=-1, keepdim=True)


def _shifted_by(x, shift, *, keep=True, sum_dim=-1):
    e = (x - shift).exp()
    return e / e.sum(dim=sum_dim, keepdim=keep)


def _whole_matrix(x, shift):
    e = (x - shift(x)).exp()
    return e / e.sum()


_AXIS = (
    "Wrong axis: each ROW (one query) must sum to 1, so normalise over the last dimension, "
    "dim=-1. Yours sums down the columns."
)
_WHOLE = (
    "You normalised the whole matrix at once: its entries sum to 1, but each ROW must. "
    "Sum over dim=-1 with keepdim=True."
)

_ONE_SIDE = (
    "You subtracted the max on one side of the fraction only (exp(x - max) above and exp(x) "
    "below, or the other way round): the rows then do not sum to 1, and the plain exp(x) still "
    "overflows. Shift once and divide those same exps by their own row sum: "
    "e = (x - x.max(dim=-1, keepdim=True).values).exp(); e / e.sum(dim=-1, keepdim=True)."
)

ON_A_BATCH = Mistake(
    name="max over dim=1 on a batch",
    hint="Right for a matrix, but not for a batch of them (B, Lq, Lk): something counts the "
    "dimensions from the front, which finds the last one only in 2-D: dim=1, [:, None] or "
    ".unsqueeze(1), .view(-1, 1), .T, a loop over the rows, or a softmax given no dim "
    "(F.softmax(x), nn.Softmax()), which picks dim=0 in 3-D. Count from the end: the max and "
    "the sum over dim=-1, with keepdim=True.",
    compute=None,  # named by check_then_batch: right on the matrices, wrong on the batch
    example=partial(by_hand, max_dim=1),
)

MISTAKES = (
    Mistake(
        name="max without .values",
        hint="x.max(dim=-1, keepdim=True) returns a pair (values, indices), not a tensor: take its "
        ".values (or use x.amax(dim=-1, keepdim=True)).",
        compute=None,
        error="return_types.max",
        example=lambda x: (
            (x - x.max(dim=-1, keepdim=True)).exp() / (x - x.max(dim=-1, keepdim=True)).exp().sum(-1)
        ),
    ),
    Mistake(
        name="over dim=-2",
        hint=_AXIS,
        compute=lambda x: torch.softmax(x, dim=-2),
        example=partial(by_hand, dim=-2),
    ),
    Mistake(
        name="over dim=0",
        hint=_AXIS,
        compute=lambda x: torch.softmax(x, dim=0),
        example=partial(by_hand, dim=0),
    ),
    Mistake(
        name="no max subtraction",
        # Subtracting the max's position (a small whole number) gives the same output as no shift.
        hint="The row's maximum was not subtracted: either no shift at all, or the max's POSITION "
        "(.indices, max(...)[1], argmax) rather than its value. exp of a score near 1000 "
        "overflows to inf, and inf/inf = NaN. Subtract x.max(dim=-1, keepdim=True).values (or "
        "x.amax(dim=-1, keepdim=True)) before exp: it does not change the result.",
        compute=naive_softmax,
        example=partial(by_hand, subtract=None),
    ),
    Mistake(
        name="max subtracted in the numerator only",
        hint=_ONE_SIDE,
        compute=lambda x: (x - x.amax(dim=-1, keepdim=True)).exp() / x.exp().sum(dim=-1, keepdim=True),
        example=lambda x: (
            torch.exp(x - x.max(dim=-1, keepdim=True).values) / torch.exp(x).sum(-1, keepdim=True)
        ),
    ),
    Mistake(
        name="max subtracted in the denominator only",
        hint=_ONE_SIDE,
        compute=lambda x: x.exp() / (x - x.amax(dim=-1, keepdim=True)).exp().sum(dim=-1, keepdim=True),
        example=lambda x: x.exp() / (x - x.max(dim=-1, keepdim=True).values).exp().sum(dim=-1, keepdim=True),
    ),
    Mistake(
        name="max of the whole matrix",
        hint="You subtracted the maximum of the WHOLE matrix: a row whose scores are all far below it "
        "underflows to 0/0 = NaN. Subtract each row's own max: x.max(dim=-1, keepdim=True).",
        compute=_global_max,
        example=partial(by_hand, subtract="all"),
    ),
    Mistake(
        name="row minimum subtracted",
        hint="You subtracted each row's MINIMUM: the largest entry is then exp(max - min), which "
        "overflows to inf when a row spans more than about 90. Subtract the row's maximum, so "
        "the largest entry is exp(0) = 1.",
        compute=lambda x: _shifted_by(x, x.amin(dim=-1, keepdim=True)),
        example=partial(by_hand, subtract="min"),
    ),
    Mistake(
        name="row mean subtracted",
        hint="You subtracted each row's MEAN: entries far above the mean still overflow exp (a row "
        "such as [-1000, 0, 1000] gives exp(1000) = inf). Subtract the row's maximum, so no "
        "entry exceeds exp(0) = 1.",
        compute=lambda x: _shifted_by(x, x.mean(dim=-1, keepdim=True)),
        example=partial(by_hand, subtract="mean"),
    ),
    Mistake(
        name="sum without keepdim",
        hint="e.sum(dim=-1) has shape (..., L) and broadcasts across the COLUMNS, so entry (i, j) "
        "was divided by row j's sum. Keep the dimension: e / e.sum(dim=-1, keepdim=True).",
        compute=lambda x: _shifted_by(x, x.amax(dim=-1, keepdim=True), keep=False),
        example=partial(by_hand, sum_keepdim=False),
    ),
    Mistake(
        name="row max, column sum",
        hint="You subtracted each row's max (right) but then summed down the COLUMNS: normalise "
        "over the same axis, the last one: e / e.sum(dim=-1, keepdim=True).",
        compute=lambda x: _shifted_by(x, x.amax(dim=-1, keepdim=True), sum_dim=-2),
        example=partial(by_hand, sum_dim=0),
    ),
    # Each column shifted by its own max: the entries of one row no longer share one shift,
    # so the row's ratios change (and a row far below its column's max underflows to 0/0).
    Mistake(
        name="column max, row sum",
        hint="You subtracted each COLUMN's max (max over dim=0) and then summed the rows: a shift "
        "cancels only when the whole row shares it. Subtract each row's own max, "
        "x.max(dim=-1, keepdim=True).values, over the same axis as the sum.",
        compute=lambda x: _shifted_by(x, x.amax(dim=-2, keepdim=True)),
        example=partial(by_hand, max_dim=0),
    ),
    Mistake(
        name="max without keepdim",
        hint="x.max(dim=-1).values has shape (..., L) and broadcasts across the columns, so each "
        "column got a different shift. Keep the dimension: x.max(dim=-1, keepdim=True).values.",
        compute=_no_keepdim,
        example=partial(by_hand, keepdim=False),
    ),
    Mistake(
        name="not normalised",
        hint="Not normalised: after exp, divide each row by its sum so that it adds up to 1.",
        compute=lambda x: (x - x.amax(dim=-1, keepdim=True)).exp(),
        example=partial(by_hand, normalise=False),
    ),
    Mistake(
        name="sum of the whole matrix",
        hint=_WHOLE,
        compute=partial(_whole_matrix, shift=lambda x: x.amax(dim=-1, keepdim=True)),
        example=partial(by_hand, normalise="all"),
    ),
    Mistake(
        name="max and sum of the whole matrix",
        hint=_WHOLE,
        compute=partial(_whole_matrix, shift=lambda x: x.max()),
        example=partial(by_hand, subtract="all", normalise="all"),
    ),
    Mistake(
        name="log-probabilities",
        hint="You returned the LOG of the softmax (all entries ≤ 0): x - logsumexp(x) is "
        "log_softmax. Take its .exp(), or divide exp(x - max) by its row sum, so each row of "
        "weights sums to 1.",
        compute=lambda x: torch.log_softmax(x, dim=-1),
        example=lambda x: x - x.logsumexp(dim=-1, keepdim=True),
    ),
    ON_A_BATCH,
)


MISTAKES += MORE_MISTAKES  # met in the seventh audit: in softmax_more
MISTAKES += SLIPS  # met in the round-43a battery: in softmax_slips
MISTAKES += ROUND_49  # keepdim left out on the max and the sum: softmax_round49
MISTAKES += ROUND_51  # the row max added, not subtracted: softmax_round51


@learner_check
def check_softmax(learner_fn: Callable) -> Result:
    """Exercise 04a: ``fn(scores (..., Lk)) → weights``, a softmax over the last dimension that
    does not overflow for large scores."""
    cases = _cases()
    result = check_then_batch(
        learner_fn,
        stable_softmax,
        cases[:-1],
        cases[-1:],
        name="softmax",
        mistakes=MISTAKES,
        batch_mistake=ON_A_BATCH,
        passed=f"{own_name(learner_fn, 'softmax')} matches the reference on all {len(cases)} inputs, "
        "large scores and a batch included.",
    )
    result = note_built_ins(result, learner_fn, cases, asked_for.SOFTMAX)
    # Not asked for gradients (the exercise is the formula): a pass without them is warned.
    return warn_without_gradient(result, learner_fn, cases[0], own_name(learner_fn, "softmax"))


EXERCISES = (
    Exercise(
        name="softmax",
        chapter="04",
        check=check_softmax,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
