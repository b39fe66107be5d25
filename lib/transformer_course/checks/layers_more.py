"""More of ``layers``'s catalogue: the wrong answers met in the seventh audit, each
with what it computes, its hint and a learner-style example.
"""

from __future__ import annotations

from functools import partial

from ..masks import causal_mask
from .harness import Mistake


def _decode(layer, x, memory, *, kv="mm", query="h", residual="h", cross=True, self_attention=True):
    """The decoder layer with the cross-attention's keys and values taken from ``kv`` ("m":
    memory, "h": the target after Add & Norm 1), its query from ``query`` and its residual from
    ``residual`` ("x": the layer's input, "h"); cross / self_attention=False: that sublayer left out."""
    h = x
    if self_attention:
        attended, _ = layer.self_attn(x, mask=causal_mask(x.shape[1]))
        h = layer.norm1(x + attended)
    if cross:
        pick = {"m": memory, "h": h, "x": x}
        attended, _ = layer.cross_attn(pick[query], pick[kv[0]], pick[kv[1]])
        h = layer.norm2(pick[residual] + attended)
    return layer.norm3(h + layer.feed_forward(h))


def _learner_reads_values_from_x(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, mask=causal_mask(x.shape[1]))[0])
    x = layer.norm2(x + layer.cross_attn(x, memory, x)[0])  # values from the target
    return layer.norm3(x + layer.feed_forward(x))


def _learner_matches_keys_from_x(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, mask=causal_mask(x.shape[1]))[0])
    x = layer.norm2(x + layer.cross_attn(x, value=memory)[0])  # the key defaults to the query
    return layer.norm3(x + layer.feed_forward(x))


def _learner_asks_with_the_input(layer, x, memory):
    h = layer.norm1(x + layer.self_attn(x, mask=causal_mask(x.shape[1]))[0])
    h = layer.norm2(h + layer.cross_attn(x, memory, memory)[0])  # x: before self-attention
    return layer.norm3(h + layer.feed_forward(h))


def _learner_skips_the_source(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, mask=causal_mask(x.shape[1]))[0])
    return layer.norm3(x + layer.feed_forward(x))  # memory never read


def _learner_skips_self_attention(layer, x, memory):
    x = layer.norm2(x + layer.cross_attn(x, memory, memory)[0])
    return layer.norm3(x + layer.feed_forward(x))


def _learner_adds_the_input_after_cross(layer, x, memory):
    h = layer.norm1(x + layer.self_attn(x, mask=causal_mask(x.shape[1]))[0])
    h = layer.norm2(x + layer.cross_attn(h, memory, memory)[0])  # x: the layer's input
    return layer.norm3(h + layer.feed_forward(h))


def _learner_masks_with_the_source_length(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, mask=causal_mask(memory.shape[1]))[0])  # Ls, not Lt
    x = layer.norm2(x + layer.cross_attn(x, memory, memory)[0])
    return layer.norm3(x + layer.feed_forward(x))


# Answers met in the seventh audit: each names what it computes.
MORE_MISTAKES = (
    Mistake(
        name="cross-attention values from x",
        hint="Your cross-attention takes its VALUES from the target: what it reads must come "
        "from the source, keys and values both: layer.cross_attn(x, memory, memory).",
        compute=partial(_decode, kv="mh"),
        example=_learner_reads_values_from_x,
    ),
    Mistake(
        name="cross-attention keys from x",
        hint="Your cross-attention takes its KEYS from the target (a key left out defaults to the "
        "query): the queries come from x, keys and values from the source: "
        "layer.cross_attn(x, memory, memory).",
        compute=partial(_decode, kv="hm"),
        example=_learner_matches_keys_from_x,
    ),
    Mistake(
        name="cross-attention queries from the layer's input",
        hint="Your cross-attention asks with the layer's INPUT x, from before the self-attention: "
        "its queries are the output of Add & Norm 1. Overwrite x after each sublayer: "
        "x = norm1(x + attended), then cross_attn(x, memory, memory).",
        compute=partial(_decode, query="x"),
        example=_learner_asks_with_the_input,
    ),
    Mistake(
        name="no cross-attention",
        hint="The cross-attention is missing: the decoder never reads the source. After Add & "
        "Norm 1 comes x = norm2(x + layer.cross_attn(x, memory, memory)[0]).",
        compute=partial(_decode, cross=False),
        example=_learner_skips_the_source,
    ),
    Mistake(
        name="no self-attention",
        hint="The masked self-attention is missing: the layer starts with "
        "x = norm1(x + layer.self_attn(x, mask=causal_mask(Lt))[0]), then the cross-attention.",
        compute=partial(_decode, self_attention=False),
        example=_learner_skips_self_attention,
    ),
    Mistake(
        name="cross-attention residual from the layer's input",
        hint="Your cross-attention's residual adds the layer's INPUT x, not its own input (the "
        "output of Add & Norm 1): x = norm1(x + attended), then norm2(x + cross) with that new x.",
        compute=partial(_decode, residual="x"),
        example=_learner_adds_the_input_after_cross,
    ),
    # From a learner's read of chapter 07: the source is longer than the target there.
    Mistake(
        name="causal mask of the source's length",
        hint="Your causal mask does not fit the self-attention's scores (Lt, Lt): build it from "
        "the target's own length, causal_mask(x.shape[1]), not a fixed number (the notebook's "
        "4 tokens) or the source's length (memory needs no causal mask at all).",
        compute=None,
        error=r"mask of shape \((\d+), \1\) does not broadcast to the scores' shape",
        example=_learner_masks_with_the_source_length,
    ),
)
