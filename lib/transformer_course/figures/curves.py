"""Values along a line: sinusoid columns, a repeated product, gradients against distance,
per-layer sizes. Training curves (a loss per step, metrics at some steps) are in
``training_curves``.

Lines take their colours from the theme's cycle (Okabe–Ito).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from .. import _validate
from . import _args
from .base import FOOT_LEGEND, TITLE_ROOM, dashed_lines, figure, head_legend, hline, log_ticks


def waves_figure(
    pe: torch.Tensor,
    dims: Sequence[int],
    *,
    title: str = "Each dimension is a wave over positions",
    sinusoidal: bool = True,
) -> go.Figure:
    """Columns ``dims`` of pe (L, d) as lines against the position.

    ``sinusoidal``: the legend names each column's wave ("dim 2 (sin)"); a learned table's
    columns are not waves, so with False they are only numbered.
    """
    pe = _args.values("pe", pe, ndim=2)
    dims = _args.positions("dims", dims, pe.shape[1], one="a column of pe")
    _validate.boolean("sinusoidal", sinusoidal)
    positions = np.arange(pe.shape[0])
    values = pe.detach().cpu().numpy()
    height = WAVES_HEIGHT + WAVES_LEGEND_ROW * (_legend_rows(len(dims)) - 1)
    return figure(
        dashed_lines(
            [
                dict(
                    type="scatter",
                    x=positions,
                    y=values[:, d],
                    mode="lines+markers",
                    marker=dict(size=4),
                    name=f"dim {d} ({'sin' if d % 2 == 0 else 'cos'})" if sinusoidal else f"dim {d}",
                )
                for d in dims
            ]
        ),
        title=title,
        title_at_top=True,
        height=height,
        # Rows of names between the title and the plot: beside it, the legend squeezed the
        # plot to 150 px on a slide (an explorer's third of it); under it, it ran into the
        # position axis's title once a slide made the text larger. Hung from under the title
        # (head_legend), with plotly setting its rows aside above the plot: anchored to the
        # plot's top in a margin of fixed rows, chapter 02's three names wrapped onto a second
        # row below 400 px and reached 13 px into the title.
        legend=head_legend(height),
        margin=dict(l=10, r=10, t=TITLE_ROOM, b=10),
        xaxis=dict(title=dict(text="position")),
        yaxis=dict(title=dict(text="value"), range=[-1.1, 1.1] if sinusoidal else None),
    )


# The figure's height with one row of legend (as tall as before the legend moved above, so
# that chapter 02's slide of three waves still fits the screen); each further row the names are
# expected to take adds one, so that the plot keeps its height (plotly sets the rows aside
# above it, head_legend, as many as they wrap onto): three fit a row across a page; the
# explorer's four, in a third of a slide at 16 px ("dim 10 (sin)" and its line take about
# 140 px of 400), two rows.
WAVES_HEIGHT = 320
WAVES_LEGEND_ROW, WAVES_PER_ROW = 26, 3


def _legend_rows(n: int) -> int:
    return -(-n // WAVES_PER_ROW)


def repeated_product_figure(values: torch.Tensor, factor: float, *, title: str = "") -> go.Figure:
    """values (N,) = factor**t for t = 0 … N-1, as a line on a log axis with 1 marked."""
    values = _args.values("values", values, ndim=1)
    factor = _validate.finite_number("factor", factor)
    _args.title(title)
    line = dict(
        type="scatter",
        x=list(range(values.shape[0])),
        y=values.detach().cpu().numpy(),
        mode="lines+markers",
        marker=dict(size=4),
        name=f"{factor:.2f}^t",
        hovertemplate="t = %{x}: %{y:.3g}<extra></extra>",
    )
    return figure(
        [line],
        title=title or f"{factor:.2f} to the power t",
        height=320,
        showlegend=False,
        shapes=[hline(1.0)],
        xaxis=dict(title=dict(text="t (steps back through the sequence)")),
        yaxis=dict(
            title=dict(text="value (log scale)"), type="log", exponentformat="power", **log_ticks(line["y"])
        ),
    )


def gradient_distance_figure(
    values: Mapping[str, torch.Tensor],
    *,
    title: str = "Gradient reaching each token from the last one",
) -> go.Figure:
    """One line per model: ``values`` maps a name to a (T,) tensor of gradient sizes, entry k
    for the token k steps before the last; log y axis (a vanished gradient shows as a cliff)."""
    if not isinstance(values, Mapping) or not values:
        raise ValueError("values must be a non-empty dict: name → (T,) tensor of gradient sizes")
    values = {name: _args.values(f"values[{name!r}]", v, ndim=1) for name, v in values.items()}
    return figure(
        dashed_lines(
            [
                dict(
                    type="scatter",
                    x=list(range(v.shape[0])),
                    y=v.detach().double().cpu().numpy(),
                    mode="lines+markers",
                    marker=dict(size=4),
                    name=name,
                    hovertemplate=f"{name}<br>%{{x}} tokens back: %{{y:.3g}}<extra></extra>",
                )
                for name, v in values.items()
            ]
        ),
        title=title,
        height=360,
        legend=FOOT_LEGEND,
        xaxis=dict(title=dict(text="distance from the last token (steps back)")),
        yaxis=dict(
            title=dict(text="gradient size (log scale)"),
            type="log",
            exponentformat="power",
            **log_ticks(x for v in values.values() for x in v.detach().double().flatten().tolist()),
        ),
    )


# depth_figure's plot in px: its 360 px less the title above and the x axis and legend below,
# as drawn on a slide (16 px text). Its log axis spaces its labels for that length, with one
# near each end of the data: chapter 08's loss fell to 0.002 under a lowest label of 0.01.
DEPTH_PLOT_HEIGHT = 200


def depth_figure(
    values: dict[str, torch.Tensor],
    *,
    title: str = "",
    y_title: str = "",
    x_title: str = "block (0 = closest to the input)",
    log: bool = True,
    hidden: Collection[str] = (),
) -> go.Figure:
    """One line per variant: ``values`` maps a name to a (N,) tensor, one value per layer,
    drawn at x = 0 … N-1 as Python counts them (``model.encoder.layers[0]`` is the first).

    ``hidden``: names of ``values`` whose lines start hidden, greyed in the legend (a click
    draws them); the y axis fits the others. Each line keeps the colour and dash it has with
    all of them shown, so a close-up of some of them matches the chart of all.
    """
    if not isinstance(values, dict) or not values:
        raise ValueError("values must be a non-empty dict: name → (N,) tensor")
    values = {name: _args.values(f"values[{name!r}]", v, ndim=1) for name, v in values.items()}
    _validate.boolean("log", log)
    _args.text("x_title", x_title)
    _args.text("y_title", y_title)
    hidden = _hidden_names(hidden, values)
    shown = [v for name, v in values.items() if name not in hidden]
    at, quantity = _hover_label(x_title), _hover_label(y_title)  # "block 3: gradient norm 0.5"
    return figure(
        dashed_lines(
            [
                dict(
                    type="scatter",
                    x=list(range(v.shape[0])),
                    y=v.detach().double().cpu().numpy(),
                    mode="lines+markers",
                    marker=dict(size=5),
                    name=name,
                    hovertemplate=f"{name}<br>{at}%{{x}}: {quantity}%{{y:.3g}}<extra></extra>",
                    visible="legendonly" if name in hidden else None,
                )
                for name, v in values.items()
            ]
        ),
        title=title,
        height=360,
        legend=FOOT_LEGEND,
        # Half a step beyond the first and the last: plotly's own range, padded for the
        # markers, labelled a block 30 past the last of 30 (block 29).
        xaxis=dict(title=dict(text=x_title), range=[-0.5, max(len(v) for v in values.values()) - 0.5]),
        yaxis=dict(
            title=dict(text=y_title),
            type="log" if log else "linear",
            exponentformat="power",
            **(
                log_ticks(
                    (x for v in shown for x in v.detach().double().flatten().tolist()),
                    length=DEPTH_PLOT_HEIGHT,
                )
                if log
                else {}
            ),
        ),
    )


def _hidden_names(hidden: object, values: dict) -> set:
    """``hidden`` as a set of names of ``values``, at least one of which it leaves shown."""
    if isinstance(hidden, str | bytes) or not isinstance(hidden, Collection):
        raise ValueError(f"hidden must be a list of names of values, got {_validate.shown(hidden):.60}")
    names = list(values)
    for name in hidden:
        if not _is_key(name, values):
            raise ValueError(
                f"hidden must name lines of values {names!r:.80}, got {_validate.shown(name):.60}"
            )
    if len(set(hidden)) == len(values):
        raise ValueError(f"hidden must leave at least one line of values shown, got all of {names!r:.80}")
    return set(hidden)


def _is_key(name: object, values: dict) -> bool:
    try:
        return name in values
    except TypeError:  # unhashable: a list, a tuple holding one
        return False


def _hover_label(x_title: str) -> str:
    """What a point's hover text calls its x: the axis title without its gloss in brackets
    ("block 3", "training step 3"), or nothing before the number when there is no title."""
    word = x_title.split(" (")[0].strip()
    return word + " " if word else ""  # the author's title, its markup (W<sub>Q</sub>) drawn as on the axis
