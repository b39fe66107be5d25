"""More of ``positions``'s catalogue, met in round 50's review: the sign slip in the exp/log form
(the Annotated Transformer's ``exp(arange(0, d, 2) * -(log(10000) / d))`` without its minus),
the frequencies in reverse, the paper's d_model = 512 typed into the exponent, and the cos
columns given the next pair's frequency.

What a mistake computes is the (length, d_model) table, in float64.
"""

from __future__ import annotations

import math
import re

import torch

from .describe import same
from .harness import Mistake
from .in_place import learner_source
from .positions_more import interleaved


def _pos_and_two_i(length: int, d_model: int) -> tuple[torch.Tensor, torch.Tensor]:
    pos = torch.arange(length, dtype=torch.float64)[:, None]  # (L, 1)
    return pos, torch.arange(0, d_model, 2, dtype=torch.float64)  # (d/2,)


def _multiplied(length: int, d_model: int) -> torch.Tensor:
    pos, two_i = _pos_and_two_i(length, d_model)
    return interleaved(pos * 10000.0 ** (two_i / d_model))


_EXP = re.compile(r"\bexp\s*\(|\.exp\b")  # torch.exp(…), math.exp(…), x.exp(): not "expected"


def _exp_without_minus(fn, case, got) -> bool:
    """The angle pos · 10000^(2i/d_model), from code that writes the frequency as an exp."""
    # float32's sines of angles up to thousands of radians: as the pow form's mistake's atol.
    return same(got, _multiplied(*case), 1e-2) and _EXP.search(learner_source(fn)) is not None


def _learner_forgets_the_minus(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).unsqueeze(1).float()
    div = torch.exp(torch.arange(0, d_model, 2).float() * (math.log(10000.0) / d_model))  # no minus
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
    return pe


# Checked before "multiplied by 10000^(2i/d)", whose numbers it shares and whose hint is in
# the pow form.
EXP_WITHOUT_MINUS = Mistake(
    name="exp form without its minus",
    hint="You multiplied the position by exp(+2i · ln 10000 / d_model), which is "
    "10000^(2i/d_model); divide by it: the exponent needs its minus, "
    "torch.exp(torch.arange(0, d_model, 2) * -(math.log(10000.0) / d_model)) = "
    "1 / 10000^(2i/d_model), so that the waves get SLOWER as i grows.",
    compute=None,
    recognise=_exp_without_minus,
    example=_learner_forgets_the_minus,
)


def _reversed(length: int, d_model: int) -> torch.Tensor:
    pos, two_i = _pos_and_two_i(length, d_model)
    return interleaved(pos / 10000.0 ** (two_i.flip(0) / d_model))


def _paper_d_model(length: int, d_model: int) -> torch.Tensor:
    pos, two_i = _pos_and_two_i(length, d_model)
    return interleaved(pos / 10000.0 ** (two_i / 512))


def _next_pair_for_cos(length: int, d_model: int) -> torch.Tensor:
    pos, two_i = _pos_and_two_i(length, d_model)
    pe = interleaved(pos / 10000.0 ** (two_i / d_model))
    pe[:, 1::2] = torch.cos(pos / 10000.0 ** ((two_i + 2) / d_model))
    return pe


def _learner_reverses(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length)[:, None].float()
    two_i = torch.arange(0, d_model, 2).float().flip(0)  # "the slowest first"
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = (
        torch.sin(pos / 10000 ** (two_i / d_model)),
        torch.cos(pos / 10000 ** (two_i / d_model)),
    )
    return pe


def _learner_types_512(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length)[:, None].float()
    angle = pos / 10000 ** (torch.arange(0, d_model, 2).float() / 512)  # the paper's d_model
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


def _learner_shifts_the_cos(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length)[:, None].float()
    two_i = torch.arange(0, d_model, 2).float()
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(pos / 10000 ** (two_i / d_model))
    pe[:, 1::2] = torch.cos(pos / 10000 ** ((two_i + 2) / d_model))  # column 2i+1 as "i + 1"
    return pe


ROUND_50 = (
    Mistake(
        name="frequencies reversed",
        hint="Your frequencies run the wrong way: the first pair of columns must be the FASTEST "
        "wave (exponent 0, angle = pos) and the last the slowest. You reversed 2i (flip, or "
        "counting down): use torch.arange(0, d_model, 2) as it is.",
        compute=_reversed,
        example=_learner_reverses,
    ),
    Mistake(
        name="d_model typed in as 512",
        hint="Your exponent divides by 512, the paper's d_model, not by this call's: use the "
        "d_model argument, pos / 10000 ** (two_i / d_model), so the table fits any model size.",
        compute=_paper_d_model,
        example=_learner_types_512,
    ),
    Mistake(
        name="cos column with the next pair's frequency",
        hint="Your cos column 2i+1 uses the NEXT pair's frequency, 10000^((2i+2)/d_model): "
        "the sin and cos of a pair share one angle, pos / 10000^(2i/d_model). Compute the angle "
        "once and take both its sin (even columns) and cos (odd columns).",
        compute=_next_pair_for_cos,
        example=_learner_shifts_the_cos,
    ),
)
