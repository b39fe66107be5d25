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
    "Use torch.arange(0, d_model, 2) / d_model, not torch.linspace(0, 1, …)."
)

_ROW_COUNT = (
    "Your table has the wrong number of rows: one per position 0, 1, …, length − 1, that is "
    "length rows in all. Use torch.arange(length) (or range(length)): it starts at 0 and stops "
    "just before length. {}"
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
        hint="You divided 2i by d_model − 1: your exponents run up to (d_model − 2)/(d_model − 1), "
        "a little above the paper's 2i/d_model, which are 0, 2/d_model, …, (d_model − 2)/d_model. "
        "Divide by d_model itself: torch.arange(0, d_model, 2) / d_model.",
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
        hint=_ROW_COUNT.format("Yours has one row too many: arange(length + 1), or range(length + 1)."),
        compute=lambda n, d: _table(n + 1, d),
        example=learner.one_position_too_many,
    ),
    Mistake(
        name="one position too few",
        hint=_ROW_COUNT.format("Yours has one row too few: arange(length − 1), or range(length − 1)."),
        compute=lambda n, d: _table(n - 1, d),
        example=learner.one_position_too_few,
    ),
    Mistake(
        name="positions 1 … length − 1",
        hint=_ROW_COUNT.format(
            "Yours starts at position 1 (range(1, length)), so it has one row too few and "
            "every row is one position late."
        ),
        compute=lambda n, d: _table(n - 1, d, pos=torch.arange(1, n, dtype=torch.float64)),
        example=learner.positions_from_1_to_length_minus_1,
    ),
)


# --- Met in the round-43a battery: the exponent read off the column, positions spread, −sin ---


def _column_exponents(length: int, d_model: int) -> torch.Tensor:
    """Column j's angle pos / 10000^(2j/d): the column index taken for i (sin even, cos odd)."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    angle = pos / 10000 ** (2 * torch.arange(d_model, dtype=torch.float64) / d_model)  # (L, d)
    pe = angle.sin()
    pe[:, 1::2] = angle[:, 1::2].cos()
    return pe


def _minus_sin(length: int, d_model: int) -> torch.Tensor:
    pe = _table(length, d_model)
    pe[:, 1::2] = -pe[:, 0::2]  # cos(a + π/2) = −sin(a)
    return pe


def _learner_loops_over_columns(length, d_model):
    pe = torch.zeros(length, d_model)
    for p in range(length):
        for j in range(0, d_model, 2):
            pe[p, j] = math.sin(p / 10000 ** (2 * j / d_model))
            pe[p, j + 1] = math.cos(p / 10000 ** (2 * (j + 1) / d_model))
    return pe


def _learner_odd_exponents(length, d_model):
    pos = torch.arange(length).unsqueeze(1)
    div = 10000 ** (torch.arange(1, d_model, 2) / d_model)  # (2i+1)/d for both
    pe = torch.zeros(length, d_model)
    pe[:, ::2], pe[:, 1::2] = torch.sin(pos / div), torch.cos(pos / div)
    return pe


def _learner_linspace(length, d_model):
    pos = torch.linspace(0, length, steps=length).unsqueeze(1)
    div = 10000 ** (torch.arange(0, d_model, 2) / d_model)
    return torch.stack([torch.sin(pos / div), torch.cos(pos / div)], dim=-1).reshape(length, d_model)


def _learner_shifts_the_cosine(length, d_model):
    pos = torch.arange(length)[:, None].float()
    angle = pos * torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle + math.pi / 2)  # "cos is sin shifted by π/2"
    return pe


SLIP_MISTAKES += (
    Mistake(
        name="exponent 2·column",
        hint="Your exponent is 2j/d_model with j the COLUMN (0, 1, 2, 3, …): the 2i in the "
        "formula counts the PAIR's first column, so a sin/cos pair shares one frequency, "
        "exponent 2i/d_model for columns 2i and 2i+1. Loop over the pairs, "
        "for i in range(0, d_model, 2), and use i / d_model for both.",
        compute=_column_exponents,
        example=_learner_loops_over_columns,
    ),
    Mistake(
        name="odd exponents for both",
        hint="Your exponents are (2i+1)/d_model, from torch.arange(1, d_model, 2): the pairs' "
        "exponents start at 0, torch.arange(0, d_model, 2) / d_model, so that column 0 is "
        "sin(pos) itself.",
        compute=lambda n, d: _table(n, d, power=lambda i, d: (2 * i + 1) / d),
        example=_learner_odd_exponents,
    ),
    Mistake(
        name="positions spread over 0 to length",
        hint="Your positions run from 0 to length in `length` steps (torch.linspace(0, length, "
        "length)), so they are not whole numbers: position p is the integer p, "
        "torch.arange(length).",
        compute=lambda n, d: _table(n, d, pos=torch.linspace(0, n, n, dtype=torch.float64)),
        example=_learner_linspace,
    ),
    Mistake(
        name="−sin in the odd columns",
        hint="Your odd columns hold -sin(angle): cos(angle + π/2) is -sin, not cos. "
        "Write torch.cos(angle) itself (or sin(angle + π/2), which is cos).",
        compute=_minus_sin,
        example=_learner_shifts_the_cosine,
    ),
)


def _learner_forgets_the_base(length, d_model):
    pos = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    freq = torch.arange(0, d_model, 2) / d_model  # the 10000 ** left out
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)
    return pe


def _learner_multiplies_the_base(length, d_model):
    pos = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    div = 10000 * torch.arange(0, d_model, 2) / d_model  # 10000 ** (…) meant
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos / div), torch.cos(pos / div)
    return pe


def _pos_over_product(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    return interleaved(pos / (10000 * torch.arange(0, d_model, 2, dtype=torch.float64) / d_model))


SLIP_MISTAKES += (
    Mistake(
        name="no 10000 power",
        hint="Your angles are pos · 2i/d_model: the 10000 ** is missing, so the frequencies grow "
        "with i instead of shrinking geometrically from 1 to 1/10000. The angle is "
        "pos / 10000 ** (2i / d_model).",
        compute=lambda n, d: interleaved(
            torch.arange(n, dtype=torch.float64)[:, None] * torch.arange(0, d, 2, dtype=torch.float64) / d
        ),
        example=_learner_forgets_the_base,
    ),
    Mistake(
        name="10000 times the exponent",
        hint="You MULTIPLIED 10000 by 2i/d_model where it is RAISED to that power: "
        "10000 * (2i/d) is 0 for the first pair (pos / 0: inf, then NaN). Write "
        "10000 ** (2i / d_model) (or torch.pow(10000, 2i / d_model)).",
        compute=_pos_over_product,
        example=_learner_multiplies_the_base,
    ),
)


def _learner_counts_cycles(length, d_model):
    pos = torch.arange(length).float().unsqueeze(1)
    freq = 1 / 10000 ** (torch.arange(0, d_model, 2) / d_model)  # "in cycles per position"
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(2 * math.pi * freq * pos)
    pe[:, 1::2] = torch.cos(2 * math.pi * freq * pos)
    return pe


SLIP_MISTAKES += (
    Mistake(
        name="angles times 2π",
        hint="Your angles are multiplied by 2π: the paper's angle is in radians already, "
        "pos / 10000^(2i/d_model), so the first pair is sin(pos), cos(pos) (a full turn every "
        "2π ≈ 6.3 positions), not one turn per position. Drop the 2π.",
        compute=lambda n, d: _table(n, d, pos=2 * math.pi * torch.arange(n, dtype=torch.float64)),
        example=_learner_counts_cycles,
    ),
)
