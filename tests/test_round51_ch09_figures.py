"""Round 51, review R2 (chapter 09 as an instructor shows it): figures that squeezed, hid or
flattened what the prose points at. Each test reads a figure's plotly JSON the way the
reviewer's screenshots (/tmp/r2/shots/09/…) showed it.

M2 the likeliest tokens' legend took two rows and a stray note (deck-dark-037.png);
M3 "When did they form?": the early checkpoints squeezed, five lines on one (lab-light-cell31.png);
M4 the live loss curve's approach to the floor flattened on a 0-7 axis (lab-light-cell13.png);
M7 the pointer figures' green and orange words unfindable where their bars are 0 (lab-light-cell27.png);
L4 the per-head heatmap does not say which heads were chosen; L8 the KV comment's "2-4×".
"""

import math
import re
from pathlib import Path

import torch
from transformer_course import figures, widgets
from transformer_course.figures import palette, themes
from transformer_course.figures.base import LEGEND_ROW_PX, TITLE_ROOM, legend_rows
from transformer_course.training import History

CHAPTER = Path(__file__).parent.parent / "chapters" / "09_a_gpt_that_writes.py"
# A figure's width on a 1280 × 720 slide, less the y axis's labels and title.
SLIDE_PLOT_PX = 1000


# --- M2: one row of names above the likeliest tokens ---


def _one_step():
    """Chapter 09's "One step, up close": crispy 0.55 (drawn), cheesy 0.45; the generator ½ each."""
    probs = torch.tensor([0.55, 0.448, 0.001, 0.001])
    truth = torch.tensor([0.5, 0.5, 0.0, 0.0])
    words = ["crispy", "cheesy", "thick", "ate"]
    return figures.likeliest_tokens_figure(probs / probs.sum(), words, chosen=0, true_probs=truth, top=4)


def test_the_likeliest_tokens_legend_is_one_row_above_the_plot():
    fig = _one_step()
    legend = fig.layout.legend
    # a row across, under the title, anchored to the figure: plotly sets its rows aside above
    # the plot (a narrow figure wraps it without running into the title)
    assert legend.orientation == "h" and legend.yref == "container" and legend.yanchor == "top"
    assert legend.y == 1 - TITLE_ROOM / fig.layout.height
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert legend_rows(names, SLIDE_PLOT_PX) == 1  # one row on a slide
    # the room above the plot: the title and the rows the legend takes (plotly adds them), not
    # a fixed 100 px for two rows and a note; the height keeps room for two where it wraps
    assert fig.layout.margin.t == TITLE_ROOM and fig.layout.height == 320 + 2 * LEGEND_ROW_PX
    (note,) = fig.layout.annotations
    # "chosen" in the plot's top right corner, over the least likely bars: beside a legend that
    # wraps onto two rows (the explorer's chart on a slide), it ran into the second
    assert "chosen" in note.text and (note.xref, note.x, note.xanchor) == ("paper", 1, "right")
    assert (note.yref, note.y, note.yanchor) == ("paper", 1, "top")
    # room above a full bar for its value where the legend wraps (the explorer's slide), and
    # no label above 1 in that room
    assert fig.layout.yaxis.range[1] >= 1.2 and max(fig.layout.yaxis.tickvals) == 1
    # without the stories' own probabilities: no legend, the note as before
    alone = figures.likeliest_tokens_figure(torch.tensor([0.6, 0.4]), ["a", "b"], chosen=0)
    assert alone.layout.showlegend is False and alone.layout.height == 320
    assert [a.yshift for a in alone.layout.annotations] == [0]


# --- M3: the checkpoints evenly spaced, lines that share a value side by side ---

CHECKPOINTS = [0, 100, 200, 400, 600, 1000, 1500, 2000]


def _forming(**kwargs):
    rates = [0.47, 0.95, 0.95, 1.0, 1.0, 1.0, 1.0, 1.0]
    series = {name: rates for name in ("stories, a head per word", "he", "it", "she", "they")}
    series["stories, one head"] = [0.38, 0.93, 0.87, 0.8, 0.92, 0.59, 0.81, 0.86]
    return figures.progress_curves_figure(CHECKPOINTS, series, y_title="%", **kwargs)


def test_progress_by_checkpoint_spreads_the_early_checkpoints_evenly():
    fig = _forming(by_checkpoint=True)
    axis = fig.layout.xaxis
    assert list(axis.tickvals) == list(range(8)) and list(axis.ticktext) == [str(s) for s in CHECKPOINTS]
    # 0, 100 and 200 take three eighths of the axis, not its leftmost tenth
    assert axis.range[0] == -0.5 and axis.range[1] == 7.5
    # hover says the step measured, not a position
    assert all("%{customdata" in t.hovertemplate for t in fig.data)
    assert list(fig.data[0].customdata) == CHECKPOINTS
    # values as measured
    assert list(fig.data[1].y) == [47.0, 95.0, 95.0, 100.0, 100.0, 100.0, 100.0, 100.0]


def test_progress_by_checkpoint_sets_lines_that_share_a_value_side_by_side():
    fig = _forming(by_checkpoint=True)
    at_2000 = [t.x[-1] for t in fig.data]  # six lines at 100 %, five of them, at the last checkpoint
    assert len(set(at_2000)) == len(at_2000)  # each marker beside the next, not on it
    assert all(abs(x - 7) < 0.5 for x in at_2000)  # all within the checkpoint's slot
    gaps = sorted(at_2000)
    assert min(b - a for a, b in zip(gaps, gaps[1:])) > 0.03  # about 6 px on a slide
    # the per-word lines drawn over the aggregate, thinner
    widths = [t.line.width for t in fig.data]
    assert widths[0] > widths[2] and fig.data[0].name == "stories, a head per word"


def test_progress_by_checkpoint_marks_the_current_step_where_it_falls():
    fig = _forming(by_checkpoint=True, current=300)  # between 200 (position 2) and 400 (position 3)
    assert fig.layout.shapes[0].x0 == 2.5
    assert _forming(by_checkpoint=True, current=1000).layout.shapes[0].x0 == 5
    # the step axis is still the default (chapter 08's explorer marks its step on it)
    plain = _forming(current=300)
    assert list(plain.data[0].x) == CHECKPOINTS and plain.layout.shapes[0].x0 == 300


# --- M4: a view on the approach to the floor ---

FLOOR = 0.462


def _run(n=2000):
    """A loss falling from 7 to just above the floor, as chapter 09's: (steps, losses, mean, evals)."""
    steps = list(range(1, n + 1))
    mean = [FLOOR + 0.003 + 6.5 * math.exp(-s / 40) + 0.2 * math.exp(-s / 400) for s in steps]
    losses = [m + 0.02 * math.sin(s) for s, m in zip(steps, mean)]
    evals = [(s, mean[s - 1] + 0.001) for s in range(100, n + 1, 100)]
    return steps, losses, mean, evals


def test_the_zoomed_loss_curve_shows_the_last_stretch_above_the_floor():
    steps, losses, mean, evals = _run()
    full = figures.loss_curve_figure(steps, losses, smoothed=mean, floor=FLOOR, validation=evals)
    assert full.layout.yaxis.range is None  # 0 to 7: the last 1,800 steps one line with the floor
    fig = figures.loss_curve_figure(steps, losses, smoothed=mean, floor=FLOOR, validation=evals, zoom=True)
    low, high = fig.layout.yaxis.range
    assert low < FLOOR < high and high - low < 0.7  # the floor in view, with room below it
    assert (FLOOR - low) / (high - low) >= 0.05  # clear of the x axis
    # the running mean from step ~150 on is inside the view, the first steps (7) are not
    inside = [s for s, m in zip(steps, mean) if low <= m <= high]
    assert inside[0] < 200 and inside[-1] == steps[-1]
    assert all(low <= v <= high for _, v in evals[1:])
    # a 0.01-nat gap (the model against the floor) spans several pixels of a 150 px slide plot
    assert 0.01 / (high - low) * 150 >= 2
    # on a log scale the same view, in decades, with plotly's ticks (a decade's 1-2-5 had one)
    logged = figures.loss_curve_figure(
        steps, losses, smoothed=mean, floor=FLOOR, validation=evals, zoom=True, log_y=True
    )
    assert [round(10**v, 6) for v in logged.layout.yaxis.range] == [round(low, 6), round(high, 6)]
    assert logged.layout.yaxis.tickvals is None


def test_the_zoomed_view_follows_a_run_far_from_its_floor():
    steps, losses, mean, evals = _run(60)  # early: the running mean still near 2
    low, high = figures.loss_curve_figure(
        steps, losses, smoothed=mean, floor=FLOOR, validation=evals, zoom=True
    ).layout.yaxis.range
    assert low <= FLOOR and high >= mean[-1]


def test_the_live_curve_with_a_floor_has_a_zoom_that_repaints_it():
    steps, losses, _, evals = _run(400)
    history = History(steps=steps, losses=losses)
    for step, loss in evals:
        history.add_eval("held-out", step, loss)
    curve = widgets.LiveLossCurve(total_steps=2000, floor=FLOOR)
    curve.update(history)
    assert curve.controls["zoom"].description == "zoom to floor"
    before = curve.figures["loss"].to_json()
    curve.controls["zoom"].value = True
    zoomed = curve.figures["loss"]
    assert zoomed.to_json() != before and zoomed.layout.yaxis.range[1] < 1.5
    curve.controls["log"].value = True  # both at once: a log axis over the same view
    assert curve.figures["loss"].layout.yaxis.type == "log"
    assert 10 ** curve.figures["loss"].layout.yaxis.range[0] < FLOOR
    # chapter 08's curve has no floor, and no zoom that would move nothing there
    assert "zoom" not in widgets.LiveLossCurve(total_steps=100).controls


# --- M7: the pointer's words marked along the axis ---


def _pointer(**kwargs):
    weights = torch.tensor([0.0, 0.6, 0.0, 0.39, 0.0, 0.01])
    words = ["the", "pizza", "oven", "pizza", "<b>", "was"]
    return figures.pointer_figure(weights, words, referent=[1, 3], distractor=2, source=5, **kwargs)


def test_the_pointers_words_take_their_bars_colours():
    ticks = list(_pointer(mark_words=True).layout.xaxis.ticktext)
    green = f'<span style="color:{palette.REFERENT_COLOUR}"><b>pizza</b></span>'
    orange = f'<span style="color:{palette.DISTRACTOR_COLOUR}"><b>oven</b></span>'
    assert ticks == ["the", green, orange, green, "&lt;b>", "<b><u>was</u></b>"]
    # on the dark page the distractor's word turns to the bright orange its bar takes
    swap = themes.theme_swap()["line_colours"]
    assert swap[palette.DISTRACTOR_COLOUR] == palette.ORANGE
    # unmarked by default (chapter 08's explorer compares its words)
    assert list(_pointer().layout.xaxis.ticktext) == ["the", "pizza", "oven", "pizza", "&lt;b>", "was"]


# --- the chapter uses them ---


def test_chapter_09_draws_its_figures_with_the_new_views():
    source = CHAPTER.read_text()
    assert source.count("mark_words=True") == 2  # both "Watch them look back" figures
    assert re.search(r"progress_curves_figure\([^#]*by_checkpoint=True", source, re.S)
    assert "zoom to floor" in source  # the prose points at the control
    # M2: "One step, up close" draws its chart on a slide of its own, not under the code and prints
    (cell,) = [c for c in source.split("# %%") if "likeliest_tokens_figure(" in c]
    assert "print(" not in cell and "generate(" not in cell
    # L4: each row of the per-head heatmap names its word's chosen head
    assert re.search(r'chosen_rows = \[f"\{word\} → L\{h\.layer\} H\{h\.head\}"', source)
    assert "figures.matrix_heatmap(by_word.flatten(1), chosen_rows, head_names" in source
    # L8: no "2-4×" that a 5.9× printed below contradicts
    assert "2-4×" not in source
