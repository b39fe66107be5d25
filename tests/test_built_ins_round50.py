"""Round 50: the built-in note, written over by the learner's own numbers, and on every exercise.

1. ``out = torch.softmax(x, -1)`` and then ``out[...] = mine``, a row loop ``out[i] = mine[i]``, a
   write through a view, or ``out.zero_()`` then ``+= mine``: no value of the built-in is left
   in the answer, so no note (``checks.overwrites``). A write that leaves some of the built-in's
   values, or puts them back, keeps the note.
2. The exercises whose answer lib (or PyTorch) computes, and that ask the learner to write it,
   have a note too: chapter 02's encoding, 03's scores, 04's head, 07's feed-forward, Add & Norm,
   encoder and decoder layers, 08's loss, greedy decoding and sampling, 09's top-p.
"""

from __future__ import annotations

import importlib
import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from transformer_course.attention import attention_scores, scaled_dot_product_attention
from transformer_course.checks import PASSED, WRONG, asked_for, exercise
from transformer_course.checks import overwrites as overwrites_module
from transformer_course.checks.built_ins import calls_of
from transformer_course.generation import greedy_decode, keep_top_p, next_token_probs
from transformer_course.layers import FeedForward
from transformer_course.masks import causal_mask
from transformer_course.positional import SinusoidalPositionalEncoding, sinusoidal_encoding
from transformer_course.training import seq2seq_loss

REMARK = "does the work this exercise asks you to write yourself"


def _mine(scores):
    e = (scores - scores.amax(dim=-1, keepdim=True)).exp()
    return e / e.sum(dim=-1, keepdim=True)


# --- 1. The built-in's output written over with the learner's own numbers ---


def _all_written_with_an_ellipsis(scores):
    out = torch.softmax(scores, dim=-1)
    out[...] = _mine(scores)
    return out


def _all_written_with_a_colon(scores):
    out = torch.softmax(scores, dim=-1)
    out[:] = _mine(scores)
    return out


def _written_row_by_row(scores):
    out = torch.softmax(scores, dim=-1)
    for i in range(scores.shape[0]):
        out[i] = _mine(scores[i])
    return out


def _copied_row_by_row(scores):  # each write goes through a view, out[i], into out's storage
    out = torch.softmax(scores, dim=-1)
    for i in range(scores.shape[0]):
        out[i].copy_(_mine(scores[i]))
    return out


def _written_through_a_flat_view(scores):
    out = torch.softmax(scores, dim=-1)
    out.view(-1)[:] = _mine(scores).reshape(-1)
    return out


def _zeroed_then_added(scores):
    out = torch.softmax(scores, dim=-1)
    out.zero_()
    out += _mine(scores)
    return out


@pytest.mark.parametrize(
    "fn",
    [
        _all_written_with_an_ellipsis,
        _all_written_with_a_colon,
        _written_row_by_row,
        _copied_row_by_row,
        _written_through_a_flat_view,
        _zeroed_then_added,
    ],
    ids=[
        "out[...] =",
        "out[:] =",
        "out[i] = per row",
        "out[i].copy_ per row",
        "a flat view",
        "zero_ then +=",
    ],
)
def test_a_built_ins_output_written_over_with_ones_own_numbers_is_not_noted(fn):
    result = exercise("softmax").check(fn)
    assert result.status == PASSED and not result.note, result.message


def _first_row_only(scores):
    out = torch.softmax(scores, dim=-1)
    out[0] = _mine(scores[0])  # the other rows are still torch's
    return out


def _one_column_only(scores):
    out = torch.softmax(scores, dim=-1)
    out[..., :1] = _mine(scores)[..., :1]
    return out


def _written_over_then_put_back(scores):
    out = torch.softmax(scores, dim=-1)
    out[...] = _mine(scores)
    out[0] = torch.softmax(scores[0], dim=-1)  # torch's values again, in row 0: this call is quoted
    return out


def _first_row_through_a_view(scores):
    out = torch.softmax(scores, dim=-1)
    out.view(-1)[: scores.shape[-1]] = _mine(scores).reshape(-1)[: scores.shape[-1]]
    return out


@pytest.mark.parametrize(
    "fn",
    [_first_row_only, _one_column_only, _written_over_then_put_back, _first_row_through_a_view],
    ids=["one row", "one column", "written over, then torch's again", "a view's part"],
)
def test_a_partial_overwrite_keeps_the_note(fn):
    result = exercise("softmax").check(fn)
    assert result.status == PASSED and "`torch.softmax(scores" in result.note, result.message


def test_a_view_of_another_element_size_is_not_counted_and_the_note_stays():
    def written_as_bytes_of_another_size(scores):
        out = torch.softmax(scores.double(), dim=-1)
        out.view(torch.int32)[...] = 0  # the replay cannot map int32 elements onto float64 ones
        return out

    assert "torch.softmax" in calls_of(
        written_as_bytes_of_another_size, (torch.randn(3, 4),), asked_for.SOFTMAX
    )


def test_nothing_is_replayed_before_something_is_marked(monkeypatch):
    covered = []
    original = overwrites_module.Overwrites.cover

    def counting(self, *args):
        covered.append(1)
        return original(self, *args)

    monkeypatch.setattr(overwrites_module.Overwrites, "cover", counting)

    def by_hand_in_place(scores):
        out = torch.empty_like(scores)
        for i in range(scores.shape[0]):
            out[i] = _mine(scores[i])
        return out

    assert calls_of(by_hand_in_place, (torch.randn(3, 4),), asked_for.SOFTMAX) == {}
    assert covered == []
    assert calls_of(_written_row_by_row, (torch.randn(3, 4),), asked_for.SOFTMAX) == {}
    assert len(covered) == 3  # one replay a row, once the output is marked


# --- 2. The other exercises whose answer lib or PyTorch computes ---


def _encoding_of_lib(length, d_model):
    return sinusoidal_encoding(length, d_model)


def _encoding_of_libs_module(length, d_model):
    return SinusoidalPositionalEncoding(d_model, max_len=length)(torch.zeros(1, length, d_model))[0]


def _scores_of_lib(q, k):
    return attention_scores(q, k, scale=1.0)


def _head_of_lib(x, w_q, w_k, w_v):
    return scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)


def _head_of_torch(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return F.scaled_dot_product_attention(q, k, v), weights


def _feed_forward_of_lib(x, w_1, b_1, w_2, b_2):
    layer = FeedForward(w_1.shape[0], w_1.shape[1], dropout=0.0)
    with torch.no_grad():  # nn.Linear's (out, in) layout
        for linear, w, b in ((layer.linear1, w_1, b_1), (layer.linear2, w_2, b_2)):
            linear.weight.copy_(w.T)
            linear.bias.copy_(b)
    return layer(x.reshape(1, -1, x.shape[-1])).reshape(*x.shape[:-1], -1)  # lib's takes (B, L, d)


def _add_norm_of_lib(block, x, sublayer):
    return block(x, sublayer)


def _encoder_layer_of_lib(layer, x, mask):
    return layer(x, mask)


def _decoder_layer_of_lib(layer, x, memory):
    return layer(x, memory, causal_mask(x.shape[1]))


def _loss_of_lib(model, src, trg, pad_id):
    return seq2seq_loss(model, (src, trg), pad_id=pad_id)


def _greedy_of_lib(logits_fn, prompt, max_new_tokens, eos_id):
    return greedy_decode(logits_fn, prompt[None], max_new_tokens=max_new_tokens, eos_id=eos_id)[0]


def _sample_of_lib(logits, temperature, top_k):
    probs = next_token_probs(logits, temperature=temperature, top_k=top_k)
    return torch.multinomial(probs, 1).squeeze(-1)


def _top_p_of_lib(probs, top_p):
    return keep_top_p(probs, top_p)


CALLS = [
    ("sinusoidal_encoding", _encoding_of_lib, "`sinusoidal_encoding(length, d_model)`"),
    (
        "sinusoidal_encoding",
        _encoding_of_libs_module,
        "`SinusoidalPositionalEncoding(d_model, max_len=length)(",
    ),
    ("attention_scores", _scores_of_lib, "`attention_scores(q, k, scale=1.0)`"),
    ("attention", _head_of_lib, "`scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)`"),
    ("attention", _head_of_torch, "`F.scaled_dot_product_attention(q, k, v)`"),
    ("feed_forward", _feed_forward_of_lib, "`layer(x.reshape(1, -1, x.shape[-1]))`"),
    ("add_norm", _add_norm_of_lib, "`block(x, sublayer)`"),
    ("encoder_layer", _encoder_layer_of_lib, "`layer(x, mask)`"),
    ("decoder_layer", _decoder_layer_of_lib, "`layer(x, memory, causal_mask(x.shape[1]))`"),
    ("teacher_forcing_loss", _loss_of_lib, "`seq2seq_loss(model, (src, trg), pad_id=pad_id)`"),
    ("greedy_decode", _greedy_of_lib, "`greedy_decode(logits_fn, prompt[None]"),
    ("sample_next_token", _sample_of_lib, "`next_token_probs(logits, temperature=temperature, top_k=top_k)`"),
    ("keep_top_p", _top_p_of_lib, "`keep_top_p(probs, top_p)`"),
]


@pytest.mark.parametrize(("name", "fn", "quote"), CALLS, ids=[c[1].__name__ for c in CALLS])
def test_a_right_answer_that_calls_lib_or_torchs_version_passes_and_is_told(name, fn, quote):
    result = exercise(name).check(fn)
    assert result.status == PASSED, result.message
    lines, first = inspect.getsourcelines(fn)
    line = first + next(i for i, text in enumerate(lines) if quote.strip("`").split("(")[0] + "(" in text)
    assert f"But your {quote}" in result.note and f" on line {line}" in result.note, result.message
    assert REMARK in result.note and result.message.endswith(result.note), result.message


NAMES = sorted({c[0] for c in CALLS})


@pytest.mark.parametrize("name", NAMES)
def test_the_solution_written_by_hand_gets_no_note(name):
    result = exercise(name).check(exercise(name).solution)
    assert result.status == PASSED and not result.note, result.message


CHECKERS = {  # the module whose check calls note_built_ins
    "sinusoidal_encoding": "positions",
    "attention_scores": "attention",
    "attention": "head",
    "feed_forward": "feed_forward",
    "add_norm": "add_norm",
    "encoder_layer": "encoder_layer",
    "decoder_layer": "layers",
    "teacher_forcing_loss": "loss",
    "greedy_decode": "generation",
    "sample_next_token": "sampling",
    "keep_top_p": "nucleus",
}


def _doubled(fn):
    def wrong(*args):
        got = fn(*args)
        return tuple(2 * g for g in got) if isinstance(got, tuple) else 2 * got

    wrong.__name__ = fn.__name__
    return wrong


def _draws_the_last_token(logits, temperature, top_k):
    probs = next_token_probs(logits, temperature=temperature, top_k=top_k)
    return torch.full(probs.shape[:1], probs.shape[-1] - 1)


WRONG_CALLS = [(c[0], c[1]) for c in CALLS if c[0] not in ("sample_next_token", "greedy_decode")]
WRONG_CALLS += [
    ("sample_next_token", _draws_the_last_token),
    ("greedy_decode", lambda f, p, n, e: greedy_decode(f, p[None], max_new_tokens=n, eos_id=e)[0][:-1]),
]


@pytest.mark.parametrize(
    ("name", "fn"), WRONG_CALLS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(WRONG_CALLS)]
)
def test_a_wrong_answer_that_calls_it_keeps_its_verdict(name, fn, monkeypatch):
    wrong = fn if name in ("sample_next_token", "greedy_decode") else _doubled(fn)
    result = exercise(name).check(wrong)
    assert result.status == WRONG and not result.note and REMARK not in result.message, result.message
    checker = importlib.import_module(f"transformer_course.checks.{CHECKERS[name]}")
    monkeypatch.setattr(checker, "note_built_ins", lambda result, *args, **kwargs: result)
    assert exercise(name).check(wrong).message == result.message


def test_the_extra_runs_leave_the_notebooks_gpu_random_state_alone(monkeypatch):
    # torch.manual_seed seeds every device; the runs that look for built-ins fork the CPU's only.
    seeded = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", seeded.append)
    assert exercise("softmax").check(_first_row_only).note
    assert seeded == []
    assert exercise("sample_next_token").check(_sample_of_lib).note
    assert seeded == []


def test_a_row_written_back_with_torchs_values_must_be_written_over_again():
    def rows_mine_then_torchs_then_mine(scores, last_row_mine):
        out = torch.softmax(scores, dim=-1)  # (3, 4)
        out[0], out[1] = _mine(scores[0]), _mine(scores[1])
        out[0] = torch.softmax(scores[0], dim=-1)  # row 0 is torch's again
        out[2] = _mine(scores[2])  # as many elements written over as out has: row 0 is still torch's
        if last_row_mine:
            out[0] = _mine(scores[0])
        return out

    scores = torch.randn(3, 4)
    assert calls_of(rows_mine_then_torchs_then_mine, (scores, False), asked_for.SOFTMAX)
    assert calls_of(rows_mine_then_torchs_then_mine, (scores, True), asked_for.SOFTMAX) == {}


def test_a_row_loop_looks_at_the_whole_tensor_once(monkeypatch):
    looks = []
    window = overwrites_module._window
    monkeypatch.setattr(overwrites_module, "_window", lambda *args: looks.append(1) or window(*args))
    assert calls_of(_written_row_by_row, (torch.randn(200, 50),), asked_for.SOFTMAX) == {}
    assert len(looks) == 200 + 1  # one replay a row, one look at the whole once they add up to it
