"""More of ``layers``'s catalogue (the decoder layer): the slips met in the round-41 battery of
wrong answers, each with what gives it away and its hint (the examples are in ``layers_learners``).

``FIRST`` goes to the front of the catalogue: "causal mask of the source's length" would claim
its errors, of the same kind; ``MORE`` goes at the end.
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
