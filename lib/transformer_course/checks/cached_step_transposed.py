"""Round 47b: "k not transposed" in ``cached_step``, named only where it is that mistake.

The mistake was named by the error's text, which any shape error of the step matches (a
broadcast ``weights * values`` without the weights transposed, weights over k_new alone times
every value). Since round 47c the harness names it (``failed_at``) where the learner's step, run
again on the same input, failed at a matrix product one of whose operands holds the cache's keys,
every number of them, in a layout that is not (…, d_head, t + 1): keys as they are, keys.T, a
reshape. Any other error keeps the verdict the harness gives (another mistake's, or what was
raised).
"""

from __future__ import annotations

import torch

from . import cached_step_learners as learner
from .cached_step_keys import PRODUCTS
from .cached_step_reference import grown
from .failure import Failure
from .harness import Mistake

TRANSPOSE_HINT = (
    "The scores need the keys transposed: q @ keys.transpose(-2, -1) is (B, h, 1, t + 1), "
    "one dot product per cached position. (On a 4-D tensor .T reverses ALL the axes, "
    "(d_head, t + 1, h, B): swap only the last two, .transpose(-2, -1) or .mT.)"
)


def _holds_the_keys(operand: object, keys: torch.Tensor) -> bool:
    """``operand`` has the keys' numbers, (B, h, t + 1, d_head), in a layout other than the
    transposed one, (…, d_head, t + 1): as they are, .T, a reshape, a permute (compared sorted,
    so the order of the axes does not matter)."""
    if not isinstance(operand, torch.Tensor) or operand.numel() != keys.numel() or operand.dim() < 2:
        return False
    if operand.shape[-1] == keys.shape[-2] and (
        operand.dim() != keys.dim() or operand.shape[-2] == keys.shape[-1]
    ):
        # Positions last and d_head before them (torch.bmm on 4-D), or the heads merged into one
        # axis of h · d_head first: transposed, the product failed for another reason. (Positions
        # last after a permute that put h before them is a transpose gone wrong: named.)
        return False
    mine, theirs = operand.detach().double().flatten().sort().values, keys.double().flatten().sort().values
    return bool(torch.allclose(mine, theirs, rtol=1e-6, atol=1e-7))


def multiplies_untransposed_keys(failure: Failure, case: tuple) -> bool:
    """The step on ``case`` failed at a matrix product that took the keys (the cache grown with
    k_new, k_new alone or the cached ones) without their last two axes swapped."""
    _, k_new, _, past_k, _ = case
    if failure.name not in PRODUCTS:  # an einsum takes the keys as they are: its subscripts failed
        return False
    every = grown(past_k, k_new)  # (B, h, t + 1, d_head)
    keys = [k for k in (every, k_new, past_k) if k is not None]  # all, the new one's, the cached
    return any(_holds_the_keys(op, k) for op in failure.operands for k in keys)


# Named by the harness where the step raised, whatever the error's text, and the product that
# failed took the keys untransposed: last in the catalogue, after every mistake its error names.
K_NOT_TRANSPOSED = Mistake(
    name="k not transposed",
    hint=TRANSPOSE_HINT,
    compute=None,
    error=r"",
    failed_at=multiplies_untransposed_keys,
    example=learner.untransposed,
)
