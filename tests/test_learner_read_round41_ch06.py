"""A learner's read of chapter 06 (masking), round 41: its checker and its prose.

The checker: six wrong answers a learner types got a bare "differs from the reference" (or, for a
row sum without keepdim, a hint about the MASK that the learner had right): the scores scaled by
√d again, log_softmax, softmax over the batch, exp never divided by its row's sum, and
renormalising by a sum without keepdim. Each is now named; right answers written other ways
still pass, and a mask that does not line up is still named as one.

The prose: the exercise now states what the scores are (float32, already scaled) and what to
return; "the rows no longer sum to 1" now says which rows, as the chapter prints; the slider and
the heatmap title that number sentences from 0 say so; encoder and decoder are glossed before
cross-attention uses them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch
from transformer_course import checks
from transformer_course.checks import PASSED, WRONG, exercise

CHAPTERS = Path(os.environ.get("TC_CHAPTERS_DIR", Path(__file__).resolve().parents[1] / "chapters"))
NEG = float("-inf")


def _hint(mistake_name):
    found = [m for m in exercise("causal_masked_weights").mistakes if m.name == mistake_name]
    assert found, f"causal_masked_weights has no mistake {mistake_name!r}"
    return found[0].hint


def names(fn, mistake_name):
    """The checker rejects ``fn`` with exactly that mistake's hint, first."""
    result = checks.check_causal_masked_weights(fn)
    assert result.status == WRONG, result
    assert result.message.startswith(_hint(mistake_name)), result.message


def _allowed(ids, pad_id):
    length = ids.shape[1]
    return torch.ones(length, length).tril().bool() & (ids != pad_id).unsqueeze(1)


def _masked(scores, ids, pad_id, fill=NEG):
    return scores.masked_fill(~_allowed(ids, pad_id), fill)


# --- The scores scaled again ---


@pytest.mark.parametrize("divide_by", [8**0.5, 2.0, 0.5, "sqrt L"])
@pytest.mark.parametrize("fill", [NEG, -1e9])
def test_scores_scaled_again_are_named(divide_by, fill):
    def my_masked_weights(scores, ids, pad_id):
        c = scores.shape[-1] ** 0.5 if divide_by == "sqrt L" else divide_by
        return torch.softmax(_masked(scores, ids, pad_id, fill) / c, dim=-1)

    names(my_masked_weights, "scores scaled again")


# --- log_softmax ---


@pytest.mark.parametrize(
    "log_of",
    [
        lambda masked: torch.log_softmax(masked, dim=-1),
        lambda masked: torch.softmax(masked, dim=-1).log(),
        lambda masked: masked - torch.logsumexp(masked, dim=-1, keepdim=True),
    ],
    ids=["log_softmax", "log of softmax", "minus logsumexp"],
)
def test_log_weights_are_named(log_of):
    names(lambda scores, ids, pad_id: log_of(_masked(scores, ids, pad_id)), "log_softmax instead of softmax")


# --- softmax over the batch ---


@pytest.mark.parametrize("fill", [NEG, -1e9])
@pytest.mark.parametrize("dim", [0, -3])
def test_softmax_over_the_batch_is_named(fill, dim):
    def my_masked_weights(scores, ids, pad_id):
        return torch.softmax(_masked(scores, ids, pad_id, fill), dim=dim)

    names(my_masked_weights, "softmax over the batch")


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")
def test_softmax_without_dim_is_named_as_over_the_batch():
    def my_masked_weights(scores, ids, pad_id):
        return torch.nn.functional.softmax(_masked(scores, ids, pad_id))  # no dim: 0 for 3-D

    names(my_masked_weights, "softmax over the batch")


# --- exp never divided by its row's sum ---


@pytest.mark.parametrize("shift", ["none", "row max", "global max"])
def test_exp_never_divided_by_its_sum_is_named(shift):
    def my_masked_weights(scores, ids, pad_id):
        masked = _masked(scores, ids, pad_id)
        if shift == "row max":
            masked = masked - scores.amax(dim=-1, keepdim=True)
        elif shift == "global max":
            masked = masked - scores.max()
        return masked.exp()

    names(my_masked_weights, "rows not normalised")


def test_weights_divided_after_the_softmax_are_named():
    def my_masked_weights(scores, ids, pad_id):
        return torch.softmax(_masked(scores, ids, pad_id), dim=-1) / 8**0.5  # √d, one step too late

    names(my_masked_weights, "rows not normalised")


# --- a row sum without keepdim, and a mask that does not line up ---


def _renormalised(weights_of_row_sum):
    def my_masked_weights(scores, ids, pad_id):
        weights = torch.softmax(scores, dim=-1) * _allowed(ids, pad_id)
        return weights_of_row_sum(weights)

    return my_masked_weights


@pytest.mark.parametrize(
    "divide",
    [
        lambda w: w / w.sum(dim=-1),
        lambda w: w / w.sum(-1),
        lambda w: torch.div(w, torch.sum(w, dim=2)),
        lambda w: w / w.sum(axis=-1),
    ],
    ids=["sum(dim=-1)", "sum(-1)", "torch.sum(dim=2)", "sum(axis=-1)"],
)
def test_a_row_sum_without_keepdim_is_named_not_the_mask(divide):
    names(_renormalised(divide), "row sum without keepdim")


def _helper_divides(w):
    return w / w.sum(-1)  # a helper of the learner's: the line that fails is in here


def test_a_row_sum_without_keepdim_in_a_helper_is_named():
    names(_renormalised(_helper_divides), "row sum without keepdim")


def test_the_failing_line_is_shown():
    result = checks.check_causal_masked_weights(_renormalised(_helper_divides))
    assert "in the line `return w / w.sum(-1)" in result.message, result.message


@pytest.mark.parametrize("how", ["fixed length 4", "padding without a query axis", "where"])
def test_a_mask_that_does_not_line_up_is_still_named_as_the_mask(how):
    def my_masked_weights(scores, ids, pad_id):
        if how == "fixed length 4":  # the chapter's 4-word causal mask, a global
            return torch.softmax(scores.masked_fill(~torch.ones(4, 4).tril().bool(), NEG), dim=-1)
        padded = ids == pad_id  # (B, L): no axis for the queries
        if how == "where":
            return torch.softmax(torch.where(padded, NEG, scores), dim=-1)
        return torch.softmax(scores.masked_fill(padded, NEG), dim=-1)

    names(my_masked_weights, "mask that does not line up with the scores")


def test_a_row_sum_with_keepdim_that_fails_elsewhere_is_not_called_a_keepdim_mistake():
    def my_masked_weights(scores, ids, pad_id):
        padded = (ids == pad_id).float()  # (B, L)
        weights = torch.softmax(scores, dim=-1) * (1 - padded)
        return weights / weights.sum(dim=-1, keepdim=True)

    result = checks.check_causal_masked_weights(my_masked_weights)
    assert result.status == WRONG
    assert not result.message.startswith(_hint("row sum without keepdim")), result.message


# --- Right answers, written other ways, still pass ---


def _loops(scores, ids, pad_id):
    out = torch.zeros_like(scores)
    for b in range(scores.shape[0]):
        for q in range(scores.shape[1]):
            row = scores[b, q].clone()
            for k in range(scores.shape[2]):
                if k > q or ids[b, k] == pad_id:
                    row[k] = NEG
            out[b, q] = torch.softmax(row, dim=0)
    return out


def _einsum(scores, ids, pad_id):
    length = ids.shape[1]
    allowed = torch.einsum("qk,bk->bqk", torch.ones(length, length).tril(), (ids != pad_id).float())
    return torch.softmax(scores.masked_fill(allowed == 0, NEG), dim=-1)


def _by_hand_with_keepdim(scores, ids, pad_id):
    e = (scores - scores.amax(dim=-1, keepdim=True)).exp() * _allowed(ids, pad_id)
    return e / e.sum(dim=-1, keepdim=True)


RIGHT = {
    "loops": _loops,
    "einsum": _einsum,
    "float64": lambda s, i, p: torch.softmax(_masked(s.double(), i, p), dim=-1),
    "finfo.min": lambda s, i, p: torch.softmax(_masked(s, i, p, torch.finfo(s.dtype).min), dim=-1),
    "exp over its sum, keepdim": _by_hand_with_keepdim,
    "minus logsumexp, exp": lambda s, i, p: (
        _masked(s, i, p) - torch.logsumexp(_masked(s, i, p), dim=-1, keepdim=True)
    ).exp(),
    "softmax over dim=2": lambda s, i, p: torch.softmax(_masked(s, i, p), dim=2),
    "in place": lambda s, i, p: torch.softmax(s.masked_fill_(~_allowed(i, p), NEG), dim=-1),
    "nan_to_num": lambda s, i, p: torch.nan_to_num(torch.softmax(_masked(s, i, p), dim=-1)),
}


@pytest.mark.parametrize("fn", RIGHT.values(), ids=RIGHT.keys())
def test_right_answers_written_other_ways_pass(fn):
    result = checks.check_causal_masked_weights(fn)
    assert result.status == PASSED, result.message


# --- The prose ---


def _chapter() -> str:
    (path,) = CHAPTERS.glob("06_*.py")
    return path.read_text(encoding="utf-8")


def _cells(text: str) -> list[str]:
    return re.split(r"^# %%", text, flags=re.M)[1:]


def _exercise_prose() -> str:
    cells = _cells(_chapter())
    starter = next(i for i, c in enumerate(cells) if "def my_masked_weights" in c)
    return cells[starter - 1]


def test_exercise_states_what_the_scores_are_and_what_to_return():
    prose = " ".join(_exercise_prose().replace("#", " ").split())
    assert "float32" in prose and "already scaled" in prose, prose
    assert "integer tensor (B, L)" in prose, prose
    assert "float tensor" in prose and "the last axis" in prose, prose


def test_zeroing_after_softmax_says_which_rows_stop_summing_to_one():
    text = _chapter()
    code = [c.split("\n", 1)[1] for c in _cells(text) if not c.startswith(" [markdown]")]
    names_ = {}
    for cell in code:
        if "figures." in cell or "widgets." in cell or "checks." in cell:
            continue
        exec(compile(cell, "chapter 06", "exec"), names_)  # noqa: S102 (the course's own cells)
        if "def zero_after_softmax" in cell:
            break
    sums = names_["wrong"].sum(dim=-1)
    assert not torch.isclose(sums[:-1], torch.ones(3)).any()
    assert torch.isclose(sums[-1], torch.tensor(1.0))
    prose = " ".join(text.split("### The wrong way")[1].split("# %%")[0].replace("#", " ").split())
    assert "only the last row, which has no future to hide, still does" in prose, prose


def test_sentence_numbers_say_they_count_from_zero():
    text = " ".join(_chapter().replace("#", " ").split())
    assert "counts from 0 as Python does" in text
    assert "Pick sentence 2, the third line and the longest" in text
    assert '"the cat sat" + 3 × <pad>: sentence 1, counting from 0' in text


def test_encoder_and_decoder_are_glossed_before_cross_attention_uses_them():
    text = " ".join(_chapter().replace("#", " ").split())
    gloss = text.index("an **encoder** reads the source sentence")
    assert gloss < text.index("**cross**-attention")
