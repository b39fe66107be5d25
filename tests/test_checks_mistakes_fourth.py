"""A fifth audit of the checkers, chapters 03 to 08: wrong answers that used to get a generic
"differs at index …" message or a bare error (a traceback's last line), and right answers
written another way.

Each wrong answer is written here the way a learner writes it, apart from the catalogue's own
``example``, so a test fails if the checker stops recognising it; each right one must pass.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course import checks
from transformer_course.checks import PASSED, WRONG, exercise
from transformer_course.masks import causal_mask, padding_mask


def says(result, *words):
    """The check failed (never passed, never crashed) and its message holds every phrase."""
    assert result.status == WRONG, result
    for word in words:
        assert word in result.message, result.message


# --- 03 attention scores ---


def test_scores_returned_as_weights():
    def weights(q, k):
        return torch.softmax(q @ k.transpose(-2, -1), dim=-1)

    says(checks.check_attention_scores(weights), "attention WEIGHTS", "no softmax")


def test_scores_scaled_and_softmaxed():
    def chapter_04(q, k):
        return F.softmax(torch.einsum("...qd,...kd->...qk", q, k) / math.sqrt(q.size(-1)), dim=-1)

    says(checks.check_attention_scores(chapter_04), "attention WEIGHTS", "no scaling, no softmax")


# --- 05 multi-head attention ---


def _mha(x, w_q, w_k, w_v, w_o, num_heads, *, split=None, divide=None):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    split = split or (lambda t: t.view(b, length, num_heads, d_head).transpose(1, 2))
    q, k, v = split(x @ w_q), split(x @ w_k), split(x @ w_v)
    scale = math.sqrt(d_head) if divide is None else divide(d_head)
    out = F.softmax(q @ k.transpose(-1, -2) / scale, dim=-1) @ v
    return out.transpose(1, 2).contiguous().view(b, length, d_model) @ w_o


def test_multi_head_divided_by_d_head_itself():
    def no_root(*args):
        return _mha(*args, divide=lambda d_head: d_head)

    says(checks.check_multi_head_attention(no_root), "divided each head's scores by d_head", "√d_head")


def test_multi_head_split_interleaved_but_merged_in_blocks():
    def interleaved_split(x, w_q, w_k, w_v, w_o, h):
        b, length, d_model = x.shape
        return _mha(x, w_q, w_k, w_v, w_o, h, split=lambda t: t.reshape(b, length, -1, h).permute(0, 3, 1, 2))

    says(checks.check_multi_head_attention(interleaved_split), "every h-th column", "CONSECUTIVE")


# --- 07 layer norm ---


def test_layer_norm_divided_by_the_variance():
    def no_root(x, weight, bias, eps):
        mu = x.mean(-1, keepdim=True)
        var = x.var(-1, keepdim=True, unbiased=False)
        return weight * (x - mu) / (var + eps) + bias

    says(checks.check_layer_norm(no_root), "divided by the variance", "torch.sqrt(var + eps)")


def test_layer_norm_shifted_before_scaled():
    def shift_first(x, weight, bias, eps):
        normed = F.layer_norm(x, x.shape[-1:], eps=eps)
        return (normed + bias) * weight

    says(checks.check_layer_norm(shift_first), "added bias before multiplying by weight")


# --- 07 encoder and decoder layers ---


def test_encoder_layer_taking_the_weights_for_the_output():
    def weights(layer, x, mask):
        out, attn = layer.self_attn(x, x, x, mask)
        x = layer.norm1(x + attn)
        return layer.norm2(x + layer.feed_forward(x))

    says(checks.check_encoder_layer(weights), "attention WEIGHTS", "attended, _ =")


def test_encoder_layer_with_an_additive_float_mask():
    def additive(layer, x, mask):
        attended, _ = layer.self_attn(x, mask=mask.float().log())  # 0 where seen, -inf where not
        x = layer.norm1(x + attended)
        return layer.norm2(x + layer.feed_forward(x))

    says(checks.check_encoder_layer(additive), "a tensor of floats", "bool mask", "mask=mask")


def test_decoder_layer_taking_the_weights_for_the_output():
    def weights(layer, x, memory):
        x = layer.norm1(x + layer.self_attn(x, mask=causal_mask(x.shape[1]))[1])
        x = layer.norm2(x + layer.cross_attn(x, memory, memory)[1])
        return layer.norm3(x + layer.feed_forward(x))

    says(checks.check_decoder_layer(weights), "attention WEIGHTS", "(output, weights)")


@pytest.mark.parametrize(
    "mask",
    [
        pytest.param(lambda n: torch.tril(torch.ones(n, n)), id="0/1 floats"),
        pytest.param(nn.Transformer.generate_square_subsequent_mask, id="PyTorch's 0/-inf"),
    ],
)
def test_decoder_layer_with_a_float_causal_mask(mask):
    def float_mask(layer, x, memory):
        attended, _ = layer.self_attn(x, mask=mask(x.size(1)))
        x = layer.norm1(x + attended)
        attended, _ = layer.cross_attn(x, memory, memory)
        x = layer.norm2(x + attended)
        return layer.norm3(x + layer.feed_forward(x))

    says(checks.check_decoder_layer(float_mask), "a tensor of floats", "causal_mask(L)")


def test_an_int_mask_is_not_called_a_float_one():
    """A 0/1 int mask, (src != pad).int() say, is not the float mask the hint names: the check
    fails on it with lib's own words, "must be a bool tensor … got torch.int64"."""

    def int_mask(layer, x, mask):
        attended, _ = layer.self_attn(x, mask=mask.long())
        x = layer.norm1(x + attended)
        return layer.norm2(x + layer.feed_forward(x))

    result = checks.check_encoder_layer(int_mask)
    assert result.status != PASSED and "floats" not in result.message, result
    assert "bool" in result.message and "int64" in result.message, result.message


# --- 07 the encoder-decoder forward ---


def _forward(parts, src, trg_in, *, scale=math.sqrt, start=0, last=None, trg_mask=None):
    d = parts.embedding.embedding_dim

    def embed(ids):
        return parts.embedding(ids) * scale(d) + parts.positions[start : start + ids.shape[1]]

    src_mask = padding_mask(src, parts.pad_id)
    memory = parts.encoder(embed(src), src_mask)
    if trg_mask is None:
        trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
    logits = parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))
    return logits if last is None else last(logits)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        pytest.param({"start": 1}, ("counted the positions from 1",), id="positions from 1"),
        pytest.param({"scale": lambda d: 1 / math.sqrt(d)}, ("divided the token vectors",), id="÷ √d"),
        pytest.param(
            {"last": lambda logits: F.log_softmax(logits, dim=-1)}, ("log-probabilities",), id="log-softmax"
        ),
        pytest.param(
            {"trg_mask": nn.Transformer.generate_square_subsequent_mask(4)},
            ("a tensor of floats", "bool masks"),
            id="PyTorch's float mask",
        ),
    ],
)
def test_encoder_decoder_forward_mistakes(kwargs, words):
    def forward(parts, src, trg_in):
        mine = dict(kwargs)
        if "trg_mask" in mine:
            mine["trg_mask"] = nn.Transformer.generate_square_subsequent_mask(trg_in.shape[1])
        return _forward(parts, src, trg_in, **mine)

    says(checks.check_encoder_decoder_forward(forward), *words)


# --- 08 the loss ---


def test_loss_nll_on_probabilities():
    def forgot_the_log(model, src, trg, pad_id):
        probs = torch.softmax(model(src, trg[:, :-1]), dim=-1)
        return F.nll_loss(probs.transpose(1, 2), trg[:, 1:], ignore_index=pad_id)

    says(checks.check_teacher_forcing_loss(forgot_the_log), "you gave it probabilities")


# --- 08 greedy decoding ---


def test_greedy_that_stops_one_step_after_eos():
    def one_late(logits_fn, prompt, max_new_tokens, eos_id):
        out, new = prompt.tolist(), 0
        while new < max_new_tokens:
            out.append(int(logits_fn(torch.tensor([out]))[0, -1].argmax()))
            new += 1
            if new > 1 and out[-2] == eos_id:  # looks at the token before the one just written
                break
        return torch.tensor(out)

    says(checks.check_greedy_decode(one_late), "one token past <eos>")


# --- Right answers written another way ---


def _scores_by_bmm_of_flattened_batches(q, k):
    flat_q, flat_k = q.reshape(-1, *q.shape[-2:]), k.reshape(-1, *k.shape[-2:])
    return torch.bmm(flat_q, flat_k.transpose(1, 2)).reshape(*q.shape[:-1], k.shape[-2])


def _mha_scaled_queries(x, w_q, w_k, w_v, w_o, num_heads):
    """q and k each divided by d_head ** 0.25: their product is divided by √d_head."""
    return _mha(x, w_q / (x.shape[-1] // num_heads) ** 0.25, w_k / (x.shape[-1] // num_heads) ** 0.25,
                w_v, w_o, num_heads, divide=lambda d_head: 1.0)  # fmt: skip


def _layer_norm_with_std_of_the_biased_variance(x, weight, bias, eps):
    centred = x - x.mean(dim=-1, keepdim=True)
    std = torch.sqrt(x.std(dim=-1, keepdim=True, unbiased=False) ** 2 + eps)
    return torch.addcmul(bias, centred / std, weight)


def _encoder_layer_positional_arguments(layer, x, mask):
    attended = layer.self_attn(x, x, x, mask)[0]
    h = layer.norm1(attended + x)
    return layer.norm2(layer.feed_forward(h) + h)


def _decoder_layer_with_keywords(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, mask=torch.ones(x.shape[1], x.shape[1]).tril().bool())[0])
    x = layer.norm2(x + layer.cross_attn(x, key=memory, value=memory)[0])
    return layer.norm3(x + layer.feed_forward(x))


def _loss_by_log_of_the_softmax(model, src, trg, pad_id):
    probs = F.softmax(model(src, trg[:, :-1]), dim=-1)
    return F.nll_loss(probs.log().flatten(0, 1), trg[:, 1:].flatten(), ignore_index=pad_id)


def _greedy_with_a_finished_flag_checked_first(logits_fn, prompt, max_new_tokens, eos_id):
    ids, finished = prompt.clone(), False
    for _ in range(max_new_tokens):
        if finished:
            break
        token = logits_fn(ids[None])[:, -1].argmax(-1)
        ids = torch.cat([ids, token])
        finished = token.item() == eos_id
    return ids


RIGHT = [
    ("attention_scores", _scores_by_bmm_of_flattened_batches),
    ("multi_head_attention", _mha_scaled_queries),
    ("layer_norm", _layer_norm_with_std_of_the_biased_variance),
    ("encoder_layer", _encoder_layer_positional_arguments),
    ("decoder_layer", _decoder_layer_with_keywords),
    ("encoder_decoder_forward", lambda parts, src, trg_in: _forward(parts, src, trg_in)),
    ("teacher_forcing_loss", _loss_by_log_of_the_softmax),
    ("greedy_decode", _greedy_with_a_finished_flag_checked_first),
]


@pytest.mark.parametrize(("name", "fn"), RIGHT, ids=[f"{n}: {getattr(f, '__name__', n)}" for n, f in RIGHT])
def test_a_right_answer_written_another_way_passes(name, fn):
    result = exercise(name).check(fn)
    assert result.status == PASSED, result.message
