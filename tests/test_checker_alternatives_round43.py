"""Round 43: every checker accepts right answers written in styles not registered before.

Six or more new correct answers per exercise, as a learner or an expert writes them (einsum,
bmm, loops over the batch or heads or positions, torch.nn.functional against hand-written,
float64 inside then cast back, torch.where against masked_fill, other reshapes, keyword
spellings, contiguous or not). Each must pass with no warning.
"""

import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _battery import Battery
from torch.func import vmap
from transformer_course.checks.harness import PASSED
from transformer_course.checks.registry import exercise

battery = Battery()
right = battery.right

# --- 01 cosine_similarity: vectors (T, d) → (T, T) ---


@right("cosine_similarity")
def cosine_outer_of_norms(vectors):
    norms = torch.linalg.vector_norm(vectors, dim=-1)  # (T,)
    return (vectors @ vectors.mT) / torch.outer(norms, norms)


@right("cosine_similarity")
def cosine_mm_and_div_keyword(vectors):
    unit = torch.div(vectors, vectors.norm(p=2, dim=-1, keepdim=True))
    return torch.mm(unit, unit.t())


@right("cosine_similarity")
def cosine_rows_stacked(vectors):
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    return torch.stack([unit @ row for row in unit], dim=0)


@right("cosine_similarity")
def cosine_matmul_transpose_0_1(vectors):
    length = vectors.pow(2).sum(dim=1, keepdim=True).sqrt()  # (T, 1)
    return torch.matmul(vectors, vectors.transpose(0, 1)) / (length * length.T)


@right("cosine_similarity")
def cosine_float64_then_back(vectors):
    v = vectors.double()
    unit = v / v.norm(dim=-1, keepdim=True)
    return (unit @ unit.T).to(vectors.dtype)


@right("cosine_similarity")
def cosine_broadcast_f_cosine(vectors):
    return F.cosine_similarity(vectors[:, None, :], vectors[None, :, :], dim=-1)


# --- 02 sinusoidal_encoding: (length, d_model) ---


@right("sinusoidal_encoding")
def sinusoid_interleave_with_stack_flatten(length, d_model):
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = 1.0 / (10000 ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model))
    angle = pos * freq  # (L, d/2)
    return torch.stack((angle.sin(), angle.cos()), dim=-1).flatten(1)


@right("sinusoidal_encoding")
def sinusoid_outer_and_exp(length, d_model):
    pe = torch.empty(length, d_model)
    div = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
    angle = torch.outer(torch.arange(length).float(), div)
    pe[:, ::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


@right("sinusoidal_encoding")
def sinusoid_python_loops(length, d_model):
    rows = []
    for p in range(length):
        row = []
        for i in range(0, d_model, 2):
            angle = p / 10000 ** (i / d_model)
            row += [math.sin(angle), math.cos(angle)]
        rows.append(row)
    return torch.tensor(rows)


@right("sinusoidal_encoding")
def sinusoid_where_on_parity(length, d_model):
    dims = torch.arange(d_model)
    angle = torch.arange(length)[:, None] / torch.pow(10000.0, (dims - dims % 2) / d_model)  # (L, d)
    return torch.where(dims % 2 == 0, torch.sin(angle), torch.cos(angle)).float()


@right("sinusoidal_encoding")
def sinusoid_cat_and_view(length, d_model):
    half = torch.arange(0, d_model, 2).float()
    angle = torch.arange(length).float().unsqueeze(1) / 10000 ** (half / d_model)
    return torch.cat([angle.sin().unsqueeze(-1), angle.cos().unsqueeze(-1)], dim=2).view(length, d_model)


# --- 03 attention_scores: q (..., Lq, d), k (..., Lk, d) → (..., Lq, Lk) ---


@right("attention_scores")
def scores_swapaxes(q, k):
    return torch.matmul(q, k.swapaxes(-1, -2))


@right("attention_scores")
def scores_einsum_ellipsis_named(q, k):
    return torch.einsum("...qd,...kd->...qk", q, k)


@right("attention_scores")
def scores_transpose_dim_keywords(q, k):
    return q @ k.transpose(dim0=-1, dim1=-2)


@right("attention_scores")
def scores_one_key_at_a_time(q, k):
    return torch.stack([(q * k[..., j : j + 1, :]).sum(-1) for j in range(k.shape[-2])], dim=-1)


@right("attention_scores")
def scores_baddbmm_of_zeros(q, k):
    flat_q = q.reshape(-1, *q.shape[-2:])
    flat_k = k.reshape(-1, *k.shape[-2:])
    zeros = flat_q.new_zeros(flat_q.shape[0], flat_q.shape[1], flat_k.shape[1])
    return torch.baddbmm(zeros, flat_q, flat_k.mT).reshape(*q.shape[:-1], k.shape[-2])


@right("attention_scores")
def scores_float64_then_back(q, k):
    return (q.double() @ k.double().mT).to(q.dtype)


# --- 04 softmax: scores (..., Lk) → weights ---


@right("softmax")
def softmax_method(scores):
    return scores.softmax(-1)


@right("softmax")
def softmax_amax_and_exp(scores):
    e = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    return e / e.sum(-1, keepdim=True)


@right("softmax")
def softmax_exp_of_log_softmax(scores):
    return F.log_softmax(scores, dim=-1).exp()


@right("softmax")
def softmax_subtract_logsumexp(scores):
    return torch.exp(scores - torch.logsumexp(scores, dim=-1, keepdim=True))


@right("softmax")
def softmax_rows_in_a_loop(scores):
    flat = scores.reshape(-1, scores.shape[-1])
    rows = []
    for row in flat:
        e = (row - row.max()).exp()
        rows.append(e / e.sum())
    return torch.stack(rows).reshape(scores.shape)


@right("softmax")
def softmax_positive_dim_and_float64(scores):
    last = scores.dim() - 1
    s = scores.to(torch.float64)
    return torch.softmax(s, dim=last).to(scores.dtype)


@right("softmax")
def softmax_divide_by_reciprocal(scores):
    e = (scores - scores.max(-1, keepdim=True)[0]).exp()
    return e * e.sum(-1, keepdim=True).reciprocal()


# --- 04 attention: x (L, d_model) → out (L, d_v), weights (L, L) ---


@right("attention")
def head_einsum_everywhere(x, w_q, w_k, w_v):
    q, k, v = (torch.einsum("ld,de->le", x, w) for w in (w_q, w_k, w_v))
    weights = torch.einsum("id,jd->ij", q, k).div(q.shape[-1] ** 0.5).softmax(-1)
    return torch.einsum("ij,jd->id", weights, v), weights


@right("attention")
def head_sdpa_from_lib(x, w_q, w_k, w_v):
    from transformer_course.attention import scaled_dot_product_attention

    out, weights = scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)
    return out, weights


@right("attention")
def head_stable_softmax_by_hand(x, w_q, w_k, w_v):
    q, k, v = torch.mm(x, w_q), torch.mm(x, w_k), torch.mm(x, w_v)
    s = torch.mm(q, k.t()) * q.size(1) ** -0.5
    e = torch.exp(s - s.max(dim=1, keepdim=True).values)
    weights = e / e.sum(dim=1, keepdim=True)
    return torch.mm(weights, v), weights


@right("attention")
def head_float64_inside(x, w_q, w_k, w_v):
    x64, wq, wk, wv = (t.double() for t in (x, w_q, w_k, w_v))
    q, k, v = x64 @ wq, x64 @ wk, x64 @ wv
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[1]), dim=1)
    return (weights @ v).to(x.dtype), weights.to(x.dtype)


@right("attention")
def head_as_a_tuple_built_by_a_batched_call(x, w_q, w_k, w_v):
    q, k, v = (x[None] @ w for w in (w_q, w_k, w_v))  # (1, L, d): a batch of one
    weights = torch.softmax(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(q.shape[-1]), dim=-1)
    return tuple(t[0] for t in (torch.bmm(weights, v), weights))


# --- 05 multi_head_attention: x (B, L, D), w_* (D, D) → (B, L, D) ---


def _heads(t, num_heads):  # (B, L, D) → (B, h, L, d_head), through unflatten and permute
    return t.unflatten(-1, (num_heads, -1)).permute(0, 2, 1, 3)


@right("multi_head_attention")
def mha_unflatten_permute_flatten(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (_heads(x @ w, num_heads) for w in (w_q, w_k, w_v))
    weights = (q @ k.mT / math.sqrt(q.shape[-1])).softmax(dim=-1)
    return (weights @ v).permute(0, 2, 1, 3).flatten(2) @ w_o


@right("multi_head_attention")
def mha_bmm_over_batch_times_heads(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d = d_model // num_heads

    def fold(t):  # (B, L, D) → (B·h, L, d)
        return t.reshape(b, length, num_heads, d).transpose(1, 2).reshape(b * num_heads, length, d)

    q, k, v = fold(x @ w_q), fold(x @ w_k), fold(x @ w_v)
    weights = torch.softmax(torch.bmm(q, k.transpose(1, 2)) / d**0.5, dim=2)
    out = torch.bmm(weights, v).reshape(b, num_heads, length, d).transpose(1, 2).reshape(b, length, d_model)
    return out @ w_o


@right("multi_head_attention")
def mha_output_projection_per_head_summed(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (_heads(x @ w, num_heads) for w in (w_q, w_k, w_v))
    weights = torch.softmax(torch.einsum("bhid,bhjd->bhij", q, k) / q.shape[-1] ** 0.5, dim=-1)
    heads = torch.einsum("bhij,bhjd->bhid", weights, v)  # (B, h, L, d_head)
    w_o_heads = w_o.unflatten(0, (num_heads, -1))  # (h, d_head, D): each head's rows of W_O
    return torch.einsum("bhid,hde->bie", heads, w_o_heads)


@right("multi_head_attention")
def mha_loop_over_batch_and_heads(x, w_q, w_k, w_v, w_o, num_heads):
    d = x.shape[-1] // num_heads
    outs = []
    for xb in x:  # (L, D)
        q, k, v = xb @ w_q, xb @ w_k, xb @ w_v
        heads = []
        for h in range(num_heads):
            cols = slice(h * d, (h + 1) * d)
            w = torch.softmax(q[:, cols] @ k[:, cols].T / math.sqrt(d), dim=-1)
            heads.append(w @ v[:, cols])
        outs.append(torch.cat(heads, dim=-1) @ w_o)
    return torch.stack(outs)


@right("multi_head_attention")
def mha_stacked_projection_and_chunk(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (x @ torch.cat([w_q, w_k, w_v], dim=1)).chunk(3, dim=-1)
    q, k, v = (_heads(t, num_heads) for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v)
    return F.linear(out.transpose(1, 2).contiguous().view(x.shape), w_o.T)


@right("multi_head_attention")
def mha_float64_then_back(x, w_q, w_k, w_v, w_o, num_heads):
    x64 = x.double()
    q, k, v = (_heads(x64 @ w.double(), num_heads) for w in (w_q, w_k, w_v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    e = (scores - scores.amax(-1, keepdim=True)).exp()
    merged = ((e / e.sum(-1, keepdim=True)) @ v).transpose(1, 2).reshape(x.shape)
    return (merged @ w_o.double()).float()


# --- 06 causal_masked_weights: scores (B, L, L), ids (B, L) → weights (B, L, L) ---


@right("causal_masked_weights")
def masked_torch_where(scores, ids, pad_id):
    length = ids.shape[-1]
    allowed = torch.tril(torch.ones(length, length, dtype=torch.bool)) & (ids != pad_id)[:, None, :]
    return torch.where(allowed, scores, float("-inf")).softmax(dim=-1)


@right("causal_masked_weights")
def masked_arange_comparison_and_dim_2(scores, ids, pad_id):
    pos = torch.arange(ids.shape[1])
    allowed = (pos[None, :] <= pos[:, None]).unsqueeze(0) & ids.ne(pad_id).unsqueeze(-2)
    return F.softmax(scores.masked_fill(allowed.logical_not(), -math.inf), dim=2)


@right("causal_masked_weights")
def masked_blocked_with_triu_and_finfo_min(scores, ids, pad_id):
    length = ids.size(1)
    future = torch.ones(length, length, dtype=torch.bool).triu(diagonal=1)
    blocked = future | (ids == pad_id).unsqueeze(1)
    return scores.masked_fill(blocked, torch.finfo(scores.dtype).min).softmax(-1)


@right("causal_masked_weights")
def masked_lib_masks_squeezed(scores, ids, pad_id):
    from transformer_course.masks import causal_mask, padding_mask

    allowed = (causal_mask(ids.shape[1]) & padding_mask(ids, pad_id)).squeeze(1)  # (B, L, L)
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)


@right("causal_masked_weights")
def masked_loop_over_the_batch(scores, ids, pad_id):
    length = ids.shape[1]
    past = torch.ones(length, length).tril().bool()
    rows = [s.masked_fill(~(past & (i != pad_id)), float("-inf")).softmax(-1) for s, i in zip(scores, ids)]
    return torch.stack(rows)


# --- 07 feed_forward: x (..., d_model) → (..., d_model) ---


@right("feed_forward")
def ffn_method_chain(x, w_1, b_1, w_2, b_2):
    return x.matmul(w_1).add(b_1).relu().matmul(w_2).add(b_2)


@right("feed_forward")
def ffn_maximum_with_zero(x, w_1, b_1, w_2, b_2):
    pre = torch.einsum("...d,df->...f", x, w_1) + b_1
    return torch.maximum(pre, torch.zeros_like(pre)) @ w_2 + b_2


@right("feed_forward")
def ffn_times_positive_part(x, w_1, b_1, w_2, b_2):
    pre = x @ w_1 + b_1
    return (pre * (pre > 0)) @ w_2 + b_2


@right("feed_forward")
def ffn_relu_in_place_on_its_own_hidden(x, w_1, b_1, w_2, b_2):
    hidden = x @ w_1 + b_1
    F.relu(hidden, inplace=True)  # its own new tensor, not an input
    return hidden @ w_2 + b_2


@right("feed_forward")
def ffn_float64_then_back(x, w_1, b_1, w_2, b_2):
    hidden = (x.double() @ w_1.double() + b_1.double()).clamp_min(0)
    return (hidden @ w_2.double() + b_2.double()).to(x.dtype)


@right("feed_forward")
def ffn_loop_over_rows_stacked(x, w_1, b_1, w_2, b_2):
    rows = x.reshape(-1, x.shape[-1])
    out = torch.stack([F.relu(row @ w_1 + b_1) @ w_2 + b_2 for row in rows])
    return out.reshape(*x.shape[:-1], w_2.shape[1])


# --- 07 layer_norm: x (..., d), weight (d,), bias (d,), eps ---


@right("layer_norm")
def ln_var_correction_0(x, weight, bias, eps):
    mean = x.mean(-1, keepdim=True)
    return (x - mean) / (x.var(-1, correction=0, keepdim=True) + eps).sqrt() * weight + bias


@right("layer_norm")
def ln_unbiased_false_and_rsqrt(x, weight, bias, eps):
    centred = x - x.mean(dim=-1, keepdim=True)
    return centred * torch.rsqrt(torch.var(x, dim=-1, unbiased=False, keepdim=True) + eps) * weight + bias


@right("layer_norm")
def ln_sum_over_count_and_addcmul(x, weight, bias, eps):
    d = x.shape[-1]
    mean = x.sum(-1, keepdim=True) / d
    var = (x - mean).square().sum(-1, keepdim=True) / d
    return torch.addcmul(bias, (x - mean) / torch.sqrt(var + eps), weight)


@right("layer_norm")
def ln_from_second_moment_float64(x, weight, bias, eps):
    x64 = x.double()
    mean = x64.mean(-1, keepdim=True)
    var = (x64**2).mean(-1, keepdim=True) - mean**2  # E[x²] − E[x]², safe in float64
    return ((x64 - mean) / (var + eps).sqrt()).to(x.dtype) * weight + bias


@right("layer_norm")
def ln_keyword_normalized_shape(x, weight, bias, eps):
    return F.layer_norm(input=x, normalized_shape=(x.size(-1),), weight=weight, bias=bias, eps=eps)


@right("layer_norm")
def ln_rows_in_a_loop(x, weight, bias, eps):
    rows = x.reshape(-1, x.shape[-1])
    normed = [(r - r.mean()) / (r.var(unbiased=False) + eps).sqrt() for r in rows]
    return torch.stack(normed).reshape(x.shape) * weight + bias


# --- 07 add_norm: block (AddNorm), x (B, L, d), sublayer ---


@right("add_norm")
def add_norm_torch_add_and_method(block, x, sublayer):
    if block.norm_first:
        return torch.add(x, block.dropout(sublayer(block.norm(x))))
    return block.norm(block.dropout(sublayer(x)).add(x))


@right("add_norm")
def add_norm_positional_f_dropout(block, x, sublayer):
    def drop(h):
        return F.dropout(h, block.dropout.p, block.training)

    norm = block.norm
    if not block.norm_first:
        return F.layer_norm(x + drop(sublayer(x)), norm.normalized_shape, norm.weight, norm.bias, norm.eps)
    return x + drop(sublayer(F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)))


@right("add_norm")
def add_norm_forward_methods(block, x, sublayer):
    inner = block.norm.forward(x) if block.norm_first else x
    out = block.dropout.forward(sublayer(inner))
    return x + out if block.norm_first else block.norm.forward(x + out)


@right("add_norm")
def add_norm_layer_norm_by_hand(block, x, sublayer):
    def norm(h):
        mean = h.mean(-1, keepdim=True)
        var = h.var(-1, unbiased=False, keepdim=True)
        return (h - mean) / torch.sqrt(var + block.norm.eps) * block.norm.weight + block.norm.bias

    if block.norm_first:
        return x + block.dropout(sublayer(norm(x)))
    return norm(x + block.dropout(sublayer(x)))


@right("add_norm")
def add_norm_one_expression(block, x, sublayer):
    pre = block.norm_first
    y = x + block.dropout(sublayer(block.norm(x) if pre else x))
    return y if pre else block.norm(y)


# --- 07 encoder_layer: layer (EncoderLayer), x (B, L, d), mask (B, 1, 1, L) ---


@right("encoder_layer")
def encoder_positional_mask_and_no_weights(layer, x, mask):
    attended, _ = layer.self_attn(x, x, x, mask, need_weights=False)
    x = layer.norm1(x + attended)
    return layer.norm2(x + layer.feed_forward(x))


@right("encoder_layer")
def encoder_feed_forward_by_its_linears(layer, x, mask):
    x = layer.norm1(x + layer.self_attn(x, mask=mask)[0])
    ff = layer.feed_forward
    hidden = ff.dropout(F.relu(ff.linear1(x)))
    return layer.norm2(x + ff.linear2(hidden))


@right("encoder_layer")
def encoder_mask_as_keys_only(layer, x, mask):
    keys = mask.reshape(x.shape[0], 1, 1, x.shape[1])  # the same (B, 1, 1, L), reshaped
    out = layer.add_norm1(x, lambda h: layer.self_attn(h, mask=keys, need_weights=False)[0])
    return layer.add_norm2(out, layer.feed_forward)


@right("encoder_layer")
def encoder_either_norm_placement(layer, x, mask):
    def attend(h):
        return layer.self_attn(h, mask=mask)[0]

    if layer.norm_first:
        x = x + attend(layer.norm1(x))
        return x + layer.feed_forward(layer.norm2(x))
    x = layer.norm1(x + attend(x))
    return layer.norm2(x + layer.feed_forward(x))


@right("encoder_layer")
def encoder_mask_as_b_1_l_l_expanded(layer, x, mask):
    length = x.shape[1]
    full = mask.expand(-1, -1, length, -1)  # (B, 1, L, L): every query row the same
    x = layer.norm1(x + layer.self_attn(query=x, key=x, value=x, mask=full)[0])
    return layer.norm2(x + layer.feed_forward(x))


# --- 07 decoder_layer: layer (DecoderLayer), x (B, Lt, d), memory (B, Ls, d) ---


@right("decoder_layer")
def decoder_tril_mask_and_keywords(layer, x, memory):
    length = x.shape[1]
    sees = torch.ones(length, length, dtype=torch.bool).tril()
    x = layer.norm1(x + layer.self_attn(x, mask=sees)[0])
    x = layer.norm2(x + layer.cross_attn(x, key=memory, value=memory)[0])
    return layer.norm3(x + layer.feed_forward(x))


@right("decoder_layer")
def decoder_cross_attention_key_only(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, causal=True, need_weights=False)[0])
    x = layer.norm2(x + layer.cross_attn(x, memory)[0])  # value defaults to the key
    return layer.norm3(x + layer.feed_forward(x))


@right("decoder_layer")
def decoder_add_norm_modules_with_a_4d_mask(layer, x, memory):
    length = x.shape[1]
    pos = torch.arange(length)
    mask = (pos[:, None] >= pos[None, :]).view(1, 1, length, length)
    x = layer.add_norm1(x, lambda h: layer.self_attn(h, mask=mask)[0])
    x = layer.add_norm2(x, lambda h: layer.cross_attn(h, memory, memory)[0])
    return layer.add_norm3(x, layer.feed_forward)


@right("decoder_layer")
def decoder_one_sequence_at_a_time(layer, x, memory):
    from transformer_course.masks import causal_mask

    outs = []
    for xb, mb in zip(x.split(1), memory.split(1)):
        xb = layer.norm1(xb + layer.self_attn(xb, mask=causal_mask(xb.shape[1]))[0])
        xb = layer.norm2(xb + layer.cross_attn(xb, mb, mb)[0])
        outs.append(layer.norm3(xb + layer.feed_forward(xb)))
    return torch.cat(outs)


@right("decoder_layer")
def decoder_not_triu_mask_per_batch(layer, x, memory):
    b, length, _ = x.shape
    blocked = torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)
    mask = (~blocked).expand(b, length, length)  # (B, Lt, Lt), the same for every head
    x = layer.norm1(x + layer.self_attn(x, x, x, mask)[0])
    x = layer.norm2(x + layer.cross_attn(query=x, key=memory, value=memory)[0])
    return layer.norm3(x + layer.feed_forward(x))


# --- 07 encoder_decoder_forward: parts (Seq2SeqParts), src (B, Ls), trg_in (B, Lt) ---


def _seq2seq(parts, src, trg_in, embed, masks, output):
    src_mask, trg_mask = masks(parts, src, trg_in)
    memory = parts.encoder(embed(parts, src), src_mask)
    return output(parts, parts.decoder(embed(parts, trg_in), memory, trg_mask, src_mask))


def _embed_indexed(parts, ids):  # the table indexed, positions unsqueezed
    d_model = parts.embedding.weight.shape[1]
    return parts.embedding.weight[ids] * d_model**0.5 + parts.positions[: ids.size(1)].unsqueeze(0)


def _embed_module(parts, ids):
    return parts.embedding(ids) * math.sqrt(parts.embedding.embedding_dim) + parts.positions[: ids.shape[-1]]


def _masks_unsqueezed(parts, src, trg_in):  # (B, 1, 1, Ls), (B, 1, Lt, Lt)
    length = trg_in.shape[1]
    src_mask = (src != parts.pad_id)[:, None, None, :]
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    return src_mask, causal & (trg_in != parts.pad_id)[:, None, None, :]


def _masks_lib_combined(parts, src, trg_in):
    from transformer_course.masks import causal_mask, combine_masks, padding_mask

    src_mask = padding_mask(src, parts.pad_id)
    return src_mask, combine_masks(causal_mask(trg_in.shape[1]), padding_mask(trg_in, parts.pad_id))


def _output_by_hand(parts, hidden):  # the checker's output layer may have no bias
    logits = hidden @ parts.output.weight.T
    return logits if parts.output.bias is None else logits + parts.output.bias


def _output_f_linear(parts, hidden):
    return F.linear(hidden, parts.output.weight, parts.output.bias)


def _output_module(parts, hidden):
    return parts.output(hidden)


@right("encoder_decoder_forward")
def seq2seq_indexed_table_and_unsqueezed_masks(parts, src, trg_in):
    return _seq2seq(parts, src, trg_in, _embed_indexed, _masks_unsqueezed, _output_by_hand)


@right("encoder_decoder_forward")
def seq2seq_lib_combine_masks(parts, src, trg_in):
    return _seq2seq(parts, src, trg_in, _embed_module, _masks_lib_combined, _output_f_linear)


@right("encoder_decoder_forward")
def seq2seq_einsum_output(parts, src, trg_in):
    hidden = _seq2seq(parts, src, trg_in, _embed_module, _masks_unsqueezed, lambda p, h: h)
    logits = torch.einsum("btd,vd->btv", hidden, parts.output.weight)
    return logits if parts.output.bias is None else logits + parts.output.bias


@right("encoder_decoder_forward")
def seq2seq_addmm_output(parts, src, trg_in):
    hidden = _seq2seq(parts, src, trg_in, _embed_indexed, _masks_lib_combined, lambda p, h: h)
    bias = parts.output.bias if parts.output.bias is not None else torch.zeros(())
    flat = torch.addmm(bias, hidden.flatten(0, 1), parts.output.weight.T)
    return flat.unflatten(0, hidden.shape[:2])


@right("encoder_decoder_forward")
def seq2seq_masks_from_arange(parts, src, trg_in):
    def masks(parts, src, trg_in):
        pos = torch.arange(trg_in.shape[1])
        causal = pos.view(1, 1, -1, 1) >= pos.view(1, 1, 1, -1)  # (1, 1, Lt, Lt)
        real = trg_in.ne(parts.pad_id).view(trg_in.shape[0], 1, 1, -1)
        return src.ne(parts.pad_id).view(src.shape[0], 1, 1, -1), causal & real

    return _seq2seq(parts, src, trg_in, _embed_module, masks, _output_module)


@right("encoder_decoder_forward")
def seq2seq_embed_through_f_embedding_scaled_first(parts, src, trg_in):
    def embed(parts, ids):
        weight = parts.embedding.weight * math.sqrt(parts.embedding.weight.size(-1))
        return F.embedding(ids, weight) + parts.positions[: ids.shape[1], :]

    return _seq2seq(parts, src, trg_in, embed, _masks_unsqueezed, _output_module)


# --- 08 teacher_forcing_loss: model, src (B, S), trg (B, T), pad_id → scalar ---


@right("teacher_forcing_loss")
def loss_flatten_0_1(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1), trg[:, 1:].flatten(), ignore_index=pad_id)


@right("teacher_forcing_loss")
def loss_boolean_indexing(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    real = labels != pad_id
    return F.cross_entropy(logits[real], labels[real])


@right("teacher_forcing_loss")
def loss_logsumexp_minus_gathered(model, src, trg, pad_id):
    logits, labels = model(src, trg[..., :-1]), trg[..., 1:]
    picked = logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    nll = torch.logsumexp(logits, dim=-1) - picked  # (B, T-1)
    return nll.masked_select(labels != pad_id).mean()


@right("teacher_forcing_loss")
def loss_sum_then_count_per_story(model, src, trg, pad_id):
    logits = model(src, trg.narrow(1, 0, trg.shape[1] - 1))
    labels = trg.narrow(1, 1, trg.shape[1] - 1)
    total, count = 0.0, 0
    for row_logits, row_labels in zip(logits, labels):
        total = total + F.cross_entropy(row_logits, row_labels, ignore_index=pad_id, reduction="sum")
        count += int((row_labels != pad_id).sum())
    return total / count


@right("teacher_forcing_loss")
def loss_contiguous_view_float64(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1]).double()
    vocab = logits.size(-1)
    loss = F.cross_entropy(
        logits.contiguous().view(-1, vocab), trg[:, 1:].contiguous().view(-1), ignore_index=pad_id
    )
    return loss.float()


# --- 08 train_step: model, optimiser, loss_fn, batch → float ---


@right("train_step")
def step_set_to_none_and_detach_item(model, optimiser, loss_fn, batch):
    optimiser.zero_grad(set_to_none=True)
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.detach().item()


@right("train_step")
def step_grads_set_to_none_by_hand(model, optimiser, loss_fn, batch):
    for p in model.parameters():
        p.grad = None
    loss = loss_fn(model, batch)
    torch.autograd.backward(loss)
    optimiser.step()
    return float(loss.detach())


@right("train_step")
def step_autograd_grad_assigned(model, optimiser, loss_fn, batch):
    params = [p for p in model.parameters() if p.requires_grad]
    loss = loss_fn(model, batch)
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    for p, g in zip(params, grads):
        p.grad = g
    optimiser.step()
    return loss.item()


@right("train_step")
def step_under_enable_grad_tolist(model, optimiser, loss_fn, batch):
    with torch.enable_grad():
        optimiser.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward()
    optimiser.step()
    return loss.tolist()


@right("train_step")
def step_zero_grad_of_every_param_group(model, optimiser, loss_fn, batch):
    for group in optimiser.param_groups:
        for p in group["params"]:
            if p.grad is not None:
                p.grad.zero_()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.item()


@right("train_step")
def step_loss_kept_as_a_number_first(model, optimiser, loss_fn, batch):
    model.zero_grad(set_to_none=True)
    loss = loss_fn(model, batch)
    value = loss.item()
    loss.backward()
    optimiser.step()
    return value


# --- 08 greedy_decode: logits_fn, prompt (t0,), max_new_tokens, eos_id → (t0 + n,) ---


@right("greedy_decode")
def greedy_cat_with_reshape(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt
    for _ in range(max_new_tokens):
        token = logits_fn(ids[None])[0, -1].argmax()
        ids = torch.cat((ids, token.reshape(1)), dim=0)
        if token.item() == eos_id:
            break
    return ids


@right("greedy_decode")
def greedy_list_and_max_indices(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.tolist()
    for _ in range(max_new_tokens):
        logits = logits_fn(torch.tensor([ids], dtype=prompt.dtype))
        token = int(logits[0, -1, :].max(dim=-1).indices)
        ids.append(token)
        if token == eos_id:
            break
    return torch.tensor(ids, dtype=prompt.dtype)


@right("greedy_decode")
def greedy_under_no_grad_view(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    with torch.no_grad():
        for _ in range(max_new_tokens):
            token = torch.argmax(logits_fn(ids.view(1, -1))[:, -1], dim=-1)  # (1,)
            ids = torch.cat([ids, token])
            if token.item() == eos_id:
                break
    return ids


@right("greedy_decode")
def greedy_lib_batched_of_one(logits_fn, prompt, max_new_tokens, eos_id):
    from transformer_course.generation import greedy_decode

    return greedy_decode(logits_fn, prompt.unsqueeze(0), max_new_tokens=max_new_tokens, eos_id=eos_id)[0]


@right("greedy_decode")
def greedy_while_with_a_counter(logits_fn, prompt, max_new_tokens, eos_id):
    ids, new = prompt.clone(), 0
    while new < max_new_tokens:
        last = logits_fn(ids.unsqueeze(0)).squeeze(0)[-1]
        ids = torch.cat([ids, last.argmax(-1, keepdim=True)])
        new += 1
        if ids[-1] == eos_id:
            break
    return ids


@right("greedy_decode")
def greedy_stack_of_new_tokens(logits_fn, prompt, max_new_tokens, eos_id):
    new = []
    for _ in range(max_new_tokens):
        ids = torch.cat([prompt, *new]) if new else prompt
        new.append(logits_fn(ids.unsqueeze(0))[0, -1].argmax().view(1))
        if new[-1].item() == eos_id:
            break
    return torch.cat([prompt, *new])


# --- 08 sample_next_token: logits (B, V), temperature, top_k → ids (B,) ---


def _top_k_where(logits, top_k):
    if top_k is None:
        return logits
    kth = torch.topk(logits, k=top_k, dim=-1).values[..., -1:]
    return torch.where(logits < kth, torch.tensor(float("-inf")), logits)


@right("sample_next_token")
def sample_where_and_view(logits, temperature, top_k):
    probs = F.softmax(_top_k_where(logits / temperature, top_k), dim=-1)
    return torch.multinomial(probs, num_samples=1).view(-1)


@right("sample_next_token")
def sample_within_the_top_k_then_gather(logits, temperature, top_k):
    scaled = logits / temperature
    if top_k is None:
        return torch.multinomial(scaled.softmax(-1), 1)[:, 0]
    values, indices = scaled.topk(top_k, dim=-1)
    picked = torch.multinomial(values.softmax(-1), 1)  # (B, 1): a position among the k
    return indices.gather(1, picked).squeeze(1)


@right("sample_next_token")
def sample_one_row_at_a_time(logits, temperature, top_k):
    probs = torch.softmax(_top_k_where(logits / temperature, top_k), dim=-1)
    return torch.stack([torch.multinomial(row, 1)[0] for row in probs])


@right("sample_next_token")
def sample_inverse_cdf(logits, temperature, top_k):
    probs = torch.softmax(_top_k_where(logits.double() / temperature, top_k), dim=-1)
    u = torch.rand(probs.shape[0], 1, dtype=probs.dtype)
    cdf = probs.cumsum(dim=-1)
    return (cdf < u).sum(dim=-1).clamp(max=probs.shape[-1] - 1)


@right("sample_next_token")
def sample_sorted_then_first_k(logits, temperature, top_k):
    scaled = logits / temperature
    if top_k is not None:
        ranked = scaled.sort(dim=-1, descending=True).values
        scaled = scaled.masked_fill(scaled < ranked[:, top_k - 1].unsqueeze(1), -math.inf)
    return torch.multinomial(
        scaled.double().exp().div(scaled.double().exp().sum(-1, keepdim=True)), 1
    ).flatten()


# --- 09 gpt_forward: parts (GptParts), ids (B, L) → logits (B, L, V) ---


@right("gpt_forward")
def gpt_position_table_and_einsum(parts, ids):
    length = ids.shape[1]
    table = parts.token.weight
    x = table[ids] * table.shape[1] ** 0.5 + parts.positions.weight[:length]
    sees = torch.arange(length)[:, None] >= torch.arange(length)[None, :]
    for block in parts.blocks:
        x = block(x, sees)
    return torch.einsum("bld,vd->blv", parts.norm(x), table)


@right("gpt_forward")
def gpt_final_norm_through_f_layer_norm(parts, ids):
    length = ids.shape[1]
    x = parts.token(ids) * parts.token.embedding_dim**0.5 + parts.positions(torch.arange(length))
    sees = torch.tril(torch.ones(length, length)).bool()
    for block in parts.blocks:
        x = block(x, sees)
    n = parts.norm
    return F.linear(F.layer_norm(x, n.normalized_shape, n.weight, n.bias, n.eps), parts.token.weight)


@right("gpt_forward")
def gpt_one_story_at_a_time(parts, ids):
    length = ids.shape[1]
    sees = torch.ones(length, length, dtype=torch.bool).tril()
    outs = []
    for row in ids:
        x = parts.token(row[None]) * math.sqrt(parts.token.embedding_dim) + parts.positions(
            torch.arange(length)
        )
        for block in parts.blocks:
            x = block(x, sees)
        outs.append(parts.norm(x) @ parts.token.weight.T)
    return torch.cat(outs)


@right("gpt_forward")
def gpt_matmul_with_transpose_0_1(parts, ids):
    length = ids.shape[1]
    d_model = parts.token.weight.shape[-1]
    x = parts.token(ids) * math.sqrt(d_model) + parts.positions.weight[torch.arange(length)]
    for block in parts.blocks:
        x = block(x, torch.ones(length, length).tril() == 1)
    return torch.matmul(parts.norm(x), parts.token.weight.transpose(0, 1))


@right("gpt_forward")
def gpt_positions_by_index_select(parts, ids):
    length = ids.shape[1]
    where = torch.arange(length, dtype=torch.long)
    x = parts.token.weight.index_select(0, ids.flatten()).view(*ids.shape, -1)
    x = x * math.sqrt(parts.token.embedding_dim) + parts.positions.weight.index_select(0, where)
    sees = torch.ones(length, length, dtype=torch.bool).tril_()
    for block in parts.blocks:
        x = block(x, sees)
    return parts.norm(x) @ parts.token.weight.T


# --- 09 keep_top_p: probs (B, V), top_p → (B, V) ---


@right("keep_top_p")
def top_p_where_and_inverse_permutation(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = torch.where(ranked.cumsum(-1) - ranked < top_p, ranked, torch.zeros_like(ranked))
    kept = ranked.gather(-1, order.argsort(dim=-1))
    return kept / kept.sum(dim=-1, keepdim=True)


@right("keep_top_p")
def top_p_scatter_in_place_on_its_own_zeros(probs, top_p):
    ranked, order = probs.sort(-1, descending=True)
    ranked = ranked * ((ranked.cumsum(-1) - ranked) < top_p)
    kept = torch.zeros_like(probs)
    kept.scatter_(1, order, ranked)
    return F.normalize(kept, p=1, dim=-1)


@right("keep_top_p")
def top_p_advanced_indexing(probs, top_p):
    ranked, order = probs.sort(dim=1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(1) - ranked >= top_p, 0)
    kept = torch.empty_like(probs)
    kept[torch.arange(probs.shape[0])[:, None], order] = ranked
    return kept / kept.sum(1, keepdim=True)


@right("keep_top_p")
def top_p_rows_in_a_loop(probs, top_p):
    rows = []
    for row in probs:
        ranked, order = row.sort(descending=True)
        ranked = ranked.masked_fill(ranked.cumsum(0) - ranked >= top_p, 0.0)
        kept = torch.zeros_like(row).index_put((order,), ranked)
        rows.append(kept / kept.sum())
    return torch.stack(rows)


@right("keep_top_p")
def top_p_count_kept_per_row(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    count = ((ranked.cumsum(-1) - ranked) < top_p).sum(-1, keepdim=True)  # (B, 1)
    in_nucleus = torch.arange(probs.shape[-1]) < count  # (B, V), ranked order
    kept = torch.zeros_like(probs).scatter(-1, order, ranked * in_nucleus)
    return kept / kept.sum(-1, keepdim=True)


# --- 09 cached_attention_step: q, k_new, v_new (B, h, 1, d); past (B, h, t, d) or None ---


@right("cached_attention_step")
def cached_f_sdpa_and_dim_minus_2(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat((past_k, k_new), dim=-2)
    values = v_new if past_v is None else torch.cat((past_v, v_new), dim=-2)
    return F.scaled_dot_product_attention(q, keys, values), keys, values


@right("cached_attention_step")
def cached_empty_past_when_none(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        past_k = k_new.new_zeros(*k_new.shape[:2], 0, k_new.shape[-1])
        past_v = v_new.new_zeros(*v_new.shape[:2], 0, v_new.shape[-1])
    keys, values = torch.cat([past_k, k_new], 2), torch.cat([past_v, v_new], 2)
    weights = (q @ keys.mT * q.shape[-1] ** -0.5).softmax(-1)
    return weights @ values, keys, values


@right("cached_attention_step")
def cached_stable_softmax_by_hand(q, k_new, v_new, past_k, past_v):
    keys = torch.cat([t for t in (past_k, k_new) if t is not None], dim=2)
    values = torch.cat([t for t in (past_v, v_new) if t is not None], dim=2)
    s = torch.matmul(q, keys.transpose(2, 3)) / math.sqrt(q.size(-1))
    e = torch.exp(s - s.max(dim=-1, keepdim=True).values)
    return torch.matmul(e / e.sum(dim=-1, keepdim=True), values), keys, values


@right("cached_attention_step")
def cached_bmm_over_batch_times_heads(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    b, h, t, d = keys.shape
    weights = torch.softmax(torch.bmm(q.reshape(b * h, 1, d), keys.reshape(b * h, t, d).mT) / d**0.5, -1)
    return torch.bmm(weights, values.reshape(b * h, t, d)).view(b, h, 1, d), keys, values


@right("cached_attention_step")
def cached_float64_then_back(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    scores = q.double() @ keys.double().transpose(-2, -1) / math.sqrt(q.shape[-1])
    out = scores.softmax(dim=-1) @ values.double()
    return out.to(q.dtype), keys, values


# --- A second pass: the styles an expert reaches for ---


@right("cosine_similarity")
def cosine_norms_clamped(vectors):
    unit = vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return unit @ unit.T


@right("cosine_similarity")
def cosine_from_cdist(vectors):
    unit = F.normalize(vectors.double(), dim=-1)
    return (1 - torch.cdist(unit, unit) ** 2 / 2).to(vectors.dtype)  # |a − b|² = 2 − 2 cos


@right("softmax")
def softmax_nn_module(scores):
    return torch.nn.Softmax(dim=-1)(scores)


@right("attention")
def head_f_sdpa_batched_of_one_and_weights_by_hand(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T * q.shape[-1] ** -0.5, dim=-1)
    out = F.scaled_dot_product_attention(q[None], k[None], v[None])[0]
    return out, weights


@right("multi_head_attention")
def mha_functional_multi_head_attention_forward(x, w_q, w_k, w_v, w_o, num_heads):
    d_model = x.shape[-1]
    seq_first = x.transpose(0, 1)  # (L, B, D): the functional's layout
    out, _ = F.multi_head_attention_forward(
        seq_first, seq_first, seq_first, d_model, num_heads,
        torch.cat([w_q.T, w_k.T, w_v.T]), None, None, None, False, 0.0,
        w_o.T, None, training=False, need_weights=False,
    )  # fmt: skip
    return out.transpose(0, 1)


@right("causal_masked_weights")
def masked_additive_float_mask(scores, ids, pad_id):
    length = ids.shape[1]
    allowed = torch.ones(length, length, dtype=torch.bool).tril() & (ids != pad_id)[:, None]
    additive = torch.zeros_like(scores).masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores + additive, dim=-1)


@right("feed_forward")
def ffn_f_linear_transposed_keywords(x, w_1, b_1, w_2, b_2):
    return F.linear(input=F.relu(F.linear(input=x, weight=w_1.t(), bias=b_1)), weight=w_2.t(), bias=b_2)


@right("feed_forward")
def ffn_threshold(x, w_1, b_1, w_2, b_2):
    return F.threshold(x @ w_1 + b_1, 0.0, 0.0) @ w_2 + b_2


@right("layer_norm")
def ln_standardised_with_std_of_var(x, weight, bias, eps):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    return weight * (x - mean).div((var + eps) ** 0.5) + bias


@right("add_norm")
def add_norm_dropout_functional_module(block, x, sublayer):
    drop = torch.nn.functional.dropout
    if block.norm_first:
        return x + drop(sublayer(block.norm(x)), p=block.dropout.p, training=block.dropout.training)
    return block.norm(x + drop(sublayer(x), p=block.dropout.p, training=block.dropout.training))


@right("encoder_layer")
def encoder_need_weights_kept(layer, x, mask):
    attended, weights = layer.self_attn(x, mask=mask, need_weights=True)
    x = layer.norm1(x + attended)
    return layer.norm2(x + layer.feed_forward(x))


@right("decoder_layer")
def decoder_additive_free_bool_mask_1_l_l(layer, x, memory):
    length = x.shape[1]
    mask = torch.tril(torch.ones(1, length, length)).bool()  # (1, Lt, Lt)
    x = layer.norm1(x + layer.self_attn(x, mask=mask)[0])
    x = layer.norm2(x + layer.cross_attn(x, memory, memory, None)[0])
    return layer.norm3(x + layer.feed_forward(x))


@right("teacher_forcing_loss")
def loss_module_cross_entropy(model, src, trg, pad_id):
    criterion = torch.nn.CrossEntropyLoss(ignore_index=pad_id)
    logits = model(src, trg[:, :-1])
    return criterion(logits.reshape(-1, logits.size(-1)), trg[:, 1:].reshape(-1))


@right("teacher_forcing_loss")
def loss_nll_of_log_softmax_permuted(model, src, trg, pad_id):
    log_probs = model(src, trg[:, :-1]).log_softmax(dim=-1)
    return F.nll_loss(log_probs.permute(0, 2, 1), trg[:, 1:], ignore_index=pad_id)


@right("train_step")
def step_model_train_first(model, optimiser, loss_fn, batch):
    model.train()
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.item()


@right("greedy_decode")
def greedy_inference_mode_decorated(logits_fn, prompt, max_new_tokens, eos_id):
    @torch.inference_mode()
    def next_id(ids):
        return logits_fn(ids[None])[0, -1].argmax().clone()

    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = next_id(ids)
        ids = torch.cat([ids, token[None]])
        if token == eos_id:
            break
    return ids


@right("sample_next_token")
def sample_method_multinomial_replacement(logits, temperature, top_k):
    scaled = logits.div(temperature)
    if top_k:
        floor = scaled.topk(top_k, dim=-1).values.min(dim=-1, keepdim=True).values
        scaled = scaled.masked_fill(scaled < floor, float("-inf"))
    return scaled.softmax(-1).multinomial(1, replacement=True).squeeze(1)


@right("gpt_forward")
def gpt_mask_keyword_and_positions_on_device(parts, ids):
    length = ids.shape[1]
    where = torch.arange(length, device=ids.device)
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(where)
    for block in parts.blocks:
        x = block(x, mask=torch.ones(length, length, dtype=torch.bool, device=ids.device).tril())
    return parts.norm(x) @ parts.token.weight.T


@right("keep_top_p")
def top_p_hf_style_shifted_removal(probs, top_p):
    ranked, order = torch.sort(probs, descending=True)
    remove = ranked.cumsum(dim=-1) >= top_p
    remove[..., 1:] = remove[..., :-1].clone()  # keep the token that crosses top_p
    remove[..., 0] = False
    remove = remove.scatter(1, order, remove)
    kept = probs.masked_fill(remove, 0.0)
    return kept / kept.sum(dim=-1, keepdim=True)


@right("cached_attention_step")
def cached_f_sdpa_explicit_scale(q, k_new, v_new, past_k, past_v):
    keys = torch.cat([past_k, k_new], dim=-2) if past_k is not None else k_new
    values = torch.cat([past_v, v_new], dim=-2) if past_v is not None else v_new
    out = F.scaled_dot_product_attention(
        q, keys, values, attn_mask=None, is_causal=False, scale=q.shape[-1] ** -0.5
    )
    return out, keys, values


# --- A third pass: other libraries' random numbers, vmap, extra parameters with defaults ---


def _top_k_filled(logits, temperature, top_k):
    scaled = logits / temperature
    if top_k is not None:
        scaled = scaled.masked_fill(scaled < scaled.topk(top_k, dim=-1).values[:, -1:], -math.inf)
    return scaled


@right("sample_next_token")
def sample_with_numpy_choice(logits, temperature, top_k):
    probs = _top_k_filled(logits, temperature, top_k).softmax(-1).double().numpy()
    return torch.tensor([np.random.choice(len(p), p=p / p.sum()) for p in probs])


@right("sample_next_token")
def sample_with_python_random_choices(logits, temperature, top_k):
    rows = _top_k_filled(logits, temperature, top_k).softmax(-1).tolist()
    return torch.tensor([random.choices(range(len(row)), weights=row)[0] for row in rows])


@right("sample_next_token")
def sample_nanogpt_style(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
        logits[logits < v[:, [-1]]] = -float("Inf")  # its own scaled copy, not the input
    return torch.multinomial(F.softmax(logits, dim=-1), num_samples=1).squeeze(-1)


@right("sample_next_token")
def sample_with_an_optional_generator(logits, temperature, top_k=None, generator=None):
    probs = _top_k_filled(logits, temperature, top_k).softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@right("cosine_similarity")
def cosine_vmap_of_vmap(vectors):
    return vmap(lambda a: vmap(lambda b: F.cosine_similarity(a, b, dim=0))(vectors))(vectors)


@right("softmax")
def softmax_with_a_dim_parameter(scores, dim=-1):
    e = (scores - scores.amax(dim, keepdim=True)).exp()
    return e / e.sum(dim, keepdim=True)


@right("attention_scores")
def scores_vmapped_over_leading_axes(q, k):
    def one(a, b):
        return a @ b.T

    for _ in range(q.dim() - 2):
        one = vmap(one)
    return one(q, k)


@right("attention")
def head_with_an_optional_mask(x, w_q, w_k, w_v, mask=None):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.T / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(-1)
    return [weights @ v, weights]  # a list, not a tuple


@right("multi_head_attention")
def mha_vmap_over_heads(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (t.unflatten(-1, (num_heads, -1)).movedim(2, 0) for t in (x @ w_q, x @ w_k, x @ w_v))

    def head(q, k, v):  # (B, L, d_head) each
        return torch.softmax(q @ k.mT / math.sqrt(q.shape[-1]), dim=-1) @ v

    return vmap(head)(q, k, v).movedim(0, 2).flatten(2) @ w_o  # (h, B, L, d) → (B, L, D)


@right("causal_masked_weights")
def masked_vmap_over_the_batch(scores, ids, pad_id):
    length = ids.shape[1]
    past = torch.ones(length, length, dtype=torch.bool).tril()
    return vmap(lambda s, i: s.masked_fill(~(past & (i != pad_id)), float("-inf")).softmax(-1))(scores, ids)


@right("layer_norm")
def ln_instance_norm_of_each_row(x, weight, bias, eps):
    rows = x.reshape(-1, 1, x.shape[-1])  # (N, 1 channel, d): normalised over d
    return F.instance_norm(rows, eps=eps).reshape(x.shape) * weight + bias


@right("cached_attention_step")
def cached_past_defaults_and_vmap(q, k_new, v_new, past_k=None, past_v=None):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], 2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], 2)

    def attend(q, k, v):  # (1, d), (t + 1, d), (t + 1, d)
        return torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), -1) @ v

    return vmap(vmap(attend))(q, keys, values), keys, values


@right("sinusoidal_encoding")
def sinusoid_numpy_then_float(length, d_model):
    pos, i = np.arange(length)[:, None], np.arange(d_model)[None, :]
    angle = pos / np.power(10000, 2 * (i // 2) / d_model)
    angle[:, 0::2], angle[:, 1::2] = np.sin(angle[:, 0::2]), np.cos(angle[:, 1::2])
    return torch.from_numpy(angle).float()


@right("keep_top_p")
def top_p_smallest_kept_as_threshold(probs, top_p):
    ranked = probs.sort(dim=-1, descending=True).values
    inside = ranked.cumsum(-1) - ranked < top_p
    floor = ranked.masked_fill(~inside, float("inf")).amin(-1, keepdim=True)  # the smallest kept
    kept = torch.where(probs >= floor, probs, torch.zeros(()))  # no ties in the checker's rows
    return kept / kept.sum(-1, keepdim=True)


@right("gpt_forward")
def gpt_mask_as_1_1_l_l(parts, ids):
    length = ids.shape[1]
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(torch.arange(length))
    sees = torch.ones(1, 1, length, length, dtype=torch.bool).tril()  # broadcasts like (L, L)
    for block in parts.blocks:
        x = block(x, sees)
    return parts.norm(x) @ parts.token.weight.T


@right("encoder_layer")
def encoder_with_mask_defaulting_to_none(layer, x, mask=None):
    x = layer.norm1(x + layer.self_attn(x, mask=mask)[0])
    return layer.norm2(x + layer.feed_forward(x))


@right("feed_forward")
def ffn_vmap_over_rows(x, w_1, b_1, w_2, b_2):
    rows = x.reshape(-1, x.shape[-1])
    return vmap(lambda r: F.relu(r @ w_1 + b_1) @ w_2 + b_2)(rows).reshape(*x.shape[:-1], -1)


# --- The answers registered in the checkers' own alternatives this round ---

REGISTERED = [
    ("cosine_similarity", "einsum, rsqrt of the squared norms"),
    ("sinusoidal_encoding", "cos as a shifted sin, float64"),
    ("attention_scores", "bmm on the flattened batch"),
    ("softmax", "F.softmax(dtype=torch.float64), cast back"),
    ("attention", "one stacked projection, split"),
    ("causal_masked_weights", "the log of a 1/0 mask added, float64"),
    ("feed_forward", "addmm on the rows"),
    ("layer_norm", "F.group_norm of one group"),
    ("add_norm", "the residual kept by name"),
    ("encoder_layer", "one story at a time"),
    ("decoder_layer", "a loop over the three sublayers"),
    ("encoder_decoder_forward", "the table indexed, einsum for the output"),
    ("teacher_forcing_loss", "reduction='none', the mean over real tokens"),
    ("train_step", "optimiser.step(closure)"),
    ("greedy_decode", "a generator of tokens, islice"),
    ("sample_next_token", "an exponential race"),
    ("gpt_forward", "functools.reduce over the blocks"),
    ("keep_top_p", "a shifted removal mask, scattered back"),
    ("cached_attention_step", "one query as a sum"),
]  # multi_head_attention's module is at its 380 lines: its new answers stay in this file


@pytest.mark.parametrize(("name", "label"), REGISTERED)
def test_the_alternatives_registered_this_round_pass_with_no_warning(name, label):
    verdict = exercise(name).check(exercise(name).alternatives[label])
    assert verdict.status == PASSED and not verdict.warning, verdict.message


@pytest.mark.parametrize(("name", "fn"), battery.right_answers)
def test_a_right_answer_in_a_new_style_passes_with_no_warning(name, fn):
    verdict = exercise(name).check(fn)
    assert verdict.status == PASSED and not verdict.warning, verdict.message


def test_every_exercise_has_six_new_right_answers():
    counts = {}
    for param in battery.right_answers:
        counts[param.values[0]] = counts.get(param.values[0], 0) + 1
    from transformer_course.checks import EXERCISES

    for name, _ in REGISTERED:
        counts[name] += 1
    assert all(counts.get(ex.name, 0) >= 6 for ex in EXERCISES), counts


# --- A checker called with gradients off: the loss and the training step need them ---


@pytest.mark.parametrize("name", ["teacher_forcing_loss", "train_step"])
@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_the_loss_and_the_step_pass_when_checked_with_gradients_off(name, context):
    ex = exercise(name)
    for fn in [ex.solution, *(p.values[1] for p in battery.right_answers if p.values[0] == name)]:
        with context():
            verdict = ex.check(fn)
        assert verdict.passed and not verdict.warning, (fn.__name__, verdict.message)
    assert not torch.is_inference_mode_enabled() and torch.is_grad_enabled()  # left as it was


def test_a_loss_computed_without_gradients_is_still_named_under_no_grad():
    def loss_under_no_grad(model, src, trg, pad_id):
        with torch.no_grad():
            return loss_flatten_0_1(model, src, trg, pad_id)

    with torch.no_grad():
        verdict = exercise("teacher_forcing_loss").check(loss_under_no_grad)
    assert verdict.status == "wrong" and "no gradient" in verdict.message, verdict.message
