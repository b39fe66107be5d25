"""lib equals PyTorch on a seeded sweep of random configurations, forward and backward.

Each case draws its sizes from its own seed: batch 1–3, lengths 1–9 (cross-attention with
Lq ≠ Lk, and length 1), heads of 1–32 dimensions (those of at most 8 take ``narrow_heads``
when a gradient is wanted and no weights are), float32 and float64, training (dropout 0)
and evaluation (dropout 0 or 0.3, which then does nothing), with and without weights, with
and without biases, pre- and post-norm, ReLU and GELU, LayerNorm eps, and masks of every
shape lib accepts: none, causal, key padding (some sentences with no key at all), and
arbitrary (), (Lk,), (Lq, Lk), (B, Lq, Lk), (B, 1, 1, Lk), (B, 1, Lq, Lk) and
(B, h, Lq, Lk) masks. Outputs, attention weights and the gradients of inputs and
parameters are compared with PyTorch's own functions and layers holding the same weights;
lib also runs without gradients (its in-place and fused paths) and must give the same.
The KV cache's steps (random prompt and chunk lengths, padding anywhere, up to max_len)
must give the logits and weights of the whole sequence's forward.

Where lib and PyTorch differ by design, the comparison follows lib's documented choice:

- A query with no key to attend to gets zero weights (and an output of zeros before W_O),
  as ``F.scaled_dot_product_attention`` gives; ``nn.MultiheadAttention`` returns NaN there
  when it computes the weights (and its eval fast path does). There lib is compared with
  PyTorch wherever PyTorch's numbers are finite, and with ``F.scaled_dot_product_attention``
  (PyTorch's kernel, fed PyTorch's weights) everywhere, gradients included.
- lib's 3-D mask is (B, Lq, Lk), one per sentence; ``nn.MultiheadAttention``'s is
  (B·h, Lq, Lk): the sweep repeats lib's mask for each head.

A failure's id names the configuration (kind, index, sizes, dtype, mode, mask) and the
case rebuilds it from that index alone.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformer_course import narrow_heads
from transformer_course.attention import MultiHeadAttention, scaled_dot_product_attention
from transformer_course.layers import DecoderLayer, EncoderLayer
from transformer_course.masks import causal_mask, padding_mask, to_blocked
from transformer_course.model import DecoderOnlyTransformer, Transformer, TransformerConfig
from transformer_course.positional import SinusoidalPositionalEncoding, sinusoidal_encoding
from transformer_course.softmax import stable_softmax

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")

TOL = {torch.float32: dict(atol=5e-5, rtol=1e-4), torch.float64: dict(atol=1e-10, rtol=1e-8)}
DTYPES = {"f32": torch.float32, "f64": torch.float64}
MASKS = ("none", "causal", "pad", "causal+pad", "L", "LL", "BLL", "B11L", "B1LL", "BhLL")


def _close(got, want, dtype, what):
    torch.testing.assert_close(got, want, **TOL[dtype], msg=lambda m: f"{what}: {m}")


@torch.no_grad()
def _nudge(module: nn.Module, gen: torch.Generator | None = None) -> None:
    """Add N(0, 0.1²) to every parameter: PyTorch starts biases at 0, and then they would
    not count in the comparison."""
    for p in module.parameters():
        p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.1)


@dataclass(frozen=True)
class Case:
    """One configuration: ``kind`` and ``index`` make its seed; the rest is drawn from it."""

    kind: str
    index: int
    sizes: dict

    @property
    def seed(self) -> int:
        return zlib.crc32(f"{self.kind}-{self.index}".encode())

    def __str__(self) -> str:
        parts = [
            f"{k}={v}" if not isinstance(v, bool) else (k if v else f"no_{k}") for k, v in self.sizes.items()
        ]
        return f"{self.kind}-{self.index:03d}-" + "-".join(parts)


def _heads(rng: random.Random) -> tuple[int, int]:
    """(d_model, h) with d_head from 1 to 32, narrow heads (≤ 8) half the time."""
    d_head = rng.choice([1, 2, 3, 4, 5, 8]) if rng.random() < 0.5 else rng.choice([9, 12, 16, 24, 32])
    h = rng.choice([1, 1, 2, 3, 4]) if d_head > 8 else rng.randint(1, 4)
    return d_head * h, h


def _mask(kind, b, h, lq, lk, gen):
    """lib's mask for ``kind`` (True = may attend, or None) and whether lib is told ``causal``.

    Random masks allow about three keys in four; key padding leaves each sentence 0 to Lk
    real keys (0: every query of that sentence sees nothing)."""
    causal = kind.startswith("causal")
    if kind in ("none", "causal"):
        return None, causal
    if kind.endswith("pad"):
        real = torch.randint(0, lk + 1, (b,), generator=gen)
        keep = torch.arange(lk)[None, :] < real[:, None]  # (B, Lk): right padding
        return keep[:, None, None, :], causal
    shape = {
        "L": (lk,),
        "LL": (lq, lk),
        "BLL": (b, lq, lk),
        "B11L": (b, 1, 1, lk),
        "B1LL": (b, 1, lq, lk),
        "BhLL": (b, h, lq, lk),
    }[kind]
    return torch.rand(shape, generator=gen) < 0.75, causal


def _allowed(mask, causal, b, h, lq, lk):
    """Every (B, h, Lq, Lk) entry lib lets a query attend to."""
    allowed = torch.ones(b, h, lq, lk, dtype=torch.bool)
    if mask is not None:
        allowed = allowed & (mask.unsqueeze(1) if mask.dim() == 3 else mask)
    if causal:
        allowed = allowed & torch.ones(lq, lk, dtype=torch.bool).tril()
    return allowed


def _torch_masks(mask, causal, b, h, lq, lk):
    """lib's mask → nn.MultiheadAttention's (attn_mask, key_padding_mask), True = blocked."""
    attn, padding = None, None
    if mask is not None and mask.shape[-3:-1] == (1, 1) and mask.dim() == 4:
        padding = to_blocked(mask[:, 0, 0, :].expand(b, lk))
    elif mask is not None:
        if mask.dim() == 3:  # (B, Lq, Lk): the same for every head
            attn = mask.repeat_interleave(h, dim=0)
        elif mask.dim() == 4:  # (B, 1|h, 1|Lq, Lk) → (B·h, Lq, Lk)
            attn = mask.expand(b, h, lq, lk).reshape(b * h, lq, lk)
        else:  # (Lk,) or (Lq, Lk)
            attn = mask.expand(lq, lk)
    if causal:
        tril = torch.ones(lq, lk, dtype=torch.bool).tril()
        attn = tril if attn is None else attn & tril
    return (None if attn is None else to_blocked(attn)), padding


def _grads(loss, tensors):
    return torch.autograd.grad(loss, tensors, allow_unused=True)


def _torch_name(name: str) -> tuple[str, int | None]:
    """lib's parameter name → PyTorch's, and which third of in_proj it is (None: all of it)."""
    name = name.replace("cross_attn.", "multihead_attn.").replace("feed_forward.", "")
    name = re.sub(r"add_norm(\d)\.norm\.", r"norm\1.", name)
    match = re.search(r"\b([qkv])_proj\.(weight|bias)$", name)
    if match:
        return name[: match.start()] + f"in_proj_{match.group(2)}", "qkv".index(match.group(1))
    return name, None


def _compare_parameter_grads(my_names, my_grads, their_names, their_grads, dtype, d_model):
    """lib's gradients (named as in lib) against PyTorch's (named as in PyTorch)."""
    theirs = dict(zip(their_names, their_grads))
    for name, got in zip(my_names, my_grads):
        torch_name, third = _torch_name(name)
        want = theirs[torch_name]
        if third is not None:
            want = want[third * d_model : (third + 1) * d_model]
        _close(got, want, dtype, f"grad of {name}")


def _names(module: nn.Module) -> list[str]:
    return [n for n, _ in module.named_parameters()]


# ---------------------------------------------------------------- the sweeps' configurations


def _sdpa_sizes(rng):
    lead = rng.choice([(), (rng.randint(1, 3),), (rng.randint(1, 3), rng.randint(1, 4))])
    narrow = rng.random() < 0.5
    d_k = rng.randint(1, 8) if narrow else rng.randint(1, 32)
    d_v = rng.randint(1, 8) if narrow else rng.randint(1, 32)
    lq = rng.choice([1, rng.randint(1, 9)])
    lk = lq if rng.random() < 0.4 else rng.randint(1, 9)
    return dict(
        lead="x".join(map(str, lead)) or "none",
        Lq=lq,
        Lk=lk,
        dk=d_k,
        dv=d_v,
        dtype=rng.choice(list(DTYPES)),
        mask=rng.choice(["none", "causal", "scalar", "L", "LL", "lead", "lead11L", "causal+LL"]),
        scale=rng.choice([None, round(rng.uniform(0.1, 2.0), 3)]),
        weights=rng.random() < 0.5,
        grad=rng.random() < 0.7,
        kv=rng.choice(["same", "same", "ones", "fewer"]) if lead else "same",  # k and v's leading dims
    )


def _mha_sizes(rng):
    d_model, h = _heads(rng)
    lq = rng.choice([1, rng.randint(1, 9)])
    self_attn = rng.random() < 0.5
    train = rng.random() < 0.5
    return dict(
        B=rng.randint(1, 3),
        Lq=lq,
        Lk=lq if self_attn else rng.randint(1, 9),
        d=d_model,
        h=h,
        self=self_attn,
        value=not self_attn and rng.random() < 0.5,  # a value tensor apart from the key
        dtype=rng.choice(list(DTYPES)),
        train=train,
        drop=0.0 if train else rng.choice([0.0, 0.3]),  # evaluating: dropout does nothing
        weights=rng.random() < 0.5,
        bias=rng.random() < 0.75,
        mask=rng.choice(MASKS),
    )


def _layer_sizes(rng, decoder):
    d_model, h = _heads(rng)
    train = rng.random() < 0.5
    sizes = dict(
        B=rng.randint(1, 3),
        L=rng.choice([1, rng.randint(1, 9)]),
        d=d_model,
        h=h,
        ff=rng.choice([1, 4, 16, 2 * d_model]),
        dtype=rng.choice(list(DTYPES)),
        train=train,
        drop=0.0 if train else rng.choice([0.0, 0.3]),
        eps=rng.choice([1e-5, 1e-5, 1e-3, 0.5]),
        weights=rng.random() < 0.5,
        norm_first=rng.random() < 0.5,
        act=rng.choice(["relu", "gelu"]),
        mask=rng.choice(MASKS),
    )
    if decoder:
        sizes["Ls"] = rng.randint(1, 9)
        sizes["cross"] = rng.choice(["none", "pad", "LL", "BLL", "B11L", "BhLL"])
    return sizes


def _model_sizes(rng):
    d_model, h = _heads(rng)
    return dict(
        B=rng.randint(1, 3),
        Ls=rng.randint(1, 9),
        Lt=rng.randint(1, 9),
        d=d_model,
        h=h,
        ff=rng.choice([4, 16, 2 * d_model]),
        enc=rng.randint(1, 2),
        dec=rng.randint(1, 2),
        dtype=rng.choice(list(DTYPES)),
        train=rng.random() < 0.5,
        norm_first=rng.random() < 0.5,
        act=rng.choice(["relu", "gelu"]),
    )


def _gpt_sizes(rng):
    d_model, h = _heads(rng)
    return dict(
        B=rng.randint(1, 3),
        L=rng.randint(1, 9),
        d=d_model,
        h=h,
        ff=rng.choice([4, 16, 2 * d_model]),
        layers=rng.randint(1, 2),
        dtype=rng.choice(list(DTYPES)),
        train=rng.random() < 0.6,
        norm_first=rng.random() < 0.5,
        act=rng.choice(["relu", "gelu"]),
        final_norm=rng.random() < 0.8,
        pads=rng.choice([0.0, 0.0, 0.3]),
    )


def _cache_sizes(rng):
    d_model, h = _heads(rng)
    max_len = rng.randint(1, 12)
    return dict(
        B=rng.randint(1, 3),
        L=max_len if rng.random() < 0.3 else rng.randint(1, max_len),
        max_len=max_len,
        d=d_model,
        h=h,
        layers=rng.randint(1, 2),
        dtype=rng.choice(list(DTYPES)),
        norm_first=rng.random() < 0.5,
        act=rng.choice(["relu", "gelu"]),
        pos=rng.choice(["sinusoidal", "learned"]),
        final_norm=rng.random() < 0.8,
        tie=rng.random() < 0.7,
        pads=rng.choice([0.0, 0.0, 0.2, 0.5]),
    )


def _softmax_sizes(rng):
    shape = tuple(rng.randint(1, 6) for _ in range(rng.randint(1, 4)))
    return dict(
        shape="x".join(map(str, shape)),
        dim=rng.randrange(-len(shape), len(shape)),
        dtype=rng.choice(["f32", "f64", "f16", "bf16"]),
        spread=rng.choice([1.0, 10.0, 1e3]),
        neg_inf=rng.choice([0.0, 0.3]),
        empty_row=rng.random() < 0.3,
    )


SWEEPS = {
    "sdpa": (_sdpa_sizes, 120),
    "mha": (_mha_sizes, 120),
    "encoder": (lambda rng: _layer_sizes(rng, False), 60),
    "decoder": (lambda rng: _layer_sizes(rng, True), 50),
    "model": (_model_sizes, 20),
    "gpt": (_gpt_sizes, 25),
    "cache": (_cache_sizes, 40),
    "softmax": (_softmax_sizes, 50),
}


def _sweep(kind: str) -> list[Case]:
    make, count = SWEEPS[kind]
    return [Case(kind, i, make(random.Random(f"{kind}-{i}"))) for i in range(count)]


def _cases(kind):
    return pytest.mark.parametrize("case", _sweep(kind), ids=str)


# ---------------------------------------------------------------- scaled_dot_product_attention


@_cases("sdpa")
def test_sdpa_equals_torch(case):
    s = case.sizes
    gen = torch.Generator().manual_seed(case.seed)
    dtype = DTYPES[s["dtype"]]
    lead = () if s["lead"] == "none" else tuple(int(n) for n in s["lead"].split("x"))
    kv_lead = {"same": lead, "ones": (1, *lead[1:]), "fewer": lead[1:]}[s["kv"]]
    lq, lk = s["Lq"], s["Lk"]

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=dtype).requires_grad_(s["grad"])

    q, k, v = randn(*lead, lq, s["dk"]), randn(*kv_lead, lk, s["dk"]), randn(*kv_lead, lk, s["dv"])
    causal = s["mask"].startswith("causal")
    mask_shape = {
        "none": None,
        "causal": None,
        "scalar": (),
        "L": (lk,),
        "LL": (lq, lk),
        "causal+LL": (lq, lk),
        "lead": (*lead, lq, lk),
        "lead11L": (*lead[:1], *[1] * len(lead[1:]), 1, lk),
    }[s["mask"]]
    mask = None if mask_shape is None else torch.rand(mask_shape, generator=gen) < 0.7
    if s["mask"] == "scalar":
        mask = torch.tensor(s["Lq"] != 2)  # one bool for every score: all allowed, or none
    out, weights = scaled_dot_product_attention(
        q, k, v, mask, scale=s["scale"], need_weights=s["weights"], causal=causal
    )

    # PyTorch: its fused kernel, given the causal mask as a tensor when there is also a mask
    # (and a mask of at least 2 dimensions: it refuses (Lk,) and (), which lib takes).
    full = mask if mask is None or mask.dim() >= 2 else mask.expand(lq, lk)
    if causal and mask is not None:
        full = full & torch.ones(lq, lk, dtype=torch.bool).tril()
    want = F.scaled_dot_product_attention(
        q, k, v, attn_mask=full, scale=s["scale"], is_causal=causal and mask is None
    )
    _close(out, want, dtype, "output")
    g_out = torch.randn(want.shape, generator=gen, dtype=dtype)
    loss, want_loss = (out * g_out).sum(), (want * g_out).sum()
    if s["weights"]:
        allowed = torch.ones(lq, lk, dtype=torch.bool)
        allowed = allowed if full is None else allowed & full
        if causal and mask is None:
            allowed = allowed.tril()
        scale = s["scale"] if s["scale"] is not None else s["dk"] ** -0.5
        scores = (q @ k.transpose(-2, -1) * scale).masked_fill(~allowed, float("-inf"))
        empty = ~allowed.any(-1, keepdim=True)
        want_w = torch.softmax(scores.masked_fill(empty, 0.0), -1).masked_fill(empty, 0.0)
        _close(weights, want_w, dtype, "weights")
        g_w = torch.randn(want_w.shape, generator=gen, dtype=dtype)
        loss, want_loss = loss + (weights * g_w).sum(), want_loss + (want_w * g_w).sum()
    else:
        assert weights is None
    if s["grad"]:
        for name, got, exp in zip("qkv", _grads(loss, (q, k, v)), _grads(want_loss, (q, k, v))):
            _close(got, exp, dtype, f"grad of {name}")


# ---------------------------------------------------------------- MultiHeadAttention


@_cases("mha")
def test_multi_head_attention_equals_nn_multihead_attention(case):
    s = case.sizes
    torch.manual_seed(case.seed)
    gen = torch.Generator().manual_seed(case.seed)
    dtype, b, h, d, lq, lk = DTYPES[s["dtype"]], s["B"], s["h"], s["d"], s["Lq"], s["Lk"]
    ref = nn.MultiheadAttention(d, h, dropout=s["drop"], bias=s["bias"], batch_first=True, dtype=dtype)
    _nudge(ref, gen)
    mine = MultiHeadAttention(d, h, bias=s["bias"], dropout=s["drop"]).to(dtype).load_from_torch(ref)
    ref.train(s["train"]), mine.train(s["train"])
    query = torch.randn(b, lq, d, generator=gen, dtype=dtype, requires_grad=True)
    key = query if s["self"] else torch.randn(b, lk, d, generator=gen, dtype=dtype, requires_grad=True)
    value = torch.randn(b, lk, d, generator=gen, dtype=dtype, requires_grad=True) if s["value"] else key
    mask, causal = _mask(s["mask"], b, h, lq, lk, gen)
    attn_mask, key_padding = _torch_masks(mask, causal, b, h, lq, lk)
    allowed = _allowed(mask, causal, b, h, lq, lk)
    empty = ~allowed.any(-1)  # (B, h, Lq): queries with no key

    options = dict(mask=mask, need_weights=s["weights"], causal=causal)
    if s["self"]:
        out, weights = mine(query, **options)
    else:
        out, weights = mine(query, key, value if s["value"] else None, **options)
    with torch.no_grad():  # without gradients lib takes other paths (in-place softmax, fused kernel)
        again, again_w = mine(query, None if s["self"] else key, None if s["self"] else value, **options)
    _close(again, out, dtype, "output without gradients")
    if s["weights"]:
        _close(again_w, weights, dtype, "weights without gradients")
    want, want_w = ref(
        query,
        key,
        value,
        attn_mask=attn_mask,
        key_padding_mask=key_padding,
        need_weights=s["weights"],
        average_attn_weights=False,
    )
    finite = torch.isfinite(want).all(-1)  # (B, Lq): NaN only where a head has no key (documented)
    assert bool(finite.all()) or bool(empty.any()), "PyTorch gave NaN where every query has keys"
    _close(out[finite], want[finite], dtype, "output")
    if s["weights"]:
        rows = ~empty
        _close(weights[rows], want_w[rows], dtype, "weights")
        assert weights[empty].abs().sum() == 0, "a query with no key must give zero weights"
    else:
        assert weights is None

    params = list(mine.parameters())
    inputs = [query] if s["self"] else [query, key, value] if s["value"] else [query, key]
    g_out = torch.randn(out.shape, generator=gen, dtype=dtype)
    loss = (out * g_out).sum()
    if s["weights"]:
        g_w = torch.randn(weights.shape, generator=gen, dtype=dtype)
        loss = loss + (weights * g_w).sum()
    got = _grads(loss, inputs + params)
    if bool(empty.any()):
        # PyTorch's module gives NaN there: compare with its kernel, which gives zeros, fed its weights.
        want, want_w = _mha_with_torch_kernel(ref, query, key, value, allowed)
        _close(out, want, dtype, "output (PyTorch's kernel)")
        if s["weights"]:
            _close(weights, want_w, dtype, "weights (PyTorch's kernel)")
    want_loss = (want * g_out).sum() + ((want_w * g_w).sum() if s["weights"] else 0)
    exp = _grads(want_loss, inputs + list(ref.parameters()))
    for name, a, e in zip(("query", "key", "value")[: len(inputs)], got, exp):
        _close(a, e, dtype, f"grad of {name}")
    _compare_parameter_grads(_names(mine), got[len(inputs) :], _names(ref), exp[len(inputs) :], dtype, d)


def _mha_with_torch_kernel(ref, query, key, value, allowed):
    """nn.MultiheadAttention's computation from its weights, with F.scaled_dot_product_attention
    for the heads (zeros where a query has no key), and the per-head weights."""
    b, lq, d = query.shape
    h = ref.num_heads
    bias = (None,) * 3 if ref.in_proj_bias is None else ref.in_proj_bias.chunk(3)
    w = ref.in_proj_weight.chunk(3)

    def heads(x, i):
        return F.linear(x, w[i], bias[i]).view(b, x.shape[1], h, d // h).transpose(1, 2)

    q, k, v = heads(query, 0), heads(key, 1), heads(value, 2)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    scores = (q @ k.transpose(-2, -1) * (d // h) ** -0.5).masked_fill(~allowed, float("-inf"))
    empty = ~allowed.any(-1, keepdim=True)
    weights = torch.softmax(scores.masked_fill(empty, 0.0), -1).masked_fill(empty, 0.0)
    return ref.out_proj(out.transpose(1, 2).reshape(b, lq, d)), weights


# ---------------------------------------------------------------- encoder and decoder layers


def _pair_layers(s, decoder):
    dtype = DTYPES[s["dtype"]]
    options = dict(dropout=s["drop"], norm_first=s["norm_first"], activation=s["act"])
    torch_class, lib_class = (
        (nn.TransformerDecoderLayer, DecoderLayer) if decoder else (nn.TransformerEncoderLayer, EncoderLayer)
    )
    ref = torch_class(
        s["d"], s["h"], s["ff"], batch_first=True, layer_norm_eps=s["eps"], dtype=dtype, **options
    )
    _nudge(ref)
    mine = lib_class(s["d"], s["h"], s["ff"], eps=s["eps"], **options).to(dtype).load_from_torch(ref)
    ref.train(s["train"]), mine.train(s["train"])
    return ref, mine


def _finite_rows_and_grads(case, mine, ref, out, want, inputs, empty, gen):
    """Compare the outputs wherever PyTorch's are finite; with no empty query anywhere, the
    gradients of the inputs and every parameter too."""
    dtype = DTYPES[case.sizes["dtype"]]
    finite = torch.isfinite(want).all(-1)
    assert bool(finite.all()) or bool(empty.any()), "PyTorch gave NaN where every query has keys"
    _close(out[finite], want[finite], dtype, "output")
    if not bool(finite.all()):
        return  # PyTorch's gradients are NaN: the attention sweeps check lib's there
    g = torch.randn(out.shape, generator=gen, dtype=dtype)
    params = list(mine.parameters())
    got = _grads((out * g).sum(), inputs + params)
    exp = _grads((want * g).sum(), inputs + list(ref.parameters()))
    for i, (a, e) in enumerate(zip(got, exp)):
        if i < len(inputs):
            _close(a, e, dtype, f"grad of input {i}")
    d = case.sizes["d"]
    _compare_parameter_grads(_names(mine), got[len(inputs) :], _names(ref), exp[len(inputs) :], dtype, d)


@_cases("encoder")
def test_encoder_layer_equals_nn_transformer_encoder_layer(case):
    s = case.sizes
    torch.manual_seed(case.seed)
    gen = torch.Generator().manual_seed(case.seed)
    dtype, b, h, length = DTYPES[s["dtype"]], s["B"], s["h"], s["L"]
    ref, mine = _pair_layers(s, decoder=False)
    x = torch.randn(b, length, s["d"], generator=gen, dtype=dtype, requires_grad=True)
    mask, causal = _mask(s["mask"], b, h, length, length, gen)
    src_mask, key_padding = _torch_masks(mask, causal, b, h, length, length)
    out = mine(x, mask, need_weights=s["weights"], causal=causal)
    want = ref(x, src_mask=src_mask, src_key_padding_mask=key_padding)
    empty = ~_allowed(mask, causal, b, h, length, length).any(-1)
    if s["weights"]:
        assert mine.self_attn_weights.shape == (b, h, length, length)
        assert mine.self_attn_weights[empty].abs().sum() == 0
    _finite_rows_and_grads(case, mine, ref, out, want, [x], empty, gen)
    # Weights kept for figures change nothing, nor does computing without gradients.
    again = mine(x, mask, need_weights=not s["weights"], causal=causal)
    _close(again, out, dtype, "output with and without need_weights")
    with torch.no_grad():
        _close(mine(x, mask, need_weights=s["weights"], causal=causal), out, dtype, "without gradients")


@_cases("decoder")
def test_decoder_layer_equals_nn_transformer_decoder_layer(case):
    s = case.sizes
    torch.manual_seed(case.seed)
    gen = torch.Generator().manual_seed(case.seed)
    dtype, b, h, lt, ls = DTYPES[s["dtype"]], s["B"], s["h"], s["L"], s["Ls"]
    ref, mine = _pair_layers(s, decoder=True)
    x = torch.randn(b, lt, s["d"], generator=gen, dtype=dtype, requires_grad=True)
    memory = torch.randn(b, ls, s["d"], generator=gen, dtype=dtype, requires_grad=True)
    self_mask, causal = _mask(s["mask"], b, h, lt, lt, gen)
    if causal:  # DecoderLayer takes no causal flag: the causal mask goes in self_mask
        tril = causal_mask(lt)
        self_mask = tril if self_mask is None else self_mask & tril
    cross_mask, _ = _mask(s["cross"], b, h, lt, ls, gen)
    tgt_mask, tgt_padding = _torch_masks(self_mask, False, b, h, lt, lt)
    memory_mask, memory_padding = _torch_masks(cross_mask, False, b, h, lt, ls)
    out = mine(x, memory, self_mask, cross_mask, need_weights=s["weights"])
    want = ref(
        x,
        memory,
        tgt_mask=tgt_mask,
        memory_mask=memory_mask,
        tgt_key_padding_mask=tgt_padding,
        memory_key_padding_mask=memory_padding,
    )
    empty = ~_allowed(self_mask, False, b, h, lt, lt).any(-1) | ~_allowed(
        cross_mask, False, b, h, lt, ls
    ).any(-1)
    if s["weights"]:
        assert mine.self_attn_weights.shape == (b, h, lt, lt)
        assert mine.cross_attn_weights.shape == (b, h, lt, ls)
    _finite_rows_and_grads(case, mine, ref, out, want, [x, memory], empty, gen)
    with torch.no_grad():
        again = mine(x, memory, self_mask, cross_mask, need_weights=not s["weights"])
    _close(again, out, dtype, "without gradients, weights kept or not")


# ---------------------------------------------------------------- whole models


def _compare_model_grads(model, prefixes, strip, core, logits, want, gen, dtype, d_model):
    """lib's ``logits`` and PyTorch's ``want`` (its stack ``core`` between lib's embeddings and
    output): the gradients of lib's parameters under ``prefixes`` (named as in ``core`` once
    ``strip`` is taken off) against core's, and of the shared embeddings and output."""
    g = torch.randn(logits.shape, generator=gen, dtype=dtype)
    stack = [(n.removeprefix(strip), p) for n, p in model.named_parameters() if n.startswith(prefixes)]
    shared = [(n, p) for n, p in model.named_parameters() if not n.startswith(prefixes)]
    got = _grads((logits * g).sum(), [p for _, p in stack + shared])
    exp = _grads((want * g).sum(), list(core.parameters()) + [p for _, p in shared])
    n = len(stack)
    _compare_parameter_grads([m for m, _ in stack], got[:n], _names(core), exp[:n], dtype, d_model)
    for (name, _), a, e in zip(shared, got[n:], exp[n:]):
        _close(a, e, dtype, f"grad of {name}")


@_cases("model")
def test_transformer_equals_nn_transformer(case):
    s = case.sizes
    torch.manual_seed(case.seed)
    gen = torch.Generator().manual_seed(case.seed)
    dtype = DTYPES[s["dtype"]]
    config = TransformerConfig(
        vocab_size=13,
        d_model=s["d"],
        num_heads=s["h"],
        num_encoder_layers=s["enc"],
        num_decoder_layers=s["dec"],
        d_ff=s["ff"],
        dropout=0.0,
        max_len=16,
        norm_first=s["norm_first"],
        activation=s["act"],
    )
    model = Transformer(config).to(dtype).train(s["train"])
    core = nn.Transformer(
        s["d"],
        s["h"],
        s["enc"],
        s["dec"],
        s["ff"],
        dropout=0.0,
        activation=s["act"],
        batch_first=True,
        norm_first=s["norm_first"],
        dtype=dtype,
    ).train(s["train"])
    _nudge(core)
    model.load_from_torch(core)
    b, ls, lt = s["B"], s["Ls"], s["Lt"]
    # Right padding, at least one real token per sentence (a sentence of padding alone has no
    # key anywhere: PyTorch gives NaN there, lib zeros; the attention sweeps cover that).
    src = torch.randint(1, 13, (b, ls), generator=gen)
    trg = torch.randint(1, 13, (b, lt), generator=gen)
    for ids in (src, trg):
        for row in range(b):
            ids[row, torch.randint(1, ids.shape[1] + 1, (), generator=gen) :] = config.pad_id
    logits = model(src, trg)
    hidden = core(
        model.src_embed(src),
        model.trg_embed(trg),
        tgt_mask=to_blocked(causal_mask(lt)),
        src_key_padding_mask=src == config.pad_id,
        tgt_key_padding_mask=trg == config.pad_id,
        memory_key_padding_mask=src == config.pad_id,
    )
    want = model.output(hidden)
    _close(logits, want, dtype, "logits")
    _compare_model_grads(model, ("encoder.", "decoder."), "", core, logits, want, gen, dtype, s["d"])


@_cases("gpt")
def test_decoder_only_transformer_equals_nn_transformer_encoder_with_a_causal_mask(case):
    s = case.sizes
    torch.manual_seed(case.seed)
    gen = torch.Generator().manual_seed(case.seed)
    dtype = DTYPES[s["dtype"]]
    config = TransformerConfig(
        vocab_size=13,
        d_model=s["d"],
        num_heads=s["h"],
        num_decoder_layers=s["layers"],
        d_ff=s["ff"],
        dropout=0.0,
        max_len=9,
        norm_first=s["norm_first"],
        activation=s["act"],
        final_norm=s["final_norm"],
    )
    model = DecoderOnlyTransformer(config).to(dtype).train(s["train"])
    layer = nn.TransformerEncoderLayer(
        s["d"], s["h"], s["ff"], 0.0, s["act"], batch_first=True, norm_first=s["norm_first"], dtype=dtype
    )
    norm = nn.LayerNorm(s["d"], dtype=dtype) if s["final_norm"] else None
    core = nn.TransformerEncoder(layer, s["layers"], norm=norm, enable_nested_tensor=False)
    core.train(s["train"])
    _nudge(core)
    model.blocks.load_from_torch(core)
    ids = torch.randint(1, 13, (s["B"], s["L"]), generator=gen)
    ids[torch.rand(ids.shape, generator=gen) < s["pads"]] = config.pad_id  # anywhere, position 0 too
    logits = model(ids)  # without padding lib passes the causal flag, not a mask
    x = model.embed(ids)
    blocked = to_blocked(causal_mask(s["L"]))
    want = model.output(core(x, mask=blocked, src_key_padding_mask=ids == config.pad_id))
    _close(logits, want, dtype, "logits")
    _compare_model_grads(model, ("blocks.",), "blocks.", core, logits, want, gen, dtype, s["d"])


# ---------------------------------------------------------------- the KV cache


@_cases("cache")
def test_cached_steps_equal_the_forward_of_the_whole_sequence(case):
    s = case.sizes
    torch.manual_seed(case.seed)
    gen = torch.Generator().manual_seed(case.seed)
    dtype = DTYPES[s["dtype"]]
    config = TransformerConfig(
        vocab_size=11,
        d_model=s["d"],
        num_heads=s["h"],
        num_decoder_layers=s["layers"],
        d_ff=2 * s["d"],
        dropout=0.0,
        max_len=s["max_len"],
        norm_first=s["norm_first"],
        activation=s["act"],
        positional=s["pos"],
        final_norm=s["final_norm"],
        tie_embeddings=s["tie"],
    )
    model = DecoderOnlyTransformer(config).to(dtype).eval()
    ids = torch.randint(1, 11, (s["B"], s["L"]), generator=gen)
    ids[torch.rand(ids.shape, generator=gen) < s["pads"]] = config.pad_id  # anywhere, position 0 too
    with torch.no_grad():
        want = model(ids, need_weights=True)
    full_weights = model.attention_weights()["decoder_self"]
    assert torch.isfinite(want).all()
    # Training mode with gradients (narrow heads take their own path): the same logits.
    trained = model.train()(ids)
    model.eval()
    _close(trained.detach(), want, dtype, "forward with gradients")

    cache = model.new_cache()
    start, parts = 0, []
    while start < s["L"]:
        new = int(torch.randint(1, s["L"] - start + 1, (), generator=gen)) if start == 0 else 1
        new = min(new, int(torch.randint(1, 4, (), generator=gen))) if start else new
        parts.append(model.step(ids[:, start : start + new], cache, need_weights=True))
        for mine, whole in zip(model.attention_weights()["decoder_self"], full_weights):
            _close(mine, whole[:, :, start : start + new, : start + new], dtype, f"weights at {start}")
        start += new
    got = torch.cat(parts, dim=1)
    _close(got, want, dtype, "cached logits")
    assert cache.length == s["L"] and torch.equal(cache.ids, ids)
    if s["L"] == s["max_len"]:
        with pytest.raises(ValueError, match="max_len"):
            model.step(ids[:, :1], cache)


# ---------------------------------------------------------------- softmax, masks, positions


@_cases("softmax")
def test_stable_softmax_equals_torch_softmax(case):
    s = case.sizes
    gen = torch.Generator().manual_seed(case.seed)
    dtype = {"f32": torch.float32, "f64": torch.float64, "f16": torch.float16, "bf16": torch.bfloat16}[
        s["dtype"]
    ]
    shape = tuple(int(n) for n in s["shape"].split("x"))
    scores = torch.randn(shape, generator=gen, dtype=torch.float64) * s["spread"]
    scores[torch.rand(shape, generator=gen) < s["neg_inf"]] = float("-inf")
    if s["empty_row"]:  # one whole row of -inf
        rows = scores.movedim(s["dim"], -1)  # a view: rows along the last dimension
        rows[(0,) * (rows.dim() - 1)] = float("-inf")
    scores = scores.to(dtype).requires_grad_(dtype in (torch.float32, torch.float64))
    got, want = stable_softmax(scores, s["dim"]), torch.softmax(scores, s["dim"])
    empty = torch.isinf(scores).all(s["dim"], keepdim=True) & (scores < 0).all(s["dim"], keepdim=True)
    tol = {} if dtype in (torch.float16, torch.bfloat16) else TOL[dtype]
    torch.testing.assert_close(got, torch.where(empty, 0.0, want).to(dtype), **tol)
    if scores.requires_grad:
        g = torch.randn(shape, generator=gen, dtype=dtype)
        (a,), (e,) = _grads((got * g).sum(), [scores]), _grads((want * g).sum(), [scores])
        _close(a, torch.where(empty, 0.0, e), dtype, "gradient")


@pytest.mark.parametrize("length", [1, 2, 5, 9])
def test_masks_agree_with_pytorchs(length):
    square = nn.Transformer.generate_square_subsequent_mask(length)  # float: -inf = blocked
    assert torch.equal(to_blocked(causal_mask(length)), torch.isinf(square))
    ids = torch.randint(0, 3, (3, length), generator=torch.Generator().manual_seed(length))
    assert torch.equal(to_blocked(padding_mask(ids, 0))[:, 0, 0], ids == 0)


@pytest.mark.parametrize("length, d_model", [(1, 1), (3, 2), (7, 5), (9, 16), (64, 33)])
def test_sinusoidal_encoding_is_the_papers_formula(length, d_model):
    pos = torch.arange(length + 3, dtype=torch.float64)[:, None]
    i = torch.arange(d_model, dtype=torch.float64)
    angle = pos / 10000.0 ** ((i - i % 2) / d_model)
    want = torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle))  # (length + 3, d_model)
    torch.testing.assert_close(sinusoidal_encoding(length, d_model, dtype=torch.float64), want[:length])
    module = SinusoidalPositionalEncoding(d_model, max_len=length + 3)
    x = torch.randn(2, 3, d_model)
    torch.testing.assert_close(module(x, start=length), x + want[length:].float())


def test_load_from_torch_refuses_another_layer_norm_eps():
    """load_state_dict copies a LayerNorm's weights, not its eps: a copy with another eps would
    compute other numbers (0.1 apart at eps 0.1), so it is refused."""
    with pytest.raises(ValueError, match=r"layer must have layer_norm_eps=1e-05, got 0\.1"):
        EncoderLayer(8, 2, 16).load_from_torch(nn.TransformerEncoderLayer(8, 2, 16, layer_norm_eps=0.1))
    with pytest.raises(ValueError, match=r"layer must have layer_norm_eps=0\.001, got 1e-05"):
        DecoderLayer(8, 2, 16, eps=1e-3).load_from_torch(nn.TransformerDecoderLayer(8, 2, 16))
    config = TransformerConfig(vocab_size=5, d_model=8, num_heads=2, num_encoder_layers=1,
                               num_decoder_layers=1, d_ff=16, eps=1e-3)  # fmt: skip
    torch_twin = nn.Transformer(8, 2, 1, 1, 16, layer_norm_eps=1e-3, batch_first=True)
    torch_twin.encoder.norm = nn.LayerNorm(8)  # the layers agree, the final norm does not
    with pytest.raises(ValueError, match=r"transformer\.encoder\.norm must be a LayerNorm with eps=0\.001"):
        Transformer(config).load_from_torch(torch_twin)


@pytest.mark.parametrize("seed", range(6))
def test_gradients_of_gradients_with_queries_that_see_no_key(seed):
    """create_graph=True (a gradient penalty, gradgradcheck) takes narrow heads' differentiable
    backward: finite, and PyTorch's, where a query has no key."""
    gen = torch.Generator().manual_seed(seed)
    lq, lk, d = 1 + seed % 4, 2 + seed % 3, 1 + seed
    q, k, v = (
        torch.randn(2, 3, n, d, generator=gen, dtype=torch.float64, requires_grad=True) for n in (lq, lk, lk)
    )
    mask = torch.rand(2, 1, lq, lk, generator=gen) < 0.6
    mask[0, 0, 0] = False  # the first query of the first sentence sees nothing
    results = []
    for attend in (
        lambda: scaled_dot_product_attention(q, k, v, mask, need_weights=False)[0],  # narrow heads
        lambda: scaled_dot_product_attention(q, k, v, mask)[0],  # the explicit softmax
        lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
    ):
        with sdpa_kernel(SDPBackend.MATH):  # PyTorch's kernel that can differentiate twice
            grads = torch.autograd.grad(attend().square().sum(), (q, k, v), create_graph=True)
            results.append((*grads, *_grads(sum(g.square().sum() for g in grads), (q, k, v))))
    for mine in results[:2]:
        for got, want in zip(mine, results[2]):
            assert torch.isfinite(got).all()
            _close(got, want, torch.float64, "gradient of the gradient")


def test_the_sweep_covers_what_it_claims():
    """Every mask kind, both dtypes and modes, and narrow heads on their own path in some
    cases (a gradient, no weights, d_head ≤ NARROW) but not in all."""
    mha = [c.sizes for c in _sweep("mha")]
    assert {m["mask"] for m in mha} == set(MASKS)
    for kind in ("mha", "encoder", "decoder"):
        sizes = [c.sizes for c in _sweep(kind)]
        assert {(m["dtype"], m["train"], m["weights"]) for m in sizes} == {
            (d, t, w) for d in DTYPES for t in (False, True) for w in (False, True)
        }, kind
    narrow = [m for m in mha if m["d"] // m["h"] <= narrow_heads.NARROW and not m["weights"]]
    assert 10 <= len(narrow) <= len(mha) - 10
    assert {m["kv"] for m in (c.sizes for c in _sweep("sdpa"))} == {"same", "ones", "fewer"}
    assert any(m["L"] == m["max_len"] for m in (c.sizes for c in _sweep("cache")))
