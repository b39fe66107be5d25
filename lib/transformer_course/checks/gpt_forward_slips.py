"""More of ``gpt_forward``'s catalogue: the wrong answers met in round 43b's battery (the final
LayerNorm written by hand with the unbiased variance or over the whole story, chapter 02's
sinusoidal table in place of the learned positions, the final norm applied twice), each with
what it computes, its hint and a learner-style example. They reach the catalogue through
``gpt_forward_more.MORE_MISTAKES``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..positional import sinusoidal_encoding
from .describe import same
from .harness import Mistake


def _run(parts, ids, *, rows=None, norm=None):
    """The forward pass with ``rows(L, d)`` for the positions and ``norm(h)`` for the final norm."""
    length, d = ids.shape[1], parts.token.embedding_dim
    table = parts.positions.weight[:length] if rows is None else rows(length, d)
    h = parts.token.weight[ids] * math.sqrt(d) + table  # (B, L, d)
    sees = torch.ones(length, length, dtype=torch.bool).tril()
    for block in parts.blocks:
        h = block(h, sees)
    return (parts.norm(h) if norm is None else norm(parts.norm, h)) @ parts.token.weight.T  # (B, L, V)


def _unbiased(norm, h):
    centred = h - h.mean(-1, keepdim=True)
    return centred / (h.var(-1, keepdim=True) + norm.eps).sqrt() * norm.weight + norm.bias


def _over_the_story(norm, h):
    return F.layer_norm(h, h.shape[-2:], eps=norm.eps) * norm.weight + norm.bias


def _without_bias(norm, h):
    return F.layer_norm(h, h.shape[-1:], norm.weight, eps=norm.eps)


def _one_row_for_all(fn, case, got) -> bool:
    """Row L (or L − 1) of the position table added to every token."""
    parts, ids = case
    rows = (ids.shape[1], ids.shape[1] - 1)
    return any(
        same(got, _run(parts, ids, rows=lambda n, d, r=r: parts.positions.weight[r]), 1e-4) for r in rows
    )


def _learners_forward(parts, ids, *, final=None, table=None):
    """A learner's forward pass with its own ``final(h)`` norm and position ``table``."""
    d_model = parts.token.weight.shape[1]
    pos = parts.positions(torch.arange(ids.shape[1])) if table is None else table
    x = parts.token(ids) * d_model**0.5 + pos
    mask = torch.tril(torch.ones(ids.shape[1], ids.shape[1])).bool()
    for block in parts.blocks:
        x = block(x, mask)
    x = parts.norm(x) if final is None else final(x)
    return x @ parts.token.weight.t()


def normalises_with_torchs_var(parts, ids):
    n = parts.norm
    return _learners_forward(
        parts,
        ids,
        final=lambda x: (
            n.weight * (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + n.eps) + n.bias
        ),
    )


def normalises_the_whole_story(parts, ids):
    n = parts.norm

    def final(x):
        mu, var = x.mean(dim=(1, 2), keepdim=True), x.var(dim=(1, 2), keepdim=True, unbiased=False)
        return (x - mu) / torch.sqrt(var + n.eps) * n.weight + n.bias

    return _learners_forward(parts, ids, final=final)


def adds_the_sinusoidal_table(parts, ids):
    table = sinusoidal_encoding(ids.shape[1], parts.token.embedding_dim)  # chapter 02's, as in ch. 08
    return _learners_forward(parts, ids, table=table)


def normalises_twice(parts, ids):
    return _learners_forward(parts, ids, final=lambda x: parts.norm(parts.norm(x)))


def roots_with_torch(parts, ids):
    length, d_model = ids.shape[1], parts.token.embedding_dim
    x = parts.token(ids) * torch.sqrt(d_model) + parts.positions(torch.arange(length))
    for block in parts.blocks:
        x = block(x, torch.ones(length, length, dtype=torch.bool).tril())
    return parts.norm(x) @ parts.token.weight.T


def looks_up_one_position(parts, ids):
    return _learners_forward(parts, ids, table=parts.positions(torch.tensor(ids.shape[1] - 1)))


def forgets_the_norms_bias(parts, ids):
    n = parts.norm
    return _learners_forward(
        parts, ids, final=lambda x: F.layer_norm(x, (x.shape[-1],), weight=n.weight, eps=n.eps)
    )


_OWN_NORM = "Simpler and right: the model's own final norm, parts.norm(x)."

ROUND_43B = (
    Mistake(
        name="torch.sqrt of a number",
        hint="torch.sqrt takes a tensor, and d_model is a plain int (parts.token.embedding_dim): use "
        "math.sqrt(d_model) or d_model ** 0.5.",
        compute=None,
        error=r"sqrt\(\): argument 'input' \(position 1\) must be Tensor, not (int|float)",
        example=roots_with_torch,
    ),
    Mistake(
        name="one position for every token",
        hint="You added ONE position's vector, parts.positions(torch.tensor(L)) (or L - 1), to every "
        "token: all of them then sit at the same position. Look up each token's own, 0 … L-1: "
        "parts.positions(torch.arange(L)).",
        compute=None,
        recognise=_one_row_for_all,
        example=looks_up_one_position,
    ),
    Mistake(
        name="final norm without its bias",
        hint="Your final LayerNorm takes the norm's weight but not its bias (F.layer_norm(x, (d,), "
        "parts.norm.weight)): the learned shift is missing. Pass parts.norm.bias too, or simply "
        "call the model's own norm, parts.norm(x).",
        compute=lambda parts, ids: _run(parts, ids, norm=_without_bias),
        example=forgets_the_norms_bias,
    ),
    Mistake(
        name="final norm by hand, unbiased variance",
        hint="Your final LayerNorm by hand uses torch's default .var(), the UNBIASED variance "
        "(÷ (d − 1)): LayerNorm divides by d, x.var(dim=-1, unbiased=False, keepdim=True). " + _OWN_NORM,
        compute=lambda parts, ids: _run(parts, ids, norm=_unbiased),
        example=normalises_with_torchs_var,
    ),
    Mistake(
        name="final norm over the whole story",
        hint="Your final LayerNorm takes its mean and variance over (L, d_model) together, the "
        "whole story: LayerNorm normalises each position's vector on its own, over the last "
        "axis only (dim=-1). " + _OWN_NORM,
        compute=lambda parts, ids: _run(parts, ids, norm=_over_the_story),
        example=normalises_the_whole_story,
    ),
    Mistake(
        name="sinusoidal positions in a learned-position model",
        hint="You added chapter 02's sinusoidal table: this GPT LEARNED its positions, one "
        "vector per position in parts.positions (an nn.Embedding), and its blocks were trained "
        "with those. Look them up: parts.positions(torch.arange(L)).",
        compute=lambda parts, ids: _run(parts, ids, rows=sinusoidal_encoding),
        example=adds_the_sinusoidal_table,
    ),
    Mistake(
        name="final norm applied twice",
        hint="You applied the final norm twice, parts.norm(parts.norm(x)): once after the last "
        "block, then the logits are parts.norm(x) @ parts.token.weight.T. (Each block has its "
        "own norms inside; only the final one is yours to call, once.)",
        compute=lambda parts, ids: _run(parts, ids, norm=lambda norm, h: norm(norm(h))),
        example=normalises_twice,
    ),
)
