"""Chapter 03's QKVExplorer: text and query controls change what they drive; bad text is a message."""

import pytest
import torch
from transformer_course.attention import SingleHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.tokenizer import course_vocab
from transformer_course.widgets import QKVExplorer
from widget_state import changed, snapshot


@pytest.fixture
def explorer():
    vocab = course_vocab()
    return QKVExplorer(vocab, TokenEmbedding(len(vocab), 8, scale=False), SingleHeadAttention(8, 4))


def test_starts_with_the_cat_sentence(explorer):
    assert "⚠" not in explorer.message.value
    assert explorer.q.shape == explorer.k.shape == explorer.v.shape == (5, 4)
    assert torch.allclose(explorer.scores, explorer.q @ explorer.k.T)
    assert [label for label, _ in explorer.controls["query"].options][-1] == "4 · cat"
    assert len(explorer.figures["scores"].data[0].z) == 5
    assert len(explorer.figures["qkv"].data) == 3  # Q, K and V panels


def test_query_changes_the_outlined_row_and_the_bars_only(explorer):
    before = snapshot(explorer)
    explorer.controls["query"].value = 4
    assert changed(before, snapshot(explorer)) == {"scores", "row"}
    bars = explorer.figures["row"].data[0].y
    assert torch.allclose(torch.as_tensor(bars).double(), explorer.scores[4].double(), atol=1e-6)
    assert "'cat'" in explorer.figures["row"].layout.title.text
    assert explorer.figures["scores"].layout.shapes[0].y0 == 3.5


def test_text_changes_every_view_and_the_query_list(explorer):
    explorer.controls["query"].value = 4
    before = snapshot(explorer)
    explorer.controls["text"].value = "the dog saw the cat"
    assert changed(before, snapshot(explorer)) == {"qkv", "scores", "row"}
    assert [label for label, _ in explorer.controls["query"].options] == [
        "0 · the",
        "1 · dog",
        "2 · saw",
        "3 · the",
        "4 · cat",
    ]
    assert explorer.controls["query"].value == 4  # kept: position 4 still exists
    explorer.controls["text"].value = "tell me"
    assert explorer.controls["query"].value == 1  # moved inside the shorter sentence
    assert "'me'" in explorer.figures["row"].layout.title.text


@pytest.mark.parametrize("text, words", [("", "empty"), ("  ", "empty"), ("cat " * 40, "at most")])
def test_bad_text_is_a_message(explorer, text, words):
    before = snapshot(explorer)
    explorer.controls["text"].value = text
    assert words in explorer.message.value and "⚠" in explorer.message.value
    assert snapshot(explorer) == before
    explorer.controls["text"].value = "I'm playing with a cat"
    assert "⚠" not in explorer.message.value


def test_unknown_words_are_named(explorer):
    explorer.controls["text"].value = "I'm playing with a quokka"
    assert "quokka" in explorer.message.value and "unk" in explorer.message.value
