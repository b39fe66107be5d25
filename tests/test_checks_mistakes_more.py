"""More realistic wrong answers, and right answers written another way, for every checker.

A third audit: each wrong answer below used to get a generic message ("differs at index …",
a bare shape, or a misleading "draws at random"); now its message names the mistake. Each is
written here the way a learner writes it, apart from the catalogue's own ``example``, so a
test fails if the checker stops recognising it. The correct alternatives must pass.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformer_course import checks
from transformer_course.checks import PASSED, WRONG, exercise, same
from transformer_course.masks import causal_mask, padding_mask


def solution(name):
    return exercise(name).solution


def says(result, *words):
    """The check failed (never passed, never crashed) and its message holds every phrase."""
    assert result.status == WRONG, result
    for word in words:
        assert word in result.message, result.message


# --- The harness: odd answers are described, not misread ---


@pytest.mark.parametrize(
    "name", ["encoder_layer", "decoder_layer", "encoder_decoder_forward", "greedy_decode"]
)
def test_returning_nan_is_not_called_random(name):
    result = exercise(name).check(lambda *args: float("nan"))
    assert result.status == WRONG
    assert "at random" not in result.message and "dropout" not in result.message.lower(), result.message


def test_nan_equals_nan_for_numbers_too():
    assert same(float("nan"), float("nan"))
    assert not same(float("nan"), 1.0) and not same(1.0, float("nan"))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", ["softmax", "layer_norm", "keep_top_p", "gpt_forward"])
def test_a_half_precision_result_is_named(name, dtype):
    result = exercise(name).check(lambda *args: solution(name)(*args).to(dtype))
    says(result, f"your result is in {dtype}", "compute in float32")


def test_a_wrong_answer_in_half_precision_is_not_blamed_on_precision():
    result = checks.check_softmax(lambda x: (solution("softmax")(x) * 2).half())
    assert result.status == WRONG and "significant digits" not in result.message, result.message


def test_an_extra_batch_axis_is_named():
    def keeps_the_batch(logits_fn, prompt, max_new_tokens, eos_id):
        ids = prompt.unsqueeze(0)  # (1, t), as the model takes it, and never squeezed back
        for _ in range(max_new_tokens):
            token = logits_fn(ids)[:, -1].argmax(dim=-1, keepdim=True)
            ids = torch.cat([ids, token], dim=1)
            if token.item() == eos_id:
                break
        return ids

    says(checks.check_greedy_decode(keeps_the_batch), "got (1, 7)", "an extra axis of size 1 at dim=0")
    says(
        checks.check_sinusoidal_encoding(lambda n, d: solution("sinusoidal_encoding")(n, d).unsqueeze(0)),
        "an extra axis of size 1 at dim=0",
        ".squeeze(0)",
    )


def test_a_lost_axis_of_size_one_is_named():
    def squeezes_the_position(q, k_new, v_new, past_k, past_v):
        out, keys, values = solution("cached_attention_step")(q, k_new, v_new, past_k, past_v)
        return out.squeeze(2), keys, values  # (B, h, d_head): the one query's axis gone

    says(
        checks.check_cached_attention_step(squeezes_the_position),
        "the axis of size 1 at dim=2 is missing",
        ".unsqueeze(2)",
    )


def test_an_int_where_a_tuple_is_expected_reads_an_int():
    says(checks.check_attention(lambda *args: 3), "got an int")


@pytest.mark.parametrize("huge", [10**400, -(10**400)])
def test_an_int_too_large_for_a_float_is_a_verdict_not_an_overflow(huge):
    says(checks.check_train_step(lambda *args: huge), "expected 1.05602, got ", "inf")


def test_an_extra_axis_elsewhere_is_not_told_to_index_0():
    result = checks.check_softmax(lambda x: solution("softmax")(x).unsqueeze(1))
    says(result, "an extra axis of size 1 at dim=1; drop it, .squeeze(1)")
    assert "[0]" not in result.message


def test_a_numpy_number_is_a_number():
    def numpy_loss(model, optimiser, loss_fn, batch):
        optimiser.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward()
        optimiser.step()
        return np.float32(loss.detach().numpy())

    assert checks.check_train_step(numpy_loss).passed


# --- 01 cosine similarity, 03 scores, 04 softmax ---


def test_cosine_without_the_transpose():
    def no_transpose(vectors):
        unit = F.normalize(vectors, p=2, dim=-1)
        return torch.mm(unit, unit)

    says(checks.check_cosine_similarity(no_transpose), "unit @ unit has no transpose", "unit @ unit.T")


def test_scores_divided_by_d_k():
    says(
        checks.check_attention_scores(lambda q, k: q @ k.transpose(-2, -1) / k.size(-1)),
        "You divided the scores by d_k",
        "raw scores",
    )
    # by the number of tokens: the same numbers on the square first case, told apart on a probe
    says(
        checks.check_attention_scores(lambda q, k: q @ k.transpose(-2, -1) / k.size(-2)),
        "by the number of keys",
    )


def test_softmax_shifted_by_each_columns_max():
    def column_max(scores):
        e = torch.exp(scores - torch.max(scores, dim=0, keepdim=True)[0])
        return e / e.sum(dim=-1, keepdim=True)

    says(checks.check_softmax(column_max), "each COLUMN's max", "x.max(dim=-1, keepdim=True)")


def test_layer_norm_dividing_x_itself():
    def uncentred_numerator(x, weight, bias, eps):
        var, mean = torch.var_mean(x, dim=-1, unbiased=False, keepdim=True)
        return weight * x / torch.sqrt(var + eps) + bias  # the mean never subtracted from x

    says(checks.check_layer_norm(uncentred_numerator), "divided x itself by the spread", "(x - mean)")


# --- 04 one head, 05 multi-head ---


def head_with(x, w_q, w_k, w_v, *, mask=False, drop=0.0, values=True):
    q, k = x @ w_q, x @ w_k
    scores = q @ k.T / math.sqrt(k.shape[-1])
    if mask:
        length = x.shape[0]
        scores = scores + torch.full((length, length), float("-inf")).triu(1)  # additive mask
    weights = scores.softmax(dim=-1)
    if drop:
        weights = torch.dropout(weights, drop, True)
    return weights @ (x @ w_v if values else x), weights


def test_head_with_a_causal_mask():
    says(checks.check_attention(lambda *a: head_with(*a, mask=True)), "hides the future", "EVERY token")


def test_head_with_dropout_left_on():
    says(checks.check_attention(lambda *a: head_with(*a, drop=0.2)), "changes from call to call", "dropout")


def test_head_without_the_value_projection():
    says(checks.check_attention(lambda *a: head_with(*a, values=False)), "v = x @ w_v", "weights are right")


def multi_head_with(x, w_q, w_k, w_v, w_o, num_heads, *, mask=False, w_o_t=False):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = (torch.stack((x @ w).split(d_head, dim=-1), dim=1) for w in (w_q, w_k, w_v))
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(d_head)
    if mask:
        scores = scores.masked_fill(torch.triu(torch.ones(length, length), 1) == 1, -1e9)
    merged = torch.cat((scores.softmax(-1) @ v).unbind(dim=1), dim=-1)
    return merged @ (w_o.t() if w_o_t else w_o)


def test_multi_head_with_a_causal_mask():
    says(
        checks.check_multi_head_attention(lambda *a: multi_head_with(*a, mask=True)),
        "Your heads hide the future",
        "the encoder's",
    )


def test_multi_head_with_only_w_o_transposed():
    says(
        checks.check_multi_head_attention(lambda *a: multi_head_with(*a, w_o_t=True)),
        "the output projection, which is transposed",
        "merged @ w_o",
    )


def test_multi_head_by_splitting_and_stacking_passes():
    assert checks.check_multi_head_attention(multi_head_with).passed


# --- 06 masks ---


def test_mask_whose_masked_fill_result_is_thrown_away():
    def discards(scores, ids, pad_id):
        length = ids.shape[1]
        hidden = torch.triu(torch.ones(length, length, dtype=torch.bool), 1) | (ids == pad_id).unsqueeze(1)
        scores.masked_fill(hidden, -1e9)  # not assigned
        return F.softmax(scores, dim=-1)

    says(
        checks.check_causal_masked_weights(discards),
        "no mask reached them",
        "masked_fill returns a NEW tensor",
    )


def test_mask_filled_in_place_passes():
    def in_place(scores, ids, pad_id):
        length = ids.shape[1]
        hidden = torch.triu(torch.ones(length, length, dtype=torch.bool), 1) | (ids == pad_id).unsqueeze(1)
        scores.masked_fill_(hidden, float("-inf"))
        return F.softmax(scores, dim=-1)

    assert checks.check_causal_masked_weights(in_place).passed


# --- 07 the whole encoder-decoder ---


def test_forward_with_the_target_masks_combined_with_or():
    def with_or(parts, src, trg_in):
        scale = math.sqrt(parts.embedding.embedding_dim)
        src_mask = padding_mask(src, parts.pad_id)
        memory = parts.encoder(parts.embedding(src) * scale + parts.positions[: src.shape[1]], src_mask)
        trg_mask = torch.logical_or(causal_mask(trg_in.shape[1]), padding_mask(trg_in, parts.pad_id))
        y = parts.embedding(trg_in) * scale + parts.positions[: trg_in.shape[1]]
        return parts.output(parts.decoder(y, memory, trg_mask, src_mask))

    says(checks.check_encoder_decoder_forward(with_or), "with | (or)", "causal_mask(Lt) & padding_mask")


# --- 08 the loss ---


def test_loss_summed_per_story_then_averaged():
    def per_story(model, src, trg, pad_id):
        logits = model(src, trg[:, :-1])
        labels = trg[:, 1:]
        logp = logits.log_softmax(dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        real = labels != pad_id
        return -(logp * real).sum(dim=-1).mean()

    says(checks.check_teacher_forcing_loss(per_story), "sums each sequence's token losses", "per SEQUENCE")


def test_loss_averaged_over_the_real_tokens_by_hand_passes():
    def by_count(model, src, trg, pad_id):
        logits = model(src, trg[:, :-1])
        labels = trg[:, 1:]
        each = F.cross_entropy(logits.transpose(1, 2), labels, reduction="none")
        real = (labels != pad_id).float()
        return (each * real).sum() / real.sum()

    assert checks.check_teacher_forcing_loss(by_count).passed


# --- 09 GPT forward, one cached step ---


def test_gpt_with_embedding_dropout_left_on():
    def embedding_dropout(parts, ids):
        length = ids.shape[1]
        x = parts.token(ids) * parts.token.embedding_dim**0.5 + parts.positions.weight[:length]
        x = torch.nn.Dropout(0.1)(x)  # a fresh module: in training mode
        for block in parts.blocks:
            x = block(x, torch.ones(length, length, dtype=torch.bool).tril())
        return parts.norm(x) @ parts.token.weight.T

    says(checks.check_gpt_forward(embedding_dropout), "changes from call to call", "the blocks already apply")


def test_cached_step_returning_the_cache_as_a_nested_pair():
    def nested(q, k_new, v_new, past_k, past_v):
        keys = k_new if past_k is None else torch.cat((past_k, k_new), dim=-2)
        values = v_new if past_v is None else torch.cat((past_v, v_new), dim=-2)
        return F.scaled_dot_product_attention(q, keys, values), (keys, values)

    says(checks.check_cached_attention_step(nested), "not (out, (keys, values))")


def test_cached_step_with_attention_dropout():
    def with_dropout(q, k_new, v_new, past_k, past_v):
        keys = k_new if past_k is None else torch.cat((past_k, k_new), dim=2)
        values = v_new if past_v is None else torch.cat((past_v, v_new), dim=2)
        weights = F.dropout((q @ keys.mT / math.sqrt(q.shape[-1])).softmax(-1), p=0.1)
        return weights @ values, keys, values

    says(checks.check_cached_attention_step(with_dropout), "changes from call to call", "dropout")


# --- Right answers written another way ---


def _tutorial_positions(length, d_model):
    position = torch.arange(length).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(position * div_term), torch.cos(position * div_term)
    return pe


def _cosine_in_place(vectors):
    vectors /= vectors.norm(dim=-1, keepdim=True)
    return torch.einsum("id,jd->ij", vectors, vectors)


def _softmax_in_place(scores):
    scores -= scores.amax(dim=-1, keepdim=True)
    scores.exp_()
    return scores.div_(scores.sum(dim=-1, keepdim=True))


def _head_with_an_all_true_mask(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    allowed = torch.ones(x.shape[0], x.shape[0], dtype=torch.bool)  # nothing hidden
    weights = (q @ k.T / math.sqrt(q.shape[-1])).masked_fill(~allowed, float("-inf")).softmax(-1)
    return weights @ v, weights


def _feed_forward_through_nn_linear(x, w_1, b_1, w_2, b_2):
    first, second = torch.nn.Linear(*w_1.shape), torch.nn.Linear(*w_2.shape)
    with torch.no_grad():
        first.weight.copy_(w_1.T), first.bias.copy_(b_1), second.weight.copy_(w_2.T), second.bias.copy_(b_2)
    return second(torch.relu(first(x)))


def _decoder_with_key_as_value(layer, x, memory):
    attended, _ = layer.self_attn(x, mask=causal_mask(x.shape[1]))
    x = layer.norm1(x + attended)
    attended, _ = layer.cross_attn(x, memory)  # the value defaults to the key
    x = layer.norm2(x + attended)
    return layer.norm3(x + layer.feed_forward(x))


def _loss_on_the_real_tokens(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    real = labels != pad_id
    return F.cross_entropy(logits[real], labels[real])


def _sampler_with_probabilities_raised(logits, temperature, top_k):
    probs = torch.softmax(logits, dim=-1) ** (1 / temperature)  # ∝ exp(logits / T)
    if top_k is not None:
        kth = probs.topk(top_k, dim=-1).values[:, -1:]
        probs = probs.masked_fill(probs < kth, 0.0)
    return torch.multinomial(probs, 1).squeeze(-1)


def _nucleus_from_the_bottom(probs, top_p):
    ranked, order = probs.sort(dim=-1)  # ascending: drop the tail that holds at most 1 - p
    tail = ranked.cumsum(dim=-1) <= 1 - top_p
    kept = probs.masked_fill(tail.scatter(-1, order, tail), 0.0)
    return kept / kept.sum(dim=-1, keepdim=True)


def _greedy_in_a_buffer(logits_fn, prompt, max_new_tokens, eos_id):
    buffer = torch.empty(len(prompt) + max_new_tokens, dtype=prompt.dtype)
    buffer[: len(prompt)], used = prompt, len(prompt)
    for _ in range(max_new_tokens):
        token = logits_fn(buffer[None, :used])[0, -1].argmax()
        buffer[used], used = token, used + 1
        if token == eos_id:
            break
    return buffer[:used]


def _cached_step_as_a_list(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=-2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=-2)
    return [F.scaled_dot_product_attention(q, keys, values), keys, values]


RIGHT = [
    ("sinusoidal_encoding", _tutorial_positions),
    ("cosine_similarity", _cosine_in_place),
    ("softmax", _softmax_in_place),
    ("softmax", lambda scores: torch.nn.Softmax(dim=-1)(scores)),
    ("attention", _head_with_an_all_true_mask),
    ("feed_forward", _feed_forward_through_nn_linear),
    ("decoder_layer", _decoder_with_key_as_value),
    ("teacher_forcing_loss", _loss_on_the_real_tokens),
    ("sample_next_token", _sampler_with_probabilities_raised),
    ("keep_top_p", _nucleus_from_the_bottom),
    ("greedy_decode", _greedy_in_a_buffer),
    ("cached_attention_step", _cached_step_as_a_list),
]


@pytest.mark.parametrize(("name", "fn"), RIGHT, ids=[f"{n}: {f.__name__}" for n, f in RIGHT])
def test_a_right_answer_written_another_way_passes(name, fn):
    result = exercise(name).check(fn)
    assert result.status == PASSED, result.message
