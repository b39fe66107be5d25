"""More of exercise 04b's catalogue (``head``), met in round 48's review: the weights multiplied
by v entry by entry, weights * v, where the output is the matrix product weights @ v.
"""

from __future__ import annotations

import math

import torch

from .failure import Failure, failed_in, took
from .harness import Mistake

_MULS = ("mul", "mul_", "multiply", "__mul__", "__rmul__", "__imul__")


def _weights_times_v(failure: Failure, case: tuple) -> bool:
    """An entry-by-entry product failed that took the values x @ w_v: weights (L, L) * v (L, d_v)."""
    x, _, _, w_v = case
    return failed_in(failure, *_MULS) and took(failure, x @ w_v)


def _learner_multiplies_entry_by_entry(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / math.sqrt(k.shape[-1]), dim=-1)
    return weights * v, weights  # meant weights @ v


# No case has L = d_v > 1, where the shapes would broadcast: the error names it on case 1.
_HINT = (
    "You multiplied the weights by v entry by entry, weights * v: the output is the matrix "
    "product weights @ v, (L, L) @ (L, d_v) → (L, d_v), whose row i is the SUM of the rows of v, "
    "each weighed by how much query i attends to that key."
)

ROUND_48 = (
    Mistake(
        name="weights * v",
        hint=_HINT,
        compute=None,
        error=r"must match the size of tensor",
        failed_at=_weights_times_v,
        example=_learner_multiplies_entry_by_entry,
    ),
)
