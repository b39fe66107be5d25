"""The wrong answers learners write for ``masks``, as code: each Mistake's example.

A masked softmax with one switch per mistake (``by_hand``), five other correct ways to mask
(lib's masks, zero and renormalise, torch.where, an additive mask, a loop), then masks a learner
builds with the wrong shape or meaning. Imported by ``masks``, which it never imports.
"""

from __future__ import annotations

from functools import partial

import torch

from ..attention import scaled_dot_product_attention
from ..masks import causal_mask, combine_masks, padding_mask


def by_hand(
    scores,
    ids,
    pad_id,
    *,
    after=False,
    diagonal=0,
    upper=False,
    query_axis=False,
    combine="and",
    causal=True,
    padding=True,
    inverted=False,
    blocked_value=float("-inf"),
    pad_inverted=False,
):
    """A learner's masked softmax with one switch per catalogued mistake (all off: correct)."""
    length = ids.shape[1]
    tri = torch.tril(torch.ones(length, length), diagonal=diagonal).bool()
    if upper:
        tri = torch.triu(torch.ones(length, length)).bool()
    is_real = (ids == pad_id) if pad_inverted else (ids != pad_id)
    real = is_real.unsqueeze(-1) if query_axis else is_real.unsqueeze(1)
    if query_axis == "both":
        real = is_real.unsqueeze(-1) & is_real.unsqueeze(1)
    if causal and padding:
        allowed = tri | real if combine == "or" else tri & real
    elif causal:
        allowed = tri.expand(ids.shape[0], length, length)
    else:
        allowed = real.expand(ids.shape[0], length, length)
    if after:
        return torch.softmax(scores, dim=-1) * allowed
    blocked = allowed if inverted else ~allowed
    return torch.softmax(scores.masked_fill(blocked, blocked_value), dim=-1)


# --- Other correct answers ---


def with_lib(scores, ids, pad_id):
    """The lib's masks; scores turned back into weights by the lib's attention (q = scores, k = I)."""
    mask = combine_masks(causal_mask(ids.shape[1]), padding_mask(ids, pad_id)[:, 0])
    eye = torch.eye(ids.shape[1]).expand(ids.shape[0], -1, -1)
    return scaled_dot_product_attention(scores, eye, eye, mask, scale=1.0)[1]


def zero_then_renormalise(scores, ids, pad_id):
    allowed = torch.ones(ids.shape[1], ids.shape[1]).tril() * (ids != pad_id)[:, None, :]
    weights = torch.softmax(scores, dim=-1) * allowed  # blocked weights → 0 …
    return weights / weights.sum(dim=-1, keepdim=True)  # … and the rest shares the whole 1 again


def with_where(scores, ids, pad_id):
    allowed = torch.ones_like(scores).tril().bool() & (ids != pad_id)[:, None, :]  # (B, L, L)
    return torch.softmax(torch.where(allowed, scores, float("-inf")), dim=-1)


def with_additive_mask(scores, ids, pad_id):
    """A float mask added to the scores: 0 where allowed, -1e9 where blocked, in float64."""
    allowed = torch.ones(ids.shape[1], ids.shape[1]).tril().bool() & (ids != pad_id)[:, None, :]
    bias = torch.zeros(allowed.shape, dtype=torch.float64).masked_fill(~allowed, -1e9)
    return torch.softmax(scores.double() + bias, dim=-1)


def one_row_at_a_time(scores, ids, pad_id):
    out = torch.zeros_like(scores)
    for b in range(scores.shape[0]):
        for i in range(scores.shape[1]):
            keys = [j for j in range(i + 1) if ids[b, j] != pad_id]
            if keys:
                out[b, i, keys] = torch.softmax(scores[b, i, keys], dim=0)
    return out


# --- The wrong answers, each a Mistake's example ---


def masks_without_a_query_axis(scores, ids, pad_id):
    length = ids.shape[1]
    future = torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)
    scores = scores.masked_fill(future, float("-inf"))
    return torch.softmax(scores.masked_fill(ids == pad_id, float("-inf")), dim=-1)  # (B, L) mask


def fills_with_a_float_mask(scores, ids, pad_id):
    allowed = torch.ones(ids.shape[1], ids.shape[1]).tril() * (ids != pad_id)[:, None, :]  # 1.0 / 0.0
    return torch.softmax(scores.masked_fill(1 - allowed, float("-inf")), dim=-1)


def normalises_the_columns(scores, ids, pad_id):
    allowed = torch.ones_like(scores).tril().bool() & (ids != pad_id)[:, None, :]
    return torch.softmax(scores.masked_fill(~allowed, -1e9), dim=1)


def discards_the_fill(scores, ids, pad_id):
    allowed = torch.ones_like(scores).tril().bool() & (ids != pad_id)[:, None, :]
    scores.masked_fill(~allowed, float("-inf"))  # a new tensor, never assigned
    return torch.softmax(scores, dim=-1)


def forgets_the_softmax(scores, ids, pad_id):
    allowed = torch.ones_like(scores).tril().bool() & (ids != pad_id)[:, None, :]
    return torch.where(allowed, scores, float("-inf"))


def blocks_the_past(scores, ids, pad_id):
    length = ids.shape[1]
    blocked = torch.ones(length, length, dtype=torch.bool).tril()  # "tril marks what to hide"
    blocked = blocked | (ids == pad_id)[:, None, :]
    return torch.softmax(scores.masked_fill(blocked, float("-inf")), dim=-1)


def uses_the_four_d_padding_mask(scores, ids, pad_id):
    length = ids.shape[1]
    allowed = torch.ones(length, length, dtype=torch.bool).tril() & padding_mask(ids, pad_id)  # (B, 1, L, L)
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)


def adds_the_mask(scores, ids, pad_id):
    """The True/False mask added to the scores, as an additive mask is, instead of filled."""
    allowed = torch.ones(ids.shape[1], ids.shape[1]).tril() * (ids != pad_id)[:, None, :]  # 1.0 / 0.0
    return torch.softmax(scores + allowed, dim=-1)


def pads_after_the_softmax(scores, ids, pad_id):
    """The causal mask filled before the softmax, the padding multiplied in after it."""
    length = ids.shape[1]
    future = torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    return weights * (ids != pad_id).unsqueeze(1)


def tril_after_the_softmax(scores, ids, pad_id):
    """The padding filled before the softmax, the causal mask taken of the weights after it."""
    padded = (ids == pad_id).unsqueeze(1)
    return torch.softmax(scores.masked_fill(padded, float("-inf")), dim=-1).tril()


# --- Met in the seventh audit ---


def _allowed(ids, pad_id):
    length = ids.shape[1]
    return torch.ones(length, length, dtype=torch.bool).tril() & (ids != pad_id).unsqueeze(1)


def zeroes_the_future_with_tril(scores, ids, pad_id):
    scores = scores.tril()  # "hide the future": zeros above the diagonal, not -inf
    return torch.softmax(scores.masked_fill((ids == pad_id).unsqueeze(1), float("-inf")), dim=-1)


def fills_with_minus_one(scores, ids, pad_id):
    return torch.softmax(scores.masked_fill(~_allowed(ids, pad_id), -1), dim=-1)


def fills_with_minus_ten(scores, ids, pad_id):
    return torch.softmax(torch.where(_allowed(ids, pad_id), scores, torch.tensor(-10.0)), dim=-1)


def fills_with_plus_inf(scores, ids, pad_id):
    return torch.softmax(scores.masked_fill(~_allowed(ids, pad_id), float("inf")), dim=-1)


def transposes_the_weights(scores, ids, pad_id):
    weights = torch.softmax(scores.masked_fill(~_allowed(ids, pad_id), float("-inf")), dim=-1)
    return weights.transpose(1, 2)  # "keys as rows", as in the plot


def fills_minus_inf_after_the_softmax(scores, ids, pad_id):
    return torch.softmax(scores, dim=-1).masked_fill(~_allowed(ids, pad_id), float("-inf"))


# --- Met in the forty-first read ---


def scales_the_scores_again(scores, ids, pad_id):
    """Divides by √d as attention does: but these scores come scaled already."""
    scores = scores / scores.shape[-1] ** 0.5
    return torch.softmax(scores.masked_fill(~_allowed(ids, pad_id), float("-inf")), dim=-1)


def returns_log_softmax(scores, ids, pad_id):
    return torch.log_softmax(scores.masked_fill(~_allowed(ids, pad_id), float("-inf")), dim=-1)


def exp_without_the_sum(scores, ids, pad_id):
    """A softmax written out by hand, the division by the row's sum forgotten."""
    masked = scores.masked_fill(~_allowed(ids, pad_id), float("-inf"))
    return torch.exp(masked - masked.amax(dim=-1, keepdim=True))  # a row all -inf: NaN, not compared


def normalises_over_the_batch(scores, ids, pad_id):
    return torch.softmax(scores.masked_fill(~_allowed(ids, pad_id), -1e9), 0)


def renormalises_without_keepdim(scores, ids, pad_id):
    weights = torch.softmax(scores, dim=-1) * _allowed(ids, pad_id)
    return weights / weights.sum(dim=-1)  # (B, L, L) / (B, L): lines up the wrong axes


# --- Round 43: another right answer, in a style not registered before ---
def log_of_a_float_mask(scores, ids, pad_id):
    """The mask as 1.0 / 0.0, its log (0 or −∞) added to the scores, in float64."""
    length = ids.shape[1]
    keep = torch.ones(length, length, dtype=torch.float64).tril() * (ids != pad_id).double()[:, None, :]
    return torch.softmax(scores.double() + keep.log(), dim=-1).to(scores.dtype)


# The right answers in other styles that the checker must pass (``masks.ALTERNATIVES``).
ALTERNATIVES = {
    "lib's masks and attention": with_lib,
    "an additive -1e9 mask, float64": with_additive_mask,
    "a loop over the rows": one_row_at_a_time,
    "by hand, every switch off": by_hand,
    "-1e9 instead of -inf": partial(by_hand, blocked_value=-1e9),
    "zeroing, then renormalising": zero_then_renormalise,
    "torch.where": with_where,
    "the log of a 1/0 mask added, float64": log_of_a_float_mask,
}
