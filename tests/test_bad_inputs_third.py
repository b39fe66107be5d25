"""A third audit of lib's entry points (2026-12-05): each row failed deep inside torch or
Python, named an argument the learner never passed, or was silently accepted: labels out of
the vocabulary reaching cross_entropy, an optimiser class handed to ``train``, "cuda" on a
machine without one, an eos_id the model can never write, a bool matrix drawn as a heatmap,
a model of another vocabulary writing stories. Now each gets a ValueError naming the
argument and saying what was expected.
"""

import numpy as np
import torch
from refusals import SMALL, assert_refused, each_case
from torch import nn
from transformer_course import figures, generation, lm_training, masks, positional, stories, training
from transformer_course.model import DecoderOnlyTransformer, Transformer
from transformer_course.widgets import StoryExplorer

GPT = DecoderOnlyTransformer(SMALL)
FN = generation.decoder_logits_fn(GPT)
SEQ2SEQ = Transformer(SMALL)


def _step(**kwargs):
    """One step of ``train`` on a tiny regression, with ``kwargs`` changed."""
    model = nn.Linear(2, 1)
    args = dict(steps=1, batch_size=2, progress=False) | kwargs
    return training.train(
        model,
        lambda m, b: ((m(b[0]) - b[1]) ** 2).mean(),
        lambda idx: (torch.randn(len(idx), 2), torch.randn(len(idx), 1)),
        4,
        **args,
    )


CASES = [
    ("stories of a billion events", lambda: stories.StoryGenerator(1, 10**9), "max_events", "at most 1000"),
    (
        "a schedule of a billion steps",
        lambda: training.learning_rates(1.0, 10**9),
        "steps",
        r"\[1, 10000001\)",
    ),
    (
        "next_token_loss, a label past the vocabulary",
        lambda: lm_training.next_token_loss(GPT, torch.tensor([[1, 2, 99]])),
        "ids",
        r"\[0, 12\).*99",
    ),
    (
        "validation_loss, a negative label",
        lambda: lm_training.validation_loss(GPT, torch.tensor([[1, 2, -3]])),
        "ids",
        r"\[0, 12\)",
    ),
    (
        "seq2seq_loss, a label past the vocabulary",
        lambda: training.seq2seq_loss(SEQ2SEQ, (torch.tensor([[1, 2]]), torch.tensor([[2, 5, 99]]))),
        "tgt",
        r"\[0, 12\)",
    ),
    ("train, an optimiser class", lambda: _step(optimiser=torch.optim.SGD), "optimiser", r"lambda model, lr"),
    (
        "train, an optimiser already made",
        lambda: _step(optimiser=torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)),
        "optimiser",
        "already made",
    ),
    ("train, a description that is not text", lambda: _step(description=5), "description", "str"),
    (
        "encoding on a cuda this machine lacks",
        lambda: positional.sinusoidal_encoding(2, 4, device="cuda:7"),
        "device",
        "device this machine has",
    ),
    (
        "causal mask on a second cuda",
        lambda: masks.causal_mask(3, device="cuda:99"),
        "device",
        "this machine has",
    ),
    (
        "generate, a prompt id the model does not know",
        lambda: generation.generate(FN, torch.tensor([99]), max_new_tokens=1),
        "prompt",
        r"\[0, 12\)",
    ),
    (
        "generate, an eos_id the model cannot write",
        lambda: generation.generate(FN, torch.tensor([1]), max_new_tokens=1, eos_id=99),
        "eos_id",
        r"\[0, 12\)",
    ),
    (
        "greedy_decode, a pad_id the model does not know",
        lambda: generation.greedy_decode(FN, torch.tensor([[1]]), max_new_tokens=1, eos_id=2, pad_id=-1),
        "pad_id",
        r"\[0, 12\)",
    ),
    (
        "cached logits of an empty prefix",
        lambda: generation.cached_logits_fn(GPT)(torch.ones(1, 0, dtype=torch.long)),
        "prefix",
        "at least one token",
    ),
    (
        "sample_stories with a model of another vocabulary",
        lambda: lm_training.sample_stories(GPT, 1),
        "model",
        r"vocab_size",
    ),
    (
        "StoryExplorer, a vocab the model was not made for",
        lambda: StoryExplorer(GPT, stories.story_vocab()),
        "vocab",
        "vocab_size 12",
    ),
    (
        "next_token_probs of no prefix",
        lambda: stories.StoryGenerator().next_token_probs(None),
        "prefix",
        "text or a sequence",
    ),
    (
        "scores heatmap of a mask",
        lambda: figures.scores_heatmap(torch.ones(2, 2, dtype=torch.bool), ["a", "b"]),
        "scores",
        "real numbers",
    ),
    (
        "embedding heatmap with NaN",
        lambda: figures.embedding_heatmap(torch.tensor([[float("nan"), 1.0]]), ["a"]),
        "vectors",
        "finite",
    ),
    (
        "embedding heatmap of no vectors",
        lambda: figures.embedding_heatmap(torch.zeros(0, 4), []),
        "vectors",
        "at least one value",
    ),
    (
        "positional heatmap of a mask",
        lambda: figures.positional_heatmap(torch.ones(2, 2, dtype=torch.bool)),
        "pe",
        "real numbers",
    ),
    (
        "head difference of a mask",
        lambda: figures.head_difference_figure(
            torch.ones(2, 2, dtype=torch.bool), torch.ones(2, 2), ["a", "b"]
        ),
        "weights_a",
        "real numbers",
    ),
    (
        "query row of a mask",
        lambda: figures.query_row_figure(torch.ones(2, dtype=torch.bool), ["a", "b"], "a"),
        "scores_row",
        "real numbers",
    ),
]


@each_case(CASES)
def test_bad_input_names_the_argument_and_what_was_expected(call, argument, expected):
    assert_refused(call, argument, expected)


def test_what_is_right_is_still_taken():
    """The new checks refuse only what is wrong: numpy ints as sizes and snapshot steps, an
    integer matrix drawn as scores, -inf (a masked score), a model's own ids."""
    assert positional.sinusoidal_encoding(np.int64(3), 4).shape == (3, 4)
    history = _step(steps=2, snapshot_steps=np.arange(2), snapshot_fn=lambda m: 1)
    assert list(history.snapshots) == [0, 1]
    figures.scores_heatmap(torch.tensor([[1, 2], [3, 4]]), ["a", "b"])
    figures.scores_heatmap(torch.tensor([[1.0, float("-inf")], [3.0, 4.0]]), ["a", "b"])
    out = generation.generate(
        generation.cached_logits_fn(GPT), torch.tensor([1]), max_new_tokens=2, eos_id=11
    )
    assert 2 <= len(out.ids) <= 3
