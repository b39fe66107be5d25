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
from .failure import Failure, failed_in, took
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
        failed_at=lambda failure, case: _a_product_with_weight(failure, case),
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


# --- Met in the round-43a battery: signs flipped, the std alone, one variance for everything ---


def _whole_tensor_variance(x, weight, bias, eps):
    """Each vector centred on its own mean, all divided by the variance of the whole tensor."""
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(x.var(correction=0) + eps) * weight + bias


def _learner_subtracts_the_bias(x, weight, bias, eps):
    mu = x.mean(-1, keepdim=True)
    sigma2 = x.var(-1, keepdim=True, unbiased=False)
    return weight * (x - mu) / (sigma2 + eps).sqrt() - bias


def _learner_centres_the_other_way(x, weight, bias, eps):
    mu = x.mean(-1, keepdim=True)
    sigma2 = ((x - mu) ** 2).mean(-1, keepdim=True)
    return weight * (mu - x) / (sigma2 + eps).sqrt() + bias


def _learner_returns_the_std(x, weight, bias, eps):
    mu = x.mean(-1, keepdim=True)
    std = (((x - mu) ** 2).mean(-1, keepdim=True) + eps) ** 0.5
    return weight * std + bias  # the division by std forgotten


def _learner_takes_one_variance(x, weight, bias, eps):
    mu = x.mean(-1, keepdim=True)
    return weight * (x - mu) / torch.sqrt(torch.var(x, unbiased=False) + eps) + bias


MORE += (
    Mistake(
        name="bias subtracted",
        hint=f"You SUBTRACTED the bias: LayerNorm scales then shifts, normalised * weight + bias. {RIGHT}.",
        compute=lambda x, weight, bias, eps: F.layer_norm(x, x.shape[-1:], weight, -bias, eps),
        example=_learner_subtracts_the_bias,
    ),
    Mistake(
        name="mean minus x",
        hint="You centred with mean - x: every normalised value has its sign flipped. Subtract "
        f"the mean FROM x: {RIGHT}.",
        compute=lambda x, weight, bias, eps: F.layer_norm(-x, x.shape[-1:], weight, bias, eps),
        example=_learner_centres_the_other_way,
    ),
    Mistake(
        name="the std returned",
        hint="You returned the standard deviation, √(var + eps), scaled and shifted: the "
        "numerator is missing. Divide the centred vector by it: "
        f"{RIGHT}.",
        compute=lambda x, weight, bias, eps: torch.sqrt(_stats(x)[1] + eps) * weight + bias,
        example=_learner_returns_the_std,
    ),
    Mistake(
        name="variance of the whole tensor",
        hint="Your mean is per vector but your variance is of the WHOLE tensor (x.var() without "
        "dim): both statistics belong to each vector along the last axis, "
        f"var = x.var(dim=-1, keepdim=True, unbiased=False), then {RIGHT}.",
        compute=_whole_tensor_variance,
        example=_learner_takes_one_variance,
    ),
)


def _var_mean_swapped(x, weight, bias, eps):
    var, mean = torch.var_mean(x, dim=-1, correction=0, keepdim=True)
    return (x - var) / torch.sqrt(mean + eps) * weight + bias  # the two names the other way


def _learner_unpacks_var_mean(x, weight, bias, eps):
    mu, sigma2 = torch.var_mean(x, -1, unbiased=False, keepdim=True)
    return weight * (x - mu) / torch.sqrt(sigma2 + eps) + bias


MORE += (
    Mistake(
        name="var_mean read as (mean, var)",
        hint="torch.var_mean returns (var, mean), in that order: you unpacked it as mean, var, "
        "so x - var / √(mean + eps) was computed (NaN where a mean is below -eps). Write "
        f"var, mean = torch.var_mean(x, dim=-1, correction=0, keepdim=True), then {RIGHT}.",
        compute=_var_mean_swapped,
        example=_learner_unpacks_var_mean,
    ),
)


def _learner_sums_the_squares(x, weight, bias, eps):
    mu = x.mean(-1, keepdim=True)
    var = torch.sum((x - mu) ** 2, dim=-1, keepdim=True)  # the / d forgotten
    return weight * (x - mu) / torch.sqrt(var + eps) + bias


def _learner_scales_first(x, weight, bias, eps):
    x = weight * x  # "apply γ, then normalise"
    mu = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False)
    return (x - mu) / torch.sqrt(var + eps) + bias


def _summed_squares(x, weight, bias, eps):
    centred = x - x.mean(dim=-1, keepdim=True)
    var = (centred**2).sum(dim=-1, keepdim=True)
    return centred / torch.sqrt(var + eps) * weight + bias


MORE += (
    Mistake(
        name="squared deviations summed",
        hint="Your variance is the SUM of the squared deviations: divide it by the width d (a "
        ".mean(dim=-1, keepdim=True)), or the values come out √d times too small. "
        f"{RIGHT}.",
        compute=_summed_squares,
        example=_learner_sums_the_squares,
    ),
    Mistake(
        name="scaled before normalising",
        hint="You multiplied x by the weight BEFORE normalising: the normalisation then undoes "
        "most of the scale. Normalise first, then scale and shift: "
        f"{RIGHT}.",
        compute=lambda x, weight, bias, eps: F.layer_norm(x * weight, x.shape[-1:], None, bias, eps),
        example=_learner_scales_first,
    ),
)


def _learner_squares_the_variance(x, weight, bias, eps):
    mu = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False) ** 2  # "the variance is the square"
    return weight * (x - mu) / torch.sqrt(var + eps) + bias


MORE += (
    Mistake(
        name="variance squared",
        hint="You squared the variance: the variance is already a mean of squares, "
        "((x - mean) ** 2).mean(dim=-1, keepdim=True) (or x.var(dim=-1, unbiased=False)), and "
        f"√(var + eps) its root. {RIGHT}.",
        compute=lambda x, weight, bias, eps: (
            (x - _stats(x)[0]) / torch.sqrt(_stats(x)[1] ** 2 + eps) * weight + bias
        ),
        example=_learner_squares_the_variance,
    ),
)


def _a_product_with_weight(failure: Failure, case: tuple) -> bool:
    """The failure came of x̂ @ weight: the product that failed took weight, or the addition
    of bias failed to what x̂ @ weight returns, x's shape without its features (…, L). Not
    x̂ * weight.unsqueeze(-1), an entry-by-entry product that fails with the same words."""
    x, weight, bias, _ = case
    if failed_in(failure, "matmul", "mm", "bmm", "einsum", "inner", "tensordot"):
        return took(failure, weight)
    summed_away = any(op.shape == x.shape[:-1] for op in failure.operands)
    return failed_in(failure, "add", "add_") and took(failure, bias) and summed_away
