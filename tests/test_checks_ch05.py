"""Chapter 05's exercise: the multi-head checker passes the reference, names each mistake."""

import pytest
import torch
from transformer_course.attention import MultiHeadAttention
from transformer_course.checks import (
    ERROR,
    NOT_ATTEMPTED,
    PASSED,
    WRONG,
    check_multi_head_attention,
)


def build(
    x,
    w_q,
    w_k,
    w_v,
    w_o,
    num_heads,
    *,
    split_view=False,
    merge_view=False,
    shared=False,
    project=True,
    scale_by_model=False,
):
    """A learner-style implementation (written apart from the checker) with one switch per mistake."""
    b, length, d_model = x.shape
    d_head = d_model // num_heads

    def split(t):
        if split_view:
            return t.view(b, num_heads, length, d_head)
        return t.view(b, length, num_heads, d_head).transpose(1, 2)

    if shared:
        q, k, v = (torch.stack([x @ w[:, :d_head]] * num_heads, dim=1) for w in (w_q, w_k, w_v))
    else:
        q, k, v = split(x @ w_q), split(x @ w_k), split(x @ w_v)
    d = d_model if scale_by_model else d_head
    weights = torch.softmax(torch.einsum("bhqd,bhkd->bhqk", q, k) / d**0.5, dim=-1)
    out = weights @ v
    merged = (
        out.reshape(b, length, d_model)
        if merge_view
        else out.transpose(1, 2).contiguous().view(b, length, d_model)
    )
    return merged @ w_o if project else merged


def lib_version(x, w_q, w_k, w_v, w_o, num_heads):
    """The lib's module with the same weights (nn.Linear stores W transposed)."""
    mha = MultiHeadAttention(x.shape[-1], num_heads, bias=False)
    with torch.no_grad():
        for proj, w in zip((mha.q_proj, mha.k_proj, mha.v_proj, mha.out_proj), (w_q, w_k, w_v, w_o)):
            proj.weight.copy_(w.T)
        return mha(x)[0]


def test_reference_and_lib_pass():
    assert check_multi_head_attention(build).status == PASSED
    assert check_multi_head_attention(lib_version).passed


def test_unattempted_is_reported_not_raised():
    def learner(x, w_q, w_k, w_v, w_o, num_heads):
        raise NotImplementedError

    result = check_multi_head_attention(learner)
    assert result.status == NOT_ATTEMPTED and "not attempted" in str(result)


MISTAKES = {
    "split view": (dict(split_view=True), "Your split mixes tokens"),
    "merge view": (dict(merge_view=True), "Your merge mixes tokens"),
    "both views": (dict(split_view=True, merge_view=True), "Both your split and your merge"),
    "shared": (dict(shared=True), "same projection"),
    "no W_O": (dict(project=False), "W_O is missing"),
    "√d_model": (dict(scale_by_model=True), "not by √d_model"),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_each_mistake_gets_its_own_hint(name):
    switches, words = MISTAKES[name]
    result = check_multi_head_attention(lambda *a: build(*a, **switches))
    assert result.status == WRONG and words in result.message, result.message
    others = [w for n, (_, w) in MISTAKES.items() if n != name]
    assert not any(w in result.message for w in others)


def test_unknown_mistake_says_where_it_differs():
    result = check_multi_head_attention(lambda *a: build(*a) * 1.5)
    assert result.status == WRONG and "largest difference" in result.message


def test_exception_is_reported():
    result = check_multi_head_attention(lambda x, *rest: x.view(-1, 7))
    assert result.status == ERROR and "RuntimeError" in result.message
