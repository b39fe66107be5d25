"""Chapters 03-04 figures: they show the numbers they are given and name bad arguments."""

import math

import pytest
import torch
from transformer_course import figures
from transformer_course.figures import palette
from transformer_course.softmax import saturation_experiment


def test_qkv_figure_has_three_panels_with_one_colour_scale():
    q, k, v = torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 2)
    fig = figures.qkv_figure(q, k, v, ["a", "b", "c"])
    assert len(fig.data) == 3 and [len(t.z[0]) for t in fig.data] == [4, 4, 2]
    assert len({(t.zmin, t.zmax) for t in fig.data}) == 1
    assert [t.showscale for t in fig.data] == [False, False, True]


def test_scores_row_heatmap_outlines_the_row_and_bars_follow_the_sign():
    scores = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    fig = figures.scores_row_heatmap(scores, ["x", "y"], 1)
    assert fig.layout.shapes[0].y0 == 0.5 and fig.layout.shapes[0].y1 == 1.5
    bars = figures.query_row_figure(scores[0], ["x", "y"], "x")
    assert list(bars.data[0].marker.color) == [palette.POSITIVE_COLOUR, palette.NEGATIVE_COLOUR]


def test_saturation_figure_has_both_curves_and_the_uniform_line():
    result = saturation_experiment((2, 8), rows=16)
    fig = figures.saturation_figure(result, "entropy")
    assert [t.name for t in fig.data] == ["QKᵀ (no scaling)", "QKᵀ / √d<sub>k</sub>"]
    assert fig.layout.shapes[0].y0 == pytest.approx(math.log(16))
    assert figures.saturation_figure(result, "grad_norm").layout.yaxis.type == "log"


def test_entropy_figure_marks_uniform():
    fig = figures.entropy_figure(torch.tensor([0.1, 1.0]), ["a", "b"], 4)
    assert fig.layout.shapes[0].y0 == pytest.approx(math.log(4))
    alone = figures.entropy_figure(torch.tensor([0.0]), ["pizza"], 1)  # one key: no spread at all
    assert alone.layout.shapes[0].y0 == 0.0 and alone.layout.yaxis.range[1] > 0


@pytest.mark.parametrize(
    "call, words",
    [
        (
            lambda: figures.qkv_figure(torch.randn(3, 4), torch.randn(2, 4), torch.randn(3, 4), "abc"),
            "k must have size 3",
        ),
        (
            lambda: figures.qkv_figure(torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4), ["a"]),
            "tokens must have 3 entries",
        ),
        (lambda: figures.scores_row_heatmap(torch.randn(3, 3), list("abc"), 3), "row must be in"),
        (lambda: figures.saturation_figure(saturation_experiment((2,), rows=4), "speed"), "metric"),
        (lambda: figures.saturation_figure({"d_k": (2,)}), "SaturationResult"),
        (lambda: figures.entropy_figure(torch.randn(2, 2), ["a", "b"], 2), "entropies must be 1-D"),
    ],
)
def test_bad_arguments_are_named(call, words):
    with pytest.raises(ValueError, match=words):
        call()
