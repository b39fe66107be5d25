"""Round 50b: review D's findings that round 50 left, each learner's code as the review wrote it,
and a right answer near it that must still pass with no new text.

11. gpt_forward: the position rows from the end of the table (weight[-L:]), and one position
    per story (positions(torch.arange(B))[:, None]); teacher_forcing_loss: the logits reshaped
    to (V, N) and transposed back; sample_next_token: the first row's k-th largest logit as
    every row's threshold.
12. sinusoidal_encoding: a table cached by its length alone.
13. greedy_decode: a while loop whose counter is never increased; cached_attention_step: the
    cache written with past_k.data = keys, which the in-place note now quotes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from transformer_course import checks
from transformer_course.checks import PASSED, WRONG


def says(result, *words):
    """The check failed (never passed, never crashed) and its message holds every phrase."""
    assert result.status == WRONG, result
    for word in words:
        assert word in result.message, result.message


def passes_without(result, *words):
    """The check passed and its message holds none of the phrases."""
    assert result.status == PASSED, result
    for word in words:
        assert word not in result.message, result.message


# --- 11: gpt_forward's positions ---


def _gpt(parts, ids, positions):
    """The right forward pass with ``positions(parts, ids)`` added to the scaled token vectors."""
    L = ids.shape[1]
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + positions(parts, ids)
    for b in parts.blocks:
        x = b(x, torch.ones(L, L, dtype=torch.bool).tril())
    return parts.norm(x) @ parts.token.weight.T


def test_gpt_with_the_last_rows_of_the_position_table_is_named():
    last = lambda parts, ids: _gpt(parts, ids, lambda p, i: p.positions.weight[-i.shape[1] :])  # noqa: E731
    says(checks.check_gpt_forward(last), "LAST L rows of the position table", "weight[:L]")


def test_gpt_with_one_position_per_story_is_named():
    def stories(p, i):
        B = i.shape[0]
        return p.positions(torch.arange(B))[:, None]

    says(checks.check_gpt_forward(lambda parts, ids: _gpt(parts, ids, stories)), "one per STORY", "0 … L-1")


def test_gpt_with_the_first_rows_of_the_table_passes_with_no_new_text():
    first = lambda parts, ids: _gpt(parts, ids, lambda p, i: p.positions.weight[: i.shape[1]])  # noqa: E731
    passes_without(checks.check_gpt_forward(first), "LAST L rows", "one per STORY")


# --- 11: teacher_forcing_loss flattened through (V, N) ---


def test_loss_reshaped_to_the_vocabulary_first_and_transposed_is_named():
    def loss(model, src, trg, pad_id):
        logits = model(src, trg[:, :-1])
        V = logits.shape[-1]
        return F.cross_entropy(logits.reshape(V, -1).T, trg[:, 1:].reshape(-1), ignore_index=pad_id)

    says(checks.check_teacher_forcing_loss(loss), "transposed them back", "logits.reshape(-1, V)")


def test_loss_flattened_with_the_vocabulary_last_passes_with_no_new_text():
    def loss(model, src, trg, pad_id):
        logits = model(src, trg[:, :-1])
        V = logits.shape[-1]
        return F.cross_entropy(logits.reshape(-1, V), trg[:, 1:].reshape(-1), ignore_index=pad_id)

    passes_without(checks.check_teacher_forcing_loss(loss), "(V, B·T)")


# --- 11: sample_next_token with one threshold for the batch ---


def _sampler(threshold):
    def sample(logits, temperature, top_k):
        z = logits / temperature
        if top_k is not None:
            z = z.masked_fill(z < threshold(z, top_k), float("-inf"))
        return torch.multinomial(torch.softmax(z, -1), 1).squeeze(-1)

    return sample


def test_a_sampler_with_the_first_rows_threshold_is_named():
    first_row = _sampler(lambda z, k: z[0].topk(k).values[-1])  # review D's w_topk_first_row
    says(checks.check_sample_next_token(first_row), "ONE threshold for every row", "values[:, -1:]")


def test_a_sampler_with_the_smallest_threshold_of_the_batch_is_named_too():
    smallest = _sampler(lambda z, k: z.topk(k, dim=-1).values[:, -1].min())
    says(checks.check_sample_next_token(smallest), "ONE threshold for every row")


def test_a_sampler_with_each_rows_own_threshold_passes_with_no_new_text():
    own = _sampler(lambda z, k: z.topk(k, dim=-1).values[..., -1, None])
    passes_without(checks.check_sample_next_token(own), "ONE threshold")


# --- 12: sinusoidal_encoding cached by length ---


def _table(length, d_model):
    pos = torch.arange(length)[:, None].float()
    angle = pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)  # (length, d_model)


def test_a_table_cached_by_its_length_alone_fails():
    def cached(length, d_model, _cache={}):  # noqa: B006 - the learner's cache, kept on purpose
        if length not in _cache:
            _cache[length] = _table(length, d_model)
        return _cache[length]

    result = checks.check_sinusoidal_encoding(cached)
    # The shape that differs, not a hint that blames the notebook's variables.
    says(result, "input #5", "expected shape (50, 8), got (50, 4)")
    assert "notebook" not in result.message, result.message


def test_a_table_cached_by_its_length_and_width_passes():
    def cached(length, d_model, _cache={}):  # noqa: B006
        if (length, d_model) not in _cache:
            _cache[length, d_model] = _table(length, d_model)
        return _cache[length, d_model]

    passes_without(checks.check_sinusoidal_encoding(cached), "beware")


# --- 13: wording ---


def test_greedy_with_a_counter_never_increased_is_asked_about_it():
    def greedy(logits_fn, prompt, max_new_tokens, eos_id):  # review D's w_counter_never_incremented
        ids = prompt.clone()
        n = 0
        while n < max_new_tokens:
            tok = logits_fn(ids.unsqueeze(0))[0, -1].argmax()
            ids = torch.cat([ids, tok.view(1)])
            if tok == eos_id:
                break
        return ids

    says(checks.check_greedy_decode(greedy), "never stops at max_new_tokens", "never increased", "n += 1")


def _cat(past, new):
    return new if past is None else torch.cat([past, new], dim=2)


def test_a_cache_written_through_data_is_quoted_in_the_note():
    def step(q, k_new, v_new, past_k, past_v):  # review D's w_inplace_cache
        keys, values = _cat(past_k, k_new), _cat(past_v, v_new)
        if past_k is not None:
            # one line, as the learner wrote it
            past_k.data = keys; past_v.data = values  # noqa: E702  # fmt: skip
        return F.scaled_dot_product_attention(q, keys, values), keys, values

    result = checks.check_cached_attention_step(step)
    assert result.status == PASSED, result
    assert "past_k.data = …" in result.message and "leaving past_k.data alone" in result.message
    assert "a method ending in _" not in result.message, result.message


def test_a_cache_grown_into_new_tensors_passes_with_no_note():
    def step(q, k_new, v_new, past_k, past_v):
        keys, values = _cat(past_k, k_new), _cat(past_v, v_new)
        return F.scaled_dot_product_attention(q, keys, values), keys, values

    passes_without(checks.check_cached_attention_step(step), "beware", ".data")


def test_the_exp_form_hint_needs_an_exp_call_not_the_letters_exp():
    """The pow form with a comment that says "expected" keeps the pow form's hint (last read)."""
    from transformer_course import checks
    from transformer_course.checks.positions_round50 import EXP_WITHOUT_MINUS

    def pow_form(length, d_model):  # the expected table, or so I thought
        pos = torch.arange(length).float()[:, None]
        angle = pos * 10000 ** (torch.arange(0, d_model, 2) / d_model)
        pe = torch.zeros(length, d_model)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
        return pe

    result = checks.check_sinusoidal_encoding(pow_form)
    assert not result.passed and EXP_WITHOUT_MINUS.hint not in result.message, result.message
    assert "10000^(2i/d_model); divide by it" in result.message, result.message
