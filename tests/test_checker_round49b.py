"""Round 49b: checker verdicts that learner reviews L1–L3 found wrong or unhelpful.

1. cosine_similarity (01): lengths = v.norm(dim=1) is 1-D, and lengths * lengths was told to
   write lengths * lengths.T; .T of a 1-D tensor changes nothing, so that "fix" got the same
   message again. The hint now says where the (T, 1) comes from, and why .T did nothing.
2. sinusoidal_encoding (02) and attention_scores (03): a pass named lib's function, not the
   learner's my_… one that the chapter's cell checks.
3. softmax (04): keepdim left out on both the max and the sum got only numbers.
4. keep_top_p (09): "(cumsum - p < top_p)" used p for a token's probability, while the
   chapter calls top-p's threshold p.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from transformer_course import checks
from transformer_course.checks import PASSED, WRONG

# --- 1. cosine_similarity: the length squared, lengths 1-D ---


def _with_lengths(lengths_of, pair):
    """A learner's cosine: the dot products over a product of the rows' lengths."""

    def cosine(vectors):
        lengths = lengths_of(vectors)
        return vectors @ vectors.T / pair(lengths)

    return cosine


def _flat(v):
    return v.norm(dim=1)  # (T,): the learner's lengths, no keepdim


def _column(v):
    return v.norm(dim=1, keepdim=True)  # (T, 1)


def _check_quietly(fn):
    with warnings.catch_warnings():  # .T of a 1-D tensor: PyTorch's deprecation warning
        warnings.simplefilter("ignore", UserWarning)
        return checks.check_cosine_similarity(fn)


@pytest.mark.parametrize(
    "pair",
    [lambda n: n * n, lambda n: n * n.T, lambda n: n.T * n],
    ids=["lengths * lengths", "the advice followed: lengths * lengths.T", "lengths.T * lengths"],
)
def test_one_d_lengths_are_told_that_t_does_nothing_and_how_to_get_a_column(pair):
    result = _check_quietly(_with_lengths(_flat, pair))
    assert result.status == WRONG, result
    message = result.message
    assert "1-D" in message and ".T does nothing" in message, message
    assert "v.norm(dim=1, keepdim=True)" in message and "lengths[:, None] * lengths[None, :]" in message


def test_the_one_d_hints_two_fixes_pass():
    keepdim = _with_lengths(_column, lambda n: n * n.T)
    indexed = _with_lengths(_flat, lambda n: n[:, None] * n[None, :])
    assert checks.check_cosine_similarity(keepdim).status == PASSED
    assert checks.check_cosine_similarity(indexed).status == PASSED


def test_column_lengths_times_themselves_are_told_lengths_t_without_the_one_d_detour():
    result = checks.check_cosine_similarity(_with_lengths(_column, lambda n: n * n))
    assert result.status == WRONG, result
    assert "lengths * lengths.T, (T, 1) * (1, T) → (T, T)" in result.message, result.message
    assert "1-D" not in result.message, result.message


# --- 2. the learner's own name in a pass ---


def my_sinusoidal_encoding(length, d_model):
    return checks.positions.solution(length, d_model)


def my_attention_scores(q, k):
    return q @ k.transpose(-2, -1)  # (..., Lq, d_k) @ (..., d_k, Lk) → (..., Lq, Lk)


@pytest.mark.parametrize(
    ("check", "fn"),
    [
        (checks.check_sinusoidal_encoding, my_sinusoidal_encoding),
        (checks.check_attention_scores, my_attention_scores),
    ],
    ids=["02", "03"],
)
def test_a_pass_names_the_learners_my_function(check, fn):
    result = check(fn)
    assert result.status == PASSED, result
    assert result.message.startswith(f"{fn.__name__} matches the reference"), result.message


def test_a_pass_of_a_lambda_still_names_the_exercise():
    result = checks.check_attention_scores(lambda q, k: q @ k.transpose(-2, -1))
    assert result.message.startswith("attention_scores matches the reference"), result.message
    result = checks.check_sinusoidal_encoding(lambda n, d: checks.positions.solution(n, d))
    assert result.message.startswith("sinusoidal_encoding matches the reference"), result.message


# --- 3. softmax: keepdim left out on the max and on the sum ---


def _no_keepdim_anywhere(scores):
    e = torch.exp(scores - scores.max(dim=-1).values)  # (..., L) shifts the columns
    return e / e.sum(dim=-1)  # and divides the columns


def _no_keepdim_anywhere_amax(scores):
    e = (scores - scores.amax(-1)).exp()
    return e / torch.sum(e, -1)


@pytest.mark.parametrize("fn", [_no_keepdim_anywhere, _no_keepdim_anywhere_amax])
def test_softmax_without_either_keepdim_is_named(fn):
    result = checks.check_softmax(fn)
    assert result.status == WRONG, result
    message = result.message
    assert "keepdim" in message and "both" in message and "differs from the reference" not in message
    assert "x.max(dim=-1, keepdim=True)" in message and "e.sum(dim=-1, keepdim=True)" in message


# --- 4. keep_top_p: p is top-p's threshold, not a token's probability ---


def _stops_before_the_crossing_token(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=-1) > top_p, 0.0)  # "while the total is at most p"
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(dim=-1, keepdim=True)


def test_the_crossing_token_hint_does_not_call_a_probability_p():
    result = checks.check_keep_top_p(_stops_before_the_crossing_token)
    assert result.status == WRONG, result
    assert "crossing" in result.message or "one token short" in result.message, result.message
    assert "cumsum - p" not in result.message, result.message
    assert "sorted_probs.cumsum(dim=-1) - sorted_probs < top_p" in result.message, result.message


def test_no_nucleus_hint_calls_a_probability_p():
    hints = [m.hint for m in checks.nucleus.MISTAKES]
    assert not [h for h in hints if "cumsum - p " in h or "- p <" in h]


# --- Every checker's pass names the learner's my_ function (the harness's pass text) ---


def test_every_checkers_pass_names_the_learners_own_function():
    from transformer_course.checks import EXERCISES

    for ex in EXERCISES:
        solution = ex.solution

        def mine(*args, _solution=solution):
            return _solution(*args)

        mine.__name__ = mine.__qualname__ = f"my_{ex.name}"
        result = ex.check(mine)
        assert result.passed and result.message.startswith(f"my_{ex.name} matches"), (ex.name, result.message)
