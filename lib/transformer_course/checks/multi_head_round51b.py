"""Round 51 (review R3: F6, F7, F7b): three of ``multi_head``'s wrong answers that got only
"differs at index".

- F7b: q split right, ``.view(B, L, h, d_head).transpose(1, 2)``, but k and v (any two of q, k,
  v) split with ``.view(B, h, L, d_head)``: a half-fix after "Why the transpose matters". One
  such split is named in ``multi_head_slips``, all three with the merge in ``multi_head``.
- F6: each head's own slice of x through its own diagonal block of W, ``x[..., sl] @ w_q[sl,
  sl]``: "columns i·d_head … belong to head i" read as rows too.
- F7: the heads averaged or summed instead of set side by side.
"""

from __future__ import annotations

import math
from itertools import combinations

import torch

from .describe import same
from .harness import Mistake

ATOL = 1e-4  # the checker's own


def _attend(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v


def _unsplit(x, w_q, w_k, w_v, w_o, h, *, unsplit=("k", "v")):
    """The right multi-head attention with the projections named in ``unsplit`` cut into heads
    by a bare reshape (B, h, L, d_head): each 'head' holds pieces of several tokens."""
    b, length, d = x.shape

    def split(t, name):
        if name in unsplit:
            return t.reshape(b, h, length, d // h)
        return t.reshape(b, length, h, d // h).transpose(1, 2)

    q, k, v = split(x @ w_q, "q"), split(x @ w_k, "k"), split(x @ w_v, "v")
    return _attend(q, k, v).transpose(1, 2).reshape(b, length, d) @ w_o


def _two_unsplit(fn, case, got) -> bool:
    x, *_, h = case
    if h < 2 or x.shape[1] < 2:
        return False
    return any(same(got, _unsplit(*case, unsplit=pair), ATOL) for pair in combinations("qkv", 2))


def _diagonal_blocks(x, w_q, w_k, w_v, w_o, h):
    """Head i: x's features i·d_head … through the (d_head, d_head) diagonal block of each W."""
    d_head, heads = x.shape[-1] // h, []
    for i in range(h):
        sl = slice(i * d_head, (i + 1) * d_head)
        heads.append(_attend(x[..., sl] @ w_q[sl, sl], x[..., sl] @ w_k[sl, sl], x[..., sl] @ w_v[sl, sl]))
    return torch.cat(heads, dim=-1) @ w_o


def _combined(x, w_q, w_k, w_v, w_o, h, *, how: str, widen: bool):
    """The heads (B, h, L, d_head) averaged or summed (``how``) into one, then through W_O's
    first d_head rows, or repeated h times to D wide (``widen``) and through all of W_O."""
    b, length, d = x.shape
    split = lambda t: t.reshape(b, length, h, d // h).transpose(1, 2)  # noqa: E731
    heads = _attend(split(x @ w_q), split(x @ w_k), split(x @ w_v))
    one = heads.mean(1) if how == "mean" else heads.sum(1)  # (B, L, d_head)
    return one.repeat(1, 1, h) @ w_o if widen else one @ w_o[: d // h]


def _heads_combined(fn, case, got) -> bool:
    if case[-1] < 2:
        return False
    return any(
        same(got, _combined(*case, how=how, widen=widen), ATOL)
        for how in ("mean", "sum")
        for widen in (False, True)
    )


def _learner_splits_k_and_v_without_transpose(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d = x.shape
    dh = d // num_heads
    q = (x @ w_q).view(b, length, num_heads, dh).transpose(1, 2)
    k = (x @ w_k).view(b, num_heads, length, dh)
    v = (x @ w_v).view(b, num_heads, length, dh)
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(dh), -1)
    return (w @ v).transpose(1, 2).reshape(b, length, d) @ w_o


def _learner_slices_x_and_w(x, w_q, w_k, w_v, w_o, num_heads):
    dh, outs = x.shape[-1] // num_heads, []
    for i in range(num_heads):
        sl = slice(i * dh, (i + 1) * dh)
        q, k, v = x[..., sl] @ w_q[sl, sl], x[..., sl] @ w_k[sl, sl], x[..., sl] @ w_v[sl, sl]
        outs.append(torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(dh), -1) @ v)
    return torch.cat(outs, -1) @ w_o


def _learner_averages_the_heads(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d = x.shape
    dh = d // num_heads
    sp = lambda t: t.view(b, length, num_heads, dh).transpose(1, 2)  # noqa: E731
    q, k, v = sp(x @ w_q), sp(x @ w_k), sp(x @ w_v)
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(dh), -1)
    return (w @ v).mean(1).repeat(1, 1, num_heads) @ w_o


ROUND_51B = (
    Mistake(
        name="two of q, k, v split without the transpose",
        hint="Two of your three splits (q, k, v) are a bare .view(B, h, L, d_head), with no "
        "transpose: it cuts the (L, D) block row by row, so each of those 'heads' mixes pieces of "
        "several tokens. Split all three the same way, .view(B, L, h, d_head).transpose(1, 2) "
        "(one split function used three times keeps them alike).",
        compute=None,
        recognise=_two_unsplit,
        example=_learner_splits_k_and_v_without_transpose,
    ),
    Mistake(
        name="slices of x through diagonal blocks of W",
        hint="You cut the INPUT x into h slices, each through its own diagonal block w[sl, sl]: "
        "each head then sees only d_head of the token's features. Head i owns the COLUMNS "
        "i·d_head … (i+1)·d_head − 1 of W, and all its rows: project the whole x, "
        "x @ w_q[:, sl] (or x @ w_q, then split into heads).",
        compute=_diagonal_blocks,
        example=_learner_slices_x_and_w,
    ),
    Mistake(
        name="heads averaged or summed",
        hint="You combined the heads by averaging or summing them into one d_head-wide head: "
        "each head's output must keep its own place. Concatenate them side by side, "
        "(B, h, L, d_head) → .transpose(1, 2).reshape(B, L, D), then @ w_o. (W_O per head works "
        "too, if head i takes its OWN rows, w_o[i·d_head:(i+1)·d_head], not the first d_head rows "
        "for all.)",
        compute=None,
        recognise=_heads_combined,
        example=_learner_averages_the_heads,
    ),
)
