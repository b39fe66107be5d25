"""An eighth audit of the checkers, chapters 01 to 07: the cosine similarity, the sinusoidal
encoding, the attention scores, the softmax, one head, multi-head attention, the masks, the
feed-forward network, layer norm, Add & Norm, the encoder and decoder layers and the whole
encoder-decoder forward pass.

Each catalogue gained the mistakes this audit met, each with a learner-style ``example``; every
new mistake's example gets exactly its own hint. Apart from those, the wrong answers are written
here again, the way other learners write them, and must be named too (they used to get "differs
at index …"). Right answers written another way (einsum, loops, F.* against by hand) must pass.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from transformer_course import checks
from transformer_course.checks import PASSED, WRONG, exercise
from transformer_course.masks import causal_mask, padding_mask

# The mistakes this audit added, by exercise: each example must get its own hint, and no other.
NEW = {
    "cosine_similarity": [
        "absolute value",
        "cosine distance",
        "the angle",
        "softmax of the similarities",
        "rows centred first",
        "scaled by √d",
        "F.cosine_similarity over the tokens",
    ],
    "sinusoidal_encoding": [
        "exponent without brackets, ÷ d_model outside",
        "exponent without brackets, 10000 ** 2",
        "cosines then sines",
        "positions divided by the length",
        "sines and cosines stacked on the first axis",
    ],
    "attention_scores": [
        "future zeroed",
        "broadcast product summed over the keys",
        "cosine of queries and keys",
    ],
    "softmax": [
        "the max, one-hot",
        "sigmoid",
        "no exp",
        "divided by the norm",
        "divided by the max",
        "scaled by √Lk",
    ],
    "attention": [
        "weights transposed",
        "weights not scaled",
        "sigmoid instead of softmax",
        "hard max instead of softmax",
        "V projected with W_K",
        "Q projected with W_K",
        "no softmax",
        "log-softmax weights",
    ],
    "multi_head_attention": [
        "heads joined in reverse order",
        "scaled by √num_heads",
        "merged with the heads last",
        "tokens chunked into heads",
        "scaled after the softmax",
        "residual added",
        "V projected with W_K",
    ],
    "causal_masked_weights": [
        "future zeroed with tril",
        "filled with -1",
        "filled with -10",
        "filled with +inf",
        "weights transposed",
        "-inf filled after the softmax",
    ],
    "feed_forward": [
        "softmax as the activation",
        "min instead of max",
        "output normalised",
        "hidden layer returned",
    ],
    "layer_norm": [
        "unit length, not unit variance",
        "over the batch",
        "E[x²] − mean, unsquared",
        "eps multiplied",
        "mean absolute deviation",
        "weight added",
        "√eps added to the std",
    ],
    "add_norm": [
        "pre-norm normalises the sum too",
        "normalised x in post-norm",
        "norm_first called",
        "dropout on the residual",
        "dropout after the norm",
    ],
    "encoder_layer": [
        "feed-forward on the layer's input",
        "feed-forward residual from the attention",
        "no feed-forward",
        "norm2 used twice",
        "padding mask on the queries",
    ],
    "decoder_layer": [
        "cross-attention values from x",
        "cross-attention keys from x",
        "cross-attention queries from the layer's input",
        "no cross-attention",
        "no self-attention",
        "cross-attention residual from the layer's input",
    ],
    "encoder_decoder_forward": [
        "× √vocab_size",
        "decoder skipped",
        "cross mask from the target's padding",
        "decoder's masks swapped",
        "token ids returned",
    ],
}


def _mistake(name, mistake_name):
    found = [m for m in exercise(name).mistakes if m.name == mistake_name]
    assert found, f"{name} has no mistake {mistake_name!r}"
    return found[0]


def names(name, result, mistake_name):
    """Rejected with exactly that mistake's hint (first, as the harness puts it), and no other's."""
    hint = _mistake(name, mistake_name).hint
    assert result.status == WRONG, result
    assert result.message.startswith(hint), result.message
    others = {m.hint for m in exercise(name).mistakes} - {hint}
    assert not [h for h in others if h in result.message], result.message


@pytest.mark.parametrize(("name", "mistake_name"), [(n, m) for n, ms in NEW.items() for m in ms])
def test_each_new_mistake_gets_its_own_hint(name, mistake_name):
    ex = exercise(name)
    names(name, ex.check(_mistake(name, mistake_name).example), mistake_name)


# --- The same mistakes, written by other learners ---


def _unit(v):
    return v / v.norm(dim=-1, keepdim=True)


def _angles(length, d_model):
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    return pos * torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))


def _qkv(x, w_q, w_k, w_v):
    return x @ w_q, x @ w_k, x @ w_v


def _allowed(ids, pad_id):
    return causal_mask(ids.shape[1]) & (ids != pad_id)[:, None, :]


def _split(t, h):
    return t.unflatten(-1, (h, -1)).transpose(1, 2)


def _mha_heads(x, w_q, w_k, w_v, h, scale):
    q, k, v = (_split(x @ w, h) for w in (w_q, w_k, w_v))
    return F.softmax(q @ k.mT / scale, dim=-1) @ v


OTHER_LEARNERS = [
    (
        "cosine_similarity",
        "absolute value",
        lambda v: torch.abs(F.normalize(v, dim=1) @ F.normalize(v, dim=1).T),
    ),
    (
        "cosine_similarity",
        "cosine distance",
        lambda v: 1.0 - F.cosine_similarity(v[:, None], v[None], dim=-1),
    ),
    ("cosine_similarity", "the angle", lambda v: torch.acos((_unit(v) @ _unit(v).T).clamp(-1.0, 1.0))),
    ("cosine_similarity", "softmax of the similarities", lambda v: (_unit(v) @ _unit(v).T).softmax(-1)),
    ("cosine_similarity", "scaled by √d", lambda v: torch.einsum("id,jd->ij", v, v) / math.sqrt(v.shape[1])),
    (
        "sinusoidal_encoding",
        "cosines then sines",
        lambda n, d: torch.cat([_angles(n, d).cos(), _angles(n, d).sin()], dim=1),
    ),
    (
        "sinusoidal_encoding",
        "exponent without brackets, ÷ d_model outside",
        lambda n, d: torch.stack(
            [
                torch.sin(torch.arange(n)[:, None] / 10000 ** torch.arange(0.0, d, 2) / d),
                torch.cos(torch.arange(n)[:, None] / 10000 ** torch.arange(0.0, d, 2) / d),
            ],
            dim=-1,
        ).reshape(n, d),
    ),
    (
        "sinusoidal_encoding",
        "positions divided by the length",
        lambda n, d: torch.stack([(_angles(n, d) / n).sin(), (_angles(n, d) / n).cos()], dim=-1).reshape(
            n, d
        ),
    ),
    ("attention_scores", "future zeroed", lambda q, k: (q @ k.mT).tril()),
    (
        "attention_scores",
        "cosine of queries and keys",
        lambda q, k: F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).mT,
    ),
    ("softmax", "the max, one-hot", lambda s: F.one_hot(s.argmax(-1), s.shape[-1]).float()),
    ("softmax", "sigmoid", torch.sigmoid),
    ("softmax", "no exp", lambda s: s / s.sum(dim=-1, keepdim=True)),
    ("softmax", "divided by the norm", lambda s: F.normalize((s - s.amax(-1, keepdim=True)).exp(), dim=-1)),
    (
        "attention",
        "weights transposed",
        lambda x, w_q, w_k, w_v: (
            torch.softmax((x @ w_q) @ (x @ w_k).T / w_k.shape[1] ** 0.5, -1) @ (x @ w_v),
            torch.softmax((x @ w_q) @ (x @ w_k).T / w_k.shape[1] ** 0.5, -1).T,
        ),
    ),
    (
        "attention",
        "log-softmax weights",
        lambda x, w_q, w_k, w_v: (
            F.log_softmax((x @ w_q) @ (x @ w_k).T / math.sqrt(w_q.shape[1]), -1).exp() @ (x @ w_v),
            F.log_softmax((x @ w_q) @ (x @ w_k).T / math.sqrt(w_q.shape[1]), -1),
        ),
    ),
    (
        "attention",
        "hard max instead of softmax",
        lambda x, w_q, w_k, w_v: (
            F.one_hot(((x @ w_q) @ (x @ w_k).T).argmax(-1), x.shape[0]).float() @ (x @ w_v),
            F.one_hot(((x @ w_q) @ (x @ w_k).T).argmax(-1), x.shape[0]).float(),
        ),
    ),
    (
        "multi_head_attention",
        "heads joined in reverse order",
        lambda x, w_q, w_k, w_v, w_o, h: (
            _mha_heads(x, w_q, w_k, w_v, h, (x.shape[-1] // h) ** 0.5).flip(1).transpose(1, 2).flatten(2)
            @ w_o
        ),
    ),
    (
        "multi_head_attention",
        "scaled by √num_heads",
        lambda x, w_q, w_k, w_v, w_o, h: (
            _mha_heads(x, w_q, w_k, w_v, h, math.sqrt(h)).transpose(1, 2).flatten(2) @ w_o
        ),
    ),
    (
        "causal_masked_weights",
        "weights transposed",
        lambda s, ids, p: torch.softmax(s + torch.zeros_like(s).masked_fill(~_allowed(ids, p), -1e9), -1).mT,
    ),
    (
        "causal_masked_weights",
        "-inf filled after the softmax",
        lambda s, ids, p: torch.softmax(s, dim=-1).masked_fill(~_allowed(ids, p), -1e9),
    ),
    (
        "causal_masked_weights",
        "filled with -1",
        lambda s, ids, p: torch.where(_allowed(ids, p), s, -torch.ones_like(s)).softmax(-1),
    ),
    (
        "causal_masked_weights",
        "future zeroed with tril",
        lambda s, ids, p: torch.tril(s).masked_fill(~padding_mask(ids, p)[:, 0], float("-inf")).softmax(-1),
    ),
    (
        "feed_forward",
        "min instead of max",
        lambda x, w_1, b_1, w_2, b_2: (x @ w_1 + b_1).clamp(max=0) @ w_2 + b_2,
    ),
    ("feed_forward", "hidden layer returned", lambda x, w_1, b_1, w_2, b_2: (x @ w_1 + b_1).clamp(min=0)),
    ("feed_forward", "another activation", lambda x, w_1, b_1, w_2, b_2: F.relu6(x @ w_1 + b_1) @ w_2 + b_2),
    (
        "layer_norm",
        "over the batch",
        lambda x, w, b, eps: (x - x.mean(0)) / (x.var(0, unbiased=False) + eps).sqrt() * w + b,
    ),
    (
        "layer_norm",
        "weight added",
        lambda x, w, b, eps: F.layer_norm(x, x.shape[-1:], eps=eps) + w + b,
    ),
    (
        "layer_norm",
        "eps multiplied",
        lambda x, w, b, eps: (
            (x - x.mean(-1, keepdim=True)) * torch.rsqrt(x.var(-1, correction=0, keepdim=True) * eps) * w + b
        ),
    ),
    (
        "add_norm",
        "dropout after the norm",
        lambda block, x, sub: (
            x + block.dropout(sub(block.norm(x)))
            if block.norm_first
            else F.dropout(block.norm(x + sub(x)), block.dropout.p, block.training)
        ),
    ),
    (
        "encoder_layer",
        "no feed-forward",
        lambda layer, x, mask: layer.norm2(layer.norm1(x + layer.self_attn(x, x, x, mask=mask)[0])),
    ),
    (
        "decoder_layer",
        "no cross-attention",
        lambda layer, x, memory: (lambda h: layer.norm3(h + layer.feed_forward(h)))(
            layer.norm1(x + layer.self_attn(x, causal=True)[0])
        ),
    ),
    (
        "encoder_decoder_forward",
        "token ids returned",
        lambda parts, src, trg_in: _seq2seq(parts, src, trg_in).argmax(-1),
    ),
]


def _seq2seq(parts, src, trg_in):
    d = parts.embedding.embedding_dim

    def embed(ids):
        return parts.embedding(ids) * d**0.5 + parts.positions[None, : ids.shape[1]]

    src_mask = padding_mask(src, parts.pad_id)
    memory = parts.encoder(embed(src), src_mask)
    trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
    return F.linear(
        parts.decoder(embed(trg_in), memory, trg_mask, src_mask), parts.output.weight, parts.output.bias
    )


@pytest.mark.parametrize(
    ("name", "mistake_name", "fn"), OTHER_LEARNERS, ids=[f"{n}-{m}" for n, m, _ in OTHER_LEARNERS]
)
def test_the_same_mistake_written_another_way_is_named(name, mistake_name, fn):
    names(name, getattr(checks, f"check_{name}")(fn), mistake_name)


# --- Right answers written another way: each must pass ---


def _cosine_by_einsum(vectors):
    inverse = torch.einsum("td,td->t", vectors, vectors).rsqrt()  # 1 / |v_t|
    return torch.einsum("id,jd->ij", vectors, vectors) * inverse[:, None] * inverse[None, :]


def _cosine_row_by_row(vectors):
    return torch.stack([F.cosine_similarity(row[None], vectors, dim=-1) for row in vectors])


def _sinusoid_annotated(length, d_model):
    pe = torch.zeros(length, d_model)
    angle = _angles(length, d_model)  # pos * exp(-2i ln(10000) / d), as The Annotated Transformer
    pe[:, 0::2], pe[:, 1::2] = angle.sin(), angle.cos()
    return pe


def _sinusoid_outer(length, d_model):
    frequencies = 1.0 / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    angle = torch.outer(torch.arange(length, dtype=torch.float64), frequencies)
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1).float()


def _scores_query_by_query(q, k):
    return torch.cat([q[..., i : i + 1, :] @ k.mT for i in range(q.shape[-2])], dim=-2)


def _softmax_by_reciprocal(scores):
    e = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    return e * e.sum(dim=-1, keepdim=True).reciprocal()


def _head_merged_qk(x, w_q, w_k, w_v):
    weights = F.softmax(x @ (w_q @ w_k.T) @ x.T / math.sqrt(w_q.shape[1]), dim=-1)  # (xW_Q)(xW_K)ᵀ
    return weights @ (x @ w_v), weights


def _head_query_by_query(x, w_q, w_k, w_v):
    q, k, v = _qkv(x, w_q, w_k, w_v)
    rows = []
    for query in q:
        scores = k @ query / math.sqrt(q.shape[1])
        e = (scores - scores.max()).exp()
        rows.append(e / e.sum())
    weights = torch.stack(rows)
    return weights @ v, weights


def _mha_w_o_per_head(x, w_q, w_k, w_v, w_o, num_heads):
    d_head = x.shape[-1] // num_heads
    heads = _mha_heads(x, w_q, w_k, w_v, num_heads, d_head**0.5)  # (B, h, L, d_head)
    blocks = w_o.view(num_heads, d_head, -1)  # head i's rows of W_O
    return sum(heads[:, i] @ blocks[i] for i in range(num_heads))


def _mha_einsum(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = (torch.einsum("bld,de->ble", x, w).unflatten(-1, (num_heads, -1)) for w in (w_q, w_k, w_v))
    weights = torch.einsum("bqhd,bkhd->bhqk", q, k).div(q.shape[-1] ** 0.5).softmax(-1)
    return torch.einsum("bhqk,bkhd->bqhd", weights, v).flatten(2) @ w_o


def _masked_with_triu(scores, ids, pad_id):
    future = torch.triu(torch.ones(ids.shape[1], ids.shape[1], dtype=torch.bool), diagonal=1)
    blocked = future | (ids == pad_id)[:, None, :]
    return F.softmax(scores.masked_fill(blocked, float("-inf")), dim=-1)


def _masked_one_sentence_at_a_time(scores, ids, pad_id):
    out = []
    for s, sentence in zip(scores, ids):
        additive = torch.zeros_like(s).masked_fill(~(causal_mask(len(sentence)) & (sentence != pad_id)), -1e9)
        out.append(torch.softmax(s + additive, dim=-1))
    return torch.stack(out)


def _ffn_maximum(x, w_1, b_1, w_2, b_2):
    hidden = torch.maximum(x @ w_1 + b_1, torch.zeros(()))
    return hidden @ w_2 + b_2


def _ffn_addmm(x, w_1, b_1, w_2, b_2):
    rows = x.reshape(-1, x.shape[-1])
    hidden = torch.addmm(b_1, rows, w_1).relu()
    return torch.addmm(b_2, hidden, w_2).reshape(x.shape)


def _layer_norm_rsqrt(x, weight, bias, eps):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    return (x - mean) * torch.rsqrt(var + eps) * weight + bias


def _layer_norm_vector_by_vector(x, weight, bias, eps):
    rows = x.reshape(-1, x.shape[-1])
    out = [(r - r.mean()) / (((r - r.mean()) ** 2).mean() + eps).sqrt() * weight + bias for r in rows]
    return torch.stack(out).reshape(x.shape)


def _add_norm_one_sum(block, x, sublayer):
    out = x + block.dropout(sublayer(block.norm(x) if block.norm_first else x))
    return out if block.norm_first else block.norm(out)


def _add_norm_functional(block, x, sublayer):
    norm = block.norm

    def normalise(h):
        return F.layer_norm(h, norm.normalized_shape, norm.weight, norm.bias, norm.eps)

    drop = block.dropout.p if block.training else 0.0
    if block.norm_first:
        return torch.add(x, F.dropout(sublayer(normalise(x)), drop, block.training))
    return normalise(torch.add(x, F.dropout(sublayer(x), drop, block.training)))


def _encoder_explicit_kv(layer, x, mask):
    attended, _ = layer.self_attn(x, x, x, mask=mask)
    x = layer.norm1(x + attended)
    return layer.norm2(x + layer.feed_forward(x))


def _encoder_square_mask(layer, x, mask):
    square = mask.expand(-1, -1, x.shape[1], -1)  # (B, 1, L, L): the same keys for every query
    x = layer.norm1(x + layer.self_attn(x, mask=square)[0])
    return layer.norm2(x + layer.feed_forward(x))


def _decoder_causal_flag(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, causal=True)[0])
    x = layer.norm2(x + layer.cross_attn(query=x, key=memory, value=memory)[0])
    return layer.norm3(x + layer.feed_forward(x))


def _decoder_tril_by_hand(layer, x, memory):
    length = x.shape[1]
    mask = torch.tril(torch.ones(length, length)).bool()[None, None]  # (1, 1, Lt, Lt)
    x = layer.norm1(x + layer.self_attn(x, mask=mask)[0])
    x = layer.norm2(x + layer.cross_attn(x, memory)[0])  # the value defaults to the key
    return layer.norm3(x + layer.feed_forward(x))


def _seq2seq_masks_by_hand(parts, src, trg_in):
    d = parts.embedding.embedding_dim
    scale = math.sqrt(d)
    src_mask = (src != parts.pad_id)[:, None, None, :]
    length = trg_in.shape[1]
    trg_mask = torch.ones(length, length).tril().bool() & (trg_in != parts.pad_id)[:, None, None, :]
    memory = parts.encoder(parts.embedding(src) * scale + parts.positions[: src.shape[1]], src_mask)
    y = parts.embedding(trg_in) * scale + parts.positions[:length]
    return parts.output(parts.decoder(y, memory, trg_mask, src_mask))


RIGHT = [
    ("cosine_similarity", _cosine_by_einsum),
    ("cosine_similarity", _cosine_row_by_row),
    ("sinusoidal_encoding", _sinusoid_annotated),
    ("sinusoidal_encoding", _sinusoid_outer),
    ("attention_scores", lambda q, k: torch.matmul(q, k.swapaxes(-1, -2))),
    ("attention_scores", _scores_query_by_query),
    ("softmax", _softmax_by_reciprocal),
    ("softmax", torch.nn.Softmax(dim=-1)),
    ("attention", _head_merged_qk),
    ("attention", _head_query_by_query),
    ("multi_head_attention", _mha_w_o_per_head),
    ("multi_head_attention", _mha_einsum),
    ("causal_masked_weights", _masked_with_triu),
    ("causal_masked_weights", _masked_one_sentence_at_a_time),
    ("feed_forward", _ffn_maximum),
    ("feed_forward", _ffn_addmm),
    ("layer_norm", _layer_norm_rsqrt),
    ("layer_norm", _layer_norm_vector_by_vector),
    ("add_norm", _add_norm_one_sum),
    ("add_norm", _add_norm_functional),
    ("encoder_layer", _encoder_explicit_kv),
    ("encoder_layer", _encoder_square_mask),
    ("decoder_layer", _decoder_causal_flag),
    ("decoder_layer", _decoder_tril_by_hand),
    ("encoder_decoder_forward", _seq2seq),
    ("encoder_decoder_forward", _seq2seq_masks_by_hand),
]


@pytest.mark.parametrize(("name", "fn"), RIGHT, ids=[f"{n}-{i % 2}" for i, (n, _) in enumerate(RIGHT)])
def test_a_right_answer_written_another_way_passes(name, fn):
    result = getattr(checks, f"check_{name}")(fn)
    assert result.status == PASSED, result.message


# --- review: a hint must fit every answer that reaches it ---


def _calls_training(block, x, sublayer):
    h = sublayer(block.norm(x) if block.norm_first else x)
    if block.training():  # meant block.training, a bool attribute
        h = block.dropout(h)
    return x + h if block.norm_first else block.norm(x + h)


def test_a_flag_called_like_a_method_is_named_whichever_flag_it_is():
    result = exercise("add_norm").check(_calls_training)
    assert not result.passed
    assert "block.training" in result.message and "not methods" in result.message


def test_cosine_over_either_tokens_axis_gets_a_hint_that_names_both():
    def over_dim_0(v):
        return F.cosine_similarity(v.unsqueeze(1), v.unsqueeze(0), dim=0)

    result = exercise("cosine_similarity").check(over_dim_0)
    assert "dim=0 or dim=1" in result.message, result.message
