"""More of ``multi_head``'s catalogue: the wrong answers met in round 43b's battery (the scores
scaled by √L, one of Q, K, V split without its transpose), each with what it computes and its hint,
and a learner-style example. ``multi_head.py`` is full: these reach its catalogue through
``multi_head_more.MORE_MISTAKES``.
"""

from __future__ import annotations

import torch

from .describe import same
from .harness import Mistake


def _attend(x, w_q, w_k, w_v, w_o, num_heads, *, root=None, flat=""):
    """Multi-head attention, (B, L, D) → (B, L, D); ``root`` replaces √d_head; ``flat`` names the
    projections ("q", "k" or "v") split by a bare view (B, h, L, d_head), with no transpose."""
    b, length, d_model = x.shape
    d_head = d_model // num_heads

    def split(t, name):  # (B, L, D) → (B, h, L, d_head)
        if name in flat:
            return t.reshape(b, num_heads, length, d_head)
        return t.reshape(b, length, num_heads, d_head).transpose(1, 2)

    q, k, v = (split(x @ w, name) for w, name in ((w_q, "q"), (w_k, "k"), (w_v, "v")))
    scale = d_head**0.5 if root is None else root
    heads = torch.softmax(q @ k.transpose(-2, -1) / scale, dim=-1) @ v  # (B, h, L, d_head)
    return heads.transpose(1, 2).reshape(b, length, d_model) @ w_o


def _one_split_flat(fn, case, got) -> bool:
    """Exactly one of q, k, v split by a bare view (two or three: other mistakes' answers)."""
    return any(same(got, _attend(*case, flat=name), 1e-4) for name in "qkv")


def scales_by_the_length(x, w_q, w_k, w_v, w_o, num_heads):
    """A learner's: d_head read from the wrong axis of q, (B, h, L, d_head)."""
    b, length, d_model = x.shape
    q, k, v = ((x @ w).view(b, length, num_heads, -1).permute(0, 2, 1, 3) for w in (w_q, w_k, w_v))
    d_head = q.size(-2)  # meant the last axis
    weights = (q @ k.transpose(2, 3) / d_head**0.5).softmax(-1)
    return (weights @ v).permute(0, 2, 1, 3).reshape(b, length, d_model) @ w_o


def splits_the_keys_flat(x, w_q, w_k, w_v, w_o, num_heads):
    """A learner's: the keys' split written again, its transpose forgotten."""
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q = (x @ w_q).view(b, length, num_heads, d_head).transpose(1, 2)
    k = (x @ w_k).view(b, num_heads, length, d_head)
    v = (x @ w_v).view(b, length, num_heads, d_head).transpose(1, 2)
    weights = torch.softmax(q @ k.transpose(-1, -2) / d_head**0.5, dim=-1)
    return (weights @ v).transpose(1, 2).contiguous().view(b, length, d_model) @ w_o


def roots_with_torch(x, w_q, w_k, w_v, w_o, num_heads):
    """A learner's: torch.sqrt given the int d_head."""
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = ((x @ w).view(b, length, num_heads, d_head).transpose(1, 2) for w in (w_q, w_k, w_v))
    weights = torch.softmax(q @ k.transpose(-2, -1) / torch.sqrt(d_head), dim=-1)
    return (weights @ v).transpose(1, 2).reshape(b, length, d_model) @ w_o


ROUND_43B = (
    Mistake(
        name="torch.sqrt of a number",
        hint="torch.sqrt takes a tensor, and d_head is a plain int (d_model // num_heads): use "
        "math.sqrt(d_head) or d_head ** 0.5.",
        compute=None,
        error=r"sqrt\(\): argument 'input' \(position 1\) must be Tensor, not (int|float)",
        example=roots_with_torch,
    ),
    Mistake(
        name="scaled by √L",
        hint="You divided each head's scores by √L, the number of tokens (q.shape[-2], or "
        "x.shape[1]): the scale is √d_head, the width of each head's queries and keys, "
        "q.shape[-1] or d_model // num_heads.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _attend(x, w_q, w_k, w_v, w_o, h, root=x.shape[1] ** 0.5),
        example=scales_by_the_length,
    ),
    Mistake(
        name="one split without its transpose",
        hint="One of your three splits (q, k or v) is a bare .view(B, h, L, d_head), with no "
        "transpose: it cuts the (L, D) block row by row, so that head mixes pieces of several "
        "tokens. Split all three the same way, .view(B, L, h, d_head).transpose(1, 2) (one "
        "split function used three times keeps them alike).",
        compute=None,
        recognise=_one_split_flat,
        example=splits_the_keys_flat,
    ),
)
