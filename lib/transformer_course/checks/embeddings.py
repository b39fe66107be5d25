"""Exercise 01: the cosine similarity of every pair of token vectors.

``fn(vectors (T, d)) → (T, T)``, entry (i, j) the cosine of the angle between rows i and j.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..embeddings import similarity_matrix
from . import asked_for
from .built_ins import note_built_ins
from .embeddings_more import MORE_MISTAKES, ROUND_45B, einsum_over_rsqrt_norms
from .embeddings_round51 import ROUND_51
from .embeddings_slips import SLIPS
from .harness import Exercise, Mistake, Result, check_function
from .stale import learner_check

# --- The learner's side: the starter, a worked solution, other correct answers ---


def starter(vectors: torch.Tensor) -> torch.Tensor:
    """vectors (T, d) → (T, T) cosine similarities."""
    raise NotImplementedError


def solution(vectors: torch.Tensor) -> torch.Tensor:
    """vectors (T, d) → (T, T) cosine similarities."""
    unit = vectors / vectors.norm(dim=1, keepdim=True)  # (T, d): every row has length 1
    return unit @ unit.T  # (T, d) @ (d, T) → (T, T)


def _every_pair(vectors: torch.Tensor) -> torch.Tensor:
    """The definition, one pair at a time."""
    t = vectors.shape[0]
    out = torch.empty(t, t)
    for i in range(t):
        for j in range(t):
            a, b = vectors[i], vectors[j]
            out[i, j] = torch.dot(a, b) / (a.norm() * b.norm())
    return out


ALTERNATIVES = {
    "lib's similarity_matrix": lambda v: similarity_matrix(v, "cosine"),
    "F.normalize": lambda v: F.normalize(v, dim=-1) @ F.normalize(v, dim=-1).T,
    "F.cosine_similarity, broadcast": lambda v: F.cosine_similarity(v[:, None, :], v[None, :, :], dim=-1),
    "in float64": lambda v: solution(v.double()),
    "a loop over the pairs": _every_pair,
    "einsum, rsqrt of the squared norms": einsum_over_rsqrt_norms,
}


# --- The checker's side: reference, test cases, the catalogue of mistakes ---


def reference(v: torch.Tensor) -> torch.Tensor:
    return similarity_matrix(v, "cosine")


def _cases() -> list[tuple[torch.Tensor]]:
    # Rows of very different lengths, so each mistake gives a different answer. The first
    # matrix is square, so that the mistakes that fail on shapes elsewhere (a norm without
    # keepdim, unit.T @ unit) run there and can be named; the others have T ≠ d.
    g = torch.Generator().manual_seed(1)
    lengths = torch.tensor([[0.5], [1.0], [3.0], [7.0]])
    return [
        (torch.randn(4, 4, generator=g) * lengths,),
        (torch.randn(4, 3, generator=g) * lengths,),
        (torch.randn(5, 8, generator=g) * 2.0,),
        (torch.randn(2, 6, generator=g),),
    ]


def _columns_normalised(v: torch.Tensor) -> torch.Tensor:
    unit = v / v.norm(dim=0, keepdim=True)
    return unit @ unit.T


def _learner_divides_by_squares(vectors: torch.Tensor) -> torch.Tensor:
    squared = (vectors * vectors).sum(dim=1, keepdim=True)  # |a|², not |a|
    return (vectors @ vectors.T) / (squared * squared.T)


def _learner_takes_columns_as_tokens(vectors: torch.Tensor) -> torch.Tensor:
    tokens = vectors.T  # (d, T): "each column is a token"
    unit = tokens / tokens.norm(dim=1, keepdim=True)
    return unit @ unit.T


def _learner_transposes_the_left(vectors: torch.Tensor) -> torch.Tensor:
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    return unit.T @ unit


def _learner_forgets_the_transpose(vectors: torch.Tensor) -> torch.Tensor:
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    return unit @ unit


def _learner_forgets_keepdim(vectors: torch.Tensor) -> torch.Tensor:
    unit = vectors / vectors.norm(dim=1)  # (T, d) / (T,): divides COLUMN j by row j's length
    return unit @ unit.T


def _rows_divided_by(v: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    unit = v / lengths
    return unit @ unit.T


def _learner_squares_the_lengths_by_broadcasting(vectors: torch.Tensor) -> torch.Tensor:
    lengths = vectors.norm(dim=1, keepdim=True)  # (T, 1)
    return vectors @ vectors.T / (lengths * lengths)  # meant |a|·|b|: (T, 1) * (T, 1) is |a|²


def _learner_compares_each_row_with_itself(vectors: torch.Tensor) -> torch.Tensor:
    return torch.cosine_similarity(vectors, vectors, dim=1)  # row i against row i only


# lengths * lengths with both (T, 1): each row i divided by |a_i|², one length squared.
_SQUARED_BY_BROADCASTING = (
    "You divided entry (i, j) by one vector's length squared, |a|², not by |a|·|b|: lengths * "
    "lengths multiplies each length by itself when both have the same shape. Pair row i's length "
    "with row j's: lengths * lengths.T, (T, 1) * (1, T) → (T, T), with lengths = "
    "v.norm(dim=1, keepdim=True), or normalise each row first and take unit @ unit.T."
)
# Both (T,) (v.norm(dim=1), no keepdim), or both (1, T): each column j divided by |a_j|². A 1-D
# lengths.T is lengths itself, so "lengths * lengths.T" gives this same answer again: the hint
# must say where a (T, 1) comes from, not only that one is needed.
_SQUARED_ONE_D = (
    "You divided entry (i, j) by one vector's length squared, |b|², not by |a|·|b|: lengths * "
    "lengths multiplies each length by itself. If your lengths are 1-D, shape (T,) (v.norm(dim=1) "
    "without keepdim), lengths * lengths.T is no better: .T does nothing to a 1-D tensor. Keep "
    "the axis, lengths = v.norm(dim=1, keepdim=True), shape (T, 1), and then lengths * lengths.T "
    "is (T, 1) * (1, T) → (T, T); or pair the 1-D lengths yourself: "
    "lengths[:, None] * lengths[None, :]."
)

MISTAKES = (
    Mistake(
        name="raw dot product",
        hint="That is the raw dot product v @ v.T: it still grows with the vectors' lengths. "
        "Divide each row by its length first (v.norm(dim=1, keepdim=True)).",
        compute=lambda v: v @ v.T,
        example=lambda vectors: vectors @ vectors.T,
    ),
    Mistake(
        name="norm over dim=0",
        hint="You normalised along the wrong dimension: v.norm(dim=0) (or F.normalize(v, dim=0)) "
        "uses the length of each column (one feature across tokens). Each token is a row: use "
        "dim=1 (or -1).",
        compute=_columns_normalised,
        example=lambda vectors: F.normalize(vectors, dim=0) @ F.normalize(vectors, dim=0).T,
    ),
    Mistake(
        name="divided once",
        hint="You divided only once: the dot product of a and b must be divided by |a| AND |b|. "
        "Normalise every row, then multiply the unit rows.",
        compute=lambda v: (v @ v.T) / v.norm(dim=1, keepdim=True),
        example=lambda vectors: vectors @ vectors.T / vectors.norm(dim=-1).unsqueeze(1),
    ),
    Mistake(
        name="divided once, by the columns' lengths",
        hint="You divided only once: the dot product of a and b must be divided by |a| AND |b|. "
        "Normalise every row, then multiply the unit rows.",
        compute=lambda v: (v @ v.T) / v.norm(dim=1),  # each column j by |v_j|
        example=lambda vectors: vectors @ (vectors / vectors.norm(dim=1, keepdim=True)).T,
    ),
    Mistake(
        name="squared lengths",
        hint="You divided by the squared lengths: cosine divides by |a|·|b|, not |a|²·|b|².",
        compute=lambda v: (v @ v.T) / (v.norm(dim=1, keepdim=True) ** 2 * v.norm(dim=1) ** 2),
        example=_learner_divides_by_squares,
    ),
    Mistake(
        name="a length times itself, by rows",
        hint=_SQUARED_BY_BROADCASTING,
        compute=lambda v: (v @ v.T) / v.norm(dim=1, keepdim=True) ** 2,
        example=_learner_squares_the_lengths_by_broadcasting,
    ),
    Mistake(
        name="a length times itself, by columns",
        hint=_SQUARED_ONE_D,
        compute=lambda v: (v @ v.T) / v.norm(dim=1) ** 2,
        example=lambda vectors: vectors @ vectors.T / (vectors.norm(dim=-1) * vectors.norm(dim=-1)),
    ),
    Mistake(
        name="columns taken as tokens",
        hint="Your matrix compares the columns (features) with each other, not the rows (tokens): "
        "each token is a ROW of vectors. Normalise the rows (dim=1) and take unit @ unit.T, "
        "shaped (T, T).",
        compute=lambda v: reference(v.T.contiguous()),
        example=_learner_takes_columns_as_tokens,
    ),
    Mistake(
        name="unit.T @ unit",
        hint="unit.T @ unit is (d, T) @ (T, d): a (d, d) matrix that pairs up features, not tokens. "
        "Put the transpose on the right: unit @ unit.T, (T, d) @ (d, T) → (T, T).",
        compute=lambda v: F.normalize(v, dim=1).T @ F.normalize(v, dim=1),
        example=_learner_transposes_the_left,
    ),
    # The first case is square, so unit @ unit runs there (elsewhere it cannot multiply).
    Mistake(
        name="no transpose",
        hint="unit @ unit has no transpose: it runs only when T = d, and then pairs row i with "
        "COLUMN j, so even the diagonal is not 1. Each row with each row is unit @ unit.T, "
        "(T, d) @ (d, T) → (T, T).",
        compute=lambda v: F.normalize(v, dim=1) @ F.normalize(v, dim=1),
        example=_learner_forgets_the_transpose,
    ),
    Mistake(
        name="norm without keepdim",
        hint="v.norm(dim=1) has shape (T,), and dividing the (T, d) matrix by it divides each "
        "COLUMN j by the length of row j. Keep the dimension: v.norm(dim=1, keepdim=True) is "
        "(T, 1) and divides each row by its own length.",
        compute=lambda v: _rows_divided_by(v, v.norm(dim=1)),
        example=_learner_forgets_keepdim,
    ),
    Mistake(
        name="norm of the whole matrix",
        hint="v.norm() without a dim is the length of the whole matrix, one number for all "
        "tokens, and so is lengths @ lengths.T on the rows' lengths (the sum of their squares). "
        "Each row needs its own length, v.norm(dim=1, keepdim=True), and entry (i, j) the product "
        "of two: lengths * lengths.T, (T, 1) * (1, T) → (T, T).",
        compute=lambda v: _rows_divided_by(v, v.norm()),
        example=lambda vectors: (vectors / vectors.norm()) @ (vectors / vectors.norm()).T,
    ),
    Mistake(
        name="each row with itself",
        hint="Your result pairs each row with itself only, T ones, shape (T,), as "
        "F.cosine_similarity(v, v) does. Every row must meet every other: broadcast them, "
        "F.cosine_similarity(v[:, None, :], v[None, :, :], dim=-1), or normalise the rows and "
        "take unit @ unit.T.",
        compute=lambda v: torch.ones(v.shape[0]),
        example=_learner_compares_each_row_with_itself,
    ),
)


def _learner_takes_the_absolute_value(vectors: torch.Tensor) -> torch.Tensor:
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    return (unit @ unit.T).abs()  # "similarity should not be negative"


def _learner_returns_the_distance(vectors: torch.Tensor) -> torch.Tensor:
    unit = F.normalize(vectors, dim=1)
    return 1 - unit @ unit.T  # the cosine distance of scipy and sklearn


def _learner_returns_the_angle(vectors: torch.Tensor) -> torch.Tensor:
    unit = F.normalize(vectors, dim=1)
    return torch.arccos((unit @ unit.T).clamp(-1, 1))


def _learner_softmaxes_the_rows(vectors: torch.Tensor) -> torch.Tensor:
    unit = vectors / vectors.norm(dim=-1, keepdim=True)
    return F.softmax(unit @ unit.T, dim=1)  # chapter 04's step, too early


def _learner_centres_the_rows(vectors: torch.Tensor) -> torch.Tensor:
    centred = vectors - vectors.mean(dim=1, keepdim=True)  # Pearson's correlation
    unit = centred / centred.norm(dim=1, keepdim=True)
    return unit @ unit.T


def _learner_scales_like_attention(vectors: torch.Tensor) -> torch.Tensor:
    return vectors @ vectors.T / vectors.shape[-1] ** 0.5


def _learner_reduces_over_the_tokens(vectors: torch.Tensor) -> torch.Tensor:
    return F.cosine_similarity(vectors.unsqueeze(1), vectors.unsqueeze(0), dim=1)


def _centred(v: torch.Tensor) -> torch.Tensor:
    return v - v.mean(dim=1, keepdim=True)


# Answers near the cosine but not it, met in the seventh audit: each names what it computes.
MISTAKES += (
    Mistake(
        name="absolute value",
        hint="You took the absolute value: a cosine runs from -1 (opposite directions) to 1 (the "
        "same direction), and its sign is half the story. Drop the .abs().",
        compute=lambda v: reference(v).abs(),
        example=_learner_takes_the_absolute_value,
    ),
    Mistake(
        name="cosine distance",
        hint="You returned the cosine DISTANCE, 1 - cos: 0 for the same direction. The exercise "
        "asks for the similarity itself, unit @ unit.T, 1 on the diagonal.",
        compute=lambda v: 1 - reference(v),
        example=_learner_returns_the_distance,
    ),
    Mistake(
        name="the angle",
        hint="You returned the angle, arccos of the cosine, in radians: return the cosine itself, "
        "unit @ unit.T, without the arccos.",
        compute=lambda v: torch.arccos(reference(v).clamp(-1, 1)),
        example=_learner_returns_the_angle,
    ),
    Mistake(
        name="softmax of the similarities",
        hint="You applied a softmax to the similarities: that turns scores into attention weights "
        "(chapter 04). The cosine similarity is unit @ unit.T, with no softmax.",
        compute=lambda v: torch.softmax(reference(v), dim=-1),
        example=_learner_softmaxes_the_rows,
    ),
    Mistake(
        name="rows centred first",
        hint="You subtracted each row's mean before normalising: that is Pearson's correlation, "
        "not the cosine. Divide the raw rows by their lengths, without centring them.",
        compute=lambda v: reference(_centred(v)),
        example=_learner_centres_the_rows,
    ),
    Mistake(
        name="scaled by √d",
        hint="You divided the dot products by √d, as attention does (chapter 04): that still "
        "grows with the vectors' lengths. Divide by the two lengths instead, |a|·|b|: normalise "
        "the rows, then unit @ unit.T.",
        compute=lambda v: v @ v.T / v.shape[-1] ** 0.5,
        example=_learner_scales_like_attention,
    ),
    Mistake(
        name="F.cosine_similarity over the tokens",
        hint="F.cosine_similarity(v[:, None], v[None], dim=0 or dim=1) compares along a TOKENS "
        "axis of the (T, T, d) broadcast: it gives (T, d). Compare along the features, the last "
        "axis: dim=-1.",
        compute=lambda v: F.cosine_similarity(v[:, None, :], v[None, :, :], dim=1),
        example=_learner_reduces_over_the_tokens,
    ),
)


MISTAKES += MORE_MISTAKES  # met in round 41's read: embeddings_more
MISTAKES += SLIPS  # met in the round-43a battery: embeddings_slips
MISTAKES += ROUND_45B  # a scale shared by every row, or cosines rescaled: embeddings_more
MISTAKES += ROUND_51  # the example's 4 tokens or 3 features hard-coded: embeddings_round51


@learner_check
def check_cosine_similarity(learner_fn: Callable) -> Result:
    """Exercise 01: ``fn(vectors (T, d)) → (T, T)``, the cosine similarity of every pair of rows.

    A right answer that changes its argument in place still passes (its numbers are right), with
    a warning added to the message (by the harness, as for every exercise)."""
    cases = _cases()
    result = check_function(learner_fn, reference, cases, name="cosine_similarity", mistakes=MISTAKES)
    return note_built_ins(result, learner_fn, cases, asked_for.COSINE_SIMILARITY)


EXERCISES = (
    Exercise(
        name="cosine_similarity",
        chapter="01",
        check=check_cosine_similarity,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
