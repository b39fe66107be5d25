"""Recognisers for attention answers that only some inputs give away (round 44), shared by the
head and multi-head exercises:

- a softmax written by hand without the max subtracted: right on ordinary scores, NaN where
  the scores reach the hundreds (exp overflows);
- √d_k rounded to an int (int(math.sqrt(d_k)), math.isqrt): right wherever d_k is a square;
- a .squeeze() that drops an axis of size 1 (one token, a batch of one).

Each recogniser re-runs the learner's function on a second input that tells the mistake from
others, so a hint names only what the learner wrote.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .cases import fresh
from .describe import same

OVERFLOW_HINT = (
    "exp of large scores overflows: subtract each row's max first. Your attention is right on "
    "ordinary scores but gives NaN (or inf) where the scores reach the hundreds: exp(100) is "
    "already too big for float32, and inf / inf = NaN. Use torch.softmax(scores, dim=-1), or "
    "subtract each row's max before exp: (s - s.max(dim=-1, keepdim=True).values).exp()."
)
ROUNDED_ROOT_HINT = (
    "√d_k rounded to an int: int(math.sqrt(d_k)) (or math.isqrt) is right only where d_k is a "
    "perfect square (4, 9, 16); for d_k = 12 it divides by 3, not 3.46. Keep the root a float: "
    "math.sqrt(d_k), or d_k ** 0.5."
)
SQUEEZE_HINT = (
    ".squeeze() removed an axis of size 1: your answer is right for several tokens (and a "
    "batch of several) but not for one, because .squeeze() with no argument drops EVERY axis of "
    "size 1, the single token's or the batch's too. Index the axis you mean ([0]), or squeeze "
    "only it: .squeeze(0)."
)
# What a product or transpose says of a tensor squeezed down to 0-D or 1-D.
SQUEEZE_ERRORS = (
    r"need to be at least 1D, but they are 0D|Dimension out of range \(expected to be in range of "
    r"\[-1, 0\]|only supported on matrices or batches of matrices\. Got [01]-D tensor"
)


def _tensors(value: object) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, tuple | list):
        return [t for item in value for t in _tensors(item)]
    return []


def _right_on(fn: Callable, reference: Callable, case: tuple, atol: float = 1e-4) -> bool:
    return same(fn(*fresh(case)), reference(*fresh(case)), atol)


def overflows(reference: Callable, shrink: Callable[[tuple], tuple]) -> Callable:
    """A recogniser: the learner's result has NaN or inf where the reference's has none, and
    the learner is right on ``shrink(case)``, the same input with ordinary scores."""

    def recognise(fn, case, got) -> bool:
        mine = _tensors(got)
        broken = any(t.is_floating_point() and not bool(t.isfinite().all()) for t in mine)
        finite = all(bool(t.isfinite().all()) for t in _tensors(reference(*fresh(case))))
        return broken and finite and _right_on(fn, reference, shrink(case))

    return recognise


def rounded_root(rounded: Callable, probe: tuple, width: Callable[[tuple], int]) -> Callable:
    """A recogniser: got is ``rounded(*case)`` (the scores divided by int(√d)) where ``width``
    (d_k or d_head) is no perfect square, and the learner computes the same on ``probe``, whose
    width's root rounds otherwise than any hard-coded divisor the checker's cases fit."""

    def recognise(fn, case, got) -> bool:
        if math.isqrt(width(case)) ** 2 == width(case):
            return False
        return same(got, rounded(*fresh(case)), 1e-4) and same(fn(*fresh(probe)), rounded(*probe), 1e-4)

    return recognise


def drops_size_one_axes(reference: Callable, widen: Callable[[tuple], tuple | None]) -> Callable:
    """A recogniser: the case has an axis of size 1, and the learner is right on ``widen(case)``,
    the same input with that axis repeated (a token or a batch item twice), whose answer holds
    the same numbers: only the size-1 axis tells them apart."""

    def recognise(fn, case, got) -> bool:
        wide = widen(case)
        return wide is not None and _right_on(fn, reference, wide)

    return recognise


def repeat_size_one(x: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor | None:
    """x with each of ``axes`` that has size 1 repeated twice (None: none has size 1)."""
    reps = [2 if (i in axes or i - x.dim() in axes) and n == 1 else 1 for i, n in enumerate(x.shape)]
    return None if reps.count(2) == 0 else x.repeat(*reps)
