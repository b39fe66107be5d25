"""Round 45: the cached step's squeeze blind spots, and an adversarial pass.

- cached_attention_step: a .squeeze() that drops the keys' axis only on the first step (an
  empty cache: the scores (B, h, 1, 1)) is named (it was "differs from the reference on input
  #4"); a .squeeze() before an einsum is named (it was a bare RuntimeError);
- a .squeeze() of the scores followed by weights @ values without the query's axis put back is
  named as such (it was "k not transposed"), while a real missing transpose keeps that name; in
  multi_head_attention a missing transpose is now named (it was a bare RuntimeError);
- the adversarial pass: the cache's keys with the new token's value only (was "k not
  transposed"), a causal mask that also shows the next token in gpt_forward (was "differs"),
  and the temperature put on the probabilities before a second softmax in sample_next_token
  (was "differs") are named; the other wrong answers tried were named already, and are pinned.
- the review: q squeezed before q @ keysᵀ raises the weights' squeeze's error word for word, so
  the hint names the query's axis dropped wherever it was (it said "your weights", a line that
  never ran); weights @ past_v, the cached values without the new token's, is named (it was "k
  not transposed", or a bare RuntimeError in an einsum).

The wrong answers are written apart from the catalogue's own examples, as a learner types them.
"""

import math

import pytest
import torch
from transformer_course.checks import cached_step
from transformer_course.checks.describe import same
from transformer_course.checks.harness import PASSED, WRONG, check_function
from transformer_course.checks.registry import exercise

STEP = "cached_attention_step"


def hint_of(exercise_name, mistake_name):
    return {m.name: m.hint for m in exercise(exercise_name).mistakes}[mistake_name]


def named(verdict, exercise_name, mistake_name):
    """The verdict is WRONG and gives that mistake's hint (an error's is followed by what was raised)."""
    return verdict.status == WRONG and verdict.message.startswith(hint_of(exercise_name, mistake_name))


def _cache(k_new, v_new, past_k, past_v):
    if past_k is None:
        return k_new, v_new
    return torch.cat((past_k, k_new), dim=2), torch.cat((past_v, v_new), dim=2)  # (B, h, t + 1, d)


# --- 1. The cached step: a squeeze that breaks on the first step only ---


def step_squeezing_the_last_axis(q, k_new, v_new, past_k, past_v):
    keys, values = _cache(k_new, v_new, past_k, past_v)
    scores = torch.matmul(q, keys.mT).squeeze(-1) / q.shape[-1] ** 0.5  # a no-op unless t + 1 = 1
    return torch.softmax(scores, dim=-1) @ values, keys, values


def step_squeezing_dim_3_in_place(q, k_new, v_new, past_k, past_v):
    keys, values = _cache(k_new, v_new, past_k, past_v)
    weights = torch.softmax(q @ keys.transpose(2, 3) / math.sqrt(q.size(-1)), dim=3)
    weights.squeeze_(3)  # (B, h, 1) on the first step
    return torch.matmul(weights, values), keys, values


@pytest.mark.parametrize("fn", [step_squeezing_the_last_axis, step_squeezing_dim_3_in_place])
def test_a_squeeze_that_breaks_the_first_step_only_is_named(fn):
    verdict = exercise(STEP).check(fn)
    assert named(verdict, STEP, ".squeeze() that drops the keys' axis on the first step"), verdict.message
    assert "first step" in verdict.message and ".squeeze(-2)" in verdict.message


@pytest.mark.parametrize("fn", [step_squeezing_the_last_axis, step_squeezing_dim_3_in_place])
def test_those_squeezes_are_right_wherever_the_cache_holds_positions(fn):
    """What the name rests on: every case but the first step (past None) passes."""
    cases = [c for c in cached_step._cases() if c[3] is not None]
    assert len(cases) == len(cached_step._cases()) - 1
    assert check_function(fn, cached_step.reference, cases, name="f").status == PASSED


def test_a_first_step_gone_wrong_without_a_squeeze_is_not_called_one():
    def step(q, k_new, v_new, past_k, past_v):
        if past_k is None:
            return q, k_new, v_new  # the query where the output belongs, on the first step only
        keys, values = _cache(k_new, v_new, past_k, past_v)
        return torch.softmax(q @ keys.mT / math.sqrt(q.shape[-1]), dim=-1) @ values, keys, values

    verdict = exercise(STEP).check(step)
    assert verdict.status == WRONG and "squeeze" not in verdict.message, verdict.message


def step_with_squeezed_einsums(q, k_new, v_new, past_k, past_v):
    keys, values = _cache(k_new, v_new, past_k, past_v)
    weights = torch.softmax(torch.einsum("bhqd,bhkd->bhqk", q, keys) / math.sqrt(q.shape[-1]), dim=-1)
    return torch.einsum("bhk,bhkd->bhd", weights.squeeze(), values)[:, :, None], keys, values


def test_a_squeeze_before_an_einsum_is_named():
    verdict = exercise(STEP).check(step_with_squeezed_einsums)
    assert named(verdict, STEP, ".squeeze() before an einsum"), verdict.message


def test_einsums_on_the_four_axes_pass():
    def step(q, k_new, v_new, past_k, past_v):
        keys, values = _cache(k_new, v_new, past_k, past_v)
        weights = torch.softmax(torch.einsum("bhqd,bhkd->bhqk", q, keys) / math.sqrt(q.shape[-1]), dim=-1)
        return torch.einsum("bhqk,bhkd->bhqd", weights, values), keys, values

    assert exercise(STEP).check(step).status == PASSED


# --- 2. weights @ values without the query's axis: not "k not transposed" ---


def _squeezed_then_multiplied(drop, put_back=False):
    def step(q, k_new, v_new, past_k, past_v):
        keys, values = _cache(k_new, v_new, past_k, past_v)
        weights = drop(torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1))
        return (weights.unsqueeze(-2) if put_back else weights) @ values, keys, values

    return step


DROPS = {
    ".squeeze(2)": lambda w: w.squeeze(2),
    "torch.squeeze": torch.squeeze,
    "[:, :, 0]": lambda w: w[:, :, 0],
}


@pytest.mark.parametrize("drop", list(DROPS.values()), ids=list(DROPS))
def test_weights_without_their_query_axis_are_named_so(drop):
    verdict = exercise(STEP).check(_squeezed_then_multiplied(drop))
    assert named(verdict, STEP, "the query's axis dropped before a matmul"), verdict.message
    assert "k not transposed" not in verdict.message and "unsqueeze(-2)" in verdict.message


def test_with_the_query_axis_put_back_the_squeeze_2_passes():
    """What the error's shapes stand for: the same answer, its axis put back, is right."""
    assert exercise(STEP).check(_squeezed_then_multiplied(DROPS[".squeeze(2)"], put_back=True)).passed


@pytest.mark.filterwarnings("ignore:The use of `x.T`:UserWarning")
@pytest.mark.parametrize("transposed", [lambda k: k, lambda k: k.T, lambda k: k.transpose(1, 3)])
def test_a_real_missing_transpose_keeps_its_name(transposed):
    def step(q, k_new, v_new, past_k, past_v):
        keys, values = _cache(k_new, v_new, past_k, past_v)
        return torch.softmax(q @ transposed(keys) / math.sqrt(q.shape[-1]), dim=-1) @ values, keys, values

    verdict = exercise(STEP).check(step)
    assert named(verdict, STEP, "k not transposed"), verdict.message


def _heads(x, w, num_heads):
    b, length, d_model = x.shape
    return (x @ w).view(b, length, num_heads, d_model // num_heads).transpose(1, 2)  # (B, h, L, d_head)


def _multi_head(scores_of):
    def attend(x, w_q, w_k, w_v, w_o, num_heads):
        q, k, v = (_heads(x, w, num_heads) for w in (w_q, w_k, w_v))
        weights = torch.softmax(scores_of(q, k) / math.sqrt(q.shape[-1]), dim=-1)
        return (weights @ v).transpose(1, 2).flatten(2) @ w_o

    return attend


def test_multi_head_names_a_missing_transpose():
    verdict = exercise("multi_head_attention").check(_multi_head(lambda q, k: q @ k))
    assert named(verdict, "multi_head_attention", "k not transposed"), verdict.message


def test_multi_head_with_the_transpose_passes_and_a_squeeze_keeps_its_name():
    assert exercise("multi_head_attention").check(_multi_head(lambda q, k: q @ k.mT)).passed
    verdict = exercise("multi_head_attention").check(_multi_head(lambda q, k: (q @ k.mT).squeeze()))
    assert named(verdict, "multi_head_attention", ".squeeze() on the attention weights"), verdict.message


def test_the_head_keeps_both_names():
    def head(transpose, squeeze):
        def attend(x, w_q, w_k, w_v):
            q, k, v = x @ w_q, x @ w_k, x @ w_v
            scores = q @ (k.T if transpose else k)
            weights = torch.softmax(
                (scores.squeeze() if squeeze else scores) / math.sqrt(k.shape[-1]), dim=-1
            )
            return weights @ v, weights

        return attend

    assert named(exercise("attention").check(head(False, False)), "attention", "k not transposed")
    assert named(exercise("attention").check(head(True, True)), "attention", ".squeeze() on one token")


# --- 3. The adversarial pass ---


def step_with_the_new_value_only(q, k_new, v_new, past_k, past_v):
    keys, values = _cache(k_new, v_new, past_k, past_v)
    weights = torch.softmax(q @ keys.mT / math.sqrt(q.shape[-1]), dim=-1)  # (B, h, 1, t + 1)
    return weights @ v_new, keys, v_new  # "values" left as the new token's


def test_the_caches_keys_with_the_new_tokens_value_only_is_named():
    verdict = exercise(STEP).check(step_with_the_new_value_only)
    assert named(verdict, STEP, "the new token's value only"), verdict.message


def _step(order="after", dim=2, divide=True, returns="grown"):
    def step(q, k_new, v_new, past_k, past_v):
        if past_k is None:
            keys, values = k_new, v_new
        else:
            pair = (
                ((past_k, k_new), (past_v, v_new)) if order == "after" else ((k_new, past_k), (v_new, past_v))
            )
            keys, values = torch.cat(pair[0], dim=dim), torch.cat(pair[1], dim=dim)
        scores = q @ keys.transpose(-2, -1)
        weights = torch.softmax(scores / math.sqrt(q.shape[-1]) if divide else scores, dim=-1)
        if returns == "old" and past_k is not None:
            return weights @ values, past_k, past_v
        return weights @ values, keys, values

    return step


PINNED = {  # named before this round, and after
    "new position first": _step(order="before"),
    "wrong axis": _step(dim=1),
    "no scaling": _step(divide=False),
    "old cache returned": _step(returns="old"),
}


@pytest.mark.parametrize("mistake", list(PINNED))
def test_the_cached_steps_other_slips_keep_their_names(mistake):
    verdict = exercise(STEP).check(PINNED[mistake])
    assert named(verdict, STEP, mistake), verdict.message


def _gpt(diagonal):
    def forward(parts, ids):
        length = ids.shape[1]
        x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(torch.arange(length))
        sees = torch.ones(length, length).tril(diagonal=diagonal).bool()
        for block in parts.blocks:
            x = block(x, sees)
        return parts.norm(x) @ parts.token.weight.T

    return forward


def test_a_mask_that_shows_the_next_token_is_named():
    verdict = exercise("gpt_forward").check(_gpt(diagonal=1))
    assert named(verdict, "gpt_forward", "the next token seen"), verdict.message
    assert exercise("gpt_forward").check(_gpt(diagonal=0)).passed
    assert named(exercise("gpt_forward").check(_gpt(diagonal=-1)), "gpt_forward", "the diagonal hidden")


def _sampler(temperature_on):
    def sample(logits, temperature, top_k):
        if top_k is not None:
            logits = logits.masked_fill(logits < torch.topk(logits, top_k).values[..., [-1]], -math.inf)
        probs = torch.softmax(logits, dim=-1)
        if temperature_on == "probabilities":
            probs = torch.softmax(probs / temperature, dim=-1)
        elif temperature_on == "a power":  # p ** (1 / T), renormalised: softmax(logits / T)
            probs = probs ** (1 / temperature)
        return torch.multinomial(probs, 1).view(-1)

    return sample


def test_the_temperature_on_the_probabilities_before_a_second_softmax_is_named():
    verdict = exercise("sample_next_token").check(_sampler("probabilities"))
    hint = "temperature on the probabilities, then a second softmax"
    assert named(verdict, "sample_next_token", hint), verdict.message


def test_the_temperature_as_a_power_of_the_probabilities_passes():
    assert exercise("sample_next_token").check(_sampler("a power")).passed


def test_the_temperature_after_the_softmax_keeps_its_name():
    def sample(logits, temperature, top_k):
        if top_k is not None:
            logits = logits.masked_fill(logits < logits.topk(top_k, dim=-1).values[:, -1:], -math.inf)
        return torch.multinomial(torch.softmax(logits, dim=-1) / temperature, 1).squeeze(1)

    verdict = exercise("sample_next_token").check(sample)
    assert named(verdict, "sample_next_token", "temperature has no effect"), verdict.message


def test_top_k_keeping_k_plus_one_keeps_its_name():
    def sample(logits, temperature, top_k):
        logits = logits / temperature
        if top_k is not None:
            kth = logits.sort(dim=-1, descending=True).values[:, top_k : top_k + 1]  # index k: the (k+1)-th
            logits = logits.masked_fill(logits < kth, -math.inf)
        return torch.multinomial(logits.softmax(-1), 1).squeeze(1)

    verdict = exercise("sample_next_token").check(sample)
    assert named(verdict, "sample_next_token", "top-k keeps k+1"), verdict.message


def test_a_nucleus_without_the_crossing_token_keeps_its_name():
    def keep(probs, top_p):
        ranked, order = torch.sort(probs, dim=-1, descending=True)
        ranked = torch.where(ranked.cumsum(-1) <= top_p, ranked, torch.zeros_like(ranked))
        kept = torch.zeros_like(probs).scatter(-1, order, ranked)
        return kept / kept.sum(-1, keepdim=True)

    verdict = exercise("keep_top_p").check(keep)
    assert verdict.status == WRONG and "one token short" in verdict.message, verdict.message


def test_greedy_decoding_that_drops_eos_keeps_its_name():
    def decode(logits_fn, prompt, max_new_tokens, eos_id):
        ids = prompt.tolist()
        for _ in range(max_new_tokens):
            token = int(logits_fn(torch.tensor([ids]))[0, -1].argmax())
            if token == eos_id:
                break
            ids.append(token)
        return torch.tensor(ids)

    verdict = exercise("greedy_decode").check(decode)
    assert named(verdict, "greedy_decode", "<eos> dropped"), verdict.message


def test_the_first_step_probe_holds_the_same_answer():
    """The recogniser's probe, the first step's key and value cached once: the same output, v_new."""
    case = next(c for c in cached_step._cases() if c[3] is None)
    q, k_new, v_new, _, _ = case
    out = cached_step.reference(q, k_new, v_new, k_new, v_new)[0]
    assert same(out, v_new, 1e-6) and same(cached_step.reference(*case)[0], v_new, 1e-6)


def test_positions_numbered_backwards_are_named():
    def forward(parts, ids):
        length = ids.shape[1]
        where = torch.arange(length).flip(0)  # L-1 … 0
        x = parts.token(ids) * parts.token.embedding_dim**0.5 + parts.positions.weight[where]
        for block in parts.blocks:
            x = block(x, torch.ones(length, length, dtype=torch.bool).tril())
        return parts.norm(x) @ parts.token.weight.T

    verdict = exercise("gpt_forward").check(forward)
    assert named(verdict, "gpt_forward", "positions numbered backwards"), verdict.message


# --- 4. Review: the query's axis dropped from q itself, and the cached values alone ---
# The same error text as the weights' squeeze, (2) against (3) at dimension 1, is raised where q
# lost its axis before q @ keysᵀ: the hint must name that place too, and a fix that works there.

QUERY_DROPS = {
    "q.squeeze(2)": lambda q: q.squeeze(2),
    "q.squeeze()": lambda q: q.squeeze(),
    "q[:, :, 0]": lambda q: q[:, :, 0],
}


def _query_squeezed(drop, put_back=False):
    def step(q, k_new, v_new, past_k, past_v):
        keys, values = _cache(k_new, v_new, past_k, past_v)
        q = drop(q)  # (B, h, d_head): "one query"
        if put_back:
            q = q.unsqueeze(-2)  # (B, h, 1, d_head) again, as the hint says
        scores = q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])
        return torch.softmax(scores, dim=-1) @ values, keys, values

    return step


@pytest.mark.parametrize("drop", list(QUERY_DROPS.values()), ids=list(QUERY_DROPS))
def test_a_query_squeezed_before_the_scores_is_told_what_it_did(drop):
    """Was "Your weights lost the query's axis … weights.unsqueeze(-2) @ values": a line that never ran."""
    verdict = exercise(STEP).check(_query_squeezed(drop))
    assert named(verdict, STEP, "the query's axis dropped before a matmul"), verdict.message
    hint = hint_of(STEP, "the query's axis dropped before a matmul")
    assert "Your weights lost" not in hint and "q @ keys.transpose(-2, -1)" in hint
    assert "q (B, h, d_head)" in hint and ".unsqueeze(-2)" in hint


@pytest.mark.parametrize("drop", [QUERY_DROPS["q.squeeze(2)"], QUERY_DROPS["q[:, :, 0]"]])
def test_the_query_put_back_as_the_hint_says_passes(drop):
    """What the hint tells them to do with q: .unsqueeze(-2) before the matmul. It is right."""
    assert exercise(STEP).check(_query_squeezed(drop, put_back=True)).passed


def test_the_weights_squeeze_still_gets_a_hint_that_fits_it():
    verdict = exercise(STEP).check(_squeezed_then_multiplied(DROPS[".squeeze(2)"]))
    assert named(verdict, STEP, "the query's axis dropped before a matmul"), verdict.message
    assert "weights (B, h, t + 1)" in verdict.message and "weights @ values" in verdict.message


def _gathers_the_cache_only(how):
    def step(q, k_new, v_new, past_k, past_v):
        keys, values = _cache(k_new, v_new, past_k, past_v)
        weights = torch.softmax(q @ keys.mT / math.sqrt(q.shape[-1]), dim=-1)  # (B, h, 1, t + 1)
        return how(weights, past_v), keys, values  # past_v (B, h, t, d_head): no v_new

    return step


CACHE_ONLY = {
    "weights @ past_v": lambda w, v: w @ v,
    "torch.matmul": torch.matmul,
    "einsum": lambda w, v: torch.einsum("bhqk,bhkd->bhqd", w, v),
}


@pytest.mark.parametrize("how", list(CACHE_ONLY.values()), ids=list(CACHE_ONLY))
def test_the_cached_values_without_the_new_tokens_are_named(how):
    """Was "k not transposed" (matmul) or a bare RuntimeError (einsum)."""
    verdict = exercise(STEP).check(_gathers_the_cache_only(how))
    assert named(verdict, STEP, "the cached values without the new token's"), verdict.message
    assert "k not transposed" not in verdict.message and "past_v" in verdict.message


@pytest.mark.parametrize("how", list(CACHE_ONLY.values()), ids=list(CACHE_ONLY))
def test_the_same_gather_on_the_grown_values_passes(how):
    """What the name rests on: the same code given values, torch.cat([past_v, v_new], dim=2), is right."""

    def step(q, k_new, v_new, past_k, past_v):
        keys, values = _cache(k_new, v_new, past_k, past_v)
        weights = torch.softmax(q @ keys.mT / math.sqrt(q.shape[-1]), dim=-1)
        return how(weights, values), keys, values

    assert exercise(STEP).check(step).passed


def test_a_missing_transpose_against_the_cached_keys_only_keeps_its_name():
    """q @ past_k, no transpose and no new key: [6, 6] against [6, 4], not the cached values' [6, 5]."""

    def step(q, k_new, v_new, past_k, past_v):
        keys, values = _cache(k_new, v_new, past_k, past_v)
        return torch.softmax(q @ past_k / math.sqrt(q.shape[-1]), dim=-1) @ values, keys, values

    assert named(exercise(STEP).check(step), STEP, "k not transposed")
