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
