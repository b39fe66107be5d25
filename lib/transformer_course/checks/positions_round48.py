"""More of ``positions``'s catalogue, met in round 48's review: the exponent divided by the
table's length, which the first case cannot tell from the 2 counted twice.
"""

from __future__ import annotations

import math

import torch

from .describe import same
from .harness import Mistake
from .positions_more import interleaved


def _over_length(length: int, d_model: int) -> torch.Tensor:
    """The table with exponents 2i / length, (length, d_model), float64."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    return interleaved(pos / 10000.0 ** (two_i / length))


# Close to float32's sines of angles up to length: the check's own atol.
_ATOL = 1e-4


def _divides_by_length(learner_fn, case: tuple, got: object) -> bool:
    """The exponents are 2i / length on this case and, where length = d_model / 2 makes that
    the same as 4i / d_model (the 2 counted twice), also on a table whose length is not."""
    length, d_model = case
    if not same(got, _over_length(length, d_model), _ATOL):
        return False
    if 2 * length != d_model:
        return True
    probe = (length + 2, d_model)
    return same(learner_fn(*probe), _over_length(*probe), _ATOL)


def _learner_divides_by_length(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).float().unsqueeze(1)
    two_i = torch.arange(0, d_model, 2).float()
    angle = pos / 10000 ** (two_i / length)  # meant / d_model
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


# Checked before "the 2 counted twice", which it equals on the first case (length = d_model / 2).
OVER_LENGTH = Mistake(
    name="exponent divided by the length",
    hint="Your exponents are 2i / length: you divided by the table's length where the paper "
    "divides by d_model, the size of each row. Write pos / 10000 ** (two_i / d_model).",
    compute=None,
    recognise=_divides_by_length,
    example=_learner_divides_by_length,
)


def _pairs_over_length(length: int, d_model: int) -> torch.Tensor:
    """The table with exponents i / length for the pair index i, (length, d_model), float64:
    right where length = d_model / 2 (the first case), wrong on every other."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    return interleaved(pos / 10000.0 ** (torch.arange(d_model // 2, dtype=torch.float64) / length))


def _learner_divides_the_pair_index_by_length(length: int, d_model: int) -> torch.Tensor:
    pe = torch.zeros(length, d_model)
    for pos in range(length):
        for i in range(d_model // 2):
            angle = pos / 10000 ** (i / length)  # meant 2 * i / d_model
            pe[pos, 2 * i], pe[pos, 2 * i + 1] = math.sin(angle), math.cos(angle)
    return pe


def _learner_turns_the_fraction_over(length: int, d_model: int) -> torch.Tensor:
    pe = torch.zeros(length, d_model)
    for pos in range(length):
        for i in range(0, d_model, 2):
            angle = pos / 10000 ** (d_model / i)  # meant i / d_model: i = 0 divides by zero
            pe[pos, i], pe[pos, i + 1] = math.sin(angle), math.cos(angle)
    return pe


ROUND_48 = (
    # Python's numbers raise where tensors give inf: a loop over ints met a 0 in a denominator.
    Mistake(
        name="division by zero",
        hint="Your code divided by zero: the first pair has i = 0 and the first position is 0, so "
        "d_model / i (the exponent's fraction upside down) or anything / pos fails there. The "
        "angle is pos / 10000 ** (2i / d_model): its only denominator, 10000 ** (…), is never 0.",
        compute=None,
        error=r"^ZeroDivisionError",
        example=_learner_turns_the_fraction_over,
    ),
    Mistake(
        name="pair index divided by the length",
        hint="Your exponents are i / length, with i the pair's index: you divided by the table's "
        "length where the paper divides 2i by d_model, the size of each row (the two agree only "
        "where length = d_model / 2). Write pos / 10000 ** (2 * i / d_model).",
        compute=_pairs_over_length,
        example=_learner_divides_the_pair_index_by_length,
    ),
)
