"""Round 49: a right answer that calls the function its exercise asks the learner to write.

Chapter 04 says "Use exp, sum and max, not torch.softmax", chapter 01 "Do not use
similarity_matrix or F.cosine_similarity", chapter 06 "Build the mask yourself (no masks.py or
attention.py!)", chapter 07 "Write the LayerNorm itself"; chapter 05's exercise is what
nn.MultiheadAttention computes. A learner review found such answers passed with no remark. They
still pass (their numbers are right), and the verdict quotes the call that did the work and
says how to write it (``checks.built_ins``). Hand-written answers, and calls the instructions
allow (torch.softmax in chapter 06, lib's attention in chapter 05), get no such remark.
"""

from __future__ import annotations

import inspect
import math
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course.attention import scaled_dot_product_attention
from transformer_course.checks import PASSED, WRONG, exercise
from transformer_course.embeddings import similarity_matrix
from transformer_course.masks import causal_mask, padding_mask

REMARK = "does the work this exercise asks you to write yourself"
REMARKS = "do the work this exercise asks you to write yourself"


def _softmax_module(scores):
    return nn.Softmax(dim=-1)(scores)


def _softmax_function(scores):
    return F.softmax(scores, dim=-1)


def _softmax_from_log_softmax(scores):
    return scores.log_softmax(-1).exp()


def _cosine_of_lib(vectors):
    return similarity_matrix(vectors)


def _cosine_of_torch(vectors):
    return F.cosine_similarity(vectors[:, None, :], vectors[None, :, :], dim=-1)


def _masks_of_lib(scores, ids, pad_id):
    allowed = causal_mask(ids.shape[1]) & padding_mask(ids, pad_id).squeeze(1)  # (B, L, L)
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)


def _layer_norm_module(x, weight, bias, eps):
    return nn.LayerNorm(x.shape[-1], eps=eps)(x) * weight + bias


def _layer_norm_function(x, weight, bias, eps):
    return F.layer_norm(x, x.shape[-1:], weight, bias, eps)


def _multi_head_module(x, w_q, w_k, w_v, w_o, num_heads):
    mha = nn.MultiheadAttention(x.shape[-1], num_heads, bias=False, batch_first=True)
    with torch.no_grad():  # nn.Linear's (out, in) layout: the maths convention's matrices transposed
        mha.in_proj_weight.copy_(torch.cat([w_q.T, w_k.T, w_v.T]))
        mha.out_proj.weight.copy_(w_o.T)
    return mha(x, x, x, need_weights=False)[0]


CALLS = [
    ("softmax", _softmax_module, "`nn.Softmax(dim=-1)(scores)`"),
    ("softmax", _softmax_function, "`F.softmax(scores, dim=-1)`"),
    ("softmax", _softmax_from_log_softmax, "`scores.log_softmax(-1)`"),
    ("cosine_similarity", _cosine_of_lib, "`similarity_matrix(vectors)`"),
    (
        "cosine_similarity",
        _cosine_of_torch,
        "`F.cosine_similarity(vectors[:, None, :], vectors[None, :, :], dim=-1)`",
    ),
    ("causal_masked_weights", _masks_of_lib, "`causal_mask(ids.shape[1])`"),
    ("layer_norm", _layer_norm_module, "`nn.LayerNorm(x.shape[-1], eps=eps)(x)`"),
    ("layer_norm", _layer_norm_function, "`F.layer_norm(x, x.shape[-1:], weight, bias, eps)`"),
    ("multi_head_attention", _multi_head_module, "`mha(x, x, x, need_weights=False)` on line"),
]


@pytest.mark.parametrize(("name", "fn", "quote"), CALLS, ids=[c[1].__name__ for c in CALLS])
def test_a_right_answer_that_calls_the_built_in_passes_and_is_told(name, fn, quote):
    result = exercise(name).check(fn)
    assert result.status == PASSED, result.message
    assert REMARK in result.message or REMARKS in result.message, result.message
    assert f"But your {quote}" in result.message, result.message
    lines, first = inspect.getsourcelines(fn)
    call = quote.strip("`").split(" on line")[0].rstrip("`")
    line = first + next(i for i, text in enumerate(lines) if call in text)  # where the learner wrote it
    assert f"{quote.split(' on line')[0]} on line {line}" in result.message, result.message
    assert result.note and result.message.endswith(result.note) and not result.warning  # the code is right


def test_the_module_that_did_the_work_is_named_where_the_call_does_not_say_it():
    message = exercise("multi_head_attention").check(_multi_head_module).message
    assert "(nn.MultiheadAttention)" in message, message
    assert "split the columns into heads" in message, message


def test_two_lib_calls_are_both_quoted():
    message = exercise("causal_masked_weights").check(_masks_of_lib).message
    assert "and your `padding_mask(ids, pad_id)`" in message and REMARKS in message, message


# --- Written by hand, or with what the instructions allow: no remark ---


def _softmax_by_hand(scores):
    e = (scores - scores.amax(dim=-1, keepdim=True)).exp()
    return e / e.sum(dim=-1, keepdim=True)


def _cosine_by_hand(vectors):
    unit = vectors / vectors.norm(dim=-1, keepdim=True)
    return torch.einsum("id,jd->ij", unit, unit)


def _masked_with_torch_softmax(scores, ids, pad_id):
    length = ids.shape[1]
    allowed = torch.ones(length, length, dtype=torch.bool).tril() & (ids != pad_id)[:, None, :]
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)  # allowed here


def _layer_norm_by_hand(x, weight, bias, eps):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def _multi_head_with_libs_attention(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model // num_heads

    def split(t):  # (B, L, D) → (B, h, L, d_head)
        return t.view(b, length, num_heads, d_head).transpose(1, 2)

    out, _ = scaled_dot_product_attention(split(x @ w_q), split(x @ w_k), split(x @ w_v))
    return out.transpose(1, 2).reshape(b, length, d_model) @ w_o


RIGHT = [
    ("softmax", _softmax_by_hand),
    ("cosine_similarity", _cosine_by_hand),
    ("causal_masked_weights", _masked_with_torch_softmax),
    ("layer_norm", _layer_norm_by_hand),
    ("multi_head_attention", _multi_head_with_libs_attention),
]


@pytest.mark.parametrize(("name", "fn"), RIGHT, ids=[r[1].__name__ for r in RIGHT])
def test_an_answer_written_as_asked_gets_no_remark(name, fn):
    result = exercise(name).check(fn)
    assert result.status == PASSED and not result.warning and not result.note, result.message


def test_a_wrong_answer_that_calls_the_built_in_keeps_its_verdict():
    result = exercise("softmax").check(lambda scores: F.softmax(scores / math.sqrt(2), dim=-1))
    assert result.status == WRONG and REMARK not in result.message, result.message


def test_the_remark_joins_another_warning():
    def changes_its_scores(scores):
        scores -= scores.amax(dim=-1, keepdim=True)  # in place: the caller's scores change
        return torch.softmax(scores, dim=-1)

    result = exercise("softmax").check(changes_its_scores)
    assert result.status == PASSED, result.message
    assert "Also, your `torch.softmax(scores, dim=-1)`" in result.message, result.message


def test_the_profile_hook_is_handed_back_and_the_extra_run_prints_nothing(capsys):
    def hook(frame, event, arg):
        return None

    def cosine_that_prints(vectors):
        print("shape", tuple(vectors.shape))
        return similarity_matrix(vectors)

    def cosine_by_hand_that_prints(vectors):
        print("shape", tuple(vectors.shape))
        return _cosine_by_hand(vectors)

    sys.setprofile(hook)
    try:
        result = exercise("cosine_similarity").check(cosine_that_prints)
        assert sys.getprofile() is hook
    finally:
        sys.setprofile(None)
    assert REMARK in result.message, result.message
    told = capsys.readouterr().out.count("shape")
    assert exercise("cosine_similarity").check(cosine_by_hand_that_prints).passed
    assert told == capsys.readouterr().out.count("shape") > 0  # the run that looks for calls is silent
