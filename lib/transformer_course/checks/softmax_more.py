"""More of ``softmax``'s catalogue: the wrong answers met in the seventh audit, each
with what it computes, its hint and a learner-style example.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..softmax import stable_softmax
from .describe import same
from .harness import Mistake


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
        compute=lambda x: stable_softmax(x / x.shape[-1] ** 0.5),
        example=_learner_scales_the_scores,
    ),
)
