"""Chapter 02's WordOrderExplorer (and chapter 00's RepeatedProductExplorer): each control
changes the views it drives, and bad sentences become messages."""

import pytest
import torch
from transformer_course.attention import MultiHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.tokenizer import course_vocab
from transformer_course.widgets import RepeatedProductExplorer, WordOrderExplorer, match_words
from widget_state import changed, snapshot


@pytest.fixture
def explorer():
    vocab = course_vocab()
    return WordOrderExplorer(vocab, TokenEmbedding(len(vocab), 16, scale=False), MultiHeadAttention(16, 2))


def test_without_positions_every_word_keeps_its_output(explorer):
    assert explorer.message.value == ""
    assert torch.allclose(explorer.cosines, torch.ones(3), atol=1e-5)
    assert len(explorer.figures["attention_a"].data[0].z) == 3


def test_positions_checkbox_changes_every_view(explorer):
    before = snapshot(explorer)
    explorer.controls["positions"].value = True
    assert changed(before, snapshot(explorer)) == {"attention_a", "attention_b", "similarity"}
    assert (explorer.cosines < 0.9999).all()


def test_sentence_b_without_positions_changes_only_its_attention(explorer):
    before = snapshot(explorer)
    explorer.controls["text_b"].value = "eats pizza squatch"
    assert changed(before, snapshot(explorer)) == {"attention_b"}
    assert torch.allclose(explorer.cosines, torch.ones(3), atol=1e-5)


def test_sentence_b_with_positions_changes_its_attention_and_the_bars(explorer):
    explorer.controls["positions"].value = True
    before = snapshot(explorer)
    explorer.controls["text_b"].value = "eats pizza squatch"
    assert changed(before, snapshot(explorer)) == {"attention_b", "similarity"}


def test_sentence_a_changes_its_attention_and_the_bar_labels(explorer):
    before = snapshot(explorer)
    explorer.controls["text_a"].value = "pizza squatch eats"
    assert changed(before, snapshot(explorer)) == {"attention_a", "similarity"}


def test_repeated_words_are_matched_in_order(explorer):
    assert match_words(["the", "dog", "the", "cat"], ["the", "cat", "the", "dog"]) == [0, 3, 2, 1]
    explorer.controls["text_a"].value = "the dog saw the cat"
    explorer.controls["text_b"].value = "the cat saw the dog"
    assert explorer.message.value == "" and len(explorer.cosines) == 5


@pytest.mark.parametrize(
    "box, text, words",
    [
        ("text_b", "Squatch eats cake", "same words"),
        ("text_b", "Squatch eats pizza pizza", "same words"),
        ("text_a", "", "empty"),
        ("text_b", "   ", "empty"),
        ("text_a", "pizza " * 40, "at most"),
    ],
)
def test_bad_text_is_a_message(explorer, box, text, words):
    before = snapshot(explorer)
    explorer.controls[box].value = text
    assert words in explorer.message.value and "⚠" in explorer.message.value
    assert snapshot(explorer) == before
    explorer.controls[box].value = {"text_a": "Squatch eats pizza", "text_b": "Pizza eats Squatch"}[box]
    assert explorer.message.value == ""


def test_unknown_words_are_named(explorer):
    explorer.controls["text_a"].value = "squatch eats quokkas"
    explorer.controls["text_b"].value = "quokkas eats squatch"
    assert "quokkas" in explorer.message.value and "unk" in explorer.message.value


@pytest.mark.parametrize("control, value", [("factor", 1.1), ("steps", 20)])
def test_repeated_product_controls(control, value):
    ex = RepeatedProductExplorer()
    before = snapshot(ex)
    ex.controls[control].value = value
    assert changed(before, snapshot(ex)) == {"product"}
    assert ex.products()[-1] == pytest.approx(ex.value("factor") ** ex.value("steps"))
    assert "multiplied" in ex.message.value
