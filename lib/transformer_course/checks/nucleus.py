"""Exercise 09b: the nucleus of top-p sampling.

``fn(probs (B, V), top_p in (0, 1]) → probs (B, V)``: keep the fewest most likely tokens
whose probabilities add up to at least ``top_p`` (a token stays when the tokens ranked above
it hold less than ``top_p``, so the likeliest always stays), give every other token 0, and
renormalise each row. Deterministic: the checker compares the probabilities themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..sampling import keep_top_p
from . import asked_for
from . import nucleus_learners as learner
from .built_ins import note_built_ins
from .describe import same
from .harness import Exercise, Mistake, Result, check_function, randn
from .nucleus_keepdim import SUM_WITHOUT_KEEPDIM
from .nucleus_more import MORE_MISTAKES, ONE_MINUS_TOP_P, put_back_along_the_batch
from .nucleus_round50 import ROUND_50
from .nucleus_slips import SLIP_MISTAKES
from .stale import learner_check

# --- The learner's side: the starter, a worked solution (more answers: nucleus_learners) ---


def starter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """probs (B, V), each row summing to 1 → the nucleus of each row, renormalised, (B, V)."""
    raise NotImplementedError


def solution(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """probs (B, V), each row summing to 1 → the nucleus of each row, renormalised, (B, V)."""
    ranked, order = probs.sort(dim=-1, descending=True)  # most likely first; order: their ids
    above = ranked.cumsum(dim=-1) - ranked  # what the tokens ranked above each one hold
    ranked = ranked.masked_fill(above >= top_p, 0.0)  # the nucleus was complete without it
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)  # back to vocabulary order
    return kept / kept.sum(dim=-1, keepdim=True)


def by_hand(
    probs,
    top_p,
    *,
    order="descending",
    keep="above",
    axis=-1,
    renormalise=True,
    back=True,
    share=False,
    gather=False,
    fill=0.0,
    one_cut=False,
    spread=False,
):
    """A learner's nucleus with one switch per catalogued mistake (all off: correct).

    one_cut: the first row's nucleus size cut every row; spread: the keep-mask renormalised in
    place of the kept probabilities (each kept token gets 1 / its row's nucleus size)."""
    if order == "vocab":
        ranked, ids = probs, torch.arange(probs.shape[-1]).expand_as(probs)
    else:
        ranked, ids = probs.sort(dim=-1, descending=order != "ascending")
    if order == "argsort":  # the ids of an ascending sort, for probabilities sorted descending
        ids = probs.argsort(dim=-1)
    total = ranked.cumsum(dim=axis)
    if share:  # top_p read as a share of the tokens
        stay = torch.arange(probs.shape[-1]) < math.ceil(top_p * probs.shape[-1])
    elif keep == "above":
        stay = total - ranked < top_p
    elif keep == "strict":
        stay = total - ranked <= top_p
    else:  # "total": the token that carries the sum past top_p is left out
        stay = total <= top_p
        if keep == "total, first kept":  # the usual guard against an empty row
            stay[..., 0] = True
    if one_cut:  # the first row's count of kept tokens, for every row
        stay = (torch.arange(probs.shape[-1]) < stay[0].sum()).expand_as(stay)
    ranked = stay.to(probs.dtype) if spread else ranked.masked_fill(~stay, fill)
    if renormalise:
        ranked = ranked / ranked.sum(dim=-1, keepdim=True)
    if gather:  # gather reads at the sort's indices: it sorts again, it does not undo the sort
        return ranked.gather(-1, ids)
    return torch.zeros_like(probs).scatter(-1, ids, ranked) if back else ranked


ALTERNATIVES = {
    "lib's keep_top_p": keep_top_p,
    "a loop over rows and tokens": learner.a_loop,
    "unsorted with gather and argsort": learner.unsorted_with_gather,
    "by hand, every switch off": by_hand,
    "in float64": lambda p, top_p: solution(p.double(), top_p),
    "a shifted removal mask, scattered back": learner.shifted_removal_mask,
}


# --- The checker's side: test cases, the catalogue of mistakes ---


def reference(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    return keep_top_p(probs.double(), top_p)  # lib's own, in float64


def _cases() -> list[tuple[torch.Tensor, float]]:
    # Random rows first, their tokens in no particular order, where most mistakes already
    # show; a square batch, so that adding up along the batch runs (and is named); then the
    # edge cases a random row never has: tokens above that hold exactly top_p (dyadic, so
    # exact in float32), a first token that alone holds more than top_p, and top_p = 1.
    g = torch.Generator().manual_seed(9)
    rows = torch.softmax(randn(3, 7, gen=g), dim=-1)  # no row sorted
    square = torch.softmax(randn(5, 5, gen=g, scale=1.5), dim=-1)
    exact = torch.tensor([[0.0625, 0.5, 0.1875, 0.25], [0.25, 0.0625, 0.5, 0.1875]])
    one_enough = torch.tensor([[0.1, 0.7, 0.2], [0.2, 0.1, 0.7]])
    return [(rows, 0.6), (square, 0.8), (exact, 0.75), (one_enough, 0.5), (rows, 1.0)]


def _right_tokens_wrong_sum(got: object, probs: torch.Tensor, top_p: float) -> bool:
    """The right tokens kept, in proportion, but rows that do not sum to 1 (divided by
    top_p, by the old sum, or not at all)."""
    want = reference(probs, top_p)
    if not isinstance(got, torch.Tensor) or got.shape != want.shape or not got.is_floating_point():
        return False
    got = got.double()
    if not bool(torch.isfinite(got).all()) or not torch.equal(got > 0, want > 0):
        return False
    sums = got.sum(dim=-1, keepdim=True)
    in_proportion = bool(torch.allclose(got / sums, want, atol=1e-5))
    return in_proportion and not bool(torch.allclose(sums, torch.ones_like(sums)))


def _mask_in_ranked_order(probs, top_p):
    ranked = probs.double().sort(dim=-1, descending=True).values
    keep = ranked.cumsum(dim=-1) - ranked < top_p  # (B, V) in ranked order
    kept = probs.double() * keep  # … laid over the probabilities in vocabulary order
    return kept / kept.sum(dim=-1, keepdim=True)


def _softmax_of_the_kept(fn, case, got) -> bool:
    """A softmax where the division by the sum belongs, over the kept probabilities with the
    others at 0 (not −∞), renormalised first or not."""
    probs, top_p = case
    kept = by_hand(probs.double(), top_p, renormalise=False)
    kept_sums_to_one = kept / kept.sum(dim=-1, keepdim=True)
    return any(same(got, torch.softmax(k, dim=-1), 1e-5) for k in (kept, kept_sums_to_one))


MISTAKES = (
    Mistake(
        name="crossing token left out, the first always kept",
        hint="Your nucleus stops one token short: the token whose probability takes the total "
        "past top_p belongs in it. Always keeping the first token mends only the rows where it "
        "alone holds more than top_p; shift the running total instead: keep a token when the "
        "tokens ranked above it hold less than top_p "
        "(sorted_probs.cumsum(dim=-1) - sorted_probs < top_p).",
        compute=lambda p, top_p: by_hand(p.double(), top_p, keep="total, first kept"),
        example=learner.keeps_the_first_but_not_the_crossing_token,
    ),
    Mistake(
        name="crossing token left out",
        hint="Your nucleus stops one token short: the token whose probability takes the total "
        "past top_p belongs in it. Keep a token when the tokens ranked above it hold less than "
        "top_p (sorted_probs.cumsum(dim=-1) - sorted_probs < top_p), not when the total "
        "including it is at most top_p; else a "
        "row whose likeliest token alone holds more than top_p keeps nothing.",
        compute=lambda p, top_p: by_hand(p.double(), top_p, keep="total"),
        example=learner.stops_before_the_crossing_token,
    ),
    Mistake(
        name="not renormalised",
        hint="Your kept probabilities do not add up to 1: after giving the other tokens 0, "
        "divide each row by its new sum (kept / kept.sum(dim=-1, keepdim=True)).",
        compute=lambda p, top_p: by_hand(p.double(), top_p, renormalise=False),
        recognise=lambda fn, case, got: _right_tokens_wrong_sum(got, *case),
        example=learner.forgets_to_renormalise,
    ),
    Mistake(
        name="not sorted",
        hint="You added the probabilities up in vocabulary order. The nucleus is the LIKELIEST "
        "tokens: sort each row from most to least likely first (probs.sort(dim=-1, "
        "descending=True)), add up in that order, then put each token back at its id.",
        compute=lambda p, top_p: by_hand(p.double(), top_p, order="vocab"),
        example=learner.never_sorts,
    ),
    Mistake(
        name="sorted ascending",
        hint="You sorted from least to most likely, so your nucleus is made of the unlikeliest "
        "tokens: sort with descending=True.",
        compute=lambda p, top_p: by_hand(p.double(), top_p, order="ascending"),
        example=learner.sorts_ascending,
    ),
    Mistake(
        name="left in ranked order",
        hint="Your probabilities are in ranked order (likeliest first), not at their tokens' "
        "ids: put each one back where it came from, with the indices the sort returned "
        "(torch.zeros_like(probs).scatter(-1, indices, kept)).",
        compute=lambda p, top_p: by_hand(p.double(), top_p, back=False),
        example=learner.keeps_ranked_order,
    ),
    Mistake(
        name="> where >= is due",
        hint="Your nucleus keeps one token too many when the tokens above it already hold "
        "exactly top_p: it is complete then. Drop a token when the mass above it is >= top_p "
        "(keep it when < top_p).",
        compute=lambda p, top_p: by_hand(p.double(), top_p, keep="strict"),
        example=learner.drops_only_above,
    ),
    Mistake(
        name="summed down the batch",
        hint="You added up down the batch (dim=0): each row is a distribution of its own, so "
        "take the cumulative sum along the vocabulary, dim=-1.",
        compute=lambda p, top_p: by_hand(p.double(), top_p, axis=0),
        example=learner.sums_down_the_batch,
    ),
    Mistake(
        name="nothing left out",
        hint="Your result is the input: no token was left out. masked_fill returns a new tensor "
        "and leaves its input as it was, so assign what it returns (x = x.masked_fill(…)) or "
        "use masked_fill_.",
        compute=lambda p, top_p: p.double() / p.double().sum(dim=-1, keepdim=True),
        example=learner.discards_the_mask,
    ),
    Mistake(
        name="a share of the tokens",
        hint="top_p is a share of the PROBABILITY, not of the tokens: keep the likeliest tokens "
        "until their probabilities add up to top_p, however many that is (one, when the "
        "likeliest alone holds top_p).",
        compute=lambda p, top_p: by_hand(p.double(), top_p, share=True),
        example=learner.keeps_a_share_of_tokens,
    ),
    Mistake(
        name="mask applied in the wrong order",
        hint="Your mask was worked out on the sorted probabilities but applied to them in "
        "vocabulary order, so it keeps the wrong tokens. Apply it to the sorted ones and put "
        "those back, torch.zeros_like(probs).scatter(-1, order, ranked), or put the mask back "
        "the same way first.",
        compute=_mask_in_ranked_order,
        example=learner.masks_the_unsorted_probs,
    ),
    Mistake(
        name="a softmax of the probabilities",
        hint="You renormalised with a softmax (after filling the others with −∞): softmax turns "
        "logits into probabilities, and these are probabilities already, so it flattens them. "
        "Divide by their sum instead: kept / kept.sum(dim=-1, keepdim=True).",
        compute=lambda p, top_p: torch.softmax(
            p.double().masked_fill(reference(p, top_p) == 0, float("-inf")), dim=-1
        ),
        example=learner.softmaxes_the_probabilities,
    ),
    Mistake(
        name="a softmax over the zeros",
        hint="You renormalised with a softmax: softmax turns logits into probabilities, and exp(0) "
        "= 1 gives every token you set to 0 a share again, so nothing is left out. These are "
        "probabilities already: divide by their sum, kept / kept.sum(dim=-1, keepdim=True).",
        compute=None,
        recognise=_softmax_of_the_kept,
        example=learner.softmaxes_the_zeros,
    ),
    Mistake(
        name="gathered back",
        hint="You put the sorted probabilities back with gather(-1, indices): gather READS at "
        "those indices, so it sorts a second time instead of undoing the sort. scatter WRITES "
        "each one at its token's id: torch.zeros_like(probs).scatter(-1, indices, kept) (or "
        "gather with the inverse order, indices.argsort(dim=-1)).",
        compute=lambda p, top_p: by_hand(p.double(), top_p, gather=True),
        example=learner.gathers_back,
    ),
    Mistake(
        name="filled with −∞",
        hint="You gave the left-out tokens −∞, as top-k does to LOGITS: these are probabilities, "
        "and a left-out token's probability is 0 (−∞ in a sum makes every row −∞, and the "
        "division NaN). Set them to 0.0, then divide by the sum.",
        compute=lambda p, top_p: by_hand(p.double(), top_p, fill=-math.inf),
        example=learner.fills_with_minus_infinity,
    ),
    Mistake(
        name="ids of another sort",
        hint="The ids you put the probabilities back with come from an ASCENDING sort "
        "(probs.argsort() sorts from least to most likely), and the probabilities from a "
        "descending one: each lands on another token. Take both from the same sort, ranked, "
        "order = probs.sort(dim=-1, descending=True).",
        compute=lambda p, top_p: by_hand(p.double(), top_p, order="argsort"),
        example=learner.argsorts_ascending,
    ),
    Mistake(
        name="put back along the batch",
        hint="You put the probabilities back along dim=0, the rows of the batch: the sort's "
        "indices are token ids, along the vocabulary. Scatter along dim=-1, "
        "torch.zeros_like(probs).scatter(-1, indices, kept).",
        compute=None,
        error=r"index \d+ is out of bounds for dimension 0",
        failed_at=put_back_along_the_batch,
        example=learner.scatters_along_the_batch,
    ),
    SUM_WITHOUT_KEEPDIM,  # named where the failing op took a sum without keepdim: nucleus_keepdim
    Mistake(
        name="one cut for the batch",
        hint="Row 0 is right, the other rows are not: each row has its own nucleus. Build the "
        "keep-mask per row (cumsum along dim=-1), not one k for all rows.",
        compute=lambda p, top_p: by_hand(p.double(), top_p, one_cut=True),
        example=learner.one_cut_for_the_batch,
    ),
    Mistake(
        name="the mask renormalised",
        hint="Every kept token got the same probability: you renormalised the mask. Keep each "
        "token's own probability (ranked × mask), then divide by the row's sum.",
        compute=lambda p, top_p: by_hand(p.double(), top_p, spread=True),
        example=learner.renormalises_the_mask,
    ),
)
# Met in the ninth audit and the forty-first round (nucleus_more); a nucleus of 1 − top_p can equal
# the one that leaves the crossing token out on some rows, so it is told apart first.
MISTAKES = (ONE_MINUS_TOP_P, *MISTAKES, *MORE_MISTAKES, *SLIP_MISTAKES)  # slips: round 42
MISTAKES += ROUND_50  # round 50's review: nucleus_round50


@learner_check
def check_keep_top_p(learner_fn: Callable) -> Result:
    """Exercise 09b: ``fn(probs (B, V), top_p) → probs (B, V)``, the nucleus renormalised."""
    cases = _cases()
    result = check_function(learner_fn, reference, cases, name="keep_top_p", mistakes=MISTAKES)
    return note_built_ins(result, learner_fn, cases, asked_for.KEEP_TOP_P)


EXERCISES = (
    Exercise(
        name="keep_top_p",
        chapter="09",
        check=check_keep_top_p,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
