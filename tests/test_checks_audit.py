"""Wrong answers a learner really writes, outside the catalogues' own examples, and correct
answers written differently: each checker must name the first and pass the second.

Found by an audit of every checker; each wrong answer here was passed, left unnamed or
reported only by PyTorch's own error before its mistake was catalogued.
"""

import functools
import math

import pytest
import torch
import torch.nn.functional as F
from transformer_course import checks
from transformer_course.checks import WRONG
from transformer_course.checks.describe import describe_difference, same
from transformer_course.masks import causal_mask, padding_mask


def named(result, *words):
    """The check failed, and its message says each of ``words``."""
    assert result.status == WRONG and not result.passed, result
    for word in words:
        assert word in result.message, result.message


# --- Messages every checker shares ---


def test_none_says_the_return_is_missing():
    named(checks.check_softmax(lambda x: None), "returned None", "`return`")
    named(checks.check_attention(lambda x, w_q, w_k, w_v: None), "returned None")


def test_a_numpy_array_is_named():
    named(checks.check_softmax(lambda x: torch.softmax(x, -1).numpy()), "NumPy array", "torch")


def test_whole_numbers_where_fractions_are_expected_are_named():
    def rounded(length, d_model):
        return checks.exercise("sinusoidal_encoding").solution(length, d_model).long()

    named(checks.check_sinusoidal_encoding(rounded), "whole numbers", "torch.int64")


def test_a_mask_returned_instead_of_weights_is_named():
    def the_mask(scores, ids, pad_id):
        return torch.ones(ids.shape[1], ids.shape[1], dtype=torch.bool).tril() & (ids != pad_id)[:, None, :]

    named(checks.check_causal_masked_weights(the_mask), "True/False", "mask")


# --- 01 cosine similarity, 02 positions ---


def test_cosine_of_each_row_with_itself():
    named(checks.check_cosine_similarity(lambda v: F.cosine_similarity(v, v)), "each row with itself only")


def test_cosine_correct_alternatives():
    assert checks.check_cosine_similarity(
        lambda v: F.normalize(v.T, dim=0).T @ F.normalize(v.T, dim=0)
    ).passed
    eps = 1e-12
    assert checks.check_cosine_similarity(
        lambda v: (v / (v.norm(dim=1, keepdim=True) + eps)) @ (v / (v.norm(dim=1, keepdim=True) + eps)).T
    ).passed


def _table(length, d_model, exponent):
    pos = torch.arange(length).unsqueeze(1)
    angle = pos / 10000 ** exponent(torch.arange(0, d_model, 2), d_model)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


def test_positions_with_integer_division():
    named(checks.check_sinusoidal_encoding(lambda n, d: _table(n, d, lambda two_i, dm: two_i // dm)), "//")


@pytest.mark.parametrize(
    "exponent",
    [lambda two_i, dm: two_i / dm, lambda two_i, dm: (two_i // 2) / (dm // 2)],
    ids=["2i/d", "i/(d/2)"],
)
def test_positions_correct_alternatives(exponent):
    assert checks.check_sinusoidal_encoding(lambda n, d: _table(n, d, exponent)).passed


# --- 03 scores, 04 softmax and one head ---


def test_scores_element_wise():
    named(checks.check_attention_scores(lambda q, k: q * k), "entry by entry")


def test_scores_written_for_a_batch_only():
    named(checks.check_attention_scores(lambda q, k: torch.bmm(q, k.transpose(1, 2))), "Count from the end")
    named(checks.check_attention_scores(lambda q, k: torch.bmm(q, k.mT)), "Count from the end")


def test_scores_with_torch_mm():
    named(checks.check_attention_scores(lambda q, k: q.mm(k.transpose(-2, -1))), "torch.mm", "torch.matmul")


def test_softmax_returning_log_probabilities():
    named(checks.check_softmax(lambda x: F.log_softmax(x, dim=-1)), "LOG of the softmax")


def test_softmax_correct_alternatives():
    def by_max_indexing(x):
        e = torch.exp(x - x.max(dim=-1, keepdim=True)[0])
        return e / e.sum(dim=-1, keepdim=True)

    def in_place(x):
        x -= x.amax(dim=-1, keepdim=True)
        return x.exp_() / x.sum(dim=-1, keepdim=True)

    assert checks.check_softmax(by_max_indexing).passed
    assert checks.check_softmax(in_place).passed


def test_head_with_nn_linear_style_weights():
    def head(x, w_q, w_k, w_v):
        q, k, v = F.linear(x, w_q), F.linear(x, w_k), F.linear(x, w_v)  # x @ W.T
        weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
        return weights @ v, weights

    named(checks.check_attention(head), "no transpose")


def test_head_returning_the_scores():
    def head(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        scores = torch.einsum("qd,kd->qk", q, k) / q.shape[-1] ** 0.5
        return scores.softmax(-1) @ v, scores

    named(checks.check_attention(head), "the scores, before the softmax")


def test_head_with_keys_in_the_rows():
    def head(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        weights = F.softmax((k @ q.transpose(0, 1)) / math.sqrt(k.shape[1]), dim=1)
        return weights @ v, weights

    named(checks.check_attention(head), "Queries and keys are swapped")


# --- 05 multi-head attention ---


def _heads(x, w_q, w_k, w_v, w_o, h, *, weight=lambda w: w, d_head=None, merge="reshape", dim=-1, split=True):
    b, length, d_model = x.shape
    d = d_head(d_model, h) if d_head else d_model // h
    if not split:
        q, k, v = (x @ weight(w) for w in (w_q, w_k, w_v))
        return torch.softmax(q @ k.mT / math.sqrt(d), dim=dim) @ v @ weight(w_o)
    q, k, v = ((x @ weight(w)).view(b, length, h, d).transpose(1, 2) for w in (w_q, w_k, w_v))
    out = (torch.softmax(q @ k.mT / math.sqrt(d), dim=dim) @ v).transpose(1, 2)
    merged = out.view(b, length, d_model) if merge == "view" else out.reshape(b, length, d_model)
    return merged @ weight(w_o)


def test_multi_head_cases():
    check = checks.check_multi_head_attention
    assert check(_heads).passed
    named(check(lambda *a: _heads(*a, weight=lambda w: w.t())), "transposed weights")
    named(check(lambda *a: _heads(*a, d_head=lambda dm, h: dm / h)), "//")
    named(check(lambda *a: _heads(*a, merge="view")), ".reshape(B, L, D)")
    named(check(lambda *a: _heads(*a, dim=1)), "HEADS axis")
    named(check(lambda *a: _heads(*a, split=False)), "one wide head")
    named(check(lambda *a: _heads(*a, split=False, d_head=lambda dm, h: dm)), "one wide head")


def test_multi_head_with_pytorchs_module_passes():
    def with_pytorch(x, w_q, w_k, w_v, w_o, num_heads):
        mha = torch.nn.MultiheadAttention(x.shape[-1], num_heads, bias=False, batch_first=True)
        with torch.no_grad():
            mha.in_proj_weight.copy_(torch.cat([w_q.T, w_k.T, w_v.T]))
            mha.out_proj.weight.copy_(w_o.T)
        return mha(x, x, x, need_weights=False)[0]

    assert checks.check_multi_head_attention(with_pytorch).passed


# --- 06 masks ---


def _masked(scores, ids, pad_id, *, allowed=None, fill=float("-inf"), dim=-1, softmax=True):
    length = ids.shape[1]
    if allowed is None:
        allowed = torch.ones(length, length, dtype=torch.bool).tril() & (ids != pad_id).unsqueeze(1)
    masked = scores.masked_fill(~allowed, fill)
    return masked.softmax(dim=dim) if softmax else masked


def test_mask_mistakes_written_with_minus_1e9_are_named_too():
    def no_diagonal(scores, ids, pad_id):
        length = ids.shape[1]
        blocked = torch.triu(torch.ones(length, length), diagonal=0).bool() | (ids == pad_id)[:, None, :]
        return torch.softmax(scores.masked_fill(blocked, -1e9), dim=-1)

    named(checks.check_causal_masked_weights(no_diagonal), "The diagonal is masked too")

    def both_axes(scores, ids, pad_id):
        real = ids != pad_id
        allowed = torch.ones_like(scores).tril().bool() & real[:, None, :] & real[:, :, None]
        return _masked(scores, ids, pad_id, allowed=allowed, fill=-1e9)

    named(checks.check_causal_masked_weights(both_axes), "padded QUERIES (rows) as well")


def test_mask_causal_part_inverted():
    def hides_the_past(scores, ids, pad_id):
        length = ids.shape[1]
        allowed = torch.ones(length, length, dtype=torch.bool).triu(1) & (ids != pad_id)[:, None, :]
        return _masked(scores, ids, pad_id, allowed=allowed, fill=-1e9)

    named(checks.check_causal_masked_weights(hides_the_past), "causal mask is inverted")


def test_mask_softmax_over_the_queries_and_no_softmax():
    named(checks.check_causal_masked_weights(lambda s, i, p: _masked(s, i, p, dim=-2)), "QUERIES")
    named(
        checks.check_causal_masked_weights(lambda s, i, p: _masked(s, i, p, softmax=False)), "masked SCORES"
    )


def test_mask_errors_are_explained():
    def flat_padding(scores, ids, pad_id):
        length = ids.shape[1]
        scores = scores.masked_fill(~torch.ones(length, length, dtype=torch.bool).tril(), float("-inf"))
        return torch.softmax(torch.where(ids != pad_id, scores, float("-inf")), dim=-1)

    named(checks.check_causal_masked_weights(flat_padding), "(B, 1, L)", "does not line up")

    def float_mask(scores, ids, pad_id):
        blocked = torch.triu(torch.ones(ids.shape[1], ids.shape[1]), diagonal=1)  # 0.0 / 1.0
        return torch.softmax(scores.masked_fill(blocked, float("-inf")), dim=-1)

    named(checks.check_causal_masked_weights(float_mask), "must be bool")

    def inverted_float(scores, ids, pad_id):
        allowed = torch.tril(torch.ones(ids.shape[1], ids.shape[1]))  # 1.0 / 0.0, then ~
        return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)

    named(checks.check_causal_masked_weights(inverted_float), "must be bool")

    def four_d(scores, ids, pad_id):  # chapter 06's padding mask for multi-head scores
        length = ids.shape[1]
        allowed = torch.ones(length, length, dtype=torch.bool).tril() & (ids != pad_id)[:, None, None, :]
        return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)

    named(checks.check_causal_masked_weights(four_d), "(B, 1, 1, L)", "unsqueeze(1)")


@pytest.mark.parametrize("fill", [-1e4, torch.finfo(torch.float32).min])
def test_mask_other_large_negative_fills_pass(fill):
    assert checks.check_causal_masked_weights(lambda s, i, p: _masked(s, i, p, fill=fill)).passed


def test_mask_as_a_log_of_zeros_and_ones_passes():
    def log_mask(scores, ids, pad_id):
        allowed = torch.ones(ids.shape[1], ids.shape[1]).tril() * (ids != pad_id)[:, None, :]
        return torch.softmax(scores + allowed.log(), dim=-1)  # log 0 = -inf

    assert checks.check_causal_masked_weights(log_mask).passed


# --- 07 feed-forward, Add & Norm, layers, the whole forward ---


@pytest.mark.parametrize("act", [torch.sigmoid, F.silu, lambda h: F.gelu(h, approximate="tanh")])
def test_feed_forward_with_another_activation(act):
    named(checks.check_feed_forward(lambda x, w_1, b_1, w_2, b_2: act(x @ w_1 + b_1) @ w_2 + b_2), "ReLU")


def test_feed_forward_with_the_biases_swapped():
    def swapped(x, w_1, b_1, w_2, b_2):
        return F.relu(torch.addmm(b_2, x.reshape(-1, x.shape[-1]), w_1)) @ w_2 + b_1

    named(checks.check_feed_forward(swapped), "b_1 has d_ff entries")


def test_feed_forward_with_maximum_passes():
    assert checks.check_feed_forward(
        lambda x, w_1, b_1, w_2, b_2: torch.maximum(x @ w_1 + b_1, torch.tensor(0.0)) @ w_2 + b_2
    ).passed


def _add_norm_with(norm):
    def add_norm(block, x, sublayer):
        if block.norm_first:
            return x + block.dropout(sublayer(norm(block, x)))
        return norm(block, x + block.dropout(sublayer(x)))

    return add_norm


def test_add_norm_with_a_norm_over_the_wrong_axes():
    named(
        checks.check_add_norm(_add_norm_with(lambda block, h: F.layer_norm(h, h.shape))),
        "more than the last axis",
    )


def test_add_norm_with_std():
    def norm(block, h):
        ln = block.norm
        return (
            ln.weight * (h - h.mean(-1, keepdim=True)) / torch.sqrt(h.var(-1, keepdim=True) + ln.eps)
            + ln.bias
        )

    named(checks.check_add_norm(_add_norm_with(norm)), "d - 1")


def test_add_norm_by_hand_passes():
    def norm(block, h):
        ln = block.norm
        var = h.var(-1, keepdim=True, unbiased=False)
        return ln.weight * (h - h.mean(-1, keepdim=True)) / torch.sqrt(var + ln.eps) + ln.bias

    assert checks.check_add_norm(_add_norm_with(norm)).passed


def _decoder(mask):
    def forward(layer, x, memory):
        x = layer.norm1(x + layer.self_attn(x, mask=mask(x.shape[1]))[0])
        x = layer.norm2(x + layer.cross_attn(x, memory, memory)[0])
        return layer.norm3(x + layer.feed_forward(x))

    return forward


def test_decoder_causal_masks_off_by_one_or_inverted():
    ones = lambda n: torch.ones(n, n, dtype=torch.bool)  # noqa: E731
    named(checks.check_decoder_layer(_decoder(lambda n: ones(n).tril(diagonal=-1))), "hides the diagonal")
    named(checks.check_decoder_layer(_decoder(lambda n: ones(n).tril(diagonal=1))), "NEXT one too")
    named(checks.check_decoder_layer(_decoder(lambda n: ones(n).triu(diagonal=1))), "PyTorch's convention")
    assert checks.check_decoder_layer(_decoder(lambda n: ~ones(n).triu(diagonal=1))).passed


def test_forward_adding_every_position():
    def forward(parts, src, trg_in):
        d = parts.embedding.embedding_dim
        src_mask = padding_mask(src, parts.pad_id)
        memory = parts.encoder(parts.embedding(src) * d**0.5 + parts.positions, src_mask)
        trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
        y = parts.embedding(trg_in) * d**0.5 + parts.positions
        return parts.output(parts.decoder(y, memory, trg_mask, src_mask))

    named(checks.check_encoder_decoder_forward(forward), "parts.positions[: ids.shape[1]]")


# --- 08 loss, training step, greedy decoding, sampling ---


def test_loss_reading_what_it_scores():
    def loss(model, src, trg, pad_id):
        logits = model(src, trg[:, 1:])
        return F.cross_entropy(logits.transpose(1, 2), trg[:, 1:], ignore_index=pad_id)

    named(checks.check_teacher_forcing_loss(loss), "Feed trg[:, :-1]")


def test_loss_averaged_over_the_padding_too():
    def loss(model, src, trg, pad_id):
        logits = model(src, trg[:, :-1])
        labels = trg[:, 1:]
        picked = logits.log_softmax(-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        return -(picked * (labels != pad_id)).mean()

    named(checks.check_teacher_forcing_loss(loss), "padding included")


def test_loss_with_view_on_a_slice():
    def loss(model, src, trg, pad_id):
        logits = model(src, trg[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1), trg[:, 1:].view(-1), ignore_index=pad_id)

    named(checks.check_teacher_forcing_loss(loss), ".reshape(-1)")


def test_loss_that_fails_when_called_again_is_an_error_not_a_traceback():
    calls = []

    def loss(model, src, trg, pad_id):  # right the first three times, then it breaks
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("out of budget")
        return F.cross_entropy(model(src, trg[:, :-1]).transpose(1, 2), trg[:, 1:], ignore_index=pad_id)

    result = checks.check_teacher_forcing_loss(loss)
    assert result.status == checks.ERROR
    assert "called again" in result.message and "out of budget" in result.message


def test_a_sampler_with_the_softmax_down_the_batch_is_named():
    def sample(logits, temperature, top_k):  # softmax down the batch, not over the vocabulary
        return torch.multinomial(torch.softmax(logits / temperature, dim=0), 1).view(-1)

    result = checks.check_sample_next_token(sample)
    assert result.status == WRONG, result
    assert "softmax ran down the BATCH (dim=0)" in result.message
    assert "torch.softmax(logits, dim=-1)" in result.message


def test_train_step_with_an_optimiser_of_its_own():
    def step(model, optimiser, loss_fn, batch):
        adam = torch.optim.Adam(model.parameters(), lr=0.05)
        adam.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward()
        adam.step()
        return loss.item()

    named(checks.check_train_step(step), "not through the optimiser you were given")

    def by_hand(model, optimiser, loss_fn, batch):
        model.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        return loss.item()

    named(checks.check_train_step(by_hand), "not through the optimiser you were given")


def test_train_step_with_retain_graph_passes():
    def step(model, optimiser, loss_fn, batch):
        optimiser.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward(retain_graph=True)
        optimiser.step()
        return loss.item()

    assert checks.check_train_step(step).passed


def _greedy(steps=lambda n: range(n), dtype=None):
    def decode(logits_fn, prompt, max_new_tokens, eos_id):
        ids = prompt.clone() if dtype is None else prompt.to(dtype)
        for _ in steps(max_new_tokens):
            token = logits_fn(ids.long().unsqueeze(0))[0, -1].topk(1).indices
            ids = torch.cat([ids, token.to(ids.dtype)])
            if token.item() == eos_id:
                break
        return ids

    return decode


def test_greedy_off_by_one_and_float_ids():
    named(checks.check_greedy_decode(_greedy(lambda n: range(1, n))), "one token short")
    named(checks.check_greedy_decode(_greedy(lambda n: range(n + 1))), "one token past the limit")
    named(checks.check_greedy_decode(_greedy(dtype=torch.float32)), "floats")
    assert checks.check_greedy_decode(_greedy()).passed


def _sampler(keep_axis=True, handle_none=True, uniform=False):
    def sample(logits, temperature, top_k):
        logits = logits / temperature
        if top_k is not None or not handle_none:
            top = torch.topk(logits, top_k, dim=-1)
            if uniform:
                pick = torch.randint(top_k, (logits.shape[0], 1))
                return top.indices.gather(1, pick).squeeze(1)
            kth = top.values[:, -1:] if keep_axis else top.values[:, -1]
            logits = torch.where(logits >= kth, logits, -math.inf)
        return torch.distributions.Categorical(probs=logits.softmax(-1)).sample()

    return sample


def test_sampling_mistakes():
    named(checks.check_sample_next_token(_sampler(keep_axis=False)), "(B, 1)")
    named(checks.check_sample_next_token(_sampler(handle_none=False)), "if top_k is not None")
    named(checks.check_sample_next_token(_sampler(uniform=True)), "uniformly")
    assert checks.check_sample_next_token(_sampler()).passed


def test_sampling_top_k_on_the_probabilities_passes():
    def sample(logits, temperature, top_k):
        probs = torch.softmax(logits / temperature, dim=-1)
        if top_k is not None:
            probs = probs * (probs >= probs.topk(top_k, dim=-1).values[:, -1:])  # multinomial renormalises
        return torch.multinomial(probs, 1).view(-1)

    assert checks.check_sample_next_token(sample).passed


# --- 09 one step with a KV cache ---


def _cached(q, k_new, v_new, past_k, past_v, *, test_bool=False, swap=False, duplicate_first=False):
    empty = (not past_k) if test_bool else past_k is None
    if empty:
        keys, values = (
            (k_new, v_new) if not duplicate_first else (k_new.repeat(1, 1, 2, 1), v_new.repeat(1, 1, 2, 1))
        )
    else:
        keys, values = torch.cat([past_k, k_new], dim=-2), torch.cat([past_v, v_new], dim=-2)
    out = torch.softmax(q @ keys.mT / q.shape[-1] ** 0.5, dim=-1) @ values
    return (out, values, keys) if swap else (out, keys, values)


def test_cached_step_mistakes():
    check = checks.check_cached_attention_step
    assert check(_cached).passed
    named(check(lambda *a: _cached(*a, test_bool=True)), "past_k is None")
    named(check(lambda *a: _cached(*a, swap=True)), "(out, keys, values)")


def test_cached_step_first_token_twice_is_not_called_new_token_only():
    result = checks.check_cached_attention_step(lambda *a: _cached(*a, duplicate_first=True))
    named(result, "input #4", "the keys (item 1) differs")
    assert "Your output is v_new" not in result.message


def test_an_activation_capped_at_6_is_not_relu():
    def ffn(x, w_1, b_1, w_2, b_2, act=F.relu):
        return act(x @ w_1 + b_1) @ w_2 + b_2

    assert checks.exercise("feed_forward").check(ffn).passed
    capped = checks.exercise("feed_forward").check(lambda *a: ffn(*a, act=F.relu6))
    assert capped.status == WRONG, capped.message


# --- Ids and masks must keep their kind ---


def _as_floats(value):
    """value with every integer or bool tensor in it made float (tuples and lists too)."""
    if isinstance(value, torch.Tensor) and not value.is_floating_point():
        return value.float()
    if isinstance(value, tuple | list):
        return type(value)(_as_floats(v) for v in value)
    return value


@pytest.mark.parametrize("exercise", checks.EXERCISES, ids=lambda ex: ex.name)
def test_an_answer_of_integers_or_bools_given_as_floats_never_passes(exercise):
    """Whatever the checker, the solution with its ids or masks turned into floats (the same
    numbers) must fail; one that returns only floats must still pass so wrapped."""
    solution = exercise.solution
    if not callable(solution) or isinstance(solution, type):
        pytest.skip("the answer is a class")
    returned = []

    @functools.wraps(solution)
    def floats(*args, **kwargs):
        out = solution(*args, **kwargs)
        returned.append(out)
        return _as_floats(out)

    result = exercise.check(floats)
    kinds = {o.dtype for out in returned for o in (out if isinstance(out, tuple | list) else (out,))
             if isinstance(o, torch.Tensor)}  # fmt: skip
    if kinds <= {torch.float32, torch.float64}:
        assert result.passed, result
    else:
        assert result.status == WRONG, result


def test_the_harness_names_a_wrong_kind_and_says_whether_the_values_were_right():
    ids = torch.tensor([3, 1, 2])
    assert not same(ids.float(), ids)
    assert "integer tensor" in describe_difference(ids.float(), ids)
    assert "the right values" in describe_difference(ids.float(), ids)
    assert "not the right values" in describe_difference(ids.float() + 0.5, ids)
    mask = torch.tensor([[True, False], [True, True]])
    assert not same(mask.float(), mask) and not same(mask.long(), mask)
    assert "True/False (torch.bool)" in describe_difference(mask.float(), mask)
    assert "1/0 in the right places" in describe_difference(mask.long(), mask)
    assert same(ids.int(), ids)  # any integer dtype is an integer answer
    assert same(torch.tensor([0.5, 1.0], dtype=torch.float64), torch.tensor([0.5, 1.0]))


# --- The nucleus of top-p (09) ---


def _nucleus_in_logit_space(probs, top_p):
    """Drop in log space, then a softmax renormalises: another right way."""
    ranked, order = probs.sort(dim=-1, descending=True)
    drop = (ranked.cumsum(-1) - ranked >= top_p).scatter(-1, order, ranked.cumsum(-1) - ranked >= top_p)
    return torch.softmax(probs.log().masked_fill(drop, float("-inf")), dim=-1)


def _nucleus_in_place(probs, top_p):
    """Zeroes the learner's own input in place: the checker gives every call a fresh copy."""
    ranked, order = probs.sort(dim=-1, descending=True)
    for b in range(probs.shape[0]):
        above = 0.0
        for p, i in zip(ranked[b].tolist(), order[b].tolist()):
            if above >= top_p:
                probs[b, i] = 0.0
            above += p
    probs /= probs.sum(dim=-1, keepdim=True)
    return probs


@pytest.mark.parametrize("fn", [_nucleus_in_logit_space, _nucleus_in_place])
def test_other_right_ways_to_the_nucleus_pass(fn):
    result = checks.check_keep_top_p(fn)
    assert result.passed, result


def test_the_nucleus_keeps_the_crossing_token_and_stops_at_exactly_p():
    """The checker's edge cases, worked by hand: the token that carries the sum past p stays
    (0.7 alone, p = 0.5), and a token whose betters hold exactly p goes (0.5 + 0.25 = 0.75)."""
    solution = checks.exercise("keep_top_p").solution
    one = solution(torch.tensor([[0.1, 0.7, 0.2]]), 0.5)
    assert torch.equal(one, torch.tensor([[0.0, 1.0, 0.0]]))
    exact = solution(torch.tensor([[0.0625, 0.5, 0.1875, 0.25]]), 0.75)
    assert torch.allclose(exact, torch.tensor([[0.0, 2 / 3, 0.0, 1 / 3]]))

    def cumulative_below(probs, top_p):  # "keep while the total is under p": drops the 0.7
        ranked, order = probs.sort(dim=-1, descending=True)
        ranked = ranked * (ranked.cumsum(-1) < top_p)
        kept = torch.zeros_like(probs).scatter(-1, order, ranked)
        return kept / kept.sum(-1, keepdim=True)

    named(checks.check_keep_top_p(cumulative_below), "one token short")


# --- odd returns and exits, any checker ---


@pytest.mark.parametrize(
    "returns, says",
    [
        (lambda x: torch.softmax(x, -1).to_sparse(), "dense"),
        (lambda x: torch.empty_like(x, device="meta"), "'meta' device"),
        (lambda x: torch.softmax(x, -1).to(torch.complex64), "complex"),
        (lambda x: list(torch.softmax(x, -1)), "torch.stack(pieces)"),
    ],
)
def test_odd_returns_are_named_not_a_traceback(returns, says):
    result = checks.check_softmax(returns)
    assert result.status == WRONG and says in result.message, result


def test_exit_in_a_learner_function_is_a_verdict():
    import sys

    result = checks.check_softmax(lambda x: sys.exit())
    assert result.status == checks.ERROR and "exit()" in result.message


def test_heads_returned_as_a_list_are_told_to_concatenate():
    def heads(x, w_q, w_k, w_v, w_o, num_heads):
        b, length, d = x.shape
        d_head = d // num_heads
        out = []
        for i in range(num_heads):
            cut = slice(i * d_head, (i + 1) * d_head)
            q, k, v = x @ w_q[:, cut], x @ w_k[:, cut], x @ w_v[:, cut]
            out.append(torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_head), -1) @ v)
        return out

    result = checks.check_multi_head_attention(heads)
    assert result.status == WRONG and "torch.cat(pieces, dim=-1)" in result.message, result


def test_multi_head_with_the_notebooks_d_head_is_named():
    def mha(x, w_q, w_k, w_v, w_o, num_heads):
        b, length, d_model = x.shape
        d_head = 4  # chapter 05's own
        q, k, v = ((x @ w).view(b, length, num_heads, d_head).transpose(1, 2) for w in (w_q, w_k, w_v))
        out = torch.softmax(q @ k.transpose(-2, -1) / 2, dim=-1) @ v  # √4, written in
        return out.transpose(1, 2).reshape(b, length, d_model) @ w_o

    named(checks.check_multi_head_attention(mha), "take every size from the arguments")


def test_layer_norm_expanding_the_variance_is_told_about_float32():
    def norm(x, weight, bias, eps):
        mean = x.mean(-1, keepdim=True)
        var = (x**2).mean(-1, keepdim=True) - mean**2
        return (x - mean) / torch.sqrt(var + eps) * weight + bias

    named(checks.check_layer_norm(norm), "E[x²] − mean²", "float32")
    assert checks.check_layer_norm(lambda x, w, b, eps: norm(x.double(), w, b, eps).float()).passed


def test_encoder_decoder_with_pad_id_zero_written_in_is_named():
    from dataclasses import replace

    from transformer_course.checks import exercise

    solution = exercise("encoder_decoder_forward").solution
    wrong = lambda parts, src, trg_in: solution(replace(parts, pad_id=0), src, trg_in)  # noqa: E731
    named(checks.check_encoder_decoder_forward(wrong), "parts.pad_id")


def test_sinusoid_multiplied_in_float32_is_still_named():
    def table(length, d_model):  # the exp form with its minus sign lost, in float32
        pos = torch.arange(length).float()[:, None]
        angle = pos * torch.exp(torch.arange(0, d_model, 2).float() * math.log(10000) / d_model)
        pe = torch.zeros(length, d_model)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
        return pe

    named(checks.check_sinusoidal_encoding(table), "divide by it")


def test_layer_norm_with_eps_after_the_division_is_not_told_eps_is_missing_only():
    def norm(x, weight, bias, eps):
        mean = x.mean(-1, keepdim=True)
        std = ((x - mean) ** 2).mean(-1, keepdim=True).sqrt()
        return ((x - mean) / std + eps) * weight + bias

    named(checks.check_layer_norm(norm), "added after the division", "inside the root")


@pytest.mark.parametrize(
    "scores",
    [lambda q, k: q @ k.permute(0, 2, 1), lambda q, k: torch.einsum("bqd,bkd->bqk", q, k)],
    ids=["permute(0, 2, 1)", "einsum with a batch letter"],
)
def test_batch_only_scores_on_one_sentence_are_named(scores):
    named(checks.check_attention_scores(scores), "counts dimensions from the front", "einsum")


def test_scores_with_k_reshaped_are_told_reshape_is_not_a_transpose():
    def scores(q, k):
        return q @ k.reshape(*k.shape[:-2], k.shape[-1], k.shape[-2])

    named(checks.check_attention_scores(scores), "is not a transpose")


def test_masked_weights_returned_with_their_mask_are_told_to_return_the_weights():
    solution = checks.exercise("causal_masked_weights").solution

    def pair(scores, ids, pad_id):
        return solution(scores, ids, pad_id), ids != pad_id

    result = checks.check_causal_masked_weights(pair)
    assert result.status == WRONG and "its item 0 is the right answer" in result.message, result


def test_multi_head_with_w_o_before_the_merge_is_named():
    def mha(x, w_q, w_k, w_v, w_o, num_heads):
        b, length, d_model = x.shape
        d_head = d_model // num_heads
        q, k, v = ((x @ w).view(b, length, num_heads, d_head).transpose(1, 2) for w in (w_q, w_k, w_v))
        heads = torch.softmax(q @ k.transpose(-2, -1) / d_head**0.5, dim=-1) @ v
        return (heads @ w_o).transpose(1, 2).reshape(b, length, d_model)

    named(checks.check_multi_head_attention(mha), "Merge first")


def test_greedy_decode_feeding_float_ids_is_told_to_keep_them_long():
    def decode(logits_fn, prompt, max_new_tokens, eos_id):
        ids = prompt.float()
        for _ in range(max_new_tokens):
            token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()
            ids = torch.cat([ids, token.view(1).float()])
            if int(token) == eos_id:
                break
        return ids.long()

    result = checks.check_greedy_decode(decode)
    assert result.status == checks.ERROR and "ids as integers (torch.long)" in result.message, result
