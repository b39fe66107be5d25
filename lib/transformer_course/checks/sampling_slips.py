"""More of ``sampling``'s catalogue: the wrong answers met in round 42's battery (torch.kthvalue
read as the k-th largest, one distribution drawn for the whole batch, any token drawn, a fixed
temperature or top_k, the top k filled in place of the rest), each with its hint and a
learner-style example (in ``sampling_learners``).

As in ``sampling.distribution``, what a mistake computes is the probabilities each of the two
distinct rows of logits (rows 0 and ROWS of the batch) is drawn with, (2, V).
"""

from __future__ import annotations

import math

import torch

from . import sampling_learners as learner
from .describe import same
from .harness import Mistake
from .sampling_draws import ATOL, ROWS

_FIXED_TEMPERATURES = (0.5, 2.0, 3.0, 5.0)  # chapter 08's cells


def _probs(logits, temperature, top_k, *, keep=None) -> torch.Tensor:
    """softmax(logits / T) of the two distinct rows, the logits that ``keep(rows, top_k)``
    marks False at −∞ (where top_k is given; keep=None: the right top k)."""
    rows = logits[[0, ROWS]].double() / temperature
    if top_k is not None:
        kept = rows >= rows.topk(top_k, dim=-1).values[:, -1:] if keep is None else keep(rows, top_k)
        rows = rows.masked_fill(~kept, -math.inf)
    return torch.softmax(rows, dim=-1)


def _from_the_smallest(rows, top_k):  # torch.kthvalue: the k-th smallest as the threshold
    return rows >= rows.kthvalue(top_k, dim=-1, keepdim=True).values


def _kthvalue(fn, case, got) -> bool:
    """The threshold at the k-th SMALLEST, here and at top_k = 2, where it keeps V − 1 tokens
    (so that keeping k + 1, which it equals at k = V/2, is told apart)."""
    logits, temperature, _ = case
    if case[2] is None or not same(got, _probs(*case, keep=_from_the_smallest), ATOL):
        return False
    torch.default_generator.manual_seed(0)  # as check_function seeds each call (CPU, forked)
    probe = (logits.clone(), temperature, 2)
    return same(fn(*probe), _probs(*probe, keep=_from_the_smallest), ATOL)


def _one_row_for_all(pick):
    def compute(logits, temperature, top_k):
        probs = pick(_probs(logits, temperature, top_k))
        return probs.expand(2, -1)

    return compute


def _fixed(fn, case, got) -> bool:
    """The right draws for another temperature (one of the notebook's) or another top_k."""
    logits, temperature, top_k = case
    temperatures = [t for t in _FIXED_TEMPERATURES if t != temperature]
    tops = [k for k in (None, *range(1, logits.shape[-1])) if k != top_k]
    return any(same(got, _probs(logits, t, top_k), ATOL) for t in temperatures) or any(
        same(got, _probs(logits, temperature, k), ATOL) for k in tops
    )


_ONE_FOR_ALL = (
    "Every row of your batch was drawn from ONE distribution (the first row's, or the batch's "
    "average): torch.multinomial(probs[0], B) draws B tokens from row 0. Each row has its own "
    "logits and its own draw: torch.multinomial(probs, 1) on the (B, V) probabilities, then "
    ".squeeze(-1)."
)

KTHVALUE = Mistake(
    name="kthvalue counts from the smallest",
    hint="Your threshold is the k-th SMALLEST value (torch.kthvalue(x, k), or sort() in its "
    "default ascending order, which puts the smallest first), so it keeps V − k + 1 tokens, not "
    "k. The k-th largest is logits.topk(k, dim=-1).values[:, -1:] (or kthvalue(x, V - k + 1), "
    "or sort(descending=True)).",
    compute=None,
    recognise=_kthvalue,
    example=learner.thresholds_with_kthvalue,
)

SLIP_MISTAKES = (
    Mistake(
        name="the first row's distribution for all",
        hint=_ONE_FOR_ALL,
        compute=_one_row_for_all(lambda probs: probs[:1]),
        example=learner.draws_every_row_from_the_first,
    ),
    Mistake(
        name="the batch's average distribution",
        hint=_ONE_FOR_ALL,
        compute=_one_row_for_all(lambda probs: probs.mean(dim=0, keepdim=True)),
        example=learner.draws_from_the_batch_mean,
    ),
    Mistake(
        name="any token, equally likely",
        hint="Every token of your vocabulary is drawn equally often (torch.randint): sampling "
        "draws each token WITH ITS PROBABILITY, softmax(logits / temperature), through "
        "torch.multinomial(probs, 1).",
        compute=lambda logits, temperature, top_k: torch.full((2, logits.shape[-1]), 1 / logits.shape[-1]),
        example=learner.draws_any_token,
    ),
    Mistake(
        name="the top k filled instead",
        hint="Your top-k fills the LARGEST logits with −∞ and keeps the rest: masked_fill(mask, "
        "-inf) fills where the mask is True, so the mask marks the tokens to DROP, those below "
        "the k-th largest: logits < kth (not logits > kth).",
        compute=lambda logits, t, k: _probs(
            logits, t, k, keep=lambda rows, k: rows <= rows.topk(k, dim=-1).values[:, -1:]
        ),
        example=learner.fills_the_top_k_instead,
    ),
    Mistake(  # last: the temperatures and top-k's off by a known slip are named first
        name="a fixed temperature or top_k",
        hint="Your draws follow another temperature or top_k than the call's, the same on every "
        "call: a number typed in, or a variable from a cell above (temperature = 3.0, top_k = 3). "
        "Use the arguments temperature and top_k (top_k None: keep every token).",
        compute=None,
        recognise=_fixed,
        example=learner.uses_the_notebooks_temperature,
    ),
)
