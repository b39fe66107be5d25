"""Live explorers: ipywidgets controls wired to the pure functions in ``figures``.

Chapters write ``widgets.SomeExplorer(...)``; every public name is re-exported here.

Where things live:

- ``view``: ``FigureView``, one plotly figure redrawn in place (its JavaScript is
  ``static/figure_view.js``), the shared ``PlotlyLibrary`` and ``figure_json``.
- ``kit``: ``Explorer`` (controls, a message line, views; ``render()`` returns each view's
  content), ``InputError`` (bad input → a message, never a traceback), ``SentenceExplorer``
  (reads a typed sentence, names unknown words, embeds the ids on the model's device),
  ``read_sentence``, ``unknown_note``, ``single_thread``, ``evaluating`` (runs the learner's
  modules in eval mode without gradients, then hands them back in the mode they came in);
  before each ``render`` it checks the controls (``control_problem``: nothing picked, a NaN
  slider or one between its steps, a value past the range or options it was built with), and
  typed words reach labels and messages through ``token_labels`` / ``quote`` (cut, visible).
- ``controls``: the controls built from a constructor's arguments, checked by name
  (``int_slider``, ``sentence_box`` …, ``SelectionSlider``), and the checks of the modules an
  explorer is given (``check_embedding``, ``check_attention``); ``kit`` re-exports them.
- ``tables``: the HTML tables (``token_table``, ``batch_table``, ``shapes_table``).
- Explorers, one module per idea: ``recurrence`` (00, why RNNs struggle: repeated products,
  a real RNN's gradient against attention's), ``embeddings``
  (01, tokens and embeddings), ``positions`` (02), ``attention`` (03–05: Q/K/V, scaling,
  heads), ``masks`` (06), ``model`` (07, the whole Transformer), ``loss_curve`` (08–09, the loss
  while it trains), ``attention_history`` (08, attention as it forms in training),
  ``generation`` (08, decoding one token at a time), ``story`` (09, a GPT that writes).

To add an explorer: in the module of its idea (or a new one), subclass ``Explorer``, or
``SentenceExplorer`` if it reads a sentence; name the attributes holding the learner's modules
in ``MODULES`` (their weights are checked for NaN before each render); build its controls and
views in ``__init__`` (a control that starts at a constructor argument through ``int_slider``,
``float_slider``, ``log_slider``, ``checkbox`` or ``text_box``, and modules through
``check_embedding`` / ``check_attention``, so a bad argument is a ValueError naming it) and
implement ``render()`` with figures from ``figures`` (CPU tensors in), running the learner's
modules inside ``with evaluating(module):`` (never ``module.eval()``, which a learner who
trains on after opening the explorer would inherit), raising ``InputError`` for input a
learner can fix. Export it below, add a widget test
(set each control, assert the figures it drives changed: ``tests/widget_state.py``) and
a ``CONSTRUCTORS`` entry in ``bench/course.py``.
"""

from .attention import HeadGridExplorer, QKVExplorer, ScalingExplorer
from .attention_history import AttentionHistoryExplorer
from .embeddings import EmbeddingExplorer
from .generation import GenerationExplorer
from .kit import (
    MAX_TOKENS,
    Explorer,
    InputError,
    SentenceExplorer,
    evaluating,
    read_sentence,
    sentence_box,
    single_thread,
    unknown_note,
)
from .loss_curve import LiveLossCurve
from .masks import MAX_BATCH, MAX_MASK_TOKENS, MaskExplorer
from .model import BOS_LABEL, ModelExplorer
from .positions import PositionalExplorer, WordOrderExplorer, match_words
from .recurrence import PathLengthExplorer, RepeatedProductExplorer
from .story import StoryExplorer
from .tables import batch_table, shapes_table, token_table
from .view import FigureView, PlotlyLibrary, figure_json, plotly_library

__all__ = [
    "BOS_LABEL",
    "MAX_BATCH",
    "MAX_MASK_TOKENS",
    "MAX_TOKENS",
    "AttentionHistoryExplorer",
    "EmbeddingExplorer",
    "Explorer",
    "FigureView",
    "GenerationExplorer",
    "HeadGridExplorer",
    "InputError",
    "LiveLossCurve",
    "MaskExplorer",
    "ModelExplorer",
    "PathLengthExplorer",
    "PlotlyLibrary",
    "PositionalExplorer",
    "QKVExplorer",
    "RepeatedProductExplorer",
    "ScalingExplorer",
    "SentenceExplorer",
    "StoryExplorer",
    "WordOrderExplorer",
    "batch_table",
    "evaluating",
    "figure_json",
    "match_words",
    "plotly_library",
    "read_sentence",
    "sentence_box",
    "shapes_table",
    "single_thread",
    "token_table",
    "unknown_note",
]
