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


# --- Round 45b: the attention's Add & Norm half pre-norm: the residual from the normalised x ---


def _residual_from_the_norm(layer, x, mask, theirs):
    """norm1 first, the self-attention and its residual on the normalised x, then post-norm."""
    normed = layer.norm1(x)
    h = normed + layer.self_attn(normed, mask=mask)[0]
    return layer.norm2(h + layer.feed_forward(h))


def _learner_normalises_first(layer, x, mask):
    x = layer.norm1(x)  # normalise what goes in...
    attended, _ = layer.self_attn(x, mask=mask)
    x = x + attended  # ...but the residual then adds the NORMALISED x
    return layer.norm2(x + layer.feed_forward(x))


ROUND_45B = (
    Mistake(
        name="attention's residual from the normalised x",
        hint="You normalised x before the self-attention and then added the attention to that "
        "normalised x: the layer's input never reaches the sum. Post-norm (as here) adds the "
        "attention to the raw x and normalises the sum, layer.norm1(x + attended); pre-norm "
        "would add it to the raw x, x + attended, with norm1 only on what goes in.",
        compute=_residual_from_the_norm,
        example=_learner_normalises_first,
    ),
)
