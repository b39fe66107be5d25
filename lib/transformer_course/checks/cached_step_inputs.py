"""Round 44: ``cached_attention_step``'s case and mistakes that only some inputs show: scores in
the hundreds (where a softmax by hand without the max overflows), √d_head rounded to an int
(wrong where d_head is no perfect square: the checker's first case has d_head 6), and a
.squeeze() of the scores (B, h, 1, t + 1), which drops the heads' or the batch's axis where it
has size 1 (the second case has B = 1, the third h = 1), not only the query's.

Round 45: a .squeeze() that drops the keys' axis on the first step only (t = 0), one before an
einsum, the query's axis dropped before a matmul (from q, the scores or the weights: the same
error), and the new token's value or the cached values gathered alone, each named by what it
raises or (the first) by a re-run with squeezes counted."""

from __future__ import annotations

import math

import torch
from torch.overrides import TorchFunctionMode

from .attention_inputs import (
    OVERFLOW_HINT,
    ROUNDED_ROOT_HINT,
    drops_size_one_axes,
    overflows,
    repeat_size_one,
    rounded_root,
)
from .cached_step_reference import grown, reference, variant
from .cases import fresh, randn
from .describe import same
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


def _learner_squeezes_then_multiplies(q, k_new, v_new, past_k, past_v):
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    weights = torch.softmax((q @ keys.transpose(-2, -1)).squeeze(2) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ values, keys, values  # (B, h, t + 1) @ (B, h, t + 1, d_head): no query axis


def _learner_squeezes_the_last_axis(q, k_new, v_new, past_k, past_v):
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    # (B, h, 1, t + 1) as it was where t > 0; (B, h, 1, 1) → (B, h, 1) on the first step
    scores = (q @ keys.transpose(-2, -1)).squeeze(-1) / math.sqrt(q.shape[-1])
    return torch.softmax(scores, dim=-1) @ values, keys, values


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

# Round 45: the query's axis of size 1 dropped, from q (B, h, d_head) before q @ keysᵀ, or from
# the scores or weights (B, h, t + 1) before weights @ values: matmul takes the last two axes,
# (h, ·), as the matrix and (B,) as the batch, against the keys' or values' batch (B, h). On the
# first case (B = 2, h = 3) both read 2 against 3 at dimension 1, word for word: only the text
# reaches a Mistake, so the hint names both places. A missing or wrong transpose of the keys
# fails with other sizes: [6, 6] against [6, 5] (q @ keys), 3 against 5 (keys.T), 3 against 6
# (transpose(1, 3)).
QUERY_AXIS_DROPPED = (
    r"The size of tensor a \(2\) must match the size of tensor b \(3\) at non-singleton dimension 1"
)
QUERY_AXIS_HINT = (
    "The query's axis of size 1 was dropped before a matmul: .squeeze(2), .squeeze() or [:, :, 0] "
    "on q leaves q (B, h, d_head), on the scores or weights leaves weights (B, h, t + 1). The "
    "next matmul, q @ keys.transpose(-2, -1) or weights @ values, then reads their last two "
    "axes, (h, ·), as one matrix per batch item, which no longer lines up with the 4-D keys and "
    "values (B, h, t + 1, d_head). Keep that axis from start to end: q (B, h, 1, d_head), the "
    "scores and weights (B, h, 1, t + 1); the matmuls and the softmax over dim=-1 need no "
    "squeeze. (After .squeeze(2) or [:, :, 0], .unsqueeze(-2) puts it back before that matmul; "
    ".squeeze() with no argument also drops the batch's axis where B = 1 and the heads' where "
    "h = 1: keep the axis instead.)"
)
FIRST_STEP_HINT = (
    "Your step is right once the cache holds positions, but not on the first step (an empty "
    "cache, t = 0): there a .squeeze() in it removed one axis more. The scores q @ "
    "keys.transpose(-2, -1) are then (B, h, 1, 1), and .squeeze(-1) (or .squeeze() with no "
    "argument) drops the KEYS' axis too, of size 1 only on that step. Squeeze only the query's "
    "axis, .squeeze(-2), or keep (B, h, 1, t + 1) as it is."
)


# Round 45: weights over the t + 1 positions of the grown cache, (B, h, 1, t + 1), meeting one
# position's values, v_new (B, h, 1, d_head): on the first case, batched B · h = 6 times, a row
# of 5 weights against 1 row of values. (q @ keys without the transpose reads [6, 6] against
# [6, 5]: its inner size is d_head.)
NEW_VALUE_ONLY = r"batch2 tensor to be: \[6, 5\] but got: \[6, 1\]"
NEW_VALUE_ONLY_HINT = (
    "Your weights cover the t + 1 positions of the grown cache, (B, h, 1, t + 1), but what they "
    "gathered holds one position: v_new alone. The token gathers the values of every position "
    "it attends to: out = weights @ values, with values = torch.cat([past_v, v_new], dim=2), "
    "(B, h, t + 1, d_head), the cache you return."
)


def _learner_gathers_the_new_value(q, k_new, v_new, past_k, past_v):
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v_new, keys, values  # the cache's keys, the new token's value only


# Review of round 45: the same weights (B, h, 1, t + 1) meeting the t cached values only,
# past_v (B, h, t, d_head): on the first case (t = 4) 5 weights against 4 rows, in matmul's words
# and in einsum's (its subscript for the positions has 4 in the values, 5 seen first in the
# weights). Neither transpose slip reads so: q @ past_k is [6, 6] against [6, 4].
CACHE_ONLY = (
    r"batch2 tensor to be: \[6, 5\] but got: \[6, 4\]"
    r"|subscript \w+ has size 4 for operand 1 which does not broadcast with previously seen size 5"
)
CACHE_ONLY_HINT = (
    "Your weights cover the t + 1 positions of the grown cache, (B, h, 1, t + 1), but what they "
    "gathered holds the t cached positions only, without the new token's: past_v (or past_k) "
    "where the grown values belong. Gather from the grown cache: out = weights @ values, with "
    "values = torch.cat([past_v, v_new], dim=2), (B, h, t + 1, d_head), the cache you return."
)


def _learner_gathers_the_cache_only(q, k_new, v_new, past_k, past_v):
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ past_v, keys, values  # the cached values, v_new not among them


class _Squeezes(TorchFunctionMode):
    """While on, counts the axes that every .squeeze() (torch.squeeze, Tensor.squeeze, squeeze_) removes."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        before = args[0].dim() if args and isinstance(args[0], torch.Tensor) else None
        out = func(*args, **(kwargs or {}))
        if getattr(func, "__name__", "") in ("squeeze", "squeeze_") and before is not None:
            self.dropped += before - out.dim() if isinstance(out, torch.Tensor) else 0
        return out


def _squeezed(fn, case: tuple) -> tuple[object, int]:
    """fn's answer on a fresh copy of ``case``, and how many axes its squeezes removed."""
    with _Squeezes() as seen:
        got = fn(*fresh(case))
    return got, seen.dropped


def _squeezed_on_the_first_step(fn, case, got) -> bool:
    """On the first step (past None), the learner's squeezes remove more axes than on the same
    token with one position cached, its key and value twice (``probe``: out is v_new on both),
    and the learner is right there: the keys' axis of size 1 is what tells them apart."""
    q, k_new, v_new, past_k, _ = case
    if past_k is None:
        probe = (q, k_new, v_new, k_new, v_new)  # (B, h, 1, d_head) each: t = 1
        (_, first), (mine, twice) = _squeezed(fn, case), _squeezed(fn, probe)
        return first > twice and same(mine, reference(*fresh(probe)), 1e-5)
    return False


# Before the catalogue: on the large scores NaN equals NaN; √6 rounded to 2 matches no other;
# the errors below were named before "k not transposed" (now named by a re-run: cached_step_transposed).
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
    Mistake(
        name="the new token's value only",
        hint=NEW_VALUE_ONLY_HINT,
        compute=None,
        error=NEW_VALUE_ONLY,
        example=_learner_gathers_the_new_value,
    ),
    Mistake(
        name="the cached values without the new token's",
        hint=CACHE_ONLY_HINT,
        compute=None,
        error=CACHE_ONLY,
        example=_learner_gathers_the_cache_only,
    ),
    Mistake(
        name="the query's axis dropped before a matmul",
        hint=QUERY_AXIS_HINT,
        compute=None,
        error=QUERY_AXIS_DROPPED,
        example=_learner_squeezes_then_multiplies,
    ),
    Mistake(
        name=".squeeze() that drops the keys' axis on the first step",
        hint=FIRST_STEP_HINT,
        compute=None,
        recognise=_squeezed_on_the_first_step,
        example=_learner_squeezes_the_last_axis,
    ),
)

# einsum's words for an operand with fewer axes than its subscripts: every tensor of the step
# is 4-D, so one with fewer lost an axis on the way, a .squeeze() the usual cause.
EINSUM_AXES_LOST = (
    r"einsum\(\): the number of subscripts in the equation \((4\) does not match the number of "
    r"dimensions \([0-3]|3\) does not match the number of dimensions \([0-2])\)"
)
EINSUM_SQUEEZE_HINT = (
    "An operand of your einsum has fewer axes than its subscripts: a .squeeze() took more than "
    "you meant. With no argument it drops EVERY axis of size 1: the query's, but also the "
    "batch's where B = 1, the heads' where h = 1, and the keys' on the first step (t = 0). "
    "Squeeze only the query's axis, .squeeze(-2), or write the einsum on the 4-D tensors as "
    "they are: 'bhqd,bhkd->bhqk', then 'bhqk,bhkd->bhqd'."
)


def _learner_squeezes_for_einsum(q, k_new, v_new, past_k, past_v):
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    scores = torch.einsum("bhd,bhkd->bhk", q.squeeze(), keys) / math.sqrt(
        q.shape[-1]
    )  # q (B, h, d_head), they think
    return torch.einsum("bhk,bhkd->bhd", torch.softmax(scores, dim=-1), values).unsqueeze(2), keys, values


INPUTS = (
    Mistake(
        name=".squeeze() before an einsum",
        hint=EINSUM_SQUEEZE_HINT,
        compute=None,
        error=EINSUM_AXES_LOST,
        example=_learner_squeezes_for_einsum,
    ),
    Mistake(
        name=".squeeze() on the scores",
        hint=SQUEEZE_HINT,
        compute=None,
        recognise=drops_size_one_axes(reference, _size_one_twice),
        example=_learner_squeezes_the_scores,
    ),
)
