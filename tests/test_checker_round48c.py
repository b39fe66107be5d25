"""Round 48c: causal_masked_weights' "row sum without keepdim" only where a row's reduction lost its axis.

Review R8 (section C) found the hint named on learner code whose keepdim-less sum is a right count,
``n_real = (ids != pad_id).sum(-1)``, shape (B,), broadcast wrongly against the (B, L, L) weights:
the hint quotes ``weights.sum(dim=-1)`` and shapes (B, L) the learner never wrote, and keepdim on
the count gives (B, 1), which does not broadcast either. The mistake now needs an operand of the
broadcast that failed to be a reduction over the last axis of a (B, L, ·) tensor, the one keepdim
turns into (B, L, 1). The true slips are still named, and right answers pass.
"""

from __future__ import annotations

import pytest
import torch
from transformer_course.checks import ERROR, PASSED, WRONG, exercise

NAME = "causal_masked_weights"
MISTAKE = "row sum without keepdim"


def _hint() -> str:
    return next(m.hint for m in exercise(NAME).mistakes if m.name == MISTAKE)


def _past(length: int) -> torch.Tensor:
    return torch.ones(length, length, dtype=torch.bool).tril()  # (L, L)


# --- R8's learner code: a right count without keepdim, broadcast wrongly ---


def _count_broadcast_wrongly(scores, ids, pad_id):
    real = ids != pad_id  # (B, L)
    n_real = real.sum(-1)  # (B,): how many real tokens, right
    allowed = _past(ids.shape[1]) & real.unsqueeze(1)
    w = torch.softmax(scores.masked_fill(~allowed, float("-inf")), -1)
    return w * (n_real > 0).float()  # (B,) against (B, L, L): needs [:, None, None]


def _count_divides_the_scores(scores, ids, pad_id):
    n_real = (ids != pad_id).sum(dim=-1)  # (B,), right, no keepdim needed for a count
    allowed = _past(ids.shape[1]) & (ids != pad_id)[:, None, :]
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")) / n_real.clamp(min=1), dim=-1)


@pytest.mark.parametrize(
    "fn", [_count_broadcast_wrongly, _count_divides_the_scores], ids=["times", "divided"]
)
def test_a_right_count_without_keepdim_is_not_called_a_row_sum(fn):
    result = exercise(NAME).check(fn)
    assert result.status in (WRONG, ERROR), result
    assert not result.message.startswith(_hint()), result.message
    assert "weights.sum(dim=-1, keepdim=True)" not in result.message, result.message


# --- The true slips: a reduction over each row, its axis lost ---


def _allowed(ids, pad_id):
    return _past(ids.shape[1]) & (ids != pad_id).unsqueeze(1)  # (B, L, L)


def _renormalised(scores, ids, pad_id):
    weights = torch.softmax(scores, dim=-1) * _allowed(ids, pad_id)
    return weights / weights.sum(dim=-1)


def _sum_on_its_own_line(scores, ids, pad_id):
    e = torch.exp(scores.masked_fill(~_allowed(ids, pad_id), float("-inf")))
    total = e.sum(-1)  # keepdim forgotten
    return e / total


def _max_shift(scores, ids, pad_id):
    s = scores.masked_fill(~_allowed(ids, pad_id), float("-inf"))
    return torch.softmax(s - s.max(dim=-1).values, dim=-1)


def _sum_with_an_epsilon(scores, ids, pad_id):
    e = torch.exp(scores.masked_fill(~_allowed(ids, pad_id), float("-inf")))
    return e / (e.sum(dim=2) + 1e-9)  # carried on from the sum, still (B, L)


def _shift_by_the_unmasked_max(scores, ids, pad_id):
    e = torch.exp(scores - scores.amax(-1)).masked_fill(~_allowed(ids, pad_id), 0.0)
    return e / e.sum(-1, keepdim=True)


@pytest.mark.parametrize(
    "fn",
    [_renormalised, _sum_on_its_own_line, _max_shift, _sum_with_an_epsilon, _shift_by_the_unmasked_max],
    ids=["renormalised", "own line", "max shift", "epsilon", "unmasked amax"],
)
def test_a_row_reduction_without_keepdim_is_still_named(fn):
    result = exercise(NAME).check(fn)
    assert result.status == WRONG and result.message.startswith(_hint()), result.message


def test_the_mistakes_own_example_is_still_named():
    example = next(m.example for m in exercise(NAME).mistakes if m.name == MISTAKE)
    result = exercise(NAME).check(example)
    assert result.status == WRONG and result.message.startswith(_hint()), result.message


# --- Right answers, counts among them, pass ---


def _count_broadcast_rightly(scores, ids, pad_id):
    real = ids != pad_id
    n_real = real.sum(-1)  # (B,)
    w = torch.softmax(scores.masked_fill(~(_past(ids.shape[1]) & real.unsqueeze(1)), float("-inf")), -1)
    return w * (n_real > 0).float()[:, None, None]


def _hand_softmax_with_keepdim(scores, ids, pad_id):
    s = scores.masked_fill(~_allowed(ids, pad_id), float("-inf"))
    e = (s - s.amax(dim=-1, keepdim=True)).exp()
    return e / e.sum(dim=-1, keepdim=True)


def _row_sum_unsqueezed(scores, ids, pad_id):
    weights = torch.softmax(scores, dim=-1) * _allowed(ids, pad_id)
    return weights / weights.sum(-1).unsqueeze(-1)


@pytest.mark.parametrize(
    "fn",
    [_count_broadcast_rightly, _hand_softmax_with_keepdim, _row_sum_unsqueezed],
    ids=["count [:, None, None]", "keepdim", "unsqueeze(-1)"],
)
def test_right_answers_pass(fn):
    result = exercise(NAME).check(fn)
    assert result.status == PASSED, result.message


# --- A sum over the queries' axis is not a row's sum (its dim recorded: checks.failure) ---


def _summed_over_the_queries(scores, ids, pad_id):
    weights = torch.softmax(scores, dim=-1) * _allowed(ids, pad_id)
    return weights / weights.sum(1)  # (B, L) from axis 1: keepdim gives (B, 1, L), still wrong


def test_a_sum_over_the_queries_is_not_called_a_row_sum():
    result = exercise(NAME).check(_summed_over_the_queries)
    assert result.status in (WRONG, ERROR), result
    assert not result.message.startswith(_hint()), result.message
