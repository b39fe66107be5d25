"""Round 44, second part: a half-precision layer under the CPU's autocast in the other half.

What it found, fixed in lib:

- A float16 ``EncoderLayer`` or ``DecoderLayer`` given float16 x (its own embedding's output)
  under ``torch.autocast("cpu", dtype=torch.bfloat16)``, or a bfloat16 one under float16's,
  failed inside torch with "mixed dtype (CPU): expect parameter to have scalar type of Float":
  x + the attention's output (float16 + bfloat16) is float32, and the CPU's autocast leaves
  layer_norm alone. PyTorch's own layers fail there too, so lib refuses, by name: the layer's
  dtype, autocast's, and what to do. A whole ``DecoderOnlyTransformer`` (forward and the cached
  step) and an ``Encoder`` stack the same. Every weight × x × autocast dtype, both norm
  placements, compared with ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer``:
  lib accepts exactly what they accept, and refuses the rest with a ValueError.
"""

from __future__ import annotations

import contextlib

import pytest
import torch
from tiny_models import TINY
from torch import nn
from transformer_course.layers import AddNorm, DecoderLayer, EncoderLayer
from transformer_course.model import DecoderOnlyTransformer, EncoderOnlyTransformer
from transformer_course.stacks import Encoder

pytestmark = [
    pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
    # autocast(dtype=float32) on the CPU: torch warns and runs without autocast
    pytest.mark.filterwarnings("ignore:In CPU autocast, but the target dtype is not supported"),
]

DTYPES = (torch.float32, torch.bfloat16, torch.float16)
AUTOCASTS = (None, *DTYPES)  # None: autocast off


def _name(dtype: torch.dtype | None) -> str:
    return "off" if dtype is None else str(dtype).removeprefix("torch.")


def _autocast(dtype: torch.dtype | None):
    return contextlib.nullcontext() if dtype is None else torch.autocast("cpu", dtype=dtype)


def _pair(kind: str, norm_first: bool, weights: torch.dtype):
    """PyTorch's layer and lib's with its weights, both in ``weights``, evaluating."""
    torch.manual_seed(0)
    if kind == "encoder":
        ref = nn.TransformerEncoderLayer(8, 2, 16, 0.0, batch_first=True, norm_first=norm_first)
        mine = EncoderLayer(8, 2, 16, dropout=0.0, norm_first=norm_first).load_from_torch(ref)
    else:
        ref = nn.TransformerDecoderLayer(8, 2, 16, 0.0, batch_first=True, norm_first=norm_first)
        mine = DecoderLayer(8, 2, 16, dropout=0.0, norm_first=norm_first).load_from_torch(ref)
    return ref.to(weights).eval(), mine.to(weights).eval()


def _outcome(call):
    """("ok", output) or ("refused", the exception)."""
    try:
        return "ok", call()
    except (RuntimeError, ValueError) as error:
        return "refused", error


@pytest.mark.parametrize("autocast", AUTOCASTS, ids=_name)
@pytest.mark.parametrize("given", DTYPES, ids=_name)
@pytest.mark.parametrize("weights", DTYPES, ids=_name)
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_a_layer_accepts_under_autocast_exactly_what_pytorchs_layer_accepts(
    kind, norm_first, weights, given, autocast
):
    """x (2, 3, 8) (and a decoder's memory (2, 4, 8)) in ``given``: where PyTorch's layer runs,
    lib's runs and returns the same dtype and values; where it fails (inside torch), lib's
    refuses with a ValueError of its own, never torch's raw RuntimeError."""
    ref, mine = _pair(kind, norm_first, weights)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 8, generator=gen).to(given)
    args = (x,) if kind == "encoder" else (x, torch.randn(2, 4, 8, generator=gen).to(given))
    with _autocast(autocast):
        theirs, want = _outcome(lambda: ref(*args))
        mine_, got = _outcome(lambda: mine(*args))
    assert mine_ == theirs, f"torch: {want!r}; lib: {got!r}"
    if theirs == "ok":
        assert got.dtype == want.dtype
        torch.testing.assert_close(got.float(), want.float(), atol=0.05, rtol=0.05)
    else:
        assert type(got) is ValueError, f"lib's error was {got!r}"


@pytest.mark.parametrize(
    ("weights", "autocast"),
    [(torch.float16, torch.bfloat16), (torch.bfloat16, torch.float16)],
    ids=["float16-under-bfloat16", "bfloat16-under-float16"],
)
@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_the_mix_is_named_with_both_dtypes_and_what_to_do(kind, weights, autocast):
    """x in the layer's own dtype (what its embedding gives): the message names the layer's
    dtype and autocast's, and each remedy it gives runs."""
    _, mine = _pair(kind, False, weights)
    x = torch.randn(2, 3, 8).to(weights)
    args = (x,) if kind == "encoder" else (x, x)
    with _autocast(autocast), pytest.raises(ValueError) as caught:
        mine(*args)
    message = str(caught.value)
    assert f"this layer's weights are {weights} but autocast runs in {autocast}" in message
    assert f'torch.autocast("cpu", dtype={weights})' in message and f".to({autocast})" in message
    with _autocast(weights):  # autocast in the layer's dtype
        assert mine(*args).dtype == weights
    with _autocast(autocast):  # the layer (and x, its embedding's output) in autocast's
        assert mine.to(autocast)(*(a.to(autocast) for a in args)).dtype == autocast
        assert mine.float()(*(a.float() for a in args)).dtype == torch.float32


def test_the_cached_step_of_a_layer_is_refused_the_same_way():
    _, mine = _pair("encoder", False, torch.float16)
    model = DecoderOnlyTransformer(TINY)  # only for a cache of the right shape
    x = torch.randn(1, 2, 8, dtype=torch.float16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.raises(ValueError, match="float16 but autocast runs in torch.bfloat16"):
            mine.forward_cached(x, model.new_cache(), 0)


def test_a_whole_half_precision_gpt_under_the_other_halfs_autocast_is_refused_by_name():
    """The model's x comes from its own embedding (float16), so the check of its ids passes:
    the stack of blocks names the mix, in forward and in the KV-cache step (was torch's raw
    "mixed dtype (CPU)")."""
    model = DecoderOnlyTransformer(TINY).eval().to(torch.float16)
    ids = torch.tensor([[1, 2, 3]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.raises(
            ValueError, match=r"layers' weights are torch.float16 but autocast runs in torch.bf"
        ):
            model(ids)
        with pytest.raises(ValueError, match="autocast runs in torch.bfloat16"):
            model.step(ids, model.new_cache())
    with torch.autocast("cpu", dtype=torch.float16):  # the remedy the message gives
        assert model(ids).shape == (1, 3, TINY.vocab_size)
        assert model.step(ids, model.new_cache()).shape == (1, 3, TINY.vocab_size)


def test_an_encoder_only_model_and_a_bare_stack_are_refused_the_same_way():
    encoder_only = EncoderOnlyTransformer(TINY).eval().to(torch.bfloat16)
    stack = Encoder(TINY).eval().to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.float16):
        with pytest.raises(ValueError, match="bfloat16 but autocast runs in torch.float16"):
            encoder_only(torch.tensor([[1, 2, 3]]))
        with pytest.raises(ValueError, match="bfloat16 but autocast runs in torch.float16"):
            stack(torch.randn(1, 3, 8, dtype=torch.bfloat16))


@pytest.mark.parametrize("autocast", [torch.bfloat16, torch.float16], ids=_name)
def test_float32_and_same_dtype_models_still_run_under_autocast(autocast):
    """What PyTorch runs is not refused: float32 weights under either autocast (chapter 09's
    mixed-precision case), and half-precision weights under autocast in their own dtype."""
    ids = torch.tensor([[1, 2, 3]])
    for weights in (torch.float32, autocast):
        model = DecoderOnlyTransformer(TINY).eval().to(weights)
        with torch.autocast("cpu", dtype=autocast):
            assert model(ids).shape == (1, 3, TINY.vocab_size)
            assert model.step(ids, model.new_cache()).shape == (1, 3, TINY.vocab_size)


def test_an_add_norm_whose_sublayer_keeps_the_dtype_is_not_refused():
    """A LayerNorm alone takes float16 x and weights under bfloat16's autocast (nn.LayerNorm
    does): AddNorm around a sublayer that keeps x's dtype runs, as before."""
    norm = AddNorm(8).to(torch.float16)
    ref = nn.LayerNorm(8).to(torch.float16)
    x = torch.randn(2, 3, 8, dtype=torch.float16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = norm(x, lambda h: 2 * h)
        want = ref(x + 2 * x)
    torch.testing.assert_close(got, want)
