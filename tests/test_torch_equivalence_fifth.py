"""lib equals PyTorch, a fifth sweep: PyTorch's own layers called the ways their users call them.

Each case draws its configuration from its own seed, builds PyTorch's layer, copies its
weights into lib's with ``load_from_torch`` and compares outputs, attention weights and the
gradients of the inputs and of every weight. What the other four sweeps draw rarely or never:

- ``nn.MultiheadAttention`` with ``batch_first=False`` (lib, batch first, gets the transposed
  view: an input that is not contiguous), kdim/vdim, with and without biases, bool and float
  (0 / −inf) key padding masks, 2-D and per-head (B·h, Lq, Lk) attention masks, ``is_causal``,
  weights per head and averaged, float32, float64 and bfloat16.
- ``F.scaled_dot_product_attention`` with ``scale=``, ``is_causal`` with Lq ≠ Lk, masks that
  broadcast over the batch or the heads, transposed q/k/v, and ``enable_gqa``: lib has no
  grouped-query option (its k and v broadcast against q), so it must refuse k and v of fewer
  heads by name, and equal PyTorch once they are repeated per group.
- ``nn.TransformerEncoderLayer`` / ``DecoderLayer`` and their stacks and ``nn.Transformer``
  with every activation spelling, ``layer_norm_eps``, ``bias=False``, ``batch_first=False``,
  batch 1, length 1, sentences padded through (PyTorch NaN there, lib zeros: compared where
  PyTorch is finite), the nested-tensor fast path of ``nn.TransformerEncoder`` (zeros at padded
  positions: compared at the real ones), final norms or none.
- ``AddNorm`` against ``nn.LayerNorm`` (any eps, with or without bias), ``TokenEmbedding``
  against ``nn.Embedding(padding_idx=…)`` (the padding row's gradient is zero), and the names
  and shapes of lib's parameters against those ``load_from_torch`` copies from.

Training with dropout 0 and evaluating with dropout up to 0.5 (which then does nothing) both.
bfloat16: lib runs in bfloat16 and is compared with PyTorch run in float64 on the same (rounded)
weights and inputs, allowing about as much error as PyTorch's own bfloat16 run makes (GELU only
there: see ``_activation``).

What this sweep met in PyTorch, and how lib stands to it:

- The copies ``nn.TransformerDecoder`` (so ``nn.Transformer``) makes of a decoder layer given an
  activation *module* compute ReLU (its ``__setstate__`` hides the module). lib copies what
  PyTorch computes: a GELU copy is refused by name, and the refusal says why (the tests at
  the end).
- The nested-tensor fast path fails inside ("to_padded_tensor") when every sentence is padding
  through, and puts the final norm of zeros at padded positions: compared at real ones only.
- lib refuses float (additive) masks by design, and grouped k/v heads (``enable_gqa``) for want
  of the option; the latter's message names the remedy, repeat_interleave.
"""

from __future__ import annotations

import math
import random
import re
import zlib
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from test_torch_equivalence_fuzz import Case as FuzzCase
from torch import nn
from transformer_course.attention import MultiHeadAttention, scaled_dot_product_attention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.layers import AddNorm, DecoderLayer, EncoderLayer
from transformer_course.model import Decoder, Encoder, Transformer, TransformerConfig
from transformer_course.torch_layers import activation_name, copy_parameters

pytestmark = pytest.mark.filterwarnings(
    "ignore:enable_nested_tensor is True",
    "ignore:Converting mask",
    "ignore:Support for mismatched",
    "ignore:The PyTorch API of nested tensors",
)

F32, F64, BF16 = torch.float32, torch.float64, torch.bfloat16
DTYPES = {"f32": F32, "f64": F64, "bf16": BF16}
TOL = {F32: dict(atol=1e-4, rtol=1e-3), F64: dict(atol=1e-9, rtol=1e-7)}
ACTIVATIONS = {  # every spelling PyTorch's layers take for the two activations lib has
    "relu": "relu",
    "gelu": "gelu",
    "F.relu": F.relu,
    "F.gelu": F.gelu,
    "torch.relu": torch.relu,
    "nn.ReLU": nn.ReLU(),
    "nn.GELU": nn.GELU(),
}


# ---------------------------------------------------------------- comparing


def _close(got, want, dtype, what, low=None):
    """lib's ``got`` against PyTorch's ``want``. In bfloat16, ``want`` comes from PyTorch in
    float64 and ``low`` from PyTorch in bfloat16: lib may be off by about as much as PyTorch's
    own bfloat16 run is (three times its largest error, plus 3 % of the largest value)."""
    if dtype != BF16:
        torch.testing.assert_close(got, want, **TOL[dtype], msg=lambda m: f"{what}: {m}")
        return
    want = want.detach().double()
    scale = max(1.0, float(want.abs().max())) if want.numel() else 1.0
    own = float((low.double() - want).abs().max()) if low is not None and want.numel() else 0.02 * scale
    atol = 3 * own + 0.03 * scale
    torch.testing.assert_close(got.double(), want, atol=atol, rtol=0, msg=lambda m: f"{what}: {m}")


def _ref_dtype(dtype):
    """PyTorch runs in float64 when lib runs in bfloat16 (the reference), else in lib's dtype."""
    return F64 if dtype == BF16 else dtype


@torch.no_grad()
def _nudge(module: nn.Module, gen: torch.Generator, dtype: torch.dtype) -> None:
    """Add N(0, 0.1²) to every parameter (PyTorch starts biases at 0, which would then not count
    in the comparison), rounded to lib's dtype so both hold the same numbers."""
    for p in module.parameters():
        p.add_(torch.randn(p.shape, generator=gen, dtype=F64).to(p.dtype) * 0.1)
        p.copy_(p.to(dtype).to(p.dtype))


def _leaf(gen, shape, dtype):
    """A random input for lib (in ``dtype``) and its twin for PyTorch (in the reference dtype)."""
    x = torch.randn(shape, generator=gen, dtype=F64).to(dtype).requires_grad_()
    return x, x.detach().to(_ref_dtype(dtype)).requires_grad_()


def _grads(loss, tensors):
    return torch.autograd.grad(loss, tensors, allow_unused=True)


def _weighted(outs, gs):
    """Σ out·g over the outputs: one loss whose gradient weighs every output."""
    return sum((o * g.to(o.dtype)).sum() for o, g in zip(outs, gs))


def _low_precision(ref, twins, run, gs, with_grads):
    """PyTorch's own run in bfloat16 on the same numbers: its outputs and (``with_grads``) the
    gradients of its inputs and parameters, the yardstick for lib's bfloat16 rounding."""
    ref.to(BF16)
    try:
        low = [t.detach().to(BF16).requires_grad_() for t in twins]
        outs = run(ref, *low)
        grads = _grads(_weighted(outs, gs), low + list(ref.parameters())) if with_grads else None
        return [o.detach() for o in outs], grads
    finally:
        ref.to(F64)


def _torch_place(name: str, separate: bool) -> tuple[str, int | None]:
    """lib's parameter name → PyTorch's, and which third of it (None: all of it). ``separate``:
    PyTorch keeps W_Q, W_K, W_V apart (kdim or vdim ≠ embed_dim), its biases still stacked."""
    name = name.replace("cross_attn.", "multihead_attn.").replace("feed_forward.", "")
    name = re.sub(r"add_norm(\d)\.norm\.", r"norm\1.", name)
    match = re.search(r"\b([qkv])_proj\.(weight|bias)$", name)
    if not match:
        return name, None
    which, kind = match.groups()
    if kind == "weight" and separate:
        return name[: match.start()] + f"{which}_proj_weight", None
    return name[: match.start()] + f"in_proj_{kind}", "qkv".index(which)


def _their_part(theirs: dict, name: str, separate: bool, d_model: int) -> torch.Tensor:
    torch_name, third = _torch_place(name, separate)
    whole = theirs[torch_name]
    return whole if third is None else whole[third * d_model : (third + 1) * d_model]


def _check(mine, ref, inputs, outs, run, gen, dtype, d_model, *, empty, separate=False):
    """lib's outputs ``outs`` against PyTorch's, ``run(ref, *twins)`` (the same outputs, batch
    first), wherever PyTorch's are finite (NaN only where a query sees no key: lib gives zeros
    there by design); with every one finite, the gradients of Σ out·g for every input
    (``inputs``: pairs (lib's leaf, PyTorch's twin)) and every parameter too. ``empty``: where
    a query sees no key (any shape, None: nowhere)."""
    twins = [t for _, t in inputs]
    wants = run(ref, *twins)
    gs = [torch.randn(w.shape, generator=gen, dtype=F64).to(dtype) for w in wants]
    finite = all(bool(torch.isfinite(w).all()) for w in wants)
    assert finite or (empty is not None and bool(empty.any())), "PyTorch gave NaN where every query has keys"
    n = len(inputs)
    if finite:  # before the bfloat16 run, which converts ref's parameters there and back
        got = _grads(_weighted(outs, gs), [a for a, _ in inputs] + list(mine.parameters()))
        exp = _grads(_weighted(wants, gs), twins + list(ref.parameters()))
    low_outs, low_grads = _low_precision(ref, twins, run, gs, finite) if dtype == BF16 else (None, None)
    for i, (out, want) in enumerate(zip(outs, wants)):
        rows = torch.isfinite(want).all(-1)
        low = None if low_outs is None else low_outs[i][rows]
        _close(out.detach()[rows], want[rows], dtype, f"output {i}", low)
    if not finite:
        return
    low_grads = low_grads or [None] * len(exp)
    for i in range(n):
        _close(got[i], exp[i], dtype, f"grad of input {i}", low_grads[i])
    names = [name for name, _ in ref.named_parameters()]
    theirs, theirs_low = dict(zip(names, exp[n:])), dict(zip(names, low_grads[n:]))
    for (name, _), a in zip(mine.named_parameters(), got[n:]):
        want = _their_part(theirs, name, separate, d_model)
        low = None if low_outs is None else _their_part(theirs_low, name, separate, d_model)
        assert a is not None and want is not None, f"grad of {name}: missing"
        _close(a, want, dtype, f"grad of {name}", low)


# ---------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case(FuzzCase):
    """test_torch_equivalence_fuzz's configuration, with seeds of this sweep's own."""

    @property
    def seed(self) -> int:
        return zlib.crc32(f"fifth-{self.kind}-{self.index}".encode())


def _heads(rng: random.Random) -> tuple[int, int]:
    """(d_model, h): heads of 1 to 16 dimensions, 1 to 4 of them."""
    h = rng.randint(1, 4)
    return rng.choice([1, 2, 3, 4, 8, 16]) * h, h


def _mode(rng: random.Random) -> dict:
    """Training with dropout 0, or evaluating with dropout that then does nothing."""
    train = rng.random() < 0.5
    return dict(train=train, drop=0.0 if train else rng.choice([0.0, 0.2, 0.5]))


def _mha_sizes(rng):
    d, h = _heads(rng)
    self_attn = rng.random() < 0.4
    lq = rng.choice([1, rng.randint(1, 7)])
    return dict(
        B=rng.randint(1, 3),
        Lq=lq,
        Lk=lq if self_attn else rng.choice([1, rng.randint(1, 7)]),
        d=d,
        h=h,
        self=self_attn,
        kdim=d if self_attn else rng.choice([d, rng.randint(1, 9)]),
        vdim=d if self_attn else rng.choice([d, rng.randint(1, 9)]),
        batch_first=rng.random() < 0.5,
        bias=rng.random() < 0.7,
        dtype=rng.choice(["f32", "f32", "f64", "bf16"]),
        **_mode(rng),
        weights=rng.random() < 0.6,
        average=rng.random() < 0.5,
        attn=rng.choice(["none", "LL", "BhLL", "BhLL", "causal"]),  # per head: PyTorch's own form
        padding=rng.choice(["none", "none", "some", "full"]),
        float=rng.random() < 0.4,
    )


def _sdpa_sizes(rng):
    lead = rng.choice([(), (rng.randint(1, 3),), (rng.randint(1, 3), rng.randint(1, 4))])
    lq = rng.choice([1, rng.randint(1, 8)])
    return dict(
        lead="x".join(map(str, lead)) or "none",
        Lq=lq,
        Lk=rng.choice([lq, rng.randint(1, 8)]),
        dk=rng.randint(1, 16),
        dv=rng.randint(1, 16),
        dtype=rng.choice(["f32", "f32", "f64", "bf16"]),
        scale=rng.choice([None, round(rng.uniform(0.05, 3.0), 3)]),
        causal=rng.random() < 0.4,
        mask=rng.choice(["none", "LL", "1L", "lead", "lead-1"]),
        weights=rng.random() < 0.5,
        gqa=len(lead) == 2 and rng.random() < 0.5,
        transposed=rng.random() < 0.4,
    )


def _layer_sizes(rng, decoder):
    d, h = _heads(rng)
    sizes = dict(
        B=rng.choice([1, rng.randint(1, 3)]),
        L=rng.choice([1, rng.randint(1, 7)]),
        d=d,
        h=h,
        ff=rng.choice([1, 8, 2 * d]),
        dtype=rng.choice(["f32", "f32", "f64", "bf16"]),
        **_mode(rng),
        eps=rng.choice([1e-5, 1e-6, 1e-3, 0.3]),
        norm_first=rng.random() < 0.5,
        act=None,  # drawn below, knowing the dtype
        bias=rng.random() < 0.7,
        batch_first=rng.random() < 0.6,
        weights=rng.random() < 0.5,  # lib keeps the weights for figures: that changes nothing
        attn=rng.choice(["none", "LL", "BhLL", "causal"]),
        padding=rng.choice(["none", "some", "full"]),
        float=rng.random() < 0.4,
    )
    sizes["act"] = _activation(rng, sizes["dtype"])
    if decoder:
        sizes["Ls"] = rng.choice([1, rng.randint(1, 7)])
        sizes["memory"] = rng.choice(["none", "LL", "BhLL", "some", "full"])
    return sizes


def _stack_sizes(rng):
    sizes = _layer_sizes(rng, decoder=rng.random() < 0.5)
    sizes.update(layers=rng.randint(1, 3), final_norm=rng.random() < 0.7, decoder="Ls" in sizes)
    # The nested-tensor fast path of nn.TransformerEncoder: evaluating, without gradients.
    sizes["nested"] = not sizes["decoder"] and rng.random() < 0.5
    if sizes["nested"]:  # what the fast path needs: evaluating, batch first, even heads, padding
        d_head = sizes["d"] // sizes["h"]
        h = rng.choice([2, 4])
        sizes.update(train=False, dtype=rng.choice(["f32", "f64"]), batch_first=True, h=h, d=d_head * h)
        sizes.update(B=rng.randint(2, 3), L=rng.randint(2, 6), padding=rng.choice(["some", "some", "full"]))
        sizes.update(attn="none", norm_first=False, bias=True)
        sizes.update(float=False, act=rng.choice(["relu", "gelu"]))
    return sizes


def _transformer_sizes(rng):
    d, h = _heads(rng)
    sizes = dict(
        B=rng.choice([1, rng.randint(1, 3)]),
        Ls=rng.choice([1, rng.randint(1, 6)]),
        Lt=rng.choice([1, rng.randint(1, 6)]),
        d=d,
        h=h,
        ff=rng.choice([4, 2 * d]),
        enc=rng.randint(1, 2),
        dec=rng.randint(1, 2),
        dtype=rng.choice(["f32", "f64", "bf16"]),
        **_mode(rng),
        eps=rng.choice([1e-5, 1e-3, 0.3]),
        norm_first=rng.random() < 0.5,
        act=None,  # drawn below, knowing the dtype
        bias=rng.random() < 0.7,
        batch_first=rng.random() < 0.5,
        padding=rng.random() < 0.6,
    )
    sizes["act"] = _activation(rng, sizes["dtype"])
    return sizes


def _activation(rng, dtype):
    """Any spelling of either activation; in bfloat16 GELU's only: ReLU's gradient jumps at 0,
    and a pre-activation that bfloat16 rounds across 0 in lib and not in PyTorch (their sums run
    in another order) flips a whole column of the gradient, which no tolerance can tell from a bug."""
    names = [n for n in ACTIVATIONS if dtype != "bf16" or "gelu" in n.lower()]
    return rng.choice(names)


def _add_norm_sizes(rng):
    return dict(
        B=rng.randint(1, 3),
        L=rng.randint(1, 5),
        d=rng.randint(1, 12),
        eps=rng.choice([1e-5, 1e-8, 1e-2, 1.0]),
        norm_first=rng.random() < 0.5,
        bias=rng.random() < 0.7,
        dtype=rng.choice(["f32", "f64", "bf16"]),
        transposed=rng.random() < 0.5,
    )


def _embedding_sizes(rng):
    vocab = rng.randint(1, 12)
    return dict(
        V=vocab,
        d=rng.randint(1, 8),
        pad=rng.choice([None, rng.randrange(-vocab, vocab)]),
        scale=rng.random() < 0.5,
        lead="x".join(str(rng.randint(1, 3)) for _ in range(rng.randint(0, 2))) or "none",
        T=rng.randint(1, 6),
        ids=rng.choice(["int64", "int32"]),
        dtype=rng.choice(["f32", "f64", "bf16"]),
    )


def _names_sizes(rng):
    d, h = _heads(rng)
    return dict(
        module=rng.choice(["mha", "encoder_layer", "decoder_layer", "encoder", "decoder", "transformer"]),
        d=d,
        h=h,
        kdim=rng.choice([d, rng.randint(1, 9)]),
        vdim=rng.choice([d, rng.randint(1, 9)]),
        ff=rng.choice([1, 2 * d]),
        bias=rng.random() < 0.7,
        layers=rng.randint(1, 3),
    )


SWEEPS = {
    "mha": (_mha_sizes, 48),
    "sdpa": (_sdpa_sizes, 36),
    "encoder_layer": (lambda rng: _layer_sizes(rng, False), 24),
    "decoder_layer": (lambda rng: _layer_sizes(rng, True), 20),
    "stack": (_stack_sizes, 24),
    "transformer": (_transformer_sizes, 10),
    "add_norm": (_add_norm_sizes, 12),
    "embedding": (_embedding_sizes, 16),
    "names": (_names_sizes, 18),
}


def _sweep(kind: str) -> list[Case]:
    make, count = SWEEPS[kind]
    return [Case(kind, i, make(random.Random(f"fifth-{kind}-{i}"))) for i in range(count)]


def _cases(kind):
    return pytest.mark.parametrize("case", _sweep(kind), ids=str)


# ---------------------------------------------------------------- masks, both conventions


def _allowed_keys(gen, b, lk, padding):
    """(B, Lk) True = a real key. "some": right padding, each sentence keeps ≥ 1 key;
    "full": the last sentence is padding through (its queries see nothing)."""
    if padding == "none":
        return None
    real = torch.randint(1, lk + 1, (b,), generator=gen)
    if padding == "full":
        real[-1] = 0
    return torch.arange(lk)[None, :] < real[:, None]


def _allowed_scores(gen, kind, b, h, lq, lk):
    """(B, h, Lq, Lk) True = may attend, or None; every query keeps key 0, so only padding
    can leave one with no key."""
    if kind == "none":
        return None
    if kind == "causal":
        return torch.ones(lq, lk, dtype=torch.bool).tril().expand(b, h, lq, lk)
    shape = (lq, lk) if kind == "LL" else (b, h, lq, lk)
    allowed = (torch.rand(shape, generator=gen) < 0.7) | (torch.arange(lk) == 0)
    return allowed.expand(b, h, lq, lk)


def _torch_form(allowed: torch.Tensor | None, as_float: bool, dtype: torch.dtype):
    """True = may attend → PyTorch's modules' form: True = blocked, or 0 / −inf to add."""
    if allowed is None:
        return None
    if as_float:
        return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, float("-inf"))
    return ~allowed


def _torch_attn_mask(kind, allowed, b, h, as_float, dtype):
    """PyTorch's attn_mask for ``kind``: (Lq, Lk), or (B·h, Lq, Lk) per head."""
    if allowed is None:
        return None
    if kind in ("LL", "causal"):
        return _torch_form(allowed[0, 0], as_float, dtype)
    return _torch_form(allowed.reshape(b * h, *allowed.shape[2:]), as_float, dtype)


def _lib_mask(kind, allowed, keys, b, h):
    """lib's mask (True = may attend) in the form a user would write for ``kind``, and whether
    the causal flag says the causal part: (Lq, Lk), PyTorch's (B·h, Lq, Lk), (B, 1, 1, Lk)
    padding, or everything in one (B, h, Lq, Lk)."""
    causal = kind == "causal"
    pad = None if keys is None else keys[:, None, None, :]
    if causal or allowed is None:
        return pad, causal
    if pad is not None:
        return allowed & pad, False
    if kind == "LL":
        return allowed[0, 0], False
    return allowed.reshape(b * h, *allowed.shape[2:]), False  # nn.MultiheadAttention's per-head form


def _every(allowed, keys, b, h, lq, lk):
    """Every (B, h, Lq, Lk) score lib lets through."""
    out = torch.ones(b, h, lq, lk, dtype=torch.bool)
    if allowed is not None:
        out = out & allowed
    if keys is not None:
        out = out & keys[:, None, None, :]
    return out


# ---------------------------------------------------------------- nn.MultiheadAttention


def _mha_pair(s, gen):
    dtype = DTYPES[s["dtype"]]
    kdim, vdim = (None, None) if s["self"] else (s["kdim"], s["vdim"])
    options = dict(dropout=s["drop"], bias=s["bias"])
    ref = nn.MultiheadAttention(
        s["d"], s["h"], kdim=kdim, vdim=vdim, batch_first=s["batch_first"], dtype=_ref_dtype(dtype), **options
    )
    _nudge(ref, gen, dtype)
    mine = MultiHeadAttention(s["d"], s["h"], kdim=kdim, vdim=vdim, **options).to(dtype).load_from_torch(ref)
    ref.train(s["train"]), mine.train(s["train"])
    return ref, mine


def _sequence(gen, b, length, width, dtype, batch_first):
    """(lib's view (B, L, width), lib's leaf, PyTorch's input): with batch_first=False the leaf
    is (L, B, width) and lib gets its transposed view, which is not contiguous."""
    shape = (b, length, width) if batch_first else (length, b, width)
    leaf, twin = _leaf(gen, shape, dtype)
    return (leaf if batch_first else leaf.transpose(0, 1)), (leaf, twin)


@_cases("mha")
def test_multi_head_attention_equals_nn_multihead_attention(case):
    s = case.sizes
    torch.manual_seed(case.seed)
    gen = torch.Generator().manual_seed(case.seed)
    dtype, b, h, d, lq, lk = DTYPES[s["dtype"]], s["B"], s["h"], s["d"], s["Lq"], s["Lk"]
    ref, mine = _mha_pair(s, gen)
    query, q_pair = _sequence(gen, b, lq, d, dtype, s["batch_first"])
    inputs = [q_pair]
    if s["self"]:
        key, value = query, query
    else:
        key, k_pair = _sequence(gen, b, lk, s["kdim"], dtype, s["batch_first"])
        value, v_pair = _sequence(gen, b, lk, s["vdim"], dtype, s["batch_first"])
        inputs += [k_pair, v_pair]
    allowed = _allowed_scores(gen, s["attn"], b, h, lq, lk)
    keys = _allowed_keys(gen, b, lk, s["padding"])
    mask, causal = _lib_mask(s["attn"], allowed, keys, b, h)
    out, weights = mine(query, key, value, mask, need_weights=s["weights"], causal=causal)
    empty = ~_every(allowed, keys, b, h, lq, lk).any(-1)  # (B, h, Lq): queries with no key
    outs = [out]
    if s["weights"]:
        assert weights.shape == (b, h, lq, lk)
        assert weights[empty].abs().sum() == 0, "a query with no key must get zero weights"
        outs.append(weights.mean(1) if s["average"] else weights)  # PyTorch's average over the heads
    else:
        assert weights is None

    def run(module, *twins):
        md = twins[0].dtype
        got, got_w = module(
            *(twins * 3 if s["self"] else twins),
            key_padding_mask=_torch_form(keys, s["float"], md),
            attn_mask=_torch_attn_mask(s["attn"], allowed, b, h, s["float"], md),
            need_weights=s["weights"],
            average_attn_weights=s["average"],
            is_causal=causal,
        )
        got = got if s["batch_first"] else got.transpose(0, 1)
        return [got, got_w] if s["weights"] else [got]

    separate = not s["self"] and (s["kdim"], s["vdim"]) != (d, d)
    _check(mine, ref, inputs, outs, run, gen, dtype, d, empty=empty, separate=separate)


def test_pytorchs_extra_keys_are_refused_by_name():
    """add_zero_attn and add_bias_kv add keys lib does not compute: a copy would give other numbers."""
    with pytest.raises(ValueError, match="add_zero_attn=False"):
        MultiHeadAttention(8, 2).load_from_torch(nn.MultiheadAttention(8, 2, add_zero_attn=True))
    with pytest.raises(ValueError, match="add_bias_kv=False"):
        MultiHeadAttention(8, 2).load_from_torch(nn.MultiheadAttention(8, 2, add_bias_kv=True))


def test_a_float_mask_is_refused_by_name():
    """lib's masks are bool (True = may attend) by design; PyTorch's additive float masks are
    refused, with the convention in the message, not read as another meaning."""
    mha, x = MultiHeadAttention(8, 2), torch.randn(1, 3, 8)
    with pytest.raises(ValueError, match=r"mask must be a bool tensor \(True = may attend\)"):
        mha(x, mask=torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"mask must be a bool tensor"):
        scaled_dot_product_attention(x, x, x, torch.zeros(3, 3))


# ---------------------------------------------------------------- F.scaled_dot_product_attention


def _sdpa_mask(s, lead, lq, lk, gen):
    """A bool mask (True = may attend) broadcasting to (*lead, Lq, Lk); every query keeps key 0."""
    shape = {
        "none": None,
        "LL": (lq, lk),
        "1L": (1, lk),
        "lead": (*lead, lq, lk),
        "lead-1": (*lead[:-1], 1, lq, lk) if lead else (lq, lk),  # broadcast over the heads
    }[s["mask"]]
    if shape is None:
        return None
    return (torch.rand(shape, generator=gen) < 0.6) | (torch.arange(lk) == 0)


def _qkv(gen, shape, dtype, transposed):
    """A leaf and its twin; lib and PyTorch get (…, L, d) views of the leaves, transposed ones
    (not contiguous) when ``transposed``."""
    if not transposed:
        return _leaf(gen, shape, dtype)
    leaf, twin = _leaf(gen, (*shape[:-2], shape[-1], shape[-2]), dtype)
    return leaf, twin


def _softmax_weights(q, k, allowed, s, groups):
    """softmax(q kᵀ · scale) over the keys allowed (and causal ones), from PyTorch's twins."""
    k = k.repeat_interleave(groups, dim=-3) if groups > 1 else k
    scale = s["scale"] if s["scale"] is not None else s["dk"] ** -0.5
    scores = q @ k.transpose(-2, -1) * scale
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    if s["causal"]:
        scores = scores.masked_fill(~torch.ones(s["Lq"], s["Lk"], dtype=torch.bool).tril(), float("-inf"))
    return torch.softmax(scores, dim=-1)


@_cases("sdpa")
def test_sdpa_equals_f_scaled_dot_product_attention(case):
    s = case.sizes
    gen = torch.Generator().manual_seed(case.seed)
    dtype = DTYPES[s["dtype"]]
    lead = () if s["lead"] == "none" else tuple(int(n) for n in s["lead"].split("x"))
    groups = 2 if s["gqa"] else 1
    kv_lead = (*lead[:-1], lead[-1] * groups) if s["gqa"] else lead  # q has `groups` × k's heads
    q_lead = kv_lead if s["gqa"] else lead
    lq, lk, t = s["Lq"], s["Lk"], s["transposed"]
    leaves = [
        _qkv(gen, (*q_lead, lq, s["dk"]), dtype, t),
        _qkv(gen, (*lead, lk, s["dk"]), dtype, t),
        _qkv(gen, (*lead, lk, s["dv"]), dtype, t),
    ]

    def view(x):
        return x.transpose(-2, -1) if t else x

    q, k, v = (view(leaf) for leaf, _ in leaves)
    tq, tk, tv = (view(twin) for _, twin in leaves)
    mask = _sdpa_mask(s, q_lead, lq, lk, gen)
    options = dict(scale=s["scale"], need_weights=s["weights"], causal=s["causal"])
    if s["gqa"] and lead[-1] > 1:
        # lib has no enable_gqa: k and v of fewer heads must be refused by name, then equal
        # PyTorch's grouped-query attention once repeated for each group of query heads. (One
        # head of k and v, multi-query attention, broadcasts over q's heads: no repeat needed.)
        with pytest.raises(ValueError, match="k's batch dimensions"):
            scaled_dot_product_attention(q, k, v, mask, **options)
        k, v = k.repeat_interleave(groups, dim=-3), v.repeat_interleave(groups, dim=-3)
    out, weights = scaled_dot_product_attention(q, k, v, mask, **options)
    full = mask
    if s["causal"] and mask is not None:  # PyTorch takes a mask or is_causal, not both
        full = mask & torch.ones(lq, lk, dtype=torch.bool).tril()
    want = F.scaled_dot_product_attention(
        tq,
        tk,
        tv,
        attn_mask=full,
        scale=s["scale"],
        is_causal=s["causal"] and mask is None,
        enable_gqa=s["gqa"],
    )
    _close(out, want, dtype, "output")
    g = torch.randn(want.shape, generator=gen, dtype=F64).to(dtype)
    loss, want_loss = (out * g).sum(), (want * g.to(want.dtype)).sum()
    if s["weights"]:
        want_w = _softmax_weights(tq, tk, full, s, groups)
        _close(weights, want_w, dtype, "weights")
        g_w = torch.randn(want_w.shape, generator=gen, dtype=F64).to(dtype)
        loss, want_loss = loss + (weights * g_w).sum(), want_loss + (want_w * g_w.to(want_w.dtype)).sum()
    else:
        assert weights is None
    got = _grads(loss, [leaf for leaf, _ in leaves])
    exp = _grads(want_loss, [twin for _, twin in leaves])
    for name, a, e in zip("qkv", got, exp):
        _close(a, e, dtype, f"grad of {name}")


# ---------------------------------------------------------------- encoder and decoder layers


def _layer_options(s):
    return dict(
        dropout=s["drop"], norm_first=s["norm_first"], activation=ACTIVATIONS[s["act"]], bias=s["bias"]
    )


def _layer_pair(s, gen, decoder):
    dtype = DTYPES[s["dtype"]]
    torch_class, lib_class = (
        (nn.TransformerDecoderLayer, DecoderLayer) if decoder else (nn.TransformerEncoderLayer, EncoderLayer)
    )
    options = _layer_options(s)
    ref = torch_class(
        s["d"],
        s["h"],
        s["ff"],
        layer_norm_eps=s["eps"],
        batch_first=s["batch_first"],
        dtype=_ref_dtype(dtype),
        **options,
    )
    _nudge(ref, gen, dtype)
    mine = lib_class(s["d"], s["h"], s["ff"], eps=s["eps"], **options).to(dtype).load_from_torch(ref)
    ref.train(s["train"]), mine.train(s["train"])
    return ref, mine


def _batch_first(x, batch_first):
    """PyTorch's output in lib's layout (B, L, d)."""
    return x if batch_first else x.transpose(0, 1)


@_cases("encoder_layer")
def test_encoder_layer_equals_nn_transformer_encoder_layer(case):
    s = case.sizes
    torch.manual_seed(case.seed)
    gen = torch.Generator().manual_seed(case.seed)
    dtype, b, h, length = DTYPES[s["dtype"]], s["B"], s["h"], s["L"]
    ref, mine = _layer_pair(s, gen, decoder=False)
    x, pair = _sequence(gen, b, length, s["d"], dtype, s["batch_first"])
    allowed = _allowed_scores(gen, s["attn"], b, h, length, length)
    keys = _allowed_keys(gen, b, length, s["padding"])
    mask, causal = _lib_mask(s["attn"], allowed, keys, b, h)
    out = mine(x, mask, causal=causal, need_weights=s["weights"])
    if s["weights"]:
        assert mine.self_attn_weights.shape == (b, h, length, length)

    def run(module, x):
        got = module(x, is_causal=causal, **_encoder_masks(s, allowed, keys, b, h, x.dtype, "src_mask"))
        return [_batch_first(got, s["batch_first"])]

    empty = ~_every(allowed, keys, b, h, length, length).any(-1)
    _check(mine, ref, [pair], [out], run, gen, dtype, s["d"], empty=empty)


def _encoder_masks(s, allowed, keys, b, h, dtype, name):
    """PyTorch's (attention mask, key padding mask) for an encoder, the first called ``name``."""
    return {
        name: _torch_attn_mask(s["attn"], allowed, b, h, s["float"], dtype),
        "src_key_padding_mask": _torch_form(keys, s["float"], dtype),
    }


def _decoder_masks(s, gen, b, h, lt, ls):
    """(lib's self_mask, lib's cross_mask, PyTorch's keyword arguments for a dtype, queries
    with no key)."""
    self_allowed = _allowed_scores(gen, s["attn"], b, h, lt, lt)
    self_keys = _allowed_keys(gen, b, lt, s["padding"])
    memory_kind = s["memory"] if s["memory"] in ("LL", "BhLL") else "none"
    cross_allowed = _allowed_scores(gen, memory_kind, b, h, lt, ls)
    memory_keys = _allowed_keys(gen, b, ls, s["memory"] if s["memory"] in ("some", "full") else "none")
    self_mask, causal = _lib_mask(s["attn"], self_allowed, self_keys, b, h)
    if causal:  # DecoderLayer takes no causal flag: the causal part goes in the mask
        self_mask = _every(self_allowed, self_keys, b, h, lt, lt)
    cross_mask, _ = _lib_mask(memory_kind, cross_allowed, memory_keys, b, h)

    def theirs(dtype):
        as_float = s["float"]
        return dict(
            tgt_mask=_torch_attn_mask(s["attn"], self_allowed, b, h, as_float, dtype),
            memory_mask=_torch_attn_mask(memory_kind, cross_allowed, b, h, as_float, dtype),
            tgt_key_padding_mask=_torch_form(self_keys, as_float, dtype),
            memory_key_padding_mask=_torch_form(memory_keys, as_float, dtype),
            tgt_is_causal=causal,
        )

    empty = ~_every(self_allowed, self_keys, b, h, lt, lt).any(-1)
    empty = empty | ~_every(cross_allowed, memory_keys, b, h, lt, ls).any(-1)
    return self_mask, cross_mask, theirs, empty


def _decoder_run(s, theirs):
    def run(module, x, memory):
        return [_batch_first(module(x, memory, **theirs(x.dtype)), s["batch_first"])]

    return run


@_cases("decoder_layer")
def test_decoder_layer_equals_nn_transformer_decoder_layer(case):
    s = case.sizes
    torch.manual_seed(case.seed)
    gen = torch.Generator().manual_seed(case.seed)
    dtype, b, h, lt, ls = DTYPES[s["dtype"]], s["B"], s["h"], s["L"], s["Ls"]
    ref, mine = _layer_pair(s, gen, decoder=True)
    x, x_pair = _sequence(gen, b, lt, s["d"], dtype, s["batch_first"])
    memory, m_pair = _sequence(gen, b, ls, s["d"], dtype, s["batch_first"])
    self_mask, cross_mask, theirs, empty = _decoder_masks(s, gen, b, h, lt, ls)
    out = mine(x, memory, self_mask, cross_mask, need_weights=s["weights"])
    run = _decoder_run(s, theirs)
    _check(mine, ref, [x_pair, m_pair], [out], run, gen, dtype, s["d"], empty=empty)


# ---------------------------------------------------------------- stacks and nn.Transformer


def _config(s, activation, **changes) -> TransformerConfig:
    return TransformerConfig(
        vocab_size=5,
        d_model=s["d"],
        num_heads=s["h"],
        d_ff=s["ff"],
        dropout=s["drop"],
        norm_first=s["norm_first"],
        activation=activation,
        eps=s["eps"],
        bias=s["bias"],
        **changes,
    )


def _computed_activation(stack: nn.Module) -> str:
    """The activation PyTorch's stack computes. Not always the one its layer was given: the
    copies nn.TransformerDecoder makes of a decoder layer given a module (nn.GELU()) compute
    ReLU (see test_pytorchs_decoder_copies_compute_relu_and_lib_says_so)."""
    return activation_name(stack.layers[0].activation)


@_cases("stack")
def test_stacks_equal_nn_transformer_encoder_and_decoder(case):
    s = case.sizes
    torch.manual_seed(case.seed)
    gen = torch.Generator().manual_seed(case.seed)
    dtype, b, h, lt = DTYPES[s["dtype"]], s["B"], s["h"], s["L"]
    ref_layer, _ = _layer_pair(s, gen, decoder=s["decoder"])
    norm = (
        nn.LayerNorm(s["d"], eps=s["eps"], bias=s["bias"], dtype=_ref_dtype(dtype))
        if s["final_norm"]
        else None
    )
    if s["decoder"]:
        ref = nn.TransformerDecoder(ref_layer, s["layers"], norm=norm)
        mine = Decoder(_config(s, _computed_activation(ref), final_norm=s["final_norm"]), s["layers"])
    else:
        ref = nn.TransformerEncoder(ref_layer, s["layers"], norm=norm, enable_nested_tensor=s["nested"])
        mine = Encoder(_config(s, _computed_activation(ref), final_norm=s["final_norm"]), s["layers"])
    _nudge(ref, gen, dtype)
    mine = mine.to(dtype).load_from_torch(ref).train(s["train"])
    ref.train(s["train"])
    x, x_pair = _sequence(gen, b, lt, s["d"], dtype, s["batch_first"])
    if s["decoder"]:
        memory, m_pair = _sequence(gen, b, s["Ls"], s["d"], dtype, s["batch_first"])
        self_mask, cross_mask, theirs, empty = _decoder_masks(s, gen, b, h, lt, s["Ls"])
        out, inputs, run = mine(x, memory, self_mask, cross_mask), [x_pair, m_pair], _decoder_run(s, theirs)
    else:
        allowed = _allowed_scores(gen, s["attn"], b, h, lt, lt)
        keys = _allowed_keys(gen, b, lt, s["padding"])
        mask, causal = _lib_mask(s["attn"], allowed, keys, b, h)
        out, inputs = mine(x, mask, causal=causal), [x_pair]
        empty = ~_every(allowed, keys, b, h, lt, lt).any(-1)

        def run(module, x):
            got = module(x, is_causal=causal, **_encoder_masks(s, allowed, keys, b, h, x.dtype, "mask"))
            return [_batch_first(got, s["batch_first"])]

        if s["nested"] and bool(keys.any()):  # every sentence padded through: PyTorch's fails inside
            _compare_nested(ref, x_pair[1], run, keys, out, dtype)
    _check(mine, ref, inputs, [out], run, gen, dtype, s["d"], empty=empty)


def _compare_nested(ref, x, run, keys, out, dtype):
    """PyTorch's fast path (evaluating, no gradient) packs the sentences without their padding
    and gives zeros at padded positions: lib must equal it at every real one."""
    with torch.no_grad():
        (want,) = run(ref, x)
    real = torch.ones(out.shape[:2], dtype=torch.bool) if keys is None else keys
    real = real & torch.isfinite(want).all(-1)
    _close(out.detach()[real], want[real], dtype, "output at real positions (nested-tensor fast path)")


@_cases("transformer")
def test_encoder_and_decoder_equal_nn_transformer(case):
    s = case.sizes
    torch.manual_seed(case.seed)
    gen = torch.Generator().manual_seed(case.seed)
    dtype, b, ls, lt = DTYPES[s["dtype"]], s["B"], s["Ls"], s["Lt"]
    core = nn.Transformer(
        s["d"],
        s["h"],
        s["enc"],
        s["dec"],
        s["ff"],
        layer_norm_eps=s["eps"],
        batch_first=s["batch_first"],
        dtype=_ref_dtype(dtype),
        **_layer_options(s),
    ).train(s["train"])
    _nudge(core, gen, dtype)
    # The encoder's and decoder's copies compute the same activation but for a module given
    # to the decoder (see _computed_activation): lib's model has one activation for both.
    activation = _computed_activation(core.decoder)
    if activation != _computed_activation(core.encoder):
        with pytest.raises(ValueError, match=r"transformer\.(en|de)coder\.layers\[0\] must use activation"):
            Transformer(_config(s, activation, num_encoder_layers=s["enc"], num_decoder_layers=s["dec"]))\
                .to(dtype).load_from_torch(core)  # fmt: skip
        core.decoder.layers.apply(_restore_activation)
        activation = _computed_activation(core.decoder)
    config = _config(s, activation, num_encoder_layers=s["enc"], num_decoder_layers=s["dec"])
    model = Transformer(config).to(dtype).load_from_torch(core).train(s["train"])
    src, src_pair = _sequence(gen, b, ls, s["d"], dtype, s["batch_first"])
    trg, trg_pair = _sequence(gen, b, lt, s["d"], dtype, s["batch_first"])
    src_keys = _allowed_keys(gen, b, ls, "some" if s["padding"] else "none")
    trg_keys = _allowed_keys(gen, b, lt, "some" if s["padding"] else "none")
    causal = torch.ones(lt, lt, dtype=torch.bool).tril()
    src_mask = None if src_keys is None else src_keys[:, None, None, :]
    trg_mask = causal if trg_keys is None else causal & trg_keys[:, None, None, :]
    out = model.decoder(trg, model.encoder(src, src_mask), trg_mask, src_mask)

    def run(module, src, trg):
        got = module(
            src,
            trg,
            tgt_mask=nn.Transformer.generate_square_subsequent_mask(lt, dtype=src.dtype),
            src_key_padding_mask=None if src_keys is None else ~src_keys,
            tgt_key_padding_mask=None if trg_keys is None else ~trg_keys,
            memory_key_padding_mask=None if src_keys is None else ~src_keys,
            tgt_is_causal=True,
        )
        return [_batch_first(got, s["batch_first"])]

    stacks = nn.ModuleDict(dict(encoder=model.encoder, decoder=model.decoder))  # core's names
    _check(stacks, core, [src_pair, trg_pair], [out], run, gen, dtype, s["d"], empty=None)


def _restore_activation(module: nn.Module) -> None:
    """Undo PyTorch's decoder-copy quirk: drop the F.relu that hides the activation module."""
    if "activation" in module.__dict__ and "activation" in module._modules:
        del module.__dict__["activation"]


# ---------------------------------------------------------------- LayerNorm and embeddings


@_cases("add_norm")
def test_add_norm_equals_nn_layer_norm_around_a_sublayer(case):
    s = case.sizes
    gen = torch.Generator().manual_seed(case.seed)
    dtype, d = DTYPES[s["dtype"]], s["d"]
    ref_dtype = _ref_dtype(dtype)
    norm = nn.LayerNorm(d, eps=s["eps"], bias=s["bias"], dtype=ref_dtype)
    ref = nn.ModuleDict(dict(norm=norm, sublayer=nn.Linear(d, d, dtype=ref_dtype)))
    _nudge(ref, gen, dtype)
    mine = AddNorm(d, norm_first=s["norm_first"], eps=s["eps"], bias=s["bias"]).to(dtype)
    copy_parameters(mine.norm, norm, "norm")
    my_sublayer = nn.Linear(d, d).to(dtype)
    my_sublayer.load_state_dict(ref["sublayer"].state_dict())
    x, pair = _sequence(gen, s["B"], s["L"], d, dtype, not s["transposed"])
    out = mine(x, my_sublayer)

    def run(module, x):
        norm, sublayer = module["norm"], module["sublayer"]
        x = _batch_first(x, not s["transposed"])
        return [x + sublayer(norm(x)) if s["norm_first"] else norm(x + sublayer(x))]

    mine_all = nn.ModuleDict(dict(norm=mine.norm, sublayer=my_sublayer))
    _check(mine_all, ref, [pair], [out], run, gen, dtype, d, empty=None)


def test_a_layer_norm_without_weights_is_refused_by_name():
    """nn.LayerNorm(elementwise_affine=False) has no weights to copy; lib's LayerNorms learn
    theirs, so a layer or a final norm of that kind is refused, naming it."""
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    layer.norm2 = nn.LayerNorm(8, elementwise_affine=False)
    with pytest.raises(ValueError, match=r"layer\.norm2 must be an nn\.LayerNorm with parameters"):
        EncoderLayer(8, 2, 16).load_from_torch(layer)
    config = TransformerConfig(vocab_size=5, d_model=8, num_heads=2, d_ff=16)
    stack = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16, batch_first=True),
        1,
        norm=nn.LayerNorm(8, elementwise_affine=False),
        enable_nested_tensor=False,
    )
    with pytest.raises(ValueError, match=r"stack\.norm must be a LayerNorm .* with a learned weight"):
        Encoder(config, 1).load_from_torch(stack)


@_cases("embedding")
def test_token_embedding_equals_nn_embedding(case):
    s = case.sizes
    gen = torch.Generator().manual_seed(case.seed)
    dtype, vocab, d = DTYPES[s["dtype"]], s["V"], s["d"]
    ref = nn.Embedding(vocab, d, padding_idx=s["pad"], dtype=_ref_dtype(dtype))
    _nudge(ref, gen, dtype)  # the padding row too: PyTorch's gradient there is zero all the same
    mine = TokenEmbedding(vocab, d, scale=s["scale"], padding_idx=s["pad"]).to(dtype)
    mine.lookup.load_state_dict(ref.state_dict())
    assert mine.lookup.padding_idx == ref.padding_idx, "padding_idx, counted from the end as PyTorch does"
    lead = () if s["lead"] == "none" else tuple(int(n) for n in s["lead"].split("x"))
    ids = torch.randint(0, vocab, (*lead, s["T"]), generator=gen)
    if s["pad"] is not None:
        ids.view(-1)[0] = s["pad"] % vocab  # the padding id at least once
    ids = ids.to(getattr(torch, s["ids"]))
    out = mine(ids)
    factor = math.sqrt(d) if s["scale"] else 1.0
    _check(mine.lookup, ref, [], [out], lambda module: [module(ids) * factor], gen, dtype, d, empty=None)
    if s["pad"] is not None:
        (grad,) = _grads((mine(ids) * torch.randn(out.shape, generator=gen).to(dtype)).sum(), [mine.weight])
        assert grad[s["pad"]].abs().sum() == 0, "the padding row must get no gradient"


def test_a_fresh_padding_row_is_zeros_as_in_pytorch():
    for pad in (0, 3, -1):
        mine = TokenEmbedding(5, 4, padding_idx=pad)
        assert mine.weight[pad].abs().sum() == 0
        assert mine(torch.tensor([[pad % 5]])).abs().sum() == 0


# ---------------------------------------------------------------- parameter names and shapes


def _names_pair(s):
    """(lib's module, PyTorch's, whether PyTorch keeps W_Q, W_K, W_V apart)."""
    d, h, ff, bias, n = s["d"], s["h"], s["ff"], s["bias"], s["layers"]
    config = TransformerConfig(
        vocab_size=5, d_model=d, num_heads=h, d_ff=ff, bias=bias, num_encoder_layers=n, num_decoder_layers=n
    )
    layer = dict(batch_first=True, bias=bias)
    if s["module"] == "mha":
        kdim, vdim = s["kdim"], s["vdim"]
        ref = nn.MultiheadAttention(d, h, bias=bias, kdim=kdim, vdim=vdim, batch_first=True)
        return MultiHeadAttention(d, h, bias=bias, kdim=kdim, vdim=vdim), ref, (kdim, vdim) != (d, d)
    if s["module"] == "encoder_layer":
        return EncoderLayer(d, h, ff, bias=bias), nn.TransformerEncoderLayer(d, h, ff, **layer), False
    if s["module"] == "decoder_layer":
        return DecoderLayer(d, h, ff, bias=bias), nn.TransformerDecoderLayer(d, h, ff, **layer), False
    norm = nn.LayerNorm(d, bias=bias)
    if s["module"] == "encoder":
        ref = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d, h, ff, **layer), n, norm=norm, enable_nested_tensor=False
        )
        return Encoder(config), ref, False
    if s["module"] == "decoder":
        return (
            Decoder(config),
            nn.TransformerDecoder(nn.TransformerDecoderLayer(d, h, ff, **layer), n, norm),
            False,
        )
    ref = nn.Transformer(d, h, n, n, ff, **layer)
    return Transformer(config), ref, False


@_cases("names")
def test_parameter_names_and_shapes_are_those_load_from_torch_copies(case):
    """Every lib parameter has a PyTorch twin of its shape (by the names the copy helpers use),
    every PyTorch parameter is copied somewhere, and the copy leaves them equal."""
    s = case.sizes
    torch.manual_seed(case.seed)
    mine, ref, separate = _names_pair(s)
    _nudge(ref, torch.Generator().manual_seed(case.seed), F32)
    mine.load_from_torch(ref)
    if s["module"] == "transformer":  # nn.Transformer has no embeddings or output layer
        params = [(n, p) for n, p in mine.named_parameters() if n.startswith(("encoder.", "decoder."))]
    else:
        params = list(mine.named_parameters())
    theirs = dict(ref.named_parameters())
    used = set()
    for name, p in params:
        torch_name, _ = _torch_place(name, separate)
        assert torch_name in theirs, f"{name}: PyTorch has no {torch_name}"
        part = _their_part(theirs, name, separate, s["d"])
        assert part.shape == p.shape, f"{name} {tuple(p.shape)} ≠ PyTorch's {torch_name} {tuple(part.shape)}"
        assert torch.equal(part, p), f"{name} was not copied from {torch_name}"
        used.add(torch_name)
    assert used == set(theirs), f"PyTorch's parameters never copied: {sorted(set(theirs) - used)}"
    assert sum(p.numel() for _, p in params) == sum(p.numel() for p in theirs.values())


def test_the_sweep_covers_what_it_claims():
    """Each option is drawn both ways somewhere, and at least 150 configurations in all."""
    assert sum(count for _, count in SWEEPS.values()) >= 150
    mha = [c.sizes for c in _sweep("mha")]
    for key in ("batch_first", "bias", "weights", "average", "float", "train", "self"):
        assert {m[key] for m in mha} == {False, True}, key
    assert {m["dtype"] for m in mha} == set(DTYPES)
    assert {m["attn"] for m in mha} == {"none", "LL", "BhLL", "causal"}
    assert {m["padding"] for m in mha} == {"none", "some", "full"}
    assert any(m["kdim"] != m["d"] or m["vdim"] != m["d"] for m in mha)
    sdpa = [c.sizes for c in _sweep("sdpa")]
    assert {m["gqa"] for m in sdpa} == {m["causal"] for m in sdpa} == {False, True}
    assert any(m["causal"] and m["Lq"] != m["Lk"] for m in sdpa)
    layers = [c.sizes for c in _sweep("encoder_layer") + _sweep("decoder_layer")]
    assert {m["act"] for m in layers} == set(ACTIVATIONS)
    assert {m["bias"] for m in layers} == {m["batch_first"] for m in layers} == {False, True}
    assert any(m["B"] == 1 for m in layers) and any(m["L"] == 1 for m in layers)
    assert any(m["drop"] > 0 for m in layers)
    stacks = [c.sizes for c in _sweep("stack")]
    assert {m["nested"] for m in stacks} == {m["decoder"] for m in stacks} == {False, True}
    assert {m["final_norm"] for m in stacks} == {False, True}
    assert {m["module"] for m in (c.sizes for c in _sweep("names"))} == {
        "mha", "encoder_layer", "decoder_layer", "encoder", "decoder", "transformer"
    }  # fmt: skip
    assert sum(m["nested"] for m in stacks) >= 3
    # A GELU module given to nn.Transformer: its decoder copies compute ReLU (the refusal path).
    assert any(m["act"] == "nn.GELU" for m in (c.sizes for c in _sweep("transformer")))
    embeddings = [c.sizes for c in _sweep("embedding")]
    assert any(m["pad"] is not None and m["pad"] < 0 for m in embeddings)


def test_pytorchs_decoder_copies_compute_relu_and_lib_says_so():
    """PyTorch's quirk, met by anyone who gives nn.Transformer or nn.TransformerDecoder an
    activation module: the decoder layer's __setstate__ (run by the deepcopy that makes each
    copy) sets ``activation = F.relu`` when the module sits in ``_modules``, not in the state,
    so the copies compute ReLU (the encoder's __setstate__ was fixed, pytorch#81832). lib copies
    what PyTorch computes: a GELU decoder is refused, naming the ReLU PyTorch's layer holds, and
    a ReLU one equals it."""
    torch.manual_seed(0)
    layer = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, activation=nn.GELU(), batch_first=True)
    stack = nn.TransformerDecoder(layer, 1)
    x, memory = torch.randn(2, 3, 8), torch.randn(2, 4, 8)
    relu_twin = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    relu_twin.load_state_dict(stack.layers[0].state_dict())
    torch.testing.assert_close(stack(x, memory), relu_twin(x, memory))  # ReLU, not the GELU given
    config = TransformerConfig(vocab_size=5, d_model=8, num_heads=2, d_ff=16, dropout=0.0)
    with pytest.raises(ValueError, match=r"stack\.layers\[0\] must use activation 'gelu', got relu"):
        Decoder(config.replace(activation="gelu"), 1).load_from_torch(stack)
    mine = Decoder(config.replace(activation="relu", final_norm=False), 1).load_from_torch(stack)
    torch.testing.assert_close(mine(x, memory), stack(x, memory))


# ---------------------------------------------------------------- refusals that say why


def test_the_decoder_copy_refusal_says_why_pytorch_computes_relu():
    """The refusal above is right, yet reads as nonsense to whoever gave nn.GELU() ("got relu"):
    it should say that PyTorch's copy computes ReLU, and how to keep GELU."""
    stack = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, activation=nn.GELU()), 1)
    config = TransformerConfig(vocab_size=5, d_model=8, num_heads=2, d_ff=16, activation="gelu")
    with pytest.raises(
        ValueError, match=r"got relu \(PyTorch's copy .* computes F\.relu.*activation=\"gelu\""
    ):
        Decoder(config, 1).load_from_torch(stack)


def test_a_decoder_given_the_activation_as_a_string_keeps_it():
    """The way round PyTorch's quirk that the hint above names: its copies keep a string's GELU."""
    stack = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, activation="gelu"), 1)
    config = TransformerConfig(vocab_size=5, d_model=8, num_heads=2, d_ff=16, activation="gelu")
    Decoder(config.replace(final_norm=False), 1).load_from_torch(stack)


def test_grouped_query_heads_are_refused_with_the_repeat_that_fixes_them():
    """PyTorch users reach for enable_gqa=True; lib has none, and its refusal should say what to do."""
    q, kv = torch.randn(2, 6, 3, 4), torch.randn(2, 2, 3, 4)
    with pytest.raises(ValueError, match=r"k\.repeat_interleave\(3, dim=-3\)"):
        scaled_dot_product_attention(q, kv, kv)
