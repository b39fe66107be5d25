"""Round 47b: "sum without keepdim" in ``nucleus``, named only where it is that mistake.

It was named by the error's text, "must match the size of tensor b", which any broadcast error
matches (a per-row threshold that lost its axis, (B,) against (B, V), as well). Since round 47c
the harness names it where the learner's function, run again on the same input, failed at an
operation one of whose operands IS what a sum without keepdim returned (the same tensor object,
recorded while it ran: ``failure.lost_an_axis``). Since round 48d (review R8) only where that is
the renormalising sum the hint quotes, ``kept / kept.sum(dim=-1)``: a division by a sum over the
probabilities' last axis, the one keepdim turns into (B, 1). A right count of the kept tokens,
``(cum < top_p).sum(-1)``, compared without its axis, is left to the harness's own lost-axis
hint, which quotes the learner's reduction; a sum over the batch axis, keepdim's (1, V), too.
Any other error keeps the verdict the harness gives.
"""

from __future__ import annotations

import torch

from . import nucleus_learners as learner
from .failure import Failure, failed_in, lost_an_axis
from .harness import Mistake

KEEPDIM_HINT = (
    "Your sum lost its last axis: kept.sum(dim=-1) has shape (B,), which lines up with "
    "the tokens, not with the rows. Keep it, kept.sum(dim=-1, keepdim=True), shape (B, 1)."
)

# The torch functions `kept / total` (and its in-place and spelt-out forms) fail in.
_DIVISIONS = ("div", "div_", "divide", "true_divide", "__truediv__", "__rtruediv__", "__itruediv__")


def _divided_by_a_row_sum(failure: Failure, case: tuple) -> bool:
    """The division that failed took a sum (nansum) over the last axis of the (B, V)
    probabilities, or what was carried on from one: keepdim gives it (B, 1), the fix the hint
    names. A sum over the batch, (V,), is not it: keepdim's (1, V) fits no better."""
    row_axis_kept = torch.Size((*case[0].shape[:-1], 1))  # (B, 1)
    return failed_in(failure, *_DIVISIONS) and lost_an_axis(failure, "sum", "nansum", kept_as=row_axis_kept)


SUM_WITHOUT_KEEPDIM = Mistake(
    name="sum without keepdim",
    hint=KEEPDIM_HINT,
    compute=None,
    error=r"must match the size of tensor",
    # The renormalising sum's, not a max's, a count's or a threshold's: those fail with the same words.
    failed_at=_divided_by_a_row_sum,
    example=learner.sums_without_keepdim,
)
