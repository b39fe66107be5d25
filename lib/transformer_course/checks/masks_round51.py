"""Round 51 (review R3): ``causal_masked_weights``'s slips that were named wrongly or not at all.

- NaN in every weight, also where nothing is blocked: 0 × -inf (an additive mask written as
  ``(1 - allowed) * float('-inf')``) or a mask that blocks everything (``~`` on a 0/1 integer
  mask). The "+inf fill" hint named them before: its weights are NaN only in rows with a blocked key.
- The mask laid on the scores transposed (``~allowed.transpose(-2, -1)``).
- Any catalogued mistake whose NaN rows were then set to 0 (``nan_to_num``, ``torch.where(isnan,
  0, w)``): the same hint, and a word on the patch (``nan_zeroed``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch

from .harness import Mistake
from .masks_reference import correct_mask, using_mask


def _nan_everywhere(fn: Callable, case: tuple, got: object) -> bool:
    """Every weight the checker compares is NaN, and on a probe whose last query may see every key
    (nothing to block) that row is NaN too: NaN came from the mask itself, not from a +inf fill."""
    scores, ids, pad_id = case
    if not isinstance(got, torch.Tensor) or got.shape != scores.shape or not got.is_floating_point():
        return False
    seen = correct_mask(ids, pad_id).any(dim=-1)  # (B, L): rows with an answer
    if not bool(got.isnan()[seen].all()):
        return False
    probe_ids = torch.tensor([[pad_id + 1, pad_id + 2, pad_id + 3]])
    probe = fn(torch.randn(1, 3, 3, generator=torch.Generator().manual_seed(51)), probe_ids, pad_id)
    return isinstance(probe, torch.Tensor) and probe.shape == (1, 3, 3) and bool(probe[0, -1].isnan().all())


def _learner_multiplies_by_minus_inf(scores, ids, pad_id):
    length = ids.shape[1]
    ok = (torch.ones(length, length).tril().bool() & (ids != pad_id).unsqueeze(1)).float()
    return torch.softmax(scores + (1 - ok) * float("-inf"), -1)  # 0 * -inf = NaN where allowed


def _learner_inverts_an_integer_mask(scores, ids, pad_id):
    length = ids.shape[1]
    ok = torch.ones(length, length).tril().long() * (ids != pad_id).long().unsqueeze(1)
    return torch.softmax(scores.masked_fill((~ok).bool(), float("-inf")), -1)  # ~1 = -2, ~0 = -1


def _learner_transposes_the_mask(scores, ids, pad_id):
    length = ids.shape[1]
    allowed = torch.ones(length, length, dtype=torch.bool).tril() & (ids != pad_id).unsqueeze(1)
    return torch.softmax(scores.masked_fill(~allowed.transpose(-2, -1), -1e9), -1)


_NAN_FROM_THE_MASK = (
    "Every one of your weights is NaN, even in a row where no key is blocked, so NaN came into the "
    "scores with the mask. Two usual causes: 0 × -inf is NaN, so an additive mask "
    "(1 - allowed) * float('-inf') turns the ALLOWED scores into NaN too (use "
    "scores.masked_fill(~allowed, float('-inf')), torch.where, or -1e9 in the additive form); or "
    "every score was blocked: ~ on a 0/1 integer mask gives -2 and -1, both True as bool (build "
    "the mask with dtype=torch.bool, or block where ok == 0)."
)

# First in the catalogue: the +inf fill and the overflow's NaN would claim these.
FIRST = (
    Mistake(
        name="NaN from the mask itself",
        hint=_NAN_FROM_THE_MASK,
        compute=None,
        recognise=_nan_everywhere,
        example=_learner_multiplies_by_minus_inf,
    ),
    Mistake(
        name="integer mask inverted with ~",
        hint=_NAN_FROM_THE_MASK,
        compute=None,
        recognise=_nan_everywhere,
        example=_learner_inverts_an_integer_mask,
    ),
)

LAST = (
    Mistake(
        name="mask transposed",
        hint="Your mask is transposed: allowed[b, i, j] says whether query i (a row) may see key j "
        "(a column), and yours is allowed.transpose(-2, -1), which lets each query see the FUTURE "
        "and blocks the padded queries' rows instead of the padded keys. Use the mask as built: "
        "tril() for the causal part, (ids != pad_id).unsqueeze(1), shape (B, 1, L), for the padding.",
        compute=using_mask(lambda ids, pad_id: correct_mask(ids, pad_id).mT),
        example=_learner_transposes_the_mask,
    ),
)

_PATCHED = (
    " (The NaN this gives were then set to 0, with nan_to_num or torch.where: that hides the "
    "symptom, not the slip.)"
)


def nan_zeroed(mistake: Mistake) -> Mistake | None:
    """The mistake with its NaN weights set to 0 afterwards, as learners patch them; None for a
    mistake named otherwise than by what it computes."""
    compute = mistake.compute
    if compute is None:
        return None

    def patched(scores, ids, pad_id):
        out = compute(scores, ids, pad_id)
        return torch.nan_to_num(out, nan=0.0) if isinstance(out, torch.Tensor) else out

    return replace(mistake, compute=patched, hint=mistake.hint + _PATCHED)
