"""Round 47b: "sum without keepdim" in ``nucleus``, named only where it is that mistake.

It was named by the error's text, "must match the size of tensor b", which any broadcast error
matches (a per-row threshold that lost its axis, (B,) against (B, V), as well). Since round 47c
the harness names it where the learner's function, run again on the same input, failed at an
operation one of whose operands IS what a sum without keepdim returned (the same tensor object,
recorded while it ran: ``failure.lost_an_axis``). Any other error keeps the verdict the harness
gives.
"""

from __future__ import annotations

from . import nucleus_learners as learner
from .failure import lost_an_axis
from .harness import Mistake

KEEPDIM_HINT = (
    "Your sum lost its last axis: kept.sum(dim=-1) has shape (B,), which lines up with "
    "the tokens, not with the rows. Keep it, kept.sum(dim=-1, keepdim=True), shape (B, 1)."
)

SUM_WITHOUT_KEEPDIM = Mistake(
    name="sum without keepdim",
    hint=KEEPDIM_HINT,
    compute=None,
    error=r"must match the size of tensor",
    # A sum's, not a max's or a threshold's: those fail with the same words.
    failed_at=lambda failure, case: lost_an_axis(failure, "sum", "nansum"),
    example=learner.sums_without_keepdim,
)
