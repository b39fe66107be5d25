"""More of ``head``'s catalogue, met in the forty-first read of chapter 04: a d_k taken from
outside the function, d_k ** 1/2, and scores that are no dot products of queries with keys
(q * k, q.T @ k), which run only because the checker's first head is square."""

from __future__ import annotations

import math
from functools import partial

import torch

from .describe import same
from .harness import Mistake, fresh, randn
from .head_variants import variant


def fitted_root(x, w_q, w_k, w_v, got) -> float | None:
    """The c for which got's weights are softmax(q @ k.T / √c), fitted on their logs (None when
    got is no pair of a positive (L, L) tensor, or no positive c fits)."""
    if not isinstance(got, tuple | list) or len(got) != 2 or not isinstance(got[1], torch.Tensor):
        return None
    weights, length = got[1], x.shape[0]
    if weights.shape != (length, length) or not bool((weights > 0).all()):
        return None
    scores = ((x @ w_q) @ (x @ w_k).T).double()
    sc = scores - scores.mean(dim=-1, keepdim=True)
    logs = weights.double().log()
    lc = logs - logs.mean(dim=-1, keepdim=True)
    slope = float((sc * lc).sum() / (sc * sc).sum())  # 1 / √c
    return None if slope <= 0 else slope**-2


def scaling_probe(length=10, d_model=12, d_k=11, d_v=13):
    """A head with none of the checker's sizes: a divisor read from the shapes changes on it."""
    g = torch.Generator().manual_seed(41)
    w = [randn(d_model, d, gen=g, scale=d_model**-0.5) for d in (d_k, d_k, d_v)]
    return (randn(length, d_model, gen=g), *w)


def _fixed_root(fn, case, got) -> bool:
    """Divided by the same √c whatever the head's widths: a d_k from outside the function."""
    c = fitted_root(*case, got)
    if c is None or math.isclose(c, 1, rel_tol=1e-3):
        return False
    fixed = partial(variant, scores_by=lambda s, x, q, v: s / math.sqrt(c))
    probe = scaling_probe()
    return same(got, fixed(*case), 1e-4) and same(fn(*fresh(probe)), fixed(*probe), 1e-4)


def _halved(s, x, q, v):
    return s / (q.shape[-1] / 2)  # scores / (d_k ** 1/2)


def _doubled(s, x, q, v):
    return s / q.shape[-1] / 2  # scores / d_k ** 1/2, without brackets


def _power_slip(fn, case, got) -> bool:
    return any(
        same(got, variant(*case, scores_by=by))
        and same(fn(*fresh(scaling_probe())), variant(*scaling_probe(), scores_by=by))
        for by in (_halved, _doubled)
    )


def _learner_reads_the_notebooks_d_k(x, w_q, w_k, w_v):
    d_k = 8  # the notebook's, from "The weighted sum of the values"
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / math.sqrt(d_k), dim=-1)
    return weights @ v, weights


def _learner_halves_d_k(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / q.shape[-1] ** 1 / 2, dim=-1)  # meant ** (1 / 2)
    return weights @ v, weights


def _learner_multiplies_entrywise(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q * k / math.sqrt(q.shape[-1]), dim=-1)  # meant q @ k.T
    return weights @ v, weights


def _learner_transposes_q(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q.T @ k / math.sqrt(q.shape[-1]), dim=-1)  # meant q @ k.T
    return weights @ v, weights


def _scores_from(product):
    def head(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        weights = torch.softmax(product(q, k) / math.sqrt(q.shape[-1]), dim=-1)
        return weights @ v, weights

    return head


FIXED_D_K = Mistake(
    name="a d_k from outside the function",
    hint="You divided by the same √d_k whatever the head's size: a d_k from outside the function "
    "(the notebook's own d_k is 8). The checker tries heads of several widths: read it from the "
    "tensors, d_k = q.shape[-1].",
    compute=None,
    recognise=_fixed_root,
    example=_learner_reads_the_notebooks_d_k,
)

HALVED_D_K = Mistake(
    name="d_k ** 1/2",
    hint="d_k ** 1/2 is (d_k ** 1) / 2, half of d_k, not its root: ** binds tighter than /. Write "
    "the square root as d_k ** 0.5, d_k ** (1 / 2) or math.sqrt(d_k).",
    compute=None,  # on d_k = 2 it is no scaling at all: a second head tells them apart
    recognise=_power_slip,
    example=_learner_halves_d_k,
)

PRODUCT_MISTAKES = (
    Mistake(
        name="q * k, entry by entry",
        hint="q * k multiplies entry by entry, query i with key i only: it ran because this head has "
        "as many tokens as features. A score is a dot product, every query against every key: "
        "q @ k.T, (L, L).",
        compute=_scores_from(lambda q, k: q * k),
        example=_learner_multiplies_entrywise,
    ),
    Mistake(
        name="q.T @ k",
        hint="q.T @ k compares the feature columns with each other, (d_k, d_k): it ran because "
        "this head has as many tokens as features. The scores pair tokens: q @ k.T, (L, L).",
        compute=_scores_from(lambda q, k: q.T @ k),
        example=_learner_transposes_q,
    ),
)
