"""Round 43: the checkers' follow-up.

- an answer that goes through NumPy (``.numpy()`` … ``torch.from_numpy``) is named where later
  chapters train through the exercise's function: in training its inputs require grad and
  ``.numpy()`` raises;
- a partial detach (one path of the computation cut from the graph) is named, with the argument
  whose gradient it cuts; every worked solution and correct alternative still passes;
- a function that switches a module it was given to eval (or training) mode, or turns off its
  parameters' requires_grad, passes with a warning that names the module and what changed.

The wrong answers are written apart from the catalogue's own examples, as a learner types them.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformer_course.checks import gradients
from transformer_course.checks.harness import PASSED, WRONG, check_function
from transformer_course.checks.registry import EXERCISES, exercise

NO_GRADIENT = "computed without gradients (torch.no_grad / detach)"
CUTS = "cuts the gradient to"

# --- 1. NumPy answers ---


def scores_in_numpy(q, k):
    return torch.from_numpy(np.matmul(q.numpy(), np.swapaxes(k.numpy(), -1, -2)))


def layer_norm_in_numpy(x, weight, bias, eps):
    a = x.numpy()
    mean, var = a.mean(-1, keepdims=True), a.var(-1, keepdims=True)
    return torch.from_numpy((a - mean) / np.sqrt(var + eps) * weight.numpy() + bias.numpy())


def feed_forward_relu_in_numpy(x, w_1, b_1, w_2, b_2):
    hidden = torch.from_numpy(np.maximum((x @ w_1 + b_1).numpy(), 0.0))  # "np.maximum is relu"
    return hidden @ w_2 + b_2


def attention_softmax_in_numpy(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    s = (q @ k.T / math.sqrt(q.shape[-1])).numpy()
    e = np.exp(s - s.max(-1, keepdims=True))
    weights = torch.from_numpy(e / e.sum(-1, keepdims=True))
    return weights @ v, weights


NUMPY_ANSWERS = [
    ("attention_scores", scores_in_numpy),
    ("layer_norm", layer_norm_in_numpy),
    ("feed_forward", feed_forward_relu_in_numpy),
    ("attention", attention_softmax_in_numpy),
]


@pytest.mark.parametrize(("name", "fn"), NUMPY_ANSWERS)
def test_an_answer_through_numpy_is_named(name, fn):
    verdict = exercise(name).check(fn)
    assert verdict.status == WRONG and NO_GRADIENT in verdict.message, verdict.message
    assert ".numpy()" in verdict.message and "torch operations" in verdict.message


def test_numpy_is_not_asked_of_an_exercise_nothing_trains_through():
    def softmax_in_numpy(scores):
        e = np.exp(scores.numpy() - scores.numpy().max(-1, keepdims=True))
        return torch.from_numpy(e / e.sum(-1, keepdims=True))

    assert exercise("softmax").check(softmax_in_numpy).passed


def test_the_numpy_message_alone_is_named_not_any_error_of_the_gradient_run():
    def scores(q, k):
        if q.requires_grad:  # the same error text, raised by the learner's own code
            q.detach().requires_grad_().numpy()
        return q @ k.transpose(-2, -1)

    verdict = exercise("attention_scores").check(scores)
    assert verdict.status == WRONG and ".numpy()" in verdict.message


# --- 2. A partial detach ---


def add_norm_residual_detached(block, x, sublayer):
    if block.norm_first:
        return x.detach() + block.dropout(sublayer(block.norm(x)))  # "the residual is a constant"
    return block.norm(x.detach() + block.dropout(sublayer(x)))


def scores_keys_detached(q, k):
    return q @ k.detach().transpose(-2, -1)


def attention_keys_detached(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x.detach() @ w_k, x @ w_v  # "no gradient through the keys"
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v, weights


def layer_norm_statistics_detached(x, weight, bias, eps):
    mean = x.mean(-1, keepdim=True).detach()
    var = x.var(-1, keepdim=True, unbiased=False).detach()
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def decoder_layer_memory_detached(layer, x, memory):
    memory = memory.detach()  # "the encoder is trained elsewhere"
    return exercise("decoder_layer").solution(layer, x, memory)


def multi_head_values_under_no_grad(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    with torch.no_grad():
        v = x @ w_v
    split = lambda t: t.view(b, length, num_heads, d_head).transpose(1, 2)  # noqa: E731
    q, k, v = split(x @ w_q), split(x @ w_k), split(v)
    weights = torch.softmax(q @ k.transpose(-2, -1) / d_head**0.5, dim=-1)
    return (weights @ v).transpose(1, 2).reshape(b, length, d_model) @ w_o


PARTIAL_DETACHES = [
    ("add_norm", add_norm_residual_detached, "x"),
    ("attention_scores", scores_keys_detached, "k"),
    ("attention", attention_keys_detached, "x"),
    ("layer_norm", layer_norm_statistics_detached, "x"),
    ("decoder_layer", decoder_layer_memory_detached, "memory"),
    ("multi_head_attention", multi_head_values_under_no_grad, "x"),
]


@pytest.mark.parametrize(("name", "fn", "argument"), PARTIAL_DETACHES)
def test_a_partial_detach_is_named_with_the_argument_it_cuts(name, fn, argument):
    verdict = exercise(name).check(fn)
    assert verdict.status == WRONG and f"{CUTS} {argument}:" in verdict.message, verdict.message


def test_the_argument_is_named_as_the_learner_named_it():
    def scores(queries, keys):
        return queries @ keys.detach().transpose(-2, -1)

    verdict = exercise("attention_scores").check(scores)
    assert f"{CUTS} keys:" in verdict.message, verdict.message


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("ex", [ex for ex in EXERCISES], ids=lambda ex: ex.name)
def test_every_solution_and_alternative_keeps_every_gradient(ex):
    for fn in (ex.solution, *ex.alternatives.values()):
        verdict = ex.check(fn)
        assert verdict.passed and "beware" not in verdict.message, verdict.message


def test_weights_copied_into_a_new_layer_still_pass():
    def layer_norm_by_torch(x, weight, bias, eps):
        norm = torch.nn.LayerNorm(x.shape[-1], eps=eps)
        with torch.no_grad():  # the weights copied: their own gradient stays in that layer
            norm.weight.copy_(weight), norm.bias.copy_(bias)
        return norm(x)

    assert exercise("layer_norm").check(layer_norm_by_torch).passed


def test_dropout_drawn_the_same_way_is_no_false_alarm():
    def add_norm_functional(block, x, sublayer):
        drop = lambda h: F.dropout(h, block.dropout.p, training=block.training)  # noqa: E731
        return x + drop(sublayer(block.norm(x))) if block.norm_first else block.norm(x + drop(sublayer(x)))

    assert exercise("add_norm").check(add_norm_functional).passed


def test_a_reference_that_draws_differently_each_run_compares_no_gradient():
    seeds = iter(range(100))

    def noisy(x):  # draws from a generator of its own, seeded anew each run: two runs, two gradients
        return x * torch.rand(x.shape, generator=torch.Generator().manual_seed(next(seeds)))

    case = (torch.randn(3, 4),)
    assert gradients.without_gradients(lambda x: x.detach() * 1 + x * 0, noisy, case, name="f") is None
    assert NO_GRADIENT in gradients.without_gradients(lambda x: x.detach(), noisy, case, name="f")


def test_a_weight_tensor_argument_is_not_compared_an_input_is():
    def reference(x, w):
        return x @ w

    case = (torch.randn(3, 4), torch.randn(4, 2))
    weight_cut = gradients.without_gradients(lambda x, w: x @ w.detach(), reference, case, name="f")
    input_cut = gradients.without_gradients(lambda x, w: x.detach() @ w, reference, case, name="f")
    assert weight_cut is None and CUTS + " x" in input_cut


# --- 3. A module left in another mode ---


def add_norm_then_eval(block, x, sublayer):
    out = exercise("add_norm").solution(block, x, sublayer)
    block.eval()  # "done with it"
    return out


def encoder_layer_in_eval_mode(layer, x, mask):
    layer.eval()  # "no dropout in this exercise"
    return exercise("encoder_layer").solution(layer, x, mask)


def decoder_layer_in_training_mode(layer, x, memory):
    layer.train()  # its dropout is 0.0 here: same values
    return exercise("decoder_layer").solution(layer, x, memory)


def gpt_forward_freezing_the_table(parts, ids):
    parts.token.requires_grad_(False)  # "the embedding is fixed"
    return exercise("gpt_forward").solution(parts, ids)


MODE_CHANGES = [
    ("add_norm", add_norm_then_eval, "the block it was given to eval mode", "training=block.training"),
    (
        "encoder_layer",
        encoder_layer_in_eval_mode,
        "the layer it was given to eval mode",
        "don't call .eval()",
    ),
    ("decoder_layer", decoder_layer_in_training_mode, "the layer it was given to training mode", ".train()"),
    (
        "gpt_forward",
        gpt_forward_freezing_the_table,
        "requires_grad off for parameters of the parts",
        "stop learning",
    ),
]


@pytest.mark.parametrize(("name", "fn", "what", "advice"), MODE_CHANGES)
def test_a_module_left_in_another_mode_passes_with_a_warning(name, fn, what, advice):
    verdict = exercise(name).check(fn)
    assert verdict.status == PASSED and verdict.warning, verdict.message
    assert "beware" in verdict.warning and what in verdict.warning and advice in verdict.warning


def test_a_mode_the_reference_sets_too_is_no_slip():
    def reference(model, x):
        model.train()
        return model(x)

    case = (torch.nn.Linear(3, 2).eval(), torch.randn(4, 3))
    verdict = check_function(reference, reference, [case], name="f")
    assert verdict.passed and not verdict.warning, verdict.message


def test_a_module_changed_then_put_back_is_no_slip():
    def careful(model, x):
        was = model.training
        model.eval()
        out = model(x)
        model.train(was)
        return out

    case = (torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Dropout(0.0)), torch.randn(4, 3))
    verdict = check_function(careful, lambda m, x: m(x), [case], name="f")
    assert verdict.passed and not verdict.warning, verdict.message


def test_a_module_changed_in_place_and_left_in_eval_mode_gets_both_warnings_once():
    def add_norm_in_place_then_eval(block, x, sublayer):
        x += block.dropout(sublayer(block.norm(x))) if block.norm_first else 0
        out = x if block.norm_first else block.norm(x + block.dropout(sublayer(x)))
        block.eval()
        return out

    verdict = exercise("add_norm").check(add_norm_in_place_then_eval)
    assert verdict.status == PASSED, verdict.message
    assert verdict.warning.count("beware") == 1 and "in place" in verdict.warning
    assert "Also, it switched the block it was given to eval mode" in verdict.warning


# --- The review's finding: only the output that trains is projected ---


def test_attention_weights_returned_detached_for_a_plot_still_pass():
    solution = exercise("attention").solution

    def weights_detached(x, w_q, w_k, w_v):
        out, weights = solution(x, w_q, w_k, w_v)
        return out, weights.detach()  # returned for plotting only

    assert exercise("attention").check(weights_detached).passed


def test_attention_output_detached_beside_live_weights_is_named():
    solution = exercise("attention").solution

    def output_detached(x, w_q, w_k, w_v):
        out, weights = solution(x, w_q, w_k, w_v)
        return out.detach(), weights

    verdict = exercise("attention").check(output_detached)
    assert not verdict.passed and "cuts the gradient to x" in verdict.message, verdict.message
