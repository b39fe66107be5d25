"""A fourth audit of lib's core modules (tokenizer … model): each row failed deep inside torch
or Python, named an argument the learner never passed, or was silently accepted: sizes no
machine could hold reaching torch's allocator, a million layers built one by one, a meta
tensor read for its ids, scores given where softmax weights were wanted, a PyTorch module
with add_zero_attn copied as if it had none. Now each gets a ValueError naming the argument
and saying what was expected. Huge sizes are refused before anything is allocated.
"""

import warnings

import numpy as np
import torch
from refusals import SMALL, assert_refused, each_case
from torch import nn
from transformer_course import (
    cost,
    embeddings,
    masks,
    narrow_heads,
    positional,
    recurrence,
    softmax,
    tokenizer,
)
from transformer_course.attention import MultiHeadAttention, SingleHeadAttention, attention_scores
from transformer_course.kv_cache import KVCache
from transformer_course.layers import AddNorm
from transformer_course.model import DecoderOnlyTransformer, Transformer
from transformer_course.stacks import Decoder, Encoder

NO_MACHINE = "do not fit in this machine's memory"  # what fits_in_memory says
Q, K, V = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 4)
K4 = torch.randn(1, 2, 3, 4)  # (B, h, T, d_head)
GPT = DecoderOnlyTransformer(SMALL)
COST = cost.AttentionCost([8], [1.0], [1.0], [1], [1], num_heads=1, d_head=2, batch=1, device="cpu")


def _torch_encoder(norm: nn.Module) -> nn.TransformerEncoder:
    """PyTorch's one-layer encoder of SMALL's shape, with ``norm`` as its final norm."""
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    return nn.TransformerEncoder(layer, 1, norm=norm, enable_nested_tensor=False)


CASES = [
    (
        "token strings of a meta tensor",
        lambda: tokenizer.course_vocab().tokens(torch.tensor([1, 2], device="meta")),
        "ids",
        "meta tensor",
    ),
    (
        "an embedding table no machine holds",
        lambda: embeddings.TokenEmbedding(10**9, 10**6),
        "vocab_size",
        NO_MACHINE,
    ),
    (
        "one-hot vectors no machine holds",
        lambda: embeddings.one_hot_embed(torch.zeros(10**6, dtype=torch.long), torch.randn(10**7, 1)),
        "ids",
        NO_MACHINE,
    ),
    (
        "an encoding no machine holds",
        lambda: positional.sinusoidal_encoding(10**9, 10**6),
        "length",
        NO_MACHINE,
    ),
    ("a shift past float64's integers", lambda: positional.shift_matrix(2**70, 8), "k", r"2\*\*53"),
    ("a shift matrix no machine holds", lambda: positional.shift_matrix(1, 10**8), "d_model", NO_MACHINE),
    (
        "sinusoidal positions no machine holds",
        lambda: positional.SinusoidalPositionalEncoding(8, max_len=10**14),
        "max_len",
        NO_MACHINE,
    ),
    (
        "learned positions no machine holds",
        lambda: positional.LearnedPositionalEmbedding(8, max_len=10**14),
        "max_len",
        NO_MACHINE,
    ),
    ("a causal mask no machine holds", lambda: masks.causal_mask(10**7), "length", NO_MACHINE),
    ("attention projections no machine holds", lambda: MultiHeadAttention(10**7, 1), "d_model", NO_MACHINE),
    ("one head no machine holds", lambda: SingleHeadAttention(10**7), "d_model", NO_MACHINE),
    (
        "split_heads of ids",
        lambda: MultiHeadAttention(8, 2).split_heads(torch.ones(1, 4, 8, dtype=torch.long)),
        "x",
        "floating-point",
    ),
    (
        "load_from_torch, add_zero_attn",
        lambda: MultiHeadAttention(8, 2).load_from_torch(nn.MultiheadAttention(8, 2, add_zero_attn=True)),
        "mha",
        "add_zero_attn=False",
    ),
    (
        "narrow heads of width 0",
        lambda: narrow_heads.attention(torch.randn(2, 3, 0), torch.randn(2, 5, 0), V, 0.5),
        "q",
        "d_k >= 1",
    ),
    (
        "narrow heads, no key",
        lambda: narrow_heads.attention(Q, torch.randn(2, 0, 4), torch.randn(2, 0, 4), 0.5),
        "k",
        "every dimension >= 1",
    ),
    (
        "narrow heads, no query",
        lambda: narrow_heads.attention(torch.randn(2, 0, 4), K, V, 0.5),
        "q",
        "every dimension >= 1",
    ),
    ("suits, no q", lambda: narrow_heads.suits(None, K, V), "q", "torch.Tensor"),
    (
        "mask_bias of a float mask",
        lambda: narrow_heads.mask_bias(torch.ones(3), torch.float32),
        "mask",
        "bool",
    ),
    (
        "mask_bias in an integer dtype",
        lambda: narrow_heads.mask_bias(torch.ones(3, dtype=torch.bool), torch.long),
        "dtype",
        "floating-point",
    ),
    ("a cache no machine holds", lambda: KVCache(1, 10**13).append(0, K4, K4), "max_len", NO_MACHINE),
    ("entropy of a negative weight", lambda: softmax.entropy(torch.tensor([-0.5, 1.5])), "weights", ">= 0"),
    ("entropy of NaN", lambda: softmax.entropy(torch.tensor([float("nan"), 1.0])), "weights", "finite"),
    (
        "Jacobian norm of scores",
        lambda: softmax.softmax_jacobian_norm(torch.tensor([3.0, 5.0])),
        "weights",
        "probabilities",
    ),
    (
        "Jacobian norm of a row not summing to 1",
        lambda: softmax.softmax_jacobian_norm(torch.tensor([0.5, 0.2])),
        "weights",
        "summing to 1",
    ),
    (
        "saturation with rows no machine holds",
        lambda: softmax.saturation_experiment((2,), rows=10**12),
        "rows",
        NO_MACHINE,
    ),
    (
        "saturation with a d_k no machine holds",
        lambda: softmax.saturation_experiment((10**12,), rows=4),
        "d_ks",
        NO_MACHINE,
    ),
    (
        "attention cost at a length no machine holds",
        lambda: cost.measure_attention_cost([10**7], repeats=1, memory="tensors"),
        "lengths",
        NO_MACHINE,
    ),
    (
        "attention cost on the meta device",
        lambda: cost.measure_attention_cost([8], repeats=1, memory="tensors", device="meta"),
        "device",
        "computes",
    ),
    ("growth of no lengths", lambda: cost.growth_exponent(None, [1, 2]), "lengths", "list"),
    ("growth of no values", lambda: cost.growth_exponent([1, 2], None), "values", "list"),
    ("growth of a dict", lambda: cost.growth_exponent({1: 2, 2: 3}, [1, 2]), "lengths", "dict"),
    ("weights_bytes of a str", lambda: COST.weights_bytes("a"), "length", "positive int"),
    ("weights_bytes of a negative length", lambda: COST.weights_bytes(-4), "length", "positive int"),
    ("output_bytes of a float", lambda: COST.output_bytes(2.5), "length", "positive int"),
    (
        "a cost with an unknown meter",
        lambda: cost.AttentionCost(
            [8], [1.0], [1.0], [1], [1], num_heads=1, d_head=2, batch=1, device="cpu", memory="x"
        ),
        "memory",
        "one of",
    ),
    ("RNN gradients through 10⁵ steps", lambda: recurrence.rnn_gradients(10**5), "length", "at most 10000"),
    (
        "attention gradients over 10⁵ tokens",
        lambda: recurrence.attention_gradients(10**5),
        "length",
        "at most 10000",
    ),
    ("an RNN no machine holds", lambda: recurrence.tiny_rnn(10**7), "d_model", NO_MACHINE),
    (
        "a sublayer of two arguments",
        lambda: AddNorm(8)(torch.randn(2, 4, 8), lambda h, m: h),
        "sublayer",
        "one argument",
    ),
    ("an activation in a list", lambda: SMALL.replace(activation=["relu"]), "activation", "one of"),
    (
        "a pad_id the target vocabulary lacks",
        lambda: SMALL.replace(trg_vocab_size=3, pad_id=5),
        "pad_id",
        "target vocabulary",
    ),
    (
        "a million decoder layers",
        lambda: SMALL.replace(num_decoder_layers=10**6),
        "num_decoder_layers",
        "at most 1000",
    ),
    ("an encoder of 2000 layers", lambda: Encoder(SMALL, 2000), "num_layers", "at most 1000"),
    ("a decoder of 2000 layers", lambda: Decoder(SMALL, 2000), "num_layers", "at most 1000"),
    (
        "load_from_torch, a final norm of another width",
        lambda: Encoder(SMALL).load_from_torch(_torch_encoder(nn.LayerNorm(16))),
        "stack",
        "width 8",
    ),
    (
        "load_from_torch, a transformer of another width",
        lambda: Transformer(SMALL).load_from_torch(nn.Transformer(16, 2, 1, 1, 16, batch_first=True)),
        "transformer",
        "d_model=8",
    ),
    (
        "load_from_torch, a transformer of other heads",
        lambda: Transformer(SMALL).load_from_torch(nn.Transformer(8, 4, 1, 1, 16, batch_first=True)),
        "transformer",
        "num_heads=2",
    ),
    (
        "a model of a vocabulary no machine holds",
        lambda: DecoderOnlyTransformer(SMALL.replace(vocab_size=10**12)),
        "vocab_size",
        NO_MACHINE,
    ),
    (
        "a model of positions no machine holds",
        lambda: Transformer(SMALL.replace(max_len=10**13)),
        "max_len",
        NO_MACHINE,
    ),
    ("causal padding mask of None", lambda: GPT.causal_padding_mask(None), "ids", "torch.Tensor"),
    ("causal padding mask of 1-D ids", lambda: GPT.causal_padding_mask(torch.tensor([1, 2])), "ids", "2-D"),
    ("causal padding mask of a str", lambda: GPT.causal_padding_mask("ab"), "ids", "torch.Tensor"),
    (
        "causal padding mask of no token",
        lambda: GPT.causal_padding_mask(torch.ones(2, 0, dtype=torch.long)),
        "ids",
        "at least one token",
    ),
]


@each_case(CASES)
def test_bad_input_names_the_argument_and_what_was_expected(call, argument, expected):
    assert_refused(call, argument, expected)


def test_what_is_right_is_still_taken():
    """The new checks refuse only what is wrong: numpy ints as sizes, the documented None
    defaults, a masked row of zero weights, a meta tensor's shape, the largest exact shift."""
    n = np.int64
    assert embeddings.TokenEmbedding(n(5), n(4)).weight.shape == (5, 4)
    assert positional.sinusoidal_encoding(n(3), n(4)).shape == (3, 4)
    assert positional.shift_matrix(n(2), n(8)).shape == (8, 8)
    assert positional.shift_matrix(2**53, 2).shape == (2, 2)
    assert masks.causal_mask(n(3)).shape == (3, 3)
    assert recurrence.tiny_rnn(n(4)).hidden_size == 4
    assert recurrence.rnn_gradients(n(5), d_model=n(4)).shape == (5,)
    with warnings.catch_warnings():  # numpy's largest uint64 seed: no wrap-around warning, no refusal
        warnings.simplefilter("error")
        largest = recurrence.rnn_gradients(3, seed=np.uint64(2**64 - 1))
    assert torch.equal(largest, recurrence.rnn_gradients(3, seed=2**64 - 1))
    assert recurrence.attention_gradients(n(5), d_model=n(4)).shape == (5,)
    result = softmax.saturation_experiment(np.array([2, 4]), rows=n(4), length=n(3))
    assert result.d_k == (2, 4)
    assert COST.weights_bytes(n(4)) == 64
    assert cost.growth_exponent((x for x in [1, 2]), torch.tensor([1.0, 4.0])) == 2.0
    # None means the default: 1/√d_k, the config's depth.
    assert torch.equal(attention_scores(Q, K, scale=None), attention_scores(Q, K))
    assert len(Encoder(SMALL, None).layers) == SMALL.num_encoder_layers
    assert len(Decoder(SMALL, None).layers) == SMALL.num_decoder_layers
    # A row whose keys were all masked has zero weights: entropy 0, Jacobian 0.
    zeros = torch.zeros(2, 3)
    assert torch.equal(softmax.entropy(zeros), torch.zeros(2))
    assert torch.equal(softmax.softmax_jacobian_norm(zeros), torch.zeros(2))
    weights = torch.softmax(torch.randn(3, 200), dim=-1)
    assert softmax.softmax_jacobian_norm(weights.half()).shape == (3,)
    assert softmax.entropy(torch.randn(3, 4, device="meta")).shape == (3,)
    # Only a str is a token: anything else is simply not in the vocabulary.
    assert ["the"] not in tokenizer.course_vocab()
    assert "the" in tokenizer.course_vocab()
    assert not narrow_heads.suits(Q.half(), K.half(), V.half())
    assert SMALL.replace(trg_vocab_size=20, pad_id=5).pad_id == 5
    assert SMALL.replace(num_decoder_layers=1000).num_decoder_layers == 1000
    torch_twin = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True)
    Transformer(SMALL).load_from_torch(torch_twin)
    mask = GPT.causal_padding_mask(torch.tensor([[1, 2, 0]]))
    assert mask.shape == (1, 1, 3, 3) and not bool(mask[0, 0, 2, 2])
