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


# --- Met in the round-43a battery: the feed-forward rewritten, the order of the sublayers ---


def _feed_forward_with(layer, h, activation):
    ff = layer.feed_forward  # the checker's layer is in eval mode: its dropout does nothing
    return ff.linear2(activation(ff.linear1(h)))


def _post_norm(layer, x, mask, ff=None, after=lambda out: out):
    """The right layer with the feed-forward ``ff(h)`` in place of the layer's own, and
    ``after`` applied to its output."""
    ff = ff or layer.feed_forward
    h = layer.norm1(x + layer.self_attn(x, mask=mask)[0])
    return after(layer.norm2(h + ff(h)))


def _ff_before_norm1(layer, x, mask):
    summed = x + layer.self_attn(x, mask=mask)[0]
    return layer.norm2(layer.norm1(summed) + layer.feed_forward(summed))


def _parallel(layer, x, mask):
    return layer.norm2(x + layer.self_attn(x, mask=mask)[0] + layer.feed_forward(x))


def _learner_uses_gelu(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask)
    x = layer.norm1(x + attended)
    hidden = F.gelu(layer.feed_forward.linear1(x))  # "GPT uses GELU"
    return layer.norm2(x + layer.feed_forward.linear2(hidden))


def _learner_drops_the_relu(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask)
    x = layer.norm1(x + attended)
    return layer.norm2(x + layer.feed_forward.linear2(layer.feed_forward.linear1(x)))


def _learner_feeds_the_sum_forward(layer, x, mask):
    s = x + layer.self_attn(x, mask=mask)[0]
    return layer.norm2(layer.norm1(s) + layer.feed_forward(s))


def _learner_adds_a_relu(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask)
    x = layer.norm1(x + attended)
    return F.relu(layer.norm2(x + layer.feed_forward(x)))  # "a layer ends with an activation"


def _learner_runs_both_on_x(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask)
    return layer.norm2(x + attended + layer.feed_forward(x))  # both sublayers at once


MORE += (
    Mistake(
        name="GELU instead of the layer's activation",
        hint="You rebuilt the feed-forward with GELU: this layer's feed-forward uses ReLU (the "
        "paper's). Call the layer's own, layer.feed_forward(x): it applies its linear1, "
        "activation, dropout and linear2 as it was built.",
        compute=lambda layer, x, mask, theirs: _post_norm(
            layer, x, mask, lambda h: _feed_forward_with(layer, h, F.gelu)
        ),
        example=_learner_uses_gelu,
    ),
    Mistake(
        name="no activation in the feed-forward",
        hint="Your feed-forward is linear2(linear1(x)) with no activation between: two Linears "
        "in a row are one Linear. Call the layer's own, layer.feed_forward(x), which puts the "
        "ReLU between them.",
        compute=lambda layer, x, mask, theirs: _post_norm(
            layer, x, mask, lambda h: _feed_forward_with(layer, h, lambda t: t)
        ),
        example=_learner_drops_the_relu,
    ),
    Mistake(
        name="feed-forward before the first norm",
        hint="Your feed-forward reads x + attended before Add & Norm 1's LayerNorm: it reads "
        "the normalised sum, h = layer.norm1(x + attended), and its residual starts from the "
        "same h: layer.norm2(h + layer.feed_forward(h)).",
        compute=lambda layer, x, mask, theirs: _ff_before_norm1(layer, x, mask),
        example=_learner_feeds_the_sum_forward,
    ),
    Mistake(
        name="an activation after the layer",
        hint="You applied an activation (ReLU) to the layer's output: it ends with Add & Norm 2, "
        "layer.norm2(x + layer.feed_forward(x)), whose negative values the next layer needs.",
        compute=lambda layer, x, mask, theirs: _post_norm(layer, x, mask, after=F.relu),
        example=_learner_adds_a_relu,
    ),
    Mistake(
        name="sublayers side by side",
        hint="You ran self-attention and the feed-forward side by side on x and added both at "
        "once: in the encoder layer they come one after the other. h = layer.norm1(x + "
        "attended), then layer.norm2(h + layer.feed_forward(h)).",
        compute=lambda layer, x, mask, theirs: _parallel(layer, x, mask),
        example=_learner_runs_both_on_x,
    ),
)


def _learner_leaves_h_unused(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask)
    out1 = layer.norm1(x + attended)  # noqa: F841 (the slip: computed, then never read)
    return layer.norm2(x + layer.feed_forward(x))  # …and the old x used again


def _learner_normalises_twice(layer, x, mask):
    attended, _ = layer.self_attn(layer.norm1(x), mask=mask)
    x = layer.norm1(x + attended)
    return layer.norm2(x + layer.feed_forward(layer.norm2(x)))


def _both_norms(layer, x, mask):
    h = layer.norm1(x + layer.self_attn(layer.norm1(x), mask=mask)[0])
    return layer.norm2(h + layer.feed_forward(layer.norm2(h)))


MORE += (
    Mistake(
        name="attention's result unused",
        hint="Your output does not depend on the self-attention: Add & Norm 1's result was "
        "computed, but the feed-forward's line reads the layer's input x again. Feed it "
        "forward: x = layer.norm1(x + attended), then layer.norm2(x + layer.feed_forward(x)) "
        "with that new x.",
        compute=lambda layer, x, mask, theirs: layer.norm2(x + layer.feed_forward(x)),
        example=_learner_leaves_h_unused,
    ),
    Mistake(
        name="pre-norm and post-norm together",
        hint="You normalised each sublayer's input AND the sum after it: that is pre-norm and "
        "post-norm at once. This layer is post-norm: the sublayers read x as it is, "
        "x = layer.norm1(x + attended) with attended from layer.self_attn(x, mask=mask), "
        "then layer.norm2(x + layer.feed_forward(x)).",
        compute=lambda layer, x, mask, theirs: _both_norms(layer, x, mask),
        example=_learner_normalises_twice,
    ),
)


def _learner_adds_x_at_the_end(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask)
    h = layer.norm1(x + attended)
    return x + layer.norm2(h + layer.feed_forward(h))  # "a residual around the whole layer"


def _extra_residual(layer, x, mask):
    h = layer.norm1(x + layer.self_attn(x, mask=mask)[0])
    return x + layer.norm2(h + layer.feed_forward(h))


MORE += (
    Mistake(
        name="an extra residual around the layer",
        hint="You added the layer's input x to its output: the residuals live inside the two "
        "Add & Norms, and the layer returns Add & Norm 2's output as it is, "
        "layer.norm2(x + layer.feed_forward(x)) with x from Add & Norm 1.",
        compute=lambda layer, x, mask, theirs: _extra_residual(layer, x, mask),
        example=_learner_adds_x_at_the_end,
    ),
)
