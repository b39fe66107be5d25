"""A seventh audit of the checkers, chapters 08 and 09: the loss, the training step, greedy
decoding, sampling, the GPT's forward pass, the nucleus of top-p and the cached attention step.

Each wrong answer is written here the way a learner writes it, apart from the catalogue's own
``example``, and fed to the checker as the chapter calls it. Where the checker used to answer
with "differs at index …", a bare error or a misleading hint, it now names the mistake
(``says``); a few stay generic, honestly (``generic``): what is said must never be a catalogue
hint that names another mistake. Right answers written another way must pass.
"""

import functools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course import checks
from transformer_course.checks import ERROR, PASSED, WRONG, exercise
from transformer_course.masks import causal_mask


def says(result, *words):
    """The check failed (never passed, never crashed) and its message holds every phrase."""
    assert result.status == WRONG, result
    for word in words:
        assert word in result.message, result.message


def generic(name, result):
    """Rejected with the honest generic message, and no catalogue hint in it."""
    assert result.status in (WRONG, ERROR), result
    assert not [m.name for m in exercise(name).mistakes if m.hint in result.message], result.message
    assert result.message.startswith((f"{name} differs from", f"{name} raised ")), result.message


# --- 08 the shifted-target loss: masks, reductions and returns ---


def _each(model, src, trg):
    """Every position's cross-entropy, (B, T-1), padding included."""
    return F.cross_entropy(model(src, trg[:, :-1]).transpose(1, 2), trg[:, 1:], reduction="none")


def _loss_masking_the_inputs(model, src, trg, pad_id):
    real = trg[:, :-1] != pad_id  # the tokens the decoder reads
    return (_each(model, src, trg) * real).sum() / real.sum()


def _loss_keeping_the_padding(model, src, trg, pad_id):
    pads = (trg[:, 1:] == pad_id).float()
    return (_each(model, src, trg) * pads).sum() / pads.sum()


def _loss_summing_the_padding(model, src, trg, pad_id):
    return _each(model, src, trg).sum() / (trg[:, 1:] != pad_id).sum()


def _loss_over_the_batch(model, src, trg, pad_id):
    logp = model(src, trg[:, :-1]).log_softmax(0)
    return F.nll_loss(logp.reshape(-1, logp.shape[-1]), trg[:, 1:].reshape(-1), ignore_index=pad_id)


def _loss_as_perplexity(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(logits.transpose(1, 2), trg[:, 1:], ignore_index=pad_id).exp()


def _loss_binary(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return nn.BCEWithLogitsLoss()(logits, F.one_hot(trg[:, 1:], logits.size(-1)).float())


def _loss_per_position(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return nn.CrossEntropyLoss(ignore_index=pad_id, reduction="none")(
        logits.flatten(0, 1), trg[:, 1:].flatten()
    )


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (_loss_masking_the_inputs, ("decoder READS", "trg[:, 1:] != pad_id")),
        (_loss_keeping_the_padding, ("only the PADDING", "labels != pad_id")),
        (_loss_summing_the_padding, ("sum includes the padding", "ignore_index=pad_id")),
        (_loss_over_the_batch, ("dim=0, the sequences", "dim=-1")),
        (_loss_as_perplexity, ("exp(loss), the perplexity",)),
        (_loss_binary, ("yes/no", "F.cross_entropy")),
        (_loss_per_position, ("one loss per position", "ONE number")),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_loss_mistakes_are_named(fn, words):
    says(checks.check_teacher_forcing_loss(fn), *words)


def test_loss_in_bits_is_named():
    def bits(model, src, trg, pad_id):
        logits = model(src, trg[:, :-1])
        return F.cross_entropy(logits.transpose(1, 2), trg[:, 1:], ignore_index=pad_id) / math.log(2)

    says(checks.check_teacher_forcing_loss(bits), "in bits", "natural log")


def test_loss_with_model_arguments_swapped_names_the_order():
    def swapped(model, src, trg, pad_id):
        logits = model(trg[:, :-1], src)
        return F.cross_entropy(logits.flatten(0, 1), trg[:, 1:].flatten(), ignore_index=pad_id)

    says(checks.check_teacher_forcing_loss(swapped), "model takes the source first")


# --- 08 one training step ---


def _step(model, optimiser, loss_fn, batch, *, between=lambda loss: loss.backward(), after=None):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    between(loss)
    optimiser.step()
    if after is not None:
        after(model, optimiser)
    return loss.item()


def _step_scaled(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch) / len(batch[0])
    loss.backward()
    optimiser.step()
    return loss.item()


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (functools.partial(_step, after=lambda m, o: o.step()), ("step() ran twice", "once per batch")),
        (functools.partial(_step, between=lambda loss: (-loss).backward()), ("-loss", "climbs")),
        (functools.partial(_step, between=lambda loss: torch.neg(loss).backward()), ("-loss",)),
        (_step_scaled, ("divided the loss by the batch size", "MEAN")),
    ],
    ids=["step twice", "(-loss).backward()", "torch.neg", "loss / batch size"],
)
def test_train_step_mistakes_are_named(fn, words):
    says(checks.check_train_step(fn), *words)


def _step_twice_on_the_batch(model, optimiser, loss_fn, batch):
    first = _step(model, optimiser, loss_fn, batch)
    _step(model, optimiser, loss_fn, batch)  # "one more pass for good measure"
    return first


def test_train_step_two_passes_over_the_batch_stay_generic():
    generic("train_step", checks.check_train_step(_step_twice_on_the_batch))


def test_train_step_rounded_loss_is_named():
    says(checks.check_train_step(lambda *a: round(_step(*a), 2)), "rounded", "loss.item()")


def test_train_step_returning_the_loss_in_a_list_is_named():
    says(checks.check_train_step(lambda *a: [_step(*a)]), "inside a list", "Return loss.item().")


# --- 08 greedy decoding ---


def _greedy_feeding_the_new_token(logits_fn, prompt, max_new_tokens, eos_id):
    out, x = [*prompt.tolist()], prompt[None]
    for _ in range(max_new_tokens):
        nxt = logits_fn(x)[:, -1].argmax(-1, keepdim=True)  # (1, 1)
        out.append(nxt.item())
        x = nxt  # as with a KV cache
        if nxt.item() == eos_id:
            break
    return torch.tensor(out)


def _greedy_argmin(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].min(dim=-1).indices
        ids = torch.cat([ids, token.view(1)])
        if token == eos_id:
            break
    return ids


def _greedy_appending_to_the_prompt(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt
    for _ in range(max_new_tokens):
        ids.append(int(logits_fn(ids[None])[0, -1].argmax()))
        if ids[-1] == eos_id:
            break
    return ids


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (_greedy_feeding_the_new_token, ("only the token just chosen", "keeps nothing between calls")),
        (_greedy_argmin, ("argmin", "argmax()")),
        (_greedy_appending_to_the_prompt, ("no .append", "torch.cat([ids, token.view(1)])")),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_greedy_mistakes_are_named(fn, words):
    says(checks.check_greedy_decode(fn), *words)


def _greedy_every_position(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        tokens = logits_fn(ids[None])[0].argmax(-1)  # (t,): one per position
        ids = torch.cat([ids, tokens])
        if eos_id in tokens:
            break
    return ids


def _greedy_without_the_batch_axis(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids)[0, -1].argmax()  # logits_fn wants (1, t)
        ids = torch.cat([ids, token.view(1)])
        if token == eos_id:
            break
    return ids


def _greedy_keeping_the_batch_axis(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt[None]
    for _ in range(max_new_tokens):
        token = logits_fn(ids)[:, -1].argmax(-1, keepdim=True)  # (1, 1)
        ids = torch.cat([ids, token], dim=1)
        if token.item() == eos_id:
            break
    return ids  # (1, t): the batch axis kept


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (_greedy_every_position, "expected shape"),
        (_greedy_without_the_batch_axis, "as a (1, t) tensor"),
        (_greedy_keeping_the_batch_axis, ".squeeze(0)"),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_greedy_mistakes_that_stay_generic_say_what_is_wrong(fn, words):
    result = checks.check_greedy_decode(fn)
    generic("greedy_decode", result)
    assert words in result.message


# --- 08 sampling with a temperature and top-k ---


def _top_k(logits, top_k):
    if top_k is None:
        return logits
    return logits.masked_fill(logits < logits.topk(top_k, dim=-1).values[:, [-1]], -math.inf)


def _sample_categorical_positional(logits, temperature, top_k):
    return torch.distributions.Categorical(_top_k(logits / temperature, top_k)).sample()


def _sample_item(logits, temperature, top_k):
    return torch.multinomial(F.softmax(_top_k(logits / temperature, top_k), -1), num_samples=1).item()


def _sample_softmax_dim_0(logits, temperature, top_k):
    probs = F.softmax(_top_k(logits / temperature, top_k), dim=0)
    return torch.multinomial(probs, 1)[:, 0]


def _sample_batch_threshold(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        kth = torch.topk(logits.reshape(-1), top_k).values.min()  # one threshold for every row
        logits = torch.where(logits >= kth, logits, torch.tensor(-math.inf))
    return torch.multinomial(logits.softmax(-1), 1).view(-1)


def _sample_temperature_added(logits, temperature, top_k):
    return torch.multinomial(F.softmax(_top_k(logits + temperature, top_k), -1), 1).squeeze(1)


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (_sample_categorical_positional, ("Categorical(x) reads x as PROBABILITIES", "logits=")),
        (_sample_item, (".item()", "(B,) tensor")),
        (_sample_batch_threshold, ("left a row with no token", "OWN k-th largest")),
        (_sample_temperature_added, ("changes nothing", "adding it to every logit")),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_sampling_mistakes_are_named(fn, words):
    says(checks.check_sample_next_token(fn), *words)


def test_sampling_with_the_softmax_down_the_batch_is_told_the_vocabulary_axis():
    result = checks.check_sample_next_token(_sample_softmax_dim_0)
    says(result, "softmax ran down the BATCH (dim=0)", "over the vocabulary (dim=-1)")


def test_sampling_with_the_softmax_forgotten_keeps_its_own_hint():
    def log_probs(logits, temperature, top_k):
        return torch.multinomial(F.log_softmax(_top_k(logits / temperature, top_k), -1), 1).squeeze(-1)

    result = checks.check_sample_next_token(log_probs)
    says(result, "torch.multinomial needs probabilities")
    assert "left a row with no token" not in result.message


def test_sampling_with_a_threshold_taken_down_the_batch_is_named():
    def column_threshold(logits, temperature, top_k):
        logits = logits / temperature
        if top_k is not None:
            logits = logits.masked_fill(logits < logits.topk(top_k, dim=0).values[-1:], -math.inf)
        return torch.multinomial(logits.softmax(-1), 1).squeeze(-1)

    says(checks.check_sample_next_token(column_threshold), "top-k ran down the BATCH", "dim=-1")


# --- 09 the GPT's forward pass ---


def _gpt(parts, ids, *, embed=None, blocks=None, head=None):
    length, d = ids.shape[1], parts.token.embedding_dim
    x = (
        parts.token(ids) * math.sqrt(d) + parts.positions(torch.arange(length))
        if embed is None
        else embed(parts, ids)
    )
    for block in parts.blocks if blocks is None else blocks(parts):
        x = block(x, causal_mask(length))
    return parts.norm(x) @ parts.token.weight.T if head is None else head(parts, x)


def _gpt_positions_last(parts, ids):
    x = parts.token(ids) * parts.token.embedding_dim**0.5
    for block in parts.blocks:
        x = block(x, torch.ones(ids.shape[1], ids.shape[1], dtype=torch.bool).tril())
    x = x + parts.positions.weight[: ids.shape[1]]
    return parts.norm(x) @ parts.token.weight.T


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (_gpt_positions_last, ("positions after the blocks", "BEFORE the first block")),
        (
            functools.partial(
                _gpt,
                embed=lambda p, ids: (
                    p.token(ids) * math.sqrt(p.token.embedding_dim) + p.positions(ids.size(1))
                ),
            ),
            ("TENSOR of indices", "torch.arange(L)"),
        ),
        (
            functools.partial(
                _gpt,
                embed=lambda p, ids: p.token(ids) * math.sqrt(p.token.embedding_dim) + p.positions.weight,
            ),
            ("whole position table", "parts.positions.weight[:L]"),
        ),
        (
            functools.partial(
                _gpt,
                embed=lambda p, ids: (
                    p.token(ids) * p.token.weight.shape[0] ** 0.5 + p.positions(torch.arange(ids.shape[1]))
                ),
            ),
            ("√V", "embedding_dim"),
        ),
        (functools.partial(_gpt, head=lambda p, x: p.norm(x)), ("hidden states", "parts.token.weight.T")),
        (functools.partial(_gpt, head=lambda p, x: p.norm(F.linear(x, p.token.weight))), ("to the logits",)),
        (
            functools.partial(_gpt, blocks=lambda p: p.blocks[-1:]),
            ("Only the last block's work", "only parts.blocks[-1] ran"),
        ),
    ],
    ids=[
        "positions after the blocks",
        "positions(L)",
        "positions.weight",
        "× √V",
        "no output layer",
        "norm on the logits",
        "last block only",
    ],
)
def test_gpt_forward_mistakes_are_named(fn, words):
    says(checks.check_gpt_forward(fn), *words)


def test_gpt_forward_with_an_output_layer_of_its_own_is_not_only_blamed_on_dropout():
    def own_head(parts, ids):
        return _gpt(parts, ids, head=lambda p, x: nn.Linear(x.shape[-1], p.token.num_embeddings)(p.norm(x)))

    says(
        checks.check_gpt_forward(own_head),
        "changes from call to call",
        "a layer made inside",
        "x @ parts.token.weight.T",
    )


# --- 09 the nucleus of top-p ---


def _nucleus(probs, top_p, *, fill=0.0, ids=None, dim=-1):
    ranked, order = probs.sort(dim=-1, descending=True)
    order = order if ids is None else ids(probs)
    ranked = ranked.masked_fill(ranked.cumsum(-1) - ranked >= top_p, fill)
    kept = torch.zeros_like(probs).scatter(dim, order, ranked)
    return kept / kept.sum(-1, keepdim=True)


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (functools.partial(_nucleus, fill=float("-inf")), ("−∞", "probability is 0")),
        (functools.partial(_nucleus, fill=-torch.inf), ("−∞",)),
        (
            functools.partial(_nucleus, ids=lambda p: torch.argsort(p, dim=-1)),
            ("ASCENDING sort", "same sort"),
        ),
        (functools.partial(_nucleus, dim=0), ("along dim=0", "scatter(-1, indices, kept)")),
    ],
    ids=["-inf", "-torch.inf", "argsort ascending", "scatter on dim 0"],
)
def test_nucleus_mistakes_are_named(fn, words):
    says(checks.check_keep_top_p(fn), *words)


def test_nucleus_returning_its_mask_as_numbers_is_named():
    def mask(probs, top_p):
        ranked, order = probs.sort(-1, descending=True)
        return torch.zeros_like(probs).scatter(-1, order, (ranked.cumsum(-1) - ranked < top_p).float())

    says(checks.check_keep_top_p(mask), "the mask of the nucleus", "returns probabilities")


def test_nucleus_shifted_in_place_without_clone_stays_generic():
    def hugging_face_without_clone(probs, top_p):
        ranked, order = probs.sort(descending=True)
        remove = ranked.cumsum(-1) > top_p
        remove[..., 1:] = remove[..., :-1]  # overlapping in-place copy: the shift goes wrong
        remove[..., 0] = False
        kept = ranked.masked_fill(remove, 0).scatter(-1, order, ranked.masked_fill(remove, 0))
        return kept / kept.sum(-1, keepdim=True)

    result = checks.check_keep_top_p(hugging_face_without_clone)
    assert result.status in (WRONG, ERROR), result


# --- 09 one cached attention step ---


def _cached(q, k_new, v_new, past_k, past_v, *, empty=None, weights=None, mix=None):
    if past_k is None and empty is not None:
        past_k, past_v = empty(k_new), empty(v_new)
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    scores = q @ keys.transpose(-2, -1)
    w = torch.softmax(scores / math.sqrt(q.shape[-1]), dim=-1) if weights is None else weights(scores, q)
    return w @ (values if mix is None else mix(keys, values)), keys, values


@pytest.mark.filterwarnings("ignore::UserWarning")  # F.softmax without dim
@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (functools.partial(_cached, mix=lambda k, v: k), ("gathered the KEYS", "weights @ values")),
        (functools.partial(_cached, empty=torch.zeros_like), ("position of zeros", "keys = k_new")),
        (
            functools.partial(_cached, empty=lambda t: torch.zeros(*t.shape[:2], 1, t.shape[-1])),
            ("position of zeros",),
        ),
        (
            functools.partial(_cached, weights=lambda s, q: F.softmax(s / math.sqrt(q.shape[-1]))),
            ("dim=1, the heads", "dim=-1"),
        ),
        (
            functools.partial(_cached, weights=lambda s, q: torch.softmax(s / q.size(1) ** 0.5, -1)),
            ("number of heads", "q.shape[-1]"),
        ),
    ],
    ids=["weights @ keys", "zeros_like", "torch.zeros", "softmax without dim", "÷ √h"],
)
def test_cached_step_mistakes_are_named(fn, words):
    says(checks.check_cached_attention_step(fn), *words)


@pytest.mark.filterwarnings("ignore::UserWarning")  # k.T on a 4-D tensor is deprecated
def test_cached_step_with_dot_t_on_a_4d_tensor_is_told_what_dot_t_does():
    def dot_t(q, k_new, v_new, past_k, past_v):
        keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
        values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
        return torch.softmax(q @ keys.T / math.sqrt(q.shape[-1]), -1) @ values, keys, values

    says(checks.check_cached_attention_step(dot_t), "reverses ALL the axes", ".mT")


# --- Right answers written another way ---


def _loss_loop(model, src, trg, pad_id):
    logp = model(src, trg[:, :-1]).log_softmax(-1)
    total, count = 0.0, 0
    for b in range(trg.shape[0]):
        for t in range(1, trg.shape[1]):
            if trg[b, t] != pad_id:
                total = total - logp[b, t - 1, trg[b, t]]
                count += 1
    return total / count


def _loss_one_hot(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    picked = torch.einsum(
        "btv,btv->bt", F.one_hot(labels, logits.shape[-1]).to(logits.dtype), logits.log_softmax(-1)
    )
    real = labels.ne(pad_id)
    return -picked[real].mean()


def _step_autograd_backward(model, optimiser, loss_fn, batch):
    for p in model.parameters():
        p.grad = None  # what zero_grad() does by default
    loss = loss_fn(model, batch)
    torch.autograd.backward(loss)
    optimiser.step()
    return loss.detach().item()


def _step_clipping_at_infinity(model, optimiser, loss_fn, batch):
    optimiser.zero_grad(set_to_none=True)
    loss = loss_fn(model, batch)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=float("inf"))  # measures, never clips
    optimiser.step()
    return float(loss.detach())


def _greedy_recursive(logits_fn, prompt, max_new_tokens, eos_id):
    if max_new_tokens == 0:
        return prompt
    token = logits_fn(prompt[None])[0, -1].argmax().reshape(1)
    grown = torch.hstack([prompt, token])
    return (
        grown if token.item() == eos_id else _greedy_recursive(logits_fn, grown, max_new_tokens - 1, eos_id)
    )


def _greedy_max_indices(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.tolist()
    for _ in range(max_new_tokens):
        _, best = torch.max(logits_fn(torch.tensor(ids).unsqueeze(0)), dim=-1)  # (1, t)
        ids += [int(best[0, -1])]
        if ids[-1] == eos_id:
            break
    return torch.as_tensor(ids, dtype=prompt.dtype)


def _sample_exponential_race(logits, temperature, top_k):
    probs = F.softmax(_top_k(logits / temperature, top_k), dim=-1)
    return (torch.empty_like(probs).exponential_() / probs).argmin(dim=-1)  # the first of V clocks


def _sample_sorted_threshold(logits, temperature, top_k):
    scaled = logits / temperature
    if top_k is not None:
        kth = scaled.sort(dim=-1, descending=True).values[:, top_k - 1 : top_k]
        scaled = torch.where(scaled < kth, torch.full_like(scaled, -math.inf), scaled)
    return torch.multinomial(scaled.softmax(-1), 1, replacement=True).flatten()


def _nucleus_hugging_face(probs, top_p):
    ranked, order = torch.sort(probs, descending=True)
    remove = ranked.cumsum(-1) >= top_p  # complete once the total reaches top_p
    remove[..., 1:] = remove[..., :-1].clone()
    remove[..., 0] = False
    kept = torch.zeros_like(probs).scatter(-1, order, ranked.masked_fill(remove, 0.0))
    return kept / kept.sum(-1, keepdim=True)


def _nucleus_threshold(probs, top_p):
    ranked = probs.sort(dim=-1, descending=True).values
    last = ((ranked.cumsum(-1) - ranked) < top_p).sum(-1, keepdim=True) - 1  # index of the last kept
    smallest = ranked.gather(-1, last)  # the smallest probability in the nucleus
    kept = torch.where(probs >= smallest, probs, 0.0)
    return kept / kept.sum(-1, keepdim=True)


def _nucleus_softmax_of_logs(probs, top_p):
    ranked, order = probs.sort(-1, descending=True)
    keep = torch.zeros_like(probs, dtype=torch.bool).scatter(-1, order, ranked.cumsum(-1) - ranked < top_p)
    return torch.softmax(probs.log().masked_fill(~keep, -math.inf), dim=-1)  # exp(log p) / Σ = p / Σ p


def _gpt_reduce(parts, ids):
    length = ids.size(-1)
    x = F.embedding(ids, parts.token.weight) * math.sqrt(parts.token.weight.size(1))
    x = x + F.embedding(torch.arange(length).expand_as(ids), parts.positions.weight)
    x = functools.reduce(lambda h, block: block(h, causal_mask(length)), parts.blocks, x)
    return torch.matmul(parts.norm(x), parts.token.weight.t())


def _gpt_mask_from_comparisons(parts, ids):
    i = torch.arange(ids.shape[1])
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(i)[None]
    for block in list(parts.blocks):
        x = block(x, i[None, :] <= i[:, None])
    return (parts.norm(x)[..., None, :] * parts.token.weight).sum(-1)


def _cached_online_softmax(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.concat((past_k, k_new), dim=-2)
    values = v_new if past_v is None else torch.concat((past_v, v_new), dim=-2)
    top = torch.full_like(q[..., :1], -math.inf)
    total, out = torch.zeros_like(top), torch.zeros_like(q)
    for j in range(keys.shape[2]):  # one cached position at a time, as flash attention does
        score = (q * keys[:, :, j : j + 1]).sum(-1, keepdim=True) / math.sqrt(q.shape[-1])
        new_top = torch.maximum(top, score)
        shrink, weight = torch.exp(top - new_top), torch.exp(score - new_top)
        total, out = total * shrink + weight, out * shrink + weight * values[:, :, j : j + 1]
        top = new_top
    return out / total, keys, values


def _cached_sdpa_with_scale(q, k_new, v_new, past_k, past_v):
    keys, values = (
        new if past is None else torch.cat((past, new), 2) for past, new in ((past_k, k_new), (past_v, v_new))
    )
    return F.scaled_dot_product_attention(q, keys, values, scale=q.size(-1) ** -0.5), keys, values


RIGHT = [
    ("teacher_forcing_loss", _loss_loop),
    ("teacher_forcing_loss", _loss_one_hot),
    ("train_step", _step_autograd_backward),
    ("train_step", _step_clipping_at_infinity),
    ("greedy_decode", _greedy_recursive),
    ("greedy_decode", _greedy_max_indices),
    ("sample_next_token", _sample_exponential_race),
    ("sample_next_token", _sample_sorted_threshold),
    ("keep_top_p", _nucleus_hugging_face),
    ("keep_top_p", _nucleus_threshold),
    ("keep_top_p", _nucleus_softmax_of_logs),
    ("gpt_forward", _gpt_reduce),
    ("gpt_forward", _gpt_mask_from_comparisons),
    ("cached_attention_step", _cached_online_softmax),
    ("cached_attention_step", _cached_sdpa_with_scale),
]


@pytest.mark.parametrize(("name", "fn"), RIGHT, ids=[f"{n}: {f.__name__}" for n, f in RIGHT])
def test_a_right_answer_written_another_way_passes(name, fn):
    result = exercise(name).check(fn)
    assert result.status == PASSED, result.message


def test_every_exercise_of_chapters_08_and_09_is_audited():
    audited = {name for name, _ in RIGHT}
    assert audited == {ex.name for ex in checks.EXERCISES if ex.chapter in {"08", "09"}}
