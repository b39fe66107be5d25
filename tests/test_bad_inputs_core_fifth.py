"""A fifth audit of lib's core entry points (2026-12-05): data, stories, pointer, neighbours,
training, alignment, sampling, generation, lm_training, pronoun_heads, from_scratch. Each
row failed deep inside torch or Python (a KeyError from a table, "takes 2 positional
arguments", "cannot be called on meta tensors", "can't allocate memory"), named an argument
the learner never passed (the model's own "ids" or "src"), ran for hours, or silently gave
NaN. Now each gets a ValueError naming the argument and saying what was expected.
"""

import numpy as np
import torch
from refusals import IDS, SMALL, assert_refused, each_case
from torch import nn
from transformer_course import (
    alignment,
    data,
    generation,
    lm_training,
    neighbours,
    pointer,
    pronoun_heads,
    sampling,
    stories,
    story_world,
    training,
)
from transformer_course import from_scratch as fs
from transformer_course.model import DecoderOnlyTransformer, Transformer

HUGE = 10**12  # any size times this is more memory than a machine has: refused before allocating
META = torch.randn(2, 5).to("meta")
GPT = DecoderOnlyTransformer(SMALL)
SEQ2SEQ = Transformer(SMALL)

TASK = data.sequence_task("reverse", num_train=8, num_test=8)  # 14 ids, sources of up to 8
TASK_MODEL = Transformer(SMALL.replace(vocab_size=len(TASK.vocab)))
PTASK = data.pronoun_task(num_train=8, num_test=8)
POINTER = pointer.PronounPointer(SMALL.replace(vocab_size=len(PTASK.vocab)))
BATCH = PTASK.train[:4]

ROWS = neighbours.neighbour_rows(4)
READER = neighbours.NeighbourReader()

STORY_GEN = stories.StoryGenerator()
STORIES = STORY_GEN.sample(4, seed=0)
STORY_CONFIG = SMALL.replace(vocab_size=len(stories.story_vocab()), max_len=64)
STORY_GPT = DecoderOnlyTransformer(STORY_CONFIG)
READING = pronoun_heads.pronoun_attention(STORY_GPT, STORIES)
WORDS = set(READING.words)


def _train(**kwargs):
    """One step of ``train`` on the small GPT, with ``kwargs`` changed."""
    args = dict(
        model=GPT,
        loss_fn=lambda m, b: m(b).logsumexp(-1).mean(),
        batch_fn=lambda idx: IDS,
        num_items=2,
        steps=1,
        progress=False,
    )
    return training.train(**(args | kwargs))


CASES = [
    # --- data ---
    (
        "sequence_task, rows of 100,000 symbols",
        lambda: data.sequence_task(num_train=8, num_test=8, max_len=10**5),
        "max_len",
        "at most 1000",
    ),
    (
        "sequence_task, 10**8 rows",
        lambda: data.sequence_task(num_train=10**8, num_test=10, max_len=12),
        "num_train",
        "at most 1,000,000",
    ),
    ("SequenceTask.encode, a list of ints", lambda: TASK.encode([3]), r"symbols\[0\]", "str"),
    ("batches of a trillion items", lambda: next(data.batches(HUGE, 2)), "num_items", "memory"),
    # --- story_world ---
    ("food_table, unknown characters", lambda: story_world.food_table("x", "y"), "a", "characters"),
    ("food_table, a list", lambda: story_world.food_table("tom", ["lily"]), "b", "characters"),
    (
        "event_table, an unknown food",
        lambda: story_world.event_table("tom", "lily", "sushi"),
        "food",
        "pizza",
    ),
    ("event_table, no character", lambda: story_world.event_table(None, "lily", "pizza"), "a", "None"),
    # --- stories ---
    ("encode, a trillion tokens a row", lambda: stories.encode(STORIES, length=HUGE), "length", "memory"),
    # --- pointer ---
    ("pointer_loss, no model", lambda: pointer.pointer_loss(None, BATCH), "model", "function"),
    (
        "pointer_loss, a decoder-only model",
        lambda: pointer.pointer_loss(GPT, BATCH),
        "model",
        r"\(ids, it_pos\)",
    ),
    ("referent_wins, a Linear", lambda: pointer.referent_wins(nn.Linear(2, 2), BATCH), "model", "it_pos"),
    ("resolve, a Linear", lambda: pointer.resolve(nn.Linear(2, 2), BATCH.ids[0], 3), "model", "it_pos"),
    ("snapshot, no model", lambda: pointer.snapshot(None, BATCH, BATCH), "model", "PronounPointer"),
    ("snapshot, nothing shown", lambda: pointer.snapshot(POINTER, None, BATCH), "shown", "PronounSplit"),
    ("snapshot, ids shown", lambda: pointer.snapshot(POINTER, BATCH.ids, BATCH), "shown", "PronounSplit"),
    # --- neighbours ---
    ("neighbour_rows, a trillion rows", lambda: neighbours.neighbour_rows(HUGE), "num_rows", "memory"),
    (
        "NeighbourReader, d_model None",
        lambda: neighbours.NeighbourReader(d_model=None),
        "d_model",
        "positive int",
    ),
    (
        "NeighbourReader, d_model 2.5",
        lambda: neighbours.NeighbourReader(d_model=2.5),
        "d_model",
        "positive int",
    ),
    (
        "NeighbourReader, d_model -1",
        lambda: neighbours.NeighbourReader(d_model=-1),
        "d_model",
        "positive int",
    ),
    ("NeighbourReader, uint8 ids", lambda: READER(ROWS.to(torch.uint8)), "ids", "int64"),
    ("NeighbourReader, meta ids", lambda: READER(ROWS.to("meta")), "ids", "meta"),
    ("neighbour_loss, no model", lambda: neighbours.neighbour_loss(None, ROWS), "model", "NeighbourReader"),
    ("neighbour_accuracy, no model", lambda: neighbours.neighbour_accuracy(None, ROWS), "model", "Module"),
    (
        "neighbour_loss, one symbol a row",
        lambda: neighbours.neighbour_loss(READER, ROWS[:, :1]),
        "ids",
        "2 symbols",
    ),
    ("neighbour_accuracy, no row", lambda: neighbours.neighbour_accuracy(READER, ROWS[:0]), "ids", "1 row"),
    ("head_jobs, no row", lambda: neighbours.head_jobs(torch.rand(0, 3, 8, 8)), "weights", "one row"),
    (
        "head_jobs, NaN",
        lambda: neighbours.head_jobs(torch.full((1, 3, 8, 8), float("nan"))),
        "weights",
        "finite",
    ),
    # --- training ---
    ("train, batch_fn returns None", lambda: _train(batch_fn=lambda idx: None), "batch_fn", "got None"),
    ("train, batch_fn takes nothing", lambda: _train(batch_fn=lambda: IDS), "batch_fn", "one argument"),
    ("train, loss_fn takes one", lambda: _train(loss_fn=lambda m: m(IDS).mean()), "loss_fn", "two arguments"),
    ("train, lr 1e300", lambda: _train(lr=1e300), "lr", "at most 1e\\+06"),
    ("learning_rates, lr 1e300", lambda: training.learning_rates(1e300, 3), "lr", "at most"),
    ("History, losses None", lambda: training.History(losses=None), "losses", "list"),
    ("History.add_eval, True", lambda: training.History().add_eval("x", 1, True), "value", "number"),
    (
        "seq2seq_loss, a decoder-only model",
        lambda: training.seq2seq_loss(GPT, (IDS, IDS)),
        "model",
        r"\(src, trg_in\)",
    ),
    # --- alignment ---
    ("source_position, i a str", lambda: alignment.source_position("copy", "a", 3), "i", "tensor"),
    ("source_position, length a str", lambda: alignment.source_position("reverse", 1, "3"), "length", "int"),
    (
        "share_on_source, no row",
        lambda: alignment.share_on_source(torch.rand(0, 2, 9, 8), torch.tensor([], dtype=torch.long)),
        "lengths",
        "one row",
    ),
    (
        "aligned_share, a model of a smaller vocabulary",
        lambda: alignment.aligned_share(Transformer(SMALL.replace(vocab_size=5)), TASK.test),
        "model",
        "vocab_size is 5",
    ),
    (
        "aligned_share, a model too short",
        lambda: alignment.aligned_share(Transformer(SMALL.replace(vocab_size=14, max_len=4)), TASK.test),
        "model",
        "max_len is 4",
    ),
    # --- sampling ---
    ("next_token_probs, meta logits", lambda: sampling.next_token_probs(META), "logits", "meta"),
    ("choose, meta logits", lambda: sampling.choose(META), "logits", "meta"),
    ("choose, no token", lambda: sampling.choose(torch.randn(2, 0)), "logits", "V >= 1"),
    ("keep_top_p, meta probs", lambda: sampling.keep_top_p(torch.rand(3).to("meta"), 0.5), "probs", "meta"),
    ("check_options, vocab_size a str", lambda: sampling.check_options(1.0, 3, "x"), "vocab_size", "int"),
    ("check_logits, meta", lambda: sampling.check_logits(META), "logits", "meta"),
    # --- generation ---
    (
        "generate, a meta prompt",
        lambda: generation.generate(
            generation.decoder_logits_fn(GPT), torch.tensor([1]).to("meta"), max_new_tokens=2
        ),
        "prompt",
        "meta",
    ),
    (
        "generate, a billion tokens from a function without max_len",
        lambda: generation.generate(
            lambda p: torch.zeros(*p.shape, 5), torch.tensor([1]), max_new_tokens=10**9
        ),
        "max_new_tokens",
        "memory",
    ),
    (
        "seq2seq_logits_fn, no prefix",
        lambda: generation.seq2seq_logits_fn(SEQ2SEQ, IDS)(None),
        "prefix",
        "Tensor",
    ),
    (
        "seq2seq_logits_fn, a decoder-only model",
        lambda: generation.seq2seq_logits_fn(GPT, IDS),
        "model",
        r"\(src, trg_in\)",
    ),
    (
        "decoder_logits_fn, an encoder-decoder",
        lambda: generation.decoder_logits_fn(SEQ2SEQ),
        "model",
        r"\(ids\)",
    ),
    (
        "seq2seq_accuracy, bos_id past the vocabulary",
        lambda: generation.seq2seq_accuracy(TASK_MODEL, TASK.test, bos_id=99, eos_id=3),
        "bos_id",
        r"\[0, 14\)",
    ),
    (
        "seq2seq_accuracy, a decoder-only model",
        lambda: generation.seq2seq_accuracy(GPT, TASK.test, bos_id=2, eos_id=3),
        "model",
        r"\(src, trg_in\)",
    ),
    (
        "seq2seq_accuracy, a model of a smaller vocabulary",
        lambda: generation.seq2seq_accuracy(SEQ2SEQ, TASK.test, bos_id=2, eos_id=3),
        "model",
        "vocab_size is 12.*up to 13",
    ),
    (
        "seq2seq_accuracy, a model too short",
        lambda: generation.seq2seq_accuracy(
            Transformer(SMALL.replace(vocab_size=14, max_len=4)), TASK.test, bos_id=2, eos_id=3
        ),
        "model",
        "max_len is 4",
    ),
    (
        "Step.chosen_prob, chosen out of range",
        lambda: generation.Step(IDS[0], torch.rand(5), 9).chosen_prob,
        "chosen",
        r"\[0, 5\)",
    ),
    # --- lm_training ---
    ("next_token_loss, meta ids", lambda: lm_training.next_token_loss(GPT, IDS.to("meta")), "ids", "meta"),
    ("validation_loss, meta ids", lambda: lm_training.validation_loss(GPT, IDS.to("meta")), "ids", "meta"),
    (
        "next_token_loss, an encoder-decoder",
        lambda: lm_training.next_token_loss(SEQ2SEQ, IDS),
        "model",
        r"\(ids\)",
    ),
    (
        "gpt_optimiser, a frozen model",
        lambda: lm_training.gpt_optimiser()(nn.Linear(2, 2).requires_grad_(False), 0.1),
        "model",
        "trainable parameters",
    ),
    (
        "sample_stories, a cache of terabytes",
        lambda: lm_training.sample_stories(
            DecoderOnlyTransformer(STORY_CONFIG.replace(max_len=4096, d_model=64)), 10**6, batch_size=10**6
        ),
        "num_stories",
        "memory",
    ),
    ("acceptance, ints", lambda: lm_training.acceptance(STORY_GEN, [1, 2]), r"stories\[0\]", "token strings"),
    (
        "acceptance, lists of ints",
        lambda: lm_training.acceptance(STORY_GEN, [[1]]),
        r"stories\[0\]",
        "token strings",
    ),
    # --- pronoun_heads ---
    (
        "pronoun_attention, an encoder-decoder",
        lambda: pronoun_heads.pronoun_attention(SEQ2SEQ, STORIES),
        "model",
        r"\(ids\)",
    ),
    (
        "pronoun_attention, a model of a smaller vocabulary",
        lambda: pronoun_heads.pronoun_attention(GPT, STORIES),
        "model",
        "every token of the stories: its vocab_size is 12",
    ),
    (
        "pronoun_attention, a model too short",
        lambda: pronoun_heads.pronoun_attention(
            DecoderOnlyTransformer(STORY_CONFIG.replace(max_len=8)), STORIES
        ),
        "model",
        "max_len is 8",
    ),
    ("stories_won, no heads", lambda: READING.stories_won(None), "heads", "PronounHead"),
    (
        "stories_won, heads of ints",
        lambda: READING.stories_won(dict.fromkeys(WORDS, 3)),
        "heads",
        "PronounHead",
    ),
    (
        "stories_won, a layer the model lacks",
        lambda: READING.stories_won({w: pronoun_heads.PronounHead(5, 0, 0.5) for w in WORDS}),
        r"heads\['\w+'\]\.layer",
        r"\[0, 1\)",
    ),
    ("stories_won, no readings", lambda: pronoun_heads.stories_won(None, {}), "readings", "PronounAttention"),
    ("stories_won, a list of readings", lambda: pronoun_heads.stories_won([READING], {}), "readings", "dict"),
    # --- from_scratch ---
    (
        "from-scratch Transformer, a source too long",
        lambda: fs.Transformer(12, 12, 0, 0, embed_size=8, num_layers=1, heads=2, max_length=16)(
            torch.ones(1, 17, dtype=torch.long), torch.ones(1, 2, dtype=torch.long)
        ),
        "src",
        "max_length is 16",
    ),
]


@each_case(CASES)
def test_bad_input_names_the_argument_and_what_was_expected(call, argument, expected):
    assert_refused(call, argument, expected)


def test_what_is_right_is_still_taken():
    """The new checks refuse only what is wrong: numpy ints and 0-D tensors as indices and
    sizes, Story objects where token lists are read, the documented None defaults, the
    longest rows allowed, ints as positions."""
    one = PTASK.train[1]
    for index in (np.int64(1), torch.tensor(1)):
        assert PTASK.train[index].sentences == one.sentences
        assert torch.equal(PTASK.train[index].ids, one.ids)
    assert lm_training.acceptance(STORY_GEN, STORIES) == 1.0  # Story objects: their tokens
    assert STORY_GEN.is_story(STORIES[0])
    assert stories.encode(STORIES, length=None).shape[0] == len(STORIES)
    assert len(story_world.food_table("tom", "lily").entries) == 24
    assert story_world.event_table("lily", "tom", "pizza") is story_world.event_table("tom", "lily", "pizza")
    assert data.sequence_task(num_train=4, num_test=4, max_len=1000).max_len == 1000
    assert pointer.PronounPointer(SMALL.replace(vocab_size=len(PTASK.vocab)), d_k=None) is not None
    reader = neighbours.NeighbourReader(d_model=np.int64(24))
    assert neighbours.neighbour_loss(reader, ROWS.int()).isfinite()
    assert training.learning_rates(1e6, 2)[0] == 1e6
    history = training.History()
    history.add_eval("held-out", np.int64(1), np.float64(0.5))
    assert history.evals["held-out"] == [(1, 0.5)]
    assert alignment.source_position("reverse", 2, 5) == 2
    assert sampling.check_options(1.0, 3, np.int64(5)) is None
    assert generation.Step(IDS[0], torch.tensor([0.25, 0.75]), np.int64(1)).chosen_prob == 0.75
    accuracy = generation.seq2seq_accuracy(TASK_MODEL, TASK.test, bos_id=np.int64(2), eos_id=3)
    assert 0.0 <= accuracy <= 1.0
