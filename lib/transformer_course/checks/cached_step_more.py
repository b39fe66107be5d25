"""More of ``cached_step``'s catalogue: the wrong answers met in the ninth audit (a softmax down
the batch, no softmax at all, a cache added to or grown with list idioms) and in the forty-first
round (√d_head applied after the softmax, a log-softmax for the weights, the three results in
another order, the heads merged), each with its hint and a learner-style example (in
``cached_step_learners``).
"""

from __future__ import annotations

import math
from functools import partial

import torch

from . import cached_step_learners as learner
from .cached_step_reference import reference, variant
from .describe import same
from .harness import Mistake


def _scores_as_weights(fn, case, got) -> bool:
    """The scores, scaled by √d_head or not, where the softmax's weights belong."""
    return any(
        same(got, variant(*case, weights_by=lambda s, d, by=by: s / by(d)), 1e-5)
        for by in (math.sqrt, lambda d: 1.0)
    )


def _in_another_order(fn, case, got) -> bool:
    """The right out, keys and values, returned in an order other than (out, keys, values)."""
    if not isinstance(got, tuple | list) or len(got) != 3:
        return False
    out, keys, values = reference(*case)
    orders = ((keys, values, out), (values, keys, out), (keys, out, values), (values, out, keys))
    return any(same(tuple(got), order, 1e-5) for order in orders)


def _heads_merged(fn, case, got) -> bool:
    """The right out with its heads merged into one vector per query, (B, 1, h · d_head) or
    (B, h · d_head), as a whole attention layer returns before its output projection."""
    if not isinstance(got, tuple | list) or len(got) != 3 or not isinstance(got[0], torch.Tensor):
        return False
    out = reference(*case)[0]
    merged = out.transpose(1, 2).reshape(out.shape[0], 1, -1)
    return any(same(got[0], want, 1e-5) for want in (merged, merged[:, 0]))


MORE_MISTAKES = (
    Mistake(
        name="softmax down the batch",
        hint="Your softmax ran over dim=0, the batch: it shares each weight out among the stories "
        "instead of among one query's keys. Each head's weights over the cached positions must "
        "sum to 1 on their own: torch.softmax(scores, dim=-1).",
        compute=partial(variant, weights_by=lambda s, d: torch.softmax(s / math.sqrt(d), dim=0)),
        example=learner.softmax_down_the_batch,
    ),
    Mistake(
        name="no softmax",
        hint="You used the scores themselves as the weights: without the softmax they do "
        "not sum to 1 and may be negative, so out is no average of the values. Turn them into "
        "weights first, torch.softmax(scores, dim=-1), then multiply by the values.",
        compute=None,
        recognise=_scores_as_weights,
        example=learner.forgets_the_softmax,
    ),
    Mistake(
        name="cache added to",
        hint="You ADDED the new key and value to the cache (past_k + k_new): that sums them into "
        "every cached position, and the cache never grows. Append the new position at the end "
        "instead: torch.cat([past_k, k_new], dim=2), (B, h, t + 1, d_head).",
        compute=partial(
            variant,
            keys_by=lambda q, k, past: k if past is None else past + k,
            values_by=lambda k, v, past: v if past is None else past + v,
        ),
        example=learner.adds_to_the_cache,
    ),
    Mistake(
        name="torch.cat without a list",
        hint="torch.cat takes ONE sequence of tensors, then the axis: torch.cat([past_k, k_new], "
        "dim=2), not torch.cat(past_k, k_new, …).",
        compute=None,
        # torch.cat(a, b, dim=2), or torch.cat(a, b, 2)
        error=r"cat\(\): argument 'tensors' \(position 1\) must be tuple of Tensors, not Tensor|"
        r"cat\(\) takes from 1 to 2 positional arguments but 3 were given",
        example=learner.cats_without_a_list,
    ),
    Mistake(
        name="append on a tensor",
        hint="past_k is a tensor, not a Python list: it has no .append. Grow it along the "
        "positions, keys = torch.cat([past_k, k_new], dim=2), and return the new tensor (the "
        "first step, with past_k None, starts from k_new itself).",
        compute=None,
        error=r"'Tensor' object has no attribute 'append'",
        example=learner.appends_to_a_tensor,
    ),
    Mistake(
        name="√d_head after the softmax",
        hint="You divided by √d_head AFTER the softmax, so the weights no longer sum to 1: the "
        "scale belongs to the scores, before the softmax, torch.softmax(q @ keys.transpose(-2, "
        "-1) / math.sqrt(d_head), dim=-1).",
        compute=partial(variant, weights_by=lambda s, d: torch.softmax(s, dim=-1) / math.sqrt(d)),
        example=learner.scales_after_the_softmax,
    ),
    Mistake(
        name="log-softmax for the weights",
        hint="Your weights are LOG-probabilities (log_softmax): negative numbers that do not sum "
        "to 1, so out is no average of the values. Attention mixes the values with the "
        "probabilities themselves, torch.softmax(scores, dim=-1).",
        compute=partial(variant, weights_by=lambda s, d: torch.log_softmax(s / math.sqrt(d), dim=-1)),
        example=learner.log_softmax_weights,
    ),
    Mistake(
        name="results in another order",
        hint="Your three tensors are right but in another order: return (out, keys, values), out "
        "first, then the grown cache, keys before values, as the exercise unpacks them.",
        compute=None,
        recognise=_in_another_order,
        example=learner.returns_the_cache_first,
    ),
    Mistake(
        name="heads merged",
        hint="Your out has the heads merged into one vector, (B, 1, h · d_head): this step works "
        "head by head and returns out as (B, h, 1, d_head), the shape of q. Merging the heads "
        "(and the output projection) is the attention layer's job, after this step.",
        compute=None,
        recognise=_heads_merged,
        example=learner.merges_the_heads,
    ),
)
