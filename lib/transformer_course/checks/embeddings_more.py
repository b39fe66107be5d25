"""More of ``embeddings``'s catalogue for the cosine-similarity exercise: the wrong answers
met in round 41's read as a learner. Loops into ``torch.zeros(T, T)`` that leave entries at 0,
other formulas near the cosine, and a function that ignores its argument."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..embeddings import similarity_matrix
from .harness import Mistake


def reference(v: torch.Tensor) -> torch.Tensor:
    return similarity_matrix(v, "cosine")


def _l1_rows(vectors: torch.Tensor) -> torch.Tensor:
    unit = vectors / vectors.abs().sum(dim=1, keepdim=True)  # rows of L1 length 1, not length 1
    return unit @ unit.T


def _with_zeros(v: torch.Tensor, keep: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """The right matrix, 0 wherever ``keep(ref)`` (a 0/1 mask) is 0: what loops that skip
    entries of a torch.zeros(T, T) leave."""
    ref = reference(v)
    return ref * keep(ref)


def _without_last(ref: torch.Tensor) -> torch.Tensor:
    keep = torch.ones_like(ref)
    keep[-1, :] = keep[:, -1] = 0
    return keep


def _without_first(ref: torch.Tensor) -> torch.Tensor:
    keep = torch.ones_like(ref)
    keep[0, :] = keep[:, 0] = 0
    return keep


def _learner_loops(vectors: torch.Tensor, rows: Callable[[int], range], cols: Callable[[int, int], range]):
    """A learner's double loop into torch.zeros(T, T), over ``rows(T)`` and ``cols(i, T)``."""
    t = vectors.shape[0]
    out = torch.zeros(t, t)
    for i in rows(t):
        for j in cols(i, t):
            out[i, j] = torch.dot(vectors[i], vectors[j]) / (vectors[i].norm() * vectors[j].norm())
    return out


def _learner_skips_the_diagonal(vectors: torch.Tensor) -> torch.Tensor:
    t = vectors.shape[0]
    out = torch.zeros(t, t)
    for i in range(t):
        for j in range(i + 1, t):  # each pair once, mirrored; j = i never comes
            out[i, j] = out[j, i] = F.cosine_similarity(vectors[i], vectors[j], dim=0)
    return out


def _learner_dots_a_matrix(vectors: torch.Tensor) -> torch.Tensor:
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    return torch.dot(unit, unit)  # torch.dot wants two 1-D vectors


# Stands for the chapter's `vectors` (4 tokens, d = 3) in the example below.
NOTEBOOK_VECTORS = torch.tensor([[0.5, 1.4, 0.4], [-0.6, -0.5, 1.9], [0.7, 1.5, 3.4], [-0.2, -2.2, 0.7]])


def _learner_reads_a_notebook_variable(v: torch.Tensor) -> torch.Tensor:
    unit = NOTEBOOK_VECTORS / NOTEBOOK_VECTORS.norm(dim=1, keepdim=True)  # not the argument v
    return unit @ unit.T


def _same_whatever_the_input(fn: Callable, case: tuple, got: object) -> bool:
    """True when the learner's function hands back the same matrix for other vectors of the
    same shape: it reads a notebook variable, not its argument."""
    (v,) = case
    other = torch.randn(v.shape, generator=torch.Generator().manual_seed(41), dtype=v.dtype)
    if not isinstance(got, torch.Tensor) or torch.allclose(reference(other), reference(v), atol=1e-3):
        return False
    torch.default_generator.manual_seed(41)  # (forked by the check) a function that draws differs
    again = fn(other)
    return isinstance(again, torch.Tensor) and again.shape == got.shape and torch.equal(again, got)


def _distances(v: torch.Tensor) -> torch.Tensor:
    return (v[:, None, :] - v[None, :, :]).norm(dim=-1)  # (T, T): |a - b| for every pair


def _lengths(v: torch.Tensor, p: float = 2) -> torch.Tensor:
    return v.norm(p=p, dim=1, keepdim=True)  # (T, 1)


def _one_factor(got: object, base: torch.Tensor, atol: float = 1e-4) -> float | None:
    """The number c ≠ 1 with got = c · base (least squares), or None where no single number fits."""
    if not isinstance(got, torch.Tensor) or got.shape != base.shape or not got.is_floating_point():
        return None
    got, base = got.detach().double(), base.detach().double()
    c = float((got * base).sum() / (base * base).sum().clamp_min(1e-300))
    if not math.isfinite(c) or abs(c - 1) < 1e-3 or c < 1e-6:  # a negative c is no scale: unnamed
        return None
    return c if torch.allclose(got, c * base, atol=atol * max(1.0, abs(c)), rtol=1e-4) else None


def _learner_divides_by_the_longest(vectors: torch.Tensor) -> torch.Tensor:
    scaled = vectors / vectors.norm(dim=1).max()  # one length, the longest, for every row
    return scaled @ scaled.T


def _learner_gives_percentages(vectors: torch.Tensor) -> torch.Tensor:
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    return 100 * unit @ unit.T  # "similarity in %"


_ONE_LENGTH = (
    "Your matrix is the raw dot products times one number: every row was divided by the SAME "
    "length (the longest row's, their mean, a constant such as d). The cosine divides each pair "
    "by its own two lengths: unit = vectors / vectors.norm(dim=1, keepdim=True), then unit @ unit.T."
)
_COSINES_SCALED = (
    "Your matrix is the cosines times one number (×100 for a percentage, or another scale): the "
    "cosine itself runs from -1 to 1, with 1 on the diagonal. Return unit @ unit.T as it is."
)

_STOPS_SHORT = (
    "Your last row and column are 0: your loops stop one token short. range(T) already runs over "
    "every row, 0 to T - 1; range(T - 1) leaves the last token out."
)
_HALF_FILLED = (
    "Only half of your matrix is filled (j ≥ i, or j ≤ i): the other half stays 0. cos(a, b) = "
    "cos(b, a), so you may compute each pair once, but then write it in both places, "
    "out[i, j] = out[j, i] = …, or let both loops run over every row."
)
_DISTANCES = (
    "You computed distances between the vectors (torch.cdist, or |a - b|): 0 for equal vectors, "
    "larger the further apart they are. The cosine measures the angle, a·b / (|a| |b|), 1 for "
    "the same direction: normalise the rows, then unit @ unit.T."
)
_NORMALISED_AFTER = (
    "You normalised after the product: F.normalize(v @ v.T) makes each row of DOT PRODUCTS "
    "length 1, which is no cosine (its diagonal is not 1). Normalise the token vectors first, "
    "unit = v / v.norm(dim=1, keepdim=True), then take unit @ unit.T."
)
_PRECEDENCE = (
    "Python reads dots / lengths * lengths.T as (dots / lengths) * lengths.T: you divided by one "
    "row's length, then MULTIPLIED by the other's. Put the product in brackets: "
    "dots / (lengths * lengths.T)."
)

MORE_MISTAKES = (
    Mistake(
        name="loops stop one short",
        hint=_STOPS_SHORT,
        compute=lambda v: _with_zeros(v, _without_last),
        example=lambda vectors: _learner_loops(vectors, lambda t: range(t - 1), lambda i, t: range(t - 1)),
    ),
    Mistake(
        name="loops start at 1",
        hint="Your first row and column are 0: your loops start at 1. Python counts from 0: "
        "range(T) runs over rows 0 to T - 1, and row 0 is a token like the others.",
        compute=lambda v: _with_zeros(v, _without_first),
        example=lambda vectors: _learner_loops(vectors, lambda t: range(1, t), lambda i, t: range(1, t)),
    ),
    Mistake(
        name="upper half only",
        hint=_HALF_FILLED,
        compute=lambda v: torch.triu(reference(v)),
        example=lambda vectors: _learner_loops(vectors, range, lambda i, t: range(i, t)),
    ),
    Mistake(
        name="lower half only",
        hint=_HALF_FILLED,
        compute=lambda v: torch.tril(reference(v)),
        example=lambda vectors: _learner_loops(vectors, range, lambda i, t: range(i + 1)),
    ),
    Mistake(
        name="upper half only, without the diagonal",
        hint=_HALF_FILLED,
        compute=lambda v: torch.triu(reference(v), diagonal=1),
        example=lambda vectors: _learner_loops(vectors, range, lambda i, t: range(i + 1, t)),
    ),
    Mistake(
        name="diagonal left at 0",
        hint="Your diagonal is 0: each row's cosine with itself is 1 (a vector points its own way). "
        "Your loop over j skips j = i: start it at i (or 0), not at i + 1.",
        compute=lambda v: _with_zeros(v, lambda ref: 1 - torch.eye(len(ref))),
        example=_learner_skips_the_diagonal,
    ),
    Mistake(
        name="sum of the lengths",
        hint="You divided by |a| + |b|, the SUM of the two lengths: cosine divides by their "
        "PRODUCT, |a|·|b|, that is lengths * lengths.T, (T, 1) * (1, T) → (T, T).",
        compute=lambda v: v @ v.T / (_lengths(v) + _lengths(v).T),
        example=lambda vectors: vectors @ vectors.T / (vectors.norm(dim=1)[:, None] + vectors.norm(dim=1)),
    ),
    Mistake(
        name="L1 lengths",
        hint="You divided each row by the sum of its absolute values (the L1 norm: .abs().sum(), or "
        "norm(p=1)), so the rows do not get length 1. A vector's length is √(Σ aᵢ²): "
        "v.norm(dim=1, keepdim=True), whose default is p=2.",
        compute=lambda v: (v / _lengths(v, 1)) @ (v / _lengths(v, 1)).T,
        example=lambda vectors: _l1_rows(vectors),
    ),
    Mistake(
        name="Euclidean distances",
        hint=_DISTANCES,
        compute=_distances,
        example=lambda vectors: torch.cdist(vectors, vectors),
    ),
    Mistake(
        name="squared distances",
        hint=_DISTANCES,
        compute=lambda v: _distances(v) ** 2,
        example=lambda vectors: ((vectors[:, None] - vectors[None]) ** 2).sum(dim=-1),
    ),
    Mistake(
        name="distances of the unit rows",
        hint=_DISTANCES,
        compute=lambda v: _distances(F.normalize(v, dim=1)),
        example=lambda vectors: torch.cdist(F.normalize(vectors, dim=1), F.normalize(vectors, dim=1)),
    ),
    Mistake(
        name="dot products normalised by rows",
        hint=_NORMALISED_AFTER,
        compute=lambda v: F.normalize(v @ v.T, dim=1),
        example=lambda vectors: (vectors @ vectors.T) / (vectors @ vectors.T).norm(dim=1, keepdim=True),
    ),
    Mistake(
        name="dot products normalised by columns",
        hint=_NORMALISED_AFTER,
        compute=lambda v: F.normalize(v @ v.T, dim=0),
        example=lambda vectors: F.normalize(vectors @ vectors.T, dim=0),
    ),
    Mistake(
        name="a / b * c",
        hint=_PRECEDENCE,
        compute=lambda v: v @ v.T / _lengths(v) * _lengths(v).T,
        example=lambda vectors: vectors @ vectors.T / vectors.norm(dim=1, keepdim=True) * vectors.norm(dim=1),
    ),
    Mistake(
        name="a / b * c, by columns",
        hint=_PRECEDENCE,
        compute=lambda v: v @ v.T / _lengths(v).T * _lengths(v),
        example=lambda vectors: vectors @ vectors.T / vectors.norm(dim=1) * vectors.norm(dim=1)[:, None],
    ),
    Mistake(
        name="torch.dot on the matrix",
        hint="torch.dot multiplies two 1-D vectors only, and vectors is 2-D, (T, d). Every pair of "
        "rows at once is a matrix product, unit @ unit.T; torch.dot(a, b) fits inside a loop, on two "
        "rows a = vectors[i] and b = vectors[j].",
        compute=None,
        error=r"1D tensors expected, but got",
        example=_learner_dots_a_matrix,
    ),
    # Last: the other mistakes name what a function did with its argument; this one, that it
    # did nothing with it.
    Mistake(
        name="a notebook variable, not the argument",
        hint="Your result stays the same when the vectors change: the checker passed other vectors "
        "of the same shape and got the same matrix back. Your function does not compute from the "
        "values of its argument: does it read a notebook variable (the chapter's vectors, unit or "
        "table, or a tensor from another cell), or return a placeholder? Compute from the argument "
        "alone.",
        compute=None,
        recognise=_same_whatever_the_input,
        example=_learner_reads_a_notebook_variable,
    ),
)


# --- Round 43: another right answer, in a style not registered before ---
def einsum_over_rsqrt_norms(vectors):
    """Cosine similarities as dot products scaled by 1/|a| and 1/|b| (rsqrt of the squared norms)."""
    inv = (vectors * vectors).sum(-1).rsqrt()  # (T,)
    return torch.einsum("id,jd->ij", vectors, vectors) * inv[:, None] * inv[None, :]


# --- Round 45b: one scale for every row, and the right cosines rescaled (after the slips) ---
ROUND_45B = (
    Mistake(
        name="one length for every row",
        hint=_ONE_LENGTH,
        compute=None,
        recognise=lambda fn, case, got: _one_factor(got, case[0] @ case[0].T) is not None,
        example=_learner_divides_by_the_longest,
    ),
    Mistake(
        name="cosines times a number",
        hint=_COSINES_SCALED,
        compute=None,
        recognise=lambda fn, case, got: _one_factor(got, reference(case[0])) is not None,
        example=_learner_gives_percentages,
    ),
)
