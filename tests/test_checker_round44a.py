"""Round 44a: the checkers' blind spots of their inputs.

- a softmax written by hand without the max subtracted overflows on scores in the hundreds:
  named in the softmax exercise (it was), and now in the head and multi-head exercises, which
  gained a case with large scores;
- a softmax rebuilt from Python floats (math.exp) passes, with a warning that it carries no
  gradient;
- √d_k rounded to an int (int(math.sqrt(d_k)), math.isqrt) is named, not taken for "no scaling";
- a .squeeze() that drops an axis of size 1 is named: the head and multi-head exercises gained
  a case with one token (and multi-head's second case is a batch of one);
- LayerNorm's eps outside the square root is named (it was: a token of spread 0.02, eps 0.01).

The wrong answers are written apart from the catalogue's own examples, as a learner types them.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformer_course.checks import head, multi_head
from transformer_course.checks.harness import PASSED, WRONG, check_function
from transformer_course.checks.registry import exercise


def hint_of(exercise_name, mistake_name):
    return {m.name: m.hint for m in exercise(exercise_name).mistakes}[mistake_name]


def named(verdict, exercise_name, mistake_name):
    """The verdict is WRONG and gives that mistake's hint (an error's is followed by what was raised)."""
    return verdict.status == WRONG and verdict.message.startswith(hint_of(exercise_name, mistake_name))


# --- 1. A softmax by hand without the max: exp overflows on large scores ---


def softmax_without_the_max(x):
    return x.exp() / x.exp().sum(-1, keepdim=True)


def head_with_softmax_by_hand(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.T / math.sqrt(k.shape[-1])
    weights = torch.exp(scores) / torch.exp(scores).sum(dim=-1, keepdim=True)
    return weights @ v, weights


def head_shifted_by_one_max(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.T / math.sqrt(k.shape[-1])
    e = (scores - scores.max()).exp()
    return e / e.sum(-1, keepdim=True) @ v, e / e.sum(-1, keepdim=True)


def multi_head_with_softmax_by_hand(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = ((x @ w).reshape(b, length, num_heads, d_head).permute(0, 2, 1, 3) for w in (w_q, w_k, w_v))
    e = torch.exp(q @ k.transpose(-2, -1) / d_head**0.5)
    heads = (e / e.sum(-1, keepdim=True)) @ v
    return heads.permute(0, 2, 1, 3).reshape(b, length, d_model) @ w_o


def test_the_softmax_exercise_names_a_softmax_without_the_max():
    assert named(exercise("softmax").check(softmax_without_the_max), "softmax", "no max subtraction")


@pytest.mark.parametrize(
    ("name", "fn", "mistake"),
    [
        ("attention", head_with_softmax_by_hand, "softmax by hand overflows"),
        ("attention", head_shifted_by_one_max, "softmax by hand shifted by the global max"),
        ("multi_head_attention", multi_head_with_softmax_by_hand, "softmax by hand overflows"),
    ],
)
def test_a_softmax_by_hand_in_attention_is_named_on_large_scores(name, fn, mistake):
    verdict = exercise(name).check(fn)
    assert named(verdict, name, mistake), verdict.message
    assert "subtract each row's" in verdict.message.lower()


@pytest.mark.parametrize(
    ("module", "fn"),
    [(head, head_with_softmax_by_hand), (multi_head, multi_head_with_softmax_by_hand)],
)
def test_it_is_the_large_scores_case_that_tells(module, fn):
    """Without the new last case (large scores) the softmax by hand passes: that case is the catch."""
    cases = module._cases()
    before = check_function(fn, module.reference, cases[:-1], name="f", atol=1e-4)
    after = check_function(fn, module.reference, cases, name="f", atol=1e-4)
    assert before.status == PASSED and after.status == WRONG, (before.message, after.message)


# --- 2. A softmax rebuilt from Python floats: right, warned that it carries no gradient ---


def softmax_with_math_exp(scores):
    rows = []
    for row in scores.reshape(-1, scores.shape[-1]).tolist():
        top = max(row)
        exps = [math.exp(s - top) for s in row]
        rows.append([e / sum(exps) for e in exps])
    return torch.tensor(rows).reshape(scores.shape)


def softmax_in_numpy(scores):
    a = scores.numpy()
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return torch.from_numpy(e / e.sum(axis=-1, keepdims=True))


def softmax_under_no_grad(scores):
    with torch.no_grad():
        return torch.softmax(scores, dim=-1)


@pytest.mark.parametrize("fn", [softmax_with_math_exp, softmax_in_numpy, softmax_under_no_grad])
def test_a_softmax_without_gradient_passes_with_a_warning(fn):
    verdict = exercise("softmax").check(fn)
    assert verdict.status == PASSED, verdict.message
    assert "carries no gradient" in verdict.warning and verdict.message.endswith(verdict.warning)


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_a_softmax_with_gradient_is_not_warned(context):
    ex = exercise("softmax")
    for fn in (ex.solution, *ex.alternatives.values()):
        assert exercise("softmax").check(fn).warning == ""
    with context():  # a check run without gradients judges none
        assert ex.check(ex.solution).warning == ""


# --- 3. √d_k rounded to an int ---


def head_rounding_the_root(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = F.softmax(q @ k.T / int(math.sqrt(q.shape[1])), dim=-1)
    return weights @ v, weights


def head_with_isqrt(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = F.softmax(q @ k.T / math.isqrt(q.shape[1]), dim=-1)
    return weights @ v, weights


def head_unscaled(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = F.softmax(q @ k.T, dim=-1)
    return weights @ v, weights


def _multi_head_scaled(x, w_q, w_k, w_v, w_o, num_heads, divide):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = (torch.stack((x @ w).split(d_head, dim=-1), dim=1) for w in (w_q, w_k, w_v))
    heads = torch.softmax(q @ k.transpose(-2, -1) / divide, dim=-1) @ v  # (B, h, L, d_head)
    return torch.cat(heads.unbind(1), dim=-1) @ w_o


def multi_head_divided_by_two(x, w_q, w_k, w_v, w_o, num_heads):
    return _multi_head_scaled(x, w_q, w_k, w_v, w_o, num_heads, 2)  # √4, hard-coded


@pytest.mark.parametrize("fn", [head_rounding_the_root, head_with_isqrt])
def test_a_rounded_root_is_named_in_the_head(fn):
    verdict = exercise("attention").check(fn)
    assert named(verdict, "attention", "√d_k rounded to an int"), verdict.message


def test_no_scaling_is_still_named_no_scaling():
    """On the checker's d_k = 2, int(√2) = 1 divides by nothing too: the probe tells them apart."""
    verdict = exercise("attention").check(head_unscaled)
    assert named(verdict, "attention", "no scaling"), verdict.message


def test_a_rounded_root_is_named_in_multi_head():
    fn = lambda *a: _multi_head_scaled(*a, math.isqrt(a[0].shape[-1] // a[-1]))  # noqa: E731
    verdict = exercise("multi_head_attention").check(fn)
    assert named(verdict, "multi_head_attention", "√d_head rounded to an int"), verdict.message


def test_a_hard_coded_two_is_not_called_a_rounded_root():
    verdict = exercise("multi_head_attention").check(multi_head_divided_by_two)
    assert verdict.status == WRONG
    assert "rounded to an int" not in verdict.message, verdict.message


# --- 4. .squeeze() dropping an axis of size 1 ---


def head_squeezing_the_result(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / math.sqrt(k.shape[-1]), dim=-1)
    return (weights @ v).squeeze(), weights.squeeze()


def head_squeezing_q_and_k(x, w_q, w_k, w_v):
    q, k, v = (x @ w_q).squeeze(), (x @ w_k).squeeze(), x @ w_v
    weights = torch.softmax(q @ k.mT / math.sqrt(k.shape[-1]), dim=-1)
    return weights @ v, weights


def head_through_a_batch_of_one(x, w_q, w_k, w_v):
    q, k, v = (x.unsqueeze(0) @ w for w in (w_q, w_k, w_v))
    out = F.scaled_dot_product_attention(q, k, v)
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1]), dim=-1)
    return out.squeeze(), weights.squeeze()


def multi_head_squeezing_the_heads(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = ((x @ w).view(b, length, num_heads, d_head).transpose(1, 2).squeeze() for w in (w_q, w_k, w_v))
    heads = torch.softmax(q @ k.transpose(-2, -1) / d_head**0.5, dim=-1) @ v
    return heads.transpose(1, 2).reshape(b, length, d_model) @ w_o


def multi_head_squeezing_the_output(x, w_q, w_k, w_v, w_o, num_heads):
    return multi_head.solution(x, w_q, w_k, w_v, w_o, num_heads).squeeze()


def multi_head_squeezing_the_merged_heads(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = ((x @ w).view(b, length, num_heads, d_head).transpose(1, 2) for w in (w_q, w_k, w_v))
    heads = (torch.softmax(q @ k.transpose(-2, -1) / d_head**0.5, dim=-1) @ v).squeeze()
    return heads.transpose(-3, -2).reshape(b, length, d_model) @ w_o  # w_q unused when L = 1


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("attention", head_squeezing_the_result),
        ("attention", head_squeezing_q_and_k),
        ("attention", head_through_a_batch_of_one),
        ("multi_head_attention", multi_head_squeezing_the_heads),
        ("multi_head_attention", multi_head_squeezing_the_output),
        ("multi_head_attention", multi_head_squeezing_the_merged_heads),
    ],
)
def test_a_squeeze_that_drops_an_axis_of_size_one_is_named(name, fn):
    verdict = exercise(name).check(fn)
    assert verdict.status == WRONG and ".squeeze() removed an axis of size 1" in verdict.message, (
        verdict.message
    )
    assert "never uses its argument" not in verdict.message


def test_squeezing_only_the_added_axis_passes():
    """A batch of one added, then squeezed by its own axis: right on one token too."""

    def head_right(x, w_q, w_k, w_v):
        q, k, v = (x.unsqueeze(0) @ w for w in (w_q, w_k, w_v))
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1]), dim=-1)
        return (weights @ v).squeeze(0), weights.squeeze(0)

    assert exercise("attention").check(head_right).status == PASSED


# --- 5. LayerNorm: eps outside the square root ---


def layer_norm_eps_outside(x, weight, bias, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / (var.sqrt() + eps) * weight + bias


def test_eps_outside_the_root_is_named():
    verdict = exercise("layer_norm").check(layer_norm_eps_outside)
    assert named(verdict, "layer_norm", "eps outside the square root"), verdict.message


# --- The new cases keep every right answer right ---


@pytest.mark.parametrize("name", ["softmax", "attention", "multi_head_attention", "layer_norm"])
def test_the_solution_and_every_alternative_still_pass(name):
    ex = exercise(name)
    for label, fn in {"solution": ex.solution, **ex.alternatives}.items():
        verdict = ex.check(fn)
        assert verdict.status == PASSED, (label, verdict.message)
