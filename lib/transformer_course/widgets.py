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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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

MAX_TOKENS = 16  # longer sentences make heatmaps unreadable
STATIC = Path(__file__).with_name("static")


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread inside the block (widget updates work on tiny tensors).

    Waking torch's thread pool costs more than a 24×32 matmul itself, and on a busy
    machine a woken thread can wait a whole time slice: seen 1–20 ms per tiny op with 2
    threads on a loaded 2-core machine, 0.01 ms with one.
    """
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


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
    if _LIBRARY is None or _LIBRARY.comm is None:  # none yet, or closed
        _LIBRARY = PlotlyLibrary(source=get_plotlyjs())
    return _LIBRARY


def figure_json(fig: go.Figure) -> str:
    """The figure as plotly.js JSON, without re-validating it (the figure is already valid).

    NaN (masked cells) becomes null, which plotly.js draws as a gap.
    """
    try:
        return json.dumps(_plain(fig.to_plotly_json()), allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):  # a type we do not know, or a stray NaN: plotly's encoder
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
    _spec = traitlets.Unicode("").tag(sync=True)  # {"data": [...], "layout": {...}} as JSON
    _revision = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(_library=plotly_library(), **kwargs)
        self.figure: go.Figure | None = None

    def show(self, fig: go.Figure) -> None:
        self.figure = fig
        spec = figure_json(fig)
        if spec == self._spec:  # the same picture: nothing to send or redraw
            return
        with self.hold_sync():
            self._revision += 1
            self._spec = spec


class Explorer(widgets.VBox):
    """Controls on top, a message line, then the views in a responsive grid."""

    def __init__(self, controls: Mapping[str, widgets.ValueWidget], views: Mapping[str, str]):
        """``views`` maps each view's name to its kind: "figure" or "html"."""
        self.controls = dict(controls)
        self.views = {
            name: FigureView() if kind == "figure" else widgets.HTML() for name, kind in views.items()
        }
        self.message = widgets.HTML()
        self._notes: list[str] = []
        grid = widgets.GridBox(
            list(self.views.values()),
            layout=widgets.Layout(
                grid_template_columns="repeat(auto-fit, minmax(420px, 1fr))", grid_gap="8px"
            ),
        )
        bar = widgets.HBox(
            list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap", grid_gap="12px")
        )
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
            with single_thread():
                content = self.render()
        except InputError as err:
            self._say(str(err), error=True)
            return
        except Exception as err:  # a widget never shows a traceback; the message says what broke
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
        self.message.value = (
            f'<div class="tc-message" style="color:{colour};padding:4px 0">{icon} {html.escape(text)}</div>'
        )


def read_sentence(
    text: str, vocab: Vocab, *, label: str = "sentence", max_tokens: int = MAX_TOKENS
) -> tuple[list[str], torch.Tensor, list[str]]:
    """Text box content → (tokens, ids (T,), unknown words), or InputError with a fix to try."""
    tokens = tokenize(text)
    if not tokens:
        raise InputError(f"The {label} box is empty: type a few words, e.g. 'tell me about pizza'.")
    if len(tokens) > max_tokens:
        raise InputError(
            f"The {label} has {len(tokens)} tokens; this explorer shows at most "
            f"{max_tokens}. Try a shorter one."
        )
    unknown = [t for t in tokens if t not in vocab]
    return tokens, torch.tensor(vocab.ids(tokens)), unknown


def unknown_note(unknown: list[str]) -> str:
    words = ", ".join(f"'{w}'" for w in dict.fromkeys(unknown))
    return f"Not in the vocabulary, so they share the <unk> vector: {words}."


def token_table(tokens: list[str], ids: torch.Tensor) -> str:
    """HTML table: position, token, id (the text → tokens → ids step)."""
    pad = 'style="padding:2px 12px;text-align:left"'  # JupyterLab's widget CSS sets no padding
    cells = "".join(
        f"<tr><td {pad}>{i}</td><td {pad}><code>{html.escape(t)}</code></td><td {pad}>{int(j)}</td></tr>"
        for i, (t, j) in enumerate(zip(tokens, ids))
    )
    return (
        '<table class="tc-tokens" style="border-collapse:collapse">'
        f"<tr><th {pad}>position</th><th {pad}>token</th><th {pad}>id</th></tr>" + cells + "</table>"
    )


class EmbeddingExplorer(Explorer):
    """Chapter 01. Type a sentence → its tokens and ids, their vectors, their similarities."""

    def __init__(self, vocab: Vocab, embedding: TokenEmbedding, text: str = "tell me about pizza"):
        self.vocab, self.embedding = vocab, embedding
        super().__init__(
            controls={
                "text": widgets.Text(
                    value=text, description="Sentence", layout=widgets.Layout(width="360px")
                ),
                "similarity": widgets.ToggleButtons(
                    options=["cosine", "dot"], value="cosine", description="Similarity"
                ),
            },
            views={"tokens": "html", "vectors": "figure", "similarity": "figure"},
        )

    def render(self):
        tokens, ids, unknown = read_sentence(self.value("text"), self.vocab)
        if unknown:
            self.note(unknown_note(unknown))
        with torch.no_grad():
            vectors = self.embedding(ids)  # (T, d_model)
        kind = self.value("similarity")
        return {
            "tokens": token_table(tokens, ids),
            "vectors": figures.embedding_heatmap(
                vectors, tokens, title=f"{len(tokens)} tokens × {vectors.shape[1]} dimensions"
            ),
            "similarity": figures.similarity_heatmap(
                similarity_matrix(vectors, kind),
                tokens,
                cosine=kind == "cosine",
                title=f"{kind} similarity of every pair",
            ),
        }


class PositionalExplorer(Explorer):
    """Chapter 02. Length and d_model sliders → encoding heatmap, one wave pair, position similarity."""

    def __init__(self, length: int = 24, d_model: int = 32, seed: int = 0):
        self.seed = seed
        super().__init__(
            controls={
                "length": widgets.IntSlider(value=length, min=2, max=128, description="positions"),
                "d_model": widgets.IntSlider(value=d_model, min=4, max=256, step=2, description="d_model"),
                "kind": widgets.Dropdown(
                    options=["sinusoidal", "learned (untrained)"], value="sinusoidal", description="encoding"
                ),
                "pair": widgets.IntSlider(value=2, min=0, max=d_model // 2 - 1, description="wave pair i"),
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
        pair.max = self.value("d_model") // 2 - 1  # keep the slider inside the new width
        pe = self.encoding()
        i = pair.value
        return {
            "encoding": figures.positional_heatmap(
                pe, title=f"{self.value('kind')}: {pe.shape[0]} positions × {pe.shape[1]} dims"
            ),
            "waves": figures.waves_figure(
                pe, [0, 1, 2 * i, 2 * i + 1] if i else [0, 1], title=f"Dimensions 0, 1 and pair i = {i}"
            ),
            "distance": figures.similarity_heatmap(
                similarity_matrix(pe, "cosine"),
                [str(p) for p in range(pe.shape[0])],
                title="Cosine similarity between positions",
                axis_title="position",
            ),
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
                "factor": widgets.FloatSlider(
                    value=factor, min=0.5, max=1.5, step=0.01, description="factor", readout_format=".2f"
                ),
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
        detail = "; ".join(
            f"only in {name}: {', '.join(repr(w) for w in words)}"
            for name, words in (("A", list(only_a)), ("B", list(only_b)))
            if words
        )
        raise InputError(
            f"Sentence B must use exactly the same words as sentence A, only in another order ({detail})."
        )
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

    def __init__(
        self,
        vocab: Vocab,
        embedding: TokenEmbedding,
        attention: torch.nn.Module,
        text_a: str = "Squatch eats pizza",
        text_b: str = "Pizza eats Squatch",
    ):
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
            x = self.embedding(ids)  # (T, d_model)
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
            "attention_a": figures.attention_heatmap(
                weights_a, tokens_a, title=f"A: attention ({where} positions)"
            ),
            "attention_b": figures.attention_heatmap(
                weights_b, tokens_b, title=f"B: attention ({where} positions)"
            ),
            "similarity": figures.bar_figure(
                cosines,
                tokens_a,
                y_range=(low, 1.04),
                y_title="cosine similarity",
                title=f"Each word's output in A vs in B ({where} positions)",
            ),
        }


# --- Chapters 03-04: queries, keys and values; softmax and scaling ---
# (this section's code goes right below this line; keep the sections apart)
# Imported here, not at the top: the file's top belongs to every chapter.
from .attention import attention_scores  # noqa: E402
from .softmax import entropy, stable_softmax  # noqa: E402


class QKVExplorer(Explorer):
    """Chapter 03. Type a sentence → its Q, K, V, the score matrix QKᵀ, and one query's row.

    ``attention``: a ``SingleHeadAttention`` whose w_q, w_k, w_v make the three views.
    State for tests: ``q``, ``k``, ``v`` (T, d_k/d_v) and ``scores`` (T, T), raw q·k.
    """

    def __init__(
        self,
        vocab: Vocab,
        embedding: TokenEmbedding,
        attention: torch.nn.Module,
        text: str = "I'm playing with a cat",
        query: int = 0,
    ):
        self.vocab, self.embedding, self.attention = vocab, embedding, attention
        self.q = self.k = self.v = self.scores = None
        self._syncing = False  # True while render() rewrites the query list
        super().__init__(
            controls={
                "text": widgets.Text(
                    value=text, description="Sentence", layout=widgets.Layout(width="360px")
                ),
                "query": widgets.Dropdown(
                    options=[(f"{query}", query)], value=query, description="Query token"
                ),
            },
            views={"qkv": "figure", "scores": "figure", "row": "figure"},
        )

    def _on_change(self, change) -> None:
        if not self._syncing:
            super()._on_change(change)

    def _sync_queries(self, tokens: list[str]) -> int:
        """Offer one entry per token in the query list; keep the chosen position if it still exists."""
        box = self.controls["query"]
        options = tuple((f"{i} · {t}", i) for i, t in enumerate(tokens))
        keep = min(box.value if box.value is not None else 0, len(tokens) - 1)
        if tuple(box.options) != options:
            self._syncing = True
            try:
                box.options = options
                box.value = keep
            finally:
                self._syncing = False
        return box.value

    def render(self):
        tokens, ids, unknown = read_sentence(self.value("text"), self.vocab)
        if unknown:
            self.note(unknown_note(unknown))
        row = self._sync_queries(tokens)
        with torch.no_grad():
            x = self.embedding(ids)  # (T, d_model)
            q, k, v = self.attention.w_q(x), self.attention.w_k(x), self.attention.w_v(x)
            scores = attention_scores(q, k, scale=1.0)  # (T, T) raw q·k
        self.q, self.k, self.v, self.scores = q, k, v, scores
        best = int(scores[row].argmax())
        self.note(
            f"'{tokens[row]}' scores highest against '{tokens[best]}' ({float(scores[row, best]):.2f})."
        )
        return {
            "qkv": figures.qkv_figure(
                q, k, v, tokens, title=f"Q, K, V: {len(tokens)} tokens × d_k = {q.shape[1]}"
            ),
            "scores": figures.scores_row_heatmap(scores, tokens, row, title="Scores Q·Kᵀ (raw)"),
            "row": figures.query_row_figure(scores[row], tokens, tokens[row]),
        }


class ScalingExplorer(Explorer):
    """Chapter 04. Temperature, 1/√d_k on or off, and d_k → attention weights and row entropies.

    Queries and keys come from random projections whose entries have unit variance, so
    the raw scores have variance ≈ d_k, as in the paper's argument. State for tests:
    ``scores`` (T, T) after scaling and temperature, ``weights`` (T, T), ``entropies`` (T,).
    """

    D_KS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

    def __init__(
        self,
        vocab: Vocab,
        embedding: TokenEmbedding,
        text: str = "the pizza came out of the oven and it tasted good",
        *,
        d_k: int = 64,
        temperature: float = 1.0,
        scaled: bool = True,
        seed: int = 0,
    ):
        """``embedding``: token vectors with entries of variance ≈ 1 (e.g. ``scale=False``)."""
        if d_k not in self.D_KS:
            raise ValueError(f"d_k must be one of {self.D_KS}, got {d_k}")
        self.vocab, self.embedding, self.seed = vocab, embedding, seed
        self._projections: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.scores = self.weights = self.entropies = None
        super().__init__(
            controls={
                "text": widgets.Text(
                    value=text, description="Sentence", layout=widgets.Layout(width="420px")
                ),
                "d_k": widgets.SelectionSlider(options=list(self.D_KS), value=d_k, description="d_k"),
                "temperature": widgets.FloatLogSlider(
                    value=temperature,
                    base=10,
                    min=-1,
                    max=1,
                    step=0.05,
                    description="temperature",
                    readout_format=".2f",
                    style={"description_width": "initial"},
                ),
                "scaled": widgets.Checkbox(value=scaled, description="divide by √d_k"),
            },
            views={"weights": "figure", "entropy": "figure"},
        )

    def projections(self, d_k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """W_Q, W_K (d_model, d_k) with N(0, 1/d_model) entries, the same for a given d_k."""
        if d_k not in self._projections:
            d_model = self.embedding.d_model
            g = torch.Generator().manual_seed(self.seed * 1000 + d_k)
            self._projections[d_k] = tuple(
                torch.randn(d_model, d_k, generator=g) / d_model**0.5 for _ in range(2)
            )
        return self._projections[d_k]

    def render(self):
        tokens, ids, unknown = read_sentence(self.value("text"), self.vocab)
        if unknown:
            self.note(unknown_note(unknown))
        d_k, temperature, scaled = self.value("d_k"), self.value("temperature"), self.value("scaled")
        w_q, w_k = self.projections(d_k)
        with torch.no_grad():
            x = self.embedding(ids)  # (T, d_model)
            w_q, w_k = w_q.to(x.device), w_k.to(x.device)
            raw = attention_scores(x @ w_q, x @ w_k, scale=1.0)  # (T, T)
        divide = (d_k**0.5 if scaled else 1.0) * temperature
        scores = raw / divide
        weights = stable_softmax(scores)
        ents = entropy(weights)
        self.scores, self.weights, self.entropies = scores, weights, ents
        how = f"÷ √{d_k}" if scaled else "not scaled"
        self.note(
            f"Raw scores have std {float(raw.std()):.1f} (d_k = {d_k}); {how}, ÷ temperature "
            f"{temperature:.2f} → std {float(scores.std()):.2f}. Mean largest weight per row: "
            f"{float(weights.amax(-1).mean()):.2f}."
        )
        return {
            "weights": figures.attention_heatmap(
                weights, tokens, title=f"softmax(QKᵀ{' / √d_k' if scaled else ''} / T), d_k = {d_k}"
            ),
            "entropy": figures.entropy_figure(
                ents, tokens, len(tokens), title=f"Row entropy (mean {float(ents.mean()):.2f})"
            ),
        }


# --- Chapters 05-06: multi-head attention; masking ---
# (this section's code goes right below this line; keep the sections apart)


class HeadGridExplorer(Explorer):
    """Chapter 05. A sentence → every head's attention in a grid, and two heads compared.

    ``attention`` is a ``MultiHeadAttention``; its heads are untrained unless you trained
    them, so their patterns differ only by their random projections. Views: "grid" (the
    chosen heads, full width), "difference" (head A − head B) and "average" (the mean of
    the chosen heads, what ``nn.MultiheadAttention`` returns by default).
    State for tests: ``weights`` (h, T, T) of the sentence on screen.
    """

    def __init__(
        self,
        vocab: Vocab,
        embedding: TokenEmbedding,
        attention: torch.nn.Module,
        text: str = "the pizza came out of the oven and it tasted good",
        *,
        positions: bool = True,
        columns: int = 4,
    ):
        self.vocab, self.embedding, self.attention = vocab, embedding, attention
        self.positions, self.columns = positions, columns
        self.weights: torch.Tensor | None = None
        h = attention.num_heads
        names = [(f"head {i}", i) for i in range(h)]
        super().__init__(
            controls={
                "text": widgets.Text(
                    value=text, description="Sentence", layout=widgets.Layout(width="420px")
                ),
                "heads": widgets.SelectMultiple(
                    options=names, value=tuple(range(h)), rows=min(h, 4), description="show heads"
                ),
                "head_a": widgets.Dropdown(
                    options=names, value=0, description="head A", layout=widgets.Layout(width="180px")
                ),
                "head_b": widgets.Dropdown(
                    options=names,
                    value=min(1, h - 1),
                    description="head B",
                    layout=widgets.Layout(width="180px"),
                ),
            },
            views={"grid": "figure", "difference": "figure", "average": "figure"},
        )
        self.views["grid"].layout.grid_column = "1 / -1"  # the grid gets the full width

    def head_weights(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (T,) → every head's attention weights, shape (h, T, T)."""
        with torch.no_grad():
            x = self.embedding(ids.to(self.embedding.weight.device))  # (T, d_model)
            if self.positions:
                x = x + sinusoidal_encoding(x.shape[0], x.shape[1], device=x.device)
            _, weights = self.attention(x.unsqueeze(0))  # (1, h, T, T)
        return weights[0].cpu()

    def render(self):
        tokens, ids, unknown = read_sentence(self.value("text"), self.vocab)
        if unknown:
            self.note(unknown_note(unknown))
        heads = sorted(self.value("heads"))
        if not heads:
            raise InputError(
                "No head is selected: pick at least one in 'show heads' (Ctrl- or Shift-click picks several)."
            )
        a, b = self.value("head_a"), self.value("head_b")
        if a == b:
            self.note(f"Head A and head B are both head {a}: their difference is zero everywhere.")
        weights = self.weights = self.head_weights(ids)
        chosen = weights[heads].mean(dim=0)
        marks = {a: "A", b: "B"} if a != b else {a: "A = B"}
        return {
            "grid": figures.head_grid_figure(
                weights,
                tokens,
                heads=heads,
                columns=self.columns,
                marks=marks,
                title=f"{len(heads)} of {weights.shape[0]} heads, {len(tokens)} tokens",
            ),
            "difference": figures.head_difference_figure(
                weights[a], weights[b], tokens, title=f"Head {a} − head {b}"
            ),
            "average": figures.attention_heatmap(
                chosen, tokens, title=f"Mean of the {len(heads)} heads shown"
            ),
        }


MAX_BATCH = 6  # sentences in the mask explorer's batch
MAX_MASK_TOKENS = 12  # tokens per sentence there: four heatmaps side by side must stay readable


def batch_table(rows: list[list[str]], picked: int) -> str:
    """HTML table of a padded batch, one sentence per row; <pad> greyed, the picked row bold."""

    def cell(tok: str) -> str:
        style = "color:#9ca3af" if tok == "<pad>" else ""
        return f'<td style="padding:2px 6px;{style}"><code>{html.escape(tok)}</code></td>'

    body = "".join(
        f'<tr style="{"font-weight:bold;background:#eff6ff" if b == picked else ""}">'
        f"<td>{b}</td>{''.join(cell(t) for t in row)}</tr>"
        for b, row in enumerate(rows)
    )
    return (
        '<table class="tc-batch" style="border-collapse:collapse">'
        "<tr><th>sentence</th><th colspan=99>tokens (padded to the longest)</th></tr>" + body + "</table>"
    )


class MaskExplorer(Explorer):
    """Chapter 06. A batch of sentences → mask, masked scores and weights of one sentence.

    The sentences (one per line) are padded to the longest. Toggles switch the causal
    and the padding mask on and off; ``sentence`` picks which row of the batch to show.
    ``attention`` is a ``SingleHeadAttention``: its scores and weights are the real ones,
    computed by the lib with the mask (True = may attend).
    State for tests: ``mask`` (B, 1|T, T) bool or None, ``weights`` (B, T, T).
    """

    def __init__(
        self,
        vocab: Vocab,
        embedding: TokenEmbedding,
        attention: torch.nn.Module,
        sentences: tuple[str, ...] = (
            "I love deep learning",
            "the cat sat",
            "tell me about pizza and cheese",
        ),
        *,
        causal: bool = True,
        padding: bool = True,
    ):
        self.vocab, self.embedding, self.attention = vocab, embedding, attention
        self.mask: torch.Tensor | None = None
        self.weights: torch.Tensor | None = None
        super().__init__(
            controls={
                "sentences": widgets.Textarea(
                    value="\n".join(sentences),
                    description="Batch",
                    placeholder="one sentence per line",
                    layout=widgets.Layout(width="360px", height="96px"),
                ),
                "causal": widgets.Checkbox(value=causal, description="causal mask"),
                "padding": widgets.Checkbox(value=padding, description="padding mask"),
                "sentence": widgets.IntSlider(
                    value=0, min=0, max=max(len(sentences) - 1, 0), description="sentence"
                ),
            },
            views={"batch": "html", "mask": "figure", "scores": "figure", "weights": "figure"},
        )

    def read_batch(self) -> tuple[list[list[str]], torch.Tensor]:
        """The text box → (padded tokens per sentence, ids (B, T)), or InputError."""
        lines = [line for line in self.value("sentences").splitlines() if line.strip()]
        if not lines:
            raise InputError("The batch is empty: type one sentence per line, e.g. 'I love deep learning'.")
        if len(lines) > MAX_BATCH:
            raise InputError(
                f"The batch has {len(lines)} sentences; this explorer shows at most "
                f"{MAX_BATCH}. Remove a few lines."
            )
        unknown = []
        for b, line in enumerate(lines):
            unknown += read_sentence(line, self.vocab, label=f"sentence {b}", max_tokens=MAX_MASK_TOKENS)[2]
        if unknown:
            self.note(unknown_note(unknown))
        ids = self.vocab.encode_batch(lines)  # (B, T), padded with pad_id
        return [self.vocab.tokens(row) for row in ids], ids

    def current_mask(self, ids: torch.Tensor) -> torch.Tensor | None:
        """The mask the toggles ask for: (T, T), (B, 1, 1, T) → squeezed to (B, 1|T, T), or None."""
        from .masks import causal_mask, combine_masks, padding_mask  # the file's top is shared

        causal = causal_mask(ids.shape[1]) if self.value("causal") else None
        padding = padding_mask(ids, self.vocab.pad_id)[:, 0] if self.value("padding") else None
        return combine_masks(causal, padding)

    def render(self):
        from .attention import attention_scores, scaled_dot_product_attention

        rows, ids = self.read_batch()
        slider = self.controls["sentence"]
        slider.max = len(rows) - 1  # keep the picker inside the new batch
        b = slider.value
        mask = self.mask = self.current_mask(ids)
        device = self.embedding.weight.device  # CPU or CUDA, wherever the model lives
        with torch.no_grad():
            x = self.embedding(ids.to(device))  # (B, T, d_model)
            x = x + sinusoidal_encoding(x.shape[1], x.shape[2], device=device)
            q, k, v = self.attention.w_q(x), self.attention.w_k(x), self.attention.w_v(x)
            scores = attention_scores(q, k).cpu()  # (B, T, T)
            _, weights = scaled_dot_product_attention(
                q, k, v, None if mask is None else mask.to(device)
            )  # (B, T, T)
        weights = self.weights = weights.cpu()
        length = ids.shape[1]
        row_mask = (
            torch.ones(length, length, dtype=torch.bool)
            if mask is None
            else mask.expand(len(rows), length, length)[b]
        )
        tokens = rows[b]
        shown = [n for n, on in (("causal", self.value("causal")), ("padding", self.value("padding"))) if on]
        name = " + ".join(shown) if shown else "no mask"
        n_pad = tokens.count("<pad>")
        self.note(
            f"Sentence {b}: {length - n_pad} tokens + {n_pad} <pad>. "
            f"Each query may see {row_mask.sum(dim=1).tolist()} keys."
        )
        return {
            "batch": batch_table(rows, b),
            "mask": figures.mask_heatmap(row_mask, tokens, title=f"Mask: {name}"),
            "scores": figures.scores_heatmap(
                scores[b].masked_fill(~row_mask, float("-inf")),
                tokens,
                title="Scores after masking (blank = −∞)",
            ),
            "weights": figures.attention_heatmap(weights[b], tokens, title="Weights = softmax(row)"),
        }


# --- Chapter 07: the full Transformer ---
# (this section's code goes right below this line; keep the sections apart)


def shapes_table(rows: list[tuple[str, tuple, str]], highlight: str = "") -> str:
    """HTML table of (stage, shape, meaning) rows; rows whose stage starts with ``highlight`` are bold."""
    td = '<td style="padding:3px 8px;text-align:left;border-bottom:1px solid #e5e7eb">'
    th = '<th style="padding:3px 8px;text-align:left;border-bottom:2px solid #9ca3af">'
    cells = []
    for stage, shape, meaning in rows:
        bold = highlight and stage.startswith(highlight)
        style = ' style="background:#dbeafe;font-weight:600"' if bold else ""
        shape_td = td.replace('">', ';white-space:nowrap">')
        cells.append(
            f"<tr{style}>{td}{html.escape(stage)}</td>{shape_td}<code>"
            f"{html.escape(str(tuple(shape)))}</code></td>{td}{html.escape(meaning)}</td></tr>"
        )
    return (
        '<table class="tc-shapes" style="border-collapse:collapse;font-size:13px;line-height:1.3">'
        f"<tr>{th}stage</th>{th}shape</th>{th}what it holds</th></tr>" + "".join(cells) + "</table>"
    )


class ModelExplorer(Explorer):
    """Chapter 07. A source and a target sentence through a Transformer → one attention map and
    the shape of every stage.

    Pick the attention kind (encoder self, decoder self, cross), the layer and the head (or the
    mean of the heads). The decoder reads ``<bos>`` + the target: the target shifted right.
    State for tests: ``weights`` (Lq, Lk) on screen, ``shapes`` the rows of the table.
    """

    KINDS = {
        "encoder self-attention": "encoder_self",
        "decoder self-attention (masked)": "decoder_self",
        "cross-attention (decoder → encoder)": "cross",
    }
    _TABLE_ROW = {"encoder_self": "encoder self", "decoder_self": "decoder self", "cross": "cross"}

    def __init__(
        self,
        model,
        vocab: Vocab,
        source: str = "the pizza came out of the oven",
        target: str = "it tasted good",
        kind: str = "cross",
    ):
        """``model``: a ``model.Transformer`` whose vocabulary is ``vocab``; run in eval mode."""
        from .model import Transformer  # imported here: the file's top belongs to every chapter

        if not isinstance(model, Transformer):
            raise ValueError(
                f"model must be a transformer_course.model.Transformer, got {type(model).__name__}"
            )
        if model.config.vocab_size != len(vocab):
            raise ValueError(
                f"vocab has {len(vocab)} tokens but model.config.vocab_size is {model.config.vocab_size}"
            )
        if kind not in self.KINDS.values():
            raise ValueError(f"kind must be one of {list(self.KINDS.values())}, got {kind!r}")
        self.model, self.vocab = model, vocab
        self.weights: torch.Tensor | None = None
        self.shapes: list[tuple[str, tuple, str]] = []
        c = model.config
        box = widgets.Layout(width="340px")
        super().__init__(
            controls={
                "source": widgets.Text(value=source, description="Source", layout=box),
                "target": widgets.Text(value=target, description="Target", layout=box),
                "kind": widgets.Dropdown(
                    options=list(self.KINDS.items()),
                    value=kind,
                    description="attention",
                    layout=widgets.Layout(width="340px"),
                ),
                "layer": widgets.IntSlider(
                    value=1, min=1, description="layer", max=max(c.num_encoder_layers, c.num_decoder_layers)
                ),
                "head": widgets.Dropdown(
                    options=[("mean of heads", -1)] + [(str(h + 1), h) for h in range(c.num_heads)],
                    value=0,
                    description="head",
                ),
            },
            views={"attention": "figure", "shapes": "html"},
        )

    def render(self):
        from .model import shape_trace

        src_tokens, src_ids, unknown_src = read_sentence(self.value("source"), self.vocab, label="source")
        trg_tokens, trg_ids, unknown_trg = read_sentence(
            self.value("target"), self.vocab, label="target", max_tokens=MAX_TOKENS - 1
        )
        if unknown_src or unknown_trg:
            self.note(unknown_note(unknown_src + unknown_trg))
        kind = self.value("kind")
        c = self.model.config
        layers = c.num_encoder_layers if kind == "encoder_self" else c.num_decoder_layers
        self.controls["layer"].max = layers  # keep the slider inside this stack
        layer, head = self.value("layer"), self.value("head")
        device = next(self.model.parameters()).device
        src = src_ids.unsqueeze(0).to(device)  # (1, Ls)
        trg_in = torch.cat([torch.tensor([self.vocab.bos_id]), trg_ids]).unsqueeze(0).to(device)  # (1, Lt)
        self.model.eval()
        self.shapes = shape_trace(self.model, src, trg_in)
        maps = self.model.attention_weights()[kind][layer - 1][0]  # (h, Lq, Lk)
        self.weights = (maps.mean(dim=0) if head < 0 else maps[head]).detach().cpu()
        dec_tokens = [BOS_LABEL, *trg_tokens]
        queries, keys = {
            "encoder_self": (src_tokens, src_tokens),
            "decoder_self": (dec_tokens, dec_tokens),
            "cross": (dec_tokens, src_tokens),
        }[kind]
        name = {"encoder_self": "Encoder self", "decoder_self": "Decoder self", "cross": "Cross"}[kind]
        which = "mean of heads" if head < 0 else f"head {head + 1}"
        return {
            "attention": figures.attention_heatmap(
                self.weights, queries, keys, title=f"{name}-attention, layer {layer}, {which}"
            ),
            "shapes": shapes_table(self.shapes, highlight=self._TABLE_ROW[kind]),
        }


BOS_LABEL = "<bos>"


# --- Chapter 08: training and generation ---
# (this section's code goes right below this line; keep the sections apart)


class LiveLossCurve(Explorer):
    """Chapter 08. The loss curve of a training run, redrawn while it trains.

    Pass ``update`` as the ``callback`` of ``training.train``: every call redraws the
    curve from the ``History``. Controls: the running-mean window and a log scale.
    State for tests: ``history``.
    """

    def __init__(self, total_steps: int | None = None, *, title: str = "Training loss", smoothing: int = 20):
        self.history = None
        self.total_steps, self.title = total_steps, title
        super().__init__(
            controls={
                "smoothing": widgets.IntSlider(
                    value=smoothing, min=1, max=100, description="mean over", continuous_update=False
                ),
                "log": widgets.Checkbox(value=False, description="log scale"),
            },
            views={"loss": "figure"},
        )

    def update(self, history) -> None:
        """Redraw from ``history`` (a ``training.History``); the training callback."""
        self.history = history
        self.refresh()

    def render(self):
        h = self.history
        if h is None or not len(h):
            fig = figures.loss_curve_figure(
                [], [], title=self.title, total_steps=self.total_steps, log_y=self.value("log")
            )
            self.note("Waiting for the first training steps…")
            return {"loss": fig}
        window = self.value("smoothing")
        smoothed = h.smoothed(window)
        self.note(
            f"step {h.steps[-1]}: loss {h.last_loss:.4f} "
            f"(mean of the last {min(window, len(h))} steps: {smoothed[-1]:.4f})."
        )
        return {
            "loss": figures.loss_curve_figure(
                h.steps,
                h.losses,
                smoothed=smoothed,
                log_y=self.value("log"),
                title=self.title,
                total_steps=self.total_steps,
            )
        }


class AttentionHistoryExplorer(Explorer):
    """Chapter 08. Scrub through training: how the attention from "it" formed.

    ``snapshots``: step → ``pointer.snapshot(...)`` dict (pointer (n, L), encoder
    (n, h, L, L), wins); ``sentences``: the n shown sentences as token lists, with the
    positions of "it", the referent and the distractor.
    """

    def __init__(
        self,
        snapshots: Mapping[int, dict],
        sentences: list[list[str]],
        it_pos: list[int],
        referent_pos: list[int],
        distractor_pos: list[int],
    ):
        if not snapshots:
            raise ValueError("snapshots must hold at least one training step")
        n = len(sentences)
        if not (len(it_pos) == len(referent_pos) == len(distractor_pos) == n) or n == 0:
            raise ValueError(
                "sentences, it_pos, referent_pos and distractor_pos must have the "
                f"same, non-zero length; got {n}, {len(it_pos)}, {len(referent_pos)}, "
                f"{len(distractor_pos)}"
            )
        self.snapshots = dict(sorted(snapshots.items()))
        self.sentences, self.it_pos = sentences, it_pos
        self.referent_pos, self.distractor_pos = referent_pos, distractor_pos
        steps = list(self.snapshots)
        options = [(" ".join(s[: it_pos[i] + 3])[:48], i) for i, s in enumerate(sentences)]
        super().__init__(
            controls={
                "step": widgets.SelectionSlider(
                    options=steps, value=steps[0], description="step", layout=widgets.Layout(width="360px")
                ),
                "sentence": widgets.Dropdown(
                    options=options, value=0, description="sentence", layout=widgets.Layout(width="420px")
                ),
            },
            views={"pointer": "figure", "encoder": "figure", "wins": "figure"},
        )

    def render(self):
        step, i = self.value("step"), self.value("sentence")
        snap = self.snapshots[step]
        tokens = self.sentences[i]
        n = len(tokens)
        weights = snap["pointer"][i, :n]
        ref, other, it = self.referent_pos[i], self.distractor_pos[i], self.it_pos[i]
        self.note(
            f"Step {step}: \"it\" gives {float(weights[ref]):.2f} to '{tokens[ref]}' (the referent) "
            f"and {float(weights[other]):.2f} to '{tokens[other]}'. Held-out sentences where the "
            f"referent wins: {snap['wins']:.0%}."
        )
        encoder = snap["encoder"][i, :, :n, :n].mean(dim=0)
        steps = list(self.snapshots)
        return {
            "pointer": figures.pointer_figure(
                weights, tokens, referent=ref, distractor=other, source=it, title=f"Pointer head, step {step}"
            ),
            "encoder": figures.attention_heatmap(
                encoder, tokens, title=f"Encoder layer 1 (head mean), step {step}"
            ),
            "wins": figures.progress_curve_figure(
                steps,
                [self.snapshots[s]["wins"] for s in steps],
                current=step,
                title="Held-out: referent wins",
                y_title="% of sentences",
            ),
        }


class GenerationExplorer(Explorer):
    """Chapter 08. Watch a trained encoder-decoder write its answer one token at a time.

    Type the source symbols; pick greedy or sampled decoding, the temperature, top-k and
    the random seed; the step slider picks which step's distribution the bars show.
    State for tests: ``generation`` (the last ``generation.Generation``).
    """

    def __init__(
        self, model: torch.nn.Module, task, text: str = "1 2 3 4 5", *, max_new_tokens: int | None = None
    ):
        self.model, self.task = model, task
        self.max_new_tokens = max_new_tokens or task.max_len + 1
        self.generation = None
        wide = {"description_width": "initial"}
        super().__init__(
            controls={
                "text": widgets.Text(value=text, description="source", layout=widgets.Layout(width="260px")),
                "strategy": widgets.ToggleButtons(
                    options=["greedy", "sample"], value="greedy", style={"button_width": "70px"}
                ),
                "temperature": widgets.FloatSlider(
                    value=1.0,
                    min=0.0,
                    max=3.0,
                    step=0.05,
                    description="temperature",
                    style=wide,
                    readout_format=".2f",
                    continuous_update=False,
                ),
                "top_k": widgets.IntSlider(
                    value=0,
                    min=0,
                    max=len(task.vocab),
                    description="top-k (0 = all)",
                    style=wide,
                    continuous_update=False,
                ),
                "seed": widgets.IntSlider(value=0, min=0, max=20, description="seed", style=wide),
                "step": widgets.IntSlider(
                    value=1, min=1, max=self.max_new_tokens, description="step", style=wide
                ),
            },
            views={"steps": "figure", "distribution": "figure"},
        )

    def render(self):
        from . import generation  # imported here: the file's top belongs to every chapter

        try:
            src = self.task.encode(self.value("text"))
        except ValueError as err:
            raise InputError(f"{err}. Type symbols separated by spaces, e.g. '3 1 4'.") from None
        if src.shape[0] > self.task.max_len:
            raise InputError(
                f"The source has {src.shape[0]} symbols; the model was trained on at most "
                f"{self.task.max_len}. Try a shorter one."
            )
        vocab = self.task.vocab
        top_k = self.value("top_k") or None
        self.model.eval()
        device = next(self.model.parameters()).device
        gen = generation.generate(
            generation.seq2seq_logits_fn(self.model, src.unsqueeze(0).to(device)),
            torch.tensor([vocab.bos_id], device=device),
            max_new_tokens=self.max_new_tokens,
            strategy=self.value("strategy"),
            temperature=self.value("temperature"),
            top_k=top_k,
            eos_id=vocab.eos_id,
            seed=self.value("seed"),
        )
        self.generation = gen
        chosen = [s.chosen for s in gen.steps]
        slider = self.controls["step"]
        slider.max = len(gen.steps)
        k = min(slider.value, len(gen.steps))
        written = self.task.decode(gen.ids)
        verdict = "correct" if written == self.task.answer(self.value("text")) else "wrong"
        self.note(
            f"Output: {' '.join(written) or '(nothing)'} ({verdict}); "
            f"{len(gen.steps)} steps, each one a run of the decoder."
        )
        labels = [f"{i + 1}: {vocab.itos[c]}" for i, c in enumerate(chosen)]
        step = gen.steps[k - 1]
        so_far = " ".join(vocab.itos[j] for j in step.prefix.tolist()[-4:])
        return {
            "steps": figures.generation_figure(
                gen.probs(), labels, vocab.itos, chosen, title="Every step's distribution"
            ),
            "distribution": figures.next_token_figure(
                step.probs, vocab.itos, chosen=step.chosen, title=f"Step {k} after …{so_far}"
            ),
        }
