"""Answers learners write for the decoder-layer exercise (``layers``), as code: right ones in other
styles, and the wrong ones that ``layers_slips`` names (each Mistake's example)."""

from __future__ import annotations

import torch


def _decode(layer, x, memory, self_mask, *, norms=(1, 2, 3)):
    """The post-norm decoder layer with ``self_mask`` on its self-attention and its LayerNorms
    taken in the order ``norms``."""
    n1, n2, n3 = (getattr(layer, f"norm{n}") for n in norms)
    x = n1(x + layer.self_attn(x, mask=self_mask)[0])
    x = n2(x + layer.cross_attn(x, memory, memory)[0])
    return n3(x + layer.feed_forward(x))


def _causal(length):
    return torch.ones(length, length, dtype=torch.bool).tril()


# --- Right answers in other styles ---


def causal_keyword(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, causal=True)[0])  # the attention's own causal switch
    x = layer.norm2(x + layer.cross_attn(x, memory)[0])  # the value defaults to the key
    return layer.norm3(x + layer.feed_forward(x))


def with_its_add_norms(layer, x, memory):
    x = layer.add_norm1(x, lambda h: layer.self_attn(h, mask=_causal(h.shape[1]))[0])
    x = layer.add_norm2(x, lambda h: layer.cross_attn(h, key=memory, value=memory)[0])
    return layer.add_norm3(x, layer.feed_forward)


def mask_by_comparison(layer, x, memory):
    positions = torch.arange(x.shape[1])
    return _decode(layer, x, memory, positions[None, :] <= positions[:, None])  # key ≤ query


# --- Wrong answers (met in the round-41 battery) ---


def masks_by_the_batch_size(layer, x, memory):
    return _decode(layer, x, memory, _causal(x.shape[0]))  # shape[0]: B, not Lt


def masks_by_d_model(layer, x, memory):
    return _decode(layer, x, memory, _causal(x.shape[-1]))  # shape[-1]: d_model


def uses_pytorchs_keyword(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, x, x, is_causal=True)[0])  # PyTorch's name
    x = layer.norm2(x + layer.cross_attn(x, memory, memory)[0])
    return layer.norm3(x + layer.feed_forward(x))


def passes_an_int_mask(layer, x, memory):
    length = x.shape[1]
    return _decode(layer, x, memory, torch.ones(length, length, dtype=torch.long).tril())


def writes_self(layer, x, memory):
    return _decode(self, x, memory, _causal(x.shape[1]))  # noqa: F821  (copied from a class)


def shuffles_the_norms(layer, x, memory):
    return _decode(layer, x, memory, _causal(x.shape[1]), norms=(2, 1, 3))


def adds_the_memory_back(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, mask=_causal(x.shape[1]))[0])
    x = layer.norm2(memory + layer.cross_attn(x, memory, memory)[0])  # residual from the source
    return layer.norm3(x + layer.feed_forward(x))


def feeds_forward_before_reading_the_source(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, mask=_causal(x.shape[1]))[0])
    x = layer.norm2(x + layer.feed_forward(x))
    return layer.norm3(x + layer.cross_attn(x, memory, memory)[0])


# --- Round 43: another right answer, in a style not registered before ---
def loop_over_the_sublayers(layer, x, memory):
    """The three sublayers with their norms in a list, either norm placement in one loop."""
    mask = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).tril()
    sublayers = [
        (layer.norm1, lambda h: layer.self_attn(h, mask=mask)[0]),
        (layer.norm2, lambda h: layer.cross_attn(h, memory, memory)[0]),
        (layer.norm3, layer.feed_forward),
    ]
    for norm, sublayer in sublayers:
        x = x + sublayer(norm(x)) if layer.norm_first else norm(x + sublayer(x))
    return x
