"""Explorers build their figures without plotly's per-property checks (figures.base.unchecked):
the figures they send are exactly those a checked build makes, and figures built anywhere
else are still checked."""

import json
import sys
from pathlib import Path

import pytest
from transformer_course.figures import base
from transformer_course.widgets.kit import live_figures
from transformer_course.widgets.view import FigureView, figure_json

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import course  # noqa: E402  (builds every explorer at its chapter's settings)

EXPLORERS = course.explorer_classes()


def _sent(explorer) -> dict[str, dict]:
    """What each figure view of the explorer last sent to the page, parsed."""
    return {name: json.loads(v._spec) for name, v in explorer.views.items() if isinstance(v, FigureView)}


def _checked(explorer) -> dict[str, dict]:
    """The same update rendered again, with plotly checking every property, otherwise as the
    explorer builds it (on one thread: two threads may round the last bit of a sum
    differently; printing values in as many cells)."""
    with live_figures():
        content = explorer.render()
    return {name: json.loads(figure_json(fig)) for name, fig in content.items() if name in _sent(explorer)}


@pytest.mark.parametrize("cls", EXPLORERS, ids=[c.__name__ for c in EXPLORERS])
def test_an_explorers_figures_are_those_a_checked_build_makes(cls):
    explorer = course.build_explorer(cls)
    assert _sent(explorer), "an explorer with figures"
    assert _sent(explorer) == _checked(explorer)
    for name, control in explorer.controls.items():
        value, back = course.other_value(control), control.value
        if value is None:
            continue
        control.value = value
        if "tc-error" in explorer.message.value:  # a value this explorer refuses (it says why)
            control.value = back
            continue
        assert _sent(explorer) == _checked(explorer), f"after moving {name}"


def test_figures_are_checked_outside_an_explorer():
    def bad():  # plotly takes "type" out of the dict it is given: a fresh one each time
        return [dict(type="heatmap", z=[[1, 2]], colorscale="not a colour scale")]

    with pytest.raises(ValueError, match="colorscale"):
        base.figure(bad())
    with base.unchecked():
        base.figure(bad())  # inside: taken as given
    with pytest.raises(RuntimeError), base.unchecked():
        raise RuntimeError("the check comes back even when an update fails")
    with pytest.raises(ValueError, match="colorscale"):
        base.figure(bad())


def test_none_means_not_set_either_way():
    traces = [dict(type="scatter", x=[0, 1], y=[1, 2], name=None)]
    with base.unchecked():
        fig = base.figure(traces, yaxis=dict(range=None, title=dict(text="y")))
    assert json.loads(figure_json(fig)) == json.loads(
        figure_json(base.figure(traces, yaxis=dict(title=dict(text="y"))))
    )
