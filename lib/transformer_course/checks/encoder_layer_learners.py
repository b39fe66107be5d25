"""Answers learners write for the encoder-layer exercise, as code: right ones in other styles, and
the wrong ones that ``encoder_layer_slips`` names (each Mistake's example)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _feed_forward_block(layer, x):
    return layer.norm2(x + layer.feed_forward(x))


# --- Right answers in other styles ---


def positional_arguments(layer, x, mask):
    attended, _ = layer.self_attn(x, x, x, mask)  # query, key, value, mask
    return _feed_forward_block(layer, layer.norm1(x + attended))


def with_its_add_norms(layer, x, mask):
    x = layer.add_norm1(x, lambda h: layer.self_attn(h, mask=mask)[0])
    return layer.add_norm2(x, layer.feed_forward)


def functional_norms(layer, x, mask):
    def norm(h, ln):
        return F.layer_norm(h, ln.normalized_shape, ln.weight, ln.bias, ln.eps)

    x = norm(x + layer.self_attn(x, mask=mask)[0], layer.norm1)
    return norm(x + layer.feed_forward(x), layer.norm2)


# --- Wrong answers (met in the round-41 battery) ---


def uses_pytorchs_keyword(layer, x, mask):
    attended, _ = layer.self_attn(x, x, x, attn_mask=mask)  # nn.MultiheadAttention's name
    return _feed_forward_block(layer, layer.norm1(x + attended))


def squeezes_the_mask(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask.squeeze())  # (B, L): the axes of size 1 gone
    return _feed_forward_block(layer, layer.norm1(x + attended))


def passes_an_int_mask(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask.int())
    return _feed_forward_block(layer, layer.norm1(x + attended))


def writes_self(layer, x, mask):
    attended, _ = self.self_attn(x, mask=mask)  # noqa: F821  (copied from a class's forward)
    return _feed_forward_block(layer, layer.norm1(x + attended))


def stops_after_the_attention(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask)
    return layer.norm1(x + attended)  # Add & Norm 2 forgotten


def feeds_the_attention_forward(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask)
    x = layer.norm1(x + attended)
    return layer.norm2(x + layer.feed_forward(attended))  # attended: before Add & Norm 1


def normalises_without_scale(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask)
    x = F.layer_norm(x + attended, x.shape[-1:])  # no weight, no bias
    return F.layer_norm(x + layer.feed_forward(x), x.shape[-1:])


def subtracts_the_sublayers(layer, x, mask):
    attended, _ = layer.self_attn(x, mask=mask)
    x = layer.norm1(x - attended)
    return layer.norm2(x - layer.feed_forward(x))


# --- Round 43: another right answer, in a style not registered before ---
def one_story_at_a_time(layer, x, mask):
    """The layer on each story alone, (1, L, d) with its own (1, 1, 1, L) mask, then joined."""
    rows = []
    for b in range(x.shape[0]):
        xb = x[b : b + 1]
        xb = layer.norm1(xb + layer.self_attn(xb, mask=mask[b : b + 1])[0])
        rows.append(layer.norm2(xb + layer.feed_forward(xb)))
    return torch.cat(rows, dim=0)
