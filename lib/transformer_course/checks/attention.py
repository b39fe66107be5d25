"""Exercise 03: the raw attention scores (one head of attention, exercise 04b, is in ``head``).

``attention_scores(q (..., Lq, d_k), k (..., Lk, d_k)) → (..., Lq, Lk)``, entry (i, j) = q_i · k_j.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..attention import attention_scores
from . import asked_for
from . import attention_learners as learner  # noqa: F401 (the examples of attention_more)
from .attention_more import MORE_SCORES_MISTAKES
from .attention_scalings import KEY_COUNT_MISTAKES, on_a_probe_too
from .attention_slips import ROUND_43B, SLIP_SCORES_MISTAKES
from .built_ins import note_built_ins
from .harness import Exercise, Mistake, Result, check_then_batch, randn
from .stale import learner_check
from .wording import own_name

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
    "bmm on the flattened batch": learner.bmm_on_the_flattened_batch,
}


# --- Exercise 03: the checker's side ---


def _scores_reference(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return q @ k.transpose(-2, -1)


SCORES_ON_A_BATCH = Mistake(
    name="k.T on a batch",
    hint="Right for one sentence, but not for a batch (B, L, d_k): something counts the "
    "dimensions from the front, or takes 2-D tensors only. k.T (or k.transpose(0, 1)) does not "
    "swap the last two dimensions of a 3-D tensor, the key's position and its features; "
    'einsum("qd,kd->qk"), torch.inner, torch.mm and F.linear(q, k) are 2-D too. Swap only '
    'the last two: q @ k.transpose(-2, -1), or einsum("...qd,...kd->...qk").',
    compute=None,  # named by check_then_batch: right on the single cases, wrong on the batch
    example=lambda q, k: q @ k.T,
)

SCORES_MISTAKES = (
    Mistake(
        name="k not transposed",
        hint="k is not transposed: q @ k multiplies each query with the COLUMNS of k. Each key is a "
        "row of k, so turn the rows into columns first: q @ k.transpose(-2, -1) (a reshape or "
        "view to (d_k, L) is not a transpose: it keeps the numbers in their order).",
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
        compute=None,  # on the square first case √Lk is √d_k: confirmed where they differ
        recognise=on_a_probe_too(lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])),
        example=lambda q, k: q @ k.T / math.sqrt(k.shape[-1]),
    ),
    Mistake(
        name="divided by d_k",
        hint="You divided the scores by d_k: we want the raw scores, q @ k.transpose(-2, -1), "
        "with no scaling at all. (Chapter 04 scales them, and by the square root, √d_k, not d_k.)",
        compute=None,  # on the square first case Lk is d_k: confirmed where they differ
        recognise=on_a_probe_too(lambda q, k: q @ k.transpose(-2, -1) / q.shape[-1]),
        example=lambda q, k: torch.matmul(q, k.T) / k.shape[1],
    ),
    # A learner who read ahead: the scores are what goes INTO the softmax, not its output.
    Mistake(
        name="softmax applied",
        hint="You returned the attention WEIGHTS (a softmax of the scores, each row summing to 1): "
        "this exercise asks for the raw scores that go into the softmax, q @ k.transpose(-2, -1), "
        "with no softmax and no scaling. Chapter 04 adds both.",
        compute=lambda q, k: torch.softmax(q @ k.transpose(-2, -1), dim=-1),
        example=lambda q, k: (q @ k.transpose(-2, -1)).softmax(dim=-1),
    ),
    Mistake(
        name="scaled and softmaxed",
        hint="You returned the attention WEIGHTS, softmax(q @ kᵀ / √d_k): that is chapter 04's "
        "whole step. This exercise asks only for the raw scores, q @ k.transpose(-2, -1): no "
        "scaling, no softmax.",
        compute=lambda q, k: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1),
        example=lambda q, k: torch.softmax(torch.matmul(q, k.mT) / k.shape[-1] ** 0.5, -1),
    ),
    Mistake(
        name="element-wise product",
        hint="q * k multiplies entry by entry: it pairs query i with key i only, feature by "
        "feature. A score is a whole dot product, query i against key j: the matrix product "
        "q @ k.transpose(-2, -1).",
        compute=lambda q, k: q * k,
        example=lambda q, k: torch.mul(q, k),
    ),
    Mistake(
        name="dimensions counted for a batch only",
        hint="Your code counts dimensions from the front as if there were always a batch "
        '(transpose(1, 2), permute(0, 2, 1), torch.bmm, einsum("bqd,bkd->bqk")): a single '
        "sentence (L, d_k) has no dimension 2. Count from the end, k.transpose(-2, -1), and use "
        '@ (or einsum("...qd,...kd->...qk")), which work with and without a batch.',
        compute=None,
        # batch code on a single sentence: permute's and einsum's errors say 3 asked of 2
        error=r"Dimension out of range|batch1 must be a 3D tensor|input.dim\(\) = 2 is not equal to "
        r"len\(dims\) = 3|subscripts in the equation \(3\) does not match the number of dimensions \(2\)",
        example=lambda q, k: q @ k.transpose(1, 2),
    ),
    Mistake(
        name="torch.mm on a batch",
        hint="torch.mm multiplies 2-D matrices only, so a batch (B, L, d_k) breaks it. Use @ "
        "(torch.matmul), which multiplies the last two dimensions of each item of the batch: "
        "q @ k.transpose(-2, -1).",
        compute=None,
        error=r"self must be a matrix",
        example=lambda q, k: torch.mm(q, k.transpose(-2, -1)),
    ),
    SCORES_ON_A_BATCH,
)


def _learner_masks_the_future(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return torch.tril(q @ k.transpose(-2, -1))  # "a token must not see the future"


def _learner_sums_the_wrong_axis(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    every_pair = q.unsqueeze(-2) * k.unsqueeze(-3)  # (..., Lq, Lk, d_k)
    return every_pair.sum(dim=-2)  # meant the features, dim=-1


def _learner_compares_directions(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    q = q / q.norm(dim=-1, keepdim=True)
    k = k / k.norm(dim=-1, keepdim=True)
    return q @ k.transpose(-2, -1)  # chapter 01's cosine


def _learner_scores_only_matching_positions(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return torch.einsum("...id,...id->...i", q, k)  # query i with key i: one number per token


def _unit(t: torch.Tensor) -> torch.Tensor:
    return t / t.norm(dim=-1, keepdim=True)


# Answers met in the seventh audit: each names what it computes.
SCORES_MISTAKES += (
    Mistake(
        name="future zeroed",
        hint="You zeroed the scores above the diagonal (tril): hiding the future is chapter 06's "
        "causal mask, and it fills with -inf, not 0. Here every query scores every key: return "
        "q @ k.transpose(-2, -1) whole.",
        compute=lambda q, k: torch.tril(q @ k.transpose(-2, -1)),
        example=_learner_masks_the_future,
    ),
    Mistake(
        name="broadcast product summed over the keys",
        hint="You broadcast q against k to (…, Lq, Lk, d_k), then summed over the KEYS (dim=-2): "
        "a dot product sums over the features, the last axis: .sum(dim=-1). Or simply "
        "q @ k.transpose(-2, -1).",
        compute=lambda q, k: (q.unsqueeze(-2) * k.unsqueeze(-3)).sum(dim=-2),
        example=_learner_sums_the_wrong_axis,
    ),
    Mistake(
        name="cosine of queries and keys",
        hint="You normalised the queries and keys first: that is chapter 01's cosine similarity. "
        "Attention's raw score is the plain dot product, lengths included: "
        "q @ k.transpose(-2, -1).",
        compute=lambda q, k: _unit(q) @ _unit(k).transpose(-2, -1),
        example=_learner_compares_directions,
    ),
    # met in the thirteenth audit: (q * k).sum(-1), a dot product per position, not per pair
    Mistake(
        name="each query against its own position's key",
        hint="Your scores pair each query only with the key at its OWN position, as (q * k).sum(-1) "
        "does: one number per token, shape (Lq,). Attention scores every query against every key, shape "
        "(Lq, Lk): the matrix product q @ k.transpose(-2, -1) (q @ k.T for one sentence) takes "
        "all the pairs at once.",
        compute=lambda q, k: (q * k).sum(dim=-1),
        example=_learner_scores_only_matching_positions,
    ),
) + MORE_SCORES_MISTAKES  # met in round 41's battery: in attention_more
SCORES_MISTAKES += KEY_COUNT_MISTAKES + SLIP_SCORES_MISTAKES  # round 42: attention_scalings, _slips
SCORES_MISTAKES += ROUND_43B  # round 43b's battery: in attention_slips


@learner_check
def check_attention_scores(learner_fn: Callable) -> Result:
    """Exercise 03: ``fn(q (..., Lq, d_k), k (..., Lk, d_k)) → (..., Lq, Lk)``, raw scores q·kᵀ."""
    g = torch.Generator().manual_seed(3)
    # Square first, so the usual mistakes run (and can be named) instead of failing on shapes.
    single = [(randn(4, 4, gen=g), randn(4, 4, gen=g)), (randn(3, 5, gen=g), randn(6, 5, gen=g))]
    batched = [(randn(2, 3, 4, gen=g), randn(2, 5, 4, gen=g))]
    # The pass text is written here, so it names the learner's my_attention_scores itself (the
    # harness does in every other verdict): the chapter imports lib's attention_scores.
    name = own_name(learner_fn, "attention_scores")
    result = check_then_batch(
        learner_fn,
        _scores_reference,
        single,
        batched,
        name="attention_scores",
        mistakes=SCORES_MISTAKES,
        batch_mistake=SCORES_ON_A_BATCH,
        needs_grad=True,
        passed=f"{name} matches the reference on all {len(single) + len(batched)} inputs, batched ones "
        "included.",
    )
    return note_built_ins(result, learner_fn, single + batched, asked_for.ATTENTION_SCORES)


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
)
