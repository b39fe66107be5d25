"""A seventh audit of lib's core: a battery of bad values (None, str, bool, float, NaN, 10**30,
numpy scalars, 0-d tensors, complex, meta, batch dimensions that do not broadcast, uint8 and
int16 ids, ids out of range, an nn.Linear where a function was expected) fed to every public
function and class of attention, layers, stacks, model, masks, positional, embeddings, softmax,
kv_cache, narrow_heads, sampling, logits_fns and generation.

Each row failed before inside torch or Python, or named an argument the caller never passed:
"min_all not implemented for 'ComplexFloat'" for complex ids, "Overflow when unpacking long
long" for a device index beyond int64, "The size of tensor a (2) must match the size of tensor
b (3)" for a v whose batch dimensions fit q's but not k's, "an integer is required" for a numpy
seed, "iteration over a 0-d tensor" for d_ks, "Tensor.item() cannot be called on meta tensors"
or "Cannot copy out of meta tensor" for a meta prompt, AttributeError "'NoneType' object has no
attribute 'numel'" in model_fits, "mat1 and mat2 must have the same dtype" for an nn.Linear as
logits_fn, and "ids must hold int64 …" (the model's own name) for a bad ``prompt`` or
``prefix``. Now each gets a ValueError naming the argument and saying what was expected.
"""

import numpy as np
import pytest
import torch
from refusals import IDS, SMALL, X, assert_refused, each_case
from torch import nn
from transformer_course import (
    _validate,
    embeddings,
    generation,
    logits_fns,
    masks,
    positional,
    sampling,
    softmax,
)
from transformer_course.attention import scaled_dot_product_attention
from transformer_course.kv_cache import KVCache
from transformer_course.layers import AddNorm
from transformer_course.model import DecoderOnlyTransformer, Transformer, TransformerConfig
from transformer_course.stacks import Embed

torch.manual_seed(0)
GPT = DecoderOnlyTransformer(SMALL).eval()
SEQ2SEQ = Transformer(SMALL).eval()
COMPLEX = torch.complex(IDS.float(), IDS.float())
META = IDS.to("meta")
PROMPT = torch.tensor([1, 2])


def _decoder_fn():
    return logits_fns.decoder_logits_fn(GPT)


CASES = [
    # --- v's batch dimensions were compared with q's only: against k's they failed in the matmul ---
    (
        "scaled_dot_product_attention, v of k's other batch",
        lambda: scaled_dot_product_attention(
            torch.randn(1, 3, 4), torch.randn(2, 5, 4), torch.randn(3, 5, 6)
        ),
        "v's batch dimensions",
        r"k's of shape \(2,\)",
    ),
    # --- complex numbers where integer ids were expected ---
    (
        "one_hot_embed, complex ids",
        lambda: embeddings.one_hot_embed(COMPLEX, torch.ones(12, 3)),
        "ids",
        "integer",
    ),
    ("padding_mask, complex ids", lambda: masks.padding_mask(COMPLEX, 0), "ids", "integer ids"),
    ("KVCache.add_ids, complex ids", lambda: KVCache(1, 8).add_ids(COMPLEX), "ids", "integer ids"),
    (
        "generate, a complex prompt",
        lambda: generation.generate(_decoder_fn(), COMPLEX[0], max_new_tokens=2),
        "prompt",
        "integer",
    ),
    (
        "greedy_decode, a complex prompt",
        lambda: generation.greedy_decode(_decoder_fn(), COMPLEX, max_new_tokens=2),
        "prompt",
        "integer",
    ),
    ("strip, complex ids", lambda: generation.strip(COMPLEX, eos_id=0), "ids", "integer ids"),
    # --- a device beyond int64 ---
    ("causal_mask, device 10**30", lambda: masks.causal_mask(4, device=10**30), "device", "torch.device"),
    (
        "sinusoidal_encoding, device 10**30",
        lambda: positional.sinusoidal_encoding(4, 8, device=10**30),
        "device",
        "torch.device",
    ),
    # --- a 0-d tensor where a list was expected ---
    (
        "saturation_experiment, d_ks a 0-d tensor",
        lambda: softmax.saturation_experiment(torch.tensor(4)),
        "d_ks",
        "list of positive ints",
    ),
    (
        "saturation_experiment, d_ks a 0-d array",
        lambda: softmax.saturation_experiment(np.array(4)),
        "d_ks",
        "list of positive ints",
    ),
    # --- ids without values ---
    (
        "greedy_decode, a meta prompt",
        lambda: generation.greedy_decode(_decoder_fn(), META, max_new_tokens=2),
        "prompt",
        "meta",
    ),
    ("strip, meta ids", lambda: generation.strip(META, eos_id=0), "ids", "meta"),
    (
        "sequence_accuracy, meta predicted",
        lambda: generation.sequence_accuracy(META, IDS, eos_id=0),
        "predicted",
        "meta",
    ),
    (
        "sequence_accuracy, meta target",
        lambda: generation.sequence_accuracy(IDS, META, eos_id=0),
        "target",
        "meta",
    ),
    # --- the caller's prompt or prefix, named as the caller named it (the model says "ids") ---
    (
        "generate, an int16 prompt",
        lambda: generation.generate(_decoder_fn(), PROMPT.short(), max_new_tokens=2),
        "prompt",
        "int64",
    ),
    (
        "generate, a uint8 prompt",
        lambda: generation.generate(_decoder_fn(), PROMPT.byte(), max_new_tokens=2),
        "prompt",
        "int64",
    ),
    (
        "greedy_decode, a uint8 prompt",
        lambda: generation.greedy_decode(_decoder_fn(), IDS.byte(), max_new_tokens=2),
        "prompt",
        "int64",
    ),
    (
        "last_logits, an int16 prefix",
        lambda: generation.last_logits(_decoder_fn(), IDS.short()),
        "prefix",
        "int64",
    ),
    (
        "last_logits, ids beyond the vocabulary",
        lambda: generation.last_logits(_decoder_fn(), IDS + 100),
        "prefix",
        r"\[0, 12\)",
    ),
    (
        "last_logits, negative ids",
        lambda: generation.last_logits(_decoder_fn(), -IDS - 1),
        "prefix",
        r"\[0, 12\)",
    ),
    ("last_logits, a meta prefix", lambda: generation.last_logits(_decoder_fn(), META), "prefix", "meta"),
    (
        "cached_logits_fn, an int16 prefix",
        lambda: logits_fns.cached_logits_fn(GPT)(IDS.short()),
        "prefix",
        "int64",
    ),
    (
        "cached_logits_fn, ids beyond the vocabulary",
        lambda: logits_fns.cached_logits_fn(GPT)(IDS + 100),
        "prefix",
        r"\[0, 12\)",
    ),
    ("cached_logits_fn, a meta prefix", lambda: logits_fns.cached_logits_fn(GPT)(META), "prefix", "meta"),
    (
        "cached_logits_fn, a prefix past max_len",
        lambda: logits_fns.cached_logits_fn(GPT)(torch.ones(1, 17, dtype=torch.long)),
        "prefix",
        "max_len",
    ),
    (
        "seq2seq_logits_fn, a uint8 prefix",
        lambda: logits_fns.seq2seq_logits_fn(SEQ2SEQ, IDS)(IDS.byte()),
        "prefix",
        "int64",
    ),
    (
        "seq2seq_logits_fn, ids beyond the vocabulary",
        lambda: logits_fns.seq2seq_logits_fn(SEQ2SEQ, IDS)(IDS + 100),
        "prefix",
        r"\[0, 12\)",
    ),
    (
        "seq2seq_logits_fn, an empty prefix",
        lambda: logits_fns.seq2seq_logits_fn(SEQ2SEQ, IDS)(IDS[:, :0]),
        "prefix",
        "at least one token",
    ),
    # --- model_fits ---
    (
        "model_fits, ids None",
        lambda: logits_fns.model_fits(GPT, None, "stories", 4),
        "the stories",
        "torch.Tensor",
    ),
    (
        "model_fits, float ids",
        lambda: logits_fns.model_fits(GPT, IDS.float(), "stories", 4),
        "the stories",
        "integer ids",
    ),
    ("model_fits, meta ids", lambda: logits_fns.model_fits(GPT, META, "stories", 4), "the stories", "meta"),
    (
        "model_fits, positions a str",
        lambda: logits_fns.model_fits(GPT, IDS, "stories", "4"),
        "positions",
        "int",
    ),
    (
        "model_fits, positions None",
        lambda: logits_fns.model_fits(GPT, IDS, "stories", None),
        "positions",
        "int",
    ),
    # --- a start past max_len names start, not the input ---
    (
        "Embed, start 10**30",
        lambda: Embed(GPT.embed.token, SMALL)(IDS, start=10**30),
        "start",
        r"in \[0, 17\)",
    ),
    (
        "sinusoidal positions, start 10**30",
        lambda: positional.SinusoidalPositionalEncoding(8, 16)(X, start=10**30),
        "start",
        r"in \[0, 17\)",
    ),
    (
        "learned positions, start 17",
        lambda: positional.LearnedPositionalEmbedding(8, 16)(X, start=17),
        "start",
        r"in \[0, 17\)",
    ),
    # --- a module of other inputs where a function was expected ---
    (
        "generate, an nn.Linear as logits_fn",
        lambda: generation.generate(nn.Linear(2, 2), PROMPT, max_new_tokens=2),
        "logits_fn",
        "logits",
    ),
    (
        "greedy_decode, an nn.Linear as logits_fn",
        lambda: generation.greedy_decode(nn.Linear(2, 2), IDS, max_new_tokens=2),
        "logits_fn",
        "logits",
    ),
    (
        "last_logits, an nn.Linear as logits_fn",
        lambda: generation.last_logits(nn.Linear(2, 2), IDS),
        "logits_fn",
        "logits",
    ),
    (
        "AddNorm, an nn.Linear of another width",
        lambda: AddNorm(8)(X, nn.Linear(2, 2)),
        "sublayer",
        "same shape",
    ),
]


@each_case(CASES)
def test_refused_with_a_named_value_error(call, argument, expected):
    assert_refused(call, argument, expected)


def test_a_numpy_seed_is_taken_as_the_int_it_is():
    """``manual_seed`` refuses numpy's ints ("an integer is required"): the checked int is used."""
    a = softmax.saturation_experiment((2, 4), length=4, rows=8, seed=np.int64(3))
    b = softmax.saturation_experiment((2, 4), length=4, rows=8, seed=3)
    assert torch.equal(a.max_weight, b.max_weight)
    kw = dict(max_new_tokens=4, strategy="sample")
    got = generation.generate(_decoder_fn(), PROMPT, seed=np.int64(5), **kw)
    assert torch.equal(got.ids, generation.generate(_decoder_fn(), PROMPT, seed=5, **kw).ids)


def test_a_config_keeps_numpy_sizes_as_ints_so_generation_checks_them_up_front():
    """A config of numpy ints passed every check, but generation reads max_len as an int: it
    skipped its up-front check and the model refused "ids" after writing max_len tokens."""
    config = SMALL.replace(
        max_len=np.int64(6), vocab_size=np.int64(12), d_model=np.int64(8), pad_id=np.int64(0)
    )
    assert all(type(getattr(config, f)) is int for f in ("max_len", "vocab_size", "d_model", "pad_id"))
    model = DecoderOnlyTransformer(config).eval()
    for fn in (logits_fns.decoder_logits_fn(model), logits_fns.cached_logits_fn(model)):
        assert fn.max_len == 6
        assert_refused(
            lambda fn=fn: generation.generate(fn, PROMPT, max_new_tokens=10), "max_new_tokens", "at most 4"
        )
    assert TransformerConfig(vocab_size=12, trg_vocab_size=np.int32(9)).trg_vocab_size == 9


def test_what_is_right_is_still_taken():
    """The checks above refuse nothing a correct call passes: a cached function gives the
    logits of the whole prefix, decoding works, and a list of d_ks is taken."""
    fn = logits_fns.cached_logits_fn(GPT)
    with torch.no_grad():
        want = GPT(IDS[:1, :3])
    torch.testing.assert_close(fn(IDS[:1, :2]), want[:, :2], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fn(IDS[:1, :3]), want, atol=1e-5, rtol=1e-5)
    assert generation.last_logits(_decoder_fn(), IDS.int()).shape == (2, 12)
    assert generation.greedy_decode(_decoder_fn(), IDS, max_new_tokens=2).shape == (2, 6)
    assert softmax.saturation_experiment([2, 4], length=4, rows=8).d_k == (2, 4)
    assert AddNorm(8)(X, nn.Linear(8, 8)).shape == X.shape
    assert positional.SinusoidalPositionalEncoding(8, 16)(X[:, :0], start=16).shape == (2, 0, 8)
    logits_fns.model_fits(GPT, IDS, "stories", 4)


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("out of memory"), KeyError("k")])
def test_a_logits_functions_other_errors_go_through_unchanged(error):
    """Only torch's RuntimeError from inside is turned into a named ValueError; running out of
    memory, or the function's own mistakes, are left as they are."""

    def fails(prefix):
        raise error

    with pytest.raises(type(error)):
        generation.last_logits(fails, IDS)


HUGE = 10**400  # an int beyond a float's range: math.isfinite raised OverflowError on it


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: scaled_dot_product_attention(*[torch.zeros(1, 2, 4)] * 3, scale=HUGE), "scale"),
        (lambda: sampling.next_token_probs(torch.zeros(1, 5), temperature=HUGE), "temperature"),
        (lambda: positional.sinusoidal_encoding(4, 8, base=HUGE), "base"),
        (lambda: TransformerConfig(dropout=HUGE), "dropout"),
    ],
    ids=["sdpa scale", "sampling temperature", "sinusoidal base", "config dropout"],
)
def test_an_int_too_large_for_a_float_is_refused_by_name(call, argument):
    with pytest.raises(ValueError, match=rf"^{argument} must be a finite number") as caught:
        call()
    assert len(str(caught.value)) < 200  # the 401 digits are not all printed


def test_a_huge_int_is_named_by_its_size_not_printed():
    """repr of an int of over 4,300 digits raises ("Exceeds the limit … for integer string
    conversion"), a message that names no argument."""
    with pytest.raises(ValueError, match=r"^scale must be .*, got an int of 16610 bits$"):
        scaled_dot_product_attention(*[torch.zeros(1, 2, 4)] * 3, scale=10**5000)
    with pytest.raises(ValueError, match=r"^index must be an int in \[0, 5\), got an int of 16610 bits$"):
        _validate.integer("index", 10**5000, low=0, high=5)
    with pytest.raises(ValueError, match=r"^length × length must be smaller: over 2\*\*33219 values"):
        masks.causal_mask(10**5000)  # its table's size, said as a power of two


@pytest.mark.parametrize("error", [NotImplementedError("write me"), torch.OutOfMemoryError("full")])
def test_a_starters_not_implemented_or_out_of_memory_goes_through_unchanged(error):
    """Only torch's RuntimeErrors from inside a logits_fn or sublayer are renamed: a starter's
    NotImplementedError (a RuntimeError too) is the learner's own, and says so."""

    def fails(_):
        raise error

    with pytest.raises(type(error), match=str(error)):
        generation.greedy_decode(fails, torch.tensor([[1]]), max_new_tokens=2)
    with pytest.raises(type(error), match=str(error)):
        AddNorm(4)(torch.zeros(1, 2, 4), fails)
