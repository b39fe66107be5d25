"""Round 42 of the fuzzing: lib against PyTorch on seeded random configurations, under torch.func,
torch.compile, autocast and deterministic mode, and the samplers on random logits.

A throwaway fuzzer compared lib's attention, layers, stacks and ``from_scratch`` blocks with
PyTorch's (random sizes, kdim/vdim, biases, pre/post-norm, activations, eps, every mask kind,
training with dropout 0; outputs and the gradients of inputs and parameters: all equal), ran the
KV cache and the cached generators against whole forwards, ``next_token_probs`` against a float64
reference, and every row of the bad-input sweep with numpy, Fraction, Decimal and 0-d tensor
scalars. It found:

- ``torch.vmap`` over attention with weights (``need_weights=True``, a GPT's or BERT's
  ``need_weights=True`` per-example gradients) and a mask that vmap maps failed inside torch
  ("vmap: … data-dependent control flow"): the weights' path asked whether any query had no key
  to attend to. PyTorch's ``nn.MultiheadAttention`` and ``F.scaled_dot_product_attention`` take
  such a mask.
- ``torch.func.jacfwd`` / ``jvp`` (forward-mode AD) of attention without weights, so of every
  layer and model by default, failed inside torch: PyTorch's fused CPU kernel has no forward-mode
  derivative ("Trying to use forward AD with _scaled_dot_product_flash_attention_for_cpu"; its
  own ``nn.MultiheadAttention(need_weights=False)`` and ``nn.TransformerEncoderLayer`` fail the
  same). Such a call now takes the weights' path, which computes the same output.
- ``next_token_probs`` of float16 or bfloat16 logits made its shift by the largest logit in that
  dtype, which rounds distinct logits to one value (in bfloat16 100 - 0.5039 = 100 - 0.5): top-k
  then kept both as a tie (three tokens for ``top_k=2``), each given the same probability.
- ``next_token_probs`` at a temperature above float32's largest number (1e39, 1e300) divided
  float32 logits by an inf: a blocked token (-inf, or one top-k dropped) made every probability
  NaN, and sampling at that temperature failed inside ``torch.multinomial``.
- ``softmax.entropy`` of weights holding a 0 (a causal mask's, a one-hot row) had a NaN
  gradient there (0 · log 0 masked after the log: 0 · inf in backward), which the softmax's
  backward spread to every score of the row: an entropy penalty on masked attention trained on
  NaN. Now its gradient is the limit's, that of a score of -600 in place of -inf.
- A PyTorch user's additive float mask (0 and -inf, nn.MultiheadAttention's ``attn_mask``) was
  refused as "must be a bool tensor (True = may attend), got torch.float32", leaving the
  conversion to guess (``mask.bool()`` is wrong: True where PyTorch blocks). The message now
  says ``mask == 0``, under the argument's own name.
- ``assets.asset_image`` given a width of None, NaN, inf or "100%", or an alt that is not a str,
  failed inside ``int()`` or ``html.escape`` naming neither argument (OverflowError,
  AttributeError …); a width of 0 or -5 made an invisible picture without a word.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from torch.func import functional_call, grad, jacfwd, jacrev, vmap
from transformer_course import assets
from transformer_course.attention import MultiHeadAttention, scaled_dot_product_attention
from transformer_course.layers import DecoderLayer, EncoderLayer
from transformer_course.model import DecoderOnlyTransformer, EncoderOnlyTransformer, TransformerConfig
from transformer_course.sampling import choose, next_token_probs
from transformer_course.softmax import entropy

TINY = TransformerConfig(
    vocab_size=11, d_model=8, num_heads=2, num_encoder_layers=1, num_decoder_layers=1, d_ff=16, max_len=12
)


def _masks(n: int, lq: int, lk: int, seed: int) -> torch.Tensor:
    """n bool masks (lq, lk), True = may attend, the first with a query that sees no key."""
    gen = torch.Generator().manual_seed(seed)
    masks = torch.rand(n, lq, lk, generator=gen) < 0.6
    masks[0, 1] = False
    return masks


# --- torch.vmap over a mapped mask, on the path that computes the weights ---


def test_vmap_over_masks_gives_each_mask_its_own_attention():
    """One call per mask, or one vmap over them: the same outputs and weights (a query with no key
    gets zero weights either way). With weights, vmap failed inside torch."""
    torch.manual_seed(0)
    q = torch.randn(3, 2, 4, 5, dtype=torch.float64)
    masks = _masks(3, 4, 4, seed=1)

    def attend(x, mask):
        return scaled_dot_product_attention(x, x, x, mask)

    out, weights = vmap(attend)(q, masks)
    for i in range(3):
        want_out, want_weights = attend(q[i], masks[i])
        torch.testing.assert_close(out[i], want_out, atol=1e-12, rtol=1e-10)
        torch.testing.assert_close(weights[i], want_weights, atol=1e-12, rtol=1e-10)
    assert torch.equal(weights[0, :, 1], torch.zeros(2, 4, dtype=torch.float64))


def test_vmap_over_masks_of_multi_head_attention_and_a_decoder_layer():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2).double()
    layer = DecoderLayer(8, 2, 16, 0.0).double().eval()
    x = torch.randn(3, 2, 4, 8, dtype=torch.float64)
    self_masks = _masks(3, 4, 4, seed=2)
    cross_masks = _masks(3, 4, 4, seed=3)
    out, weights = vmap(lambda h, m: mha(h, mask=m))(x, self_masks)
    decoded = vmap(lambda h, a, b: layer(h, h, a, b, need_weights=True))(x, self_masks, cross_masks)
    for i in range(3):
        want_out, want_weights = mha(x[i], mask=self_masks[i])
        torch.testing.assert_close(out[i], want_out, atol=1e-12, rtol=1e-10)
        torch.testing.assert_close(weights[i], want_weights, atol=1e-12, rtol=1e-10)
        want = layer(x[i], x[i], self_masks[i], cross_masks[i], need_weights=True)
        torch.testing.assert_close(decoded[i], want, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("kind", [DecoderOnlyTransformer, EncoderOnlyTransformer])
def test_per_example_gradients_with_weights_equal_one_example_at_a_time(kind):
    """vmap(grad(loss)) over ids holding padding, the model keeping its attention weights: its
    padding mask is mapped, and the weights' path failed inside torch."""
    torch.manual_seed(0)
    model = kind(TINY.replace(dropout=0.0)).double().eval()
    params = {name: p.detach() for name, p in model.named_parameters()}
    ids = torch.randint(1, 11, (3, 5))
    ids[0, -2:] = TINY.pad_id

    def loss(p, one):
        return functional_call(model, p, (one[None],), {"need_weights": True}).logsumexp(-1).sum()

    per_example = vmap(grad(loss), in_dims=(None, 0))(params, ids)
    for i in range(3):
        alone = grad(loss)(params, ids[i])
        for name in params:
            torch.testing.assert_close(per_example[name][i], alone[name], atol=1e-12, rtol=1e-10)


def test_an_unmapped_mask_keeps_zero_weights_for_a_query_with_no_key():
    """What must not change: outside vmap, a row with no key gets zero weights and no NaN gradient."""
    q = torch.randn(1, 3, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(3, 3, dtype=torch.bool)
    mask[1] = False
    out, weights = scaled_dot_product_attention(q, q, q, mask)
    assert torch.equal(weights[0, 1], torch.zeros(3, dtype=torch.float64))
    out.sum().backward()
    assert not q.grad.isnan().any()


# --- forward-mode AD through attention without weights ---


@pytest.mark.parametrize("causal", [False, True])
def test_jacfwd_of_attention_without_weights_equals_jacrev(causal):
    torch.manual_seed(0)
    q = torch.randn(2, 2, 4, 3, dtype=torch.float64)
    mask = torch.rand(4, 4) < 0.6
    mask[1] = False

    def attend(x):
        return scaled_dot_product_attention(x, x, x, mask, need_weights=False, causal=causal)[0]

    torch.testing.assert_close(jacfwd(attend)(q), jacrev(attend)(q), atol=1e-12, rtol=1e-10)


def test_jacfwd_of_the_layers_equals_jacrev():
    """Their default, need_weights=False, took PyTorch's fused kernel, which has no forward mode."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, dtype=torch.float64)
    encoder = EncoderLayer(8, 2, 16, 0.0).double()
    decoder = DecoderLayer(8, 2, 16, 0.0).double()
    for fn in (encoder, lambda h: encoder(h, causal=True), lambda h: decoder(h, x)):
        torch.testing.assert_close(jacfwd(fn)(x), jacrev(fn)(x), atol=1e-12, rtol=1e-10)


# --- next_token_probs of half-precision logits ---


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_top_k_of_half_precision_logits_keeps_k_tokens(dtype):
    """Logits 0.5039 and 0.5 are two values in bfloat16; minus 100, both round to -99.5."""
    logits = torch.tensor([[100.0, 0.50390625, 0.5, -3.0]], dtype=dtype)
    probs = next_token_probs(logits, temperature=100.0, top_k=2)
    assert int((probs > 0).sum()) == 2, probs
    assert probs[0, 1] > probs[0, 2] == 0
    _, chosen = choose(logits, strategy="sample", temperature=100.0, top_k=2)
    assert torch.equal(chosen, probs)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("seed", range(40))
def test_half_precision_logits_give_the_probabilities_of_their_float32_values(dtype, seed):
    """The same numbers as float32 logits holding the same values, whatever the knobs."""
    r = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    vocab = r.randint(2, 12)
    logits = (torch.randn(r.randint(1, 3), vocab, generator=gen) * r.choice([0.1, 3.0, 30.0])).to(dtype)
    if r.random() < 0.5:
        logits[:, 1:].masked_fill_(torch.rand(logits.shape[0], vocab - 1, generator=gen) < 0.3, -math.inf)
    knobs = {
        "temperature": r.choice([1e-6, 0.5, 1.0, 2.0, 1e6]),
        "top_k": r.choice([None, 1, r.randint(1, vocab)]),
        "top_p": r.choice([None, 0.3, 0.9, 1.0]),
    }
    got = next_token_probs(logits, **knobs)
    want = next_token_probs(logits.float(), **knobs)
    assert torch.equal(got, want), (logits, knobs, got, want)


@pytest.mark.parametrize("temperature", [1e39, 1e300, np.float64(1e308)])
def test_a_temperature_beyond_float32_keeps_blocked_tokens_blocked(temperature):
    """Above float32's largest number the divisor became inf, and a blocked token's -inf / inf
    NaN: every probability was NaN, and sampling failed inside torch.multinomial."""
    logits = torch.tensor([[1.0, 2.0, -math.inf, 0.5], [0.0, -3e38, 3.0, 1.0]])
    probs = next_token_probs(logits, temperature=temperature, top_k=3)
    want = torch.softmax(logits.double() / float(temperature), dim=-1)
    want[1, 1] = 0.0  # top_k=3 drops the lowest logit of the second row
    torch.testing.assert_close(probs, (want / want.sum(-1, keepdim=True)).float())
    tokens, _ = choose(logits, strategy="sample", temperature=temperature, top_k=3)
    assert tokens[0] != 2 and tokens[1] != 1


def test_a_temperature_within_float32_divides_as_before():
    """What must not change: below float32's largest number, logits / temperature in float32."""
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 9, generator=gen) * 5
    for temperature in (1e-30, 0.7, 3e38):
        want = torch.softmax((logits - logits.amax(-1, keepdim=True)) / temperature, dim=-1)
        assert torch.equal(next_token_probs(logits, temperature=temperature), want)


# --- an additive float mask, as PyTorch's layers take ---


def test_a_float_mask_is_told_how_to_convert_and_the_conversion_is_right():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2).eval()
    torch_mha = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    mha.load_from_torch(torch_mha)
    x = torch.randn(2, 3, 8)
    additive = torch.zeros(3, 3).masked_fill(torch.ones(3, 3, dtype=torch.bool).triu(1), -math.inf)
    with pytest.raises(ValueError, match=r"^mask must be a bool tensor .* converts with mask == 0\)$"):
        mha(x, mask=additive)
    with pytest.raises(ValueError, match=r"^cross_mask must be .* converts with cross_mask == 0\)$"):
        DecoderLayer(8, 2, 16)(x, x, None, additive)
    want, _ = torch_mha(x, x, x, attn_mask=additive)
    torch.testing.assert_close(mha(x, mask=additive == 0)[0], want)


def test_a_mask_of_ints_gets_no_float_hint():
    """What must not change: other dtypes keep the plain message (their meaning varies)."""
    with pytest.raises(
        ValueError, match=r"^mask must be a bool tensor \(True = may attend\), got torch.uint8$"
    ):
        MultiHeadAttention(8, 2)(torch.randn(1, 3, 8), mask=torch.ones(3, 3, dtype=torch.uint8))


# --- softmax.entropy's gradient at a weight of 0 ---


def test_entropy_of_masked_attention_has_the_gradient_of_its_limit():
    """A masked score of -inf is the limit of very negative ones: the same gradients as -600
    (whose weight, e^-600, is 0 in float64 too), not NaN."""
    torch.manual_seed(0)
    scores = torch.randn(2, 5, 5, dtype=torch.float64)
    blocked = ~torch.ones(5, 5, dtype=torch.bool).tril()
    grads = []
    for fill in (-math.inf, -600.0):
        s = scores.clone().requires_grad_()
        entropy(torch.softmax(s.masked_fill(blocked, fill), dim=-1)).sum().backward()
        grads.append(s.grad)
    assert not grads[0].isnan().any()
    torch.testing.assert_close(grads[0], grads[1], atol=1e-12, rtol=0)


def test_entropy_is_unchanged_where_every_weight_is_positive():
    """What must not change: the value, and the gradient -(log p + 1) where p > 0."""
    p = torch.tensor([[1.0, 0.0, 0.0], [0.25, 0.25, 0.5]], dtype=torch.float64, requires_grad=True)
    value = entropy(p)
    value.sum().backward()
    torch.testing.assert_close(value, torch.special.entr(p.detach()).sum(-1))
    torch.testing.assert_close(p.grad[1], -(p.detach()[1].log() + 1))


# --- assets.asset_image ---


@pytest.mark.parametrize(
    ("argument", "bad"),
    [
        ("width", None),
        ("width", float("nan")),
        ("width", float("inf")),
        ("width", "100%"),
        ("width", 0),
        ("width", -5),
        ("width", True),
        ("width", 480.5),
        ("alt", None),
        ("alt", 5),
    ],
)
def test_asset_image_refuses_a_bad_width_or_alt_by_name(argument, bad):
    with pytest.raises(ValueError, match=rf"^{argument} must be"):
        assets.asset_image("transformer.svg", **{argument: bad})


@pytest.mark.parametrize("width", [960, np.int64(320), 1])
def test_asset_image_takes_a_width_in_pixels(width):
    html = assets.asset_image("transformer.svg", width=width, alt='a "diagram"').data
    assert f'width="{int(width)}"' in html
    assert 'alt="a &quot;diagram&quot;"' in html
