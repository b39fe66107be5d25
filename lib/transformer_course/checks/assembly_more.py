"""More of ``assembly``'s catalogue: the wrong answers met in the seventh audit, each
with what it computes, its hint and a learner-style example.
"""

from __future__ import annotations

import math
from functools import partial

import torch

from . import assembly_learners as learner
from .harness import Mistake


def _masked(
    parts, src, trg_in, *, factor=None, swap=False, cross_by_target=False, decode=True, padding="all"
):
    """The forward pass with the embeddings scaled by ``factor`` (√d_model when None), the
    decoder's two masks swapped, the cross mask from the target's padding, or no decoder;
    padding: "all" (right), "not the encoder's" (encoder unmasked) or "none" (no padding mask)."""
    d = parts.embedding.embedding_dim
    factor = math.sqrt(d) if factor is None else factor

    def embed(ids):
        return parts.embedding(ids) * factor + parts.positions[: ids.shape[1]]

    src_mask = (src != parts.pad_id)[:, None, None, :]
    memory = parts.encoder(embed(src), src_mask if padding == "all" else None)
    if not decode:
        return parts.output(memory)
    length = trg_in.shape[1]
    trg_real = (trg_in != parts.pad_id)[:, None, None, :]
    self_mask = torch.ones(length, length, dtype=torch.bool).tril()
    self_mask = self_mask if padding == "none" else self_mask & trg_real
    cross_mask = trg_real if cross_by_target else src_mask
    cross_mask = None if padding == "none" else cross_mask
    if swap:
        self_mask, cross_mask = cross_mask, self_mask
    return parts.output(parts.decoder(embed(trg_in), memory, self_mask, cross_mask))


# Answers met in the seventh audit: each names what it computes.
MORE_MISTAKES = (
    Mistake(
        name="× √vocab_size",
        hint="You scaled the token vectors by √(vocabulary size), embedding.num_embeddings: "
        "the scale is √d_model, the vectors' width, math.sqrt(parts.embedding.embedding_dim).",
        compute=lambda parts, src, trg_in: _masked(
            parts, src, trg_in, factor=math.sqrt(parts.embedding.num_embeddings)
        ),
        example=learner.scales_by_the_vocabulary,
    ),
    Mistake(
        name="decoder skipped",
        hint="You projected the encoder's memory to the vocabulary: the decoder never ran, so "
        "the logits are the source's. Run the target through parts.decoder(embed(trg_in), "
        "memory, trg_mask, src_mask), then parts.output.",
        compute=partial(_masked, decode=False),
        example=learner.projects_the_memory,
    ),
    Mistake(
        name="cross mask from the target's padding",
        hint="Your cross-attention mask comes from the TARGET's padding: the cross-attention's "
        "keys are the source's tokens, so it takes the source's mask, "
        "padding_mask(src, parts.pad_id), the one the encoder used.",
        compute=partial(_masked, cross_by_target=True),
        example=learner.masks_the_memory_by_the_target,
    ),
    Mistake(
        name="decoder's masks swapped",
        hint="The decoder's two masks are swapped: its self-attention takes the target's causal "
        "& padding mask and its cross-attention the source's padding mask, in that order: "
        "parts.decoder(y, memory, trg_mask, src_mask).",
        compute=partial(_masked, swap=True),
        example=learner.swaps_the_decoder_masks,
    ),
    Mistake(
        name="token ids returned",
        hint="You returned the predicted token ids (an argmax): the forward pass returns the "
        "logits themselves, (B, Lt, V), which the loss and the sampler both need. Drop the "
        ".argmax(dim=-1).",
        compute=lambda parts, src, trg_in: _masked(parts, src, trg_in).argmax(dim=-1),
        example=learner.returns_the_token_ids,
    ),
    # Met in the eleventh audit.
    Mistake(
        name="encoder without its padding mask",
        hint="The encoder's self-attention must not read <pad> either: parts.encoder(x, "
        "padding_mask(src, pad_id)), the same mask the decoder's cross-attention gets.",
        compute=partial(_masked, padding="not the encoder's"),
        example=learner.leaves_the_encoder_unmasked,
    ),
    Mistake(
        name="no padding masks at all",
        hint="No mask hides <pad>: the encoder's self-attention must not read <pad> either, "
        "parts.encoder(x, padding_mask(src, pad_id)); the decoder takes causal_mask(Lt) & "
        "padding_mask(trg_in, pad_id) for itself and padding_mask(src, pad_id) for the "
        "cross-attention.",
        compute=partial(_masked, padding="none"),
        example=learner.masks_no_padding,
    ),
    # causal_mask(Ls) & padding_mask(trg_in) (or the lengths mixed up the other way) cannot be
    # combined where Ls ≠ Lt: the two masks' key axes, dimension 3, disagree.
    Mistake(
        name="a mask of the other sentence's length",
        hint="Your masks mix the two lengths: the decoder's causal mask is causal_mask(Lt), with "
        "Lt = trg_in.shape[1], the target's length, combined with padding_mask(trg_in, pad_id). "
        "The source's length and its padding mask belong to the encoder and the cross-attention.",
        compute=None,
        error=r"must match the size of tensor b \(\d+\) at non-singleton dimension 3",
        example=learner.causal_mask_of_the_source_length,
    ),
)


# --- Round 45b: the positions on one sentence only, or the target's counted on from the source ---


def _positioned(parts, src, trg_in, *, on=("src", "trg"), trg_from=0):
    """The forward pass with the positions added to the sentences in ``on`` only, the target's
    taken from row ``trg_from`` on ("src": where the source ends) of the table."""
    scale = math.sqrt(parts.embedding.embedding_dim)

    def embed(ids, which, start=0):
        vectors = parts.embedding(ids) * scale
        return vectors + parts.positions[start : start + ids.shape[1]] if which in on else vectors

    src_mask = (src != parts.pad_id)[:, None, None, :]
    memory = parts.encoder(embed(src, "src"), src_mask)
    length = trg_in.shape[1]
    trg_real = (trg_in != parts.pad_id)[:, None, None, :]  # (B, 1, 1, Lt)
    self_mask = torch.ones(length, length, dtype=torch.bool).tril() & trg_real
    start = src.shape[1] if trg_from == "src" else trg_from
    return parts.output(parts.decoder(embed(trg_in, "trg", start), memory, self_mask, src_mask))


def _learner_positions(parts, src, trg_in, *, src_start=None, trg_start=0):
    """A learner's forward pass; a start of None leaves that sentence without positions."""
    d = parts.embedding.embedding_dim

    def embed(ids, start):
        x = parts.embedding(ids) * math.sqrt(d)
        return x if start is None else x + parts.positions[start : start + ids.shape[1]]

    src_mask = (src != parts.pad_id).unsqueeze(1).unsqueeze(2)
    memory = parts.encoder(embed(src, src_start), src_mask)
    causal = torch.tril(torch.ones(trg_in.shape[1], trg_in.shape[1], dtype=torch.bool))
    trg_mask = causal & (trg_in != parts.pad_id).unsqueeze(1).unsqueeze(2)
    start = src.shape[1] if trg_start == "after the source" else trg_start
    return parts.output(parts.decoder(embed(trg_in, start), memory, trg_mask, src_mask))


_ONE_SENTENCE = (
    "The positions are added to one sentence and not the other: the {missing} is embedded "
    "without them, so its attention cannot tell word order. Embed both the same way, "
    "parts.embedding(ids) * √d_model + parts.positions[:L], each with its own length L."
)

ROUND_45B = (
    Mistake(
        name="positions on the target only",
        hint=_ONE_SENTENCE.format(missing="source"),
        compute=partial(_positioned, on=("trg",)),
        example=partial(_learner_positions, src_start=None),
    ),
    Mistake(
        name="positions on the source only",
        hint=_ONE_SENTENCE.format(missing="target"),
        compute=partial(_positioned, on=("src",)),
        example=partial(_learner_positions, src_start=0, trg_start=None),
    ),
    Mistake(
        name="target positions counted on from the source",
        hint="Your target's positions start where the source ends, positions[Ls : Ls + Lt], as "
        "if the two were one sequence (a decoder-only model's prompt and answer). Here the "
        "encoder and decoder are apart: each sentence counts its positions from 0, "
        "parts.positions[: trg_in.shape[1]].",
        compute=partial(_positioned, trg_from="src"),
        example=partial(_learner_positions, src_start=0, trg_start="after the source"),
    ),
)
