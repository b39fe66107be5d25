"""More of ``encoder_layer``'s catalogue: the slips met in the round-41 battery of wrong answers,
each with what gives it away and its hint (the examples are in ``encoder_layer_learners``).
"""

from __future__ import annotations

import torch.nn.functional as F

from . import encoder_layer_learners as learner
from .harness import Mistake
from .layer_errors import int_mask, no_self, pytorch_keywords

RIGHT = "attended, _ = layer.self_attn(x, mask=mask)"


def _forward(layer, x, mask, *, ff_on="h", sign=1, norm=None, ff=True):
    """The post-norm layer with the feed-forward fed ``ff_on`` ("h": Add & Norm 1's output,
    right; "attended": the attention's raw output), the sublayers added (sign 1) or subtracted
    (-1), ``norm(h, ln)`` in place of each LayerNorm; ff=False: the layer ends after Add & Norm 1."""
    norm = norm or (lambda h, ln: ln(h))
    attended, _ = layer.self_attn(x, mask=mask)
    h = norm(x + sign * attended, layer.norm1)
    if not ff:
        return h
    return norm(h + sign * layer.feed_forward({"h": h, "attended": attended}[ff_on]), layer.norm2)


def _bare(h, ln):
    return F.layer_norm(h, ln.normalized_shape, eps=ln.eps)


MORE = (
    pytorch_keywords(learner.uses_pytorchs_keyword, right=RIGHT),
    # A mask squeezed to (B, L) is read as (Lq, Lk), and B ≠ L here.
    Mistake(
        name="mask squeezed",
        hint="Your mask lost its axes of size 1: (B, L) is read as (queries, keys). Pass it as "
        f"given, (B, 1, 1, L), one row of keys for every query and head: {RIGHT}.",
        compute=None,
        error=r"mask of shape \(\d+, \d+\) does not broadcast to the scores' shape",
        example=learner.squeezes_the_mask,
    ),
    int_mask(learner.passes_an_int_mask, right="the padding mask as it is"),
    no_self(learner.writes_self, owner="layer", parts="layer.self_attn, layer.norm1, layer.feed_forward"),
    Mistake(
        name="stops after Add & Norm 1",
        hint="Your layer ends after the self-attention's Add & Norm: the feed-forward sublayer "
        "comes next, with its own Add & Norm: layer.norm2(x + layer.feed_forward(x)).",
        compute=lambda layer, x, mask, theirs: _forward(layer, x, mask, ff=False),
        example=learner.stops_after_the_attention,
    ),
    Mistake(
        name="feed-forward on the attention's output",
        hint="Your feed-forward network reads the self-attention's raw output: it reads the "
        "output of Add & Norm 1, x = layer.norm1(x + attended), then "
        "layer.norm2(x + layer.feed_forward(x)) with that new x.",
        compute=lambda layer, x, mask, theirs: _forward(layer, x, mask, ff_on="attended"),
        example=learner.feeds_the_attention_forward,
    ),
    Mistake(
        name="LayerNorms without their scale and shift",
        hint="Your LayerNorms have no learned scale and shift: use the layer's own, layer.norm1 and "
        "layer.norm2, whose weights and biases were trained (F.layer_norm(h, shape) alone has none).",
        compute=lambda layer, x, mask, theirs: _forward(layer, x, mask, norm=_bare),
        example=learner.normalises_without_scale,
    ),
    Mistake(
        name="sublayers subtracted",
        hint="You subtracted the sublayers' outputs: the residual ADDS each to its input, "
        "layer.norm1(x + attended), then layer.norm2(x + layer.feed_forward(x)).",
        compute=lambda layer, x, mask, theirs: _forward(layer, x, mask, sign=-1),
        example=learner.subtracts_the_sublayers,
    ),
)
