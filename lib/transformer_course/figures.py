"""Pure figure functions: tensors in, ``go.Figure`` out. No display, no global state.

Heatmaps use numeric axes labelled with the tokens (tickvals/ticktext): a category axis
would merge repeated words such as the two "the" in "the pizza came out of the oven".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import torch

from . import _validate

FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13)
# Values are printed inside cells only while they stay readable.
MAX_CELLS_WITH_TEXT = 144
# One light template for every figure, set once as plotly's default: passing it to each
# update_layout makes plotly validate a fresh copy of the whole template every time,
# which doubled the Python cost of a widget update.
#
# The template is plotly_white trimmed to the 2-D charts a course draws: plotly copies
# the template into every figure and again into every figure it sends, so its 3-D, map,
# polar and ternary parts cost ~20 % of a widget update for nothing. Trace types left
# out still draw, with plotly.js's own defaults.
_CHARTS = (
    "bar",
    "box",
    "contour",
    "heatmap",
    "histogram",
    "histogram2d",
    "pie",
    "scatter",
    "scattergl",
    "table",
    "violin",
)
_course = pio.templates["plotly_white"].to_plotly_json()
_course["data"] = {kind: v for kind, v in _course["data"].items() if kind in _CHARTS}
for _part in ("geo", "map", "mapbox", "polar", "scene", "ternary"):
    _course["layout"].pop(_part, None)
pio.templates["course"] = go.layout.Template(_course)
pio.templates.default = "course"


def figure(traces: Sequence[dict], *, title: str = "", height: int | None = None, **layout) -> go.Figure:
    """A ``go.Figure`` from plain trace dicts and layout keywords, validated in one pass.

    The course's figures are built this way, not with ``go.Heatmap(...)`` followed by
    ``update_layout``/``update_xaxes``: each of those calls walks and re-validates the
    figure, and together they cost several times more than building it once (about
    15 ms against 1.5 ms for a 16×16 heatmap). Title centred, ``FONT``, tight margins.
    """
    base = dict(title=dict(text=title, x=0.5), font=FONT, margin=dict(l=10, r=10, t=50, b=10))
    if height is not None:
        base["height"] = height
    base.update(layout)
    return go.Figure(dict(data=list(traces), layout=base))


def matrix_heatmap(
    values: torch.Tensor,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    *,
    title: str = "",
    x_title: str = "",
    y_title: str = "",
    colorscale: str | list = "Blues",
    zmin: float | None = None,
    zmax: float | None = None,
    zmid: float | None = None,
    value_format: str = ".2f",
    height: int | None = None,
    show_text: bool | None = None,
    show_scale: bool = True,
) -> go.Figure:
    """Any matrix (R, C) as a heatmap, row 0 at the top, with optional labels on both axes.

    ``show_text``: print the values in the cells (default: while there are at most
    ``MAX_CELLS_WITH_TEXT`` cells). ``show_scale``: show the colour bar.
    """
    _validate.tensor("values", values, ndim=2)
    rows, cols = values.shape
    row_labels = _labels("row_labels", row_labels, rows)
    col_labels = _labels("col_labels", col_labels, cols)
    if show_text is None:
        show_text = rows * cols <= MAX_CELLS_WITH_TEXT
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
    if row_labels == _index_labels(rows) and col_labels == _index_labels(cols):
        # The labels are the positions themselves: the hover can show x and y directly,
        # which spares a (R, C, 2) array of label pairs (the costliest part to serialise).
        row_ref, col_ref = "%{y}", "%{x}"
    else:
        pairs = np.empty((rows, cols, 2), dtype=object)
        pairs[:, :, 0] = np.array(row_labels, dtype=object)[:, None]
        pairs[:, :, 1] = np.array(col_labels, dtype=object)[None, :]
        trace["customdata"] = pairs
        row_ref, col_ref = "%{customdata[0]}", "%{customdata[1]}"
    trace["hovertemplate"] = (
        f"{y_title or 'row'}: {row_ref}<br>{x_title or 'column'}: {col_ref}"
        f"<br>value: %{{z:{value_format}}}<extra></extra>"
    )
    return figure(
        [trace],
        title=title,
        height=height or max(260, min(640, 80 + 34 * rows)),
        xaxis=dict(title=dict(text=x_title), side="bottom", **_ticks(col_labels, cols)),
        yaxis=dict(title=dict(text=y_title), autorange="reversed", **_ticks(row_labels, rows)),
    )


def attention_heatmap(
    weights: torch.Tensor,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str] | None = None,
    *,
    title: str = "Attention weights",
) -> go.Figure:
    """weights (Lq, Lk), each row a query's distribution over the keys → heatmap in [0, 1]."""
    _validate.tensor("weights", weights, ndim=2)
    return matrix_heatmap(
        weights,
        query_tokens,
        key_tokens or query_tokens,
        title=title,
        x_title="key (attended to)",
        y_title="query (attending)",
        zmin=0.0,
        zmax=1.0,
    )


def scores_heatmap(
    scores: torch.Tensor,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str] | None = None,
    *,
    title: str = "Scores",
) -> go.Figure:
    """Raw scores (Lq, Lk), centred on zero; -inf (masked) cells show as gaps."""
    _validate.tensor("scores", scores, ndim=2)
    finite = scores[torch.isfinite(scores)]
    bound = float(finite.abs().max()) if finite.numel() else 1.0
    return matrix_heatmap(
        scores.masked_fill(~torch.isfinite(scores), float("nan")),
        query_tokens,
        key_tokens or query_tokens,
        title=title,
        x_title="key",
        y_title="query",
        colorscale="RdBu",
        zmin=-bound,
        zmax=bound,
        zmid=0.0,
    )


def mask_heatmap(
    mask: torch.Tensor,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str] | None = None,
    *,
    title: str = "Mask",
) -> go.Figure:
    """A bool mask (Lq, Lk), True = may attend, as two colours with 1/0 in the cells."""
    _validate.tensor("mask", mask, ndim=2)
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor, got {mask.dtype}")
    return matrix_heatmap(
        mask.float(),
        query_tokens,
        key_tokens or query_tokens,
        title=title,
        x_title="key",
        y_title="query",
        zmin=0,
        zmax=1,
        value_format=".0f",
        colorscale=[[0, "#f3f4f6"], [1, "#2563eb"]],
        show_scale=False,
    )


def embedding_heatmap(
    vectors: torch.Tensor, tokens: Sequence[str], *, title: str = "Token vectors"
) -> go.Figure:
    """vectors (T, d): one row per token, one column per feature, centred on zero."""
    _validate.tensor("vectors", vectors, ndim=2)
    bound = float(vectors.detach().abs().max()) or 1.0
    return matrix_heatmap(
        vectors,
        tokens,
        None,
        title=title,
        x_title="dimension",
        y_title="token",
        colorscale="RdBu",
        zmin=-bound,
        zmax=bound,
        zmid=0.0,
    )


def similarity_heatmap(
    similarity: torch.Tensor,
    tokens: Sequence[str],
    *,
    title: str = "Similarity",
    cosine: bool = True,
    axis_title: str = "token",
) -> go.Figure:
    """similarity (T, T) between every pair of tokens; cosine values share a fixed [-1, 1] scale.

    ``axis_title`` names both axes (e.g. "position" when the rows are positions).
    """
    _validate.tensor("similarity", similarity, ndim=2)
    bound = 1.0 if cosine else (float(similarity.detach().abs().max()) or 1.0)
    return matrix_heatmap(
        similarity,
        tokens,
        tokens,
        title=title,
        x_title=axis_title,
        y_title=axis_title,
        colorscale="RdBu",
        zmin=-bound,
        zmax=bound,
        zmid=0.0,
    )


def positional_heatmap(pe: torch.Tensor, *, title: str = "Positional encoding") -> go.Figure:
    """pe (L, d): positions down, dimensions across, values in [-1, 1] for the sinusoids."""
    _validate.tensor("pe", pe, ndim=2)
    bound = max(1.0, float(pe.detach().abs().max()))
    return matrix_heatmap(
        pe,
        None,
        None,
        title=title,
        x_title="dimension",
        y_title="position",
        colorscale="RdBu",
        zmin=-bound,
        zmax=bound,
        zmid=0.0,
        height=420,
        show_text=False,
    )


def waves_figure(
    pe: torch.Tensor, dims: Sequence[int], *, title: str = "Each dimension is a wave over positions"
) -> go.Figure:
    """Columns ``dims`` of pe (L, d) as lines against the position."""
    _validate.tensor("pe", pe, ndim=2)
    for d in dims:
        if not 0 <= d < pe.shape[1]:
            raise ValueError(f"dims must be in [0, {pe.shape[1]}), got {d}")
    positions = np.arange(pe.shape[0])
    values = pe.detach().cpu().numpy()
    return figure(
        [
            dict(
                type="scatter",
                x=positions,
                y=values[:, d],
                mode="lines+markers",
                marker=dict(size=4),
                name=f"dim {d} ({'sin' if d % 2 == 0 else 'cos'})",
            )
            for d in dims
        ],
        title=title,
        height=320,
        xaxis=dict(title=dict(text="position")),
        yaxis=dict(title=dict(text="value"), range=[-1.1, 1.1]),
    )


def bar_figure(
    values: torch.Tensor,
    labels: Sequence[str],
    *,
    title: str = "",
    y_title: str = "",
    y_range: tuple[float, float] | None = None,
    x_title: str = "",
    colors: Sequence[str] | None = None,
) -> go.Figure:
    """values (N,) as labelled bars (labels may repeat); ``colors``: one CSS colour per bar."""
    _validate.tensor("values", values, ndim=1)
    labels = _labels("labels", labels, values.shape[0])
    return figure(
        [
            dict(
                type="bar",
                x=np.arange(len(labels)),
                y=values.detach().cpu().numpy(),
                text=[f"{v:.2f}" for v in values.tolist()],
                textposition="outside",
                customdata=labels,
                hovertemplate="%{customdata}: %{y:.3f}<extra></extra>",
                **({"marker": dict(color=list(colors))} if colors is not None else {}),
            )
        ],
        title=title,
        height=300,
        xaxis=dict(_ticks(labels, len(labels)), **({"title": dict(text=x_title)} if x_title else {})),
        yaxis=dict(title=dict(text=y_title), range=list(y_range) if y_range else None),
    )


def _labels(name: str, labels: Sequence[str] | None, n: int) -> list[str]:
    if labels is None:
        return _index_labels(n)
    labels = [str(t) for t in labels]
    if len(labels) != n:
        raise ValueError(f"{name} must have {n} entries (one per row/column), got {len(labels)}")
    return labels


def _index_labels(n: int) -> list[str]:
    return [str(i) for i in range(n)]


def _ticks(labels: list[str], n: int) -> dict:
    # Plotly measures every tick label on every redraw (a 24 × 32 heatmap took 32 ms to
    # draw with a label per row and column, 13 ms without): labels that are just the
    # positions 0 … n-1 (beyond a dozen), or too many to read, get plotly's own sparser
    # numeric ticks.
    if n > 40 or (n > 12 and labels == _index_labels(n)):
        return dict(tickmode="auto")
    return dict(tickmode="array", tickvals=list(range(n)), ticktext=labels)


# --- Chapter 00: welcome ---


def repeated_product_figure(values: torch.Tensor, factor: float, *, title: str = "") -> go.Figure:
    """values (N,) = factor**t for t = 0 … N-1, as a line on a log axis with 1 marked."""
    _validate.tensor("values", values, ndim=1)
    steps = list(range(values.shape[0]))
    fig = go.Figure(
        go.Scatter(
            x=steps,
            y=values.detach().cpu().numpy(),
            mode="lines+markers",
            marker=dict(size=4),
            name=f"{factor:.2f}^t",
            hovertemplate="t = %{x}: %{y:.3g}<extra></extra>",
        )
    )
    fig.add_hline(y=1.0, line_dash="dot", line_color="#6b7280")
    fig.update_layout(
        title=dict(text=title or f"{factor:.2f} multiplied by itself t times", x=0.5),
        font=FONT,
        height=320,
        margin=dict(l=10, r=10, t=50, b=10),
        showlegend=False,
    )
    fig.update_xaxes(title="t (steps back through the sequence)")
    fig.update_yaxes(title="value (log scale)", type="log", exponentformat="power")
    return fig


# --- Chapters 03-04: queries, keys and values; softmax and scaling ---
# (this section's code goes right below this line; keep the sections apart)
# Imported here, not at the top: the file's top belongs to every chapter.
from .softmax import SaturationResult  # noqa: E402


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
    tokens = _labels("tokens", tokens, q.shape[0])
    bound = max(float(m.detach().abs().max()) for m in mats.values()) or 1.0
    show_text = q.shape[0] * max(q.shape[1], v.shape[1]) <= 48
    # Three panels side by side, built as one dict (what make_subplots lays out, at a
    # fraction of the cost): panel widths ∝ their columns, 0.04 apart, one shared y axis.
    widths = np.array([m.shape[1] for m in mats.values()], dtype=float)
    spans = (1 - 2 * 0.04) * widths / widths.sum()
    starts = np.concatenate([[0.0], np.cumsum(spans + 0.04)[:-1]])
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
            colorscale="RdBu",
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
            domain=[starts[i], starts[i] + spans[i]],
            anchor="y",
            title=dict(text="dim"),
            **_ticks(_index_labels(m.shape[1]), m.shape[1]),
        )
    titles = [
        dict(
            text=name,
            x=starts[i] + spans[i] / 2,
            y=1.0,
            xref="paper",
            yref="paper",
            xanchor="center",
            yanchor="bottom",
            showarrow=False,
            font=dict(size=16),
        )
        for i, name in enumerate(mats)
    ]
    return figure(
        traces,
        title=title,
        height=max(280, min(640, 110 + 30 * len(tokens))),
        margin=dict(l=10, r=10, t=70, b=10),
        annotations=titles,
        yaxis=dict(autorange="reversed", **_ticks(tokens, len(tokens))),
        **axes,
    )


def scores_row_heatmap(
    scores: torch.Tensor, tokens: Sequence[str], row: int, *, title: str = "Scores Q·Kᵀ"
) -> go.Figure:
    """scores (T, T) as ``scores_heatmap``, with query ``row`` outlined."""
    _validate.tensor("scores", scores, ndim=2)
    if not 0 <= row < scores.shape[0]:
        raise ValueError(f"row must be in [0, {scores.shape[0]}), got {row}")
    fig = scores_heatmap(scores, tokens, title=title)
    fig.add_shape(
        type="rect",
        x0=-0.5,
        x1=scores.shape[1] - 0.5,
        y0=row - 0.5,
        y1=row + 0.5,
        line=dict(color="#111827", width=3),
    )
    return fig


def query_row_figure(
    scores_row: torch.Tensor, key_tokens: Sequence[str], query_token: str, *, title: str | None = None
) -> go.Figure:
    """One query's scores against every key, scores_row (Lk,), as bars: blue > 0, red < 0."""
    _validate.tensor("scores_row", scores_row, ndim=1)
    bound = float(scores_row.detach().abs().max()) or 1.0
    return bar_figure(
        scores_row,
        key_tokens,
        y_title="score q·k",
        x_title="key",
        title=title or f"Row of '{query_token}': its score for each key",
        colors=["#2563eb" if s >= 0 else "#dc2626" for s in scores_row.tolist()],
        y_range=(-1.25 * bound, 1.25 * bound),
    )


SATURATION_METRICS = {  # name → (axis title, log y axis)
    "score_var": ("variance of the scores", True),
    "max_weight": ("largest weight in a row", False),
    "entropy": ("row entropy (nats)", False),
    "grad_norm": ("softmax gradient size", True),
}


def saturation_figure(
    result: SaturationResult, metric: str = "entropy", *, title: str | None = None
) -> go.Figure:
    """A ``softmax.SaturationResult``: one metric against d_k, without and with 1/√d_k scaling."""
    if not isinstance(result, SaturationResult):
        raise ValueError(
            f"result must be a SaturationResult (from softmax.saturation_experiment), "
            f"got {type(result).__name__}"
        )
    if metric not in SATURATION_METRICS:
        raise ValueError(f"metric must be one of {sorted(SATURATION_METRICS)}, got {metric!r}")
    y_title, log_y = SATURATION_METRICS[metric]
    d_k = list(result.d_k)
    fig = go.Figure(
        [
            go.Scatter(
                x=d_k,
                y=getattr(result, metric).numpy(),
                mode="lines+markers",
                name="QKᵀ (no scaling)",
                line=dict(color="#dc2626"),
            ),
            go.Scatter(
                x=d_k,
                y=getattr(result, "scaled_" + metric).numpy(),
                mode="lines+markers",
                name="QKᵀ / √d_k",
                line=dict(color="#2563eb"),
            ),
        ]
    )
    if metric == "entropy":
        fig.add_hline(
            y=float(np.log(result.length)),
            line_dash="dot",
            line_color="#6b7280",
            annotation_text=f"uniform over {result.length} keys",
            annotation_position="bottom right",
        )
    fig.update_layout(
        title=dict(text=title or f"{y_title} vs d_k", x=0.5),
        font=FONT,
        height=340,
        margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="h", x=0.5, xanchor="center", y=-0.25),
    )
    fig.update_xaxes(title="d_k (log scale)", type="log", tickvals=d_k, ticktext=[str(d) for d in d_k])
    fig.update_yaxes(
        title=y_title,
        type="log" if log_y else "linear",
        exponentformat="power" if log_y else None,
        range=[0, 1.12 * float(np.log(result.length))] if metric == "entropy" else None,
    )
    return fig


def entropy_figure(
    entropies: torch.Tensor, tokens: Sequence[str], n_keys: int, *, title: str = "How spread out is each row?"
) -> go.Figure:
    """entropies (T,), one per query row, as bars from 0 (one key) to log(n_keys) (uniform)."""
    _validate.tensor("entropies", entropies, ndim=1)
    top = float(np.log(max(n_keys, 2)))
    fig = bar_figure(entropies, tokens, title=title, y_title="entropy (nats)", y_range=(0, 1.3 * top))
    fig.add_hline(
        y=top,
        line_dash="dot",
        line_color="#6b7280",
        annotation_text="uniform (all keys equal)",
        annotation_position="top right",
    )
    fig.update_xaxes(title="query")
    return fig


# --- Chapters 05-06: multi-head attention; masking ---
# (this section's code goes right below this line; keep the sections apart)


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
    query_tokens = _labels("query_tokens", query_tokens, lq)
    key_tokens = _labels("key_tokens", key_tokens if key_tokens is not None else query_tokens, lk)
    marks = marks or {}
    cols = min(columns, len(heads))
    rows = -(-len(heads) // cols)
    # The layout is written out as one dict (not make_subplots + one update per panel):
    # plotly validates it once, which keeps a widget update fast.
    gap_x, gap_y = 0.03, min(0.12, 0.5 / rows)
    width, height = (1 - gap_x * (cols - 1)) / cols, (1 - gap_y * (rows - 1)) / rows
    z_all = weights.detach().float().cpu().numpy()
    small = dict(FONT, size=11 if max(lq, lk) <= 12 else 9)  # long sentences: smaller ticks
    traces, layout, titles = [], {}, []
    for n, i in enumerate(heads):
        r, c = divmod(n, cols)
        suffix = "" if n == 0 else str(n + 1)
        x0, y1 = c * (width + gap_x), 1 - r * (height + gap_y)
        traces.append(
            go.Heatmap(
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
        layout[f"xaxis{suffix}"] = dict(
            domain=[x0, min(1.0, x0 + width)],
            anchor=f"y{suffix}",
            tickangle=-60,
            tickfont=small,
            **_ticks(key_tokens, lk),
        )
        layout[f"yaxis{suffix}"] = dict(
            domain=[max(0.0, y1 - height), y1],
            anchor=f"x{suffix}",
            autorange="reversed",
            showticklabels=c == 0,
            tickfont=small,
            **_ticks(query_tokens, lq),
        )
        titles.append(
            dict(
                text=f"head {i}" + (f" ({marks[i]})" if i in marks else ""),
                x=x0 + width / 2,
                y=y1,
                xref="paper",
                yref="paper",
                showarrow=False,
                xanchor="center",
                yanchor="bottom",
                font=dict(FONT, size=13),
            )
        )
    fig = go.Figure(
        traces,
        layout=dict(
            layout,
            annotations=titles,
            title=dict(text=title, x=0.5),
            font=FONT,
            coloraxis=dict(
                colorscale="Blues", cmin=0.0, cmax=1.0, colorbar=dict(title="weight", thickness=12, len=0.8)
            ),
            margin=dict(l=10, r=10, t=70, b=10),
            height=90 + rows * (130 + 14 * max(lq, 6)),
        ),
    )
    return fig


def head_difference_figure(
    weights_a: torch.Tensor,
    weights_b: torch.Tensor,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str] | None = None,
    *,
    title: str = "Head A − head B",
) -> go.Figure:
    """Two heads' weights (Lq, Lk) → their difference A − B: red where A looks more, blue where B does."""
    _validate.tensor("weights_a", weights_a, ndim=2)
    _validate.tensor("weights_b", weights_b, ndim=2)
    if weights_a.shape != weights_b.shape:
        raise ValueError(
            f"weights_b must have the shape of weights_a {tuple(weights_a.shape)}, "
            f"got {tuple(weights_b.shape)}"
        )
    diff = (weights_a - weights_b).detach()
    bound = max(float(diff.abs().max()), 1e-6)
    return matrix_heatmap(
        diff,
        query_tokens,
        key_tokens or query_tokens,
        title=title,
        x_title="key (attended to)",
        y_title="query (attending)",
        colorscale="RdBu_r",
        zmin=-bound,
        zmax=bound,
        zmid=0.0,
        value_format="+.2f",
    )


def attention_cost_figure(cost, *, title: str = "Attention cost grows with length²") -> go.Figure:
    """A ``cost.AttentionCost`` → two log-log panels: time per call and peak memory, against L.

    Each panel has one line per path (weights stored vs fused kernel) and a dotted line
    growing exactly as L², anchored at the explicit path's longest measurement.
    """
    from plotly.subplots import make_subplots

    for name in ("lengths", "explicit_ms", "fused_ms", "explicit_bytes", "fused_bytes"):
        if not hasattr(cost, name):
            raise ValueError(
                f"cost must be an AttentionCost (from cost.measure_attention_cost), got {type(cost).__name__}"
            )
    lengths = list(cost.lengths)
    if not lengths:
        raise ValueError("cost must hold at least one measured length")
    fig = make_subplots(
        rows=1, cols=2, horizontal_spacing=0.14, subplot_titles=["time per call (ms)", "peak memory (MB)"]
    )
    colours = {"weights stored": "#dc2626", "fused kernel": "#2563eb"}
    panels = [
        (1, cost.explicit_ms, cost.fused_ms, 1.0, "ms"),
        (2, cost.explicit_bytes, cost.fused_bytes, 1e-6, "MB"),
    ]
    for col, explicit, fused, factor, unit in panels:
        for name, values in (("weights stored", explicit), ("fused kernel", fused)):
            fig.add_trace(
                go.Scatter(
                    x=lengths,
                    y=[v * factor for v in values],
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    line=dict(color=colours[name]),
                    hovertemplate=f"{name}<br>L = %{{x}}: %{{y:.3g}} {unit}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        anchor_l, anchor_v = lengths[-1], explicit[-1] * factor
        fig.add_trace(
            go.Scatter(
                x=lengths,
                y=[anchor_v * (n / anchor_l) ** 2 for n in lengths],
                mode="lines",
                name="∝ L²",
                legendgroup="L2",
                showlegend=col == 1,
                line=dict(color="#6b7280", dash="dot"),
                hoverinfo="skip",
            ),
            row=1,
            col=col,
        )
    fig.update_xaxes(type="log", title="sequence length L", tickvals=lengths)
    fig.update_yaxes(type="log", exponentformat="power", dtick=1)  # one tick per power of ten
    fig.update_layout(
        title=dict(text=title, x=0.5),
        font=FONT,
        height=380,
        margin=dict(l=10, r=10, t=70, b=10),
        legend=dict(orientation="h", x=0.5, xanchor="center", y=-0.25),
    )
    return fig


# --- Chapter 07: the full Transformer ---
# (this section's code goes right below this line; keep the sections apart)


def depth_figure(
    values: dict[str, torch.Tensor],
    *,
    title: str = "",
    y_title: str = "",
    x_title: str = "layer (1 = closest to the input)",
    log: bool = True,
) -> go.Figure:
    """One line per variant: ``values`` maps a name to a (N,) tensor, one value per layer."""
    if not isinstance(values, dict) or not values:
        raise ValueError("values must be a non-empty dict: name → (N,) tensor")
    for name, v in values.items():
        _validate.tensor(f"values[{name!r}]", v, ndim=1)
    fig = go.Figure(
        [
            go.Scatter(
                x=list(range(1, v.shape[0] + 1)),
                y=v.detach().double().cpu().numpy(),
                mode="lines+markers",
                marker=dict(size=5),
                name=name,
                hovertemplate=f"{name}<br>layer %{{x}}: %{{y:.3g}}<extra></extra>",
            )
            for name, v in values.items()
        ]
    )
    fig.update_layout(
        title=dict(text=title, x=0.5),
        font=FONT,
        height=360,
        margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="h", yanchor="top", y=-0.2, x=0.5, xanchor="center"),
    )
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title, type="log" if log else "linear", exponentformat="power")
    return fig


# --- Chapter 08: training and generation ---
# (this section's code goes right below this line; keep the sections apart)

LOSS_COLOUR, RAW_COLOUR = "#2563eb", "rgba(37, 99, 235, 0.25)"
REFERENT_COLOUR, DISTRACTOR_COLOUR, OTHER_COLOUR = "#15803d", "#ea580c", "#9ca3af"


def loss_curve_figure(
    steps: Sequence[int],
    losses: Sequence[float],
    *,
    smoothed: Sequence[float] | None = None,
    log_y: bool = False,
    title: str = "Training loss",
    total_steps: int | None = None,
) -> go.Figure:
    """Loss per step (faint) and its running mean (bold); ``total_steps`` fixes the x range."""
    if len(steps) != len(losses):
        raise ValueError(f"losses must have one value per step ({len(steps)}), got {len(losses)}")
    if smoothed is not None and len(smoothed) != len(losses):
        raise ValueError(f"smoothed must have one value per step ({len(steps)}), got {len(smoothed)}")
    traces = [
        go.Scatter(
            x=list(steps),
            y=list(losses),
            mode="lines",
            name="each step",
            line=dict(color=RAW_COLOUR, width=1),
            hovertemplate="step %{x}: %{y:.3f}<extra></extra>",
        )
    ]
    if smoothed is not None:
        traces.append(
            go.Scatter(
                x=list(steps),
                y=list(smoothed),
                mode="lines",
                name="running mean",
                line=dict(color=LOSS_COLOUR, width=2.5),
                hovertemplate="step %{x}: %{y:.3f}<extra></extra>",
            )
        )
    fig = go.Figure(traces)
    fig.update_layout(
        title=dict(text=title, x=0.5),
        font=FONT,
        height=320,
        margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="h", x=1, xanchor="right", y=1.0, yanchor="bottom"),
    )
    fig.update_xaxes(title="training step", range=[0, total_steps] if total_steps else None)
    fig.update_yaxes(
        title="loss" + (" (log scale)" if log_y else ""),
        type="log" if log_y else "linear",
        rangemode="tozero" if not log_y else None,
    )
    return fig


def pointer_figure(
    weights: torch.Tensor,
    tokens: Sequence[str],
    *,
    referent: int | None = None,
    distractor: int | None = None,
    source: int | None = None,
    title: str = 'Attention from "it"',
) -> go.Figure:
    """weights (L,): one attention row as bars over the words; the referent in green,
    the distractor in orange, the attending word (``source``) outlined."""
    _validate.tensor("weights", weights, ndim=1)
    tokens = _labels("tokens", tokens, weights.shape[0])
    for name, pos in (("referent", referent), ("distractor", distractor), ("source", source)):
        if pos is not None and not 0 <= pos < len(tokens):
            raise ValueError(f"{name} must be a position in [0, {len(tokens)}), got {pos}")
    colours = [
        REFERENT_COLOUR if i == referent else DISTRACTOR_COLOUR if i == distractor else OTHER_COLOUR
        for i in range(len(tokens))
    ]
    values = weights.detach().float().cpu()
    # Built as one dict by ``figure`` (no update_* passes): a widget redraws it on every step.
    return figure(
        [
            dict(
                type="bar",
                x=np.arange(len(tokens)),
                y=values.numpy(),
                marker=dict(
                    color=colours,
                    line=dict(
                        color=["#111827" if i == source else "rgba(0,0,0,0)" for i in range(len(tokens))],
                        width=2,
                    ),
                ),
                text=[f"{v:.2f}" if v >= 0.005 else "" for v in values.tolist()],
                textposition="outside",
                customdata=tokens,
                hovertemplate="%{customdata}: %{y:.3f}<extra></extra>",
            )
        ],
        title=title,
        height=320,
        yaxis=dict(range=[0, 1.12], title=dict(text="attention weight")),
        xaxis=dict(tickangle=-40, **_ticks(tokens, len(tokens))),
    )


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
    if len(steps) != len(values):
        raise ValueError(f"values must have one entry per step ({len(steps)}), got {len(values)}")
    scale = 100.0 if percent else 1.0
    marker = (
        []
        if current is None
        else [
            dict(  # what add_vline draws, written out
                type="line",
                x0=current,
                x1=current,
                xref="x",
                y0=0,
                y1=1,
                yref="y domain",
                line=dict(color="#111827", dash="dot"),
            )
        ]
    )
    return figure(
        [
            dict(
                type="scatter",
                x=list(steps),
                y=[v * scale for v in values],
                mode="lines+markers",
                line=dict(color=LOSS_COLOUR),
                marker=dict(size=6),
                hovertemplate="step %{x}: %{y:.1f}<extra></extra>",
            )
        ],
        title=title,
        height=320,
        showlegend=False,
        shapes=marker,
        xaxis=dict(title=dict(text="training step")),
        yaxis=dict(title=dict(text=y_title), range=[0, 105] if percent else None),
    )


def next_token_figure(
    probs: torch.Tensor,
    labels: Sequence[str],
    *,
    chosen: int | None = None,
    title: str = "Next-token probabilities",
) -> go.Figure:
    """probs (V,): one step's distribution over the vocabulary; the chosen token in green."""
    _validate.tensor("probs", probs, ndim=1)
    labels = _labels("labels", labels, probs.shape[0])
    if chosen is not None and not 0 <= chosen < len(labels):
        raise ValueError(f"chosen must be an id in [0, {len(labels)}), got {chosen}")
    values = probs.detach().float().cpu()
    return figure(
        [
            dict(
                type="bar",
                x=np.arange(len(labels)),
                y=values.numpy(),
                marker=dict(
                    color=[REFERENT_COLOUR if i == chosen else LOSS_COLOUR for i in range(len(labels))]
                ),
                text=[f"{v:.2f}" if v >= 0.01 else "" for v in values.tolist()],
                textposition="outside",
                customdata=labels,
                hovertemplate="%{customdata}: %{y:.3f}<extra></extra>",
            )
        ],
        title=title,
        height=320,
        yaxis=dict(range=[0, 1.12], title=dict(text="probability")),
        xaxis=dict(title=dict(text="next token"), **_ticks(labels, len(labels))),
    )


def generation_figure(
    probs: torch.Tensor,
    step_labels: Sequence[str],
    vocab_labels: Sequence[str],
    chosen: Sequence[int],
    *,
    title: str = "Each step's distribution",
) -> go.Figure:
    """probs (steps, V): one row per generation step; a ring marks the token chosen at each step."""
    _validate.tensor("probs", probs, ndim=2)
    if len(chosen) != probs.shape[0]:
        raise ValueError(f"chosen must have one id per step ({probs.shape[0]}), got {len(chosen)}")
    fig = matrix_heatmap(
        probs,
        step_labels,
        vocab_labels,
        title=title,
        x_title="next token",
        y_title="step: chosen",
        zmin=0.0,
        zmax=1.0,
        value_format=".1f",
    )
    fig.update_traces(texttemplate=None)
    fig.add_trace(
        go.Scatter(
            x=list(chosen),
            y=list(range(len(chosen))),
            mode="markers",
            marker=dict(symbol="circle-open", size=16, color=REFERENT_COLOUR, line=dict(width=3)),
            hoverinfo="skip",
            showlegend=False,
        )
    )
    return fig
