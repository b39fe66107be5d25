"""Round 42b: the checkers' follow-up.

- harness.py and masks.py split by idea, every name still importable where it was;
- a right answer computed without gradients (under torch.no_grad(), detached, rebuilt from
  .tolist()) is named wherever later chapters train through the exercise's function, and no right
  answer is (checked under no_grad and inference_mode too, and in place on its inputs);
- cases that could not tell two answers apart: Add & Norm's dropout given 1 - p (a case with
  p = 0.2), the attention scores divided by √Lk or multiplied by 2 (confirmed on a probe where
  every size differs).

The wrong answers are written apart from the catalogue's own examples, as a learner types them.
"""

import ast
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from _battery import Battery
from transformer_course import checks
from transformer_course.checks import harness
from transformer_course.checks.harness import PASSED, WRONG
from transformer_course.checks.registry import exercise

CHECKS = Path(checks.__file__).parent
NO_GRADIENT = "computed without gradients (torch.no_grad / detach)"

# Later chapters train through these (the layers, attention, the model's forward).
TRAINED_THROUGH = [
    "attention_scores",
    "attention",
    "multi_head_attention",
    "causal_masked_weights",
    "feed_forward",
    "layer_norm",
    "add_norm",
    "encoder_layer",
    "decoder_layer",
    "encoder_decoder_forward",
    "gpt_forward",
]


def hint_of(exercise_name, mistake_name):
    return {m.name: m.hint for m in exercise(exercise_name).mistakes}[mistake_name]


# --- 1. The split: each idea its own module, every name still where it was ---

HARNESS_NAMES = [
    "PASSED", "NOT_ATTEMPTED", "WRONG", "ERROR", "LEARNER_ERRORS", "CHECK_COLOURS", "THEME_COLOURS",
    "Result", "Mistake", "Exercise", "check_function", "check_then_batch", "varies_between_calls",
    "draws_at_random", "every_input", "fresh", "randn", "same", "describe_difference", "LIMIT_S",
]  # fmt: skip


@pytest.mark.parametrize("name", HARNESS_NAMES)
def test_every_name_is_still_importable_from_the_harness(name):
    assert hasattr(harness, name)


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("result", ["Result", "PASSED", "WRONG", "CHECK_COLOURS"]),
        ("records", ["Mistake", "Exercise"]),
        ("random_draws", ["varies_between_calls", "draws_at_random"]),
        ("cases", ["fresh", "randn"]),
        ("gradients", ["without_gradients"]),
        ("masks_reference", ["reference", "cases", "ignoring_empty_rows", "correct_mask"]),
        ("attention_scalings", ["on_a_probe_too", "KEY_COUNT_MISTAKES"]),
    ],
)
def test_each_idea_has_its_own_short_documented_module(module, names):
    path = CHECKS / f"{module}.py"
    assert ast.get_docstring(ast.parse(path.read_text()))
    imported = __import__(f"transformer_course.checks.{module}", fromlist=names)
    assert all(hasattr(imported, name) for name in names)
    assert getattr(harness, names[0], None) in (None, getattr(imported, names[0]))  # one object, not a copy


def test_harness_and_masks_have_room_to_grow_again():
    for name in ("harness.py", "masks.py"):
        assert len((CHECKS / name).read_text().splitlines()) <= 340, name


def test_the_masks_names_tests_import_are_still_there():
    from transformer_course.checks import masks

    assert callable(masks._cases) and callable(masks.reference)
    assert masks.MISTAKES and masks.ALTERNATIVES


# --- 2. Right values without gradients ---


def _under_no_grad(fn):
    def learner(*args):
        with torch.no_grad():
            return fn(*args)

    return learner


def _detached(fn):
    def learner(*args):
        out = fn(*args)
        return tuple(t.detach() for t in out) if isinstance(out, tuple) else out.detach()

    return learner


@pytest.mark.parametrize("name", TRAINED_THROUGH)
def test_a_right_answer_under_no_grad_is_named(name):
    verdict = exercise(name).check(_under_no_grad(exercise(name).solution))
    assert verdict.status == WRONG and NO_GRADIENT in verdict.message, verdict.message


@pytest.mark.parametrize("name", TRAINED_THROUGH)
def test_a_right_answer_detached_is_named(name):
    verdict = exercise(name).check(_detached(exercise(name).solution))
    assert verdict.status == WRONG and NO_GRADIENT in verdict.message, verdict.message


def my_layer_norm(x, gamma, beta, eps=1e-5):
    mean, var = x.mean(-1, keepdim=True), x.var(-1, keepdim=True, unbiased=False)
    out = (x - mean) / (var + eps).sqrt() * gamma + beta
    return torch.tensor(out.tolist())  # "a clean tensor"


def my_add_norm(block, x, sublayer):
    if block.norm_first:
        out = x + block.dropout(sublayer(block.norm(x)))
    else:
        out = block.norm(x + block.dropout(sublayer(x)))
    return torch.tensor(out.tolist(), requires_grad=True)  # a new leaf: no way back to the block


@pytest.mark.parametrize(("name", "fn"), [("layer_norm", my_layer_norm), ("add_norm", my_add_norm)])
def test_values_rebuilt_from_a_list_are_named_and_the_hint_names_the_learners_function(name, fn):
    verdict = exercise(name).check(fn)
    assert verdict.status == WRONG and NO_GRADIENT in verdict.message
    assert verdict.message.startswith(fn.__name__)


@pytest.mark.parametrize("name", TRAINED_THROUGH)
def test_every_solution_passes_when_the_checker_runs_under_no_grad_or_inference_mode(name):
    ex = exercise(name)
    for context in (torch.no_grad, torch.inference_mode):
        with context():
            verdict = ex.check(ex.solution)
        assert verdict.passed, (context.__name__, verdict.message)


@pytest.mark.parametrize(
    "name", ["softmax", "sample_next_token", "keep_top_p", "greedy_decode", "sinusoidal_encoding"]
)
def test_an_exercise_nothing_trains_through_does_not_ask_for_gradients(name):
    verdict = exercise(name).check(_under_no_grad(exercise(name).solution))
    assert verdict.passed, verdict.message


def layer_norm_in_place(x, gamma, beta, eps=1e-5):
    x -= x.mean(-1, keepdim=True)  # the caller's activations, changed: warned, not failed
    return x / (x.pow(2).mean(-1, keepdim=True) + eps).sqrt() * gamma + beta


def softmax_row_by_row_in_python(x):  # chapter 04's softmax: passes, warned it has no gradient
    rows = [[math.exp(s - max(r)) for s in r] for r in x.reshape(-1, x.shape[-1]).tolist()]
    return torch.tensor([[e / sum(r) for e in r] for r in rows]).reshape(x.shape)


def lib_head_under_no_grad_for_the_copy_only(x, w_q, w_k, w_v):
    from transformer_course.attention import SingleHeadAttention

    head = SingleHeadAttention(x.shape[-1], w_q.shape[1], w_v.shape[1])
    with torch.no_grad():
        for linear, w in ((head.w_q, w_q), (head.w_k, w_k), (head.w_v, w_v)):
            linear.weight.copy_(w.T)
    out, weights = head(x.unsqueeze(0))
    return out[0], weights[0]


def layer_norm_in_float64(x, gamma, beta, eps=1e-5):
    x = x.double()
    mean, var = x.mean(-1, keepdim=True), x.var(-1, keepdim=True, unbiased=False)
    return ((x - mean) / (var + eps).sqrt() * gamma.double() + beta.double()).float()


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("layer_norm", layer_norm_in_place),
        ("attention", lib_head_under_no_grad_for_the_copy_only),
        ("layer_norm", layer_norm_in_float64),
    ],
)
def test_right_answers_with_gradients_pass(name, fn):
    verdict = exercise(name).check(fn)
    assert verdict.status == PASSED, verdict.message


def test_a_softmax_rebuilt_from_python_floats_passes_with_a_gradient_warning():
    # Round 44: the exercise is the formula, so it passes; a model built on it could not learn.
    verdict = exercise("softmax").check(softmax_row_by_row_in_python)
    assert verdict.status == PASSED, verdict.message
    assert "carries no gradient" in verdict.warning and verdict.warning in verdict.message


def test_the_lib_module_alternatives_compute_with_gradients():
    for name in ("attention", "multi_head_attention", "feed_forward"):
        alternatives = {k: v for k, v in exercise(name).alternatives.items() if "lib's" in k}
        assert alternatives
        for fn in alternatives.values():
            assert exercise(name).check(fn).passed


def test_a_learner_call_that_fails_only_with_gradients_judges_nothing():
    def scores(q, k):
        if q.requires_grad:  # fails on the gradient run only, for a reason that is no lost gradient
            raise RuntimeError("CUDA out of memory while tracing the graph")
        return q @ k.transpose(-2, -1)

    assert exercise("attention_scores").check(scores).passed


def test_the_inputs_of_the_gradient_run_are_activations_not_leaves():
    def scores(q, k):  # in place on a leaf that requires grad would raise, and judge nothing
        q.mul_(1.0)
        return (q @ k.transpose(-2, -1)).detach()

    verdict = exercise("attention_scores").check(scores)
    assert verdict.status == WRONG and NO_GRADIENT in verdict.message, verdict.message


# --- 3. Cases that tell two answers apart ---


def dropout_with_keep_prob(block, x, sublayer):
    drop = lambda h: F.dropout(h, p=1 - block.dropout.p, training=block.training)  # noqa: E731
    return x + drop(sublayer(block.norm(x))) if block.norm_first else block.norm(x + drop(sublayer(x)))


def dropout_as_its_own_module(block, x, sublayer):
    keep = torch.nn.Dropout(1 - block.dropout.p).train(block.training)
    if block.norm_first:
        return x + keep(sublayer(block.norm(x)))
    return block.norm(x + keep(sublayer(x)))


@pytest.mark.parametrize("fn", [dropout_with_keep_prob, dropout_as_its_own_module])
def test_add_norm_names_dropout_given_the_keep_probability(fn):
    verdict = checks.check_add_norm(fn)
    assert verdict.status == WRONG
    assert verdict.message == hint_of("add_norm", "dropout given the keep probability")


def test_add_norm_still_names_the_dropout_rescaled_by_1_minus_p():
    def rescaled(block, x, sublayer):
        if block.norm_first:
            return x + block.dropout(sublayer(block.norm(x))) * (1 - block.dropout.p)
        return block.norm(x + block.dropout(sublayer(x)) * (1 - block.dropout.p))

    assert checks.check_add_norm(rescaled).message == hint_of("add_norm", "dropout rescaled by 1 − p")


def test_add_norm_right_answers_pass_on_the_new_case_with_another_p():
    def by_hand(block, x, sublayer):
        n = block.norm
        norm = lambda h: F.layer_norm(h, n.normalized_shape, n.weight, n.bias, n.eps)  # noqa: E731
        drop = lambda h: F.dropout(h, block.dropout.p, block.training)  # noqa: E731
        return x + drop(sublayer(norm(x))) if block.norm_first else norm(x + drop(sublayer(x)))

    verdict = checks.check_add_norm(by_hand)
    assert verdict.passed and "all 5 inputs" in verdict.message, verdict.message


def scores_over_root_of_keys(q, k):
    return torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(k.size(-2))


def scores_over_sequence_length(q, k):
    return q @ k.mT / k.shape[-2]


def scores_doubled(q, k):
    return 2 * (q @ k.transpose(-2, -1))


def scores_over_root_of_queries(q, k):
    return q @ k.transpose(-2, -1) / q.shape[-2] ** 0.5


@pytest.mark.parametrize(
    ("fn", "mistake"),
    [
        (scores_over_root_of_keys, "divided by the number of keys"),
        (scores_over_sequence_length, "divided by the number of keys"),
        (scores_doubled, "scores times a constant"),
        (scores_over_root_of_queries, "scores times a constant"),
    ],
)
def test_attention_scores_tell_the_key_count_and_a_constant_from_d_k(fn, mistake):
    verdict = checks.check_attention_scores(fn)
    assert verdict.status == WRONG and verdict.message == hint_of("attention_scores", mistake), (
        verdict.message
    )


@pytest.mark.parametrize(
    ("fn", "mistake"),
    [
        (lambda q, k: q @ k.transpose(-2, -1) / q.size(-1) ** 0.5, "scaled already"),
        (lambda q, k: q @ k.transpose(-2, -1) / k.shape[-1], "divided by d_k"),
        (lambda q, k: (q @ k.transpose(-2, -1)) * math.sqrt(k.shape[-1]), "multiplied by √d_k"),
    ],
    ids=["÷√d_k", "÷d_k", "×√d_k"],
)
def test_the_d_k_scalings_are_still_named(fn, mistake):
    verdict = checks.check_attention_scores(fn)
    assert verdict.message == hint_of("attention_scores", mistake)


def test_the_d_k_hint_no_longer_names_the_number_of_tokens():
    assert "number of tokens" not in hint_of("attention_scores", "divided by d_k")


# --- 4. The battery: the next three smallest catalogues (attention, greedy_decode, feed_forward) ---

_battery = Battery()
wrong, right = _battery.wrong, _battery.right
WRONG_ANSWERS = _battery.wrong_answers  # (exercise, the mistake it must be named, the learner's function)
RIGHT_ANSWERS = _battery.right_answers  # (exercise, the learner's function)


def _head(x, w_q, w_k, w_v, weigh):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = weigh(q @ k.T / math.sqrt(q.shape[-1]))
    return weights @ v, weights


@wrong("attention", "softmax over the whole matrix")
def exp_over_every_entry(x, w_q, w_k, w_v):
    return _head(x, w_q, w_k, w_v, lambda s: torch.exp(s) / torch.exp(s).sum())


@wrong("attention", "row sums without keepdim")
def row_sums_flat(x, w_q, w_k, w_v):
    return _head(x, w_q, w_k, w_v, lambda s: s.exp() / torch.sum(s.exp(), -1))


@wrong("attention", "divided by the row max")
def exp_over_the_max(x, w_q, w_k, w_v):
    return _head(x, w_q, w_k, w_v, lambda s: s.exp() / s.exp().max(-1, keepdim=True)[0])


@wrong("attention", "scores normalised without exp")
def scores_over_their_sum(x, w_q, w_k, w_v):
    return _head(x, w_q, w_k, w_v, lambda s: s / s.sum(-1, keepdim=True))


@wrong("attention", "queries and keys not projected")
def x_against_x(x, w_q, w_k, w_v):
    weights = torch.softmax(torch.matmul(x, x.T) / w_q.shape[1] ** 0.5, dim=-1)
    return weights @ (x @ w_v), weights


@wrong("attention", "cosine scores")
def cosine_scores(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    q, k = q / q.norm(dim=-1, keepdim=True), k / k.norm(dim=-1, keepdim=True)
    weights = (q @ k.T).softmax(-1)
    return weights @ v, weights


@wrong("attention", "batch code on one sentence")
def transpose_1_2_on_one_sentence(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v, weights


@wrong("feed_forward", "ReLU capped at 1")
def hardtanh_for_relu(x, w_1, b_1, w_2, b_2):
    return F.hardtanh(x @ w_1 + b_1, 0.0, 1.0) @ w_2 + b_2


@wrong("feed_forward", "a gated activation")
def gelu_gate(x, w_1, b_1, w_2, b_2):
    h = torch.matmul(x, w_1) + b_1
    return (F.gelu(h) * h) @ w_2 + b_2


@wrong("feed_forward", "hidden layer normalised")
def layer_norm_inside(x, w_1, b_1, w_2, b_2):
    h = torch.relu(x @ w_1 + b_1)
    return F.layer_norm(h, (h.shape[-1],)) @ w_2 + b_2


def _greedy(pick):
    def decode(logits_fn, prompt, max_new_tokens, eos_id):
        ids = prompt.clone()
        for _ in range(max_new_tokens):
            token = pick(logits_fn(ids.unsqueeze(0)))
            ids = torch.cat([ids, token.view(1)])
            if token.item() == eos_id:
                break
        return ids

    return decode


@wrong("greedy_decode", "the runner-up token")
def second_of_topk(logits_fn, prompt, max_new_tokens, eos_id):
    return _greedy(lambda logits: logits[0, -1].topk(2).indices[1])(logits_fn, prompt, max_new_tokens, eos_id)


@wrong("greedy_decode", "the scores of all positions combined")
def mean_over_positions(logits_fn, prompt, max_new_tokens, eos_id):
    return _greedy(lambda logits: logits.mean(dim=1)[0].argmax())(logits_fn, prompt, max_new_tokens, eos_id)


@pytest.mark.parametrize(("name", "mistake", "fn"), WRONG_ANSWERS)
def test_a_wrong_answer_gets_the_hint_that_names_it(name, mistake, fn):
    verdict = exercise(name).check(fn)
    # an error's hint is followed by what was raised, in brackets
    assert verdict.status == WRONG and verdict.message.startswith(hint_of(name, mistake)), verdict.message


@right("attention")
def softmax_with_an_implicit_row_axis(x, w_q, w_k, w_v):
    return _head(x, w_q, w_k, w_v, lambda s: F.softmax(s, dim=1))


@wrong("attention", "softmax by hand shifted by the global max")  # round 44: wrong on scores in the hundreds
def shifted_by_the_global_max(x, w_q, w_k, w_v):
    return _head(x, w_q, w_k, w_v, lambda s: (s - s.max()).exp() / (s - s.max()).exp().sum(-1, keepdim=True))


@wrong("attention", "softmax by hand overflows")  # round 44: wrong on scores in the hundreds
def l1_normalised_exps(x, w_q, w_k, w_v):
    return _head(x, w_q, w_k, w_v, lambda s: F.normalize(s.exp(), p=1, dim=-1))


@right("attention")
def logsumexp_weights(x, w_q, w_k, w_v):
    return _head(x, w_q, w_k, w_v, lambda s: (s - s.logsumexp(-1, keepdim=True)).exp())


@right("attention")
def pairs_in_loops(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    n = x.shape[0]
    s = torch.stack([torch.stack([q[i] @ k[j] for j in range(n)]) for i in range(n)]) / math.sqrt(q.shape[1])
    weights = torch.stack([torch.softmax(row, 0) for row in s])
    return torch.stack([sum(weights[i, j] * v[j] for j in range(n)) for i in range(n)]), weights


@right("attention")
def as_a_list(x, w_q, w_k, w_v):
    return list(_head(x, w_q, w_k, w_v, lambda s: s.softmax(-1)))


@right("feed_forward")
def relu_twice(x, w_1, b_1, w_2, b_2):
    return F.relu(F.relu(x @ w_1 + b_1)) @ w_2 + b_2


@right("feed_forward")
def positive_part_mask(x, w_1, b_1, w_2, b_2):
    h = x @ w_1 + b_1
    return (h * (h > 0)) @ w_2 + b_2


@right("feed_forward")
def half_of_h_plus_abs(x, w_1, b_1, w_2, b_2):
    h = x @ w_1 + b_1
    return (h + h.abs()) / 2 @ w_2 + b_2


@right("feed_forward")
def max_with_a_zero_tensor(x, w_1, b_1, w_2, b_2):
    return torch.max(x @ w_1 + b_1, torch.tensor(0.0)) @ w_2 + b_2


@right("feed_forward")
def broadcast_and_sum(x, w_1, b_1, w_2, b_2):
    return (F.relu(x @ w_1 + b_1)[..., None] * w_2).sum(-2) + b_2


@right("feed_forward")
def torch_functions_only(x, w_1, b_1, w_2, b_2):
    return torch.matmul(torch.relu(torch.add(torch.matmul(x, w_1), b_1)), w_2).add(b_2)


right("greedy_decode")(_greedy(lambda logits: logits[0, -1].topk(1).indices[0]))
right("greedy_decode")(_greedy(lambda logits: F.log_softmax(logits[0, -1], -1).argmax()))
right("greedy_decode")(_greedy(lambda logits: logits[0, -1].sort(descending=True).indices[0]))
right("greedy_decode")(_greedy(lambda logits: logits[:, -1, :].argmax(-1)))


@right("greedy_decode")
def python_list_of_ids(logits_fn, prompt, max_new_tokens, eos_id):
    out = prompt.tolist()
    for _ in range(max_new_tokens):
        token = int(torch.argmax(logits_fn(torch.tensor([out]))[0][-1]))
        out.append(token)
        if token == eos_id:
            break
    return torch.tensor(out)


@right("greedy_decode")
def preallocated_buffer(logits_fn, prompt, max_new_tokens, eos_id):
    start = len(prompt)
    buffer = torch.empty(start + max_new_tokens, dtype=torch.long)
    buffer[:start] = prompt
    for i in range(max_new_tokens):
        token = logits_fn(buffer[: start + i].unsqueeze(0))[0, -1].argmax()
        buffer[start + i] = token
        if token.item() == eos_id:
            return buffer[: start + i + 1]
    return buffer


@pytest.mark.parametrize(("name", "fn"), RIGHT_ANSWERS)
def test_a_right_answer_in_another_style_passes_with_no_warning(name, fn):
    verdict = exercise(name).check(fn)
    assert verdict.status == PASSED and not verdict.warning, verdict.message
