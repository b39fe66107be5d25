"""Round 51's scaling hints for one head (``head``): what the learner divided by, in numbers.

The checker's first head has d_model = 8 = 2 · d_k (and 2 · L), so a head divided by
√(d_q + d_k) or √(2L) gave the same numbers there as one divided by √d_model, and was told
"you divided by √d_model". That hint is now confirmed on a probe where those sizes all differ
(``head_scaling.scaling_probe``: L 10, d_model 12, d_k 11), and a head that divides by some other
number is told which number, on which input, and what the scale should have been
(``OTHER_ROOT``, ``in_numbers``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import torch

from .cases import fresh
from .describe import same
from .harness import LEARNER_ERRORS, Mistake
from .head_scaling import fitted_root, scaling_probe
from .head_variants import variant
from .quietly import quietly
from .result import Result
from .time_limit import LIMIT_S, TookTooLong, time_limit


def _by_root(c: float) -> Callable:
    return lambda s, x, q, v: s / math.sqrt(c)


def _by_d_model(*case):
    return variant(*case, scores_by=lambda s, x, q, v: s / math.sqrt(x.shape[-1]))


def _d_model_on_a_probe_too(fn, case, got) -> bool:
    """√d_model on the case, and on a probe where d_model is neither 2 · d_k nor 2 · L."""
    if not same(got, _by_d_model(*fresh(case)), 1e-4):
        return False
    probe = scaling_probe()
    return same(fn(*fresh(probe)), _by_d_model(*probe), 1e-4)


def _learner_divides_by_d_model(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / math.sqrt(x.shape[-1]), dim=-1)  # x's width, d_model
    return weights @ v, weights


def _learner_adds_the_widths(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1] + k.shape[-1]), dim=-1)
    return weights @ v, weights


def _other_root(fn, case, got) -> bool:
    """The weights are softmax(q @ k.T / √c), the output weights @ v, for a c that is not d_k."""
    c = fitted_root(*case, got)
    if c is None or math.isclose(c, case[1].shape[1], rel_tol=1e-3):
        return False
    return same(got, variant(*fresh(case), scores_by=_by_root(c)), 1e-4)


D_MODEL = Mistake(
    name="√d_model",
    hint="You divided by √d_model (the width of x); the paper divides by √d_k, the width of the "
    "queries and keys: q.shape[-1].",
    compute=None,  # on the first head √d_model = √(2 · d_k) = √(2L): confirmed on a probe
    recognise=_d_model_on_a_probe_too,
    example=_learner_divides_by_d_model,
)
OTHER_ROOT = Mistake(
    name="divided by another number",
    hint="Your weights are softmax(q @ k.T / s) with the wrong s: the scale is √d_k, the square "
    "root of the width of the queries and keys, math.sqrt(q.shape[-1]) (not of x's width, "
    "d_model, nor of the values' or of the number of tokens).",
    compute=None,
    recognise=_other_root,
    example=_learner_adds_the_widths,
)
ROUND_51 = (OTHER_ROOT,)  # last: each scaling the catalogue names by its own hint comes first


def _root(c: float) -> str:
    n = round(c)
    if abs(c - n) < 1e-3 * max(1.0, c) and n > 0:
        return f"√{n} = {math.sqrt(n):.3g}" if math.isqrt(n) ** 2 != n else f"√{n} = {math.isqrt(n)}"
    return f"{math.sqrt(c):.3g}"


def in_numbers(result: Result, learner_fn: Callable, cases: list) -> Result:
    """``result`` with the numbers of the first input the learner's head scales wrongly, where
    its hint is D_MODEL's or OTHER_ROOT's: the sizes, what it divided by, what it should be."""
    if not any(m.hint == result.message for m in (D_MODEL, OTHER_ROOT)):
        return result
    for number, case in enumerate(cases, 1):
        try:
            with torch.random.fork_rng(devices=[]), time_limit(LIMIT_S), quietly():
                torch.default_generator.manual_seed(0)
                got = learner_fn(*fresh(case))
        except (TookTooLong, *LEARNER_ERRORS):
            return result
        c, (x, w_q, _, w_v) = fitted_root(*case, got), case
        if c is None or math.isclose(c, w_q.shape[1], rel_tol=1e-3):
            continue
        sizes = f"x {tuple(x.shape)}, so d_model = {x.shape[-1]}, L = {x.shape[0]}; q and k of width "
        sizes += f"d_k = {w_q.shape[1]}; v of width d_v = {w_v.shape[1]}"
        said = (
            f" On input #{number} ({sizes}), your scores were divided by {_root(c)}, where they "
            f"should be divided by √d_k = {_root(float(w_q.shape[1]))}."
        )
        return replace(result, message=result.message + said)
    return result
