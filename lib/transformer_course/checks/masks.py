"""Exercise 06: attention weights under a causal mask and a padding mask.

``fn(scores (B, L, L), ids (B, L), pad_id) → weights (B, L, L)``: each query may see itself
and earlier tokens (causal), and never a padding key; softmax over the keys.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from ..attention import scaled_dot_product_attention
from ..masks import causal_mask, combine_masks, padding_mask
from .harness import Exercise, Mistake, Result, check_function

# --- The learner's side: the starter, a worked solution, other correct answers ---


def starter(scores, ids, pad_id):
    """scores (B, L, L), ids (B, L) → weights (B, L, L) under causal + padding masks."""
    raise NotImplementedError


def solution(scores, ids, pad_id):
    """scores (B, L, L), ids (B, L) → weights (B, L, L) under causal + padding masks."""
    length = ids.shape[1]
    past = torch.ones(length, length, dtype=torch.bool).tril()  # (L, L): keys 0 … i
    real = (ids != pad_id).unsqueeze(1)  # (B, 1, L): real keys
    return torch.softmax(scores.masked_fill(~(past & real), float("-inf")), dim=-1)


def by_hand(
    scores,
    ids,
    pad_id,
    *,
    after=False,
    diagonal=0,
    upper=False,
    query_axis=False,
    combine="and",
    causal=True,
    padding=True,
    inverted=False,
    blocked_value=float("-inf"),
):
    """A learner's masked softmax with one switch per catalogued mistake (all off: correct)."""
    length = ids.shape[1]
    tri = torch.tril(torch.ones(length, length), diagonal=diagonal).bool()
    if upper:
        tri = torch.triu(torch.ones(length, length)).bool()
    real = (ids != pad_id).unsqueeze(-1) if query_axis else (ids != pad_id).unsqueeze(1)
    if causal and padding:
        allowed = tri | real if combine == "or" else tri & real
    elif causal:
        allowed = tri.expand(ids.shape[0], length, length)
    else:
        allowed = real.expand(ids.shape[0], length, length)
    if after:
        return torch.softmax(scores, dim=-1) * allowed
    blocked = allowed if inverted else ~allowed
    return torch.softmax(scores.masked_fill(blocked, blocked_value), dim=-1)


def _with_lib(scores, ids, pad_id):
    """The lib's masks; scores turned back into weights by the lib's attention (q = scores, k = I)."""
    mask = combine_masks(causal_mask(ids.shape[1]), padding_mask(ids, pad_id)[:, 0])
    eye = torch.eye(ids.shape[1]).expand(ids.shape[0], -1, -1)
    return scaled_dot_product_attention(scores, eye, eye, mask, scale=1.0)[1]


def _zero_then_renormalise(scores, ids, pad_id):
    allowed = torch.ones(ids.shape[1], ids.shape[1]).tril() * (ids != pad_id)[:, None, :]
    weights = torch.softmax(scores, dim=-1) * allowed  # blocked weights → 0 …
    return weights / weights.sum(dim=-1, keepdim=True)  # … and the rest shares the whole 1 again


def _with_where(scores, ids, pad_id):
    allowed = torch.ones_like(scores).tril().bool() & (ids != pad_id)[:, None, :]  # (B, L, L)
    return torch.softmax(torch.where(allowed, scores, float("-inf")), dim=-1)


ALTERNATIVES = {
    "lib's masks and attention": _with_lib,
    "by hand, every switch off": by_hand,
    "-1e9 instead of -inf": partial(by_hand, blocked_value=-1e9),
    "zeroing, then renormalising": _zero_then_renormalise,
    "torch.where": _with_where,
}


# --- The checker's side: reference, test cases, the catalogue of mistakes ---


def reference(scores, ids, pad_id, *, allowed=None, after_softmax=False, inverted=False):
    """softmax of scores (B, L, L) with ``allowed(ids, pad_id)`` (B, L, L) bool: True = may attend."""
    length = ids.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    keep = (allowed or (lambda i, p: causal & (i != p)[:, None, :]))(ids, pad_id)
    if after_softmax:
        return torch.softmax(scores, dim=-1).masked_fill(~keep, 0.0)
    return torch.softmax(scores.masked_fill(keep if inverted else ~keep, float("-inf")), dim=-1)


def _cases() -> list[tuple]:
    g = torch.Generator().manual_seed(6)
    ids_a = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 0, 0], [5, 6, 0, 0, 0]])
    ids_b = torch.tensor([[4, 4, 4, 4, 0, 0], [7, 8, 9, 10, 11, 12]])
    return [
        (torch.randn(3, 5, 5, generator=g) * 2, ids_a, 0),
        (torch.randn(2, 6, 6, generator=g) * 2, ids_b, 0),
    ]


def _tril(n: int, k: int = 0) -> torch.Tensor:
    return torch.ones(n, n, dtype=torch.bool).tril(k)


def _real(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    return (ids != pad_id)[:, None, :]  # (B, 1, L): keys that are real tokens


def _using(allowed: Callable) -> Callable:
    """The right softmax, with a wrong mask ``allowed(ids, pad_id)``."""
    return partial(reference, allowed=allowed)


MISTAKES = (
    Mistake(
        name="masked after the softmax",
        hint="You masked after the softmax: the blocked weights are 0, but each row no longer "
        "sums to 1 (the weight on the future was thrown away). Fill the blocked scores "
        "with -inf BEFORE the softmax, so the remaining weights share the whole 1.",
        compute=partial(reference, after_softmax=True),
        example=partial(by_hand, after=True),
    ),
    Mistake(
        name="tril(diagonal=-1)",
        hint="The diagonal is masked too: a token must be allowed to see itself. With "
        "tril(diagonal=-1) the first token sees nothing, and its row becomes NaN. "
        "Use torch.ones(L, L).tril() (diagonal=0) as the allowed positions.",
        compute=_using(lambda i, p: _tril(i.shape[1], -1) & _real(i, p)),
        example=partial(by_hand, diagonal=-1),
    ),
    Mistake(
        name="triu instead of tril",
        hint="Your causal mask points the wrong way: each token sees the FUTURE and not the "
        "past (triu instead of tril). Query i may see keys 0 … i: the lower triangle.",
        compute=_using(lambda i, p: _tril(i.shape[1]).T & _real(i, p)),
        example=partial(by_hand, upper=True),
    ),
    Mistake(
        name="padding on the queries",
        hint="Your padding mask blocks the padded QUERIES (rows) instead of the padded KEYS "
        "(columns). It must have shape (B, 1, L): the same keys hidden for every query.",
        compute=_using(lambda i, p: _tril(i.shape[1]) & (i != p)[:, :, None]),
        example=partial(by_hand, query_axis=True),
    ),
    Mistake(
        name="masks combined with OR",
        hint="You combined the masks with OR: a key is then visible if EITHER mask allows it, "
        "so the future of real tokens leaks through. Combine with AND (&).",
        compute=_using(lambda i, p: _tril(i.shape[1]) | _real(i, p)),
        example=partial(by_hand, combine="or"),
    ),
    Mistake(
        name="no padding mask",
        hint="Only the causal mask is applied: padding positions can still be attended. "
        "Also block the keys where ids == pad_id.",
        compute=_using(lambda i, p: _tril(i.shape[1]).expand(i.shape[0], -1, -1)),
        example=partial(by_hand, padding=False),
    ),
    Mistake(
        name="no causal mask",
        hint="Only the padding mask is applied: every token still sees the future. Combine it "
        "with the causal (lower-triangular) mask.",
        compute=_using(lambda i, p: _real(i, p).expand(-1, i.shape[1], -1)),
        example=partial(by_hand, causal=False),
    ),
    Mistake(
        name="mask inverted",
        hint="Your mask convention is inverted: in this course True means MAY attend, so fill "
        "with -inf where the mask is False (scores.masked_fill(~allowed, -inf)).",
        compute=partial(reference, inverted=True),
        example=partial(by_hand, inverted=True),
    ),
)


def check_causal_masked_weights(learner_fn: Callable) -> Result:
    """Exercise 06: ``fn(scores (B, L, L), ids (B, L), pad_id) → weights (B, L, L)``.

    Each query may see itself and earlier tokens (causal), and never a padding key.
    """
    return check_function(learner_fn, reference, _cases(), name="causal_masked_weights", mistakes=MISTAKES)


EXERCISES = (
    Exercise(
        name="causal_masked_weights",
        chapter="06",
        check=check_causal_masked_weights,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
