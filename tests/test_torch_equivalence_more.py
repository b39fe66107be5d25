"""lib against PyTorch, from PyTorch's side: its mask forms and flags, and the KV cache under
autocast and inference mode.

``test_torch_equivalence_fuzz`` builds lib's masks and converts them for PyTorch. Here a
seeded sweep starts from what a PyTorch user passes — float additive masks, (B·h, Lq, Lk)
masks, float key padding masks, ``generate_square_subsequent_mask`` with ``is_causal``,
``average_attn_weights``, ``batch_first=False`` modules, activations given as callables,
``nn.Transformer`` with src, tgt and memory masks — and converts each to lib's one
convention (a bool mask, True = may attend). Heads of 1 to 64 dimensions, up to 24 narrow
heads over up to 40 positions (``narrow_heads`` when training), and the cached steps of
``MultiHeadAttention`` and ``EncoderLayer`` in chunks of any size. Outputs, weights and the
gradients of inputs and parameters must be PyTorch's, wherever PyTorch's are finite (a
query with no key gets zeros in lib, NaN in ``nn.MultiheadAttention``: see that file).

The regression tests first: a KV cache filled under ``torch.autocast`` was refused on its
second step as "not from this model" (its keys are in autocast's dtype, not the weights'),
and one filled under ``torch.inference_mode()`` crashed with a raw RuntimeError when the
next step ran outside it.
"""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from test_torch_equivalence_fuzz import _torch_name
from torch import nn
from transformer_course.attention import MultiHeadAttention
from transformer_course.kv_cache import KVCache
from transformer_course.layers import DecoderLayer, EncoderLayer
from transformer_course.model import DecoderOnlyTransformer, Transformer, TransformerConfig

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True", "ignore:Converting mask")

TOL = {torch.float32: dict(atol=1e-4, rtol=1e-3), torch.float64: dict(atol=1e-9, rtol=1e-7)}
DTYPES = {"f32": torch.float32, "f64": torch.float64}


def _gpt(dtype=torch.float32) -> DecoderOnlyTransformer:
    config = TransformerConfig(
        vocab_size=7, d_model=8, num_heads=2, num_decoder_layers=2, d_ff=16, max_len=10, dropout=0.0
    )
    return DecoderOnlyTransformer(config).to(dtype).eval()


# ---------------------------------------------------------------- the KV cache: regressions


def test_cached_steps_under_autocast_equal_the_forward_under_autocast():
    """Under autocast the cached keys are bfloat16 (float64 is not cast): the next step was
    refused ("cache must come from this model's new_cache()") as the weights are float32."""
    ids = torch.randint(1, 7, (2, 6))
    for dtype, key_dtype in ((torch.float32, torch.bfloat16), (torch.float64, torch.float64)):
        model = _gpt(dtype)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            cache = model.new_cache()
            parts = [model.step(ids[:, :3], cache)] + [
                model.step(ids[:, t : t + 1], cache) for t in (3, 4, 5)
            ]
            whole = model(ids)
        assert cache.keys[0].dtype == key_dtype
        torch.testing.assert_close(torch.cat(parts, 1), whole)


def test_a_layers_cached_steps_under_autocast_equal_its_causal_forward():
    """EncoderLayer.forward_cached (and MultiHeadAttention's) compared x's dtype with the
    cached keys' and refused the second step: x is float32, the keys bfloat16."""
    layer, x = EncoderLayer(8, 2, 16, 0.0).eval(), torch.randn(2, 4, 8)
    cache = KVCache(1, 4)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        steps = [layer.forward_cached(x[:, t : t + 1], cache, 0) for t in range(4)]
        whole = layer(x, causal=True)
    torch.testing.assert_close(torch.cat(steps, 1), whole)


def test_a_cache_filled_under_autocast_is_refused_by_name_outside_it():
    model, ids = _gpt(), torch.randint(1, 7, (1, 4))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cache = model.new_cache()
        model.step(ids[:, :2], cache)
    with pytest.raises(ValueError, match=r"cache must come from this model.*autocast"):
        model.step(ids[:, 2:3], cache)
    layer_cache = KVCache(1, 4)
    attention = MultiHeadAttention(8, 2)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        attention.forward_cached(torch.randn(1, 1, 8), layer_cache, 0)
    with torch.no_grad(), pytest.raises(ValueError, match=r"x makes keys of dtype torch\.float32.*bfloat16"):
        attention.forward_cached(torch.randn(1, 1, 8), layer_cache, 0)


def test_a_cache_filled_in_inference_mode_goes_on_outside_it():
    """Inference tensors cannot be written outside inference mode: the next step raised
    "Inplace update to inference tensor outside InferenceMode"."""
    model, ids = _gpt(), torch.randint(1, 7, (2, 6))
    cache = model.new_cache()
    with torch.inference_mode():
        first = model.step(ids[:, :3], cache)
    second = model.step(ids[:, 3:5], cache)
    with torch.inference_mode():
        third = model.step(ids[:, 5:], cache)
    with torch.no_grad():
        torch.testing.assert_close(torch.cat([first, second, third], 1), model(ids))


# ---------------------------------------------------------------- the sweep: helpers


def _close(got, want, dtype, what):
    torch.testing.assert_close(got, want, **TOL[dtype], msg=lambda m: f"{what}: {m}")


@torch.no_grad()
def _nudge(module: nn.Module, gen: torch.Generator) -> None:
    """PyTorch starts biases at 0: nudged, they count in the comparison."""
    for p in module.parameters():
        p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.1)


def _heads(rng: random.Random) -> tuple[int, int]:
    """(d_model, h): many narrow heads, one head of 1–3 dimensions, or a few of up to 64."""
    r = rng.random()
    if r < 0.4:
        d_head, h = rng.randint(1, 8), rng.randint(1, 24)
    elif r < 0.55:
        d_head, h = rng.randint(1, 3), 1
    else:
        d_head, h = rng.choice([9, 16, 32, 64]), rng.randint(1, 4)
    return d_head * h, h


def _blocked(mask: torch.Tensor, as_float: bool, dtype: torch.dtype) -> torch.Tensor:
    """lib's mask (True = may attend) → PyTorch's: True = blocked, or additive 0 / −∞."""
    if not as_float:
        return ~mask
    return torch.zeros(mask.shape, dtype=dtype).masked_fill(~mask, float("-inf"))


def _compare_grads(mine, ref, inputs, out, want, gen, dtype, d_model):
    """Gradients of the inputs and of every parameter, lib's against PyTorch's."""
    g = torch.randn(out.shape, generator=gen, dtype=dtype)
    got = torch.autograd.grad((out * g).sum(), inputs + list(mine.parameters()), allow_unused=True)
    exp = torch.autograd.grad((want * g).sum(), inputs + list(ref.parameters()), allow_unused=True)
    for i, (a, e) in enumerate(zip(got[: len(inputs)], exp)):
        _close(a, e, dtype, f"grad of input {i}")
    theirs = dict(zip((n for n, _ in ref.named_parameters()), exp[len(inputs) :]))
    for (name, _), a in zip(mine.named_parameters(), got[len(inputs) :]):
        torch_name, third = _torch_name(name)
        e = theirs[torch_name]
        _close(
            a, e if third is None else e[third * d_model : (third + 1) * d_model], dtype, f"grad of {name}"
        )


def _cases(kind: str, count: int):
    return pytest.mark.parametrize("index", range(count), ids=lambda i: f"{kind}-{i:02d}")


# ---------------------------------------------------------------- MultiHeadAttention

MHA_MASKS = (
    "none",
    "LL",
    "LL float",
    "BhLL",
    "BhLL float",
    "padding",
    "padding float",
    "causal",
    "causal+LL",
)


@_cases("mha", 100)
def test_multi_head_attention_equals_nn_multihead_attention_given_pytorchs_masks(index):
    rng, gen = random.Random(f"more-mha-{index}"), torch.Generator().manual_seed(index)
    d, h = _heads(rng)
    b, lq = rng.choice([1, 1, 2, 3]), rng.choice([1, rng.randint(1, 12)])
    self_attn = rng.random() < 0.5
    lk = lq if self_attn else rng.choice([1, rng.randint(1, 12)])
    dtype, kind = DTYPES[rng.choice(list(DTYPES))], rng.choice(MHA_MASKS)
    batch_first, need_weights, average = rng.random() < 0.7, rng.random() < 0.5, rng.random() < 0.5
    if kind.startswith("causal") and not self_attn:
        kind = "LL"
    ref = nn.MultiheadAttention(d, h, bias=rng.random() < 0.7, batch_first=batch_first, dtype=dtype)
    _nudge(ref, gen)
    mine = MultiHeadAttention(d, h, bias=ref.in_proj_bias is not None).to(dtype).load_from_torch(ref)
    train = rng.random() < 0.5
    ref.train(train), mine.train(train)
    query = torch.randn(b, lq, d, generator=gen, dtype=dtype, requires_grad=True)
    key = query if self_attn else torch.randn(b, lk, d, generator=gen, dtype=dtype, requires_grad=True)

    # PyTorch's masks, and the (B, h, Lq, Lk) that lib is given: allowed where neither blocks.
    allowed = torch.ones(b, h, lq, lk, dtype=torch.bool)
    attn_mask, padding, is_causal = None, None, False
    if kind.startswith(("LL", "causal+LL")):
        m = torch.rand(lq, lk, generator=gen) < 0.7
        attn_mask, allowed = _blocked(m, kind.endswith("float"), dtype), allowed & m
    if kind.startswith("BhLL"):
        m = torch.rand(b, h, lq, lk, generator=gen) < 0.7
        attn_mask = _blocked(m.reshape(b * h, lq, lk), kind.endswith("float"), dtype)
        allowed = allowed & m
    if kind.startswith("padding"):
        keep = torch.arange(lk)[None] < torch.randint(0, lk + 1, (b,), generator=gen)[:, None]
        padding, allowed = _blocked(keep, kind.endswith("float"), dtype), allowed & keep[:, None, None]
    if kind.startswith("causal"):
        square = nn.Transformer.generate_square_subsequent_mask(lq, dtype=dtype)  # −∞ above the diagonal
        attn_mask = square if attn_mask is None else torch.isinf(square) | attn_mask
        is_causal, allowed = kind == "causal", allowed & torch.ones(lq, lk, dtype=torch.bool).tril()
    lib_mask = None if kind == "none" else allowed

    out, weights = mine(query, key, mask=lib_mask, need_weights=need_weights)
    flip = (lambda x: x) if batch_first else (lambda x: x.transpose(0, 1))  # (L, B, d) for PyTorch
    want, want_w = ref(
        flip(query),
        flip(key),
        flip(key),
        attn_mask=attn_mask,
        key_padding_mask=padding,
        need_weights=need_weights,
        average_attn_weights=average,
        is_causal=is_causal,
    )
    want = flip(want)
    empty = ~allowed.any(-1)  # (B, h, Lq): a query with no key, NaN in PyTorch
    finite = torch.isfinite(want).all(-1)
    _close(out[finite], want[finite], dtype, "output")
    if need_weights:
        rows = ~empty.any(1) if average else ~empty
        _close((weights.mean(1) if average else weights)[rows], want_w[rows], dtype, "weights")
    if not bool(empty.any()):
        inputs = [query] if self_attn else [query, key]
        _compare_grads(mine, ref, inputs, out, want, gen, dtype, d)


# ---------------------------------------------------------------- encoder and decoder layers

ACTIVATIONS = {
    "relu": ("relu", "relu"),
    "gelu": ("gelu", "gelu"),
    "F.relu": (F.relu, "relu"),
    "F.gelu": (F.gelu, "gelu"),
}


def _layer_pair(rng, gen, torch_class, lib_class):
    d, h = _heads(rng)
    dtype, eps = DTYPES[rng.choice(list(DTYPES))], rng.choice([1e-5, 1e-3, 0.3])
    theirs, ours = ACTIVATIONS[rng.choice(list(ACTIVATIONS))]
    norm_first, ff = rng.random() < 0.5, rng.choice([1, 7, 2 * d])
    ref = torch_class(d, h, ff, 0.0, theirs, eps, batch_first=True, norm_first=norm_first, dtype=dtype)
    _nudge(ref, gen)
    mine = lib_class(d, h, ff, 0.0, norm_first=norm_first, activation=ours, eps=eps)
    mine = mine.to(dtype).load_from_torch(ref)
    train = rng.random() < 0.5
    ref.train(train), mine.train(train)
    return ref, mine, d, h, dtype


def _self_masks(rng, gen, b, length, dtype):
    """PyTorch's (mask, key padding mask, is_causal) for a self-attention, and lib's mask."""
    kind = rng.choice(["none", "LL", "LL float", "padding", "padding float", "causal", "causal+padding"])
    lib, mask, padding, is_causal = None, None, None, False
    if kind.startswith("LL"):
        lib = torch.rand(length, length, generator=gen) < 0.7
        lib[:, 0] = True  # every query sees a key: PyTorch's numbers stay finite
        mask = _blocked(lib, kind.endswith("float"), dtype)
    if "padding" in kind:
        keep = torch.arange(length)[None] < torch.randint(1, length + 1, (b,), generator=gen)[:, None]
        lib = keep[:, None, None, :]
        padding = _blocked(keep, kind.endswith("float"), dtype)
    if kind.startswith("causal"):
        tril = torch.ones(length, length, dtype=torch.bool).tril()
        lib = tril if lib is None else lib & tril
        mask = nn.Transformer.generate_square_subsequent_mask(length, dtype=dtype)
        mask = torch.isinf(mask) if padding is not None else mask  # the kind of the padding mask
        is_causal = kind == "causal"
    return lib, mask, padding, is_causal


@_cases("encoder", 60)
def test_encoder_layer_equals_nn_transformer_encoder_layer_given_pytorchs_masks(index):
    rng, gen = random.Random(f"more-encoder-{index}"), torch.Generator().manual_seed(index)
    ref, mine, d, h, dtype = _layer_pair(rng, gen, nn.TransformerEncoderLayer, EncoderLayer)
    b, length = rng.choice([1, 2, 3]), rng.choice([1, rng.randint(1, 12)])
    x = torch.randn(b, length, d, generator=gen, dtype=dtype, requires_grad=True)
    lib, mask, padding, is_causal = _self_masks(rng, gen, b, length, dtype)
    out = mine(x, lib, need_weights=rng.random() < 0.3)
    want = ref(x, src_mask=mask, src_key_padding_mask=padding, is_causal=is_causal)
    _close(out, want, dtype, "output")
    _compare_grads(mine, ref, [x], out, want, gen, dtype, d)


@_cases("decoder", 60)
def test_decoder_layer_equals_nn_transformer_decoder_layer_given_pytorchs_masks(index):
    rng, gen = random.Random(f"more-decoder-{index}"), torch.Generator().manual_seed(index)
    ref, mine, d, h, dtype = _layer_pair(rng, gen, nn.TransformerDecoderLayer, DecoderLayer)
    b, lt, ls = (
        rng.choice([1, 2, 3]),
        rng.choice([1, rng.randint(1, 12)]),
        rng.choice([1, rng.randint(1, 12)]),
    )
    x = torch.randn(b, lt, d, generator=gen, dtype=dtype, requires_grad=True)
    memory = torch.randn(b, ls, d, generator=gen, dtype=dtype, requires_grad=True)
    lib, mask, padding, is_causal = _self_masks(rng, gen, b, lt, dtype)
    cross = torch.rand(lt, ls, generator=gen) < 0.7
    cross[:, 0] = True
    memory_mask = _blocked(cross, rng.random() < 0.5, dtype) if rng.random() < 0.5 else None
    out = mine(x, memory, lib, None if memory_mask is None else cross, need_weights=rng.random() < 0.3)
    want = ref(
        x,
        memory,
        tgt_mask=mask,
        memory_mask=memory_mask,
        tgt_key_padding_mask=padding,
        tgt_is_causal=is_causal,
    )
    _close(out, want, dtype, "output")
    _compare_grads(mine, ref, [x, memory], out, want, gen, dtype, d)


# ---------------------------------------------------------------- nn.Transformer


@_cases("transformer", 24)
def test_encoder_and_decoder_equal_nn_transformer_with_every_mask(index):
    """lib's stacks, loaded by Transformer.load_from_torch, against nn.Transformer given src,
    tgt and memory masks and the three key padding masks (every sentence keeps a real token)."""
    rng, gen = random.Random(f"more-transformer-{index}"), torch.Generator().manual_seed(index)
    torch.manual_seed(index)
    d, h = _heads(rng)
    b, ls, lt = rng.choice([1, 2, 3]), rng.choice([1, rng.randint(1, 9)]), rng.choice([1, rng.randint(1, 9)])
    layers, dtype, norm_first = (
        (rng.randint(1, 2), rng.randint(1, 2)),
        DTYPES[rng.choice(list(DTYPES))],
        rng.random() < 0.5,
    )
    act, eps, ff = rng.choice(["relu", "gelu"]), rng.choice([1e-5, 1e-3]), rng.choice([4, 2 * d])
    core = nn.Transformer(
        d, h, *layers, ff, 0.0, act, layer_norm_eps=eps, batch_first=True, norm_first=norm_first, dtype=dtype
    )
    _nudge(core, gen)
    config = TransformerConfig(
        vocab_size=5,
        d_model=d,
        num_heads=h,
        num_encoder_layers=layers[0],
        num_decoder_layers=layers[1],
        d_ff=ff,
        dropout=0.0,
        max_len=16,
        norm_first=norm_first,
        activation=act,
        eps=eps,
    )
    model = Transformer(config).to(dtype).load_from_torch(core)
    train = rng.random() < 0.5
    core.train(train), model.train(train)
    src = torch.randn(b, ls, d, generator=gen, dtype=dtype, requires_grad=True)
    tgt = torch.randn(b, lt, d, generator=gen, dtype=dtype, requires_grad=True)

    def allowed(lq, lk):  # a random mask in which every query keeps key 0
        m = torch.rand(lq, lk, generator=gen) < 0.75
        m[:, 0] = True
        return m

    src_allowed, memory_allowed = allowed(ls, ls), allowed(lt, ls)
    tgt_allowed = torch.ones(lt, lt, dtype=torch.bool).tril()
    src_keep = torch.arange(ls)[None] < torch.randint(1, ls + 1, (b,), generator=gen)[:, None]
    tgt_keep = torch.arange(lt)[None] < torch.randint(1, lt + 1, (b,), generator=gen)[:, None]
    memory = model.encoder(src, src_allowed & src_keep[:, None, None])
    out = model.decoder(
        tgt, memory, tgt_allowed & tgt_keep[:, None, None], memory_allowed & src_keep[:, None, None]
    )
    want = core(
        src,
        tgt,
        src_mask=~src_allowed,
        tgt_mask=~tgt_allowed,
        memory_mask=~memory_allowed,
        src_key_padding_mask=~src_keep,
        tgt_key_padding_mask=~tgt_keep,
        memory_key_padding_mask=~src_keep,
    )
    _close(out, want, dtype, "output")
    stacks = nn.ModuleDict(dict(encoder=model.encoder, decoder=model.decoder))  # named as in core
    _compare_grads(stacks, core, [src, tgt], out, want, gen, dtype, d)


# ---------------------------------------------------------------- narrow heads and cached steps


@_cases("narrow", 40)
def test_narrow_heads_train_as_nn_multihead_attention_over_long_sequences(index):
    """Up to 24 heads of ≤ 8 dimensions over up to 40 positions, training (narrow_heads' own
    forward and backward), with lib's broadcasting masks and the causal flag."""
    rng, gen = random.Random(f"more-narrow-{index}"), torch.Generator().manual_seed(index)
    h, d_head = rng.randint(1, 24), rng.randint(1, 8)
    d, b, length = h * d_head, rng.choice([1, 2]), rng.choice([1, rng.randint(1, 40)])
    dtype = DTYPES[rng.choice(list(DTYPES))]
    ref = nn.MultiheadAttention(d, h, batch_first=True, dtype=dtype)
    _nudge(ref, gen)
    mine = MultiHeadAttention(d, h).to(dtype).load_from_torch(ref).train()
    x = torch.randn(b, length, d, generator=gen, dtype=dtype, requires_grad=True)
    kind = rng.choice(["none", "causal", "(B, 1, 1, L)", "(L, L)", "(B, h, L, L)"])
    shape = {
        "(B, 1, 1, L)": (b, 1, 1, length),
        "(L, L)": (length, length),
        "(B, h, L, L)": (b, h, length, length),
    }
    mask = torch.rand(shape[kind], generator=gen) < 0.8 if kind in shape else None
    if mask is not None:
        mask[..., 0] = True  # every query sees a key
    out, _ = mine(x, mask=mask, need_weights=False, causal=kind == "causal")
    allowed = torch.ones(b, h, length, length, dtype=torch.bool)
    allowed = allowed.tril() if kind == "causal" else allowed if mask is None else allowed & mask
    want, _ = ref(x, x, x, attn_mask=~allowed.reshape(b * h, length, length), need_weights=False)
    _close(out, want, dtype, "output")
    _compare_grads(mine, ref, [x], out, want, gen, dtype, d)


@_cases("cached", 40)
def test_cached_chunks_equal_the_causal_forward(index):
    """MultiHeadAttention or EncoderLayer, positions fed to the cache in chunks of any size
    (a chunk of T > 1 with its own causal mask): the causal forward's outputs and weights."""
    rng, gen = random.Random(f"more-cached-{index}"), torch.Generator().manual_seed(index)
    torch.manual_seed(index)
    d, h = _heads(rng)
    b, length, dtype = rng.choice([1, 2]), rng.randint(1, 12), DTYPES[rng.choice(list(DTYPES))]
    layer = rng.random() < 0.5
    module = (
        EncoderLayer(d, h, 2 * d, 0.0, norm_first=rng.random() < 0.5) if layer else MultiHeadAttention(d, h)
    )
    module = module.to(dtype).eval()
    x = torch.randn(b, length, d, generator=gen, dtype=dtype)

    def run(*args, **kwargs):  # (output, weights) from either module
        if layer:
            out = module.forward_cached(*args, **kwargs) if args[1:] else module(*args, **kwargs)
            return out, module.self_attn_weights
        return module.forward_cached(*args, **kwargs) if args[1:] else module(*args, **kwargs)

    with torch.no_grad():
        whole, whole_w = run(x, causal=True, need_weights=True)
        cache, start, parts = KVCache(1, length + rng.randint(0, 3)), 0, []
        while start < length:
            new = rng.randint(1, length - start)
            mask = torch.ones(new, start + new, dtype=torch.bool).tril(start) if new > 1 else None
            out, weights = run(x[:, start : start + new], cache, 0, mask, need_weights=True)
            _close(weights, whole_w[:, :, start : start + new, : start + new], dtype, f"weights at {start}")
            parts.append(out)
            start += new
    _close(torch.cat(parts, 1), whole, dtype, "cached outputs")
