"""More of ``gpt_forward``'s catalogue, met in round 50's review (finding 11): the position rows
taken from the END of the table, ``parts.positions.weight[-L:]``, and one position per story,
``parts.positions(torch.arange(B))[:, None]``, added to all of that story's tokens.
"""

from __future__ import annotations

import math

import torch

from . import gpt_forward_learners as learner
from .gpt_parts import CASE_MAX_LEN
from .harness import Mistake


def _with_positions(parts, ids, rows: torch.Tensor) -> torch.Tensor:
    """The right forward pass, but with ``rows`` added as the positions: (L, d) or (B, 1, d)."""
    length = ids.shape[1]
    x = parts.token.weight[ids] * math.sqrt(parts.token.embedding_dim) + rows  # (B, L, d)
    sees = torch.ones(length, length, dtype=torch.bool).tril()  # built by hand, as gpt_parts does
    for block in parts.blocks:
        x = block(x, sees)
    return parts.norm(x) @ parts.token.weight.T  # (B, L, V)


def _last_rows(parts, ids):
    """weight[-L:]: the positions max_len - L … max_len - 1."""
    return _with_positions(parts, ids, parts.positions.weight[-ids.shape[1] :])


def _one_per_story(parts, ids):
    """Story b's tokens all get position b's vector, (B, 1, d)."""
    return _with_positions(parts, ids, parts.positions.weight[: ids.shape[0], None])


ROUND_50B = (
    Mistake(
        name="the last rows of the position table",
        hint="You took the LAST L rows of the position table, parts.positions.weight[-L:], the "
        f"positions max_len - L … max_len - 1 (max_len is {CASE_MAX_LEN} here): a story's first "
        "token is at position 0. Take the first L rows, parts.positions.weight[:L], or look them "
        "up, parts.positions(torch.arange(L)).",
        compute=_last_rows,
        example=learner.takes_the_last_position_rows,
    ),
    Mistake(
        name="one position per story",
        hint="You looked the positions up with torch.arange(B), one per STORY, and added story b's "
        "vector to all of its tokens: every token of a story then has the same position. The "
        "positions are those of the tokens within a story, 0 … L-1 with L = ids.shape[1]: "
        "parts.positions(torch.arange(L)), (L, d_model), which broadcasts over the batch.",
        compute=_one_per_story,
        example=learner.numbers_the_stories,
    ),
)
