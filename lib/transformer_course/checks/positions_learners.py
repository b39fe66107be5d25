"""The wrong answers learners write for ``positions`` (exercise 02), as code: each example of a
Mistake in ``positions_slips``, written the way a learner types it.
"""

from __future__ import annotations

import math

import torch


def _table(angle: torch.Tensor) -> torch.Tensor:
    pe = torch.zeros(angle.shape[0], 2 * angle.shape[1])
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


def _angle(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).float().unsqueeze(1)
    return pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)


def stops_one_position_short(length: int, d_model: int) -> torch.Tensor:
    pe = torch.zeros(length, d_model)
    for pos in range(length - 1):  # the last position is never filled
        for i in range(d_model // 2):
            angle = pos / 10000 ** (2 * i / d_model)
            pe[pos, 2 * i], pe[pos, 2 * i + 1] = math.sin(angle), math.cos(angle)
    return pe


def stops_one_pair_short(length: int, d_model: int) -> torch.Tensor:
    pe = torch.zeros(length, d_model)
    for pos in range(length):
        for i in range(d_model // 2 - 1):  # the last pair is never filled
            angle = pos / 10000 ** (2 * i / d_model)
            pe[pos, 2 * i], pe[pos, 2 * i + 1] = math.sin(angle), math.cos(angle)
    return pe


def never_writes_the_cosines(length: int, d_model: int) -> torch.Tensor:
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(_angle(length, d_model))  # and the odd columns stay 0
    return pe


def fills_rows(length: int, d_model: int) -> torch.Tensor:
    angle = _angle(length, d_model)
    pe = torch.zeros(length, d_model)
    pe[0::2] = torch.sin(angle)  # every other ROW, not every other column
    pe[1::2] = torch.cos(angle)
    return pe


def forgets_the_exp(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).float().unsqueeze(1)
    div_term = torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model)  # no torch.exp
    return _table(pos * div_term)


def takes_log10(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).float().unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log10(10000.0) / d_model))
    return _table(pos * div_term)


def spreads_the_positions_over_0_to_1(length: int, d_model: int) -> torch.Tensor:
    pos = torch.linspace(0, 1, length).unsqueeze(1)  # "positions between 0 and 1"
    return _table(pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model))


def spreads_the_exponents_over_0_to_1(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).float().unsqueeze(1)
    exponent = torch.linspace(0, 1, d_model // 2)  # reaches 1; the paper's stops at (d-2)/d
    return _table(pos / 10000**exponent)


def divides_by_d_model_minus_1(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).float().unsqueeze(1)
    return _table(pos / 10000 ** (torch.arange(0, d_model, 2).float() / (d_model - 1)))


def counts_pairs_from_1(length: int, d_model: int) -> torch.Tensor:
    pe = torch.zeros(length, d_model)
    for pos in range(length):
        for i in range(1, d_model // 2 + 1):  # pairs 1 … d/2, not 0 … d/2 − 1
            angle = pos / 10000 ** (2 * i / d_model)
            pe[pos, 2 * i - 2], pe[pos, 2 * i - 1] = math.sin(angle), math.cos(angle)
    return pe


def writes_cos_as_a_shifted_sin(length: int, d_model: int) -> torch.Tensor:
    angle = _angle(length, d_model)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.sin(angle - math.pi / 2)  # that is −cos
    return pe


def learns_the_positions(length: int, d_model: int) -> torch.Tensor:
    return torch.nn.Embedding(length, d_model)(torch.arange(length)).detach()


NOTEBOOK_LENGTH = 10  # chapter 02's cells after the exercise: length, d_model = 10, 8


def uses_the_notebooks_length(length: int, d_model: int) -> torch.Tensor:
    return _table(_angle(NOTEBOOK_LENGTH, d_model))  # the notebook's length, not the argument


def one_position_too_many(length: int, d_model: int) -> torch.Tensor:
    return _table(_angle(length + 1, d_model))  # arange(length + 1): positions 0 … length


def one_position_too_few(length: int, d_model: int) -> torch.Tensor:
    return _table(_angle(length - 1, d_model))  # arange(length - 1): stops at length − 2


def positions_from_1_to_length_minus_1(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(1, length).float().unsqueeze(1)  # meant to skip 0, lost a row
    return _table(pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model))


# --- Round 43: another right answer, in a style not registered before ---
def cos_as_shifted_sin(length, d_model):
    """Every column a sine, the odd ones shifted by π/2 (cos θ = sin(θ + π/2)), in float64."""
    dims = torch.arange(d_model, dtype=torch.float64)
    angle = torch.arange(length, dtype=torch.float64)[:, None] / 10000 ** ((dims - dims % 2) / d_model)
    return torch.sin(angle + (dims % 2) * math.pi / 2).float()
