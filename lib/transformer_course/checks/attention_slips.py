"""More of exercise 03's catalogue (``attention_scores``): the wrong answers met in round 42's
battery (the scores shifted by their max, divided by a constant, with the queries or keys
normalised, squashed by an activation, the future masked with −∞), each with what it computes
(or how it is recognised) and its hint; the learner-style examples are in ``attention_learners``.
Round 43b's (``ROUND_43B``): chapter 04's whole weights, scaled, softmaxed over the queries.
"""

from __future__ import annotations

import math

import torch

from . import attention_learners as learner
from .describe import same
from .harness import Mistake


def _scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return q.double() @ k.double().transpose(-2, -1)


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x.double() / x.double().norm(dim=-1, keepdim=True)


def _a_constant_times(fn, case, got) -> bool:
    """got = c · q·kᵀ for one number c other than 1 (a temperature, the notebook's √d_k)."""
    want = _scores(*case)
    if not isinstance(got, torch.Tensor) or got.shape != want.shape or not got.is_floating_point():
        return False
    c = float((got.double() * want).sum() / (want * want).sum())
    return abs(c - 1) > 1e-3 and same(got, c * want, 1e-4)


_SQUASHES = (torch.sigmoid, torch.tanh, torch.relu, torch.square)


def _squashed(fn, case, got) -> bool:
    """An activation (sigmoid, tanh, ReLU, a square) of the right scores."""
    want = _scores(*case)
    return any(same(got, f(want), 1e-5) for f in _SQUASHES)


def _future_at_minus_infinity(q, k):
    scores = _scores(q, k)
    return scores.masked_fill(torch.ones(scores.shape[-2:], dtype=torch.bool).triu(1), float("-inf"))


_ONE_SIDE = (
    "You divided the queries (or the keys) by their lengths before the dot product: that is half "
    "of a cosine similarity. The raw scores are the plain dot products, lengths and all: "
    "q @ k.transpose(-2, -1), nothing normalised."
)

SLIP_SCORES_MISTAKES = (
    Mistake(
        name="shifted by the max",
        hint="You subtracted each row's max from the scores: that trick keeps exp from overflowing "
        "inside a softmax (chapter 04), and belongs there. The raw scores are the dot products "
        "themselves: return q @ k.transpose(-2, -1).",
        compute=lambda q, k: _scores(q, k) - _scores(q, k).amax(dim=-1, keepdim=True),
        example=learner.shifts_by_the_max,
    ),
    Mistake(
        name="queries normalised",
        hint=_ONE_SIDE,
        compute=lambda q, k: _unit(q) @ k.double().transpose(-2, -1),
        example=learner.normalises_the_queries,
    ),
    Mistake(
        name="keys normalised",
        hint=_ONE_SIDE,
        compute=lambda q, k: q.double() @ _unit(k).transpose(-2, -1),
        example=lambda q, k: learner.normalises_the_queries(k, q).transpose(-2, -1),
    ),
    Mistake(
        name="an activation of the scores",
        hint="Your scores went through a function after q·kᵀ (sigmoid, tanh, ReLU or a square): "
        "the raw scores are the dot products as they are, negative ones included. Turning them "
        "into weights is the softmax's job, in chapter 04.",
        compute=None,
        recognise=_squashed,
        example=learner.squashes_the_scores,
    ),
    Mistake(
        name="future masked with −∞",
        hint="You masked the scores above the diagonal with −∞: that is chapter 06's causal mask, "
        "for a decoder that must not see ahead. Here every query scores every key: return "
        "q @ k.transpose(-2, -1) whole.",
        compute=_future_at_minus_infinity,
        example=learner.masks_the_future_with_minus_infinity,
    ),
    Mistake(  # last: the scalings that name their own number (√d_k, d_k) come first
        name="scores times a constant",
        hint="Your scores are q·kᵀ times one same number (divided by the notebook's √d_k = "
        f"√{learner.NOTEBOOK_D_K}, by a temperature, or multiplied by 2): no scaling yet, that is "
        "chapter 04, and never by a number that is not this call's. Return q @ k.transpose(-2, -1).",
        compute=None,
        recognise=_a_constant_times,
        example=learner.scales_by_the_notebooks_d_k,
    ),
)


def _softmaxed_over_the_queries(q, k):
    """softmax(q·kᵀ / √d_k) over dim=-2: (…, Lq, Lk), each COLUMN summing to 1."""
    return torch.softmax(_scores(q, k) / math.sqrt(q.shape[-1]), dim=-2)


def softmaxes_the_columns(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """A learner's: chapter 04's weights, with the softmax's dim counted from the front."""
    d_k = k.size(-1)
    return (q @ k.mT / d_k**0.5).softmax(dim=q.dim() - 2)


ROUND_43B = (
    Mistake(
        name="scaled and softmaxed over the queries",
        hint="You returned chapter 04's weights, scaled by √d_k and softmaxed, and over the QUERIES "
        "(dim=-2, each column summing to 1) at that. This exercise wants only the raw scores, "
        "q @ k.transpose(-2, -1): no scale, no softmax (chapter 04 adds both, the softmax over "
        "the keys, dim=-1).",
        compute=_softmaxed_over_the_queries,
        example=softmaxes_the_columns,
    ),
)
