"""Round 44c: the blind spots round 44a closed in the head exercises, closed in three more.

- causal_masked_weights and cached_attention_step gained a case with scores in the hundreds: a
  softmax written by hand without the max overflows there and is named (it passed);
- cached_attention_step: √d_head rounded to an int (int(math.sqrt), math.isqrt) and a
  .squeeze() of the scores (B, h, 1, t + 1), which drops the heads' or the batch's axis of size
  1 too, are named (both were "differs from the reference");
- multi_head_attention: a .squeeze() of the attention weights raises a batched-matmul error on
  the one-token case; it is named (it was reported as a bare RuntimeError).

The wrong answers are written apart from the catalogue's own examples, as a learner types them.
"""

import math

import pytest
import torch
from transformer_course.checks import cached_step, masks, multi_head
from transformer_course.checks.attention_inputs import repeat_size_one
from transformer_course.checks.describe import same
from transformer_course.checks.harness import PASSED, WRONG, check_function
from transformer_course.checks.registry import exercise


def hint_of(exercise_name, mistake_name):
    return {m.name: m.hint for m in exercise(exercise_name).mistakes}[mistake_name]


def named(verdict, exercise_name, mistake_name):
    """The verdict is WRONG and gives that mistake's hint (an error's is followed by what was raised)."""
    return verdict.status == WRONG and verdict.message.startswith(hint_of(exercise_name, mistake_name))


def _allowed(ids, pad_id):
    length = ids.shape[1]
    return torch.ones(length, length).tril().bool() & (ids != pad_id).unsqueeze(1)  # (B, L, L)


def _cache(k_new, v_new, past_k, past_v):
    if past_k is None:
        return k_new, v_new
    return torch.cat((past_k, k_new), dim=2), torch.cat((past_v, v_new), dim=2)  # (B, h, t + 1, d)


# --- 1. A softmax by hand without the max: exp overflows on scores in the hundreds ---


def masked_exp_over_its_sum(scores, ids, pad_id):
    e = torch.exp(scores.masked_fill(~_allowed(ids, pad_id), -1e9))
    return e / torch.sum(e, dim=-1, keepdim=True)


def exp_times_the_mask(scores, ids, pad_id):
    e = scores.exp() * _allowed(ids, pad_id)  # blocked: exp × 0
    return e / e.sum(-1, keepdim=True)


def cached_step_exp_over_its_sum(q, k_new, v_new, past_k, past_v):
    keys, values = _cache(k_new, v_new, past_k, past_v)
    scores = torch.einsum("bhqd,bhkd->bhqk", q, keys) / q.shape[-1] ** 0.5
    return (scores.exp() / scores.exp().sum(-1, keepdim=True)) @ values, keys, values


def cached_step_in_loops(q, k_new, v_new, past_k, past_v):
    keys, values = _cache(k_new, v_new, past_k, past_v)
    out = torch.empty_like(q)
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            s = keys[b, h] @ q[b, h, 0] / math.sqrt(q.shape[-1])  # (t + 1,)
            out[b, h, 0] = (s.exp() / s.exp().sum()) @ values[b, h]
    return out, keys, values


OVERFLOWING = [
    ("causal_masked_weights", masked_exp_over_its_sum),
    ("causal_masked_weights", exp_times_the_mask),
    ("cached_attention_step", cached_step_exp_over_its_sum),
    ("cached_attention_step", cached_step_in_loops),
]


@pytest.mark.parametrize(("name", "fn"), OVERFLOWING)
def test_a_softmax_by_hand_is_named_on_scores_in_the_hundreds(name, fn):
    verdict = exercise(name).check(fn)
    assert named(verdict, name, "softmax by hand overflows"), verdict.message
    assert "subtract each row's max" in verdict.message


@pytest.mark.parametrize(("name", "fn"), OVERFLOWING)
def test_it_is_the_large_scores_case_that_tells(name, fn):
    """Without the new last case the softmax by hand passes: that case is the catch."""
    module = masks if name == "causal_masked_weights" else cached_step
    cases = module._cases()
    reference = masks.ignoring_empty_rows(masks.reference) if module is masks else module.reference
    mine = masks.ignoring_empty_rows(fn) if module is masks else fn
    before = check_function(mine, reference, cases[:-1], name="f")
    after = check_function(mine, reference, cases, name="f")
    assert before.status == PASSED and after.status == WRONG, (before.message, after.message)


def test_the_large_masked_scores_change_no_weight():
    """The large case is a usual one shifted by 100: its weights are those of the shift undone."""
    scores, ids, pad_id = masks._cases()[-1]
    assert scores.min() > 50 and scores.max() > 100
    shifted = masks.reference(scores, ids, pad_id)
    assert torch.allclose(shifted, masks.reference(scores - 100.0, ids, pad_id), atol=1e-6)


def test_a_softmax_by_hand_with_the_max_passes_in_both():
    def masked(scores, ids, pad_id):
        s = scores.masked_fill(~_allowed(ids, pad_id), float("-inf"))
        e = (s - s.amax(-1, keepdim=True)).exp()  # a row that sees nothing: NaN, not compared
        return e / e.sum(-1, keepdim=True)

    def step(q, k_new, v_new, past_k, past_v):
        keys, values = _cache(k_new, v_new, past_k, past_v)
        s = q @ keys.mT / math.sqrt(q.shape[-1])
        e = (s - s.max(-1, keepdim=True).values).exp()
        return e / e.sum(-1, keepdim=True) @ values, keys, values

    assert exercise("causal_masked_weights").check(masked).status == PASSED
    assert exercise("cached_attention_step").check(step).status == PASSED


# --- 2. The cached step: √d_head rounded to an int ---


def _step_divided_by(q, k_new, v_new, past_k, past_v, divide):
    keys, values = _cache(k_new, v_new, past_k, past_v)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / divide(q.shape[-1]), dim=-1)
    return weights @ values, keys, values


@pytest.mark.parametrize("root", [lambda d: int(math.sqrt(d)), math.isqrt, lambda d: round(d**0.5)])
def test_a_rounded_root_is_named_in_the_cached_step(root):
    """round(√6) = 2 as int(√6) is: rounded either way, named either way on d_head 6."""
    verdict = exercise("cached_attention_step").check(lambda *a: _step_divided_by(*a, divide=root))
    assert named(verdict, "cached_attention_step", "√d_head rounded to an int"), verdict.message


def test_a_hard_coded_two_is_not_called_a_rounded_root():
    """2 = int(√d_head) on every d_head of the cases (4, 5, 6): the probe's d_head 12 tells."""
    verdict = exercise("cached_attention_step").check(lambda *a: _step_divided_by(*a, divide=lambda d: 2))
    assert verdict.status == WRONG and "rounded to an int" not in verdict.message, verdict.message


def test_no_scaling_is_still_named_no_scaling():
    verdict = exercise("cached_attention_step").check(lambda *a: _step_divided_by(*a, divide=lambda d: 1))
    assert named(verdict, "cached_attention_step", "no scaling"), verdict.message


# --- 3. The cached step: .squeeze() on the scores ---


def step_squeezing_the_scores(q, k_new, v_new, past_k, past_v):
    keys, values = _cache(k_new, v_new, past_k, past_v)
    scores = torch.matmul(q, keys.transpose(2, 3)).squeeze() / math.sqrt(q.shape[-1])  # (B, h, t + 1)
    weights = torch.softmax(scores, dim=-1)
    return (weights.unsqueeze(-1) * values).sum(dim=-2, keepdim=True), keys, values


def step_squeezing_then_unsqueezing(q, k_new, v_new, past_k, past_v):
    keys, values = _cache(k_new, v_new, past_k, past_v)
    weights = torch.softmax((q @ keys.mT / math.sqrt(q.shape[-1])).squeeze(), dim=-1)
    return weights.unsqueeze(2) @ values, keys, values


@pytest.mark.parametrize("fn", [step_squeezing_the_scores, step_squeezing_then_unsqueezing])
def test_a_squeeze_of_the_scores_is_named_in_the_cached_step(fn):
    verdict = exercise("cached_attention_step").check(fn)
    assert named(verdict, "cached_attention_step", ".squeeze() on the scores"), verdict.message
    assert ".squeeze(-2)" in verdict.message


def test_the_batch_doubled_the_squeeze_then_unsqueeze_is_right():
    """What the error's shapes stand for, re-run: the second case (B = 1) with its batch twice."""
    case = cached_step._cases()[1]
    assert case[0].shape[:2] == (1, 2) and case[3].shape[2] == 6  # the shapes SCORES_SQUEEZED names
    wide = tuple(repeat_size_one(t, (0,)) for t in case)
    assert same(step_squeezing_then_unsqueezing(*wide), cached_step.reference(*wide), 1e-5)


def test_a_missing_transpose_is_still_named_so():
    def untransposed(q, k_new, v_new, past_k, past_v):
        keys, values = _cache(k_new, v_new, past_k, past_v)
        return torch.softmax(q @ keys / math.sqrt(q.shape[-1]), dim=-1) @ values, keys, values

    verdict = exercise("cached_attention_step").check(untransposed)
    assert named(verdict, "cached_attention_step", "k not transposed"), verdict.message


def test_squeezing_only_the_query_axis_passes():
    def step(q, k_new, v_new, past_k, past_v):
        keys, values = _cache(k_new, v_new, past_k, past_v)
        weights = torch.softmax((q @ keys.mT).squeeze(-2) / math.sqrt(q.shape[-1]), dim=-1)  # (B, h, t + 1)
        return weights.unsqueeze(-2) @ values, keys, values

    assert exercise("cached_attention_step").check(step).status == PASSED


# --- 4. Multi-head: .squeeze() on the attention weights raises on one token ---


def _heads(x, w, num_heads):
    b, length, d_model = x.shape
    return (x @ w).view(b, length, num_heads, d_model // num_heads).transpose(1, 2)  # (B, h, L, d_head)


def multi_head_squeezing_the_weights(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (_heads(x, w, num_heads) for w in (w_q, w_k, w_v))
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1).squeeze()
    heads = torch.matmul(weights, v)  # (B, h, L, d_head)
    return heads.transpose(1, 2).flatten(2) @ w_o


def multi_head_squeezing_the_scores(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (_heads(x, w, num_heads) for w in (w_q, w_k, w_v))
    scores = (q @ k.mT).squeeze() / q.shape[-1] ** 0.5
    return (scores.softmax(-1) @ v).transpose(1, 2).reshape(x.shape) @ w_o


@pytest.mark.parametrize("fn", [multi_head_squeezing_the_weights, multi_head_squeezing_the_scores])
def test_a_squeeze_of_the_weights_is_named_in_multi_head(fn):
    verdict = exercise("multi_head_attention").check(fn)
    assert named(verdict, "multi_head_attention", ".squeeze() on the attention weights"), verdict.message
    assert "RuntimeError on input #5" in verdict.message  # the one-token case: what was raised follows


@pytest.mark.parametrize("fn", [multi_head_squeezing_the_weights, multi_head_squeezing_the_scores])
def test_the_one_token_doubled_the_squeeze_is_right(fn):
    """What the error's shapes stand for, re-run: the one token twice, and the answer is right."""
    x, *rest = multi_head._cases()[-2]  # the one-token case
    assert x.shape[:2] == (2, 1) and rest[-1] == 2  # B = h = 2, L = 1: the shapes WEIGHTS_SQUEEZED names
    wide = (repeat_size_one(x, (1,)), *rest)
    assert same(fn(*wide), multi_head.reference(*wide), 1e-4)


def test_another_batched_matmul_error_is_not_called_a_squeeze():
    def values_summed(x, w_q, w_k, w_v, w_o, num_heads):
        q, k, v = (_heads(x, w, num_heads) for w in (w_q, w_k, w_v))
        weights = torch.softmax(q @ k.mT / math.sqrt(q.shape[-1]), dim=-1)
        return (weights @ v.sum(-2, keepdim=True)).transpose(1, 2).flatten(2) @ w_o  # (…, L) @ (1, …)

    verdict = exercise("multi_head_attention").check(values_summed)
    assert verdict.status != PASSED and "squeeze" not in verdict.message, verdict.message


# --- The new cases keep every right answer right ---


@pytest.mark.parametrize("name", ["causal_masked_weights", "cached_attention_step", "multi_head_attention"])
def test_the_solution_and_every_alternative_still_pass(name):
    ex = exercise(name)
    for label, fn in {"solution": ex.solution, **ex.alternatives}.items():
        verdict = ex.check(fn)
        assert verdict.status == PASSED, (label, verdict.message)
