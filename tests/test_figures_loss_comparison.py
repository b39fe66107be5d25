"""``figures.loss_comparison_figure``: one loss curve per variant trained side by side."""

import numpy as np
import pytest
import torch
from transformer_course import figures
from transformer_course.figures import palette


def test_one_line_per_variant_in_order_on_a_log_axis():
    losses = {"source": [2.0, 1.0, 0.5], "paper": torch.tensor([2.0, 0.5, 0.1]), "lib": np.array([3.0, 2.0])}
    fig = figures.loss_comparison_figure(losses, title="race")
    assert [t.name for t in fig.data] == ["source", "paper", "lib"]
    assert list(fig.data[1].y) == pytest.approx([2.0, 0.5, 0.1])
    assert list(fig.data[0].x) == [1, 2, 3] and list(fig.data[2].x) == [1, 2]  # steps 1 … n each
    assert fig.layout.yaxis.type == "log" and fig.layout.title.text == "race"
    # No colour of its own: the lines take the theme's Okabe–Ito cycle in turn.
    assert all(t.line.color is None for t in fig.data)
    assert list(fig.layout.template.layout.colorway) == list(palette.COLORWAY)


def test_linear_axis_accepts_zero_and_changes_the_axis():
    fig = figures.loss_comparison_figure({"a": [1.0, 0.0]}, log_y=False)
    assert fig.layout.yaxis.type == "linear" and fig.layout.yaxis.title.text == "loss"


@pytest.mark.parametrize(
    "losses, log_y, message",
    [
        ({}, True, "losses must be a non-empty dict"),
        ([1.0, 0.5], True, "losses must be a non-empty dict"),
        ({1: [1.0]}, True, "losses must have str names"),
        ({"a": []}, True, r"losses\['a'\] must be a non-empty list"),
        ({"a": "falling"}, True, r"losses\['a'\] must be a non-empty list"),
        ({"a": [[1.0, 2.0]]}, True, r"losses\['a'\] must be a non-empty list"),
        ({"a": [1.0, 0.0]}, True, r"losses\['a'\] must be > 0 on a log axis"),
    ],
)
def test_bad_input_names_the_argument(losses, log_y, message):
    with pytest.raises(ValueError, match=message):
        figures.loss_comparison_figure(losses, log_y=log_y)
