"""One value per word as bars: a row of scores, each row's entropy, where "it" looks, the next token
(and one group of bars per head: where each head looks).

Bars sit at positions 0 … N-1 labelled with the words (tickvals/ticktext), so repeated
words keep a bar each; a bar's colour says what its word is (``palette``'s roles).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from .. import _validate
from . import _args, themes
from .base import figure, hline, line_label, ticks
from .palette import (
    CHOSEN_COLOUR,
    DISTRACTOR_COLOUR,
    LOSS_COLOUR,
    NEGATIVE_COLOUR,
    OTHER_COLOUR,
    POSITIVE_COLOUR,
    REFERENT_COLOUR,
    TRANSPARENT,
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
    text_format: str = ".2f",
) -> go.Figure:
    """values (N,) as labelled bars (labels may repeat); ``colors``: one CSS colour per bar;
    ``text_format``: how the value printed above each bar is formatted."""
    values = _args.values("values", values, ndim=1)
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
        customdata=bar_labels,
        hovertemplate="%{customdata}: %{y:.3f}<extra></extra>",
    )
    if colors is not None:
        trace["marker"] = dict(color=colors)
    x_axis = dict(ticks(bar_labels, len(bar_labels)))
    if x_title:
        x_axis["title"] = dict(text=x_title)
    layout = dict(
        height=300,
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
    shares = _args.values("shares", shares, ndim=2)
    jobs = _args.labels("jobs", jobs, shares.shape[1])
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
            hovertemplate=f"%{{x}} → {job}: %{{y:.3f}}<extra></extra>",
        )
        for j, job in enumerate(jobs)
    ]
    return figure(
        traces,
        title=title,
        height=320,
        barmode="group",
        legend=dict(orientation="h", x=0.5, xanchor="center", y=-0.15),
        yaxis=dict(range=[0, 1.12], title=dict(text=y_title)),
    )


def query_row_figure(
    scores_row: torch.Tensor, key_tokens: Sequence[str], query_token: str, *, title: str | None = None
) -> go.Figure:
    """One query's scores against every key, scores_row (Lk,), as bars: blue > 0, red < 0."""
    scores_row = _args.values("scores_row", scores_row, ndim=1)
    key_tokens = _args.labels("key_tokens", key_tokens, scores_row.shape[0])
    _validate.text("query_token", query_token)
    bound = _args.largest(scores_row) or 1.0
    return bar_figure(
        scores_row,
        key_tokens,
        y_title="score q·k",
        x_title="key",
        title=title or f"Row of '{query_token}': its score for each key",
        colors=[POSITIVE_COLOUR if s >= 0 else NEGATIVE_COLOUR for s in scores_row.tolist()],
        y_range=(-1.25 * bound, 1.25 * bound),
    )


def entropy_figure(
    entropies: torch.Tensor, tokens: Sequence[str], n_keys: int, *, title: str = "How spread out is each row?"
) -> go.Figure:
    """entropies (T,), one per query row, as bars from 0 (one key) to log(n_keys) (uniform)."""
    entropies = _args.values("entropies", entropies, ndim=1)
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


def pointer_figure(
    weights: torch.Tensor,
    tokens: Sequence[str],
    *,
    referent: int | Sequence[int] | None = None,
    distractor: int | Sequence[int] | None = None,
    source: int | None = None,
    title: str = 'Attention from "it"',
) -> go.Figure:
    """weights (L,): one attention row as bars over the words; the referent in green,
    the distractor in orange, the attending word (``source``) outlined. ``referent`` and
    ``distractor`` are a position or several (every mention of a noun named twice)."""
    # Refused: NaN (a row that may attend to nothing) and negative weights.
    weights = _args.values("weights", weights, ndim=1, at_least=0.0)
    tokens = _args.labels("tokens", tokens, weights.shape[0])
    referents = _positions("referent", referent, len(tokens))
    distractors = _positions("distractor", distractor, len(tokens))
    source = None if source is None else _validate.position("source", source, len(tokens))
    colours = [
        REFERENT_COLOUR if i in referents else DISTRACTOR_COLOUR if i in distractors else OTHER_COLOUR
        for i in range(len(tokens))
    ]
    outlines = [themes.theme().ink if i == source else TRANSPARENT for i in range(len(tokens))]
    return _distribution_figure(
        weights,
        tokens,
        dict(color=colours, line=dict(color=outlines, width=2)),
        hide_below=0.005,
        title=title,
        y_title="attention weight",
        xaxis=dict(tickangle=-40),
    )


def _positions(name: str, value: object, n: int) -> set[int]:
    """None, a position, or a list of positions in [0, n) → the set of them."""
    if value is None:
        return set()
    if isinstance(value, torch.Tensor | np.ndarray) and value.ndim == 1:
        value = value.tolist()  # several positions (a one-element tensor is one position)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return {_validate.position(f"{name}[{k}]", v, n) for k, v in enumerate(value)}
    return {_validate.position(name, value, n)}


def next_token_figure(
    probs: torch.Tensor,
    labels: Sequence[str],
    *,
    chosen: int | None = None,
    title: str = "Next-token probabilities",
) -> go.Figure:
    """probs (V,): one step's distribution over the vocabulary; the chosen token stands out."""
    probs = _args.values("probs", probs, ndim=1, at_least=0.0)
    vocab = _args.labels("labels", labels, probs.shape[0])
    if chosen is not None:
        chosen = _validate.position("chosen", chosen, len(vocab))
    return _distribution_figure(
        probs,
        vocab,
        dict(color=[CHOSEN_COLOUR if i == chosen else LOSS_COLOUR for i in range(len(vocab))]),
        hide_below=0.01,
        title=title,
        y_title="probability",
        xaxis=dict(title=dict(text="next token")),
    )


def _distribution_figure(
    values: torch.Tensor,
    words: list[str],
    marker: dict,
    *,
    hide_below: float,
    title: str,
    y_title: str,
    xaxis: dict,
) -> go.Figure:
    """values (N,) in [0, 1] as bars over ``words``, each value printed above its bar from ``hide_below``."""
    values = values.detach().float().cpu()
    bars = dict(
        type="bar",
        x=np.arange(len(words)),
        y=values.numpy(),
        marker=marker,
        text=[f"{v:.2f}" if v >= hide_below else "" for v in values.tolist()],
        textposition="outside",
        # A slide squeezes the plot to ~90 px, and a full bar's value would then be cut by the
        # top of the plot area: it may run into the margin above.
        cliponaxis=False,
        customdata=words,
        hovertemplate="%{customdata}: %{y:.3f}<extra></extra>",
    )
    return figure(
        [bars],
        title=title,
        height=320,
        yaxis=dict(range=[0, 1.12], title=dict(text=y_title)),
        xaxis=dict(xaxis, **ticks(words, len(words))),
    )


def likeliest_tokens_figure(
    probs: torch.Tensor,
    labels: Sequence[str],
    *,
    chosen: int | None = None,
    true_probs: torch.Tensor | None = None,
    top: int = 12,
    title: str = "The likeliest next tokens",
    name: str = "model",
) -> go.Figure:
    """probs (V,): a model's next-token distribution, its ``top`` likeliest tokens as bars (the
    chosen one stands out); true_probs (V,): the distribution the data really has, drawn as a
    marker on each bar, so a reader sees where the model is over- or under-confident. The
    tokens shown are the ``top`` likeliest under either distribution, the chosen one always.
    ``name``: the bars' name in the legend and on hover (say so when they are the model's
    distribution reshaped by temperature, top-k or top-p)."""
    probs = _args.values("probs", probs, ndim=1, at_least=0.0)
    vocab = _args.labels("labels", labels, probs.shape[0])
    _validate.positive_int("top", top)
    if not isinstance(name, str):
        raise ValueError(f"name must be a str, got {type(name).__name__}")
    if chosen is not None:
        chosen = _validate.position("chosen", chosen, len(vocab))
    if true_probs is not None:
        true_probs = _args.values("true_probs", true_probs, ndim=1, at_least=0.0)
        if true_probs.shape != probs.shape:
            raise ValueError(
                f"true_probs must have the shape of probs {tuple(probs.shape)}, got {tuple(true_probs.shape)}"
            )
    probs = probs.detach().float().cpu()
    score = probs if true_probs is None else torch.maximum(probs, true_probs.detach().float().cpu())
    shown = score.topk(min(top, len(vocab))).indices.tolist()  # (top,) ids, likeliest first
    if chosen is not None and chosen not in shown:
        shown[-1] = chosen
    words = [vocab[i] for i in shown]
    colours = [CHOSEN_COLOUR if i == chosen else LOSS_COLOUR for i in shown]
    bars = dict(
        type="bar",
        name=name,
        x=np.arange(len(shown)),
        y=probs[shown].numpy(),
        marker=dict(color=colours),
        customdata=words,
        hovertemplate="%{customdata}: %{y:.3f}<extra>" + html.escape(name) + "</extra>",
    )
    # A value under 0.005 would read "0.00": left out, so that a row of them does not run together.
    labels = [f"{float(probs[i]):.2f}" if float(probs[i]) >= 0.005 else "" for i in shown]
    if true_probs is None:
        return _likeliest_layout([dict(bars, text=labels, textposition="outside")], words, title, False)
    truth = true_probs.detach().float().cpu()[shown]  # (top,)
    marks = dict(
        type="scatter",
        mode="markers",
        name="the stories' own probability",
        x=np.arange(len(shown)),
        y=truth.numpy(),
        marker=dict(symbol="line-ew-open", size=28, line=dict(width=3, color=themes.theme().ink)),
        customdata=words,
        hovertemplate="%{customdata}: stories %{y:.3f}<extra></extra>",
    )
    # The model's value sits above the bar and the mark alike: written just above the bar,
    # a mark a little higher (0.45 against 0.5) would strike it through; and a little above
    # the higher of the two (0.03 of the 0–1.15 axis, about 5 px), clear of the mark's stroke.
    values = dict(
        type="scatter",
        mode="text",
        x=np.arange(len(shown)),
        y=(torch.maximum(probs[shown], truth) + 0.03).numpy(),
        text=labels,
        textposition="top center",
        showlegend=False,
        hoverinfo="skip",
    )
    return _likeliest_layout([bars, marks, values], words, title, True)


def _likeliest_layout(traces: list[dict], words: list[str], title: str, legend: bool) -> go.Figure:
    return figure(
        traces,
        title=title,
        height=320,
        showlegend=legend,
        # Inside the plot, top right, where the least likely of the tokens shown stand low:
        # above the plot it ran into the title as soon as the figure was narrow (a slide).
        legend=dict(x=1, xanchor="right", y=1, yanchor="top", bgcolor=TRANSPARENT),
        yaxis=dict(range=[0, 1.15], title=dict(text="probability")),
        xaxis=dict(title=dict(text="next token"), tickangle=-30, **ticks(words, len(words))),
    )
