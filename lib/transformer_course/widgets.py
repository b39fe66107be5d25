"""Live explorers: ipywidgets controls wired to the pure functions in ``figures``.

The pattern every chapter reuses: an ``Explorer`` holds controls, a message line and
named views. Changing any control calls ``render()``, which returns the new content
of each view. Input a learner can get wrong (an empty box, a long text, unknown words)
raises ``InputError`` inside ``render``; the explorer shows it as a message and keeps
the last good figures, so a learner never sees a traceback.

State for tests: ``explorer.controls`` (name → widget), ``explorer.figures``
(name → the ``go.Figure`` on screen), ``explorer.message.value``.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Mapping
from pathlib import Path

import anywidget
import ipywidgets as widgets
import numpy as np
import plotly.basedatatypes
import plotly.graph_objects as go
import plotly.io as pio
import torch
import traitlets
from plotly.offline import get_plotlyjs

from . import figures
from .embeddings import TokenEmbedding, similarity_matrix
from .positional import LearnedPositionalEmbedding, sinusoidal_encoding
from .tokenizer import Vocab, tokenize

MAX_TOKENS = 16   # longer sentences make heatmaps unreadable
STATIC = Path(__file__).with_name("static")


class InputError(ValueError):
    """Input a learner typed that we can explain; shown in the widget as a message."""


def _memoize_plotly_key_paths() -> None:
    """Cache plotly's parsing of property paths such as "xaxis.title.text".

    plotly re-parses the same few hundred path strings on every ``update_layout`` (it even
    defines a class per call); that was a quarter of the Python time of a widget update.
    The parser is a pure function of the string, so caching it changes nothing else.
    """
    parse = getattr(plotly.basedatatypes, "_str_to_dict_path_full", None)
    if parse is not None and not hasattr(parse, "cache_info"):
        plotly.basedatatypes._str_to_dict_path_full = functools.lru_cache(maxsize=8192)(parse)


_memoize_plotly_key_paths()


class PlotlyLibrary(anywidget.AnyWidget):
    """plotly.js itself (from the plotly package, so it works offline), sent to the page once.

    Every FigureView points at the one instance of the kernel (``plotly_library()``); the
    first view to render in the browser evaluates it, later ones reuse it.
    """

    _esm = "export default { render() {} };"
    source = traitlets.Unicode().tag(sync=True)


_LIBRARY: PlotlyLibrary | None = None


def plotly_library() -> PlotlyLibrary:
    global _LIBRARY
    if _LIBRARY is None or _LIBRARY.comm is None:     # none yet, or closed
        _LIBRARY = PlotlyLibrary(source=get_plotlyjs())
    return _LIBRARY


def figure_json(fig: go.Figure) -> str:
    """The figure as plotly.js JSON, without re-validating it (the figure is already valid).

    NaN (masked cells) becomes null, which plotly.js draws as a gap.
    """
    try:
        return json.dumps(_plain(fig.to_plotly_json()), allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):      # a type we do not know, or a stray NaN: plotly's encoder
        return pio.to_json(fig, validate=False)


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "f" and np.isnan(obj).any():
            obj = np.where(np.isnan(obj), None, obj.astype(object))
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


class FigureView(anywidget.AnyWidget):
    """One plotly figure, redrawn in place (``Plotly.react``); ``figure`` is the one on screen."""

    _esm = (STATIC / "figure_view.js").read_text(encoding="utf-8")
    _library = traitlets.Instance(PlotlyLibrary).tag(sync=True, **widgets.widget_serialization)
    _spec = traitlets.Unicode("").tag(sync=True)        # {"data": [...], "layout": {...}} as JSON
    _revision = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(_library=plotly_library(), **kwargs)
        self.figure: go.Figure | None = None

    def show(self, fig: go.Figure) -> None:
        self.figure = fig
        spec = figure_json(fig)
        if spec == self._spec:          # the same picture: nothing to send or redraw
            return
        with self.hold_sync():
            self._revision += 1
            self._spec = spec


class Explorer(widgets.VBox):
    """Controls on top, a message line, then the views in a responsive grid."""

    def __init__(self, controls: Mapping[str, widgets.ValueWidget], views: Mapping[str, str]):
        """``views`` maps each view's name to its kind: "figure" or "html"."""
        self.controls = dict(controls)
        self.views = {name: FigureView() if kind == "figure" else widgets.HTML()
                      for name, kind in views.items()}
        self.message = widgets.HTML()
        self._notes: list[str] = []
        grid = widgets.GridBox(list(self.views.values()), layout=widgets.Layout(
            grid_template_columns="repeat(auto-fit, minmax(420px, 1fr))", grid_gap="8px"))
        bar = widgets.HBox(list(self.controls.values()),
                           layout=widgets.Layout(flex_flow="row wrap", grid_gap="12px"))
        super().__init__([bar, self.message, grid])
        self.add_class("tc-explorer")
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.refresh()

    @property
    def figures(self) -> dict[str, go.Figure | None]:
        return {n: v.figure for n, v in self.views.items() if isinstance(v, FigureView)}

    def value(self, name: str):
        return self.controls[name].value

    def note(self, text: str) -> None:
        """Called from ``render`` to add an informative line under the controls."""
        self._notes.append(text)

    def render(self) -> dict[str, go.Figure | str]:
        raise NotImplementedError

    def refresh(self) -> None:
        self._notes = []
        try:
            content = self.render()
        except InputError as err:
            self._say(str(err), error=True)
            return
        except Exception as err:   # a widget never shows a traceback; the message says what broke
            self._say(f"Could not update the figures ({type(err).__name__}: {err}).", error=True)
            return
        for name, item in content.items():
            view = self.views[name]
            if isinstance(view, FigureView):
                view.show(item)
            else:
                view.value = item
        self._say(" ".join(self._notes), error=False)

    def _on_change(self, _change) -> None:
        self.refresh()

    def _say(self, text: str, *, error: bool) -> None:
        if not text:
            self.message.value = ""
            return
        colour, icon = ("#b91c1c", "⚠") if error else ("#374151", "ℹ")
        self.message.value = (f'<div class="tc-message" style="color:{colour};padding:4px 0">'
                              f"{icon} {html.escape(text)}</div>")


def read_sentence(text: str, vocab: Vocab, *, label: str = "sentence",
                  max_tokens: int = MAX_TOKENS) -> tuple[list[str], torch.Tensor, list[str]]:
    """Text box content → (tokens, ids (T,), unknown words), or InputError with a fix to try."""
    tokens = tokenize(text)
    if not tokens:
        raise InputError(f"The {label} box is empty: type a few words, e.g. 'tell me about pizza'.")
    if len(tokens) > max_tokens:
        raise InputError(f"The {label} has {len(tokens)} tokens; this explorer shows at most "
                         f"{max_tokens}. Try a shorter one.")
    unknown = [t for t in tokens if t not in vocab]
    return tokens, torch.tensor(vocab.ids(tokens)), unknown


def unknown_note(unknown: list[str]) -> str:
    words = ", ".join(f"'{w}'" for w in dict.fromkeys(unknown))
    return f"Not in the vocabulary, so they share the <unk> vector: {words}."


def token_table(tokens: list[str], ids: torch.Tensor) -> str:
    """HTML table: position, token, id (the text → tokens → ids step)."""
    cells = "".join(f"<tr><td>{i}</td><td><code>{html.escape(t)}</code></td><td>{int(j)}</td></tr>"
                    for i, (t, j) in enumerate(zip(tokens, ids)))
    return ('<table class="tc-tokens" style="border-collapse:collapse">'
            "<tr><th>position</th><th>token</th><th>id</th></tr>" + cells + "</table>")


class EmbeddingExplorer(Explorer):
    """Chapter 01. Type a sentence → its tokens and ids, their vectors, their similarities."""

    def __init__(self, vocab: Vocab, embedding: TokenEmbedding, text: str = "tell me about pizza"):
        self.vocab, self.embedding = vocab, embedding
        super().__init__(
            controls={
                "text": widgets.Text(value=text, description="Sentence",
                                     layout=widgets.Layout(width="360px")),
                "similarity": widgets.ToggleButtons(options=["cosine", "dot"], value="cosine",
                                                    description="Similarity"),
            },
            views={"tokens": "html", "vectors": "figure", "similarity": "figure"},
        )

    def render(self):
        tokens, ids, unknown = read_sentence(self.value("text"), self.vocab)
        if unknown:
            self.note(unknown_note(unknown))
        with torch.no_grad():
            vectors = self.embedding(ids)                              # (T, d_model)
        kind = self.value("similarity")
        return {
            "tokens": token_table(tokens, ids),
            "vectors": figures.embedding_heatmap(
                vectors, tokens, title=f"{len(tokens)} tokens × {vectors.shape[1]} dimensions"),
            "similarity": figures.similarity_heatmap(
                similarity_matrix(vectors, kind), tokens, cosine=kind == "cosine",
                title=f"{kind} similarity of every pair"),
        }


class PositionalExplorer(Explorer):
    """Chapter 02. Length and d_model sliders → encoding heatmap, one wave pair, position similarity."""

    def __init__(self, length: int = 24, d_model: int = 32, seed: int = 0):
        self.seed = seed
        super().__init__(
            controls={
                "length": widgets.IntSlider(value=length, min=2, max=128, description="positions"),
                "d_model": widgets.IntSlider(value=d_model, min=4, max=256, step=2,
                                             description="d_model"),
                "kind": widgets.Dropdown(options=["sinusoidal", "learned (untrained)"],
                                         value="sinusoidal", description="encoding"),
                "pair": widgets.IntSlider(value=2, min=0, max=d_model // 2 - 1,
                                          description="wave pair i"),
            },
            views={"encoding": "figure", "waves": "figure", "distance": "figure"},
        )

    def encoding(self) -> torch.Tensor:
        """The encoding currently shown, shape (length, d_model)."""
        length, d_model = self.value("length"), self.value("d_model")
        if self.value("kind") == "sinusoidal":
            return sinusoidal_encoding(length, d_model)
        table = LearnedPositionalEmbedding(d_model, max_len=length)
        torch.nn.init.normal_(table.pe, generator=torch.Generator().manual_seed(self.seed))
        return table.pe.detach()

    def render(self):
        pair = self.controls["pair"]
        pair.max = self.value("d_model") // 2 - 1      # keep the slider inside the new width
        pe = self.encoding()
        i = pair.value
        return {
            "encoding": figures.positional_heatmap(
                pe, title=f"{self.value('kind')}: {pe.shape[0]} positions × {pe.shape[1]} dims"),
            "waves": figures.waves_figure(pe, [0, 1, 2 * i, 2 * i + 1] if i else [0, 1],
                                          title=f"Dimensions 0, 1 and pair i = {i}"),
            "distance": figures.similarity_heatmap(
                similarity_matrix(pe, "cosine"), [str(p) for p in range(pe.shape[0])],
                title="Cosine similarity between positions",
            ).update_xaxes(title="position").update_yaxes(title="position"),
        }


# --- Chapter 00: welcome ---

class RepeatedProductExplorer(Explorer):
    """Chapter 00. A factor and a number of steps → factor**t for t = 0 … steps (log scale).

    An RNN passes its gradient back through the same multiplication once per token, so a
    factor a little below 1 shrinks it to nothing and a little above 1 blows it up.
    """

    def __init__(self, factor: float = 0.9, steps: int = 50):
        super().__init__(
            controls={
                "factor": widgets.FloatSlider(value=factor, min=0.5, max=1.5, step=0.01,
                                              description="factor", readout_format=".2f"),
                "steps": widgets.IntSlider(value=steps, min=1, max=100, description="steps"),
            },
            views={"product": "figure"},
        )

    def products(self) -> torch.Tensor:
        """factor**t for t = 0 … steps, shape (steps + 1,), in float64 so 1.5**100 fits."""
        t = torch.arange(self.value("steps") + 1, dtype=torch.float64)
        return torch.tensor(self.value("factor"), dtype=torch.float64) ** t

    def render(self):
        factor, steps = self.value("factor"), self.value("steps")
        values = self.products()
        self.note(f"{factor:.2f} multiplied {steps} times = {float(values[-1]):.3g}.")
        return {"product": figures.repeated_product_figure(values, factor)}


# --- Chapter 02: positional encoding ---

def match_words(tokens_a: list[str], tokens_b: list[str]) -> list[int]:
    """For each token of A, the position in B of the same word (repeats matched in order).

    Raises InputError when B is not a reordering of A's words.
    """
    if sorted(tokens_a) != sorted(tokens_b):
        from collections import Counter  # imported here: the file's top belongs to every chapter
        only_a = (Counter(tokens_a) - Counter(tokens_b)).elements()
        only_b = (Counter(tokens_b) - Counter(tokens_a)).elements()
        detail = "; ".join(f"only in {name}: {', '.join(repr(w) for w in words)}"
                           for name, words in (("A", list(only_a)), ("B", list(only_b))) if words)
        raise InputError("Sentence B must use exactly the same words as sentence A, only in "
                         f"another order ({detail}).")
    free: dict[str, list[int]] = {}
    for j, tok in enumerate(tokens_b):
        free.setdefault(tok, []).append(j)
    return [free[tok].pop(0) for tok in tokens_a]


class WordOrderExplorer(Explorer):
    """Chapter 02. Two orderings of the same words → their attention, and how each word's
    output changes between them, with or without positional encoding.

    Without positions self-attention cannot see order, so every word gets the very same
    output vector in A and B (cosine 1.00). Adding the sinusoidal encoding breaks that.
    State for tests: ``cosines`` (T,), one per word of A.
    """

    def __init__(self, vocab: Vocab, embedding: TokenEmbedding, attention: torch.nn.Module,
                 text_a: str = "Squatch eats pizza", text_b: str = "Pizza eats Squatch"):
        """``attention``: a self-attention module, (1, T, d_model) → (out, weights (1, h, T, T))."""
        self.vocab, self.embedding, self.attention = vocab, embedding, attention
        self.cosines: torch.Tensor | None = None
        box = widgets.Layout(width="300px")
        super().__init__(
            controls={
                "text_a": widgets.Text(value=text_a, description="Sentence A", layout=box),
                "text_b": widgets.Text(value=text_b, description="Sentence B", layout=box),
                "positions": widgets.Checkbox(value=False, description="add positional encoding"),
            },
            views={"attention_a": "figure", "attention_b": "figure", "similarity": "figure"},
        )

    def outputs(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (T,) → attention output (T, d_model) and weights averaged over heads (T, T)."""
        with torch.no_grad():
            x = self.embedding(ids)                                          # (T, d_model)
            if self.value("positions"):
                x = x + sinusoidal_encoding(x.shape[0], x.shape[1])
            out, weights = self.attention(x.unsqueeze(0))
        return out[0], weights[0].mean(dim=0)

    def render(self):
        tokens_a, ids_a, unknown_a = read_sentence(self.value("text_a"), self.vocab, label="sentence A")
        tokens_b, ids_b, unknown_b = read_sentence(self.value("text_b"), self.vocab, label="sentence B")
        partner = match_words(tokens_a, tokens_b)
        if unknown_a:
            self.note(unknown_note(unknown_a + unknown_b))
        out_a, weights_a = self.outputs(ids_a)
        out_b, weights_b = self.outputs(ids_b)
        cosines = torch.nn.functional.cosine_similarity(out_a, out_b[partner], dim=-1)
        self.cosines = cosines
        where = "with" if self.value("positions") else "without"
        # Start the axis near the smallest bar: differences of a few hundredths stay visible.
        low = min(0.5, ((float(cosines.min()) - 0.05) * 10) // 1 / 10)
        return {
            "attention_a": figures.attention_heatmap(weights_a, tokens_a,
                                                     title=f"A: attention ({where} positions)"),
            "attention_b": figures.attention_heatmap(weights_b, tokens_b,
                                                     title=f"B: attention ({where} positions)"),
            "similarity": figures.bar_figure(
                cosines, tokens_a, y_range=(low, 1.04),
                y_title="cosine similarity",
                title=f"Each word's output in A vs in B ({where} positions)"),
        }


# --- Chapters 03-04: queries, keys and values; softmax and scaling ---
# (this section's code goes right below this line; keep the sections apart)


# --- Chapters 05-06: multi-head attention; masking ---
# (this section's code goes right below this line; keep the sections apart)


# --- Chapter 07: the full Transformer ---
# (this section's code goes right below this line; keep the sections apart)


# --- Chapter 08: training and generation ---
# (this section's code goes right below this line; keep the sections apart)
