"""More of exercise 04b's catalogue (``head``), met in round 48's review: the weights multiplied
by v entry by entry, weights * v, where the output is the matrix product weights @ v. Named only
where the product that failed took v AND the weights (round 48e: review R9 found (q * v) @ weights
told it, a product of v with the queries).
"""

from __future__ import annotations

import math

import torch

from .failure import Failure, failed_in, holds, took
from .harness import Mistake

_MULS = ("mul", "mul_", "multiply", "__mul__", "__rmul__", "__imul__")


def _weighs(operand: object) -> bool:
    """``operand`` looks like attention weights: no negative entry, and each row sums to 1 (a
    softmax over the keys), or each column (the weights transposed, or softmaxed over dim=0)."""
    if not isinstance(operand, torch.Tensor) or not operand.is_floating_point() or operand.dim() < 2:
        return False
    w = operand.detach().double()
    return bool(w.min() >= 0) and any(
        torch.allclose(w.sum(dim), torch.ones((), dtype=w.dtype), atol=1e-4) for dim in (-1, -2)
    )


def _weights_times_v(failure: Failure, case: tuple) -> bool:
    """An entry-by-entry product failed that took the values x @ w_v and, as its other operand,
    the weights: weights (L, L) * v (L, d_v); not q * v, whose error reads the same."""
    x, _, _, w_v = case
    v = x @ w_v
    others = [op for op in failure.operands if not holds(op, v)]
    return failed_in(failure, *_MULS) and took(failure, v) and any(_weighs(op) for op in others)


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
