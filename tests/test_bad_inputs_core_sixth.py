"""A sixth audit of lib's core (embeddings, positional, narrow_heads, attention, masks, layers,
config, stacks, model), with ``bias`` new in the layers and the config. Each row failed
deep inside torch or Python before: "can't allocate memory" for a huge width, a deep stack or a
long sequence's weights (a thousand wide layers were allocated until the machine ran out of
memory), "cannot be called on meta tensors" for ids without values, "Cannot copy out of meta
tensor" for a PyTorch layer on the meta device, an OverflowError for a pad id beyond int64,
load_state_dict's "Missing key(s)" for a part of another design, or a TypeError for the
``bias`` option PyTorch's layers have. Now each gets a ValueError naming the argument and
saying what was expected.
"""

import numpy as np
import torch
from refusals import IDS, SMALL, X, assert_refused, each_case
from torch import nn
from transformer_course import embeddings, masks, narrow_heads
from transformer_course.attention import MultiHeadAttention, scaled_dot_product_attention
from transformer_course.layers import AddNorm, DecoderLayer, EncoderLayer, FeedForward
from transformer_course.model import Decoder, DecoderOnlyTransformer, Encoder, Transformer

HUGE = 10**12
WIDE = SMALL.replace(d_model=4096, num_heads=8, d_ff=16384)  # each layer fits; a thousand do not
META_IDS = IDS.to("meta")


def _long(n: int, d: int = 4) -> torch.Tensor:
    """(1, n, d) without n·d numbers stored: one row, expanded."""
    return torch.randn(1, 1, d).expand(1, n, d)


def _swapped(layer: nn.Module, part: str, module: nn.Module) -> nn.Module:
    setattr(layer, part, module)
    return layer


CASES = [
    # --- sizes that would never fit: refused before anything is allocated ---
    ("FeedForward of width 10**12", lambda: FeedForward(8, HUGE), "d_ff", "memory"),
    ("AddNorm of width 10**12", lambda: AddNorm(HUGE), "d_model", "memory"),
    ("EncoderLayer with d_ff 10**12", lambda: EncoderLayer(8, 2, HUGE), "d_ff", "memory"),
    ("DecoderLayer with d_ff 10**12", lambda: DecoderLayer(8, 2, HUGE), "d_ff", "memory"),
    ("Encoder of 1000 wide layers", lambda: Encoder(WIDE, 1000), "num_layers", "memory"),
    ("Decoder of 1000 wide layers", lambda: Decoder(WIDE, 1000), "num_layers", "memory"),
    (
        "weights of a sequence of 10**6",
        lambda: scaled_dot_product_attention(_long(10**6), _long(10**6), _long(10**6)),
        "Lq",
        "memory",
    ),
    (
        "weights of k broadcast over 10**5 sentences",
        lambda: scaled_dot_product_attention(_long(10**5)[None], _long(2).expand(10**5, 2, 4), _long(2)),
        "Lq",
        "memory",
    ),
    (
        "MultiHeadAttention over 10**6 positions",
        lambda: MultiHeadAttention(8, 2)(_long(10**6, 8)),
        "Lq",
        "memory",
    ),
    (
        "narrow_heads.attention over 10**6 positions",
        lambda: narrow_heads.attention(_long(10**6), _long(10**6), _long(10**6), 0.5),
        "q",
        "memory",
    ),
    # --- ids without values ---
    (
        "one_hot_embed of meta ids",
        lambda: embeddings.one_hot_embed(META_IDS, torch.ones(12, 3, device="meta")),
        "ids",
        "meta tensor",
    ),
    ("TokenEmbedding on meta", lambda: embeddings.TokenEmbedding(12, 8).to("meta")(META_IDS), "ids", "meta"),
    ("a GPT on meta", lambda: DecoderOnlyTransformer(SMALL).to("meta")(META_IDS), "ids", "meta tensor"),
    ("padding_mask, pad_id 10**30", lambda: masks.padding_mask(IDS, 10**30), "pad_id", "an int in"),
    # --- copying PyTorch's layers ---
    (
        "MultiHeadAttention from a meta nn.MultiheadAttention",
        lambda: MultiHeadAttention(8, 2).load_from_torch(nn.MultiheadAttention(8, 2, device="meta")),
        "mha",
        "meta",
    ),
    (
        "EncoderLayer from a meta layer",
        lambda: EncoderLayer(8, 2, 16).load_from_torch(nn.TransformerEncoderLayer(8, 2, 16, device="meta")),
        r"layer\.self_attn",
        "meta",
    ),
    (
        "load_from_torch, name an int",
        lambda: EncoderLayer(8, 2, 16).load_from_torch(nn.TransformerEncoderLayer(8, 2, 16), 3),
        "name",
        "str",
    ),
    (
        "MultiHeadAttention.load_from_torch, name None",
        lambda: MultiHeadAttention(8, 2).load_from_torch(nn.MultiheadAttention(8, 2), None),
        "name",
        "str",
    ),
    (
        "Encoder.load_from_torch, name a list",
        lambda: Encoder(SMALL).load_from_torch(
            nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 1), ["a"]
        ),
        "name",
        "str",
    ),
    (
        "a layer whose linear2 has no bias",
        lambda: EncoderLayer(8, 2, 16).load_from_torch(
            _swapped(nn.TransformerEncoderLayer(8, 2, 16), "linear2", nn.Linear(16, 8, bias=False))
        ),
        r"layer\.linear2",
        "nn.Linear with parameters",
    ),
    (
        "a layer whose norm2 is of another width",
        lambda: DecoderLayer(8, 2, 16).load_from_torch(
            _swapped(nn.TransformerDecoderLayer(8, 2, 16), "norm2", nn.LayerNorm(4))
        ),
        r"layer\.norm2",
        "nn.LayerNorm with parameters",
    ),
    (
        "a layer whose norm3 has another eps",
        lambda: DecoderLayer(8, 2, 16).load_from_torch(
            _swapped(nn.TransformerDecoderLayer(8, 2, 16), "norm3", nn.LayerNorm(8, eps=0.1))
        ),
        r"layer\.norm3",
        "eps=1e-05",
    ),
    (
        "a layer with biases into a bias=False one",
        lambda: EncoderLayer(8, 2, 16, bias=False).load_from_torch(nn.TransformerEncoderLayer(8, 2, 16)),
        "layer",
        "bias=False",
    ),
    # --- the bias option ---
    ("config bias a str", lambda: SMALL.replace(bias="no"), "bias", "True or False"),
    ("config bias None", lambda: SMALL.replace(bias=None), "bias", "True or False"),
    ("config bias 0", lambda: SMALL.replace(bias=0), "bias", "True or False"),
    ("EncoderLayer bias 1", lambda: EncoderLayer(8, 2, 16, bias=1), "bias", "True or False"),
    (
        "DecoderLayer bias a numpy bool",
        lambda: DecoderLayer(8, 2, 16, bias=np.bool_(True)),
        "bias",
        "True or False",
    ),
    ("FeedForward bias a str", lambda: FeedForward(8, 16, bias="yes"), "bias", "True or False"),
    ("AddNorm bias a tensor", lambda: AddNorm(8, bias=torch.tensor(True)), "bias", "True or False"),
]


@each_case(CASES)
def test_refused_with_a_named_value_error(call, argument, expected):
    assert_refused(call, argument, expected)


def test_the_refusals_come_before_any_allocation():
    """The sizes refused above would need terabytes: the refusal is immediate, the layers of a
    stack that fits are still made, and a model of config.bias=False works as before."""
    assert len(Encoder(SMALL, 3).layers) == 3
    model = Transformer(SMALL.replace(bias=False))
    assert model(IDS, IDS).shape == (2, 4, SMALL.vocab_size)
    assert EncoderLayer(8, 2, 16, bias=False)(X).shape == X.shape
