"""The tutorial's einsum Transformer (``from_scratch``): its two deviations, and with both fixed,
PyTorch's layers and lib's model with copied weights."""

import math

import pytest
import torch
from torch import nn
from transformer_course.attention import scaled_dot_product_attention
from transformer_course.data import sequence_task
from transformer_course.from_scratch import (
    PAPER,
    SOURCE,
    AttentionDesign,
    DecoderBlock,
    SelfAttention,
    Transformer,
    TransformerBlock,
)
from transformer_course.masks import causal_mask, to_blocked
from transformer_course.model import Transformer as CourseTransformer
from transformer_course.model import TransformerConfig
from transformer_course.training import seq2seq_loss, split_batch_fn, train

ATOL = 1e-5
PAD = 0
FULL_ONLY = AttentionDesign(shared_projections=False, scale="embed_size")  # fix (a) alone
SCALE_ONLY = AttentionDesign(shared_projections=True, scale="head_dim")  # fix (b) alone


def _ids(b, length, pads, vocab=12):
    ids = torch.randint(1, vocab, (b, length))
    for i, n in enumerate(pads):
        if n:
            ids[i, -n:] = PAD
    return ids


def _torch_mha(d, h, *, bias=True):
    mha = nn.MultiheadAttention(d, h, bias=bias, batch_first=True).eval()
    if bias:
        with torch.no_grad():
            mha.out_proj.bias.normal_()  # starts at zero: a copy of zeros would prove nothing
    return mha


def _jiggle(module, skip="in_proj_bias"):
    """Move every parameter away from its initial value (LayerNorm's 1 and 0 included), but ``skip``."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if skip not in name:
                p.add_(0.1 * torch.randn_like(p))
    return module


# --- SelfAttention ---


@pytest.mark.parametrize("d,h", [(8, 1), (16, 4), (32, 8)])
@pytest.mark.parametrize("mask_kind", ["none", "padding", "causal"])
@pytest.mark.parametrize("cross", [False, True])
def test_paper_self_attention_equals_nn_multihead_attention(d, h, mask_kind, cross):
    mha = _torch_mha(d, h)
    mine = SelfAttention(d, h, design=PAPER).load_from_torch(mha)
    query = torch.randn(3, 5, d)
    context = torch.randn(3, 7, d) if cross else query
    lk = context.shape[1]
    mask = {
        "none": None,
        "padding": (_ids(3, lk, [0, 2, 3]) != PAD)[:, None, None, :],  # (N, 1, 1, Lk)
        "causal": None if cross else causal_mask(5),  # (Lq, Lk)
    }[mask_kind]
    out, weights = mine(context, context, query, mask)
    if mask is None:
        ref, ref_weights = mha(query, context, context, average_attn_weights=False)
    elif mask.dim() == 2:
        ref, ref_weights = mha(
            query, context, context, attn_mask=to_blocked(mask), average_attn_weights=False
        )
    else:
        blocked = to_blocked(mask[:, 0, 0])
        ref, ref_weights = mha(query, context, context, key_padding_mask=blocked, average_attn_weights=False)
    assert out.shape == (3, 5, d) and weights.shape == (3, h, 5, lk)
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(weights, ref_weights, atol=ATOL, rtol=0)


def test_fixing_only_the_projections_is_not_enough():
    mha = _torch_mha(32, 8)
    x = torch.randn(2, 6, 32)
    ref, ref_weights = mha(x, x, x, average_attn_weights=False)
    out, weights = SelfAttention(32, 8, design=FULL_ONLY).load_from_torch(mha)(x, x, x)
    assert (out - ref).abs().max() > 1e-3
    # √embed_size = √8 · √head_dim: every softmax is cooler, so flatter: higher entropy.
    entropy = -(weights * weights.log()).sum(-1).mean()
    ref_entropy = -(ref_weights * ref_weights.log()).sum(-1).mean()
    assert entropy > ref_entropy
    # With one head, √embed_size is √head_dim: the two scales agree.
    one = _torch_mha(16, 1)
    y = torch.randn(2, 4, 16)
    torch.testing.assert_close(
        SelfAttention(16, 1, design=FULL_ONLY).load_from_torch(one)(y, y, y)[0],
        one(y, y, y)[0],
        atol=ATOL,
        rtol=0,
    )


def test_the_scale_is_a_temperature_the_queries_can_absorb():
    mha = _torch_mha(32, 8)
    cool = SelfAttention(32, 8, design=FULL_ONLY).load_from_torch(mha)
    with torch.no_grad():
        cool.queries.weight.mul_(math.sqrt(8))  # √heads: undoes the extra divisor
    x = torch.randn(2, 6, 32)
    torch.testing.assert_close(cool(x, x, x)[0], mha(x, x, x)[0], atol=ATOL, rtol=0)
    assert cool.divisor == math.sqrt(32) and SelfAttention(32, 8, design=PAPER).divisor == math.sqrt(4)


def test_shared_projection_is_one_small_matrix_on_the_diagonal_of_a_full_one():
    d, h = 16, 4
    shared = SelfAttention(d, h, design=SCALE_ONLY)
    full = SelfAttention(d, h, design=PAPER)
    with torch.no_grad():
        for small, big in (
            (shared.queries, full.queries),
            (shared.keys, full.keys),
            (shared.values, full.values),
        ):
            big.weight.copy_(torch.block_diag(*[small.weight] * h))  # the same block for every head
        full.fc_out.load_state_dict(shared.fc_out.state_dict())
    x, c = torch.randn(2, 5, d), torch.randn(2, 3, d)
    for got, want in zip(shared(c, c, x), full(c, c, x)):
        torch.testing.assert_close(got, want, atol=ATOL, rtol=0)


def test_with_shared_projections_head_i_sees_only_its_slice():
    x = torch.randn(1, 6, 32)
    y = x.clone()
    y[..., 4:] += torch.randn(1, 6, 28)  # change every feature but head 0's four
    for design, head_0_unchanged in ((SOURCE, True), (PAPER, False)):
        attn = SelfAttention(32, 8, design=design)
        before, after = attn(x, x, x)[1][:, 0], attn(y, y, y)[1][:, 0]
        assert torch.allclose(before, after, atol=1e-6) == head_0_unchanged


def test_projection_parameter_counts():
    for d, h in ((32, 8), (512, 8), (32, 2)):
        for design, expected in ((SOURCE, 3 * (d // h) ** 2), (PAPER, 3 * d * d)):
            attn = SelfAttention(d, h, design=design)
            counted = sum(
                p.numel() for lin in (attn.queries, attn.keys, attn.values) for p in lin.parameters()
            )
            assert counted == expected
            assert sum(p.numel() for p in attn.fc_out.parameters()) == d * d + d  # W_O the same in both


def test_source_einsum_equals_lib_attention_per_slice():
    d, h, hd = 16, 4, 4
    attn = SelfAttention(d, h)  # the source as written
    x, c = torch.randn(2, 5, d), torch.randn(2, 7, d)
    mask = (_ids(2, 7, [0, 3]) != PAD)[:, None, None, :]

    def heads(t, linear):  # (N, L, d) → (N, h, L, hd): slice, then the one shared matrix
        return linear(t.view(t.shape[0], t.shape[1], h, hd)).transpose(1, 2)

    q, k, v = heads(x, attn.queries), heads(c, attn.keys), heads(c, attn.values)
    out, weights = scaled_dot_product_attention(q, k, v, mask, scale=1 / math.sqrt(d))
    expected = attn.fc_out(out.transpose(1, 2).reshape(2, 5, d))
    got, got_weights = attn(c, c, x, mask)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
    torch.testing.assert_close(got_weights, weights, atol=ATOL, rtol=0)


def test_a_row_with_every_key_masked_spreads_evenly_instead_of_nan():
    attn = SelfAttention(8, 2)
    x = torch.randn(1, 3, 8)
    mask = torch.tensor([[True, True, False], [False, False, False], [True, False, True]])
    out, weights = attn(x, x, x, mask)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(weights[0, :, 1], torch.full((2, 3), 1 / 3))
    assert (weights[0, :, 0, 2] == 0).all()


# --- Blocks and whole model ---


def test_transformer_block_equals_nn_transformer_encoder_layer():
    layer = _jiggle(nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True).eval())
    block = TransformerBlock(16, 4, 0.0, 2, design=PAPER).load_from_torch(layer)
    x = torch.randn(3, 6, 16)
    src = _ids(3, 6, [0, 1, 4])
    mask = (src != PAD)[:, None, None, :]
    torch.testing.assert_close(
        block(x, x, x, mask), layer(x, src_key_padding_mask=src == PAD), atol=ATOL, rtol=0
    )
    assert block.attention_weights.shape == (3, 4, 6, 6)


def test_decoder_block_equals_nn_transformer_decoder_layer():
    layer = _jiggle(nn.TransformerDecoderLayer(16, 4, 48, dropout=0.0, batch_first=True).eval())
    block = DecoderBlock(16, 4, 3, 0.0, design=PAPER).load_from_torch(layer)
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    src = _ids(2, 7, [2, 0])
    got = block(x, memory, memory, (src != PAD)[:, None, None, :], causal_mask(5))
    want = layer(x, memory, tgt_mask=to_blocked(causal_mask(5)), memory_key_padding_mask=src == PAD)
    torch.testing.assert_close(got, want, atol=ATOL, rtol=0)
    assert block.transformer_block.attention_weights.shape == (2, 4, 5, 7)


def _core(d=16, h=4, layers=2, d_ff=32):
    core = nn.Transformer(d, h, layers, layers, d_ff, dropout=0.0, batch_first=True).eval()
    core.encoder.norm = core.decoder.norm = None  # the source's stacks end without a LayerNorm
    return _jiggle(core)


def test_paper_transformer_equals_nn_transformer_and_lib_with_copied_weights():
    core = _core()
    config = TransformerConfig(
        vocab_size=12, d_model=16, num_heads=4, num_encoder_layers=2, num_decoder_layers=2,
        d_ff=32, dropout=0.0, max_len=20, final_norm=False, tie_embeddings=False,
    )  # fmt: skip
    course = CourseTransformer(config).load_from_torch(core).eval()
    with torch.no_grad():
        course.output.bias.normal_()
    mine = Transformer(12, 12, PAD, PAD, embed_size=16, num_layers=2, forward_expansion=2, heads=4,
                       max_length=20, design=PAPER)  # fmt: skip
    mine.load_from_torch(core).load_embeddings_from(course).eval()
    src, trg = _ids(3, 8, [0, 2, 5]), _ids(3, 6, [0, 3, 1])
    trg[:, 0] = 2  # <bos>
    logits = mine(src, trg)
    hidden = core(
        course.src_embed(src), course.trg_embed(trg), tgt_mask=to_blocked(causal_mask(6)),
        src_key_padding_mask=src == PAD, memory_key_padding_mask=src == PAD,
    )  # fmt: skip
    torch.testing.assert_close(logits, course.output(hidden), atol=ATOL, rtol=0)
    # lib's model also hides padded target keys; real target positions never see them anyway.
    real = trg != PAD
    torch.testing.assert_close(logits[real], course(src, trg)[real], atol=ATOL, rtol=0)
    kinds = mine.attention_weights()
    assert [w.shape for w in kinds["cross"]] == [(3, 4, 6, 8)] * 2
    assert [w.shape for w in kinds["encoder_self"]] == [(3, 4, 8, 8)] * 2


def test_tied_course_model_copies_its_shared_matrix_and_sinusoids():
    config = TransformerConfig(vocab_size=12, d_model=16, num_heads=4, num_encoder_layers=1,
                               num_decoder_layers=1, d_ff=32, dropout=0.0, max_len=20)  # fmt: skip
    course = CourseTransformer(config)
    mine = Transformer(12, 12, PAD, PAD, embed_size=16, num_layers=1, forward_expansion=2, heads=4,
                       max_length=10).load_embeddings_from(course)  # fmt: skip
    ids = torch.tensor([[5, 6, 7]])
    torch.testing.assert_close(mine.encoder.embed(ids, "x"), course.src_embed(ids), atol=ATOL, rtol=0)
    assert torch.equal(mine.decoder.fc_out.weight, course.output.weight)
    assert not mine.decoder.fc_out.bias.any()  # the tied output has no bias


def test_masks_and_causality():
    model = Transformer(12, 12, PAD, PAD, embed_size=16, num_layers=1, forward_expansion=2, heads=2)
    src = _ids(2, 5, [0, 2])
    assert torch.equal(model.make_src_mask(src), (src != PAD).view(2, 1, 1, 5))
    trg_mask = model.make_trg_mask(_ids(2, 4, [0, 1]))
    assert trg_mask.shape == (2, 1, 4, 4) and torch.equal(trg_mask[1, 0], causal_mask(4))
    trg = _ids(2, 6, [0, 0])
    changed = trg.clone()
    changed[:, 4:] = 3  # later tokens change: earlier positions must not notice
    torch.testing.assert_close(model(src, trg)[:, :4], model(src, changed)[:, :4], atol=ATOL, rtol=0)


def test_the_source_design_learns_the_reverse_task():
    task = sequence_task("reverse", num_symbols=6, min_len=3, max_len=4, num_train=300, num_test=50, seed=0)
    v = len(task.vocab)
    model = Transformer(v, v, task.vocab.pad_id, task.vocab.pad_id, embed_size=16, num_layers=1,
                        forward_expansion=2, heads=2, max_length=8)  # fmt: skip
    history = train(model, seq2seq_loss, split_batch_fn(task.train), len(task.train), steps=40,
                    batch_size=64, lr=1e-2, progress=False)  # fmt: skip
    assert sum(history.losses[-5:]) / 5 < 0.6 * history.losses[0]


# --- Bad input: a ValueError naming the argument ---


def _attn():
    return SelfAttention(8, 2)


def _model(design=SOURCE):
    return Transformer(12, 12, PAD, PAD, embed_size=8, num_layers=1, forward_expansion=2, heads=2,
                       max_length=6, design=design)  # fmt: skip


X = torch.randn(1, 3, 8)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: SelfAttention(10, 4), "embed_size"),
        (lambda: SelfAttention(8, 0), "heads"),
        (lambda: SelfAttention(8, 2, design="paper"), "design"),
        (lambda: AttentionDesign(scale="d_k"), "scale"),
        (lambda: AttentionDesign(shared_projections="no"), "shared_projections"),
        (lambda: TransformerBlock(8, 2, 0.0, 0), "forward_expansion"),
        (lambda: TransformerBlock(8, 2, 1.5, 2), "dropout"),
        (lambda: _attn()(X, X, torch.randn(1, 3, 6)), "query"),
        (lambda: _attn()(X, torch.randn(1, 4, 8), X), "values"),
        (lambda: _attn()(X, X, torch.randn(2, 3, 8)), "keys"),
        (lambda: _attn()(X, X, X, torch.ones(3, 3)), "mask"),
        (lambda: _attn()(X, X, X, torch.ones(4, 4, dtype=torch.bool)), "mask"),
        (lambda: _attn()(X.double(), X.double(), X.double()), "query"),
        (lambda: _model()(torch.ones(1, 3), torch.ones(1, 2, dtype=torch.long)), "src"),
        (lambda: _model()(torch.ones(1, 3, dtype=torch.long), torch.full((1, 2), 12)), "trg"),
        (
            lambda: _model()(torch.ones(1, 7, dtype=torch.long), torch.ones(1, 2, dtype=torch.long)),
            "max_length",
        ),
        (lambda: _model()(torch.ones(2, 3, dtype=torch.long), torch.ones(1, 2, dtype=torch.long)), "trg"),
        (lambda: Transformer(12, 12, 12, PAD), "src_pad_idx"),
        (lambda: _attn().load_from_torch(nn.Linear(8, 8)), "mha"),
        (lambda: SelfAttention(8, 2, design=PAPER).load_from_torch(nn.MultiheadAttention(8, 4)), "mha"),
        (lambda: TransformerBlock(8, 2, 0.0, 2, design=PAPER).load_from_torch(nn.Linear(8, 8)), "layer"),
        (lambda: _model(PAPER).load_from_torch(nn.Linear(8, 8)), "transformer"),
        (lambda: _model(PAPER).load_embeddings_from(nn.Linear(8, 8)), "model"),
        (lambda: _model().encoder.load_embeddings(torch.randn(12, 4), torch.randn(6, 8)), "words"),
        (lambda: _model().encoder.load_embeddings(torch.randn(12, 8), torch.randn(5, 8)), "positions"),
    ],
)
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        call()


def test_loading_explains_what_does_not_fit():
    with pytest.raises(ValueError, match="shares one .* design=PAPER"):
        _attn().load_from_torch(nn.MultiheadAttention(8, 2))
    biased = nn.MultiheadAttention(8, 2)
    with torch.no_grad():
        biased.in_proj_bias.fill_(0.5)
    with pytest.raises(ValueError, match="in_proj_bias must be zero"):
        SelfAttention(8, 2, design=PAPER).load_from_torch(biased)
    unbiased = nn.MultiheadAttention(8, 2, bias=False)  # no out_proj bias: fc_out's becomes 0
    assert not SelfAttention(8, 2, design=PAPER).load_from_torch(unbiased).fc_out.bias.any()
    pre_norm = nn.TransformerEncoderLayer(8, 2, 16, norm_first=True)
    with pytest.raises(ValueError, match="post-norm"):
        TransformerBlock(8, 2, 0.0, 2, design=PAPER).load_from_torch(pre_norm)
    gelu = nn.TransformerEncoderLayer(8, 2, 16, activation="gelu")
    with pytest.raises(ValueError, match="relu"):
        TransformerBlock(8, 2, 0.0, 2, design=PAPER).load_from_torch(gelu)
    with pytest.raises(ValueError, match="dim_feedforward=16"):
        TransformerBlock(8, 2, 0.0, 2, design=PAPER).load_from_torch(nn.TransformerEncoderLayer(8, 2, 32))
    with_norms = nn.Transformer(8, 2, 1, 1, 16, batch_first=True)
    with pytest.raises(ValueError, match="ends in a LayerNorm"):
        _model(PAPER).load_from_torch(with_norms)
    deeper = nn.Transformer(8, 2, 2, 1, 16, batch_first=True)
    deeper.encoder.norm = deeper.decoder.norm = None
    with pytest.raises(ValueError, match="must have 1 layers"):
        _model(PAPER).load_from_torch(deeper)
