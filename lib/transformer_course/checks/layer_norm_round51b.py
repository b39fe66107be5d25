"""Round 51 (review R3: F12, F12b): ``layer_norm``'s wrong answers that got only "differs at
index": the formula typed without its parentheses (x - mean / std, only the mean divided; or
the weight inside the divisor), and the notebook's d = 16 written in as the divisor of the
mean and the variance.
"""

from __future__ import annotations

import torch

from .describe import same
from .harness import Mistake

ATOL = 1e-4  # the checker's own
NOTEBOOK_D = 16  # chapter 07's LayerNorm example is 16 wide


def _moments(x):
    mean = x.mean(dim=-1, keepdim=True)
    return mean, ((x - mean) ** 2).mean(dim=-1, keepdim=True)


def _mean_divided_only(x, weight, bias, eps):
    mean, var = _moments(x)
    return x - mean / torch.sqrt(var + eps) * weight + bias


def _divided_by_weight(x, weight, bias, eps):
    mean, var = _moments(x)
    return (x - mean) / (torch.sqrt(var + eps) * weight) + bias


def _fixed_d(x, weight, bias, eps, *, mean_fixed=True, var_fixed=True):
    n = x.shape[-1]
    mean = x.sum(dim=-1, keepdim=True) / (NOTEBOOK_D if mean_fixed else n)
    var = ((x - mean) ** 2).sum(dim=-1, keepdim=True) / (NOTEBOOK_D if var_fixed else n)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def _divides_by_a_fixed_d(fn, case, got) -> bool:
    x = case[0]
    if x.shape[-1] == NOTEBOOK_D:
        return False
    variants = ((True, True), (True, False), (False, True))
    return any(same(got, _fixed_d(*case, mean_fixed=m, var_fixed=v), ATOL) for m, v in variants)


def _learner_forgets_the_parentheses(x, weight, bias, eps):
    m = x.mean(-1, keepdim=True)
    v = ((x - m) ** 2).mean(-1, keepdim=True)
    return x - m / torch.sqrt(v + eps) * weight + bias


def _learner_divides_by_the_weight(x, weight, bias, eps):
    m = x.mean(-1, keepdim=True)
    v = x.var(-1, keepdim=True, unbiased=False)
    return (x - m) / (torch.sqrt(v + eps) * weight) + bias


def _learner_divides_by_16(x, weight, bias, eps):
    m = x.sum(-1, keepdim=True) / 16
    v = ((x - m) ** 2).sum(-1, keepdim=True) / 16
    return (x - m) / torch.sqrt(v + eps) * weight + bias


ROUND_51B = (
    Mistake(
        name="x - mean / std: only the mean divided",
        hint="Only the mean was divided: x - mean / std is x - (mean / std), since / binds "
        "tighter than -. Put the parentheses in: (x - mean) / torch.sqrt(var + eps) * weight + bias.",
        compute=_mean_divided_only,
        example=_learner_forgets_the_parentheses,
    ),
    Mistake(
        name="divided by the weight",
        hint="You divided by the weight: (x - mean) / (torch.sqrt(var + eps) * weight) puts it in "
        "the divisor. Normalise first, then MULTIPLY by the weight: "
        "(x - mean) / torch.sqrt(var + eps) * weight + bias.",
        compute=_divided_by_weight,
        example=_learner_divides_by_the_weight,
    ),
    Mistake(
        name="the notebook's d = 16 as the divisor",
        hint=f"You divided by a fixed {NOTEBOOK_D}, the notebook's width: the checker's vectors "
        "are of other widths. Use d = x.shape[-1], or .mean(dim=-1, keepdim=True) for the mean "
        "and the variance.",
        compute=None,
        recognise=_divides_by_a_fixed_d,
        example=_learner_divides_by_16,
    ),
)
