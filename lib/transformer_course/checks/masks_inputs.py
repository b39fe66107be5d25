"""Round 44: ``causal_masked_weights``'s case and mistake that only large scores show: scores in
the hundreds, where a softmax written by hand without the max overflows (exp(89) is already
inf in float32, and inf / inf = NaN)."""

from __future__ import annotations

import torch

from .attention_inputs import OVERFLOW_HINT, overflows
from .harness import Mistake
from .masks_reference import correct_mask, ignoring_empty_rows, reference

# Every score moved up by 100: the weights stay the same (a softmax ignores a shift of its row),
# but exp of the scores overflows. A shift, not a scale, keeps each row's scores within ~40 of
# each other, so zeroing the blocked weights and renormalising (a right answer) underflows nowhere.
SHIFT = 100.0


def edge_cases() -> list[tuple]:
    """scores (2, 5, 5) of about 100 ± 12, ids (2, 5) with padding in the middle, pad_id 0."""
    g = torch.Generator().manual_seed(64)
    ids = torch.tensor([[5, 6, 0, 7, 8], [9, 0, 0, 4, 3]])
    return [(torch.randn(2, 5, 5, generator=g) * 4 + SHIFT, ids, 0)]


def _shrunk(case: tuple) -> tuple:
    scores, ids, pad_id = case
    return scores - SHIFT, ids, pad_id


def _learner_exps_without_the_max(scores, ids, pad_id):
    e = scores.masked_fill(~correct_mask(ids, pad_id), float("-inf")).exp()  # exp(-inf) = 0: blocked
    return e / e.sum(dim=-1, keepdim=True)


INPUTS = (
    # First in the catalogue: on the large scores NaN equals NaN, and a wrong mask that blocks a
    # whole row gives NaN too.
    Mistake(
        name="softmax by hand overflows",
        hint=OVERFLOW_HINT,
        compute=None,
        recognise=overflows(ignoring_empty_rows(reference), _shrunk),
        example=_learner_exps_without_the_max,
    ),
)
