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


def _learner_slices_the_positions_once(parts, src, trg_in):
    """Review R3's F8: the length taken once, from the source, for both sentences' positions."""
    d_model, length = parts.embedding.embedding_dim, src.shape[1]
    embed_src = parts.embedding(src) * math.sqrt(d_model) + parts.positions[:length]
    embed_trg = parts.embedding(trg_in) * math.sqrt(d_model) + parts.positions[:length]
    lt = trg_in.shape[1]
    src_mask = (src != parts.pad_id)[:, None, None, :]
    trg_mask = torch.ones(lt, lt, dtype=torch.bool).tril() & (trg_in != parts.pad_id)[:, None, None, :]
    memory = parts.encoder(embed_src, src_mask)
    return parts.output(parts.decoder(embed_trg, memory, trg_mask, src_mask))


# The checker's second input: a source of 7 tokens, a target of 4 (the first has 5 and 5, so one
# length for both still runs there). Target + positions[:7], or source + positions[:4]:
ONE_LENGTH = (
    r"size of tensor a \(4\) must match the size of tensor b \(7\) at non-singleton dimension 1"
    r"|size of tensor a \(7\) must match the size of tensor b \(4\) at non-singleton dimension 1"
)

ROUND_51 += (
    Mistake(
        name="one sentence's length for both sentences' positions",
        hint="The source and the target have lengths of their own (here 7 and 4 tokens), and you "
        "sliced the position table with one of them for both: the target takes "
        "parts.positions[: trg_in.shape[1]], the source parts.positions[: src.shape[1]]. Simplest: "
        "one embed(ids) that slices with ids.shape[1], called on each sentence.",
        compute=None,
        error=ONE_LENGTH,
        example=_learner_slices_the_positions_once,
    ),
)


NOTEBOOK_D_MODEL = 32  # chapter 07's model


def _forward_scaled(parts, src, trg_in, *, factor: float):
    """The right forward pass with the embeddings multiplied by ``factor``."""

    def embed(ids):
        return parts.embedding(ids) * factor + parts.positions[: ids.shape[1]]

    lt = trg_in.shape[1]
    src_mask = (src != parts.pad_id)[:, None, None, :]
    trg_mask = torch.ones(lt, lt, dtype=torch.bool).tril() & (trg_in != parts.pad_id)[:, None, None, :]
    memory = parts.encoder(embed(src), src_mask)
    return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))


def _notebooks_d_model(fn, case, got) -> bool:
    parts = case[0]
    if parts.embedding.embedding_dim == NOTEBOOK_D_MODEL:
        return False
    return same(got, _forward_scaled(*fresh(case), factor=math.sqrt(NOTEBOOK_D_MODEL)), 1e-4)


def _learner_scales_by_32(parts, src, trg_in):
    """Review R3's F9: the notebook's d_model written in."""
    lt = trg_in.shape[1]
    src_x = parts.embedding(src) * math.sqrt(32) + parts.positions[: src.shape[1]]
    trg_x = parts.embedding(trg_in) * math.sqrt(32) + parts.positions[:lt]
    src_mask = (src != parts.pad_id)[:, None, None, :]
    trg_mask = torch.ones(lt, lt, dtype=torch.bool).tril() & (trg_in != parts.pad_id)[:, None, None, :]
    return parts.output(parts.decoder(trg_x, parts.encoder(src_x, src_mask), trg_mask, src_mask))


ROUND_51 += (
    Mistake(
        name="the notebook's d_model in the scale",
        hint=f"Your scale is √{NOTEBOOK_D_MODEL}, the notebook's d_model: it must follow the "
        "model it is given (the checker's are not 32 wide). Read it from the parts: d_model = "
        "parts.embedding.embedding_dim, then embedding(ids) * math.sqrt(d_model).",
        compute=None,
        recognise=_notebooks_d_model,
        example=_learner_scales_by_32,
    ),
)


def _forward_ids(parts, enc_ids, dec_ids):
    """The right forward pass, with the encoder reading ``enc_ids`` and the decoder ``dec_ids``
    (each with its own padding mask): the source and target mixed up as a whole."""
    d = parts.embedding.embedding_dim

    def embed(ids):
        return parts.embedding(ids) * math.sqrt(d) + parts.positions[: ids.shape[1]]

    length = dec_ids.shape[1]
    enc_mask = (enc_ids != parts.pad_id)[:, None, None, :]
    dec_mask = (
        torch.ones(length, length, dtype=torch.bool).tril() & (dec_ids != parts.pad_id)[:, None, None, :]
    )
    memory = parts.encoder(embed(enc_ids), enc_mask)
    return parts.output(parts.decoder(embed(dec_ids), memory, dec_mask, enc_mask))


def _mixed_up(which: str):
    """Recognises the encoder and decoder given ``which`` ids: "src src", "trg trg", "trg src"."""

    def recognise(fn, case, got) -> bool:
        parts, src, trg_in = fresh(case)
        ids = {"src": src, "trg": trg_in}
        enc, dec = (ids[w] for w in which.split())
        return same(got, _forward_ids(parts, enc, dec), 1e-4)

    return recognise


def _learner_decodes_the_source(parts, src, trg_in):
    return _forward_ids(parts, src, src)


def _learner_encodes_the_target(parts, src, trg_in):
    return _forward_ids(parts, trg_in, trg_in)


def _learner_swaps_the_sentences(parts, src, trg_in):
    return _forward_ids(parts, trg_in, src)


_ROLES = (
    "The ENCODER reads the source, parts.encoder(embed(src), padding_mask(src, pad_id)) → memory; "
    "the DECODER reads the target, parts.decoder(embed(trg_in), memory, causal & padding of "
    "trg_in, the source's padding mask), and the logits are one row per TARGET token."
)

ROUND_51 += (
    Mistake(
        name="the decoder reads the source",
        hint="Your decoder reads the SOURCE (embed(src)), not the target: it never sees trg_in. " + _ROLES,
        compute=None,
        recognise=_mixed_up("src src"),
        example=_learner_decodes_the_source,
    ),
    Mistake(
        name="the encoder reads the target",
        hint="Your encoder reads the TARGET (embed(trg_in)), not the source: the model never sees "
        "src. " + _ROLES,
        compute=None,
        recognise=_mixed_up("trg trg"),
        example=_learner_encodes_the_target,
    ),
    Mistake(
        name="source and target swapped",
        hint="Your source and target are swapped: the encoder reads trg_in and the decoder src "
        "(the function's arguments are (parts, src, trg_in), in that order). " + _ROLES,
        compute=None,
        recognise=_mixed_up("trg src"),
        example=_learner_swaps_the_sentences,
    ),
)
