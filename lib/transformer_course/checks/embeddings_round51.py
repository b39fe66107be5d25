"""Round 51 (review R3, F16): ``cosine_similarity`` written for the chapter's example only, its
4 tokens or its 3 features taken as fixed numbers (range(4), range(3), torch.zeros(4, 4))."""

from __future__ import annotations

import torch

from ..embeddings import similarity_matrix
from .describe import same
from .harness import Mistake


def _cosines(v: torch.Tensor) -> torch.Tensor:
    return similarity_matrix(v, "cosine")


def _fixed_token_count(fn, case: tuple, got: object) -> bool:
    """A (k, k) answer for T ≠ k tokens: the right cosines of the first k rows."""
    v = case[0]
    if not isinstance(got, torch.Tensor) or got.dim() != 2 or got.shape[0] != got.shape[1]:
        return False
    k = got.shape[0]
    return 0 < k < v.shape[0] and same(got, _cosines(v[:k]))


def _norm_over_three(v: torch.Tensor) -> torch.Tensor:
    unit = v / v[:, :3].norm(dim=1, keepdim=True)
    return unit @ unit.T


def _fixed_feature_count(fn, case: tuple, got: object) -> bool:
    """d ≠ 3 features, and the answer reads only the first 3: in the lengths, or everywhere."""
    v = case[0]
    if v.shape[1] <= 3:
        return False
    return same(got, _norm_over_three(v)) or same(got, _cosines(v[:, :3]))


def _learner_loops_over_four(vectors):
    out = torch.zeros(4, 4)  # the chapter's 4 tokens
    for i in range(4):
        for j in range(4):
            out[i, j] = (vectors[i] @ vectors[j]) / (vectors[i].norm() * vectors[j].norm())
    return out


def _learner_sums_three_features(vectors):
    lengths = torch.sqrt(sum(vectors[:, k : k + 1] ** 2 for k in range(3)))  # the chapter's d = 3
    unit = vectors / lengths
    return unit @ unit.T


_SIZES = "Take the sizes from the input: T, d = vectors.shape."

ROUND_51 = (
    Mistake(
        name="the example's token count",
        hint="Your function works for the chapter's 4 tokens only: a fixed count (torch.zeros(4, "
        "4), range(4)) gives a (4, 4) answer whatever T is. " + _SIZES,
        compute=None,
        recognise=_fixed_token_count,
        example=_learner_loops_over_four,
    ),
    Mistake(
        name="the example's feature count",
        hint="Your lengths (or dot products) read only the first 3 features, the chapter's d = 3 "
        "(range(3), v[:, :3]): these vectors have more. " + _SIZES,
        compute=None,
        recognise=_fixed_feature_count,
        example=_learner_sums_three_features,
    ),
)
