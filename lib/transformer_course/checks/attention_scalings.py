"""Exercise 03's scalings by a size (``attention_scores``): √d_k, d_k, and the number of keys.

The checker's first case is square (4 tokens of d_k = 4), where dividing by √d_k, by √Lk and
multiplying by 1/2 give the same numbers, and so do d_k and Lk. A scaling matched there is
confirmed on a probe where every size differs (7 queries, 5 keys, d_k = 9), so that its hint
names what the learner divided by, not another size of the same value.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import attention_learners as learner
from .describe import same
from .harness import Mistake, fresh


def _probe() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(33)
    return torch.randn(7, 9, generator=g), torch.randn(5, 9, generator=g)


def on_a_probe_too(compute: Callable) -> Callable:
    """A ``Mistake.recognise``: ``got`` is ``compute`` on the case, and the learner's function
    computes it on the probe too."""

    def recognise(fn, case, got) -> bool:
        if not same(got, compute(*fresh(case)), 1e-5):
            return False
        probe = _probe()
        return same(fn(*fresh(probe)), compute(*probe), 1e-5)

    return recognise


def _scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return q @ k.transpose(-2, -1)


def by_the_keys(q: torch.Tensor, k: torch.Tensor, root: bool) -> torch.Tensor:
    keys = k.shape[-2]
    return _scores(q, k) / (math.sqrt(keys) if root else keys)


def _by_the_number_of_keys(fn, case, got) -> bool:
    return any(
        on_a_probe_too(lambda q, k, r=root: by_the_keys(q, k, r))(fn, case, got) for root in (True, False)
    )


KEY_COUNT_MISTAKES = (
    Mistake(
        name="divided by the number of keys",
        hint="You divided the scores by the number of keys, Lk = k.shape[-2] (or by its square "
        "root): that counts tokens, not features. This exercise wants the raw scores, "
        "q @ k.transpose(-2, -1), with no scaling; chapter 04 divides by √d_k, the size of each "
        "query and key vector, q.shape[-1].",
        compute=None,
        recognise=_by_the_number_of_keys,
        example=learner.divides_by_the_number_of_keys,
    ),
)
