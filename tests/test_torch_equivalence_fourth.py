"""lib equals PyTorch, a fourth sweep: numbers given as other Python types, and the corners the
other three sweeps draw less often.

A scale, a sinusoid's base or a sampling temperature that is a huge Python int (10**30, past
int64) passed lib's check as the finite number it is, then failed inside torch ("int too big to
convert"); it is now taken as the float it equals, and gives PyTorch's numbers for that float.

The seeded sweeps draw what the others leave rare: ``scaled_dot_product_attention`` with q of
fewer batch dimensions than k, v broadcast wider than q, 1-D and 0-D masks and empty lengths
(where ``need_weights=False`` gave PyTorch's kernel's shape, q's batch dimensions, and
``need_weights=True`` the broadcast one it documents: now both give the broadcast one);
``MultiHeadAttention`` with kdim and vdim of their own, a value that is the key or not, per-head
(B·h, Lq, Lk) masks and key padding; and the layers with every spelling of their activation
PyTorch takes (a name, F.gelu, torch.relu, nn.GELU(), nn.ReLU()), compared on outputs and on the
gradients of inputs and parameters (the parameters' as totals: lib keeps W_Q, W_K, W_V apart).
"""

from __future__ import annotations

import random
import zlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformer_course import narrow_heads, positional, sampling
from transformer_course.attention import MultiHeadAttention, attention_scores, scaled_dot_product_attention
from transformer_course.layers import DecoderLayer, EncoderLayer

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True", "ignore:Converting mask")

TOL = {torch.float32: dict(atol=1e-4, rtol=1e-3), torch.float64: dict(atol=1e-9, rtol=1e-7)}
HUGE = 10**30  # past what torch takes as a Python int ("int too big to convert")


def _rng(kind: str, index: int) -> tuple[random.Random, torch.Generator]:
    seed = zlib.crc32(f"{kind}-{index}".encode())
    return random.Random(seed), torch.Generator().manual_seed(seed)


# --- numbers given as huge ints ---


def test_a_huge_int_scale_is_the_float_it_equals():
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
    for need_weights in (True, False):
        got, _ = scaled_dot_product_attention(q, k, v, scale=HUGE, need_weights=need_weights)
        want, _ = scaled_dot_product_attention(q, k, v, scale=float(HUGE), need_weights=need_weights)
        torch.testing.assert_close(got, want, atol=0, rtol=0)
    torch.testing.assert_close(attention_scores(q, k, scale=HUGE), attention_scores(q, k, scale=float(HUGE)))
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, scale=3, need_weights=False)[0],
        F.scaled_dot_product_attention(q, k, v, scale=3.0),
    )
    q, k, v = (x.requires_grad_() for x in (q, k, v))
    torch.testing.assert_close(
        narrow_heads.attention(q, k, v, HUGE), narrow_heads.attention(q, k, v, float(HUGE)), atol=0, rtol=0
    )


def test_a_huge_int_base_and_temperature_are_the_floats_they_equal():
    torch.testing.assert_close(
        positional.sinusoidal_encoding(5, 8, base=HUGE),
        positional.sinusoidal_encoding(5, 8, base=float(HUGE)),
    )
    torch.testing.assert_close(
        positional.shift_matrix(3, 8, base=HUGE), positional.shift_matrix(3, 8, base=1e30)
    )
    sinusoid = positional.SinusoidalPositionalEncoding(8, 6, base=HUGE)
    torch.testing.assert_close(sinusoid.pe, positional.sinusoidal_encoding(6, 8, base=1e30))
    logits = torch.randn(2, 7)
    got = sampling.next_token_probs(logits, temperature=HUGE)
    torch.testing.assert_close(got, torch.softmax((logits - logits.amax(-1, keepdim=True)) / 1e30, -1))
    torch.testing.assert_close(
        sampling.next_token_probs(logits, temperature=2), torch.softmax(logits / 2, -1)
    )


# --- scaled_dot_product_attention: broadcasting, small masks, empty lengths ---


def _sdpa_case(index):
    rng, gen = _rng("sdpa4", index)
    dtype = rng.choice((torch.float32, torch.float64))
    batch = [rng.choice((1, 2, 3)) for _ in range(rng.choice((0, 1, 2)))]

    def lead(full):  # a batch shape that broadcasts with the full one: some 1s, maybe fewer dims
        b = [x if rng.random() < 0.6 else 1 for x in full]
        return b[1:] if b and rng.random() < 0.3 else b

    lq, lk = rng.choice((0, 1, 2, 5)), rng.choice((0, 1, 3, 6))
    dk, dv = rng.choice((1, 3, 4, 8, 9)), rng.choice((1, 2, 8, 10))
    shapes = {"q": (*lead(batch), lq, dk), "k": (*lead(batch), lk, dk), "v": (*lead(batch), lk, dv)}
    grad = rng.random() < 0.6
    q, k, v = (torch.randn(s, generator=gen, dtype=dtype).requires_grad_(grad) for s in shapes.values())
    mask = {
        "none": None,
        "0-D": torch.tensor(rng.random() < 0.8),
        "Lk": torch.rand(lk, generator=gen) < 0.6,
        "1Lk": torch.rand(1, lk, generator=gen) < 0.6,
        "LqLk": torch.rand(lq, lk, generator=gen) < 0.6,
    }[rng.choice(("none", "0-D", "Lk", "1Lk", "LqLk"))]
    return q, k, v, mask, rng.random() < 0.3, rng.choice((None, 0.3, 2)), dtype


@pytest.mark.parametrize("index", range(60))
def test_sdpa_broadcasts_and_masks_as_pytorch(index):
    q, k, v, mask, causal, scale, dtype = _sdpa_case(index)
    allowed = None if mask is None else mask.expand(q.shape[-2], k.shape[-2])
    if causal:
        tril = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        allowed = tril if allowed is None else allowed & tril
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=scale)
    # The documented shape, broadcast. (Given an empty q, k or v, PyTorch's kernel returns q's
    # batch shape instead, its values all zeros or none: lib broadcasts them, with or without weights.)
    lead = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    shape = (*lead, q.shape[-2], v.shape[-1])
    if want.shape != shape:
        assert 0 in (q.numel(), k.numel(), v.numel()) and not bool(want.any())
        want = want.expand(shape)
    for need_weights in (True, False):
        out, weights = scaled_dot_product_attention(
            q, k, v, mask, scale=scale, need_weights=need_weights, causal=causal
        )
        torch.testing.assert_close(out, want, **TOL[dtype])
        assert (weights is None) != need_weights
        if q.requires_grad and out.numel():
            g = torch.randn_like(out)
            mine = torch.autograd.grad(out, (q, k, v), g)
            theirs = torch.autograd.grad(want, (q, k, v), g, retain_graph=True)
            for name, a, b in zip("qkv", mine, theirs):
                torch.testing.assert_close(a, b, **TOL[dtype], msg=lambda m, n=name: f"d{n}: {m}")


# --- MultiHeadAttention with kdim and vdim ---


@pytest.mark.parametrize("index", range(60))
def test_multi_head_attention_with_kdim_vdim_and_masks_equals_pytorch(index):
    rng, gen = _rng("mha4", index)
    dtype = rng.choice((torch.float32, torch.float64))
    h, d_head = rng.choice((1, 2, 3, 4)), rng.choice((1, 2, 5, 8, 16))
    d = h * d_head
    kdim, vdim = rng.choice((None, d, rng.randint(1, 12))), rng.choice((None, d, rng.randint(1, 12)))
    bias = rng.random() < 0.7
    ref = nn.MultiheadAttention(d, h, bias=bias, kdim=kdim, vdim=vdim, batch_first=True, dtype=dtype)
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=dtype) * 0.1)
    mine = MultiHeadAttention(d, h, bias=bias, kdim=kdim, vdim=vdim).to(dtype).load_from_torch(ref)
    train = rng.random() < 0.5
    mine.train(train), ref.train(train)
    b, lq, lk = rng.choice((1, 2, 3)), rng.choice((1, 2, 5)), rng.choice((1, 3, 6))
    grad = rng.random() < 0.6
    query = torch.randn(b, lq, d, generator=gen, dtype=dtype, requires_grad=grad)
    key = torch.randn(b, lk, kdim or d, generator=gen, dtype=dtype, requires_grad=grad)
    same = (kdim or d) == (vdim or d) and rng.random() < 0.5  # the value is the key
    value = key if same else torch.randn(b, lk, vdim or d, generator=gen, dtype=dtype, requires_grad=grad)
    kind = rng.choice(("none", "LqLk", "BLqLk", "B·h", "padding"))
    # Every query keeps key 0 (PyTorch's module gives NaN to a query with no key, lib zeros).
    mask = attn_mask = key_padding = None
    if kind in ("LqLk", "BLqLk", "B·h"):
        shape = {"LqLk": (lq, lk), "BLqLk": (b, lq, lk), "B·h": (b * h, lq, lk)}[kind]
        mask = (torch.rand(shape, generator=gen) < 0.7).index_fill_(-1, torch.tensor(0), True)
        attn_mask = (~mask).repeat_interleave(h, 0) if kind == "BLqLk" else ~mask
    elif kind == "padding":
        real = torch.randint(1, lk + 1, (b,), generator=gen)
        key_padding = torch.arange(lk)[None, :] >= real[:, None]
        mask = ~key_padding[:, None, None, :]
    need_weights = rng.random() < 0.5
    out, weights = mine(query, key, value, mask, need_weights=need_weights)
    want, want_weights = ref(
        query,
        key,
        value,
        key_padding_mask=key_padding,
        attn_mask=attn_mask,
        need_weights=need_weights,
        average_attn_weights=False,
    )
    torch.testing.assert_close(out, want, **TOL[dtype])
    if need_weights:
        torch.testing.assert_close(weights, want_weights, **TOL[dtype])
    if grad:
        g = torch.randn_like(out)
        inputs = list(dict.fromkeys((query, key, value)))
        for name, a, b_ in zip(
            ("query", "key", "value"),
            torch.autograd.grad(out, inputs, g),
            torch.autograd.grad(want, inputs, g),
        ):
            torch.testing.assert_close(a, b_, **TOL[dtype], msg=lambda m, n=name: f"d{n}: {m}")


# --- the layers, with every spelling of the activation ---

ACTIVATIONS = (
    ("relu", "relu"),
    ("gelu", "gelu"),
    (F.gelu, F.gelu),
    (F.relu, F.relu),
    (torch.relu, torch.relu),
    (nn.GELU(), nn.GELU()),
    (nn.ReLU(), nn.ReLU()),
)


def _totals(grads) -> torch.Tensor:
    """The sum and the sum of squares over every parameter's gradient: lib keeps W_Q, W_K and W_V
    as three matrices where PyTorch stacks them, but the totals are the same."""
    grads = [g.double() for g in grads if g is not None]
    return torch.stack([sum(g.sum() for g in grads), sum((g**2).sum() for g in grads)])


@pytest.mark.parametrize("index", range(40))
def test_layers_with_every_activation_spelling_equal_pytorch(index):
    rng, gen = _rng("layer4", index)
    dtype = rng.choice((torch.float32, torch.float64))
    h, d_head, d_ff = rng.choice((1, 2, 4)), rng.choice((1, 3, 8)), rng.choice((1, 5, 16))
    d = h * d_head
    norm_first, bias, eps = rng.random() < 0.5, rng.random() < 0.7, rng.choice((1e-5, 1e-3, 0.5))
    mine_act, their_act = rng.choice(ACTIVATIONS)
    decoder = rng.random() < 0.5
    torch_class, lib_class = (
        (nn.TransformerDecoderLayer, DecoderLayer) if decoder else (nn.TransformerEncoderLayer, EncoderLayer)
    )
    ref = torch_class(
        d, h, d_ff, 0.0, their_act, eps, batch_first=True, norm_first=norm_first, bias=bias, dtype=dtype
    )
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=dtype) * 0.1)
    mine = lib_class(d, h, d_ff, 0.0, norm_first=norm_first, activation=mine_act, eps=eps, bias=bias)
    mine = mine.to(dtype).load_from_torch(ref)
    train = rng.random() < 0.5
    mine.train(train), ref.train(train)
    b, length, source = rng.choice((1, 2, 3)), rng.choice((1, 2, 6)), rng.choice((1, 4, 7))
    x = torch.randn(b, length, d, generator=gen, dtype=dtype, requires_grad=True)
    real = torch.randint(1, length + 1, (b,), generator=gen)
    padding = torch.arange(length)[None, :] >= real[:, None]
    tril = torch.ones(length, length, dtype=torch.bool).tril()
    if decoder:
        memory = torch.randn(b, source, d, generator=gen, dtype=dtype, requires_grad=True)
        out = mine(x, memory, tril & ~padding[:, None, None, :])
        want = ref(x, memory, tgt_mask=~tril, tgt_key_padding_mask=padding, tgt_is_causal=False)
        inputs = [x, memory]
    else:
        out = mine(x, causal=True)
        want = ref(x, src_mask=~tril, is_causal=False)
        inputs = [x]
    torch.testing.assert_close(out, want, **TOL[dtype])
    g = torch.randn_like(out)
    mine_grads = torch.autograd.grad(out, inputs + list(mine.parameters()), g)
    their_grads = torch.autograd.grad(want, inputs + list(ref.parameters()), g)
    for a, b_ in zip(mine_grads[: len(inputs)], their_grads[: len(inputs)]):
        torch.testing.assert_close(a, b_, **TOL[dtype])
    torch.testing.assert_close(
        _totals(mine_grads[len(inputs) :]), _totals(their_grads[len(inputs) :]), atol=1e-4, rtol=1e-4
    )
