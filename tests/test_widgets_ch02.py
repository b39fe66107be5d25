"""Chapter 02's WordOrderExplorer and PositionalExplorer (and chapter 00's RepeatedProductExplorer
and PathLengthExplorer): each control changes the views it drives, and bad sentences become
messages."""

import pytest
import torch
from transformer_course.attention import MultiHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.recurrence import attention_gradients, rnn_gradients
from transformer_course.tokenizer import course_vocab
from transformer_course.widgets import (
    PathLengthExplorer,
    PositionalExplorer,
    RepeatedProductExplorer,
    WordOrderExplorer,
    match_words,
)
from widget_state import changed, snapshot


@pytest.fixture
def explorer():
    vocab = course_vocab()
    return WordOrderExplorer(vocab, TokenEmbedding(len(vocab), 16, scale=False), MultiHeadAttention(16, 2))


def test_without_positions_every_word_keeps_its_output(explorer):
    assert explorer.message.value == ""
    assert torch.allclose(explorer.cosines, torch.ones(3), atol=1e-5)
    assert explorer.changes.max() < 1e-5
    assert len(explorer.figures["attention_a"].data[0].z) == 3
    bars = explorer.figures["similarity"]
    assert list(bars.data[0].text) == ["0.0"] * 3 and bars.layout.yaxis.range[0] == 0  # no change: flat


def test_positions_checkbox_changes_every_view(explorer):
    before = snapshot(explorer)
    explorer.controls["positions"].value = True
    assert changed(before, snapshot(explorer)) == {"attention_a", "attention_b", "similarity"}
    assert (explorer.cosines < 0.9999).all() and (explorer.changes > 0.01).all()
    bars = explorer.figures["similarity"]
    # the bars are the changes in percent, on an axis from 0 that holds the tallest
    assert list(bars.data[0].y) == pytest.approx((100 * explorer.changes).tolist())
    assert bars.layout.yaxis.range[0] == 0 and bars.layout.yaxis.range[1] >= max(bars.data[0].y)


def test_word_changes_is_the_relative_distance_and_leaves_the_checkbox_alone(explorer):
    with_positions = explorer.word_changes(positions=True)
    assert explorer.value("positions") is False and explorer.word_changes(positions=False).max() < 1e-5
    ids_a = torch.tensor(explorer.vocab.ids(["squatch", "eats", "pizza"]))
    ids_b = torch.tensor(explorer.vocab.ids(["pizza", "eats", "squatch"]))
    out_a, _ = explorer.outputs(ids_a, positions=True)
    out_b, _ = explorer.outputs(ids_b, positions=True)
    by_hand = (out_a - out_b.flip(0)).norm(dim=-1) / out_a.norm(dim=-1)
    torch.testing.assert_close(with_positions, by_hand)


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


def test_learned_waves_are_not_called_sines():
    ex = PositionalExplorer(length=12, d_model=16)
    assert {t.name for t in ex.figures["waves"].data} >= {"dim 0 (sin)", "dim 1 (cos)"}
    before = snapshot(ex)
    ex.controls["kind"].value = "learned (untrained)"
    assert changed(before, snapshot(ex)) == {"encoding", "waves", "distance"}
    names = [t.name for t in ex.figures["waves"].data]
    assert names and not any("sin" in n or "cos" in n for n in names)
    assert "not waves" in ex.figures["waves"].layout.title.text


@pytest.mark.parametrize("control, value", [("length", 20), ("scale", 0.7)])
def test_path_length_controls(control, value):
    ex = PathLengthExplorer(length=30, scale=1.0)
    before = snapshot(ex)
    ex.controls[control].value = value
    assert changed(before, snapshot(ex)) == {"gradients"}
    length, scale = ex.value("length"), ex.value("scale")
    assert torch.equal(ex.rnn, rnn_gradients(length, scale=scale))
    assert torch.equal(ex.attention, attention_gradients(length))
    fig = ex.figures["gradients"]
    assert len(fig.data) == 2 and len(fig.data[0].x) == length and fig.layout.yaxis.type == "log"
    assert f"{length - 1} steps back" in ex.message.value and "1 step" in ex.message.value


def test_path_length_scale_moves_only_the_rnn_line():
    ex = PathLengthExplorer(length=30, scale=1.0)
    attention = list(ex.figures["gradients"].data[1].y)
    rnn = list(ex.figures["gradients"].data[0].y)
    ex.controls["scale"].value = 3.0
    assert list(ex.figures["gradients"].data[1].y) == attention
    assert list(ex.figures["gradients"].data[0].y) != rnn
    assert ex.rnn[-1] > ex.rnn[1]  # scale well above 1: the far gradient explodes
