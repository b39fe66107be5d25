"""A sixth audit of the checkers, chapters 01, 02, 04, 05, 06 and 09: wrong answers that used to
get a generic message, a bare error or a misleading hint, results the comparison could not read,
and right answers written another way.

Each wrong answer is written here the way a learner writes it, apart from the catalogue's own
``example``, so a test fails if the checker stops recognising it; each right one must pass.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course import checks
from transformer_course.checks import PASSED, WRONG, exercise


def says(result, *words):
    """The check failed (never passed, never crashed) and its message holds every phrase."""
    assert result.status == WRONG, result
    for word in words:
        assert word in result.message, result.message


def _rows(v):
    return v / v.norm(dim=1, keepdim=True)


# --- 01 cosine similarity: |a|·|b| written as lengths * lengths ---


def test_cosine_with_the_lengths_multiplied_by_themselves():
    def by_rows(vectors):
        lengths = vectors.norm(dim=1, keepdim=True)  # (T, 1) * (T, 1): |a|², not |a|·|b|
        return vectors @ vectors.T / (lengths * lengths)

    def by_columns(vectors):
        lengths = torch.linalg.norm(vectors, dim=-1)  # (T,) * (T,): |b|²
        return torch.matmul(vectors, vectors.t()) / (lengths * lengths)

    for fn in (by_rows, by_columns):
        says(checks.check_cosine_similarity(fn), "length squared", "lengths * lengths.T")


# --- 04 softmax: the max subtracted on one side of the fraction only ---


def test_softmax_shifted_above_or_below_only():
    def numerator(scores):
        m = torch.max(scores, dim=-1, keepdim=True)[0]
        return torch.exp(scores - m) / torch.sum(torch.exp(scores), dim=-1, keepdim=True)

    def denominator(scores):
        shifted = scores - scores.amax(dim=-1, keepdim=True)
        return scores.exp() / shifted.exp().sum(dim=-1, keepdim=True)

    for fn in (numerator, denominator):
        says(checks.check_softmax(fn), "one side of the fraction")


# --- 05 multi-head attention: a 4-D tensor with heads and tokens the other way round ---


def _mha(x, w_q, w_k, w_v, w_o, num_heads, *, keys_t, split_v=True):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q = (x @ w_q).view(b, length, num_heads, d_head).transpose(1, 2)
    k = (x @ w_k).view(b, length, num_heads, d_head).transpose(1, 2)
    v = (x @ w_v).view(b, length, num_heads, d_head)
    v = v.transpose(1, 2) if split_v else v
    weights = F.softmax(q @ keys_t(k) / math.sqrt(d_head), dim=-1)
    return (weights @ v).transpose(1, 2).reshape(b, length, d_model) @ w_o


@pytest.mark.filterwarnings("ignore::UserWarning")  # k.T on a 4-D tensor is deprecated
@pytest.mark.parametrize(
    ("keys_t", "split_v"),
    [
        (lambda k: k.transpose(1, 2), True),  # right for 3-D keys (B, L, d)
        (lambda k: k.T, True),
        (lambda k: k.transpose(-2, -1), False),  # v split but never transposed
    ],
    ids=["k.transpose(1, 2)", "k.T", "v not transposed"],
)
def test_multi_head_with_heads_against_tokens(keys_t, split_v):
    def fn(x, w_q, w_k, w_v, w_o, num_heads):
        return _mha(x, w_q, w_k, w_v, w_o, num_heads, keys_t=keys_t, split_v=split_v)

    says(checks.check_multi_head_attention(fn), "heads' axis", "k.transpose(-2, -1)")


# --- 06 masks: one mask after the softmax; a mask added to the scores ---


def _allowed(ids, pad_id):
    length = ids.shape[1]
    return torch.tril(torch.ones(length, length, dtype=torch.bool)) & (ids != pad_id)[:, None, :]


def test_mask_with_the_padding_after_the_softmax():
    def fn(scores, ids, pad_id):
        length = ids.size(1)
        future = torch.ones(length, length).triu(1).bool()
        weights = F.softmax(scores.masked_fill(future, -1e9), dim=-1)
        return weights * (ids != pad_id).float().unsqueeze(1)

    says(checks.check_causal_masked_weights(fn), "after the softmax", "no longer sums to 1")


def test_mask_with_the_causal_part_after_the_softmax():
    def fn(scores, ids, pad_id):
        weights = torch.softmax(scores.masked_fill((ids == pad_id)[:, None, :], float("-inf")), dim=-1)
        return torch.tril(weights)

    says(checks.check_causal_masked_weights(fn), "after the softmax")


@pytest.mark.parametrize("blocked", [False, True])
def test_mask_added_to_the_scores(blocked):
    def fn(scores, ids, pad_id):
        allowed = _allowed(ids, pad_id)
        return torch.softmax(scores + (~allowed if blocked else allowed).float(), dim=-1)

    says(checks.check_causal_masked_weights(fn), "added a True/False mask", "masked_fill")


# --- Any exercise: more outputs than asked, a transposed result, results no comparison reads ---


def test_extra_items_after_the_right_ones_are_named():
    def attention(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        scores = q @ k.T / math.sqrt(q.shape[-1])
        weights = torch.softmax(scores, dim=-1)
        return weights @ v, weights, scores

    says(checks.check_attention(attention), "got a tuple of 3", "first 2 items are the right answer")

    def step(q, k_new, v_new, past_k, past_v):
        keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
        values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
        weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
        return weights @ values, keys, values, weights

    says(checks.check_cached_attention_step(step), "first 3 items are the right answer")


def test_a_wrong_tuple_of_more_items_is_not_called_right():
    def attention(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        weights = torch.softmax(q @ k.T, dim=-1)  # not scaled
        return weights @ v, weights, q

    result = checks.check_attention(attention)
    assert result.status == WRONG and "right answer" not in result.message, result


def test_encoding_with_its_parameters_swapped():
    def sinusoidal_encoding(d_model, length):  # the starter's order is (length, d_model)
        pos = torch.arange(length).float().unsqueeze(1)
        angle = pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)
        return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)

    says(checks.check_sinusoidal_encoding(sinusoidal_encoding), "other way round", "transposed")


def test_a_nested_tensor_is_a_verdict_not_a_crash():
    def fn(scores):
        rows = [torch.softmax(row, dim=-1) for row in scores.reshape(-1, scores.shape[-1])]
        return torch.nested.nested_tensor(rows)

    with pytest.warns(UserWarning):  # PyTorch's: nested tensors are a prototype
        says(checks.check_softmax(fn), "nested")


@pytest.mark.parametrize("name", ["multi_head_attention", "gpt_forward"])
@pytest.mark.parametrize(("how", "words"), [("sparse", "to_dense"), ("meta", "'meta' device")])
def test_a_result_no_comparison_reads_is_not_called_random(name, how, words):
    solution = exercise(name).solution

    def fn(*args):
        out = solution(*args).detach()
        return out.to_sparse() if how == "sparse" else torch.empty(out.shape, device="meta")

    result = exercise(name).check(fn)
    says(result, words)
    assert "random" not in result.message, result.message


# --- Right answers written another way ---


def _cosine_by_outer_lengths(v):
    lengths = v.norm(dim=1)
    return (v @ v.T) / torch.outer(lengths, lengths)


def _cosine_by_rsqrt(v):
    unit = v * torch.rsqrt((v * v).sum(-1, keepdim=True))
    return torch.einsum("id,jd->ij", unit, unit)


def _cosine_in_numpy(v):
    a = v.double().numpy()
    unit = a / np.linalg.norm(a, axis=1, keepdims=True)
    return torch.from_numpy(unit @ unit.T)


def _encoding_with_where(length, d_model):
    pos = torch.arange(length).unsqueeze(1)
    i = torch.arange(d_model).unsqueeze(0)
    angle = pos / torch.pow(10000, (2 * (i // 2)) / d_model)
    return torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle)).float()


def _encoding_in_numpy(length, d_model):
    pos, i = np.arange(length)[:, None], np.arange(d_model)[None, :]
    angle = pos / np.power(10000, (2 * (i // 2)) / np.float32(d_model))
    angle[:, 0::2], angle[:, 1::2] = np.sin(angle[:, 0::2]), np.cos(angle[:, 1::2])
    return torch.tensor(angle, dtype=torch.float32)


def _softmax_changing_its_input(scores):
    scores -= scores.max(dim=-1, keepdim=True).values
    scores.exp_()
    scores /= scores.sum(-1, keepdim=True)
    return scores


def _softmax_row_by_row(scores):
    out = torch.empty_like(scores)
    flat, rows = scores.reshape(-1, scores.shape[-1]), out.view(-1, scores.shape[-1])
    for i in range(flat.shape[0]):
        e = torch.exp(flat[i] - flat[i].max())
        rows[i] = e / e.sum()
    return out


def _attention_with_a_tensor_sqrt(x, w_q, w_k, w_v):
    q, k, v = torch.matmul(x, w_q), torch.matmul(x, w_k), torch.matmul(x, w_v)
    scale = torch.sqrt(torch.tensor(k.size(-1), dtype=torch.float32))
    weights = torch.softmax(torch.matmul(q, k.transpose(0, 1)) / scale, -1)
    return torch.matmul(weights, v), weights


def _attention_through_f_linear(x, w_q, w_k, w_v):
    q, k, v = F.linear(x, w_q.T), F.linear(x, w_k.T), F.linear(x, w_v.T)
    weights = torch.softmax((q * q.shape[-1] ** -0.5) @ k.T, dim=-1)
    return [weights @ v, weights]


def _mha_by_chunks(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (torch.stack((x @ w).chunk(num_heads, dim=-1), dim=1) for w in (w_q, w_k, w_v))
    weights = torch.softmax(q @ k.mT / torch.sqrt(torch.tensor(float(q.size(-1)))), dim=-1)
    return torch.cat((weights @ v).unbind(1), dim=-1) @ w_o


def _mha_through_nn_module(x, w_q, w_k, w_v, w_o, num_heads):
    d_model = x.shape[-1]
    mha = nn.MultiheadAttention(d_model, num_heads, bias=False, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([w_q.T, w_k.T, w_v.T]))
        mha.out_proj.weight.copy_(w_o.T)
    return mha(x, x, x, need_weights=False)[0]


def _mha_summed_over_heads(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model // num_heads

    def per_head(w):  # (D, D) → (h, D, d_head): each head's own columns
        return w.view(d_model, num_heads, d_head).permute(1, 0, 2)

    q, k, v = (x[:, None] @ per_head(w) for w in (w_q, w_k, w_v))
    weights = torch.softmax(q @ k.transpose(-2, -1) / d_head**0.5, dim=-1)
    return ((weights @ v) @ w_o.view(num_heads, d_head, d_model)).sum(dim=1)


def _mask_with_finfo_min(scores, ids, pad_id):
    return F.softmax(scores.masked_fill(~_allowed(ids, pad_id), torch.finfo(scores.dtype).min), dim=-1)


def _mask_added_as_log(scores, ids, pad_id):
    return torch.softmax(scores + torch.log(_allowed(ids, pad_id).float()), dim=-1)


def _mask_per_story_filled_in_place(scores, ids, pad_id):
    out = []
    for b in range(ids.shape[0]):
        i = torch.arange(ids.shape[1])
        allowed = (i[None, :] <= i[:, None]) & (ids[b] != pad_id)
        out.append(scores[b].masked_fill_(~allowed, -1e9).softmax(-1))
    return torch.stack(out)


def _gpt_with_a_mask_keyword(parts, ids):
    _, length = ids.size()
    d_model = parts.token.weight.size(1)
    where = torch.arange(0, length, dtype=torch.long, device=ids.device).unsqueeze(0)
    x = parts.token(ids) * d_model**0.5 + parts.positions(where)
    sees = ~torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)
    for block in parts.blocks:
        x = block(x, mask=sees[None, None])
    return F.linear(parts.norm(x), parts.token.weight)


def _gpt_story_by_story(parts, ids):
    logits = []
    for story in ids:
        length = story.shape[0]
        x = parts.token.weight[story] * math.sqrt(parts.token.embedding_dim) + parts.positions.weight[:length]
        x = x.unsqueeze(0)
        for block in parts.blocks:
            x = block(x, torch.ones(length, length).tril() == 1)
        logits.append(torch.einsum("ld,vd->lv", parts.norm(x)[0], parts.token.weight))
    return torch.stack(logits)


def _nucleus_by_searchsorted(probs, top_p):
    ranked, order = probs.sort(-1, descending=True)
    last = torch.searchsorted(ranked.cumsum(-1), torch.full((probs.shape[0], 1), top_p))
    kept = ranked * (torch.arange(probs.shape[-1])[None] <= last)
    kept = torch.zeros_like(probs).scatter(-1, order, kept)
    return kept / kept.sum(-1, keepdim=True)


def _nucleus_renormalised_before_unsorting(probs, top_p):
    ranked, order = probs.sort(-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(-1) - ranked >= top_p, 0)
    return (ranked / ranked.sum(-1, keepdim=True)).gather(-1, order.argsort(-1))


def _step_with_broadcast_products(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        past_k, past_v = k_new[:, :, :0], v_new[:, :, :0]
    keys, values = torch.cat([past_k, k_new], -2), torch.cat([past_v, v_new], -2)
    scores = (q * keys).sum(-1, keepdim=True).transpose(-1, -2) / math.sqrt(q.shape[-1])
    return scores.softmax(-1) @ values, keys, values


def _step_head_by_head(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], 2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], 2)
    out = torch.empty_like(q)
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            weights = torch.softmax(q[b, h] @ keys[b, h].T / math.sqrt(q.shape[-1]), -1)
            out[b, h] = weights @ values[b, h]
    return out, keys, values


def _sampler_from_the_top_k(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is None:
        return torch.multinomial(F.softmax(logits, -1), 1).squeeze(-1)
    values, indices = torch.topk(logits, top_k)
    return indices.gather(-1, torch.multinomial(F.softmax(values, -1), 1)).squeeze(-1)


RIGHT = [
    ("cosine_similarity", _cosine_by_outer_lengths),
    ("cosine_similarity", _cosine_by_rsqrt),
    ("cosine_similarity", _cosine_in_numpy),
    ("sinusoidal_encoding", _encoding_with_where),
    ("sinusoidal_encoding", _encoding_in_numpy),
    ("softmax", _softmax_changing_its_input),
    ("softmax", _softmax_row_by_row),
    ("attention", _attention_with_a_tensor_sqrt),
    ("attention", _attention_through_f_linear),
    ("multi_head_attention", _mha_by_chunks),
    ("multi_head_attention", _mha_through_nn_module),
    ("multi_head_attention", _mha_summed_over_heads),
    ("causal_masked_weights", _mask_with_finfo_min),
    ("causal_masked_weights", _mask_added_as_log),
    ("causal_masked_weights", _mask_per_story_filled_in_place),
    ("gpt_forward", _gpt_with_a_mask_keyword),
    ("gpt_forward", _gpt_story_by_story),
    ("keep_top_p", _nucleus_by_searchsorted),
    ("keep_top_p", _nucleus_renormalised_before_unsorting),
    ("cached_attention_step", _step_with_broadcast_products),
    ("cached_attention_step", _step_head_by_head),
    ("sample_next_token", _sampler_from_the_top_k),
]


@pytest.mark.parametrize(("name", "fn"), RIGHT, ids=[f"{n}: {f.__name__}" for n, f in RIGHT])
def test_a_right_answer_written_another_way_passes(name, fn):
    result = exercise(name).check(fn)
    assert result.status == PASSED, result.message
