"""Exercise 04b: one head of scaled dot-product attention.

``attention(x (L, d_model), w_q, w_k (d_model, d_k), w_v (d_model, d_v))`` →
``(output (L, d_v), weights (L, L))``, softmax(QKᵀ/√d_k) V with Q = x W_Q, K = x W_K, V = x W_V.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from ..attention import SingleHeadAttention, scaled_dot_product_attention
from . import asked_for
from . import head_learners as learner  # noqa: F401 (the examples of head_slips)
from .built_ins import note_built_ins
from .harness import Exercise, Mistake, Result, check_function, draws_at_random, randn
from .head_inputs import FIRST, INPUTS, edge_cases
from .head_more import MORE_MISTAKES, ROUND_45B
from .head_round48 import ROUND_48
from .head_round51 import D_MODEL, ROUND_51, in_numbers
from .head_scaling import FIXED_D_K, HALVED_D_K, PRODUCT_MISTAKES
from .head_slips import ROUND_43B, SLIPS
from .head_variants import variant
from .stale import learner_check

# --- The learner's side: the starter, a worked solution, other correct answers ---


def starter(x, w_q, w_k, w_v):
    """x (L, d_model) → output (L, d_v), weights (L, L)."""
    raise NotImplementedError


def solution(x, w_q, w_k, w_v):
    """x (L, d_model) → output (L, d_v), weights (L, L)."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v  # (L, d_k), (L, d_k), (L, d_v)
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)  # (L, L), rows sum to 1
    return weights @ v, weights


def by_hand(x, w_q, w_k, w_v, *, scale="d_k", dim=-1, transpose=True, k_from=None, order="ow"):
    """A learner's head with one switch per catalogued mistake (all off: correct)."""
    q, k, v = x @ w_q, x @ (w_k if k_from is None else k_from), x @ w_v
    scores = q @ (k.T if transpose else k)
    d_k = q.shape[-1]
    if scale == "times":
        scores = scores * math.sqrt(d_k)
    elif scale == "d_k unsquared":
        scores = scores / d_k
    elif scale != "none":
        divide = {"d_k": d_k, "d_model": x.shape[-1], "d_v": v.shape[-1], "L": x.shape[0]}[scale]
        scores = scores / math.sqrt(divide)
    weights = torch.softmax(scores, dim=dim)
    out = weights.T @ v if order == "transposed" else weights @ v
    return (weights, out) if order == "swapped" else (out, weights)


def _with_fused_kernel(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return F.scaled_dot_product_attention(q, k, v), weights


def _with_lib_module(x, w_q, w_k, w_v):
    head = SingleHeadAttention(x.shape[-1], w_q.shape[1], w_v.shape[1])
    with torch.no_grad():  # nn.Linear stores W transposed
        for linear, w in ((head.w_q, w_q), (head.w_k, w_k), (head.w_v, w_v)):
            linear.weight.copy_(w.T)
    out, weights = head(x.unsqueeze(0))  # outside no_grad: training goes back through it
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


def _queries_scaled_first(x, w_q, w_k, w_v):
    """Scaling q before the product (as lib's attention_scores does) gives the same scores."""
    q = (x @ w_q) / w_q.shape[1] ** 0.5
    weights = F.softmax(q @ (x @ w_k).transpose(0, 1), dim=1)
    return weights @ (x @ w_v), weights


ALTERNATIVES = {
    "by hand, every switch off": by_hand,
    "einsum": _with_einsum,
    "F.scaled_dot_product_attention": _with_fused_kernel,
    "lib's SingleHeadAttention": _with_lib_module,
    "one query at a time": _one_query_at_a_time,
    "q scaled before the product": _queries_scaled_first,
    "as a list, in float64": lambda x, w_q, w_k, w_v: list(
        solution(x.double(), w_q.double(), w_k.double(), w_v.double())
    ),
    "one stacked projection, split": learner.one_stacked_projection,
}


# --- The checker's side: reference, test cases, the catalogue of mistakes ---


def reference(x, w_q, w_k, w_v):
    return scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)


def _cases() -> list[tuple[torch.Tensor, ...]]:
    # x (L, d_model), w_q, w_k (d_model, d_k), w_v (d_model, d_v). The weights are scaled by
    # 1/√d_model, so the scores are of size √d_k and the softmax is NOT saturated: dividing,
    # multiplying or not scaling by √d_k give visibly different weights. Case 1 has d_k = L
    # so that "k not transposed" runs; d_model, d_k, d_v and L differ elsewhere, so every
    # wrong scale (√d_model, √d_v, √L) is recognisable.
    g = torch.Generator().manual_seed(5)
    cases = []
    for length, d_model, d_k, d_v in ((4, 8, 4, 3), (5, 6, 2, 4), (3, 16, 9, 7)):
        w = [randn(d_model, d, gen=g, scale=d_model**-0.5) for d in (d_k, d_k, d_v)]
        cases.append((randn(length, d_model, gen=g), *w))
    return cases + edge_cases()  # one token, then large scores: head_inputs


def _root(n: int) -> Callable:
    return lambda s, x, q, v: s / math.sqrt(n(x, q, v))


def _learner_transposes_the_weights(x, w_q, w_k, w_v):
    q, k, v = x @ w_q.T, x @ w_k.T, x @ w_v.T  # as nn.Linear would
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v, weights


def _learner_puts_keys_first(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(k @ q.T / math.sqrt(q.shape[-1]), dim=-1)  # rows are the keys
    return weights @ v, weights


def _learner_masks_the_future(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.T / math.sqrt(q.shape[-1])
    future = torch.triu(torch.ones_like(scores), diagonal=1).bool()  # as a GPT would
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    return weights @ v, weights


def _learner_mixes_x(x, w_q, w_k, w_v):
    q, k = x @ w_q, x @ w_k
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ x, weights  # the tokens themselves, not their values


def _learner_drops_weights(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = F.dropout(torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1), p=0.1)
    return weights @ v, weights


def _causal(scores, x, q, v):
    """The scaled scores with the future hidden: a causal mask the exercise does not ask for."""
    scores = scores / math.sqrt(q.shape[-1])
    length = scores.shape[-1]
    return scores.masked_fill(~torch.ones(length, length, dtype=torch.bool).tril(), float("-inf"))


def _learner_returns_the_scores(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.T / math.sqrt(k.shape[-1])
    return torch.softmax(scores, dim=-1) @ v, scores


OUTPUT_ONLY = Mistake(
    name="output only",
    hint="attention should return a pair (output, weights): you returned a single tensor. "
    "End with `return weights @ v, weights`.",
    compute=None,
    recognise=lambda fn, case, got: isinstance(got, torch.Tensor),
    example=lambda *a: solution(*a)[0],
)

MISTAKES = (
    OUTPUT_ONLY,
    Mistake(
        name="(weights, output) swapped",
        hint="Your pair is in the wrong order: return (output, weights), the output first.",
        compute=lambda *a: variant(*a)[::-1],
        example=partial(by_hand, order="swapped"),
    ),
    HALVED_D_K,
    Mistake(
        name="no scaling",
        hint="No scaling: divide the scores by √d_k before the softmax. Without it, large d_k makes "
        "softmax put almost all weight on one key.",
        compute=partial(variant, scores_by=lambda s, x, q, v: s),
        example=partial(by_hand, scale="none"),
    ),
    Mistake(
        name="× √d_k",
        hint="You multiplied the scores by √d_k; divide them: softmax(q @ k.T / √d_k). "
        "Multiplying makes the softmax even sharper, the opposite of what the scale is for.",
        compute=partial(variant, scores_by=lambda s, x, q, v: s * math.sqrt(q.shape[-1])),
        example=partial(by_hand, scale="times"),
    ),
    FIXED_D_K,
    D_MODEL,  # round 51: confirmed on a probe, as the first head's d_model is 2 · d_k (head_round51)
    Mistake(
        name="√d_v",
        hint="You divided by √d_v, the width of the values; the scale is √d_k, the width of the "
        "queries and keys (q.shape[-1]): the dot products are sums of d_k numbers.",
        compute=partial(variant, scores_by=_root(lambda x, q, v: v.shape[-1])),
        example=partial(by_hand, scale="d_v"),
    ),
    Mistake(
        name="√L",
        hint="You divided by √L, the square root of the number of tokens; the scale is √d_k, the "
        "width of the queries and keys (q.shape[-1]), whatever the sentence's length.",
        compute=partial(variant, scores_by=_root(lambda x, q, v: x.shape[0])),
        example=partial(by_hand, scale="L"),
    ),
    Mistake(
        name="d_k without the root",
        hint="You divided by d_k; the scale is its square root, √d_k (math.sqrt(d_k)). (Scaling both "
        "q and k by 1/√d_k does the same: scale one of them, or the scores, once.)",
        compute=partial(variant, scores_by=lambda s, x, q, v: s / q.shape[-1]),
        example=partial(by_hand, scale="d_k unsquared"),
    ),
    Mistake(
        name="scaled after the softmax",
        hint="You divided by √d_k AFTER the softmax, so the weights no longer sum to 1. The scale "
        "belongs to the scores: softmax(q @ k.T / √d_k).",
        compute=partial(variant, scores_by=lambda s, x, q, v: s, after=lambda w, d: w / math.sqrt(d)),
        example=lambda x, w_q, w_k, w_v: _learner_scales_late(x, w_q, w_k, w_v, "weights"),
    ),
    Mistake(
        name="scaled on the output",
        hint="You divided the OUTPUT by √d_k; the scale belongs inside the softmax, on the "
        "scores: softmax(q @ k.T / √d_k) @ v. (Your weights are unscaled, hence too sharp.)",
        compute=partial(
            variant, scores_by=lambda s, x, q, v: s, combine=lambda w, v, d: w @ v / math.sqrt(d)
        ),
        example=lambda x, w_q, w_k, w_v: _learner_scales_late(x, w_q, w_k, w_v, "output"),
    ),
    Mistake(
        name="softmax over the queries",
        hint="Softmax over the wrong axis: each query's ROW of weights must sum to 1, so use dim=-1.",
        compute=partial(variant, dim=-2),
        example=partial(by_hand, dim=0),
    ),
    Mistake(
        name="k not transposed",
        hint="k is not transposed: the scores are q @ k.transpose(-2, -1), one dot product per "
        "(query, key) pair.",
        compute=partial(variant, transpose=False),
        example=partial(by_hand, transpose=False),
    ),
    Mistake(
        name="weightsᵀ @ V",
        hint="You multiplied weights.T @ v: that mixes the values with the KEYS' columns of "
        "weights. Row i of the output is query i's weighted sum of the values: weights @ v.",
        compute=partial(variant, combine=lambda w, v, d: w.transpose(-2, -1) @ v),
        example=partial(by_hand, order="transposed"),
    ),
    Mistake(
        name="K projected with W_Q",
        hint="Your keys are projected with W_Q: k = x @ w_q makes every score q·q. The keys have "
        "their own projection: k = x @ w_k.",
        compute=partial(variant, k_by=lambda w_q, w_k: w_q),
        example=lambda x, w_q, w_k, w_v: by_hand(x, w_q, w_k, w_v, k_from=w_q),
    ),
    Mistake(
        name="scores returned as the weights",
        hint="The second item you return is the scores, before the softmax: return the weights, "
        "softmax(q @ k.T / √d_k), the same ones you multiplied v by.",
        compute=lambda x, w_q, w_k, w_v: (
            reference(x, w_q, w_k, w_v)[0],
            (x @ w_q) @ (x @ w_k).T / math.sqrt(w_q.shape[1]),
        ),
        example=_learner_returns_the_scores,
    ),
    Mistake(
        name="values not projected",
        hint="Your output mixes the inputs x themselves: the values are projected too, v = x @ w_v, "
        "and the output is weights @ v, (L, d_v). (Your weights are right.)",
        compute=lambda x, w_q, w_k, w_v: (lambda out, w: (w @ x, w))(*reference(x, w_q, w_k, w_v)),
        example=_learner_mixes_x,
    ),
    Mistake(
        name="queries and keys swapped",
        hint="Queries and keys are swapped: k @ q.T puts the keys in the rows. Row i of the scores "
        "must be query i against every key: q @ k.T, then the softmax over dim=-1.",
        compute=lambda x, w_q, w_k, w_v: variant(x, w_k, w_q, w_v),
        example=_learner_puts_keys_first,
    ),
    Mistake(
        name="a matrix product that does not fit",
        hint="A matrix product does not fit: check the shapes of each one. q, k and v are x @ w_q, "
        "x @ w_k and x @ w_v, (L, d_k), (L, d_k) and (L, d_v), each with its own weight as "
        "given, (d_model, d_k), with no transpose (nn.Linear stores its weight the other way round, "
        "hence its x @ W.T). The scores are q @ k.T, (L, L), and the output weights @ v, "
        "(L, L) @ (L, d_v).",
        compute=None,
        error="shapes cannot be multiplied|size mismatch",
        example=_learner_transposes_the_weights,
    ),
    # A head that hides the future is a decoder's masked attention (chapter 06): this one lets
    # every token see every token, as an encoder's does.
    Mistake(
        name="a causal mask",
        hint="Your head hides the future (a causal mask): each token here attends to EVERY token, "
        "earlier and later, as in the encoder. Masking comes in chapter 06; leave it out: "
        "softmax(q @ k.T / √d_k) with no -inf filled in.",
        compute=partial(variant, scores_by=_causal),
        example=_learner_masks_the_future,
    ),
    draws_at_random(_learner_drops_weights),
)


MISTAKES += MORE_MISTAKES  # met in the seventh audit: in head_more
MISTAKES += PRODUCT_MISTAKES  # met in the forty-first read
MISTAKES += SLIPS + ROUND_43B  # round 42b's and 43b's batteries: in head_slips
MISTAKES += ROUND_45B  # the residual added: head_more
MISTAKES += ROUND_48  # weights * v: head_round48
MISTAKES = FIRST + MISTAKES + INPUTS + ROUND_51  # round 44: head_inputs; 51: another divisor


def _learner_scales_late(x, w_q, w_k, w_v, where):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T, dim=-1)
    if where == "weights":
        weights = weights / math.sqrt(k.shape[1])
        return weights @ v, weights
    return (weights @ v) / math.sqrt(k.shape[1]), weights


@learner_check
def check_attention(learner_fn: Callable) -> Result:
    """Exercise 04b: ``fn(x (L, d_model), w_q (d_model, d_k), w_k, w_v (d_model, d_v))`` →
    ``(output (L, d_v), weights (L, L))``: one head of scaled dot-product attention."""
    cases = _cases()
    result = check_function(
        learner_fn,
        reference,
        cases,
        name="attention",
        mistakes=MISTAKES,
        atol=1e-4,
        parts=("output", "weights"),
        needs_grad=True,
    )
    result = in_numbers(result, learner_fn, cases)  # round 51: what it divided by, in numbers
    return note_built_ins(result, learner_fn, cases, asked_for.ATTENTION)


EXERCISES = (
    Exercise(
        name="attention",
        chapter="04",
        check=check_attention,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
