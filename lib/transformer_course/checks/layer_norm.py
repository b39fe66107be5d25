"""Exercise 07: layer normalisation, written out.

``fn(x (..., d), weight (d,), bias (d,), eps) → (..., d)``: each vector along the last
dimension (one token's features) minus its mean, divided by √(variance + eps), where the
variance divides by d (not d − 1), then times ``weight`` plus ``bias``: what
``nn.LayerNorm(d)`` computes with those parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from . import asked_for
from . import layer_norm_learners as learner
from .built_ins import note_built_ins
from .describe import same
from .failure import reduced_away
from .harness import Exercise, Mistake, Result, check_function, draws_at_random, randn
from .layer_norm_more import MORE_MISTAKES, ROUND_45B
from .layer_norm_round51b import ROUND_51B
from .layer_norm_slips import FIRST, MORE
from .stale import learner_check

# --- The learner's side: the starter, a worked solution, other correct answers ---


def starter(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    """x (..., d) → (..., d): each vector along the last dimension normalised, scaled, shifted."""
    raise NotImplementedError


def solution(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    """x (..., d) → (..., d): each vector along the last dimension normalised, scaled, shifted."""
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1): one mean per vector
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)  # (..., 1): divided by d, not d - 1
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def by_hand(x, weight, bias, eps, *, dims=(-1,), var="biased", eps_at="inside", centre=True, affine="right"):
    """A learner's layer norm with one switch per catalogued mistake (all off: correct)."""
    mean = x.mean(dim=dims, keepdim=True) if dims else x.mean()
    centred = x - mean if centre else x
    if var == "biased":
        variance = x.var(dim=dims, unbiased=False, keepdim=True) if dims else x.var(unbiased=False)
    elif var == "unbiased":
        variance = x.var(dim=dims, keepdim=True)
    else:  # "uncentred": the mean of the squares, the mean left in
        variance = (x**2).mean(dim=dims, keepdim=True)
    if eps_at == "inside":
        normed = centred / torch.sqrt(variance + eps)
    elif eps_at == "outside":
        normed = centred / (torch.sqrt(variance) + eps)
    elif eps_at == "no root":
        normed = centred / (variance + eps)
    else:  # "none"
        normed = centred / torch.sqrt(variance)
    if affine == "right":
        return normed * weight + bias
    if affine == "shift first":
        return (normed + bias) * weight
    return normed if affine == "none" else normed * bias + weight


def _with_rsqrt(x, weight, bias, eps):
    """var_mean in one call, rsqrt, and the affine part with torch.addcmul."""
    var, mean = torch.var_mean(x, dim=-1, correction=0, keepdim=True)
    return torch.addcmul(bias, (x - mean) * torch.rsqrt(var + eps), weight)


def _in_float64(x, weight, bias, eps):
    return solution(x.double(), weight.double(), bias.double(), eps)


ALTERNATIVES = {
    "F.layer_norm": lambda x, weight, bias, eps: F.layer_norm(x, x.shape[-1:], weight, bias, eps),
    "by hand, every switch off": by_hand,
    "var_mean, rsqrt and addcmul": _with_rsqrt,
    "in float64": _in_float64,
    "token by token": learner.token_by_token,
    "nn.LayerNorm, parameters copied": learner.with_a_module,
    "a fresh nn.LayerNorm, then scaled and shifted": learner.fresh_module_then_scaled,
    "F.group_norm of one group": learner.group_norm_of_one_group,
}


# --- The checker's side: reference, test cases, the catalogue of mistakes ---


def reference(x, weight, bias, eps):
    """PyTorch's own layer norm: the answer."""
    return F.layer_norm(x, x.shape[-1:], weight, bias, eps)


def _normed(
    x, weight, bias, eps, *, dims=(-1,), correction=0, eps_at="inside", spread="centred", affine="right"
):
    """The layer norm, or one of its usual mistakes (each switch off: correct); the
    statistics are taken with torch.var_mean, not the learner-side code. spread: "centred"
    (the variance around the mean), "uncentred" (the mean of x², the numerator still
    centred), "numerator" (the variance centred, x not) or "rms" (RMSNorm: no mean anywhere)."""
    var, mean = torch.var_mean(x, dim=dims, correction=correction, keepdim=True)
    if spread in ("uncentred", "rms"):
        var = x.pow(2).mean(dim=dims, keepdim=True)
    if spread in ("rms", "numerator"):  # numerator: the right variance, x itself divided by it
        mean = torch.zeros_like(mean)
    std = {
        "inside": lambda: (var + eps).sqrt(),
        "outside": lambda: var.sqrt() + eps,
        "none": var.sqrt,
        "no root": lambda: var + eps,  # the variance, not the standard deviation
    }
    normed = (x - mean) / std[eps_at]()
    if affine == "none":
        return normed
    if affine in ("weight only", "bias only"):
        return normed * weight if affine == "weight only" else normed + bias
    if affine == "shift first":
        return (normed + bias) * weight
    return normed * bias + weight if affine == "swapped" else normed * weight + bias


def _cases() -> list[tuple]:
    # Tokens of very different spreads, one almost constant, so that where eps goes shows;
    # a weight and bias far from 1 and 0; L ≠ d, so a mean without keepdim cannot broadcast.
    g = torch.Generator().manual_seed(77)
    x = randn(2, 3, 8, gen=g) * torch.tensor([[[1.0], [5.0], [0.02]], [[0.3], [2.0], [1.0]]]) + 3.0
    weight, bias = randn(8, gen=g) + 1.0, randn(8, gen=g)
    cases = [(x, weight, bias, 1e-5)]
    # A larger eps, as some models use (1e-2 makes eps's place matter for every token), 2-D.
    cases.append((randn(4, 6, gen=g, scale=0.2), randn(6, gen=g) + 1.0, randn(6, gen=g), 1e-2))
    return cases


def _learner_no_keepdim(x, weight, bias, eps):
    mean = x.mean(dim=-1)  # (B, L): lines up with the last axes of x, not with the tokens
    var = x.var(dim=-1, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def _right_in_float64_only(fn, case, got) -> bool:
    """The learner's maths is right (float64 inputs give the answer) and float32 comes close,
    but not close enough: a formula that loses precision, E[x²] − mean² being the usual one."""
    x, weight, bias, eps = case
    wide = fn(x.double(), weight.double(), bias.double(), eps)
    right = reference(x.double(), weight.double(), bias.double(), eps)
    return same(wide, right, 1e-6) and same(got, reference(*case), 1e-2)


def _learner_expands_the_variance(x, weight, bias, eps):
    mean = x.mean(dim=-1, keepdim=True)
    var = (x * x).mean(dim=-1, keepdim=True) - mean * mean  # E[x²] − E[x]², as on paper
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


OWN_EPS = (1e-6, 1e-8, 1e-12)  # eps values hard-coded from tutorials and models

MISTAKES = (
    Mistake(
        name="precision lost in float32",
        hint="Your maths is right (in float64 it gives the answer), but float32 loses the variance: "
        "E[x²] − mean² subtracts two large, nearly equal numbers when a vector's mean is large "
        "next to its spread (here a token with mean 3 and spread 0.02), and only the last "
        "digits are left. Take the variance around the mean, ((x - mean) ** 2).mean(dim=-1, "
        "keepdim=True), as nn.LayerNorm does.",
        compute=None,
        recognise=_right_in_float64_only,
        example=_learner_expands_the_variance,
    ),
    Mistake(
        name="no keepdim",
        hint="The mean (or variance) lost its last dimension, so it does not line up with x: "
        "reduce with keepdim=True, x.mean(dim=-1, keepdim=True), shape (..., 1).",
        compute=None,
        error=r"must match the size of tensor",
        failed_at=reduced_away,  # not x̂ * weight.unsqueeze(-1)
        example=_learner_no_keepdim,
    ),
    Mistake(
        name="unbiased variance",
        hint="Your variance is divided by d − 1 (Bessel's correction: torch's var and std do that "
        "unless told otherwise, and so does a sum of squares over d − 1); layer norm divides by d: "
        "x.var(dim=-1, unbiased=False, keepdim=True), or ((x - mean) ** 2).mean(dim=-1, keepdim=True).",
        compute=partial(_normed, correction=1),
        example=partial(by_hand, var="unbiased"),
    ),
    Mistake(
        name="The Annotated Transformer's version",
        hint="(x − mean) / (std + eps) with torch's std (divided by d − 1) is how The Annotated "
        "Transformer writes it; nn.LayerNorm divides by √(var + eps), the variance divided "
        "by d. Both changes matter: unbiased=False, and eps inside the square root.",
        compute=partial(_normed, correction=1, eps_at="outside"),
        example=lambda x, weight, bias, eps: _annotated(x, weight, bias, eps),
    ),
    Mistake(
        name="eps outside the square root",
        hint="eps goes inside the square root, (x − mean) / √(var + eps), not after it, "
        "√var + eps: it is what keeps an almost constant vector from being blown up.",
        compute=partial(_normed, eps_at="outside"),
        example=partial(by_hand, eps_at="outside"),
    ),
    Mistake(
        name="no eps",
        hint="Your result is what it would be without eps: eps is missing, or where it is it "
        "changes (almost) nothing, added after the division or squared. Divide by √(var + eps), "
        "the eps given, inside the root: without it an almost constant vector is blown up, and "
        "a constant one divides 0 by 0.",
        compute=partial(_normed, eps_at="none"),
        example=partial(by_hand, eps_at="none"),
    ),
    Mistake(
        name="no square root",
        hint="You divided by the variance, var + eps: divide by its square root, the standard "
        "deviation, (x − mean) / torch.sqrt(var + eps), so that each vector ends with variance 1.",
        compute=partial(_normed, eps_at="no root"),
        example=partial(by_hand, eps_at="no root"),
    ),
    Mistake(
        name="eps fixed at 1e-5",
        hint="Use the eps you are given, not nn.LayerNorm's default 1e-5: models choose their "
        "own (BERT 1e-12, LLaMA 1e-6), and the checker also tries eps = 0.01.",
        compute=lambda x, weight, bias, eps: _normed(x, weight, bias, 1e-5),
        example=lambda x, weight, bias, eps: F.layer_norm(x, x.shape[-1:], weight, bias),
    ),
    Mistake(
        name="eps of your own",
        hint="Use the eps you are given, not a number of your own (The Annotated Transformer's "
        "1e-6, BERT's 1e-12, 1e-8): models choose their own, and the checker also tries "
        "eps = 0.01. Divide by √(var + eps) with the eps argument.",
        compute=None,
        recognise=lambda fn, case, got: any(
            same(got, _normed(*case[:3], own), 1e-4) for own in OWN_EPS if own != case[3]
        ),
        example=lambda x, weight, bias, eps: F.layer_norm(x, x.shape[-1:], weight, bias, eps=1e-6),
    ),
    Mistake(
        name="RMSNorm",
        hint="You did not subtract the mean: x / √(mean(x²) + eps) is RMSNorm (LLaMA's norm), "
        "not layer norm. Centre each vector first, x − mean, and take the variance around the "
        "mean.",
        compute=partial(_normed, spread="rms"),
        example=partial(by_hand, centre=False, var="uncentred"),
    ),
    Mistake(
        name="variance not centred",
        hint="Your variance is the mean of x², not of (x − mean)²: it leaves the mean in. "
        "Take it around the mean, ((x - mean) ** 2).mean(dim=-1, keepdim=True).",
        compute=partial(_normed, spread="uncentred"),
        example=partial(by_hand, var="uncentred"),
    ),
    Mistake(
        name="numerator not centred",
        hint="Your variance is right, but you divided x itself by the spread, not x − mean: "
        "the mean is left in every entry. Normalise (x - mean) / √(var + eps).",
        compute=partial(_normed, spread="numerator"),
        example=partial(by_hand, centre=False),
    ),
    Mistake(
        name="over the positions",
        hint="Your statistics run over the positions (dim=-2), one per feature, as batch norm "
        "runs over the batch. Layer norm takes them over each token's own features: dim=-1.",
        compute=partial(_normed, dims=(-2,)),
        example=partial(by_hand, dims=(-2,)),
    ),
    Mistake(
        name="over the whole tensor",
        hint="You took one mean and one variance of the whole tensor: layer norm takes them per "
        "token, over its features only, x.mean(dim=-1, keepdim=True).",
        compute=partial(_normed, dims=None),
        example=partial(by_hand, dims=()),
    ),
    Mistake(
        name="over the whole sentence",
        hint="Your statistics run over the last two dimensions (positions and features) "
        "together: one per sentence. Layer norm takes them per token, dim=-1 only.",
        compute=partial(_normed, dims=(-2, -1)),
        example=partial(by_hand, dims=(-2, -1)),
    ),
    Mistake(
        name="no weight and bias",
        hint="The result is normalised but not scaled and shifted: multiply by weight and add "
        "bias, the LayerNorm's learned parameters (they let a layer undo the normalisation).",
        compute=partial(_normed, affine="none"),
        example=partial(by_hand, affine="none"),
    ),
    Mistake(
        name="no bias",
        hint="You multiplied by weight but did not add bias: the normalised vector is scaled by "
        "weight (γ) AND shifted by bias (β), normed * weight + bias.",
        compute=partial(_normed, affine="weight only"),
        example=lambda x, weight, bias, eps: F.layer_norm(x, x.shape[-1:], eps=eps) * weight,
    ),
    Mistake(
        name="no weight",
        hint="You added bias but did not multiply by weight: the normalised vector is scaled by "
        "weight (γ) AND shifted by bias (β), normed * weight + bias.",
        compute=partial(_normed, affine="bias only"),
        example=lambda x, weight, bias, eps: F.layer_norm(x, x.shape[-1:], eps=eps) + bias,
    ),
    Mistake(
        name="weight and bias swapped",
        hint="weight and bias are swapped: the normalised vector is multiplied by weight "
        "(the scale, γ) and bias (the shift, β) is added.",
        compute=partial(_normed, affine="swapped"),
        example=partial(by_hand, affine="swapped"),
    ),
    Mistake(
        name="shift before the scale",
        hint="You added bias before multiplying by weight, (x̂ + bias) · weight, so the shift gets "
        "scaled too. Scale first, then shift: x̂ * weight + bias.",
        compute=partial(_normed, affine="shift first"),
        example=partial(by_hand, affine="shift first"),
    ),
    draws_at_random(lambda x, weight, bias, eps: F.dropout(solution(x, weight, bias, eps), 0.1)),
)


MISTAKES += MORE_MISTAKES  # met in the seventh audit: in layer_norm_more
MISTAKES = FIRST + MISTAKES + MORE  # the round-41 battery: FIRST before "no keepdim"
MISTAKES += ROUND_45B  # batch norm, 1 + weight, the affine part first: layer_norm_more
MISTAKES += ROUND_51B  # x - mean / std, ÷ weight, ÷ 16: layer_norm_round51b


def _annotated(x, weight, bias, eps):
    """The Annotated Transformer's LayerNorm: a_2 * (x - mean) / (std + eps) + b_2."""
    mean, std = x.mean(-1, keepdim=True), x.std(-1, keepdim=True)
    return weight * (x - mean) / (std + eps) + bias


@learner_check
def check_layer_norm(learner_fn: Callable) -> Result:
    """Exercise 07: ``fn(x (..., d), weight (d,), bias (d,), eps) → (..., d)``, nn.LayerNorm's
    forward pass."""
    cases = _cases()
    result = check_function(
        learner_fn, reference, cases, name="layer_norm", mistakes=MISTAKES, atol=1e-4, needs_grad=True
    )
    return note_built_ins(result, learner_fn, cases, asked_for.LAYER_NORM)


EXERCISES = (
    Exercise(
        name="layer_norm",
        chapter="07",
        check=check_layer_norm,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
