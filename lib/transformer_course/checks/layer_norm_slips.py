"""More of ``layer_norm``'s catalogue: the slips met in the round-41 battery of wrong answers,
each with what gives it away and its hint (the examples are in ``layer_norm_learners``).

``FIRST`` goes to the front of the catalogue: its errors would otherwise be claimed by the
"no keepdim" mistake, whose error message is of the same kind; ``MORE`` goes at the end.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import layer_norm_learners as learner
from .describe import same
from .harness import Mistake

RIGHT = "(x - mean) / torch.sqrt(var + eps) * weight + bias"


def _stats(x):
    var, mean = torch.var_mean(x, dim=-1, correction=0, keepdim=True)
    return mean, var


def _other_count(fn, case, got) -> bool:
    """Sums over the last axis divided by the size of another axis (or of the whole tensor),
    for the mean, the variance or both: a size read from the wrong place."""
    x, weight, bias, eps = case
    d = x.shape[-1]
    for n in {*x.shape[:-1], x.numel()} - {d}:
        for mean_by, var_by in ((n, d), (d, n), (n, n)):
            mean = x.sum(dim=-1, keepdim=True) / mean_by
            var = ((x - mean) ** 2).sum(dim=-1, keepdim=True) / var_by
            if same(got, (x - mean) / (var + eps).sqrt() * weight + bias, 1e-4):
                return True
    return False


def _spread(spread):
    def norm(x, weight, bias, eps):
        mean, var = _stats(x)
        return spread(x, mean, var, eps) * weight + bias

    return norm


# √(std + eps) or (var + eps) ** 0.25: the root of a standard deviation, eps in either place.
_ROOTS = (
    lambda x, mean, var, eps: (x - mean) / (var.sqrt() + eps).sqrt(),
    lambda x, mean, var, eps: (x - mean) / (var + eps) ** 0.25,
)


# The first input is x (2, 3, 8): x̂ @ weight (8,) is (2, 3), and meets bias (8,) at dimension 1;
# a table of another width (16, 32) meets x's 8 features at dimension 2. "No keepdim" fails
# there too, against the mean's 3 positions: excluded.
FIRST = (
    Mistake(
        name="@ weight",
        hint="You multiplied by weight with @, a matrix product, which sums the features away: "
        "the scale multiplies each feature by its own weight, entry by entry: x̂ * weight + bias.",
        compute=None,
        error=r"size of tensor a \(3\) must match the size of tensor b \(8\) at non-singleton dimension 1",
        example=learner.multiplies_by_weight_as_a_matrix,
    ),
    Mistake(
        name="a tensor of another width",
        hint="Something in your function has another width than x's d features (8 on this input): "
        "a weight, bias or statistic that is not one of the arguments (the notebook's "
        "norm.weight has d_model = 16 numbers). Use the weight and bias given, and take the "
        "statistics over x's last axis.",
        compute=None,
        error=r"size of tensor a \(8\) must match the size of tensor b \((?!3\))\d+\) at non-singleton "
        r"dimension 2",
        example=learner.uses_the_notebooks_norm,
    ),
)

MORE = (
    Mistake(
        name="brackets around x - mean",
        hint="Brackets: x - mean / std divides only the mean, because / comes before -. Subtract "
        f"first, then divide: {RIGHT}.",
        compute=_spread(lambda x, mean, var, eps: x - mean / (var + eps).sqrt()),
        example=learner.forgets_the_brackets,
    ),
    Mistake(
        name="square root of the std",
        hint="You took the square root of the standard deviation: the std is already the root of "
        "the variance. Divide by √(var + eps), var = ((x - mean) ** 2).mean(dim=-1, keepdim=True).",
        compute=None,
        recognise=lambda fn, case, got: any(same(got, _spread(root)(*case), 1e-4) for root in _ROOTS),
        example=learner.roots_the_std,
    ),
    Mistake(
        name="eps subtracted",
        hint="You subtracted eps: it is ADDED to the variance, √(var + eps), so that the division "
        "is safe when a vector is (almost) constant; var - eps can even go negative.",
        compute=_spread(lambda x, mean, var, eps: (x - mean) / (var - eps).sqrt()),
        example=learner.subtracts_eps,
    ),
    Mistake(
        name="multiplied by the std",
        hint="You multiplied by the standard deviation: normalising DIVIDES by it, so that each "
        f"vector ends with variance 1: {RIGHT}.",
        compute=_spread(lambda x, mean, var, eps: (x - mean) * (var + eps).sqrt()),
        example=learner.multiplies_by_the_std,
    ),
    Mistake(
        name="count of another axis",
        hint="Your mean or variance divides a sum over the features by the size of another axis "
        "(x.shape[0], say): the count is d, the number of features, x.shape[-1]. Simplest: "
        "x.mean(dim=-1, keepdim=True) and ((x - mean) ** 2).mean(dim=-1, keepdim=True).",
        compute=None,
        recognise=_other_count,
        example=learner.divides_by_the_batch_size,
    ),
    Mistake(
        name="nn.LayerNorm(x.shape)",
        hint="nn.LayerNorm(x.shape) normalises over EVERY axis at once, with a fresh scale 1 and "
        "shift 0 of its own: layer norm takes each token's statistics over its last axis only, "
        f"and uses the weight and bias given: {RIGHT}.",
        compute=lambda x, weight, bias, eps: F.layer_norm(x, x.shape, eps=eps),
        example=learner.normalises_the_whole_shape,
    ),
)
