"""Round 42: a learner's journey through every exercise after the in-place warning and the
"computed without gradients" verdict were added.

1. Right answers in the styles learners write (loops, NumPy, idiomatic torch, torch.where,
   float64 inside, work on a clone, requires_grad set, a lib or nn module, *args, a lambda, a
   callable object) pass with no warning.
2. A warning that is true names the argument and quotes the learner's own operation, whatever
   kind of callable holds their code (a function, a partial, a callable object, an nn.Module).
3. A right answer under torch.inference_mode() is told so by name.
4. train_step returning (loss.item(), loss) is named as the loss returned in a tuple.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformer_course import checks
from transformer_course.masks import causal_mask, padding_mask

PASSED, WRONG = "passed", "wrong"
NO_GRADIENT = "computed without gradients"


def passes_quietly(result) -> None:
    assert result.status == PASSED, result.message
    assert "beware" not in result.message, result.message


# --- 1. Right answers in many styles: a pass, and no warning ---


def _cosine_loop(vectors):
    count = vectors.shape[0]
    out = torch.zeros(count, count)
    for i in range(count):
        for j in range(count):
            out[i, j] = vectors[i] @ vectors[j] / (vectors[i].norm() * vectors[j].norm())
    return out


def _cosine_numpy(vectors):
    v = vectors.numpy()
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    return torch.from_numpy(unit @ unit.T)


def _cosine_on_a_clone(vectors):
    v = vectors.clone()
    v /= v.norm(dim=1, keepdim=True)
    return v @ v.T


class _Cosine:
    def __call__(self, vectors):
        unit = F.normalize(vectors, dim=1)
        return unit @ unit.T


def _scores_in_float64(q, k):
    return (q.double() @ k.double().mT).to(q.dtype)


def _scores_needing_grad(q, k):
    q.requires_grad_()  # a learner who sets requires_grad on an input: no change of values
    return q @ k.transpose(-2, -1)


def _softmax_rows(scores):
    rows = []
    for row in scores.reshape(-1, scores.shape[-1]):
        e = torch.exp(row - row.max())
        rows.append(e / e.sum())
    return torch.stack(rows).reshape(scores.shape)


def _softmax_on_a_clone(scores):
    s = scores.clone()
    s -= s.amax(dim=-1, keepdim=True)
    s.exp_()
    return s / s.sum(dim=-1, keepdim=True)


def _attention_with_sdpa(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    out = F.scaled_dot_product_attention(q[None], k[None], v[None])[0]
    return out, F.softmax(q @ k.T / q.shape[-1] ** 0.5, dim=-1)


def _heads_written_into_zeros(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    out = torch.zeros(b, length, d_model)
    for h in range(num_heads):
        cols = slice(h * d_head, (h + 1) * d_head)
        weights = torch.softmax(q[..., cols] @ k[..., cols].transpose(1, 2) / math.sqrt(d_head), -1)
        out[..., cols] = weights @ v[..., cols]
    return out @ w_o


def _heads_with_args(x, *weights, **options):
    b, length, d_model = x.shape
    w_q, w_k, w_v, w_o, num_heads = weights
    q, k, v = [(x @ w).view(b, length, num_heads, -1).transpose(1, 2) for w in (w_q, w_k, w_v)]
    out = F.scaled_dot_product_attention(q, k, v)
    return out.transpose(1, 2).reshape(b, length, d_model) @ w_o


def _masked_with_where(scores, ids, pad_id):
    length = ids.shape[1]
    allowed = torch.ones(length, length, dtype=torch.bool).tril() & (ids != pad_id)[:, None, :]
    return torch.softmax(torch.where(allowed, scores, torch.tensor(float("-inf"))), dim=-1)


def _masked_row_by_row(scores, ids, pad_id):
    out = torch.zeros_like(scores)
    for b in range(scores.shape[0]):
        for i in range(scores.shape[1]):
            keys = [j for j in range(i + 1) if ids[b, j] != pad_id]
            if keys:
                out[b, i, keys] = torch.softmax(scores[b, i, keys], dim=0)
    return out


def _feed_forward_relu_in_place_on_its_own(x, w_1, b_1, w_2, b_2):
    hidden = x @ w_1
    hidden += b_1  # a new tensor of its own: nothing the caller holds
    hidden.relu_()
    return hidden @ w_2 + b_2


def _feed_forward_in_a_sequential(x, w_1, b_1, w_2, b_2):
    layers = torch.nn.Sequential(torch.nn.Linear(*w_1.shape), torch.nn.ReLU(), torch.nn.Linear(*w_2.shape))
    with torch.no_grad():  # only the copy of the weights
        layers[0].weight.copy_(w_1.T)
        layers[0].bias.copy_(b_1)
        layers[2].weight.copy_(w_2.T)
        layers[2].bias.copy_(b_2)
    return layers(x)


def _layer_norm_var_mean(x, weight, bias, eps):
    var, mean = torch.var_mean(x, dim=-1, correction=0, keepdim=True)
    return (x - mean) * torch.rsqrt(var + eps) * weight + bias


def _layer_norm_in_float64(x, weight, bias, eps):
    return F.layer_norm(x.double(), x.shape[-1:], weight.double(), bias.double(), eps).to(x.dtype)


def _add_norm_functional(block, x, sublayer):
    def norm(t):
        return F.layer_norm(t, t.shape[-1:], block.norm.weight, block.norm.bias, block.norm.eps)

    def drop(t):
        return F.dropout(t, block.dropout.p, block.training)

    return x + drop(sublayer(norm(x))) if block.norm_first else norm(x + drop(sublayer(x)))


def _encoder_layer_by_parts(layer, x, mask):
    # (layer.eval() here would leave the caller's layer without dropout: test_checker_round43
    # warns about it.)
    attended, _ = layer.self_attn(x, mask=mask)
    x = layer.norm1(x + attended)
    return layer.norm2(x + layer.feed_forward(x))


def _decoder_layer_with_tril(layer, x, memory):
    length = x.shape[1]
    attended, _ = layer.self_attn(x, mask=torch.tril(torch.ones(length, length)).bool())
    x = layer.norm1(x + attended)
    attended, _ = layer.cross_attn(x, memory, memory)
    x = layer.norm2(x + attended)
    return layer.norm3(x + layer.feed_forward(x))


def _encoder_decoder(parts, src, trg_in):
    def embed(ids):
        vectors = parts.embedding(ids) * math.sqrt(parts.embedding.embedding_dim)
        return vectors + parts.positions[: ids.shape[1]]

    src_mask = padding_mask(src, parts.pad_id)
    memory = parts.encoder(embed(src), src_mask)
    trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
    return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))


def _loss_by_gather(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    labels = trg[:, 1:]
    nll = -logits.log_softmax(-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return nll[labels != pad_id].mean()


def _greedy_from_a_list(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.tolist()
    for _ in range(max_new_tokens):
        token = int(logits_fn(torch.tensor([ids]))[0, -1].argmax())
        ids.append(token)
        if token == eos_id:
            break
    return torch.tensor(ids)


def _sample_with_categorical(logits, temperature, top_k):
    z = logits / temperature
    if top_k:
        kth = torch.topk(z, top_k).values[..., -1, None]
        z = torch.where(z >= kth, z, -torch.inf)
    return torch.distributions.Categorical(logits=z).sample()


def _gpt_with_functional(parts, ids):
    length = ids.shape[1]
    x = (
        F.embedding(ids, parts.token.weight) * parts.token.embedding_dim**0.5
        + parts.positions.weight[:length]
    )
    sees = torch.tril(torch.ones(length, length)).bool()
    for block in parts.blocks:
        x = block(x, sees)
    return F.linear(parts.norm(x), parts.token.weight)


def _top_p_loop(probs, top_p):
    out = torch.zeros_like(probs)
    for b in range(probs.shape[0]):
        total = 0.0
        for i in torch.argsort(probs[b], descending=True).tolist():
            out[b, i] = probs[b, i]
            total += probs[b, i].item()
            if total >= top_p:
                break
        out[b] /= out[b].sum()
    return out


def _cached_step_with_sdpa(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat((past_k, k_new), dim=-2)
    values = v_new if past_v is None else torch.cat((past_v, v_new), dim=-2)
    return F.scaled_dot_product_attention(q, keys, values), keys, values


RIGHT = [
    ("check_cosine_similarity", _cosine_loop),
    ("check_cosine_similarity", _cosine_numpy),
    ("check_cosine_similarity", _cosine_on_a_clone),
    ("check_cosine_similarity", _Cosine()),
    ("check_cosine_similarity", lambda v: F.cosine_similarity(v[:, None], v[None], dim=-1)),
    ("check_attention_scores", _scores_in_float64),
    ("check_attention_scores", _scores_needing_grad),
    ("check_attention_scores", functools.partial(torch.einsum, "...qd,...kd->...qk")),
    ("check_softmax", _softmax_rows),
    ("check_softmax", _softmax_on_a_clone),
    ("check_attention", _attention_with_sdpa),
    ("check_multi_head_attention", _heads_written_into_zeros),
    ("check_multi_head_attention", _heads_with_args),
    ("check_causal_masked_weights", _masked_with_where),
    ("check_causal_masked_weights", _masked_row_by_row),
    ("check_feed_forward", _feed_forward_relu_in_place_on_its_own),
    ("check_feed_forward", _feed_forward_in_a_sequential),
    ("check_layer_norm", _layer_norm_var_mean),
    ("check_layer_norm", _layer_norm_in_float64),
    ("check_add_norm", _add_norm_functional),
    ("check_encoder_layer", _encoder_layer_by_parts),
    ("check_decoder_layer", _decoder_layer_with_tril),
    ("check_encoder_decoder_forward", _encoder_decoder),
    ("check_teacher_forcing_loss", _loss_by_gather),
    ("check_greedy_decode", _greedy_from_a_list),
    ("check_sample_next_token", _sample_with_categorical),
    ("check_gpt_forward", _gpt_with_functional),
    ("check_keep_top_p", _top_p_loop),
    ("check_cached_attention_step", _cached_step_with_sdpa),
]


@pytest.mark.parametrize(
    ("check", "fn"), RIGHT, ids=[f"{c}-{getattr(f, '__name__', type(f).__name__)}" for c, f in RIGHT]
)
def test_right_answers_in_every_style_pass_with_no_warning(check, fn):
    passes_quietly(getattr(checks, check)(fn))


# --- 2. A true warning quotes the learner's operation, whatever callable holds it ---

QUOTED = "changed the scores it was given in place (scores -= …)"


class _SoftmaxObject:
    def __call__(self, scores):
        scores -= scores.amax(dim=-1, keepdim=True)
        e = scores.exp()
        return e / e.sum(dim=-1, keepdim=True)


class _SoftmaxModule(torch.nn.Module):
    def forward(self, scores):
        scores -= scores.amax(dim=-1, keepdim=True)
        e = scores.exp()
        return e / e.sum(dim=-1, keepdim=True)


def _softmax_along(scores, dim):
    scores -= scores.amax(dim=dim, keepdim=True)
    e = scores.exp()
    return e / e.sum(dim=dim, keepdim=True)


@pytest.mark.parametrize(
    "fn",
    [_SoftmaxObject(), _SoftmaxModule(), functools.partial(_softmax_along, dim=-1)],
    ids=["callable object", "nn.Module", "functools.partial"],
)
def test_an_in_place_answer_in_any_callable_is_quoted_from_its_code(fn):
    result = checks.check_softmax(fn)
    assert result.status == PASSED, result.message
    assert QUOTED in result.message, result.message
    assert "scores = scores - … makes a new tensor" in result.message


def test_a_label_view_written_into_warns_about_trg_and_says_clone():
    def loss(model, src, trg, pad_id):
        logits = model(src, trg[:, :-1])
        labels = trg[:, 1:]  # a view: writing into it writes into trg
        labels[labels == pad_id] = -100
        return F.cross_entropy(logits.transpose(1, 2), labels)

    result = checks.check_teacher_forcing_loss(loss)
    assert result.status == PASSED, result.message
    assert "changed the trg it was given in place (labels[…] = …)" in result.message, result.message
    assert "labels = labels.clone()" in result.message


# --- 3. torch.inference_mode() is named with torch.no_grad() ---


def test_right_scores_under_inference_mode_are_told_inference_mode_by_name():
    @torch.inference_mode()
    def scores(q, k):
        return q @ k.transpose(-2, -1)

    result = checks.check_attention_scores(scores)
    assert result.status == WRONG and NO_GRADIENT in result.message, result.message
    assert "torch.inference_mode()" in result.message


# --- 4. train_step returning the loss in a tuple with something else ---


def _step_returning(pack):
    def step(model, optimiser, loss_fn, batch):
        optimiser.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward()
        optimiser.step()
        return pack(loss)

    return step


@pytest.mark.parametrize(
    "pack",
    [lambda loss: (loss.item(), loss), lambda loss: (loss, loss.item()), lambda loss: [loss]],
    ids=["(loss.item(), loss)", "(loss, loss.item())", "[loss]"],
)
def test_train_step_returning_the_loss_in_a_tuple_is_named_without_a_torch_warning(pack):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # "Converting a tensor with requires_grad…"
        result = checks.check_train_step(_step_returning(pack))
    assert result.status == WRONG, result.message
    assert "inside a list" in result.message and "Return loss.item()." in result.message, result.message


def test_train_step_in_a_tuple_with_a_wrong_step_keeps_its_generic_verdict():
    def step(model, optimiser, loss_fn, batch):  # no zero_grad: the weights differ too
        loss = loss_fn(model, batch)
        loss.backward()
        optimiser.step()
        return loss.item(), loss

    result = checks.check_train_step(step)
    assert result.status == WRONG
    assert "inside a list" not in result.message, result.message


# --- 2b. Written through another name for the argument: that write is quoted ---


def _cosine_through_an_alias(vectors):
    lengths = torch.zeros(len(vectors))  # a tensor of its own, written first
    for i in range(len(vectors)):
        lengths[i] = vectors[i].norm()
    unit = vectors  # the same tensor under another name
    for i in range(len(vectors)):
        unit[i] /= lengths[i]
    return unit @ unit.T


def _cosine_through_a_view(vectors):
    scaled = torch.zeros(len(vectors), 1)
    scaled[:, 0] = vectors.norm(dim=1)
    rows = vectors.view(len(vectors), -1)  # a view shares the caller's numbers
    rows /= scaled
    return rows @ rows.T


@pytest.mark.parametrize(
    ("fn", "quoted"),
    [(_cosine_through_an_alias, "(unit[…] /= …)"), (_cosine_through_a_view, "(rows /= …)")],
    ids=["alias", "view"],
)
def test_a_write_through_another_name_for_the_argument_is_the_one_quoted(fn, quoted):
    result = checks.check_cosine_similarity(fn)
    assert result.status == PASSED, result.message
    assert f"changed the vectors it was given in place {quoted}" in result.message, result.message


def test_the_arguments_own_write_is_quoted_before_a_write_into_its_clone():
    def cosine(vectors):
        unit = vectors.clone()  # a copy: its writes stay its own
        unit /= unit.norm(dim=1, keepdim=True)
        vectors[0] = 0  # the write that changes the caller's tensor
        return (unit @ unit.T).nan_to_num()

    result = checks.check_cosine_similarity(cosine)
    assert result.status == PASSED, result.message
    assert "in place (vectors[…] = …)" in result.message, result.message


# --- 5. add_norm with block.eval() inside: named, not told to add the dropout it has ---


@pytest.mark.parametrize("switch", ["eval", "train_false", "flag"])
def test_add_norm_that_switches_the_blocks_mode_is_named(switch):
    def add_norm(block, x, sublayer):
        if switch == "eval":
            block.eval()
        elif switch == "train_false":
            block.train(False)
        else:
            block.training = False  # the flag alone: block.dropout keeps its own
            block.dropout.training = False
        if block.norm_first:
            return x + block.dropout(sublayer(block.norm(x)))
        return block.norm(x + block.dropout(sublayer(x)))

    result = checks.check_add_norm(add_norm)
    assert result.status == WRONG, result.message
    assert "switches the block's mode" in result.message, result.message
    assert "goes through dropout before it is added" not in result.message


def test_add_norm_without_dropout_keeps_its_own_hint():
    def add_norm(block, x, sublayer):  # no mode switched: the dropout is simply missing
        return x + sublayer(block.norm(x)) if block.norm_first else block.norm(x + sublayer(x))

    result = checks.check_add_norm(add_norm)
    assert result.status == WRONG
    assert "switches the block's mode" not in result.message, result.message
