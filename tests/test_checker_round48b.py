"""Round 48b: the verdicts review R6 found false or inexact about the learner's code.

Each wrong answer below is the reviewer's (``/work/notes/s48/r6``): the verdict must name what
the code did (or both causes, where the output cannot tell them apart), and no longer say what
it did not. The right answers in other styles still pass without a warning.
"""

from __future__ import annotations

import math

import pytest
import torch
from transformer_course.checks import PASSED, WRONG, exercise


def _verdict(name: str, fn) -> str:
    result = exercise(name).check(fn)
    assert result.status == WRONG, result
    return result.message


def _passes(name: str, fn) -> None:
    result = exercise(name).check(fn)
    assert result.status == PASSED and not result.warning, result


# --- 1a. softmax: the max's position subtracted, not its value ---


def _softmax_minus(shift):
    def my_softmax(s):
        e = (s - shift(s)).exp()
        return e / e.sum(-1, keepdim=True)

    return my_softmax


@pytest.mark.parametrize(
    "shift",
    [
        lambda s: s.max(-1, keepdim=True)[1],
        lambda s: s.max(-1, keepdim=True).indices,
        lambda s: s.argmax(-1, keepdim=True),
    ],
    ids=["max()[1]", ".indices", "argmax"],
)
def test_softmax_minus_the_max_position_is_named(shift):
    message = _verdict("softmax", _softmax_minus(shift))
    assert "POSITION" in message and ".values" in message
    assert not message.startswith("No max subtraction")


def test_softmax_with_no_shift_is_still_named():
    message = _verdict("softmax", lambda s: s.exp() / s.exp().sum(-1, keepdim=True))
    assert "not subtracted" in message and "no shift at all" in message


@pytest.mark.parametrize(
    "shift",
    [lambda s: s.max(-1, keepdim=True).values, lambda s: s.amax(-1, keepdim=True)],
    ids=[".values", "amax"],
)
def test_softmax_minus_the_max_value_passes(shift):
    _passes("softmax", _softmax_minus(shift))


# --- 1b, 1c. sinusoidal_encoding: a flat table, and the exponent over the length ---


def _table(angle: torch.Tensor) -> torch.Tensor:
    pe = torch.zeros(angle.shape[0], 2 * angle.shape[1], dtype=angle.dtype)
    pe[:, 0::2], pe[:, 1::2] = angle.sin(), angle.cos()
    return pe


def _upside_down(length, d_model):
    pos = torch.arange(length).float()[:, None]
    two_i = torch.arange(0, d_model, 2).float()
    return _table(pos / 10000 ** (d_model / two_i))  # brackets present, fraction upside down


def _upside_down_pairs(length, d_model):
    pos = torch.arange(length).float()[:, None]
    i = torch.arange(d_model // 2).float()
    return _table(pos / 10000 ** (d_model / (2 * i)))


def _positions_all_zero(length, d_model):
    pos = torch.zeros(length, 1)
    return _table(pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model))


@pytest.mark.parametrize("fn", [_upside_down, _upside_down_pairs, _positions_all_zero])
def test_a_flat_table_names_what_it_shows_and_every_cause(fn):
    message = _verdict("sinusoidal_encoding", fn)
    assert "(almost) 0" in message and "upside down" in message and "brackets" in message
    assert not message.startswith("The exponent lost its brackets")


def _brackets_lost_in_a_loop(length, d_model):
    pe = torch.zeros(length, d_model)
    for pos in range(length):
        for i in range(d_model // 2):
            angle = pos / 10000**2 * i / d_model
            pe[pos, 2 * i], pe[pos, 2 * i + 1] = math.sin(angle), math.cos(angle)
    return pe


def test_the_brackets_lost_are_still_named():
    assert "lost its brackets" in _verdict("sinusoidal_encoding", _brackets_lost_in_a_loop)


def _exponent_over_length(length, d_model):
    pos = torch.arange(length).float()[:, None]
    two_i = torch.arange(0, d_model, 2).float()
    return _table(pos / 10000 ** (two_i / length))


def _pairs_over_length(length, d_model):
    pos = torch.arange(length).float()[:, None]
    i = torch.arange(d_model // 2).float()
    return _table(pos / 10000 ** (2 * i / length))


def _loop_over_length(length, d_model):
    pe = torch.zeros(length, d_model)
    for pos in range(length):
        for i in range(0, d_model, 2):
            pe[pos, i] = math.sin(pos / 10000 ** (i / length))
            pe[pos, i + 1] = math.cos(pos / 10000 ** (i / length))
    return pe


@pytest.mark.parametrize("fn", [_exponent_over_length, _pairs_over_length, _loop_over_length])
def test_the_exponent_over_the_length_is_named(fn):
    message = _verdict("sinusoidal_encoding", fn)
    assert "2i / length" in message and "d_model" in message
    assert "counted twice" not in message


def _two_counted_twice(length, d_model):
    pos = torch.arange(length).float()[:, None]
    two_i = torch.arange(0, d_model, 2).float()
    return _table(pos / 10000 ** (2 * two_i / d_model))


def test_the_2_counted_twice_is_still_named():
    message = _verdict("sinusoidal_encoding", _two_counted_twice)
    assert message.startswith("The 2 is counted twice")


def _in_float64_by_exp(length, d_model):
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    return _table(pos * torch.exp(two_i * (-math.log(10000.0) / d_model)))


def _einsum(length, d_model):
    pos = torch.arange(length).float()
    freq = 1 / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)
    return _table(torch.einsum("p,f->pf", pos, freq))


@pytest.mark.parametrize("fn", [_in_float64_by_exp, _einsum])
def test_sinusoidal_right_answers_pass(fn):
    _passes("sinusoidal_encoding", fn)


# --- 2. Hints made true of all the code that reaches them ---


def test_exponents_over_d_model_minus_1_are_not_said_to_reach_1():
    def over_d_minus_1(length, d_model):
        pos = torch.arange(length).float()[:, None]
        return _table(pos / 10000 ** (torch.arange(0, d_model, 2).float() / (d_model - 1)))

    message = _verdict("sinusoidal_encoding", over_d_minus_1)
    assert "d_model − 1" in message and "(d_model − 2)/(d_model − 1)" in message
    assert "all the way to 1" not in message


def test_one_row_too_few_is_not_said_to_be_one_too_many():
    def one_row_short(length, d_model):
        pos = torch.arange(length - 1).float()[:, None]
        return _table(pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model))

    message = _verdict("sinusoidal_encoding", one_row_short)
    assert "one row too few" in message and "too many" not in message


def test_a_variance_over_d_minus_1_by_hand_is_not_blamed_on_var():
    def layer_norm(x, w, b, eps):
        d = x.shape[-1]
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).sum(-1, keepdim=True) / (d - 1)
        return (x - mu) / torch.sqrt(var + eps) * w + b

    message = _verdict("layer_norm", layer_norm)
    assert message.startswith("Your variance is divided by d − 1") and "sum of squares" in message


def _top_k_then_sample(logits, threshold):
    return torch.multinomial(logits.masked_fill(logits < threshold, float("-inf")).softmax(-1), 1).squeeze(-1)


def test_an_ascending_sort_threshold_is_named_with_sort():
    def sample(logits, temperature, top_k):
        scaled = logits / temperature
        if top_k is None:
            return torch.multinomial(scaled.softmax(-1), 1).squeeze(-1)
        return _top_k_then_sample(scaled, scaled.sort(-1).values[:, top_k - 1 : top_k])

    message = _verdict("sample_next_token", sample)
    assert "k-th SMALLEST" in message and "ascending" in message
    assert not message.startswith("torch.kthvalue")


def test_probabilities_to_the_power_t_are_named():
    def sample(logits, temperature, top_k):
        if top_k is not None:
            logits = logits.masked_fill(logits < logits.topk(top_k, -1).values[:, -1:], float("-inf"))
        return torch.multinomial(torch.softmax(logits, -1) ** temperature, 1).squeeze(-1)

    message = _verdict("sample_next_token", sample)
    assert "power T" in message


def _blocked_on_both_axes(fill):
    def weights(scores, ids, pad_id):
        real, length = ids != pad_id, ids.shape[1]
        allowed = torch.ones(length, length, dtype=torch.bool).tril() & real[:, None, :] & real[:, :, None]
        return torch.softmax(scores.masked_fill(~allowed, fill), -1)

    return weights


@pytest.mark.parametrize("fill", [float("-inf"), -1e9], ids=["-inf", "-1e9"])
def test_padding_on_both_axes_says_what_each_fill_gives(fill):
    message = _verdict("causal_masked_weights", _blocked_on_both_axes(fill))
    assert "NaN with -inf" in message and "with -1e9, an even spread" in message


def test_chapter_08_losses_say_sequences_not_stories():
    import torch.nn.functional as F

    def per_row_mean(model, src, trg, pad_id):
        logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
        losses = F.cross_entropy(logits.transpose(1, 2), labels, reduction="none")
        real = (labels != pad_id).float()
        return ((losses * real).sum(1) / real.sum(1)).mean()

    message = _verdict("teacher_forcing_loss", per_row_mean)
    assert "each sequence's tokens" in message and "stor" not in message.lower()


def test_greedy_decode_stopping_on_the_prompt_says_sequence():
    def greedy(logits_fn, prompt, max_new_tokens, eos_id):
        ids = prompt.clone()
        for _ in range(max_new_tokens):
            if int(ids[-1]) == eos_id:
                break
            ids = torch.cat([ids, logits_fn(ids[None])[0, -1].argmax().view(1)])
        return ids

    message = _verdict("greedy_decode", greedy)
    assert "one sequence ended" in message and "stor" not in message.lower()


def test_f_normalize_on_dim_0_is_named_with_f_normalize():
    def cosine(v):
        n = torch.nn.functional.normalize(v, dim=0)
        return n @ n.T

    assert "F.normalize(v, dim=0)" in _verdict("cosine_similarity", cosine)


# --- 3. Mistakes learners make, named ---


def _attention_products(combine):
    def attention(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        weights = torch.softmax(q @ k.T / math.sqrt(k.shape[-1]), dim=-1)
        return combine(weights, v), weights

    return attention


@pytest.mark.parametrize(
    "combine", [lambda w, v: w * v, lambda w, v: torch.mul(w, v), lambda w, v: v * w], ids=["*", "mul", "v*w"]
)
def test_attention_weights_times_v_is_named(combine):
    message = _verdict("attention", _attention_products(combine))
    assert "weights * v" in message and "weights @ v" in message


def test_attention_other_shape_errors_are_not_called_weights_times_v():
    def attention(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        weights = torch.softmax(q @ k.T / math.sqrt(k.shape[-1]), dim=-1)
        return weights @ v + q, weights  # (L, d_v) + (L, d_k): not a product with v

    result = exercise("attention").check(attention)
    assert "weights * v" not in result.message


@pytest.mark.parametrize(
    "combine",
    [
        lambda w, v: torch.einsum("ij,jd->id", w, v),
        lambda w, v: (w[:, :, None] * v[None, :, :]).sum(1),
        lambda w, v: (w.double() @ v.double()).float(),
    ],
    ids=["einsum", "broadcast-sum", "float64"],
)
def test_attention_right_answers_pass(combine):
    _passes("attention", _attention_products(combine))


def _masked(add_blocked):
    def weights(scores, ids, pad_id):
        length = ids.shape[1]
        allowed = torch.ones(length, length, dtype=torch.bool).tril() & (ids != pad_id)[:, None, :]
        return torch.softmax(add_blocked(scores, allowed), dim=-1)

    return weights


@pytest.mark.parametrize(
    "add_blocked",
    [lambda s, a: s + (~a).float() * 1e9, lambda s, a: s.masked_fill(~a, 1e9)],
    ids=["+ (~allowed) * 1e9", "masked_fill 1e9"],
)
def test_plus_1e9_on_the_blocked_keys_is_named(add_blocked):
    message = _verdict("causal_masked_weights", _masked(add_blocked))
    assert "+1e9" in message and "NEGATIVE" in message


@pytest.mark.parametrize(
    "add_blocked",
    [
        lambda s, a: s + (~a).float() * -1e9,
        lambda s, a: torch.where(a, s, torch.tensor(-1e9)),
        lambda s, a: s.double().masked_fill(~a, float("-inf")).float(),
    ],
    ids=["+ (~allowed) * -1e9", "where -1e9", "float64"],
)
def test_masked_weights_right_answers_pass(add_blocked):
    _passes("causal_masked_weights", _masked(add_blocked))


def _forward(source_mask):
    from transformer_course.masks import causal_mask, padding_mask

    def forward(parts, src, trg_in):
        d = parts.embedding.embedding_dim
        src_mask = source_mask(src, parts.pad_id, padding_mask, causal_mask)
        trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)

        def embed(ids):
            return parts.embedding(ids) * math.sqrt(d) + parts.positions[: ids.shape[1]]

        memory = parts.encoder(embed(src), src_mask)
        return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))

    return forward


def test_a_causal_source_mask_is_named():
    causal_source = _forward(lambda src, pad, padding, causal: padding(src, pad) & causal(src.shape[1]))
    message = _verdict("encoder_decoder_forward", causal_source)
    assert "source's mask is causal" in message and "cross-attention" in message


def test_encoder_decoder_forward_with_a_padding_source_mask_passes():
    _passes("encoder_decoder_forward", _forward(lambda src, pad, padding, causal: padding(src, pad)))


def test_train_step_backward_without_brackets_is_named():
    def train_step(model, optimiser, loss_fn, batch):
        optimiser.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward  # noqa: B018 (the learner's slip: never called)
        optimiser.step()
        return loss.item()

    message = _verdict("train_step", train_step)
    assert "loss.backward without its brackets" in message


def test_the_pair_index_over_the_length_is_named():
    def pairs_over_length(length, d_model):
        pos = torch.arange(length).float()[:, None]
        return _table(pos / 10000 ** (torch.arange(d_model // 2).float() / length))

    message = _verdict("sinusoidal_encoding", pairs_over_length)
    assert "i / length" in message and "differs from the reference" not in message


def test_a_division_by_zero_in_a_loop_is_named():
    def upside_down_in_a_loop(length, d_model):
        pe = torch.zeros(length, d_model)
        for pos in range(length):
            for i in range(0, d_model, 2):
                pe[pos, i] = math.sin(pos / 10000 ** (d_model / i))
                pe[pos, i + 1] = math.cos(pos / 10000 ** (d_model / i))
        return pe

    result = exercise("sinusoidal_encoding").check(upside_down_in_a_loop)
    assert result.status == WRONG and "upside down" in result.message, result
