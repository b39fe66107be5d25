"""Round 51 (review R3, F11): the mask given to a layer's attention in the VALUE's place,
``layer.self_attn(x, x, mask)``. Its sibling, the mask as the key (``self_attn(x, mask)``), is
named in ``add_norm.layer_mistakes``; this one raised lib's "value must be 3-D" with no hint, and
for a 2-D causal mask lib's own advice ("one sequence is value[None]") sent the learner to add a
batch axis to the mask.
"""

from __future__ import annotations

from collections.abc import Callable

from ..masks import causal_mask
from .harness import Mistake

VALUE_NOT_3D = r"ValueError: value must be 3-D"


def mask_as_value(example: Callable, *, right: str) -> Mistake:
    """``right``: the call that puts the mask where it belongs, e.g. "layer.self_attn(x, mask=mask)"."""
    return Mistake(
        name="mask passed as the value",
        hint="The mask went in as the VALUE: attention's arguments are (query, key, value, mask), "
        "so self_attn(x, x, mask) reads your mask as the values (the shape in the error is your "
        f"mask's; it needs no batch axis). Name it, {right}, or give all four: "
        "layer.self_attn(x, x, x, mask).",
        compute=None,
        error=VALUE_NOT_3D,
        example=example,
    )


def _encoder_mask_as_value(layer, x, mask):
    attended, _ = layer.self_attn(x, x, mask)
    x = layer.norm1(x + attended)
    return layer.norm2(x + layer.feed_forward(x))


def _decoder_mask_as_value(layer, x, memory):
    attended, _ = layer.self_attn(x, x, causal_mask(x.shape[1]))
    x = layer.norm1(x + attended)
    attended, _ = layer.cross_attn(x, memory, memory)
    x = layer.norm2(x + attended)
    return layer.norm3(x + layer.feed_forward(x))


ENCODER = (mask_as_value(_encoder_mask_as_value, right="layer.self_attn(x, mask=mask)"),)
DECODER = (mask_as_value(_decoder_mask_as_value, right="layer.self_attn(x, mask=causal_mask(x.shape[1]))"),)
