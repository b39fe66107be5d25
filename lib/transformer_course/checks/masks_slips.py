"""More of ``masks``'s catalogue (causal_masked_weights): the slips met in the round-43a battery,
each with what gives it away, its hint and a learner-style example."""

from __future__ import annotations

from functools import partial

import torch

from .describe import same
from .harness import Mistake
from .masks_reference import correct_mask, lower_triangle, real_keys, reference


def _softmax_blocked(scores: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)


def _softmax_twice(fn, case, got) -> bool:
    """One mask applied before a first softmax, the other (or both) before a second one, on
    the weights: rows of queries that may see nothing left out, as the checker leaves them."""
    scores, ids, pad_id = case
    causal, real = lower_triangle(ids.shape[1]), real_keys(ids, pad_id)
    both = correct_mask(ids, pad_id)
    empty = ~both.any(dim=-1, keepdim=True)
    pairs = ((causal, real), (real, causal), (both, both), (causal, both), (real, both))
    return any(
        same(got, _softmax_blocked(_softmax_blocked(scores, first), second).masked_fill(empty, 0.0))
        for first, second in pairs
    )


def _learner_softmaxes_per_mask(scores, ids, pad_id):
    n = scores.size(-1)
    causal = torch.tril(torch.ones(n, n)).bool()
    weights = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)  # causal first
    padding = (ids == pad_id).unsqueeze(1)
    return torch.softmax(weights.masked_fill(padding, float("-inf")), dim=-1)  # then padding


SLIPS = (
    Mistake(
        name="softmax applied twice",
        hint="You took a softmax after each mask: the second softmax runs on weights, numbers "
        "between 0 and 1, and flattens them towards uniform. Combine the two masks first, "
        "allowed = causal & (ids != pad_id).unsqueeze(1), fill the blocked scores with -inf once, "
        "then take ONE softmax over dim=-1.",
        compute=None,
        recognise=_softmax_twice,
        example=_learner_softmaxes_per_mask,
    ),
)


def _one_mask_zero(fn, case, got) -> bool:
    """One mask's blocked scores filled with -inf, the other's with 0, one masked_fill after
    the other in either order (the second overwrites what both block)."""
    scores, ids, pad_id = case
    causal, real = lower_triangle(ids.shape[1]), real_keys(ids, pad_id)
    empty = ~correct_mask(ids, pad_id).any(dim=-1, keepdim=True)
    inf = float("-inf")
    for fills in (
        ((causal, inf), (real, 0.0)),
        ((real, 0.0), (causal, inf)),
        ((real, inf), (causal, 0.0)),
        ((causal, 0.0), (real, inf)),
    ):
        filled = scores
        for allowed, value in fills:
            filled = filled.masked_fill(~allowed, value)
        if same(got, torch.softmax(filled, dim=-1).masked_fill(empty, 0.0)):
            return True
    return False


def _mask_on_transposed(fn, case, got) -> bool:
    """The right masks laid on the scores transposed, (B, keys, queries)."""
    scores, ids, pad_id = case
    both = correct_mask(ids, pad_id)
    empty = ~both.any(dim=-1, keepdim=True)
    return same(got, _softmax_blocked(scores.mT, both).masked_fill(empty, 0.0))


def _learner_zeroes_the_padding(scores, ids, pad_id):
    n = ids.size(1)
    scores = scores.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), float("-inf"))
    scores = scores.masked_fill(ids[:, None, :] == pad_id, 0)  # "0: no attention"
    return scores.softmax(-1)


def _learner_transposes_the_scores(scores, ids, pad_id):
    n = ids.size(1)
    allowed = torch.tril(torch.ones(n, n)).bool() & (ids != pad_id)[:, None, :]
    return scores.transpose(1, 2).masked_fill(~allowed, float("-inf")).softmax(-1)


SLIPS += (
    Mistake(
        name="one mask filled with 0",
        hint="One of your masks fills its blocked scores with 0, not -inf: a score of 0 still gets "
        "a weight, exp(0) = 1 before normalising. Fill every blocked score with -inf (one "
        "masked_fill with the combined mask, ~(causal & real)), so that exp gives exactly 0.",
        compute=None,
        recognise=_one_mask_zero,
        example=_learner_zeroes_the_padding,
    ),
    Mistake(
        name="scores transposed before the mask",
        hint="You transposed the scores before masking them: scores[b, i, j] is already query i's "
        "score for key j, rows = queries, as the masks expect. Mask the scores as given: "
        "scores.masked_fill(~allowed, float('-inf')), then softmax over dim=-1.",
        compute=None,
        recognise=_mask_on_transposed,
        example=_learner_transposes_the_scores,
    ),
)


def _one_sentences_padding(fn, case, got) -> bool:
    """The causal mask right, the padding of one sentence of the batch (ids[b]) used for all."""
    scores, ids, pad_id = case
    causal = lower_triangle(ids.shape[1])
    empty = ~correct_mask(ids, pad_id).any(dim=-1, keepdim=True)
    for row in ids:
        allowed = causal & (row != pad_id)  # (L, L)
        if torch.equal(allowed.expand_as(scores), correct_mask(ids, pad_id).expand_as(scores)):
            continue  # this sentence's padding is every sentence's: the right answer
        if same(got, _softmax_blocked(scores, allowed).masked_fill(empty, 0.0)):
            return True
    return False


def _learner_takes_the_first_sentence(scores, ids, pad_id):
    n = ids.shape[-1]
    pad = ids[0] == pad_id  # (L,): the first sentence's padding, tried on one example
    blocked = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1) | pad
    return torch.softmax(scores.masked_fill(blocked, float("-inf")), dim=-1)


SLIPS += (
    Mistake(
        name="first sentence's padding for all",
        hint="Your padding mask comes from ONE sentence (ids[0], or a row kept from a cell "
        "above) and is laid on every sentence of the batch: each has its own padding. Keep the "
        "batch axis, (ids != pad_id).unsqueeze(1), shape (B, 1, L).",
        compute=None,
        recognise=_one_sentences_padding,
        example=_learner_takes_the_first_sentence,
    ),
)


def _learner_adds_1e9_to_the_blocked(scores, ids, pad_id):
    n = ids.shape[-1]
    allowed = torch.tril(torch.ones(n, n, dtype=torch.bool)) & (ids != pad_id).unsqueeze(1)
    return torch.softmax(scores + (~allowed).float() * 1e9, dim=-1)  # meant * -1e9


# Met in round 48's review. float32 rounds a score + 1e9 to 1e9 itself: an even spread.
SLIPS += (
    Mistake(
        name="+1e9 on the blocked keys",
        hint="Your blocked keys got +1e9 (scores + (~allowed) * 1e9, or masked_fill(~allowed, 1e9)): "
        "the sign is flipped, so each query's weight goes to the keys it must NOT see (the "
        "future, the padding), spread evenly over them. Blocked keys need a large NEGATIVE number: "
        "scores.masked_fill(~allowed, float('-inf')) (or -1e9).",
        compute=partial(reference, fill=1e9),
        example=_learner_adds_1e9_to_the_blocked,
    ),
)
