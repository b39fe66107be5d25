"""Round 51 (task F2): checker defects left by the last review.

1. A sampler that draws B tokens per row, ``torch.multinomial(probs, B, replacement=True)``: on
   the checker's 20,000 rows that is 400 million draws, a minute before any verdict. The checker
   now gives it a small batch first (``sampling_round51.probe``) and names the mistake.
2. The built-in note (``built_ins_round51``): a lib module's own tensor read (``.pe``), the
   built-in's numbers through ``.tolist()`` or ``.numpy()``, a built-in compiled by torch.jit.
   Hand-written answers, compiled or through a list, get no note.
3. One head's scaling: √(d_q + d_k) is not called √d_model where the first head's d_model is
   2 · d_k, and both hints (and multi-head's √d_model) give the failing input's numbers.
4. Exercise 06's masks checker has no heads, and its batches differ from their lengths, so a
   mask with its axes swapped does not broadcast there. Chapter 07's encoder_decoder_forward
   has B == h == 2: a per-head padding mask built head-major (.repeat) or (h, B, 1, Ls) ran
   and got "differs"; it is now named (``assembly_round51``).
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from transformer_course.checks import (
    PASSED,
    WRONG,
    assembly,
    head,
    masks,
    multi_head,
    positions,
    sampling,
    softmax,
)
from transformer_course.masks import causal_mask, padding_mask
from transformer_course.positional import SinusoidalPositionalEncoding, sinusoidal_encoding

# --- 1. multinomial(probs, B): B draws per row ---


def _probs(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.softmax(logits, dim=-1)


def test_b_draws_per_row_is_named_without_drawing_from_the_big_batch():
    """Bounds the work, not the time: the checker never asks this sampler for more than 10,000
    draws (before: 20,000 rows × 20,000 draws). Past that, the sampler answers with a (B, B)
    tensor that costs nothing (expand), so that the test stays fast before the fix too."""
    asked = []

    def draws_batch_size_per_row(logits, temperature, top_k):
        probs, b = _probs(logits, temperature, top_k), logits.shape[0]
        asked.append(b * b)
        if b * b > 10_000:
            return torch.zeros(b, 1, dtype=torch.long).expand(b, b)
        return torch.multinomial(probs, b, replacement=True)

    result = sampling.check_sample_next_token(draws_batch_size_per_row)
    assert max(asked) <= 10_000, asked
    assert result.status == WRONG and "num_samples" in result.message, result.message
    assert "(3, 6)" in result.message and "(3, 3)" in result.message


def test_b_draws_per_row_as_written_gets_its_hint():
    def sample(logits, temperature, top_k):
        return torch.multinomial(_probs(logits, temperature, top_k), len(logits), replacement=True)

    result = sampling.check_sample_next_token(sample)
    assert result.status == WRONG and "num_samples, is how many tokens to draw" in result.message


def test_right_samplers_pass_the_probe():
    def with_num_samples_1(logits, temperature, top_k):
        return torch.multinomial(_probs(logits, temperature, top_k), num_samples=1).squeeze(-1)

    def with_categorical(logits, temperature, top_k):
        return torch.distributions.Categorical(probs=_probs(logits, temperature, top_k)).sample()

    for fn in (with_num_samples_1, with_categorical):
        result = sampling.check_sample_next_token(fn)
        assert result.status == PASSED, (fn.__name__, result.message)
        assert "num_samples" not in result.message


# --- 2. The built-in note: a lib module's tensor read, laundered through Python, compiled ---

NOTE = "does the work this exercise asks you to write yourself"
_PREBUILT = {d: SinusoidalPositionalEncoding(d) for d in range(1, 65)}  # in the notebook, before


def _pe_of_a_module_built_here(length, d_model):
    return SinusoidalPositionalEncoding(d_model, max_len=length).pe


def _pe_sliced(length, d_model):
    lib_positional = SinusoidalPositionalEncoding(d_model)
    return lib_positional.pe[:length]


def _pe_of_a_module_built_before(length, d_model):
    return _PREBUILT[d_model].pe[:length].clone()


def _through_a_list(length, d_model):
    return torch.tensor(sinusoidal_encoding(length, d_model).tolist())


def _through_numpy(length, d_model):
    return torch.from_numpy(sinusoidal_encoding(length, d_model).numpy())


def _by_hand(length, d_model):
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    angles = pos / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe


def _by_hand_through_a_list(length, d_model):  # its own numbers through Python: no built-in
    return torch.tensor(_by_hand(length, d_model).tolist())


@pytest.mark.parametrize(
    "fn",
    [_pe_of_a_module_built_here, _pe_sliced, _pe_of_a_module_built_before, _through_a_list, _through_numpy],
)
def test_the_encoding_read_or_laundered_from_lib_gets_the_note(fn):
    result = positions.check_sinusoidal_encoding(fn)
    assert result.passed and NOTE in result.message, result.message


@pytest.mark.parametrize("fn", [_by_hand, _by_hand_through_a_list, positions.solution])
def test_an_encoding_by_hand_gets_no_note(fn):
    result = positions.check_sinusoidal_encoding(fn)
    assert result.passed and NOTE not in result.message, result.message


with warnings.catch_warnings():  # torch.jit is deprecated, and learners still meet it
    warnings.simplefilter("ignore", DeprecationWarning)
    _SCRIPTED_SOFTMAX = torch.jit.script(F.softmax)
    _TRACED_SOFTMAX = torch.jit.trace(lambda x: torch.softmax(x, dim=-1), torch.randn(3, 4))

    @torch.jit.script
    def _scripted_with_softmax(x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x, dim=-1)

    @torch.jit.script
    def _scripted_by_hand(x: torch.Tensor) -> torch.Tensor:
        e = torch.exp(x - x.max(dim=-1, keepdim=True).values)
        return e / e.sum(dim=-1, keepdim=True)


def _calls_script_of_f_softmax(x):
    return _SCRIPTED_SOFTMAX(x, dim=-1)


def _calls_a_scripted_softmax(x):
    return _scripted_with_softmax(x)


def _calls_a_traced_softmax(x):
    return _TRACED_SOFTMAX(x)


def _calls_its_own_scripted_softmax(x):
    return _scripted_by_hand(x)


def _by_hand_softmax(x):
    e = (x - x.amax(dim=-1, keepdim=True)).exp()
    return e / e.sum(dim=-1, keepdim=True)


@pytest.mark.parametrize(
    "fn", [_calls_script_of_f_softmax, _calls_a_scripted_softmax, _calls_a_traced_softmax]
)
def test_a_compiled_built_in_gets_the_note(fn):
    result = softmax.check_softmax(fn)
    assert result.passed and NOTE in result.message, result.message
    compiled = fn.__code__.co_names[0]
    assert f"your `{compiled}(x" in result.message  # the call of the compiled function, quoted
    assert isinstance(fn.__globals__[compiled], torch.jit.ScriptFunction)  # put back after


@pytest.mark.parametrize("fn", [_calls_its_own_scripted_softmax, _by_hand_softmax])
def test_a_softmax_by_hand_compiled_or_not_gets_no_note(fn):
    result = softmax.check_softmax(fn)
    assert result.passed and NOTE not in result.message, result.message


# --- 3. The scaling hints, in the numbers of the failing input ---


def _head(divisor):
    def attention(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        weights = torch.softmax(q @ k.T / divisor(x, q, k), dim=-1)
        return weights @ v, weights

    return attention


def test_a_head_divided_by_the_two_widths_is_not_told_d_model():
    """On the first head d_model = 8 = d_q + d_k: before, √(d_q + d_k) was called √d_model."""
    result = head.check_attention(_head(lambda x, q, k: math.sqrt(q.shape[-1] + k.shape[-1])))
    assert result.status == WRONG, result.message
    assert "You divided by √d_model" not in result.message, result.message
    assert "divided by √8 = 2.83" in result.message and "√d_k = √4 = 2" in result.message


def test_a_head_divided_by_d_model_is_told_so_in_numbers():
    result = head.check_attention(_head(lambda x, q, k: math.sqrt(x.shape[-1])))
    assert result.status == WRONG and result.message.startswith("You divided by √d_model"), result.message
    assert "On input #1 (x (4, 8), so d_model = 8" in result.message
    assert "divided by √8 = 2.83" in result.message and "√d_k = √4 = 2" in result.message


@pytest.mark.parametrize(
    "divisor",
    [lambda x, q, k: q.shape[-1] ** 0.5, lambda x, q, k: torch.tensor(float(k.shape[1])).sqrt()],
)
def test_heads_scaled_right_pass(divisor):
    result = head.check_attention(_head(divisor))
    assert result.status == PASSED, result.message


def _multi_head(divisor):
    def attend(x, w_q, w_k, w_v, w_o, num_heads):
        b, length, d_model = x.shape
        d = d_model // num_heads
        q, k, v = ((x @ w).view(b, length, num_heads, d).transpose(1, 2) for w in (w_q, w_k, w_v))
        weights = torch.softmax(q @ k.transpose(-2, -1) / divisor(d_model, q), dim=-1)
        return (weights @ v).transpose(1, 2).reshape(b, length, d_model) @ w_o

    return attend


def test_multi_head_divided_by_d_model_is_told_so_in_numbers():
    result = multi_head.check_multi_head_attention(_multi_head(lambda d_model, q: math.sqrt(d_model)))
    assert result.status == WRONG and "not by √d_model" in result.message, result.message
    assert "d_head = 12 / 3 = 4" in result.message and "√12 ≈ 3.46" in result.message
    assert "√d_head = √4 = 2" in result.message


@pytest.mark.parametrize(
    "divisor", [lambda d_model, q: q.shape[-1] ** 0.5, lambda d_model, q: q.size(3) ** (1 / 2)]
)
def test_multi_heads_scaled_right_pass(divisor):
    result = multi_head.check_multi_head_attention(_multi_head(divisor))
    assert result.status == PASSED, result.message


# --- 4. Per-head padding masks with the batch and head axes swapped (B == h == 2) ---


def _seq2seq(masks):
    def encoder_decoder_forward(parts, src, trg_in):
        d_model, h = parts.embedding.embedding_dim, 2  # the checker's model: 2 heads
        b, ls, lt = src.shape[0], src.shape[1], trg_in.shape[1]
        src_self, src_cross = masks(src != parts.pad_id, b, h, ls, lt)
        trg_mask = causal_mask(lt) & padding_mask(trg_in, parts.pad_id)
        src_x = parts.embedding(src) * math.sqrt(d_model) + parts.positions[:ls]
        trg_x = parts.embedding(trg_in) * math.sqrt(d_model) + parts.positions[:lt]
        memory = parts.encoder(src_x, src_self)
        return parts.output(parts.decoder(trg_x, memory, trg_mask, src_cross))

    return encoder_decoder_forward


def _head_major(keep, b, h, ls, lt):  # .repeat: row i·B + b, where lib reads b·h + i
    return tuple(keep[:, None, :].expand(b, lq, ls).repeat(h, 1, 1) for lq in (ls, lt))


def _heads_first(keep, b, h, ls, lt):  # (h, B, 1, Ls), where lib reads (B, h, 1, Ls)
    return (keep[None, :, None, :].expand(h, b, 1, ls),) * 2


def _batch_major(keep, b, h, ls, lt):  # .repeat_interleave: row b·h + i, as lib reads it
    return tuple(keep[:, None, :].expand(b, lq, ls).repeat_interleave(h, dim=0) for lq in (ls, lt))


def _batch_first(keep, b, h, ls, lt):  # (B, h, 1, Ls), every head the same
    return (keep[:, None, None, :].expand(b, h, 1, ls),) * 2


@pytest.mark.parametrize("masks", [_head_major, _heads_first])
def test_a_per_head_mask_with_its_axes_swapped_is_named(masks):
    result = assembly.check_encoder_decoder_forward(_seq2seq(masks))
    assert result.status == WRONG and "batch and head axes swapped" in result.message, result.message


@pytest.mark.parametrize("masks", [_batch_major, _batch_first])
def test_a_per_head_mask_the_right_way_round_passes(masks):
    result = assembly.check_encoder_decoder_forward(_seq2seq(masks))
    assert result.status == PASSED, result.message


def _masked_weights(build):
    def masked_weights(scores, ids, pad_id):
        length = scores.shape[-1]
        allowed = build(torch.ones(length, length, dtype=torch.bool).tril(), ids != pad_id)
        return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)

    return masked_weights


@pytest.mark.parametrize(
    "build",
    [
        lambda tri, keep: (tri & keep[:, None, :]).transpose(0, 1),  # batch and query axes swapped
        lambda tri, keep: tri & keep[None, :, :],  # (1, B, L): the batch where the queries go
        lambda tri, keep: (tri & keep[:, None, :]).transpose(1, 2),  # queries and keys swapped
    ],
)
def test_exercise_06_catches_a_mask_with_its_axes_swapped(build):
    """Exercise 06's batches are never as long as their sentences (B ≠ L), so a swap fails."""
    result = masks.check_causal_masked_weights(_masked_weights(build))
    assert result.status == WRONG, result.message
