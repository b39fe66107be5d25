"""One distribution as bars on a 0–1 axis: where "it" looks (``pointer_figure``), the next token
(``next_token_figure``), and the likeliest next tokens against the data's own probabilities
(``likeliest_tokens_figure``).

As in ``bars``, bars sit at positions 0 … N-1 labelled with the words (tickvals/ticktext), so
repeated words keep a bar each; a bar's colour says what its word is (``palette``'s roles: the
referent, the distractor, the chosen token).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from .. import _validate
from . import _args, themes
from .base import LEGEND_ROW_PX, TITLE_ROOM, VALUE_TEXT, figure, head_legend, hover_labels, ticks
from .palette import (
    CHOSEN_COLOUR,
    DISTRACTOR_COLOUR,
    LOSS_COLOUR,
    OTHER_COLOUR,
    REFERENT_COLOUR,
    TRANSPARENT,
)


def pointer_figure(
    weights: torch.Tensor,
    tokens: Sequence[str],
    *,
    referent: int | Sequence[int] | None = None,
    distractor: int | Sequence[int] | None = None,
    source: int | None = None,
    title: str = 'Attention from "it"',
    mark_words: bool = False,
    top: float = 1.12,
) -> go.Figure:
    """weights (L,): one attention row as bars over the words; the referent in green,
    the distractor in orange, the attending word (``source``) outlined. ``referent`` and
    ``distractor`` are a position or several (every mention of a noun named twice).
    ``mark_words``: the words along the axis take the same roles, in bold: the referent's
    and the distractor's in their bars' colours, the source's underlined; so they are found
    where their bars are 0 (a trained head's distractor) or a hairline (the source).
    ``top``: where the 0–1 axis ends, the room above a full bar for its value (a plot only
    about 100 px tall, as in an explorer's row on a slide, needs more than the default)."""
    # Refused: NaN (a row that may attend to nothing), negative weights, and weights above 1 or
    # summing to more than 1 (scores, not weights: bars off the top of the fixed 0–1.12 axis).
    weights = _args.probabilities(
        "weights",
        weights,
        ndim=1,
        most=_args.MAX_BARS,
        note=" (one row of attention weights)",
        distribution=True,
    )
    tokens = _args.labels("tokens", tokens, weights.shape[0])
    referents = _positions("referent", referent, len(tokens))
    distractors = _positions("distractor", distractor, len(tokens))
    if referents & distractors:  # one bar cannot be both: it took the referent's colour alone
        raise ValueError(
            f"distractor must name positions other than the referent's, got {min(referents & distractors)} "
            "in both"
        )
    source = None if source is None else _args.position("source", source, len(tokens))
    _validate.boolean("mark_words", mark_words)
    top = _validate.finite_number("top", top, at_least=1.05, at_most=2)
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
        xaxis=dict(FITTED_TICKS, **(_marked_words(tokens, colours, source) if mark_words else {})),
        top=top,
    )


def _marked_words(tokens: list[str], colours: list[str], source: int | None) -> dict:
    """The axis's words (``ticks``), the referent's and the distractor's in bold in their bars'
    colours, the source's bold and underlined; the others as they are. Nothing marked where
    there are too many words to label each (``ticks`` leaves them to plotly)."""
    spec = ticks(tokens, len(tokens))
    if "ticktext" not in spec:
        return spec
    text = []
    for i, word in enumerate(spec["ticktext"]):  # escaped already: a word "<b>" stays as typed
        if colours[i] in (REFERENT_COLOUR, DISTRACTOR_COLOUR):
            word = f'<span style="color:{colours[i]}"><b>{word}</b></span>'
        elif i == source:
            word = f"<b><u>{word}</u></b>"
        text.append(word)
    return dict(spec, ticktext=text)


# Words under bars stand upright where they fit and slant only where they would run together:
# plotly measures them as drawn (a slide's 16 px text, a 400 px page) and takes the first of
# these angles at which they do not overlap, and automargin makes room below for a slant. A
# fixed slant tilted eleven short words that had room on a slide (chapter 08's pointer).
FITTED_TICKS = dict(autotickangles=[0, -40, -90], automargin=True)
TALL_TICKS = dict(tickvals=[0, 0.5, 1])  # an axis taller than 1.12: no tick above the bars


def _positions(name: str, value: object, n: int) -> set[int]:
    """None, a position, or a list of positions in [0, n) → the set of them."""
    if value is None:
        return set()
    if isinstance(value, torch.Tensor) and value.is_meta:
        raise ValueError(f"{name} must hold data, got a meta tensor of shape {tuple(value.shape)}")
    if isinstance(value, torch.Tensor | np.ndarray) and value.ndim == 1:
        value = value.tolist()  # several positions (a one-element tensor is one position)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return {_validate.position(f"{name}[{k}]", v, n) for k, v in enumerate(value)}
    return {_args.position(name, value, n)}


def next_token_figure(
    probs: torch.Tensor,
    labels: Sequence[str],
    *,
    chosen: int | None = None,
    title: str = "Next-token probabilities",
) -> go.Figure:
    """probs (V,): one step's distribution over the vocabulary; the chosen token stands out."""
    # On a fixed 0–1.12 axis: a probability above 1 (a count, exp(logits)) drew a bar off its top.
    probs = _probabilities("probs", probs, most=_args.MAX_BARS)
    vocab = _args.labels("labels", labels, probs.shape[0])
    if chosen is not None:
        chosen = _args.position("chosen", chosen, len(vocab))
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
    top: float = 1.12,
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
        customdata=hover_labels(words),
        hovertemplate="%{customdata}: %{y:.3f}<extra></extra>",
    )
    return figure(
        [bars],
        title=title,
        height=320,
        uniformtext=VALUE_TEXT,  # 31 bars on a slide: values that do not fit are hidden, not shrunk
        # a taller room above the bars gets ticks at 0, 0.5, 1 only: none up there (1.2, 1.3)
        yaxis=dict(range=[0, top], title=dict(text=y_title), **({} if top == 1.12 else TALL_TICKS)),
        xaxis=dict(ticks(words, len(words)), **xaxis),  # the caller's own words (marked) first
    )


# The model's legend entry in its bars' own colour. Plotly paints the swatch of bars coloured
# one by one with the first bar's colour (vermillion when the chosen token is the likeliest),
# unless the marker has a colour scale: then with the scale's colour halfway between cmin and
# cmax. A scale of that one colour gives the swatch; the bars keep their named colours (plotly
# draws a colour name as it is, and only maps numbers through the scale).
NEUTRAL_SWATCH = dict(colorscale=[[0, LOSS_COLOUR], [1, LOSS_COLOUR]], cmin=0, cmax=1, showscale=False)


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
    probs = _probabilities("probs", probs)
    vocab = _args.labels("labels", labels, probs.shape[0])
    _validate.positive_int("top", top)
    if not isinstance(name, str):
        raise ValueError(f"name must be a str, got {type(name).__name__}")
    if chosen is not None:
        chosen = _args.position("chosen", chosen, len(vocab))
    if true_probs is not None:
        true_probs = _probabilities("true_probs", true_probs)
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
        marker=dict(color=colours, **NEUTRAL_SWATCH),
        customdata=hover_labels(words),
        hovertemplate="%{customdata}: %{y:.3f}<extra>" + html.escape(name) + "</extra>",
    )
    # A value under 0.005 would read "0.00": left out, so that a row of them does not run together.
    labels = [f"{float(probs[i]):.2f}" if float(probs[i]) >= 0.005 else "" for i in shown]
    key = [] if chosen is None else [dict(CHOSEN_KEY, yshift=0)]
    if true_probs is None:
        bars.update(text=labels, textposition="outside", cliponaxis=False)
        return _likeliest_layout([bars], words, title, key)
    truth = true_probs.detach().float().cpu()[shown]  # (top,)
    ink = themes.theme().ink
    marks = dict(
        type="scatter",
        mode="markers",
        name="the stories' own probability",
        x=np.arange(len(shown)),
        y=truth.numpy(),
        # The page's ink, as the line's stroke: left to the colorway, an open symbol took its
        # second colour, the chosen bar's vermillion, and vanished on that bar.
        marker=dict(symbol="line-ew-open", size=28, color=ink, line=dict(width=3, color=ink)),
        customdata=hover_labels(words),
        hovertemplate="%{customdata}: stories %{y:.3f}<extra></extra>",
    )
    # The model's value sits above the bar and the mark alike: written just above the bar,
    # a mark a little higher (0.45 against 0.5) would strike it through; and a little above
    # the higher of the two (0.03 of the 0–1.15 axis, about 5 px), clear of the mark's stroke.
    # Written by an unseen bar that reaches there, over the model's own (barmode "overlay"),
    # not as text of its own: plotly fits a bar's value to the bar's width, or hides it
    # (``VALUE_TEXT``), where free text ran into its neighbours ("0.010.010.01", a slide).
    values = dict(
        type="bar",
        x=np.arange(len(shown)),
        y=(torch.maximum(probs[shown], truth) + 0.03).numpy(),
        width=0.8,  # a value is fitted to this width: a fifth of each slot stays between two
        marker=dict(color=TRANSPARENT),
        text=labels,
        textposition="outside",
        cliponaxis=False,
        showlegend=False,
        hoverinfo="skip",
    )
    return _likeliest_layout([bars, marks, values], words, title, key)


def _probabilities(name: str, x: object, most: int = _args.MAX_VALUES) -> torch.Tensor:
    """x (V,): one distribution over the vocabulary, each value in [0, 1], summing to at most 1.
    The bars stand on a fixed 0–1.15 axis: counts or exp(logits) (5, 3, 1) ran off its top
    without a word, and sigmoids (each below 1, summing to 2.4) drew as a distribution."""
    return _args.probabilities(
        name, x, ndim=1, most=most, note=" (a softmax of the logits)", distribution=True
    )


# What the chosen token's colour means, at the right above the plot (where there is a legend,
# inside the plot's top right corner: ``_likeliest_layout``). The legend's one bar entry,
# "model", has the blue of the other bars (NEUTRAL_SWATCH), and the explorer's one tall bar, in
# vermillion, stood under a legend that named only blue. A note, not a legend entry: an entry
# needs a trace of its own, and the figure's traces are its bars, its marks and its values.
CHOSEN_KEY = dict(
    text=f'<span style="color:{CHOSEN_COLOUR}">■</span> chosen',
    xref="paper",
    yref="paper",
    x=1,
    y=1.02,
    xanchor="right",
    yanchor="bottom",
    showarrow=False,
)

# The y axis's top with a legend, where a value is written 0.03 above the higher of the bar
# and the mark: a full bar's "1.00" ran 2 px past the plot's top on the story explorer's slide,
# whose legend wraps onto two rows (a plot 130 px tall; 0.12 of 1.15 left it 16 px).
LEGEND_TOP = 1.2
# The y axis's labels: probabilities, none above 1 (up to 1.2 plotly labelled 1.2 on a slide).
PROBABILITY_TICKS = dict(tickmode="array", tickvals=[0, 0.5, 1])

# The figure's height with a legend: room for two rows of names under the title, which the
# names wrap onto where the figure is narrow (the story explorer's, about 400 px on a slide);
# plotly sets aside above the plot the rows they take, one where the figure is wide.
LIKELIEST_HEIGHT = 320 + 2 * LEGEND_ROW_PX


def _likeliest_layout(traces: list[dict], words: list[str], title: str, key: list[dict]) -> go.Figure:
    """The bar chart's layout: a legend of the bars' and the marks' names in a row under the
    title where there are marks (the stories' own probabilities); ``key``: the chosen colour's
    note (CHOSEN_KEY) at the right, level with the legend's row, or none."""
    legend = len(traces) > 1
    height = LIKELIEST_HEIGHT if legend else 320
    # With a legend, the note inside the plot, in its top right corner: the bars stand likeliest
    # first, so those under it are the least likely (half the height at most, past the first),
    # and their values sit low. Level with the legend's row, at its right, it ran into the row's
    # second entry where a narrow figure (the story explorer's on a slide) wrapped it.
    if legend:
        key = [dict(k, y=1, yanchor="top") for k in key]
    # One row under the title, from the left: one entry a row, the two rows and the note took
    # 100 px of a slide's 220 px figure (chapter 09's "One step, up close"), leaving the bars
    # 90. Anchored to the figure (head_legend), its rows are set aside above the plot where a
    # figure too narrow for one row wraps it. Inside the plot, top right, a legend covered the
    # value of a tall bar there.
    placed = dict(x=0, xanchor="left", bgcolor=TRANSPARENT)
    return figure(
        traces,
        title=title,
        title_at_top=True,
        annotations=key,
        height=height,
        showlegend=legend,
        legend=head_legend(height, **placed) if legend else None,
        margin=dict(l=10, r=10, t=TITLE_ROOM if legend else 50, b=10),
        barmode="overlay",  # the bar that writes a value lies over the model's bar, not beside it
        uniformtext=VALUE_TEXT,
        yaxis=dict(
            range=[0, LEGEND_TOP if legend else 1.15], title=dict(text="probability"), **PROBABILITY_TICKS
        ),
        xaxis=dict(title=dict(text="next token"), **FITTED_TICKS, **ticks(words, len(words))),
    )
