"""Round 43b's battery of wrong answers, for chapters 03–09's attention, layers, model and
decoding exercises: attention_scores, attention, multi_head_attention, decoder_layer,
encoder_decoder_forward, teacher_forcing_loss, gpt_forward, greedy_decode.

Each slip below is one a learner types (a wrong axis, a transpose, a sign, a LayerNorm by hand
with the unbiased variance, a position table of one's own, a count plus one, a buffer returned
whole…). Those round 43b found generic or misnamed now have a mistake of their own (in each
module's ``_slips``); the others pin the name they already get. Right answers written in other
styles (an unshifted softmax, one's own correct position table) still pass with no warning.

The wrong answers here are written apart from the catalogue's own examples, as a learner would
type them, so that a test cannot pass by construction.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from _battery import Battery
from transformer_course.checks.harness import PASSED, WRONG
from transformer_course.checks.registry import exercise
from transformer_course.masks import causal_mask, padding_mask

_battery = Battery()
wrong, right = _battery.wrong, _battery.right
WRONG_ANSWERS = _battery.wrong_answers  # (exercise, the mistake it must be named, the learner's function)
RIGHT_ANSWERS = _battery.right_answers  # (exercise, the learner's function)


def hint_of(exercise_name, mistake_name):
    return {m.name: m.hint for m in exercise(exercise_name).mistakes}[mistake_name]


# --- attention_scores (chapter 03): q (..., Lq, d_k), k (..., Lk, d_k) → (..., Lq, Lk) ---


@wrong("attention_scores", "scaled and softmaxed over the queries")
def weights_normalised_down_the_columns(q, k):
    return F.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-2)


@wrong("attention_scores", "scores times a constant")
def scaled_by_the_wrong_axis(q, k):
    return q @ k.transpose(-2, -1) / math.sqrt(q.shape[0])  # meant d_k, the last axis


@wrong("attention_scores", "scores times a constant")
def negated(q, k):
    return -(q @ k.transpose(-2, -1))


@wrong("attention_scores", "an activation of the scores")
def squared(q, k):
    return (q @ k.transpose(-2, -1)) ** 2


@wrong("attention_scores", "broadcast product summed over the keys")
def summed_over_the_wrong_axis(q, k):
    return (q.unsqueeze(-2) * k.unsqueeze(-3)).sum(-2)


@wrong("attention_scores", "queries and keys swapped")
def einsum_with_the_output_swapped(q, k):
    return torch.einsum("...id,...jd->...ji", q, k)


# --- attention (chapter 04): x (L, d_model) → output (L, d_v), weights (L, L) ---


def _project(x, w_q, w_k, w_v):
    return x @ w_q, x @ w_k, x @ w_v


@wrong("attention", "softmax shifted by each key's max")
def stable_softmax_with_the_max_down_the_columns(x, w_q, w_k, w_v):
    q, k, v = _project(x, w_q, w_k, w_v)
    s = q @ k.T / math.sqrt(k.shape[-1])
    e = (s - s.max(0, keepdim=True).values).exp()
    weights = e / e.sum(-1, keepdim=True)
    return weights @ v, weights


@wrong("attention", "V projected with W_Q")
def values_made_from_the_queries(x, w_q, w_k, w_v):
    q, k = x @ w_q, x @ w_k
    weights = torch.softmax(q @ k.T / math.sqrt(k.shape[-1]), dim=-1)
    return weights @ q, weights


@wrong("attention", "softmax over the queries")
def softmax_down_dim_0(x, w_q, w_k, w_v):
    q, k, v = _project(x, w_q, w_k, w_v)
    weights = torch.softmax(q @ k.T / math.sqrt(k.shape[-1]), dim=0)
    return weights @ v, weights


@wrong("attention", "√d_model")
def scaled_by_the_inputs_width(x, w_q, w_k, w_v):
    q, k, v = _project(x, w_q, w_k, w_v)
    weights = torch.softmax(q @ k.T / math.sqrt(x.shape[1]), dim=-1)
    return weights @ v, weights


@wrong("attention", "weights not scaled")
def weights_returned_unscaled(x, w_q, w_k, w_v):
    q, k, v = _project(x, w_q, w_k, w_v)
    return torch.softmax(q @ k.T / math.sqrt(k.shape[-1]), dim=-1) @ v, torch.softmax(q @ k.T, -1)


@wrong("attention", "√d_v")
def scaled_by_the_values_width(x, w_q, w_k, w_v):
    q, k, v = _project(x, w_q, w_k, w_v)
    weights = torch.softmax(q @ k.T / math.sqrt(v.shape[-1]), dim=-1)
    return weights @ v, weights


@wrong("attention", "d_k without the root")
def queries_and_keys_both_scaled(x, w_q, w_k, w_v):
    q, k, v = _project(x, w_q, w_k, w_v)
    root = math.sqrt(k.shape[-1])
    weights = torch.softmax((q / root) @ (k / root).T, dim=-1)  # scaled once too often
    return weights @ v, weights


@wrong("attention", "torch.sqrt of a number")
def root_from_torch(x, w_q, w_k, w_v):
    q, k, v = _project(x, w_q, w_k, w_v)
    d_k = q.size(-1)
    weights = (q @ k.T / torch.sqrt(d_k)).softmax(-1)
    return weights @ v, weights


@right("attention")
def weights_through_log_softmax(x, w_q, w_k, w_v):
    q, k, v = _project(x, w_q, w_k, w_v)
    weights = torch.log_softmax(q @ k.T / math.sqrt(k.shape[-1]), dim=-1).exp()
    return weights @ v, weights


@wrong("attention", "softmax by hand overflows")  # round 44: wrong on scores in the hundreds
def softmax_by_hand_without_the_shift(x, w_q, w_k, w_v):
    q, k, v = _project(x, w_q, w_k, w_v)
    e = torch.exp(q @ k.T / math.sqrt(k.shape[-1]))  # overflows where the scores reach ~90
    weights = e / e.sum(-1, keepdim=True)
    return weights @ v, weights


# --- multi_head_attention (chapter 05): x (B, L, D) → (B, L, D) ---


def _mha(x, w_q, w_k, w_v, w_o, h, *, scale=None, split_k=None, softmax_dim=-1):
    b, length, d_model = x.shape
    d_head = d_model // h
    split = lambda t: t.view(b, length, h, d_head).transpose(1, 2)  # noqa: E731
    q, v = split(x @ w_q), split(x @ w_v)
    k = (split_k or split)(x @ w_k)
    s = q @ k.transpose(-2, -1) / (math.sqrt(d_head) if scale is None else scale)
    out = torch.softmax(s, dim=softmax_dim) @ v
    return out.transpose(1, 2).reshape(b, length, d_model) @ w_o


@wrong("multi_head_attention", "scaled by √L")
def scaled_by_the_token_count(x, w_q, w_k, w_v, w_o, num_heads):
    return _mha(x, w_q, w_k, w_v, w_o, num_heads, scale=math.sqrt(x.size(1)))


@wrong("multi_head_attention", "one split without its transpose")
def keys_reshaped_flat(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    flat = lambda t: t.reshape(b, num_heads, length, d_model // num_heads)  # noqa: E731
    return _mha(x, w_q, w_k, w_v, w_o, num_heads, split_k=flat)


@wrong("multi_head_attention", "÷ d_head")
def scaled_by_d_head_unrooted(x, w_q, w_k, w_v, w_o, num_heads):
    return _mha(x, w_q, w_k, w_v, w_o, num_heads, scale=x.shape[-1] // num_heads)


@wrong("multi_head_attention", "W_O transposed")
def output_weight_transposed(x, w_q, w_k, w_v, w_o, num_heads):
    return _mha(x, w_q, w_k, w_v, w_o.T, num_heads)


@wrong("multi_head_attention", "softmax over the heads")
def softmax_over_dim_1(x, w_q, w_k, w_v, w_o, num_heads):
    return _mha(x, w_q, w_k, w_v, w_o, num_heads, softmax_dim=1)


@wrong("multi_head_attention", "w_k never read")
def keys_from_w_q(x, w_q, w_k, w_v, w_o, num_heads):
    return _mha(x, w_q, w_q, w_v, w_o, num_heads)


@wrong("multi_head_attention", "view after the transpose")
def merged_with_view(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    split = lambda t: t.view(b, length, num_heads, d_head).transpose(1, 2)  # noqa: E731
    q, k, v = split(x @ w_q), split(x @ w_k), split(x @ w_v)
    out = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_head), dim=-1) @ v
    return out.transpose(1, 2).view(b, length, d_model) @ w_o


@wrong("multi_head_attention", "torch.sqrt of a number")
def head_root_from_torch(x, w_q, w_k, w_v, w_o, num_heads):
    return _mha(x, w_q, w_k, w_v, w_o, num_heads, scale=torch.sqrt(x.shape[-1] // num_heads))


@right("multi_head_attention")
def each_head_through_its_rows_of_w_o(x, w_q, w_k, w_v, w_o, num_heads):
    d_head = x.shape[-1] // num_heads
    total = 0
    for i in range(num_heads):
        cols = slice(i * d_head, (i + 1) * d_head)
        q, k, v = x @ w_q[:, cols], x @ w_k[:, cols], x @ w_v[:, cols]
        head = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_head), dim=-1) @ v  # (B, L, d_head)
        total = total + head @ w_o[cols]  # concat then w_o is the sum of these
    return total


# --- decoder_layer (chapter 07): x (B, Lt, d), memory (B, Ls, d) → (B, Lt, d) ---


def _decoder(layer, x, memory, norm=None, *, mask=None, cross_mask=None):
    """Post-norm, each LayerNorm written ``norm(module, h)`` (None: the module's own call)."""
    by = norm or (lambda module, h: module(h))
    sees = causal_mask(x.shape[1]) if mask is None else mask
    x = by(layer.norm1, x + layer.self_attn(x, mask=sees)[0])
    x = by(layer.norm2, x + layer.cross_attn(x, memory, memory, mask=cross_mask)[0])
    return by(layer.norm3, x + layer.feed_forward(x))


@wrong("decoder_layer", "LayerNorm by hand, unbiased variance")
def norms_with_torch_var(layer, x, memory):
    def norm(module, h):
        return (h - h.mean(-1, keepdim=True)) / torch.sqrt(
            h.var(-1, keepdim=True) + module.eps
        ) * module.weight + module.bias

    return _decoder(layer, x, memory, norm)


@wrong("decoder_layer", "LayerNorm by hand without its scale and shift")
def norms_with_f_layer_norm_alone(layer, x, memory):
    return _decoder(layer, x, memory, lambda module, h: F.layer_norm(h, (h.shape[-1],), eps=module.eps))


@wrong("decoder_layer", "LayerNorm over the whole sentence")
def norms_over_tokens_and_features(layer, x, memory):
    return _decoder(
        layer, x, memory, lambda module, h: F.layer_norm(h, h.shape[1:]) * module.weight + module.bias
    )


@wrong("decoder_layer", "feed-forward residual from before norm2")
def last_residual_from_the_raw_sum(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, mask=causal_mask(x.shape[1]))[0])
    y = x + layer.cross_attn(x, memory, memory)[0]
    return layer.norm3(y + layer.feed_forward(layer.norm2(y)))


@wrong("decoder_layer", "cross-attention residual from before norm1")
def cross_residual_from_the_raw_sum(layer, x, memory):
    first = x + layer.self_attn(x, mask=causal_mask(x.shape[1]))[0]
    normed = layer.norm1(first)
    second = layer.norm2(first + layer.cross_attn(normed, memory, memory)[0])
    return layer.norm3(second + layer.feed_forward(second))


@wrong("decoder_layer", "feed-forward in pre-norm")
def pre_norm_on_the_last_sublayer(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, mask=causal_mask(x.shape[1]))[0])
    x = layer.norm2(x + layer.cross_attn(x, memory, memory)[0])
    return x + layer.feed_forward(layer.norm3(x))


@wrong("decoder_layer", "causal mask inverted")
def mask_of_the_future(layer, x, memory):
    length = x.shape[1]
    return _decoder(layer, x, memory, mask=torch.ones(length, length, dtype=torch.bool).triu(1))


@wrong("decoder_layer", "causal mask without the diagonal")
def mask_from_triu_equal_zero(layer, x, memory):
    length = x.shape[1]
    return _decoder(layer, x, memory, mask=torch.triu(torch.ones(length, length)) == 0)


@wrong("decoder_layer", "causal mask on cross-attention")
def causal_mask_on_both(layer, x, memory):
    cross = torch.ones(x.shape[1], memory.shape[1], dtype=torch.bool).tril()
    return _decoder(layer, x, memory, cross_mask=cross)


@wrong("decoder_layer", "LayerNorms out of order")
def norm1_and_norm2_swapped(layer, x, memory):
    x = layer.norm2(x + layer.self_attn(x, mask=causal_mask(x.shape[1]))[0])
    x = layer.norm1(x + layer.cross_attn(x, memory, memory)[0])
    return layer.norm3(x + layer.feed_forward(x))


# --- encoder_decoder_forward (chapter 08): src (B, Ls), trg_in (B, Lt) → logits (B, Lt, V) ---


def _seq2seq(parts, src, trg_in, *, table=None, trg_mask=None):
    d = parts.embedding.embedding_dim

    def embed(ids):
        rows = parts.positions[: ids.shape[1]] if table is None else table(ids.shape[1], d)
        return parts.embedding(ids) * math.sqrt(d) + rows

    src_mask = padding_mask(src, parts.pad_id)
    memory = parts.encoder(embed(src), src_mask)
    length = trg_in.shape[1]
    own = causal_mask(length) & padding_mask(trg_in, parts.pad_id) if trg_mask is None else trg_mask
    return parts.output(parts.decoder(embed(trg_in), memory, own, src_mask))


def _sinusoids(length, d, *, swap=False, cat=False, two=1):
    pos = torch.arange(length).unsqueeze(1)
    angle = pos / 10000 ** (two * torch.arange(0, d, 2) / d)  # (L, d/2)
    first, second = (torch.cos(angle), torch.sin(angle)) if swap else (torch.sin(angle), torch.cos(angle))
    if cat:
        return torch.cat([first, second], dim=-1)
    table = torch.zeros(length, d)
    table[:, 0::2], table[:, 1::2] = first, second
    return table


@wrong("encoder_decoder_forward", "own position table, sin and cos swapped")
def table_with_cos_on_the_even_columns(parts, src, trg_in):
    return _seq2seq(parts, src, trg_in, table=lambda n, d: _sinusoids(n, d, swap=True))


@wrong("encoder_decoder_forward", "own position table, halves not interleaved")
def table_in_two_halves(parts, src, trg_in):
    return _seq2seq(parts, src, trg_in, table=lambda n, d: _sinusoids(n, d, cat=True))


@wrong("encoder_decoder_forward", "own position table, exponent doubled")
def table_with_2i_twice(parts, src, trg_in):
    return _seq2seq(parts, src, trg_in, table=lambda n, d: _sinusoids(n, d, two=2))


@wrong("encoder_decoder_forward", "causal mask upside down")
def causal_mask_with_triu(parts, src, trg_in):
    n = trg_in.shape[1]
    mask = torch.ones(n, n, dtype=torch.bool).triu() & padding_mask(trg_in, parts.pad_id)
    return _seq2seq(parts, src, trg_in, trg_mask=mask)


@wrong("encoder_decoder_forward", "causal mask without the diagonal")
def causal_mask_strictly_lower(parts, src, trg_in):
    n = trg_in.shape[1]
    mask = torch.ones(n, n, dtype=torch.bool).tril(-1) & padding_mask(trg_in, parts.pad_id)
    return _seq2seq(parts, src, trg_in, trg_mask=mask)


@wrong("encoder_decoder_forward", "target padding on the queries' axis")
def target_padding_as_a_column(parts, src, trg_in):
    keep = (trg_in != parts.pad_id).unsqueeze(1).unsqueeze(-1)  # (B, 1, Lt, 1)
    return _seq2seq(parts, src, trg_in, trg_mask=causal_mask(trg_in.shape[1]) & keep)


@wrong("encoder_decoder_forward", "source padding on the queries' axis")
def source_padding_as_a_column(parts, src, trg_in):
    d = parts.embedding.embedding_dim
    embed = lambda ids: parts.embedding(ids) * math.sqrt(d) + parts.positions[: ids.shape[1]]  # noqa: E731
    src_mask = (src != parts.pad_id)[:, None, :, None]
    memory = parts.encoder(embed(src), src_mask)
    trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
    return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))


@wrong("encoder_decoder_forward", "one position row for every token")
def positions_indexed_not_sliced(parts, src, trg_in):
    return _seq2seq(parts, src, trg_in, table=lambda n, d: parts.positions[n - 1])


@wrong("encoder_decoder_forward", "positions with an axis in the middle")
def positions_given_a_middle_axis(parts, src, trg_in):
    return _seq2seq(parts, src, trg_in, table=lambda n, d: parts.positions[:n][:, None, :])


@wrong("encoder_decoder_forward", "torch.sqrt of a number")
def scale_from_torch_sqrt(parts, src, trg_in):
    d = parts.embedding.embedding_dim
    embed = lambda ids: parts.embedding(ids) * torch.sqrt(d) + parts.positions[: ids.shape[1]]  # noqa: E731
    src_mask = padding_mask(src, parts.pad_id)
    trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
    return parts.output(parts.decoder(embed(trg_in), parts.encoder(embed(src), src_mask), trg_mask, src_mask))


@wrong("encoder_decoder_forward", "padding mask inverted")
def padding_true_on_pad(parts, src, trg_in):
    d = parts.embedding.embedding_dim
    embed = lambda ids: parts.embedding(ids) * math.sqrt(d) + parts.positions[: ids.shape[1]]  # noqa: E731
    src_mask = (src == parts.pad_id)[:, None, None, :]
    trg_mask = causal_mask(trg_in.shape[1]) & (trg_in == parts.pad_id)[:, None, None, :]
    memory = parts.encoder(embed(src), src_mask)
    return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))


@wrong("encoder_decoder_forward", "positions counted from 1")
def positions_shifted_by_one(parts, src, trg_in):
    return _seq2seq(parts, src, trg_in, table=lambda n, d: parts.positions[1 : n + 1])


@right("encoder_decoder_forward")
def own_position_table_written_right(parts, src, trg_in):
    return _seq2seq(parts, src, trg_in, table=_sinusoids)


# --- teacher_forcing_loss (chapter 08): trg (B, T) = <bos> … <eos> <pad>… → the mean loss ---


@wrong("teacher_forcing_loss", "log-sum-exp plus the label's score")
def cross_entropy_by_hand_with_a_plus(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    nll = torch.logsumexp(logits, -1) + logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return nll[labels != pad_id].mean()


@wrong("teacher_forcing_loss", "count plus one")
def mean_guarded_by_one(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    each = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none")
    real = (labels != pad_id).reshape(-1)
    return (each * real).sum() / (real.sum() + 1)


@wrong("teacher_forcing_loss", "transposed logits flattened")
def logits_moved_then_flattened(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(
        logits.transpose(1, 2).reshape(-1, logits.shape[-1]), trg[:, 1:].reshape(-1), ignore_index=pad_id
    )


@wrong("teacher_forcing_loss", "log-softmax down the flattened rows")
def log_softmax_dim_0_after_flattening(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    logp = logits.reshape(-1, logits.shape[-1]).log_softmax(0)
    return F.nll_loss(logp, trg[:, 1:].reshape(-1), ignore_index=pad_id)


@wrong("teacher_forcing_loss", "padding counted")
def ignore_index_left_at_its_default(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), trg[:, 1:].reshape(-1))


@wrong("teacher_forcing_loss", "shifted the wrong way")
def reads_the_tail_scores_the_head(model, src, trg, pad_id):
    logits = model(src, trg[:, 1:])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), trg[:, :-1].reshape(-1), ignore_index=pad_id)


@wrong("teacher_forcing_loss", "label smoothing")
def smoothed_labels(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), trg[:, 1:].reshape(-1), ignore_index=pad_id, label_smoothing=0.1
    )


@wrong("teacher_forcing_loss", "pad_id passed as the weight")
def pad_id_as_the_third_argument(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), trg[:, 1:].reshape(-1), pad_id)


def logits_detached_then_made_a_leaf(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1]).detach().requires_grad_()  # "so that backward works"
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), trg[:, 1:].reshape(-1), ignore_index=pad_id)


def test_a_loss_whose_gradient_never_reaches_the_model_is_named():
    from transformer_course.checks.loss_slips import DETACHED_LOGITS

    verdict = exercise("teacher_forcing_loss").check(logits_detached_then_made_a_leaf)
    assert verdict.status == WRONG and verdict.message == DETACHED_LOGITS, verdict.message


@right("teacher_forcing_loss")
def whole_target_read_last_prediction_dropped(model, src, trg, pad_id):
    logits = model(src, trg)[:, :-1]  # the causal mask keeps each position from the next token
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), trg[:, 1:].reshape(-1), ignore_index=pad_id)


# --- gpt_forward (chapter 09): ids (B, L) → logits (B, L, V) ---


def _gpt(parts, ids, *, final=None, rows=None):
    length, d = ids.shape[1], parts.token.embedding_dim
    x = parts.token(ids) * math.sqrt(d) + (parts.positions(torch.arange(length)) if rows is None else rows)
    mask = torch.ones(length, length, dtype=torch.bool).tril()
    for block in parts.blocks:
        x = block(x, mask)
    return (parts.norm(x) if final is None else final(x)) @ parts.token.weight.T


@wrong("gpt_forward", "final norm by hand, unbiased variance")
def final_norm_with_default_var(parts, ids):
    n = parts.norm
    return _gpt(
        parts,
        ids,
        final=lambda x: (
            (x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True) + n.eps).sqrt() * n.weight + n.bias
        ),
    )


@wrong("gpt_forward", "final norm over the whole story")
def final_norm_over_two_axes(parts, ids):
    n = parts.norm
    return _gpt(parts, ids, final=lambda x: F.layer_norm(x, x.shape[-2:], eps=n.eps) * n.weight + n.bias)


@wrong("gpt_forward", "sinusoidal positions in a learned-position model")
def chapter_02s_table(parts, ids):
    return _gpt(parts, ids, rows=_sinusoids(ids.shape[1], parts.token.embedding_dim))


@wrong("gpt_forward", "final norm applied twice")
def norm_then_norm(parts, ids):
    return _gpt(parts, ids, final=lambda x: parts.norm(parts.norm(x)))


@wrong("gpt_forward", "final norm without its bias")
def final_norm_with_weight_only(parts, ids):
    return _gpt(parts, ids, final=lambda x: F.layer_norm(x, x.shape[-1:], parts.norm.weight))


@wrong("gpt_forward", "one position for every token")
def position_of_the_length(parts, ids):
    return _gpt(parts, ids, rows=parts.positions(torch.tensor(ids.shape[1])))


@wrong("gpt_forward", "torch.sqrt of a number")
def gpt_scale_from_torch_sqrt(parts, ids):
    length = ids.shape[1]
    x = parts.token(ids) * torch.sqrt(parts.token.embedding_dim) + parts.positions(torch.arange(length))
    for block in parts.blocks:
        x = block(x, causal_mask(length))
    return parts.norm(x) @ parts.token.weight.T


@wrong("gpt_forward", "a LayerNorm of your own")
def final_norm_without_weights(parts, ids):
    return _gpt(parts, ids, final=lambda x: F.layer_norm(x, x.shape[-1:]))


@wrong("gpt_forward", "positions counted from 1")
def positions_from_one(parts, ids):
    return _gpt(parts, ids, rows=parts.positions(torch.arange(1, ids.shape[1] + 1)))


@wrong("gpt_forward", "residual added twice")
def residual_around_each_block(parts, ids):
    length, d = ids.shape[1], parts.token.embedding_dim
    x = parts.token(ids) * math.sqrt(d) + parts.positions(torch.arange(length))
    for block in parts.blocks:
        x = x + block(x, torch.ones(length, length, dtype=torch.bool).tril())
    return parts.norm(x) @ parts.token.weight.T


# --- greedy_decode (chapter 09): prompt (t0,) → prompt + new ids ---


@wrong("greedy_decode", "the whole buffer returned")
def preallocated_and_returned_whole(logits_fn, prompt, max_new_tokens, eos_id):
    buf = torch.zeros(len(prompt) + max_new_tokens, dtype=prompt.dtype)
    buf[: len(prompt)] = prompt
    n = len(prompt)
    for _ in range(max_new_tokens):
        token = logits_fn(buf[:n].unsqueeze(0))[0, -1].argmax()
        buf[n] = token
        n += 1
        if int(token) == eos_id:
            break
    return buf


@wrong("greedy_decode", "the largest score appended, as an integer")
def max_value_cast_to_long(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].max()
        ids = torch.cat([ids, token.long().view(1)])
        if int(token) == eos_id:
            break
    return ids


@wrong("greedy_decode", "<eos> dropped")
def stops_before_appending_eos(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()
        if int(token) == eos_id:
            break
        ids = torch.cat([ids, token.view(1)])
    return ids


@wrong("greedy_decode", "stops at an <eos> in the prompt")
def stops_at_any_eos(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()
        ids = torch.cat([ids, token.view(1)])
        if (ids == eos_id).any():
            break
    return ids


@wrong("greedy_decode", "token never fed back")
def feeds_the_prompt_each_time(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(prompt.unsqueeze(0))[0, -1].argmax()
        ids = torch.cat([ids, token.view(1)])
        if int(token) == eos_id:
            break
    return ids


@wrong("greedy_decode", "first prompt token dropped")
def drops_bos(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax()
        ids = torch.cat([ids, token.view(1)])
        if int(token) == eos_id:
            break
    return ids[1:]


@wrong("greedy_decode", "one token per position")
def argmax_then_the_last_row(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0)).argmax(-1)[-1]
        ids = torch.cat([ids, token])
        if token == eos_id:
            break
    return ids


@wrong("greedy_decode", "divided by a temperature of 0")
def temperature_zero_as_greedy(logits_fn, prompt, max_new_tokens, eos_id, temperature=0.0):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        scores = logits_fn(ids.unsqueeze(0))[0, -1]
        token = F.softmax(scores / temperature, dim=-1).argmax()
        ids = torch.cat([ids, token.view(1)])
        if int(token) == eos_id:
            break
    return ids


@right("greedy_decode")
def argmax_of_every_position_then_the_last(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0)).argmax(-1)[0, -1:]  # (1,): the last position's
        ids = torch.cat([ids, token])
        if token.item() == eos_id:
            break
    return ids


@right("greedy_decode")
def a_while_loop_on_the_length(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    while len(ids) < len(prompt) + max_new_tokens:
        token = logits_fn(ids[None])[0, -1].argmax(-1)
        ids = torch.cat([ids, token[None]])
        if token.item() == eos_id:
            break
    return ids


@pytest.mark.parametrize(("name", "mistake", "fn"), WRONG_ANSWERS)
def test_a_wrong_answer_gets_the_hint_that_names_it(name, mistake, fn):
    verdict = exercise(name).check(fn)
    # an error's hint is followed by what was raised, in brackets
    assert verdict.status == WRONG and verdict.message.startswith(hint_of(name, mistake)), verdict.message


@pytest.mark.parametrize(("name", "fn"), RIGHT_ANSWERS)
def test_a_right_answer_in_another_style_passes_with_no_warning(name, fn):
    verdict = exercise(name).check(fn)
    assert verdict.status == PASSED and not verdict.warning, verdict.message
