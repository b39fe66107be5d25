"""Round 45b: an adversarial pass on the checkers of chapters 01-08's exercises.

Wrong answers a learner writes, run through each checker as the chapter runs it. Those that got
"differs from the reference" (or a bare error) are now named:

- cosine_similarity: every row divided by one same length (the mean or longest), and the right
  cosines times a number (×100 for a percentage);
- sinusoidal_encoding: the table scaled by √d_model (the embeddings' scale);
- attention (one head): x added to the output, a residual (was a bare RuntimeError);
- causal_masked_weights: padding blocked on both axes, its NaN rows patched to 0;
- feed_forward: the encoder layer's Add & Norm written inside the network;
- layer_norm: batch norm's statistics (one per feature over every token), a scale of
  1 + weight (Gemma's), weight and bias applied before normalising;
- encoder_layer: self-attention on the normalised x with the residual from it;
- encoder_decoder_forward: positions on one sentence only, the target's counted on from the
  source;
- teacher_forcing_loss: label smoothing of another amount than 0.1, or written by hand;
- train_step: the loss returned as text.

The wrong answers are written apart from the catalogue's own examples, as a learner types them;
the last tests pin the names of the wrong answers tried that were named already, and that the
new recognisers leave the older names where they were.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course.checks.harness import WRONG
from transformer_course.checks.registry import exercise
from transformer_course.masks import causal_mask, padding_mask


def hint_of(exercise_name, mistake_name):
    return {m.name: m.hint for m in exercise(exercise_name).mistakes}[mistake_name]


def named(verdict, exercise_name, mistake_name):
    """The verdict is WRONG and gives that mistake's hint."""
    return verdict.status == WRONG and verdict.message.startswith(hint_of(exercise_name, mistake_name))


def _sinusoids(length, d_model):
    """The right table, (length, d_model): sin in the even columns, cos in the odd ones."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
    angle = pos * freq  # (L, d/2)
    return torch.stack((angle.sin(), angle.cos()), dim=-1).flatten(1)  # interleaved


# --- 1. Chapter 01: the cosine similarity ---


def cosine_over_the_mean_length(vectors):
    lengths = torch.linalg.vector_norm(vectors, dim=-1)
    scaled = vectors / lengths.mean()  # one "typical" length for every token
    return scaled @ scaled.T


def cosine_in_percent(vectors):
    return F.cosine_similarity(vectors[:, None, :], vectors[None, :, :], dim=-1) * 100


@pytest.mark.parametrize(
    "fn, mistake",
    [
        (cosine_over_the_mean_length, "one length for every row"),
        (cosine_in_percent, "cosines times a number"),
    ],
)
def test_a_cosine_scaled_by_one_number_is_named(fn, mistake):
    verdict = exercise("cosine_similarity").check(fn)
    assert named(verdict, "cosine_similarity", mistake), verdict.message


def test_the_raw_dot_products_keep_their_own_name():
    """A factor of exactly 1 is the raw dot product, named before the new recogniser."""
    verdict = exercise("cosine_similarity").check(lambda v: v @ v.T)
    assert named(verdict, "cosine_similarity", "raw dot product"), verdict.message


# --- 2. Chapter 02: the sinusoidal positions ---


def positions_scaled_like_embeddings(length, d_model):
    return _sinusoids(length, d_model) * d_model**0.5


def test_a_table_scaled_by_the_root_of_d_model_is_named():
    verdict = exercise("sinusoidal_encoding").check(positions_scaled_like_embeddings)
    assert named(verdict, "sinusoidal_encoding", "table times a number"), verdict.message
    assert "√d_model" in verdict.message


def test_a_table_never_filled_is_not_called_a_scaled_one():
    verdict = exercise("sinusoidal_encoding").check(lambda length, d_model: torch.zeros(length, d_model))
    assert verdict.status == WRONG
    assert not verdict.message.startswith(hint_of("sinusoidal_encoding", "table times a number"))


def test_the_table_written_here_is_right():
    assert exercise("sinusoidal_encoding").check(_sinusoids).passed


# --- 2b. Chapter 04: one attention head ---


def head_with_a_residual(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = (q @ k.transpose(0, 1) / q.size(-1) ** 0.5).softmax(-1)
    return weights @ v + x, weights  # the output first, then x


def test_a_head_that_adds_the_residual_is_named_not_a_bare_error():
    verdict = exercise("attention").check(head_with_a_residual)
    assert named(verdict, "attention", "residual added"), verdict.message
    assert "must match the size" in verdict.message  # what was raised follows the hint


def test_another_size_mismatch_is_not_called_a_residual():
    def weights_plus_values(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
        return weights + v, weights  # (L, L) + (L, d_v)

    verdict = exercise("attention").check(weights_plus_values)
    assert not verdict.message.startswith(hint_of("attention", "residual added")), verdict.message


# --- 3. Chapter 06: the causal and padding masks ---


def masks_both_axes_then_where(scores, ids, pad_id):
    length = ids.shape[1]
    real = ids.ne(pad_id)
    blocked = torch.triu(torch.ones(length, length, dtype=torch.bool), 1) | ~(
        real[:, None, :] & real[:, :, None]
    )
    weights = F.softmax(scores.masked_fill(blocked, -math.inf), dim=-1)
    return torch.where(weights.isnan(), torch.zeros_like(weights), weights)


def test_both_axes_with_the_nan_rows_zeroed_is_named():
    verdict = exercise("causal_masked_weights").check(masks_both_axes_then_where)
    assert named(verdict, "causal_masked_weights", "padding on both axes, NaN rows zeroed"), verdict.message


def test_both_axes_left_nan_keeps_its_name():
    def nan_left(scores, ids, pad_id):
        length = ids.shape[1]
        real = ids.ne(pad_id)
        allowed = torch.ones(length, length, dtype=torch.bool).tril() & real[:, None, :] & real[:, :, None]
        return F.softmax(scores.masked_fill(~allowed, -math.inf), dim=-1)

    verdict = exercise("causal_masked_weights").check(nan_left)
    assert named(verdict, "causal_masked_weights", "padding on both axes"), verdict.message


# --- 4. Chapter 07: the feed-forward network, layer norm, the encoder layer ---


def feed_forward_with_add_and_norm(x, w_1, b_1, w_2, b_2):
    out = torch.relu(x @ w_1 + b_1) @ w_2 + b_2
    return F.layer_norm(out + x, (x.shape[-1],))


def layer_norm_as_batch_norm(x, weight, bias, eps):
    dims = tuple(range(x.dim() - 1))  # every axis but the features
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def layer_norm_one_plus_weight(x, weight, bias, eps):
    return F.layer_norm(x, x.shape[-1:], 1 + weight, bias, eps)


def layer_norm_affine_first(x, weight, bias, eps):
    return F.layer_norm(weight * x + bias, x.shape[-1:], eps=eps)


@pytest.mark.parametrize(
    "name, fn, mistake",
    [
        ("feed_forward", feed_forward_with_add_and_norm, "Add & Norm inside"),
        ("layer_norm", layer_norm_as_batch_norm, "batch norm over every token"),
        ("layer_norm", layer_norm_one_plus_weight, "scaled by 1 + weight"),
        ("layer_norm", layer_norm_affine_first, "scaled and shifted before normalising"),
    ],
)
def test_the_chapter_07_functions_are_named(name, fn, mistake):
    verdict = exercise(name).check(fn)
    assert named(verdict, name, mistake), verdict.message


def encoder_layer_normalising_first(layer, x, mask):
    h = layer.norm1(x)
    h = h + layer.self_attn(h, mask=mask)[0]
    return layer.norm2(h + layer.feed_forward(h))


def test_the_attention_residual_from_the_normalised_x_is_named():
    verdict = exercise("encoder_layer").check(encoder_layer_normalising_first)
    assert named(verdict, "encoder_layer", "attention's residual from the normalised x"), verdict.message


def test_a_whole_pre_norm_layer_keeps_its_name():
    def pre_norm(layer, x, mask):
        x = x + layer.self_attn(layer.norm1(x), mask=mask)[0]
        return x + layer.feed_forward(layer.norm2(x))

    verdict = exercise("encoder_layer").check(pre_norm)
    assert named(verdict, "encoder_layer", "pre-norm"), verdict.message


# --- 5. Chapter 07: the encoder-decoder forward pass ---


def _forward(parts, src, trg_in, *, src_at=0, trg_at=0):
    """A learner's forward pass: each sentence's positions start at row ``*_at`` (None: none)."""

    def embed(ids, at):
        x = parts.embedding(ids) * parts.embedding.embedding_dim**0.5
        return x if at is None else x + parts.positions[at : at + ids.size(1)]

    src_mask = padding_mask(src, parts.pad_id)
    memory = parts.encoder(embed(src, src_at), src_mask)
    trg_mask = causal_mask(trg_in.size(1)) & padding_mask(trg_in, parts.pad_id)
    trg_at = src.size(1) if trg_at == "after" else trg_at
    return parts.output(parts.decoder(embed(trg_in, trg_at), memory, trg_mask, src_mask))


@pytest.mark.parametrize(
    "how, mistake",
    [
        ({"src_at": None}, "positions on the target only"),
        ({"trg_at": None}, "positions on the source only"),
        ({"trg_at": "after"}, "target positions counted on from the source"),
    ],
)
def test_positions_on_one_sentence_or_counted_on_are_named(how, mistake):
    verdict = exercise("encoder_decoder_forward").check(lambda p, s, t: _forward(p, s, t, **how))
    assert named(verdict, "encoder_decoder_forward", mistake), verdict.message


def test_the_forward_pass_written_here_is_right():
    assert exercise("encoder_decoder_forward").check(_forward).passed


# --- 6. Chapter 08: the loss and the training step ---


def loss_smoothed(model, src, trg, pad_id, smoothing):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(logits.transpose(1, 2), trg[:, 1:], ignore_index=pad_id, label_smoothing=smoothing)


def loss_smoothed_by_hand_szegedy(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    vocab = logits.size(-1)
    log_p = logits.log_softmax(-1)  # (B, T-1, V)
    labels = trg[:, 1:]
    soft = torch.full_like(log_p, 0.1 / (vocab - 1))  # the rest spread over the other tokens
    soft.scatter_(-1, labels[..., None], 0.9)
    per_token = -(soft * log_p).sum(-1)
    real = labels != pad_id
    return per_token[real].mean()


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, s, t, p: loss_smoothed(m, s, t, p, 0.05),
        lambda m, s, t, p: loss_smoothed(m, s, t, p, 0.2),
        loss_smoothed_by_hand_szegedy,
    ],
    ids=["0.05", "0.2", "by hand"],
)
def test_label_smoothing_of_another_amount_or_by_hand_is_named(fn):
    verdict = exercise("teacher_forcing_loss").check(fn)
    assert named(verdict, "teacher_forcing_loss", "label smoothing, another amount or by hand"), (
        verdict.message
    )


def test_label_smoothing_of_0_1_keeps_its_name():
    verdict = exercise("teacher_forcing_loss").check(lambda m, s, t, p: loss_smoothed(m, s, t, p, 0.1))
    assert named(verdict, "teacher_forcing_loss", "label smoothing"), verdict.message


def test_the_loss_written_here_is_right():
    assert exercise("teacher_forcing_loss").check(lambda m, s, t, p: loss_smoothed(m, s, t, p, 0.0)).passed


def step_returning_text(model, optimiser, loss_fn, batch):
    model.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return str(round(loss.item(), 4))


def test_a_step_that_returns_the_loss_as_text_is_named():
    verdict = exercise("train_step").check(step_returning_text)
    assert named(verdict, "train_step", "returned text"), verdict.message


def test_text_that_is_not_the_loss_is_not_called_the_loss_as_text():
    def step(model, optimiser, loss_fn, batch):
        optimiser.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward()
        optimiser.step()
        return "done"

    verdict = exercise("train_step").check(step)
    assert verdict.status == WRONG
    assert not verdict.message.startswith(hint_of("train_step", "returned text"))


# --- 7. Pins: wrong answers tried this round that were named already ---


def _normed(x, eps):
    mean = x.mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(((x - mean) ** 2).mean(-1, keepdim=True) + eps)


PINNED = [
    (
        "layer_norm",
        lambda x, w, b, e: (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + e) * w + b,
        "over the batch",
    ),
    (
        "layer_norm",
        lambda x, w, b, e: (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + e) * w + b,
        "unbiased variance",
    ),
    ("layer_norm", lambda x, w, b, e: _normed(x, e) * b + w, "weight and bias swapped"),
    (
        "feed_forward",
        lambda x, w1, b1, w2, b2: torch.relu((x @ w1 + b1) @ w2 + b2),
        "ReLU on the output only",
    ),
    ("feed_forward", lambda x, w1, b1, w2, b2: F.gelu(x @ w1 + b1) @ w2 + b2, "GELU"),
    ("softmax", lambda s: F.softmax(s, dim=1), "max over dim=1 on a batch"),
    ("attention_scores", lambda q, k: q @ k.transpose(1, 2), "dimensions counted for a batch only"),
]


@pytest.mark.parametrize("name, fn, mistake", PINNED, ids=[f"{n}: {m}" for n, _, m in PINNED])
def test_the_wrong_answers_named_already_keep_their_names(name, fn, mistake):
    verdict = exercise(name).check(fn)
    assert named(verdict, name, mistake), verdict.message


def test_a_step_without_zero_grad_written_without_brackets_is_named():
    def step(model, optimiser, loss_fn, batch):
        optimiser.zero_grad  # noqa: B018 (no call: nothing is cleared, as the learner wrote it)
        loss = loss_fn(model, batch)
        loss.backward()
        optimiser.step()
        return loss.item()

    verdict = exercise("train_step").check(step)
    assert named(verdict, "train_step", "no zero_grad"), verdict.message


@pytest.mark.parametrize(
    "name",
    [
        "cosine_similarity",
        "sinusoidal_encoding",
        "attention",
        "causal_masked_weights",
        "feed_forward",
        "layer_norm",
        "encoder_layer",
        "encoder_decoder_forward",
        "teacher_forcing_loss",
        "train_step",
    ],
)
def test_the_solution_and_every_alternative_still_pass(name):
    ex = exercise(name)
    for fn in (ex.solution, *ex.alternatives.values()):
        assert ex.check(fn).passed, (name, fn)


def test_batch_norm_through_an_nn_batchnorm1d_is_named():
    """The catalogue's batch-norm learner uses F.batch_norm; this one nn.BatchNorm1d."""

    def with_batch_norm_module(x, weight, bias, eps):
        bn = nn.BatchNorm1d(x.shape[-1], eps=eps)
        with torch.no_grad():
            bn.weight.copy_(weight), bn.bias.copy_(bias)
        return bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)

    verdict = exercise("layer_norm").check(with_batch_norm_module)
    assert named(verdict, "layer_norm", "batch norm over every token"), verdict.message


# --- 5. Review of round 45b: hints true of every answer they catch ---


def test_zeroing_the_padded_queries_rows_gets_a_hint_that_says_so():
    """Right weights with the padded queries' rows zeroed afterwards compute what the both-axes
    mask with nan_to_num computes: the hint now names both, not only the mask and nan_to_num."""

    def rows_zeroed(scores, ids, pad_id):
        length = ids.shape[1]
        allowed = torch.ones(length, length, dtype=torch.bool).tril() & (ids != pad_id)[:, None, :]
        weights = F.softmax(scores.masked_fill(~allowed, -math.inf), dim=-1)
        return weights * (ids != pad_id)[:, :, None]  # the <pad> queries' rows to 0

    verdict = exercise("causal_masked_weights").check(rows_zeroed)
    assert named(verdict, "causal_masked_weights", "padding on both axes, NaN rows zeroed"), verdict.message
    assert "zeroed those rows afterwards" in verdict.message


def test_a_negated_cosine_or_table_is_not_called_a_scaled_one():
    """c = -1 fits got = c · right as well as 100 does, but a sign is no scale (nor a percentage)."""
    cosine = exercise("cosine_similarity").check(lambda v: -F.cosine_similarity(v[:, None], v[None], dim=-1))
    table = exercise("sinusoidal_encoding").check(lambda length, d_model: -_sinusoids(length, d_model))
    assert cosine.status == WRONG and table.status == WRONG
    assert not named(cosine, "cosine_similarity", "cosines times a number"), cosine.message
    assert not named(table, "sinusoidal_encoding", "table times a number"), table.message
