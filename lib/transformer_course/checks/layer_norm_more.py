"""More of ``layer_norm``'s catalogue: the wrong answers met in the seventh audit, each
with what it computes, its hint and a learner-style example.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .harness import Mistake


def _stats(x):
    """Each vector's mean and variance (divided by d), over the last dimension."""
    var, mean = torch.var_mean(x, dim=-1, correction=0, keepdim=True)
    return mean, var


def _spread_by(spread: Callable) -> Callable:
    """The layer norm with ``spread(x, mean, var, eps)`` in place of √(var + eps)."""

    def norm(x, weight, bias, eps):
        mean, var = _stats(x)
        return (x - mean) / spread(x, mean, var, eps) * weight + bias

    return norm


def _over_the_batch(x, weight, bias, eps):
    var, mean = torch.var_mean(x, dim=0, correction=0, keepdim=True)
    return (x - mean) / (var + eps).sqrt() * weight + bias


def _learner_takes_the_unit_vector(x, weight, bias, eps):
    centred = x - x.mean(dim=-1, keepdim=True)
    return F.normalize(centred, dim=-1) * weight + bias  # length 1, not variance 1


def _learner_normalises_over_the_batch(x, weight, bias, eps):
    mean = x.mean(dim=0, keepdim=True)  # batch norm's axis
    var = x.var(dim=0, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def _learner_forgets_to_square_the_mean(x, weight, bias, eps):
    mean = x.mean(dim=-1, keepdim=True)
    var = (x**2).mean(dim=-1, keepdim=True) - mean  # meant - mean**2
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def _learner_multiplies_by_eps(x, weight, bias, eps):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var * eps) * weight + bias


def _learner_takes_the_mean_distance(x, weight, bias, eps):
    centred = x - x.mean(dim=-1, keepdim=True)
    spread = centred.abs().mean(dim=-1, keepdim=True)  # mean |x - mean|, not the std
    return centred / (spread + eps) * weight + bias


def _learner_adds_the_weight(x, weight, bias, eps):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) + weight + bias


def _learner_adds_the_root_of_eps(x, weight, bias, eps):
    mean = x.mean(dim=-1, keepdim=True)
    std = x.std(dim=-1, unbiased=False, keepdim=True)
    return (x - mean) / (std + eps**0.5) * weight + bias  # √(a + b) is not √a + √b


def _added(x, weight, bias, eps):
    mean, var = _stats(x)
    return (x - mean) / (var + eps).sqrt() + weight + bias


# Answers met in the seventh audit: each names what it computes.
MORE_MISTAKES = (
    Mistake(
        name="unit length, not unit variance",
        hint="You scaled each centred vector to length 1 (F.normalize, or ÷ its norm): layer "
        "norm scales it to VARIANCE 1, dividing by √(mean of squares + eps), which is √d times "
        "smaller than the norm.",
        compute=_spread_by(lambda x, mean, var, eps: (x - mean).norm(dim=-1, keepdim=True).clamp_min(1e-12)),
        example=_learner_takes_the_unit_vector,
    ),
    Mistake(
        name="over the batch",
        hint="Your statistics run over dim=0, the batch: that is batch norm. Layer norm takes "
        "one mean and one variance per token, over its features: dim=-1, keepdim=True.",
        compute=_over_the_batch,
        example=_learner_normalises_over_the_batch,
    ),
    Mistake(
        name="E[x²] − mean, unsquared",
        hint="Your variance subtracts the mean, not the mean SQUARED: var = E[x²] − E[x]². "
        "Simpler and more precise: ((x - mean) ** 2).mean(dim=-1, keepdim=True).",
        compute=_spread_by(
            lambda x, mean, var, eps: (x.pow(2).mean(dim=-1, keepdim=True) - mean + eps).sqrt()
        ),
        example=_learner_forgets_to_square_the_mean,
    ),
    Mistake(
        name="eps multiplied",
        hint="You multiplied the variance by eps: eps is ADDED to it, √(var + eps), a small "
        "number that keeps the division safe when a vector is (almost) constant.",
        compute=_spread_by(lambda x, mean, var, eps: (var * eps).sqrt()),
        example=_learner_multiplies_by_eps,
    ),
    Mistake(
        name="mean absolute deviation",
        hint="You divided by the mean distance from the mean, mean(|x - mean|): layer norm "
        "divides by the standard deviation, √(mean((x - mean)²) + eps).",
        compute=_spread_by(lambda x, mean, var, eps: (x - mean).abs().mean(dim=-1, keepdim=True) + eps),
        example=_learner_takes_the_mean_distance,
    ),
    Mistake(
        name="weight added",
        hint="You ADDED weight: it is the scale, γ, so multiply by it and add only the bias: "
        "x̂ * weight + bias.",
        compute=_added,
        example=_learner_adds_the_weight,
    ),
    Mistake(
        name="√eps added to the std",
        hint="You added √eps to the standard deviation: √(var + eps) is not √var + √eps. "
        "Add eps under the root: torch.sqrt(var + eps).",
        compute=_spread_by(lambda x, mean, var, eps: var.sqrt() + eps**0.5),
        example=_learner_adds_the_root_of_eps,
    ),
)


# --- Round 45b: batch norm's statistics, Gemma's 1 + weight, the affine part put first ---


def _normalised(x, eps, dims=(-1,)):
    var, mean = torch.var_mean(x, dim=dims, correction=0, keepdim=True)
    return (x - mean) / (var + eps).sqrt()


def _over_every_token(x, weight, bias, eps):
    """One mean and variance per FEATURE, over every token of every sentence: batch norm."""
    return _normalised(x, eps, dims=tuple(range(x.dim() - 1))) * weight + bias


def _learner_uses_batch_norm(x, weight, bias, eps):
    flat = x.reshape(-1, x.shape[-1])  # (B·L, d): every token a row, as nn.BatchNorm1d wants
    out = F.batch_norm(flat, None, None, weight, bias, training=True, eps=eps)
    return out.reshape(x.shape)


def _learner_scales_by_one_plus_weight(x, weight, bias, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * (1 + weight) + bias  # as Gemma's RMSNorm stores it


def _learner_scales_then_normalises(x, weight, bias, eps):
    y = x * weight + bias  # the learned scale and shift first
    mean = y.mean(-1, keepdim=True)
    return (y - mean) / torch.sqrt(y.var(-1, unbiased=False, keepdim=True) + eps)


ROUND_45B = (
    Mistake(
        name="batch norm over every token",
        hint="Your statistics are one per FEATURE, taken over every token of every sentence "
        "(F.batch_norm, or a mean over dim=(0, 1)): that is batch norm. Layer norm takes one mean "
        "and one variance per token, over its own features: x.mean(dim=-1, keepdim=True).",
        compute=_over_every_token,
        example=_learner_uses_batch_norm,
    ),
    Mistake(
        name="scaled by 1 + weight",
        hint="You multiplied by 1 + weight (as Gemma's RMSNorm stores its scale): here weight IS "
        "the scale, γ, as in nn.LayerNorm, so multiply by weight itself: x̂ * weight + bias.",
        compute=lambda x, weight, bias, eps: _normalised(x, eps) * (1 + weight) + bias,
        example=_learner_scales_by_one_plus_weight,
    ),
    Mistake(
        name="scaled and shifted before normalising",
        hint="You applied weight and bias to x BEFORE normalising, so the normalisation undoes "
        "them: normalise first, x̂ = (x - mean) / √(var + eps), then scale and shift, "
        "x̂ * weight + bias.",
        compute=lambda x, weight, bias, eps: _normalised(x * weight + bias, eps),
        example=_learner_scales_then_normalises,
    ),
)
