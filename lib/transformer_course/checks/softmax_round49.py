"""More of ``softmax``'s catalogue: a slip met in round 49's learner review (L2), keepdim left out
on BOTH the max and the sum. Each alone is named in ``softmax``; together they gave only numbers."""

from __future__ import annotations

import torch

from .harness import Mistake


def _no_keepdim_twice(x: torch.Tensor) -> torch.Tensor:
    """Both reductions (..., L), broadcast against the columns: column j shifted by row j's max,
    entry (i, j) divided by row j's sum. Runs on a square matrix only (the checker's first case)."""
    e = (x - x.amax(dim=-1)).exp()
    return e / e.sum(dim=-1)


def _learner_forgets_both_keepdims(scores: torch.Tensor) -> torch.Tensor:
    e = torch.exp(scores - scores.max(dim=-1).values)  # (L,) lines up with the columns
    return e / e.sum(dim=-1)


ROUND_49 = (
    Mistake(
        name="max and sum without keepdim",
        hint="Both your max and your sum lost their axis: x.max(dim=-1).values and e.sum(dim=-1) "
        "have shape (..., L) and broadcast across the COLUMNS, so column j was shifted by row j's "
        "max and entry (i, j) divided by row j's sum. Keep the dimension in both: "
        "e = (x - x.max(dim=-1, keepdim=True).values).exp(); e / e.sum(dim=-1, keepdim=True).",
        compute=_no_keepdim_twice,
        example=_learner_forgets_both_keepdims,
    ),
)
