"""More of ``layers``'s catalogue (the decoder layer): the slips met in the round-41 battery of
wrong answers, each with what gives it away and its hint (the examples are in ``layers_learners``).

``FIRST`` goes to the front of the catalogue: "causal mask of the source's length" would claim
its errors, of the same kind; ``MORE`` goes at the end, then ``ROUND_43B``, round 43b's (its
examples here): LayerNorms written by hand (unbiased variance, no scale and shift, over the whole
sentence), a residual from before norm1 or norm2, the last sublayer in pre-norm.
"""

from __future__ import annotations

from itertools import product

import torch

from . import layers_learners as learner
from .describe import same
from .harness import Mistake
from .layer_errors import int_mask, no_self, pytorch_keywords

CAUSAL = "causal_mask(x.shape[1])"


def _causal(length):
    return torch.ones(length, length, dtype=torch.bool).tril()


def _decode(layer, x, memory, *, residual="x", ff_first=False, norms=(1, 2, 3)):
    """The post-norm decoder layer, its cross-attention's residual from ``residual`` ("x":
    right, "memory"), the feed-forward before the cross-attention, or other LayerNorms."""
    n1, n2, n3 = (getattr(layer, f"norm{n}") for n in norms)
    x = n1(x + layer.self_attn(x, mask=_causal(x.shape[1]))[0])
    cross = lambda h: layer.cross_attn(h, memory, memory)[0]  # noqa: E731
    if ff_first:
        x = n2(x + layer.feed_forward(x))
        return n3(x + cross(x))
    x = n2((memory if residual == "memory" else x) + cross(x))
    return n3(x + layer.feed_forward(x))


def _norms_shuffled(fn, case, got) -> bool:
    """The three LayerNorms in another order, or one of them used twice."""
    orders = [order for order in product((1, 2, 3), repeat=3) if order != (1, 2, 3)]
    return any(same(got, _decode(*case, norms=order), 1e-5) for order in orders)


# On the first input, x is (2, 5, 16): a causal mask of x.shape[0] is (2, 2), of x.shape[-1]
# (16, 16); the source's length, the other wrong size, is 5 there too and fails later.
FIRST = (
    Mistake(
        name="causal mask of the batch size",
        hint="Your causal mask has the batch size, x.shape[0] (or len(x)), as its length: x is "
        f"(B, Lt, d_model), and the target's length is x.shape[1]: {CAUSAL}.",
        compute=None,
        error=r"mask of shape \(2, 2\) does not broadcast",
        example=learner.masks_by_the_batch_size,
    ),
    Mistake(
        name="causal mask of d_model",
        hint="Your causal mask has d_model, x.shape[-1], as its length: x is (B, Lt, d_model), and "
        f"the target's length is x.shape[1]: {CAUSAL}.",
        compute=None,
        error=r"mask of shape \(16, 16\) does not broadcast",
        example=learner.masks_by_d_model,
    ),
)

MORE = (
    pytorch_keywords(
        learner.uses_pytorchs_keyword, right=f"layer.self_attn(x, mask={CAUSAL}) (or causal=True)"
    ),
    int_mask(learner.passes_an_int_mask, right=f"{CAUSAL}, or torch.ones(L, L, dtype=torch.bool).tril()"),
    no_self(
        learner.writes_self,
        owner="layer",
        parts="layer.self_attn, layer.cross_attn, layer.feed_forward, layer.norm1",
    ),
    Mistake(
        name="cross-attention residual from memory",
        hint="Your cross-attention's residual adds memory, the SOURCE: the residual is the "
        "sublayer's own input, the target after Add & Norm 1: "
        "x = layer.norm2(x + layer.cross_attn(x, memory, memory)[0]).",
        compute=lambda layer, x, memory: _decode(layer, x, memory, residual="memory"),
        example=learner.adds_the_memory_back,
    ),
    Mistake(
        name="feed-forward before cross-attention",
        hint="Your sublayers are in the wrong order: masked self-attention, then cross-attention "
        "(read the source), and only then the feed-forward network.",
        compute=lambda layer, x, memory: _decode(layer, x, memory, ff_first=True),
        example=learner.feeds_forward_before_reading_the_source,
    ),
    Mistake(
        name="LayerNorms out of order",
        hint="Your LayerNorms are not each in its place: every Add & Norm has its own, with its own "
        "learned scale and shift: norm1 after the masked self-attention, norm2 after the "
        "cross-attention, norm3 after the feed-forward network.",
        compute=None,
        recognise=_norms_shuffled,
        example=learner.shuffles_the_norms,
    ),
)


# --- Round 43b's battery (examples here): LayerNorms written by hand, residuals taken elsewhere ---


def _unbiased(norm, h):
    """LayerNorm with the unbiased variance (÷ (d − 1)): torch's .var() default."""
    return (h - h.mean(-1, keepdim=True)) / (
        h.var(-1, keepdim=True) + norm.eps
    ).sqrt() * norm.weight + norm.bias


def _bare(norm, h):
    """LayerNorm with no learned scale and shift."""
    return torch.nn.functional.layer_norm(h, h.shape[-1:], eps=norm.eps)


def _over_two_axes(norm, h):
    """LayerNorm over (L, d_model) together, then the learned scale and shift."""
    return torch.nn.functional.layer_norm(h, h.shape[-2:], eps=norm.eps) * norm.weight + norm.bias


def _normed_by(by):
    """The decoder layer with each LayerNorm replaced by ``by(its module, h)``."""

    def decode(layer, x, memory):
        x = by(layer.norm1, x + layer.self_attn(x, mask=_causal(x.shape[1]))[0])
        x = by(layer.norm2, x + layer.cross_attn(x, memory, memory)[0])
        return by(layer.norm3, x + layer.feed_forward(x))

    return decode


def _last_sublayer(layer, x, memory, *, how):
    """The first two sublayers right; the feed-forward's Add & Norm written ``how``: "unnormed"
    (its residual the sum before norm2) or "pre-norm" (x + ff(norm3(x)))."""
    x = layer.norm1(x + layer.self_attn(x, mask=_causal(x.shape[1]))[0])
    summed = x + layer.cross_attn(x, memory, memory)[0]
    x = layer.norm2(summed)
    if how == "pre-norm":
        return x + layer.feed_forward(layer.norm3(x))
    return layer.norm3(summed + layer.feed_forward(x))


def _cross_residual_unnormed(layer, x, memory):
    """The cross-attention's residual the sum from BEFORE norm1 (x + self), not norm1's output."""
    summed = x + layer.self_attn(x, mask=_causal(x.shape[1]))[0]
    x = layer.norm2(summed + layer.cross_attn(layer.norm1(summed), memory, memory)[0])
    return layer.norm3(x + layer.feed_forward(x))


def keeps_the_first_sum_for_the_cross_residual(layer, x, memory):
    y = x + layer.self_attn(x, mask=causal_mask_of(x))[0]
    h = layer.norm1(y)
    h = layer.norm2(y + layer.cross_attn(h, memory, memory)[0])
    return layer.norm3(h + layer.feed_forward(h))


def normalises_by_hand_unbiased(layer, x, memory):
    def norm(module, h):
        mu, var = h.mean(dim=-1, keepdim=True), h.var(dim=-1, keepdim=True)
        return module.weight * (h - mu) / torch.sqrt(var + module.eps) + module.bias

    h = norm(layer.norm1, x + layer.self_attn(x, mask=causal_mask_of(x))[0])
    h = norm(layer.norm2, h + layer.cross_attn(h, memory, memory)[0])
    return norm(layer.norm3, h + layer.feed_forward(h))


def normalises_without_the_learned_scale(layer, x, memory):
    def norm(h):
        return (h - h.mean(-1, keepdim=True)) / torch.sqrt(h.var(-1, unbiased=False, keepdim=True) + 1e-5)

    h = norm(x + layer.self_attn(x, mask=causal_mask_of(x))[0])
    h = norm(h + layer.cross_attn(h, memory, memory)[0])
    return norm(h + layer.feed_forward(h))


def normalises_over_the_sentence(layer, x, memory):
    def norm(module, h):
        mu = h.mean(dim=(-2, -1), keepdim=True)
        var = h.var(dim=(-2, -1), unbiased=False, keepdim=True)
        return (h - mu) / (var + module.eps).sqrt() * module.weight + module.bias

    h = norm(layer.norm1, x + layer.self_attn(x, mask=causal_mask_of(x))[0])
    h = norm(layer.norm2, h + layer.cross_attn(h, memory, memory)[0])
    return norm(layer.norm3, h + layer.feed_forward(h))


def keeps_the_sum_for_the_last_residual(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, mask=causal_mask_of(x))[0])
    x = x + layer.cross_attn(x, memory, memory)[0]
    return layer.norm3(x + layer.feed_forward(layer.norm2(x)))


def ends_in_pre_norm(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, mask=causal_mask_of(x))[0])
    x = layer.norm2(x + layer.cross_attn(x, memory, memory)[0])
    return x + layer.feed_forward(layer.norm3(x))


def causal_mask_of(x):
    """A learner's causal mask for x (B, Lt, d_model): (Lt, Lt), True = may attend."""
    return torch.tril(torch.ones(x.shape[1], x.shape[1])).bool()


_BY_HAND = "nn.LayerNorm's own call, layer.norm1(h), does it right"

ROUND_43B = (
    Mistake(
        name="LayerNorm by hand, unbiased variance",
        hint="Your LayerNorm by hand uses torch's default .var(), the UNBIASED variance (÷ (d − 1)): "
        "LayerNorm divides by d, h.var(dim=-1, unbiased=False, keepdim=True) (or "
        f"h.pow(2).mean after centring). Simpler: {_BY_HAND}.",
        compute=_normed_by(_unbiased),
        example=normalises_by_hand_unbiased,
    ),
    Mistake(
        name="LayerNorm by hand without its scale and shift",
        hint="Your LayerNorm by hand stops at (h − mean) / √(var + eps): each LayerNorm also has "
        "a learned scale and shift, norm.weight and norm.bias, and each Add & Norm its own. "
        f"Multiply by layer.normN.weight and add layer.normN.bias, or simpler: {_BY_HAND}.",
        compute=_normed_by(_bare),
        example=normalises_without_the_learned_scale,
    ),
    Mistake(
        name="LayerNorm over the whole sentence",
        hint="Your LayerNorm takes its mean and variance over (Lt, d_model) together, the whole "
        "sentence: LayerNorm normalises each TOKEN's vector on its own, over the last axis "
        f"only (dim=-1). Simpler: {_BY_HAND}.",
        compute=_normed_by(_over_two_axes),
        example=normalises_over_the_sentence,
    ),
    Mistake(
        name="feed-forward residual from before norm2",
        hint="Your feed-forward's residual adds the sum from BEFORE norm2 (x + cross), not its "
        "normalised output: each Add & Norm's output is the next sublayer's input AND its "
        "residual. x = layer.norm2(x + cross); then layer.norm3(x + layer.feed_forward(x)).",
        compute=lambda layer, x, memory: _last_sublayer(layer, x, memory, how="unnormed"),
        example=keeps_the_sum_for_the_last_residual,
    ),
    Mistake(
        name="cross-attention residual from before norm1",
        hint="Your cross-attention's residual adds the sum from BEFORE norm1 (x + self-attention), "
        "not its normalised output: each Add & Norm's output is the next sublayer's input AND its "
        "residual. x = layer.norm1(x + self); then layer.norm2(x + layer.cross_attn(x, memory, "
        "memory)[0]).",
        compute=_cross_residual_unnormed,
        example=keeps_the_first_sum_for_the_cross_residual,
    ),
    Mistake(
        name="feed-forward in pre-norm",
        hint="Your last sublayer is pre-norm, x + feed_forward(norm3(x)), while the first two are "
        "post-norm: this layer is post-norm throughout, the LayerNorm AFTER the residual add, "
        "layer.norm3(x + layer.feed_forward(x)).",
        compute=lambda layer, x, memory: _last_sublayer(layer, x, memory, how="pre-norm"),
        example=ends_in_pre_norm,
    ),
)
