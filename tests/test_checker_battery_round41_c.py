"""Round-41 battery, chapter 08's checkers: wrong answers a learner types that used to get the
generic "differs from the reference", a raw error, another mistake's hint, or even a pass, now
get the hint that names what they did; right answers written another way still pass.

Each wrong answer is written here the way a learner writes it, apart from the catalogue's own
``example`` (which tests/test_exercises.py runs): the loss, the training step, greedy decoding
and sampling with a temperature and top-k.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course import checks
from transformer_course.checks import PASSED, WRONG, exercise
from transformer_course.model import Transformer, TransformerConfig


def says(result, *words):
    """The check failed (never passed, never crashed) and its message holds every phrase."""
    assert result.status == WRONG, result
    for word in words:
        assert word in result.message, result.message


def hint(name, mistake):
    return next(m.hint for m in exercise(name).mistakes if m.name == mistake)


# --- 08a the shifted-target loss ---


def _ce(logits, labels, pad_id):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=pad_id)


def _loss(*, logits=lambda m, s, t: m(s, t[:, :-1]), labels=lambda t, p: t[:, 1:], then=lambda x: x):
    return lambda model, src, trg, pad_id: then(_ce(logits(model, src, trg), labels(trg, pad_id), pad_id))


LOSS_NAMED = {
    "labels.T flattened": (
        _loss(labels=lambda t, p: t[:, 1:].T),
        "flattened in different orders",
    ),
    "logits.transpose(0, 1) flattened": (
        _loss(logits=lambda m, s, t: m(s, t[:, :-1]).transpose(0, 1)),
        "flattened in different orders",
    ),
    "labels with a pad in front": (
        _loss(
            logits=lambda m, s, t: m(s, t),
            labels=lambda t, p: F.pad(t[:, :-1], (1, 0), value=p),
        ),
        "Your labels are the PREVIOUS tokens",
    ),
    "source shifted too": (
        _loss(logits=lambda m, s, t: m(s[:, :-1], t[:, :-1])),
        "You shifted the source too",
    ),
    "loss in log10": (
        _loss(then=lambda loss: loss / torch.log(torch.tensor(10.0))),
        "Your log is in base 10",
    ),
}


@pytest.mark.parametrize("name", LOSS_NAMED)
def test_loss_mistakes_are_named(name):
    answer, words = LOSS_NAMED[name]
    says(checks.check_teacher_forcing_loss(answer), words)


def test_loss_averaged_over_the_vocabulary_too_is_named():
    def one_hot_mean(model, src, trg, pad_id):
        logp = F.log_softmax(model(src, trg[:, :-1]), dim=2)
        return -(logp * F.one_hot(trg[:, 1:], num_classes=logp.size(2))).mean()  # padding kept too

    says(checks.check_teacher_forcing_loss(one_hot_mean), "counts the vocabulary axis")


def test_loss_of_the_notebooks_model_is_named():
    config = TransformerConfig(
        vocab_size=11, d_model=16, num_heads=2, num_encoder_layers=1, num_decoder_layers=1, d_ff=32,
        dropout=0.0, max_len=16,
    )  # fmt: skip
    torch.manual_seed(7)
    notebook_model = Transformer(config).eval()  # the global `model` a notebook cell reads
    answer = lambda model, src, trg, pad_id: _ce(notebook_model(src, trg[:, :-1]), trg[:, 1:], pad_id)  # noqa: E731
    says(checks.check_teacher_forcing_loss(answer), "stays the same when the model handed in changes")


def test_loss_rebuilt_from_its_value_with_requires_grad_is_named():
    def rebuilt(model, src, trg, pad_id):
        loss = _ce(model(src, trg[:, :-1]), trg[:, 1:], pad_id)
        return torch.tensor(loss.item(), requires_grad=True)  # a leaf: backward reaches no weight

    says(checks.check_teacher_forcing_loss(rebuilt), "no link back to the model")


def test_loss_that_calls_backward_itself_is_named():
    def backs_up(model, src, trg, pad_id):
        loss = _ce(model(src, trg[:, :-1]), trg[:, 1:], pad_id)
        loss.backward()
        return loss

    says(checks.check_teacher_forcing_loss(backs_up), "calls loss.backward() itself")


LOSS_ERRORS = {
    "stories sliced": (
        lambda model, src, trg, pad_id: _ce(model(src, trg[:-1]), trg[1:], pad_id),
        "the STORIES",
    ),
    "target transposed": (
        lambda model, src, trg, pad_id: _ce(model(src, trg[:, :-1].t()), trg[:, 1:].t(), pad_id),
        "batch first",
    ),
    "model given the target only": (
        lambda model, src, trg, pad_id: _ce(model(trg[:, :-1]), trg[:, 1:], pad_id),
        "it takes the source AND",
    ),
    "cross_entropy(labels, logits)": (
        lambda model, src, trg, pad_id: F.cross_entropy(
            trg[:, 1:].flatten(), model(src, trg[:, :-1]).flatten(0, 1), ignore_index=pad_id
        ),
        "takes the logits first",
    ),
    "labels .float()": (
        lambda model, src, trg, pad_id: F.cross_entropy(
            model(src, trg[:, :-1]).flatten(0, 1), trg[:, 1:].flatten().float(), ignore_index=pad_id
        ),
        "Your labels are floats",
    ),
    "gather with (B, T-1) labels": (
        lambda model, src, trg, pad_id: (
            -(model(src, trg[:, :-1]).log_softmax(-1).gather(2, trg[:, 1:]).squeeze(-1)).mean()
        ),
        "a last axis of size 1",
    ),
    "two aranges": (
        lambda model, src, trg, pad_id: (
            -model(src, trg[:, :-1])
            .log_softmax(-1)[torch.arange(trg.shape[0]), torch.arange(trg.shape[1] - 1), trg[:, 1:]]
            .mean()
        ),
        "do not pair up",
    ),
    "reshape(-1, 14): the notebook's V": (
        lambda model, src, trg, pad_id: F.cross_entropy(
            model(src, trg[:, :-1]).reshape(-1, 14), trg[:, 1:].reshape(-1), ignore_index=pad_id
        ),
        "do not multiply",
    ),
    "view(B * T, V)": (
        lambda model, src, trg, pad_id: F.cross_entropy(
            model(src, trg[:, :-1]).view(trg.numel(), -1), trg[:, 1:].reshape(-1), ignore_index=pad_id
        ),
        "do not multiply",
    ),
}


@pytest.mark.parametrize("name", LOSS_ERRORS)
def test_loss_errors_are_named(name):
    answer, words = LOSS_ERRORS[name]
    says(checks.check_teacher_forcing_loss(answer), words)


LOSS_RIGHT = {
    "whole target read, logits[:, :-1]": lambda model, src, trg, pad_id: _ce(
        model(src, trg)[:, :-1], trg[:, 1:], pad_id
    ),
    "labels padded at the end": lambda model, src, trg, pad_id: _ce(
        model(src, trg), F.pad(trg[:, 1:], (0, 1), value=pad_id), pad_id
    ),
    "nn.CrossEntropyLoss on (B, V, T)": lambda model, src, trg, pad_id: nn.CrossEntropyLoss(
        ignore_index=pad_id
    )(model(src, trg[:, :-1]).permute(0, 2, 1), trg[:, 1:]),
    "logsumexp minus the picked logit": lambda model, src, trg, pad_id: (
        model(src, trg[:, :-1]).logsumexp(-1)
        - model(src, trg[:, :-1]).gather(-1, trg[:, 1:, None]).squeeze(-1)
    )[trg[:, 1:] != pad_id].mean(),
    "sum over the real count": lambda model, src, trg, pad_id: (
        F.cross_entropy(
            model(src, trg[:, :-1]).flatten(0, 1), trg[:, 1:].flatten(), ignore_index=pad_id, reduction="sum"
        )
        / (trg[:, 1:] != pad_id).sum()
    ),
    "one-hot in float64": lambda model, src, trg, pad_id: (
        -(F.one_hot(trg[:, 1:], 11) * model(src, trg[:, :-1]).double().log_softmax(-1))
        .sum(-1)[trg[:, 1:] != pad_id]
        .mean()
    ),
}


@pytest.mark.parametrize("name", LOSS_RIGHT)
def test_right_losses_written_another_way_pass(name):
    assert checks.check_teacher_forcing_loss(LOSS_RIGHT[name]).status == PASSED


def test_loss_that_loops_over_every_position_passes():
    def loops(model, src, trg, pad_id):
        logits, total, count = model(src, trg[:, :-1]), 0.0, 0
        for b in range(trg.shape[0]):
            for t in range(trg.shape[1] - 1):
                if int(trg[b, t + 1]) != pad_id:
                    total, count = total - logits[b, t].log_softmax(-1)[trg[b, t + 1]], count + 1
        return total / count

    assert checks.check_teacher_forcing_loss(loops).status == PASSED


# --- 08b one training step ---


def _step(model, optimiser, loss_fn, batch, *, loss=lambda x: x, backward=lambda x: x.backward()):
    optimiser.zero_grad()
    value = loss(loss_fn(model, batch))
    backward(value)
    optimiser.step()
    return value.item()


def _twice(loss):
    loss.backward(retain_graph=True)
    loss.backward()


def test_train_step_with_backward_twice_and_the_graph_kept_is_named():
    says(
        checks.check_train_step(lambda m, o, f, b: _step(m, o, f, b, backward=_twice)),
        "back-propagates twice",
    )


@pytest.mark.parametrize("factor", [0.01, 0.5, 3.0])
def test_train_step_with_the_loss_scaled_by_a_constant_is_named(factor):
    result = checks.check_train_step(lambda m, o, f, b: _step(m, o, f, b, loss=lambda x: x * factor))
    says(result, "multiplied the loss by a constant")


def test_train_step_with_one_step_per_example_is_named():
    def per_example(model, optimiser, loss_fn, batch):
        x, y = batch
        last = None
        for xi, yi in zip(x, y):
            optimiser.zero_grad()
            last = loss_fn(model, (xi[None], yi[None]))
            last.backward()
            optimiser.step()
        return last.item()  # the last example's loss

    says(checks.check_train_step(per_example), "once per example")


def test_train_step_brackets_forgotten_say_so():
    def no_brackets(model, optimiser, loss_fn, batch):
        optimiser.zero_grad  # noqa: B018 (the learner's slip)
        loss = loss_fn(model, batch)
        loss.backward()
        optimiser.step()
        return loss.item()

    says(checks.check_train_step(no_brackets), "optimiser.zero_grad alone does nothing")


STEP_RIGHT = {
    "closure given to step": lambda m, o, f, b: _closure_step(m, o, f, b),
    "grads set to None by hand": lambda m, o, f, b: _none_grads_step(m, o, f, b),
    "torch.autograd.grad": lambda m, o, f, b: _autograd_step(m, o, f, b),
    "model.train() first, float(loss)": lambda m, o, f, b: (m.train(), _step(m, o, f, b))[1],
}


def _closure_step(model, optimiser, loss_fn, batch):
    def closure():
        optimiser.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward()
        return loss

    return optimiser.step(closure).item()


def _none_grads_step(model, optimiser, loss_fn, batch):
    for p in model.parameters():
        p.grad = None
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def _autograd_step(model, optimiser, loss_fn, batch):
    params = list(model.parameters())
    loss = loss_fn(model, batch)
    for p, g in zip(params, torch.autograd.grad(loss, params)):
        p.grad = g
    optimiser.step()
    return loss.item()


@pytest.mark.parametrize("name", STEP_RIGHT)
def test_right_training_steps_written_another_way_pass(name):
    assert checks.check_train_step(STEP_RIGHT[name]).status == PASSED


# --- 08c greedy decoding ---


def _greedy(logits_fn, prompt, n, eos_id, *, feed=lambda ids: ids[None], pick=None, grow=None, out=None):
    ids = prompt.clone()
    for _ in range(n):
        logits = logits_fn(feed(ids))
        token = pick(logits) if pick else logits[0, -1].argmax()
        ids = grow(ids, token) if grow else torch.cat([ids, token.reshape(1)])
        if int(token) == eos_id:
            break
    return out(ids) if out else ids


GREEDY_NAMED = {
    "prefix ids[:, None]": (dict(feed=lambda ids: ids[:, None]), "made a column"),
    "F.softmax(logits, 1)": (
        dict(pick=lambda lg: F.softmax(lg, 1)[0, -1].argmax()),
        "over dim=1, the POSITIONS",
    ),
    "torch.max(...).values": (
        dict(pick=lambda lg: torch.max(lg[0, -1], dim=-1).values),
        "appended the largest SCORE",
    ),
    "cat([token, ids])": (
        dict(grow=lambda ids, t: torch.cat((t.reshape(1), ids))),
        "in FRONT of the sequence",
    ),
    "ids[1:] returned": (dict(out=lambda ids: ids[1:]), "leaves out the first token of the prompt"),
    "keepdim token": (
        dict(pick=lambda lg: lg[:, -1].argmax(-1, keepdim=True), grow=lambda ids, t: torch.cat([ids, t])),
        "has two axes, (1, 1)",
    ),
}


@pytest.mark.parametrize("name", GREEDY_NAMED)
def test_greedy_mistakes_are_named(name):
    how, words = GREEDY_NAMED[name]
    says(checks.check_greedy_decode(lambda f, p, n, e: _greedy(f, p, n, e, **how)), words)


def test_greedy_that_feeds_its_whole_buffer_is_named():
    def buffer(logits_fn, prompt, n, eos_id):
        out = torch.zeros(prompt.numel() + n, dtype=torch.long)
        out[: prompt.numel()] = prompt
        at = prompt.numel()
        while at < out.numel():
            out[at] = logits_fn(out[None]).squeeze(0)[-1].argmax()
            at += 1
            if out[at - 1] == eos_id:
                break
        return out[:at]

    says(checks.check_greedy_decode(buffer), "unwritten zeros included")


GREEDY_RIGHT = {
    "softmax(-1) then argmax": dict(pick=lambda lg: lg.softmax(-1)[0, -1].argmax()),
    "topk(1).indices": dict(pick=lambda lg: lg[0, -1].topk(1).indices),
    "max(dim=-1).indices in float64": dict(pick=lambda lg: lg.double()[0, -1].max(dim=-1).indices),
    "argmax of logits / 0.7": dict(pick=lambda lg: (lg[0, -1] / 0.7).argmax()),
}


@pytest.mark.parametrize("name", GREEDY_RIGHT)
def test_right_greedy_decoders_written_another_way_pass(name):
    how = GREEDY_RIGHT[name]
    assert checks.check_greedy_decode(lambda f, p, n, e: _greedy(f, p, n, e, **how)).status == PASSED


def test_greedy_with_a_buffer_fed_up_to_what_is_written_passes():
    def buffer(logits_fn, prompt, n, eos_id):
        out = torch.empty(prompt.numel() + n, dtype=prompt.dtype)
        out[: prompt.numel()] = prompt
        at = prompt.numel()
        for _ in range(n):
            out[at] = logits_fn(out[:at][None])[0, -1].argmax()
            at += 1
            if out[at - 1].item() == eos_id:
                break
        return out[:at].clone()

    assert checks.check_greedy_decode(buffer).status == PASSED


# --- 08d sampling with a temperature and top-k ---


def _sampler(logits, temperature, top_k, *, scale=lambda x, t: x / t, probs=lambda x: x.softmax(-1)):
    x = scale(logits, temperature)
    if top_k is not None:
        x = x.masked_fill(x < torch.topk(x, top_k).values[..., [-1]], -math.inf)
    return torch.multinomial(probs(x), 1).flatten()


def test_sampling_with_the_temperature_divided_twice_is_named():
    result = checks.check_sample_next_token(lambda lg, t, k: _sampler(lg, t, k, scale=lambda x, t: x / t / t))
    says(result, "divided by the temperature twice")


def test_sampling_with_a_sigmoid_is_named():
    says(checks.check_sample_next_token(lambda lg, t, k: _sampler(lg, t, k, probs=torch.sigmoid)), "sigmoid")


def test_sampling_with_minus_infinity_written_into_the_probabilities_is_named():
    def masks_probs(logits, temperature, top_k):
        p = F.softmax(logits / temperature, dim=-1)
        if top_k is not None:
            v, _ = torch.topk(p, top_k)
            p[p < v[:, [-1]]] = -float("inf")
        return p.multinomial(1).squeeze(1)

    result = checks.check_sample_next_token(masks_probs)
    says(result, "even for a single row")
    assert hint("sample_next_token", "top-k empties a row") not in result.message


def test_sampling_with_a_mask_multiplied_in_is_named():
    def multiplies(logits, temperature, top_k):
        x = logits / temperature
        if top_k is not None:
            keep = (x >= x.topk(top_k).values[:, -1:]).float()
            x = x * keep + (1 - keep) * float("-inf")  # 0 · (−∞) = NaN where kept
        return torch.multinomial(torch.softmax(x, -1), 1)[:, 0]

    says(checks.check_sample_next_token(multiplies), "0 · (−∞) = NaN")


def test_sampling_that_thresholds_the_whole_batch_keeps_its_own_hint():
    def whole_batch(logits, temperature, top_k):
        x = logits / temperature
        if top_k is not None:
            x = x.masked_fill(x < x.flatten().topk(top_k).values[-1], -math.inf)
        return torch.multinomial(x.softmax(-1), 1).squeeze(-1)

    says(checks.check_sample_next_token(whole_batch), hint("sample_next_token", "top-k empties a row"))


SAMPLING_RIGHT = {
    "inverse CDF with searchsorted": lambda lg, t, k: (
        torch.searchsorted(_sampler_probs(lg, t, k).cumsum(-1), torch.rand(lg.shape[0], 1))
        .squeeze(-1)
        .clamp(max=lg.shape[1] - 1)
    ),
    "exponential race": lambda lg, t, k: (
        _sampler_probs(lg, t, k) / torch.empty(lg.shape, dtype=torch.float64).exponential_()
    ).argmax(-1),
    "top-k indices gathered": lambda lg, t, k: _gather_top_k(lg, t, k),
    "exp normalised by hand": lambda lg, t, k: _sampler(lg, t, k, probs=_exp_normalised),
}


def _exp_normalised(x):
    e = (x - x.amax(-1, keepdim=True)).exp()
    return e / e.sum(-1, keepdim=True)


def _sampler_probs(logits, temperature, top_k):
    x = logits.double() / temperature
    if top_k is not None:
        x = x.masked_fill(x < x.topk(top_k).values[:, -1:], -math.inf)
    return x.softmax(-1)


def _gather_top_k(logits, temperature, top_k):
    x = logits / temperature
    if top_k is None:
        return torch.multinomial(x.softmax(-1), 1).squeeze(-1)
    values, indices = x.topk(top_k, dim=-1)
    return indices.gather(-1, torch.multinomial(values.softmax(-1), 1)).squeeze(-1)


@pytest.mark.parametrize("name", SAMPLING_RIGHT)
def test_right_samplers_written_another_way_pass(name):
    assert checks.check_sample_next_token(SAMPLING_RIGHT[name]).status == PASSED
