"""Exercise 07: a post-norm decoder layer's forward, built from the lib's parts.

``fn(layer, x (B, Lt, d), memory (B, Ls, d)) → (B, Lt, d)`` using ``layer.self_attn``,
``layer.cross_attn``, ``layer.feed_forward`` and ``layer.norm1``/``norm2``/``norm3``
(eval mode, no padding): masked self-attention, cross-attention, feed-forward, each
followed by Add & Norm.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from ..layers import DecoderLayer
from ..masks import causal_mask
from .harness import Exercise, Mistake, Result, check_function

# --- The learner's side: the starter, a worked solution, other correct answers ---


def starter(layer: DecoderLayer, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
    """x (B, Lt, d_model), memory (B, Ls, d_model) → (B, Lt, d_model)."""
    raise NotImplementedError


def solution(layer: DecoderLayer, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
    """x (B, Lt, d_model), memory (B, Ls, d_model) → (B, Lt, d_model)."""
    attended, _ = layer.self_attn(x, mask=causal_mask(x.shape[1]))  # no peeking ahead
    x = layer.norm1(x + attended)
    attended, _ = layer.cross_attn(x, memory, memory)  # queries from x, keys/values from memory
    x = layer.norm2(x + attended)
    return layer.norm3(x + layer.feed_forward(x))


def by_hand(layer, x, memory, *, skip_residual=(), norm="post", causal=True, cross="right"):
    """A learner's decoder layer with one switch per catalogued mistake (all off: correct)."""
    mask = causal_mask(x.shape[1]) if causal else None

    def cross_attention(z):
        q, kv = {"right": (z, memory), "swapped": (memory, z), "self": (z, z)}[cross]
        return layer.cross_attn(q, kv, kv)[0]

    sublayers = {
        "self": (lambda z: layer.self_attn(z, mask=mask)[0], layer.norm1),
        "cross": (cross_attention, layer.norm2),
        "ff": (layer.feed_forward, layer.norm3),
    }
    for name, (fn, ln) in sublayers.items():
        if norm == "pre":
            x = x + fn(ln(x))
        elif norm == "inside":
            x = x + ln(fn(x))
        else:
            x = ln(fn(x)) if name in skip_residual else ln(x + fn(x))
    return x


def _fused_and_explicit(layer, x, memory):
    """Every argument spelled out, a hand-made bool mask, and the fused path (no weights)."""
    length = x.shape[1]
    mask = torch.ones(length, length, dtype=torch.bool).tril()
    x = layer.norm1(x + layer.self_attn(x, x, x, mask, need_weights=False)[0])
    x = layer.norm2(x + layer.cross_attn(x, memory, memory, None, need_weights=False)[0])
    return layer.norm3(x + layer.feed_forward(x))


ALTERNATIVES = {
    "lib's DecoderLayer forward": lambda layer, x, m: layer(x, m, causal_mask(x.shape[1])),
    "by hand, every switch off": by_hand,
    "fused attention, explicit arguments": _fused_and_explicit,
}


# --- The checker's side: reference, test cases, the catalogue of mistakes ---


def reference(layer, x, memory, *, residual=(True, True, True), norm="post", causal=True, cross="right"):
    """A post-norm decoder layer's forward built from ``layer``'s parts, or one of its usual mistakes.

    norm: "post" (norm(x + f(x))), "pre" (x + f(norm(x))) or "inside" (x + norm(f(x))).
    cross: "right" (queries from x, keys/values from memory), "swapped" (queries from memory,
    keys/values from x) or "self" (keys/values from x: the encoder is never consulted).
    """
    mask = causal_mask(x.shape[1], device=x.device) if causal else None

    def self_block(h):
        return layer.self_attn(h, mask=mask, need_weights=False)[0]

    def cross_block(h):
        q, kv = {"right": (h, memory), "swapped": (memory, h), "self": (h, h)}[cross]
        return layer.cross_attn(q, kv, kv, need_weights=False)[0]

    blocks = (self_block, cross_block, layer.feed_forward)
    for block, ln, keep in zip(blocks, (layer.norm1, layer.norm2, layer.norm3), residual):
        if norm == "pre":
            x = x + block(ln(x))
        elif norm == "inside":
            x = x + ln(block(x))
        else:
            x = ln(x + block(x)) if keep else ln(block(x))
    return x


def _cases() -> list[tuple]:
    with torch.random.fork_rng(devices=[]), torch.no_grad():  # leaves the caller's seed alone
        torch.manual_seed(7)
        layer = DecoderLayer(16, 4, 32, dropout=0.0).eval()
        for ln in (layer.norm1, layer.norm2, layer.norm3):  # so that a misplaced norm shows
            ln.weight.uniform_(0.5, 1.5)
            ln.bias.uniform_(-0.5, 0.5)
    g = torch.Generator().manual_seed(7)
    # The first case has as many source as target tokens, so swapped queries and keys still run.
    return [
        (layer, torch.randn(2, 5, 16, generator=g), torch.randn(2, 5, 16, generator=g)),
        (layer, torch.randn(1, 4, 16, generator=g), torch.randn(1, 7, 16, generator=g)),
        (layer, torch.randn(3, 6, 16, generator=g), torch.randn(3, 3, 16, generator=g)),
    ]


_SUBLAYERS = {"self": "masked self-attention", "cross": "cross-attention", "ff": "feed-forward network"}

NO_RESIDUAL_AROUND = tuple(
    Mistake(
        name=f"no residual around {key}",
        hint=f"Missing residual connection around the {words}: Add & Norm adds the sublayer's "
        f"input back before normalising, norm(x + sublayer(x)), not norm(sublayer(x)).",
        compute=partial(reference, residual=tuple(k != key for k in _SUBLAYERS)),
        example=partial(by_hand, skip_residual=(key,)),
    )
    for key, words in _SUBLAYERS.items()
)

MISTAKES = (
    Mistake(
        name="no residuals",
        hint="Missing residual connections: every sublayer's output must be added to its input "
        "before the norm, x = norm(x + sublayer(x)). Without the `x +` nothing of the input "
        "survives the layer unchanged.",
        compute=partial(reference, residual=(False,) * 3),
        example=partial(by_hand, skip_residual=tuple(_SUBLAYERS)),
    ),
    *NO_RESIDUAL_AROUND,
    Mistake(
        name="pre-norm",
        hint="Wrong norm order: you normalised the input of each sublayer, x + sublayer(norm(x)) "
        "(pre-norm, as in GPT-2). This layer is post-norm, as in the paper: "
        "x = norm(x + sublayer(x)).",
        compute=partial(reference, norm="pre"),
        example=partial(by_hand, norm="pre"),
    ),
    Mistake(
        name="norm before the add",
        hint="Wrong norm order: you normalised the sublayer's output and then added the input, "
        "x + norm(sublayer(x)). Add first, then normalise the sum: norm(x + sublayer(x)).",
        compute=partial(reference, norm="inside"),
        example=partial(by_hand, norm="inside"),
    ),
    Mistake(
        name="no causal mask",
        hint="No causal mask in the self-attention: each target token can see the tokens after "
        "it, the very words it must learn to predict. Pass mask=causal_mask(x.shape[1]) "
        "to layer.self_attn.",
        compute=partial(reference, causal=False),
        example=partial(by_hand, causal=False),
    ),
    Mistake(
        name="cross-attention queries from memory",
        hint="Cross-attention has its queries and keys swapped: the queries come from the "
        "decoder (x) and the keys and values from the encoder's output (memory): "
        "layer.cross_attn(x, memory, memory).",
        compute=partial(reference, cross="swapped"),
        example=partial(by_hand, cross="swapped"),
    ),
    Mistake(
        name="cross-attention on x",
        hint="Your cross-attention never looks at the encoder: its keys and values must be "
        "memory, not x: layer.cross_attn(x, memory, memory).",
        compute=partial(reference, cross="self"),
        example=partial(by_hand, cross="self"),
    ),
)


def check_decoder_layer(learner_fn: Callable) -> Result:
    """Exercise 07: ``fn(layer, x (B, Lt, d), memory (B, Ls, d)) → (B, Lt, d)``, a post-norm decoder
    layer's forward using ``layer.self_attn``, ``layer.cross_attn``, ``layer.feed_forward`` and
    ``layer.norm1``/``norm2``/``norm3`` (eval mode, no padding)."""
    with torch.no_grad():
        return check_function(learner_fn, reference, _cases(), name="decoder_layer", mistakes=MISTAKES)


EXERCISES = (
    Exercise(
        name="decoder_layer",
        chapter="07",
        check=check_decoder_layer,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
