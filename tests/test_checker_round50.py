"""Round 50: the checker findings of review D (chapters 02, 03, 08, 09), each learner's code as
the review wrote it, and a right answer near it that must still pass with no new text.

1. cached_attention_step: training's (t + 1, t + 1) causal mask for the one new query.
2. sample_next_token: a None top_k compared or subtracted (a TypeError naming NoneType).
3. keep_top_p: the ranked probabilities put back with torch.arange(B) without [:, None], or
   with out[:, order].
4. sample_next_token: ``top_k or 1``, which kept one token for None, was called argmax.
5. train_step: which of four slips left the weights unchanged.
6. keep_top_p: top-p read as a fixed share of the tokens.
7. cached_attention_step: the keys and values swapped in the attention.
8. sinusoidal_encoding: the exp/log form without its minus.
9. sample_next_token: num_samples set to the batch size (without replacement: an error).
10. sample_next_token: torch.manual_seed inside the function.
11. sinusoidal_encoding: frequencies reversed, d_model typed in as 512, the cos column with the
    next pair's frequency; keep_top_p: the first row's nucleus for every row.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from transformer_course import checks
from transformer_course.checks import WRONG

# --- 1 and 7: cached_attention_step ---


def _grown(k_new, v_new, past_k, past_v):
    if past_k is None:
        return k_new, v_new
    return torch.cat([past_k, k_new], 2), torch.cat([past_v, v_new], 2)


def _full_mask_fill(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(k_new, v_new, past_k, past_v)
    T = keys.shape[2]
    s = q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])
    s = s.masked_fill(torch.tril(torch.ones(T, T)) == 0, float("-inf"))
    return F.softmax(s, dim=-1) @ values, keys, values


def _full_mask_sdpa(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(k_new, v_new, past_k, past_v)
    T = keys.shape[2]
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    return F.scaled_dot_product_attention(q, keys, values, attn_mask=mask), keys, values


def _last_row_of_the_mask(q, k_new, v_new, past_k, past_v):  # right: the last row is all True
    keys, values = _grown(k_new, v_new, past_k, past_v)
    T = keys.shape[2]
    mask = torch.ones(T, T, dtype=torch.bool).tril()[-1:]
    return F.scaled_dot_product_attention(q, keys, values, attn_mask=mask), keys, values


def _swapped_sdpa(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(k_new, v_new, past_k, past_v)
    return F.scaled_dot_product_attention(q, values, keys), keys, values


def _swapped_by_hand(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(k_new, v_new, past_k, past_v)
    w = torch.softmax(q @ values.mT / math.sqrt(q.shape[-1]), dim=-1)
    return w @ keys, keys, values


@pytest.mark.parametrize("fn", [_full_mask_fill, _full_mask_sdpa], ids=["masked_fill", "sdpa attn_mask"])
def test_trainings_full_causal_mask_is_named(fn):
    result = checks.check_cached_attention_step(fn)
    assert result.status == WRONG, result.message
    assert "training's (t + 1, t + 1) causal mask" in result.message, result.message
    assert "no mask is needed" in result.message, result.message


@pytest.mark.parametrize("fn", [_swapped_sdpa, _swapped_by_hand], ids=["sdpa", "by hand"])
def test_keys_and_values_swapped_are_named(fn):
    result = checks.check_cached_attention_step(fn)
    assert result.status == WRONG and "compared q with the values and gathered the keys" in result.message


def test_the_masks_last_row_still_passes_with_no_new_text():
    result = checks.check_cached_attention_step(_last_row_of_the_mask)
    assert result.passed and "mask" not in result.message, result.message


# --- 2, 4, 9, 10: sample_next_token ---


def _sampled(z, top_k, kth=None):
    if kth is not None:
        z = z.masked_fill(z < kth, float("-inf"))
    return torch.multinomial(torch.softmax(z, -1), 1).squeeze(-1)


def _greater_than_zero(logits, temperature, top_k):
    z = logits / temperature
    return _sampled(z, top_k, z.topk(top_k, -1).values[:, -1:] if top_k > 0 else None)


def _at_least_one(logits, temperature, top_k):
    z = logits / temperature
    return _sampled(z, top_k, z.topk(top_k, -1).values[:, -1:] if top_k >= 1 else None)


def _min_without_the_guard(logits, temperature, top_k):
    z = logits / temperature
    k = min(top_k, z.shape[-1])
    return _sampled(z, top_k, z.topk(k, -1).values[:, -1:])


def _sorted_without_the_guard(logits, temperature, top_k):
    z = logits / temperature
    return _sampled(z, top_k, z.sort(-1, descending=True).values[:, top_k - 1 : top_k])


@pytest.mark.parametrize(
    "fn",
    [_greater_than_zero, _at_least_one, _min_without_the_guard, _sorted_without_the_guard],
    ids=["top_k > 0", "top_k >= 1", "min(top_k, V)", "top_k - 1"],
)
def test_a_none_top_k_in_a_comparison_or_arithmetic_is_named(fn):
    result = checks.check_sample_next_token(fn)
    assert result.status == WRONG and "top_k may be None" in result.message, result.message


def _top_k_or_1(logits, temperature, top_k):
    z = logits / temperature
    kth = z.topk(top_k or 1, -1).values[:, -1:]
    z = z.masked_fill(z < kth, float("-inf"))
    return torch.multinomial(torch.softmax(z, -1), 1).squeeze(-1)


def _top_k_or_v(logits, temperature, top_k):
    z = logits / temperature
    kth = z.topk(top_k or z.shape[-1], -1).values[:, -1:]
    z = z.masked_fill(z < kth, float("-inf"))
    return torch.multinomial(torch.softmax(z, -1), 1).squeeze(-1)


def test_top_k_or_1_is_not_called_greedy_decoding():
    result = checks.check_sample_next_token(_top_k_or_1)
    assert result.status == WRONG, result.message
    assert "argmax" not in result.message and "greedy" not in result.message, result.message
    assert "With top_k None every token must stay" in result.message, result.message


def test_top_k_or_v_still_passes_with_no_new_text():
    result = checks.check_sample_next_token(_top_k_or_v)
    assert result.passed and result.message.endswith("matches the reference on all 4 inputs."), result.message


def _batch_size_draws(logits, temperature, top_k):
    z = logits / temperature
    if top_k is not None:
        z = z.masked_fill(z < z.topk(top_k, -1).values[:, -1:], float("-inf"))
    return torch.multinomial(torch.softmax(z, -1), z.shape[0])[:, 0]


def test_num_samples_set_to_the_batch_size_is_named():
    result = checks.check_sample_next_token(_batch_size_draws)
    assert result.status == WRONG and "num_samples=1" in result.message, result.message


def _seeded(seed):
    def sample(logits, temperature, top_k):
        torch.manual_seed(seed)  # "for reproducibility"
        z = logits / temperature
        if top_k is not None:
            z = z.masked_fill(z < z.topk(top_k, -1).values[:, -1:], float("-inf"))
        return torch.multinomial(torch.softmax(z, -1), 1).squeeze(-1)

    return sample


@pytest.mark.parametrize("seed", [0, 42])
def test_a_seed_inside_the_sampler_is_noted(seed):
    result = checks.check_sample_next_token(_seeded(seed))
    assert result.passed, result.message  # the draws are right: a note, not a wrong verdict
    assert "draws the same tokens on every call" in result.message, result.message
    assert "draws the same tokens on every call" in result.note


def test_the_seed_note_leaves_the_callers_random_state_alone():
    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    checks.check_sample_next_token(_top_k_or_v)
    assert torch.equal(torch.rand(3), want)


def _one_draw_for_all(logits, temperature, top_k):
    z = logits / temperature
    if top_k is not None:
        z = z.masked_fill(z < z.topk(top_k, -1).values[:, -1:], float("-inf"))
    t = torch.multinomial(torch.softmax(z, -1)[0], 1)
    return t.expand(z.shape[0])


def test_one_draw_copied_to_every_row_is_named():
    result = checks.check_sample_next_token(_one_draw_for_all)
    named = "Every row of your batch got one and the same token"
    assert result.status == WRONG and result.message.startswith(named), result.message


# --- 3, 6, 11: keep_top_p ---


def _ranked(probs, top_p):
    s, i = probs.sort(-1, descending=True)
    return s.masked_fill((s.cumsum(-1) - s) >= top_p, 0.0), i


def _arange_without_an_axis(probs, top_p):
    ranked, order = _ranked(probs, top_p)
    out = torch.zeros_like(probs)
    out[torch.arange(probs.shape[0]), order] = ranked
    return out / out.sum(-1, keepdim=True)


def _every_column(probs, top_p):
    ranked, order = _ranked(probs, top_p)
    out = torch.zeros_like(probs)
    out[:, order] = ranked
    return out / out.sum(-1, keepdim=True)


def _arange_with_an_axis(probs, top_p):
    ranked, order = _ranked(probs, top_p)
    out = torch.zeros_like(probs)
    out[torch.arange(probs.shape[0])[:, None], order] = ranked
    return out / out.sum(-1, keepdim=True)


@pytest.mark.parametrize("fn", [_arange_without_an_axis, _every_column], ids=["arange(B)", "out[:, order]"])
def test_a_row_index_that_does_not_pair_with_the_ids_is_named(fn):
    result = checks.check_keep_top_p(fn)
    assert result.status == WRONG and "torch.arange(B)[:, None]" in result.message, result.message


def test_the_row_index_with_its_axis_still_passes_with_no_new_text():
    result = checks.check_keep_top_p(_arange_with_an_axis)
    assert result.passed and "arange" not in result.message, result.message


def _fixed_share(probs, top_p):
    k = max(1, int(top_p * probs.shape[-1]))
    v, i = probs.topk(k, -1)
    out = torch.zeros_like(probs).scatter(-1, i, v)
    return out / out.sum(-1, keepdim=True)


def test_top_p_as_a_fixed_share_is_named():
    result = checks.check_keep_top_p(_fixed_share)
    assert result.status == WRONG and "fixed share of the tokens" in result.message, result.message


def _first_row_only(probs, top_p):
    s, i = probs[0].sort(descending=True)
    s = s.masked_fill((s.cumsum(-1) - s) >= top_p, 0.0)
    out = torch.zeros_like(probs[0]).scatter(-1, i, s)
    return (out / out.sum()).expand_as(probs)


def test_the_first_rows_nucleus_for_every_row_is_named():
    result = checks.check_keep_top_p(_first_row_only)
    assert result.status == WRONG and "FIRST row's nucleus" in result.message, result.message


# --- 5: train_step ---


def _no_backward(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    optimiser.step()
    return loss.item()


def _backward_without_brackets(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward  # noqa: B018 (the learner's slip)
    optimiser.step()
    return loss.item()


def _no_step(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    return loss.item()


def _step_without_brackets(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step  # noqa: B018 (the learner's slip)
    return loss.item()


def _zero_between(model, optimiser, loss_fn, batch):
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.zero_grad()
    optimiser.step()
    return loss.item()


def _step_first(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    optimiser.step()
    loss.backward()
    return loss.item()


@pytest.mark.parametrize(
    ("fn", "why"),
    [
        (_no_backward, "no gradient reached the weights"),
        (_backward_without_brackets, "no gradient reached the weights"),
        (_no_step, "optimiser.step() never ran"),
        (_step_without_brackets, "optimiser.step() never ran"),
        (_zero_between, "zero_grad() runs between loss.backward() and optimiser.step()"),
        (_step_first, "optimiser.step() runs before loss.backward()"),
    ],
    ids=["no backward", "backward no brackets", "no step", "step no brackets", "zero between", "step first"],
)
def test_the_weights_never_changed_says_which_slip(fn, why):
    result = checks.check_train_step(fn)
    assert result.status == WRONG and result.message.startswith(f"In yours, {why}"), result.message
    assert "The weights never changed" in result.message, result.message


def _zero_last(model, optimiser, loss_fn, batch):
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    optimiser.zero_grad()  # right: cleared for the next step
    return loss.item()


def test_zero_grad_after_the_step_still_passes_with_no_new_text():
    result = checks.check_train_step(_zero_last)
    assert result.passed and "In yours" not in result.message, result.message


# --- 8 and 11: sinusoidal_encoding ---


def _table(length, d_model, angle_even, angle_odd=None):
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(angle_even)
    pe[:, 1::2] = torch.cos(angle_even if angle_odd is None else angle_odd)
    return pe


def _exp_without_the_minus(length, d_model):
    pos = torch.arange(length).unsqueeze(1).float()
    div = torch.exp(torch.arange(0, d_model, 2).float() * (math.log(10000.0) / d_model))
    return _table(length, d_model, pos * div)


def _exp_with_the_minus(length, d_model):
    pos = torch.arange(length).unsqueeze(1).float()
    div = torch.exp(torch.arange(0, d_model, 2).float() * -(math.log(10000.0) / d_model))
    return _table(length, d_model, pos * div)


def _pow_multiplied(length, d_model):
    pos = torch.arange(length).unsqueeze(1).float()
    return _table(length, d_model, pos * 10000 ** (torch.arange(0, d_model, 2).float() / d_model))


def test_the_exp_form_without_its_minus_gets_the_exp_forms_advice():
    result = checks.check_sinusoidal_encoding(_exp_without_the_minus)
    assert result.status == WRONG and "the exponent needs its minus" in result.message, result.message


def test_the_pow_form_multiplied_keeps_the_pow_forms_advice():
    result = checks.check_sinusoidal_encoding(_pow_multiplied)
    assert result.status == WRONG and "You multiplied the position by 10000" in result.message
    assert "minus" not in result.message, result.message


def test_the_exp_form_with_its_minus_still_passes_with_no_new_text():
    result = checks.check_sinusoidal_encoding(_exp_with_the_minus)
    assert result.passed and "minus" not in result.message, result.message


def _reversed(length, d_model):
    pos = torch.arange(length)[:, None].float()
    two_i = torch.arange(0, d_model, 2).float().flip(0)
    return _table(length, d_model, pos / 10000 ** (two_i / d_model))


def _typed_512(length, d_model):
    pos = torch.arange(length)[:, None].float()
    return _table(length, d_model, pos / 10000 ** (torch.arange(0, d_model, 2).float() / 512))


def _next_pair_for_cos(length, d_model):
    pos = torch.arange(length)[:, None].float()
    two_i = torch.arange(0, d_model, 2).float()
    return _table(length, d_model, pos / 10000 ** (two_i / d_model), pos / 10000 ** ((two_i + 2) / d_model))


@pytest.mark.parametrize(
    ("fn", "named"),
    [
        (_reversed, "Your frequencies run the wrong way"),
        (_typed_512, "Your exponent divides by 512"),
        (_next_pair_for_cos, "Your cos column 2i+1 uses the NEXT pair's frequency"),
    ],
    ids=["reversed", "512", "next pair"],
)
def test_rarer_table_slips_are_named(fn, named):
    result = checks.check_sinusoidal_encoding(fn)
    assert result.status == WRONG and result.message.startswith(named), result.message
