"""Exercise 01: the cosine similarity of every pair of token vectors.

``fn(vectors (T, d)) → (T, T)``, entry (i, j) the cosine of the angle between rows i and j.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..embeddings import similarity_matrix
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


# lengths * lengths with both (T, 1), or both (T,): each entry divided by one length squared.
_SQUARED_BY_BROADCASTING = (
    "You divided entry (i, j) by one vector's length squared, |a|² or |b|², not by |a|·|b|: "
    "lengths * lengths multiplies each length by itself when both have the same shape. Pair row "
    "i's length with row j's: lengths * lengths.T, (T, 1) * (1, T) → (T, T), or normalise each "
    "row first and take unit @ unit.T."
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
        hint="You normalised along the wrong dimension: v.norm(dim=0) is the length of each "
        "column (one feature across tokens). Each token is a row: use dim=1 (or -1).",
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
        hint=_SQUARED_BY_BROADCASTING,
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
        "tokens. Each row needs its own length: v.norm(dim=1, keepdim=True).",
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


@learner_check
def check_cosine_similarity(learner_fn: Callable) -> Result:
    """Exercise 01: ``fn(vectors (T, d)) → (T, T)``, the cosine similarity of every pair of rows."""
    return check_function(learner_fn, reference, _cases(), name="cosine_similarity", mistakes=MISTAKES)


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
