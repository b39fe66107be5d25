"""Chapter 05's HeadGridExplorer: each control changes the views it drives; bad input is a message."""

import pytest
import torch
from transformer_course.attention import MultiHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.figures.panels import head_of_grid
from transformer_course.tokenizer import course_vocab
from transformer_course.widgets import HeadGridExplorer
from transformer_course.widgets.kit import LIVE_PRINTED_CELLS
from widget_state import changed, snapshot


@pytest.fixture
def explorer():
    vocab = course_vocab()
    attention = MultiHeadAttention(32, 8)
    with torch.no_grad():
        attention.q_proj.weight.mul_(3)
    return HeadGridExplorer(vocab, TokenEmbedding(len(vocab), 32, scale=False), attention)


def test_starts_with_every_head(explorer):
    grid = explorer.figures["grid"]
    assert explorer.message.value == ""
    assert [t[0] for t in grid.layout.meta["tiles"]] == list(range(8)) and explorer.weights.shape == (
        8,
        11,
        11,
    )
    torch.testing.assert_close(explorer.weights.sum(-1), torch.ones(8, 11))
    titles = [a.text for a in grid.layout.annotations]
    assert titles[0] == "head 0 (A)" and titles[1] == "head 1 (B)"
    assert explorer.views["grid"].layout.grid_column == "1 / -1"
    assert "tc-wide" in explorer.views["grid"]._dom_classes  # what the page's CSS goes by


def test_grid_shows_the_real_weights_of_each_head(explorer):
    grid = explorer.figures["grid"]
    for i in range(8):
        assert torch.allclose(torch.tensor(head_of_grid(grid, i)).float(), explorer.weights[i], atol=1e-6)


def test_text_changes_every_view(explorer):
    before = snapshot(explorer)
    explorer.controls["text"].value = "I love deep learning"
    assert changed(before, snapshot(explorer)) == {"grid", "difference", "average"}
    assert explorer.weights.shape == (8, 4, 4)


def test_values_printed_up_to_ten_by_ten(explorer):
    """Live heatmaps print their values up to LIVE_PRINTED_CELLS cells; the 11-token sentence's
    11 × 11 maps show a colour bar instead, and a 10-token sentence's print again."""
    assert LIVE_PRINTED_CELLS == 100
    for name in ("difference", "average"):
        trace = explorer.figures[name].data[0]
        assert trace.z.shape == (11, 11) and trace.texttemplate is None and trace.showscale is True
    explorer.controls["text"].value = "the pizza came out of the oven and it tasted"
    for name in ("difference", "average"):
        trace = explorer.figures[name].data[0]
        assert trace.z.shape == (10, 10) and trace.texttemplate and trace.showscale is False


def test_heads_selection_changes_grid_and_average(explorer):
    before = snapshot(explorer)
    explorer.controls["heads"].value = (1, 3, 5)
    assert changed(before, snapshot(explorer)) == {"grid", "average"}
    assert [t[0] for t in explorer.figures["grid"].layout.meta["tiles"]] == [1, 3, 5]
    want = explorer.weights[[1, 3, 5]].mean(0)
    assert torch.allclose(torch.tensor(explorer.figures["average"].data[0].z), want, atol=1e-6)


@pytest.mark.parametrize("control, value", [("head_a", 4), ("head_b", 6)])
def test_compared_heads_change_grid_marks_and_difference(explorer, control, value):
    before = snapshot(explorer)
    explorer.controls[control].value = value
    assert changed(before, snapshot(explorer)) == {"grid", "difference"}
    a, b = explorer.value("head_a"), explorer.value("head_b")
    diff = torch.tensor(explorer.figures["difference"].data[0].z)
    assert torch.allclose(diff, explorer.weights[a] - explorer.weights[b], atol=1e-6)


def test_same_head_twice_is_a_note_not_an_error(explorer):
    explorer.controls["head_b"].value = 0
    assert "both head 0" in explorer.message.value and "⚠" not in explorer.message.value
    assert abs(torch.tensor(explorer.figures["difference"].data[0].z)).max() == 0


@pytest.mark.parametrize(
    "control, value, words",
    [
        ("text", "", "empty"),
        ("text", "  ", "empty"),
        ("text", "pizza " * 30, "at most"),
        ("heads", (), "No head is selected"),
    ],
)
def test_bad_input_is_a_message(explorer, control, value, words):
    before = snapshot(explorer)
    explorer.controls[control].value = value
    assert words in explorer.message.value and "⚠" in explorer.message.value
    assert snapshot(explorer) == before
    explorer.controls[control].value = {"text": "the cat sat", "heads": (0, 1)}[control]
    assert explorer.message.value == ""


def test_unknown_words_are_named(explorer):
    explorer.controls["text"].value = "the quokka sat"
    assert "quokka" in explorer.message.value and "unk" in explorer.message.value
