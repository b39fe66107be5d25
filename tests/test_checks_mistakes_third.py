"""A fourth audit of the checkers, chapters 08 and 09 first: wrong answers that used to get a
generic message (or a misleading one), and right answers written another way.

Each wrong answer is written here the way a learner writes it, apart from the catalogue's own
``example``, so a test fails if the checker stops recognising it; each right one must pass.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course import checks
from transformer_course.checks import ERROR, PASSED, WRONG, exercise
from transformer_course.masks import causal_mask


def solution(name):
    return exercise(name).solution


def says(result, *words):
    """The check failed (never passed, never crashed) and its message holds every phrase."""
    assert result.status == WRONG, result
    for word in words:
        assert word in result.message, result.message


# --- 08 the loss ---


def _logits_and_labels(model, src, trg):
    return model(src, trg[:, :-1]), trg[:, 1:]


def test_a_wrong_detached_loss_is_not_said_to_have_the_right_value():
    def argmax_mse(model, src, trg, pad_id):  # no gradient, and a wrong value
        logits, labels = _logits_and_labels(model, src, trg)
        return F.mse_loss(logits.argmax(-1).float(), labels.float())

    for wrong in (argmax_mse, lambda *args: torch.tensor(0.5)):
        result = checks.check_teacher_forcing_loss(wrong)
        assert result.status == WRONG and "right value" not in result.message, result.message


def test_a_right_but_detached_loss_is_still_named():
    def detached(model, src, trg, pad_id):
        logits, labels = _logits_and_labels(model, src, trg)
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=pad_id).detach()

    says(checks.check_teacher_forcing_loss(detached), "right value but no gradient")


def test_loss_with_label_smoothing():
    def smoothed(model, src, trg, pad_id):
        logits, labels = _logits_and_labels(model, src, trg)
        criterion = nn.CrossEntropyLoss(ignore_index=pad_id, label_smoothing=0.1)
        return criterion(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))

    says(checks.check_teacher_forcing_loss(smoothed), "label smoothing", "Leave it out")


def test_loss_averaged_per_story_then_over_the_batch():
    def story_means(model, src, trg, pad_id):
        logits, labels = _logits_and_labels(model, src, trg)
        logp = logits.log_softmax(-1).gather(-1, labels[..., None])[..., 0]
        real = labels != pad_id
        per_story = -(logp * real).sum(1) / real.sum(1)
        return per_story.mean()

    says(checks.check_teacher_forcing_loss(story_means), "each sequence's tokens, then the sequences")


def test_loss_with_the_log_softmax_over_the_positions():
    def over_positions(model, src, trg, pad_id):
        logits, labels = _logits_and_labels(model, src, trg)
        logp = torch.log_softmax(logits, 1)
        real = labels != pad_id
        return -logp.gather(2, labels.unsqueeze(2)).squeeze(2)[real].mean()

    says(checks.check_teacher_forcing_loss(over_positions), "dim=1, the positions", "dim=-1")


def test_loss_without_the_minus_sign():
    def log_likelihood(model, src, trg, pad_id):
        logits, labels = _logits_and_labels(model, src, trg)
        nll = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=pad_id)
        return -nll  # "maximise the likelihood"

    says(checks.check_teacher_forcing_loss(log_likelihood), "Your loss is negative")


def test_loss_writing_minus_100_into_a_view_of_the_target():
    def hugging_face_labels(model, src, trg, pad_id):
        labels = trg[:, 1:]
        labels.masked_fill_(labels == pad_id, -100)
        return F.cross_entropy(model(src, trg[:, :-1]).transpose(1, 2), labels)

    says(checks.check_teacher_forcing_loss(hugging_face_labels), "a VIEW of trg", ".clone()")


def test_loss_reading_the_whole_target_and_slicing_the_logits_late():
    def late(model, src, trg, pad_id):
        logits = model(src, trg)[:, 1:, :]
        return F.cross_entropy(logits.transpose(1, 2), trg[:, 1:], ignore_index=pad_id)

    says(checks.check_teacher_forcing_loss(late), "scored on the very token it reads", "[:, :-1]")


# --- 08 the training step ---


def test_train_step_that_switches_to_evaluation():
    def evaluates(model, optimiser, loss_fn, batch):
        optimiser.zero_grad()
        model.eval()
        loss = loss_fn(model, batch)
        loss.backward()
        optimiser.step()
        return loss.item()

    says(checks.check_train_step(evaluates), "evaluation mode (model.eval())", "training mode")


def test_train_step_that_evaluates_then_trains_again_passes():
    def back_to_training(model, optimiser, loss_fn, batch):
        model.eval()
        model.train()
        optimiser.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward()
        optimiser.step()
        return loss.item()

    assert checks.check_train_step(back_to_training).passed


@pytest.mark.parametrize("max_norm", [0.5, 1.0])
def test_train_step_that_clips_the_gradients(max_norm):
    def clips(model, optimiser, loss_fn, batch):
        optimiser.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
        optimiser.step()
        return loss.item()

    says(checks.check_train_step(clips), "clipped the gradients")


# --- 08 greedy decoding ---


def test_greedy_concatenating_a_0_d_token():
    def zero_d(logits_fn, prompt, max_new_tokens, eos_id):
        ids = prompt
        for _ in range(max_new_tokens):
            nxt = torch.argmax(logits_fn(ids[None])[0, -1])
            ids = torch.cat((ids, nxt))
            if nxt.item() == eos_id:
                break
        return ids

    says(checks.check_greedy_decode(zero_d), "0-d tensor", "token.view(1)")


def test_greedy_that_tests_the_last_id_before_generating():
    def checks_first(logits_fn, prompt, max_new_tokens, eos_id):
        ids = prompt.clone()
        for _ in range(max_new_tokens):
            if ids[-1].item() == eos_id:
                break
            ids = torch.cat([ids, logits_fn(ids[None])[0, -1].argmax().view(1)])
        return ids

    says(checks.check_greedy_decode(checks_first), "a prompt that ends with <eos>")


# --- 08 sampling ---


def test_top_k_compared_with_the_largest():
    def largest(logits, temperature, top_k):
        scaled = logits / temperature
        if top_k is not None:
            values, _ = torch.topk(scaled, top_k)
            scaled[scaled < values[:, [0]]] = -float("inf")
        return torch.multinomial(F.softmax(scaled, dim=-1), num_samples=1).view(-1)

    result = checks.check_sample_next_token(largest)
    says(result, "only the single largest logit", "values[:, -1:]")
    assert "greedy decoding" not in result.message


# --- 09 the GPT's forward pass ---


def _gpt(parts, ids, *, length=None, scale=math.sqrt, start=0, mask=None, norm="last", call_tuple=False):
    """A learner's forward pass with one way of going wrong per keyword (defaults: right)."""
    L = ids.shape[1] if length is None else length(ids)
    d = parts.token.embedding_dim
    x = parts.token.weight[ids] * scale(d) + parts.positions(torch.arange(start, start + L))
    if norm == "embeddings":
        x = parts.norm(x)
    sees = torch.tril(torch.ones(L, L, dtype=torch.bool)) if mask is None else mask(L)
    if call_tuple:
        x = parts.blocks(x, sees)
    for block in parts.blocks:
        x = block(x, sees)
        if norm == "every block":
            x = parts.norm(x)
    if norm == "last":
        x = parts.norm(x)
    return F.linear(x, parts.token.weight)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        pytest.param({"length": len}, ("number of stories, B", "ids.shape[1]"), id="len(ids) as L"),
        pytest.param({"start": 1}, ("counted the positions from 1",), id="positions from 1"),
        pytest.param(
            {"scale": lambda d: 1 / math.sqrt(d)}, ("divided the token vectors by √d_model",), id="÷ √d"
        ),
        pytest.param({"scale": lambda d: d}, ("by d_model itself",), id="× d"),
        pytest.param({"mask": lambda n: torch.ones(n, n).tril()}, ("not floats", "1.0/0.0"), id="0/1 mask"),
        pytest.param(
            {"mask": lambda n: torch.ones(n, n, dtype=torch.bool).triu()},
            ("the causal mask transposed",),
            id="triu mask",
        ),
        pytest.param({"norm": "every block"}, ("after every block",), id="norm every block"),
        pytest.param({"norm": "embeddings"}, ("to the embeddings, before the blocks",), id="norm first"),
        pytest.param({"call_tuple": True}, ("a tuple of blocks",), id="blocks called"),
    ],
)
def test_gpt_forward_mistakes(kwargs, words):
    says(checks.check_gpt_forward(lambda parts, ids: _gpt(parts, ids, **kwargs)), *words)


def test_gpt_forward_written_by_the_helper_passes():
    assert checks.check_gpt_forward(_gpt).passed


# --- 09 the nucleus ---


def test_nucleus_put_back_with_gather():
    def gathers(probs, top_p):
        order = torch.argsort(probs, dim=-1, descending=True)
        ranked = torch.gather(probs, -1, order)
        ranked = torch.where(ranked.cumsum(-1) - ranked < top_p, ranked, torch.zeros_like(ranked))
        back = torch.gather(ranked, -1, order)
        return back / back.sum(-1, keepdim=True)

    says(checks.check_keep_top_p(gathers), "gather READS", "scatter(-1, indices, kept)")


def test_nucleus_renormalised_with_a_softmax_over_zeros():
    def softmax_renormalised(probs, top_p):
        ranked, order = torch.sort(probs, descending=True)
        ranked[ranked.cumsum(-1) - ranked >= top_p] = 0
        kept = probs.new_zeros(probs.shape).scatter_(1, order, ranked)
        return F.softmax(kept / kept.sum(1, keepdim=True), dim=1)

    says(checks.check_keep_top_p(softmax_renormalised), "exp(0) = 1", "kept.sum(dim=-1, keepdim=True)")


# --- 09 one cached step ---


def _grow(past, new):
    return new if past is None else torch.cat((past, new), dim=-2)


def test_cached_step_returning_only_the_new_key_and_value():
    def update_only(q, k_new, v_new, past_k, past_v):
        out = F.scaled_dot_product_attention(q, _grow(past_k, k_new), _grow(past_v, v_new))
        return out, k_new, v_new

    says(checks.check_cached_attention_step(update_only), "holds only this token's key and value")


def test_cached_step_returning_the_weights():
    def weights_first(q, k_new, v_new, past_k, past_v):
        keys, values = _grow(past_k, k_new), _grow(past_v, v_new)
        return torch.einsum("bhqd,bhkd->bhqk", q, keys).div(q.shape[-1] ** 0.5).softmax(-1), keys, values

    says(checks.check_cached_attention_step(weights_first), "Your first item is the attention weights")


def test_cached_step_stacking_the_cache():
    def stacks(q, k_new, v_new, past_k, past_v):
        keys = k_new if past_k is None else torch.stack((past_k, k_new), dim=-2)
        values = v_new if past_v is None else torch.stack((past_v, v_new), dim=-2)
        return F.scaled_dot_product_attention(q, keys, values), keys, values

    says(checks.check_cached_attention_step(stacks), "torch.stack", "torch.cat([past_k, k_new], dim=2)")


@pytest.mark.parametrize(
    ("scale", "words"),
    [
        pytest.param(lambda q, keys: q.shape[-1], "by d_head itself", id="÷ d_head"),
        pytest.param(lambda q, keys: keys.shape[2] ** 0.5, "number of keys", id="÷ √(t + 1)"),
    ],
)
def test_cached_step_scaled_wrongly(scale, words):
    def scaled(q, k_new, v_new, past_k, past_v):
        keys, values = _grow(past_k, k_new), _grow(past_v, v_new)
        return (q @ keys.mT / scale(q, keys)).softmax(-1) @ values, keys, values

    says(checks.check_cached_attention_step(scaled), words)


def test_cached_step_returning_a_number_is_not_called_out_only():
    result = checks.check_cached_attention_step(lambda *args: torch.tensor(0.5))
    assert result.status == WRONG and "Return the updated cache too" not in result.message, result.message


# --- 07 layer norm ---


def test_layer_norm_with_the_annotated_transformers_eps():
    def own_eps(x, weight, bias, eps):
        mean, var = x.mean(-1, keepdim=True), x.var(-1, keepdim=True, unbiased=False)
        return weight * (x - mean) / torch.sqrt(var + 1e-6) + bias

    says(checks.check_layer_norm(own_eps), "Use the eps you are given", "1e-6")


# --- Odd answers get a verdict, never a traceback ---


@pytest.mark.parametrize(
    "name", ["teacher_forcing_loss", "gpt_forward", "keep_top_p", "cached_attention_step"]
)
def test_an_answer_that_yields_is_a_verdict(name):
    def generator(*args):
        yield solution(name)(*args)

    result = exercise(name).check(generator)
    assert result.status == WRONG and "generator" in result.message, result.message


def test_a_train_step_that_raises_its_own_error_is_reported():
    def raises(model, optimiser, loss_fn, batch):
        raise ValueError("my own check")

    result = checks.check_train_step(raises)
    assert result.status == ERROR and "my own check" in result.message


# --- Right answers written another way ---


def _loss_from_the_whole_target(model, src, trg, pad_id):
    logits = model(src, trg)[:, :-1]  # causal: the same as feeding trg[:, :-1]
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), trg[:, 1:].reshape(-1), ignore_index=pad_id)


def _loss_with_minus_100_on_a_copy(model, src, trg, pad_id):
    labels = trg[:, 1:].clone()
    labels[labels == pad_id] = -100
    return F.cross_entropy(model(src, trg[:, :-1]).flatten(0, 1), labels.flatten())


def _loss_through_nn_module(model, src, trg, pad_id):
    out = model(src, trg[:, :-1])
    criterion = nn.CrossEntropyLoss(ignore_index=pad_id)
    return criterion(out.contiguous().view(-1, out.shape[-1]), trg[:, 1:].contiguous().view(-1))


def _loss_masked_select(model, src, trg, pad_id):
    logp = F.log_softmax(model(src, trg[:, :-1]), -1)
    labels = trg[:, 1:]
    nll = -logp.gather(2, labels.unsqueeze(2)).squeeze(2)
    return nll.masked_select(labels != pad_id).mean()


def _step_in_training_mode(model, optimiser, loss_fn, batch):
    model.train()
    optimiser.zero_grad(set_to_none=True)
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.detach().item()


def _step_with_grads_set_to_none(model, optimiser, loss_fn, batch):
    for p in model.parameters():
        p.grad = None
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def _step_with_autograd_grad(model, optimiser, loss_fn, batch):
    params = list(model.parameters())
    loss = loss_fn(model, batch)
    for p, g in zip(params, torch.autograd.grad(loss, params)):
        p.grad = g
    optimiser.step()
    return loss.detach().numpy().item()


def _step_with_a_gentle_clip(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 100.0)  # never reached here: changes nothing
    optimiser.step()
    return loss.item()


def _greedy_with_topk(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        _, token = torch.topk(logits_fn(ids.view(1, -1))[:, -1, :], k=1, dim=-1)
        ids = torch.cat((ids, token[0]), dim=0)
        if token.item() == eos_id:
            break
    return ids


def _greedy_batched_with_softmax(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.unsqueeze(0)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            probs = F.softmax(logits_fn(ids)[:, -1, :], dim=-1)
            nxt = torch.argmax(probs, dim=-1, keepdim=True)
            ids = torch.cat((ids, nxt), dim=1)
            if nxt.item() == eos_id:
                break
    return ids.squeeze(0)


def _greedy_stacking_a_list(logits_fn, prompt, max_new_tokens, eos_id):
    out = list(prompt)
    for _ in range(max_new_tokens):
        nxt = logits_fn(torch.stack(out).unsqueeze(0))[0, -1].argmax()
        out.append(nxt)
        if nxt == eos_id:
            break
    return torch.stack(out)


def _sampler_scattering_the_top_k(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        values, where = logits.topk(top_k, dim=-1)
        logits = torch.full_like(logits, float("-inf")).scatter(-1, where, values)
    return torch.multinomial(F.softmax(logits, -1), 1)[:, 0]


def _sampler_by_inverse_cdf(logits, temperature, top_k):
    scaled = logits / temperature
    if top_k is not None:
        scaled[scaled < scaled.topk(top_k).values[..., [-1]]] = -float("inf")
    probs = scaled.softmax(-1)
    u = torch.rand(probs.shape[0], 1)
    return (probs.cumsum(-1) < u).sum(-1).clamp(max=probs.shape[-1] - 1)


def _sampler_nanogpt(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
        logits[logits < v[:, [-1]]] = -float("Inf")
    return torch.multinomial(F.softmax(logits, dim=-1), num_samples=1).view(-1)


def _sampler_int32(logits, temperature, top_k):
    return solution("sample_next_token")(logits, temperature, top_k).int()


def _sampler_top_k_on_the_probabilities(logits, temperature, top_k):
    probs = F.softmax(logits / temperature, -1)
    if top_k is not None:
        probs = probs.masked_fill(probs < probs.topk(top_k).values[:, -1:], 0)  # multinomial renormalises
    return torch.multinomial(probs, 1, replacement=True).squeeze(-1)


def _gpt_nanogpt_style(parts, ids):
    b, t = ids.size()
    pos = torch.arange(0, t, dtype=torch.long, device=ids.device)
    x = parts.token(ids) * parts.token.embedding_dim**0.5 + parts.positions(pos)
    for block in parts.blocks:
        x = block(x, torch.tril(torch.ones(t, t)).bool())
    return torch.matmul(parts.norm(x), parts.token.weight.t())


def _gpt_with_einsum(parts, ids):
    t = ids.shape[-1]
    x = parts.token.weight[ids] * math.sqrt(parts.token.weight.shape[1]) + parts.positions.weight[:t]
    for block in parts.blocks:
        x = block(x, causal_mask(t))
    return torch.einsum("btd,vd->btv", parts.norm(x), parts.token.weight)


def _gpt_with_a_mask_per_story(parts, ids):
    b, t = ids.shape
    scaled = parts.token(ids) * math.sqrt(parts.token.embedding_dim)
    x = scaled + parts.positions(torch.arange(t)).unsqueeze(0)
    for block in parts.blocks:
        x = block(x, torch.ones(t, t).tril().bool().expand(b, t, t))
    return parts.norm(x) @ parts.token.weight.mT


def _nucleus_where_and_inverse(probs, top_p):
    ranked, order = probs.sort(-1, descending=True)
    keep = (ranked.cumsum(-1) - ranked) < top_p
    ranks = torch.arange(order.shape[-1]).expand_as(order).contiguous()
    inverse = torch.empty_like(order).scatter_(-1, order, ranks)
    kept = torch.where(keep.gather(-1, inverse), probs, 0.0)
    return kept / kept.sum(-1, keepdim=True)


def _nucleus_in_place(probs, top_p):
    ranked, order = probs.sort(-1, descending=True)
    ranked[(ranked.cumsum(-1) - ranked) >= top_p] = 0
    out = probs.clone().zero_().scatter_(-1, order, ranked)
    out /= out.sum(-1, keepdim=True)
    return out


def _nucleus_with_normalize(probs, top_p):
    ranked, order = probs.sort(-1, descending=True)
    ranked = ranked * ((ranked.cumsum(-1) - ranked) < top_p)
    return F.normalize(torch.zeros_like(probs).scatter(-1, order, ranked), p=1, dim=-1)


def _nucleus_through_log_and_softmax(probs, top_p):
    ranked, order = probs.sort(-1, descending=True)
    drop = (ranked.cumsum(-1) - ranked) >= top_p
    return torch.softmax(probs.log().masked_fill(drop.scatter(-1, order, drop), float("-inf")), dim=-1)


def _cached_step_from_an_empty_tensor(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        past_k = torch.empty(*k_new.shape[:2], 0, k_new.shape[-1])
        past_v = torch.empty(*v_new.shape[:2], 0, v_new.shape[-1])
    keys, values = torch.cat((past_k, k_new), -2), torch.cat((past_v, v_new), -2)
    scores = (q @ keys.mT) * (1.0 / math.sqrt(keys.size(-1)))
    return F.softmax(scores, dim=-1) @ values, keys, values


def _cached_step_with_the_causal_masks_last_row(q, k_new, v_new, past_k, past_v):
    keys, values = _grow(past_k, k_new), _grow(past_v, v_new)
    t = keys.shape[2]
    last_row = torch.ones(t, t, dtype=torch.bool).tril()[-1:]  # the newest token sees every key
    return F.scaled_dot_product_attention(q, keys, values, attn_mask=last_row), keys, values


def _cached_step_with_concat_and_permute(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.concat([past_k, k_new], axis=2)
    values = v_new if past_v is None else torch.concatenate([past_v, v_new], dim=2)
    weights = torch.softmax(torch.matmul(q, keys.permute(0, 1, 3, 2)) / math.sqrt(q.shape[3]), dim=3)
    return torch.matmul(weights, values), keys, values


def _layer_norm_with_var_mean(x, weight, bias, eps):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    return torch.addcmul(bias, (x - mean) * torch.rsqrt(var + eps), weight)


RIGHT = [
    ("teacher_forcing_loss", _loss_from_the_whole_target),
    ("teacher_forcing_loss", _loss_with_minus_100_on_a_copy),
    ("teacher_forcing_loss", _loss_through_nn_module),
    ("teacher_forcing_loss", _loss_masked_select),
    ("train_step", _step_in_training_mode),
    ("train_step", _step_with_grads_set_to_none),
    ("train_step", _step_with_autograd_grad),
    ("train_step", _step_with_a_gentle_clip),
    ("greedy_decode", _greedy_with_topk),
    ("greedy_decode", _greedy_batched_with_softmax),
    ("greedy_decode", _greedy_stacking_a_list),
    ("sample_next_token", _sampler_scattering_the_top_k),
    ("sample_next_token", _sampler_by_inverse_cdf),
    ("sample_next_token", _sampler_nanogpt),
    ("sample_next_token", _sampler_int32),
    ("sample_next_token", _sampler_top_k_on_the_probabilities),
    ("gpt_forward", _gpt_nanogpt_style),
    ("gpt_forward", _gpt_with_einsum),
    ("gpt_forward", _gpt_with_a_mask_per_story),
    ("keep_top_p", _nucleus_where_and_inverse),
    ("keep_top_p", _nucleus_in_place),
    ("keep_top_p", _nucleus_with_normalize),
    ("keep_top_p", _nucleus_through_log_and_softmax),
    ("cached_attention_step", _cached_step_from_an_empty_tensor),
    ("cached_attention_step", _cached_step_with_the_causal_masks_last_row),
    ("cached_attention_step", _cached_step_with_concat_and_permute),
    ("layer_norm", _layer_norm_with_var_mean),
]


@pytest.mark.parametrize(("name", "fn"), RIGHT, ids=[f"{n}: {f.__name__}" for n, f in RIGHT])
def test_a_right_answer_written_another_way_passes(name, fn):
    result = exercise(name).check(fn)
    assert result.status == PASSED, result.message
