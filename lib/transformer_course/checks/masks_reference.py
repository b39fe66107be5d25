"""Exercise 06's reference: attention weights under a causal and a padding mask (or under a
wrong mask, for the catalogue), the test cases, and the rows no answer can be judged on (a query
that may see nothing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

import torch

from .records import Mistake


def reference(
    scores, ids, pad_id, *, allowed=None, after_softmax=False, inverted=False, fill=None, dim=-1, softmax=True
):
    """softmax of scores (B, L, L) with ``allowed(ids, pad_id)`` (B, L, L) bool: True = may attend.

    dim: the axis of the softmax; softmax=False: the masked scores themselves."""
    keep = (allowed or correct_mask)(ids, pad_id)
    if after_softmax:
        return torch.softmax(scores, dim=-1).masked_fill(~keep, 0.0)
    blocked = keep if inverted else ~keep
    masked = scores.masked_fill(blocked, float("-inf") if fill is None else fill)
    return torch.softmax(masked, dim=dim) if softmax else masked


def correct_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    return lower_triangle(ids.shape[1]) & real_keys(ids, pad_id)


def ignoring_empty_rows(fn: Callable) -> Callable:
    """``fn`` with the rows of queries that may see nothing set to 0 (they have no right answer)."""

    def wrapped(scores, ids, pad_id):
        empty = ~correct_mask(ids, pad_id).any(dim=-1, keepdim=True)  # (B, L, 1), before fn may change ids
        out = fn(scores, ids, pad_id)
        if isinstance(out, torch.Tensor) and out.shape == scores.shape:
            out = out.masked_fill(empty, 0.0)
        elif isinstance(out, tuple | list):  # (weights, mask): the weights can still be named
            out = type(out)(
                item.masked_fill(empty, 0.0)
                if isinstance(item, torch.Tensor) and item.shape == scores.shape and item.is_floating_point()
                else item
                for item in out
            )
        return out

    wrapped.__wrapped__ = fn  # the learner's code, for the harness's warnings
    return wrapped


def cases() -> list[tuple]:
    # Padding in the middle first, then left padding (its first queries see nothing: not
    # compared), then right padding. With right padding only, a padding mask on the queries
    # and one on both axes give the same wrong answer, and each looks right for real tokens.
    # Last, a batch whose padding id is not 0.
    g = torch.Generator().manual_seed(6)
    middle = torch.tensor([[5, 0, 6, 7, 0, 8, 9], [0, 5, 0, 6, 7, 8, 0]])
    left = torch.tensor([[0, 0, 4, 4, 4, 4], [7, 8, 9, 10, 11, 12]])
    right = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 0, 0], [5, 6, 0, 0, 0]])
    other_pad = torch.tensor([[4, 0, 6, 1, 1], [1, 7, 0, 9, 1]])  # pad_id 1; 0 is a real token here
    return [
        (torch.randn(2, 7, 7, generator=g) * 2, middle, 0),
        (torch.randn(2, 6, 6, generator=g) * 2, left, 0),
        (torch.randn(3, 5, 5, generator=g) * 2, right, 0),
        (torch.randn(2, 5, 5, generator=g) * 2, other_pad, 1),
    ]


def lower_triangle(n: int, k: int = 0) -> torch.Tensor:
    return torch.ones(n, n, dtype=torch.bool).tril(k)


def real_keys(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    return (ids != pad_id)[:, None, :]  # (B, 1, L): keys that are real tokens


def using_mask(allowed: Callable) -> Callable:
    """The right softmax, with a wrong mask ``allowed(ids, pad_id)``."""
    return partial(reference, allowed=allowed)


def filled_with_minus_1e9(mistake: Mistake) -> Mistake | None:
    """The same mistake written with -1e9 instead of -inf, where that changes the answer: a
    row the wrong mask blocks entirely is then uniform, not NaN."""
    compute = mistake.compute
    if not isinstance(compute, partial) or compute.func is not reference:
        return None
    if {"fill", "after_softmax", "softmax"} & set(compute.keywords):
        return None
    return replace(mistake, compute=partial(compute, fill=-1e9))
