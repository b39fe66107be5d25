"""More of ``embeddings``'s catalogue for the cosine-similarity exercise: the slips met in the
round-43a battery (other lengths than the Euclidean one, a cosine clipped, shifted or rounded,
the products averaged), each with its hint and a learner-style example."""

from __future__ import annotations

import torch

from ..embeddings import similarity_matrix
from .describe import same
from .harness import Mistake


def _reference(v: torch.Tensor) -> torch.Tensor:
    return similarity_matrix(v, "cosine")  # (T, T)


def _divided_by(v: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The products of the rows each divided by its own ``lengths`` (T, 1): (T, T)."""
    unit = v / lengths
    return unit @ unit.T


def _root_of_products(v: torch.Tensor) -> torch.Tensor:
    n = v.norm(dim=1)  # (T,)
    return v @ v.T / torch.outer(n, n).sqrt()


def _std_lengths(fn, case, got) -> bool:
    (v,) = case
    return any(same(got, _divided_by(v, v.std(dim=1, keepdim=True, correction=c))) for c in (0, 1))


def _rounded(fn, case, got) -> bool:
    """Within half a unit of the k-th decimal of the right matrix, every entry a multiple of
    10^-k, for k = 0 … 4: rounded (for display) before it was returned."""
    (v,) = case
    want = _reference(v)
    if not isinstance(got, torch.Tensor) or got.shape != want.shape or not got.is_floating_point():
        return False
    if same(got, want):
        return False
    got, want = got.double(), want.double()
    for k in range(5):
        scaled = got * 10**k
        on_grid = bool(((scaled - scaled.round()).abs() < 1e-3).all())
        if on_grid and bool(((got - want).abs() <= 0.5 * 10**-k + 1e-5).all()):
            return True
    return False


def _learner_root_of_the_products(vectors):
    n = vectors.norm(dim=1)
    return vectors @ vectors.T / (n[:, None] * n[None, :]) ** 0.5


def _learner_max_norm(vectors):
    unit = vectors / vectors.abs().amax(dim=1, keepdim=True)  # "scale each row to at most 1"
    return unit @ unit.T


def _learner_clips(vectors):
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    return torch.relu(unit @ unit.T)


def _learner_shifts(vectors):
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    return 0.5 * (1 + unit @ unit.T)


def _learner_rounds(vectors):
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    return torch.round(unit @ unit.T * 1000) / 1000


def _learner_averages(vectors):
    n = vectors.norm(dim=1, keepdim=True)
    return torch.einsum("id,jd->ij", vectors, vectors) / vectors.shape[1] / (n * n.T)


def _learner_standardises(vectors):
    unit = vectors / vectors.std(dim=1, unbiased=False, keepdim=True)
    return unit @ unit.T


_RIGHT = "unit = vectors / vectors.norm(dim=1, keepdim=True), then unit @ unit.T"

SLIPS = (
    Mistake(
        name="square root of the length product",
        hint="You divided the dot products by √(|a|·|b|): the cosine divides by the product of "
        f"the two lengths itself, |a|·|b|, no square root. {_RIGHT}.",
        compute=_root_of_products,
        example=_learner_root_of_the_products,
    ),
    Mistake(
        name="max-norm lengths",
        hint="You divided each row by its largest entry (the max-norm): its largest entry is then "
        "1, but its length is not. The cosine divides by the Euclidean length, √(Σ x²): "
        f"{_RIGHT}.",
        compute=lambda v: _divided_by(v, v.abs().amax(dim=1, keepdim=True)),
        example=_learner_max_norm,
    ),
    Mistake(
        name="standard deviations for lengths",
        hint="You divided each row by its standard deviation (.std()), not by its length: "
        "std = √(Σ (x - mean)² / n) is a spread, not √(Σ x²). "
        f"{_RIGHT}.",
        compute=None,
        recognise=_std_lengths,
        example=_learner_standardises,
    ),
    Mistake(
        name="negative cosines clipped",
        hint="Your negative cosines became 0 (a clamp(0, 1), relu, or max with 0): a cosine runs "
        "from -1 (opposite directions) to 1, and the negative ones are information. Return "
        "unit @ unit.T as it is (a clamp(-1, 1) against rounding is fine).",
        compute=lambda v: _reference(v).clamp(min=0),
        example=_learner_clips,
    ),
    Mistake(
        name="mapped to 0 … 1",
        hint="You mapped the cosines from [-1, 1] onto [0, 1], (cos + 1) / 2: the exercise "
        "wants the cosine itself, unit @ unit.T, with -1 for opposite directions.",
        compute=lambda v: (_reference(v) + 1) / 2,
        example=_learner_shifts,
    ),
    Mistake(
        name="rounded",
        hint="Your similarities are right, but rounded (round(decimals=…), or * 1000 then "
        "round): round only when you print them, and return the full-precision matrix.",
        compute=None,
        recognise=_rounded,
        example=_learner_rounds,
    ),
    Mistake(
        name="mean of the products",
        hint="Your matrix is the cosines divided by d: you took the MEAN of the element-wise "
        "products (or divided by the width), where the dot product is their SUM: "
        "(a * b).sum(-1), or a @ b.",
        compute=lambda v: _reference(v) / v.shape[1],
        example=_learner_averages,
    ),
)


def _learner_one_minus_distance(vectors):
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    return 1 - (unit[:, None, :] - unit[None, :, :]).norm(dim=-1)


SLIPS += (
    Mistake(
        name="one minus the distances",
        hint="You returned 1 - |u - v| for the unit rows: a distance is not the cosine's "
        "complement. For unit vectors |u - v|² = 2 - 2·cos, so cos = 1 - |u - v|² / 2; simpler, "
        f"{_RIGHT}.",
        compute=lambda v: 1 - torch.cdist(v / v.norm(dim=1, keepdim=True), v / v.norm(dim=1, keepdim=True)),
        example=_learner_one_minus_distance,
    ),
)


def _learner_squares(vectors):
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    return (unit @ unit.T).pow(2)  # "similarities should be positive"


SLIPS += (
    Mistake(
        name="cosines squared",
        hint="You squared the cosines: -0.6 (nearly opposite) and +0.6 then look alike, both "
        f"0.36. A cosine keeps its sign: {_RIGHT}.",
        compute=lambda v: _reference(v) ** 2,
        example=_learner_squares,
    ),
)
