"""How the sampling checker reads a sampler: the ids it drew, as frequencies per distinct row.

The checker gives the learner's sampler ROWS copies of each of two rows of logits; ``frequencies``
turns the ids drawn into how often each token came out for each row, and anything that is not a
(B,) tensor of ids in range into ``NotIds``, which the catalogue in ``sampling`` names.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

ROWS = 10_000  # draws per distinct row of logits: a frequency is then within ±0.005 (1 σ)
ATOL = 0.03  # six standard deviations: a correct sampler passes; every two distributions the
# checker tells apart (the right one, each mistake's) are at least 0.1 apart on its cases


class NotIds:
    """What the learner's sampler returned when it is not a (B,) tensor of ids in range."""

    def __init__(self, value: object):
        self.value = value

    def is_tensor(self, shape: tuple[int, ...], floating: bool) -> bool:
        v = self.value
        return isinstance(v, torch.Tensor) and tuple(v.shape) == shape and v.is_floating_point() == floating

    def __repr__(self) -> str:
        v = self.value
        return f"a tensor of shape {tuple(v.shape)}" if isinstance(v, torch.Tensor) else type(v).__name__


def frequencies(fn: Callable) -> Callable:
    """``fn`` as a distribution: how often each id came out for each distinct row, (2, V).

    What is not a (B,) tensor of ids in range comes back as ``NotIds`` (named by a mistake).
    """

    def drawn(logits, temperature, top_k):
        ids = fn(logits, temperature, top_k)
        if not _are_ids(ids, logits):
            return NotIds(ids)
        counts = [torch.bincount(part, minlength=logits.shape[-1]) for part in ids.long().split(ROWS)]
        return torch.stack(counts).double() / ROWS

    drawn.__wrapped__ = fn  # what the harness's warnings quote: the learner's code, not this
    return drawn


def _are_ids(ids: object, logits: torch.Tensor) -> bool:
    return (
        isinstance(ids, torch.Tensor)
        and ids.shape == logits.shape[:1]
        and not ids.is_floating_point()
        and bool(((ids >= 0) & (ids < logits.shape[-1])).all())
    )


def returned(test: Callable[[NotIds, tuple[int, int]], bool]) -> Callable:
    """A Mistake's ``recognise``: the sampler returned no ids, and ``test(what it returned, the
    logits' (B, V))`` says what it returned instead."""
    return lambda fn, case, got: isinstance(got, NotIds) and test(got, tuple(case[0].shape))
