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
from . import asked_for
from . import positions_learners as learner  # noqa: F401 (the examples of positions_slips)
from .built_ins import note_built_ins
from .harness import Exercise, Mistake, Result, check_function
from .positions_more import MORE_MISTAKES, ROUND_45B
from .positions_round48 import OVER_LENGTH, ROUND_48
from .positions_round50 import EXP_WITHOUT_MINUS, ROUND_50
from .positions_slips import SLIP_MISTAKES
from .stale import learner_check

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
    length,
    d_model,
    *,
    swap=False,
    exponent=lambda i, d: 2 * i / d,
    start=0,
    halves=False,
    per_column=False,
    base=10000,
    multiply=False,
):
    """A learner's encoding with one switch per catalogued mistake (all off: correct)."""
    pos = torch.arange(start, start + length).float()[:, None]
    i = torch.arange(d_model // 2).float()
    angle = pos * base ** exponent(i, d_model) if multiply else pos / base ** exponent(i, d_model)
    even, odd = {True: (torch.cos, torch.sin), None: (torch.sin, torch.sin)}.get(swap, (torch.sin, torch.cos))
    even, odd = even(angle), odd(angle)
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


def _learner_counts_the_2_twice(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).float().unsqueeze(1)
    two_i = torch.arange(0, d_model, 2).float()  # already 2i …
    angle = pos / 10000 ** (2 * two_i / d_model)  # … and doubled again
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


def _learner_divides_whole_numbers(length: int, d_model: int) -> torch.Tensor:
    pe = torch.zeros(length, d_model)
    for pos in range(length):
        for i in range(0, d_model, 2):
            angle = pos / 10000 ** (i // d_model)  # // rounds 2i/d_model down to 0
            pe[pos, i], pe[pos, i + 1] = math.sin(angle), math.cos(angle)
    return pe


def _learner_pairs_the_other_way(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).float().unsqueeze(0)  # (1, L): positions along the columns
    freq = 1 / 10000 ** (torch.arange(0, d_model, 2).float() / d_model).unsqueeze(1)  # (d/2, 1)
    angle = freq * pos  # (d/2, L): row i holds frequency i at every position
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)  # fits only when L = d/2
    return pe


def _learner_forgets_the_outer_product(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).float()  # (L,), not (L, 1)
    angle = pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)  # elementwise: (L,)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)  # one row, copied to every row
    return pe


ALTERNATIVES = {
    "lib's sinusoidal_encoding": sinusoidal_encoding,
    "stack and reshape": by_hand,
    "one entry at a time": _one_entry_at_a_time,
    "exp and log, in float64": _through_exp_and_log,
    "cos as a shifted sin, float64": learner.cos_as_shifted_sin,
}


# --- The checker's side: reference, test cases, the catalogue of mistakes ---


def _sinusoid(
    length: int,
    d_model: int,
    *,
    exponent=None,
    swap: bool = False,
    start: int = 0,
    halves: bool = False,
    base: float = 10000.0,
    angle_of=None,
) -> torch.Tensor:
    """The paper's table and its usual wrong variants, in float64 (L, d).

    angle_of(pos (L, 1), frequency (d/2,)) → (L, d/2): how position and frequency are paired.
    """
    pos = torch.arange(start, start + length, dtype=torch.float64)[:, None]
    i = torch.arange(d_model // 2, dtype=torch.float64)
    power = (2 * i / d_model) if exponent is None else exponent(i, d_model)
    frequency = 1.0 / base**power
    angle = pos * frequency if angle_of is None else angle_of(pos, frequency)
    first, second = {True: (torch.cos, torch.sin), None: (torch.sin, torch.sin)}.get(
        swap, (torch.sin, torch.cos)
    )
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
    OVER_LENGTH,  # equals the 2 counted twice where length = d_model / 2: confirmed elsewhere
    Mistake(
        name="the 2 counted twice",
        hint="The 2 is counted twice: arange(0, d_model, 2) already gives 2i, so 2 * that / d_model "
        "is 10000^(4i/d_model) and the waves slow down twice as fast. Use the pair index 2i once.",
        compute=lambda n, d: _sinusoid(n, d, exponent=lambda i, dm: 4 * i / dm),
        example=_learner_counts_the_2_twice,
    ),
    Mistake(
        name="base 1000",
        hint="The base is 10000, not 1000: sin(pos / 10000^(2i/d_model)).",
        compute=lambda n, d: _sinusoid(n, d, base=1000.0),
        example=partial(by_hand, base=1000),
    ),
    Mistake(
        name="base e",
        hint="You used e as the base (torch.exp(2i/d_model)); the paper's base is 10000: "
        "10000 ** (2i/d_model), or torch.exp(2i * math.log(10000) / d_model).",
        compute=lambda n, d: _sinusoid(n, d, base=math.e),
        example=partial(by_hand, base=math.e),
    ),
    Mistake(
        name="multiplied by 10000^(2i/d)",
        hint="You multiplied the position by 10000^(2i/d_model); divide by it: the angle is "
        "pos / 10000^(2i/d_model), so the waves get SLOWER as i grows.",
        compute=lambda n, d: _sinusoid(n, d, exponent=lambda i, dm: -2 * i / dm),
        example=partial(by_hand, multiply=True),
        # angles up to thousands of radians, whose sine float32 gets only to about 5e-4
        # (written as exp(2i·ln 10000 / d)); every other answer is about 1 away
        atol=1e-2,
    ),
    Mistake(
        name="positions and frequencies paired the other way",
        hint="Positions and frequencies are paired the wrong way round: row p must hold position p "
        "at every frequency, angle[p, i] = p / 10000^(2i/d_model). Build the table as "
        "pos[:, None] / 10000 ** (two_i[None, :] / d_model), shape (length, d_model/2).",
        compute=lambda n, d: _sinusoid(n, d, angle_of=lambda pos, f: (f[:, None] * pos.T)[:n]),
        example=_learner_pairs_the_other_way,
    ),
    Mistake(
        name="no outer product",
        hint="Every row of your table is the same: pos (L,) times the frequencies (d/2,) multiplies "
        "them entry by entry. Give the positions a column axis, pos[:, None] (L, 1), so that "
        "broadcasting pairs every position with every frequency: (L, d/2).",
        compute=lambda n, d: _sinusoid(n, d, angle_of=lambda pos, f: (pos[:, 0] * f).expand(n, -1)),
        example=_learner_forgets_the_outer_product,
    ),
    Mistake(
        name="exponent 2i",
        hint="The exponent is missing the division by d_model: 10000^(2i) is astronomically large, "
        "so every pair after the first is a flat line. Use 10000^(2i/d_model).",
        compute=lambda n, d: _sinusoid(n, d, exponent=lambda i, dm: 2 * i),
        example=partial(by_hand, exponent=lambda i, d: 2 * i),
    ),
    Mistake(
        name="integer division",
        hint="Every pair has the same frequency as the first: 2i // d_model rounds down to 0, so "
        "10000^0 = 1 everywhere. Use true division, 2 * i / d_model.",
        compute=lambda n, d: _sinusoid(n, d, exponent=lambda i, dm: 0 * i),
        example=_learner_divides_whole_numbers,
    ),
    Mistake(
        name="cos at (2i+1)/d_model",
        hint="Both members of a pair share one frequency: column 2i+1 (cos) uses the same "
        "2i/d_model as column 2i (sin), not (2i+1)/d_model.",
        compute=_column_index,
        example=partial(by_hand, per_column=True),
    ),
    Mistake(
        name="no cosines",
        hint="Your odd dimensions hold sines too: the odd ones (1, 3, 5, …) take the COSINE of the "
        "same angle, pe[:, 1::2] = torch.cos(angle).",
        compute=lambda n, d: _sinusoid(n, d, swap=None),
        example=partial(by_hand, swap=None),
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


MISTAKES += MORE_MISTAKES  # met in the seventh audit: in positions_more
MISTAKES += SLIP_MISTAKES  # met in round 41's battery: in positions_slips
MISTAKES += ROUND_45B  # the table scaled by a number: in positions_more
MISTAKES += ROUND_48  # the pair index divided by the length: positions_round48
MISTAKES = (EXP_WITHOUT_MINUS, *MISTAKES, *ROUND_50)  # round 50: positions_round50


@learner_check
def check_sinusoidal_encoding(learner_fn: Callable) -> Result:
    """Exercise 02: ``fn(length, d_model) → (length, d_model)``, the paper's encoding (d_model even)."""
    # The first case has length = d_model / 2, so that the mistakes that only fit that shape
    # (positions and frequencies paired the wrong way) run there and can be named.
    # The last repeats a length with another d_model, so a table cached by length alone shows (its
    # (50, 4), not a (4, 8) the notebook-sizes mistake would claim as chapter 02's d_model).
    cases = [(4, 8), (6, 8), (12, 16), (50, 4), (50, 8)]
    # The verdicts name the learner's my_sinusoidal_encoding (harness: own_name), not lib's.
    result = check_function(
        learner_fn, reference, cases, name="sinusoidal_encoding", mistakes=MISTAKES, atol=1e-4
    )
    return note_built_ins(result, learner_fn, cases, asked_for.SINUSOIDAL)


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
