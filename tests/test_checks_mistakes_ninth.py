"""A ninth audit of the checkers, chapters 08 and 09: the loss, the training step, greedy
decoding, sampling, the GPT's forward pass, the nucleus of top-p and the cached attention step,
each fed the answers a reviewer wrote as a learner.

Each wrong answer is written here the way a learner writes it, apart from the catalogue's own
``example``. Where the checker answered with "differs from the reference", a bare shape or a
raw traceback (or, for a new output layer, blamed dropout), it now names the mistake. Right
answers written another way (loops, einsum, float64, F.* functions, nanoGPT's and Hugging
Face's ways) must still pass.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course.checks import PASSED, WRONG, exercise
from transformer_course.masks import causal_mask


def says(name, fn, *words):
    """The check failed (never passed, never crashed) and its message holds every phrase."""
    result = exercise(name).check(fn)
    assert result.status == WRONG, result
    for word in words:
        assert word in result.message, result.message


def passes(name, fn):
    result = exercise(name).check(fn)
    assert result.status == PASSED, result.message


def flat_ce(logits, labels, **kwargs):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), **kwargs)


# --- 08 the shifted-target loss ---


def _reads_two_fewer(model, src, trg, pad_id):
    return flat_ce(model(src, trg[:, :-2]), trg[:, 1:-1], ignore_index=pad_id)


def _logits_cut_two_ahead(model, src, trg, pad_id):
    return flat_ce(model(src, trg)[:, :-2], trg[:, 2:], ignore_index=pad_id)


def _sum_over_every_id(model, src, trg, pad_id):
    return flat_ce(model(src, trg[:, :-1]), trg[:, 1:], ignore_index=pad_id, reduction="sum") / trg.numel()


def _sum_over_the_length(model, src, trg, pad_id):
    total = flat_ce(model(src, trg[:, :-1]), trg[:, 1:], ignore_index=pad_id, reduction="sum")
    return total / trg.size(1)


def _mean_over_the_stories_again(model, src, trg, pad_id):
    return flat_ce(model(src, trg[:, :-1]), trg[:, 1:], ignore_index=pad_id) / len(trg)


def _labels_wrapped_by_hand(model, src, trg, pad_id):
    labels = torch.cat([trg[:, 1:], trg[:, :1]], dim=1)  # the same as torch.roll(trg, -1, 1)
    return flat_ce(model(src, trg), labels, ignore_index=pad_id)


def _last_real_label_masked(model, src, trg, pad_id):
    labels = trg[:, 1:]
    keep = labels != pad_id
    for row, length in enumerate(keep.sum(dim=1).tolist()):
        keep[row, length - 1] = False  # "the <eos> is no word"
    each = F.cross_entropy(model(src, trg[:, :-1]).permute(0, 2, 1), labels, reduction="none")
    return each[keep].mean()


def _squared_error_on_the_logits(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return ((logits - F.one_hot(trg[:, 1:], logits.shape[-1])) ** 2).mean()


def _one_loss_per_story(model, src, trg, pad_id):
    each = F.cross_entropy(
        model(src, trg[:, :-1]).transpose(1, 2), trg[:, 1:], ignore_index=pad_id, reduction="none"
    )
    return each.sum(dim=1) / (trg[:, 1:] != pad_id).sum(dim=1)  # (B,)


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (_reads_two_fewer, ("one position too few", "the last one included")),
        (_logits_cut_two_ahead, ("two tokens ahead", "trg[:, 2:]")),
        (_sum_over_every_id, ("by a length", "REAL tokens")),
        (_sum_over_the_length, ("by a length", "(labels != pad_id).sum()")),
        (_mean_over_the_stories_again, ("divided twice", "MEAN")),
        (_labels_wrapped_by_hand, ("torch.roll wraps round", "<bos>")),
        (_last_real_label_masked, ("last label, its <eos>", "never taught to stop")),
        (_squared_error_on_the_logits, ("squared error", "F.cross_entropy")),
        (_one_loss_per_story, ("not one number", "ONE number")),
    ],
    ids=[
        "reads two fewer",
        "two tokens ahead",
        "sum / trg.numel()",
        "sum / T",
        "mean / B",
        "labels wrapped round",
        "<eos> masked",
        "squared error",
        "one loss per story",
    ],
)
def test_loss_mistakes_are_named(fn, words):
    says("teacher_forcing_loss", fn, *words)


def _loss_in_loops(model, src, trg, pad_id):
    logits, total, count = model(src, trg[:, :-1]), 0.0, 0
    for b in range(trg.shape[0]):
        for i in range(trg.shape[1] - 1):
            label = trg[b, i + 1]
            if label != pad_id:
                total, count = total - logits[b, i].log_softmax(-1)[label], count + 1
    return total / count


def _loss_annotated_transformer(model, src, trg, pad_id):
    x, y = model(src, trg[:, :-1]), trg[:, 1:]
    criterion = nn.CrossEntropyLoss(ignore_index=pad_id, reduction="sum")
    return criterion(x.contiguous().view(-1, x.size(-1)), y.contiguous().view(-1)) / (y != pad_id).sum()


def _loss_hugging_face(model, src, trg, pad_id):
    labels = trg[:, 1:].clone()
    labels[labels == pad_id] = -100  # on a copy: trg is untouched
    return flat_ce(model(src, trg[:, :-1]), labels)


def _loss_einsum(model, src, trg, pad_id):
    logp = F.log_softmax(model(src, trg[:, :-1]), dim=2)
    one_hot = F.one_hot(trg[:, 1:], logp.shape[-1]).to(logp.dtype)
    real = (trg[:, 1:] != pad_id).to(logp.dtype)
    return -torch.einsum("btv,btv,bt->", logp, one_hot, real) / real.sum()


def _loss_logsumexp(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    nll = logits.logsumexp(-1) - logits.gather(-1, labels[..., None]).squeeze(-1)
    return nll[labels != pad_id].mean()


@pytest.mark.parametrize(
    "fn",
    [
        _loss_in_loops,
        _loss_annotated_transformer,
        _loss_hugging_face,
        _loss_einsum,
        _loss_logsumexp,
        lambda m, s, t, p: flat_ce(m(s, t)[:, :-1], t[:, 1:], ignore_index=p),  # the causal mask
        lambda m, s, t, p: nn.CrossEntropyLoss(ignore_index=p)(m(s, t[:, :-1]).permute(0, 2, 1), t[:, 1:]),
        lambda m, s, t, p: flat_ce(m(s, t[:, :-1])[t[:, 1:] != p], t[:, 1:][t[:, 1:] != p]),
        lambda m, s, t, p: flat_ce(m(s, t[:, :-1]).double(), t[:, 1:], ignore_index=p),
        lambda m, s, t, p: flat_ce(m(s, t[:, :-1]).log_softmax(-1), t[:, 1:], ignore_index=p),
    ],
    ids=[
        "loops",
        "Annotated Transformer",
        "Hugging Face's -100",
        "einsum",
        "logsumexp",
        "whole target read, logits sliced",
        "nn.CrossEntropyLoss",
        "boolean indexing",
        "float64",
        "log_softmax first",
    ],
)
def test_other_right_losses_pass(fn):
    passes("teacher_forcing_loss", fn)


# --- 08 the training step ---


def _step_scaled_up(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    x, _ = batch
    loss = len(x) * loss_fn(model, batch)  # "the sum over the batch"
    loss.backward()
    optimiser.step()
    return loss.item()


def _step_with_a_closure_of_the_loss(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step(closure=loss)
    return loss.item()


def _step_rounding_the_loss(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return round(loss.item())


def _step_returning_the_method(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.detach().item


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (_step_scaled_up, ("multiplied the loss by the batch size", "MEAN")),
        (_step_with_a_closure_of_the_loss, ("optimiser.step() takes no loss", "closure")),
        (_step_rounding_the_loss, ("whole number", "loss.item(), a float")),
        (_step_returning_the_method, ("the METHOD itself", "loss.item()")),
    ],
    ids=["loss × B", "step(closure=loss)", "round(loss)", "loss.item without ()"],
)
def test_train_step_mistakes_are_named(fn, words):
    says("train_step", fn, *words)


def _step_with_a_closure(model, optimiser, loss_fn, batch):
    def closure():
        optimiser.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward()
        return loss

    return optimiser.step(closure).item()


def _step_accumulating_two_halves(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    x, y = batch
    total = 0.0
    for part in ((x[:3], y[:3]), (x[3:], y[3:])):  # two halves of 3, each half the mean's weight
        loss = loss_fn(model, part) / 2
        loss.backward()
        total += loss.item()
    optimiser.step()
    return total


def _step_with_autograd_grad(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    params = list(model.parameters())
    for p, g in zip(params, torch.autograd.grad(loss, params)):
        p.grad = g
    optimiser.step()
    return loss.item()


def _step_grads_set_to_none(model, optimiser, loss_fn, batch):
    for p in model.parameters():
        p.grad = None
    loss = loss_fn(model, batch)
    loss.backward()
    with torch.no_grad():
        optimiser.step()
    return float(loss.detach())


def _step_clipped_far_above_the_norm(model, optimiser, loss_fn, batch):
    model.train()
    optimiser.zero_grad(set_to_none=False)
    loss = loss_fn(model, batch)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=1e9)  # never clips here
    optimiser.step()
    return float(loss.detach().double())


@pytest.mark.parametrize(
    "fn",
    [
        _step_with_a_closure,
        _step_accumulating_two_halves,
        _step_with_autograd_grad,
        _step_grads_set_to_none,
        _step_clipped_far_above_the_norm,
    ],
    ids=["closure", "two halves accumulated", "autograd.grad", "grads set to None", "clip never bites"],
)
def test_other_right_steps_pass(fn):
    passes("train_step", fn)


def test_a_loss_returned_as_an_int_out_of_nowhere_stays_generic():
    """Only whole numbers that are the right losses cut down are told about int(loss)."""
    result = exercise("train_step").check(lambda *args: 7)
    assert result.status == WRONG and "whole number" not in result.message, result.message


def test_a_step_returning_the_model_is_not_told_about_loss_item():
    """A module is callable too: only the method .item itself is named."""
    result = exercise("train_step").check(lambda model, *args: model)
    assert result.status == WRONG and "METHOD" not in result.message, result.message


# --- 08 greedy decoding ---


def _greedy_onto_the_prompt(logits_fn, prompt, max_new_tokens, eos_id):
    out = prompt
    for _ in range(max_new_tokens):
        next_id = logits_fn(out.view(1, -1)).squeeze(0)[-1].argmax(dim=-1, keepdim=True)
        out = torch.cat((prompt, next_id))
        if next_id.item() == eos_id:
            break
    return out


def _greedy_adding(logits_fn, prompt, max_new_tokens, eos_id):
    seq = prompt.clone()
    for _ in range(max_new_tokens):
        next_id = logits_fn(seq[None]).argmax(-1)[0, -1]
        seq += next_id  # meant seq = seq + [next_id], as with a list
        if next_id == eos_id:
            break
    return seq


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (_greedy_onto_the_prompt, ("after the PROMPT", "torch.cat([ids, token.view(1)])")),
        (_greedy_adding, ("ADDS the token's id to every id", "torch.cat([ids, token.view(1)])")),
    ],
    ids=["cat onto the prompt", "ids += token"],
)
def test_greedy_mistakes_are_named(fn, words):
    says("greedy_decode", fn, *words)


# --- 08 greedy decoding and sampling: right answers written other ways ---


def _greedy_nanogpt(logits_fn, prompt, max_new_tokens, eos_id):
    idx = prompt.unsqueeze(0)
    for _ in range(max_new_tokens):
        idx_next = torch.argmax(logits_fn(idx)[:, -1, :], dim=-1, keepdim=True)
        idx = torch.cat((idx, idx_next), dim=1)
        if idx_next.item() == eos_id:
            break
    return idx[0]


def _greedy_hugging_face(logits_fn, prompt, max_new_tokens, eos_id):
    input_ids = prompt[None]
    for _ in range(max_new_tokens):
        next_tokens = logits_fn(input_ids)[:, -1, :].max(dim=-1).indices
        input_ids = torch.cat([input_ids, next_tokens[:, None]], dim=-1)
        if (next_tokens == eos_id).all():
            break
    return input_ids.squeeze(0)


def _greedy_into_a_buffer(logits_fn, prompt, max_new_tokens, eos_id):
    out = torch.zeros(len(prompt) + max_new_tokens, dtype=torch.long)
    out[: len(prompt)], length = prompt, len(prompt)
    for _ in range(max_new_tokens):
        token = logits_fn(out[:length][None])[0, -1].double().softmax(-1).argmax()
        out[length], length = token, length + 1
        if token == eos_id:
            break
    return out[:length]


@pytest.mark.parametrize(
    "fn", [_greedy_nanogpt, _greedy_hugging_face, _greedy_into_a_buffer], ids=["nanoGPT", "HF", "buffer"]
)
def test_other_right_greedy_decoders_pass(fn):
    passes("greedy_decode", fn)


def _sample_last_rows_kth(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
        kth = v[-1]  # meant v[:, [-1]], nanoGPT's
        logits = torch.where(logits < kth, torch.full_like(logits, float("-inf")), logits)
    return torch.multinomial(F.softmax(logits, dim=-1), num_samples=1).view(-1)


def _sample_kth_at_index_k(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        values = torch.sort(logits, dim=-1, descending=True).values[:, :top_k]
        logits = torch.where(logits >= values[:, top_k, None], logits, torch.tensor(float("-inf")))
    return torch.distributions.Categorical(logits=logits).sample()


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (_sample_last_rows_kth, ("values[-1], the LAST ROW", "values[:, -1:]")),
        (_sample_kth_at_index_k, ("index k is past the end", "values[:, k - 1]")),
    ],
    ids=["v[-1]", "values[:, k]"],
)
def test_sampling_mistakes_are_named(fn, words):
    says("sample_next_token", fn, *words)


def _sample_hugging_face(logits, temperature, top_k):
    scores = logits / temperature
    if top_k is not None:
        scores = scores.masked_fill(scores < torch.topk(scores, top_k)[0][..., -1, None], -float("inf"))
    return torch.multinomial(F.softmax(scores, dim=-1), num_samples=1).squeeze(1)


def _sample_top_k_indices(logits, temperature, top_k):
    scaled = logits.double() / temperature
    if top_k is None:
        return torch.distributions.Categorical(logits=scaled).sample()
    values, ids = scaled.topk(top_k, dim=-1)
    return ids.gather(-1, torch.multinomial(values.softmax(-1), 1)).squeeze(-1)


def _sample_power_of_the_probabilities(logits, temperature, top_k):
    if top_k is not None:
        logits = logits.masked_fill(
            logits < logits.topk(top_k, -1).values[:, -1:], torch.finfo(logits.dtype).min
        )
    probs = logits.softmax(-1) ** (1 / temperature)  # softmax(l / T) ∝ softmax(l) ** (1 / T)
    return torch.multinomial(probs / probs.sum(-1, keepdim=True), 1).view(-1)


def _sample_exponential_race(logits, temperature, top_k):
    if top_k is not None:
        logits = logits.masked_fill(logits < logits.topk(top_k, -1).values[:, -1:], -1e9)
    probs = torch.softmax(logits / temperature, dim=-1)
    return (torch.empty_like(probs).exponential_() / probs).argmin(dim=-1)


@pytest.mark.parametrize(
    "fn",
    [
        _sample_hugging_face,
        _sample_top_k_indices,
        _sample_power_of_the_probabilities,
        _sample_exponential_race,
    ],
    ids=["HF", "top-k indices gathered", "probabilities to the power 1/T", "exponential race"],
)
def test_other_right_samplers_pass(fn):
    passes("sample_next_token", fn)


# --- 09 the GPT's forward pass ---


def _embed(parts, ids, where=None):
    length = ids.shape[1]
    where = torch.arange(length) if where is None else where
    return parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(where)


def _gpt_with_a_head_of_its_own(parts, ids):
    x = _embed(parts, ids)
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    lm_head = nn.Linear(parts.token.embedding_dim, parts.token.num_embeddings)  # with a bias
    return lm_head(parts.norm(x))


def _gpt_with_a_random_output_matrix(parts, ids):
    x = _embed(parts, ids)
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    w_out = torch.randn(parts.token.num_embeddings, parts.token.embedding_dim) * 0.02  # untied
    return x @ w_out.T  # and the final norm forgotten too


def _gpt_the_first_block_kept(parts, ids):
    x, block = _embed(parts, ids), parts.blocks[0]
    for _ in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return parts.norm(x) @ parts.token.weight.T


def _gpt_positions_from(start, extra):
    def forward(parts, ids):
        length = ids.shape[1]
        x = _embed(parts, ids, torch.arange(start, length + extra))
        for block in parts.blocks:
            x = block(x, causal_mask(length))
        return parts.norm(x) @ parts.token.weight.T

    return forward


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (_gpt_with_a_head_of_its_own, ("a layer made inside", "not dropout", "x @ parts.token.weight.T")),
        (_gpt_with_a_random_output_matrix, ("a layer made inside", "TIED")),
        (_gpt_the_first_block_kept, ("FIRST block as many times", "its own weights")),
        (_gpt_positions_from(1, 0), ("not L in number", "torch.arange(L)")),
        (_gpt_positions_from(0, 1), ("not L in number", "one too many")),
    ],
    ids=["nn.Linear head", "random matrix, no norm", "first block kept", "arange(1, L)", "arange(L + 1)"],
)
def test_gpt_forward_mistakes_are_named(fn, words):
    says("gpt_forward", fn, *words)


def test_gpt_forward_with_dropout_is_still_told_about_dropout():
    def with_dropout(parts, ids):
        x = F.dropout(_embed(parts, ids), p=0.1)  # GPT-2's embedding dropout, on by default
        for block in parts.blocks:
            x = block(x, causal_mask(ids.shape[1]))
        return parts.norm(x) @ parts.token.weight.T

    says("gpt_forward", with_dropout, "dropout left on")
    result = exercise("gpt_forward").check(with_dropout)
    assert "not dropout" not in result.message, result.message


def _gpt_hugging_face(parts, ids):
    embeds = F.embedding(ids, parts.token.weight) * parts.token.embedding_dim**0.5
    h = embeds + parts.positions(torch.arange(0, ids.shape[-1], dtype=torch.long).unsqueeze(0))
    causal = torch.tril(torch.ones((ids.shape[1], ids.shape[1]), dtype=torch.bool))
    for block in parts.blocks:
        h = block(h, causal)
    return F.linear(parts.norm(h), parts.token.weight)


def _gpt_norm_by_hand_einsum(parts, ids):
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions.weight[: ids.shape[1]]
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    n = parts.norm
    x = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + n.eps)
    return torch.einsum("bld,vd->blv", x * n.weight + n.bias, parts.token.weight)


def _gpt_tied_linear_float64(parts, ids):
    length = ids.shape[1]
    head = nn.Linear(parts.token.embedding_dim, parts.token.num_embeddings, bias=False)
    head.weight = parts.token.weight  # tied, as nanoGPT ties lm_head and wte
    x = _embed(parts, ids)
    mask = torch.triu(torch.ones(length, length), diagonal=1) == 0
    for block in parts.blocks:
        x = block(x, mask)
    return head(parts.norm(x)).double()


def _gpt_in_loops(parts, ids):
    batch, length = ids.shape
    d = parts.token.embedding_dim
    rows = [
        torch.stack(
            [parts.token.weight[ids[b, i]] * math.sqrt(d) + parts.positions.weight[i] for i in range(length)]
        )
        for b in range(batch)
    ]
    x = torch.stack(rows)
    mask = torch.tensor([[j <= i for j in range(length)] for i in range(length)])
    for block in parts.blocks:
        x = block(x, mask)
    return parts.norm(x) @ parts.token.weight.T


@pytest.mark.parametrize(
    "fn",
    [_gpt_hugging_face, _gpt_norm_by_hand_einsum, _gpt_tied_linear_float64, _gpt_in_loops],
    ids=["HF", "norm by hand, einsum", "tied nn.Linear, float64", "loops"],
)
def test_other_right_gpt_forwards_pass(fn):
    passes("gpt_forward", fn)


# --- 09 the nucleus of top-p ---


def _nucleus_kept(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked * (ranked.cumsum(-1) - ranked < top_p)
    return torch.zeros_like(probs).scatter(-1, order, ranked)


def _nucleus_columns_divided_in_place(probs, top_p):
    kept = _nucleus_kept(probs, top_p)
    kept /= kept.sum(0, keepdim=True)
    return kept


def _nucleus_as_log_probabilities(probs, top_p):
    kept = _nucleus_kept(probs, top_p)
    return torch.log(kept / kept.sum(-1, keepdim=True))  # log 0 = -inf: "ready for sampling"


def _nucleus_sampled(probs, top_p):
    kept = _nucleus_kept(probs, top_p)
    return torch.multinomial(kept, 1).squeeze(-1)


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (_nucleus_columns_divided_in_place, ("down the batch, dim=0", "kept.sum(dim=-1, keepdim=True)")),
        (_nucleus_as_log_probabilities, ("log-probabilities", "PROBABILITIES")),
        (_nucleus_sampled, ("You drew a token", "shape (B, V)")),
    ],
    ids=["divided down the batch", "log-probabilities", "a token drawn"],
)
def test_nucleus_mistakes_are_named(fn, words):
    says("keep_top_p", fn, *words)


def _nucleus_transformers(probs, top_p):
    """transformers' TopPLogitsWarper: ascending sort, drop while the mass is ≤ 1 - p."""
    logits = probs.log()
    sorted_logits, sorted_ids = torch.sort(logits, descending=False)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove = cumulative <= (1 - top_p)
    remove[..., -1:] = False
    remove = remove.scatter(1, sorted_ids, remove)
    return logits.masked_fill(remove, -float("inf")).softmax(dim=-1)


def _nucleus_searchsorted(probs, top_p):
    ranked, order = probs.sort(-1, descending=True)
    cum = ranked.cumsum(-1)
    last = torch.searchsorted(cum, torch.full((cum.shape[0], 1), top_p, dtype=cum.dtype))
    ranked = ranked * (torch.arange(cum.shape[-1]) <= last)
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(-1, keepdim=True)


def _nucleus_exclusive_cumsum(probs, top_p):
    ranked, order = probs.sort(-1, descending=True)
    above = torch.cat([torch.zeros_like(ranked[:, :1]), ranked.cumsum(-1)[:, :-1]], dim=-1)
    ranked = torch.where(above < top_p, ranked, torch.zeros_like(ranked))
    return (ranked / ranked.sum(-1, keepdim=True)).gather(-1, order.argsort(-1))


def _nucleus_in_the_callers_tensor(probs, top_p):
    ranked, order = probs.sort(-1, descending=True)
    probs.scatter_(-1, order, ranked.masked_fill(ranked.cumsum(-1) - ranked >= top_p, 0.0))
    return probs.div_(probs.sum(-1, keepdim=True))


@pytest.mark.parametrize(
    "fn",
    [_nucleus_transformers, _nucleus_searchsorted, _nucleus_exclusive_cumsum, _nucleus_in_the_callers_tensor],
    ids=["transformers' warper", "searchsorted", "exclusive cumsum, argsort", "in place"],
)
def test_other_right_nuclei_pass(fn):
    passes("keep_top_p", fn)


# --- 09 the cached attention step ---


def _grown(past, new):
    return new if past is None else torch.cat((past, new), dim=-2)


def _step_softmax_over_dim_0(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    weights = F.softmax(q @ keys.transpose(2, 3) / q.size(-1) ** 0.5, 0)
    return weights @ values, keys, values


def _step_without_softmax(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    return q @ keys.mT @ values, keys, values  # neither scaled nor softmaxed


def _step_cache_summed(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else past_k.add(k_new)
    values = v_new if past_v is None else past_v.add(v_new)
    return F.scaled_dot_product_attention(q, keys, values), keys, values


def _step_cat_of_two_tensors(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat(past_k, k_new, 2)
    values = v_new if past_v is None else torch.cat(past_v, v_new, 2)
    return F.scaled_dot_product_attention(q, keys, values), keys, values


def _step_appending(q, k_new, v_new, past_k, past_v):
    if past_k is not None:
        past_k.append(k_new)
        past_v.append(v_new)
    keys, values = (k_new, v_new) if past_k is None else (past_k, past_v)
    return F.scaled_dot_product_attention(q, keys, values), keys, values


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (_step_softmax_over_dim_0, ("dim=0, the batch", "torch.softmax(scores, dim=-1)")),
        (_step_without_softmax, ("scores themselves as the weights", "torch.softmax(scores, dim=-1)")),
        (_step_cache_summed, ("ADDED the new key", "the cache never grows")),
        (_step_cat_of_two_tensors, ("ONE sequence of tensors", "torch.cat([past_k, k_new], dim=2)")),
        (_step_appending, ("not a Python list", "torch.cat([past_k, k_new], dim=2)")),
    ],
    ids=["softmax over dim 0", "no softmax", "past_k + k_new", "torch.cat(a, b)", "past_k.append"],
)
def test_cached_step_mistakes_are_named(fn, words):
    says("cached_attention_step", fn, *words)


def _step_hugging_face(q, k_new, v_new, past_k, past_v):
    if past_k is not None:
        k_new, v_new = torch.cat([past_k, k_new], dim=-2), torch.cat([past_v, v_new], dim=-2)
    attn = torch.matmul(q, k_new.transpose(-1, -2)) / torch.full([], v_new.size(-1) ** 0.5, dtype=q.dtype)
    return torch.matmul(F.softmax(attn, dim=-1), v_new), k_new, v_new


def _step_with_a_finfo_mask(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    t = keys.shape[2]
    last_row = torch.ones(t, t, dtype=torch.bool).tril()[-1:]  # the new token's row: sees all
    scores = (q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(
        ~last_row, torch.finfo(q.dtype).min
    )
    return scores.softmax(-1) @ values, keys, values


def _step_empty_cache_of_length_0(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        past_k = k_new.new_zeros(*k_new.shape[:2], 0, k_new.shape[-1])
        past_v = v_new.new_zeros(past_k.shape)
    keys, values = torch.cat([past_k, k_new], 2), torch.cat([past_v, v_new], 2)
    return F.scaled_dot_product_attention(q, keys, values, scale=1 / math.sqrt(q.shape[-1])), keys, values


def _step_in_loops(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    out = torch.zeros_like(q)
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            scores = torch.stack([q[b, h, 0] @ keys[b, h, j] for j in range(keys.shape[2])])
            weights = (scores / math.sqrt(q.shape[-1])).softmax(0)
            out[b, h, 0] = (weights[:, None] * values[b, h]).sum(0)
    return out, keys.detach(), values.detach()


@pytest.mark.parametrize(
    "fn",
    [_step_hugging_face, _step_with_a_finfo_mask, _step_empty_cache_of_length_0, _step_in_loops],
    ids=["HF", "finfo.min mask of the last row", "a cache of length 0", "loops"],
)
def test_other_right_cached_steps_pass(fn):
    passes("cached_attention_step", fn)
