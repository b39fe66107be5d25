"""A sixth audit of the checkers, chapters 07 and 08: right answers written another way.

Each answer below is correct, written the way a learner might (nn.functional calls, the
variance by var_mean and rsqrt, the residual by torch.add or in place on a clone, attention
called with keywords or positionally, masks built by hand, the loss by a module or by
log_softmax and gather, a training step with zero_grad(set_to_none=False), greedy decoding
through a Python list, sampling through torch.distributions…). Every one must pass; none is
called by a mistake's name. The audit found no right answer wrongly failed, so these are
guards against a checker growing stricter than the exercise text.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course import checks
from transformer_course.masks import causal_mask, combine_masks, padding_mask

# --- 07 the feed-forward network ---


def _ff_linear(x, w_1, b_1, w_2, b_2):
    return F.linear(F.relu(F.linear(x, w_1.T, b_1)), w_2.T, b_2)


def _ff_einsum(x, w_1, b_1, w_2, b_2):
    hidden = torch.einsum("...d,df->...f", x, w_1) + b_1
    return torch.einsum("...f,fd->...d", torch.maximum(hidden, torch.tensor(0.0)), w_2) + b_2


def _ff_addmm(x, w_1, b_1, w_2, b_2):
    flat = x.reshape(-1, x.shape[-1])
    out = torch.addmm(b_2, torch.addmm(b_1, flat, w_1).relu(), w_2)
    return out.reshape(*x.shape[:-1], w_2.shape[1])


def _ff_mask(x, w_1, b_1, w_2, b_2):
    hidden = x @ w_1 + b_1
    return (hidden * (hidden > 0)) @ w_2 + b_2


def _ff_module(x, w_1, b_1, w_2, b_2):
    return nn.ReLU()(x @ w_1 + b_1).clamp(min=0) @ w_2 + b_2


# --- 07 layer normalisation ---


def _ln_functional(x, weight, bias, eps):
    return F.layer_norm(x, (x.shape[-1],), weight=weight, bias=bias, eps=eps)


def _ln_var_mean_rsqrt(x, weight, bias, eps):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, unbiased=False)
    return (x - mean) * torch.rsqrt(var + eps) * weight + bias


def _ln_correction(x, weight, bias, eps):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    return weight * (x - mean) / (var + eps).sqrt() + bias


def _ln_sum_over_d(x, weight, bias, eps):
    d = x.shape[-1]
    mean = x.sum(-1, keepdim=True) / d
    var = ((x - mean) ** 2).sum(-1, keepdim=True) / d
    return torch.addcmul(bias, (x - mean) / torch.sqrt(var + eps), weight)


def _ln_power(x, weight, bias, eps):
    mu = torch.mean(x, dim=-1, keepdim=True)
    return weight * (x - mu) * (torch.mean((x - mu).pow(2), dim=-1, keepdim=True) + eps) ** -0.5 + bias


def _ln_std_squared(x, weight, bias, eps):
    mu = x.mean(-1).unsqueeze(-1)
    std = x.std(-1, keepdim=True, unbiased=False)
    return (x - mu) / torch.sqrt(std**2 + eps) * weight + bias


def _ln_module(x, weight, bias, eps):
    norm = nn.LayerNorm(x.shape[-1], eps=eps)
    with torch.no_grad():
        norm.weight.copy_(weight)
        norm.bias.copy_(bias)
    return norm(x)


def _ln_float64(x, weight, bias, eps):
    return _ln_var_mean_rsqrt(x.double(), weight.double(), bias.double(), eps).to(x.dtype)


# --- 07 Add & Norm ---


def _an_torch_add(block, x, sublayer):
    if block.norm_first:
        return torch.add(x, block.dropout(sublayer(block.norm(x))))
    return block.norm(torch.add(x, block.dropout(sublayer(x))))


def _an_in_place_on_a_clone(block, x, sublayer):
    if block.norm_first:
        out = block.dropout(sublayer(block.norm(x))).clone()
        out += x
        return out
    total = x.clone()
    total += block.dropout(sublayer(x))
    return block.norm(total)


def _an_functional(block, x, sublayer):
    n = block.norm

    def norm(y):
        return F.layer_norm(y, n.normalized_shape, n.weight, n.bias, n.eps)

    def drop(y):
        return F.dropout(y, p=block.dropout.p, training=block.dropout.training)

    if block.norm_first:
        return x + drop(sublayer(norm(x)))
    return norm(x + drop(sublayer(x)))


def _an_own_layer_norm(block, x, sublayer):
    n = block.norm

    def norm(y):
        mu = y.mean(-1, keepdim=True)
        var = ((y - mu) ** 2).mean(-1, keepdim=True)
        return (y - mu) / torch.sqrt(var + n.eps) * n.weight + (n.bias if n.bias is not None else 0)

    if block.norm_first:
        return x + block.dropout(sublayer(norm(x)))
    return norm(x + block.dropout(sublayer(x)))


def _an_one_path(block, x, sublayer):
    out = x + block.dropout(sublayer(block.norm(x) if block.norm_first else x))
    return out if block.norm_first else block.norm(out)


# --- 07 the encoder layer ---


def _enc_three_args(layer, x, mask):
    attended = layer.self_attn(x, x, x, mask=mask)[0]
    x = layer.norm1(torch.add(x, attended))
    return layer.norm2(x + layer.feed_forward(x))


def _enc_positional_mask_ff_by_parts(layer, x, mask):
    attended, _ = layer.self_attn(x, x, x, mask)
    h = layer.norm1(x + attended)
    ff = layer.feed_forward
    return layer.norm2(h + ff.linear2(torch.relu(ff.linear1(h))))


def _enc_keywords(layer, x, mask):
    attended, _ = layer.self_attn(query=x, mask=mask, need_weights=False)
    x = layer.norm1(x + attended)
    return layer.norm2(x + layer.feed_forward(x))


def _enc_in_place_on_clones(layer, x, mask):
    out = x.clone()
    out += layer.self_attn(x, mask=mask)[0]
    out = layer.norm1(out)
    res = out.clone()
    res += layer.feed_forward(out)
    return layer.norm2(res)


# --- 07 the decoder layer: the causal mask built every way ---


def _decoder_layer(make_mask, *, cross=lambda layer, x, memory: layer.cross_attn(x, memory, memory)):
    def fn(layer, x, memory):
        attended, _ = layer.self_attn(x, x, x, make_mask(x.shape[1]))
        x = layer.norm1(x + attended)
        attended, _ = cross(layer, x, memory)
        x = layer.norm2(x + attended)
        return layer.norm3(x + layer.feed_forward(x))

    return fn


def _dec_causal_keyword(layer, x, memory):
    attended, _ = layer.self_attn(x, causal=True)
    x = layer.norm1(x + attended)
    attended, _ = layer.cross_attn(query=x, key=memory, value=memory)
    x = layer.norm2(x + attended)
    return layer.norm3(x + layer.feed_forward(x))


def _all_true_cross(layer, x, memory):
    allowed = torch.ones(x.shape[0], 1, 1, memory.shape[1], dtype=torch.bool)
    return layer.cross_attn(x, memory, memory, mask=allowed)


DECODER_LAYERS = {
    "tril of bool ones": _decoder_layer(lambda n: torch.tril(torch.ones(n, n, dtype=torch.bool))),
    "float tril .bool(), cross_attn(x, memory)": _decoder_layer(
        lambda n: torch.ones(n, n).tril().bool(), cross=lambda layer, x, memory: layer.cross_attn(x, memory)
    ),
    "tril == 1": _decoder_layer(lambda n: torch.tril(torch.ones(n, n)) == 1),
    "~triu(diagonal=1)": _decoder_layer(
        lambda n: ~torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    ),
    "aranges compared": _decoder_layer(lambda n: torch.arange(n)[:, None] >= torch.arange(n)[None, :]),
    "4-D mask, all-true cross mask": _decoder_layer(
        lambda n: causal_mask(n)[None, None], cross=_all_true_cross
    ),
    "causal=True, keywords": _dec_causal_keyword,
}


# --- 07 the whole forward pass ---


def _fwd_logical_and(parts, src, trg_in):
    d = parts.embedding.embedding_dim

    def embed(ids):
        return parts.embedding(ids) * d**0.5 + parts.positions[: ids.size(1)].unsqueeze(0)

    src_mask = padding_mask(src, parts.pad_id)
    memory = parts.encoder(embed(src), src_mask)
    n = trg_in.shape[1]
    trg_mask = torch.logical_and(
        torch.tril(torch.ones(n, n, dtype=torch.bool)), padding_mask(trg_in, parts.pad_id)
    )
    return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))


def _fwd_masks_by_hand(parts, src, trg_in):
    d = parts.embedding.weight.shape[1]

    def embed(ids):
        return parts.embedding(ids) * math.sqrt(d) + parts.positions[: ids.shape[1], :]

    src_mask = (src != parts.pad_id).unsqueeze(1).unsqueeze(2)
    memory = parts.encoder(embed(src), src_mask)
    trg_mask = combine_masks(causal_mask(trg_in.shape[1]), padding_mask(trg_in, parts.pad_id))
    return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))


def _fwd_functional(parts, src, trg_in):
    d = parts.embedding.embedding_dim
    src_mask = padding_mask(src, parts.pad_id)
    x = (
        parts.embedding.weight[src] * torch.tensor(float(d)).sqrt()
        + parts.positions[torch.arange(src.shape[1])]
    )
    memory = parts.encoder(x, src_mask)
    y = F.embedding(trg_in, parts.embedding.weight) * math.sqrt(d) + parts.positions[: trg_in.shape[1]]
    trg_mask = padding_mask(trg_in, parts.pad_id) * causal_mask(trg_in.shape[1])  # bool * bool: AND
    hidden = parts.decoder(y, memory, trg_mask, src_mask)
    return F.linear(hidden, parts.output.weight, parts.output.bias)


# --- 08 the shifted-target loss ---


def _loss_module(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    criterion = nn.CrossEntropyLoss(ignore_index=pad_id)
    return criterion(logits.view(-1, logits.size(-1)), trg[:, 1:].contiguous().view(-1))


def _loss_gather(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    labels = trg[:, 1:]
    nll = -F.log_softmax(logits, dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return nll[labels != pad_id].mean()


def _loss_weighted(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    labels = trg[:, 1:]
    keep = (labels != pad_id).float()
    nll = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none").view_as(keep)
    return (nll * keep).sum() / keep.sum()


def _loss_classes_second(model, src, trg, pad_id):
    return F.cross_entropy(model(src, trg[:, :-1]).transpose(1, 2), trg[:, 1:], ignore_index=pad_id)


def _loss_nll(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    log_probs = logits.log_softmax(-1).reshape(-1, logits.shape[-1])
    return F.nll_loss(log_probs, trg[:, 1:].reshape(-1), ignore_index=pad_id)


def _loss_boolean_index(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    keep = labels != pad_id
    return F.cross_entropy(logits[keep], labels[keep])


def _loss_sum_over_count(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    total = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=pad_id, reduction="sum"
    )
    return total / (labels != pad_id).sum()


def _loss_logsumexp(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    nll = torch.logsumexp(logits, -1) - logits.gather(-1, labels[..., None])[..., 0]
    keep = labels != pad_id
    return (nll * keep).sum() / keep.sum()


def _loss_float64(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1]).double()
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), trg[:, 1:].reshape(-1), ignore_index=pad_id)


# --- 08 one training step ---


def _step_keep_zeros(model, optimiser, loss_fn, batch):
    optimiser.zero_grad(set_to_none=False)
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.item()


def _step_item_first(model, optimiser, loss_fn, batch):
    loss = loss_fn(model, batch)
    value = loss.item()  # read before the step: the same number
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return value


def _step_train_mode(model, optimiser, loss_fn, batch):
    model.train()
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss.item()


def _step_zero_after(model, optimiser, loss_fn, batch):
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    optimiser.zero_grad()  # the fresh model starts with no gradients
    return loss.detach().item()


def _step_model_zero_grad(model, optimiser, loss_fn, batch):
    model.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward(retain_graph=True)
    with torch.no_grad():
        optimiser.step()
    return loss.detach().cpu().numpy().item()


def _step_autograd_grad(model, optimiser, loss_fn, batch):
    params = [p for p in model.parameters() if p.requires_grad]
    loss = loss_fn(model, batch)
    for p, g in zip(params, torch.autograd.grad(loss, params, allow_unused=True), strict=True):
        p.grad = g
    optimiser.step()
    return loss.tolist()


# --- 08 greedy decoding ---


def _greedy_list(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.tolist()
    for _ in range(max_new_tokens):
        token = logits_fn(torch.tensor([ids]))[0, -1].argmax().item()
        ids.append(token)
        if token == eos_id:
            break
    return torch.tensor(ids)


def _greedy_keepdim(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.unsqueeze(0)
    for _ in range(max_new_tokens):
        token = logits_fn(ids)[:, -1].argmax(-1, keepdim=True)
        ids = torch.cat([ids, token], dim=1)
        if token.item() == eos_id:
            break
    return ids.squeeze(0)


def _greedy_while_stack(logits_fn, prompt, max_new_tokens, eos_id):
    ids, count = prompt, 0
    while count < max_new_tokens:
        token = logits_fn(ids[None])[0, -1].argmax()
        ids = torch.cat((ids, torch.stack([token])))
        count += 1
        if token == eos_id:
            break
    return ids


def _greedy_while_done(logits_fn, prompt, max_new_tokens, eos_id):
    ids, done = prompt.clone(), False
    while not done and len(ids) < len(prompt) + max_new_tokens:
        token = logits_fn(ids.unsqueeze(0)).squeeze(0)[-1].max(dim=-1).indices
        ids = torch.cat([ids, token.reshape(1)])
        done = token.item() == eos_id
    return ids


def _greedy_buffer(logits_fn, prompt, max_new_tokens, eos_id):
    out = torch.empty(len(prompt) + max_new_tokens, dtype=prompt.dtype)
    out[: len(prompt)] = prompt
    t = len(prompt)
    for _ in range(max_new_tokens):
        token = logits_fn(out[:t].unsqueeze(0))[0, -1].argmax()
        out[t] = token
        t += 1
        if token == eos_id:
            break
    return out[:t]


def _greedy_picking(pick):
    def fn(logits_fn, prompt, max_new_tokens, eos_id):
        ids = prompt.clone()
        for _ in range(max_new_tokens):
            token = pick(logits_fn(ids.unsqueeze(0)))
            ids = torch.hstack([ids, torch.as_tensor(token, dtype=ids.dtype).view(1)])
            if int(token) == eos_id:
                return ids
        return ids

    return fn


GREEDY = {
    "a Python list": _greedy_list,
    "argmax keepdim, cat on dim 1": _greedy_keepdim,
    "while loop, torch.stack": _greedy_while_stack,
    "while not done, max().indices": _greedy_while_done,
    "a buffer filled in": _greedy_buffer,
    "topk(1)": _greedy_picking(lambda lg: lg[0, -1].topk(1).indices[0]),
    "argmax of the softmax": _greedy_picking(lambda lg: lg[0, -1].softmax(-1).argmax()),
    "np.argmax": _greedy_picking(lambda lg: int(np.argmax(lg[0, -1].detach().numpy()))),
    "list.index(max)": _greedy_picking(lambda lg: (lambda row: row.index(max(row)))(lg[0, -1].tolist())),
}


# --- 08 sampling with a temperature and top-k ---


def _topk_logits(logits, top_k, fill=float("-inf")):
    if top_k is None:
        return logits
    return logits.masked_fill(logits < logits.topk(top_k, dim=-1).values[:, -1:], fill)


def _sample_categorical_scatter(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is not None:
        values, index = torch.topk(logits, top_k, dim=-1)
        logits = torch.full_like(logits, float("-inf")).scatter(-1, index, values)
    return torch.distributions.Categorical(logits=logits).sample()


def _sample_in_the_top_k(logits, temperature, top_k):
    logits = logits / temperature
    if top_k is None:
        return torch.multinomial(F.softmax(logits, dim=-1), 1).squeeze(-1)
    values, index = torch.topk(logits, top_k, dim=-1)
    return index.gather(-1, torch.multinomial(F.softmax(values, dim=-1), 1)).squeeze(-1)


def _sample_probs_zeroed(logits, temperature, top_k):
    probs = F.softmax(logits / temperature, dim=-1)
    if top_k is not None:
        probs = probs.masked_fill(probs < probs.topk(top_k, -1).values[:, -1:], 0.0)
    return torch.multinomial(probs, 1).view(-1)  # multinomial renormalises the rest


def _sample_probs_powered(logits, temperature, top_k):
    probs = F.softmax(logits, dim=-1) ** (1 / temperature)
    if top_k is not None:
        probs = torch.where(probs < probs.topk(top_k, -1).values[:, -1:], 0.0, probs)
    return torch.multinomial(probs / probs.sum(-1, keepdim=True), 1).squeeze(-1)


def _sample_gumbel(logits, temperature, top_k):
    logits = _topk_logits(logits / temperature, top_k)
    return (logits - torch.log(-torch.log(torch.rand_like(logits)))).argmax(-1)


def _sample_rows(logits, temperature, top_k):
    probs = F.softmax(_topk_logits(logits / temperature, top_k), dim=-1)
    return torch.stack([torch.multinomial(row, 1)[0] for row in probs])


def _sample_cdf(logits, temperature, top_k):
    probs = F.softmax(_topk_logits(logits / temperature, top_k), dim=-1)
    u = torch.rand(probs.shape[0], 1)
    return (probs.cumsum(-1) < u).sum(-1).clamp(max=probs.shape[-1] - 1)


SAMPLERS = {
    "Categorical(logits=…), scatter": _sample_categorical_scatter,
    "drawn among the top k, gathered": _sample_in_the_top_k,
    "probabilities zeroed, not renormalised": _sample_probs_zeroed,
    "probabilities ** (1 / T)": _sample_probs_powered,
    "top-k before the temperature": lambda lg, t, k: torch.multinomial(
        F.softmax(_topk_logits(lg, k) / t, -1), 1
    ).squeeze(-1),
    "-1e9 for the rest": lambda lg, t, k: torch.multinomial(
        F.softmax(_topk_logits(lg / t, k, -1e9), -1), 1
    ).squeeze(-1),
    "Categorical(probs=…), float64": lambda lg, t, k: torch.distributions.Categorical(
        probs=F.softmax(_topk_logits(lg.double() / t, k), -1)
    ).sample(),
    "Gumbel-max": _sample_gumbel,
    "one row at a time": _sample_rows,
    "inverse CDF": _sample_cdf,
}


RIGHT_ANSWERS = [
    *(
        ("feed_forward", name, fn)
        for name, fn in {
            "F.linear": _ff_linear,
            "einsum, maximum": _ff_einsum,
            "addmm on flattened rows": _ff_addmm,
            "hidden * (hidden > 0)": _ff_mask,
            "nn.ReLU()": _ff_module,
        }.items()
    ),
    *(
        ("layer_norm", name, fn)
        for name, fn in {
            "F.layer_norm": _ln_functional,
            "var_mean, rsqrt": _ln_var_mean_rsqrt,
            "var_mean(correction=0)": _ln_correction,
            "sum / d, addcmul": _ln_sum_over_d,
            "** -0.5": _ln_power,
            "std ** 2, unsqueeze": _ln_std_squared,
            "nn.LayerNorm with the weights copied": _ln_module,
            "float64 and back": _ln_float64,
        }.items()
    ),
    *(
        ("add_norm", name, fn)
        for name, fn in {
            "torch.add": _an_torch_add,
            "+= on a clone": _an_in_place_on_a_clone,
            "F.layer_norm, F.dropout": _an_functional,
            "its own layer norm": _an_own_layer_norm,
            "one path": _an_one_path,
        }.items()
    ),
    *(
        ("encoder_layer", name, fn)
        for name, fn in {
            "self_attn(x, x, x, mask=…)": _enc_three_args,
            "mask positional, feed-forward by its parts": _enc_positional_mask_ff_by_parts,
            "query=, need_weights=False": _enc_keywords,
            "+= on clones": _enc_in_place_on_clones,
        }.items()
    ),
    *(("decoder_layer", name, fn) for name, fn in DECODER_LAYERS.items()),
    *(
        ("encoder_decoder_forward", name, fn)
        for name, fn in {
            "logical_and of a tril": _fwd_logical_and,
            "padding mask by hand, combine_masks": _fwd_masks_by_hand,
            "F.embedding, F.linear, bool * bool": _fwd_functional,
        }.items()
    ),
    *(
        ("teacher_forcing_loss", name, fn)
        for name, fn in {
            "nn.CrossEntropyLoss, view": _loss_module,
            "log_softmax, gather, masked mean": _loss_gather,
            "reduction='none', weighted": _loss_weighted,
            "classes on dim 1": _loss_classes_second,
            "nll_loss": _loss_nll,
            "boolean index": _loss_boolean_index,
            "sum over the count": _loss_sum_over_count,
            "logsumexp by hand": _loss_logsumexp,
            "float64": _loss_float64,
        }.items()
    ),
    *(
        ("train_step", name, fn)
        for name, fn in {
            "zero_grad(set_to_none=False)": _step_keep_zeros,
            "item() before the step": _step_item_first,
            "model.train() inside": _step_train_mode,
            "zero_grad after the step": _step_zero_after,
            "model.zero_grad(), no_grad step": _step_model_zero_grad,
            "torch.autograd.grad": _step_autograd_grad,
        }.items()
    ),
    *(("greedy_decode", name, fn) for name, fn in GREEDY.items()),
    *(("sample_next_token", name, fn) for name, fn in SAMPLERS.items()),
]


@pytest.mark.parametrize(
    ("exercise", "fn"),
    [pytest.param(ex, fn, id=f"{ex}: {name}") for ex, name, fn in RIGHT_ANSWERS],
)
def test_right_answer_passes(exercise, fn):
    result = getattr(checks, f"check_{exercise}")(fn)
    assert result.passed, result


def test_every_exercise_of_chapters_07_and_08_is_audited():
    audited = {ex for ex, _, _ in RIGHT_ANSWERS}
    assert audited == {ex.name for ex in checks.EXERCISES if ex.chapter in {"07", "08"}}
