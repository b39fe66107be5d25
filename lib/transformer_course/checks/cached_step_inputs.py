"""Round 44: ``cached_attention_step``'s case and mistakes that only some inputs show: scores in
the hundreds (where a softmax by hand without the max overflows), √d_head rounded to an int
(wrong where d_head is no perfect square: the checker's first case has d_head 6), and a
.squeeze() of the scores (B, h, 1, t + 1), which drops the heads' or the batch's axis where it
has size 1 (the second case has B = 1, the third h = 1), not only the query's."""

from __future__ import annotations

import math

import torch

from .attention_inputs import (
    OVERFLOW_HINT,
    ROUNDED_ROOT_HINT,
    drops_size_one_axes,
    overflows,
    repeat_size_one,
    rounded_root,
)
from .cached_step_reference import grown, reference, variant
from .cases import randn
from .harness import Mistake

LARGE = 30.0  # q and the keys times 30: scores 900 times larger, in the hundreds and beyond


def _case(b: int, h: int, t: int, d: int, seed: int, scale: float = 1.0) -> tuple:
    """q, k_new, v_new (b, h, 1, d), past_k, past_v (b, h, t, d); q and the keys N(0, 1/√d)
    times ``scale``, so that the scores are of size ``scale``²."""
    g = torch.Generator().manual_seed(seed)
    s = d**-0.25 * scale
    q, k_new, v_new = (
        randn(b, h, 1, d, gen=g, scale=s),
        randn(b, h, 1, d, gen=g, scale=s),
        randn(b, h, 1, d, gen=g),
    )
    return q, k_new, v_new, randn(b, h, t, d, gen=g, scale=s), randn(b, h, t, d, gen=g)


def edge_cases() -> list[tuple]:
    """Scores in the hundreds: (B, h, t, d_head) = (2, 2, 3, 4). The softmax saturates; torch's
    does not overflow."""
    return [_case(2, 2, 3, 4, seed=94, scale=LARGE)]


def _shrunk(case: tuple) -> tuple:
    q, k_new, v_new, past_k, past_v = case
    return q / LARGE, k_new / LARGE, v_new, past_k / LARGE, past_v


def _size_one_twice(case: tuple) -> tuple | None:
    """The case with its batch or heads axis of size 1 repeated: the same answers, twice. (The
    first step, past None, has no such axis in the checker's cases.)"""
    if case[3] is None:
        return None
    wide = tuple(repeat_size_one(t, (0, 1)) for t in case)  # all five share B and h
    return None if wide[0] is None else wide


def _rounded(*case):
    return variant(*case, weights_by=lambda s, d: torch.softmax(s / math.isqrt(d), dim=-1))


def _learner_exps_without_the_max(q, k_new, v_new, past_k, past_v):
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    e = (q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])).exp()  # (B, h, 1, t + 1)
    return (e / e.sum(dim=-1, keepdim=True)) @ values, keys, values


def _learner_rounds_the_root(q, k_new, v_new, past_k, past_v):
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / int(math.sqrt(q.shape[-1])), dim=-1)
    return weights @ values, keys, values


def _learner_squeezes_the_scores(q, k_new, v_new, past_k, past_v):
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    scores = (q @ keys.transpose(-2, -1)).squeeze() / math.sqrt(q.shape[-1])  # meant (B, h, t + 1)
    return torch.softmax(scores, dim=-1).unsqueeze(-2) @ values, keys, values


def _learner_squeezes_then_unsqueezes(q, k_new, v_new, past_k, past_v):
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    weights = torch.softmax((q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])).squeeze(), dim=-1)
    return weights.unsqueeze(2) @ values, keys, values  # the query's axis back, where B > 1


SQUEEZE_HINT = (
    ".squeeze() removed more than the query's axis: the scores q @ keys.transpose(-2, -1) are "
    "(B, h, 1, t + 1), and .squeeze() with no argument drops EVERY axis of size 1, the heads' "
    "where h = 1 and the batch's where B = 1 too. Your step is right where B and h are "
    "larger. Squeeze only the query's axis, .squeeze(-2), or keep it: the softmax over dim=-1 "
    "and weights @ values work on (B, h, 1, t + 1) as it is."
)

# What weights.unsqueeze(2) @ values says on the second case (B = 1, h = 2, t + 1 = 7) where
# .squeeze() took the batch's axis too: (h, t + 1, 1) @ (1, h, t + 1, d_head). The first case
# (B = 2, h = 3) passed, so q @ keysᵀ is right, and a last axis of 1 against the t + 1 rows of
# the values means the weights' positions moved to the rows. Only an error's text reaches a
# Mistake, so the shapes stand in for a re-run with the batch doubled (the test does it).
SCORES_SQUEEZED = r"batch2 tensor to be: \[2, 1\] but got: \[2, 7\]"

# Before the catalogue: on the large scores NaN equals NaN; √6 rounded to 2 matches no other;
# "k not transposed" takes any matmul error whose shapes do not fit.
FIRST = (
    Mistake(
        name="softmax by hand overflows",
        hint=OVERFLOW_HINT,
        compute=None,
        recognise=overflows(reference, _shrunk),
        example=_learner_exps_without_the_max,
    ),
    Mistake(
        name="√d_head rounded to an int",
        hint=ROUNDED_ROOT_HINT.replace("d_k", "d_head"),
        compute=None,
        # d_head 12 on the probe: int(√12) = 3, unlike a hard-coded 2 that fits d_head 4, 5 and 6
        recognise=rounded_root(_rounded, _case(1, 2, 3, 12, seed=12), width=lambda case: case[0].shape[-1]),
        example=_learner_rounds_the_root,
    ),
    Mistake(
        name=".squeeze() on the scores, then unsqueeze(2)",
        hint=SQUEEZE_HINT,
        compute=None,
        error=SCORES_SQUEEZED,
        example=_learner_squeezes_then_unsqueezes,
    ),
)

INPUTS = (
    Mistake(
        name=".squeeze() on the scores",
        hint=SQUEEZE_HINT,
        compute=None,
        recognise=drops_size_one_axes(reference, _size_one_twice),
        example=_learner_squeezes_the_scores,
    ),
)
