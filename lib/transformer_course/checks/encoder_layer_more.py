"""More of ``encoder_layer``'s catalogue: the wrong answers met in the eleventh audit, each
with what it computes, its hint and a learner-style example.
"""

from __future__ import annotations

import torch

from ..masks import causal_mask
from .harness import Mistake


def _causal_only(layer, x, mask, theirs):
    """The layer's forward with a lower-triangular mask in place of the padding mask."""
    length = x.shape[1]
    attended, _ = layer.self_attn(x, mask=torch.ones(length, length, dtype=torch.bool).tril())
    h = layer.norm1(x + attended)
    return layer.norm2(h + layer.feed_forward(h))


def _learner_masks_like_a_decoder(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=causal_mask(x.shape[1]))  # the decoder's mask, not mask
    x = layer.norm1(x + attended)
    return layer.norm2(x + layer.feed_forward(x))


# Answers met in the eleventh audit: each names what it computes.
MORE_MISTAKES = (
    Mistake(
        name="causal mask instead of the padding mask",
        hint="You gave the self-attention the causal mask, causal_mask(L), in place of the mask "
        "given: an encoder reads the whole source, each token seeing the tokens after it too, "
        "and only <pad> is hidden. Use only the padding mask given: layer.self_attn(x, mask=mask).",
        compute=_causal_only,
        example=_learner_masks_like_a_decoder,
    ),
)
