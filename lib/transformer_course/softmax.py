"""Scores → weights: softmax done safely, how peaked a row is, and why attention divides by √d_k.

Softmax turns a row of any real numbers into positive weights that sum to 1. Computed
naively, exp overflows for scores above ~88 (float32); subtracting the row's maximum
first gives the same weights and never overflows.

Dot products of random vectors with unit-variance entries have variance d_k, so without
the 1/√d_k factor rows get more and more extreme as d_k grows: softmax puts nearly all
weight on one key (it *saturates*) and its gradient vanishes. ``saturation_experiment``
measures that in numbers the chapter plots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from . import _validate
from .attention import attention_scores


def naive_softmax(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """exp(x) / Σ exp(x) along ``dim``, as written on paper. Overflows (NaN) for large scores.

    Kept only to show what goes wrong; use ``stable_softmax``.
    """
    _check_rows("scores", scores, dim)
    e = scores.exp()
    return e / e.sum(dim=dim, keepdim=True)


def stable_softmax(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax along ``dim`` (default: the last, one row per query), any shape (..., Lk).

    Subtracting each row's maximum changes nothing mathematically (softmax(x) = softmax(x - c)
    for any constant c), but the largest exponent becomes exp(0) = 1, so nothing overflows.
    A row of only -inf (every key masked) gives zeros, as PyTorch's fused attention does.
    float16 and bfloat16 scores are computed in float32 and rounded once at the end, as
    ``torch.softmax`` does (rounding each step gave weights a few units in the last place off).
    """
    _check_rows("scores", scores, dim)
    if scores.shape[dim] == 0:
        return scores.clone()  # rows of no scores: nothing to normalise (as torch.softmax)
    x = scores.float() if scores.dtype in (torch.float16, torch.bfloat16) else scores
    row_max = x.amax(dim=dim, keepdim=True)
    # Only a row of nothing but -inf shifts by 0 instead (its exponents are then all 0): a +inf
    # or a NaN score makes its row NaN, as in torch.softmax (shifted by 0, +inf gave [nan, 0, 0]).
    row_max = torch.where(row_max == float("-inf"), torch.zeros_like(row_max), row_max)
    e = (x - row_max).exp()
    total = e.sum(dim=dim, keepdim=True)
    # Only a row of nothing but -inf has total 0 (zeros out); a NaN total (a NaN score) must
    # divide, so that the row is NaN as in torch.softmax, not its raw exponentials (weights > 1).
    return (e / torch.where(total == 0, torch.ones_like(total), total)).to(scores.dtype)


def entropy(weights: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Entropy in nats of each distribution along ``dim``: (..., Lk) → (...).

    0 when all weight sits on one key; log(Lk) when it is spread evenly (0 · log 0 = 0).
    """
    _check_rows("weights", weights, dim)
    # Weights are a distribution: a negative one has no log, NaN would make the entropy NaN.
    # (A meta tensor has no values to check: it only carries the shape through.)
    if not weights.is_meta:
        _validate.finite_tensor("weights", weights, at_least=0)
    # log(1) = 0 where a weight is 0, not log(0) = -inf masked afterwards: the gradient of that
    # masked -inf is 0 · inf = NaN, which backward spreads to every score of the row (a causal
    # mask's zeros made an entropy penalty's gradients NaN); here it is 0, as 0 · log 0 = 0 is.
    logs = torch.where(weights > 0, weights, torch.ones_like(weights)).log()
    return -(weights * logs).sum(dim=dim)


def softmax_jacobian_norm(weights: torch.Tensor) -> torch.Tensor:
    """Size of softmax's gradient: Frobenius norm of ∂weights/∂scores for each row.

    weights (..., Lk) → (...). The Jacobian of softmax is diag(p) − p pᵀ; its norm is
    √(Σ p_i² − 2 Σ p_i³ + (Σ p_i²)²), which goes to 0 as p approaches one-hot.
    """
    _check_rows("weights", weights, -1)
    _check_probabilities("weights", weights)
    # In float64: near one-hot the three terms nearly cancel (1 - 2 + 1), and in float32 what
    # is left of a gradient of 0.002 was 0.2 % off (chapter 04's row of gap 7). MPS has no
    # float64: there the sums are taken on the CPU.
    p = weights.to("cpu" if weights.device.type == "mps" else weights.device, torch.float64)
    s2 = (p**2).sum(dim=-1)
    s3 = (p**3).sum(dim=-1)
    return (s2 - 2 * s3 + s2**2).clamp_min(0).sqrt().to(weights.device, weights.dtype)


def _check_probabilities(name: str, p: torch.Tensor) -> None:
    """Rows of softmax weights: each value in [0, 1], each row summing to 1 (or 0: a row whose
    keys were all masked), within what float16 rounding leaves. The Jacobian formula holds
    for softmax outputs only: scores would give a number that means nothing."""
    if p.is_meta or p.numel() == 0:  # no values to check
        return
    _validate.finite_tensor(name, p, at_least=0)
    if bool((p > 1).any()):
        raise ValueError(f"{name} must be probabilities in [0, 1] (softmax weights), got {float(p.max()):g}")
    sums = p.double().sum(dim=-1)
    bad = ((sums - 1).abs() > 1e-2) & (sums != 0)
    if bool(bad.any()):
        where = tuple(int(i) for i in bad.nonzero()[0])
        at = f" at {where}" if where else ""  # a 1-D tensor is one row
        raise ValueError(
            f"{name} must be rows of softmax weights, each summing to 1, got a row{at} "
            f"summing to {float(sums[where]):g}"
        )


def _check_rows(name: str, x: torch.Tensor, dim: int) -> None:
    """A floating tensor of at least 1 dimension, and ``dim`` one of its dimensions."""
    _validate.tensor(name, x, floating=True)
    if x.dim() == 0:
        raise ValueError(f"{name} must have at least 1 dimension, got a 0-D tensor")
    _validate.dim_index("dim", dim, x.dim())


@dataclass(frozen=True)
class SaturationResult:
    """What ``saturation_experiment`` measured; every tensor has one entry per d_k."""

    d_k: tuple[int, ...]  # the dimensions tried
    length: int  # keys per row (Lk); uniform weights have entropy log(length)
    score_var: torch.Tensor  # variance of the raw dot products q·k (≈ d_k)
    scaled_score_var: torch.Tensor  # variance after dividing by √d_k (≈ 1)
    max_weight: torch.Tensor  # mean largest weight per row, unscaled scores
    scaled_max_weight: torch.Tensor
    entropy: torch.Tensor  # mean row entropy (nats), unscaled scores
    scaled_entropy: torch.Tensor
    grad_norm: torch.Tensor  # mean softmax Jacobian norm per row, unscaled scores
    scaled_grad_norm: torch.Tensor


def saturation_experiment(
    d_ks: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
    *,
    length: int = 16,
    rows: int = 256,
    seed: int = 0,
) -> SaturationResult:
    """Random q, k with N(0, 1) entries, for each d_k: score variance, max weight, entropy, gradient.

    For each d_k, ``rows`` queries each attend over ``length`` keys, with and without the
    1/√d_k scaling. Deterministic for a given seed.
    """
    length = _validate.positive_int("length", length)
    rows = _validate.positive_int("rows", rows)
    seed = _validate.seed("seed", seed)  # an int: manual_seed refuses numpy's ints
    d_ks = tuple(_validate.items("d_ks", d_ks, "a list of positive ints"))
    if not d_ks:
        raise ValueError("d_ks must list at least one dimension, got an empty sequence")
    d_ks = tuple(_validate.positive_int("d_ks entries", d) for d in d_ks)
    # The keys (rows, length, d) and queries (rows, 1, d) of the widest d_k, in float64,
    # checked before any is drawn.
    _validate.fits_in_memory("rows × (length + 1) × max(d_ks)", rows * (length + 1) * max(d_ks), bytes_each=8)
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, list[float]] = {
        k: []
        for k in (
            "score_var",
            "scaled_score_var",
            "max_weight",
            "scaled_max_weight",
            "entropy",
            "scaled_entropy",
            "grad_norm",
            "scaled_grad_norm",
        )
    }
    for d in d_ks:
        q = torch.randn(rows, 1, d, generator=gen, dtype=torch.float64)
        k = torch.randn(rows, length, d, generator=gen, dtype=torch.float64)
        raw = attention_scores(q, k, scale=1.0)[:, 0]  # (rows, length)
        for prefix, scores in (("", raw), ("scaled_", raw / math.sqrt(d))):
            w = stable_softmax(scores)
            out[prefix + "score_var"].append(float(scores.var()))
            out[prefix + "max_weight"].append(float(w.amax(dim=-1).mean()))
            out[prefix + "entropy"].append(float(entropy(w).mean()))
            out[prefix + "grad_norm"].append(float(softmax_jacobian_norm(w).mean()))
    return SaturationResult(d_k=d_ks, length=length, **{k: torch.tensor(v) for k, v in out.items()})
