"""Bad input to chapter 09's side of lib (generation, sampling, the KV cache, stories, GPT
training, pronoun heads, and the modules beside them) gets a ValueError naming the argument.

Each row: a call with one plausible mistake, the argument the message must name, and words
saying what was expected. Before these checks: a numpy array for ``strategy``, ``at`` or
``kind`` failed with numpy's "truth value of an array is ambiguous"; ``pad_id=None`` inside
``masked_fill``; an encoder-decoder given as a logits function, a loss function or an
optimiser with "missing 1 required positional argument" or a message naming "src"; a prompt
of no tokens named the model's "ids"; ``find_pronoun_head``'s selection was called
"stories"; a 0-d tensor for a list of words with "iteration over a 0-d tensor";
``KVCache(10**12, …)`` ran out of memory, ``train(steps=10**12)`` ran for ever, and
``split`` drew for ever when the training stories held nearly all a generator writes.
"""

import warnings

import numpy as np
import torch
from refusals import assert_refused, each_case
from transformer_course import alignment, cost, data, sampling, stories, training
from transformer_course import generation as gen
from transformer_course import lm_training as lm
from transformer_course import pronoun_heads as ph
from transformer_course.kv_cache import KVCache
from transformer_course.model import DecoderOnlyTransformer, Transformer, TransformerConfig
from transformer_course.tokenizer import Vocab, course_vocab

SMALL = TransformerConfig(
    vocab_size=11,
    d_model=8,
    num_heads=2,
    num_encoder_layers=1,
    num_decoder_layers=1,
    d_ff=16,
    dropout=0.0,
    max_len=12,
)
torch.manual_seed(0)
GPT = DecoderOnlyTransformer(SMALL).eval()
SEQ2SEQ = Transformer(SMALL).eval()
STORY_GPT = DecoderOnlyTransformer(
    TransformerConfig(
        vocab_size=len(stories.story_vocab()),
        d_model=8,
        num_heads=2,
        num_decoder_layers=1,
        d_ff=16,
        max_len=48,
    )
).eval()
STORIES = stories.StoryGenerator().sample(3, seed=0)
PROMPT = torch.tensor([2, 5])
LOGITS = torch.randn(2, 11)
ARRAY = np.array([1, 2])
IDS = stories.encode(STORIES)


def _train(**changes):
    args = {"steps": 1, "progress": False, **changes}
    return training.train(STORY_GPT, lm.story_loss_fn(), lm.story_batch_fn(IDS), len(IDS), **args)


def _split_with_few_draws():
    old, stories.MAX_HELD_OUT_DRAWS = stories.MAX_HELD_OUT_DRAWS, 1000
    try:
        stories.split(stories.StoryGenerator(), 10, 2000)
    finally:
        stories.MAX_HELD_OUT_DRAWS = old


CASES = [
    # generation and sampling
    (
        "generate: strategy an array",
        lambda: gen.generate(gen.decoder_logits_fn(GPT), PROMPT, max_new_tokens=2, strategy=ARRAY),
        "strategy",
        "one of",
    ),  # noqa: E501
    ("choose: strategy an array", lambda: sampling.choose(LOGITS, strategy=ARRAY), "strategy", "one of"),
    ("choose: strategy None", lambda: sampling.choose(LOGITS, strategy=None), "strategy", "one of"),
    (
        "greedy_decode: pad_id None",
        lambda: gen.greedy_decode(
            gen.decoder_logits_fn(GPT), PROMPT[None], max_new_tokens=2, eos_id=3, pad_id=None
        ),
        "pad_id",
        "an int",
    ),  # noqa: E501
    (
        "greedy_decode: pad_id 1.5",
        lambda: gen.greedy_decode(gen.cached_logits_fn(GPT), PROMPT[None], max_new_tokens=2, pad_id=1.5),
        "pad_id",
        "an int",
    ),  # noqa: E501
    (
        "last_logits: no token",
        lambda: gen.last_logits(gen.decoder_logits_fn(GPT), torch.empty(1, 0, dtype=torch.long)),
        "prefix",
        "at least one token",
    ),  # noqa: E501
    (
        "generate: an encoder-decoder",
        lambda: gen.generate(SEQ2SEQ, PROMPT, max_new_tokens=2),
        "logits_fn",
        "one argument",
    ),  # noqa: E501
    (
        "greedy_decode: an encoder-decoder",
        lambda: gen.greedy_decode(SEQ2SEQ, PROMPT[None], max_new_tokens=2),
        "logits_fn",
        "seq2seq_logits_fn",
    ),  # noqa: E501
    (
        "last_logits: an encoder-decoder",
        lambda: gen.last_logits(SEQ2SEQ, PROMPT[None]),
        "logits_fn",
        "one argument",
    ),
    (
        "generate: top_k > V, before a step",
        lambda: gen.generate(
            gen.cached_logits_fn(GPT), PROMPT, max_new_tokens=2, strategy="sample", top_k=12
        ),
        "top_k",
        "at most the vocabulary size",
    ),  # noqa: E501
    ("KVCache: 10**12 layers", lambda: KVCache(10**12, 4), "num_layers", "smaller"),
    # pronoun heads
    (
        "find_pronoun_head: selection a str",
        lambda: ph.find_pronoun_head(STORY_GPT, "story"),
        "selection",
        "list of Story",
    ),  # noqa: E501
    (
        "find_pronoun_heads: selection empty",
        lambda: ph.find_pronoun_heads(STORY_GPT, []),
        "selection",
        "non-empty",
    ),
    (
        "pronoun_attention: at an array",
        lambda: ph.pronoun_attention(STORY_GPT, STORIES, at=ARRAY),
        "at",
        '"query"',
    ),
    (
        "pronoun_readings: at [1, 2]",
        lambda: ph.pronoun_readings(STORY_GPT, STORIES, at=[1, 2]),
        "at",
        '"query"',
    ),
    # tokenizer: a 0-d tensor or array is not a list of words
    ("Vocab: a 0-d tensor", lambda: Vocab(torch.tensor(3)), "words", "list of token strings"),
    ("Vocab: a tensor of ids", lambda: Vocab(torch.tensor([3, 4])), "words", "list of token strings"),
    ("from_texts: a 0-d array", lambda: Vocab.from_texts(np.array("a b")), "texts", "list of texts"),
    (
        "Vocab.ids: a 0-d tensor",
        lambda: course_vocab().ids(torch.tensor(3)),
        "tokens",
        "list of token strings",
    ),
    (
        "encode_batch: a 0-d tensor",
        lambda: course_vocab().encode_batch(torch.tensor(3)),
        "texts",
        "list of texts",
    ),
    # training
    ("train: 10**12 steps", lambda: _train(steps=10**12), "steps", "at most 10,000,000"),
    (
        "train: snapshot_steps a 0-d tensor",
        lambda: _train(snapshot_steps=torch.tensor(1), snapshot_fn=len),
        "snapshot_steps",
        "list of ints",
    ),  # noqa: E501
    (
        "train: loss_fn a model",
        lambda: training.train(STORY_GPT, SEQ2SEQ, lm.story_batch_fn(IDS), 3, steps=1, progress=False),
        "loss_fn",
        "function of",
    ),  # noqa: E501
    ("train: optimiser a model", lambda: _train(optimiser=SEQ2SEQ), "optimiser", "function of"),
    # stories: split would draw for ever
    ("split: held-out stories out of reach", _split_with_few_draws, "num_test", "smaller"),
    # beside them
    ("sequence_task: kind an array", lambda: data.sequence_task(ARRAY), "kind", "one of"),
    (
        "source_position: kind an array",
        lambda: alignment.source_position(ARRAY, torch.tensor([0]), torch.tensor([3])),
        "kind",
        "one of",
    ),  # noqa: E501
    ("peak_memory: a model", lambda: cost.peak_memory(SEQ2SEQ), "fn", "no arguments"),
    ("process_peak_memory: a model", lambda: cost.process_peak_memory(GPT), "fn", "no arguments"),
]


@each_case(CASES)
def test_refused_by_name(call, argument, expected):
    assert_refused(call, argument, expected)


def test_logits_that_carry_a_gradient_are_read_without_a_warning():
    """check_logits read a sum of logits with requires_grad (torch warns: "Converting a tensor
    with requires_grad=True to a scalar"); last_logits outside no_grad hands it such logits."""
    logits = torch.randn(2, 5, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampling.check_logits(logits)
        sampling.next_token_probs(logits, top_p=0.5)
        gen.last_logits(gen.decoder_logits_fn(GPT), PROMPT[None])
