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
from .harness import Exercise, Mistake, Result, check_function, randn

# --- The learner's side: the starter, a worked solution, other correct answers ---


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
    probs, top_p, *, order="descending", keep="above", axis=-1, renormalise=True, back=True, share=False
):
    """A learner's nucleus with one switch per catalogued mistake (all off: correct)."""
    if order == "vocab":
        ranked, ids = probs, torch.arange(probs.shape[-1]).expand_as(probs)
    else:
        ranked, ids = probs.sort(dim=-1, descending=order == "descending")
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
    ranked = ranked * stay
    if renormalise:
        ranked = ranked / ranked.sum(dim=-1, keepdim=True)
    return torch.zeros_like(probs).scatter(-1, ids, ranked) if back else ranked


def _a_loop(probs, top_p):
    """Row by row, token by token, as the definition reads."""
    out = torch.zeros_like(probs)
    for b, row in enumerate(probs):
        total = 0.0
        for i in row.argsort(descending=True).tolist():
            if total >= top_p:
                break
            out[b, i] = row[i]
            total += float(row[i])
    return out / out.sum(dim=-1, keepdim=True)


def _unsorted_with_gather(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    cumulative = ranked.cumsum(dim=-1)
    before = torch.cat([torch.zeros_like(cumulative[:, :1]), cumulative[:, :-1]], dim=-1)
    keep = (before < top_p).float()
    keep_by_id = keep.gather(-1, order.argsort(dim=-1))  # the inverse permutation
    kept = probs * keep_by_id
    return kept / kept.sum(dim=-1, keepdim=True)


ALTERNATIVES = {
    "lib's keep_top_p": keep_top_p,
    "a loop over rows and tokens": _a_loop,
    "unsorted with gather and argsort": _unsorted_with_gather,
    "by hand, every switch off": by_hand,
    "in float64": lambda p, top_p: solution(p.double(), top_p),
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


def _learner_stops_before_the_crossing_token(probs, top_p):
    sorted_probs, idx = torch.sort(probs, descending=True)
    mask = torch.cumsum(sorted_probs, dim=-1) <= top_p  # "while the total is at most p"
    sorted_probs = sorted_probs * mask
    kept = torch.zeros_like(probs).scatter_(-1, idx, sorted_probs)
    return kept / kept.sum(dim=-1, keepdim=True)


def _learner_forgets_to_renormalise(probs, top_p):
    sorted_probs, idx = torch.sort(probs, descending=True)
    cum = torch.cumsum(sorted_probs, dim=-1)
    sorted_probs[cum - sorted_probs >= top_p] = 0.0
    return torch.zeros_like(probs).scatter_(-1, idx, sorted_probs)


def _learner_never_sorts(probs, top_p):
    cum = probs.cumsum(dim=-1)  # in vocabulary order
    kept = torch.where(cum - probs < top_p, probs, torch.zeros_like(probs))
    return kept / kept.sum(dim=-1, keepdim=True)


def _learner_sorts_ascending(probs, top_p):
    sorted_probs, idx = probs.sort(dim=-1)  # ascending by default
    cum = sorted_probs.cumsum(dim=-1)
    sorted_probs = sorted_probs.masked_fill(cum - sorted_probs >= top_p, 0)
    kept = torch.zeros_like(probs).scatter(-1, idx, sorted_probs)
    return kept / kept.sum(dim=-1, keepdim=True)


def _learner_keeps_ranked_order(probs, top_p):
    sorted_probs, _ = probs.sort(dim=-1, descending=True)
    cum = sorted_probs.cumsum(dim=-1)
    kept = sorted_probs.masked_fill(cum - sorted_probs >= top_p, 0)
    return kept / kept.sum(dim=-1, keepdim=True)  # still most likely first


def _learner_drops_only_above(probs, top_p):
    sorted_probs, idx = probs.sort(dim=-1, descending=True)
    cum = sorted_probs.cumsum(dim=-1)
    sorted_probs = sorted_probs.masked_fill(cum - sorted_probs > top_p, 0)  # > where >= is due
    kept = torch.zeros_like(probs).scatter(-1, idx, sorted_probs)
    return kept / kept.sum(dim=-1, keepdim=True)


def _learner_sums_down_the_batch(probs, top_p):
    sorted_probs, idx = probs.sort(dim=-1, descending=True)
    cum = sorted_probs.cumsum(dim=0)
    sorted_probs = sorted_probs.masked_fill(cum - sorted_probs >= top_p, 0)
    kept = torch.zeros_like(probs).scatter(-1, idx, sorted_probs)
    return kept / kept.sum(dim=-1, keepdim=True)


def _learner_discards_the_mask(probs, top_p):
    sorted_probs, idx = probs.sort(dim=-1, descending=True)
    cum = sorted_probs.cumsum(dim=-1)
    sorted_probs.masked_fill(cum - sorted_probs >= top_p, 0.0)  # returns a new tensor, unused
    kept = torch.zeros_like(probs).scatter(-1, idx, sorted_probs)
    return kept / kept.sum(dim=-1, keepdim=True)


def _learner_keeps_a_share_of_tokens(probs, top_p):
    k = math.ceil(top_p * probs.shape[-1])  # "top 90 %" of the vocabulary
    kth = probs.topk(k, dim=-1).values[:, -1:]
    kept = probs.masked_fill(probs < kth, 0)
    return kept / kept.sum(dim=-1, keepdim=True)


def _learner_keeps_the_first_but_not_the_crossing_token(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    remove = ranked.cumsum(dim=-1) > top_p
    remove[..., 0] = False  # "always keep at least one token"
    kept = torch.zeros_like(probs).scatter(-1, order, ranked.masked_fill(remove, 0.0))
    return kept / kept.sum(dim=-1, keepdim=True)


def _mask_in_ranked_order(probs, top_p):
    ranked = probs.double().sort(dim=-1, descending=True).values
    keep = ranked.cumsum(dim=-1) - ranked < top_p  # (B, V) in ranked order
    kept = probs.double() * keep  # … laid over the probabilities in vocabulary order
    return kept / kept.sum(dim=-1, keepdim=True)


def _learner_masks_the_unsorted_probs(probs, top_p):
    sorted_probs, _ = torch.sort(probs, descending=True)
    keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < top_p
    kept = torch.where(keep, probs, torch.zeros_like(probs))
    return kept / kept.sum(dim=-1, keepdim=True)


def _learner_softmaxes_the_probabilities(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    drop = ranked.cumsum(dim=-1) - ranked >= top_p
    dropped = torch.zeros_like(drop).scatter(-1, order, drop)
    return torch.softmax(probs.masked_fill(dropped, float("-inf")), dim=-1)


def _learner_sums_without_keepdim(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= top_p, 0.0)
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(dim=-1)


MISTAKES = (
    Mistake(
        name="crossing token left out, the first always kept",
        hint="Your nucleus stops one token short: the token whose probability takes the total "
        "past top_p belongs in it. Always keeping the first token mends only the rows where it "
        "alone holds more than top_p; shift the running total instead: keep a token when the "
        "tokens ranked above it hold less than top_p (cumsum - p < top_p).",
        compute=lambda p, top_p: by_hand(p.double(), top_p, keep="total, first kept"),
        example=_learner_keeps_the_first_but_not_the_crossing_token,
    ),
    Mistake(
        name="crossing token left out",
        hint="Your nucleus stops one token short: the token whose probability takes the total "
        "past top_p belongs in it. Keep a token when the tokens ranked above it hold less than "
        "top_p (cumsum - p < top_p), not when the total including it is at most top_p; else a "
        "row whose likeliest token alone holds more than top_p keeps nothing.",
        compute=lambda p, top_p: by_hand(p.double(), top_p, keep="total"),
        example=_learner_stops_before_the_crossing_token,
    ),
    Mistake(
        name="not renormalised",
        hint="Your kept probabilities do not add up to 1: after giving the other tokens 0, "
        "divide each row by its new sum (kept / kept.sum(dim=-1, keepdim=True)).",
        compute=lambda p, top_p: by_hand(p.double(), top_p, renormalise=False),
        recognise=lambda fn, case, got: _right_tokens_wrong_sum(got, *case),
        example=_learner_forgets_to_renormalise,
    ),
    Mistake(
        name="not sorted",
        hint="You added the probabilities up in vocabulary order. The nucleus is the LIKELIEST "
        "tokens: sort each row from most to least likely first (probs.sort(dim=-1, "
        "descending=True)), add up in that order, then put each token back at its id.",
        compute=lambda p, top_p: by_hand(p.double(), top_p, order="vocab"),
        example=_learner_never_sorts,
    ),
    Mistake(
        name="sorted ascending",
        hint="You sorted from least to most likely, so your nucleus is made of the unlikeliest "
        "tokens: sort with descending=True.",
        compute=lambda p, top_p: by_hand(p.double(), top_p, order="ascending"),
        example=_learner_sorts_ascending,
    ),
    Mistake(
        name="left in ranked order",
        hint="Your probabilities are in ranked order (likeliest first), not at their tokens' "
        "ids: put each one back where it came from, with the indices the sort returned "
        "(torch.zeros_like(probs).scatter(-1, indices, kept)).",
        compute=lambda p, top_p: by_hand(p.double(), top_p, back=False),
        example=_learner_keeps_ranked_order,
    ),
    Mistake(
        name="> where >= is due",
        hint="Your nucleus keeps one token too many when the tokens above it already hold "
        "exactly top_p: it is complete then. Drop a token when the mass above it is >= top_p "
        "(keep it when < top_p).",
        compute=lambda p, top_p: by_hand(p.double(), top_p, keep="strict"),
        example=_learner_drops_only_above,
    ),
    Mistake(
        name="summed down the batch",
        hint="You added up down the batch (dim=0): each row is a distribution of its own, so "
        "take the cumulative sum along the vocabulary, dim=-1.",
        compute=lambda p, top_p: by_hand(p.double(), top_p, axis=0),
        example=_learner_sums_down_the_batch,
    ),
    Mistake(
        name="nothing left out",
        hint="Your result is the input: no token was left out. masked_fill returns a new tensor "
        "and leaves its input as it was, so assign what it returns (x = x.masked_fill(…)) or "
        "use masked_fill_.",
        compute=lambda p, top_p: p.double() / p.double().sum(dim=-1, keepdim=True),
        example=_learner_discards_the_mask,
    ),
    Mistake(
        name="a share of the tokens",
        hint="top_p is a share of the PROBABILITY, not of the tokens: keep the likeliest tokens "
        "until their probabilities add up to top_p, however many that is (one, when the "
        "likeliest alone holds top_p).",
        compute=lambda p, top_p: by_hand(p.double(), top_p, share=True),
        example=_learner_keeps_a_share_of_tokens,
    ),
    Mistake(
        name="mask applied in the wrong order",
        hint="Your mask was worked out on the sorted probabilities but applied to them in "
        "vocabulary order, so it keeps the wrong tokens. Apply it to the sorted ones and put "
        "those back, torch.zeros_like(probs).scatter(-1, order, ranked), or put the mask back "
        "the same way first.",
        compute=_mask_in_ranked_order,
        example=_learner_masks_the_unsorted_probs,
    ),
    Mistake(
        name="a softmax of the probabilities",
        hint="You renormalised with a softmax (after filling the others with −∞): softmax turns "
        "logits into probabilities, and these are probabilities already, so it flattens them. "
        "Divide by their sum instead: kept / kept.sum(dim=-1, keepdim=True).",
        compute=lambda p, top_p: torch.softmax(
            p.double().masked_fill(reference(p, top_p) == 0, float("-inf")), dim=-1
        ),
        example=_learner_softmaxes_the_probabilities,
    ),
    Mistake(
        name="sum without keepdim",
        hint="Your sum lost its last axis: kept.sum(dim=-1) has shape (B,), which lines up with "
        "the tokens, not with the rows. Keep it, kept.sum(dim=-1, keepdim=True), shape (B, 1).",
        compute=None,
        error=r"must match the size of tensor b",
        example=_learner_sums_without_keepdim,
    ),
)


def check_keep_top_p(learner_fn: Callable) -> Result:
    """Exercise 09b: ``fn(probs (B, V), top_p) → probs (B, V)``, the nucleus renormalised."""
    return check_function(learner_fn, reference, _cases(), name="keep_top_p", mistakes=MISTAKES)


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
