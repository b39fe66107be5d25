"""Round 45, second part: lib against PyTorch on random configurations, the cached path and generation.

This session's cached path: ``cached_logits_fn`` runs its steps under ``torch.inference_mode()``,
the KV cache keeps each layer's stacked W_Q/W_K/W_V there, ``model.step`` keeps its ``no_grad`` in
Python, and a count of optimiser steps makes a cache stale. Each case draws a GPT from its seed:
d_model and heads (narrow heads of d_head 4, which ``narrow_heads`` takes when a gradient is
wanted, and wide ones of 12 or 16), 1–3 layers, pre- or post-norm, ReLU or GELU, biases or none,
learned or sinusoidal positions, tied or not, float32 or float64, dropout configured but the model
evaluating; batch 1–3, prompts of 1 … max_len − 1 tokens with padding anywhere. Checked:

1. ``cached_logits_fn`` (prompt, then a token at a time) and ``model.step`` (random chunks) give
   the logits of the whole sequence's forward (run with gradients, so narrow heads take their path).
2. ``generate`` writes the same ids with the cache as without, greedy and sampled (top-k, top-p,
   temperature, one seed); ``greedy_decode`` on padded batches the same.
3. The attention ``need_weights`` keeps on the cached path is the forward's rows.
4. ``EncoderLayer.forward_cached`` (under inference_mode, bias or none) equals
   ``nn.TransformerEncoderLayer`` given the causal and padding masks, its weights copied; a GPT
   whose blocks are copied from an ``nn.TransformerEncoder`` gives, cached, that stack's logits.
5. Under CPU autocast (bfloat16) cached and uncached logits agree within bfloat16's rounding.

What it found, fixed in lib:

- (``logits_fns``) A ``cached_logits_fn`` called under ``torch.autocast("cpu",
  dtype=torch.bfloat16)`` and then outside it (or the other way round) raised "cache must come
  from this model's new_cache()", about a cache the caller never passed, where
  ``decoder_logits_fn`` simply runs: its cache held keys of the other dtype. The dtype the keys
  are made in is now part of what a cache was made with, so such a call starts a fresh cache, as
  a changed weight does.
- (``kv_cache``) A model made under ``torch.inference_mode()`` holds inference tensors, which
  keep no version counter: after a load into them there, a cache's step under inference_mode
  projected the new token with the W_Q, W_K, W_V it had stacked before (0.6 apart in the logits).
  Such weights are now stacked afresh at every step, as ``model.step`` outside it does.
"""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn
from transformer_course import generation as gen
from transformer_course.kv_cache import KVCache
from transformer_course.layers import EncoderLayer
from transformer_course.masks import causal_mask, to_blocked
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")

V = 13
TOL = {torch.float32: dict(atol=5e-5, rtol=1e-4), torch.float64: dict(atol=1e-10, rtol=1e-8)}
# (d_model, heads): d_head 4 (narrow_heads' path when a gradient is wanted), 12 and 16 (wide).
WIDTHS = ((8, 2), (16, 4), (12, 3), (24, 2), (32, 2), (16, 1))
SEEDS = range(40)


def _close(got, want, dtype, what):
    torch.testing.assert_close(got, want, **TOL[dtype], msg=lambda m: f"{what}: {m}")


def _draw(seed: int) -> tuple[DecoderOnlyTransformer, random.Random, torch.dtype]:
    """A GPT drawn from ``seed``, its parameters nudged (LayerNorm biases start at 0), evaluating."""
    rng = random.Random(seed)
    d_model, heads = WIDTHS[seed % len(WIDTHS)]
    config = TransformerConfig(
        vocab_size=V,
        d_model=d_model,
        num_heads=heads,
        num_decoder_layers=rng.randint(1, 3),
        d_ff=rng.choice((d_model, 2 * d_model)),
        dropout=rng.choice((0.1, 0.3)),  # configured, and nothing while evaluating
        max_len=rng.randint(4, 10),
        norm_first=rng.random() < 0.5,
        activation=rng.choice(("relu", "gelu")),
        bias=rng.random() < 0.6,
        positional=rng.choice(("learned", "sinusoidal")),
        tie_embeddings=rng.random() < 0.5,
    )
    dtype = torch.float64 if seed % 3 == 2 else torch.float32
    torch.manual_seed(seed)
    model = DecoderOnlyTransformer(config).to(dtype).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, dtype=dtype) * 0.1)
    return model, rng, dtype


def _ids(rng: random.Random, batch: int, length: int, pad_rate: float = 0.2) -> torch.Tensor:
    """(batch, length) ids in 1 … V − 1, some set to padding (0), position 0 included."""
    rows = [
        [0 if rng.random() < pad_rate else rng.randint(1, V - 1) for _ in range(length)] for _ in range(batch)
    ]
    return torch.tensor(rows)


def _forward(model, ids):
    """The whole sequence's logits, with gradients on (narrow heads' path), and its weights."""
    logits = model(ids).detach()
    with torch.no_grad():
        model(ids, need_weights=True)
    return logits, model.attention_weights()["decoder_self"]


# ------------------------------------------------------------------ 1 and 3: cached logits and weights


@pytest.mark.parametrize("seed", SEEDS)
def test_cached_logits_fn_gives_the_forwards_logits_and_weights_at_every_position(seed):
    model, rng, dtype = _draw(seed)
    length = model.config.max_len
    ids = _ids(rng, rng.randint(1, 3), length, pad_rate=rng.choice((0.0, 0.2, 0.6)))
    want, weights = _forward(model, ids)
    fn = gen.cached_logits_fn(model, need_weights=True)
    start, end = 0, rng.randint(1, length - 1)
    while end <= length:  # the prompt, then one token at a time, now and then two
        got = fn(ids[:, :end])  # (B, end, V)
        assert not got.is_inference()
        _close(got, want[:, :end], dtype, f"cached logits up to {end}")
        assert fn.cache.length == end
        for layer, (mine, whole) in enumerate(zip(fn.weights, weights, strict=True)):
            _close(mine, whole[:, :, start:end, :end], dtype, f"layer {layer}'s weights up to {end}")
            _close(fn.last_attention()[layer], whole[:, :, end - 1, :end], dtype, "last_attention")
            assert model.blocks.layers[layer].self_attn_weights is mine
        start, end = end, end + (2 if rng.random() < 0.25 else 1)


@pytest.mark.parametrize("seed", SEEDS)
def test_model_step_in_random_chunks_gives_the_forwards_logits(seed):
    model, rng, dtype = _draw(seed)
    length = model.config.max_len
    ids = _ids(rng, rng.randint(1, 3), length, pad_rate=rng.choice((0.0, 0.2, 0.6)))
    want, weights = _forward(model, ids)
    cache, start, parts = model.new_cache(), 0, []
    under_inference = rng.random() < 0.5  # the cache's stacked weights are kept only there
    while start < length:
        new = rng.randint(1, length - start) if start == 0 else rng.randint(1, min(3, length - start))
        with torch.inference_mode(under_inference):
            parts.append(model.step(ids[:, start : start + new], cache, need_weights=True))
        for mine, whole in zip(model.attention_weights()["decoder_self"], weights, strict=True):
            _close(mine, whole[:, :, start : start + new, : start + new], dtype, f"weights at {start}")
        start += new
    _close(torch.cat(parts, dim=1), want, dtype, "stepped logits")


@pytest.mark.parametrize("seed", SEEDS[:6])
def test_a_cache_begun_by_cached_logits_fn_goes_on_with_model_step(seed):
    """The function's cache holds inference tensors; ``model.step`` outside inference_mode copies
    it once and goes on, with the forward's logits."""
    model, rng, dtype = _draw(seed)
    length = model.config.max_len
    ids = _ids(rng, rng.randint(1, 3), length)
    want, _ = _forward(model, ids)
    fn = gen.cached_logits_fn(model)
    prompt = rng.randint(1, length - 1)
    fn(ids[:, :prompt])
    rest = [model.step(ids[:, i : i + 1], fn.cache) for i in range(prompt, length)]
    _close(torch.cat(rest, dim=1), want[:, prompt:], dtype, "steps after the function's cache")


# ------------------------------------------------------------------ 2: generation


SAMPLING = (
    {},
    {"top_k": 3},
    {"top_p": 0.7},
    {"temperature": 0.6},
    {"top_k": 5, "top_p": 0.9, "temperature": 1.7},
)


@pytest.mark.parametrize("seed", SEEDS)
def test_generate_writes_the_same_ids_with_the_cache_as_without(seed):
    model, rng, _ = _draw(seed)
    length = rng.randint(1, model.config.max_len - 1)
    prompt = _ids(rng, 1, length, pad_rate=0.15)[0]
    new = model.config.max_len - length
    cached = gen.cached_logits_fn(model)  # one function for every call: each prompt starts afresh
    for options in ({"strategy": "greedy"}, *({"strategy": "sample", **o} for o in SAMPLING)):
        a = gen.generate(cached, prompt, max_new_tokens=new, seed=seed, **options)
        b = gen.generate(gen.decoder_logits_fn(model), prompt, max_new_tokens=new, seed=seed, **options)
        assert torch.equal(a.ids, b.ids), options
        torch.testing.assert_close(a.probs(), b.probs(), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("seed", SEEDS)
def test_greedy_decode_of_padded_batches_is_the_same_with_the_cache(seed):
    model, rng, _ = _draw(seed)
    length = rng.randint(1, model.config.max_len - 1)
    batch = _ids(rng, rng.randint(1, 3), length, pad_rate=0.3)
    new = model.config.max_len - length
    # Now and then the token a row writes first: that row finishes, and pads after it.
    first = int(gen.greedy_decode(gen.decoder_logits_fn(model), batch[:1], max_new_tokens=1)[0, -1])
    eos = rng.choice((None, rng.randint(1, V - 1), first))
    a = gen.greedy_decode(gen.cached_logits_fn(model), batch, max_new_tokens=new, eos_id=eos)
    b = gen.greedy_decode(gen.decoder_logits_fn(model), batch, max_new_tokens=new, eos_id=eos)
    assert torch.equal(a, b)


# ------------------------------------------------------------------ 4: a cached layer against PyTorch's


@pytest.mark.parametrize("seed", range(8))
def test_a_cached_encoder_layer_equals_pytorchs_layer_with_causal_and_padding_masks(seed):
    rng = random.Random(100 + seed)
    d, h = WIDTHS[seed % len(WIDTHS)]
    dtype = torch.float64 if seed % 2 else torch.float32
    options = dict(
        norm_first=rng.random() < 0.5, activation=rng.choice(("relu", "gelu")), bias=rng.random() < 0.5
    )
    torch.manual_seed(seed)
    ref = nn.TransformerEncoderLayer(d, h, 2 * d, 0.2, batch_first=True, dtype=dtype, **options).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(torch.randn(p.shape, dtype=dtype) * 0.1)
    mine = EncoderLayer(d, h, 2 * d, 0.2, **options).to(dtype).eval().load_from_torch(ref)
    b, length = rng.randint(1, 3), rng.randint(2, 7)
    x = torch.randn(b, length, d, dtype=dtype)
    pad = torch.rand(b, length) < 0.25
    pad[:, 0] = False  # PyTorch gives NaN to a query with no key; lib zeros (other sweeps cover it)
    want = ref(x, src_mask=to_blocked(causal_mask(length)), src_key_padding_mask=pad)
    allowed = ~pad[:, None, None, :]  # (B, 1, 1, L): True = may attend
    cache, start, parts = KVCache(1, length), 0, []
    with torch.inference_mode():
        while start < length:
            new = rng.randint(1, length - start)
            mask = allowed[..., : start + new] & torch.ones(new, start + new, dtype=torch.bool).tril(start)
            parts.append(mine.forward_cached(x[:, start : start + new], cache, 0, mask))
            start += new
    _close(torch.cat(parts, dim=1), want.detach(), dtype, "cached layer")


@pytest.mark.parametrize("seed", range(8))
def test_a_gpt_holding_pytorchs_layers_steps_its_cache_as_pytorchs_stack_computes(seed):
    """The whole cached path against PyTorch: a GPT's blocks copied from an ``nn.TransformerEncoder``
    (bias or none, a final norm or none), its cached logits against PyTorch's stack run on the
    whole sequence with the causal mask and the key padding, between lib's embeddings and output."""
    model, rng, dtype = _draw(seed)
    c = model.config
    final = rng.random() < 0.5
    model = DecoderOnlyTransformer(c.replace(final_norm=final)).to(dtype).eval()
    layer = nn.TransformerEncoderLayer(
        c.d_model, c.num_heads, c.d_ff, c.dropout, c.activation, batch_first=True,
        norm_first=c.norm_first, bias=c.bias, dtype=dtype,
    )  # fmt: skip
    norm = nn.LayerNorm(c.d_model, bias=c.bias, dtype=dtype) if final else None
    core = nn.TransformerEncoder(layer, c.num_decoder_layers, norm=norm, enable_nested_tensor=False).eval()
    with torch.no_grad():
        for p in core.parameters():
            p.add_(torch.randn(p.shape, dtype=dtype) * 0.1)
    model.blocks.load_from_torch(core)
    ids = _ids(rng, rng.randint(1, 3), c.max_len, pad_rate=0.3)
    ids[:, 0] = 1  # a first query with no key is NaN in PyTorch, zeros in lib
    with torch.no_grad():
        hidden = core(
            model.embed(ids), mask=to_blocked(causal_mask(c.max_len)), src_key_padding_mask=ids == 0
        )
        want = model.output(hidden)
    fn = gen.cached_logits_fn(model)
    for end in range(rng.randint(1, c.max_len - 1), c.max_len + 1):
        got = fn(ids[:, :end])
    _close(got, want, dtype, "cached logits against PyTorch's stack")


# ------------------------------------------------------------------ 5: bfloat16 autocast on the CPU


def _float32(seed: int) -> tuple[DecoderOnlyTransformer, random.Random]:
    model, rng, _ = _draw(3 * seed)  # seeds ≡ 0 mod 3 are float32: autocast casts those
    return model, rng


@pytest.mark.parametrize("seed", range(6))
def test_cached_and_uncached_logits_agree_under_bfloat16_autocast(seed):
    model, rng = _float32(seed)
    length = model.config.max_len
    ids = _ids(rng, rng.randint(1, 3), length)
    prompt = rng.randint(1, length - 1)
    fn = gen.cached_logits_fn(model, need_weights=True)
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        want = model(ids, need_weights=True)
        weights = model.attention_weights()["decoder_self"]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for end in range(prompt, length + 1):
            got = fn(ids[:, :end])
            for mine, whole in zip(fn.last_attention(), weights, strict=True):  # (B, h, end) each
                torch.testing.assert_close(
                    mine.float(), whole[:, :, end - 1, :end].float(), atol=0.02, rtol=0.05
                )
        stepped = model.step(ids, model.new_cache())
    assert got.dtype == want.dtype == stepped.dtype == torch.bfloat16
    scale = float(want.float().abs().max())
    for what, logits in (("cached_logits_fn", got), ("model.step", stepped)):
        torch.testing.assert_close(logits.float(), want.float(), atol=0.05 * scale, rtol=0.05, msg=what)
    with torch.no_grad():
        exact = model(ids)  # and all three near float32's
    torch.testing.assert_close(want.float(), exact, atol=0.08 * scale, rtol=0.08)


@pytest.mark.parametrize("seed", range(4))
def test_generation_runs_under_bfloat16_autocast_with_and_without_the_cache(seed):
    model, rng = _float32(seed)
    prompt = _ids(rng, 1, 2, pad_rate=0.0)[0]
    new = model.config.max_len - 2
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a = gen.generate(
            gen.cached_logits_fn(model), prompt, max_new_tokens=new, strategy="sample", seed=seed
        )
        b = gen.generate(
            gen.decoder_logits_fn(model), prompt, max_new_tokens=new, strategy="sample", seed=seed
        )
    assert a.ids.shape == b.ids.shape == (model.config.max_len,)
    assert torch.isfinite(a.probs()).all() and torch.isfinite(b.probs()).all()


@pytest.mark.parametrize("first_autocast", [True, False])
def test_one_cached_logits_fn_runs_in_and_out_of_autocast(first_autocast):
    """Before the fix: the second call raised "cache must come from this model's new_cache()",
    about the function's own cache, filled in the other dtype."""
    model, rng = _float32(1)
    ids = _ids(rng, 2, model.config.max_len)
    fn = gen.cached_logits_fn(model)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=first_autocast):
        fn(ids[:, :2])
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not first_autocast):
        got = fn(ids[:, :3])
        want = model(ids[:, :3]).detach()
    assert got.dtype == want.dtype
    torch.testing.assert_close(got, want, atol=1e-5 if first_autocast else 0.05, rtol=0.05)
    assert fn.cache.keys[0].dtype == want.dtype  # a fresh cache, in this call's dtype


# ------------------------------------------------------------------ the stacked weights of inference tensors


def test_a_model_made_under_inference_mode_and_loaded_there_steps_with_its_new_weights():
    """A model made under inference_mode holds inference tensors, which keep no version counter:
    a load into them (under inference_mode, the only place it can write) changed nothing the
    cache's kept W_Q/W_K/W_V were checked against, and the next step projected with the old
    ones (0.6 apart in its logits). Such weights are stacked afresh at every step."""
    config = TransformerConfig(
        vocab_size=V, d_model=8, num_heads=2, num_decoder_layers=1, d_ff=16, dropout=0.0, max_len=8
    )
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.inference_mode():
        torch.manual_seed(0)
        model, other = DecoderOnlyTransformer(config).eval(), DecoderOnlyTransformer(config).eval()
        cache = model.new_cache()
        model.step(ids[:, :3], cache)  # stacks, and may keep, the first weights
        fresh = KVCache(cache.num_layers, cache.max_len)  # the same keys, nothing stacked
        fresh.ids, fresh.keys, fresh.values = cache.ids, list(cache.keys), list(cache.values)
        model.load_state_dict(other.state_dict())
        got = model.step(ids[:, 3:], cache)
        want = model.step(ids[:, 3:], fresh)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
