"""Wrong answers to the Add & Norm exercise written as learners write them (add_norm's
catalogue names each; its ``example``s)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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


# --- Met in the round-41 battery ---


def dropout_of_its_own_p(block, x, sublayer):
    drop = lambda h: F.dropout(h, 0.1, training=block.training)  # noqa: E731  (the paper's p)
    if block.norm_first:
        return x + drop(sublayer(block.norm(x)))
    return block.norm(x + drop(sublayer(x)))


def forgets_to_call_the_sublayer(block, x, sublayer):
    if block.norm_first:
        return x + block.dropout(sublayer)  # the module, not its output
    return block.norm(x + block.dropout(sublayer))


def writes_self(block, x, sublayer):
    if self.norm_first:  # noqa: F821  (copied from a class's forward)
        return x + self.dropout(sublayer(self.norm(x)))  # noqa: F821
    return self.norm(x + self.dropout(sublayer(x)))  # noqa: F821


def gives_the_norm_two_tensors(block, x, sublayer):
    if block.norm_first:
        return x + block.dropout(sublayer(block.norm(x)))
    return block.norm(x, block.dropout(sublayer(x)))  # "norm of x and the sublayer"


def drops_twice(block, x, sublayer):
    out = block.dropout(block.dropout(sublayer(block.norm(x) if block.norm_first else x)))
    return x + out if block.norm_first else block.norm(x + out)


def drops_the_normalised_input(block, x, sublayer):
    if block.norm_first:
        return x + sublayer(block.dropout(block.norm(x)))  # dropout before the sublayer
    return block.norm(x + block.dropout(sublayer(x)))


def normalises_twice_in_post_norm(block, x, sublayer):
    if block.norm_first:
        return x + block.dropout(sublayer(block.norm(x)))
    return block.norm(x + block.dropout(sublayer(block.norm(x))))  # and its input too


def subtracts_the_sublayer(block, x, sublayer):
    if block.norm_first:
        return x - block.dropout(sublayer(block.norm(x)))
    return block.norm(x - block.dropout(sublayer(x)))


def adds_to_the_normalised_x_in_pre_norm(block, x, sublayer):
    if block.norm_first:
        return block.norm(x) + block.dropout(sublayer(x))
    return block.norm(x + block.dropout(sublayer(x)))


def forgets_the_norm_in_pre_norm(block, x, sublayer):
    if block.norm_first:
        return x + block.dropout(sublayer(x))  # the norm was only written for post-norm
    return block.norm(x + block.dropout(sublayer(x)))


def drops_the_sum_in_pre_norm(block, x, sublayer):
    if block.norm_first:
        return block.dropout(x + sublayer(block.norm(x)))
    return block.norm(x + block.dropout(sublayer(x)))


# --- Right answers in other styles ---


def one_path_for_both(block, x, sublayer):
    out = x + block.dropout(sublayer(block.norm(x) if block.norm_first else x))
    return out if block.norm_first else block.norm(out)


def norms_without_the_shift(block, x, sublayer):
    def norm(h):
        return F.layer_norm(h, h.shape[-1:], block.norm.weight)  # the scale, but no bias

    if block.norm_first:
        return x + block.dropout(sublayer(norm(x)))
    return norm(x + block.dropout(sublayer(x)))


# --- Round 42's battery: the examples of add_norm_more's SLIPS_42 ---


def both_forms(block, x, sublayer, norm, drop=None):
    """Add & Norm with ``norm(h)`` for block.norm (and ``drop(block, h)`` for block.dropout)."""
    dropped = block.dropout if drop is None else (lambda h: drop(block, h))
    if block.norm_first:
        return x + dropped(sublayer(norm(x)))
    return norm(x + dropped(sublayer(x)))


def asks_the_block_for_its_sublayer(block, x, sublayer):
    return block.norm(x + block.dropout(block.sublayer(x)))  # the sublayer is the argument


def swaps_the_scale_and_the_shift(block, x, sublayer):
    n = block.norm
    return both_forms(block, x, sublayer, lambda h: F.layer_norm(h, n.normalized_shape, n.bias, n.weight))


def scales_and_shifts_only(block, x, sublayer):
    return both_forms(block, x, sublayer, lambda h: h * block.norm.weight + block.norm.bias)


def normalises_by_the_rms(block, x, sublayer):
    def rms_norm(h):  # LLaMA's RMSNorm, no mean subtracted
        return h / (h.pow(2).mean(dim=-1, keepdim=True) + 1e-5).sqrt() * block.norm.weight + block.norm.bias

    return both_forms(block, x, sublayer, rms_norm)


def uses_a_new_layer_norm(block, x, sublayer):
    norm = torch.nn.LayerNorm(x.shape[-1])  # fresh: scale 1, shift 0, not the block's
    with torch.no_grad():
        norm.weight.fill_(1.5)  # "initialised" by hand
    return both_forms(block, x, sublayer, norm)


def rescales_the_dropout(block, x, sublayer):
    p = block.dropout.p
    return both_forms(block, x, sublayer, block.norm, lambda b, h: F.dropout(h, p, b.training) * (1 - p))


def drops_with_the_keep_probability(block, x, sublayer):
    keep = 1 - block.dropout.p  # read as "the share of values kept"
    if block.norm_first:
        return x + F.dropout(sublayer(block.norm(x)), keep, block.training)
    return block.norm(x + F.dropout(sublayer(x), keep, block.training))


def switches_to_eval_mode(block, x, sublayer):
    block.eval()  # "no dropout while I check it"
    if block.norm_first:
        return x + block.dropout(sublayer(block.norm(x)))
    return block.norm(x + block.dropout(sublayer(x)))


# --- Round 43: another right answer, in a style not registered before ---
def residual_kept_by_name(block, x, sublayer):
    """The residual named, the sublayer's input chosen by the form, then one return per form."""
    residual = x
    h = block.norm(x) if block.norm_first else x
    h = block.dropout(sublayer(h))
    return residual + h if block.norm_first else block.norm(residual + h)
