"""lib equals PyTorch, a third sweep: ``bias=False`` everywhere, and the corners the other
two sweeps leave out.

``bias=False`` (PyTorch ≥ 2.1): ``nn.TransformerEncoderLayer``, ``nn.TransformerDecoderLayer``
and ``nn.Transformer`` then have no bias in any Linear and no shift in any LayerNorm. lib's
``EncoderLayer``/``DecoderLayer(bias=False)`` and ``TransformerConfig(bias=False)`` build the
same, ``load_from_torch`` copies them and refuses a layer of the other kind by name.

The seeded sweep draws batch 1, one position, cross-attention with Lq ≠ Lk, one head, heads
of one dimension, LayerNorm eps from 1e-6 to 1, float32 and float64, masks of every shape lib
takes — (Lq, Lk), (B, Lq, Lk), (1, Lq, Lk), and the 4-D (1, 1, Lq, Lk), (B, 1, 1, Lk),
(1, h, Lq, Lk), (B, h, 1, Lk), (B, h, Lq, Lk) — key padding with sentences padded through,
the causal flag, weights per head and averaged (``average_attn_weights``), dropout while
evaluating, inputs that are not contiguous or do not require a gradient, and lib called
under ``torch.no_grad()`` and ``torch.inference_mode()``.

What is compared, precisely, where a query has no key to attend to:

- lib gives that query zero weights and an attention output of zeros before W_O (its
  documented choice). PyTorch's kernel (``F.scaled_dot_product_attention``) gives the same,
  and PyTorch's modules take it with a gradient enabled and no weights asked: there lib is
  compared with PyTorch everywhere, padded rows included, outputs and gradients.
- ``nn.MultiheadAttention`` asked for weights (and PyTorch's fused inference path of the
  layers) gives NaN in exactly those rows: there lib is compared wherever PyTorch is finite,
  and PyTorch must be NaN only in rows with such a query.

``num_layers=0``: PyTorch builds ``nn.TransformerEncoder(layer, 0)``, then fails inside when it is
called (an IndexError reading its first layer); lib refuses a stack without layers, by name.
"""

from __future__ import annotations

import random
import zlib

import pytest
import torch
import torch.nn.functional as F
from test_torch_equivalence_fuzz import _compare_parameter_grads, _names
from torch import nn
from transformer_course.attention import MultiHeadAttention
from transformer_course.layers import AddNorm, DecoderLayer, EncoderLayer, FeedForward
from transformer_course.masks import causal_mask, to_blocked
from transformer_course.model import Decoder, Encoder, Transformer, TransformerConfig

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True", "ignore:Converting mask")

TOL = {torch.float32: dict(atol=1e-4, rtol=1e-3), torch.float64: dict(atol=1e-9, rtol=1e-7)}
DTYPES = (torch.float32, torch.float64)
MASKS = (
    "none",
    "LL",
    "BLL",
    "1LL",
    "11LL",
    "B11L",
    "1hLL",
    "Bh1L",
    "BhLL",
    "padding",
    "causal",
    "causal+pad",
)
MODES = {"grad": torch.enable_grad, "no_grad": torch.no_grad, "inference": torch.inference_mode}


def _close(got, want, dtype, what):
    torch.testing.assert_close(got, want, **TOL[dtype], msg=lambda m: f"{what}: {m}")


@torch.no_grad()
def _nudge(module: nn.Module, gen: torch.Generator) -> None:
    """PyTorch starts biases (and LayerNorm's shift and scale) at 0 and 1: nudged, they count."""
    for p in module.parameters():
        p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.1)


def _input(gen, shape, dtype, contiguous=True, requires_grad=True):
    """A random tensor of ``shape``; not contiguous: the transpose of one stored the other way."""
    if contiguous:
        x = torch.randn(shape, generator=gen, dtype=dtype)
    else:
        x = torch.randn(tuple(reversed(shape)), generator=gen, dtype=dtype).permute(
            *reversed(range(len(shape)))
        )
    return x.requires_grad_(requires_grad)


def _lib_mask(kind, b, h, lq, lk, gen):
    """lib's mask for ``kind`` (True = may attend), whether lib is told ``causal``, and the
    (B, h, Lq, Lk) it allows. Key padding leaves sentence 0 with no key at all when B > 1."""
    causal = kind.startswith("causal")
    mask = None
    if kind.endswith(("padding", "pad")):
        real = torch.randint(1, lk + 1, (b,), generator=gen)
        if b > 1:
            real[0] = 0  # padded through: every query of that sentence sees nothing
        mask = (torch.arange(lk)[None, :] < real[:, None])[:, None, None, :]  # (B, 1, 1, Lk)
    elif kind not in ("none", "causal"):
        shape = {
            "LL": (lq, lk),
            "BLL": (b, lq, lk),
            "1LL": (1, lq, lk),
            "11LL": (1, 1, lq, lk),
            "B11L": (b, 1, 1, lk),
            "1hLL": (1, h, lq, lk),
            "Bh1L": (b, h, 1, lk),
            "BhLL": (b, h, lq, lk),
        }[kind]
        mask = torch.rand(shape, generator=gen) < 0.7
    allowed = torch.ones(b, h, lq, lk, dtype=torch.bool)
    if mask is not None:
        allowed = allowed & (mask.unsqueeze(1) if mask.dim() == 3 else mask)
    if causal:
        allowed = allowed & torch.ones(lq, lk, dtype=torch.bool).tril()
    return mask, causal, allowed


def _torch_mask(kind, allowed):
    """PyTorch's (attn_mask, key_padding_mask), True = blocked: key padding as PyTorch's own
    argument, anything else as the full (B·h, Lq, Lk) mask."""
    b, h, lq, lk = allowed.shape
    if kind == "padding":
        return None, to_blocked(allowed[:, 0, 0, :])
    if kind == "none":
        return None, None
    return to_blocked(allowed.reshape(b * h, lq, lk)), None


def _sizes(rng: random.Random, cross: bool | None) -> dict:
    """One configuration; ``cross`` None: self- or cross-attention at random."""
    cross = rng.random() < 0.5 if cross is None else cross
    h = rng.choice([1, 1, 2, 3])
    d_head = rng.choice([1, 1, 2, 5, 9])
    lq = rng.choice([1, 1, 2, 4])
    lk = rng.choice([n for n in (1, 2, 3, 5) if n != lq]) if cross else lq
    train = rng.random() < 0.4
    return dict(
        cross=cross,
        b=rng.choice([1, 1, 2, 3]),
        h=h,
        d=h * d_head,
        lq=lq,
        lk=lk,
        ff=rng.choice([1, 3, 8]),
        eps=rng.choice([1e-5, 1e-6, 1e-2, 1.0]),
        dtype=rng.choice(DTYPES),
        mask=rng.choice(MASKS[:-2] if cross else MASKS),
        weights=rng.random() < 0.5,
        average=rng.random() < 0.5,
        train=train,
        drop=0.0 if train else rng.choice([0.0, 0.5]),  # evaluating: dropout does nothing
        contiguous=rng.random() < 0.5,
        input_grad=rng.random() < 0.7,
        mode=rng.choice(list(MODES)),
        norm_first=rng.random() < 0.5,
        act=rng.choice(["relu", "gelu"]),
        bias=rng.random() < 0.6,
    )


def _cases(kind: str, count: int, cross: bool | None):
    cases = [_sizes(random.Random(f"third-{kind}-{i}"), cross) for i in range(count)]
    ids = [f"{kind}-{i:02d}-{'-'.join(f'{k}={v}' for k, v in c.items())}" for i, c in enumerate(cases)]
    return pytest.mark.parametrize("s", cases, ids=ids)


def _grads(loss, tensors):
    return torch.autograd.grad(loss, tensors, allow_unused=True)


def _compare_grads(mine, ref, inputs, out, want, gen, dtype, d):
    """Gradients of the inputs that require one and of every parameter, lib's against PyTorch's."""
    g = torch.randn(out.shape, generator=gen, dtype=dtype)
    inputs = [x for x in inputs if x.requires_grad]
    got = _grads((out * g).sum(), inputs + list(mine.parameters()))
    exp = _grads((want * g).sum(), inputs + list(ref.parameters()))
    for i, (a, e) in enumerate(zip(got, exp[: len(inputs)])):
        _close(a, e, dtype, f"grad of input {i}")
    n = len(inputs)
    _compare_parameter_grads(_names(mine), got[n:], _names(ref), exp[n:], dtype, d)


def _run(mode, fn):
    with MODES[mode]():
        return fn()


# ---------------------------------------------------------------- bias=False


def _pair(kind, d, h, ff, norm_first, act, dtype, gen, bias=False, layers=2):
    """lib's module of ``kind`` and PyTorch's, with PyTorch's (nudged) weights copied into lib's."""
    options = dict(dropout=0.0, activation=act, norm_first=norm_first, bias=bias)
    if kind in ("encoder_layer", "decoder_layer"):
        torch_class = nn.TransformerEncoderLayer if kind == "encoder_layer" else nn.TransformerDecoderLayer
        ref = torch_class(d, h, ff, batch_first=True, dtype=dtype, **options)
        _nudge(ref, gen)
        lib_class = EncoderLayer if kind == "encoder_layer" else DecoderLayer
        return ref, lib_class(d, h, ff, **options).to(dtype).load_from_torch(ref)
    config = TransformerConfig(
        vocab_size=11, d_model=d, num_heads=h, num_encoder_layers=layers, num_decoder_layers=layers,
        d_ff=ff, max_len=8, **options,
    )  # fmt: skip
    core = nn.Transformer(d, h, layers, layers, ff, batch_first=True, dtype=dtype, **options)
    _nudge(core, gen)
    if kind == "encoder":
        return core.encoder, Encoder(config).to(dtype).load_from_torch(core.encoder)
    if kind == "decoder":
        return core.decoder, Decoder(config).to(dtype).load_from_torch(core.decoder)
    return core, Transformer(config).to(dtype).load_from_torch(core)


BIAS_KINDS = ("encoder_layer", "decoder_layer", "encoder", "decoder", "transformer")


@pytest.mark.parametrize("kind", BIAS_KINDS)
@pytest.mark.parametrize("norm_first", [False, True], ids=["post", "pre"])
@pytest.mark.parametrize("act", ["relu", "gelu"])
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_without_biases_lib_equals_pytorch(kind, norm_first, act, train):
    """Forward and gradients (inputs and every parameter) of lib's modules built with bias=False
    against PyTorch's, with a padding mask and (decoders) a causal one."""
    seed = BIAS_KINDS.index(kind) * 8 + norm_first * 4 + (act == "gelu") * 2 + train
    gen, rng = torch.Generator().manual_seed(seed), random.Random(seed)
    dtype = DTYPES[seed % 2]
    h = rng.choice([1, 2, 3])
    d, ff, b, lt, ls = (
        h * rng.choice([1, 2, 4]),
        rng.choice([3, 8]),
        rng.choice([1, 2]),
        rng.randint(1, 5),
        rng.randint(1, 5),
    )
    ref, mine = _pair(kind, d, h, ff, norm_first, act, dtype, gen)
    ref.train(train), mine.train(train)
    assert not any(n.endswith("bias") for n in _names(mine)) and not any(
        n.endswith("bias") for n in _names(ref)
    )
    assert sum(p.numel() for p in mine.parameters()) >= sum(p.numel() for p in ref.parameters())
    x = torch.randn(b, lt, d, generator=gen, dtype=dtype, requires_grad=True)
    memory = torch.randn(b, ls, d, generator=gen, dtype=dtype, requires_grad=True)
    keep = torch.arange(ls)[None] < torch.randint(1, ls + 1, (b,), generator=gen)[:, None]  # (B, Ls)
    if kind == "transformer":
        src = torch.randint(1, 11, (b, ls), generator=gen).masked_fill(~keep, 0)
        trg = torch.randint(1, 11, (b, lt), generator=gen)
        out = mine(src, trg)
        hidden = ref(mine.src_embed(src), mine.trg_embed(trg), tgt_mask=to_blocked(causal_mask(lt)),
                     src_key_padding_mask=~keep, memory_key_padding_mask=~keep)  # fmt: skip
        want = mine.output(hidden)
        assert mine.output.bias is None  # config.bias=False: the output layer has none either
        g = torch.randn(out.shape, generator=gen, dtype=dtype)
        stack = [(n, p) for n, p in mine.named_parameters() if n.startswith(("encoder.", "decoder."))]
        got = _grads((out * g).sum(), [p for _, p in stack])
        exp = _grads((want * g).sum(), list(ref.parameters()))
        _close(out, want, dtype, "logits")
        _compare_parameter_grads([n for n, _ in stack], got, _names(ref), exp, dtype, d)
        return
    if kind.startswith("encoder"):  # the source (B, Ls, d_model) and its padding
        inputs = [memory]
        out = mine(memory, keep[:, None, None, :])
        want = ref(memory, src_key_padding_mask=~keep)
    else:
        inputs = [x, memory]
        tril = causal_mask(lt)
        out = mine(x, memory, tril, keep[:, None, None, :])
        want = ref(x, memory, tgt_mask=to_blocked(tril), memory_key_padding_mask=~keep)
    _close(out, want, dtype, "output")
    _compare_grads(mine, ref, inputs, out, want, gen, dtype, d)


def test_bias_false_is_built_and_counted():
    config = TransformerConfig(vocab_size=9, d_model=8, num_heads=2, num_encoder_layers=1,
                               num_decoder_layers=1, d_ff=16, tie_embeddings=False)  # fmt: skip
    with_bias, without = Transformer(config), Transformer(config.replace(bias=False))
    core = nn.Transformer(8, 2, 1, 1, 16, bias=False, batch_first=True)
    biases = sum(p.numel() for n, p in with_bias.named_parameters() if n.endswith("bias"))
    assert (
        sum(p.numel() for p in without.parameters())
        == sum(p.numel() for p in with_bias.parameters()) - biases
    )
    layers = sum(p.numel() for n, p in without.named_parameters() if n.startswith(("encoder", "decoder")))
    assert layers == sum(p.numel() for p in core.parameters())
    assert FeedForward(4, 8, bias=False).linear1.bias is None and AddNorm(4, bias=False).norm.bias is None
    assert not EncoderLayer(4, 2, 8, bias=False).bias and DecoderLayer(4, 2, 8).bias


@pytest.mark.parametrize("theirs", [True, False])
def test_load_from_torch_refuses_the_other_bias_by_name(theirs):
    mine = not theirs
    want = rf"must have bias={mine}.*got bias={theirs}"
    with pytest.raises(ValueError, match=r"^layer " + want):
        EncoderLayer(8, 2, 16, bias=mine).load_from_torch(nn.TransformerEncoderLayer(8, 2, 16, bias=theirs))
    with pytest.raises(ValueError, match=r"^layer " + want):
        DecoderLayer(8, 2, 16, bias=mine).load_from_torch(nn.TransformerDecoderLayer(8, 2, 16, bias=theirs))
    config = TransformerConfig(vocab_size=5, d_model=8, num_heads=2, num_encoder_layers=1,
                               num_decoder_layers=1, d_ff=16, bias=mine)  # fmt: skip
    core = nn.Transformer(8, 2, 1, 1, 16, bias=theirs, batch_first=True)
    with pytest.raises(ValueError, match=r"^transformer\.encoder\.layers\[0\] " + want):
        Transformer(config).load_from_torch(core)
    # The layers agree, the final norm does not.
    core = nn.Transformer(8, 2, 1, 1, 16, bias=mine, batch_first=True)
    core.decoder.norm = nn.LayerNorm(8, bias=theirs)
    with pytest.raises(ValueError, match=r"transformer\.decoder\.norm must be a LayerNorm .* bias"):
        Transformer(config).load_from_torch(core)


def test_load_from_torch_refuses_a_part_of_another_design_by_name():
    """A layer whose parts were swapped after it was built: each named, not a RuntimeError
    from load_state_dict ("Missing key(s)", "size mismatch")."""
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    layer.linear2 = nn.Linear(16, 8, bias=False)
    with pytest.raises(ValueError, match=r"layer\.linear2 must be an nn\.Linear with parameters"):
        EncoderLayer(8, 2, 16).load_from_torch(layer)
    layer = nn.TransformerDecoderLayer(8, 2, 16)
    layer.norm3 = nn.LayerNorm(8, eps=0.1)
    with pytest.raises(ValueError, match=r"layer\.norm3 must have eps=1e-05.*got 0\.1"):
        DecoderLayer(8, 2, 16).load_from_torch(layer)


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize(("module", "name"), [(nn.ReLU(), "relu"), (nn.GELU(), "gelu")])
def test_an_activation_given_to_pytorch_as_a_module_is_copied(kind, module, name):
    """nn.TransformerEncoderLayer(activation=nn.GELU()) keeps the module, not F.gelu: the
    same function, so lib's layer of that activation copies it and computes the same."""
    torch.manual_seed(0)
    if kind == "encoder":
        theirs = nn.TransformerEncoderLayer(8, 2, 16, 0.0, activation=module, batch_first=True)
        mine = EncoderLayer(8, 2, 16, 0.0, activation=name).load_from_torch(theirs)
        args = (torch.randn(2, 5, 8),)
    else:
        theirs = nn.TransformerDecoderLayer(8, 2, 16, 0.0, activation=module, batch_first=True)
        mine = DecoderLayer(8, 2, 16, 0.0, activation=name).load_from_torch(theirs)
        args = (torch.randn(2, 5, 8), torch.randn(2, 3, 8))
    torch.testing.assert_close(mine(*args), theirs(*args))


def test_the_tanh_gelu_is_refused_by_name():
    """GELU(approximate="tanh") is another curve (GPT-2's): lib has none, so it refuses it."""
    theirs = nn.TransformerEncoderLayer(8, 2, 16, activation=nn.GELU(approximate="tanh"))
    with pytest.raises(ValueError, match=r"layer must use activation 'gelu', got GELU\(approximate='tanh'\)"):
        EncoderLayer(8, 2, 16, activation="gelu").load_from_torch(theirs)


# ---------------------------------------------------------------- num_layers = 0


def test_no_layers_pytorch_builds_but_cannot_run_lib_refuses_by_name():
    """nn.TransformerEncoder(layer, 0) is built, then fails when called, inside ("index 0 is out
    of range", reading its first layer): lib refuses a stack without layers where it is made."""
    x = torch.randn(2, 3, 8)
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 0)
    decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, batch_first=True), 0)
    with pytest.raises(IndexError):
        encoder(x)
    with pytest.raises(IndexError):
        decoder(x, x)
    config = TransformerConfig(vocab_size=5, d_model=8, num_heads=2, d_ff=16)
    with pytest.raises(ValueError, match=r"^num_layers must be a positive int, got 0"):
        Encoder(config, 0)
    with pytest.raises(ValueError, match=r"^num_layers must be a positive int, got 0"):
        Decoder(config, 0)
    for name in ("num_encoder_layers", "num_decoder_layers"):
        with pytest.raises(ValueError, match=rf"^{name} must be a positive int, got 0"):
            config.replace(**{name: 0})


# ---------------------------------------------------------------- MultiHeadAttention


@_cases("mha", 70, cross=None)
def test_multi_head_attention_in_the_corners(s):
    gen = torch.Generator().manual_seed(zlib.crc32(repr(s).encode()))
    dtype, b, h, d, lq, lk = s["dtype"], s["b"], s["h"], s["d"], s["lq"], s["lk"]
    self_attn = not s["cross"]  # then Lq = Lk, and query alone is given
    ref = nn.MultiheadAttention(d, h, dropout=s["drop"], bias=s["bias"], batch_first=True, dtype=dtype)
    _nudge(ref, gen)
    mine = MultiHeadAttention(d, h, bias=s["bias"], dropout=s["drop"]).to(dtype).load_from_torch(ref)
    ref.train(s["train"]), mine.train(s["train"])
    query = _input(gen, (b, lq, d), dtype, s["contiguous"], s["input_grad"])
    key = query if self_attn else _input(gen, (b, lk, d), dtype, s["contiguous"], s["input_grad"])
    mask, causal, allowed = _lib_mask(s["mask"], b, h, lq, lk, gen)
    attn_mask, padding = _torch_mask(s["mask"], allowed)
    empty = ~allowed.any(-1)  # (B, h, Lq): queries with no key

    def lib():
        return mine(query, None if self_attn else key, mask=mask, need_weights=s["weights"], causal=causal)

    out, weights = _run(s["mode"], lib)
    # PyTorch with a gradient and no weights: its kernel, zeros where a query has no key.
    want, _ = ref(query, key, key, attn_mask=attn_mask, key_padding_mask=padding, need_weights=False)
    _close(out, want, dtype, "output")
    if s["mode"] == "grad":
        _compare_grads(mine, ref, [query] if self_attn else [query, key], out, want, gen, dtype, d)
    if not s["weights"]:
        assert weights is None
        return
    with torch.no_grad():  # asked for weights (or evaluating), PyTorch gives NaN where a query has no key
        want2, want_w = ref(query, key, key, attn_mask=attn_mask, key_padding_mask=padding,
                            average_attn_weights=s["average"])  # fmt: skip
    nan_rows = ~torch.isfinite(want2).all(-1)  # (B, Lq)
    assert torch.equal(nan_rows, empty.any(1)), "PyTorch's NaN rows are the queries that see no key"
    _close(out[~nan_rows], want2[~nan_rows], dtype, "output where PyTorch's is finite")
    assert torch.isfinite(out).all() and torch.isfinite(weights).all()
    assert weights.shape == (b, h, lq, lk) and bool((weights[empty] == 0).all())
    got_w = weights.mean(1) if s["average"] else weights
    rows = ~empty.any(1) if s["average"] else ~empty
    _close(got_w[rows], want_w[rows], dtype, "weights")


# ---------------------------------------------------------------- layers and stacks


def _layer_pair(s, decoder, layers=None):
    dtype = s["dtype"]
    options = dict(dropout=s["drop"], norm_first=s["norm_first"], activation=s["act"], bias=s["bias"])
    torch_class = nn.TransformerDecoderLayer if decoder else nn.TransformerEncoderLayer
    ref = torch_class(
        s["d"], s["h"], s["ff"], batch_first=True, layer_norm_eps=s["eps"], dtype=dtype, **options
    )
    if layers is None:
        mine = (DecoderLayer if decoder else EncoderLayer)(s["d"], s["h"], s["ff"], eps=s["eps"], **options)
    else:
        norm = nn.LayerNorm(s["d"], eps=s["eps"], bias=s["bias"], dtype=dtype)
        stack_class = nn.TransformerDecoder if decoder else nn.TransformerEncoder
        extra = {} if decoder else dict(enable_nested_tensor=False)
        ref = stack_class(ref, layers, norm=norm, **extra)
        sizes = dict(d_model=s["d"], num_heads=s["h"], d_ff=s["ff"], eps=s["eps"])
        config = TransformerConfig(vocab_size=5, num_encoder_layers=layers, num_decoder_layers=layers,
                                   **sizes, **options)  # fmt: skip
        mine = (Decoder if decoder else Encoder)(config)
    _nudge(ref, torch.Generator().manual_seed(s["ff"] + s["d"]))
    mine = mine.to(dtype).load_from_torch(ref)
    ref.train(s["train"]), mine.train(s["train"])
    return ref, mine


def _check_layer(s, mine, ref, out, want, inputs, gen):
    """lib against PyTorch with a gradient (its kernel: zeros for a query with no key)
    everywhere, outputs and the gradients of the inputs and every parameter."""
    dtype = s["dtype"]
    _close(out, want, dtype, "output")
    assert torch.isfinite(out).all()
    _compare_grads(mine, ref, inputs, out, want, gen, dtype, s["d"])


@_cases("encoder", 45, cross=False)
def test_encoder_layer_and_stack_in_the_corners(s):
    gen = torch.Generator().manual_seed(zlib.crc32(repr(s).encode()))
    layers = [None, 1, 2, 3][s["ff"] % 4 if s["b"] > 1 else 0]
    ref, mine = _layer_pair(s, decoder=False, layers=layers)
    b, h, length = s["b"], s["h"], s["lq"]
    x = _input(gen, (b, length, s["d"]), s["dtype"], s["contiguous"], s["input_grad"])
    mask, causal, allowed = _lib_mask(s["mask"], b, h, length, length, gen)
    attn_mask, padding = _torch_mask(s["mask"], allowed)
    out = mine(x, mask, need_weights=s["weights"], causal=causal)
    want = ref(x, attn_mask, src_key_padding_mask=padding, is_causal=s["mask"] == "causal")
    if s["weights"] and layers is None:
        _compare_layer_weights(s, mine, ref, x, attn_mask, padding, allowed)
    elif s["weights"]:
        assert [w.shape for w in mine.attention_weights()] == [(b, h, length, length)] * layers
    _check_layer(s, mine, ref, out, want, [x], gen)
    again = _run(s["mode"], lambda: mine(x, mask, need_weights=not s["weights"], causal=causal))
    _close(again, out.detach(), s["dtype"], f"output under {s['mode']}, weights kept or not")
    with torch.no_grad():  # PyTorch's inference path: NaN where a query has no key, else lib's
        fast = ref.eval()(x, attn_mask, src_key_padding_mask=padding)
        mine.eval()
        lib_eval = mine(x, mask, causal=causal)
    finite = torch.isfinite(fast).all(-1)
    if layers is None:  # one layer: NaN stays in the rows of the queries that see no key
        assert not bool((~finite & ~empty_rows(allowed)).any())
    _close(lib_eval[finite], fast[finite], s["dtype"], "output where PyTorch's inference path is finite")


def _compare_layer_weights(s, mine, ref, x, attn_mask, padding, allowed):
    """The layer's kept weights (B, h, L, L) against its PyTorch twin's self-attention, asked
    for them on the same input (x, or norm1(x) pre-norm): NaN exactly where a query has no
    key, where lib's are zeros."""
    h_in = ref.norm1(x) if s["norm_first"] else x
    with torch.no_grad():
        _, want_w = ref.self_attn(h_in, h_in, h_in, attn_mask=attn_mask, key_padding_mask=padding,
                                  average_attn_weights=False)  # fmt: skip
    got_w, empty = mine.self_attn_weights, ~allowed.any(-1)  # (B, h, L, L), (B, h, L)
    assert torch.equal(~torch.isfinite(want_w).all(-1), empty)
    _close(got_w[~empty].detach(), want_w[~empty], s["dtype"], "weights")
    assert bool((got_w[empty] == 0).all()) and bool((got_w[~allowed] == 0).all())


def empty_rows(allowed: torch.Tensor) -> torch.Tensor:
    """(B, h, Lq, Lk) allowed → (B, Lq): the queries with no key in some head."""
    return (~allowed.any(-1)).any(1)


@_cases("decoder", 40, cross=True)
def test_decoder_layer_and_stack_in_the_corners(s):
    gen = torch.Generator().manual_seed(zlib.crc32(repr(s).encode()))
    layers = [None, 1, 2][s["ff"] % 3 if s["b"] > 1 else 0]
    ref, mine = _layer_pair(s, decoder=True, layers=layers)
    b, h, lt, ls = s["b"], s["h"], s["lq"], s["lk"]
    x = _input(gen, (b, lt, s["d"]), s["dtype"], s["contiguous"], s["input_grad"])
    memory = _input(gen, (b, ls, s["d"]), s["dtype"], not s["contiguous"], True)
    self_mask = causal_mask(lt) & (torch.rand(b, 1, lt, lt, generator=gen) < 0.8)
    self_mask[..., 0] = True  # every target position sees itself: the cross mask makes the empty rows
    cross_mask, _, cross_allowed = _lib_mask(s["mask"], b, h, lt, ls, gen)
    tgt_mask = to_blocked(self_mask.expand(b, h, lt, lt).reshape(b * h, lt, lt))
    memory_mask, memory_padding = _torch_mask(s["mask"], cross_allowed)
    out = mine(x, memory, self_mask, cross_mask, need_weights=s["weights"])
    if s["weights"] and layers is None:
        assert mine.self_attn_weights.shape == (b, h, lt, lt)
        assert mine.cross_attn_weights.shape == (b, h, lt, ls)
        assert bool((mine.cross_attn_weights[~cross_allowed] == 0).all())
        sums = mine.cross_attn_weights.sum(-1)  # 1 for a query with keys, 0 for one without
        _close(sums, cross_allowed.any(-1).to(sums.dtype), s["dtype"], "cross weights' row sums")
    want = ref(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask, memory_key_padding_mask=memory_padding)
    _check_layer(s, mine, ref, out, want, [x, memory], gen)
    again = _run(s["mode"], lambda: mine(x, memory, self_mask, cross_mask, need_weights=not s["weights"]))
    _close(again, out.detach(), s["dtype"], f"output under {s['mode']}")


def test_the_sweep_covers_what_it_claims():
    cross = {"mha": None, "encoder": False, "decoder": True}
    cases = [_sizes(random.Random(f"third-{k}-{i}"), cross[k]) for k, n in
             (("mha", 70), ("encoder", 45), ("decoder", 40)) for i in range(n)]  # fmt: skip
    assert {c["mask"] for c in cases} == set(MASKS)
    assert {c["cross"] for c in cases if c["lq"] == 1} == {False, True}
    assert {c["mode"] for c in cases} == set(MODES)
    for key in ("weights", "average", "train", "contiguous", "input_grad", "bias", "norm_first"):
        assert {c[key] for c in cases} == {False, True}, key
    assert {c["dtype"] for c in cases} == set(DTYPES)
    assert any(c["b"] == 1 and c["lq"] == 1 for c in cases)
    assert any(c["h"] == 1 for c in cases) and any(c["d"] == c["h"] for c in cases)  # d_head = 1
    assert {c["eps"] for c in cases} == {1e-5, 1e-6, 1e-2, 1.0}
    assert any(not c["train"] and c["drop"] > 0 for c in cases)


@pytest.mark.parametrize(
    ("given", "name"),
    [(F.relu, "relu"), (torch.relu, "relu"), (nn.ReLU(), "relu"), (F.gelu, "gelu"), (nn.GELU(), "gelu")],
)
def test_lib_takes_an_activation_the_ways_pytorch_does(given, name):
    """nn.TransformerEncoderLayer(activation=F.gelu) or (activation=nn.GELU()): lib's layers and
    config take the same and keep its name; the layer then equals PyTorch's."""
    torch.manual_seed(0)
    theirs = nn.TransformerEncoderLayer(8, 2, 16, 0.0, activation=given, batch_first=True)
    mine = EncoderLayer(8, 2, 16, 0.0, activation=given)
    assert mine.feed_forward.activation == name
    assert TransformerConfig(d_model=8, num_heads=2, d_ff=16, activation=given).activation == name
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(mine.load_from_torch(theirs)(x), theirs(x))


@pytest.mark.parametrize("given", [nn.GELU(approximate="tanh"), nn.SiLU(), torch.tanh, "swish"])
def test_an_activation_lib_lacks_is_refused_by_name(given):
    with pytest.raises(ValueError, match=r"activation must be one of \['gelu', 'relu'\] \(or F\.relu"):
        EncoderLayer(8, 2, 16, activation=given)
    with pytest.raises(ValueError, match=r"activation must be one of"):
        TransformerConfig(d_model=8, num_heads=2, d_ff=16, activation=given)
