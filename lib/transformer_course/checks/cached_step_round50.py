"""More of ``cached_step``'s catalogue, met in round 50's review: training's full (t + 1, t + 1)
causal mask reused for the one new query, and the keys and values swapped in the attention.
"""

from __future__ import annotations

import torch.nn.functional as F

from . import cached_step_learners as learner
from .cached_step_reference import grown, reference
from .describe import same
from .harness import Mistake

_ATOL = 1e-5  # the check's own


def _trainings_mask(fn, case, got) -> bool:
    """out has t + 1 query rows, (B, h, t + 1, d_head): the first attends to the first key only
    (a causal mask's first row), the last is the right output (its row of the mask is all True)."""
    q, k_new, v_new, past_k, past_v = case
    if past_k is None or not isinstance(got, tuple | list) or len(got) != 3:
        return False
    out, values = got[0], grown(past_v, v_new)  # values: (B, h, t + 1, d_head)
    if getattr(out, "shape", None) != values.shape:
        return False
    right = reference(q, k_new, v_new, past_k, past_v)[0]  # (B, h, 1, d_head)
    return same(out[..., -1:, :], right, _ATOL) and same(out[..., :1, :], values[..., :1, :], _ATOL)


def _swapped(q, k_new, v_new, past_k, past_v):
    """q compared with the values, the weights gathering the keys; the cache itself right."""
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    return F.scaled_dot_product_attention(q, values, keys), keys, values


ROUND_50 = (
    Mistake(
        name="training's (t+1, t+1) causal mask",
        hint="You masked with training's (t + 1, t + 1) causal mask. Broadcast against the one "
        "query's (B, h, 1, t + 1) scores, it makes t + 1 query rows, an out of (B, h, t + 1, "
        "d_head), or an error where the result must keep one row. Only its last row, all True, "
        "belongs to the new token: every cached key is in its past, so no mask is needed here.",
        compute=None,
        recognise=_trainings_mask,
        # An in-place add or fill of a (T, T) mask into the (B, h, 1, T) scores (sdpa's attn_mask).
        error=r"output with shape \[\d+, \d+, 1, (\d+)\] doesn't match the broadcast shape "
        r"\[\d+, \d+, \1, \1\]",
        example=learner.masks_with_trainings_mask,
    ),
    Mistake(
        name="keys and values swapped in the attention",
        hint="You compared q with the values and gathered the keys: the keys and values are "
        "swapped in your attention. The scores are q · keysᵀ / √d_head and their softmax "
        "weights the values: F.scaled_dot_product_attention(q, keys, values).",
        compute=_swapped,
        example=learner.swaps_keys_and_values,
    ),
)
