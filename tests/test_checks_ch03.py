"""Chapter 03's exercise: the attention-scores checker passes the reference, names each mistake."""

import warnings

import pytest
import torch
from transformer_course.attention import attention_scores
from transformer_course.checks import ERROR, NOT_ATTEMPTED, PASSED, WRONG, check_attention_scores


def test_reference_and_lib_pass():
    assert check_attention_scores(lambda q, k: q @ k.transpose(-2, -1)).status == PASSED
    assert check_attention_scores(lambda q, k: attention_scores(q, k, scale=1.0)).passed
    assert check_attention_scores(lambda q, k: torch.einsum("...qd,...kd->...qk", q, k)).passed


def test_unattempted_is_reported_not_raised():
    def learner(q, k):
        raise NotImplementedError

    result = check_attention_scores(learner)
    assert result.status == NOT_ATTEMPTED and "not attempted" in result.message


MISTAKES = {
    "k not transposed": (lambda q, k: q @ k, "k is not transposed"),
    "swapped": (lambda q, k: k @ q.transpose(-2, -1), "swapped"),
    "features": (lambda q, k: q.transpose(-2, -1) @ k, "feature columns"),
    "scaled too early": (lambda q, k: q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, "chapter 04"),
    "k.T on a batch": (lambda q, k: q @ k.T, "k.T reverses ALL"),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_each_mistake_gets_its_own_hint(name):
    fn, words = MISTAKES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch warns about .T on 3-D tensors
        result = check_attention_scores(fn)
    assert result.status == WRONG and words in result.message, result.message
    others = [w for n, (_, w) in MISTAKES.items() if n != name]
    assert not any(w in result.message for w in others)


def test_unknown_mistake_says_where():
    result = check_attention_scores(lambda q, k: q @ k.transpose(-2, -1) + 0.5)
    assert result.status == WRONG and "differs from the reference on input #1" in result.message


def test_an_error_is_reported_not_raised():
    result = check_attention_scores(lambda q, k: q @ k.unsqueeze(0).unsqueeze(0).unsqueeze(0).T)
    assert result.status in (ERROR, WRONG) and "attention_scores" in result.message
