"""More of ``multi_head``'s catalogue: the wrong answers met in the seventh and twelfth audits,
each with what it computes, its hint and a learner-style example.
"""

from __future__ import annotations

import torch

from . import multi_head_learners as learner
from .harness import Mistake


def _heads(x, w_q, w_k, w_v, num_heads, *, divide=None, late=False, keys_first=False):
    """Every head's output (B, h, L, d_head); ``divide`` replaces √d_head; ``late``: after the softmax;
    ``keys_first``: scores K Qᵀ, one row per key."""
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = ((x @ w).view(b, length, num_heads, d_head).transpose(1, 2) for w in (w_q, w_k, w_v))
    root = d_head**0.5 if divide is None else divide
    scores = k @ q.transpose(-2, -1) if keys_first else q @ k.transpose(-2, -1)
    if late:
        return torch.softmax(scores, dim=-1) @ v / root
    return torch.softmax(scores / root, dim=-1) @ v


def _joined(heads, w_o):
    return heads.transpose(1, 2).flatten(2) @ w_o


def _token_chunks(x, w_q, w_k, w_v, w_o, num_heads):
    d_head = x.shape[-1] // num_heads
    q, k, v = ((x @ w).chunk(num_heads, dim=1) for w in (w_q, w_k, w_v))
    outs = [torch.softmax(a @ b.transpose(-2, -1) / d_head**0.5, -1) @ c for a, b, c in zip(q, k, v)]
    return torch.cat(outs, dim=1) @ w_o


# Answers met in the seventh audit: each names what it computes.
MORE_MISTAKES = (
    Mistake(
        name="heads joined in reverse order",
        hint="Your heads are joined in reverse order: head 0's output must fill the first d_head "
        "columns, as head 0's queries came from the first d_head columns of x @ w_q. "
        "torch.cat([head 0, head 1, …], dim=-1), or heads.transpose(1, 2).reshape(B, L, D).",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _joined(_heads(x, w_q, w_k, w_v, h).flip(1), w_o),
        example=learner.joins_the_heads_backwards,
    ),
    Mistake(
        name="scaled by √num_heads",
        hint="You divided the scores by √num_heads: the scale is √d_head, the width of each "
        "head's queries and keys (d_model // num_heads).",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _joined(_heads(x, w_q, w_k, w_v, h, divide=h**0.5), w_o),
        example=learner.scales_by_the_number_of_heads,
    ),
    Mistake(
        name="merged with the heads last",
        hint="Your merge puts the heads' axis last, (B, L, d_head, h), so the reshape interleaves "
        "the heads' columns. Put the heads just before d_head: heads.transpose(1, 2) gives "
        "(B, L, h, d_head), then .reshape(B, L, D) lays head 0's columns first.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: (
            _heads(x, w_q, w_k, w_v, h).permute(0, 2, 3, 1).flatten(2) @ w_o
        ),
        example=learner.merges_with_the_heads_last,
    ),
    Mistake(
        name="tokens chunked into heads",
        hint="You split along the TOKENS (chunk(h, dim=1)): each head sees a piece of the "
        "sentence. Heads split the FEATURES: every head sees every token, through its own "
        "d_head columns, .view(B, L, h, d_head).transpose(1, 2).",
        compute=_token_chunks,
        example=learner.chunks_the_tokens,
    ),
    Mistake(
        name="scaled after the softmax",
        hint="You divided by √d_head after the softmax (on the weights or on the heads' output): "
        "the scale goes on the scores, before the softmax, softmax(q @ kᵀ / √d_head).",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _joined(_heads(x, w_q, w_k, w_v, h, late=True), w_o),
        example=learner.scales_the_output,
    ),
    Mistake(
        name="residual added",
        hint="You added x to the result: the residual connection belongs to the layer around "
        "attention (Add & Norm, chapter 07). Multi-head attention returns merged @ w_o alone.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: x + _joined(_heads(x, w_q, w_k, w_v, h), w_o),
        example=learner.adds_the_input,
    ),
    Mistake(
        name="V projected with W_K",
        hint="Your values are projected with w_k: V = x @ w_v (a copy-paste slip?). Q, K and V "
        "each have their own matrix.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _joined(_heads(x, w_q, w_k, w_k, h), w_o),
        example=learner.projects_v_with_w_k,
    ),
    # Met in the twelfth audit: the notebook's own h and d_head (2 and 4), read inside the function.
    Mistake(
        name="the notebook's h",
        hint=f"Your function splits into the notebook's h = {learner.NOTEBOOK_H} heads whatever "
        "num_heads says: take the number of heads from the num_heads argument, and "
        "d_head = d_model // num_heads, not from the notebook's h.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _joined(_heads(x, w_q, w_k, w_v, learner.NOTEBOOK_H), w_o),
        example=learner.uses_the_notebooks_h,
    ),
    Mistake(
        name="the notebook's d_head in the scale",
        hint=f"Your scale is √{learner.NOTEBOOK_D_HEAD} on every input: the notebook's d_head, not "
        "this input's. Compute it inside the function, d_head = d_model // num_heads (or "
        "q.shape[-1]), and divide each head's scores by √d_head.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _joined(
            _heads(x, w_q, w_k, w_v, h, divide=learner.NOTEBOOK_D_HEAD**0.5), w_o
        ),
        example=learner.scales_by_the_notebooks_d_head,
    ),
    Mistake(
        name="keys times queries",
        hint="Your scores are k @ qᵀ: row j then belongs to KEY j, and the softmax spreads each key "
        "over the queries. Each QUERY gets a row: scores = q @ k.transpose(-2, -1).",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _joined(_heads(x, w_q, w_k, w_v, h, keys_first=True), w_o),
        example=learner.puts_the_keys_first,
    ),
)
