"""Bad input to lib's core (tokenizer → generation) gets a ValueError naming the argument.

Each row: a call with one plausible mistake, the argument the message must name, and
words saying what was expected. Before these checks, each failed deep inside torch (or
Python) with an error naming neither, or silently did something else (a vocabulary of
letters, NaN probabilities, the default d_k for d_k=0). Tensors on the "meta" device
stand in for a GPU tensor given to a CPU model: the mismatch is the same, and it runs
on any machine.
"""

import pytest
import torch
from refusals import IDS, SMALL, X, assert_refused, each_case
from torch import nn
from transformer_course import (
    cost,
    data,
    embeddings,
    generation,
    masks,
    pointer,
    positional,
    softmax,
    training,
)
from transformer_course.attention import MultiHeadAttention, SingleHeadAttention, scaled_dot_product_attention
from transformer_course.layers import AddNorm, DecoderLayer, EncoderLayer, FeedForward
from transformer_course.model import DecoderOnlyTransformer, Encoder, Transformer
from transformer_course.tokenizer import Vocab, course_vocab

NAN, INF = float("nan"), float("inf")


def meta(t: torch.Tensor) -> torch.Tensor:
    return t.to("meta")


def small_decoder() -> DecoderOnlyTransformer:
    return DecoderOnlyTransformer(SMALL)


def train_with(loss_fn=lambda m, b: m(b).logsumexp(-1).mean(), **options):
    """train() a small decoder-only model for one step on IDS with one option changed."""
    args = dict(steps=1, progress=False) | options
    return training.train(small_decoder(), loss_fn, lambda idx: IDS, 2, **args)


# (id, call, argument the message names, what it must say was expected)
CASES = [
    # tokenizer
    ("from_texts one string", lambda: Vocab.from_texts("one string"), "texts", "list of texts"),
    ("Vocab of one string", lambda: Vocab("hello"), "words", "list of token strings"),
    ("Vocab of ints", lambda: Vocab([1, 2]), r"words\[0\]", "must be a str"),
    ("ids of one string", lambda: course_vocab().ids("pizza"), "tokens", "use encode"),
    ("tokens float ids", lambda: course_vocab().tokens(torch.tensor([1.0, 2.0])), "ids", "integer ids"),
    ("tokens float list", lambda: course_vocab().tokens([4, 1.0]), r"ids\[1\]", r"an int in \[0, "),
    ("tokens 2-D ids", lambda: course_vocab().tokens(torch.tensor([[1, 2]])), "ids", "1-D"),
    ("tokens of a str", lambda: course_vocab().tokens("12"), "ids", "list of int ids"),
    ("decode float list", lambda: course_vocab().decode([1.5]), r"ids\[0\]", "an int"),
    ("encode_batch non-str", lambda: course_vocab().encode_batch(["a", 2]), r"texts\[1\]", "must be a str"),
    # embeddings, positions
    (
        "padding_idx too big",
        lambda: embeddings.TokenEmbedding(10, 4, padding_idx=10),
        "padding_idx",
        r"\[-10, 10\)",
    ),
    ("padding_idx float", lambda: embeddings.TokenEmbedding(10, 4, padding_idx=1.5), "padding_idx", "an int"),
    (
        "ids on another device",
        lambda: embeddings.TokenEmbedding(10, 4)(meta(IDS)),
        "ids",
        "embedding table on cpu",
    ),
    ("base not a number", lambda: positional.sinusoidal_encoding(4, 4, base="a"), "base", "> 1"),
    ("base NaN", lambda: positional.sinusoidal_encoding(4, 4, base=NAN), "base", "finite number"),
    (
        "encoding int dtype",
        lambda: positional.sinusoidal_encoding(4, 4, dtype=torch.long),
        "dtype",
        "floating-point",
    ),
    (
        "x on another device",
        lambda: positional.SinusoidalPositionalEncoding(8)(meta(X)),
        "x",
        "position table",
    ),
    (
        "x on another device, learned",
        lambda: positional.LearnedPositionalEmbedding(8)(meta(X)),
        "x",
        "on cpu",
    ),
    # attention
    ("d_k=0", lambda: SingleHeadAttention(8, d_k=0), "d_k", "positive int"),
    ("d_v=0", lambda: SingleHeadAttention(8, d_v=0), "d_v", "positive int"),
    ("float64 x, float32 weights", lambda: SingleHeadAttention(8)(X.double()), "x", "dtype torch.float32"),
    ("dropout=2.0", lambda: MultiHeadAttention(8, 2, dropout=2.0), "dropout", r"in \[0, 1\)"),
    ("dropout NaN", lambda: MultiHeadAttention(8, 2, dropout=NAN), "dropout", "finite number"),
    ("float64 query", lambda: MultiHeadAttention(8, 2)(X.double()), "query", "dtype torch.float32"),
    ("query on another device", lambda: MultiHeadAttention(8, 2)(meta(X)), "query", "weights on cpu"),
    ("mask as a list", lambda: MultiHeadAttention(8, 2)(X, mask=[[True]]), "mask", "bool tensor"),
    (
        "mask on another device",
        lambda: MultiHeadAttention(8, 2)(X, mask=meta(masks.causal_mask(4))),
        "mask",
        "on cpu",
    ),
    ("split_heads 2-D", lambda: MultiHeadAttention(8, 2).split_heads(torch.randn(4, 8)), "x", "3-D"),
    (
        "merge_heads wrong h",
        lambda: MultiHeadAttention(8, 2).merge_heads(torch.randn(1, 4, 3, 2)),
        "x",
        "num_heads",
    ),
    (
        "batch sizes of q and k differ",
        lambda: scaled_dot_product_attention(
            torch.randn(2, 3, 4), torch.randn(3, 5, 4), torch.randn(3, 5, 4)
        ),
        "k",
        "broadcast",
    ),
    (
        "batch sizes of q and v differ",
        lambda: scaled_dot_product_attention(
            torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(3, 5, 4)
        ),
        "v",
        "broadcast",
    ),
    (
        "k float64, q float32",
        lambda: scaled_dot_product_attention(
            torch.randn(3, 4), torch.randn(5, 4).double(), torch.randn(5, 4)
        ),
        "k",
        "dtype torch.float32",
    ),
    (
        "dropout_p=2",
        lambda: scaled_dot_product_attention(
            torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 4), dropout_p=2.0
        ),
        "dropout_p",
        r"in \[0, 1\)",
    ),
    (
        "scale a string",
        lambda: scaled_dot_product_attention(
            torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 4), scale="a"
        ),
        "scale",
        "> 0",
    ),
    # softmax
    (
        "stable_softmax dim=2 of 2-D",
        lambda: softmax.stable_softmax(torch.randn(3, 4), dim=2),
        "dim",
        r"\[-2, 2\)",
    ),
    ("naive_softmax dim=-3", lambda: softmax.naive_softmax(torch.randn(3, 4), dim=-3), "dim", r"\[-2, 2\)"),
    ("entropy dim=1.0", lambda: softmax.entropy(torch.rand(3, 4), dim=1.0), "dim", "an int"),
    (
        "jacobian of 0-D",
        lambda: softmax.softmax_jacobian_norm(torch.tensor(1.0)),
        "weights",
        "at least 1 dimension",
    ),
    ("saturation seed", lambda: softmax.saturation_experiment(seed=0.5), "seed", "an int"),
    # cost
    ("budget_s a string", lambda: cost.measure_attention_cost(budget_s="a"), "budget_s", "> 0"),
    ("growth of strings", lambda: cost.growth_exponent([1, 2], ["a", "b"]), "values", "> 0"),
    # masks
    ("pad_id a string", lambda: masks.padding_mask(IDS, "0"), "pad_id", "an int"),
    ("pad_id a float", lambda: masks.padding_mask(IDS, 0.5), "pad_id", "an int"),
    ("pad_id None", lambda: masks.padding_mask(IDS, None), "pad_id", "an int"),
    (
        "combine 3x3 and 4x4",
        lambda: masks.combine_masks(masks.causal_mask(3), masks.causal_mask(4)),
        "masks",
        "broadcast",
    ),
    (
        "combine a float mask",
        lambda: masks.combine_masks(masks.causal_mask(3), torch.ones(3, 3)),
        "masks",
        "bool",
    ),
    (
        "additive_mask int dtype",
        lambda: masks.additive_mask(masks.causal_mask(3), torch.long),
        "dtype",
        "floating",
    ),
    # layers
    (
        "AddNorm sublayer widens",
        lambda: AddNorm(8)(X, lambda h: torch.randn(2, 4, 16)),
        "sublayer",
        r"shape \(2, 4, 8\)",
    ),
    (
        "AddNorm sublayer returns a tuple",
        lambda: AddNorm(8)(X, MultiHeadAttention(8, 2)),
        "sublayer",
        r"attn\(h\)\[0\]",
    ),
    ("AddNorm sublayer not callable", lambda: AddNorm(8)(X, 3), "sublayer", "function"),
    ("AddNorm float64 x", lambda: AddNorm(8)(X.double(), lambda h: h), "x", "dtype torch.float32"),
    ("AddNorm eps a string", lambda: AddNorm(8, eps="a"), "eps", "> 0"),
    ("FeedForward float64 x", lambda: FeedForward(8, 16)(X.double()), "x", "dtype torch.float32"),
    ("EncoderLayer float64 x", lambda: EncoderLayer(8, 2, 16)(X.double()), "x", "dtype torch.float32"),
    (
        "DecoderLayer float64 memory",
        lambda: DecoderLayer(8, 2, 16)(X, X.double()),
        "memory",
        "dtype torch.float32",
    ),
    # config, stacks, models
    ("norm_first a string", lambda: SMALL.replace(norm_first="no"), "norm_first", "True or False"),
    ("tie_embeddings 1", lambda: SMALL.replace(tie_embeddings=1), "tie_embeddings", "True or False"),
    ("eps negative", lambda: SMALL.replace(eps=-1e-5), "eps", "> 0"),
    ("config dropout NaN", lambda: SMALL.replace(dropout=NAN), "dropout", "finite number"),
    ("pad_id beyond vocabulary", lambda: SMALL.replace(pad_id=12), "pad_id", r"\[0, 12\)"),
    ("stack of 0 layers", lambda: Encoder(SMALL, 0), "num_layers", "positive int"),
    ("stack float64 x", lambda: Encoder(SMALL)(X.double()), "x", "dtype torch.float32"),
    ("model ids on another device", lambda: small_decoder()(meta(IDS)), "ids", "model's weights on cpu"),
    ("src on another device", lambda: Transformer(SMALL)(meta(IDS), IDS), "src", "model's weights on cpu"),
    # generation
    (
        "temperature NaN",
        lambda: generation.next_token_probs(torch.randn(5), temperature=NAN),
        "temperature",
        "finite",
    ),
    (
        "temperature inf",
        lambda: generation.next_token_probs(torch.randn(5), temperature=INF),
        "temperature",
        "finite",
    ),
    (
        "every token blocked",
        lambda: generation.next_token_probs(torch.full((5,), -INF)),
        "logits",
        "every token is blocked",
    ),
    (
        "every token blocked, greedy",
        lambda: generation.choose(torch.full((2, 5), -INF)),
        "logits",
        "nothing to choose",
    ),
    ("NaN logits", lambda: generation.next_token_probs(torch.tensor([0.0, NAN])), "logits", "NaN or \\+inf"),
    ("0-D logits", lambda: generation.next_token_probs(torch.tensor(1.0)), "logits", "V >= 1"),
    ("top_k a float", lambda: generation.next_token_probs(torch.randn(5), top_k=2.0), "top_k", "an int"),
    (
        "generator an int",
        lambda: generation.choose(torch.randn(2, 5), strategy="sample", generator=3),
        "generator",
        "torch.Generator",
    ),
    (
        "generate with temperature NaN",
        lambda: generation.generate(
            generation.decoder_logits_fn(small_decoder()),
            torch.tensor([1]),
            max_new_tokens=2,
            strategy="sample",
            temperature=NAN,
        ),
        "temperature",
        "finite",
    ),
    (
        "generate with a blocking model",
        lambda: generation.generate(
            lambda p: torch.full((*p.shape, 5), -INF), torch.tensor([1]), max_new_tokens=2
        ),
        "logits",
        "every token is blocked",
    ),
    (
        "greedy_decode with a blocking model",
        lambda: generation.greedy_decode(lambda p: torch.full((*p.shape, 5), -INF), IDS, max_new_tokens=2),
        "logits",
        "every token is blocked",
    ),
    (
        "generate seed a float",
        lambda: generation.generate(
            generation.decoder_logits_fn(small_decoder()), torch.tensor([1]), max_new_tokens=1, seed=1.5
        ),
        "seed",
        "an int",
    ),
    (
        "generate eos_id a string",
        lambda: generation.generate(
            generation.decoder_logits_fn(small_decoder()), torch.tensor([1]), max_new_tokens=1, eos_id="x"
        ),
        "eos_id",
        "an int",
    ),
    (
        "logits_fn not callable",
        lambda: generation.generate(3, torch.tensor([1]), max_new_tokens=1),
        "logits_fn",
        "function",
    ),
    (
        "greedy_decode pad_id float",
        lambda: generation.greedy_decode(lambda p: p, IDS, max_new_tokens=1, pad_id=0.5),
        "pad_id",
        "an int",
    ),
    ("strip eos_id None", lambda: generation.strip(IDS, eos_id=None), "eos_id", "an int"),
    ("strip skip an int", lambda: generation.strip(IDS, eos_id=3, skip=2), "skip", "tuple of ids"),
    (
        "src rows for prefix rows",
        lambda: generation.seq2seq_logits_fn(Transformer(SMALL), IDS)(torch.ones(3, 1, dtype=torch.long)),
        "src",
        "one per prefix row",
    ),
    ("decoder_logits_fn of an int", lambda: generation.decoder_logits_fn(3), "model", "function"),
    (
        "seq2seq_accuracy of a weightless model",
        lambda: generation.seq2seq_accuracy(
            nn.Identity(), data.sequence_task(num_train=8, num_test=8).test, bos_id=2, eos_id=3
        ),
        "model",
        "parameters",
    ),
    (
        "seq2seq_accuracy of a tensor",
        lambda: generation.seq2seq_accuracy(small_decoder(), IDS, bos_id=2, eos_id=3),
        "split",
        "SequenceSplit",
    ),
    # training
    ("lr NaN", lambda: train_with(lr=NAN), "lr", "finite number > 0"),
    ("lr inf", lambda: train_with(lr=INF), "lr", "finite number > 0"),
    (
        "loss_fn returns a vector",
        lambda: train_with(lambda m, b: m(b).logsumexp(-1).mean(-1)),
        "loss_fn",
        "scalar tensor",
    ),
    ("loss_fn returns a float", lambda: train_with(lambda m, b: 1.0), "loss_fn", "scalar tensor"),
    (
        "loss_fn returns no gradient",
        lambda: train_with(lambda m, b: torch.tensor(1.0)),
        "loss_fn",
        "no gradient",
    ),
    ("loss_fn not callable", lambda: train_with(None), "loss_fn", "function"),
    ("seed a float", lambda: train_with(seed=0.5), "seed", "an int"),
    ("warmup negative", lambda: train_with(warmup=-1), "warmup", ">= 0"),
    ("history a list", lambda: train_with(history=[]), "history", "History"),
    ("snapshot_steps a string", lambda: train_with(snapshot_steps="1"), "snapshot_steps", "list of ints"),
    (
        "a model without weights",
        lambda: training.train(nn.Identity(), lambda m, b: b, lambda idx: IDS, 2, steps=1, progress=False),
        "model",
        "parameters",
    ),
    (
        "seq2seq_loss of one tensor",
        lambda: training.seq2seq_loss(Transformer(SMALL), IDS),
        "batch",
        r"pair \(src",
    ),
    (
        "seq2seq_loss of a 1-token target",
        lambda: training.seq2seq_loss(Transformer(SMALL), (IDS, IDS[:, :1])),
        "tgt",
        "at least 2",
    ),
    ("split_batch_fn of a tensor", lambda: training.split_batch_fn(IDS), "split", "SequenceSplit"),
    # pointer
    ("pointer d_k=0", lambda: pointer.PronounPointer(SMALL, d_k=0), "d_k", "positive int"),
    (
        "resolve it_pos float",
        lambda: pointer.resolve(pointer.PronounPointer(SMALL), IDS[0], 1.5),
        "it_pos",
        "an int",
    ),
    (
        "pointer_loss of a tensor",
        lambda: pointer.pointer_loss(pointer.PronounPointer(SMALL), IDS),
        "batch",
        "PronounSplit",
    ),
]


@each_case(CASES)
def test_bad_input_names_the_argument_and_what_was_expected(call, argument, expected):
    assert_refused(call, argument, expected)


# The checks must not turn away what was valid before.


def test_d_k_and_d_v_default_only_when_not_given():
    assert (SingleHeadAttention(8).d_k, SingleHeadAttention(8).d_v) == (8, 8)
    assert (SingleHeadAttention(8, d_k=4).d_k, SingleHeadAttention(8, d_k=4).d_v) == (4, 4)
    assert pointer.PronounPointer(SMALL).head.d_k == SMALL.d_model


def test_vocab_takes_any_iterable_of_texts_and_integer_ids():
    vocab = Vocab.from_texts(t for t in ("the cat sat", "the dog"))
    assert vocab.itos[4] == "the"
    numpy = pytest.importorskip("numpy")
    assert vocab.tokens([numpy.int64(4), 5]) == vocab.tokens(torch.tensor([4, 5]))
    assert vocab.decode(vocab.encode("the cat")) == "the cat"


def test_negative_padding_idx_counts_from_the_end_as_in_nn_embedding():
    emb = embeddings.TokenEmbedding(10, 4, padding_idx=-1)
    assert emb.lookup.padding_idx == nn.Embedding(10, 4, padding_idx=-1).padding_idx == 9


@pytest.mark.parametrize("dim", [0, 1, -1, -2])
def test_softmax_along_any_existing_dimension(dim):
    scores = torch.randn(3, 4)
    torch.testing.assert_close(softmax.stable_softmax(scores, dim=dim), torch.softmax(scores, dim=dim))


def test_masks_that_broadcast_still_combine():
    both = masks.combine_masks(masks.causal_mask(4), None, masks.padding_mask(IDS, 0))
    assert both.shape == (2, 1, 4, 4)


@pytest.mark.parametrize("need_weights", [True, False])
def test_attention_still_broadcasts_batch_dimensions(need_weights):
    q, k, v = torch.randn(2, 3, 4), torch.randn(1, 5, 4), torch.randn(1, 5, 4)
    out, _ = scaled_dot_product_attention(q, k, v, need_weights=need_weights)
    expected, _ = scaled_dot_product_attention(q, k.expand(2, -1, -1), v.expand(2, -1, -1))
    torch.testing.assert_close(out, expected)


def test_float64_input_works_once_the_layer_is_float64_too():
    mha = MultiHeadAttention(8, 2)
    out, _ = mha.double()(X.double())
    assert out.dtype == torch.float64


def test_blocked_tokens_get_zero_probability_while_one_token_is_left():
    logits = torch.tensor([[0.0, -INF, 1.0], [-INF, -INF, 2.0]])
    probs = generation.next_token_probs(logits, temperature=0.5)
    assert probs[0, 1] == 0 and probs[1].tolist() == [0.0, 0.0, 1.0]
    torch.testing.assert_close(probs.sum(-1), torch.ones(2))
    with pytest.raises(ValueError, match="1 of 2 rows"):
        generation.next_token_probs(torch.tensor([[0.0, 1.0], [-INF, -INF]]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_input_to_a_cuda_model_names_the_input_and_both_devices():
    model = small_decoder().cuda()
    with pytest.raises(ValueError, match=r"ids is on cpu, the model's weights on cuda:0"):
        model(IDS)
    with pytest.raises(ValueError, match=r"query is on cpu, this layer's weights on cuda:0"):
        MultiHeadAttention(8, 2).cuda()(X)
    with pytest.raises(ValueError, match=r"k is on cpu, q on cuda:0"):
        scaled_dot_product_attention(torch.randn(3, 4).cuda(), torch.randn(5, 4), torch.randn(5, 4))
