"""Any matrix as a heatmap: ``matrix_heatmap``, the builder each figure in ``heatmaps`` is made
with, and ``heatmap_parts``, its trace and layout unbuilt, for figures that draw something over
the matrix (an outlined row, a ring per row).

Row 0 is at the top; small matrices print their values in the cells, larger ones show a colour
bar (``base.printed_cells``); the margins are sized to the labels (``label_margins``), not by
plotly's automargin.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from _plotly_utils.basevalidators import ColorscaleValidator

from .. import _validate
from . import _args
from .base import (
    LEGEND_ROW_PX,
    TITLE_ROOM,
    as_text,
    figure,
    head_legend,
    hover_labels,
    index_labels,
    label_list,
    max_printed_cells,
    ticks,
)
from .palette import MASKED_COLOUR, SEQUENTIAL


def matrix_heatmap(
    values: torch.Tensor,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    *,
    title: str = "",
    x_title: str = "",
    y_title: str = "",
    colorscale: str | list = SEQUENTIAL,
    zmin: float | None = None,
    zmax: float | None = None,
    zmid: float | None = None,
    value_format: str = ".2f",
    height: int | None = None,
    show_text: bool | None = None,
    show_scale: bool | None = None,
    value_name: str = "value",
    every_row_label: bool = False,
) -> go.Figure:
    """Any matrix (R, C) as a heatmap, row 0 at the top, with optional labels on both axes.

    ``show_text``: print the values in the cells (default: while there are at most
    ``MAX_CELLS_WITH_TEXT`` cells, or fewer inside ``base.printed_cells``, as in an
    explorer). ``show_scale``: show the colour bar (default: only when the values are not
    printed, as a printed value says more than a colour bar can). ``value_name``: what the
    hover calls a cell's number ("weight" for attention: "value" would read as V).
    ``every_row_label``: a figure whose rows a reader looks up one by one (chapter 09's heads)
    keeps every row's label on a slide, smaller if need be, before any is left out
    (``layout.meta.every_row``, read by static/figure_view.js's rowLabelsFit).
    """
    values = _args.values("values", values, ndim=2)  # NaN allowed: a gap
    # ±inf would be drawn as gaps too, each taken for a NaN. The figures built on this one check
    # their own argument first, so that the message names it, not "values".
    _args.no_infinity("values", values, ": scores with -inf (masked) draw with figures.scores_heatmap")
    trace, layout = heatmap_parts(
        values,
        row_labels,
        col_labels,
        x_title=x_title,
        y_title=y_title,
        colorscale=colorscale,
        zmin=zmin,
        zmax=zmax,
        zmid=zmid,
        value_format=value_format,
        height=height,
        show_text=show_text,
        show_scale=show_scale,
        value_name=value_name,
        every_row_label=every_row_label,
    )
    return figure([trace], title=title, **layout)


def heatmap_parts(
    values: torch.Tensor,
    row_labels: Sequence[str] | None,
    col_labels: Sequence[str] | None,
    *,
    x_title: str = "",
    y_title: str = "",
    colorscale: str | list = SEQUENTIAL,
    zmin: float | None = None,
    zmax: float | None = None,
    zmid: float | None = None,
    value_format: str = ".2f",
    height: int | None = None,
    show_text: bool | None = None,
    show_scale: bool | None = None,
    value_name: str = "value",
    every_row_label: bool = False,
) -> tuple[dict, dict]:
    """``matrix_heatmap``'s heatmap trace and layout keywords (height, both axes), unbuilt."""
    rows, cols = values.shape
    for name, bound in (("zmin", zmin), ("zmax", zmax), ("zmid", zmid)):
        if bound is not None:
            _validate.finite_number(name, bound)
    if zmin is not None and zmax is not None and not zmin < zmax:
        raise ValueError(f"zmax must be greater than zmin ({zmin}), got {zmax}")
    _args.number_format("value_format", value_format)
    colour_scale("colorscale", colorscale)
    _args.text("x_title", x_title)
    _args.text("y_title", y_title)
    _args.text("value_name", value_name)
    _validate.boolean("every_row_label", every_row_label)  # "no" would mean True
    if height is not None:
        _args.height(height)
    row_labels = label_list("row_labels", row_labels, rows)
    col_labels = label_list("col_labels", col_labels, cols)
    if show_text is None:
        show_text = rows * cols <= max_printed_cells()
    _validate.boolean("show_text", show_text)  # None has been resolved; "no" would mean True
    if show_scale is None:
        # With the values printed in the cells a colour bar repeats them less precisely, and
        # it costs a quarter of a heatmap's redraw in the browser when a control moves.
        show_scale = not show_text
    _validate.boolean("show_scale", show_scale)
    trace = dict(
        type="heatmap",
        z=values.detach().float().cpu().numpy(),
        x=np.arange(cols),
        y=np.arange(rows),
        colorscale=colorscale,
        zmin=zmin,
        zmax=zmax,
        zmid=zmid,
        showscale=show_scale,
    )
    if show_text:
        trace["texttemplate"] = f"%{{z:{value_format}}}"
    if show_scale and value_name != "value":  # a bar of colours says what it measures
        trace["colorbar"] = dict(title=dict(text=as_text(value_name), side="right"))  # along the bar
    if row_labels == index_labels(rows) and col_labels == index_labels(cols):
        # The labels are the positions themselves: the hover can show x and y directly,
        # which spares a (R, C, 2) array of label pairs (the costliest part to serialise).
        row_ref, col_ref = "%{y}", "%{x}"
    else:
        pairs = np.empty((rows, cols, 2), dtype=object)
        pairs[:, :, 0] = np.array(hover_labels(row_labels), dtype=object)[:, None]
        pairs[:, :, 1] = np.array(hover_labels(col_labels), dtype=object)[None, :]
        trace["customdata"] = pairs
        row_ref, col_ref = "%{customdata[0]}", "%{customdata[1]}"
    trace["hovertemplate"] = (
        f"{y_title or 'row'}: {row_ref}<br>{x_title or 'column'}: {col_ref}"
        f"<br>{as_text(value_name)}: %{{z:{value_format}}}<extra></extra>"
    )
    # Margins from the labels, without plotly's automargin: it lays the figure out twice,
    # a third of a heatmap's redraw when a control moves.
    layout = dict(
        height=height or max(260, min(640, 80 + 34 * rows)),
        margin=label_margins(row_labels, col_labels, x_title=x_title, y_title=y_title),
        xaxis=dict(title=dict(text=x_title), side="bottom", automargin=False, **ticks(col_labels, cols)),
        yaxis=dict(
            title=dict(text=y_title),
            autorange="reversed",
            automargin=False,
            ticklabelstandoff=ROW_LABEL_GAP,
            **ticks(row_labels, rows),
        ),
    )
    if every_row_label:  # read by static/figure_view.js's rowLabelsFit
        layout["meta"] = dict(every_row=True)
    return trace, layout


def masked_layer(trace: dict, blocked: np.ndarray, *, text: str, name: str) -> dict:
    """A heatmap over ``trace``'s cells where ``blocked`` (R, C) is True, in ``MASKED_COLOUR``
    (on no colour scale, the same on both pages) with ``text`` in each cell, ``name`` in the
    legend. Drawn after ``trace``, it covers that trace's colour and number in those cells.

    A masked cell was a gap (−∞) or a 0.00 of the scale, and a near-zero cell looked the same
    on either page: only the printed number told them apart.
    """
    grey = MASKED_COLOUR
    # Hover: the row and the column as the trace gives them, then the legend's name, not a number.
    where = trace["hovertemplate"].rsplit("<br>", 1)[0]
    layer = dict(
        type="heatmap",
        z=np.where(blocked, 1.0, np.nan),  # (R, C): 1 where masked, a gap elsewhere
        x=trace["x"],
        y=trace["y"],
        colorscale=[[0, grey], [1, grey]],
        zmin=0,
        zmax=1,
        showscale=False,
        hoverongaps=False,  # the gaps are the real cells: their hover is the trace's
        # Per cell: plotly writes a texttemplate in the gaps too, over the real cells' numbers.
        text=np.where(blocked, text, ""),
        texttemplate="%{text}",
        hovertemplate=f"{where}<br>{as_text(name)}<extra></extra>",
        name=as_text(name),
        showlegend=True,
    )
    if "customdata" in trace:
        layer["customdata"] = trace["customdata"]
    return layer


def with_masked_cells(
    trace: dict,
    layout: dict,
    blocked: np.ndarray,
    *,
    text: str,
    name: str,
    title: str,
    legend: bool = True,
    **more,
) -> go.Figure:
    """The figure of ``trace`` and ``layout`` (``heatmap_parts``) with its ``blocked`` (R, C)
    cells drawn by ``masked_layer``, named in a legend under the title (``head_legend``) with
    ``legend``; without any blocked cell, the plain figure. ``more``: other layout keywords."""
    _validate.boolean("masked_legend", legend)  # the name the figure functions give it
    if not blocked.any():
        return figure([trace], title=title, **layout, **more)
    trace = dict(trace, hoverongaps=False)  # a gap (−∞) is a masked cell: its hover is the layer's
    traces = [trace, masked_layer(trace, blocked, text=text, name=name)]
    if not legend:
        return figure(traces, title=title, showlegend=False, **layout, **more)
    # One row of legend more: plotly sets it aside above the plot, which keeps its height.
    height = layout["height"] + LEGEND_ROW_PX
    layout = dict(layout, height=height, margin=dict(layout["margin"], t=TITLE_ROOM))
    return figure(traces, title=title, title_at_top=True, legend=head_legend(height), **layout, **more)


_COLORSCALE = ColorscaleValidator("colorscale", "heatmap")


def colour_scale(name: str, given: object) -> None:
    """A colour scale plotly draws: a name it knows ("Blues", "RdBu_r") or [position, colour] pairs
    (a misspelt name failed only when plotly checked the figure, naming its 'colorscale' property
    among hundreds of lines, and not at all inside ``base.unchecked``)."""
    try:
        # A name or a list of pairs; a tensor or an array never is (numpy warns as plotly reads one).
        ok = isinstance(given, str | list | tuple) and _COLORSCALE.validate_coerce(given) is not None
    except (ValueError, TypeError, RuntimeError, NotImplementedError):
        ok = False
    if not ok:
        raise ValueError(
            f"{name} must be a plotly colour scale: a name such as 'Blues' or a list of "
            f"[position, colour] pairs from 0 to 1, got {_validate.shown(given):.60}"
        )


CHAR_PX = 7.5  # the width of a character of the course's 13 px font, about
# Pixels between a row's label and its first cell: flush with the cells, "he" and "head 3" read
# as part of the first column on a slide.
ROW_LABEL_GAP = 6
TICK_ROOM_PX = 26  # a column narrower than this slants its labels (plotly turns them)


def label_margins(row_labels: list[str], col_labels: list[str], *, x_title: str, y_title: str) -> dict:
    """Margins that hold the row labels on the left and the column labels below (slanted when
    a typical 400 px wide plot gives each column too little room), and the axis titles."""
    shown = lambda labels: labels if len(labels) <= 40 else [str(len(labels))]  # noqa: E731
    wide = max((len(t) for t in shown(row_labels)), default=1) * CHAR_PX
    tall = max((len(t) for t in shown(col_labels)), default=1) * CHAR_PX
    slanted = tall > 360 / max(len(col_labels), 1) - 4 and len(col_labels) > 1
    return dict(
        l=int(14 + ROW_LABEL_GAP + wide + (26 if y_title else 0)),
        r=10,
        t=50,
        b=int(12 + (tall if slanted else 18) + (26 if x_title else 0)),
    )
