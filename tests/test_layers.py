"""lib's feed-forward, Add & Norm, encoder and decoder layers equal PyTorch's, with copied weights."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course.layers import AddNorm, DecoderLayer, EncoderLayer, FeedForward
from transformer_course.masks import causal_mask, combine_masks, padding_mask, to_blocked

ATOL = 1e-5
PAD = 0


def _ids(b, length, pads):
    """(b, length) ids in 1..9 with the last ``pads[i]`` positions of row i set to PAD."""
    ids = torch.randint(1, 10, (b, length))
    for i, n in enumerate(pads):
        if n:
            ids[i, -n:] = PAD
    return ids


def _torch_encoder_layer(d, h, d_ff, norm_first, activation="relu"):
    return nn.TransformerEncoderLayer(
        d, h, d_ff, dropout=0.0, batch_first=True, norm_first=norm_first, activation=activation
    ).eval()


def _torch_decoder_layer(d, h, d_ff, norm_first, activation="relu"):
    return nn.TransformerDecoderLayer(
        d, h, d_ff, dropout=0.0, batch_first=True, norm_first=norm_first, activation=activation
    ).eval()


def test_feed_forward_is_two_linears_around_relu():
    ff = FeedForward(8, 32)
    x = torch.randn(2, 5, 8)
    expected = ff.linear2(torch.relu(ff.linear1(x)))
    torch.testing.assert_close(ff(x), expected, atol=ATOL, rtol=0)
    # Position-wise: each position is transformed on its own.
    torch.testing.assert_close(ff(x[:, 2:3]), ff(x)[:, 2:3], atol=ATOL, rtol=0)
    assert FeedForward(8, 32, activation="gelu")(x).shape == (2, 5, 8)


@pytest.mark.parametrize("norm_first", [False, True])
def test_add_norm_post_and_pre(norm_first):
    add_norm = AddNorm(8, norm_first=norm_first)
    x = torch.randn(2, 3, 8)
    out = add_norm(x, torch.tanh)
    ln = F.layer_norm
    expected = x + torch.tanh(ln(x, (8,))) if norm_first else ln(x + torch.tanh(x), (8,))
    torch.testing.assert_close(out, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize(
    "b,length,d,h,pads", [(1, 4, 8, 1, [0]), (3, 7, 16, 4, [0, 2, 5]), (2, 9, 32, 8, [3, 0])]
)
def test_encoder_layer_matches_torch(norm_first, activation, b, length, d, h, pads):
    ref = _torch_encoder_layer(d, h, 4 * d, norm_first, activation)
    mine = (
        EncoderLayer(d, h, 4 * d, dropout=0.0, norm_first=norm_first, activation=activation)
        .load_from_torch(ref)
        .eval()
    )
    ids = _ids(b, length, pads)
    x = torch.randn(b, length, d)
    out = mine(x, padding_mask(ids, PAD))
    expected = ref(x, src_key_padding_mask=ids == PAD)
    torch.testing.assert_close(out, expected, atol=ATOL, rtol=0)
    # The weights kept for figures do not change the output.
    with_weights = mine(x, padding_mask(ids, PAD), need_weights=True)
    torch.testing.assert_close(with_weights, out, atol=ATOL, rtol=0)
    assert mine.self_attn_weights.shape == (b, h, length, length)
    # No query gives any weight to a padded key.
    assert (mine.self_attn_weights * (ids == PAD)[:, None, None, :]).abs().sum() == 0


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_with_causal_mask_matches_torch(norm_first):
    d, h, length = 16, 4, 6
    ref = _torch_encoder_layer(d, h, 32, norm_first)
    mine = EncoderLayer(d, h, 32, dropout=0.0, norm_first=norm_first).load_from_torch(ref).eval()
    x = torch.randn(2, length, d)
    out = mine(x, causal_mask(length))
    expected = ref(x, src_mask=to_blocked(causal_mask(length)))
    torch.testing.assert_close(out, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize(
    "b,lt,ls,d,h,trg_pads,src_pads",
    [(1, 4, 5, 8, 1, [0], [0]), (3, 6, 8, 16, 4, [0, 2, 1], [3, 0, 1]), (2, 9, 3, 32, 8, [4, 0], [0, 1])],
)
def test_decoder_layer_matches_torch(norm_first, activation, b, lt, ls, d, h, trg_pads, src_pads):
    ref = _torch_decoder_layer(d, h, 4 * d, norm_first, activation)
    mine = (
        DecoderLayer(d, h, 4 * d, dropout=0.0, norm_first=norm_first, activation=activation)
        .load_from_torch(ref)
        .eval()
    )
    trg, src = _ids(b, lt, trg_pads), _ids(b, ls, src_pads)
    x, memory = torch.randn(b, lt, d), torch.randn(b, ls, d)
    self_mask = combine_masks(causal_mask(lt), padding_mask(trg, PAD))
    cross_mask = padding_mask(src, PAD)
    out = mine(x, memory, self_mask, cross_mask, need_weights=True)
    expected = ref(
        x,
        memory,
        tgt_mask=to_blocked(causal_mask(lt)),
        tgt_key_padding_mask=trg == PAD,
        memory_key_padding_mask=src == PAD,
    )
    torch.testing.assert_close(out, expected, atol=ATOL, rtol=0)
    assert mine.self_attn_weights.shape == (b, h, lt, lt)
    assert mine.cross_attn_weights.shape == (b, h, lt, ls)
    # Causal: nothing above the diagonal; cross rows sum to 1 over the source.
    assert mine.self_attn_weights.triu(1).abs().sum() == 0
    torch.testing.assert_close(mine.cross_attn_weights.sum(-1), torch.ones(b, h, lt), atol=ATOL, rtol=0)
    fused = mine(x, memory, self_mask, cross_mask)
    assert mine.self_attn_weights is None and mine.cross_attn_weights is None
    torch.testing.assert_close(fused, out, atol=ATOL, rtol=0)


def test_decoder_future_tokens_do_not_leak():
    layer = DecoderLayer(16, 4, 32, dropout=0.0).eval()
    x, memory = torch.randn(1, 6, 16), torch.randn(1, 4, 16)
    changed = x.clone()
    changed[:, 4:] = torch.randn(1, 2, 16)
    a = layer(x, memory, causal_mask(6))
    b = layer(changed, memory, causal_mask(6))
    torch.testing.assert_close(a[:, :4], b[:, :4], atol=ATOL, rtol=0)
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_dropout_is_active_only_in_training():
    layer = EncoderLayer(16, 4, 32, dropout=0.5)
    x = torch.randn(2, 5, 16)
    layer.train()
    assert not torch.allclose(layer(x), layer(x))
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))


def test_load_from_torch_rejects_mismatches():
    layer = EncoderLayer(16, 4, 32, dropout=0.0)
    with pytest.raises(ValueError, match="layer"):
        layer.load_from_torch(_torch_decoder_layer(16, 4, 32, False))
    with pytest.raises(ValueError, match="norm_first"):
        layer.load_from_torch(_torch_encoder_layer(16, 4, 32, True))
    with pytest.raises(ValueError, match="dim_feedforward"):
        layer.load_from_torch(_torch_encoder_layer(16, 4, 64, False))
    with pytest.raises(ValueError, match="activation"):
        layer.load_from_torch(_torch_encoder_layer(16, 4, 32, False, "gelu"))
    with pytest.raises(ValueError, match="num_heads"):
        layer.load_from_torch(_torch_encoder_layer(16, 2, 32, False))
    with pytest.raises(ValueError, match="layer"):
        DecoderLayer(16, 4, 32).load_from_torch(_torch_encoder_layer(16, 4, 32, False))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: FeedForward(0, 8), "d_model"),
        (lambda: FeedForward(8, -1), "d_ff"),
        (lambda: FeedForward(8, 16, activation="tanh"), "activation"),
        (lambda: EncoderLayer(8, 3, 16), "num_heads"),
        (lambda: EncoderLayer(8, 2, 16, dropout=1.5), "dropout"),
        (lambda: DecoderLayer(8, 2, 16, activation="swish"), "activation"),
    ],
)
def test_bad_construction_raises(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs_raise_value_error_naming_the_argument():
    enc, dec = EncoderLayer(8, 2, 16), DecoderLayer(8, 2, 16)
    with pytest.raises(ValueError, match="x"):
        enc(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match="x"):
        enc(torch.randn(3, 8))
    with pytest.raises(ValueError, match="mask"):
        enc(torch.randn(2, 3, 8), torch.ones(3, 3))
    with pytest.raises(ValueError, match="memory"):
        dec(torch.randn(2, 3, 8), torch.randn(2, 4, 6))
    with pytest.raises(ValueError, match="memory"):
        dec(torch.randn(2, 3, 8), torch.randn(1, 4, 8))
    with pytest.raises(ValueError, match="x"):
        AddNorm(8)(torch.randn(2, 3, 4), torch.tanh)


def test_norms_have_pytorchs_names():
    enc, dec = EncoderLayer(8, 2, 16), DecoderLayer(8, 2, 16)
    assert enc.norm1 is enc.add_norm1.norm and enc.norm2 is enc.add_norm2.norm
    assert (dec.norm1, dec.norm2, dec.norm3) == (dec.add_norm1.norm, dec.add_norm2.norm, dec.add_norm3.norm)
