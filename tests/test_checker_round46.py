"""Round 46: three checker blind spots, each now named.

- teacher_forcing_loss: label smoothing of ANY amount ε in (0, 1), from label_smoothing=ε or
  written by hand; ε is solved from the loss (a straight line in ε between the cross-entropy
  and a mean of −log p over the vocabulary), confirmed on a second input, and said in the verdict.
  Round 45b knew six amounts only.
- The loss returned as text, rounded past the old tolerance (f"{loss.item():.2f}",
  str(round(loss.item(), 2))): by teacher_forcing_loss (which got "expected a tensor, got str")
  and by train_step (which got "differs"). The exercises that return a loss are these two, both
  chapter 08's: chapter 09's (gpt_forward, keep_top_p, cached_attention_step) return none.
- cached_attention_step: weights @ k_new (or past_k) is named as the keys multiplied, not as
  "v_new alone" (the same error's text).

The wrong answers are written as a learner types them; each group ends with right answers that
must still pass without a warning, and wrong ones that keep their own names.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from transformer_course.checks.harness import WRONG
from transformer_course.checks.loss_text import reads_as
from transformer_course.checks.registry import exercise


def hint_of(exercise_name, mistake_name):
    return {m.name: m.hint for m in exercise(exercise_name).mistakes}[mistake_name]


def named(verdict, exercise_name, mistake_name):
    """The verdict is WRONG and gives that mistake's hint."""
    return verdict.status == WRONG and verdict.message.startswith(hint_of(exercise_name, mistake_name))


def passes_quietly(verdict):
    return verdict.passed and not verdict.warning


SMOOTHED = "label smoothing, another amount or by hand"

# --- 1. Chapter 08: label smoothing of any amount ---


def loss_smoothed_007(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)), trg[:, 1:].reshape(-1), ignore_index=pad_id, label_smoothing=0.07
    )


def loss_smoothed_quarter(model, src, trg, pad_id):
    criterion = torch.nn.CrossEntropyLoss(ignore_index=pad_id, label_smoothing=0.25)
    logits = model(src, trg[:, :-1])
    return criterion(logits.transpose(1, 2), trg[:, 1:])


def loss_smoothed(model, src, trg, pad_id, eps):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(logits.transpose(1, 2), trg[:, 1:], ignore_index=pad_id, label_smoothing=eps)


def loss_smoothed_by_hand_off_target(model, src, trg, pad_id):
    """1 − ε on the right token, ε/V on each other: the targets sum to 1 − ε/V."""
    logits = model(src, trg[:, :-1])
    log_p = F.log_softmax(logits, dim=-1)  # (B, T-1, V)
    labels = trg[:, 1:]
    eps = 0.2
    target = torch.full_like(log_p, eps / logits.size(-1))
    target.scatter_(-1, labels.unsqueeze(-1), 1 - eps)
    per_token = -(target * log_p).sum(-1)
    mask = (labels != pad_id).float()
    return (per_token * mask).sum() / mask.sum()


def loss_smoothed_by_hand_szegedy(model, src, trg, pad_id):
    """1 − ε on the right token, ε/(V − 1) on each other (Szegedy et al.), ε = 0.15."""
    logits = model(src, trg[:, :-1])
    vocab = logits.size(-1)
    log_p = logits.log_softmax(-1)
    labels = trg[:, 1:]
    soft = torch.full_like(log_p, 0.15 / (vocab - 1))
    soft.scatter_(-1, labels[..., None], 0.85)
    return -(soft * log_p).sum(-1)[labels != pad_id].mean()


@pytest.mark.parametrize(
    "fn, said",
    [
        (loss_smoothed_007, "label_smoothing=0.07 "),
        (loss_smoothed_quarter, "label_smoothing=0.25 "),
        (lambda m, s, t, p: loss_smoothed(m, s, t, p, 0.42), "label_smoothing=0.42 "),
        (lambda m, s, t, p: loss_smoothed(m, s, t, p, 0.9), "label_smoothing=0.9 "),
        (loss_smoothed_by_hand_off_target, "ε/V on each other one, with ε = 0.2 "),
        (loss_smoothed_by_hand_szegedy, "ε′ = 0.15)"),
    ],
    ids=["0.07", "0.25 nn.CrossEntropyLoss", "0.42", "0.9", "by hand, ε/V", "by hand, ε/(V-1)"],
)
def test_label_smoothing_of_any_amount_is_named_with_its_amount(fn, said):
    verdict = exercise("teacher_forcing_loss").check(fn)
    assert named(verdict, "teacher_forcing_loss", SMOOTHED), verdict.message
    assert said in verdict.message, verdict.message


def test_label_smoothing_of_0_1_keeps_its_own_name():
    verdict = exercise("teacher_forcing_loss").check(lambda m, s, t, p: loss_smoothed(m, s, t, p, 0.1))
    assert named(verdict, "teacher_forcing_loss", "label smoothing"), verdict.message


def loss_times_a_number(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return 0.95 * F.cross_entropy(logits.transpose(1, 2), trg[:, 1:], ignore_index=pad_id)


def test_a_loss_scaled_by_a_number_is_not_called_smoothing():
    """0.95 · CE solves to an ε in (0, 1) on the first input (CE > A there); the second input,
    where it no longer fits, is what tells it apart."""
    verdict = exercise("teacher_forcing_loss").check(loss_times_a_number)
    assert verdict.status == WRONG
    assert hint_of("teacher_forcing_loss", SMOOTHED) not in verdict.message, verdict.message


def test_a_loss_of_another_model_keeps_its_name():
    """Run before it in the catalogue, the smoothing's test must leave it to its own mistake."""
    from transformer_course.checks.loss import _config
    from transformer_course.model import Transformer

    torch.manual_seed(5)
    notebook_model = Transformer(_config()).eval()  # the notebook's `model`, another one

    def loss(model, src, trg, pad_id):
        logits = notebook_model(src, trg[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1), trg[:, 1:].flatten(), ignore_index=pad_id)

    verdict = exercise("teacher_forcing_loss").check(loss)
    assert named(verdict, "teacher_forcing_loss", "another model than the argument"), verdict.message


@pytest.mark.parametrize("eps", [0.0, 0.00001])
def test_no_smoothing_or_a_negligible_amount_passes(eps):
    verdict = exercise("teacher_forcing_loss").check(lambda m, s, t, p: loss_smoothed(m, s, t, p, eps))
    assert passes_quietly(verdict), verdict.message


# --- 2. Chapter 08: the loss returned as text ---


def loss_as_text_two_places(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), trg[:, 1:].reshape(-1), ignore_index=pad_id)
    return f"{loss.item():.2f}"


def loss_as_rounded_str(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    loss = F.cross_entropy(logits.transpose(1, 2), trg[:, 1:], ignore_index=pad_id)
    return str(round(loss.item(), 2))


def loss_as_str_of_the_tensor(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return str(F.cross_entropy(logits.transpose(1, 2), trg[:, 1:], ignore_index=pad_id))


@pytest.mark.parametrize("fn", [loss_as_text_two_places, loss_as_rounded_str, loss_as_str_of_the_tensor])
def test_a_loss_returned_as_text_is_named(fn):
    verdict = exercise("teacher_forcing_loss").check(fn)
    assert named(verdict, "teacher_forcing_loss", "returned text"), verdict.message
    assert "backward()" in verdict.message and "string" in verdict.message


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, s, t, p: "3.00",
        lambda m, s, t, p: str(m(s, t[:, :-1]).shape),  # "torch.Size([3, …])": the loss is 3.40 here
        lambda m, s, t, p: str(m(s, t[:, :-1]).dim()),  # "3"
        lambda m, s, t, p: f"batch {s.shape[0]}",
    ],
    ids=["another number", "a shape", "a count", "words and a count"],
)
def test_text_that_is_not_the_loss_is_not_called_the_loss_as_text(fn):
    verdict = exercise("teacher_forcing_loss").check(fn)
    assert verdict.status == WRONG
    assert not verdict.message.startswith(hint_of("teacher_forcing_loss", "returned text"))


def step_returns_two_places(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return f"{loss.item():.2f}"


def step_returns_rounded_str(model, optimiser, loss_fn, batch):
    model.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return str(round(loss.item(), 2))


@pytest.mark.parametrize("fn", [step_returns_two_places, step_returns_rounded_str])
def test_a_step_that_returns_a_rounded_loss_as_text_is_named(fn):
    verdict = exercise("train_step").check(fn)
    assert named(verdict, "train_step", "returned text"), verdict.message


def test_the_loss_and_the_step_written_as_numbers_pass_quietly():
    def step(model, optimiser, loss_fn, batch):
        optimiser.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward()
        optimiser.step()
        return float(f"{loss.item():.9g}")  # a number, however it was made

    assert passes_quietly(exercise("train_step").check(step))
    assert passes_quietly(
        exercise("teacher_forcing_loss").check(lambda m, s, t, p: loss_smoothed(m, s, t, p, 0))
    )


@pytest.mark.parametrize(
    "text, value, reads",
    [
        ("3.40", 3.4049, True),
        ("3.40", 3.4062, False),  # past half a unit of the second decimal
        ("3", 3.45, False),  # a whole number: as likely a count as a rounded loss
        ("3", 3.0, True),
        ("loss: 3.40", 3.4049, True),
        ("torch.Size([3, 6, 11])", 3.3989, False),  # a number inside, not the loss written out
        ("batch 3", 3.3989, False),
        ("tensor(3.3989, grad_fn=<NllLossBackward0>)", 3.39891, True),
        ("3.40e+00", 3.4031, True),
        ("1.2e-03", 0.00124, True),
        ("1.2e-03", 0.0015, False),
        ("done", 0.0, False),
        (3.4, 3.4, False),  # a number is no text
    ],
)
def test_reads_as_holds_a_number_to_the_digits_it_shows(text, value, reads):
    assert reads_as(text, value) is reads


# --- 3. Chapter 09: the cached step's weights times the keys ---


def _grown(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        return k_new, v_new
    return torch.cat([past_k, k_new], dim=2), torch.cat([past_v, v_new], dim=2)


def step_gathers_the_new_key(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(q, k_new, v_new, past_k, past_v)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ k_new, keys, values


def step_gathers_the_new_key_by_matmul(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(q, k_new, v_new, past_k, past_v)
    weights = F.softmax(torch.matmul(q, keys.mT) / q.size(-1) ** 0.5, dim=-1)
    out = torch.matmul(weights, k_new)
    return out, keys, values


def step_gathers_the_cached_keys(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(q, k_new, v_new, past_k, past_v)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ (k_new if past_k is None else past_k), keys, values


def step_gathers_the_new_key_by_bmm(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(q, k_new, v_new, past_k, past_v)
    batch, heads, _, d = q.shape
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(d), dim=-1).reshape(batch * heads, 1, -1)
    out = torch.bmm(weights, k_new.reshape(batch * heads, -1, d))  # the keys, (B·h, 1, d_head)
    return out.reshape(batch, heads, 1, d), keys, values


@pytest.mark.parametrize(
    "fn",
    [
        step_gathers_the_new_key,
        step_gathers_the_new_key_by_matmul,
        step_gathers_the_cached_keys,
        step_gathers_the_new_key_by_bmm,
    ],
)
def test_weights_times_the_keys_is_named_as_the_keys(fn):
    verdict = exercise("cached_attention_step").check(fn)
    assert named(verdict, "cached_attention_step", "weights @ k_new"), verdict.message
    assert "v_new alone" not in verdict.message
    assert "RuntimeError" in verdict.message  # what was raised still follows the hint


@pytest.mark.parametrize(
    "gathered, mistake",
    [
        ("v_new", "the new token's value only"),
        ("past_v", "the cached values without the new token's"),
    ],
)
def test_weights_times_the_values_alone_keep_their_names(gathered, mistake):
    def step(q, k_new, v_new, past_k, past_v):
        keys, values = _grown(q, k_new, v_new, past_k, past_v)
        weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
        alone = {"v_new": v_new, "past_v": v_new if past_v is None else past_v}[gathered]
        return weights @ alone, keys, values

    verdict = exercise("cached_attention_step").check(step)
    assert named(verdict, "cached_attention_step", mistake), verdict.message


def test_the_cached_step_written_here_passes_quietly():
    def step(q, k_new, v_new, past_k, past_v):
        keys, values = _grown(q, k_new, v_new, past_k, past_v)
        weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
        return weights @ values, keys, values

    assert passes_quietly(exercise("cached_attention_step").check(step))


# --- 4. The same mistakes written with einsum: it broadcasts the new token's one position ---


def step_einsums(gathered: str):
    def step(q, k_new, v_new, past_k, past_v):
        keys, values = _grown(q, k_new, v_new, past_k, past_v)
        weights = torch.einsum("bhqd,bhkd->bhqk", q / math.sqrt(q.shape[-1]), keys).softmax(dim=-1)
        alone = {"k_new": k_new, "v_new": v_new}[gathered]
        return torch.einsum("bhqk,bhkd->bhqd", weights, alone), keys, values

    return step


def test_an_einsum_over_k_new_is_named_as_the_key_given_back():
    verdict = exercise("cached_attention_step").check(step_einsums("k_new"))
    assert named(verdict, "cached_attention_step", "output is k_new"), verdict.message
    assert "differs" not in verdict.message


def test_an_einsum_over_v_new_is_told_the_weights_may_have_multiplied_v_new():
    verdict = exercise("cached_attention_step").check(step_einsums("v_new"))
    assert named(verdict, "cached_attention_step", "new token only"), verdict.message
    assert "einsum over v_new" in verdict.message
