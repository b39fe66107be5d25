"""Round 44: ``head``'s cases and mistakes that only some inputs show: one token (L = 1, where a
.squeeze() drops an axis), scores in the hundreds (where a softmax by hand without the max
overflows), and √d_k rounded to an int (wrong where d_k is no perfect square)."""

from __future__ import annotations

import math

import torch

from ..attention import scaled_dot_product_attention
from .attention_inputs import (
    OVERFLOW_HINT,
    ROUNDED_ROOT_HINT,
    SQUEEZE_ERRORS,
    SQUEEZE_HINT,
    drops_size_one_axes,
    overflows,
    repeat_size_one,
    rounded_root,
)
from .harness import Mistake, randn
from .head_variants import variant

LARGE = 30.0  # w_q and w_k times 30: scores 900 times larger, in the hundreds and beyond


def _reference(x, w_q, w_k, w_v):
    return scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)


def edge_cases() -> list[tuple[torch.Tensor, ...]]:
    """x (L, d_model), w_q, w_k (d_model, d_k), w_v (d_model, d_v): one token (L = 1), then
    four tokens whose scores reach the hundreds (the softmax saturates; torch's does not
    overflow)."""
    g = torch.Generator().manual_seed(44)
    cases = []
    for length, d_model, d_k, d_v, scale in ((1, 6, 4, 3, 1.0), (4, 8, 4, 3, LARGE)):
        w_q, w_k, w_v = (randn(d_model, d, gen=g, scale=d_model**-0.5) for d in (d_k, d_k, d_v))
        cases.append((randn(length, d_model, gen=g), w_q * scale, w_k * scale, w_v))
    return cases


def _shrunk(case: tuple) -> tuple:
    x, w_q, w_k, w_v = case
    return x, w_q / LARGE, w_k / LARGE, w_v


def _one_token_twice(case: tuple) -> tuple | None:
    x, *weights = case
    wide = repeat_size_one(x, (0,))  # the token repeated: each copy's answer is the single one's
    return None if wide is None else (wide, *weights)


def _rounded(x, w_q, w_k, w_v):
    return variant(x, w_q, w_k, w_v, scores_by=lambda s, x, q, v: s / math.isqrt(q.shape[-1]))


def _probe() -> tuple[torch.Tensor, ...]:
    """d_k = 12: its root rounds to 3, unlike the checker's d_k = 2 (1, as no scaling does)."""
    g = torch.Generator().manual_seed(12)
    return (randn(5, 8, gen=g), *(randn(8, d, gen=g, scale=8**-0.5) for d in (12, 12, 3)))


def _global_shift(s: torch.Tensor) -> torch.Tensor:
    """A softmax by hand shifted by the max of the whole (L, L) scores, not each row's."""
    e = (s - s.max()).exp()
    return e / e.sum(dim=-1, keepdim=True)


def _shifted_by_the_global_max(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = _global_shift(q @ k.T / math.sqrt(q.shape[-1]))  # (L, L)
    return weights @ v, weights


def _learner_shifts_by_one_max(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    s = q @ k.T / math.sqrt(k.shape[-1])
    e = torch.exp(s - torch.max(s))  # one max for all the rows
    weights = e / e.sum(dim=1, keepdim=True)
    return weights @ v, weights


def _learner_rounds_the_root(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / int(math.sqrt(k.shape[-1])), dim=-1)
    return weights @ v, weights


def _learner_exps_without_the_max(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    e = (q @ k.T / math.sqrt(q.shape[-1])).exp()
    weights = e / e.sum(dim=-1, keepdim=True)
    return weights @ v, weights


def _learner_squeezes_the_result(x, w_q, w_k, w_v):
    out, weights = _reference(x.unsqueeze(0), w_q, w_k, w_v)  # a batch of one, then
    return out.squeeze(), weights.squeeze()  # meant .squeeze(0)


# Before "no scaling": on the checker's d_k = 2, int(√2) = 1 divides by nothing.
FIRST = (
    Mistake(
        name="√d_k rounded to an int",
        hint=ROUNDED_ROOT_HINT,
        compute=None,
        recognise=rounded_root(_rounded, _probe(), width=lambda case: case[1].shape[1]),
        example=_learner_rounds_the_root,
    ),
    # First too: on the large scores NaN equals NaN, and a catalogued wrong sum can match.
    Mistake(
        name="softmax by hand shifted by the global max",
        hint="You subtracted the max of the WHOLE scores matrix before exp, not each row's: a row "
        "whose scores all lie far below it underflows to 0 / 0 = NaN, as the large scores here "
        "show. Subtract each row's own max, s.max(dim=-1, keepdim=True).values, or use "
        "torch.softmax(scores, dim=-1).",
        compute=_shifted_by_the_global_max,
        example=_learner_shifts_by_one_max,
    ),
    Mistake(
        name="softmax by hand overflows",
        hint=OVERFLOW_HINT,
        compute=None,
        recognise=overflows(_reference, _shrunk),
        example=_learner_exps_without_the_max,
    ),
)

INPUTS = (
    Mistake(
        name=".squeeze() on one token",
        hint=SQUEEZE_HINT,
        compute=None,
        recognise=drops_size_one_axes(_reference, _one_token_twice),
        # The head's inputs are all 2-D: a 0-D or 1-D tensor here comes from a .squeeze().
        error=SQUEEZE_ERRORS,
        example=_learner_squeezes_the_result,
    ),
)
