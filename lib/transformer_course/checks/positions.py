"""Exercise 02: the paper's sinusoidal positional encoding.

``fn(length, d_model) → (length, d_model)``: PE[pos, 2i] = sin(pos / 10000^(2i/d_model)),
PE[pos, 2i+1] = cos(pos / 10000^(2i/d_model)), d_model even.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch

from ..positional import sinusoidal_encoding
from .harness import Exercise, Mistake, Result, check_function

# --- The learner's side: the starter, a worked solution, other correct answers ---


def starter(length: int, d_model: int) -> torch.Tensor:
    """The paper's positional encoding, shape (length, d_model)."""
    raise NotImplementedError


def solution(length: int, d_model: int) -> torch.Tensor:
    """The paper's positional encoding, shape (length, d_model)."""
    pos = torch.arange(length).float().unsqueeze(1)  # (L, 1)
    two_i = torch.arange(0, d_model, 2).float()  # (d/2,): 2i for each sin/cos pair
    angle = pos / 10000 ** (two_i / d_model)  # (L, d/2)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe


def by_hand(
    length, d_model, *, swap=False, exponent=lambda i, d: 2 * i / d, start=0, halves=False, per_column=False
):
    """A learner's encoding with one switch per catalogued mistake (all off: correct)."""
    pos = torch.arange(start, start + length).float()[:, None]
    i = torch.arange(d_model // 2).float()
    angle = pos / 10000 ** exponent(i, d_model)
    even, odd = (torch.cos(angle), torch.sin(angle)) if swap else (torch.sin(angle), torch.cos(angle))
    if per_column:
        odd = torch.cos(pos / 10000 ** ((2 * i + 1) / d_model))
    if halves:
        return torch.cat([even, odd], dim=1)
    return torch.stack([even, odd], dim=-1).reshape(length, d_model)


def _one_entry_at_a_time(length: int, d_model: int) -> torch.Tensor:
    pe = torch.zeros(length, d_model)
    for pos in range(length):
        for i in range(d_model // 2):
            angle = pos / 10000 ** (2 * i / d_model)
            pe[pos, 2 * i], pe[pos, 2 * i + 1] = math.sin(angle), math.cos(angle)
    return pe


def _through_exp_and_log(length: int, d_model: int) -> torch.Tensor:
    """The frequencies as exp(-2i·ln(10000)/d_model), as many implementations write them."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(length, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)
    return pe


ALTERNATIVES = {
    "lib's sinusoidal_encoding": sinusoidal_encoding,
    "stack and reshape": by_hand,
    "one entry at a time": _one_entry_at_a_time,
    "exp and log, in float64": _through_exp_and_log,
}


# --- The checker's side: reference, test cases, the catalogue of mistakes ---


def _sinusoid(
    length: int, d_model: int, *, exponent=None, swap: bool = False, start: int = 0, halves: bool = False
) -> torch.Tensor:
    """The paper's table and its usual wrong variants, in float64 (L, d)."""
    pos = torch.arange(start, start + length, dtype=torch.float64)[:, None]
    i = torch.arange(d_model // 2, dtype=torch.float64)
    power = (2 * i / d_model) if exponent is None else exponent(i, d_model)
    angle = pos / 10000.0**power
    first, second = (torch.cos, torch.sin) if swap else (torch.sin, torch.cos)
    if halves:
        return torch.cat([first(angle), second(angle)], dim=1)
    pe = torch.empty(length, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = first(angle), second(angle)
    return pe


def reference(length: int, d_model: int) -> torch.Tensor:
    return _sinusoid(length, d_model).float()


def _column_index(length: int, d_model: int) -> torch.Tensor:
    # The cos column 2i+1 used its own index 2i+1 instead of the pair's 2i.
    pe = torch.empty(length, d_model, dtype=torch.float64)
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    j = torch.arange(d_model, dtype=torch.float64)
    angle = pos / 10000.0 ** (j / d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle[:, 0::2]), torch.cos(angle[:, 1::2])
    return pe


MISTAKES = (
    Mistake(
        name="sin and cos swapped",
        hint="sin and cos are swapped: even dimensions (0, 2, 4, …) take sin, odd ones take cos.",
        compute=lambda n, d: _sinusoid(n, d, swap=True),
        example=partial(by_hand, swap=True),
    ),
    Mistake(
        name="exponent i/d_model",
        hint="The exponent should be 2i/d_model, where i counts the sin/cos PAIRS. You used i/d_model, "
        "so the waves slow down only half as fast across the dimensions.",
        compute=lambda n, d: _sinusoid(n, d, exponent=lambda i, dm: i / dm),
        example=partial(by_hand, exponent=lambda i, d: i / d),
    ),
    Mistake(
        name="exponent 2i",
        hint="The exponent is missing the division by d_model: 10000^(2i) is astronomically large, "
        "so every pair after the first is a flat line. Use 10000^(2i/d_model).",
        compute=lambda n, d: _sinusoid(n, d, exponent=lambda i, dm: 2 * i),
        example=partial(by_hand, exponent=lambda i, d: 2 * i),
    ),
    Mistake(
        name="cos at (2i+1)/d_model",
        hint="Both members of a pair share one frequency: column 2i+1 (cos) uses the same "
        "2i/d_model as column 2i (sin), not (2i+1)/d_model.",
        compute=_column_index,
        example=partial(by_hand, per_column=True),
    ),
    Mistake(
        name="positions from 1",
        hint="Positions start at 0: the first row should be sin(0) = 0, cos(0) = 1.",
        compute=lambda n, d: _sinusoid(n, d, start=1),
        example=partial(by_hand, start=1),
    ),
    Mistake(
        name="sines then cosines",
        hint="The sines and cosines should be interleaved (sin in columns 0, 2, 4, …, cos in 1, 3, "
        "5, …), not all sines in the first half and all cosines in the second.",
        compute=lambda n, d: _sinusoid(n, d, halves=True),
        example=partial(by_hand, halves=True),
    ),
)


def check_sinusoidal_encoding(learner_fn: Callable) -> Result:
    """Exercise 02: ``fn(length, d_model) → (length, d_model)``, the paper's encoding (d_model even)."""
    cases = [(6, 8), (12, 16), (50, 4)]
    return check_function(
        learner_fn, reference, cases, name="sinusoidal_encoding", mistakes=MISTAKES, atol=1e-4
    )


EXERCISES = (
    Exercise(
        name="sinusoidal_encoding",
        chapter="02",
        check=check_sinusoidal_encoding,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
