"""Round 51 (review R3, F15): ``softmax``'s sign slip, the row's max ADDED instead of subtracted.
Right on small scores (a softmax ignores any shift of its row), it overflows on large ones, where
it gave only "inf or NaN where the reference is finite"."""

from __future__ import annotations

import torch

from .harness import Mistake


def _max_added(x: torch.Tensor) -> torch.Tensor:
    e = (x + x.amax(dim=-1, keepdim=True)).exp()
    return e / e.sum(dim=-1, keepdim=True)


def _learner_adds_the_max(scores: torch.Tensor) -> torch.Tensor:
    e = (scores + scores.max(-1, keepdim=True).values).exp()  # meant: scores - max
    return e / e.sum(-1, keepdim=True)


ROUND_51 = (
    Mistake(
        name="row max added",
        hint="You ADDED the row's max: exp(x + max) overflows even sooner than exp(x) (a score "
        "near 1000 gives exp(2000) = inf, and inf/inf = NaN). Subtract it, so that the largest "
        "entry is exp(0) = 1: e = (x - x.max(dim=-1, keepdim=True).values).exp().",
        compute=_max_added,
        example=_learner_adds_the_max,
    ),
)
