"""Training narrow heads on the CPU takes narrow_heads.attention: the same outputs and gradients
as PyTorch's own attention, masks and causal included, and only where it is the faster way."""

import pytest
import torch
import torch.nn.functional as F
from refusals import assert_refused, each_case
from torch import nn
from transformer_course import narrow_heads
from transformer_course.attention import MultiHeadAttention
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig


def _inputs(lead, lq, lk, d_k, d_v, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*lead, lq, d_k, generator=g, dtype=dtype, requires_grad=True)
    k = torch.randn(*lead, lk, d_k, generator=g, dtype=dtype, requires_grad=True)
    v = torch.randn(*lead, lk, d_v, generator=g, dtype=dtype, requires_grad=True)
    grad = torch.randn(*lead, lq, d_v, generator=g, dtype=dtype)
    return q, k, v, grad


def _reference(q, k, v, scale, mask):
    """PyTorch's attention, with zeros (not NaN) in a row whose every key is masked."""
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
    if mask is None:
        return out
    return out.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)


def _both(q, k, v, grad, scale, mask, causal):
    full = mask
    if causal:
        tril = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        full = tril if mask is None else mask & tril
    results = []
    for run in (lambda: narrow_heads.attention(q, k, v, scale, mask, causal=causal),
                lambda: _reference(q, k, v, scale, full)):  # fmt: skip
        out = run()
        results.append((out.detach(), *torch.autograd.grad(out, (q, k, v), grad)))
    return results


@pytest.mark.parametrize(
    "lead, lq, lk, d_k, d_v, causal, mask_kind",
    [
        ((3, 4), 7, 7, 4, 4, True, None),  # a GPT's self-attention
        ((2, 16), 44, 44, 4, 4, True, "right"),  # chapter 09's batches: causal and right padding
        ((3, 2), 9, 9, 8, 3, True, "left"),  # left padding: rows before the story see nothing
        ((2, 3), 6, 6, 2, 5, False, "middle"),  # padding in the middle, not causal
        ((4, 2), 5, 8, 3, 3, False, None),  # cross-attention: Lq ≠ Lk
        ((2, 2), 5, 8, 3, 3, True, None),  # causal with Lq ≠ Lk: query i sees keys 0 … i
        ((2, 1), 1, 1, 1, 1, True, None),  # one token, one dimension
        ((5,), 6, 6, 4, 4, False, "empty"),  # a row with every key masked gives zeros
    ],
)
def test_outputs_and_gradients_equal_pytorchs(lead, lq, lk, d_k, d_v, causal, mask_kind):
    q, k, v, grad = _inputs(lead, lq, lk, d_k, d_v)
    mask = None
    if mask_kind is not None:
        keep = torch.ones(lead[0], lk, dtype=torch.bool)  # (B, Lk): True = a real token
        if mask_kind == "right":
            keep[0, -5:] = False
        elif mask_kind == "left":
            keep[1, :3] = False
        elif mask_kind == "middle":
            keep[0, 2:4] = False
        mask = keep.view(lead[0], *([1] * (len(lead) - 1)), 1, lk)  # (B, 1…, 1, Lk)
        if mask_kind == "empty":
            mask = torch.rand(lead[0], lq, lk, generator=torch.Generator().manual_seed(1)) > 0.5
            mask[0, 2] = False
    scale = 0.7
    mine, theirs = _both(q, k, v, grad, scale, mask, causal)
    for name, a, b in zip(("output", "dq", "dk", "dv"), mine, theirs):
        assert a.shape == b.shape, name
        assert torch.allclose(a, b, atol=1e-10), f"{name} differs by {(a - b).abs().max():.2e}"


def test_float32_agrees_with_pytorchs_fused_kernel():
    q, k, v, grad = _inputs((8, 16), 44, 44, 4, 4, dtype=torch.float32)
    mine, theirs = _both(q, k, v, grad, 0.5, None, True)
    for a, b in zip(mine, theirs):
        assert torch.allclose(a, b, atol=1e-5)


def test_only_training_narrow_heads_on_the_cpu_takes_it():
    q, k, v, _ = _inputs((2, 4), 10, 10, 4, 4, dtype=torch.float32)
    assert narrow_heads.suits(q, k, v)
    with torch.no_grad():  # inference: the fused kernel, which never holds the weights
        assert not narrow_heads.suits(q, k, v)
    assert not narrow_heads.suits(q.detach(), k.detach(), v.detach())
    wide = _inputs((2, 4), 10, 10, 16, 16, dtype=torch.float32)[:3]
    assert not narrow_heads.suits(*wide)  # wide heads: PyTorch's kernel is as fast
    assert not narrow_heads.suits(q.half(), k.half(), v.half())
    assert not narrow_heads.suits(q[:1].expand(2, 4, 10, 4), k[:1], v[:1])  # broadcasting: not here
    long = torch.randn(1, 1, 1, 4, requires_grad=True).expand(64, 8, 512, 4)
    assert not narrow_heads.suits(long, long, long)  # 64·8·512² weights: too many to keep


def test_a_gpt_trains_to_the_same_gradients_either_way(monkeypatch):
    config = TransformerConfig(vocab_size=30, d_model=32, num_heads=8, num_decoder_layers=2, d_ff=64,
                               dropout=0.0, max_len=16, norm_first=True, positional="learned")  # fmt: skip
    torch.manual_seed(0)
    model = DecoderOnlyTransformer(config).double()
    ids = torch.randint(1, 30, (5, 12))
    ids[1, 9:] = config.pad_id  # right padding: the causal and padding mask
    grads = []
    for narrow in (8, 0):  # NARROW = 0 sends every head to PyTorch's kernel
        monkeypatch.setattr(narrow_heads, "NARROW", narrow)
        model.zero_grad()
        model(ids).sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    assert all(torch.allclose(a, b, atol=1e-10) for a, b in zip(*grads))


def test_lib_attention_trains_like_pytorchs_multihead_attention():
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(24, 6, batch_first=True)
    mine = MultiHeadAttention(24, 6).load_from_torch(ref)
    x = torch.randn(3, 10, 24)
    blocked = torch.ones(10, 10, dtype=torch.bool).triu(1)
    want, _ = ref(x, x, x, attn_mask=blocked, need_weights=False)
    got, _ = mine(x, need_weights=False, causal=True)
    assert torch.allclose(got, want, atol=1e-5)
    want.sum().backward()
    got.sum().backward()
    for proj, theirs in zip((mine.q_proj, mine.k_proj, mine.v_proj), ref.in_proj_weight.grad.chunk(3)):
        assert torch.allclose(proj.weight.grad, theirs, atol=1e-5)
    assert torch.allclose(mine.out_proj.weight.grad, ref.out_proj.weight.grad, atol=1e-5)


def test_second_derivatives_are_right_too():
    q, k, v, _ = _inputs((2, 2), 4, 4, 2, 3)
    mask = torch.tensor([True, True, True, False]).view(1, 1, 1, 4)
    assert narrow_heads.suits(q, k, v)
    for kwargs in ({"causal": True}, {"mask": mask}):
        run = lambda q, k, v, kw=kwargs: narrow_heads.attention(q, k, v, 0.5, **kw)  # noqa: E731
        assert torch.autograd.gradcheck(run, (q, k, v))
        assert torch.autograd.gradgradcheck(run, (q, k, v))


Q = torch.randn(2, 3, 5, 4)
BAD = [
    ("q not a tensor", lambda: narrow_heads.attention([1.0], Q, Q, 0.5), "q", "torch.Tensor"),
    ("k of integers", lambda: narrow_heads.attention(Q, Q.long(), Q, 0.5), "k", "floating-point"),
    ("v in float64", lambda: narrow_heads.attention(Q, Q, Q.double(), 0.5), "v", "dtype torch.float32"),
    ("q 1-D", lambda: narrow_heads.attention(torch.randn(4), Q, Q, 0.5), "q", "2-D"),
    ("k's width", lambda: narrow_heads.attention(Q, Q[..., :3], Q, 0.5), "k", "d_k = 4"),
    ("v's length", lambda: narrow_heads.attention(Q, Q, Q[..., :4, :], 0.5), "v", "Lk = 5"),
    ("broadcast batch", lambda: narrow_heads.attention(Q, Q[:1], Q[:1], 0.5), "q, k and v", "leading"),
    ("scale NaN", lambda: narrow_heads.attention(Q, Q, Q, float("nan")), "scale", "finite"),
    ("scale 0", lambda: narrow_heads.attention(Q, Q, Q, 0), "scale", "> 0"),
    ("mask of floats", lambda: narrow_heads.attention(Q, Q, Q, 0.5, torch.ones(5, 5)), "mask", "bool"),
    (
        "mask's shape",
        lambda: narrow_heads.attention(Q, Q, Q, 0.5, torch.ones(4, 5, dtype=torch.bool)),
        "mask",
        "broadcast",
    ),
    (
        "causal a string",
        lambda: narrow_heads.attention(Q, Q, Q, 0.5, causal="yes"),
        "causal",
        "True or False",
    ),
]


@each_case(BAD)
def test_bad_arguments_are_refused_by_name(call, argument, expected):
    assert_refused(call, argument, expected)


def test_torch_func_gives_the_same_gradients_per_example(monkeypatch):
    calls = []
    attend = narrow_heads._attend
    monkeypatch.setattr(narrow_heads, "_attend", lambda *a, **kw: calls.append(1) or attend(*a, **kw))
    torch.manual_seed(0)
    attention = MultiHeadAttention(16, 4).double()  # heads of 4: the narrow path
    params = dict(attention.named_parameters())
    x = torch.randn(3, 1, 6, 16, dtype=torch.float64)  # 3 examples of one sequence each
    keep = torch.ones(3, 1, 1, 1, 6, dtype=torch.bool)
    keep[1, ..., 4:] = False  # the second example is padded

    def loss(p, x, keep):
        out, _ = torch.func.functional_call(
            attention, p, (x, None, None, keep), {"need_weights": False, "causal": True}
        )
        return (out**2).sum()

    per_example = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))(params, x, keep)
    assert calls  # the narrow path ran under vmap and grad
    for i in range(3):
        attention.zero_grad()
        loss(params, x[i], keep[i]).backward()
        for name, p in params.items():
            assert torch.allclose(per_example[name][i], p.grad, atol=1e-10), name
