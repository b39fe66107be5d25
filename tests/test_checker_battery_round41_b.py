"""Chapter 07's checkers (feed-forward, layer norm, Add & Norm, encoder layer, decoder layer, the
encoder-decoder forward) name the wrong answers of the round-41 battery, each by its own hint;
right answers in other styles still pass.

Every wrong answer here is written apart from the catalogue's own example of its mistake."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course import checks
from transformer_course.checks import WRONG, exercise
from transformer_course.masks import causal_mask, padding_mask
from transformer_course.positional import sinusoidal_encoding


def hint(name, mistake):
    """The hint of ``mistake`` in exercise ``name``'s catalogue (None where there is none)."""
    return next((m.hint for m in exercise(name).mistakes if m.name == mistake), None)


def named(name, answer, mistake):
    result = exercise(name).check(answer)
    wanted = hint(name, mistake)
    assert result.status == WRONG and wanted is not None and wanted in result.message, result.message
    others = {m.hint for m in exercise(name).mistakes} - {wanted}
    assert not [h for h in others if h in result.message], result.message


# --- 07a the feed-forward network ---


def _ffn(act=torch.relu, first=lambda x, w: x @ w, second=lambda h, w: h @ w):
    return lambda x, w_1, b_1, w_2, b_2: second(act(first(x, w_1) + b_1), w_2) + b_2


def _new_layers(x, w_1, b_1, w_2, b_2):
    net = nn.Sequential(
        nn.Linear(w_1.shape[0], w_1.shape[1]), nn.ReLU(), nn.Linear(w_1.shape[1], w_1.shape[0])
    )
    return net(x)  # weights of its own, drawn at random


def _rows_but_the_last(x, w_1, b_1, w_2, b_2):
    flat = x.reshape(-1, x.shape[-1])
    out = torch.zeros_like(flat)
    for i in range(flat.shape[0] - 1):
        out[i] = torch.relu(flat[i] @ w_1 + b_1) @ w_2 + b_2
    out[-1] = flat[-1]
    return out.reshape(x.shape)


FFN_SLIPS = [
    (_new_layers, "weights not used"),
    (lambda x, w_1, b_1, w_2, b_2: F.relu(torch.mul(x, w_1) + b_1) @ w_2 + b_2, "entry by entry"),
    (lambda x, w_1, b_1, w_2, b_2: torch.max(x @ w_1 + b_1, dim=0) @ w_2 + b_2, "torch.max(h, 0)"),
    (lambda x, w_1, b_1, w_2, b_2: max(0, x @ w_1 + b_1) @ w_2 + b_2, "Python's max"),
    (
        lambda x, w_1, b_1, w_2, b_2: torch.maximum(x @ w_1 + b_1, 0.0) @ w_2 + b_2,
        "torch.maximum with a number",
    ),
    (lambda x, w_1, b_1, w_2, b_2: F.relu(x.mm(w_1) + b_1).mm(w_2) + b_2, "torch.mm on a batch"),
    (
        _ffn(
            first=lambda x, w: torch.einsum("bld,fd->blf", x, w),
            second=lambda h, w: torch.einsum("blf,df->bld", h, w),
        ),
        "einsum subscripts the nn.Linear way",
    ),
    (
        lambda x, w_1, b_1, w_2, b_2: (F.relu(x.view(-1, x.shape[-1]) @ w_1 + b_1) @ w_2 + b_2).view(
            *x.shape[:-1], w_1.shape[1]
        ),
        "reshaped to d_ff",
    ),
    (lambda x, w_1, b_1, w_2, b_2: F.relu(x @ w_1 + b_1) @ w_1.t() + b_2, "w_1 reused"),
    (
        lambda x, w_1, b_1, w_2, b_2: F.relu(x.clamp(min=0) @ w_1 + b_1) @ w_2 + b_2,
        "ReLU on the input and the hidden layer",
    ),
    (lambda x, w_1, b_1, w_2, b_2: F.relu(x @ w_1 - b_1) @ w_2 - b_2, "biases subtracted"),
    (
        lambda x, w_1, b_1, w_2, b_2: (F.relu(x @ w_1 + b_1) @ w_2 + b_2) / math.sqrt(x.shape[-1]),
        "scaled like attention",
    ),
    (_rows_but_the_last, "loop one short"),
    (_ffn(act=torch.abs), "another activation"),
    (_ffn(act=lambda h: torch.relu(h).square()), "another activation"),
    (_ffn(act=lambda h: (h > 0).float()), "another activation"),
]


@pytest.mark.parametrize(
    ("answer", "mistake"), FFN_SLIPS, ids=[f"{m} {i}" for i, (_, m) in enumerate(FFN_SLIPS)]
)
def test_feed_forward_slips_are_named(answer, mistake):
    named("feed_forward", answer, mistake)


NOTEBOOK_W_1 = torch.ones(16, 64) / 16  # a (d_model 16, d_ff 64) matrix of the chapter's, not the input's


@pytest.mark.parametrize(
    "answer",
    [
        lambda x, w_1, b_1, w_2, b_2: F.relu(x @ NOTEBOOK_W_1 + b_1) @ w_2 + b_2,
        lambda x, w_1, b_1, w_2, b_2: (F.relu(x.view(-1, 16) @ w_1 + b_1) @ w_2 + b_2).view(x.shape),
    ],
    ids=["a notebook variable", "16 written in"],
)
def test_a_size_from_outside_the_function_is_named(answer):
    named("feed_forward", answer, "a size from outside the function")


def test_transposed_weights_keep_their_own_hint():
    named(
        "feed_forward",
        lambda x, w_1, b_1, w_2, b_2: F.relu(x @ w_1.T + b_1) @ w_2.T + b_2,
        "weights transposed",
    )


def test_swapped_biases_keep_their_own_hint_after_entry_by_entry():
    named("feed_forward", lambda x, w_1, b_1, w_2, b_2: F.relu(x @ w_1 + b_2) @ w_2 + b_1, "biases swapped")


# --- 07 layer norm ---


def _ln(body):
    def norm(x, weight, bias, eps):
        mean = x.mean(-1, keepdim=True)
        var = ((x - mean) ** 2).mean(-1, keepdim=True)
        return body(x, mean, var, weight, bias, eps)

    return norm


LN_SLIPS = [
    (_ln(lambda x, m, v, w, b, e: torch.matmul((x - m) / (v + e).sqrt(), w) + b), "@ weight"),
    (
        _ln(lambda x, m, v, w, b, e: (x - m) / (v + e).sqrt() * torch.ones(32) + b),
        "a tensor of another width",
    ),
    (_ln(lambda x, m, v, w, b, e: w * (x - m / torch.sqrt(v + e)) + b), "brackets around x - mean"),
    (_ln(lambda x, m, v, w, b, e: w * (x - m) / torch.sqrt(torch.sqrt(v + e)) + b), "square root of the std"),
    (_ln(lambda x, m, v, w, b, e: (x - m) * torch.rsqrt(v - e) * w + b), "eps subtracted"),
    (_ln(lambda x, m, v, w, b, e: (x - m) * (v + e) ** 0.5 * w + b), "multiplied by the std"),
    (
        lambda x, w, b, eps: (
            (x - x.mean(-1, keepdim=True))
            / torch.sqrt(((x - x.mean(-1, keepdim=True)) ** 2).sum(-1, keepdim=True) / len(x) + eps)
            * w
            + b
        ),
        "count of another axis",
    ),
    (lambda x, w, b, eps: F.layer_norm(x, tuple(x.shape), eps=eps), "nn.LayerNorm(x.shape)"),
]


@pytest.mark.parametrize(("answer", "mistake"), LN_SLIPS, ids=[m for _, m in LN_SLIPS])
def test_layer_norm_slips_are_named(answer, mistake):
    named("layer_norm", answer, mistake)


def test_a_mean_without_keepdim_keeps_its_own_hint():
    named("layer_norm", _ln(lambda x, m, v, w, b, e: (x - x.mean(-1)[..., None, :]) * w + b), "no keepdim")


# --- 07b Add & Norm ---


def _both(pre, post):
    return lambda block, x, sublayer: (
        pre(block, x, sublayer) if block.norm_first else post(block, x, sublayer)
    )


def _right_pre(b, x, s):
    return x + b.dropout(s(b.norm(x)))


def _right_post(b, x, s):
    return b.norm(x + b.dropout(s(x)))


def _uses_self(block, x, sublayer):
    return self.norm(x + sublayer(x))  # noqa: F821


ADD_NORM_SLIPS = [
    (_both(lambda b, x, s: x + s, lambda b, x, s: b.norm(s + x)), "sublayer not called"),
    (_uses_self, "self used"),
    (_both(_right_pre, lambda b, x, s: b.norm(x, s(x))), "norm given two tensors"),
    (
        _both(
            lambda b, x, s: x + F.dropout(s(b.norm(x)), p=0.2, training=b.training),
            lambda b, x, s: b.norm(x + F.dropout(s(x), p=0.2, training=b.training)),
        ),
        "dropout of its own p",
    ),
    (
        _both(
            lambda b, x, s: x + b.dropout(b.dropout(s(b.norm(x)))),
            lambda b, x, s: b.norm(x + b.dropout(b.dropout(s(x)))),
        ),
        "dropout twice",
    ),
    (_both(lambda b, x, s: x + s(b.dropout(b.norm(x))), _right_post), "dropout on the sublayer's input"),
    (
        _both(_right_pre, lambda b, x, s: b.norm(b.dropout(s(b.norm(x))) + x)),
        "post-norm normalises the input too",
    ),
    (
        _both(lambda b, x, s: x - b.dropout(s(b.norm(x))), lambda b, x, s: b.norm(x - b.dropout(s(x)))),
        "sublayer subtracted",
    ),
    (_both(lambda b, x, s: b.dropout(s(x)) + b.norm(x), _right_post), "pre-norm adds to the normalised x"),
    (_both(lambda b, x, s: x + b.dropout(s(x)), _right_post), "pre-norm without its norm"),
    (
        _both(
            lambda b, x, s: x + b.dropout(s(F.layer_norm(x, (x.shape[-1],), weight=b.norm.weight))),
            lambda b, x, s: F.layer_norm(x + b.dropout(s(x)), (x.shape[-1],), weight=b.norm.weight),
        ),
        "LayerNorm without its shift",
    ),
    (_both(lambda b, x, s: b.dropout(s(b.norm(x)) + x), _right_post), "pre-norm drops the sum"),
]


@pytest.mark.parametrize(("answer", "mistake"), ADD_NORM_SLIPS, ids=[m for _, m in ADD_NORM_SLIPS])
def test_add_norm_slips_are_named(answer, mistake):
    named("add_norm", answer, mistake)


def test_the_two_forms_swapped_are_told_what_norm_first_means():
    result = checks.check_add_norm(_both(_right_post, _right_pre))
    assert result.status == WRONG and "the two are swapped" in result.message, result.message


def test_a_new_dropout_module_is_told_it_is_in_training_mode():
    def new_dropout(block, x, sublayer):
        drop = nn.Dropout(block.dropout.p)  # a new module: training mode
        return x + drop(sublayer(block.norm(x))) if block.norm_first else block.norm(x + drop(sublayer(x)))

    result = checks.check_add_norm(new_dropout)
    assert result.status == WRONG and "a new nn.Dropout(p) is in training mode" in result.message


# --- 07c the encoder layer ---


def _encoder(attend=lambda ly, x, m: ly.self_attn(x, mask=m)[0], ff_in=lambda h, a: h, sign=1, norm=None):
    def layer_forward(layer, x, mask):
        n1, n2 = (layer.norm1, layer.norm2) if norm is None else (norm, norm)
        a = attend(layer, x, mask)
        h = n1(x + sign * a)
        return n2(h + sign * layer.feed_forward(ff_in(h, a)))

    return layer_forward


def _encoder_with_self(layer, x, mask):
    return self.norm2(x)  # noqa: F821


ENCODER_SLIPS = [
    (
        _encoder(attend=lambda ly, x, m: ly.self_attn(x, key_padding_mask=~m[:, 0, 0])[0]),
        "PyTorch's attention keywords",
    ),
    (_encoder(attend=lambda ly, x, m: ly.self_attn(x, mask=m.view(m.shape[0], -1))[0]), "mask squeezed"),
    (_encoder(attend=lambda ly, x, m: ly.self_attn(x, mask=m.long())[0]), "an integer mask"),
    (_encoder_with_self, "self used"),
    (lambda ly, x, m: ly.norm1(ly.self_attn(x, x, x, m)[0] + x), "stops after Add & Norm 1"),
    (_encoder(ff_in=lambda h, a: a), "feed-forward on the attention's output"),
    (_encoder(norm=lambda h: F.layer_norm(h, (h.shape[-1],))), "LayerNorms without their scale and shift"),
    (_encoder(sign=-1), "sublayers subtracted"),
]


@pytest.mark.parametrize(("answer", "mistake"), ENCODER_SLIPS, ids=[m for _, m in ENCODER_SLIPS])
def test_encoder_layer_slips_are_named(answer, mistake):
    named("encoder_layer", answer, mistake)


# --- 07 the decoder layer ---


def _decoder(mask=lambda x: causal_mask(x.shape[1]), norms=(1, 2, 3), residual=None, self_attend=None):
    def layer_forward(layer, x, memory):
        n1, n2, n3 = (getattr(layer, f"norm{i}") for i in norms)
        attend = self_attend or (lambda x: layer.self_attn(x, mask=mask(x))[0])
        x = n1(x + attend(x))
        x = n2((x if residual is None else memory) + layer.cross_attn(x, memory, memory)[0])
        return n3(x + layer.feed_forward(x))

    return layer_forward


def _decoder_attn_mask(layer, x, memory):
    attend = lambda h: layer.self_attn(h, attn_mask=causal_mask(h.shape[1]))[0]  # noqa: E731
    return _decoder(self_attend=attend)(layer, x, memory)


def _decoder_ff_before_cross(layer, x, memory):
    x = layer.norm1(x + layer.self_attn(x, x, x, causal_mask(x.shape[1]))[0])
    x = layer.norm2(layer.feed_forward(x) + x)
    return layer.norm3(layer.cross_attn(x, memory, memory)[0] + x)


def _decoder_with_self(layer, x, memory):
    return self.norm3(x)  # noqa: F821


DECODER_SLIPS = [
    (_decoder(mask=lambda x: causal_mask(len(x))), "causal mask of the batch size"),
    (
        _decoder(mask=lambda x: torch.ones(x.size(-1), x.size(-1), dtype=torch.bool).tril()),
        "causal mask of d_model",
    ),
    (_decoder_attn_mask, "PyTorch's attention keywords"),
    (_decoder(mask=lambda x: causal_mask(x.shape[1]).to(torch.uint8)), "an integer mask"),
    (_decoder_with_self, "self used"),
    (_decoder(residual="memory"), "cross-attention residual from memory"),
    (_decoder_ff_before_cross, "feed-forward before cross-attention"),
    (_decoder(norms=(3, 2, 1)), "LayerNorms out of order"),
    (_decoder(norms=(1, 1, 3)), "LayerNorms out of order"),
]


@pytest.mark.parametrize(
    ("answer", "mistake"), DECODER_SLIPS, ids=[f"{m} {i}" for i, (_, m) in enumerate(DECODER_SLIPS)]
)
def test_decoder_layer_slips_are_named(answer, mistake):
    named("decoder_layer", answer, mistake)


def _source_length_mask(layer, x, memory):
    return _decoder(mask=lambda _: causal_mask(memory.shape[1]))(layer, x, memory)


def test_a_causal_mask_of_the_source_length_keeps_its_own_hint():
    named("decoder_layer", _source_length_mask, "causal mask of the source's length")


# --- 07e the encoder-decoder forward ---


def _forward(
    scale=lambda parts: math.sqrt(parts.embedding.embedding_dim),
    rows=lambda parts, ids: parts.positions[: ids.shape[1]],
    src_real=lambda parts, src: src != parts.pad_id,
    trg_real=lambda parts, src, trg: trg != parts.pad_id,
    out=lambda parts, h: parts.output(h),
    shift=False,
    src_scale=None,
):
    def forward(parts, src, trg_in):
        trg_in = trg_in[:, :-1] if shift else trg_in
        s = scale(parts)
        src_factor = s if src_scale is None else src_scale

        def embed(ids, factor):
            return parts.embedding(ids) * factor + rows(parts, ids)

        src_mask = src_real(parts, src)[:, None, None, :]
        memory = parts.encoder(embed(src, src_factor), src_mask)
        trg_mask = causal_mask(trg_in.shape[1]) & trg_real(parts, src, trg_in)[:, None, None, :]
        return out(parts, parts.decoder(embed(trg_in, s), memory, trg_mask, src_mask))

    return forward


FORWARD_SLIPS = [
    (_forward(rows=lambda parts, ids: parts.positions[: len(ids)]), "positions of the batch size"),
    (_forward(out=lambda parts, h: torch.matmul(h, parts.output.weight)), "output weight not transposed"),
    (
        _forward(
            rows=lambda parts, ids: sinusoidal_encoding(parts.positions.shape[1], ids.shape[1])[
                : ids.shape[1]
            ]
        ),
        "positions table the other way round",
    ),
    (_forward(rows=lambda parts, ids: parts.positions[ids, :]), "positions looked up by token id"),
    (_forward(rows=lambda parts, ids: parts.positions[: ids.shape[1]] * 2), "positions added twice"),
    (_forward(scale=lambda parts: len(parts.positions) ** 0.5), "× √max_len"),
    (_forward(src_scale=1.0), "√d_model on one sentence only"),
    (_forward(trg_real=lambda parts, src, trg: trg == parts.pad_id), "padding mask inverted"),
    (_forward(trg_real=lambda parts, src, trg: src != parts.pad_id), "target masked by the source's padding"),
    (_forward(shift=True), "target shifted again"),
    (_forward(out=lambda parts, h: parts.output(h[:, -1])), "last position only"),
    (_forward(out=lambda parts, h: F.log_softmax(parts.output(h), dim=1)), "softmax over another axis"),
]


@pytest.mark.parametrize(("answer", "mistake"), FORWARD_SLIPS, ids=[m for _, m in FORWARD_SLIPS])
def test_encoder_decoder_forward_slips_are_named(answer, mistake):
    named("encoder_decoder_forward", answer, mistake)


def test_every_position_added_is_still_named_with_max_len_20():
    named(
        "encoder_decoder_forward", _forward(rows=lambda parts, ids: parts.positions), "every position added"
    )


# --- Right answers in other styles ---


def _ffn_rows(x, w_1, b_1, w_2, b_2):
    return torch.stack([F.relu(row @ w_1 + b_1) @ w_2 + b_2 for row in x.reshape(-1, x.shape[-1])]).view(
        x.shape
    )


def _ln_loop(x, weight, bias, eps):
    out = torch.empty_like(x)
    for index in itertools.product(*(range(n) for n in x.shape[:-1])):
        v = x[index]
        out[index] = (v - v.mean()) / torch.sqrt(v.var(unbiased=False) + eps) * weight + bias
    return out


RIGHT = [
    ("feed_forward", lambda x, w_1, b_1, w_2, b_2: F.threshold(x @ w_1 + b_1, 0.0, 0.0) @ w_2 + b_2),
    ("feed_forward", lambda x, w_1, b_1, w_2, b_2: (lambda h: h * (h > 0))(x @ w_1 + b_1) @ w_2 + b_2),
    ("feed_forward", _ffn_rows),
    (
        "feed_forward",
        lambda x, w_1, b_1, w_2, b_2: torch.addmm(
            b_2, F.relu(torch.addmm(b_1, x.reshape(-1, x.shape[-1]), w_1)), w_2
        ).view(x.shape),
    ),
    ("layer_norm", _ln_loop),
    ("layer_norm", lambda x, w, b, eps: nn.LayerNorm(x.shape[-1], eps=eps)(x) * w + b),
    (
        "layer_norm",
        lambda x, w, b, eps: torch.addcmul(
            b, (x - x.mean(-1, keepdim=True)) * (x.var(-1, correction=0, keepdim=True) + eps).rsqrt(), w
        ),
    ),
    ("add_norm", lambda block, x, s: block.forward(x, s)),
    (
        "add_norm",
        lambda block, x, s: (lambda out: out if block.norm_first else block.norm(out))(
            x + block.dropout(s(block.norm(x) if block.norm_first else x))
        ),
    ),
    ("encoder_layer", _encoder(attend=lambda ly, x, m: ly.self_attn(query=x, mask=m, need_weights=False)[0])),
    (
        "encoder_layer",
        lambda ly, x, m: ly.add_norm2(
            ly.add_norm1(x, lambda h: ly.self_attn(h, h, h, m)[0]), ly.feed_forward
        ),
    ),
    ("decoder_layer", _decoder(mask=lambda x: torch.tril(torch.ones(x.shape[1], x.shape[1])).bool())),
    ("decoder_layer", _decoder(mask=lambda x: ~torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).triu(1))),
    (
        "encoder_decoder_forward",
        _forward(rows=lambda parts, ids: parts.positions[torch.arange(ids.shape[1])]),
    ),
    (
        "encoder_decoder_forward",
        _forward(
            scale=lambda parts: parts.positions.shape[-1] ** 0.5,
            out=lambda parts, h: h @ parts.output.weight.T,
        ),
    ),
    ("encoder_decoder_forward", lambda parts, src, trg_in: _forward()(parts, src, trg_in).double()),
]


@pytest.mark.parametrize(("name", "answer"), RIGHT, ids=[f"{n} {i}" for i, (n, _) in enumerate(RIGHT)])
def test_right_answers_in_other_styles_pass(name, answer):
    result = exercise(name).check(answer)
    assert result.passed, result.message


def test_padding_masks_from_the_lib_pass():
    def forward(parts, src, trg_in):
        d = parts.embedding.embedding_dim
        src_mask = padding_mask(src, parts.pad_id)
        memory = parts.encoder(parts.embedding(src) * d**0.5 + parts.positions[: src.shape[1]], src_mask)
        trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
        y = parts.embedding(trg_in) * d**0.5 + parts.positions[: trg_in.shape[1]]
        return parts.output(parts.decoder(y, memory, trg_mask, src_mask))

    assert checks.check_encoder_decoder_forward(forward).passed
