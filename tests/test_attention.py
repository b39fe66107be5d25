"""lib's attention equals PyTorch's own, with copied weights."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course.attention import (
    MultiHeadAttention,
    SingleHeadAttention,
    attention_scores,
    scaled_dot_product_attention,
)
from transformer_course.masks import causal_mask, combine_masks, padding_mask, to_blocked

ATOL = 1e-5
SHAPES = [(1, 1, 1, 4), (2, 3, 5, 8), (3, 4, 7, 16), (2, 1, 12, 32)]  # (B, h, L, d_k)


@pytest.mark.parametrize("b,h,length,d", SHAPES)
@pytest.mark.parametrize("masked", [False, True])
def test_sdpa_matches_torch(b, h, length, d, masked):
    q, k, v = (torch.randn(b, h, length, d) for _ in range(3))
    mask = causal_mask(length) if masked else None
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(b, h, length), atol=ATOL, rtol=0)
    fused, none = scaled_dot_product_attention(q, k, v, mask, need_weights=False)
    assert none is None
    torch.testing.assert_close(fused, out, atol=ATOL, rtol=0)


def test_sdpa_cross_lengths_and_dv():
    q, k, v = torch.randn(2, 3, 8), torch.randn(2, 5, 8), torch.randn(2, 5, 6)
    out, weights = scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 3, 6) and weights.shape == (2, 3, 5)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), atol=ATOL, rtol=0)


def test_weights_are_softmax_of_scaled_scores():
    q, k, v = torch.randn(4, 8), torch.randn(6, 8), torch.randn(6, 3)
    _, weights = scaled_dot_product_attention(q, k, v)
    expected = torch.softmax(q @ k.T / 8**0.5, dim=-1)
    torch.testing.assert_close(weights, expected, atol=ATOL, rtol=0)
    torch.testing.assert_close(attention_scores(q, k), q @ k.T / 8**0.5, atol=ATOL, rtol=0)


def test_fully_masked_row_gives_zeros_like_torch():
    q, k, v = (torch.randn(1, 3, 4) for _ in range(3))
    mask = torch.tensor([[True, False, False], [False, False, False], [True, True, True]])
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert torch.isfinite(out).all()
    assert weights[0, 1].abs().sum() == 0
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)


@pytest.mark.parametrize("b,length,d,h", [(1, 4, 8, 1), (2, 6, 16, 4), (3, 9, 32, 8)])
@pytest.mark.parametrize("mask_kind", ["none", "causal", "padding", "both"])
def test_multi_head_matches_nn_multihead_attention(b, length, d, h, mask_kind):
    torch_mha = nn.MultiheadAttention(d, h, batch_first=True).eval()
    mha = MultiHeadAttention(d, h).load_from_torch(torch_mha).eval()
    x = torch.randn(b, length, d)
    ids = torch.randint(4, 20, (b, length))
    ids[0, length // 2 + 1 :] = 0  # pad the first sentence
    causal = causal_mask(length) if mask_kind in ("causal", "both") else None
    padding = padding_mask(ids, 0) if mask_kind in ("padding", "both") else None
    out, weights = mha(x, mask=combine_masks(causal, padding))
    ref, ref_weights = torch_mha(
        x,
        x,
        x,
        need_weights=True,
        average_attn_weights=False,
        attn_mask=None if causal is None else to_blocked(causal),
        key_padding_mask=None if padding is None else to_blocked(padding[:, 0, 0]),
    )
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(weights, ref_weights, atol=ATOL, rtol=0)
    fused, _ = mha(x, mask=combine_masks(causal, padding), need_weights=False)
    torch.testing.assert_close(fused, ref, atol=ATOL, rtol=0)


def test_multi_head_cross_attention_matches_torch():
    torch_mha = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    mha = MultiHeadAttention(16, 4).load_from_torch(torch_mha)
    query, memory = torch.randn(2, 3, 16), torch.randn(2, 7, 16)
    out, weights = mha(query, memory)
    ref, ref_w = torch_mha(query, memory, memory, average_attn_weights=False)
    assert weights.shape == (2, 4, 3, 7)
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(weights, ref_w, atol=ATOL, rtol=0)


def test_multi_head_equals_hand_written_sdpa_per_head():
    mha = MultiHeadAttention(12, 3)
    x = torch.randn(2, 5, 12)
    out, _ = mha(x)
    heads = []
    for i in range(3):
        rows = slice(4 * i, 4 * (i + 1))
        q = x @ mha.q_proj.weight[rows].T + mha.q_proj.bias[rows]
        k = x @ mha.k_proj.weight[rows].T + mha.k_proj.bias[rows]
        v = x @ mha.v_proj.weight[rows].T + mha.v_proj.bias[rows]
        heads.append(F.scaled_dot_product_attention(q, k, v))
    torch.testing.assert_close(out, mha.out_proj(torch.cat(heads, -1)), atol=ATOL, rtol=0)


def test_parameter_count_equals_one_full_width_head_plus_w_o():
    d = 64
    multi = MultiHeadAttention(d, 8, bias=False)
    single = SingleHeadAttention(d, bias=False)
    assert sum(p.numel() for p in multi.parameters()) == sum(p.numel() for p in single.parameters()) + d * d


def test_single_head_matches_sdpa():
    head = SingleHeadAttention(10, d_k=6, d_v=4)
    x = torch.randn(2, 5, 10)
    out, weights = head(x)
    ref = F.scaled_dot_product_attention(head.w_q(x), head.w_k(x), head.w_v(x))
    assert out.shape == (2, 5, 4) and weights.shape == (2, 5, 5)
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)


def test_causal_mask_leaks_nothing_from_the_future():
    mha = MultiHeadAttention(16, 4).eval()
    x = torch.randn(1, 6, 16)
    changed = x.clone()
    changed[0, 4:] = torch.randn(2, 16) * 10  # rewrite the last two tokens
    mask = causal_mask(6)
    before, _ = mha(x, mask=mask)
    after, _ = mha(changed, mask=mask)
    torch.testing.assert_close(before[0, :4], after[0, :4], atol=ATOL, rtol=0)
    assert not torch.allclose(before[0, 4:], after[0, 4:])


def test_gradients_flow_through_both_paths():
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(2, 4, 8, requires_grad=True)
    for need in (True, False):
        out, _ = mha(x, mask=causal_mask(4), need_weights=need)
        (grad,) = torch.autograd.grad(out.sum(), x)
        assert torch.isfinite(grad).all()


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: scaled_dot_product_attention(torch.randn(3, 4), torch.randn(3, 5), torch.randn(3, 2)), "k"),
        (lambda: scaled_dot_product_attention(torch.randn(3, 4), torch.randn(3, 4), torch.randn(2, 2)), "v"),
        (
            lambda: scaled_dot_product_attention(
                torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 2), torch.ones(3, 3)
            ),
            "mask",
        ),
        (
            lambda: scaled_dot_product_attention(
                torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 2), torch.ones(2, 2, dtype=torch.bool)
            ),
            "mask",
        ),
        (lambda: scaled_dot_product_attention([1.0], torch.randn(3, 4), torch.randn(3, 2)), "q"),
        (lambda: MultiHeadAttention(10, 3), "num_heads"),
        (lambda: MultiHeadAttention(8, 2)(torch.randn(4, 8)), "query"),
        (lambda: MultiHeadAttention(8, 2)(torch.randn(1, 4, 6)), "query"),
        (lambda: MultiHeadAttention(8, 2)(torch.randn(1, 4, 8), torch.randn(2, 4, 8)), "key"),
        (lambda: MultiHeadAttention(8, 2).load_from_torch(nn.Linear(2, 2)), "mha"),
    ],
)
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        call()
