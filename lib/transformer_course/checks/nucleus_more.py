"""More of ``nucleus``'s catalogue: the wrong answers met in the ninth audit (renormalised down
the batch, the nucleus returned as log-probabilities, a token drawn from it) and in the
forty-first round (the nucleus cut at 1 − top_p; masked_fill given the tokens to keep, so that
only the tail stays), each with its hint and a learner-style example (in ``nucleus_learners``).
The right nucleus is lib's own ``keep_top_p`` in float64, as in ``nucleus.reference``.
"""

from __future__ import annotations

import torch

from ..sampling import keep_top_p
from . import nucleus_learners as learner
from .describe import same
from .failure import Failure, along, failed_in
from .harness import Mistake


def _down_the_batch(probs, top_p):
    """The nucleus kept, each column divided by its sum over the rows (dim=0)."""
    probs = probs.double()
    kept = probs * (keep_top_p(probs, top_p) > 0)
    return kept / kept.sum(dim=0, keepdim=True)


def _log_probabilities(fn, case, got) -> bool:
    """−∞ where the nucleus leaves a token out, and what a softmax turns into the nucleus."""
    probs, top_p = case
    want = keep_top_p(probs.double(), top_p)
    if not isinstance(got, torch.Tensor) or got.shape != want.shape or not got.is_floating_point():
        return False
    got = got.double()
    return bool(torch.equal(got == float("-inf"), want == 0)) and bool(
        torch.allclose(torch.softmax(got, dim=-1), want, atol=1e-5)
    )


def _drew_a_token(fn, case, got) -> bool:
    """Integer ids, one per row, (B,) or (B, 1): a token drawn where the probabilities belong."""
    batch = case[0].shape[0]
    return (
        isinstance(got, torch.Tensor)
        and not got.is_floating_point()
        and got.dtype != torch.bool
        and tuple(got.shape) in ((batch,), (batch, 1))
    )


# A row where the nucleus at 1 − top_p differs from every near miss of the nucleus at top_p (the
# crossing token left out, the first kept or not): at 0.9 all three tokens stay, at 0.1 one.
_TELLS_ONE_MINUS_APART = (torch.tensor([[0.5, 0.3, 0.2]]), 0.9)


def _one_minus_top_p(fn, case, got) -> bool:
    """The nucleus of 1 − top_p, here and on a row where nothing else gives it."""
    probs, top_p = case
    if not 0.0 < 1 - top_p or not isinstance(got, torch.Tensor):
        return False
    if not same(got, keep_top_p(probs.double(), 1 - top_p), 1e-5):
        return False
    probe, p = _TELLS_ONE_MINUS_APART
    return same(fn(probe.clone(), p), keep_top_p(probe.double(), 1 - p), 1e-5)


def _the_tail(probs, top_p):
    """What the nucleus leaves out, renormalised: the mask of the tokens to keep was filled."""
    probs = probs.double()
    tail = probs * (keep_top_p(probs, top_p) == 0)
    return tail / tail.sum(dim=-1, keepdim=True)


ONE_MINUS_TOP_P = Mistake(
    name="cut at 1 − top_p",
    hint="Your nucleus holds 1 − top_p of the probability, not top_p: top_p is the share the "
    "likeliest tokens KEEP (0.9: they hold 90 %), not the share of the tail to cut. Keep a token "
    "while the tokens ranked above it hold less than top_p itself.",
    compute=None,
    recognise=_one_minus_top_p,
    example=learner.cuts_one_minus_top_p,
)

MORE_MISTAKES = (
    Mistake(
        name="renormalised down the batch",
        hint="You divided by the sums down the batch, dim=0 (a column's sum over the rows): a token "
        "no row kept makes 0 / 0 = NaN, and no row sums to 1. Each row is its own distribution: "
        "kept / kept.sum(dim=-1, keepdim=True).",
        compute=_down_the_batch,
        example=learner.renormalises_down_the_batch,
    ),
    Mistake(
        name="log-probabilities returned",
        hint="You returned log-probabilities (or logits) with −∞ for the tokens left out: the form "
        "a softmax takes next. This exercise returns the nucleus as PROBABILITIES: the kept ones "
        "renormalised to sum to 1, and 0 (not −∞) for the others.",
        compute=None,
        recognise=_log_probabilities,
        example=learner.returns_logits,
    ),
    Mistake(
        name="a token drawn",
        hint="You drew a token from the nucleus (torch.multinomial): that is the next step, done "
        "by the sampler that calls this function. Return the nucleus itself, probabilities of "
        "shape (B, V): the kept ones renormalised, 0 for the others.",
        compute=None,
        recognise=_drew_a_token,
        example=learner.draws_a_token,
    ),
    Mistake(
        name="the tail kept",
        hint="You kept the tail and dropped the nucleus: masked_fill(mask, 0.0) fills where the "
        "mask is True, so its mask must mark the tokens to DROP, those whose tokens ranked above "
        "already hold top_p or more (above >= top_p), not the ones to keep.",
        compute=_the_tail,
        example=learner.keeps_the_tail,
    ),
)


# --- Round 47c: named where it failed, not by the error's text alone ---

PUTS_BACK = ("scatter", "scatter_", "scatter_add", "scatter_add_", "gather", "take_along_dim")


def put_back_along_the_batch(failure: Failure, case: tuple) -> bool:
    """The function that failed scattered (or gathered) along dim 0, the rows: not an index of
    token ids into the rows (probs[order]) or a loop's swapped kept[order[b], b], which fail
    with the same words."""
    return failed_in(failure, *PUTS_BACK) and along(failure, 0, -2)
