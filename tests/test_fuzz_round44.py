"""Round 44 of the fuzzing: the KV-cache step compiled whole, History.smoothed's dtypes, and
half-precision attention under autocast.

What it found, each fixed in lib:

- ``torch.compile(model.step, fullgraph=True)`` broke the graph twice: the one-new-token step
  read its ids for padding (``bool(...any())``) to skip the mask, and the cache asked its
  buffers ``is_inference()``, which dynamo cannot call. Compiled, the step now makes the
  padding mask either way (the same attention), and the cache does not ask; a cache filled
  under ``torch.inference_mode()`` cannot be continued by a compiled step outside it, which
  ``KVCache``'s docstring says and a test below shows.
- ``History.smoothed`` summed the losses in their own dtype: float16 losses went past 65504
  to inf, bfloat16 ones dropped what their 8 bits cannot hold; it returned tensors for them.
- Under ``torch.autocast("cpu", dtype=torch.bfloat16)``, ``MultiHeadAttention`` (and a
  ``FeedForward``, and a ``DecoderLayer``'s memory: matmuls only) with half-precision weights
  refused a float32 input by name, which ``nn.MultiheadAttention`` takes; float16 weights
  failed inside torch even given float16 ("Unexpected floating ScalarType in
  at::autocast::prioritize", from the cat of the projections' weights). Layers whose input
  meets a LayerNorm still refuse by name where torch's own fails ("mixed dtype (CPU)").
"""

from __future__ import annotations

import itertools
import warnings

import pytest
import torch
from tiny_models import TINY
from torch import nn
from transformer_course import generation
from transformer_course.attention import MultiHeadAttention
from transformer_course.history import History
from transformer_course.layers import DecoderLayer, EncoderLayer, FeedForward
from transformer_course.model import DecoderOnlyTransformer

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")


# ---------------------------------------------------------------- the cached step, compiled whole


def _greedy_steps(step, model, prompt, new_tokens):
    """Greedy decoding with ``step`` (compiled) and ``model.step`` (eager) side by side, each
    with its own cache: every step's logits compared; → the ids (B, t0 + new_tokens)."""
    cache, eager_cache = model.new_cache(), model.new_cache()
    logits = step(prompt, cache)  # (B, t0, V)
    torch.testing.assert_close(logits, model.step(prompt, eager_cache))
    ids = prompt
    for _ in range(new_tokens):
        token = logits[:, -1].argmax(-1, keepdim=True)  # (B, 1)
        ids = torch.cat([ids, token], dim=1)
        logits = step(token, cache)  # (B, 1, V)
        torch.testing.assert_close(logits, model.step(token, eager_cache))
    return ids


def _grad_mode_kept():
    """Around a compiled step that raises: PyTorch 2.13's "eager" backend leaves the step's
    no_grad on when its graph raises (inductor restores it), and every later test would run
    without gradients. enable_grad's exit puts back the mode it found."""
    return torch.enable_grad()


def test_the_cached_step_compiles_whole_with_inductor_and_writes_what_generate_writes():
    """One new token with the cache, fullgraph on the CPU's inductor: it broke the graph at
    the padding check and at the cache's is_inference(). Row 1 starts with <pad>, so the
    mask path is taken too. Tiny sizes: inductor takes about 15 s to compile here."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = DecoderOnlyTransformer(TINY).eval()
    step = torch.compile(model.step, fullgraph=True)
    prompt = torch.tensor([[1, 2, 3], [TINY.pad_id, 5, 6]])
    ids = _greedy_steps(step, model, prompt, new_tokens=6)
    for row in range(2):  # the same tokens as the uncached model, run on the whole prefix each step
        want = generation.generate(
            generation.decoder_logits_fn(model), prompt[row], max_new_tokens=6, strategy="greedy"
        )
        assert torch.equal(ids[row], want.ids)


def test_the_compiled_step_gives_the_attention_weights_and_checks_ids_by_name():
    torch._dynamo.reset()
    torch.manual_seed(1)
    model = DecoderOnlyTransformer(TINY).eval()
    step = torch.compile(model.step, fullgraph=True, backend="eager")
    cache, eager_cache = model.new_cache(), model.new_cache()
    for ids in (torch.tensor([[1, 2, 3, 4]]), torch.tensor([[5]]), torch.tensor([[6]]), torch.tensor([[7]])):
        got = step(ids, cache, need_weights=True)
        got_weights = model.attention_weights()["decoder_self"]
        torch.testing.assert_close(got, model.step(ids, eager_cache, need_weights=True))
        for a, b in zip(got_weights, model.attention_weights()["decoder_self"], strict=True):
            torch.testing.assert_close(a, b)  # (1, h, T, t + T)
    # Ids cannot be read while tracing: the graph checks them when it runs, by name.
    with _grad_mode_kept(), pytest.raises(RuntimeError, match=r"ids must hold ids in \[0, 11\)"):
        step(torch.tensor([[TINY.vocab_size]]), model.new_cache())
    # Eager, the same call is refused as before.
    with pytest.raises(ValueError, match=r"ids must hold ids in \[0, 11\), got values from 11 to 11"):
        model.step(torch.tensor([[TINY.vocab_size]]), model.new_cache())


def test_a_compiled_step_continues_an_inference_mode_cache_only_as_the_docstring_says():
    """What KVCache's docstring says: a compiled step cannot ask whether the cache was filled
    under torch.inference_mode(), so outside it PyTorch refuses the write; under it, or after
    one eager step (which copies the buffers out), the compiled step goes on."""
    torch._dynamo.reset()
    model = DecoderOnlyTransformer(TINY).eval()
    step = torch.compile(model.step, fullgraph=True, backend="eager")
    prompt, token = torch.tensor([[1, 2, 3]]), torch.tensor([[4]])
    reference = model.new_cache()
    model.step(prompt, reference)
    want = model.step(token, reference)

    def filled_under_inference_mode():
        cache = model.new_cache()
        with torch.inference_mode():
            model.step(prompt, cache)
        return cache

    assert "inference_mode" in type(reference).__doc__
    with _grad_mode_kept(), pytest.raises(RuntimeError, match="Inplace update to inference tensor outside"):
        step(token, filled_under_inference_mode())
    cache = filled_under_inference_mode()
    with torch.inference_mode():
        torch.testing.assert_close(step(token, cache), want)
    cache = filled_under_inference_mode()
    torch.testing.assert_close(model.step(token, cache), want)  # eager: copied, as before
    torch.testing.assert_close(step(torch.tensor([[5]]), cache), model.step(torch.tensor([[5]]), reference))


# ---------------------------------------------------------------- History.smoothed's dtypes


def test_smoothed_sums_float16_float32_and_bfloat16_losses_in_float64():
    """Summed in float16, 40000 + 40000 was inf (past 65504), and stayed inf minus what left."""
    losses = [
        torch.tensor(40000.0, dtype=torch.float16),
        torch.tensor(40000.0, dtype=torch.float16),
        torch.tensor(1e5),  # float32, beyond float16's range
        torch.tensor(3e38, dtype=torch.bfloat16),
        torch.tensor(3e38),  # both near float32's top: their sum is not a float32
        torch.tensor(2.0, dtype=torch.float16),
    ]
    values = [float(x) for x in losses]  # each loss as its dtype holds it, in Python floats
    got = History(list(range(1, 7)), losses).smoothed(3)
    want = [sum(values[max(0, i - 2) : i + 1]) / min(i + 1, 3) for i in range(6)]
    assert all(type(v) is float for v in got)
    assert got == pytest.approx(want, rel=1e-12)


def test_smoothed_keeps_what_bfloat16_cannot_add():
    """bfloat16 holds 8 bits: 256 + 1 is 256 there, and the mean of 256, 1, 1, 1 came out 64."""
    losses = [torch.tensor(v, dtype=torch.bfloat16) for v in (256.0, 1.0, 1.0, 1.0)]
    assert History([1, 2, 3, 4], losses).smoothed(4)[-1] == 64.75


def test_smoothed_of_python_floats_is_unchanged():
    assert History([1, 2, 3, 4], [4.0, 2.0, 0.0, 2.0]).smoothed(2) == [4.0, 3.0, 1.0, 1.0]
    with pytest.raises(ValueError, match=r"losses must hold numbers, got 1000.* at losses\[1\]"):
        History([1, 2], [1.0, 10**400]).smoothed()  # beyond a float: was a raw OverflowError


# ---------------------------------------------------------------- half-precision attention under autocast

HALVES = (torch.bfloat16, torch.float16)
INPUTS = (torch.float32, torch.bfloat16, torch.float16)


def _attention_pair(weights: torch.dtype, train: bool):
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(8, 2, batch_first=True)
    mine = MultiHeadAttention(8, 2).load_from_torch(ref)
    return ref.to(weights).train(train), mine.to(weights).train(train)


def _x(dtype, length=5, seed=1):
    return torch.randn(2, length, 8, generator=torch.Generator().manual_seed(seed)).to(dtype)


@pytest.mark.parametrize(
    ("weights", "given"), list(itertools.product(HALVES, INPUTS)), ids=lambda d: str(d).removeprefix("torch.")
)
@pytest.mark.parametrize("train", [False, True])
def test_half_precision_attention_takes_what_nn_multiheadattention_takes_under_autocast(
    weights, given, train
):
    """bfloat16 or float16 weights, x (B, L, 8) in float32, bfloat16 or float16: PyTorch's
    module takes each under CPU autocast and returns autocast's dtype. Self- and cross-attention,
    with and without the weights (PyTorch's averaged over the heads)."""
    ref, mine = _attention_pair(weights, train)
    x, memory = _x(given), _x(given, length=3, seed=2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for args in ((x, x, x), (x, memory, memory)):
            got, got_w = mine(*args)
            want, want_w = ref(*args)
            assert got.dtype == want.dtype == torch.bfloat16
            assert got_w.dtype == want_w.dtype
            torch.testing.assert_close(got.float(), want.float(), atol=0.05, rtol=0.05)
            torch.testing.assert_close(got_w.mean(1).float(), want_w.float(), atol=0.02, rtol=0.05)
            got = mine(*args, need_weights=False)[0]
            want = ref(*args, need_weights=False)[0]
            assert got.dtype == want.dtype
            torch.testing.assert_close(got.float(), want.float(), atol=0.05, rtol=0.05)


@pytest.mark.parametrize(
    ("weights", "given"), [(torch.bfloat16, torch.float64), (torch.float64, torch.float32)], ids=str
)
def test_float64_on_either_side_is_still_refused_by_name_under_autocast(weights, given):
    """Autocast leaves float64 as it is: PyTorch's matmul fails on the pair."""
    ref, mine = _attention_pair(weights, False)
    x = _x(given)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.raises(RuntimeError, match="same dtype"):
            ref(x, x, x)
        with pytest.raises(ValueError, match=f"query must have dtype {weights}"):
            mine(x, x, x)


def test_without_autocast_a_float32_x_into_bfloat16_attention_is_refused_as_before():
    _, mine = _attention_pair(torch.bfloat16, False)
    with pytest.raises(ValueError, match=r"query must have dtype torch.bfloat16.*got torch.float32"):
        mine(_x(torch.float32))


@pytest.mark.parametrize("weights", HALVES, ids=str)
def test_layers_whose_input_meets_a_layernorm_still_refuse_it_by_name(weights):
    """Where PyTorch's own layer fails inside torch ("mixed dtype (CPU)"), lib says why."""
    torch.manual_seed(0)
    x = _x(torch.float32)
    layers = (
        (nn.TransformerEncoderLayer(8, 2, 16, 0.0, batch_first=True), EncoderLayer(8, 2, 16), (x,)),
        (nn.TransformerDecoderLayer(8, 2, 16, 0.0, batch_first=True), DecoderLayer(8, 2, 16), (x, x)),
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for ref, mine, args in layers:
            with pytest.raises(RuntimeError, match="mixed dtype"):
                ref.to(weights).eval()(*args)
            with pytest.raises(ValueError, match=f"x must have dtype {weights}"):
                mine.to(weights).eval()(*args)


@pytest.mark.parametrize("given", INPUTS, ids=str)
def test_a_feed_forward_and_a_decoders_memory_take_what_torch_takes_under_autocast(given):
    """Matmuls only, no LayerNorm on the way: a bfloat16 FeedForward takes a float32 x as
    nn.Linear does, and a bfloat16 DecoderLayer a float32 memory as nn.TransformerDecoderLayer."""
    torch.manual_seed(0)
    ref_ff = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8))
    ff = FeedForward(8, 16)
    ff.linear1.load_state_dict(ref_ff[0].state_dict())
    ff.linear2.load_state_dict(ref_ff[2].state_dict())
    ref_dec = nn.TransformerDecoderLayer(8, 2, 16, 0.0, batch_first=True)
    dec = DecoderLayer(8, 2, 16, dropout=0.0).load_from_torch(ref_dec)
    for module in (ref_ff, ff, ref_dec, dec):
        module.to(torch.bfloat16).eval()
    x, memory = _x(given), _x(given, length=3, seed=2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pairs = ((ff(x), ref_ff(x)), (dec(x.bfloat16(), memory), ref_dec(x.bfloat16(), memory)))
    for got, want in pairs:
        assert got.dtype == want.dtype == torch.bfloat16
        torch.testing.assert_close(got.float(), want.float(), atol=0.05, rtol=0.05)


def test_smoothed_after_a_diverged_step_recovers_once_it_leaves_the_window():
    """train() writes a diverged step's inf into the losses; a running total then gave NaN for
    every later step (inf - inf). Each window's mean is its own."""
    h = History(losses=[1.0, float("inf"), 3.0, 3.0, 3.0, float("nan"), 5.0, 5.0])
    got = h.smoothed(2)
    assert got[:3] == [1.0, float("inf"), float("inf")] and got[3:5] == [3.0, 3.0]
    assert got[5] != got[5] and got[6] != got[6] and got[7] == 5.0  # NaN while it is in the window
    assert History(losses=[float("inf"), -float("inf"), 1.0]).smoothed(2)[1] != 0  # NaN, not 0


def test_smoothed_keeps_small_losses_after_a_huge_one_and_does_not_warn_for_a_grad():
    assert History(losses=[1e17, 1.0, 1.0, 1.0]).smoothed(1) == [1e17, 1.0, 1.0, 1.0]
    assert History(losses=[1e17, 1.0, 2.0]).smoothed(2) == [1e17, 5e16, 1.5]
    loss = torch.tensor(2.0, requires_grad=True) * 1.0  # a 0-d loss that still needs a gradient
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert History(losses=[loss, loss]).smoothed(2) == [2.0, 2.0]
