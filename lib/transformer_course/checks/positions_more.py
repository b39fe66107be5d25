"""More of ``positions``'s catalogue: the wrong answers met in the seventh audit (and later), each
with what it computes, its hint and a learner-style example.
"""

from __future__ import annotations

import math

import torch

from .harness import Mistake


def interleaved(angle: torch.Tensor) -> torch.Tensor:
    """sin in the even columns, cos in the odd ones, of the (L, d/2) angles given."""
    pe = torch.empty(angle.shape[0], 2 * angle.shape[1], dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


def _pos_and_i(length: int, d_model: int) -> tuple[torch.Tensor, torch.Tensor]:
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    return pos, torch.arange(d_model // 2, dtype=torch.float64)


def _powered_before_dividing(length: int, d_model: int) -> torch.Tensor:
    pos, i = _pos_and_i(length, d_model)
    return interleaved(pos / 10000.0 ** (2 * i) / d_model)  # ** binds before /


def _squared_base(length: int, d_model: int) -> torch.Tensor:
    pos, i = _pos_and_i(length, d_model)
    return interleaved(pos / 10000.0**2 * i / d_model)  # 10000 ** 2, then × i / d_model


def _angles(length: int, d_model: int) -> torch.Tensor:
    pos, i = _pos_and_i(length, d_model)
    return pos / 10000.0 ** (2 * i / d_model)


def _cosines_first(length: int, d_model: int) -> torch.Tensor:
    angle = _angles(length, d_model)
    return torch.cat([torch.cos(angle), torch.sin(angle)], dim=1)


def _positions_scaled(length: int, d_model: int) -> torch.Tensor:
    return interleaved(_angles(length, d_model) / length)


def _stacked_on_the_wrong_axis(length: int, d_model: int) -> torch.Tensor:
    pos, i = _pos_and_i(length, d_model)
    angle = pos / 10000.0 ** (2 * i / d_model)
    return torch.stack([torch.sin(angle), torch.cos(angle)], dim=0).reshape(length, d_model)


def _learner_forgets_the_brackets(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).float().unsqueeze(1)
    two_i = torch.arange(0, d_model, 2).float()
    angle = pos / 10000**two_i / d_model  # meant 10000 ** (two_i / d_model)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


def _learner_writes_the_power_flat(length: int, d_model: int) -> torch.Tensor:
    pe = torch.zeros(length, d_model)
    for pos in range(length):
        for i in range(d_model // 2):
            angle = pos / 10000**2 * i / d_model  # meant pos / 10000 ** (2 * i / d_model)
            pe[pos, 2 * i], pe[pos, 2 * i + 1] = math.sin(angle), math.cos(angle)
    return pe


def _learner_puts_cosines_first(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).float().unsqueeze(1)
    angle = pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)
    return torch.cat([torch.cos(angle), torch.sin(angle)], dim=-1)


def _learner_normalises_the_positions(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).float().unsqueeze(1) / length  # "positions between 0 and 1"
    angle = pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


def _learner_stacks_on_dim_0(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).float().unsqueeze(1)
    angle = pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)
    return torch.stack([angle.sin(), angle.cos()]).view(length, d_model)  # (2, L, d/2)


def _converted(to_degrees: bool):
    """The paper's table with every angle converted to degrees (or, the other way, to radians)."""
    turn = math.degrees if to_degrees else math.radians

    def table(length: int, d_model: int) -> torch.Tensor:
        return interleaved(turn(1.0) * _angles(length, d_model))

    return table


def _learner_turns_the_angles_into_degrees(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).float().unsqueeze(1)
    angle = torch.rad2deg(pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model))
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


def _learner_turns_the_angles_into_radians(length: int, d_model: int) -> torch.Tensor:
    pe = torch.zeros(length, d_model)
    for pos in range(length):
        for i in range(0, d_model, 2):
            angle = math.radians(pos / 10000 ** (i / d_model))  # "sin wants radians"
            pe[pos, i], pe[pos, i + 1] = math.sin(angle), math.cos(angle)
    return pe


_UNITS = (
    "Your angles were converted between degrees and radians (math.degrees / math.radians, "
    "torch.rad2deg / torch.deg2rad, or × 180/π): the angle pos / 10000^(2i/d_model) is "
    "already in radians, the unit torch.sin and math.sin take. Pass it to sin and cos as it is."
)
# Converted angles are up to 180/π times larger: float32 keeps their sines to about 1e-4.
_UNITS_ATOL = 1e-3

_BRACKETS = (
    "The exponent lost its brackets: ** binds tighter than / and *, so 10000 ** 2 * i / d_model "
    "and 10000 ** two_i / d_model are not 10000 ** (2i / d_model). Write "
    "pos / 10000 ** (two_i / d_model), with the brackets."
)

# What a table of angles all about 0 shows; several slips give it (round 48's review).
FLAT_TABLE = (
    "Every angle in your table is (almost) 0: each row is sin 0 = 0, cos 0 = 1. The usual causes: "
    "the exponent lost its brackets (** binds tighter than / and *, so 10000 ** 2 * i / d_model "
    "is 10000² · i / d_model), the fraction is upside down (10000 ** (d_model / two_i) is at "
    "least 10000 for every pair), or the positions are all 0. Write "
    "pos / 10000 ** (two_i / d_model), with pos = torch.arange(length)."
)

# Answers met in the seventh audit: each names what it computes.
MORE_MISTAKES = (
    Mistake(
        name="exponent without brackets, ÷ d_model outside",
        hint=_BRACKETS,
        compute=_powered_before_dividing,
        example=_learner_forgets_the_brackets,
    ),
    Mistake(
        name="exponent without brackets, 10000 ** 2",
        # Every angle about 0: an upside-down fraction or zero positions give the same table.
        hint=FLAT_TABLE,
        compute=_squared_base,
        example=_learner_writes_the_power_flat,
    ),
    Mistake(
        name="cosines then sines",
        hint="You put all the cosines in the first half and all the sines in the second: the "
        "paper interleaves them, sin in the even columns (0, 2, 4, …) and cos in the odd ones: "
        "pe[:, 0::2] = sin, pe[:, 1::2] = cos.",
        compute=_cosines_first,
        example=_learner_puts_cosines_first,
    ),
    Mistake(
        name="positions divided by the length",
        hint="You divided the positions by the length, so they run from 0 to 1: the paper uses "
        "the raw position index 0, 1, 2, … (torch.arange(length)); the frequencies already keep "
        "the angles in range.",
        compute=_positions_scaled,
        example=_learner_normalises_the_positions,
    ),
    Mistake(
        name="sines and cosines stacked on the first axis",
        hint="torch.stack([sin, cos]) (or torch.cat on dim=0) puts the sines before the cosines "
        "along dim=0, (2, L, d/2), and reshaping that to (L, d) "
        "mixes positions: stack on the LAST axis, torch.stack([sin, cos], dim=-1) (L, d/2, 2), "
        "then .reshape(L, d) interleaves each position's sin and cos.",
        compute=_stacked_on_the_wrong_axis,
        example=_learner_stacks_on_dim_0,
    ),
    # met in the thirteenth audit
    Mistake(
        name="angles in degrees",
        hint=_UNITS,
        compute=_converted(to_degrees=True),
        example=_learner_turns_the_angles_into_degrees,
        atol=_UNITS_ATOL,
    ),
    Mistake(
        name="angles turned into radians",
        hint=_UNITS,
        compute=_converted(to_degrees=False),
        example=_learner_turns_the_angles_into_radians,
        atol=_UNITS_ATOL,
    ),
)


# --- Round 45b: the table scaled as the token embeddings are ---


def _learner_scales_the_table(length: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(length).float().unsqueeze(1)
    two_i = torch.arange(0, d_model, 2).float()
    angle = pos / 10000 ** (two_i / d_model)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe * math.sqrt(d_model)  # the embeddings' √d_model, put on the positions


def _table_times_a_number(fn, case: tuple, got: object) -> bool:
    """got = c · the right table for one number c ≠ 1 (√d_model, d_model, …), by least squares."""
    want = interleaved(_angles(*case))
    if not isinstance(got, torch.Tensor) or got.shape != want.shape or not got.is_floating_point():
        return False
    got = got.detach().double()
    c = float((got * want).sum() / (want * want).sum())
    if not math.isfinite(c) or abs(c - 1) < 1e-3 or c < 1e-6:  # 0: never filled; < 0: signs, not a scale
        return False
    return torch.allclose(got, c * want, atol=1e-4 * max(1.0, abs(c)))


ROUND_45B = (
    Mistake(
        name="table times a number",
        hint="Your table is the sinusoidal one times one number (√d_model?): that scale belongs to "
        "the token embeddings, embedding(ids) * √d_model, before the positions are added. The "
        "position table itself holds plain sines and cosines, between -1 and 1.",
        compute=None,
        recognise=_table_times_a_number,
        example=_learner_scales_the_table,
    ),
)
