"""Round 42's battery of wrong answers: the three slips round 41 left generic (a table one
position too long, powers of 2 as a softmax, the loss in bits), then the five exercises with the
smallest catalogues (the training step, the nucleus of top-p, the attention scores, sampling the
next token, Add & Norm): each slip a learner types gets the hint that names it, and right answers
written in other styles pass. Last, answers that change their inputs in place: they pass (their
numbers are right) with a warning naming the operation, and a right answer never gets it.

The wrong answers here are written apart from the catalogue's own examples, as a learner would
type them, so that a test cannot pass by construction.
"""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from _battery import Battery
from torch import nn
from transformer_course import checks
from transformer_course.checks.harness import PASSED, WRONG, check_function
from transformer_course.checks.in_place import changed_arguments, in_place_warning
from transformer_course.checks.registry import EXERCISES, exercise

_battery = Battery()
wrong, right = _battery.wrong, _battery.right
WRONG_ANSWERS = _battery.wrong_answers  # (exercise, the mistake it must be named, the learner's function)
RIGHT_ANSWERS = _battery.right_answers  # (exercise, the learner's function)


def hint_of(exercise_name, mistake_name):
    return {m.name: m.hint for m in exercise(exercise_name).mistakes}[mistake_name]


def renormalised(t):
    return t / t.sum(dim=-1, keepdim=True)


# --- Left generic by round 41: 02's row count, 04's base, 08's loss in bits ---


def _table(positions, d_model):
    angle = positions.float()[:, None] / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)  # sin, cos interleaved


@wrong("sinusoidal_encoding", "one position too many")
def arange_length_plus_1(length, d_model):
    return _table(torch.arange(length + 1), d_model)  # "up to and including length"


@wrong("sinusoidal_encoding", "one position too few")
def range_length_minus_1(length, d_model):
    return _table(torch.tensor(list(range(length - 1))), d_model)


@wrong("sinusoidal_encoding", "positions 1 … length − 1")
def arange_from_1(length, d_model):
    return _table(torch.arange(1, length), d_model)


@wrong("softmax", "powers of 2 or 10")
def powers_of_two(x):
    return renormalised(torch.pow(2.0, x - x.amax(dim=-1, keepdim=True)))


@wrong("softmax", "powers of 2 or 10")
def exp2(x):
    return renormalised(torch.exp2(x - x.max(dim=-1, keepdim=True).values))


@wrong("softmax", "powers of 2 or 10")
def powers_of_ten(x):
    return renormalised(10 ** (x - x.max(dim=-1, keepdim=True).values))


@wrong("teacher_forcing_loss", "loss in bits")
def loss_in_bits(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    nats = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), trg[:, 1:].reshape(-1), ignore_index=pad_id)
    return nats / math.log(2)


@wrong("teacher_forcing_loss", "loss in bits")
def log2_by_hand(model, src, trg, pad_id):
    probs = model(src, trg[:, :-1]).softmax(dim=-1)
    labels = trg[:, 1:]
    picked = probs.gather(-1, labels[..., None]).squeeze(-1)
    real = labels != pad_id
    return -(torch.log2(picked) * real).sum() / real.sum()


# --- 08: one training step ---


def _step(model, optimiser, loss):
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return loss


@wrong("train_step", "loss_fn never called")
def mse_by_hand(model, optimiser, loss_fn, batch):
    inputs, targets = batch
    return _step(model, optimiser, ((model(inputs) - targets) ** 2).sum(-1).mean()).item()


@wrong("train_step", "loss_fn never called")
def cross_entropy_of_its_own(model, optimiser, loss_fn, batch):
    inputs, targets = batch
    return _step(model, optimiser, F.cross_entropy(model(inputs), targets)).item()


@wrong("train_step", "a NumPy number returned")
def numpy_loss(model, optimiser, loss_fn, batch):
    return _step(model, optimiser, loss_fn(model, batch)).detach().cpu().numpy()


@wrong("train_step", "loss rounded")
def rounded_for_the_log(model, optimiser, loss_fn, batch):
    return round(_step(model, optimiser, loss_fn(model, batch)).item(), 2)


@wrong("train_step", "returned loss rescaled")
def total_over_the_batch(model, optimiser, loss_fn, batch):
    return _step(model, optimiser, loss_fn(model, batch)).item() * batch[0].shape[0]


@wrong("train_step", "learning rate changed")
def warm_up(model, optimiser, loss_fn, batch):
    optimiser.param_groups[0]["lr"] *= 0.5
    return _step(model, optimiser, loss_fn(model, batch)).item()


@wrong("train_step", "each gradient clipped")
def clip_by_value(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    nn.utils.clip_grad_value_(model.parameters(), clip_value=0.1)
    optimiser.step()
    return loss.item()


@wrong("train_step", "the model given the targets")
def unpacked_the_wrong_way(model, optimiser, loss_fn, batch):
    targets, inputs = batch  # the order guessed
    return _step(model, optimiser, loss_fn(model, (inputs, targets))).item()


@right("train_step")
def zero_grad_at_the_end(model, optimiser, loss_fn, batch):
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    optimiser.zero_grad()
    return loss.item()


@right("train_step")
def model_zero_grad_and_float(model, optimiser, loss_fn, batch):
    model.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return float(loss)


@right("train_step")
def grads_to_none_by_hand(model, optimiser, loss_fn, batch):
    for p in model.parameters():
        p.grad = None
    return _step(model, optimiser, loss_fn(model, batch)).detach().item()


@right("train_step")
def zero_grad_between_forward_and_backward(model, optimiser, loss_fn, batch):
    loss = loss_fn(model, batch)
    optimiser.zero_grad(set_to_none=False)
    loss.backward()
    optimiser.step()
    return loss.tolist()


@right("train_step")
def train_mode_first(model, optimiser, loss_fn, batch):
    model.train()
    return _step(model, optimiser, loss_fn(model, batch).mean()).item()


@right("train_step")
def under_enable_grad(model, optimiser, loss_fn, batch):
    with torch.enable_grad():
        return _step(model, optimiser, loss_fn(model, batch)).item()


# --- 09: the nucleus of top-p ---


def _ranked(probs):
    ranked, order = probs.sort(dim=-1, descending=True)
    return ranked, order, ranked.cumsum(dim=-1)


def _back(probs, ranked, order):
    return torch.zeros_like(probs).scatter(-1, order, ranked)


@wrong("keep_top_p", "each probability against top_p")
def tokens_above_p(probs, top_p):
    return renormalised(torch.where(probs >= top_p, probs, torch.zeros_like(probs)))


@wrong("keep_top_p", "each probability against 1 − top_p")
def tokens_above_one_minus_p(probs, top_p):
    return renormalised(probs * (probs > 1 - top_p).float())


@wrong("keep_top_p", "min-p")
def relative_to_the_top(probs, top_p):
    top = probs.max(dim=-1, keepdim=True).values
    return renormalised(torch.where(probs >= top_p * top, probs, 0.0))


@wrong("keep_top_p", "the mask returned")
def mask_as_floats(probs, top_p):
    ranked, order, cum = _ranked(probs)
    return _back(probs, (cum - ranked < top_p).float(), order)


@wrong("keep_top_p", "one token too many")
def one_past_the_crossing(probs, top_p):
    ranked, order, cum = _ranked(probs)
    before = F.pad(cum, (1, 0))[:, :-1]  # what the tokens above hold
    before_that = F.pad(before, (1, 0))[:, :-1]
    return renormalised(_back(probs, ranked * (before_that < top_p), order))


@wrong("keep_top_p", "mask shifted onto itself")
def hugging_face_without_clone(probs, top_p):
    ranked, order, cum = _ranked(probs)
    drop = cum > top_p
    drop[:, 1:] = drop[:, :-1]
    drop[:, 0] = False
    return renormalised(_back(probs, ranked.masked_fill(drop, 0.0), order))


@wrong("keep_top_p", "the notebook's top_p")
def top_p_of_the_notebook(probs, top_p):
    top_p = 0.9  # left from the cell above
    ranked, order, cum = _ranked(probs)
    return renormalised(_back(probs, ranked.masked_fill(cum - ranked >= top_p, 0.0), order))


@wrong("keep_top_p", "scatter's index and values swapped")
def scatter_backwards(probs, top_p):
    ranked, order, cum = _ranked(probs)
    return renormalised(torch.zeros_like(probs).scatter(1, ranked, order.float()))


@wrong("keep_top_p", "only the likeliest token")
def top_p_as_a_percentage(probs, top_p):
    ranked, order, cum = _ranked(probs)
    return renormalised(_back(probs, ranked * (cum - ranked < top_p / 100), order))


@right("keep_top_p")
def nucleus_loop(probs, top_p):
    out = torch.zeros_like(probs)
    for b, row in enumerate(probs):
        total = 0.0
        for i in row.argsort(descending=True).tolist():
            if total >= top_p:
                break
            out[b, i], total = row[i], total + float(row[i])
    return renormalised(out)


@right("keep_top_p")
def nucleus_float64(probs, top_p):
    ranked, order, cum = _ranked(probs.double())
    return renormalised(_back(probs.double(), ranked.masked_fill(cum - ranked >= top_p, 0), order)).float()


@right("keep_top_p")
def mask_back_through_argsort(probs, top_p):
    ranked, order, cum = _ranked(probs)
    keep = (cum - ranked < top_p).gather(-1, order.argsort(dim=-1))
    return renormalised(probs * keep)


@right("keep_top_p")
def smallest_kept_as_threshold(probs, top_p):
    ranked, _, cum = _ranked(probs)
    smallest = ranked.masked_fill(cum - ranked >= top_p, 2.0).min(dim=-1, keepdim=True).values
    return renormalised(probs.masked_fill(probs < smallest, 0.0))


@right("keep_top_p")
def softmax_of_the_logs(probs, top_p):
    ranked, order, cum = _ranked(probs)
    return torch.softmax(_back(probs, ranked.masked_fill(cum - ranked >= top_p, 0.0), order).log(), dim=-1)


@right("keep_top_p")
def in_place_on_a_clone(probs, top_p):
    kept = probs.clone()
    ranked, order, cum = _ranked(kept)
    kept.scatter_(-1, order, ranked.masked_fill(cum - ranked >= top_p, 0.0))
    kept /= kept.sum(dim=-1, keepdim=True)
    return kept


# --- 03: the attention scores ---


@wrong("attention_scores", "shifted by the max")
def stable_scores(q, k):
    s = torch.matmul(q, k.transpose(-1, -2))
    return s - s.amax(dim=-1, keepdim=True)


@wrong("attention_scores", "queries normalised")
def unit_queries(q, k):
    return F.normalize(q, dim=-1) @ k.transpose(-2, -1)


@wrong("attention_scores", "keys normalised")
def unit_keys(q, k):
    return q @ F.normalize(k, dim=-1).transpose(-2, -1)


@wrong("attention_scores", "an activation of the scores")
def tanh_scores(q, k):
    return torch.tanh(q @ k.transpose(-2, -1))


@wrong("attention_scores", "an activation of the scores")
def relu_scores(q, k):
    return F.relu(torch.einsum("...qd,...kd->...qk", q, k))


@wrong("attention_scores", "future masked with −∞")
def causal_scores(q, k):
    s = q @ k.transpose(-2, -1)
    return s.masked_fill(torch.triu(torch.ones_like(s, dtype=torch.bool), diagonal=1), float("-inf"))


@wrong("attention_scores", "scores times a constant")
def scaled_by_the_notebooks_d_k(q, k):
    d_k = 8  # the notebook's
    return q @ k.transpose(-2, -1) / d_k**0.5


@right("attention_scores")
def scores_loop(q, k):
    out = q.new_zeros(*q.shape[:-1], k.shape[-2])
    for i in range(q.shape[-2]):
        for j in range(k.shape[-2]):
            out[..., i, j] = (q[..., i, :] * k[..., j, :]).sum(-1)
    return out


@right("attention_scores")
def scores_einsum(q, k):
    return torch.einsum("...id,...jd->...ij", q, k)


@right("attention_scores")
def scores_float64(q, k):
    return (q.double() @ k.double().mT).to(q.dtype)


@right("attention_scores")
def scores_broadcast(q, k):
    return (q.unsqueeze(-2) * k.unsqueeze(-3)).sum(dim=-1)


@right("attention_scores")
def scores_transposed_twice(q, k):
    return (k @ q.mT).mT


@right("attention_scores")
def scores_linear_or_bmm(q, k):
    return F.linear(q, k) if q.dim() == 2 else torch.bmm(q, k.transpose(1, 2))


# --- 08: sampling the next token ---


def _filtered(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is None:
        return logits
    return logits.masked_fill(logits < logits.topk(top_k, dim=-1).values[:, [-1]], float("-inf"))


@wrong("sample_next_token", "kthvalue counts from the smallest")
def kthvalue_threshold(logits, temperature, top_k):
    logits = logits / temperature
    if top_k:
        kth = torch.kthvalue(logits, top_k, dim=-1).values.unsqueeze(-1)
        logits[logits < kth] = -math.inf
    return torch.multinomial(F.softmax(logits, dim=-1), 1).view(-1)


@wrong("sample_next_token", "the first row's distribution for all")
def one_row_for_the_batch(logits, temperature, top_k):
    probs = F.softmax(_filtered(logits, temperature, top_k), dim=-1)
    return torch.multinomial(probs[0], num_samples=len(logits), replacement=True)


@wrong("sample_next_token", "the batch's average distribution")
def averaged_over_the_batch(logits, temperature, top_k):
    probs = F.softmax(_filtered(logits, temperature, top_k), dim=-1).mean(0)
    return torch.multinomial(probs, len(logits), replacement=True)


@wrong("sample_next_token", "any token, equally likely")
def any_token(logits, temperature, top_k):
    return torch.randint(logits.shape[1], size=(logits.shape[0],))


@wrong("sample_next_token", "the top k filled instead")
def top_k_the_wrong_way(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        v, _ = torch.topk(logits, top_k)
        logits = torch.where(logits > v[:, -1:], -math.inf, logits)
    return torch.multinomial(logits.softmax(-1), 1).squeeze(1)


@wrong("sample_next_token", "a fixed temperature or top_k")
def notebook_temperature(logits, temperature, top_k):
    temperature = 3.0  # the generate cell's
    return torch.multinomial(F.softmax(_filtered(logits, temperature, top_k), dim=-1), 1).squeeze(-1)


@wrong("sample_next_token", "a fixed temperature or top_k")
def top_k_always_5(logits, temperature, top_k):
    return torch.multinomial(F.softmax(_filtered(logits, temperature, 5), dim=-1), 1).squeeze(-1)


@right("sample_next_token")
def probabilities_to_the_power(logits, temperature, top_k):
    probs = F.softmax(_filtered(logits, 1.0, top_k), dim=-1) ** (1 / temperature)
    return torch.multinomial(probs / probs.sum(-1, keepdim=True), 1).squeeze(-1)


@right("sample_next_token")
def gumbel_max(logits, temperature, top_k):
    noise = -torch.log(-torch.log(torch.rand_like(logits)))
    return (_filtered(logits, temperature, top_k) + noise).argmax(dim=-1)


@right("sample_next_token")
def inverse_cdf(logits, temperature, top_k):
    probs = F.softmax(_filtered(logits, temperature, top_k), dim=-1)
    u = torch.rand(len(probs), 1)
    return (probs.cumsum(-1) < u).sum(-1).clamp(max=probs.shape[-1] - 1)


@right("sample_next_token")
def sampled_in_float64(logits, temperature, top_k):
    return torch.multinomial(F.softmax(_filtered(logits.double(), temperature, top_k), -1), 1).squeeze(-1)


@right("sample_next_token")
def row_by_row(logits, temperature, top_k):
    ids = []
    for row in logits / temperature:
        if top_k is None:
            ids.append(torch.multinomial(row.softmax(-1), 1))
        else:
            values, indices = row.topk(top_k)
            ids.append(indices[torch.multinomial(values.softmax(-1), 1)])
    return torch.cat(ids)


@right("sample_next_token")
def categorical_with_large_negative(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        logits = torch.where(logits < logits.topk(top_k).values[:, -1:], -1e9, logits)
    return torch.distributions.Categorical(logits=logits).sample()


# --- 07: Add & Norm ---


def _add_norm(block, x, sublayer, norm, drop=None):
    drop = block.dropout if drop is None else drop
    if block.norm_first:
        return x + drop(sublayer(norm(x)))
    return norm(x + drop(sublayer(x)))


@wrong("add_norm", "the block asked for its sublayer")
def block_ff(block, x, sublayer):
    return block.norm(x + block.dropout(block.ff(x)))


@wrong("add_norm", "LayerNorm's scale and shift swapped")
def weight_and_bias_swapped(block, x, sublayer):
    norm = block.norm
    return _add_norm(block, x, sublayer, lambda h: F.layer_norm(h, (h.shape[-1],), norm.bias, norm.weight))


@wrong("add_norm", "scale and shift without normalising")
def affine_only(block, x, sublayer):
    return _add_norm(block, x, sublayer, lambda h: block.norm.weight * h + block.norm.bias)


@wrong("add_norm", "RMSNorm")
def rms_instead_of_layer_norm(block, x, sublayer):
    def rms(h):
        return h * torch.rsqrt(h.square().mean(-1, keepdim=True) + 1e-5) * block.norm.weight + block.norm.bias

    return _add_norm(block, x, sublayer, rms)


@wrong("add_norm", "dropout rescaled by 1 − p")
def dropout_undone(block, x, sublayer):
    return _add_norm(block, x, sublayer, block.norm, lambda h: block.dropout(h) * (1 - block.dropout.p))


NOTEBOOK_NORM = nn.LayerNorm(8)  # a cell above's block.norm, trained a little
with torch.no_grad():
    NOTEBOOK_NORM.weight.fill_(1.3), NOTEBOOK_NORM.bias.fill_(-0.2)


@wrong("add_norm", "another LayerNorm")
def the_notebooks_layer_norm(block, x, sublayer):
    return _add_norm(block, x, sublayer, NOTEBOOK_NORM)


@right("add_norm")
def add_norm_functional(block, x, sublayer):
    n = block.norm
    return _add_norm(
        block,
        x,
        sublayer,
        lambda h: F.layer_norm(h, n.normalized_shape, n.weight, n.bias, n.eps),
        lambda h: F.dropout(h, block.dropout.p, block.training),
    )


@right("add_norm")
def add_norm_by_hand(block, x, sublayer):
    def norm(h):
        mean = h.mean(-1, keepdim=True)
        var = ((h - mean) ** 2).mean(-1, keepdim=True)
        return (h - mean) / torch.sqrt(var + block.norm.eps) * block.norm.weight + block.norm.bias

    return _add_norm(block, x, sublayer, norm)


@right("add_norm")
def add_norm_one_expression(block, x, sublayer):
    h = block.norm(x) if block.norm_first else x
    out = x + block.dropout(sublayer(h))
    return out if block.norm_first else block.norm(out)


@right("add_norm")
def add_norm_on_a_clone(block, x, sublayer):
    out = x.clone()
    out += block.dropout(sublayer(block.norm(x) if block.norm_first else x))
    return out if block.norm_first else block.norm(out)


@right("add_norm")
def add_norm_torch_dropout(block, x, sublayer):
    return _add_norm(
        block, x, sublayer, block.norm, lambda h: torch.dropout(h, block.dropout.p, block.training)
    )


@right("add_norm")
def add_norm_lib(block, x, sublayer):
    return block(x, sublayer)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("name", "mistake", "fn"), WRONG_ANSWERS)
def test_a_wrong_answer_is_named(name, mistake, fn):
    result = exercise(name).check(fn)
    assert result.status == WRONG, result.message
    assert hint_of(name, mistake) in result.message, result.message


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("name", "fn"), RIGHT_ANSWERS)
def test_a_right_answer_in_another_style_passes_without_a_warning(name, fn):
    result = exercise(name).check(fn)
    assert result.status == PASSED, result.message
    assert "beware" not in result.message and not result.warning, result.message


def test_the_battery_holds_six_right_answers_for_each_of_the_five():
    for name in ("train_step", "keep_top_p", "attention_scores", "sample_next_token", "add_norm"):
        assert sum(p.values[0] == name for p in RIGHT_ANSWERS) >= 6, name


# --- Answers that change their inputs in place ---


def _cosine_in_place(vectors):
    vectors.div_(vectors.norm(dim=-1, keepdim=True))
    return vectors @ vectors.T


def _softmax_in_place(x):
    x -= x.max(dim=-1, keepdim=True).values
    return x.exp() / x.exp().sum(dim=-1, keepdim=True)


def _masked_in_place(scores, ids, pad_id):
    future = torch.ones(scores.shape[-2:], dtype=torch.bool).triu(1)
    scores.masked_fill_(future | (ids == pad_id)[:, None, :], float("-inf"))
    return scores.softmax(dim=-1)


def _layer_norm_in_place(x, weight, bias, eps=1e-5):
    x.sub_(x.mean(dim=-1, keepdim=True))
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight + bias


def _add_norm_in_place(block, x, sublayer):
    if block.norm_first:
        x += block.dropout(sublayer(block.norm(x)))
        return x
    x += block.dropout(sublayer(x))
    return block.norm(x)


def _sampling_in_place(logits, temperature, top_k):
    logits /= temperature
    if top_k is not None:
        logits[logits < logits.topk(top_k, dim=-1).values[:, -1:]] = float("-inf")
    return torch.multinomial(logits.softmax(dim=-1), 1).squeeze(-1)


def _scores_in_place(q, k):
    k.transpose_(-2, -1)
    return q @ k


IN_PLACE = [
    ("cosine_similarity", _cosine_in_place, "vectors", "vectors.div_(…)"),
    ("softmax", _softmax_in_place, "x", "x -= …"),
    ("causal_masked_weights", _masked_in_place, "scores", "scores.masked_fill_(…)"),
    ("add_norm", _add_norm_in_place, "x", "x += …"),
    ("sample_next_token", _sampling_in_place, "logits", "logits /= …"),
    ("attention_scores", _scores_in_place, "k", "k.transpose_(…)"),
]


@pytest.mark.parametrize(("name", "fn", "argument", "operation"), IN_PLACE, ids=[p[0] for p in IN_PLACE])
def test_a_right_answer_that_changes_its_input_passes_with_a_warning_naming_the_operation(
    name, fn, argument, operation
):
    result = exercise(name).check(fn)
    assert result.status == PASSED, result.message
    assert f"changed the {argument} it was given in place ({operation})" in result.message, result.message
    assert result.warning and result.message.endswith(result.warning)


def test_the_layer_norm_exercise_warns_too():
    def my_layer_norm(x, weight, bias, eps):
        x.sub_(x.mean(dim=-1, keepdim=True))  # centred in place
        return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight + bias

    result = checks.check_layer_norm(my_layer_norm)
    assert result.status == PASSED, result.message
    assert "changed the x it was given in place (x.sub_(…))" in result.message, result.message


def test_a_function_of_star_args_is_told_which_argument_changed():
    def any_arguments(*args):
        args[0].sub_(args[0].mean(dim=-1, keepdim=True))
        return exercise("layer_norm").solution(*args)

    result = checks.check_layer_norm(any_arguments)
    assert result.status == PASSED and "changed its argument #1 in place" in result.message, result.message


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("ex", EXERCISES, ids=lambda ex: ex.name)
def test_no_worked_solution_or_alternative_gets_the_warning(ex):
    for fn in (ex.solution, *ex.alternatives.values()):
        result = ex.check(fn)
        assert result.passed and "beware" not in result.message, result.message


def test_a_training_step_moves_its_model_without_a_warning():
    result = exercise("train_step").check(zero_grad_at_the_end)
    assert result.passed and not result.warning, result.message


def test_a_wrong_answer_that_changes_its_input_gets_its_hint_not_the_warning():
    def in_place_and_wrong(x):
        x -= x.max(dim=-1, keepdim=True).values
        return x.exp()  # not renormalised

    result = checks.check_softmax(in_place_and_wrong)
    assert result.status == WRONG and "beware" not in result.message, result.message


def test_the_warning_is_said_once_per_argument_and_names_each():
    def both(q, k):
        q.mul_(1.0).add_(0.0)
        k.transpose_(-2, -1)
        k.transpose_(-2, -1)
        q += 1.0
        return (q - 1.0) @ k.transpose(-2, -1)

    result = checks.check_attention_scores(both)
    assert result.status == PASSED, result.message
    assert result.message.count("beware") == 1 and "changed the q it was given" in result.message


def test_an_input_with_nan_is_not_called_changed():
    x = torch.tensor([1.0, float("nan")])
    assert changed_arguments(lambda x: x, (x.clone(),), (x,)) == []
    assert changed_arguments(lambda x: x, (x.clone().fill_(0),), (x,)) == ["x"]


def test_a_module_cast_to_float64_is_not_called_changed():
    layer = nn.Linear(3, 2)
    assert changed_arguments(lambda layer: layer, (nn.Linear(3, 2),), (layer,)) == ["layer"]
    doubled = copy.deepcopy(layer).double()
    assert changed_arguments(lambda layer: layer, (doubled,), (layer,)) == []


def test_a_warning_without_source_still_says_what_to_do():
    fn = eval("lambda x: x")  # noqa: S307 (typed at a prompt: no source to quote)
    warning = in_place_warning(fn, ["x"])
    assert "the x it was given" in warning and "without the underscore" in warning


def test_the_harness_warns_for_any_exercise_and_not_where_the_function_is_meant_to_update():
    def reference(x):
        return x * 2

    def doubles_in_place(x):
        return x.mul_(2)

    cases = [(torch.ones(3),)]
    warned = check_function(doubles_in_place, reference, cases, name="double")
    quiet = check_function(doubles_in_place, reference, cases, name="double", updates_in_place=True)
    assert warned.passed and "x.mul_(…)" in warned.message and "x.mul(…)" in warned.message
    assert quiet.passed and not quiet.warning and "beware" not in quiet.message
