"""Round 48e: three catalogue verdicts review R9 found false, each now named only where the code
has its mistake.

1. multi_head_attention's "heads' axis against the tokens'" matched the error's text only, so a
   keepdim lost inside a per-batch loop, (h, L, L) / (h, L), was told "Two of your 4-D tensors
   have their axes in different orders". It now needs two 4-D operands, one (B, h, …) and one
   (B, L, …) (``multi_head_more.heads_against_tokens``); the loop is left to the harness's
   lost-axis hint, which names the learner's .sum(dim=-1).
2. softmax's "logsumexp lost its last axis" compared values only, and e / e.sum(-1) (no keepdim,
   no shift) computes the same numbers on a square input. It now needs a logsumexp to have lost
   its axis (the learner's function run one row short); the sum gets a hint that names the sum.
3. attention's "weights * v" named any failing product that took v, (q * v) @ weights too. It
   now needs the product's other operand to be the weights (rows or columns summing to 1).
"""

from __future__ import annotations

import math

import pytest
import torch
from transformer_course.checks import PASSED, WRONG, exercise


def _mistake(name: str, mistake: str):
    return next(m for m in exercise(name).mistakes if m.name == mistake)


def _wrong_with(name: str, fn, mistake: str) -> str:
    """The check's message, asserted WRONG and opening with ``mistake``'s hint."""
    result = exercise(name).check(fn)
    assert result.status == WRONG, result
    assert result.message.startswith(_mistake(name, mistake).hint), result.message
    return result.message


def _not_told(name: str, fn, mistake: str) -> str:
    result = exercise(name).check(fn)
    assert result.status != PASSED, result
    assert _mistake(name, mistake).hint not in result.message, result.message
    return result.message


def _passes(name: str, fn) -> None:
    result = exercise(name).check(fn)
    assert result.status == PASSED, result.message


# --- 1. multi_head_attention: a keepdim lost in a per-batch loop is not the heads' axis ---

HEADS = "heads' axis against the tokens'"


def _mha(weights_of, *, transpose_v=True, keys_t=lambda k: k.transpose(-2, -1)):
    """Multi-head attention, (B, L, D) → (B, L, D), the (B, h, L, L) scores turned into weights by
    ``weights_of(scores)``; ``transpose_v=False``: v split (B, L, h, d_head), never transposed."""

    def attention(x, w_q, w_k, w_v, w_o, num_heads):
        b, length, d_model = x.shape
        d_head = d_model // num_heads

        def split(t):  # (B, L, D) → (B, h, L, d_head)
            return t.view(b, length, num_heads, d_head).transpose(1, 2)

        q, k = split(x @ w_q), split(x @ w_k)
        v = split(x @ w_v) if transpose_v else (x @ w_v).view(b, length, num_heads, d_head)
        weights = weights_of(q @ keys_t(k) / d_head**0.5)
        return (weights @ v).transpose(1, 2).reshape(b, length, d_model) @ w_o

    return attention


def _per_batch_without_keepdim(s):
    e = s.exp()  # (B, h, L, L): each e[i] is (h, L, L), its sum (h, L) meets its columns
    return torch.stack([e[i] / e[i].sum(-1) for i in range(e.shape[0])])


def _per_batch_softmax(s):
    return torch.stack([torch.softmax(s[i], dim=-1) for i in range(s.shape[0])])


def test_a_keepdim_lost_in_a_per_batch_loop_is_not_the_heads_axis():
    message = _not_told("multi_head_attention", _mha(_per_batch_without_keepdim), HEADS)
    # The harness's own lost-axis hint: the learner's sum, keepdim checked to make it right.
    assert ".sum(dim=-1, keepdim=True)" in message and "(3, 5, 1)" in message, message


def test_the_heads_axis_example_is_still_named():
    _wrong_with("multi_head_attention", _mistake("multi_head_attention", HEADS).example, HEADS)


@pytest.mark.parametrize(
    "fn",
    [
        _mha(lambda s: torch.softmax(s, dim=-1), transpose_v=False),
        _mha(lambda s: torch.softmax(s, dim=-1), keys_t=lambda k: k.transpose(1, 2)),
    ],
    ids=["v never transposed", "k.transpose(1, 2)"],
)
def test_heads_against_tokens_is_still_named(fn):
    _wrong_with("multi_head_attention", fn, HEADS)


def test_a_per_batch_loop_of_softmaxes_passes():
    _passes("multi_head_attention", _mha(_per_batch_softmax))


# --- 2. softmax: a sum without keepdim is not a logsumexp ---

LSE = "log-sum-exp without keepdim"
SUM = "sum without keepdim, exps not shifted"


def _sum_no_keepdim(scores):
    e = scores.exp()
    return e / e.sum(dim=-1, keepdim=False)


def _sum_in_a_helper(scores):
    def total(t):
        return t.sum(-1)

    e = torch.exp(scores)
    return e / total(e)


def _global_shift(scores):
    e = (scores - scores.max()).exp()  # one shift for the whole matrix: the same numbers
    return e / torch.sum(e, dim=-1)


@pytest.mark.parametrize("fn", [_sum_no_keepdim, _sum_in_a_helper, _global_shift])
def test_a_sum_without_keepdim_is_not_called_a_logsumexp_and_is_named(fn):
    _not_told("softmax", fn, LSE)
    message = _wrong_with("softmax", fn, SUM)
    assert "e.sum(dim=-1, keepdim=True)" in message


def _lse_kept_in_a_variable(scores):
    lse = torch.logsumexp(scores, dim=-1)
    return torch.exp(scores - lse)


@pytest.mark.parametrize(
    "fn", [_mistake("softmax", LSE).example, _lse_kept_in_a_variable], ids=["example", "variable"]
)
def test_a_logsumexp_without_keepdim_is_still_named(fn):
    _wrong_with("softmax", fn, LSE)


def test_the_sums_own_example_is_named():
    _wrong_with("softmax", _mistake("softmax", SUM).example, SUM)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: (x - x.logsumexp(dim=-1, keepdim=True)).exp(),
        lambda x: (lambda e: e / e.sum(-1)[..., None])((x - x.amax(-1, keepdim=True)).exp()),
    ],
    ids=["logsumexp kept", "sum put back by hand"],
)
def test_right_softmaxes_pass(fn):
    _passes("softmax", fn)


# --- 3. attention: weights * v only where the product took the weights ---

TIMES_V = "weights * v"


def _attention(combine):
    def attention(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        weights = torch.softmax(q @ k.T / math.sqrt(k.shape[-1]), dim=-1)
        return combine(weights, q, k, v), weights

    return attention


@pytest.mark.parametrize(
    "combine",
    [lambda w, q, k, v: (q * v) @ w, lambda w, q, k, v: (k * v) @ w.T],
    ids=["(q * v) @ w", "(k * v) @ w.T"],
)
def test_a_product_of_v_with_the_queries_is_not_weights_times_v(combine):
    _not_told("attention", _attention(combine), TIMES_V)


@pytest.mark.parametrize(
    "fn",
    [
        _mistake("attention", TIMES_V).example,
        _attention(lambda w, q, k, v: w.T * v),
        _attention(lambda w, q, k, v: torch.mul(v, w)),
    ],
    ids=["example", "w.T * v", "torch.mul(v, w)"],
)
def test_weights_times_v_is_still_named(fn):
    _wrong_with("attention", fn, TIMES_V)


def test_a_broadcast_sum_of_weights_and_v_passes():
    _passes("attention", _attention(lambda w, q, k, v: (w[:, :, None] * v[None]).sum(1)))
