"""Exercise 06: attention weights under a causal mask and a padding mask.

``fn(scores (B, L, L), ids (B, L), pad_id) → weights (B, L, L)``: each query may see itself
and earlier tokens (causal), and never a padding key; softmax over the keys. A query that may
see nothing at all (a padding token at the start of a left-padded row) has no right answer
(NaN with -inf, uniform with -1e9, zeros in lib): its row is not compared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

import torch
import torch.nn.functional as F

from . import asked_for
from . import masks_learners as learner
from .built_ins import note_built_ins
from .failure import lost_an_axis
from .harness import Exercise, Mistake, Result, check_function, draws_at_random
from .learner_lines import naming_the_line
from .masks_inputs import INPUTS, edge_cases
from .masks_learners import ALTERNATIVES, by_hand
from .masks_more import KEEPDIM_MISTAKES, MORE_MISTAKES, NORMALISING_MISTAKES, ROUND_45B
from .masks_reference import cases as _usual_cases
from .masks_reference import (
    correct_mask,
    filled_with_minus_1e9,
    ignoring_empty_rows,
    lower_triangle,
    real_keys,
    reference,
    using_mask,
)
from .masks_round51 import FIRST, LAST, nan_zeroed
from .masks_slips import SLIPS
from .stale import learner_check

# --- The learner's side: the starter, a worked solution (more answers: masks_learners) ---


def starter(scores, ids, pad_id):
    """scores (B, L, L), ids (B, L) → weights (B, L, L) under causal + padding masks."""
    raise NotImplementedError


def solution(scores, ids, pad_id):
    """scores (B, L, L), ids (B, L) → weights (B, L, L) under causal + padding masks."""
    length = ids.shape[1]
    past = torch.ones(length, length, dtype=torch.bool).tril()  # (L, L): keys 0 … i
    real = (ids != pad_id).unsqueeze(1)  # (B, 1, L): real keys
    return torch.softmax(scores.masked_fill(~(past & real), float("-inf")), dim=-1)


# --- The checker's side: reference, test cases, the catalogue of mistakes ---


def _cases() -> list[tuple]:
    """The usual four (masks_reference), then scores in the hundreds (masks_inputs)."""
    return _usual_cases() + edge_cases()


def _spread_by_a_four_d_mask(fn, case, got) -> bool:
    """The result has the shape a (B, 1, 1, L) mask spreads (B, L, L) scores to: (B, B, L, L)."""
    scores = case[0]
    b, length = scores.shape[0], scores.shape[-1]
    return isinstance(got, torch.Tensor) and tuple(got.shape) == (b, b, length, length)


_ONE_AFTER = (
    "One of your two masks comes after the softmax (the weights multiplied by it, or .tril() "
    "taken of them): its blocked weights are 0, but each row no longer sums to 1. Apply both "
    "masks to the scores, filling with -inf, BEFORE the softmax."
)
_ADDED = (
    "You added a True/False mask to the scores: that moves some scores up by 1 and hides "
    "nothing. Fill the blocked scores instead, scores.masked_fill(~allowed, float('-inf')) (an "
    "additive mask holds 0 where allowed and -inf where blocked)."
)

MISTAKES = (
    Mistake(
        name="masked after the softmax",
        hint="You masked after the softmax: the blocked weights are 0, but each row no longer "
        "sums to 1 (the weight on the future was thrown away). Fill the blocked scores "
        "with -inf BEFORE the softmax, so the remaining weights share the whole 1.",
        compute=partial(reference, after_softmax=True),
        example=partial(by_hand, after=True),
    ),
    Mistake(
        name="padding after the softmax",
        hint=_ONE_AFTER,
        compute=lambda s, i, p: (
            torch.softmax(s.masked_fill(~lower_triangle(i.shape[1]), float("-inf")), -1) * real_keys(i, p)
        ),
        example=learner.pads_after_the_softmax,
    ),
    Mistake(
        name="causal mask after the softmax",
        hint=_ONE_AFTER,
        compute=lambda s, i, p: (
            torch.softmax(s.masked_fill(~real_keys(i, p), float("-inf")), -1) * lower_triangle(i.shape[1])
        ),
        example=learner.tril_after_the_softmax,
    ),
    Mistake(
        name="mask added to the scores",
        hint=_ADDED,
        compute=lambda s, i, p: torch.softmax(s + correct_mask(i, p).to(s.dtype), dim=-1),
        example=learner.adds_the_mask,
    ),
    Mistake(
        name="blocked positions added to the scores",
        hint=_ADDED,
        compute=lambda s, i, p: torch.softmax(s + (~correct_mask(i, p)).to(s.dtype), dim=-1),
        example=lambda scores, ids, pad_id: torch.softmax(
            scores + (torch.ones(ids.shape[1], ids.shape[1]).triu(1).bool() | (ids == pad_id)[:, None, :]),
            dim=-1,
        ),
    ),
    Mistake(
        name="tril(diagonal=-1)",
        hint="The diagonal is masked too: a token must be allowed to see itself. With "
        "tril(diagonal=-1) the first token sees nothing, and its row becomes NaN (or, with "
        "-1e9, an even spread over keys it may not see). "
        "Use torch.ones(L, L).tril() (diagonal=0) as the allowed positions.",
        compute=using_mask(lambda i, p: lower_triangle(i.shape[1], -1) & real_keys(i, p)),
        example=partial(by_hand, diagonal=-1),
    ),
    Mistake(
        name="0 instead of -inf",
        hint="You filled the blocked scores with 0: exp(0) = 1, so blocked keys still get weight. "
        "Fill them with float('-inf') (or a large negative number such as -1e9), whose exp is 0.",
        compute=partial(reference, fill=0.0),
        example=partial(by_hand, blocked_value=0.0),
    ),
    Mistake(
        name="tril(diagonal=1)",
        hint="Your causal mask lets each token peek one step ahead: tril(diagonal=1) also allows "
        "key i+1. Use tril() (diagonal=0): query i may see keys 0 … i.",
        compute=using_mask(lambda i, p: lower_triangle(i.shape[1], 1) & real_keys(i, p)),
        example=partial(by_hand, diagonal=1),
    ),
    Mistake(
        name="triu instead of tril",
        hint="Your causal mask points the wrong way: each token sees the FUTURE and not the "
        "past (triu instead of tril). Query i may see keys 0 … i: the lower triangle.",
        compute=using_mask(lambda i, p: lower_triangle(i.shape[1]).T & real_keys(i, p)),
        example=partial(by_hand, upper=True),
    ),
    Mistake(
        name="padding on the queries",
        hint="Your padding mask blocks the padded QUERIES (rows) instead of the padded KEYS "
        "(columns). It must have shape (B, 1, L): the same keys hidden for every query.",
        compute=using_mask(lambda i, p: lower_triangle(i.shape[1]) & (i != p)[:, :, None]),
        example=partial(by_hand, query_axis=True),
    ),
    Mistake(
        name="padding on both axes",
        hint="Your padding mask blocks the padded QUERIES (rows) as well as the padded keys: a "
        "padding query that follows real tokens then sees nothing, and its row becomes NaN with "
        "-inf (which spreads through the next layer) or, with -1e9, an even spread over every "
        "key, the future and the padding included. Block only the keys: shape (B, 1, L).",
        compute=using_mask(lambda i, p: lower_triangle(i.shape[1]) & real_keys(i, p) & (i != p)[:, :, None]),
        example=partial(by_hand, query_axis="both"),
    ),
    Mistake(
        name="padding inverted",
        hint="Your padding mask is inverted: (ids == pad_id) is True at the PADDING, so only the "
        "padding keys stay visible. The keys that may be seen are the real tokens: ids != pad_id.",
        compute=using_mask(lambda i, p: lower_triangle(i.shape[1]) & (i == p)[:, None, :]),
        example=partial(by_hand, pad_inverted=True),
    ),
    Mistake(
        name="masks combined with OR",
        # Blocked masks joined with & give the same weights (De Morgan): the hint names both.
        hint="Your masks are combined the wrong way: a key is visible if EITHER mask allows it, so "
        "the future of real tokens leaks through. Masks of what MAY be seen (tril(), ids != "
        "pad_id) combine with AND (&); masks of what is BLOCKED (triu(diagonal=1), ids == pad_id) "
        "combine with OR (|): a key is blocked if either blocks it.",
        compute=using_mask(lambda i, p: lower_triangle(i.shape[1]) | real_keys(i, p)),
        example=partial(by_hand, combine="or"),
    ),
    Mistake(
        name="no padding mask",
        hint="Only the causal mask is applied: padding positions can still be attended. "
        "Also block the keys where ids == pad_id.",
        compute=using_mask(lambda i, p: lower_triangle(i.shape[1]).expand(i.shape[0], -1, -1)),
        example=partial(by_hand, padding=False),
    ),
    Mistake(
        name="no causal mask",
        hint="Only the padding mask is applied: every token still sees the future. Combine it "
        "with the causal (lower-triangular) mask.",
        compute=using_mask(lambda i, p: real_keys(i, p).expand(-1, i.shape[1], -1)),
        example=partial(by_hand, causal=False),
    ),
    # Neither mask reaches the softmax: usually a masked_fill whose result was thrown away.
    Mistake(
        name="no mask applied",
        hint="Your weights are a plain softmax of the scores: no mask reached them. masked_fill "
        "returns a NEW tensor and leaves scores unchanged, so keep its result, scores = "
        "scores.masked_fill(~allowed, float('-inf')).",
        compute=using_mask(lambda i, p: torch.ones(i.shape[0], i.shape[1], i.shape[1], dtype=torch.bool)),
        example=learner.discards_the_fill,
    ),
    Mistake(
        name="pad id hard-coded as 0",
        hint="You took 0 as the padding id: use the pad_id argument (ids != pad_id). Here the "
        "padding id is 1, and 0 is a real token.",
        compute=lambda scores, ids, pad_id: reference(scores, ids, 0),
        example=lambda scores, ids, pad_id: by_hand(scores, ids, 0),
    ),
    Mistake(
        name="mask inverted",
        hint="Your mask convention is inverted: in this course True means MAY attend, so fill "
        "with -inf where the mask is False (scores.masked_fill(~allowed, -inf)).",
        compute=partial(reference, inverted=True),
        example=partial(by_hand, inverted=True),
    ),
    Mistake(
        name="causal mask inverted",
        hint="Your causal mask is inverted: you hid the past and the token itself, and left the "
        "future visible. In this course True means MAY attend: torch.ones(L, L).tril() marks "
        "what each query may see, so fill where it is False, scores.masked_fill(~allowed, -inf).",
        compute=using_mask(lambda i, p: ~lower_triangle(i.shape[1]) & real_keys(i, p)),
        example=learner.blocks_the_past,
    ),
    Mistake(
        name="softmax over the queries",
        hint="Softmax over the wrong axis: dim=1 (dim=-2) of the (B, L, L) scores runs down the QUERIES. "
        "Each query's row of weights over the keys must sum to 1: dim=-1.",
        compute=partial(reference, dim=1),
        example=learner.normalises_the_columns,
    ),
    Mistake(
        name="softmax over the batch",
        hint="Softmax over the wrong axis: dim=0 of the (B, L, L) scores runs across the SENTENCES "
        "of the batch (and F.softmax without dim= picks dim=0 for 3-D scores). Each query's row "
        "of weights over the keys must sum to 1: dim=-1.",
        compute=partial(reference, dim=0),
        example=learner.normalises_over_the_batch,
    ),
    Mistake(
        name="no softmax",
        hint="You returned the masked SCORES: the weights are their softmax over the keys, "
        "torch.softmax(masked_scores, dim=-1), so that each row sums to 1.",
        compute=partial(reference, softmax=False),
        example=learner.forgets_the_softmax,
    ),
    Mistake(
        name="the 4-D padding mask on 3-D scores",
        hint="Your padding mask is (B, 1, 1, L), the shape made for multi-head scores (B, h, L, "
        "L); these scores are (B, L, L), so it spread them to (B, B, L, L). Give it one axis for "
        "the queries only: (ids != pad_id).unsqueeze(1), shape (B, 1, L).",
        compute=None,
        recognise=_spread_by_a_four_d_mask,
        example=learner.uses_the_four_d_padding_mask,
    ),
    *KEEPDIM_MISTAKES,  # met in the 41st read (masks_more)
    Mistake(
        name="mask that does not line up with the scores",
        hint="Your mask does not line up with the (B, L, L) scores: it must broadcast to them. "
        "The causal part is (L, L), a lower triangle over L = ids.shape[1] positions; the padding "
        "part needs an axis for the queries, (ids != pad_id).unsqueeze(1), shape (B, 1, L): the "
        "same padding keys hidden for every query.",
        compute=None,
        error=r"must match the size of tensor",
        # A torch broadcast that took no sum's result without its axis (that is the row sum's)
        failed_at=lambda failure, case: failure.name is not None and not lost_an_axis(failure),
        example=learner.masks_without_a_query_axis,
    ),
    Mistake(
        name="float mask",
        hint="A mask must be bool (True/False): masked_fill, ~ and torch.where take no other. "
        "Yours holds numbers (1 and 0): build it with dtype=torch.bool, or turn it into one, "
        "allowed.bool() or allowed == 0.",
        compute=None,
        error=r"only supports boolean masks|invert\) is only implemented on integer and Boolean"
        r"|condition to be a boolean tensor",
        example=learner.fills_with_a_float_mask,
    ),
    draws_at_random(lambda scores, ids, pad_id: F.dropout(solution(scores, ids, pad_id), 0.1)),
    *MORE_MISTAKES,  # met in the seventh audit (masks_more)
    *NORMALISING_MISTAKES,  # met in the 41st read (masks_more)
    *SLIPS,  # met in the round-43a battery (masks_slips)
    *ROUND_45B,  # padding on both axes with its NaN rows zeroed (masks_more)
)
MISTAKES = INPUTS + MISTAKES  # round 44: a softmax by hand that overflows (masks_inputs)
MISTAKES = FIRST + MISTAKES + LAST  # round 51: NaN from the mask itself, the mask transposed


# The catalogue as the checker compares it: rows that may see nothing are left out everywhere,
# and each mistake is recognised whether the blocked scores were filled with -inf or -1e9, and
# with its NaN set to 0 afterwards (round 51, masks_round51).
_FILLED = MISTAKES + tuple(filter(None, map(filled_with_minus_1e9, MISTAKES)))
_COMPARED = tuple(
    replace(m, compute=m.compute and ignoring_empty_rows(m.compute))
    for m in _FILLED + tuple(filter(None, map(nan_zeroed, MISTAKES)))
)


@learner_check
def check_causal_masked_weights(learner_fn: Callable) -> Result:
    """Exercise 06: ``fn(scores (B, L, L), ids (B, L), pad_id) → weights (B, L, L)``.

    Each query may see itself and earlier tokens (causal), and never a padding key.
    """
    if not callable(learner_fn):
        raise ValueError(f"learner_fn must be a function, got {type(learner_fn).__name__}")
    cases = _cases()
    result = check_function(
        ignoring_empty_rows(naming_the_line(learner_fn)),
        ignoring_empty_rows(reference),
        cases,
        name="causal_masked_weights",
        mistakes=_COMPARED,
        needs_grad=True,
    )
    return note_built_ins(result, learner_fn, cases, asked_for.MASKED_WEIGHTS)


EXERCISES = (
    Exercise(
        name="causal_masked_weights",
        chapter="06",
        check=check_causal_masked_weights,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
