"""Setting each control changes the figure it drives; bad input becomes a message."""

import pytest
import torch
from transformer_course.embeddings import TokenEmbedding
from transformer_course.tokenizer import course_vocab
from transformer_course.widgets import EmbeddingExplorer, PositionalExplorer
from widget_state import changed, snapshot


@pytest.fixture
def embedding_explorer():
    vocab = course_vocab()
    return EmbeddingExplorer(vocab, TokenEmbedding(len(vocab), 8))


def test_embedding_explorer_text_changes_every_view(embedding_explorer):
    ex = embedding_explorer
    before, table = snapshot(ex), ex.views["tokens"].value
    ex.controls["text"].value = "the pizza came out of the oven"
    assert changed(before, snapshot(ex)) == {"vectors", "similarity"}
    assert ex.views["tokens"].value != table and "oven" in ex.views["tokens"].value
    assert len(ex.figures["vectors"].data[0].z) == 7


def test_embedding_explorer_similarity_toggle(embedding_explorer):
    ex = embedding_explorer
    before = snapshot(ex)
    ex.controls["similarity"].value = "dot"
    assert changed(before, snapshot(ex)) == {"similarity"}


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("word " * 40, "at most"),
    ],
)
def test_embedding_explorer_bad_text_is_a_message(embedding_explorer, text, words):
    ex = embedding_explorer
    before = snapshot(ex)
    ex.controls["text"].value = text
    assert words in ex.message.value and "⚠" in ex.message.value
    assert snapshot(ex) == before  # the last good figures stay
    ex.controls["text"].value = "tell me about pizza"
    assert ex.message.value == ""


def test_embedding_explorer_unknown_words_are_named(embedding_explorer):
    ex = embedding_explorer
    ex.controls["text"].value = "tell me about quokkas"
    assert "quokkas" in ex.message.value and "unk" in ex.message.value


def test_unexpected_error_is_a_message_not_a_traceback(embedding_explorer, monkeypatch):
    ex = embedding_explorer
    monkeypatch.setattr(ex, "embedding", lambda ids: torch.ones(1) / 0 + None)
    ex.controls["text"].value = "tell me"
    assert "Could not update" in ex.message.value


@pytest.mark.parametrize(
    "control, value, views",
    [
        ("length", 40, {"encoding", "waves", "distance"}),
        ("d_model", 64, {"encoding", "waves", "distance"}),
        ("kind", "learned (untrained)", {"encoding", "waves", "distance"}),
        ("pair", 5, {"waves"}),
    ],
)
def test_positional_explorer_controls(control, value, views):
    ex = PositionalExplorer(length=24, d_model=32)
    before = snapshot(ex)
    ex.controls[control].value = value
    assert changed(before, snapshot(ex)) == views


def test_positional_explorer_pair_slider_follows_d_model():
    ex = PositionalExplorer(length=10, d_model=32)
    ex.controls["pair"].value = 15
    ex.controls["d_model"].value = 8
    assert ex.controls["pair"].max == 3 and ex.controls["pair"].value == 3
    assert len(ex.figures["encoding"].data[0].z[0]) == 8
