"""Round 51 (task F8): mistakes review R3 found in chapters 05 and 07 that got no hint, or a raw
error, now named. Each test gives the learner code from the findings and checks the new hint;
``test_*_correct_answers_still_pass`` checks that answers written another way still pass.

- F11: ``layer.self_attn(x, x, mask)``, the mask in the value's place (encoder and decoder layer).
- F8: one sentence's length used to slice both sentences' positions (encoder-decoder forward).
- F7b: q split right, k and v with a bare .view(B, h, L, d_head) (multi-head attention).
- F6: per-head slices of x through diagonal blocks of W (multi-head attention).
- F10: torch.bmm with W expanded to the batch (feed-forward).
- F12b, F12: x - mean / std, ÷ weight, ÷ the notebook's 16 (layer norm).
- F9: √32, the notebook's d_model, in the encoder-decoder's scale.
- F7: the heads averaged or summed (multi-head attention).
- F13: dropout on the residual x too (Add & Norm).
- F13b: the source and the target mixed up as a whole (encoder-decoder forward).
- F14: a causal mask of a fixed length is not blamed on the source alone (decoder layer).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from transformer_course.checks import (
    PASSED,
    check_add_norm,
    check_decoder_layer,
    check_encoder_decoder_forward,
    check_encoder_layer,
    check_feed_forward,
    check_layer_norm,
    check_multi_head_attention,
)
from transformer_course.masks import causal_mask, padding_mask

# --- F11: the mask in the value's place ---


def test_encoder_layer_mask_as_the_value_is_named():
    def encoder_layer(layer, x, mask):
        att, _ = layer.self_attn(x, x, mask)
        x = layer.norm1(x + att)
        return layer.norm2(x + layer.feed_forward(x))

    result = check_encoder_layer(encoder_layer)
    assert not result.passed
    assert "The mask went in as the VALUE" in result.message
    assert "layer.self_attn(x, mask=mask)" in result.message


def test_decoder_layer_mask_as_the_value_is_named_not_sent_to_a_batch_axis():
    def decoder_layer(layer, x, memory):
        att, _ = layer.self_attn(x, x, causal_mask(x.shape[1]))
        x = layer.norm1(x + att)
        att, _ = layer.cross_attn(x, memory, memory)
        x = layer.norm2(x + att)
        return layer.norm3(x + layer.feed_forward(x))

    result = check_decoder_layer(decoder_layer)
    assert not result.passed
    assert result.message.startswith("The mask went in as the VALUE")
    assert "needs no batch axis" in result.message


def test_layers_correct_answers_still_pass():
    def four_by_position(layer, x, mask):
        x = layer.norm1(x + layer.self_attn(x, x, x, mask)[0])
        return layer.norm2(x + layer.feed_forward(x))

    def by_keyword(layer, x, mask):
        att = layer.self_attn(query=x, key=x, value=x, mask=mask)[0]
        x = layer.norm1(att + x)
        return layer.norm2(layer.feed_forward(x) + x)

    for fn in (four_by_position, by_keyword):
        assert check_encoder_layer(fn).status == PASSED

    def decoder_four(layer, x, memory):
        length = x.shape[1]
        x = layer.norm1(x + layer.self_attn(x, x, x, torch.ones(length, length).tril().bool())[0])
        x = layer.norm2(x + layer.cross_attn(x, memory, memory)[0])
        return layer.norm3(x + layer.feed_forward(x))

    def decoder_keyword(layer, x, memory):
        x = layer.norm1(x + layer.self_attn(x, mask=causal_mask(x.shape[1]))[0])
        x = layer.norm2(x + layer.cross_attn(x, key=memory, value=memory)[0])
        return layer.norm3(x + layer.feed_forward(x))

    for fn in (decoder_four, decoder_keyword):
        assert check_decoder_layer(fn).status == PASSED


# --- F8 and F9: the encoder-decoder forward ---


def _seq2seq(parts, src, trg_in, embed):
    lt = trg_in.shape[1]
    src_mask = padding_mask(src, parts.pad_id)
    trg_mask = causal_mask(lt) & padding_mask(trg_in, parts.pad_id)
    memory = parts.encoder(embed(src), src_mask)
    return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))


def test_positions_sliced_with_the_source_length_for_both_are_named():
    def forward(parts, src, trg_in):
        d = parts.embedding.embedding_dim
        ls = src.shape[1]
        embed_src = parts.embedding(src) * math.sqrt(d) + parts.positions[:ls]
        embed_trg = parts.embedding(trg_in) * math.sqrt(d) + parts.positions[:ls]  # L computed once
        src_mask = padding_mask(src, parts.pad_id)
        trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
        memory = parts.encoder(embed_src, src_mask)
        return parts.output(parts.decoder(embed_trg, memory, trg_mask, src_mask))

    result = check_encoder_decoder_forward(forward)
    assert not result.passed
    assert "lengths of their own" in result.message
    assert "parts.positions[: trg_in.shape[1]]" in result.message


def test_positions_sliced_with_the_target_length_for_both_are_named():
    def forward(parts, src, trg_in):
        d, lt = parts.embedding.embedding_dim, trg_in.shape[1]
        return _seq2seq(
            parts, src, trg_in, lambda ids: parts.embedding(ids) * math.sqrt(d) + parts.positions[:lt]
        )

    assert "lengths of their own" in check_encoder_decoder_forward(forward).message


def test_the_notebooks_d_model_in_the_scale_is_named():
    def forward(parts, src, trg_in):
        return _seq2seq(
            parts,
            src,
            trg_in,
            lambda ids: parts.embedding(ids) * math.sqrt(32) + parts.positions[: ids.shape[1]],
        )

    result = check_encoder_decoder_forward(forward)
    assert not result.passed
    assert "√32, the notebook's d_model" in result.message
    assert "parts.embedding.embedding_dim" in result.message


def test_encoder_decoder_correct_answers_still_pass():
    def per_sentence(parts, src, trg_in):
        d = parts.embedding.weight.shape[1]
        return _seq2seq(
            parts, src, trg_in, lambda ids: parts.embedding(ids) * d**0.5 + parts.positions[: ids.size(1)]
        )

    def lengths_apart(parts, src, trg_in):
        d = parts.positions.shape[-1]
        ls, lt = src.shape[1], trg_in.shape[1]
        src_x = parts.embedding(src) * math.sqrt(d) + parts.positions[:ls].unsqueeze(0)
        trg_x = parts.embedding(trg_in) * math.sqrt(d) + parts.positions.narrow(0, 0, lt)
        src_mask = (src != parts.pad_id)[:, None, None, :]
        trg_mask = torch.ones(lt, lt, dtype=torch.bool).tril() & (trg_in != parts.pad_id)[:, None, None, :]
        return parts.output(parts.decoder(trg_x, parts.encoder(src_x, src_mask), trg_mask, src_mask))

    for fn in (per_sentence, lengths_apart):
        assert check_encoder_decoder_forward(fn).status == PASSED


# --- F7b, F6, F7: multi-head attention ---


def _heads(t, b, length, h):
    return t.view(b, length, h, t.shape[-1] // h).transpose(1, 2)


def test_k_and_v_split_without_the_transpose_is_named():
    def mha(x, w_q, w_k, w_v, w_o, num_heads):
        b, length, d = x.shape
        dh = d // num_heads
        q = (x @ w_q).view(b, length, num_heads, dh).transpose(1, 2)
        k = (x @ w_k).view(b, num_heads, length, dh)
        v = (x @ w_v).view(b, num_heads, length, dh)
        w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(dh), -1)
        return (w @ v).transpose(1, 2).reshape(b, length, d) @ w_o

    result = check_multi_head_attention(mha)
    assert not result.passed
    assert result.message.startswith("Two of your three splits (q, k, v) are a bare .view")


def test_q_and_k_split_without_the_transpose_is_named():
    def mha(x, w_q, w_k, w_v, w_o, num_heads):
        b, length, d = x.shape
        q = (x @ w_q).reshape(b, num_heads, length, d // num_heads)
        k = (x @ w_k).reshape(b, num_heads, length, d // num_heads)
        v = _heads(x @ w_v, b, length, num_heads)
        w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // num_heads), -1)
        return (w @ v).transpose(1, 2).reshape(b, length, d) @ w_o

    assert check_multi_head_attention(mha).message.startswith("Two of your three splits")


def test_slices_of_x_through_diagonal_blocks_are_named():
    def mha(x, w_q, w_k, w_v, w_o, num_heads):
        d = x.shape[-1]
        dh, outs = d // num_heads, []
        for i in range(num_heads):
            sl = slice(i * dh, (i + 1) * dh)
            q, k, v = x[..., sl] @ w_q[sl, sl], x[..., sl] @ w_k[sl, sl], x[..., sl] @ w_v[sl, sl]
            outs.append(torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(dh), -1) @ v)
        return torch.cat(outs, -1) @ w_o

    result = check_multi_head_attention(mha)
    assert not result.passed
    assert "its own diagonal block" in result.message
    assert "x @ w_q[:, sl]" in result.message


@pytest.mark.parametrize("combine", ["mean, repeated", "sum, first rows of w_o"])
def test_heads_averaged_or_summed_are_named(combine):
    def mha(x, w_q, w_k, w_v, w_o, num_heads):
        b, length, d = x.shape
        dh = d // num_heads
        q, k, v = (_heads(x @ w, b, length, num_heads) for w in (w_q, w_k, w_v))
        heads = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(dh), -1) @ v
        if combine == "mean, repeated":
            return heads.mean(1).repeat(1, 1, num_heads) @ w_o
        return heads.sum(1) @ w_o[:dh]

    result = check_multi_head_attention(mha)
    assert not result.passed
    assert "averaging or summing" in result.message


def test_multi_head_correct_answers_still_pass():
    def column_slices(x, w_q, w_k, w_v, w_o, num_heads):
        dh, outs = x.shape[-1] // num_heads, []
        for i in range(num_heads):
            sl = slice(i * dh, (i + 1) * dh)
            q, k, v = x @ w_q[:, sl], x @ w_k[:, sl], x @ w_v[:, sl]
            outs.append(torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(dh), -1) @ v)
        return torch.cat(outs, -1) @ w_o

    def unflatten_permute(x, w_q, w_k, w_v, w_o, num_heads):
        b, length, d = x.shape
        q, k, v = ((x @ w).unflatten(-1, (num_heads, -1)).permute(0, 2, 1, 3) for w in (w_q, w_k, w_v))
        w = (q @ k.transpose(-1, -2) * (d // num_heads) ** -0.5).softmax(-1)
        return (w @ v).permute(0, 2, 1, 3).flatten(-2) @ w_o

    def einsum_heads(x, w_q, w_k, w_v, w_o, num_heads):
        b, length, d = x.shape
        q, k, v = (_heads(x @ w, b, length, num_heads) for w in (w_q, w_k, w_v))
        w = torch.einsum("bhqd,bhkd->bhqk", q, k).div(math.sqrt(d // num_heads)).softmax(-1)
        return torch.einsum("bhqk,bhkd->bqhd", w, v).reshape(b, length, d) @ w_o

    for fn in (column_slices, unflatten_permute, einsum_heads):
        assert check_multi_head_attention(fn).status == PASSED


# --- F10: torch.bmm in the feed-forward network ---


def test_bmm_with_expanded_weights_is_named():
    def feed_forward(x, w_1, b_1, w_2, b_2):
        B = x.shape[0]
        h = torch.relu(torch.bmm(x, w_1.expand(B, *w_1.shape)) + b_1)
        return torch.bmm(h, w_2.expand(B, *w_2.shape)) + b_2

    result = check_feed_forward(feed_forward)
    assert not result.passed
    assert result.message.startswith("torch.bmm multiplies batches of matrices, exactly 3-D")


def test_feed_forward_correct_answers_still_pass():
    def matmul(x, w_1, b_1, w_2, b_2):
        return torch.matmul(F.relu(torch.matmul(x, w_1) + b_1), w_2) + b_2

    def flattened_bmm_free(x, w_1, b_1, w_2, b_2):
        flat = x.reshape(-1, x.shape[-1])
        out = torch.addmm(b_2, torch.addmm(b_1, flat, w_1).clamp(min=0), w_2)
        return out.reshape(*x.shape[:-1], -1)

    for fn in (matmul, flattened_bmm_free):
        assert check_feed_forward(fn).status == PASSED


# --- F12b, F12: layer norm ---


def test_x_minus_mean_over_std_without_parentheses_is_named():
    def layer_norm(x, weight, bias, eps):
        m = x.mean(-1, keepdim=True)
        v = ((x - m) ** 2).mean(-1, keepdim=True)
        return x - m / torch.sqrt(v + eps) * weight + bias

    result = check_layer_norm(layer_norm)
    assert not result.passed
    assert result.message.startswith("Only the mean was divided")


def test_divided_by_the_weight_is_named():
    def layer_norm(x, weight, bias, eps):
        m = x.mean(-1, keepdim=True)
        v = ((x - m) ** 2).mean(-1, keepdim=True)
        return (x - m) / (torch.sqrt(v + eps) * weight) + bias

    result = check_layer_norm(layer_norm)
    assert not result.passed
    assert result.message.startswith("You divided by the weight")


def test_divided_by_the_notebooks_16_is_named():
    def layer_norm(x, weight, bias, eps):
        m = x.sum(-1, keepdim=True) / 16
        v = ((x - m) ** 2).sum(-1, keepdim=True) / 16
        return (x - m) / torch.sqrt(v + eps) * weight + bias

    result = check_layer_norm(layer_norm)
    assert not result.passed
    assert result.message.startswith("You divided by a fixed 16")


def test_layer_norm_correct_answers_still_pass():
    def sums_over_d(x, weight, bias, eps):
        d = x.shape[-1]
        m = x.sum(-1, keepdim=True) / d
        v = ((x - m) ** 2).sum(-1, keepdim=True) / d
        return weight * ((x - m) / torch.sqrt(v + eps)) + bias

    def var_correction_0(x, weight, bias, eps):
        m = x.mean(dim=-1, keepdim=True)
        return (x - m) * torch.rsqrt(x.var(dim=-1, keepdim=True, correction=0) + eps) * weight + bias

    for fn in (sums_over_d, var_correction_0):
        assert check_layer_norm(fn).status == PASSED


# --- F13: Add & Norm with dropout on the residual too ---


@pytest.mark.parametrize("x_first", [True, False])
def test_dropout_on_the_residual_too_is_named(x_first):
    def add_norm(block, x, sublayer):
        inner = block.norm(x) if block.norm_first else x
        if x_first:
            added = block.dropout(x) + block.dropout(sublayer(inner))
        else:
            h = block.dropout(sublayer(inner))
            added = h + block.dropout(x)
        return added if block.norm_first else block.norm(added)

    result = check_add_norm(add_norm)
    assert not result.passed
    assert "Yours drops parts of x too: the residual x passes through untouched" in result.message


def test_add_norm_correct_answers_still_pass():
    def branches(block, x, sublayer):
        if block.norm_first:
            return x + block.dropout(sublayer(block.norm(x)))
        return block.norm(x + block.dropout(sublayer(x)))

    def functional(block, x, sublayer):
        norm = lambda h: F.layer_norm(h, h.shape[-1:], block.norm.weight, block.norm.bias, block.norm.eps)  # noqa: E731
        drop = lambda h: F.dropout(h, block.dropout.p, block.training)  # noqa: E731
        return x + drop(sublayer(norm(x))) if block.norm_first else norm(drop(sublayer(x)) + x)

    for fn in (branches, functional):
        assert check_add_norm(fn).status == PASSED


# --- F14: a causal mask of the notebook's fixed length ---


def test_causal_mask_of_a_fixed_length_is_not_blamed_on_the_source_only():
    def decoder_layer(layer, x, memory):
        x = layer.norm1(x + layer.self_attn(x, mask=causal_mask(4))[0])  # the chapter's lt
        x = layer.norm2(x + layer.cross_attn(x, memory, memory)[0])
        return layer.norm3(x + layer.feed_forward(x))

    result = check_decoder_layer(decoder_layer)
    assert not result.passed
    assert "not a fixed number (the notebook's 4 tokens) or the source's length" in result.message


# --- F13b: the source and the target mixed up as a whole ---


def _mixed(parts, enc_ids, dec_ids):
    d = parts.embedding.embedding_dim

    def embed(ids):
        return parts.embedding(ids) * math.sqrt(d) + parts.positions[: ids.shape[1]]

    enc_mask = padding_mask(enc_ids, parts.pad_id)
    dec_mask = causal_mask(dec_ids.shape[1]) & padding_mask(dec_ids, parts.pad_id)
    return parts.output(
        parts.decoder(embed(dec_ids), parts.encoder(embed(enc_ids), enc_mask), dec_mask, enc_mask)
    )


@pytest.mark.parametrize(
    ("which", "said"),
    [
        ("src src", "Your decoder reads the SOURCE"),
        ("trg trg", "Your encoder reads the TARGET"),
        ("trg src", "Your source and target are swapped"),
    ],
)
def test_source_and_target_mixed_up_are_named(which, said):
    def forward(parts, src, trg_in):
        ids = {"src": src, "trg": trg_in}
        enc, dec = (ids[w] for w in which.split())
        return _mixed(parts, enc, dec)

    result = check_encoder_decoder_forward(forward)
    assert not result.passed
    assert result.message.startswith(said)
    assert "The ENCODER reads the source" in result.message
