"""Several heatmaps in one figure: Q, K and V side by side; every head's attention in a grid.

The panels are laid out as one layout dict (axis domains, one title per panel), what
``make_subplots`` would write, so that plotly validates the figure once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from .. import _validate
from . import _args
from .base import as_text, figure, hover_labels, index_labels, label_list, panel_title, side_by_side, ticks
from .palette import DIVERGING, SEQUENTIAL


def qkv_figure(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    tokens: Sequence[str],
    *,
    title: str = "Three views of the same tokens",
) -> go.Figure:
    """q (T, d_k), k (T, d_k), v (T, d_v) side by side: one row per token, one shared colour scale."""
    q, k, v = (_args.values(name, m, ndim=2) for name, m in (("q", q), ("k", k), ("v", v)))
    for name, m in (("q", q), ("k", k), ("v", v)):  # an infinite cell drew as a gap, taken for a NaN
        _args.no_infinity(name, m)
    for name, m in (("k", k), ("v", v)):
        _validate.size(name, m, 0, q.shape[0], "one row per token, as q")
    _validate.size("k", k, 1, q.shape[1], "d_k, as q: each query meets each key in a dot product")
    tokens = _args.labels("tokens", tokens, q.shape[0])
    mats = {"Q (queries)": q, "K (keys)": k, "V (values)": v}
    bound = max(_args.largest(m) for m in mats.values()) or 1.0
    show_text = q.shape[0] * max(q.shape[1], v.shape[1]) <= 48
    # Panel widths ∝ their columns, 0.04 apart, one shared y axis.
    domains = side_by_side([m.shape[1] for m in mats.values()], 0.04)
    traces, axes = [], {}
    for i, (name, m) in enumerate(mats.items()):
        axis = "" if i == 0 else str(i + 1)
        trace = dict(
            type="heatmap",
            z=m.detach().float().cpu().numpy(),
            x=np.arange(m.shape[1]),
            y=np.arange(len(tokens)),
            xaxis=f"x{axis}",
            yaxis="y",
            colorscale=DIVERGING,
            zmin=-bound,
            zmax=bound,
            zmid=0.0,
            showscale=i == 2,
            customdata=np.repeat(np.array(hover_labels(tokens), dtype=object)[:, None], m.shape[1], axis=1),
            hovertemplate=f"{name[0]} of %{{customdata}}, dim %{{x}}: %{{z:.2f}}<extra></extra>",
        )
        if show_text:
            trace["texttemplate"] = "%{z:.1f}"
        traces.append(trace)
        axes[f"xaxis{axis}"] = dict(
            domain=domains[i],
            anchor="y",
            title=dict(text="dim"),
            **ticks(index_labels(m.shape[1]), m.shape[1]),
        )
    return figure(
        traces,
        title=title,
        height=max(280, min(640, 110 + 30 * len(tokens))),
        margin=dict(l=10, r=10, t=70, b=10),
        annotations=[panel_title(name, sum(d) / 2) for name, d in zip(mats, domains)],
        yaxis=dict(autorange="reversed", **ticks(tokens, len(tokens))),
        **axes,
    )


SHORT_LABEL = 2  # characters: a head grid's column label this short is not slanted


def longest(labels: Sequence[str]) -> int:
    """Characters in the longest of ``labels``."""
    return max((len(label) for label in labels), default=1)


def head_grid_figure(
    weights: torch.Tensor,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str] | None = None,
    *,
    heads: Sequence[int] | None = None,
    columns: int = 4,
    marks: dict[int, str] | None = None,
    title: str = "Every head's attention",
    height: int | None = None,
) -> go.Figure:
    """weights (h, Lq, Lk), one attention matrix per head → a grid of heatmaps, one per head.

    ``heads`` picks which heads to draw (all by default), ``columns`` how many per row.
    ``marks`` adds a word to some heads' titles, e.g. {2: "A", 5: "B"}. The heads share
    one colour scale in [0, 1], so their colours compare directly. ``height``: the figure's
    least height in pixels (it is always tall enough for its rows, 14 px a word).

    Drawn as ONE heatmap on one pair of axes: the heads' matrices tiled with an empty
    (NaN) row and column between them, the words along the left and the bottom. Eight
    heatmaps on sixteen axes took plotly several times longer to redraw when a control
    moved (chapter 05's explorer). ``layout.meta["tiles"]`` lists, per head drawn, its
    index and the (row, column) of its top-left cell; ``head_of_grid`` reads a head back.
    """
    weights = _args.values("weights", weights, ndim=3)
    _args.no_infinity("weights", weights, ": masked scores (-inf) draw with figures.scores_heatmap")
    h, lq, lk = weights.shape
    heads = list(range(h)) if heads is None else _args.positions("heads", heads, h, one="a head")
    _validate.positive_int("columns", columns)
    query_tokens = _args.labels("query_tokens", query_tokens, lq)
    key_tokens = label_list("key_tokens", key_tokens if key_tokens is not None else query_tokens, lk)
    marks = _args.word_marks("marks", marks, h)
    if height is not None:
        _args.height(height)
    cols = min(columns, len(heads))
    rows = -(-len(heads) // cols)
    long_q, long_k = longest(query_tokens), longest(key_tokens)
    margin = dict(l=14 + 8 * long_q, r=10, t=70, b=14 + 7 * long_k)
    fig_height, gap = _grid_height(rows, lq, height, margin, 90 + rows * (40 + 14 * max(lq, 6)) + 6 * long_k)
    z_all = weights.detach().float().cpu().numpy()
    z = np.full((rows * (lq + 1) - 1, cols * (lk + 1) - 1), np.nan, dtype=np.float64)
    head_of = np.full(z.shape, -1, dtype=np.int64)
    tiles, titles = [], []
    for n, i in enumerate(heads):
        r, c = divmod(n, cols)
        top, left = r * (lq + 1), c * (lk + 1)
        z[top : top + lq, left : left + lk] = z_all[i]
        head_of[top : top + lq, left : left + lk] = i
        tiles.append([i, top, left])
        text = f"head {i}" + (f" ({as_text(marks[i])})" if i in marks else "")
        titles.append(
            dict(
                text=text,
                x=left + (lk - 1) / 2,
                y=r * (lq + gap) - 0.5,  # the panel's top edge (``_row_edges``)
                xref="x",
                yref="y",
                xanchor="center",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=13),
            )
        )
    # Words beside every row of panels and under every column (the axes are shared).
    y_at = [r * (lq + gap) + q for r in range(rows) for q in range(lq)]
    x_at = [c * (lk + 1) + k for c in range(cols) for k in range(lk)]
    rows_of, cols_of = np.indices(z.shape)
    custom = np.stack([head_of, rows_of % (lq + 1), cols_of % (lk + 1)], axis=-1)  # (R, C, 3)
    trace = dict(
        type="heatmap",
        # z's rows drawn between these edges: the empty row between two rows of panels as
        # tall as a title needs (left to plotly, where one row is room enough).
        y=_row_edges(rows, lq, gap) if gap > 1 else None,
        z=z,
        coloraxis="coloraxis",
        customdata=custom,
        name="heads",
        hoverongaps=False,
        hovertemplate="head %{customdata[0]}<br>query position %{customdata[1]}"
        "<br>key position %{customdata[2]}<br>weight: %{z:.2f}<extra></extra>",
    )
    small = dict(size=11 if max(lq, lk) <= 12 else 9)  # long sentences: smaller words
    every = 1 if len(x_at) <= 120 else 4  # too many words to read: every fourth
    # Words slant under their columns; a digit or two (chapter 08's source symbols) fits upright
    # under any column, and reads better so.
    slant = long_k > SHORT_LABEL
    return figure(
        [trace],
        title=title,
        height=fig_height,
        # Room for the longest word beside the panels and (slanted) under them; no automargin
        # pass (plotly would lay the figure out twice on every redraw).
        margin=margin,
        annotations=titles,
        meta=dict(tiles=tiles, rows=lq, columns=lk),
        xaxis=dict(
            tickmode="array",
            tickvals=x_at[::every],
            ticktext=hover_labels(key_tokens * cols)[::every],  # as ticks() shows words
            tickangle=-60 if slant else 0,
            tickfont=small,
            showgrid=False,
            zeroline=False,
            automargin=False,
        ),
        yaxis=dict(
            tickmode="array",
            tickvals=y_at,
            ticktext=hover_labels(query_tokens * rows),
            tickfont=small,
            autorange="reversed",
            showgrid=False,
            zeroline=False,
            automargin=False,
        ),
        coloraxis=dict(
            colorscale=SEQUENTIAL,
            cmin=0.0,
            cmax=1.0,
            # The title beside the bar, not above it, where it sat on the top tick's "1" (a slide).
            colorbar=dict(title=dict(text="weight", side="right"), thickness=12, len=0.8),
        ),
    )


# Pixels between two rows of panels, for the lower row's titles: a 16 px line (a slide's text)
# and a few px either side. One empty row of cells (about 16 px) put "head 4" on the last row
# of "head 0" (chapter 05's grid of eight heads, on a slide).
TITLE_ROOM = 30


def _grid_height(rows: int, lq: int, height: int | None, margin: dict, natural: int) -> tuple[int, float]:
    """The grid's height in px, and the gap between two rows of panels in rows of cells: one
    row where that is ``TITLE_ROOM`` px, or more, the figure taller by what they add (its
    rows of cells keep their height)."""
    tall = max(height or 0, natural)
    per_cell = (tall - margin["t"] - margin["b"]) / (rows * (lq + 1) - 1)  # px a row of cells
    if rows == 1 or per_cell >= TITLE_ROOM:
        return tall, 1.0
    return tall + math.ceil((rows - 1) * (TITLE_ROOM - per_cell)), TITLE_ROOM / per_cell


def _row_edges(rows: int, lq: int, gap: float) -> list[float]:
    """The y edges of the grid's rows of cells: ``lq`` rows of height 1 a panel, ``gap`` between
    two panels (the empty row of z); row q of panel row r is centred at r * (lq + gap) + q."""
    return [r * (lq + gap) + q - 0.5 for r in range(rows) for q in range(lq + 1)]


def head_of_grid(fig: go.Figure, head: int) -> np.ndarray:
    """The (Lq, Lk) weights ``head_grid_figure`` drew for ``head``, read back from the figure."""
    meta = fig.layout.meta
    for i, top, left in meta["tiles"]:
        if i == head:
            z = np.asarray(fig.data[0].z, dtype=np.float64)
            return z[top : top + meta["rows"], left : left + meta["columns"]]
    raise ValueError(f"head must be one of the heads drawn, got {head}")
