"""Exercises 03 and 04b: the raw attention scores, then one head of scaled dot-product attention.

- ``attention_scores(q (..., Lq, d_k), k (..., Lk, d_k)) → (..., Lq, Lk)``, entry (i, j) = q_i · k_j;
- ``attention(x (L, d_model), w_q, w_k (d_model, d_k), w_v (d_model, d_v))`` →
  ``(output (L, d_v), weights (L, L))``, softmax(QKᵀ/√d_k) V with Q = x W_Q, K = x W_K, V = x W_V.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from ..attention import SingleHeadAttention, attention_scores, scaled_dot_product_attention
from .harness import WRONG, Exercise, Mistake, Result, check_function, check_then_batch, fresh, randn

# --- Exercise 03, attention scores: the learner's side ---


def scores_starter(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """q (..., Lq, d_k), k (..., Lk, d_k) → raw scores (..., Lq, Lk)."""
    raise NotImplementedError


def scores_solution(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """q (..., Lq, d_k), k (..., Lk, d_k) → raw scores (..., Lq, Lk)."""
    return q @ k.transpose(-2, -1)  # swaps only the last two dims: batches stay put


SCORES_ALTERNATIVES = {
    "lib's attention_scores, scale 1": lambda q, k: attention_scores(q, k, scale=1.0),
    "einsum": lambda q, k: torch.einsum("...qd,...kd->...qk", q, k),
    "matmul with .mT": lambda q, k: torch.matmul(q, k.mT),
    "broadcast and sum": lambda q, k: (q.unsqueeze(-2) * k.unsqueeze(-3)).sum(dim=-1),
    "in float64": lambda q, k: q.double() @ k.double().transpose(-2, -1),
}


# --- Exercise 03: the checker's side ---


def _scores_reference(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return q @ k.transpose(-2, -1)


SCORES_ON_A_BATCH = Mistake(
    name="k.T on a batch",
    hint="Right for one sentence, but not for a batch (B, L, d_k): k.T reverses ALL "
    "dimensions of a 3-D tensor. Swap only the last two: k.transpose(-2, -1).",
    compute=None,  # named by check_then_batch: right on the single cases, wrong on the batch
    example=lambda q, k: q @ k.T,
)

SCORES_MISTAKES = (
    Mistake(
        name="k not transposed",
        hint="k is not transposed: q @ k multiplies each query with the COLUMNS of k. Each key is a "
        "row of k, so turn the rows into columns first: q @ k.transpose(-2, -1).",
        compute=lambda q, k: q @ k,
        example=lambda q, k: q @ k,
    ),
    Mistake(
        name="queries and keys swapped",
        hint="Queries and keys are swapped: k @ q.T gives row i = key i. The scores' rows must be the "
        "queries (who is asking) and the columns the keys: q @ k.transpose(-2, -1).",
        compute=lambda q, k: k @ q.transpose(-2, -1),
        example=lambda q, k: k @ q.T,
    ),
    Mistake(
        name="q.T @ k",
        hint="q.T @ k compares the feature columns with each other, a (d_k, d_k) matrix. We want one "
        "number per pair of TOKENS: q @ k.transpose(-2, -1), shaped (Lq, Lk).",
        compute=lambda q, k: q.transpose(-2, -1) @ k,
        example=lambda q, k: q.T @ k,
    ),
    Mistake(
        name="scaled already",
        hint="You divided by √d_k: good instinct, but that is chapter 04's step. Here we want the raw "
        "scores q @ k.transpose(-2, -1).",
        compute=lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]),
        example=lambda q, k: q @ k.T / math.sqrt(k.shape[-1]),
    ),
    SCORES_ON_A_BATCH,
)


def check_attention_scores(learner_fn: Callable) -> Result:
    """Exercise 03: ``fn(q (..., Lq, d_k), k (..., Lk, d_k)) → (..., Lq, Lk)``, raw scores q·kᵀ."""
    g = torch.Generator().manual_seed(3)
    # Square first, so the usual mistakes run (and can be named) instead of failing on shapes.
    single = [(randn(4, 4, gen=g), randn(4, 4, gen=g)), (randn(3, 5, gen=g), randn(6, 5, gen=g))]
    batched = [(randn(2, 3, 4, gen=g), randn(2, 5, 4, gen=g))]
    return check_then_batch(
        learner_fn,
        _scores_reference,
        single,
        batched,
        name="attention_scores",
        mistakes=SCORES_MISTAKES,
        batch_mistake=SCORES_ON_A_BATCH,
        passed=f"attention_scores matches the reference on all {len(single) + len(batched)} inputs, "
        "batched ones included.",
    )


# --- Exercise 04b, one head of attention: the learner's side ---


def head_starter(x, w_q, w_k, w_v):
    """x (L, d_model) → output (L, d_v), weights (L, L)."""
    raise NotImplementedError


def head_solution(x, w_q, w_k, w_v):
    """x (L, d_model) → output (L, d_v), weights (L, L)."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v  # (L, d_k), (L, d_k), (L, d_v)
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)  # (L, L), rows sum to 1
    return weights @ v, weights


def head_by_hand(x, w_q, w_k, w_v, *, scale="d_k", dim=-1, transpose=True):
    """A learner's head with one switch per catalogued mistake (all off: correct)."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ (k.T if transpose else k)
    divide = {
        "d_k": math.sqrt(q.shape[-1]),
        "none": 1.0,
        "d_model": math.sqrt(x.shape[-1]),
        "d_k unsquared": q.shape[-1],
    }[scale]
    weights = torch.softmax(scores / divide, dim=dim)
    return weights @ v, weights


def _with_fused_kernel(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return F.scaled_dot_product_attention(q, k, v), weights


def _with_lib_module(x, w_q, w_k, w_v):
    head = SingleHeadAttention(x.shape[-1], w_q.shape[1], w_v.shape[1])
    with torch.no_grad():  # nn.Linear stores W transposed
        for linear, w in ((head.w_q, w_q), (head.w_k, w_k), (head.w_v, w_v)):
            linear.weight.copy_(w.T)
        out, weights = head(x.unsqueeze(0))
    return out[0], weights[0]


def _with_einsum(x, w_q, w_k, w_v):
    q, k, v = (torch.einsum("ld,de->le", x, w) for w in (w_q, w_k, w_v))
    weights = torch.softmax(torch.einsum("qe,ke->qk", q, k) / math.sqrt(q.shape[-1]), dim=-1)
    return torch.einsum("qk,kv->qv", weights, v), weights


def _one_query_at_a_time(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    rows = [torch.softmax(k @ q_i / math.sqrt(q.shape[-1]), dim=0) for q_i in q]
    weights = torch.stack(rows)
    return torch.stack([w_i @ v for w_i in rows]), weights


HEAD_ALTERNATIVES = {
    "by hand, every switch off": head_by_hand,
    "einsum": _with_einsum,
    "F.scaled_dot_product_attention": _with_fused_kernel,
    "lib's SingleHeadAttention": _with_lib_module,
    "one query at a time": _one_query_at_a_time,
    "in float64": lambda x, w_q, w_k, w_v: head_solution(
        x.double(), w_q.double(), w_k.double(), w_v.double()
    ),
}


# --- Exercise 04b: the checker's side ---


def _head_reference(x, w_q, w_k, w_v):
    return scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)


def _head_variant(x, w_q, w_k, w_v, *, divide=None, dim=-1, transpose=True):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ (k.transpose(-2, -1) if transpose else k)
    scores = scores / (math.sqrt(q.shape[-1]) if divide is None else divide(x, q))
    weights = torch.softmax(scores, dim=dim)
    return weights @ v, weights


def _head_cases() -> list[tuple[torch.Tensor, ...]]:
    # x (L, d_model), w_q (d_model, d_k), w_k, w_v (d_model, d_v); case 1 has d_k = L so that
    # "k not transposed" runs; d_model ≠ d_k everywhere so √d_model is recognisable.
    g = torch.Generator().manual_seed(5)
    cases = []
    for length, d_model, d_k, d_v, scale in ((4, 8, 4, 3, 1.5), (5, 6, 2, 4, 1.0), (3, 16, 9, 8, 1.0)):
        cases.append(
            (
                randn(length, d_model, gen=g, scale=scale),
                randn(d_model, d_k, gen=g),
                randn(d_model, d_k, gen=g),
                randn(d_model, d_v, gen=g),
            )
        )
    return cases


OUTPUT_ONLY = Mistake(
    name="output only",
    hint="attention should return a pair (output, weights) of tensors",
    compute=None,  # named by check_attention before any value is compared
    example=lambda *a: head_solution(*a)[0],
)

HEAD_MISTAKES = (
    Mistake(
        name="no scaling",
        hint="No scaling: divide the scores by √d_k before softmax. Without it, large d_k makes "
        "softmax put almost all weight on one key.",
        compute=lambda *a: _head_variant(*a, divide=lambda x, q: 1.0),
        example=partial(head_by_hand, scale="none"),
    ),
    Mistake(
        name="√d_model",
        hint="You divided by √d_model (the width of x); the paper divides by √d_k, the width of the "
        "queries and keys: q.shape[-1].",
        compute=lambda *a: _head_variant(*a, divide=lambda x, q: math.sqrt(x.shape[-1])),
        example=partial(head_by_hand, scale="d_model"),
    ),
    Mistake(
        name="d_k without the root",
        hint="You divided by d_k; the scale is its square root, √d_k (math.sqrt(d_k)).",
        compute=lambda *a: _head_variant(*a, divide=lambda x, q: q.shape[-1]),
        example=partial(head_by_hand, scale="d_k unsquared"),
    ),
    Mistake(
        name="softmax over the queries",
        hint="Softmax over the wrong axis: each query's ROW of weights must sum to 1, so use dim=-1.",
        compute=lambda *a: _head_variant(*a, dim=-2),
        example=partial(head_by_hand, dim=0),
    ),
    Mistake(
        name="k not transposed",
        hint="k is not transposed: the scores are q @ k.transpose(-2, -1), one dot product per "
        "(query, key) pair.",
        compute=lambda *a: _head_variant(*a, transpose=False),
        example=partial(head_by_hand, transpose=False),
    ),
    OUTPUT_ONLY,
)


def check_attention(learner_fn: Callable) -> Result:
    """Exercise 04b: ``fn(x (L, d_model), w_q (d_model, d_k), w_k, w_v (d_model, d_v))`` →
    ``(output (L, d_v), weights (L, L))``: one head of scaled dot-product attention."""
    cases = _head_cases()
    kind = _kind_unless_pair(learner_fn, cases[0])
    if kind is not None:
        return Result(WRONG, f"{OUTPUT_ONLY.hint}, got {kind}.")
    return check_function(
        learner_fn, _head_reference, cases, name="attention", mistakes=HEAD_MISTAKES, atol=1e-4
    )


def _kind_unless_pair(learner_fn: Callable, case: tuple) -> str | None:
    """The type of what ``learner_fn`` returns when it is not a pair of tensors, else None.

    An exception also gives None: ``check_function`` then reports it (not attempted, or which error).
    """
    with torch.random.fork_rng(devices=[]):
        try:
            got = learner_fn(*fresh(case))
        except Exception:
            return None
    pair = isinstance(got, tuple | list) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got)
    return None if pair else type(got).__name__


EXERCISES = (
    Exercise(
        name="attention_scores",
        chapter="03",
        check=check_attention_scores,
        solution=scores_solution,
        starter=scores_starter,
        alternatives=SCORES_ALTERNATIVES,
        mistakes=SCORES_MISTAKES,
    ),
    Exercise(
        name="attention",
        chapter="04",
        check=check_attention,
        solution=head_solution,
        starter=head_starter,
        alternatives=HEAD_ALTERNATIVES,
        mistakes=HEAD_MISTAKES,
    ),
)
