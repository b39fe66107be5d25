"""Round 48d: keep_top_p's "sum without keepdim" only where the renormalising sum lost its axis.

Review R8 found the hint named on learner code whose keepdim-less sum is a right count of the
kept tokens, ``n = (cum - ranked < top_p).sum(-1)``, shape (B,), compared without its axis: the
hint quotes ``kept.sum(dim=-1)``, which the learner never wrote. A sum over the batch axis,
``kept.sum(0)[:, None]``, was told it too, though keepdim there gives (1, V), no fix. The mistake
now needs the division that failed to take a sum over the probabilities' last axis, the one
keepdim turns into (B, 1) (``nucleus_keepdim``). The count is left to the harness's lost-axis
hint, which quotes the learner's own reduction; the true slips are still named; right answers pass.
"""

from __future__ import annotations

import pytest
import torch
from transformer_course.checks import ERROR, PASSED, WRONG, exercise

NAME = "keep_top_p"
MISTAKE = "sum without keepdim"


def _hint() -> str:
    return next(m.hint for m in exercise(NAME).mistakes if m.name == MISTAKE)


def _ranked(probs, top_p):
    """The probabilities sorted, those past the nucleus zeroed (B, V), and their order."""
    ranked, order = probs.sort(dim=-1, descending=True)
    return ranked.masked_fill(ranked.cumsum(-1) - ranked >= top_p, 0.0), order


def _nucleus(probs, top_p):
    ranked, order = _ranked(probs, top_p)
    return torch.zeros_like(probs).scatter(-1, order, ranked)  # (B, V), not renormalised


# --- R8's learner code: a right count without keepdim, compared without its axis ---


def _count_compared_without_its_axis(probs, top_p):
    ranked, order = probs.sort(-1, descending=True)
    n = ((ranked.cumsum(-1) - ranked) < top_p).sum(-1)  # (B,): how many kept, right
    keep = torch.arange(probs.shape[-1]).expand_as(probs) < n  # (V,)-long rows against (B,)
    kept = torch.zeros_like(probs).scatter(-1, order, ranked * keep)
    return kept / kept.sum(-1, keepdim=True)


def test_a_right_count_without_keepdim_is_not_called_the_renormalising_sum():
    result = exercise(NAME).check(_count_compared_without_its_axis)
    assert result.status == WRONG, result
    assert not result.message.startswith(_hint()), result.message
    assert "kept.sum" not in result.message, result.message
    # The harness's own hint: the learner's reduction, keepdim checked to make it right.
    assert ".sum(dim=-1, keepdim=True)" in result.message and "(3, 1)" in result.message, result.message


def _summed_over_the_batch(probs, top_p):
    kept = _nucleus(probs, top_p)
    return kept / kept.sum(0)[:, None]  # (V, 1): keepdim gives (1, V), no fix


def test_a_sum_over_the_batch_is_not_called_the_renormalising_sum():
    result = exercise(NAME).check(_summed_over_the_batch)
    assert result.status in (WRONG, ERROR), result
    assert not result.message.startswith(_hint()), result.message


# --- The true slips: the renormalising sum, its axis lost ---


def test_the_mistakes_own_example_is_still_named():
    example = next(m.example for m in exercise(NAME).mistakes if m.name == MISTAKE)
    result = exercise(NAME).check(example)
    assert result.status == WRONG and result.message.startswith(_hint()), result.message


def _with_an_epsilon(probs, top_p):
    kept = _nucleus(probs, top_p)
    return kept / (kept.sum(dim=-1) + 1e-12)  # carried on from the sum, still (B,)


def _by_torch_div(probs, top_p):
    kept = _nucleus(probs, top_p)
    return torch.div(kept, torch.nansum(kept, dim=1))


def _in_place(probs, top_p):
    kept = _nucleus(probs, top_p)
    kept /= kept.sum(-1)
    return kept


@pytest.mark.parametrize(
    "fn", [_with_an_epsilon, _by_torch_div, _in_place], ids=["epsilon", "div", "in place"]
)
def test_a_renormalising_sum_without_keepdim_is_still_named(fn):
    result = exercise(NAME).check(fn)
    assert result.status == WRONG and result.message.startswith(_hint()), result.message


# --- Right answers, a count among them, pass ---


def _count_with_its_axis(probs, top_p):
    ranked, order = probs.sort(-1, descending=True)
    n = ((ranked.cumsum(-1) - ranked) < top_p).sum(-1)  # (B,)
    keep = torch.arange(probs.shape[-1]).expand_as(probs) < n[:, None]
    kept = torch.zeros_like(probs).scatter(-1, order, ranked * keep)
    return kept / kept.sum(-1, keepdim=True)


def _sum_viewed_as_a_column(probs, top_p):
    kept = _nucleus(probs, top_p)
    return kept / kept.sum(-1).view(-1, 1)


@pytest.mark.parametrize(
    "fn", [_count_with_its_axis, _sum_viewed_as_a_column], ids=["count n[:, None]", "view(-1, 1)"]
)
def test_right_answers_pass(fn):
    result = exercise(NAME).check(fn)
    assert result.status == PASSED, result.message
