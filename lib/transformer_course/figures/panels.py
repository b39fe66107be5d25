"""Several heatmaps in one figure: Q, K and V side by side; every head's attention in a grid.

The panels are laid out as one layout dict (axis domains, one title per panel), what
``make_subplots`` would write, so that plotly validates the figure once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from .. import _validate
from .base import figure, index_labels, label_list, panel_title, side_by_side, ticks
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
    mats = {"Q (queries)": q, "K (keys)": k, "V (values)": v}
    for name, m in zip(("q", "k", "v"), mats.values()):
        _validate.tensor(name, m, ndim=2)
        _validate.size(name, m, 0, q.shape[0], "one row per token, as q")
    tokens = label_list("tokens", tokens, q.shape[0])
    bound = max(float(m.detach().abs().max()) for m in mats.values()) or 1.0
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
            customdata=np.repeat(np.array(tokens, dtype=object)[:, None], m.shape[1], axis=1),
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
) -> go.Figure:
    """weights (h, Lq, Lk), one attention matrix per head → a grid of heatmaps, one per head.

    ``heads`` picks which heads to draw (all by default), ``columns`` how many per row.
    ``marks`` adds a word to some heads' titles, e.g. {2: "A", 5: "B"}. The heads share
    one colour scale in [0, 1], so their colours compare directly.
    """
    _validate.tensor("weights", weights, ndim=3)
    h, lq, lk = weights.shape
    heads = list(range(h)) if heads is None else [int(i) for i in heads]
    if not heads:
        raise ValueError("heads must name at least one head")
    for i in heads:
        if not 0 <= i < h:
            raise ValueError(f"heads must be in [0, {h}), got {i}")
    _validate.positive_int("columns", columns)
    query_tokens = label_list("query_tokens", query_tokens, lq)
    key_tokens = label_list("key_tokens", key_tokens if key_tokens is not None else query_tokens, lk)
    marks = marks or {}
    cols = min(columns, len(heads))
    rows = -(-len(heads) // cols)
    x_domains = side_by_side([1] * cols, 0.03)
    y_domains = side_by_side([1] * rows, min(0.12, 0.5 / rows))[::-1]  # first row on top
    z_all = weights.detach().float().cpu().numpy()
    tick_font = dict(size=11 if max(lq, lk) <= 12 else 9)  # long sentences: smaller ticks
    traces, axes, titles = [], {}, []
    for n, i in enumerate(heads):
        r, c = divmod(n, cols)
        suffix = "" if n == 0 else str(n + 1)
        traces.append(
            dict(
                type="heatmap",
                z=z_all[i],
                x=list(range(lk)),
                y=list(range(lq)),
                coloraxis="coloraxis",
                name=f"head {i}",
                xaxis=f"x{suffix}",
                yaxis=f"y{suffix}",
                # Positions only in the hover (the words are on the axes): per-cell word labels
                # for every panel made the grid the slowest figure of the course to update.
                hovertemplate=f"head {i}<br>query position %{{y}}<br>key position %{{x}}"
                "<br>weight: %{z:.2f}<extra></extra>",
            )
        )
        axes[f"xaxis{suffix}"] = dict(
            domain=x_domains[c],
            anchor=f"y{suffix}",
            # Keys written under the bottom panel of each column only, as the queries beside
            # the first column: the same words, and half the labels plotly measures per redraw.
            showticklabels=n + cols >= len(heads),
            automargin=False,  # margins set below: plotly's second layout pass cost a third of a redraw
            tickangle=-60,
            tickfont=tick_font,
            **ticks(key_tokens, lk),
        )
        axes[f"yaxis{suffix}"] = dict(
            domain=y_domains[r],
            anchor=f"x{suffix}",
            autorange="reversed",
            showticklabels=c == 0,
            automargin=False,
            tickfont=tick_font,
            **ticks(query_tokens, lq),
        )
        text = f"head {i}" + (f" ({marks[i]})" if i in marks else "")
        titles.append(panel_title(text, sum(x_domains[c]) / 2, y=y_domains[r][1], size=13))
    return figure(
        traces,
        title=title,
        height=90 + rows * (130 + 14 * max(lq, 6)),
        # Room for the longest word beside the first column and (slanted) under the last row.
        margin=dict(l=14 + 8 * longest(query_tokens), r=10, t=70, b=14 + 7 * longest(key_tokens)),
        annotations=titles,
        coloraxis=dict(
            colorscale=SEQUENTIAL, cmin=0.0, cmax=1.0, colorbar=dict(title="weight", thickness=12, len=0.8)
        ),
        **axes,
    )
