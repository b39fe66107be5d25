"""More of ``add_norm``'s catalogue: the wrong answers met in the seventh audit (and one in
the eleventh), each with what it computes, its hint and a learner-style example.
"""

from __future__ import annotations

from . import add_norm_learners as learner
from .harness import Mistake


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
