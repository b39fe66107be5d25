"""More of ``nucleus``'s catalogue, met in round 50's review: the ranked probabilities put back
with a row index that does not pair with the V ids (torch.arange(B) without [:, None], or
``out[:, order]``), top-p read as a fixed share of the vocabulary, and the first row's nucleus
given to every row.

What a mistake computes is the (B, V) output it gives on the checker's ``(probs, top_p)``.
"""

from __future__ import annotations

import math

import torch

from ..sampling import keep_top_p
from . import nucleus_learners as learner
from .describe import same
from .harness import Mistake

_ATOL = 1e-5  # check_function's default, which keep_top_p's check uses


def _nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    return keep_top_p(probs.double(), top_p)  # (B, V), float64


def _one_later_row_for_all(fn, case, got) -> bool:
    """Every row of the output is one later row's nucleus (``out[:, order] = ranked``: each
    row's order written into every row, the last write winning)."""
    probs, top_p = case
    want = _nucleus(probs, top_p)
    return any(same(got, want[r : r + 1].expand_as(want), _ATOL) for r in range(1, want.shape[0]))


def _first_rows_order(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Each row's kept probabilities, in ranked order, laid out at row 0's token ids."""
    ranked, order = probs.double().sort(dim=-1, descending=True)
    kept = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= top_p, 0.0)
    out = torch.zeros_like(kept).scatter(-1, order[:1].expand_as(order), kept)
    return out / out.sum(dim=-1, keepdim=True)


def _top_share(probs: torch.Tensor, top_p: float, count) -> torch.Tensor:
    """The ``count(top_p · V)`` largest probabilities of each row, renormalised, (B, V)."""
    k = min(max(1, count(top_p * probs.shape[-1])), probs.shape[-1])
    top = probs.double().topk(k, dim=-1)
    out = torch.zeros_like(probs, dtype=torch.float64).scatter(-1, top.indices, top.values)
    return out / out.sum(dim=-1, keepdim=True)


def _fixed_share(fn, case, got) -> bool:
    """The same number of tokens in every row, top_p · V rounded down, to nearest or up."""
    probs, top_p = case
    return any(same(got, _top_share(probs, top_p, count), _ATOL) for count in (int, round, math.ceil))


_ROW_INDEX = (
    "Your row index does not pair with each of the V token ids: out[rows, order] needs rows of "
    "shape (B, 1), torch.arange(B)[:, None], to broadcast against order (B, V) (torch.arange(B) "
    "alone, (B,), does not; out[:, order] writes every row's order into every row). Or let "
    "scatter pair them: torch.zeros_like(probs).scatter(-1, order, ranked)."
)

ROUND_50 = (
    Mistake(
        name="torch.arange(B) without [:, None]",
        hint=_ROW_INDEX,
        compute=None,
        error=r"indexing tensors could not be broadcast together with shapes \[(\d+)\], \[\1, \d+\]",
        example=learner.rows_indexed_without_an_axis,
    ),
    Mistake(
        name="out[:, order], every row's order on every row",
        hint=_ROW_INDEX,
        compute=None,
        recognise=_one_later_row_for_all,
        example=learner.every_rows_order_on_every_row,
    ),
    Mistake(
        name="out[:, order[0]], the first row's order on every row",
        hint=_ROW_INDEX,
        compute=_first_rows_order,
        example=learner.first_rows_order_on_every_row,
    ),
    Mistake(
        name="top-p as a fixed share of the tokens",
        hint="You kept a fixed share of the tokens (top_p × V) in every row: the nucleus is the "
        "fewest likeliest tokens whose probabilities add up to top_p, so how many it keeps "
        "depends on the row. Sort each row, add up its probabilities (cumsum) and keep the tokens "
        "until the sum reaches top_p.",
        compute=None,
        recognise=_fixed_share,
        example=learner.keeps_a_share_of_the_tokens,
    ),
    Mistake(
        name="the first row's nucleus for every row",
        hint="Every row of your output is the FIRST row's nucleus (probs[0] sorted, expanded to "
        "the batch): each row has its own probabilities and its own nucleus. Sort, cumsum and "
        "mask along dim=-1 on the whole (B, V) batch.",
        compute=lambda probs, top_p: _nucleus(probs, top_p)[:1].expand(probs.shape),
        example=learner.first_rows_nucleus_for_all,
    ),
)
