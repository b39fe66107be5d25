"""``MultiHeadAttention`` with keys and values of their own widths (``kdim``, ``vdim``), and
``nn.MultiheadAttention``'s per-head masks (B·h, Lq, Lk), compared with PyTorch's layer.

PyTorch's ``nn.MultiheadAttention(embed_dim, num_heads, kdim=..., vdim=...)`` then keeps
W_Q, W_K, W_V apart (``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight``) instead of one
``in_proj_weight``; ``load_from_torch`` copies either. Its attn_mask may be (B·h, Lq, Lk), row
b·h + i for batch b's head i; lib reads a 3-D mask of B·h rows (h > 1) so, and one of B rows
as its own (B, Lq, Lk), the same for every head.

Where a query may see no key, ``nn.MultiheadAttention`` asked for weights gives NaN; lib gives
zero weights and an attention output of zeros before W_O (out_proj's bias after it). There
lib is compared wherever PyTorch is finite, and its zeros are asserted.
"""

from __future__ import annotations

import random

import pytest
import torch
from refusals import assert_refused, each_case
from torch import nn
from transformer_course.attention import MultiHeadAttention
from transformer_course.kv_cache import KVCache
from transformer_course.layers import EncoderLayer
from transformer_course.masks import to_blocked

DTYPE = torch.float64  # exact enough that a wrong weight or mask shows, not rounding
TOL = dict(atol=1e-9, rtol=1e-7)


def _pair(d, h, *, kdim=None, vdim=None, bias=True, seed=0):
    """PyTorch's layer with random weights (biases too: its own start at zero), and lib's copy."""
    torch.manual_seed(seed)
    ref = nn.MultiheadAttention(d, h, kdim=kdim, vdim=vdim, bias=bias, batch_first=True, dtype=DTYPE)
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_(0.0, 0.5)
    # kdim and vdim passed only when given: the mask tests then need nothing else new.
    sizes = {k: v for k, v in (("kdim", kdim), ("vdim", vdim)) if v is not None}
    mine = MultiHeadAttention(d, h, bias=bias, **sizes).to(DTYPE).load_from_torch(ref)
    return mine, ref


def _grads_by_torch_name(mine: MultiHeadAttention) -> dict[str, torch.Tensor]:
    """lib's parameter gradients under PyTorch's names, W_Q, W_K, W_V stacked where PyTorch
    stacks them (``in_proj_weight``: kdim = vdim = embed_dim) and their biases always."""
    projs = (mine.q_proj, mine.k_proj, mine.v_proj)
    out = {"out_proj.weight": mine.out_proj.weight.grad}
    if mine.kdim == mine.vdim == mine.d_model:
        out["in_proj_weight"] = torch.cat([p.weight.grad for p in projs])
    else:
        out.update({f"{n}_proj_weight": p.weight.grad for n, p in zip("qkv", projs)})
    if mine.q_proj.bias is not None:
        out["in_proj_bias"] = torch.cat([p.bias.grad for p in projs])
        out["out_proj.bias"] = mine.out_proj.bias.grad
    return out


def _random_case(seed: int) -> dict:
    rng = random.Random(seed)
    h = rng.choice([1, 2, 3])
    d = h * rng.choice([1, 2, 4])
    return dict(
        b=rng.choice([1, 2, 3]),
        h=h,
        d=d,
        kdim=rng.choice([None, d, rng.randint(1, 9)]),
        vdim=rng.choice([None, d, rng.randint(1, 9)]),
        lq=rng.randint(1, 5),
        lk=rng.randint(1, 5),
        bias=rng.random() < 0.6,
        train=rng.random() < 0.5,  # dropout 0: training changes nothing but the mode
        mask=rng.choice(["none", "LL", "BLL", "BhLL", "B·h LL", "padding"]),
        average=rng.random() < 0.5,
    )


def _masks(kind, b, h, lq, lk, gen):
    """lib's mask (True = may attend), PyTorch's (attn_mask, key_padding_mask) (True = blocked)
    for the same allowed (B, h, Lq, Lk); key 0 always allowed, so no query is left without keys."""
    allowed = torch.rand(b, h, lq, lk, generator=gen) < 0.6
    allowed[..., 0] = True
    if kind == "none":
        return None, (None, None)
    if kind == "LL":
        return allowed[0, 0], (to_blocked(allowed[0, 0]), None)
    if kind == "BLL":  # one mask per sentence, PyTorch's repeated for each head
        mine = allowed[:, 0]
        return mine, (to_blocked(mine.repeat_interleave(h, 0)), None)
    if kind == "padding":
        keys = allowed[:, 0, 0]  # (B, Lk)
        return keys[:, None, None, :], (None, to_blocked(keys))
    flat = to_blocked(allowed.reshape(b * h, lq, lk))  # row b·h + i: batch b's head i
    return (allowed if kind == "BhLL" else allowed.reshape(b * h, lq, lk)), (flat, None)


@pytest.mark.parametrize("seed", range(40))
def test_kdim_vdim_and_masks_match_torch(seed):
    s = _random_case(seed)
    b, h, d, lq, lk = s["b"], s["h"], s["d"], s["lq"], s["lk"]
    mine, ref = _pair(d, h, kdim=s["kdim"], vdim=s["vdim"], bias=s["bias"], seed=seed)
    mine.train(s["train"]), ref.train(s["train"])
    gen = torch.Generator().manual_seed(seed)
    query = torch.randn(b, lq, d, generator=gen, dtype=DTYPE, requires_grad=True)
    key = torch.randn(b, lk, mine.kdim, generator=gen, dtype=DTYPE, requires_grad=True)
    value = torch.randn(b, lk, mine.vdim, generator=gen, dtype=DTYPE, requires_grad=True)
    mask, (attn_mask, padding) = _masks(s["mask"], b, h, lq, lk, gen)

    out, weights = mine(query, key, value, mask=mask)
    want, want_w = ref(query, key, value, attn_mask=attn_mask, key_padding_mask=padding,
                       average_attn_weights=s["average"])  # fmt: skip
    torch.testing.assert_close(out, want, **TOL)
    assert weights.shape == (b, h, lq, lk)
    torch.testing.assert_close(weights.mean(1) if s["average"] else weights, want_w, **TOL)

    # One loss through outputs and weights: every gradient, inputs' and parameters', compared.
    r_out = torch.randn(out.shape, generator=gen, dtype=DTYPE)
    r_w = torch.randn(want_w.shape, generator=gen, dtype=DTYPE)
    my_w = weights.mean(1) if s["average"] else weights
    inputs = [query, key, value]
    mine_grads = torch.autograd.grad((out * r_out).sum() + (my_w * r_w).sum(), [*inputs, *mine.parameters()])
    for p, g in zip(mine.parameters(), mine_grads[3:]):
        p.grad = g
    names, params = zip(*ref.named_parameters())
    ref_grads = torch.autograd.grad((want * r_out).sum() + (want_w * r_w).sum(), [*inputs, *params])
    for name, got, want_g in zip(("query", "key", "value"), mine_grads, ref_grads):
        torch.testing.assert_close(got, want_g, **TOL, msg=lambda m, n=name: f"grad of {n}: {m}")
    theirs = dict(zip(names, ref_grads[3:]))
    mapped = _grads_by_torch_name(mine)
    assert mapped.keys() == theirs.keys()
    for name, got in mapped.items():
        torch.testing.assert_close(got, theirs[name], **TOL, msg=lambda m, n=name: f"grad of {n}: {m}")


@pytest.mark.parametrize("kdim, vdim", [(3, 3), (5, 2), (8, 3), (3, 8)])
@pytest.mark.parametrize("bias", [True, False])
def test_load_from_torch_copies_separate_projections(kdim, vdim, bias):
    mine, ref = _pair(8, 2, kdim=kdim, vdim=vdim, bias=bias)
    assert ref.in_proj_weight is None and not ref._qkv_same_embed_dim  # PyTorch keeps them apart
    assert torch.equal(mine.k_proj.weight, ref.k_proj_weight) and mine.k_proj.weight.shape == (8, kdim)
    assert torch.equal(mine.v_proj.weight, ref.v_proj_weight) and mine.v_proj.weight.shape == (8, vdim)
    assert torch.equal(mine.q_proj.weight, ref.q_proj_weight)
    if bias:
        assert torch.equal(
            torch.cat([mine.q_proj.bias, mine.k_proj.bias, mine.v_proj.bias]), ref.in_proj_bias
        )


def test_kdim_and_vdim_equal_to_d_model_change_nothing():
    """kdim = vdim = d_model is the module it always was: the same parameters, in_proj_weight
    loaded, self-attention (query alone) allowed and the KV cache too."""
    mine, ref = _pair(6, 3, kdim=6, vdim=6)
    plain = MultiHeadAttention(6, 3).to(DTYPE).load_from_torch(ref)
    assert [p.shape for p in mine.parameters()] == [p.shape for p in plain.parameters()]
    x = torch.randn(2, 4, 6, dtype=DTYPE)
    torch.testing.assert_close(mine(x)[0], ref(x, x, x)[0], **TOL)
    out, _ = mine.forward_cached(x, KVCache(1, 8), 0)  # no mask: every position sees all four
    torch.testing.assert_close(out, plain(x)[0], **TOL)


# ---------------------------------------------------------------- (B·h, Lq, Lk) masks


def _per_head_allowed(b, h, lq, lk, gen, *, empty_rows: bool):
    """(B, h, Lq, Lk), different in every head; with ``empty_rows`` some queries of some heads
    see no key at all."""
    allowed = torch.rand(b, h, lq, lk, generator=gen) < 0.5
    if empty_rows:
        allowed[0, -1, 0] = False  # batch 0's last head: query 0 sees nothing
        allowed[-1, 0, -1] = False
    return allowed


@pytest.mark.parametrize("b, h", [(1, 2), (2, 2), (3, 2), (2, 3), (1, 4), (4, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_mask_of_b_times_h_rows_is_per_head_as_in_torch(b, h, bias):
    d, lq, lk = 2 * h, 3, 4
    mine, ref = _pair(d, h, bias=bias, seed=b * 10 + h)
    gen = torch.Generator().manual_seed(b * 10 + h)
    allowed = _per_head_allowed(b, h, lq, lk, gen, empty_rows=True)
    flat = allowed.reshape(b * h, lq, lk)  # nn.MultiheadAttention's layout: row b·h + i
    query = torch.randn(b, lq, d, generator=gen, dtype=DTYPE)
    key = torch.randn(b, lk, d, generator=gen, dtype=DTYPE)

    out, weights = mine(query, key, mask=flat)
    want, want_w = ref(query, key, key, attn_mask=to_blocked(flat), average_attn_weights=False)
    empty = ~allowed.any(-1)  # (B, h, Lq)
    nan_rows = ~torch.isfinite(want).all(-1)  # (B, Lq): any head's query without keys
    assert torch.equal(nan_rows, empty.any(1)), "PyTorch's NaN rows are the queries that see no key"
    torch.testing.assert_close(out[~nan_rows], want[~nan_rows], **TOL)
    torch.testing.assert_close(weights[~empty], want_w[~empty], **TOL)
    assert bool((weights[empty] == 0).all()) and torch.isfinite(out).all()
    # Where every head's query sees nothing, W_O mixes zeros: out_proj's bias alone (or zeros).
    all_empty = empty.all(1)
    if all_empty.any():
        torch.testing.assert_close(out[all_empty], mine.out_proj(torch.zeros_like(out[all_empty])))
    # The same mask as lib's own (B, h, Lq, Lk): one meaning, two spellings.
    torch.testing.assert_close(out, mine(query, key, mask=allowed)[0], **TOL)


def test_mask_of_b_times_h_rows_without_weights_matches_torch_kernel():
    """No weights asked, a gradient wanted: PyTorch's kernel gives zeros where a query sees no
    key, as lib does, so the two are compared everywhere, gradients included."""
    b, h, d, length = 2, 2, 4, 5
    mine, ref = _pair(d, h, seed=7)
    gen = torch.Generator().manual_seed(7)
    allowed = _per_head_allowed(b, h, length, length, gen, empty_rows=True)
    flat = allowed.reshape(b * h, length, length)
    x = torch.randn(b, length, d, generator=gen, dtype=DTYPE, requires_grad=True)
    out, weights = mine(x, mask=flat, need_weights=False)
    want, _ = ref(x, x, x, attn_mask=to_blocked(flat), need_weights=False)
    assert weights is None
    torch.testing.assert_close(out, want, **TOL)
    r = torch.randn(out.shape, generator=gen, dtype=DTYPE)
    got = torch.autograd.grad((out * r).sum(), x)[0]
    torch.testing.assert_close(got, torch.autograd.grad((want * r).sum(), x)[0], **TOL)


@pytest.mark.parametrize("b, h", [(2, 2), (3, 3), (1, 1), (2, 1)])
def test_mask_of_b_rows_keeps_its_meaning(b, h):
    """A 3-D mask of B rows is lib's (B, Lq, Lk), the same for every head, even when B = h;
    with one head (B·h = B) both readings are one."""
    mine, _ = _pair(2 * h, h)
    gen = torch.Generator().manual_seed(3)
    mask = torch.rand(b, 3, 3, generator=gen) < 0.5
    mask[..., 0] = True
    x = torch.randn(b, 3, 2 * h, generator=gen, dtype=DTYPE)
    out, weights = mine(x, mask=mask)
    assert bool((weights[~mask.unsqueeze(1).expand_as(weights)] == 0).all())
    torch.testing.assert_close(out, mine(x, mask=mask.unsqueeze(1))[0], **TOL)


def test_encoder_layer_takes_torch_per_head_mask():
    """The layers read their masks through the attention's: nn.TransformerEncoderLayer's
    src_mask (B·h, L, L) means there what it means in PyTorch."""
    torch.manual_seed(0)
    b, h, d, length = 2, 2, 8, 4
    ref = nn.TransformerEncoderLayer(d, h, 16, dropout=0.0, batch_first=True, dtype=DTYPE).eval()
    mine = EncoderLayer(d, h, 16, dropout=0.0).to(DTYPE).load_from_torch(ref).eval()
    allowed = _per_head_allowed(b, h, length, length, torch.Generator().manual_seed(1), empty_rows=False)
    allowed[..., 0] = True
    flat = allowed.reshape(b * h, length, length)
    x = torch.randn(b, length, d, dtype=DTYPE)
    torch.testing.assert_close(mine(x, flat), ref(x, src_mask=to_blocked(flat)), **TOL)


# ---------------------------------------------------------------- refusals, each by name

X8 = torch.randn(2, 3, 8)  # (B, L, d_model = 8)

REFUSALS = [
    ("kdim zero", lambda: MultiHeadAttention(8, 2, kdim=0), "kdim", "positive int"),
    ("kdim a float", lambda: MultiHeadAttention(8, 2, kdim=2.5), "kdim", "positive int"),
    ("vdim a bool", lambda: MultiHeadAttention(8, 2, vdim=True), "vdim", "positive int"),
    ("vdim negative", lambda: MultiHeadAttention(8, 2, vdim=-3), "vdim", "positive int"),
    ("kdim too big to allocate", lambda: MultiHeadAttention(8, 2, kdim=10**15), "kdim", "smaller"),
    (
        "key of d_model features for kdim 5",
        lambda: MultiHeadAttention(8, 2, kdim=5)(X8, torch.randn(2, 3, 8), X8),
        "key",
        r"size 5 in dimension -1 \(kdim\)",
    ),
    (
        "value of kdim features for vdim 3",
        lambda: MultiHeadAttention(8, 2, kdim=5, vdim=3)(X8, torch.randn(2, 4, 5), torch.randn(2, 4, 5)),
        "value",
        r"size 3 in dimension -1 \(vdim\)",
    ),
    (
        "self-attention with kdim",
        lambda: MultiHeadAttention(8, 2, kdim=5, vdim=8)(X8),
        "key",
        r"self-attention.*kdim = d_model \(8\).*kdim=5",
    ),
    (
        "self-attention with vdim",
        lambda: MultiHeadAttention(8, 2, vdim=4)(X8),
        "value",
        r"self-attention.*vdim = d_model \(8\).*vdim=4",
    ),
    (
        "the key as value with vdim ≠ kdim",
        lambda: MultiHeadAttention(8, 2, kdim=5, vdim=3)(X8, torch.randn(2, 4, 5)),
        "value",
        r"vdim=3.*kdim=5",
    ),
    (
        "forward_cached with kdim",
        lambda: MultiHeadAttention(8, 2, kdim=5).forward_cached(X8, KVCache(1, 8), 0),
        "kdim",
        r"self-attention.*kdim=5, vdim=8",
    ),
    (
        "load a kdim of another size",
        lambda: MultiHeadAttention(8, 2, kdim=5).load_from_torch(nn.MultiheadAttention(8, 2, kdim=4)),
        "mha",
        r"kdim=5.*got 8, 2, 4, 8",
    ),
    (
        "load a vdim into a module without",
        lambda: MultiHeadAttention(8, 2).load_from_torch(nn.MultiheadAttention(8, 2, vdim=3)),
        "mha",
        r"vdim=8.*got 8, 2, 8, 3",
    ),
    (
        "load add_bias_kv",
        lambda: MultiHeadAttention(8, 2).load_from_torch(nn.MultiheadAttention(8, 2, add_bias_kv=True)),
        "mha",
        "add_bias_kv=False",
    ),
    (
        "load add_zero_attn with kdim",
        lambda: MultiHeadAttention(8, 2, kdim=3).load_from_torch(
            nn.MultiheadAttention(8, 2, kdim=3, add_zero_attn=True)
        ),
        "mha",
        "add_zero_attn=False",
    ),
    (
        "load kdim without bias into one with",
        lambda: MultiHeadAttention(8, 2, kdim=3).load_from_torch(
            nn.MultiheadAttention(8, 2, kdim=3, bias=False)
        ),
        "mha",
        "bias=True",
    ),
    (
        "a mask of B·h rows with one row too many",
        lambda: MultiHeadAttention(8, 2)(X8, mask=torch.ones(5, 3, 3, dtype=torch.bool)),
        "mask",
        "does not broadcast",
    ),
]


@each_case(REFUSALS)
def test_refused_by_name(call, argument, expected):
    assert_refused(call, argument, expected)
