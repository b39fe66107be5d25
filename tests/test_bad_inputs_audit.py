"""A second audit of lib's public entry points: each row is a mistake that, before these
checks, failed deep inside torch or Python (a RuntimeError from the in-place masking, an
IndexError from amax, an AttributeError on None, "Overflow when unpacking long long"), or
silently did something else (NaN probabilities at a tiny temperature, a NaN loss on a batch
of padding, ``add_bos="no"`` read as True, ``seed=1.5`` accepted). Now each gets a
ValueError naming the argument and saying what was expected.
"""

import math

import pytest
import torch
from refusals import IDS, SMALL, X, assert_refused, each_case
from transformer_course import (
    data,
    embeddings,
    generation,
    kv_cache,
    lm_training,
    masks,
    neighbours,
    positional,
    pronoun_heads,
    recurrence,
    sampling,
    softmax,
    training,
)
from transformer_course.attention import MultiHeadAttention, SingleHeadAttention, scaled_dot_product_attention
from transformer_course.layers import AddNorm, DecoderLayer, EncoderLayer, FeedForward
from transformer_course.model import (
    DecoderOnlyTransformer,
    EncoderOnlyTransformer,
    Transformer,
    count_parameters,
    shape_trace,
)
from transformer_course.stacks import Decoder, Embed, Encoder
from transformer_course.tokenizer import course_vocab

Q, K, V = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
BOOL = torch.bool
HUGE_SEED = 2**64
NAN = float("nan")


def decoder() -> DecoderOnlyTransformer:
    return DecoderOnlyTransformer(SMALL)


def cache_with_keys() -> kv_cache.KVCache:
    cache = kv_cache.KVCache(1, 8)
    cache.append(0, torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4))
    return cache


def train_with(**options):
    args = dict(steps=1, progress=False) | options
    return training.train(decoder(), lambda m, b: m(b).logsumexp(-1).mean(), lambda idx: IDS, 2, **args)


TASK = data.sequence_task(num_train=8, num_test=8)
PRONOUNS = data.pronoun_task(num_train=8, num_test=8)

# (id, call, argument the message names, what it must say was expected)
CASES = [
    # tokenizer: a truthy string or a 2 must not quietly mean True (or two <bos>)
    (
        "encode add_bos a string",
        lambda: course_vocab().encode("hi", add_bos="yes"),
        "add_bos",
        "True or False",
    ),
    ("encode add_bos=2", lambda: course_vocab().encode("hi", add_bos=2), "add_bos", "True or False"),
    (
        "encode_batch add_eos None",
        lambda: course_vocab().encode_batch(["hi"], add_eos=None),
        "add_eos",
        "True or False",
    ),
    (
        "decode skip_special a string",
        lambda: course_vocab().decode([4], skip_special="no"),
        "skip_special",
        "True",
    ),
    # embeddings
    ("scale a string", lambda: embeddings.TokenEmbedding(10, 4, scale="no"), "scale", "True or False"),
    (
        "uint8 ids",
        lambda: embeddings.TokenEmbedding(10, 4)(torch.tensor([3], dtype=torch.uint8)),
        "ids",
        r"int64 .*ids\.long\(\)",
    ),
    (
        "one_hot_embed of an empty table",
        lambda: embeddings.one_hot_embed(torch.tensor([], dtype=torch.long), torch.ones(0, 3)),
        "weight",
        "at least one row",
    ),
    # positions and masks
    ("encoding device 'gpu'", lambda: positional.sinusoidal_encoding(2, 4, device="gpu"), "device", '"cuda"'),
    ("causal_mask device 'gpu'", lambda: masks.causal_mask(3, device="gpu"), "device", '"cpu"'),
    # softmax
    ("saturation d_ks None", lambda: softmax.saturation_experiment(None), "d_ks", "list of positive ints"),
    ("saturation d_ks an int", lambda: softmax.saturation_experiment(4), "d_ks", "list of positive ints"),
    (
        "saturation seed 2**64",
        lambda: softmax.saturation_experiment((2,), seed=HUGE_SEED),
        "seed",
        r"2\*\*64|\)",
    ),
    # attention
    (
        "mask with more dimensions than the scores",
        lambda: scaled_dot_product_attention(Q, K, V, torch.ones(7, 2, 3, 5, dtype=BOOL)),
        "mask",
        "does not broadcast",
    ),
    (
        "mask wider than the scores, fused path",
        lambda: scaled_dot_product_attention(
            Q[:1], K[:1], V[:1], torch.ones(2, 3, 5, dtype=BOOL), need_weights=False
        ),
        "mask",
        "does not broadcast",
    ),
    (
        "d_k = 0",
        lambda: scaled_dot_product_attention(torch.randn(2, 3, 0), torch.randn(2, 5, 0), V),
        "q",
        "d_k >= 1",
    ),
    (
        "sdpa need_weights a string",
        lambda: scaled_dot_product_attention(Q, K, V, need_weights="no"),
        "need_weights",
        "True or False",
    ),
    (
        "4-D mask for one head",
        lambda: SingleHeadAttention(8)(X, mask=torch.ones(2, 2, 4, 4, dtype=BOOL)),
        "mask",
        "does not broadcast",
    ),
    ("SingleHeadAttention bias a string", lambda: SingleHeadAttention(8, bias="no"), "bias", "True or False"),
    (
        "MultiHeadAttention bias a string",
        lambda: MultiHeadAttention(8, 2, bias="no"),
        "bias",
        "True or False",
    ),
    (
        "5-D mask for many heads",
        lambda: MultiHeadAttention(8, 2)(X, mask=torch.ones(1, 2, 2, 4, 4, dtype=BOOL)),
        "mask",
        "does not broadcast",
    ),
    (
        "mask for a bigger batch",
        lambda: MultiHeadAttention(8, 2)(X[:1], mask=torch.ones(2, 1, 4, 4, dtype=BOOL)),
        "mask",
        "does not broadcast",
    ),
    (
        "MHA need_weights a string",
        lambda: MultiHeadAttention(8, 2)(X, need_weights="no"),
        "need_weights",
        "True or False",
    ),
    (
        "load an nn.MultiheadAttention with kdim",
        lambda: MultiHeadAttention(8, 2).load_from_torch(torch.nn.MultiheadAttention(8, 2, kdim=4)),
        "mha",
        "kdim",
    ),
    (
        "load an nn.MultiheadAttention without bias",
        lambda: MultiHeadAttention(8, 2).load_from_torch(torch.nn.MultiheadAttention(8, 2, bias=False)),
        "mha",
        "bias=True",
    ),
    # KV cache
    (
        "append v None",
        lambda: kv_cache.KVCache(1, 8).append(0, torch.randn(1, 2, 3, 4), None),
        "v",
        "torch.Tensor",
    ),
    (
        "append v of another dtype",
        lambda: kv_cache.KVCache(1, 8).append(0, torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4).double()),
        "v",
        "dtype torch.float32",
    ),
    (
        "append k on another device",
        lambda: cache_with_keys().append(
            0, torch.randn(1, 2, 1, 4, device="meta"), torch.randn(1, 2, 1, 4, device="meta")
        ),
        "k",
        "cached keys on cpu",
    ),
    # layers
    ("activation a list", lambda: FeedForward(8, 16, activation=["relu"]), "activation", "one of"),
    ("sublayer returns float64", lambda: AddNorm(8)(X, lambda h: h.double()), "sublayer", "dtype"),
    (
        "EncoderLayer need_weights a string",
        lambda: EncoderLayer(8, 2, 16)(X, need_weights="no"),
        "need_weights",
        "True",
    ),
    ("self_mask float", lambda: DecoderLayer(8, 2, 16)(X, X, torch.ones(4, 4)), "self_mask", "bool tensor"),
    (
        "cross_mask of the wrong shape",
        lambda: DecoderLayer(8, 2, 16)(X, X[:, :3], None, torch.ones(4, 4, dtype=BOOL)),
        "cross_mask",
        "does not broadcast",
    ),
    (
        "load an nn.TransformerEncoderLayer without bias",
        lambda: EncoderLayer(8, 2, 16).load_from_torch(
            torch.nn.TransformerEncoderLayer(8, 2, 16, bias=False)
        ),
        "layer",
        "bias=True",
    ),
    # stacks and models
    ("Encoder need_weights a string", lambda: Encoder(SMALL)(X, need_weights="no"), "need_weights", "True"),
    (
        "Encoder 5-D mask",
        lambda: Encoder(SMALL)(X, torch.ones(1, 1, 1, 4, 4, dtype=BOOL)),
        "mask",
        "broadcast",
    ),
    ("Decoder self_mask float", lambda: Decoder(SMALL)(X, X, torch.ones(4, 4)), "self_mask", "bool tensor"),
    ("Embed of 1-D ids", lambda: Embed(embeddings.TokenEmbedding(12, 8), SMALL)(IDS[0]), "ids", "2-D"),
    (
        "Embed of too many ids",
        lambda: Embed(embeddings.TokenEmbedding(12, 8), SMALL)(torch.ones(1, 17, dtype=torch.long)),
        "ids",
        "max_len is 16",
    ),
    (
        "Embed config None",
        lambda: Embed(embeddings.TokenEmbedding(12, 8), None),
        "config",
        "TransformerConfig",
    ),
    ("Embed token too narrow", lambda: Embed(embeddings.TokenEmbedding(12, 4), SMALL), "token", "d_model=8"),
    ("decoder uint8 ids", lambda: decoder()(IDS.to(torch.uint8)), "ids", "int64"),
    ("encoder-only int16 ids", lambda: EncoderOnlyTransformer(SMALL)(IDS.to(torch.int16)), "ids", "int64"),
    ("seq2seq uint8 src", lambda: Transformer(SMALL)(IDS.to(torch.uint8), IDS), "src", "int64"),
    (
        "Transformer need_weights a string",
        lambda: Transformer(SMALL)(IDS, IDS, need_weights="x"),
        "need_weights",
        "True",
    ),
    ("shape_trace src None", lambda: shape_trace(Transformer(SMALL), None, IDS), "src", "torch.Tensor"),
    (
        "shape_trace float trg_in",
        lambda: shape_trace(Transformer(SMALL), IDS, IDS.float()),
        "trg_in",
        "integer",
    ),
    (
        "count_parameters trainable_only a string",
        lambda: count_parameters(decoder(), trainable_only="no"),
        "trainable_only",
        "True",
    ),
    # sampling and generation
    ("check_logits None", lambda: sampling.check_logits(None), "logits", "torch.Tensor"),
    ("keep_top_p of zeros", lambda: generation.keep_top_p(torch.zeros(3), 0.5), "probs", "row of zeros"),
    (
        "keep_top_p of negatives",
        lambda: generation.keep_top_p(torch.tensor([-1.0, 2.0]), 0.5),
        "probs",
        ">= 0",
    ),
    ("keep_top_p of NaN", lambda: generation.keep_top_p(torch.tensor([NAN, 1.0]), 0.5), "probs", "finite"),
    ("greedy choose top_k 0", lambda: generation.choose(torch.randn(2, 5), top_k=0), "top_k", ">= 1"),
    (
        "greedy choose temperature -1",
        lambda: generation.choose(torch.randn(2, 5), temperature=-1),
        "temperature",
        ">= 0",
    ),
    (
        "generate seed 2**64",
        lambda: generation.generate(
            generation.decoder_logits_fn(decoder()), torch.tensor([1]), max_new_tokens=1, seed=HUGE_SEED
        ),
        "seed",
        "an int in",
    ),
    (
        "logits_fn with no token",
        lambda: generation.generate(lambda p: torch.ones(*p.shape, 0), torch.tensor([1]), max_new_tokens=1),
        "logits_fn",
        "V >= 1",
    ),
    (
        "last_logits of a 1-D prefix",
        lambda: generation.last_logits(generation.decoder_logits_fn(decoder()), IDS[0]),
        "prefix",
        "2-D",
    ),
    (
        "seq2seq_accuracy bos_id None",
        lambda: generation.seq2seq_accuracy(Transformer(SMALL), TASK.test, bos_id=None, eos_id=3),
        "bos_id",
        "an int",
    ),
    # training
    ("train seed 2**64", lambda: train_with(seed=HUGE_SEED), "seed", "an int in"),
    ("train decay a string", lambda: train_with(decay="no"), "decay", "True or False"),
    ("learning_rates decay a string", lambda: training.learning_rates(1.0, 3, decay="no"), "decay", "True"),
    (
        "seq2seq_loss of padding only",
        lambda: training.seq2seq_loss(Transformer(SMALL), (IDS, torch.tensor([[2, 0, 0], [2, 0, 0]]))),
        "tgt",
        "no token to predict",
    ),
    ("seq2seq_loss of None", lambda: training.seq2seq_loss(None, (IDS, IDS)), "model", "function"),
    (
        "seq2seq_loss pad_id 1.5",
        lambda: training.seq2seq_loss(Transformer(SMALL), (IDS, IDS), pad_id=1.5),
        "pad_id",
        "an int",
    ),
    (
        "split batch of float indices",
        lambda: training.split_batch_fn(TASK.train)(torch.tensor([0.5])),
        "idx",
        "integer",
    ),
    (
        "split batch index too big",
        lambda: training.split_batch_fn(TASK.train)(torch.tensor([100])),
        "idx",
        r"\[0, 8\)",
    ),
    (
        "split batch of no index",
        lambda: training.split_batch_fn(TASK.train)(torch.tensor([], dtype=torch.long)),
        "idx",
        "at least one",
    ),
    # data
    (
        "sequence_task seed a string",
        lambda: data.sequence_task(num_train=8, num_test=8, seed="a"),
        "seed",
        "an int",
    ),
    ("pronoun_task seed 1.5", lambda: data.pronoun_task(num_train=8, num_test=8, seed=1.5), "seed", "an int"),
    ("batches seed 1.5", lambda: next(data.batches(4, 2, seed=1.5)), "seed", "an int"),
    ("split row too big", lambda: TASK.train[100], "index", r"\[-8, 8\)"),
    ("split row a float", lambda: TASK.train[1.5], "index", "an int"),
    ("pronoun split row too big", lambda: PRONOUNS.train[100], "index", r"\[-8, 8\)"),
    ("task.encode None", lambda: TASK.encode(None), "symbols", "a str"),
    ("pronoun tokens of None", lambda: PRONOUNS.tokens(None, 0), "split", "PronounSplit"),
    ("pronoun tokens row too big", lambda: PRONOUNS.tokens(PRONOUNS.train, 100), "i", r"\[0, 8\)"),
    # chapter 09 and the small studies
    ("gpt_optimiser betas of strings", lambda: lm_training.gpt_optimiser(betas=("a", "b")), "betas", "pair"),
    ("gpt_optimiser of None", lambda: lm_training.gpt_optimiser()(None, 1e-3), "model", "nn.Module"),
    ("gpt_optimiser lr NaN", lambda: lm_training.gpt_optimiser()(decoder(), NAN), "lr", "finite"),
    (
        "sample_stories 10**12",
        lambda: lm_training.sample_stories(decoder(), 10**12),
        "num_stories",
        "at most",
    ),
    (
        "sample_stories seed 2**64",
        lambda: lm_training.sample_stories(decoder(), 1, seed=HUGE_SEED),
        "seed",
        "an int in",
    ),
    ("neighbour_rows seed 2**64", lambda: neighbours.neighbour_rows(2, seed=HUGE_SEED), "seed", "an int in"),
    ("rnn_gradients seed 2**64", lambda: recurrence.rnn_gradients(3, seed=HUGE_SEED), "seed", "an int in"),
    ("add_eval value text", lambda: training.History().add_eval("held-out", 1, "a"), "value", "a number"),
    ("add_eval value list", lambda: training.History().add_eval("held-out", 1, [1.0]), "value", "a number"),
    ("add_eval negative step", lambda: training.History().add_eval("held-out", -1, 0.5), "step", ">= 0"),
    ("add_eval name None", lambda: training.History().add_eval(None, 1, 0.5), "name", "non-empty str"),
    ("pronoun_attention None", lambda: pronoun_heads.pronoun_attention(decoder(), None), "stories", "Story"),
]


@each_case(CASES)
def test_bad_input_names_the_argument_and_what_was_expected(call, argument, expected):
    assert_refused(call, argument, expected)


# What the checks must not refuse, and results that were wrong before.


@pytest.mark.parametrize("temperature", [1e-45, 5e-324])
def test_a_tiny_temperature_is_nearly_greedy_not_nan(temperature):
    logits = torch.tensor([[0.0, 2.0, 1.0], [3.0, -1.0, 0.5]])
    probs = generation.next_token_probs(logits, temperature=temperature)
    assert probs.isfinite().all()
    assert probs.argmax(-1).tolist() == [1, 0]
    ids, _ = generation.choose(logits, strategy="sample", temperature=temperature)
    assert ids.tolist() == [1, 0]


def test_float64_logits_beyond_float32_still_give_probabilities():
    probs = generation.next_token_probs(torch.tensor([1e300, 0.0], dtype=torch.float64))
    assert probs.tolist() == [1.0, 0.0]


def test_shifting_the_logits_keeps_the_distribution():
    logits = torch.randn(4, 7)
    for options in (dict(), dict(temperature=0.5, top_k=3), dict(temperature=2.0, top_p=0.8)):
        probs = generation.next_token_probs(logits, **options)
        torch.testing.assert_close(probs.sum(-1), torch.ones(4))
    torch.testing.assert_close(
        generation.next_token_probs(logits, temperature=0.5), torch.softmax(logits / 0.5, -1)
    )


def test_softmax_over_an_empty_dimension_is_empty():
    assert softmax.stable_softmax(torch.randn(3, 0)).shape == (3, 0)
    assert softmax.naive_softmax(torch.randn(3, 0)).shape == (3, 0)


def test_int32_ids_and_any_integer_ids_for_one_hot_still_work():
    emb = embeddings.TokenEmbedding(10, 4)
    torch.testing.assert_close(emb(torch.tensor([3], dtype=torch.int32)), emb(torch.tensor([3])))
    weight = torch.randn(5, 3)
    for dtype in (torch.int32, torch.uint8, torch.int64):
        torch.testing.assert_close(
            embeddings.one_hot_embed(torch.tensor([1, 4], dtype=dtype), weight), weight[[1, 4]]
        )
    assert decoder()(IDS.int()).shape == (2, 4, 12)


def test_masks_that_broadcast_to_the_scores_still_work():
    q, k, v = torch.randn(3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 4)  # k's batch widens q's
    for need_weights in (True, False):
        out, _ = scaled_dot_product_attention(
            q, k, v, torch.ones(2, 3, 5, dtype=BOOL), need_weights=need_weights
        )
        assert out.shape == (2, 3, 4)
    mha = MultiHeadAttention(8, 2)
    assert mha(X, mask=torch.ones(2, 4, 4, dtype=BOOL))[1].shape == (2, 2, 4, 4)
    assert mha(X, mask=masks.causal_mask(4))[0].shape == (2, 4, 8)


def test_decoder_layer_masks_give_the_same_output_as_before():
    """DecoderLayer now checks its masks once and calls the attention's trusted twin."""
    torch.manual_seed(0)
    layer = DecoderLayer(8, 2, 16, dropout=0.0)
    memory = torch.randn(2, 5, 8)
    self_mask, cross_mask = masks.causal_mask(4), torch.ones(2, 1, 1, 5, dtype=BOOL)
    out = layer(X, memory, self_mask, cross_mask, need_weights=True)

    h = layer.norm1(X + layer.self_attn(X, mask=self_mask)[0])
    h = layer.norm2(h + layer.cross_attn(h, memory, memory, cross_mask)[0])
    expected = layer.norm3(h + layer.feed_forward(h))
    torch.testing.assert_close(out, expected)
    assert layer.self_attn_weights.shape == (2, 2, 4, 4) and layer.cross_attn_weights.shape == (2, 2, 4, 5)


def test_seeds_torch_takes_are_still_taken():
    for seed in (-1, 0, 2**63, 2**64 - 1):
        assert neighbours.neighbour_rows(2, seed=seed).shape == (2, 8)


def test_split_rows_by_int_slice_and_tensor():
    assert len(TASK.train[0:3]) == 3 and len(TASK.train[torch.tensor([0, 7])]) == 2
    assert TASK.train[-1].src.shape == TASK.train.src[-1].shape
    assert len(PRONOUNS.train[torch.tensor([1, 2])].sentences) == 2


def test_add_eval_keeps_numbers_tensors_and_a_diverged_nan():
    history = training.History()
    history.add_eval("held-out", 0, 2)
    history.add_eval("held-out", 1, torch.tensor(1.5))
    history.add_eval("held-out", 2, float("nan"))
    steps, values = zip(*history.evals["held-out"])
    assert steps == (0, 1, 2) and values[:2] == (2.0, 1.5) and math.isnan(values[2])
