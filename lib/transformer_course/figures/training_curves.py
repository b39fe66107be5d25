"""Training curves: one model's loss per step, several variants' losses side by side, and
metrics measured at some steps (held-out accuracy, one line per attention head).

Lines take their colours from the theme's cycle (Okabe–Ito) unless they stand for
something with a colour of its own (``LOSS_COLOUR``, ``VALIDATION_COLOUR``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from .. import _validate
from . import _args, themes
from .base import (
    FOOT_LEGEND,
    LEGEND_ROW_PX,
    TITLE_ROOM,
    dashed_lines,
    figure,
    head_legend,
    hline,
    legend_rows,
    line_label,
    log_ticks,
    vline,
)
from .palette import LOSS_COLOUR, TRANSPARENT, VALIDATION_COLOUR


def loss_curve_figure(
    steps: Sequence[int],
    losses: Sequence[float],
    *,
    smoothed: Sequence[float] | None = None,
    log_y: bool = False,
    title: str = "Training loss",
    total_steps: int | None = None,
    floor: float | None = None,
    floor_label: str = "floor",
    validation: Sequence[tuple[int, float]] | None = None,
    zoom: bool = False,
) -> go.Figure:
    """Loss per step (faint) and its running mean (bold); ``total_steps`` fixes the x range.

    ``floor``: the lowest loss any model can reach (e.g. a story generator's entropy per
    token), drawn as a dotted horizontal line labelled ``floor_label``; ``validation``:
    (step, loss) points measured on held-out data, drawn as markers.
    ``zoom``: the y axis on the end of the approach (``zoomed_range``), from just below the
    floor (or the lowest running mean) up, rather than from 0 to the first steps' losses.
    Redrawn after every few steps while a model trains, so it is kept cheap: one build.
    """
    x, curves = _loss_curves(steps, losses, smoothed)
    _validate.boolean("log_y", log_y)
    if total_steps is not None:
        _validate.positive_int("total_steps", total_steps)
    if floor is not None:
        _validate.finite_number("floor", floor, above=0 if log_y else None)
        _validate.text("floor_label", floor_label)
    points = _validation_points(validation)
    _validate.boolean("zoom", zoom)
    y_axis = dict(
        title=dict(text="loss" + (" (log scale)" if log_y else "")), type="log" if log_y else "linear"
    )
    if log_y:
        drawn = [v for _, values, _ in curves for v in values] + points[:, 1].tolist()
        y_axis.update(log_ticks(drawn + ([floor] if floor is not None else [])))
    else:
        y_axis["rangemode"] = "tozero"
    if zoom:
        low, high = zoomed_range(curves[-1][1], points[:, 1].tolist(), floor)
        y_axis.pop("rangemode", None)
        if log_y:  # plotly's log axis range is in decades, and its ticks those of the view
            low = max(low, high * 1e-3)
            for key in ("tickmode", "tickvals", "ticktext"):
                y_axis.pop(key, None)
            y_axis.update(log_ticks([low, high]))
            low, high = math.log10(low), math.log10(high)
        y_axis["range"] = [low, high]
    traces = [
        dict(
            type="scatter",
            x=x,
            y=values,
            mode="lines",
            name=name,
            line=line,
            hovertemplate="step %{x}: %{y:.3f}<extra></extra>",
        )
        for name, values, line in curves
    ]
    if len(points):
        traces.append(
            dict(
                type="scatter",
                x=points[:, 0].astype(int).tolist(),
                y=points[:, 1].tolist(),
                mode="markers",
                name="held-out",
                marker=dict(color=VALIDATION_COLOUR, size=8, symbol="diamond"),
                # The last one sits on the plot's right end (its x range ends at the last step):
                # clipped there, half of it was cut off (chapter 09's step 2000).
                cliponaxis=False,
                hovertemplate="step %{x}: held-out %{y:.4f}<extra></extra>",
            )
        )
    extra = {}
    if floor is not None:
        extra["shapes"] = [hline(floor)]
        extra["annotations"] = [floor_annotation(floor, floor_label, log_y)]
    return figure(
        traces,
        title=title,
        height=320,
        # Inside the plot, top right, where a falling loss leaves room: above it, the legend
        # ran into the title as soon as the figure was narrow (a slide).
        legend=dict(x=1, xanchor="right", y=1, yanchor="top", bgcolor=TRANSPARENT),
        # the planned steps, or further where training went on past them (train(..., history=))
        xaxis=dict(
            title=dict(text="training step"), range=[0, max([total_steps, *x])] if total_steps else None
        ),
        yaxis=y_axis,
        **extra,
    )


# The zoomed view (``loss_curve_figure``'s ``zoom``): at least this many nats above the floor,
# and the latest running mean with a quarter of its distance to the floor to spare. On a 0–7
# axis chapter 09's running mean, held-out markers and floor merged into one line at 0.46
# from step 150 on; from 0.41 to 0.96 the last 1,800 steps come down onto the floor in view.
ZOOM_ABOVE, ZOOM_HEADROOM = 0.5, 1.25
# Below the floor: this share of the view, so that the dotted line stands clear of the x axis.
ZOOM_BELOW = 0.1


def zoomed_range(
    curve: Sequence[float], held_out: Sequence[float], floor: float | None
) -> tuple[float, float]:
    """[low, high] of a view on the end of a loss curve: ``curve`` the running mean (or each
    step's loss) so far, ``held_out`` the held-out losses, ``floor`` the best loss possible
    (None: the lowest of them stands in for it)."""
    line = [float(v) for v in curve if math.isfinite(float(v))]
    seen = line + [float(v) for v in held_out if math.isfinite(float(v))]
    base = floor if floor is not None else min(seen, default=0.0)
    last = line[-1] if line else base
    high = base + max(ZOOM_ABOVE, ZOOM_HEADROOM * (last - base))
    low = base - ZOOM_BELOW * (high - base)
    if seen and min(seen) < low:  # a held-out loss below the floor (a sample of stories) stays in view
        low = min(seen) - ZOOM_BELOW * (high - min(seen))
    return max(low, 0.0), high


# Pixels between the floor's label and the plot's right end: the last held-out marker (8 px)
# sits on that end, and a label flush with it ran into the marker and the axis.
FLOOR_INSET = 14
# Pixels between the floor's line and its label's text: clear of the held-out markers (4 px
# either side of their loss) and of the running mean, both close to the floor by the end.
FLOOR_LIFT = 5


def floor_annotation(floor: float, label: str, log_y: bool) -> dict:
    """``label`` and the floor's value inside the plot, just above its dotted line and a little
    left of the right end. Below the line, at the right end, it sat on the x axis's last tick
    label; above, it is clear of the axis, and of the curves that come down onto the floor."""
    annotation = line_label(floor, f"{label} {floor:.3f}", above=True, log=log_y)
    annotation.update(xshift=-FLOOR_INSET, yshift=FLOOR_LIFT)
    return annotation


def _loss_curves(steps: object, losses: object, smoothed: object) -> tuple[list, list]:
    """The steps (finite numbers) and the curves to draw: (name, one loss per step, line)."""
    x = _args.numbers("steps", steps, finite=True).tolist()
    # 1.5 px: at 1 px the faint line all but vanished from a dark slide on a projector.
    curves = [("each step", losses, dict(color=themes.theme().faint, width=1.5))]
    if smoothed is not None:
        curves.append(("running mean", smoothed, dict(color=themes.theme().bold, width=2.5)))
    checked = []
    for (name, values, line), arg in zip(curves, ("losses", "smoothed")):
        values = _args.numbers(arg, values).tolist()  # NaN allowed: a loss that diverged
        if len(values) != len(x):
            raise ValueError(f"{arg} must have one value per step ({len(x)}), got {len(values)}")
        checked.append((name, values, line))
    return x, checked


def _validation_points(validation: object) -> np.ndarray:
    """(n, 2) array of (step, loss) points, none when ``validation`` is None."""
    if validation is None:
        return np.empty((0, 2))
    points = None if isinstance(validation, Mapping) else _args.as_numbers(validation)
    if points is not None and points.size == 0:
        return np.empty((0, 2))
    if points is None or points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points[:, 0]).all():
        raise ValueError(
            f"validation must be a list of (step, loss) pairs of numbers, got {validation!r:.60}"
        )
    return points


def loss_comparison_figure(
    losses: Mapping[str, Sequence[float]],
    *,
    log_y: bool = True,
    title: str = "Training loss, variant by variant",
) -> go.Figure:
    """One loss curve per variant, trained side by side: ``losses`` maps a name to one loss
    per step (steps 1 … n; usually a running mean, which a comparison reads better).

    The variants take the theme's colours in order; a log axis (the default) shows the
    late, small losses where variants differ most.
    """
    if not isinstance(losses, Mapping) or not losses:
        raise ValueError("losses must be a non-empty dict: variant name → one loss per step")
    _validate.boolean("log_y", log_y)
    traces = []
    for name, values in losses.items():
        if not isinstance(name, str):
            raise ValueError(f"losses must have str names, got {type(name).__name__} {name!r}")
        y = _args.as_numbers(values)
        if y is None or y.ndim != 1 or not len(y):
            raise ValueError(f"losses[{name!r}] must be a non-empty list of numbers, one per step")
        if log_y and not (y > 0).all():
            raise ValueError(f"losses[{name!r}] must be > 0 on a log axis (log_y=True), got min {y.min():g}")
        traces.append(
            dict(
                type="scatter",
                x=np.arange(1, len(y) + 1),
                y=y,
                mode="lines",
                name=name,
                line=dict(width=2),
                hovertemplate=f"{name}<br>step %{{x}}: %{{y:.3g}}<extra></extra>",
            )
        )
    y_axis = dict(
        title=dict(text="loss" + (" (log scale)" if log_y else "")), type="log" if log_y else "linear"
    )
    if log_y:
        y_axis.update(exponentformat="power", **log_ticks(v for t in traces for v in t["y"]))
    return figure(
        dashed_lines(traces),
        title=title,
        height=360,
        legend=FOOT_LEGEND,
        xaxis=dict(title=dict(text="training step")),
        yaxis=y_axis,
    )


def _progress_args(
    steps: object, series: Mapping[str, object], current: object, percent: object, y_title: object
) -> list:
    """Check what the progress figures draw: steps as numbers, rising from 0 or more, one
    finite number per step in each series (a fraction in [0, 1] with ``percent``), ``current``
    None or a number within the steps, ``percent`` a bool. Returns the steps as a list."""
    numbers = None if isinstance(steps, str | bytes) else _args.as_numbers(steps)
    if numbers is None or numbers.ndim != 1 or not np.isfinite(numbers).all():
        raise ValueError(f"steps must be a list of step numbers, got {steps!r:.60}")
    _rising_steps(numbers)
    _validate.boolean("percent", percent)
    for name, values in series.items():
        got = None if isinstance(values, str | bytes) else _args.as_numbers(values)
        if got is None or got.ndim != 1:
            raise ValueError(f"{name} must be a list of numbers, one per step, got {values!r:.60}")
        if len(got) != len(numbers):
            raise ValueError(f"{name} must have one value per step ({len(numbers)}), got {len(got)}")
        _measured(name, got, percent)
    if current is not None:
        current = _validate.finite_number("current", current)
        if not numbers[0] <= current <= numbers[-1]:  # the line marked off the curves, or past the axis
            raise ValueError(
                f"current must be a step within steps ({numbers[0]:g} to {numbers[-1]:g}), got {current:g}"
            )
    _args.text("y_title", y_title)
    return numbers.tolist()


def _rising_steps(steps: np.ndarray) -> None:
    """steps (N,): at least one, from 0 on, each after the one before (a line drawn through
    unsorted steps zigzags back over itself)."""
    if not len(steps):
        raise ValueError("steps must hold at least one step, got an empty list")
    if steps[0] < 0:
        raise ValueError(f"steps must be 0 or more (0: before training), got {steps[0]:g}")
    back = np.flatnonzero(np.diff(steps) <= 0)  # (K,): where a step is not after the one before
    if len(back):
        i = int(back[0]) + 1
        raise ValueError(
            f"steps must rise, each after the one before, got {steps[i]:g} at [{i}] after {steps[i - 1]:g}"
        )


SHARE_SLACK = 1e-4  # 100.01 % at most: on the 0–105 axis, and no share a learner means


def _measured(name: str, values: np.ndarray, percent: bool) -> None:
    """values (N,): finite, and fractions in [0, 1] with ``percent`` (drawn on a 0–105 axis:
    2.0 ran off its top, a NaN left a gap in the line without a word)."""
    bad = ~np.isfinite(values)
    if percent:
        # slack for rounding: a float32 share of a whole row sums to 1.0000001
        bad |= (values < -SHARE_SLACK) | (values > 1 + SHARE_SLACK)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        want = "fractions in [0, 1] (percent=True draws 0.5 as 50 %; percent=False for other values)"
        raise ValueError(
            f"{name} must hold {want if percent else 'finite numbers'}, got {values[i]:g} at [{i}]"
        )


def _hover_value(percent: bool) -> str:
    """Percentages read well to one decimal ("97.5%"); other values (a learning rate of
    0.00067) would show as 0.0 that way, so they keep three significant digits."""
    return "%{y:.1f}%" if percent else "%{y:.3g}"


def progress_curve_figure(
    steps: Sequence[int],
    values: Sequence[float],
    *,
    current: int | None = None,
    title: str = "",
    y_title: str = "",
    percent: bool = True,
) -> go.Figure:
    """A metric measured at some steps (e.g. held-out accuracy), with the ``current`` step marked."""
    steps = _progress_args(steps, {"values": values}, current, percent, y_title)
    values = _args.as_numbers(values).tolist()
    scale = 100.0 if percent else 1.0
    return figure(
        [
            dict(
                type="scatter",
                x=list(steps),
                y=[v * scale for v in values],
                mode="lines+markers",
                line=dict(color=LOSS_COLOUR),
                marker=dict(size=6),
                hovertemplate=f"step %{{x}}: {_hover_value(percent)}<extra></extra>",
            )
        ],
        title=title,
        height=320,
        showlegend=False,
        shapes=[] if current is None else [vline(current)],
        xaxis=dict(title=dict(text="training step")),
        yaxis=dict(title=dict(text=y_title), range=[0, 105] if percent else None),
    )


# The figure's height, which holds PROGRESS_ROWS rows of names above a plot of about 150 px
# at a slide's text (each further row the names take at 354 px adds its height: legend_rows).
PROGRESS_HEIGHT, PROGRESS_ROWS = 320, 2


# Lines measured at the same steps often share values: chapter 09's six held-out rates sit at
# 100 % from step 400 on, five on top of each other, and only the last drawn showed. Each line is
# drawn a little wider, and its markers a little larger, than the ones drawn after it, so where
# they meet each shows as a rim around the next (its values stay where they are: no offset).
NESTED_WIDTH_STEP, NESTED_MARKER_STEP = 0.6, 3
LINE_WIDTH, MARKER_SIZE = 2.0, 6


def nested_stroke(k: int, n: int) -> dict:
    """Line and marker of the ``k``-th of ``n`` lines (drawn in that order): the last the
    thinnest, each earlier one wider, so coinciding lines all stay visible."""
    wider = n - 1 - k  # lines drawn over this one
    return dict(
        line=dict(width=LINE_WIDTH + NESTED_WIDTH_STEP * wider),
        marker=dict(size=MARKER_SIZE + NESTED_MARKER_STEP * wider),
    )


def _progress_height(rows: int) -> int:
    """The height of a progress chart whose names take ``rows`` rows on the narrowest page.

    At 320 px, chapter 09's eight names took a row each at 354-400 px, more than the half of
    the figure plotly lets a legend have, and the legend scrolled over the plot's lines. Each
    row past PROGRESS_ROWS adds its height, and half the figure holds them all. (Not a larger
    share through legend.maxheight: a deck draws a figure as short as 220 px, and a legend
    allowed more than half of that left plotly no room for the plot: "Something went wrong
    with axis scaling".)
    """
    grown = PROGRESS_HEIGHT + LEGEND_ROW_PX * max(0, rows - PROGRESS_ROWS)
    return max(grown, 2 * (LEGEND_ROW_PX * rows + 10))  # 10: the legend's padding


def progress_curves_figure(
    steps: Sequence[int],
    series: Mapping[str, Sequence[float]],
    *,
    current: int | None = None,
    title: str = "",
    y_title: str = "",
    percent: bool = True,
    by_checkpoint: bool = False,
) -> go.Figure:
    """Several metrics measured at the same ``steps`` (e.g. one per attention head), one line
    each, with the ``current`` step marked; ``percent`` shows fractions as 0-100.

    ``by_checkpoint``: the steps evenly spaced along the axis, each labelled with its number,
    for checkpoints taken more often early on (0, 100, 200, 400 … 2000: on a step axis the
    first three took its leftmost tenth, where the heads form); there each line is drawn a
    little to the side of the checkpoint (``CHECKPOINT_SPREAD``), so lines that share a value
    (five at 100 %) show their markers side by side. Hover says the step as measured."""
    if not isinstance(series, Mapping) or not series:
        raise ValueError("series must be a non-empty dict: name → one value per step")
    for name in series:  # the legend's names: 1 or "" left a line nobody could name
        if not isinstance(name, str) or not name.strip():
            raise ValueError(
                f"series must be named by words (the legend's entries), got the name {name!r:.60}"
            )
    steps = _progress_args(steps, {f"series[{k!r}]": v for k, v in series.items()}, current, percent, y_title)
    _validate.boolean("by_checkpoint", by_checkpoint)
    series = {name: _args.as_numbers(values).tolist() for name, values in series.items()}
    scale = 100.0 if percent else 1.0
    height = _progress_height(legend_rows(series))
    n = len(series)
    x_axis = dict(title=dict(text="training step"))
    if by_checkpoint:
        x_axis = dict(
            title=dict(text="training step (at each checkpoint)"),
            tickmode="array",
            tickvals=list(range(len(steps))),
            ticktext=[f"{s:g}" for s in steps],
            range=[-0.5, len(steps) - 0.5],
        )
        current = None if current is None else _checkpoint_position(steps, current)
    return figure(
        dashed_lines(
            [
                dict(
                    type="scatter",
                    x=_line_x(steps, k, n, by_checkpoint),
                    y=[float(v) * scale for v in values],
                    mode="lines+markers",
                    **nested_stroke(k, n),
                    name=name,
                    customdata=list(steps),
                    hovertemplate=f"{name}<br>step %{{customdata:g}}: {_hover_value(percent)}<extra></extra>",
                )
                for k, (name, values) in enumerate(series.items())
            ]
        ),
        title=title,
        title_at_top=True,
        height=height,
        # Rows under the title, above the plot: below the plot the legend ran into the axis
        # title once a slide made the text larger. Plotly adds the rows' height to the top margin.
        legend=head_legend(height),
        margin=dict(l=10, r=10, t=TITLE_ROOM, b=10),
        shapes=[] if current is None else [vline(current)],
        xaxis=x_axis,
        yaxis=dict(title=dict(text=y_title), range=[0, 105] if percent else None),
    )


# On an axis by checkpoint, the lines' sideways offsets span this much of a checkpoint's slot
# (1): six lines at 100 % stood on one point, each marker a thin rim around the next, their
# colours hard to tell apart; side by side, each shows. A slot is 130 px wide on a slide
# (eight checkpoints), so six markers of 6-21 px sit about 9 px apart, centre to centre.
CHECKPOINT_SPREAD = 0.36


def _line_x(steps: list, k: int, n: int, by_checkpoint: bool) -> list[float]:
    """The x of the ``k``-th of ``n`` lines: the steps, or each checkpoint's position (0, 1, …)
    shifted by the line's share of ``CHECKPOINT_SPREAD`` (the middle line on the checkpoint)."""
    if not by_checkpoint:
        return list(steps)
    shift = 0.0 if n == 1 else CHECKPOINT_SPREAD * (k / (n - 1) - 0.5)
    return [i + shift for i in range(len(steps))]


def _checkpoint_position(steps: list, step: float) -> float:
    """Where ``step`` (within the steps) falls on an axis by checkpoint: its checkpoint's
    position, or between two, in proportion."""
    i = int(np.searchsorted(steps, step, side="right")) - 1  # the last checkpoint at or before it
    if i >= len(steps) - 1 or steps[i] == step:
        return float(i)
    return i + (step - steps[i]) / (steps[i + 1] - steps[i])
