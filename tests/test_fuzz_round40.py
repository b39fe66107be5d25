"""Round 40 of the fuzzing: lib's core under PyTorch's other ways of differentiating, and odd values.

A throwaway fuzzer ran lib's attention through ``torch.autograd.grad(create_graph=True)``,
``torch.autograd.functional.hessian`` and ``torch.func`` (jacrev, jacfwd, hessian, vmap) and
compared with the same attention written in plain torch operations. It found:

- the narrow heads' second derivatives were wrong when one tensor was q, k and v (self-
  attention on x itself: each of dq, dk, dv came back as the whole gradient of x, three
  times too large), and ``torch.func.jacrev`` failed inside torch ("element 0 of tensors does
  not require grad"), ``jacfwd`` and ``hessian`` too (no forward-mode rule);
- the weights' path (``need_weights=True``) failed inside torch under ``torch.vmap`` and
  forward-mode AD: softmax's ``out=`` has no batching or forward-mode rule;
- a layer's ``forward_cached`` over several steps, on inputs that require a gradient, could not
  be differentiated: each step wrote into the cache's buffer the keys earlier steps had read;
- a float64 model's sinusoidal positions kept the float32 table's rounding, and a model made on
  the meta device then given memory (``to_empty``) kept uninitialised memory as its table;
- attention with a mask on the meta device failed inside torch, reading the mask's values;
- a Fraction as TransformerConfig's dropout or eps, or as gpt_optimiser's weight_decay, passed
  the checks, then failed inside torch at the first step (the checked float was not kept);
- ``narrow_heads.attention`` took a mask that would widen the scores, then failed inside torch;
- ``MultiHeadAttention.load_from_torch`` into a module on the meta device copied nothing, silently.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
from torch.func import hessian, jacfwd, jacrev, vmap
from transformer_course import narrow_heads
from transformer_course.attention import MultiHeadAttention, scaled_dot_product_attention
from transformer_course.kv_cache import KVCache
from transformer_course.lm_training import gpt_optimiser, next_token_loss
from transformer_course.masks import causal_mask
from transformer_course.model import DecoderOnlyTransformer, Transformer, TransformerConfig
from transformer_course.positional import SinusoidalPositionalEncoding, sinusoidal_encoding

MASKS = {
    "none": None,
    "causal": causal_mask(4),
    "a query with no key": torch.tensor([[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]).bool(),
}


def _reference(q, k, v, mask=None, scale=None):
    """softmax(q kᵀ · scale, masked) v in plain torch; a row with no key gets zero weights, as
    PyTorch's fused kernel (and lib) give it."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale
    if mask is None:
        return torch.softmax(scores, dim=-1) @ v
    empty = ~mask.any(dim=-1, keepdim=True)
    weights = torch.softmax(scores.masked_fill(~(mask | empty), float("-inf")), dim=-1)
    return weights.masked_fill(empty, 0.0) @ v


def _narrow(x, mask):
    """Self-attention of x on itself through the narrow heads' path (heads of at most 8)."""
    return narrow_heads.attention(x, x, x, 0.5, mask)


def _x(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(40), dtype=torch.float64)


@pytest.mark.parametrize("mask_name", MASKS)
def test_second_derivatives_of_one_tensor_as_q_k_and_v(mask_name):
    mask = MASKS[mask_name]
    grads = []
    for attend in (_narrow, lambda x, m: _reference(x, x, x, m, 0.5)):
        x = _x(2, 4, 3).requires_grad_()
        (g,) = torch.autograd.grad(attend(x, mask).pow(2).sum(), x, create_graph=True)
        (gg,) = torch.autograd.grad(g.pow(2).sum(), x)
        grads.append((g.detach(), gg))
    for mine, want in zip(*grads):
        torch.testing.assert_close(mine, want)


def test_the_library_call_takes_the_narrow_path_and_its_hessian_is_right():
    x = _x(1, 3, 2)
    assert narrow_heads.suits(x.requires_grad_(), x, x)
    mine = torch.autograd.functional.hessian(
        lambda a: scaled_dot_product_attention(a, a, a, need_weights=False)[0].sum(), x.detach()
    )
    want = torch.autograd.functional.hessian(lambda a: _reference(a, a, a).sum(), x.detach())
    torch.testing.assert_close(mine, want)


@pytest.mark.parametrize("transform", [jacrev, jacfwd])
@pytest.mark.parametrize("mask_name", MASKS)
def test_torch_func_jacobians_of_the_narrow_path(transform, mask_name):
    mask = MASKS[mask_name]
    q, k, v = _x(2, 4, 3), _x(2, 4, 3) + 1, _x(2, 4, 2) - 1
    run = lambda q, k, v: narrow_heads.attention(q, k, v, 0.5, mask)  # noqa: E731
    ref = lambda q, k, v: _reference(q, k, v, mask, 0.5)  # noqa: E731
    mine = transform(run, argnums=(0, 1, 2))(q, k, v)
    want = transform(ref, argnums=(0, 1, 2))(q, k, v)
    for m, w in zip(mine, want):
        torch.testing.assert_close(m, w)


def test_torch_func_hessian_of_a_multi_head_layer_on_the_narrow_path():
    torch.manual_seed(0)
    mha = MultiHeadAttention(4, 2).double()  # heads of 2: the narrow path while differentiating
    x = _x(1, 3, 4)

    def loss(a):
        return mha(a, need_weights=False, causal=True)[0].pow(2).sum()

    def reference(a):
        q, k, v = mha._project(a, a, a)
        out = _reference(q, k, v, causal_mask(3))
        return mha.out_proj(mha._merge(out)).pow(2).sum()

    torch.testing.assert_close(hessian(loss)(x), hessian(reference)(x))


@pytest.mark.parametrize("mask_name", ["none", "causal"])
def test_the_weights_path_runs_under_vmap(mask_name):
    mask = MASKS[mask_name]
    x = _x(3, 4, 5)
    out, weights = vmap(lambda a: scaled_dot_product_attention(a, a, a, mask))(x)
    torch.testing.assert_close(out, _reference(x, x, x, mask))
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, dtype=torch.float64))


def test_the_weights_path_runs_under_forward_mode_ad():
    x = _x(4, 5)
    mine = jacfwd(lambda a: scaled_dot_product_attention(a, a, a)[0])(x)
    torch.testing.assert_close(mine, jacrev(lambda a: _reference(a, a, a))(x))
    with torch.autograd.forward_ad.dual_level():
        dual = torch.autograd.forward_ad.make_dual(x, torch.ones_like(x))
        out, _ = scaled_dot_product_attention(dual, dual, dual)
        tangent = torch.autograd.forward_ad.unpack_dual(out).tangent
    torch.testing.assert_close(tangent, mine.sum(dim=(-2, -1)))


def test_a_multi_head_layer_with_weights_maps_over_examples():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2).double()
    x = _x(3, 4, 8)
    out, weights = vmap(lambda a: tuple(t[0] for t in mha(a[None], need_weights=True)))(x)
    want_out, want_weights = mha(x, need_weights=True)
    torch.testing.assert_close(out, want_out)
    torch.testing.assert_close(weights, want_weights)


def test_gradients_flow_through_several_cached_steps():
    """A layer's ``forward_cached`` on inputs that require a gradient, over several steps, then
    backward: a later step's write into the cache's buffer changed the keys an earlier step's
    backward reads ("modified by an inplace operation", from inside autograd)."""
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2).double()
    x = _x(2, 5, 8).requires_grad_()
    cache = KVCache(1, 8)
    chunks = [mha.forward_cached(x[:, :3], cache, 0, causal_mask(3))[0]]
    chunks += [mha.forward_cached(x[:, i : i + 1], cache, 0)[0] for i in (3, 4)]
    got = torch.cat(chunks, dim=1)
    want, _ = mha(x, mask=causal_mask(5))
    torch.testing.assert_close(got, want)
    (mine,) = torch.autograd.grad(got.pow(2).sum(), x)
    (theirs,) = torch.autograd.grad(want.pow(2).sum(), x)
    torch.testing.assert_close(mine, theirs)


def test_a_cache_goes_on_without_gradients_after_steps_with_them():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2).double()
    x = _x(1, 6, 8)
    cache = KVCache(1, 8)
    first, _ = mha.forward_cached(x[:, :2].requires_grad_(), cache, 0, causal_mask(2))
    with torch.no_grad():
        rest = [mha.forward_cached(x[:, i : i + 1], cache, 0)[0] for i in range(2, 6)]
        want, _ = mha(x, mask=causal_mask(6))
    torch.testing.assert_close(torch.cat([first.detach(), *rest], dim=1), want)
    torch.testing.assert_close(cache.keys[0], mha._project(x, x, x)[1])


@pytest.mark.parametrize("convert", [lambda m: m.double(), lambda m: m.to(torch.float64)])
def test_a_float64_sinusoidal_table_is_the_float64_formula(convert):
    """The table was computed in float32 and only cast up by ``.double()``: a float64 model's
    positions kept float32's rounding (3e-8 off the formula at position 600)."""
    table = convert(SinusoidalPositionalEncoding(6, 600))
    want = sinusoidal_encoding(600, 6, dtype=torch.float64)
    torch.testing.assert_close(table.pe, want, atol=1e-12, rtol=0)
    x = _x(1, 600, 6)
    torch.testing.assert_close(table(x), x + want, atol=1e-12, rtol=0)
    torch.testing.assert_close(table.float().pe, sinusoidal_encoding(600, 6))  # and back


def test_a_meta_mask_gives_shapes_as_pytorch_does():
    """On the meta device (shapes without values) the weights' path looked at the mask's values
    to find queries with no key: "Tensor.item() cannot be called on meta tensors"."""
    q = torch.empty(2, 3, 4, device="meta")
    mask = torch.ones(3, 3, dtype=torch.bool, device="meta")
    out, weights = scaled_dot_product_attention(q, q, q, mask)
    assert (out.shape, weights.shape, weights.device.type) == ((2, 3, 4), (2, 3, 3), "meta")
    attention = MultiHeadAttention(4, 2).to("meta")
    out, weights = attention(q, mask=mask, causal=True)
    assert (out.shape, weights.shape) == ((2, 3, 4), (2, 2, 3, 3))


def _tiny_config(**changes):
    sizes = dict(vocab_size=9, d_model=8, num_heads=2, d_ff=16, num_encoder_layers=1, num_decoder_layers=1)
    return TransformerConfig(**sizes, max_len=8, **changes)


@pytest.mark.parametrize("field", ["dropout", "eps"])
def test_a_config_keeps_a_fraction_as_a_float_the_model_can_use(field):
    """TransformerConfig(dropout=Fraction(1, 10)) passed its checks, then the model failed inside
    torch at its first training step ("argument 'p' must be float, not Fraction")."""
    config = _tiny_config(**{field: Fraction(1, 10) if field == "dropout" else Fraction(1, 10**5)})
    assert type(getattr(config, field)) is float
    ids = torch.ones(2, 3, dtype=torch.long)
    DecoderOnlyTransformer(config).train()(ids)
    Transformer(config).train()(ids, ids)


def test_gpt_optimiser_keeps_a_fraction_weight_decay_as_a_float():
    """gpt_optimiser(weight_decay=Fraction(1, 10)) passed its check, then AdamW's step failed
    inside torch ("_fused_adamw_() received an invalid combination of arguments")."""
    model = DecoderOnlyTransformer(_tiny_config(dropout=0.0))
    optimiser = gpt_optimiser(weight_decay=Fraction(1, 10))(model, 1e-3)
    next_token_loss(model, torch.randint(1, 9, (2, 5))).backward()
    optimiser.step()
    assert [type(g["weight_decay"]) for g in optimiser.param_groups] == [float, float]


@pytest.mark.parametrize("shape", [(5, 2, 3, 3), (1, 2, 3, 3), (2, 2, 3, 3)])
def test_narrow_attention_refuses_a_mask_that_would_widen_the_scores(shape):
    """A mask with more (or wider) leading dimensions than the scores (2, 3, 3) passed the check
    (the shapes broadcast together), then failed inside the in-place masking: "output with
    shape [2, 3, 3] doesn't match the broadcast shape"."""
    q = _x(2, 3, 4) if shape[1] == 2 else _x(2, 1, 3, 4)
    mask = torch.ones(shape, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"mask of shape .* does not broadcast to the scores"):
        narrow_heads.attention(q, q, q, 0.5, mask)


def test_copying_into_a_meta_attention_module_is_refused():
    """A MultiHeadAttention on the meta device (shapes, no memory) took load_from_torch with only
    a warning from load_state_dict: nothing was copied, and nothing said so."""
    mine = MultiHeadAttention(4, 2).to("meta")
    with pytest.raises(ValueError, match=r"meta device, where nothing can be copied.*to_empty"):
        mine.load_from_torch(torch.nn.MultiheadAttention(4, 2, batch_first=True))


def test_a_model_made_on_the_meta_device_then_loaded_computes_what_the_original_does():
    """PyTorch's way to build a model without memory, then load its weights: meta device,
    ``to_empty``, ``load_state_dict``. The sinusoidal table is not saved (not a parameter), so
    ``to_empty`` left it uninitialised memory: every output silently wrong."""
    config = _tiny_config(dropout=0.0)
    original = DecoderOnlyTransformer(config).eval()
    with torch.device("meta"):
        model = DecoderOnlyTransformer(config)
    model.to_empty(device="cpu").load_state_dict(original.state_dict())
    ids = torch.randint(1, 9, (2, 6), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model.eval()(ids), original(ids))


@pytest.mark.parametrize("shape", [(4, 3), (2, 4, 3), (2, 2, 4, 3)])
def test_forward_mode_ad_through_the_narrow_path(shape):
    """A tangent laid out unlike forward's output stopped forward-mode AD on an internal assert."""
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a: narrow_heads.attention(a, a, a, 0.5), (x,), check_forward_ad=True
    )


def test_a_call_that_changes_nothing_keeps_the_sinusoidal_table():
    layer = SinusoidalPositionalEncoding(16, max_len=32)
    table = layer.pe
    layer.to(torch.float32)
    layer.float()
    assert layer.pe is table  # not computed again: no cost, shared memory kept
    layer.double()
    assert layer.pe.dtype == torch.float64
    assert torch.equal(layer.pe, sinusoidal_encoding(32, 16, dtype=torch.float64))
