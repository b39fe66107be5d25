"""Chapter 08's GenerationExplorer, when the model writes no symbol, says what it wrote instead.

An untrained model (chapter 08 before training, or a learner's own) often writes only <bos>
again and again, or <eos> at once. The answer, special tokens left out, is empty, and the
explorer said "Output: (nothing) (wrong)": as if the explorer had failed. Now it names the tokens
the model chose and says that untrained models often do this.
"""

from __future__ import annotations

import html

import pytest
import torch
from transformer_course.data import sequence_task
from transformer_course.model import Transformer, TransformerConfig
from transformer_course.widgets import GenerationExplorer
from transformer_course.widgets.generation import no_symbol_note


@pytest.fixture(scope="module")
def task():
    return sequence_task("reverse", num_symbols=8, min_len=3, max_len=6, num_train=40, num_test=5, seed=0)


def untrained(task, favourite: str) -> Transformer:
    """An untrained model whose output layer always picks ``favourite``: what a model fresh from
    its random weights often does (chapter 08's, seed 0, writes <bos> at every step)."""
    config = TransformerConfig(
        vocab_size=len(task.vocab),
        d_model=16,
        num_heads=2,
        num_encoder_layers=1,
        num_decoder_layers=1,
        d_ff=32,
        dropout=0.0,
        max_len=16,
    )
    torch.manual_seed(0)
    model = Transformer(config)
    boost = torch.zeros(len(task.vocab))
    boost[task.vocab.stoi[favourite]] = 100.0  # far above whatever the random weights score

    def prefer(module, inputs, logits):  # the output layer's scores, favourite first
        return logits + boost.to(logits.device)

    model.output.register_forward_hook(prefer)
    return model


def message(explorer) -> str:
    return html.unescape(explorer.message.value)


@pytest.mark.parametrize("favourite", ["<bos>", "<pad>"])
def test_an_answer_of_special_tokens_only_is_explained(task, favourite):
    ex = GenerationExplorer(untrained(task, favourite), task, text="3 1 4 1 5")
    written = task.vocab.tokens([s.chosen for s in ex.generation.steps])
    assert set(written) == {favourite}, f"the case at hand: only {favourite} written, got {written}"
    text = message(ex)
    assert "(nothing)" not in text, text
    assert f"only {favourite} ×{len(written)}" in text, text
    assert "untrained models often" in text.lower(), text
    assert "(wrong)" in text and "steps, each one a run of the decoder" in text, text


def test_an_answer_stopped_at_once_says_the_model_wrote_eos_first(task):
    ex = GenerationExplorer(untrained(task, "<eos>"), task, text="3 1 4 1 5")
    assert len(ex.generation.steps) == 1, "the case at hand: <eos> at the first step"
    text = message(ex)
    assert "(nothing)" not in text, text
    assert "wrote <eos>" in text and "first step" in text, text


def test_an_answer_with_symbols_is_shown_as_before(task):
    ex = GenerationExplorer(untrained(task, "6"), task, text="3 1 4 1 5")
    text = message(ex)
    assert "Output: 6 6" in text and "(wrong)" in text, text
    assert "special" not in text and "untrained" not in text, text


@pytest.mark.parametrize(
    "chosen, words",
    [
        (["<bos>", "<bos>", "<pad>", "<eos>"], "only <bos> ×2, <pad>, <eos>:"),
        (["<pad>"], "only <pad>:"),
        (["<eos>"], "wrote <eos> (the end of an answer) at its first step"),
    ],
)
def test_the_note_counts_each_run_of_a_token(chosen, words):
    assert words in no_symbol_note(chosen)
