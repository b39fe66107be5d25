"""Figures that read on a slide (1280 × 720, 16 px text) and in a narrow page.

Found by an audit of the decks: chapter 02's waves squeezed to 150 px beside their legend,
chapter 04's log axis with 0.35, 0.3 and 0.25 17 px apart and no label under 0.1 though the
curve fell to 0.06; and in every chapter before its first figure, the course's stylesheet
(darker ANSI colours for a learner's errors on JupyterLab Light) missing from the page.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from types import SimpleNamespace

import plotly.graph_objects as go
import pytest
import torch
from transformer_course import figures
from transformer_course.figures import base
from transformer_course.figures.base import TITLE_ROOM, head_legend, log_ticks
from transformer_course.positional import sinusoidal_encoding
from transformer_course.softmax import saturation_experiment
from transformer_course.widgets import PositionalExplorer

SLIDE_TEXT_PX = 16  # figure_view.js: DECK_FONT
# The height of "…and the softmax gradient fades"'s plot on slide 04-09, measured in the
# audit's screenshot (1280 × 720): the ticks must be spaced for this, not for a notebook.
SLIDE_PLOT_PX = 178
CHAPTER_04_D_K = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)  # as chapter 04's experiment


# How far plotly's autorange runs beyond the data, as a fraction of its span, at most
# (room for the markers): the pixels per decade below are counted over that much more.
AUTORANGE_PAD = 0.1


def shown_extent(values: list[float]) -> tuple[float, float]:
    """The ends (log10) of a log axis plotly autoranges over ``values``, padded."""
    low, high = math.log10(min(values)), math.log10(max(values))
    pad = AUTORANGE_PAD * (high - low)
    return low - pad, high + pad


def tick_layout(fig) -> tuple[list[float], float, float]:
    """A figure's log y axis: its ticks on the axis (log10), and the axis's ends (log10)."""
    axis = fig.layout.yaxis
    assert axis.tickvals, "the log axis must set its own ticks (tickvals), got plotly's"
    assert axis.range is None, "the axis keeps plotly's autorange (a double click resets to it)"
    values = [float(v) for trace in fig.data for v in trace.y]
    low, high = shown_extent(values)
    ticks = sorted(math.log10(t) for t in axis.tickvals if low <= math.log10(t) <= high)
    return ticks, low, high


@pytest.fixture(scope="module")
def saturation():
    return saturation_experiment(CHAPTER_04_D_K, length=16, rows=256)


def test_softmax_gradient_ticks_are_a_line_of_text_apart_on_a_slide(saturation):
    fig = figures.saturation_figure(saturation, "grad_norm", title="…and the softmax gradient fades")
    ticks, low, high = tick_layout(fig)
    per_decade = SLIDE_PLOT_PX / (high - low)
    gaps = [(b - a) * per_decade for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) >= 3 and min(gaps) >= 1.5 * SLIDE_TEXT_PX, (fig.layout.yaxis.ticktext, gaps)


def test_softmax_gradient_axis_labels_both_ends_of_the_data(saturation):
    fig = figures.saturation_figure(saturation, "grad_norm")
    ticks, low, high = tick_layout(fig)
    drawn = [math.log10(v) for trace in fig.data for v in trace.y]
    assert low <= min(drawn) and max(drawn) <= high, "every point must lie on the axis"
    per_decade = SLIDE_PLOT_PX / (high - low)
    for end in (min(drawn), max(drawn)):  # a label within two lines of text of each end
        nearest = min(abs(t - end) for t in ticks) * per_decade
        assert nearest <= 2 * SLIDE_TEXT_PX, (10**end, fig.layout.yaxis.ticktext)
    labelled = [float(t) for t in fig.layout.yaxis.ticktext]
    assert min(labelled) < 0.1, "the curve falls to about 0.06: a label below 0.1 must say so"


def test_score_variance_ticks_are_plain_numbers_spaced_for_the_slide(saturation):
    fig = figures.saturation_figure(saturation, "score_var")
    ticks, low, high = tick_layout(fig)
    per_decade = SLIDE_PLOT_PX / (high - low)
    assert min(b - a for a, b in zip(ticks, ticks[1:])) * per_decade >= 1.5 * SLIDE_TEXT_PX
    # Plain numbers at the axis's size ("1,000"), not powers (10³) with small 2s and 5s.
    assert [float(t.replace(",", "")) for t in fig.layout.yaxis.ticktext] == list(fig.layout.yaxis.tickvals)


def test_ticks_for_an_axis_length_lie_on_the_data_and_keep_their_distance():
    rng = random.Random(0)
    for _ in range(400):
        low = 10 ** rng.uniform(-4, 4)
        high = min(1e5, low * 10 ** rng.choice([0, rng.uniform(0, 0.3), rng.uniform(0, 6)]))
        length = rng.choice([120, 180, 260, 400, 800])
        spec = log_ticks([low, high, math.sqrt(low * high)], length=length)
        if not spec:  # plotly's own ticks: only over a sliver of a decade
            assert math.log10(high / low) < 0.3, (low, high, length)
            continue
        where = f"values {low:.4g} … {high:.4g} on {length} px: {spec['ticktext']}"
        assert "range" not in spec, "plotly's autorange stays (a double click resets to it)"
        ticks = [math.log10(t) for t in spec["tickvals"]]
        assert len(ticks) >= 2 and ticks == sorted(ticks), where
        assert all(math.log10(low) - 1e-9 <= t <= math.log10(high) + 1e-9 for t in ticks), where
        start, end = shown_extent([low, high])
        per_decade = length / (end - start)
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        spaced = min(gaps) * per_decade >= 1.5 * SLIDE_TEXT_PX
        sparsest = all(float(t) == 10 ** round(math.log10(float(t))) for t in spec["tickvals"])
        assert spaced or sparsest, where  # closer only one tick a decade, the sparsest there is
        # Each end of the data no further from a label than labels are from each other (or
        # three lines of text).
        room = max(3 * SLIDE_TEXT_PX, max(gaps) * per_decade)
        for value in (low, high):
            assert min(abs(t - math.log10(value)) for t in ticks) * per_decade <= room, where


def test_ticks_without_a_length_are_as_before():
    assert log_ticks([0.06, 0.33]) == {}  # under a decade: plotly's
    assert log_ticks([0.01, 1.0])["ticktext"][:3] == ["0.005", "0.01", "0.02"]


@pytest.mark.parametrize("length", [0, -5, 2.5, True, "180"])
def test_log_ticks_names_a_bad_length(length):
    with pytest.raises(ValueError, match="length"):
        log_ticks([0.1, 1.0], length=length)


def hangs_under_the_title(fig) -> bool:
    """The legend hangs from under a title at the figure's top (base.head_legend): anchored to
    the figure, not to the plot's top, so that plotly sets aside above the plot as many rows as
    the names wrap onto; anchored to the plot's top (y >= 1, yanchor "bottom") in a margin of
    fixed rows, chapter 02's three waves grew up into their title below 400 px."""
    legend, layout = fig.layout.legend, fig.layout
    return (
        legend.yref == "container"
        and legend.yanchor == "top"
        and (1 - legend.y) * layout.height >= TITLE_ROOM - 1e-9  # the title's room above it
        and layout.title.yref == "container"  # the title keeps to the top, over the legend
        and layout.margin.t <= TITLE_ROOM  # no fixed rows: plotly adds those the names take
    )


def test_the_hanging_check_can_fail():
    line = [dict(type="scatter", y=[1, 2])]
    hung = base.figure(line, title="t", title_at_top=True, height=320, legend=head_legend(320),
                       margin=dict(t=TITLE_ROOM))  # fmt: skip
    assert hangs_under_the_title(hung)
    on_plot = dict(orientation="h", x=0.5, y=1.02, yanchor="bottom")  # round 40's waves
    assert not hangs_under_the_title(go.Figure(hung).update_layout(legend=on_plot, margin_t=76))
    assert not hangs_under_the_title(go.Figure(hung).update_layout(margin_t=TITLE_ROOM + 26))
    assert not hangs_under_the_title(go.Figure(hung).update_layout(legend_y=0.95))  # on the title


def test_waves_legend_is_a_row_above_the_plot_not_beside_it():
    fig = figures.waves_figure(sinusoidal_encoding(24, 32), [0, 1, 4, 5])
    assert fig.layout.legend.orientation == "h", "a vertical legend beside the plot squeezed it to 150 px"
    assert hangs_under_the_title(fig), "under the plot it ran into the axis title; on its top, into the title"
    # The title's room, two rows of names (two fit a row in a third of a slide) and the plot.
    names = fig.layout.height - TITLE_ROOM - 240  # px left for names once the plot has 240
    assert names >= 2 * 24, "the plot and its axis keep most of their height"


def test_three_waves_across_a_page_are_as_tall_as_before():
    """Chapter 02's slide of three sines (a paragraph, five lines of code, three printed
    lines and the figure) fits 720 px with the figure at 320 px, its height before."""
    fig = figures.waves_figure(sinusoidal_encoding(64, 64), [0, 10, 20])
    assert fig.layout.height <= 320 and fig.layout.legend.orientation == "h"
    assert hangs_under_the_title(fig)


def test_waves_legend_makes_room_for_more_rows():
    """More names are expected to take more rows: the figure grows by them, the plot keeps its height."""
    two = figures.waves_figure(sinusoidal_encoding(24, 32), [0, 1])
    eight = figures.waves_figure(sinusoidal_encoding(24, 32), list(range(8)))
    assert eight.layout.height - two.layout.height >= 2 * 20  # more rows of names
    assert eight.layout.margin.t == two.layout.margin.t  # plotly adds the rows, as many as drawn


def test_the_explorers_waves_have_the_legend_above():
    waves = PositionalExplorer(length=24, d_model=32).figures["waves"]
    assert waves.layout.legend.orientation == "h" and hangs_under_the_title(waves)


def test_importing_widgets_in_a_kernel_brings_the_course_stylesheet_and_shows_nothing():
    from jupyter_client.manager import start_new_kernel

    css = (Path(figures.__file__).parents[1] / "static" / "course.css").read_text(encoding="utf-8")
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        msg_id = kc.execute("from transformer_course import figures, widgets")
        comms, shown = [], []
        while True:
            msg = kc.get_iopub_msg(timeout=120)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "comm_open":
                comms.append(msg["content"]["data"].get("state", {}))
            elif kind in ("display_data", "stream", "execute_result", "error"):
                shown.append((kind, str(msg["content"])[:200]))
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                break
        assert not shown, f"the import cell must show nothing, got {shown}"
        styles = [s for s in comms if s.get("css") == css]
        assert len(styles) == 1, "importing widgets must send static/course.css to the page once"
        assert "initialize" in styles[0].get("_esm", ""), "added when the model arrives, with no view"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_a_float32_value_on_a_tick_is_labelled_there():
    spec = log_ticks(torch.tensor([0.1, 0.2, 0.3]).tolist(), length=180)  # 0.10000000149…
    assert spec["tickvals"][0] == 0.1, spec["ticktext"]


@pytest.mark.parametrize("value", [torch.tensor(0.3), torch.tensor([[0.1], [0.2], [0.3]])])
def test_saturation_figure_still_draws_fields_of_other_shapes(value):
    fields = ("score_var", "max_weight", "entropy", "grad_norm")
    result = SimpleNamespace(d_k=(1, 2, 4), length=4, **{f: value for f in fields})
    result.__dict__.update({f"scaled_{f}": value for f in fields})
    assert figures.saturation_figure(result, "grad_norm").layout.yaxis.type == "log"
