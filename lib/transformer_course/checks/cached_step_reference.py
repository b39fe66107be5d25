"""The cached attention step (exercise 09c) as the checker computes it: the reference, its
variants (one per mistake), the test cases, and the tests that recognise a cache gone wrong.

``cached_step`` (the exercise, its learner's side and catalogue) imports everything from here.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .describe import same
from .harness import randn


def grown(past: torch.Tensor | None, new: torch.Tensor) -> torch.Tensor:
    return new if past is None else torch.cat([past, new], dim=2)


def reference(q, k_new, v_new, past_k, past_v):
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    return F.scaled_dot_product_attention(q, keys, values), keys, values


def variant(
    q, k_new, v_new, past_k, past_v, *, keys_by=None, values_by=None, weights_by=None, mixes="values"
):
    """The step, or one of its usual mistakes: keys_by / values_by build the new cache,
    weights_by(scores, d_head) replaces softmax(scores / √d_head); mixes: what the weights
    gather, "values" (right) or "keys"."""
    keys = grown(past_k, k_new) if keys_by is None else keys_by(q, k_new, past_k)
    values = grown(past_v, v_new) if values_by is None else values_by(k_new, v_new, past_v)
    scores = q @ keys.transpose(-2, -1)
    d = q.shape[-1]
    weights = torch.softmax(scores / math.sqrt(d), dim=-1) if weights_by is None else weights_by(scores, d)
    return weights @ (keys if mixes == "keys" else values), keys, values


def cases() -> list[tuple]:
    # (B, h, t, d_head). q and the keys are N(0, 1/√d), so the scores are of size 1 and the
    # softmax is not saturated: no scaling and × √d_head are told apart. t ≥ 2 and d_head ≠ t + 1
    # in the first cases, so concatenating on the wrong axis or forgetting the transpose fails
    # there with an error that names it; the last case is the first step (an empty cache).
    g = torch.Generator().manual_seed(9)
    found = []
    for B, h, t, d in ((2, 3, 4, 6), (1, 2, 6, 4), (3, 1, 2, 5)):
        s = d**-0.25
        q, k, v = (
            randn(B, h, 1, d, gen=g, scale=s),
            randn(B, h, 1, d, gen=g, scale=s),
            randn(B, h, 1, d, gen=g),
        )
        found.append((q, k, v, randn(B, h, t, d, gen=g, scale=s), randn(B, h, t, d, gen=g)))
    q, k, v = (randn(2, 2, 1, 4, gen=g) for _ in range(3))
    found.append((q, k, v, None, None))
    return found


def out_ignores_the_new_token(fn, case, got) -> bool:
    """The output is attention over the t cached tokens only (whatever cache is returned)."""
    q, _, _, past_k, past_v = case
    if past_k is None or not isinstance(got, tuple | list) or len(got) != 3:
        return False
    return same(got[0], past_only(q, past_k, past_v)[0], 1e-5)


def own_key_hidden(fn, case, got) -> bool:
    """The cache handed back is right (the new position last), but the output ignores the new
    token: its own score was hidden."""
    q, k_new, v_new, past_k, past_v = case
    if not out_ignores_the_new_token(fn, case, got):
        return False
    return same(tuple(got[1:]), (grown(past_k, k_new), grown(past_v, v_new)), 1e-6)


def out_is_v_new(fn, case, got) -> bool:
    """The learner attended to the new token only: its output is v_new itself. (On the first
    step, with an empty cache, that is the right output: whatever is wrong, it is not this.)"""
    if case[3] is None:
        return False
    return isinstance(got, tuple | list) and len(got) == 3 and same(got[0], case[2], 1e-5)


def old_cache_returned(fn, case, got) -> bool:
    """The output is right but the cache handed back is the one that came in (t positions)."""
    q, k_new, v_new, past_k, past_v = case
    if past_k is None or not isinstance(got, tuple | list) or len(got) != 3:
        return False
    return same(tuple(got[1:]), (past_k, past_v), 1e-6) and same(got[0], reference(*case)[0], 1e-5)


def swap_cache(result: tuple) -> tuple:
    out, keys, values = result
    return out, values, keys


def first_key_only(scores: torch.Tensor, d: int) -> torch.Tensor:
    weights = torch.zeros_like(scores)
    weights[..., 0] = 1.0
    return weights


def past_only(q, past_k, past_v):
    w = torch.softmax(q @ past_k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return w @ past_v, past_k, past_v


def weights_as_out(q, k_new, v_new, past_k, past_v):
    """The attention weights (B, h, 1, t + 1) returned where out belongs."""
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    return torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1), keys, values
