"""More of ``assembly``'s catalogue (encoder_decoder_forward), met in round 48's review: the
source's mask made causal, and so given to the encoder and to the cross-attention alike.
"""

from __future__ import annotations

import math

import torch

from ..masks import causal_mask, padding_mask
from .harness import Mistake


def _source_mask_causal(parts, src, trg_in):
    """The right forward pass but for the source's mask, padding AND causal (B, 1, Ls, Ls),
    given to the encoder and to the decoder's cross-attention (it runs where Lt = Ls)."""
    d = parts.embedding.embedding_dim

    def embed(ids):
        return parts.embedding(ids) * math.sqrt(d) + parts.positions[: ids.shape[1]]

    length = src.shape[1]
    src_mask = (src != parts.pad_id)[:, None, None, :] & torch.ones(length, length, dtype=torch.bool).tril()
    memory = parts.encoder(embed(src), src_mask)
    trg_length = trg_in.shape[1]
    trg_mask = (
        torch.ones(trg_length, trg_length, dtype=torch.bool).tril()
        & (trg_in != parts.pad_id)[:, None, None, :]
    )
    return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))


def _learner_makes_the_source_causal(parts, src, trg_in):
    d_model = parts.embedding.embedding_dim
    src_mask = padding_mask(src, parts.pad_id) & causal_mask(src.shape[1])  # "like the target's"
    trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
    src_x = parts.embedding(src) * math.sqrt(d_model) + parts.positions[: src.shape[1]]
    trg_x = parts.embedding(trg_in) * math.sqrt(d_model) + parts.positions[: trg_in.shape[1]]
    memory = parts.encoder(src_x, src_mask)
    return parts.output(parts.decoder(trg_x, memory, trg_mask, src_mask))


ROUND_48 = (
    Mistake(
        name="source mask causal, encoder and cross-attention",
        hint="Your source's mask is causal (padding_mask(src, pad_id) & causal_mask(Ls)): the "
        "encoder reads the whole source at once, every word seeing the words after it too, and "
        "the cross-attention, given the same mask, hides from target position i the source words "
        "after position i. Only the decoder's self-attention is causal; the source's mask is its "
        "padding alone, padding_mask(src, pad_id), for the encoder and the cross-attention.",
        compute=_source_mask_causal,
        example=_learner_makes_the_source_causal,
    ),
)
