"""Attention (chapters 03–05): queries, keys and values; softmax and scaling; many heads."""

from __future__ import annotations

import numbers

import ipywidgets as widgets
import torch

from .. import _validate, figures
from ..attention import MultiHeadAttention, SingleHeadAttention, attention_scores
from ..embeddings import TokenEmbedding
from ..positional import sinusoidal_encoding
from ..softmax import entropy, stable_softmax
from ..tokenizer import Vocab, tokenize
from .kit import (
    MAX_TOKENS,
    InputError,
    SelectionSlider,
    SentenceExplorer,
    check_attention,
    check_embedding,
    checkbox,
    counted,
    drawable,
    evaluating,
    log_slider,
    quote,
    sentence_box,
    token_labels,
)

# d_k as the prose writes it (d<sub>k</sub>): plotly draws the markup in a title. A control's label
# is "dₖ" (a Unicode subscript k), as the markup would not show there: JupyterLab's widget labels
# keep only a few tags (no <sub>: "dk"), a checkbox shows its raw label as its tooltip, and the
# export writes a label as text.
D_K = "d<sub>k</sub>"
D_K_LABEL = "dₖ"
# The ScalingExplorer's sentence box: its label plus room for chapter 04's sentence ("the pizza
# came out of the oven and it tasted good", about 370 px at a slide's 16 px). At 420 px the box
# showed "...of the oven and it" and hid the rest.
SCALING_BOX_WIDTH = "560px"


def maths_title(figure, title: str):
    """``figure`` with ``title`` drawn with its markup (d<sub>k</sub>). The figure functions show
    a title's tags as typed (a title may hold the learner's words); this one holds only ours."""
    figure.layout.title.text = title
    return figure


class QKVExplorer(SentenceExplorer):
    """Chapter 03. Type a sentence → its Q, K, V, the score matrix QKᵀ, and one query's row.

    ``attention``: a ``SingleHeadAttention`` whose w_q, w_k, w_v make the three views.
    State for tests: ``q``, ``k``, ``v`` (T, d_k/d_v) and ``scores`` (T, T), raw q·k.
    """

    MODULES = ("embedding", "attention")

    def __init__(
        self,
        vocab: Vocab,
        embedding: TokenEmbedding,
        attention: torch.nn.Module,
        text: str = "I'm playing with a cat",
        query: int = 0,
    ):
        check_attention(attention, SingleHeadAttention, check_embedding(vocab, embedding))
        box = sentence_box(text)
        # A position among the sentence's tokens (the menu would clamp 99 to the last one);
        # past MAX_TOKENS the box shows its own message, and any query up to there waits for it.
        query = _validate.position("query", query, min(max(len(tokenize(text)), 1), MAX_TOKENS))
        self.attention = attention
        self.q = self.k = self.v = self.scores = None
        super().__init__(
            vocab,
            embedding,
            controls={
                "text": box,
                "query": widgets.Dropdown(
                    options=[(f"{query}", query)], value=query, description="Query token"
                ),
            },
            views={"qkv": "figure", "scores": "figure", "row": "figure"},
        )

    def _sync_queries(self, tokens: list[str]) -> int:
        """Offer one entry per token in the query list; keep the chosen position if it still exists.
        (Called from render: ``Explorer`` does not render again for these changes.)"""
        box = self.controls["query"]
        options = tuple((f"{i} · {t}", i) for i, t in enumerate(tokens))
        want = self.pick("query")  # a shorter sentence moves it; the original one gives it back
        # Anything but a position (-1 or 'zz' picked from options that code added, None) is the
        # first token: -1 failed as "Invalid selection", 'zz' as "'<' not supported", and stayed
        # the pick, so the good query 0 picked after it failed again.
        keep = min(want if _is_int(want) and want >= 0 else 0, len(tokens) - 1)
        if tuple(box.options) != options:
            box.options = options
        self.place("query", keep)
        return box.value

    def render(self):
        tokens, ids = self.read(self.value("text"))
        tokens = token_labels(tokens)  # as the list, the note and the axes show them
        row = self._sync_queries(tokens)
        x = self.embed(ids)  # (T, d_model)
        with evaluating(self.attention):
            q, k, v = (drawable(w(x)) for w in (self.attention.w_q, self.attention.w_k, self.attention.w_v))
        scores = attention_scores(q, k, scale=1.0)  # (T, T) raw q·k
        self.q, self.k, self.v, self.scores = q, k, v, scores
        best = int(scores[row].argmax())
        self.note(
            f"{quote(tokens[row])} scores highest against {quote(tokens[best])} "
            f"({float(scores[row, best]):.2f})."
        )
        return {
            "qkv": maths_title(
                figures.qkv_figure(q, k, v, tokens),
                f"Q, K, V: {counted(len(tokens), 'token')} × {D_K} = {q.shape[1]}",
            ),
            "scores": figures.scores_row_heatmap(scores, tokens, row, title="Scores Q·Kᵀ (raw)"),
            "row": figures.query_row_figure(scores[row], tokens, tokens[row]),
        }


def _is_int(value: object) -> bool:
    """A Python or NumPy int, not a bool (a NumPy bool is no ``numbers.Integral``)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class ScalingExplorer(SentenceExplorer):
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
        check_embedding(vocab, embedding)
        # An int first (NumPy's too): a tensor of two values failed inside ``in`` ("Boolean value
        # of Tensor … is ambiguous"), and NumPy's True or float32 64.0 passed it as 1 and 64.
        if not _is_int(d_k) or d_k not in self.D_KS:
            raise ValueError(f"d_k must be one of {self.D_KS}, got {_validate.shown(d_k)}")
        # seed * 1000 + d_k seeds torch's generator: this range keeps it inside what it takes.
        self.seed = _validate.integer("seed", seed, low=-(2**32), high=2**32)
        self._projections: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.scores = self.weights = self.entropies = None
        super().__init__(
            vocab,
            embedding,
            controls={
                "text": sentence_box(text, width=SCALING_BOX_WIDTH),
                "d_k": SelectionSlider(options=list(self.D_KS), value=int(d_k), description=D_K_LABEL),
                "temperature": log_slider(
                    "temperature",
                    temperature,
                    -1,
                    1,
                    step=0.05,
                    description="temperature",
                    readout_format=".2f",
                    style={"description_width": "initial"},
                ),
                "scaled": checkbox("scaled", scaled, description=f"divide by √{D_K_LABEL}"),
            },
            views={"weights": "figure", "entropy": "figure"},
        )

    def projections(self, d_k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """W_Q, W_K (d_model, d_k) with N(0, 1/d_model) entries, the same for a given d_k, on the CPU."""
        # Checked by name: -1, 2.5 or a tensor failed inside torch ("negative dimension",
        # "manual_seed expected a long"), 10**9 after trying to allocate 128 GB.
        d_k = _validate.positive_int("d_k", d_k)
        if d_k not in self._projections:
            d_model = self.embedding.weight.shape[1]  # a TokenEmbedding's d_model; nn.Embedding has none
            _validate.fits_in_memory(f"d_k (two {d_model} × {d_k} projections)", 2 * d_model * d_k)
            g = torch.Generator().manual_seed(self.seed * 1000 + d_k)
            self._projections[d_k] = tuple(
                torch.randn(d_model, d_k, generator=g) / d_model**0.5 for _ in range(2)
            )
        return self._projections[d_k]

    def render(self):
        tokens, ids = self.read(self.value("text"))
        tokens = token_labels(tokens)
        d_k, temperature, scaled = self.value("d_k"), self.value("temperature"), self.value("scaled")
        w_q, w_k = self.projections(d_k)
        # (T, d_model). The projections are not the model's: CPU, float32 whatever the embedding's
        # dtype (a .double() one failed in the matmul as "expected m1 and m2 to have the same dtype").
        x = self.embed(ids).cpu().float()
        raw = attention_scores(x @ w_q, x @ w_k, scale=1.0)  # (T, T)
        divide = (d_k**0.5 if scaled else 1.0) * temperature
        scores = raw / divide
        weights = stable_softmax(scores)
        ents = entropy(weights)
        self.scores, self.weights, self.entropies = scores, weights, ents
        how = f"÷ √{d_k}" if scaled else "not scaled"
        # The spread of all T² scores around their mean (correction=0: one token is one score,
        # whose spread is 0, not NaN with a warning).
        self.note(
            f"Raw scores have std {float(raw.std(correction=0)):.1f} ({D_K_LABEL} = {d_k}); {how}, "
            f"÷ temperature {temperature:.2f} → std {float(scores.std(correction=0)):.2f}. "
            f"Mean largest weight per row: {float(weights.amax(-1).mean()):.2f}."
        )
        return {
            "weights": maths_title(
                figures.attention_heatmap(weights, tokens),
                f"softmax(QKᵀ{f' / √{D_K}' if scaled else ''} / T), {D_K} = {d_k}",
            ),
            "entropy": figures.entropy_figure(
                ents, tokens, len(tokens), title=f"Row entropy (mean {float(ents.mean()):.2f})"
            ),
        }


class HeadGridExplorer(SentenceExplorer):
    """Chapter 05. A sentence → every head's attention in a grid, and two heads compared.

    ``attention`` is a ``MultiHeadAttention``; its heads are untrained unless you trained
    them, so their patterns differ only by their random projections. Views: "grid" (the
    chosen heads, full width), "difference" (head A − head B) and "average" (the mean of
    the chosen heads, what ``nn.MultiheadAttention`` returns by default).
    State for tests: ``weights`` (h, T, T) of the sentence on screen.
    """

    MODULES = ("embedding", "attention")

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
        check_attention(attention, MultiHeadAttention, check_embedding(vocab, embedding))
        self.attention = attention
        self.positions = _validate.boolean("positions", positions)
        self.columns = _validate.positive_int("columns", columns)
        self.weights: torch.Tensor | None = None
        h = attention.num_heads
        names = [(f"head {i}", i) for i in range(h)]
        super().__init__(
            vocab,
            embedding,
            controls={
                "text": sentence_box(text, width="420px"),
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
        # The grid gets the full width. The page goes by the class (static/course.css): an
        # anywidget view does not apply its Layout's grid_column.
        self.views["grid"].layout.grid_column = "1 / -1"
        self.views["grid"].add_class("tc-wide")
        self.views["grid"].add_class("tc-tall-on-slide")  # on a slide, the other two stack beside it

    def head_weights(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (T,) → every head's attention weights, shape (h, T, T), on the CPU."""
        x = self.embed(self.check_ids(ids, ndim=1))  # (T, d_model)
        if self.positions:
            x = x + sinusoidal_encoding(x.shape[0], x.shape[1], dtype=x.dtype, device=x.device)
        with evaluating(self.attention):  # dropout off: the heads' own weights, rows summing to 1
            _, weights = self.attention(x.unsqueeze(0))  # (1, h, T, T)
        return weights[0].cpu()

    def render(self):
        tokens, ids = self.read(self.value("text"))
        tokens = token_labels(tokens)
        heads = sorted(set(self.value("heads")))  # code may repeat a head; the page cannot
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
                title=f"{len(heads)} of {weights.shape[0]} heads, {counted(len(tokens), 'token')}",
            ),
            "difference": figures.head_difference_figure(
                weights[a], weights[b], tokens, title=f"Head {a} − head {b}"
            ),
            "average": figures.attention_heatmap(
                chosen, tokens, title=f"Mean of the {counted(len(heads), 'head')} shown"
            ),
        }
