"""Pure figure functions: tensors in, a plotly figure out. No display, no global state.

Chapters and widgets write ``figures.attention_heatmap(...)``; every public name of the
modules below is re-exported here.

- ``palette``: the colours, by what they show (Okabe–Ito for lines and bars).
- ``themes``: ``FONT``, the plotly template and the background-dependent colours
  (``Theme``, ``LIGHT``, ``themes.theme()``): the one place a dark theme plugs in.
- ``base``: ``figure``, the one builder, and the pieces figures share (tick labels,
  reference lines, panel titles, side-by-side domains).
- ``matrix``: any matrix as a heatmap (``matrix_heatmap``, and ``heatmap_parts`` for figures
  that draw over one).
- ``heatmaps``: one matrix (weights, scores, masks, vectors, similarities, a head
  difference, generation's per-step distributions).
- ``panels``: several heatmaps in one figure (Q/K/V, the grid of heads).
- ``curves``: lines (sinusoids, a repeated product, gradients against distance, per-layer
  sizes).
- ``training_curves``: lines against the training step (a loss, variants' losses, metrics
  measured at some steps).
- ``measurements``: experiments against a size (softmax saturation, attention's cost).
- ``bars``: one value per word (a row of scores, entropies), and where each head looks (one
  group of bars per head).
- ``distributions``: one distribution over the words as bars (the pointer, the next token,
  the likeliest next tokens).

Importing this package changes nothing in plotly: ``plotly.io.templates.default`` and
the template registry stay as they were; each figure carries the course's template.

How to add a figure:
1. Put it in the module of its kind (or a new module, kept under ~350 lines), as a
   function of tensors and keywords that returns ``figure(traces, title=..., **layout)``:
   traces as plain dicts (``dict(type="heatmap", ...)``), layout as keywords. Build it in
   that one call: no ``go.Figure``, ``update_layout``, ``add_trace``, ``add_hline`` or
   ``make_subplots`` afterwards (each re-validates the whole figure; widgets redraw on
   every slider move). ``hline``/``vline``/``line_label``/``panel_title``/``side_by_side``
   write what those helpers would.
2. Colours come from ``palette`` (add a role name there) or, for ink drawn over the
   data, from ``themes.theme()``; never a hex code in a figure function.
3. Check arguments first, with a ValueError naming the argument: ``_args.values`` for
   every tensor drawn (a tensor of real numbers, with data, not empty), ``_args.labels``
   and ``_args.positions`` for words and indices, ``_validate`` for the rest (a flag with
   ``boolean``, a number with ``finite_number``); state tensor shapes in the docstring.
   Results of experiments are read by their fields (see ``measurements``): figures
   import no maths module.
4. Add the name to the imports below, and a test to ``tests/test_figures*.py`` (its
   traces and axes; bad input names the argument).
"""

from .bars import bar_figure, entropy_figure, head_jobs_figure, query_row_figure
from .base import MAX_CELLS_WITH_TEXT, CourseFigure, figure
from .curves import depth_figure, gradient_distance_figure, repeated_product_figure, waves_figure
from .distributions import likeliest_tokens_figure, next_token_figure, pointer_figure
from .heatmaps import (
    attention_heatmap,
    embedding_heatmap,
    generation_figure,
    head_difference_figure,
    mask_heatmap,
    positional_heatmap,
    scores_heatmap,
    scores_row_heatmap,
    similarity_heatmap,
)
from .matrix import matrix_heatmap
from .measurements import SATURATION_METRICS, attention_cost_figure, saturation_figure
from .palette import (
    CHOSEN_COLOUR,
    DISTRACTOR_COLOUR,
    LOSS_COLOUR,
    OTHER_COLOUR,
    RAW_COLOUR,
    REFERENT_COLOUR,
)
from .panels import head_grid_figure, qkv_figure
from .themes import FONT, LIGHT, Theme
from .training_curves import (
    loss_comparison_figure,
    loss_curve_figure,
    progress_curve_figure,
    progress_curves_figure,
)

__all__ = [
    "CHOSEN_COLOUR",
    "DISTRACTOR_COLOUR",
    "FONT",
    "LIGHT",
    "LOSS_COLOUR",
    "MAX_CELLS_WITH_TEXT",
    "OTHER_COLOUR",
    "RAW_COLOUR",
    "REFERENT_COLOUR",
    "SATURATION_METRICS",
    "CourseFigure",
    "Theme",
    "attention_cost_figure",
    "attention_heatmap",
    "bar_figure",
    "depth_figure",
    "embedding_heatmap",
    "entropy_figure",
    "figure",
    "generation_figure",
    "gradient_distance_figure",
    "head_difference_figure",
    "head_grid_figure",
    "loss_comparison_figure",
    "head_jobs_figure",
    "loss_curve_figure",
    "mask_heatmap",
    "matrix_heatmap",
    "likeliest_tokens_figure",
    "next_token_figure",
    "pointer_figure",
    "positional_heatmap",
    "progress_curve_figure",
    "progress_curves_figure",
    "qkv_figure",
    "query_row_figure",
    "repeated_product_figure",
    "saturation_figure",
    "scores_heatmap",
    "scores_row_heatmap",
    "similarity_heatmap",
    "waves_figure",
]
