"""Round 51: ``assembly``'s per-head padding masks with the batch and head axes swapped.

The checker's model has 2 heads and its batches 2 sentences: B == h. A learner who spreads the
padding mask over the heads themselves, as nn.MultiheadAttention's (B·h, Lq, Lk) attn_mask,
with ``.repeat(h, 1, 1)`` (head-major: row i·B + b) where lib reads row b·h + i, or who builds a
(h, B, 1, Lk) mask where lib reads (B, h, 1, Lk), meets no shape error when B == h: in each
sentence, head i hides sentence i's padding. The numbers differ, and the verdict said only
where; now it names the swap.
"""

from __future__ import annotations

import math

import torch

from .cases import fresh
from .describe import same
from .harness import Mistake


def _heads(parts) -> int:
    return next(m.num_heads for m in parts.encoder.modules() if hasattr(m, "num_heads"))


def _swapped(keep: torch.Tensor, h: int, rows: int) -> torch.Tensor:
    """keep (B, Lk) → (B, h, rows, Lk) where batch b's head i keeps sentence i's keys (B == h)."""
    return keep[None, :, None, :].expand(keep.shape[0], h, rows, keep.shape[1])


def _forward_swapped(parts, src, trg_in, *, target: bool):
    """The right forward pass with the source's padding mask (and the target's, where
    ``target``) spread over the heads with the batch and head axes swapped."""
    d, h = parts.embedding.embedding_dim, _heads(parts)

    def embed(ids):
        return parts.embedding(ids) * math.sqrt(d) + parts.positions[: ids.shape[1]]

    b, ls, lt = src.shape[0], src.shape[1], trg_in.shape[1]
    keep_src, keep_trg = src != parts.pad_id, trg_in != parts.pad_id
    encoder_mask = _swapped(keep_src, h, ls) if b == h else keep_src[:, None, None, :]
    cross_mask = _swapped(keep_src, h, lt) if b == h else keep_src[:, None, None, :]
    causal = torch.ones(lt, lt, dtype=torch.bool).tril()
    real = _swapped(keep_trg, h, lt) if target and b == h else keep_trg[:, None, None, :]
    memory = parts.encoder(embed(src), encoder_mask)
    return parts.output(parts.decoder(embed(trg_in), memory, causal & real, cross_mask))


def _axes_swapped(fn, case, got) -> bool:
    parts, src, _ = case
    if src.shape[0] != _heads(parts) or src.shape[0] < 2:
        return False
    return any(same(got, _forward_swapped(*fresh(case), target=t), 1e-4) for t in (False, True))


def _learner_repeats_the_mask_per_head(parts, src, trg_in):
    """nn.MultiheadAttention's (B·h, Lq, Lk) attn_mask, built with .repeat: head-major."""
    d_model, h = parts.embedding.embedding_dim, _heads(parts)
    b, ls, lt = src.shape[0], src.shape[1], trg_in.shape[1]
    keep = (src != parts.pad_id)[:, None, :]  # (B, 1, Ls)
    src_self = keep.expand(b, ls, ls).repeat(h, 1, 1)  # (h·B, Ls, Ls): row i·B + b
    src_cross = keep.expand(b, lt, ls).repeat(h, 1, 1)
    trg_mask = torch.ones(lt, lt, dtype=torch.bool).tril() & (trg_in != parts.pad_id)[:, None, None, :]
    src_x = parts.embedding(src) * math.sqrt(d_model) + parts.positions[:ls]
    trg_x = parts.embedding(trg_in) * math.sqrt(d_model) + parts.positions[:lt]
    memory = parts.encoder(src_x, src_self)
    return parts.output(parts.decoder(trg_x, memory, trg_mask, src_cross))


ROUND_51 = (
    Mistake(
        name="per-head padding mask, batch and head axes swapped",
        hint="Your padding mask reaches the heads with its batch and head axes swapped: in every "
        "sentence, head i hides the padding of sentence i (here 2 sentences and 2 heads, so the "
        "shapes agreed and nothing failed). lib's attention reads a 4-D mask as (B, h, Lq, Lk), "
        "and a 3-D one of B·h rows as row b·h + i, batch b's head i: .repeat_interleave(h, dim=0), "
        "not .repeat(h, 1, 1). Simplest: give the padding mask as (B, 1, 1, Ls), "
        "padding_mask(src, pad_id), and let it broadcast over the heads.",
        compute=None,
        recognise=_axes_swapped,
        example=_learner_repeats_the_mask_per_head,
    ),
)
