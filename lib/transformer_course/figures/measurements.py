"""What an experiment measured, against a size on a log axis: two variants and a reference.

``saturation_figure`` draws ``softmax.saturation_experiment``'s result, and
``attention_cost_figure`` ``cost.measure_attention_cost``'s. The figures read those
results by their fields (the protocols below) and never import the modules that
compute them: figures stay a layer of pictures, above the maths and independent of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import plotly.graph_objects as go
import torch

from . import _args, themes
from .base import FOOT_LEGEND, figure, hline, line_label, log_ticks, panel_title, require_fields, side_by_side
from .palette import EXPLICIT_COLOUR, FUSED_COLOUR, SCALED_COLOUR, UNSCALED_COLOUR

SATURATION_METRICS = {  # name → (axis title, log y axis)
    "score_var": ("variance of the scores", True),
    "max_weight": ("largest weight in a row", False),
    "entropy": ("row entropy (nats)", False),
    "grad_norm": ("softmax gradient size", True),
}


SATURATION_HEIGHT = 340
# Its plot's height in px: the figure's less the title above and the d_k axis and legend
# below, as drawn on a slide (16 px text, where they take the most room).
SATURATION_PLOT_HEIGHT = 180


class SaturationLike(Protocol):
    """The fields of a ``softmax.SaturationResult`` the figure reads (each metric: one value per d_k)."""

    d_k: Sequence[int]
    length: int  # keys per row: uniform weights have entropy log(length)
    entropy: torch.Tensor  # and score_var, max_weight, grad_norm; each also as scaled_<metric>
    scaled_entropy: torch.Tensor


class AttentionCostLike(Protocol):
    """The fields of a ``cost.AttentionCost`` the figure reads, aligned with ``lengths``."""

    lengths: Sequence[int]
    explicit_ms: Sequence[float]
    fused_ms: Sequence[float]
    explicit_bytes: Sequence[int]
    fused_bytes: Sequence[int]


def saturation_figure(
    result: SaturationLike, metric: str = "entropy", *, title: str | None = None
) -> go.Figure:
    """A ``softmax.SaturationResult``: one metric against d_k, without and with 1/√d_k scaling."""
    fields = ("d_k", "length", *SATURATION_METRICS, *(f"scaled_{m}" for m in SATURATION_METRICS))
    require_fields("result", result, fields, "a SaturationResult (from softmax.saturation_experiment)")
    if not isinstance(metric, str) or metric not in SATURATION_METRICS:
        raise ValueError(f"metric must be one of {sorted(SATURATION_METRICS)}, got {metric!r}")
    _args.title(title)
    y_title, log_y = SATURATION_METRICS[metric]
    d_k = list(result.d_k)
    variants = (
        ("QKᵀ (no scaling)", metric, UNSCALED_COLOUR),
        ("QKᵀ / √d<sub>k</sub>", f"scaled_{metric}", SCALED_COLOUR),
    )
    traces = [
        dict(
            type="scatter",
            x=d_k,
            y=torch.as_tensor(getattr(result, field)).detach().cpu().numpy(),
            mode="lines+markers",
            name=name,
            line=dict(color=colour),
        )
        for name, field, colour in variants
    ]
    extras, y_axis = {}, dict(title=dict(text=y_title), type="log" if log_y else "linear")
    if log_y:
        y_axis["exponentformat"] = "power"
        drawn = [float(v) for t in traces for v in np.ravel(np.asarray(t["y"], dtype=np.float64))]
        y_axis.update(log_ticks(drawn, length=SATURATION_PLOT_HEIGHT))
    if metric == "entropy":  # the most spread out a row can be: uniform over the keys
        uniform = math.log(result.length)
        y_axis["range"] = [0, 1.12 * uniform]
        extras = dict(
            shapes=[hline(uniform)],
            annotations=[line_label(uniform, f"uniform over {result.length} keys", above=False)],
        )
    return figure(
        traces,
        title=title or f"{y_title} vs dₖ",  # a title is escaped: no <sub> there
        height=SATURATION_HEIGHT,
        legend=FOOT_LEGEND,
        xaxis=dict(
            title=dict(text="d<sub>k</sub> (log scale)"),
            type="log",
            tickvals=d_k,
            ticktext=[str(d) for d in d_k],
        ),
        yaxis=y_axis,
        **extras,
    )


def _measured(cost: AttentionCostLike, fields: Sequence[str]) -> tuple[list[float], dict[str, list[float]]]:
    """``cost``'s lengths, and each of its other ``fields`` as one number per length."""
    lengths = _args.numbers("cost.lengths", cost.lengths, finite=True).tolist()
    if not lengths:
        raise ValueError("cost must hold at least one measured length, got cost.lengths = []")
    measured = {}
    for field in fields[1:]:
        measured[field] = _args.numbers(f"cost.{field}", getattr(cost, field)).tolist()
        if len(measured[field]) != len(lengths):
            raise ValueError(
                f"cost.{field} must have one value per length ({len(lengths)}), got {len(measured[field])}"
            )
    return lengths, measured


def attention_cost_figure(
    cost: AttentionCostLike, *, title: str = "Attention cost grows with length²"
) -> go.Figure:
    """A ``cost.AttentionCost`` → two log-log panels: time per call and peak memory, against L.

    Each panel has one line per path (weights stored vs fused kernel) and a dotted line
    growing exactly as L², anchored at the explicit path's longest measurement.
    """
    fields = ("lengths", "explicit_ms", "fused_ms", "explicit_bytes", "fused_bytes")
    require_fields("cost", cost, fields, "an AttentionCost (from cost.measure_attention_cost)")
    lengths, measured = _measured(cost, fields)
    panels = [
        ("time per call (ms)", measured["explicit_ms"], measured["fused_ms"], 1.0, "ms"),
        ("peak memory (MB)", measured["explicit_bytes"], measured["fused_bytes"], 1e-6, "MB"),
    ]
    domains = side_by_side([1, 1], 0.14)
    traces, axes = [], {}
    for n, (_, explicit, fused, factor, unit) in enumerate(panels):
        suffix = "" if n == 0 else str(n + 1)
        on_panel = dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}", showlegend=n == 0)
        for name, values, colour in (
            ("weights stored", explicit, EXPLICIT_COLOUR),
            ("fused kernel", fused, FUSED_COLOUR),
        ):
            traces.append(
                dict(
                    type="scatter",
                    x=lengths,
                    y=[v * factor for v in values],
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    line=dict(color=colour),
                    hovertemplate=f"{name}<br>L = %{{x}}: %{{y:.3g}} {unit}<extra></extra>",
                    **on_panel,
                )
            )
        anchor_l, anchor_v = lengths[-1], explicit[-1] * factor
        traces.append(
            dict(
                type="scatter",
                x=lengths,
                y=[anchor_v * (length / anchor_l) ** 2 for length in lengths],
                mode="lines",
                name="∝ L²",
                legendgroup="L2",
                line=dict(color=themes.theme().muted, dash="dot"),
                hoverinfo="skip",
                **on_panel,
            )
        )
        axes[f"xaxis{suffix}"] = dict(
            domain=domains[n],
            anchor=f"y{suffix}",
            type="log",
            title=dict(text="sequence length L"),
            tickvals=lengths,
        )
        # One tick per power of ten.
        axes[f"yaxis{suffix}"] = dict(
            anchor=f"x{suffix}", domain=[0.0, 1.0], type="log", exponentformat="power", dtick=1
        )
    return figure(
        traces,
        title=title,
        height=380,
        margin=dict(l=10, r=10, t=70, b=10),
        legend=FOOT_LEGEND,
        annotations=[panel_title(p[0], sum(d) / 2) for p, d in zip(panels, domains)],
        **axes,
    )
