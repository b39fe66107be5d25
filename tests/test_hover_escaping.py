"""A learner's words reach a figure's hover text as typed: plotly reads a few tags in hover
text ("<b>", "<br>", "<i>" …), and a learner who typed "<b>" in an explorer's sentence box got
the rest of the hover label in bold, "a<br>b" broken onto two lines. Every figure that carries
labels into its hover (customdata) or its words along an axis (ticktext) escapes those tags, as
the tick labels already did (figures/base.py: as_text); plain words are left as they are."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
import torch
from transformer_course import figures
from transformer_course.figures.matrix import matrix_heatmap

WORDS = ["<b>x", "a<br>b", "<i>", "cat", "R&D"]  # three tags plotly draws, two plain words
N = len(WORDS)
# Any word a figure may show: these, generation_figure's steps, an axis's positions 0, 1, …
SHOWN = [*WORDS, "<b>one", "two", *map(str, range(N))]
PLOTLY_TAG = re.compile(r"<\s*/?\s*(b|i|br|em|sup|sub|a|span|s|u)\b", re.IGNORECASE)


def weights(*shape: int) -> torch.Tensor:
    return torch.softmax(torch.randn(*shape, generator=torch.Generator().manual_seed(0)), -1)


def strings(values) -> list[str]:
    """Every string in a (nested) customdata or ticktext."""
    flat = np.asarray(values, dtype=object).ravel().tolist()
    return [v for v in flat if isinstance(v, str)]


def assert_escaped(shown: list[str], words: list[str], where: str) -> None:
    """Each word shown as typed once plotly reads it (no tag left), each plain word unchanged."""
    assert shown, f"{where}: no words found"
    tagged = [s for s in shown if PLOTLY_TAG.search(s)]
    assert not tagged, f"{where}: tags plotly would draw: {tagged}"
    assert set(html.unescape(s) for s in shown) <= set(words), f"{where}: {shown} are not the words {words}"
    assert {"cat", "R&D"} & set(shown), f"{where}: plain words changed: {shown}"


HEATMAPS = {
    "attention_heatmap": lambda: figures.attention_heatmap(weights(N, N), WORDS),
    "scores_heatmap": lambda: figures.scores_heatmap(torch.randn(N, N), WORDS),
    "scores_row_heatmap": lambda: figures.scores_row_heatmap(torch.randn(N, N), WORDS, 0),
    "mask_heatmap": lambda: figures.mask_heatmap(torch.ones(N, N, dtype=torch.bool).tril(), WORDS),
    "embedding_heatmap": lambda: figures.embedding_heatmap(torch.randn(N, 4), WORDS),
    "similarity_heatmap": lambda: figures.similarity_heatmap(torch.rand(N, N), WORDS),
    "head_difference_figure": lambda: figures.head_difference_figure(weights(N, N), weights(N, N), WORDS),
    "generation_figure": lambda: figures.generation_figure(weights(2, N), ["<b>one", "two"], WORDS, [0, 3]),
    "matrix_heatmap": lambda: matrix_heatmap(torch.randn(N, N), WORDS, WORDS),
    "qkv_figure": lambda: figures.qkv_figure(torch.randn(N, 4), torch.randn(N, 4), torch.randn(N, 6), WORDS),
}


@pytest.mark.parametrize("name", HEATMAPS)
def test_a_heatmaps_hover_shows_the_words_as_typed(name):
    fig = HEATMAPS[name]()
    for trace in fig.data:
        if trace.hovertemplate and "customdata" in trace.hovertemplate:
            assert_escaped(strings(trace.customdata), SHOWN, f"{name}, trace {trace.name}")
            break
    else:
        pytest.fail(f"{name}: no trace shows its words on hover through customdata")


BARS = {
    "pointer_figure": lambda: figures.pointer_figure(weights(N), WORDS),
    "next_token_figure": lambda: figures.next_token_figure(weights(N), WORDS),
    "likeliest_tokens_figure": lambda: figures.likeliest_tokens_figure(weights(N), WORDS, top=N),
    "likeliest_tokens_figure, with the stories' own": lambda: figures.likeliest_tokens_figure(
        weights(N), WORDS, top=N, true_probs=weights(N)
    ),
    "query_row_figure": lambda: figures.query_row_figure(torch.randn(N), WORDS, WORDS[0]),
    "entropy_figure": lambda: figures.entropy_figure(torch.rand(N), WORDS, N),
}


@pytest.mark.parametrize("name", BARS)
def test_a_bars_hover_shows_the_words_as_typed(name):
    traces = [t for t in BARS[name]().data if "customdata" in (t.hovertemplate or "")]
    assert traces, f"{name}: no trace shows its words on hover through customdata"
    for trace in traces:
        assert_escaped(strings(trace.customdata), WORDS, f"{name}, trace {trace.name}")


def test_the_head_grids_words_are_shown_as_typed():
    fig = figures.head_grid_figure(weights(2, N, N), WORDS)
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        assert_escaped(list(axis.ticktext), WORDS, "head_grid_figure's words")


def test_plain_words_reach_the_hover_unchanged():
    words = ["the", "cat", "sat", "R&D", "<pad>"]  # "<pad>" is no tag plotly draws
    fig = figures.attention_heatmap(weights(5, 5), words)
    assert strings(fig.data[0].customdata[:, 0, 0]) == words
    fig = figures.qkv_figure(torch.randn(5, 2), torch.randn(5, 2), torch.randn(5, 2), words)
    assert strings(fig.data[0].customdata[:, 0]) == words
    assert list(figures.next_token_figure(weights(5), words).data[0].customdata) == words
