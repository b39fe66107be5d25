"""One value per word as bars: a row of scores, each row's entropy (and one group of bars per
head: where each head looks). A distribution over the words (where "it" looks, the next token) is
drawn by ``distributions``.

Bars sit at positions 0 … N-1 labelled with the words (tickvals/ticktext), so repeated
words keep a bar each; a bar's colour says what its word is (``palette``'s roles).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from .. import _validate
from . import _args
from .base import VALUE_TEXT, as_text, figure, hline, hover_labels, line_label, ticks
from .palette import NEGATIVE_COLOUR, POSITIVE_COLOUR


def bar_figure(
    values: torch.Tensor,
    labels: Sequence[str],
    *,
    title: str = "",
    y_title: str = "",
    y_range: tuple[float, float] | None = None,
    x_title: str = "",
    colors: Sequence[str] | None = None,
    text_format: str = ".2f",
) -> go.Figure:
    """values (N,) as labelled bars (labels may repeat); ``colors``: one CSS colour per bar;
    ``text_format``: how the value printed above each bar is formatted."""
    values = _args.values("values", values, ndim=1, most=_args.MAX_BARS)
    trace, layout = _bar_parts(
        values,
        _args.labels("labels", labels, values.shape[0]),
        y_title=y_title,
        y_range=y_range,
        x_title=x_title,
        colors=colors,
        text_format=text_format,
    )
    return figure([trace], title=title, **layout)


def _bar_parts(
    values, bar_labels, *, y_title, y_range, x_title, colors, text_format=".2f"
) -> tuple[dict, dict]:
    """``bar_figure``'s trace and layout keywords, unbuilt, from checked values (N,) and N labels."""
    _args.text("x_title", x_title)
    _args.text("y_title", y_title)
    y_range = _args.value_range("y_range", y_range)
    colors = _args.colours("colors", colors, values.shape[0])
    try:
        format(0.0, text_format)
    except (TypeError, ValueError):
        raise ValueError(
            f"text_format must be a format spec for a number, e.g. '.2f', got {text_format!r}"
        ) from None
    trace = dict(
        type="bar",
        x=np.arange(len(bar_labels)),
        y=values.detach().cpu().numpy(),
        text=[format(v, text_format) for v in values.tolist()],
        textposition="outside",
        cliponaxis=False,  # a value over a bar near the top stays whole when a slide shrinks the plot
        customdata=hover_labels(bar_labels),  # a learner's "<b>" shown as typed
        hovertemplate="%{customdata}: %{y:.3f}<extra></extra>",
    )
    if colors is not None:
        trace["marker"] = dict(color=colors)
    x_axis = dict(ticks(bar_labels, len(bar_labels)))
    if x_title:
        x_axis["title"] = dict(text=x_title)
    layout = dict(
        height=300,
        uniformtext=VALUE_TEXT,  # a value too wide for its bar at 12 px is hidden, not shrunk
        xaxis=x_axis,
        yaxis=dict(title=dict(text=y_title), range=y_range),
    )
    return trace, layout


def head_jobs_figure(
    shares: torch.Tensor,
    jobs: Sequence[str],
    *,
    title: str = "Where each head looks",
    y_title: str = "mean attention weight",
) -> go.Figure:
    """shares (h, J): for each head, the weight it puts on each of J targets (``jobs``), as
    one group of bars per head, one colour per target."""
    # Shares of a head's weight, on a fixed 0–1.12 axis: above 1 a bar ran off its top, below 0
    # it vanished under the axis, and NaN printed "nan".
    shares = _args.probabilities(
        "shares", shares, ndim=2, most=_args.MAX_BARS, note=" (shares of a head's weight)"
    )
    jobs = _args.labels("jobs", jobs, shares.shape[1])
    _args.text("y_title", y_title)
    values = shares.detach().float().cpu()
    heads = [f"head {i}" for i in range(values.shape[0])]
    traces = [
        dict(
            type="bar",
            x=heads,
            y=values[:, j].numpy(),
            name=job,
            text=[f"{v:.2f}" for v in values[:, j].tolist()],
            textposition="outside",
            cliponaxis=False,  # chapter 05's "0.99" was cut in half on a slide
            hovertemplate=f"%{{x}} → {as_text(job)}: %{{y:.3f}}<extra></extra>",
        )
        for j, job in enumerate(jobs)
    ]
    return figure(
        traces,
        title=title,
        height=320,
        barmode="group",
        # Bars of a group touched, and so did their values ("0.660.68"): a value is fitted
        # to its bar, so a gap between the bars keeps one between the values.
        bargroupgap=0.15,
        uniformtext=VALUE_TEXT,  # a group of narrow bars: values hidden rather than shrunk
        legend=dict(orientation="h", x=0.5, xanchor="center", y=-0.15),
        yaxis=dict(range=[0, 1.12], title=dict(text=y_title)),
    )


def query_row_figure(
    scores_row: torch.Tensor, key_tokens: Sequence[str], query_token: str, *, title: str | None = None
) -> go.Figure:
    """One query's scores against every key, scores_row (Lk,), as bars: blue > 0, red < 0."""
    scores_row = _args.values("scores_row", scores_row, ndim=1, most=_args.MAX_BARS)
    key_tokens = _args.labels("key_tokens", key_tokens, scores_row.shape[0])
    _validate.text("query_token", query_token)
    _args.title(title)
    bound = _args.largest(scores_row) or 1.0
    trace, layout = _bar_parts(
        scores_row,
        key_tokens,
        y_title="score q·k",
        x_title="key",
        colors=[POSITIVE_COLOUR if s >= 0 else NEGATIVE_COLOUR for s in scores_row.tolist()],
        y_range=(-1.25 * bound, 1.25 * bound),
    )
    # A value written past the end of a long negative bar sat on the word under the axis
    # (chapter 03's slide: "-0.40" on "cat"). Such a bar, at least a third of the longest,
    # carries its value inside its end (plotly picks the colour that reads on the bar); a
    # shorter one ends far above the axis and keeps it below.
    inside = [float(s) <= -bound / 3 for s in scores_row.tolist()]
    trace.update(
        textposition=["inside" if i else "outside" for i in inside],
        insidetextanchor="end",
        textangle=0,  # level, as outside: plotly turns inside text on end in a narrow bar
    )
    return figure([trace], title=title or f"Row of '{query_token}': its score for each key", **layout)


def entropy_figure(
    entropies: torch.Tensor, tokens: Sequence[str], n_keys: int, *, title: str = "How spread out is each row?"
) -> go.Figure:
    """entropies (T,), one per query row, as bars from 0 (one key) to log(n_keys) (uniform)."""
    entropies = _args.values("entropies", entropies, ndim=1, most=_args.MAX_BARS)
    tokens = _args.labels("tokens", tokens, entropies.shape[0])
    top = math.log(_validate.positive_int("n_keys", n_keys))  # 0 for one key: it takes all the weight
    trace, layout = _bar_parts(
        entropies,
        tokens,
        y_title="entropy (nats)",
        y_range=(0, 1.3 * max(top, math.log(2))),
        x_title="query",
        colors=None,
    )
    # Rows near uniform end just under its line: a value written above such a bar sat on the
    # line and under its label (chapter 04's slide). Inside the top of a bar of at least a
    # third of the line's height (plotly picks the colour that reads on the bar), above a
    # shorter one, which ends far below the line (a bar of 0 still shows its 0.00).
    tall = [float(v) >= max(top, math.log(2)) / 3 for v in entropies.tolist()]
    trace.update(
        textposition=["inside" if t else "outside" for t in tall],
        insidetextanchor="end",
        textangle=0,  # level, as outside: plotly turned them on end in a slide's narrow bars
    )
    uniform = line_label(top, "uniform (all keys equal)", above=True)
    return figure([trace], title=title, shapes=[hline(top)], annotations=[uniform], **layout)
