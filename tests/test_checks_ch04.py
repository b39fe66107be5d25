"""Chapter 04's exercises: softmax and attention checkers pass the reference, name each mistake."""

import math

import pytest
import torch
import torch.nn.functional as F
from transformer_course.checks import (
    NOT_ATTEMPTED,
    PASSED,
    WRONG,
    check_attention,
    check_softmax,
)
from transformer_course.softmax import stable_softmax


def softmax_by_hand(x, *, subtract="row", dim=-1, keepdim=True, normalise=True, max_dim=None):
    """A learner-style softmax with one switch per mistake."""
    max_dim = dim if max_dim is None else max_dim
    if subtract == "row":
        x = x - (x.max(dim=max_dim, keepdim=True).values if keepdim else x.max(dim=max_dim).values)
    elif subtract == "all":
        x = x - x.max()
    e = x.exp()
    if normalise == "all":
        return e / e.sum()
    return e / e.sum(dim=dim, keepdim=True) if normalise else e


def test_softmax_reference_passes():
    assert check_softmax(softmax_by_hand).status == PASSED
    assert check_softmax(stable_softmax).passed
    assert check_softmax(lambda x: torch.softmax(x, dim=-1)).passed


def test_softmax_unattempted_is_reported_not_raised():
    def learner(x):
        raise NotImplementedError

    assert check_softmax(learner).status == NOT_ATTEMPTED


SOFTMAX_MISTAKES = {
    "wrong axis": (dict(dim=0), "Wrong axis"),
    "wrong axis, batch": (dict(dim=-2), "Wrong axis"),
    "no max subtraction": (dict(subtract=None), "No max subtraction"),
    "global max": (dict(subtract="all"), "WHOLE matrix"),
    "no keepdim": (dict(keepdim=False), "keepdim=True).values"),
    "not normalised": (dict(normalise=False), "Not normalised"),
    "normalised all": (dict(normalise="all"), "normalised the whole matrix"),
    "max over dim=1 on a batch": (dict(max_dim=1), "not for a batch"),
}


@pytest.mark.parametrize("name", SOFTMAX_MISTAKES)
def test_each_softmax_mistake_gets_its_hint(name):
    switches, words = SOFTMAX_MISTAKES[name]
    result = check_softmax(lambda x: softmax_by_hand(x, **switches))
    assert result.status == WRONG and words in result.message, result.message
    others = {w for n, (_, w) in SOFTMAX_MISTAKES.items() if w != words}
    assert not any(w in result.message for w in others)


def attention_by_hand(x, w_q, w_k, w_v, *, scale="d_k", dim=-1, transpose=True):
    """A learner-style single head with one switch per mistake."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ (k.T if transpose else k)
    divide = {
        "d_k": math.sqrt(q.shape[-1]),
        "none": 1.0,
        "d_model": math.sqrt(x.shape[-1]),
        "d_k unsquared": q.shape[-1],
    }[scale]
    weights = softmax_by_hand(scores / divide, dim=dim)
    return weights @ v, weights


def test_attention_reference_passes():
    assert check_attention(attention_by_hand).status == PASSED

    def with_torch(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
        assert torch.allclose(weights @ v, F.scaled_dot_product_attention(q, k, v), atol=1e-5)
        return weights @ v, weights

    assert check_attention(with_torch).passed


def test_attention_unattempted_is_reported_not_raised():
    def learner(x, w_q, w_k, w_v):
        raise NotImplementedError

    assert check_attention(learner).status == NOT_ATTEMPTED


ATTENTION_MISTAKES = {
    "no scaling": (dict(scale="none"), "No scaling"),
    "sqrt d_model": (dict(scale="d_model"), "√d_model"),
    "d_k without root": (dict(scale="d_k unsquared"), "You divided by d_k"),
    "wrong axis": (dict(dim=-2), "wrong axis"),
    "k not transposed": (dict(transpose=False), "k is not transposed"),
}


@pytest.mark.parametrize("name", ATTENTION_MISTAKES)
def test_each_attention_mistake_gets_its_hint(name):
    switches, words = ATTENTION_MISTAKES[name]
    result = check_attention(lambda *a: attention_by_hand(*a, **switches))
    assert result.status == WRONG and words in result.message, result.message
    others = [w for n, (_, w) in ATTENTION_MISTAKES.items() if n != name]
    assert not any(w in result.message for w in others)


def test_attention_must_return_a_pair():
    result = check_attention(lambda *a: attention_by_hand(*a)[0])
    assert result.status == WRONG and "pair (output, weights)" in result.message
