"""One matrix as a heatmap: attention weights, scores, masks, vectors, similarities.

Every figure here is ``matrix_heatmap`` with the colour scale, range and axis titles
that suit what the matrix holds; ``heatmap_parts`` gives its trace and layout to
figures that draw something over the matrix (an outlined row, a ring per row); both live
in ``matrix``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from .. import _validate
from . import _args, themes
from .base import figure, label_list
from .matrix import heatmap_parts, matrix_heatmap, with_masked_cells
from .palette import CHOSEN_COLOUR, DIVERGING, DIVERGING_REVERSED, MASK_ALLOWED, TRANSPARENT


def attention_heatmap(
    weights: torch.Tensor,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str] | None = None,
    *,
    title: str = "Attention weights",
    mask: torch.Tensor | None = None,
    masked_legend: bool = True,
) -> go.Figure:
    """weights (Lq, Lk), each row a query's distribution over the keys → heatmap in [0, 1].
    ``key_tokens``: the words of the keys, when they are not the queries' (cross-attention).
    ``mask``: the bool mask (Lq, Lk) the weights were computed with, True = may attend; its
    blocked cells are drawn in the masked grey (``palette.MASKED_COLOUR``) with a "0", named in a
    legend, so that a masked weight is not taken for a small one (both print as 0.00).
    ``masked_legend=False``: no legend, where the title names the grey (an explorer's panel a
    third of a slide wide: the legend's row took the height its numbers needed)."""
    weights = _args.values("weights", weights, ndim=2)  # NaN allowed: a row that attends to nothing
    # Named here: matrix_heatmap's own check named its argument, "values", which the caller never wrote.
    _args.no_infinity("weights", weights, ": masked scores (-inf) draw with figures.scores_heatmap")
    _validate.boolean("masked_legend", masked_legend)
    query_tokens, key_tokens = _token_labels(weights, query_tokens, key_tokens)
    if mask is None:
        return matrix_heatmap(weights, query_tokens, key_tokens, title=title, **_WEIGHT_AXES)
    blocked = ~_mask_of(mask, weights)  # (Lq, Lk), True = masked
    # The weights as they are, masked zeros included (the grey layer covers them): the figure's
    # data is still the weights a reader (or a test) takes from it.
    trace, layout = heatmap_parts(weights, query_tokens, key_tokens, **_WEIGHT_AXES)
    return with_masked_cells(
        trace, layout, blocked.numpy(), text="0", name="masked (weight 0)", title=title, legend=masked_legend
    )


# What the axes of attention weights say, with a mask or without.
_WEIGHT_AXES = dict(
    x_title="key (attended to)", y_title="query (attending)", zmin=0.0, zmax=1.0, value_name="weight"
)


def _mask_of(mask: object, matrix: torch.Tensor) -> torch.Tensor:
    """``mask``, a bool tensor of ``matrix``'s shape (Lq, Lk), on the CPU; else ValueError naming it."""
    _args.stored("mask", mask, ndim=2)
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor (True = may attend), got {mask.dtype}")
    if mask.shape != matrix.shape:
        raise ValueError(
            f"mask must have the shape of the weights {tuple(matrix.shape)}, got {tuple(mask.shape)}"
        )
    return mask.detach().cpu()


def scores_heatmap(
    scores: torch.Tensor,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str] | None = None,
    *,
    title: str = "Scores",
    masked_legend: bool = True,
) -> go.Figure:
    """Raw scores (Lq, Lk), centred on zero; a −∞ (masked) cell is drawn in the masked grey
    (``palette.MASKED_COLOUR``), off the colour scale, with "−∞" in it and named in a legend
    (none with ``masked_legend=False``, where the title names the grey: ``attention_heatmap``)."""
    scores = _args.values("scores", scores, ndim=2)  # -inf allowed: a masked score
    trace, layout = _scores_parts(scores, *_token_labels(scores, query_tokens, key_tokens))
    return _masked_scores(trace, layout, scores, title=title, legend=masked_legend)


def _masked_scores(trace: dict, layout: dict, scores: torch.Tensor, *, title: str, **more) -> go.Figure:
    """The scores' figure, its −∞ cells in the masked grey (a NaN, +∞ stays a gap)."""
    blocked = (scores == float("-inf")).cpu().numpy()  # (Lq, Lk)
    return with_masked_cells(trace, layout, blocked, text="−∞", name="masked (−∞)", title=title, **more)


def _token_labels(matrix: torch.Tensor, query_tokens, key_tokens) -> tuple[list[str], list[str]]:
    """The words of a (Lq, Lk) matrix's rows and columns; the keys are the queries when None."""
    query_tokens = _args.labels("query_tokens", query_tokens, matrix.shape[0])
    if key_tokens is None:
        return query_tokens, label_list("key_tokens", query_tokens, matrix.shape[1])
    return query_tokens, label_list("key_tokens", key_tokens, matrix.shape[1])


def scores_row_heatmap(
    scores: torch.Tensor, tokens: Sequence[str], row: int, *, title: str = "Scores Q·Kᵀ"
) -> go.Figure:
    """scores (T, T) as ``scores_heatmap``, with query ``row`` outlined."""
    scores = _args.values("scores", scores, ndim=2)
    row = _args.index("row", row, scores.shape[0], "the position of the query to outline")
    tokens = _args.labels("tokens", tokens, scores.shape[0])
    trace, layout = _scores_parts(scores, tokens, label_list("tokens", tokens, scores.shape[1]))
    rows, cols = scores.shape
    line = dict(color=themes.theme().ink, width=3)
    outline = dict(type="rect", x0=-0.5, x1=cols - 0.5, y0=row - 0.5, y1=row + 0.5, line=line)
    # The same line around the whole matrix, unseen: plotly widens the axes by half a line
    # on every side for it, so the axes do not depend on which row is outlined, and a page
    # that moves only the outline (static/figure_view.js) draws what a fresh figure does.
    frame = dict(outline, y0=-0.5, y1=rows - 0.5, line=dict(line, color=TRANSPARENT))
    return _masked_scores(trace, layout, scores, title=title, shapes=[outline, frame])


def _scores_parts(scores: torch.Tensor, query_tokens, key_tokens) -> tuple[dict, dict]:
    bound = _args.largest(scores) or 1.0
    return heatmap_parts(
        scores.masked_fill(~torch.isfinite(scores), float("nan")),
        query_tokens,
        key_tokens,
        x_title="key",
        y_title="query",
        value_name="score",
        **_centred(bound),
    )


def _centred(bound: float, colorscale: str = DIVERGING) -> dict:
    """A diverging colour scale from -bound to bound, white at zero."""
    return dict(colorscale=colorscale, zmin=-bound, zmax=bound, zmid=0.0)


def mask_heatmap(
    mask: torch.Tensor,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str] | None = None,
    *,
    title: str = "Mask",
) -> go.Figure:
    """A bool mask (Lq, Lk), True = may attend, as two colours with 1/0 in the cells."""
    _args.stored("mask", mask, ndim=2)
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor, got {mask.dtype}")
    return matrix_heatmap(
        mask.float(),
        *_token_labels(mask, query_tokens, key_tokens),
        title=title,
        x_title="key",
        y_title="query",
        zmin=0,
        zmax=1,
        value_format=".0f",
        colorscale=[[0, themes.theme().blank], [1, MASK_ALLOWED]],
        show_scale=False,
    )


def embedding_heatmap(
    vectors: torch.Tensor, tokens: Sequence[str], *, title: str = "Token vectors"
) -> go.Figure:
    """vectors (T, d): one row per token, one column per feature, centred on zero."""
    vectors = _args.values("vectors", vectors, ndim=2, finite=True)
    tokens = _args.labels("tokens", tokens, vectors.shape[0])
    bound = _args.largest(vectors) or 1.0
    return matrix_heatmap(
        vectors, tokens, None, title=title, x_title="dimension", y_title="token", **_centred(bound)
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

    ``axis_title`` names both axes (e.g. "position" when the rows are positions). With
    ``cosine`` (the default) the values must lie in [-1, 1]; other similarities (dot
    products) take ``cosine=False`` and a scale of their own. NaN (a zero vector's cosine)
    shows as a gap.
    """
    similarity = _args.values("similarity", similarity, ndim=2)
    _args.no_infinity("similarity", similarity, " (a zero vector's cosine is NaN, not ±inf)")
    _validate.boolean("cosine", cosine)
    _validate.text("axis_title", axis_title)
    tokens = _args.labels("tokens", tokens, similarity.shape[0])
    largest = _args.largest(similarity)
    if cosine and largest > 1.001:
        raise ValueError(
            f"similarity must lie in [-1, 1] with cosine=True, got a value of size {largest:.3g}: "
            "pass cosine=False for other similarities (dot products)"
        )
    bound = 1.0 if cosine else (largest or 1.0)
    return matrix_heatmap(
        similarity,
        tokens,
        label_list("tokens", tokens, similarity.shape[1]),
        title=title,
        x_title=axis_title,
        y_title=axis_title,
        **_centred(bound),
    )


def positional_heatmap(pe: torch.Tensor, *, title: str = "Positional encoding") -> go.Figure:
    """pe (L, d): positions down, dimensions across, values in [-1, 1] for the sinusoids."""
    pe = _args.values("pe", pe, ndim=2, finite=True)
    bound = max(1.0, _args.largest(pe))
    return matrix_heatmap(
        pe,
        None,
        None,
        title=title,
        x_title="dimension",
        y_title="position",
        height=420,
        show_text=False,
        **_centred(bound),
    )


def head_difference_figure(
    weights_a: torch.Tensor,
    weights_b: torch.Tensor,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str] | None = None,
    *,
    title: str = "Head A − head B",
) -> go.Figure:
    """Two heads' weights (Lq, Lk) → their difference A − B: red where A looks more, blue where B does."""
    weights_a = _args.values("weights_a", weights_a, ndim=2, finite=True)
    weights_b = _args.values("weights_b", weights_b, ndim=2, finite=True)
    if weights_a.shape != weights_b.shape:
        raise ValueError(
            f"weights_b must have the shape of weights_a {tuple(weights_a.shape)}, "
            f"got {tuple(weights_b.shape)}"
        )
    diff = (weights_a - weights_b).detach()
    bound = max(float(diff.abs().max()), 1e-6)
    return matrix_heatmap(
        diff,
        *_token_labels(diff, query_tokens, key_tokens),
        title=title,
        x_title="key (attended to)",
        y_title="query (attending)",
        value_format="+.2f",
        **_centred(bound, DIVERGING_REVERSED),
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
    # On a fixed 0–1 colour scale: a count or an exp(logits) above 1 took the top colour, unsaid.
    probs = _args.probabilities("probs", probs, ndim=2, note=" (one softmax a step)")
    step_labels = _args.labels("step_labels", step_labels, probs.shape[0])
    vocab_labels = _args.labels("vocab_labels", vocab_labels, probs.shape[1])
    steps = probs.shape[0]
    if (
        isinstance(chosen, torch.Tensor | np.ndarray)
        and chosen.ndim == 1
        and not getattr(chosen, "is_meta", 0)
    ):
        chosen = chosen.tolist()
    if not isinstance(chosen, Sequence) or isinstance(chosen, str) or len(chosen) != steps:
        # A 0-d or meta tensor, a dict, a set: not a list of ids (len() of a 0-d tensor fails in torch).
        raise ValueError(
            f"chosen must be a list of one id per step ({steps}), got {_validate.shown(chosen):.60}"
        )
    chosen = [_args.position(f"chosen[{i}]", c, probs.shape[1]) for i, c in enumerate(chosen)]
    trace, layout = heatmap_parts(
        probs,
        step_labels,
        vocab_labels,
        x_title="next token",
        y_title="step: chosen",
        zmin=0.0,
        zmax=1.0,
        value_format=".2f",
        show_text=False,  # the rings say which token won; numbers would hide them
        value_name="probability",
    )
    trace["colorbar"] = dict(title=dict(text="probability"))
    rings = dict(
        type="scatter",
        x=list(chosen),
        y=list(range(len(chosen))),
        mode="markers",
        marker=dict(symbol="circle-open", size=16, color=CHOSEN_COLOUR, line=dict(width=3)),
        hoverinfo="skip",
        showlegend=False,
    )
    return figure([trace, rings], title=title, **layout)
