"""Wrong answers to the Add & Norm exercise written as learners write them (add_norm's
catalogue names each; its ``example``s)."""

from __future__ import annotations

import torch


def normalises_everything(block, x, sublayer):
    def norm(h):  # over every axis at once: the whole batch shares one mean and one spread
        return (h - h.mean()) / torch.sqrt(h.var(unbiased=False) + 1e-5) * block.norm.weight + block.norm.bias

    if block.norm_first:
        return x + block.dropout(sublayer(norm(x)))
    return norm(x + block.dropout(sublayer(x)))


def uses_std(block, x, sublayer):
    def norm(h):
        mean, std = h.mean(dim=-1, keepdim=True), h.std(dim=-1, keepdim=True)  # std divides by d - 1
        return block.norm.weight * (h - mean) / (std + block.norm.eps) + block.norm.bias

    if block.norm_first:
        return x + block.dropout(sublayer(norm(x)))
    return norm(x + block.dropout(sublayer(x)))


def with_bare_norm(block, x, sublayer):
    normalise = torch.nn.LayerNorm(x.shape[-1])  # a fresh one: scale 1, shift 0
    if block.norm_first:
        return x + block.dropout(sublayer(normalise(x)))
    return normalise(x + block.dropout(sublayer(x)))


# --- Met in the seventh audit ---


def normalises_twice_in_pre_norm(block, x, sublayer):
    if block.norm_first:  # "and normalise at the end, as always"
        return block.norm(x + block.dropout(sublayer(block.norm(x))))
    return block.norm(x + block.dropout(sublayer(x)))


def normalises_x_first_always(block, x, sublayer):
    h = block.norm(x)  # whichever the order, "normalise first"
    return h + block.dropout(sublayer(h))


def calls_norm_first(block, x, sublayer):
    if block.norm_first():  # an attribute, not a method
        return x + block.dropout(sublayer(block.norm(x)))
    return block.norm(x + block.dropout(sublayer(x)))


def drops_the_residual(block, x, sublayer):
    if block.norm_first:
        return block.dropout(x) + sublayer(block.norm(x))
    return block.norm(block.dropout(x) + sublayer(x))  # dropout on the wrong branch


def drops_after_the_norm(block, x, sublayer):
    if block.norm_first:
        return x + block.dropout(sublayer(block.norm(x)))
    return block.dropout(block.norm(x + sublayer(x)))


def normalises_the_output_in_pre_norm(block, x, sublayer):
    if block.norm_first:
        return x + block.norm(block.dropout(sublayer(x)))  # the norm on what comes out
    return block.norm(x + block.dropout(sublayer(x)))
