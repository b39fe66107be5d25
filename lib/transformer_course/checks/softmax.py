"""Exercise 04a: a softmax over the last dimension that does not overflow for large scores.

``fn(scores (..., Lk)) → weights (..., Lk)``, each row summing to 1, finite for scores near 1000.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from ..softmax import naive_softmax, stable_softmax
from .harness import Exercise, Mistake, Result, check_then_batch, randn

# --- The learner's side: the starter, a worked solution, other correct answers ---


def starter(scores: torch.Tensor) -> torch.Tensor:
    """scores (..., Lk) → weights (..., Lk), each row summing to 1, no overflow."""
    raise NotImplementedError


def solution(scores: torch.Tensor) -> torch.Tensor:
    """scores (..., Lk) → weights (..., Lk), each row summing to 1, no overflow."""
    e = (scores - scores.max(dim=-1, keepdim=True).values).exp()  # largest entry: exp(0) = 1
    return e / e.sum(dim=-1, keepdim=True)


def by_hand(x, *, subtract="row", dim=-1, keepdim=True, normalise=True, max_dim=None):
    """A learner's softmax with one switch per catalogued mistake (all off: correct)."""
    max_dim = dim if max_dim is None else max_dim
    if subtract == "row":
        x = x - (x.max(dim=max_dim, keepdim=True).values if keepdim else x.max(dim=max_dim).values)
    elif subtract == "all":
        x = x - x.max()
    e = x.exp()
    if normalise == "all":
        return e / e.sum()
    return e / e.sum(dim=dim, keepdim=True) if normalise else e


ALTERNATIVES = {
    "lib's stable_softmax": stable_softmax,
    "torch.softmax": lambda x: torch.softmax(x, dim=-1),
    "F.softmax": lambda x: F.softmax(x, dim=-1),
    "through logsumexp": lambda x: (x - x.logsumexp(dim=-1, keepdim=True)).exp(),
    "by hand, every switch off": by_hand,
    "in float64": lambda x: solution(x.double()),
}


# --- The checker's side: test cases, the catalogue of mistakes ---


def _cases() -> list[tuple[torch.Tensor]]:
    g = torch.Generator().manual_seed(4)
    huge = torch.tensor([[1000.0, 999.0, 990.0, 998.0], [1.0, 2.0, 3.0, -1.0], [-5.0, 0.0, 5.0, 2.0]])
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

ON_A_BATCH = Mistake(
    name="max over dim=1 on a batch",
    hint="Right for a matrix, but not for a batch of them (B, Lq, Lk): dim=1 is the "
    "last dimension only in 2-D. Use dim=-1 for the max and for the sum.",
    compute=None,  # named by check_then_batch: right on the matrices, wrong on the batch
    example=partial(by_hand, max_dim=1),
)

MISTAKES = (
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
        hint="No max subtraction: exp of a score near 1000 overflows to inf, and inf/inf = NaN. "
        "Subtract each row's maximum before exp (it does not change the result).",
        compute=naive_softmax,
        example=partial(by_hand, subtract=None),
    ),
    Mistake(
        name="max of the whole matrix",
        hint="You subtracted the maximum of the WHOLE matrix: a row whose scores are all far below it "
        "underflows to 0/0 = NaN. Subtract each row's own max: x.max(dim=-1, keepdim=True).",
        compute=_global_max,
        example=partial(by_hand, subtract="all"),
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
    ON_A_BATCH,
)


def check_softmax(learner_fn: Callable) -> Result:
    """Exercise 04a: ``fn(scores (..., Lk)) → weights``, a softmax over the last dimension that
    does not overflow for large scores."""
    cases = _cases()
    return check_then_batch(
        learner_fn,
        stable_softmax,
        cases[:-1],
        cases[-1:],
        name="softmax",
        mistakes=MISTAKES,
        batch_mistake=ON_A_BATCH,
        passed=f"softmax matches the reference on all {len(cases)} inputs, large scores and a batch "
        "included.",
    )


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
