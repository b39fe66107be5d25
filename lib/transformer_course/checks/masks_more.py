"""More of ``masks``'s catalogue: the wrong answers met in the seventh audit, each
with what it computes, its hint and a learner-style example.
"""

from __future__ import annotations

import torch

from . import masks_learners as learner
from .describe import same
from .failure import Failure, lost_an_axis
from .harness import Mistake


def _allowed(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, L, L) bool: the causal mask and the real keys, True = may attend."""
    length = ids.shape[1]
    return torch.ones(length, length, dtype=torch.bool).tril() & (ids != pad_id)[:, None, :]


def _weights(scores, allowed, fill=float("-inf")):
    return torch.softmax(scores.masked_fill(~allowed, fill), dim=-1)


def _filled(fill: float):
    """The masks right, the blocked scores filled with ``fill``."""
    return lambda scores, ids, pad_id: _weights(scores, _allowed(ids, pad_id), fill)


def _future_zeroed(scores, ids, pad_id):
    return _weights(scores.tril(), (ids != pad_id)[:, None, :])


def _transposed(case: tuple, got: object) -> bool:
    """The right weights, transposed; filled with -inf or -1e9 alike. ``got`` has its rows of
    queries that see nothing zeroed already, and those are padding keys, 0 in every row."""
    scores, ids, pad_id = case
    if not isinstance(got, torch.Tensor) or got.shape != scores.shape:
        return False
    allowed = _allowed(ids, pad_id)
    empty = ~allowed.any(dim=-1, keepdim=True)
    back = got.transpose(1, 2).masked_fill(empty, 0.0)
    return same(back, _weights(scores, allowed).masked_fill(empty, 0.0))


def _filled_after_the_softmax(case: tuple, got: object) -> bool:
    """The plain softmax of the scores where attending is allowed, a huge negative number (-inf,
    -1e9) where it is blocked. ``got``'s rows of queries that see nothing are zeroed already."""
    scores, ids, pad_id = case
    if not isinstance(got, torch.Tensor) or got.shape != scores.shape:
        return False
    allowed = _allowed(ids, pad_id)
    blocked = ~allowed & allowed.any(dim=-1, keepdim=True)
    plain = torch.softmax(scores, dim=-1).masked_fill(~allowed, 0.0)
    huge = bool(blocked.any()) and bool((got[blocked] <= -1e8).all())
    return huge and same(got.masked_fill(~allowed, 0.0), plain)


_NOT_NEGATIVE_ENOUGH = (
    "You filled the blocked scores with a small negative number (-1, -10): exp of it is not "
    "near 0, so blocked keys keep some weight. Fill with float('-inf') (or -1e9), whose exp "
    "is 0."
)

# Answers met in the seventh audit: each names what it computes.
MORE_MISTAKES = (
    Mistake(
        name="future zeroed with tril",
        hint="scores.tril() sets the future scores to 0, not -inf: exp(0) = 1, so every query "
        "still gives weight to later keys. Fill them with -inf instead: "
        "scores.masked_fill(~allowed, float('-inf')), allowed the causal & padding mask.",
        compute=_future_zeroed,
        example=learner.zeroes_the_future_with_tril,
    ),
    Mistake(
        name="filled with -1",
        hint=_NOT_NEGATIVE_ENOUGH,
        compute=_filled(-1.0),
        example=learner.fills_with_minus_one,
    ),
    Mistake(
        name="filled with -10",
        hint=_NOT_NEGATIVE_ENOUGH,
        compute=_filled(-10.0),
        example=learner.fills_with_minus_ten,
    ),
    Mistake(
        name="filled with +inf",
        hint="You filled the blocked scores with +inf: exp(+inf) is infinite, and every row "
        "with a blocked key becomes NaN. Blocked scores take MINUS infinity, float('-inf'), "
        "whose exp is 0.",
        compute=_filled(float("inf")),
        example=learner.fills_with_plus_inf,
    ),
    Mistake(
        name="weights transposed",
        hint="Your weights are transposed: row i must be query i's weights over the keys, each "
        "ROW summing to 1. Return the softmax's result as it is, without .transpose(1, 2).",
        compute=None,
        recognise=lambda fn, case, got: _transposed(case, got),
        example=learner.transposes_the_weights,
    ),
    Mistake(
        name="-inf filled after the softmax",
        hint="You filled the blocked WEIGHTS with -inf (or -1e9) after the softmax: it goes on the "
        "SCORES, before it, so that the softmax turns it into a weight of 0. "
        "torch.softmax(scores.masked_fill(~allowed, float('-inf')), dim=-1).",
        compute=None,
        recognise=lambda fn, case, got: _filled_after_the_softmax(case, got),
        example=learner.fills_minus_inf_after_the_softmax,
    ),
)


# --- Met in the forty-first read: the softmax itself half written, or the scores changed ---


def _empty_rows(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, L, 1) bool: the queries that may see nothing (not compared)."""
    return ~_allowed(ids, pad_id).any(dim=-1, keepdim=True)


def _compared(got: object, case: tuple) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """(got as float64, the right weights, the allowed mask) with the rows that see nothing zeroed
    in both; None when ``got`` is not a float tensor of the scores' shape."""
    scores, ids, pad_id = case
    if not isinstance(got, torch.Tensor) or got.shape != scores.shape or not got.is_floating_point():
        return None
    allowed, empty = _allowed(ids, pad_id), _empty_rows(ids, pad_id)
    want = _weights(scores.double(), allowed).masked_fill(empty, 0.0)
    return got.double().masked_fill(empty, 0.0), want, allowed & ~empty


def _rescaled(case: tuple, got: object) -> bool:
    """The right masked softmax of scores / c, for some c other than 1 (√d, √L, a temperature).
    c is read off one row: log w_j - log w_k = (s_j - s_k) / c for two visible keys j, k."""
    compared = _compared(got, case)
    if compared is None:
        return False
    got, _, visible = compared
    scores = case[0].double()
    rows = (visible.sum(dim=-1) >= 2).nonzero()  # (row count, 2): batch, query
    if len(rows) == 0:
        return False
    b, q = rows[0].tolist()
    keys = visible[b, q].nonzero().flatten()
    j, k = int(keys[0]), int(keys[-1])
    ratio = (got[b, q, j] / got[b, q, k]).log()
    if not torch.isfinite(ratio) or abs(float(ratio)) < 1e-9:
        return False
    c = float((scores[b, q, j] - scores[b, q, k]) / ratio)
    if not c > 0 or abs(c - 1.0) < 1e-3:
        return False
    want = _weights(scores / c, _allowed(*case[1:])).masked_fill(_empty_rows(*case[1:]), 0.0)
    return same(got, want)


def _log_of_the_weights(case: tuple, got: object) -> bool:
    """log_softmax instead of softmax: exp of the answer is right (blocked: -inf or -1e9 → 0)."""
    compared = _compared(got, case)
    if compared is None:
        return False
    got, want, visible = compared
    return bool((got[visible] <= 0).all()) and same(got.exp().masked_fill(~visible, 0.0), want)


def _rows_not_normalised(case: tuple, got: object) -> bool:
    """Non-negative weights in the right proportions, zero where blocked, whose rows do not sum to
    1: exp of the masked scores (shifted or not), never divided by each row's sum."""
    compared = _compared(got, case)
    if compared is None:
        return False
    got, want, visible = compared
    if bool((got < 0).any()) or bool(got[~visible].ne(0).any()):
        return False
    sums = got.sum(dim=-1, keepdim=True)
    seen = visible.any(dim=-1, keepdim=True) & (sums > 0)
    if not bool(seen.any()) or same(sums[seen], torch.ones_like(sums[seen])):
        return False
    normalised = (got / sums.where(seen, 1.0)).masked_fill(~seen, 0.0)
    return same(normalised, want.masked_fill(~seen, 0.0))


NORMALISING_MISTAKES = (
    Mistake(
        name="scores scaled again",
        hint="Your weights are the softmax of the scores rescaled (divided or multiplied by √d, "
        "√L or another number): these scores are already scaled, as attention hands them over. "
        "This exercise only masks them and takes the softmax: use the scores as they are.",
        compute=None,
        recognise=lambda fn, case, got: _rescaled(case, got),
        example=learner.scales_the_scores_again,
    ),
    Mistake(
        name="log_softmax instead of softmax",
        hint="You returned log-weights: torch.log_softmax (or the log of the softmax) gives the "
        "logarithm of each weight, negative numbers and -inf where blocked. The weights "
        "themselves come from torch.softmax(masked_scores, dim=-1).",
        compute=None,
        recognise=lambda fn, case, got: _log_of_the_weights(case, got),
        example=learner.returns_log_softmax,
    ),
    Mistake(
        name="rows not normalised",
        hint="Each row of your weights has the right proportions but does not sum to 1: was the "
        "division by the row's sum left out (softmax = exp(scores) / exp(scores).sum over the "
        "keys), or were the weights divided by something else (√d) after the softmax? Divide "
        "exp by .sum(dim=-1, keepdim=True), or use torch.softmax(…, dim=-1) and leave it so.",
        compute=None,
        recognise=lambda fn, case, got: _rows_not_normalised(case, got),
        example=learner.exp_without_the_sum,
    ),
)


def _a_row_reduced_away(failure: Failure, case: tuple) -> bool:
    """An operand of the broadcast that failed is a reduction over the last axis of a (B, L, ·)
    tensor (weights.sum(-1), s.max(-1).values), or carried on from one: keepdim gives it
    (B, L, 1), the fix the hint names. A right count of the real tokens, (ids != pad_id).sum(-1),
    is (B,) and keepdim's (B, 1) fits no better: not this mistake (review R8)."""
    return lost_an_axis(failure, kept_as=torch.Size((*case[0].shape[:-1], 1)))  # (B, L, 1)


# Where it falls in ``masks.MISTAKES`` matters.
KEEPDIM_MISTAKES = (  # before masks' mask that does not line up: both raise the same error
    Mistake(
        name="row sum without keepdim",
        hint="A reduction over each row lost its axis: weights.sum(dim=-1) (or "
        "scores.max(dim=-1).values, a shift for a softmax by hand) is (B, L), which lines up "
        "with the KEYS axis of the (B, L, L) scores, not with the rows. Keep the reduced axis, "
        "keepdim=True: weights.sum(dim=-1, keepdim=True), shape (B, L, 1).",
        compute=None,
        error=r"must match the size of tensor",
        # The broadcast that failed took what a row's sum (a max) without keepdim returned.
        failed_at=_a_row_reduced_away,
        example=learner.renormalises_without_keepdim,
    ),
)


# --- Round 45b: padding blocked on both axes, its NaN rows patched to 0 ---


def _both_axes_nan_zeroed(scores, ids, pad_id):
    real = ids != pad_id  # (B, L)
    allowed = _allowed(ids, pad_id) & real[:, :, None]  # padded queries blocked too
    return _weights(scores, allowed).nan_to_num(0.0)


def _learner_patches_the_nan_rows(scores, ids, pad_id):
    length = ids.shape[1]
    real = ids != pad_id
    mask = torch.tril(torch.ones(length, length)).bool() & real.unsqueeze(1) & real.unsqueeze(2)
    weights = torch.softmax(scores.masked_fill(mask == 0, float("-inf")), dim=-1)
    return torch.nan_to_num(weights)  # the padded queries' rows were NaN


ROUND_45B = (
    Mistake(
        name="padding on both axes, NaN rows zeroed",
        # Also what zeroing the padded queries' rows of right weights gives (weights * (ids !=
        # pad_id)[:, :, None]): the same numbers, so a hint true of both.
        hint="The padded QUERIES' rows (the rows of <pad> tokens) are all 0: your padding mask "
        "blocks the padded queries as well as the padded keys (and the NaN rows that gives were "
        "set to 0, with nan_to_num or a multiplication), or you zeroed those rows afterwards. A "
        "padded query still sees the real tokens before it, like any other: block only the "
        "padded KEYS, (ids != pad_id).unsqueeze(1), shape (B, 1, L), and no row is NaN.",
        compute=_both_axes_nan_zeroed,
        example=_learner_patches_the_nan_rows,
    ),
)
