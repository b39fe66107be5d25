"""More of ``positions``'s catalogue: the slips met in round 41's battery of wrong answers (a loop
one short, the exp form written wrong, a random or mis-sized table), each with what it computes
and its hint; the learner-style examples are in ``positions_learners``.
"""

from __future__ import annotations

import math

import torch

from . import positions_learners as learner
from .harness import Mistake, varies_between_calls
from .positions_more import interleaved


def _angles(length: int, d_model: int, *, pos=None, power=None, base: float = 10000.0) -> torch.Tensor:
    """pos / base^power in float64, (length, d/2); pos (L,) defaults to 0 … L−1, power (d/2,) to 2i/d."""
    pos = torch.arange(length, dtype=torch.float64) if pos is None else pos
    i = torch.arange(d_model // 2, dtype=torch.float64)
    power = 2 * i / d_model if power is None else power(i, d_model)
    return pos[:, None] / base**power


def _table(length: int, d_model: int, **how) -> torch.Tensor:
    return interleaved(_angles(length, d_model, **how))


def _zeroed(rows=slice(None), cols=slice(None)):
    """The paper's table with the entries [rows, cols] left at 0 (never written)."""

    def table(length: int, d_model: int) -> torch.Tensor:
        pe = _table(length, d_model)
        pe[rows, cols] = 0.0
        return pe

    return table


def _without_exp(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    div_term = torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model)
    return interleaved(pos * div_term)


def _minus_cos(length: int, d_model: int) -> torch.Tensor:
    pe = _table(length, d_model)
    pe[:, 1::2] *= -1
    return pe


def _spread(i: torch.Tensor, d_model: int) -> torch.Tensor:  # linspace(0, 1, d/2)
    return i / max(d_model // 2 - 1, 1)


def _notebook_sizes(learner_fn, case, got) -> bool:
    """A 2-D table whose rows are the notebook's length, or whose columns one of its d_model,
    where this call asked for other sizes."""
    length, d_model = case
    if not isinstance(got, torch.Tensor) or got.dim() != 2 or tuple(got.shape) == (length, d_model):
        return False
    rows, cols = got.shape
    return (rows == learner.NOTEBOOK_LENGTH != length) or (cols in NOTEBOOK_D_MODELS and cols != d_model)


NOTEBOOK_D_MODELS = (8, 16)  # chapter 02's cells: d_model = 16 for the layers, 8 for the table

_EXPONENTS = (
    "Your exponents run from 0 all the way to 1: the paper's are 2i/d_model for the pairs "
    "i = 0 … d_model/2 − 1, that is 0, 2/d_model, …, (d_model − 2)/d_model, stopping short of 1. "
    "Use torch.arange(0, d_model, 2) / d_model, not torch.linspace(0, 1, …) or a division by "
    "d_model − 1."
)

_ROW_COUNT = (
    "Your table has the wrong number of rows: one per position 0, 1, …, length − 1, that is "
    "length rows in all. Use torch.arange(length) (or range(length)): it starts at 0 and stops "
    "just before length, so arange(length + 1) gives one row too many."
)

SLIP_MISTAKES = (
    Mistake(
        name="last position never written",
        hint="Your last row is all zeros: the loop over the positions stops one short. "
        "range(length - 1) leaves out position length − 1; loop over range(length).",
        compute=_zeroed(rows=-1),
        example=learner.stops_one_position_short,
    ),
    Mistake(
        name="last pair never written",
        hint="Your last two columns are all zeros: the loop over the pairs stops one short. "
        "There are d_model // 2 pairs, i = 0 … d_model/2 − 1: loop over range(d_model // 2) "
        "(or range(0, d_model, 2) for the even column 2i).",
        compute=_zeroed(cols=slice(-2, None)),
        example=learner.stops_one_pair_short,
    ),
    Mistake(
        name="cosines never written",
        hint="Your odd columns are all zeros: the cosines were never written. Fill them too, "
        "pe[:, 1::2] = torch.cos(angle), with the same angle as the sines next to them.",
        compute=_zeroed(cols=slice(1, None, 2)),
        example=learner.never_writes_the_cosines,
    ),
    Mistake(
        name="sines written into rows",
        hint="Putting the sines or cosines into your table failed: the slice on the left and "
        "sin(angle) on the right have different shapes. sin(angle) is (length, d_model/2), one "
        "column per pair, and goes into the even COLUMNS: pe[:, 0::2] = torch.sin(angle) "
        "(pe[0::2] is every other ROW, a position), and pe[:, 1::2] = torch.cos(angle).",
        compute=None,
        error=r"The expanded size of the tensor \(\d+\) must match the existing size \(\d+\) at "
        r"non-singleton dimension \d\.\s+Target sizes: \[\d+, \d+\]\.\s+Tensor sizes: \[\d+, \d+\]",
        example=learner.fills_rows,
    ),
    Mistake(
        name="exp form without the exp",
        hint="Your frequencies are -2i·ln(10000)/d_model, the exponent alone: the torch.exp around "
        "it is missing. The frequency is torch.exp(two_i * (-math.log(10000.0) / d_model)), "
        "that is 1 / 10000^(2i/d_model).",
        compute=_without_exp,
        example=learner.forgets_the_exp,
    ),
    Mistake(
        name="exp form with log10",
        hint="math.log10(10000) is 4, the logarithm in base 10; torch.exp undoes the NATURAL one. "
        "Write torch.exp(two_i * (-math.log(10000.0) / d_model)), with math.log, to get "
        "1 / 10000^(2i/d_model).",
        compute=lambda n, d: _table(n, d, base=math.exp(4.0)),
        example=learner.takes_log10,
    ),
    Mistake(
        name="positions spread over 0 to 1",
        hint="Your positions run from 0 to 1 (torch.linspace(0, 1, length), or pos / (length − 1)): "
        "the paper uses the raw position index 0, 1, 2, …, length − 1, torch.arange(length); the "
        "frequencies already keep the angles in range.",
        compute=lambda n, d: _table(n, d, pos=torch.arange(n, dtype=torch.float64) / max(n - 1, 1)),
        example=learner.spreads_the_positions_over_0_to_1,
    ),
    Mistake(
        name="exponents spread over 0 to 1",
        hint=_EXPONENTS,
        compute=lambda n, d: _table(n, d, power=_spread),
        example=learner.spreads_the_exponents_over_0_to_1,
    ),
    Mistake(
        name="exponents divided by d_model − 1",
        hint=_EXPONENTS,
        compute=lambda n, d: _table(n, d, power=lambda i, dm: 2 * i / (dm - 1)),
        example=learner.divides_by_d_model_minus_1,
    ),
    Mistake(
        name="pairs counted from 1",
        hint="Your pairs are counted from 1: the first pair, columns 0 and 1, is i = 0, with "
        "frequency 10000^0 = 1 (sin(pos), cos(pos)). Count i = 0 … d_model/2 − 1: "
        "range(d_model // 2), or two_i = torch.arange(0, d_model, 2).",
        compute=lambda n, d: _table(n, d, power=lambda i, dm: 2 * (i + 1) / dm),
        example=learner.counts_pairs_from_1,
    ),
    Mistake(
        name="−cos in the odd columns",
        hint="Your odd columns hold −cos: sin(angle − π/2) is −cos(angle). The odd columns take "
        "torch.cos(angle) itself (or sin(angle + π/2)).",
        compute=_minus_cos,
        example=learner.writes_cos_as_a_shifted_sin,
    ),
    Mistake(
        name="a random table",
        hint="Your table changes from call to call: something draws random numbers (nn.Embedding, "
        "torch.randn). A learned position embedding is another method; this exercise computes "
        "the paper's fixed table from sin and cos, the same on every call.",
        compute=None,
        recognise=varies_between_calls,
        example=learner.learns_the_positions,
    ),
    Mistake(
        name="the notebook's sizes",
        hint=f"Your table does not have this call's shape (length, d_model): it has the notebook's "
        f"sizes (chapter 02's cells: length = {learner.NOTEBOOK_LENGTH}, d_model = 8 or 16). Take "
        "both sizes from the arguments length and d_model, not from the notebook's variables.",
        compute=None,
        recognise=_notebook_sizes,
        example=learner.uses_the_notebooks_length,
    ),
    Mistake(
        name="one position too many",
        hint=_ROW_COUNT,
        compute=lambda n, d: _table(n + 1, d),
        example=learner.one_position_too_many,
    ),
    Mistake(
        name="one position too few",
        hint=_ROW_COUNT,
        compute=lambda n, d: _table(n - 1, d),
        example=learner.one_position_too_few,
    ),
    Mistake(
        name="positions 1 … length − 1",
        hint=_ROW_COUNT,
        compute=lambda n, d: _table(n - 1, d, pos=torch.arange(1, n, dtype=torch.float64)),
        example=learner.positions_from_1_to_length_minus_1,
    ),
)
