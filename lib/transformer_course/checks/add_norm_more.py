"""More of ``add_norm``'s catalogue: the wrong answers met in the seventh audit (and one in
the eleventh), each with what it computes, its hint and a learner-style example; and round 42's
battery (``SLIPS_42``: the block asked for a sublayer, LayerNorm's scale and shift swapped or used
alone, an RMSNorm, a LayerNorm other than the block's).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import add_norm_learners as learner
from .describe import same
from .harness import Mistake, fresh


def _pre_norm_renormalised(block, x, sublayer):
    if not block.norm_first:
        return block(x, sublayer)  # the lib's AddNorm: right
    return block.norm(x + block.dropout(sublayer(block.norm(x))))


def _normalised_residual(block, x, sublayer):
    if block.norm_first:  # right: pre-norm's own version of it is named in add_norm
        return block(x, sublayer)
    h = block.norm(x)
    return h + block.dropout(sublayer(h))


def _residual_dropped(block, x, sublayer):
    if block.norm_first:
        return block.dropout(x) + sublayer(block.norm(x))
    return block.norm(block.dropout(x) + sublayer(x))


def _pre_norm_on_the_output(block, x, sublayer):
    if not block.norm_first:
        return block(x, sublayer)  # the lib's AddNorm: right
    return x + block.norm(block.dropout(sublayer(x)))


def _dropped_after_the_norm(block, x, sublayer):
    if block.norm_first:
        return block(x, sublayer)
    return block.dropout(block.norm(x + sublayer(x)))


# Answers met in the seventh audit: each names what it computes.
MORE_MISTAKES = (
    Mistake(
        name="pre-norm normalises the sum too",
        hint="Your pre-norm block normalises twice, before the sublayer AND after the add. "
        "Pre-norm leaves the sum alone: x + dropout(sublayer(norm(x))); only post-norm "
        "normalises the sum.",
        compute=_pre_norm_renormalised,
        example=learner.normalises_twice_in_pre_norm,
    ),
    Mistake(
        name="normalised x in post-norm",
        hint="Your post-norm block normalises x first and adds the sublayer of it: "
        "norm(x) + sublayer(norm(x)). Post-norm adds first, then normalises the sum: "
        "norm(x + dropout(sublayer(x))).",
        compute=_normalised_residual,
        example=learner.normalises_x_first_always,
    ),
    Mistake(
        name="norm_first called",
        hint="You called a True/False attribute like a method ('bool' object is not callable): "
        "block.norm_first and block.training are flags, not methods. Test them without "
        "brackets: `if block.norm_first:`.",
        compute=None,
        error=r"'bool' object is not callable",
        example=learner.calls_norm_first,
    ),
    Mistake(
        name="dropout on the residual",
        hint="Your dropout is on x, the residual: it belongs on the sublayer's output, "
        "x + dropout(sublayer(…)), so that x itself always gets through whole.",
        compute=_residual_dropped,
        example=learner.drops_the_residual,
    ),
    Mistake(
        name="dropout after the norm",
        hint="Your dropout comes after the norm, on the block's output: it belongs on the "
        "sublayer's output, before the add: norm(x + dropout(sublayer(x))).",
        compute=_dropped_after_the_norm,
        example=learner.drops_after_the_norm,
    ),
    # Met in the eleventh audit.
    Mistake(
        name="pre-norm normalises the output",
        hint="You normalised the sublayer's OUTPUT; pre-norm normalises its INPUT: "
        "x + dropout(sublayer(norm(x))).",
        compute=_pre_norm_on_the_output,
        example=learner.normalises_the_output_in_pre_norm,
    ),
)


def _with_norm(norm, drop=None):
    """Both forms of Add & Norm with ``norm(block, h)`` in place of block.norm(h) (and
    ``drop(block, h)`` in place of block.dropout(h))."""

    def add_norm(block, x, sublayer):
        return learner.both_forms(block, x, sublayer, lambda h: norm(block, h), drop)

    return add_norm


def _rms(block, h):
    rms = (h.pow(2).mean(dim=-1, keepdim=True) + block.norm.eps).sqrt()
    return h / rms * block.norm.weight + block.norm.bias


def _swapped(block, h):
    n = block.norm
    return F.layer_norm(h, n.normalized_shape, n.bias, n.weight, n.eps)


_RESCALED = _with_norm(
    lambda block, h: block.norm(h), lambda block, h: block.dropout(h) * (1 - block.dropout.p)
)


def _dropout_rescaled(fn, case, got) -> bool:
    """The sublayer's output times 1 − p, here and with the block's p set to 0.2: the cases' p
    is 0.5, where times 1 − p is also the sublayer's output halved, another slip."""
    torch.default_generator.manual_seed(0)  # as check_function seeds each call
    if not same(got, _RESCALED(*fresh(case)), 1e-4):
        return False
    block, x, sublayer = fresh(case)
    block.dropout.p = 0.2
    torch.default_generator.manual_seed(0)  # as check_function seeds each call
    want = _RESCALED(block, x.clone(), sublayer)
    torch.default_generator.manual_seed(0)
    return same(fn(block, x, sublayer), want, 1e-4)


def _ignores_the_blocks_norm(fn, case, got) -> bool:
    """The result stays the same when block.norm's scale and shift change: another LayerNorm
    (a new one, or the notebook's block) does the normalising."""
    block, x, sublayer = fresh(case)
    with torch.no_grad():
        block.norm.weight.mul_(2.0), block.norm.bias.add_(1.0)
    torch.default_generator.manual_seed(0)  # as check_function seeds each call
    return same(fn(block, x, sublayer), got, 1e-6)


SLIPS_42 = (
    Mistake(
        name="the block asked for its sublayer",
        hint="The block holds only norm, dropout and norm_first: the sublayer comes as the "
        "argument `sublayer`. Call it, sublayer(x) (or sublayer(block.norm(x)) in pre-norm), "
        "rather than block.sublayer or block.ff.",
        compute=None,
        error=r"'AddNorm' object has no attribute '(?!norm\b|dropout\b|norm_first\b)\w+'",
        example=learner.asks_the_block_for_its_sublayer,
    ),
    Mistake(
        name="LayerNorm's scale and shift swapped",
        hint="You gave F.layer_norm the bias as its weight and the weight as its bias: its "
        "arguments are (input, normalized_shape, weight, bias, eps), the scale first. Or call "
        "block.norm(h) itself.",
        compute=_with_norm(_swapped),
        example=learner.swaps_the_scale_and_the_shift,
    ),
    Mistake(
        name="scale and shift without normalising",
        hint="You applied LayerNorm's scale and shift (h * weight + bias) but never normalised: "
        "first subtract each token's mean and divide by its std (over the last axis), then "
        "scale and shift. block.norm(h) does all of it.",
        compute=_with_norm(lambda block, h: h * block.norm.weight + block.norm.bias),
        example=learner.scales_and_shifts_only,
    ),
    Mistake(
        name="RMSNorm",
        hint="You divided by the root mean square without subtracting the mean: that is RMSNorm "
        "(LLaMA's), not the LayerNorm this block holds. LayerNorm subtracts each token's mean "
        "first: block.norm(h).",
        compute=_with_norm(_rms),
        example=learner.normalises_by_the_rms,
    ),
    Mistake(
        name="dropout rescaled by 1 − p",
        hint="You multiplied the dropout's output by (1 − p): nn.Dropout already rescales in "
        "training (the values it keeps are divided by 1 − p) and passes everything through in "
        "eval mode, so nothing is left to undo. Use block.dropout(h) as it is.",
        compute=None,
        recognise=_dropout_rescaled,
        example=learner.rescales_the_dropout,
    ),
    Mistake(  # told apart by the last case, whose p is 0.2 (at 0.5, p and 1 - p agree)
        name="dropout given the keep probability",
        hint="You gave dropout 1 − p: F.dropout's p (like nn.Dropout's) is the probability of "
        "DROPPING a value, not of keeping it. Pass block.dropout.p as it is, or call "
        "block.dropout(h), which holds it.",
        compute=_with_norm(
            lambda block, h: block.norm(h), lambda block, h: F.dropout(h, 1 - block.dropout.p, block.training)
        ),
        example=learner.drops_with_the_keep_probability,
    ),
    Mistake(  # last: the norms written wrong by hand are named by what they compute first
        name="another LayerNorm",
        hint="Your result stays the same when block.norm's learned scale and shift change: "
        "another LayerNorm does the normalising (a new nn.LayerNorm, or a block from a cell "
        "above). Use the block's own, block.norm, whose weights are trained with the model.",
        compute=None,
        recognise=_ignores_the_blocks_norm,
        example=learner.uses_a_new_layer_norm,
    ),
)
