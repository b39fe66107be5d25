"""Heatmaps presented on a 1280 × 720 slide have room for every word beside and under them.

On a slide (static/figure_view.js) a figure is as tall as the row of the explorer it sits in
allows, its tick labels at least 12 px; static/course.css lays the explorer's views out in
columns. These tests redo that arithmetic from the figures' own layouts and the classes the
explorers give their views, with the sizes measured in the browser at 1280 × 720
(tests/browser/test_slide_crowding.py measures the labels themselves). Chapter 08's history
explorer put its eleven rows of words in 94 px of plot (8.5 px a row, 12 px text): they
overlapped.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from transformer_course import figures
from transformer_course.figures.panels import SHORT_LABEL
from transformer_course.model import Transformer, TransformerConfig
from transformer_course.tokenizer import course_vocab
from transformer_course.widgets import AttentionHistoryExplorer, ModelExplorer

CSS = (Path(figures.__file__).parent.parent / "static" / "course.css").read_text(encoding="utf-8")

# Measured at 1280 × 720 in JupyterLab (jupyterlab-slideshow): the explorer's grid is 1117 px
# wide (three columns of 367 px, or four of 274, 8 px apart); below chapter 08's five lines of
# code, the controls and the info line, a row of figures is 213 px tall (220 at least).
GRID_PX, GAP_PX = 1117, 8
ROW_PX, MIN_FIGURE_PX = 213, 220  # figure_view.js: deckHeight, DECK_MIN_HEIGHT
DECK_TICK_PX, DECK_FONT_PX = 12, 16  # figure_view.js: DECK_MIN_FONT (tick labels), DECK_FONT
COLOUR_BAR_PX = 90  # a head grid's colour bar with its ticks and its title, "weight"
LINE = 1.2  # a line of text is 1.2 times its font size: closer, two labels touch

SENTENCE = "the pizza came out of the oven and it tasted good".split()


def classes(view) -> set[str]:
    return set(view._dom_classes)


def slide_box(view, views) -> tuple[float, float]:
    """(width, height) a view gets on the slide, from its classes (course.css, figure_view.js)."""
    own, grid = classes(view), set().union(*(classes(v) for v in views))
    n = 4 if {"tc-tall-on-slide", "tc-wide-on-slide"} <= grid else 3
    column = (GRID_PX - GAP_PX * (n - 1)) / n
    span = 2 if own & {"tc-tall-on-slide", "tc-wide-on-slide", "tc-wide-on-page", "tc-wide"} else 1
    rows = 2 if "tc-tall-on-slide" in own else 1
    height = ROW_PX * rows + GAP_PX * (rows - 1) if rows > 1 else max(MIN_FIGURE_PX, ROW_PX)
    return column * span + GAP_PX * (span - 1), height


def history_explorer() -> AttentionHistoryExplorer:
    """Chapter 08's explorer on made-up snapshots of two heads (shapes as pointer.snapshot's)."""
    n, heads = len(SENTENCE), 2

    def snap(step: int) -> dict:
        g = torch.Generator().manual_seed(step)
        return {
            "pointer": torch.softmax(torch.randn(1, n, generator=g), -1),
            "encoder": torch.softmax(torch.randn(1, heads, n, n, generator=g), -1),
            "wins": 0.5,
            "predicate": torch.rand(heads, generator=g),
        }

    return AttentionHistoryExplorer({0: snap(0), 10: snap(10)}, [SENTENCE], [8], [1], [6])


def test_history_heads_give_each_word_a_row_of_its_own_on_a_slide():
    ex = history_explorer()
    view, fig = ex.views["encoder"], ex.figures["encoder"]
    width, room = slide_box(view, ex.views.values())
    height = min(fig.layout.height, room)  # figure_view.js: never taller than the figure itself
    margin = fig.layout.margin
    cells = len(fig.layout.yaxis.tickvals)  # one row of panels: a row of cells per word
    per_row = (height - margin.t - margin.b) / cells
    assert per_row >= LINE * DECK_TICK_PX, (
        f"{cells} rows of words in {height - margin.t - margin.b:.0f} px of plot: {per_row:.1f} px "
        f"a row, under {LINE * DECK_TICK_PX:.1f} px for {DECK_TICK_PX} px labels (a {height:.0f} px "
        f"figure in a {width:.0f} × {room:.0f} px box of the slide)"
    )
    # The words under the columns, slanted at -60°: the gap across the slant is the column's
    # width × sin 60°, and it must hold a line of text too.
    plot_width = width - margin.l - margin.r - COLOUR_BAR_PX
    x_cells = fig.data[0].z.shape[1]
    angle = abs(fig.layout.xaxis.tickangle or 90)
    across = plot_width / x_cells * math.sin(math.radians(angle))
    assert across >= DECK_TICK_PX, f"slanted words {across:.1f} px apart across the slant"


def test_history_heads_are_no_more_crowded_on_a_page():
    """On a page (not presenting) the heads keep a row of their own and their 11 px words."""
    ex = history_explorer()
    view, fig = ex.views["encoder"], ex.figures["encoder"]
    assert "tc-wide-on-page" in classes(view)
    margin = fig.layout.margin
    per_row = (fig.layout.height - margin.t - margin.b) / len(fig.layout.yaxis.tickvals)
    assert per_row >= LINE * fig.layout.yaxis.tickfont.size
    assert fig.layout.yaxis.tickfont.size >= 11


def test_the_slide_layout_the_explorers_ask_for_is_in_the_course_css():
    """The classes the explorers give their views are the ones course.css lays out."""
    ex = history_explorer()
    assert "tc-tall-on-slide" in classes(ex.views["encoder"])
    assert "tc-wide-on-slide" in classes(ex.views["pointer"])
    presenting = 'body[data-jp-deck-mode="presenting"] .tc-explorer .widget-gridbox'
    assert f"{presenting}:has(> .tc-tall-on-slide):has(> .tc-wide-on-slide)" in CSS
    assert "grid-template-columns: repeat(4, minmax(0, 1fr)) !important;" in CSS
    assert f"{presenting} > .tc-wide-on-slide {{\n  grid-column: span 2;" in CSS
    assert f"{presenting} > .tc-tall-on-slide {{\n  grid-column: span 2;\n  grid-row: span 2;" in CSS


def test_history_curves_keep_a_title_that_fits_a_quarter_of_the_slide():
    """Beside the heads, each curve is a quarter of the slide wide: its title, shrunk to the
    figure's width (figure_view.js: fitTitle; about 0.5 em a character), stays at least as large
    as the slide's text (the old title, 45 characters, would have been 11 px)."""
    ex = history_explorer()
    for name in ("predicate", "wins"):
        width, _ = slide_box(ex.views[name], ex.views.values())
        title = ex.figures[name].layout.title.text
        fits = (width - 16) / (0.5 * len(title))
        assert fits >= DECK_FONT_PX, f"{name}: {title!r} fits {width:.0f} px at {fits:.1f} px"


def test_model_explorer_map_is_wide_enough_for_its_words_upright_on_a_slide():
    """Chapter 07: the map sits alone above the table of shapes; two columns of the slide give
    each of the source's seven words (16 px on a slide) room to stand upright."""
    vocab = course_vocab()
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=len(vocab), d_model=32, num_heads=4, num_encoder_layers=2, num_decoder_layers=2
    )
    ex = ModelExplorer(Transformer(config), vocab)
    fig = ex.figures["attention"]
    width, _ = slide_box(ex.views["attention"], ex.views.values())
    margin = fig.layout.margin
    at_16 = DECK_FONT_PX / 13  # the margins were made for 13 px words
    plot_width = width - margin.l * at_16 - margin.r
    words = list(fig.layout.xaxis.ticktext)
    widest = max(len(w) for w in words) * 0.6 * DECK_FONT_PX
    assert plot_width / len(words) >= widest + 4, (plot_width, words)


def test_a_head_grid_stands_short_column_labels_upright():
    """Chapter 08's cross-attention: one digit under each column, upright; words slant."""
    weights = torch.softmax(torch.randn(2, 6, 5), -1)
    digits = figures.head_grid_figure(
        weights, [f"writes {d}" for d in "51413"] + ["writes <eos>"], list("31415")
    )
    assert digits.layout.xaxis.tickangle == 0
    words = figures.head_grid_figure(weights, list("abcdef"), ["the", "pizza", "came", "out", "of"])
    assert words.layout.xaxis.tickangle == -60
    tokens = figures.head_grid_figure(weights[:, :, :2], list("abcdef"), ["3", "<eos>"])
    assert len("<eos>") > SHORT_LABEL and tokens.layout.xaxis.tickangle == -60


def test_a_head_grid_refuses_a_height_that_is_no_number_of_pixels():
    weights = torch.softmax(torch.randn(2, 3, 3), -1)
    for bad in (5, float("nan"), "tall"):
        with pytest.raises(ValueError, match="height"):
            figures.head_grid_figure(weights, list("abc"), height=bad)
    assert figures.head_grid_figure(weights, list("abc"), height=400).layout.height == 400


@pytest.mark.parametrize("make", [figures.pointer_figure, figures.next_token_figure])
def test_a_full_bars_value_is_not_cut_by_the_top_of_a_squeezed_plot(make):
    """On chapter 08's slide the pointer head's plot is ~93 px tall, and the "1.00" printed
    above a full bar was cut in half by the plot's top edge: the value may run into the margin."""
    words = SENTENCE[:5]
    fig = make(torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0]), words)
    bar = fig.data[0]
    assert bar.text[0] == "1.00" and bar.textposition == "outside"
    assert bar.cliponaxis is False


def test_a_long_sentence_gets_a_taller_grid_than_the_least_height_asked():
    """``height`` is a least height: thirty words keep their 14 px a row, where a fixed 460 px
    would give them about 10."""
    words = [f"w{i}" for i in range(30)]
    weights = torch.softmax(torch.randn(2, 30, 30), dim=-1)
    fig = figures.head_grid_figure(weights, words, columns=2, height=460)
    margin = fig.layout.margin
    assert (fig.layout.height - margin.t - margin.b) / 30 >= 14
    short = figures.head_grid_figure(weights[:, :5, :5], words[:5], columns=2, height=460)
    assert short.layout.height == 460
