import pytest
import torch
from transformer_course import figures
from transformer_course.figures.base import max_printed_cells, printed_cells


def test_heatmap_keeps_repeated_tokens_apart():
    tokens = ["the", "pizza", "and", "the", "oven"]
    fig = figures.attention_heatmap(torch.softmax(torch.randn(5, 5), -1), tokens)
    assert list(fig.layout.xaxis.ticktext) == tokens and list(fig.layout.yaxis.ticktext) == tokens
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 (first query) on top
    assert fig.data[0].z.shape == (5, 5) and fig.data[0].zmax == 1.0


def test_mask_heatmap_shows_the_mask():
    mask = torch.ones(3, 3, dtype=torch.bool).tril()
    fig = figures.mask_heatmap(mask, ["i", "love", "it"])
    assert fig.data[0].z.tolist() == mask.float().tolist()


def test_large_heatmaps_drop_cell_text_and_dense_ticks():
    fig = figures.positional_heatmap(torch.randn(100, 64))
    assert fig.data[0].texttemplate is None and fig.layout.xaxis.tickmode == "auto"


def test_a_colour_bar_only_where_the_values_are_not_printed():
    small, large = torch.rand(4, 4), torch.rand(20, 20)
    printed = figures.matrix_heatmap(small)
    assert printed.data[0].texttemplate and printed.data[0].showscale is False
    unprinted = figures.matrix_heatmap(large)
    assert unprinted.data[0].texttemplate is None and unprinted.data[0].showscale is True
    assert figures.matrix_heatmap(small, show_text=False).data[0].showscale is True
    assert figures.matrix_heatmap(small, show_scale=True).data[0].showscale is True  # asked for
    assert figures.attention_heatmap(torch.softmax(small, -1), list("abcd")).data[0].showscale is False
    for name in ("show_text", "show_scale"):
        with pytest.raises(ValueError, match=f"{name} must be True or False"):
            figures.matrix_heatmap(small, **{name: "no"})


def test_printed_cells_limits_which_heatmaps_print_their_values():
    def printed(n: int) -> bool:
        trace = figures.matrix_heatmap(torch.rand(n, n)).data[0]
        assert (trace.showscale is True) == (trace.texttemplate is None)  # a colour bar instead
        return trace.texttemplate is not None

    assert printed(12) and not printed(13)  # MAX_CELLS_WITH_TEXT = 144
    with printed_cells(100):
        assert max_printed_cells() == 100
        assert printed(10) and not printed(11)
        assert figures.matrix_heatmap(torch.rand(11, 11), show_text=True).data[0].texttemplate
        with printed_cells(0):
            assert not printed(1)
        assert printed(10)
    with pytest.raises(RuntimeError), printed_cells(4):
        raise RuntimeError("the limit comes back even when a figure fails")
    assert max_printed_cells() == figures.MAX_CELLS_WITH_TEXT and printed(12)
    for bad in (-1, 1.5, True, "100", None):
        with pytest.raises(ValueError, match="limit must be"), printed_cells(bad):
            pass


def test_scores_heatmap_shows_masked_cells_as_gaps():
    scores = torch.tensor([[1.0, float("-inf")], [0.5, -2.0]])
    fig = figures.scores_heatmap(scores, ["a", "b"])
    z = fig.data[0].z
    assert z[0][1] != z[0][1]  # NaN
    assert fig.data[0].zmax == 2.0


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: figures.attention_heatmap(torch.ones(3), ["a"]), "weights"),
        (lambda: figures.attention_heatmap(torch.ones(2, 2), ["a"]), "query_tokens"),
        (lambda: figures.mask_heatmap(torch.ones(2, 2), ["a", "b"]), "mask"),
        (lambda: figures.waves_figure(torch.ones(4, 4), [4]), "dims"),
        (lambda: figures.bar_figure(torch.ones(2), ["a"]), "labels"),
    ],
)
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        call()


def test_words_plotly_would_read_as_markup_are_shown_as_typed():
    """A token typed as "<b>" or "<br>" is a word to the course; plotly.js would draw it as
    bold or a line break (and hide it). Titles and tick labels escape those tags only."""
    tokens = ["the", "<b>", "<BR>", "</i>", "<pad>", "<bos>"]
    fig = figures.attention_heatmap(torch.full((6, 6), 1 / 6), tokens, tokens, title="Row of '<b>' and <pad>")
    assert fig.layout.title.text == "Row of '&lt;b>' and <pad>"
    assert list(fig.layout.xaxis.ticktext) == ["the", "&lt;b>", "&lt;BR>", "&lt;/i>", "<pad>", "<bos>"]
