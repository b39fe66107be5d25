"""More of ``nucleus``'s catalogue: the wrong answers met in round 42's battery (each token's own
probability compared with top_p, min-p, the mask returned, one token too many, a mask shifted onto
itself, the notebook's top_p, scatter's arguments swapped, top_p read as a percentage), each with
its hint and a learner-style example (in ``nucleus_learners``). The right nucleus is lib's own
``keep_top_p`` in float64, as in ``nucleus.reference``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..sampling import keep_top_p
from . import nucleus_learners as learner
from .describe import same
from .harness import Mistake, fresh


def _renormalised(kept: torch.Tensor) -> torch.Tensor:
    return kept / kept.sum(dim=-1, keepdim=True)


# Rows that tell a threshold on each token's own probability from the nucleus: at 0.25 the
# tokens of at least 0.25 are two, where the nucleus keeps one; at 0.6 (1 − 0.6 = 0.4) it is one,
# where the nucleus keeps two.
_PROBE = torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.5, 0.3]])


def _own_probability_against(threshold: Callable[[float], float], probe_top_p: float):
    """recognise: the tokens kept are those whose OWN probability is at least threshold(top_p),
    on the checker's input and on ``_PROBE`` at ``probe_top_p``, where the nucleus differs."""

    def kept(probs: torch.Tensor, top_p: float) -> torch.Tensor:
        probs = probs.double()
        return _renormalised(probs * (probs >= threshold(top_p)))

    def recognise(fn, case, got) -> bool:
        probe = (_PROBE.clone(), probe_top_p)
        return same(got, kept(*case), 1e-5) and same(fn(*fresh(probe)), kept(*probe), 1e-5)

    return recognise


def _min_p(probs, top_p):
    probs = probs.double()
    return _renormalised(probs.masked_fill(probs < top_p * probs.amax(dim=-1, keepdim=True), 0.0))


def _the_mask(fn, case, got) -> bool:
    """True/1 where the nucleus keeps a token, False/0 elsewhere: the mask, not the probabilities."""
    want = keep_top_p(case[0].double(), case[1]) > 0
    if not isinstance(got, torch.Tensor) or got.shape != want.shape:
        return False
    return bool(torch.equal(got.double(), want.double()))


def _one_more(probs, top_p):
    """The nucleus and the token ranked right after it."""
    ranked, order = probs.double().sort(dim=-1, descending=True)
    keep = ranked.cumsum(dim=-1) - ranked < top_p
    keep[..., 1:] |= keep[..., :-1].clone()
    return _renormalised(torch.zeros_like(ranked).scatter(-1, order, ranked * keep))


def _shifted_onto_itself(probs, top_p):
    """What ``remove[..., 1:] = remove[..., :-1]`` leaves, run the same way (the slices overlap)."""
    ranked, order = probs.double().sort(dim=-1, descending=True)
    remove = ranked.cumsum(dim=-1) > top_p
    remove[..., 1:] = remove[..., :-1]
    remove[..., 0] = False
    return _renormalised(torch.zeros_like(ranked).scatter(-1, order, ranked.masked_fill(remove, 0.0)))


def _the_notebooks_top_p(fn, case, got) -> bool:
    probs, top_p = case
    p = learner.NOTEBOOK_TOP_P
    return top_p != p and same(got, keep_top_p(probs.double(), p), 1e-5)


SLIP_MISTAKES = (
    Mistake(
        name="each probability against top_p",
        hint="You compared each token's OWN probability with top_p (probs >= top_p, or with "
        "1 − top_p): top-p looks at what the likeliest tokens hold TOGETHER. Sort each row, add up "
        "with cumsum, and keep a token while the tokens ranked above it hold less than top_p.",
        compute=None,
        recognise=_own_probability_against(lambda p: p, 0.25),
        example=learner.compares_each_probability_with_top_p,
    ),
    Mistake(
        name="each probability against 1 − top_p",
        hint="You compared each token's OWN probability with 1 − top_p: top-p looks at what the "
        "likeliest tokens hold TOGETHER. Sort each row, add up with cumsum, and keep a token while "
        "the tokens ranked above it hold less than top_p.",
        compute=None,
        recognise=_own_probability_against(lambda p: 1 - p, 0.6),
        example=lambda probs, top_p: learner.compares_each_probability_with_top_p(probs, 1 - top_p),
    ),
    Mistake(
        name="min-p",
        hint="You kept the tokens whose probability is at least top_p times the row's largest: "
        "that is min-p sampling, another filter. Top-p keeps the likeliest tokens until TOGETHER "
        "they hold top_p: sort, cumsum, keep a token while the tokens above it hold less than top_p.",
        compute=_min_p,
        example=learner.keeps_tokens_near_the_max,
    ),
    Mistake(
        name="the mask returned",
        hint="You returned the mask of the nucleus (True or 1 where a token is kept): the exercise "
        "returns probabilities. Put the kept probabilities back at their ids (0 for the others) "
        "and divide each row by its sum.",
        compute=None,
        recognise=_the_mask,
        example=learner.returns_the_mask,
    ),
    Mistake(
        name="one token too many",
        hint="Your nucleus keeps one token too many: the one ranked right after the token that "
        "carries the total to top_p. Stop at that crossing token: keep a token while the tokens "
        "ranked ABOVE it hold less than top_p (above = cumsum − ranked; searchsorted's index k is "
        "the crossing token itself, so keep the ranks 0 … k).",
        compute=_one_more,
        example=learner.keeps_one_token_too_many,
    ),
    Mistake(
        name="mask shifted onto itself",
        hint="You shifted the mask onto itself, remove[..., 1:] = remove[..., :-1]: the two slices "
        "share memory, so the copy reads entries it has already overwritten and the first value "
        "spreads along the row. Copy first: remove[..., 1:] = remove[..., :-1].clone().",
        compute=_shifted_onto_itself,
        example=learner.shifts_the_mask_onto_itself,
    ),
    Mistake(
        name="the notebook's top_p",
        hint=f"Your nucleus is the one for top_p = {learner.NOTEBOOK_TOP_P}, the notebook's value, "
        "whatever top_p the call gives: use the argument top_p, not a number or a variable from "
        "a cell above.",
        compute=None,
        recognise=_the_notebooks_top_p,
        example=learner.uses_the_notebooks_top_p,
    ),
    Mistake(
        name="scatter's index and values swapped",
        hint="scatter was given the probabilities as its index: scatter(dim, index, src) puts "
        "src[i] at the position index[i], so the index is `order`, the token ids that sort "
        "returned, and src the (kept) probabilities: torch.zeros_like(probs).scatter(-1, order, ranked).",
        compute=None,
        error=r"scatter\(\): Expected dtype int(32/int)?64 for index",
        example=learner.scatters_the_probabilities_as_ids,
    ),
    Mistake(
        name="only the likeliest token",
        hint="Your nucleus keeps only each row's likeliest token, as greedy decoding does: is "
        "top_p divided by 100, as if it were a percentage? top_p is a share between 0 and 1 "
        "(0.9: the kept tokens hold 90 % of the probability).",
        compute=lambda probs, top_p: F.one_hot(probs.argmax(dim=-1), probs.shape[-1]).double(),
        example=learner.reads_top_p_as_a_percentage,
    ),
)
