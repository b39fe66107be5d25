"""Positions (chapter 02): what a positional encoding looks like, and why attention needs one."""

from __future__ import annotations

from collections import Counter

import ipywidgets as widgets
import torch

from .. import _validate, figures
from ..attention import MultiHeadAttention
from ..embeddings import TokenEmbedding, similarity_matrix
from ..positional import LearnedPositionalEmbedding, sinusoidal_encoding
from ..tokenizer import Vocab
from .kit import (
    Explorer,
    InputError,
    SentenceExplorer,
    check_attention,
    check_embedding,
    drawable,
    evaluating,
    int_slider,
    quote_list,
    sentence_box,
    token_labels,
)


class PositionalExplorer(Explorer):
    """Chapter 02. Length and d_model sliders → encoding heatmap, one wave pair, position similarity."""

    def __init__(self, length: int = 24, d_model: int = 32, seed: int = 0):
        self.seed = _validate.seed("seed", seed)
        length_slider = int_slider("length", length, 2, 128, description="positions")
        # Even: the encoding pairs a sine with a cosine (the slider's step 2 would round 7).
        d_model_slider = int_slider("d_model", d_model, 4, 256, step=2, description="d_model")
        super().__init__(
            controls={
                "length": length_slider,
                "d_model": d_model_slider,
                "kind": widgets.Dropdown(
                    options=["sinusoidal", "learned (untrained)"], value="sinusoidal", description="encoding"
                ),
                "pair": widgets.IntSlider(value=2, min=0, max=d_model // 2 - 1, description="wave pair i"),
            },
            views={"encoding": "figure", "waves": "figure", "distance": "figure"},
        )
        # Where the grid has two columns (a 1280 px page), the table a row of its own and the two
        # curves under it: three views in two columns left a cell empty (static/course.css).
        self.views["encoding"].add_class("tc-wide-in-two")

    def encoding(self) -> torch.Tensor:
        """The encoding currently shown, shape (length, d_model)."""
        length, d_model = self.value("length"), self.value("d_model")
        if self.value("kind") == "sinusoidal":
            return sinusoidal_encoding(length, d_model)
        with torch.random.fork_rng(devices=[]):  # refilled below from its own generator
            table = LearnedPositionalEmbedding(d_model, max_len=length)
        torch.nn.init.normal_(table.pe, generator=torch.Generator().manual_seed(self.seed))
        return table.pe.detach()

    def render(self):
        i = self.fit_slider("pair", self.value("d_model") // 2 - 1)  # inside the new width
        pe = self.encoding()
        sinusoidal = self.value("kind") == "sinusoidal"
        dims = [0, 1, 2 * i, 2 * i + 1] if i else [0, 1]
        waves_title = (
            (f"Pair 0 (dims 0, 1) and pair {i} (dims {2 * i}, {2 * i + 1})" if i else "Pair 0 (dims 0, 1)")
            if sinusoidal
            else f"Columns {', '.join(map(str, dims))}: random numbers, not waves"
        )
        return {
            "encoding": figures.positional_heatmap(
                pe, title=f"{self.value('kind')}: {pe.shape[0]} positions × {pe.shape[1]} dims"
            ),
            "waves": figures.waves_figure(pe, dims, title=waves_title, sinusoidal=sinusoidal),
            "distance": figures.similarity_heatmap(
                similarity_matrix(pe, "cosine"),
                [str(p) for p in range(pe.shape[0])],
                title="Cosine similarity between positions",
                axis_title="position",
            ),
        }


def match_words(tokens_a: list[str], tokens_b: list[str]) -> list[int]:
    """For each token of A, the position in B of the same word (repeats matched in order).

    Raises InputError when B is not a reordering of A's words.
    """
    tokens_a, tokens_b = _validate.strings("tokens_a", tokens_a), _validate.strings("tokens_b", tokens_b)
    if sorted(tokens_a) != sorted(tokens_b):
        only_a = (Counter(tokens_a) - Counter(tokens_b)).elements()
        only_b = (Counter(tokens_b) - Counter(tokens_a)).elements()
        detail = "; ".join(
            f"only in {name}: {quote_list(words)}"
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


def _positions_flag(positions: object) -> bool | None:
    """``positions`` of ``WordOrderExplorer.outputs``: True, False or None (the checkbox). A
    string such as "no", or a tensor, was read as its truth: "no" added the encoding."""
    return None if positions is None else _validate.boolean("positions", positions)


class WordOrderExplorer(SentenceExplorer):
    """Chapter 02. Two orderings of the same words → their attention, and how far each
    word's output moves between them, with or without positional encoding.

    Without positions self-attention cannot see order, so every word gets the very same
    output vector in A and B: a change of 0 %. Adding the sinusoidal encoding breaks that.
    The bars show the change |out_A − out_B| / |out_A| in percent of the output's length,
    on an axis that starts at 0, so a small change looks small and no change looks like none.
    State for tests: ``changes`` (T,) as fractions and ``cosines`` (T,), one per word of A.
    """

    MODULES = ("embedding", "attention")

    def __init__(
        self,
        vocab: Vocab,
        embedding: TokenEmbedding,
        attention: torch.nn.Module,
        text_a: str = "Squatch eats pizza",
        text_b: str = "Pizza eats Squatch",
    ):
        """``attention``: a ``MultiHeadAttention`` over the embedding's d_model,
        (1, T, d_model) → (out, weights (1, h, T, T))."""
        check_attention(attention, MultiHeadAttention, check_embedding(vocab, embedding))
        self.attention = attention
        self.changes: torch.Tensor | None = None
        self.cosines: torch.Tensor | None = None
        super().__init__(
            vocab,
            embedding,
            controls={
                "text_a": sentence_box(text_a, description="Sentence A", width="300px", arg="text_a"),
                "text_b": sentence_box(text_b, description="Sentence B", width="300px", arg="text_b"),
                "positions": widgets.Checkbox(value=False, description="add positional encoding"),
            },
            views={"attention_a": "figure", "attention_b": "figure", "similarity": "figure"},
        )
        # Where the grid has two columns (a 1280 px page), A's and B's attention side by side and
        # the changes under them across both: three views in two columns left a cell empty.
        self.views["similarity"].add_class("tc-wide-in-two")

    def outputs(self, ids: torch.Tensor, positions: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (T,) → attention output (T, d_model) and weights averaged over heads (T, T), on the CPU.

        ``positions``: add the sinusoidal encoding first (None: as the checkbox says).
        """
        positions = _positions_flag(positions)
        x = self.embed(self.check_ids(ids, ndim=1))  # (T, d_model)
        if self.value("positions") if positions is None else positions:
            x = x + sinusoidal_encoding(x.shape[0], x.shape[1], dtype=x.dtype, device=x.device)
        with evaluating(self.attention):  # dropout off: the same outputs for A and B, every time
            out, weights = self.attention(x.unsqueeze(0))  # (1, T, d_model), (1, h, T, T)
        return drawable(out[0]), drawable(weights[0].mean(dim=0))

    def word_changes(self, positions: bool | None = None) -> torch.Tensor:
        """For the sentences in the boxes: (T,) how far each word of A's output moves in B,
        |out_A − out_B| / |out_A|. ``positions`` as in ``outputs``; InputError for bad boxes."""
        return self._measure_orders(_positions_flag(positions))[0]

    def _measure_orders(self, positions: bool | None):
        tokens_a, ids_a = self.read(self.value("text_a"), label="sentence A")
        tokens_b, ids_b = self.read(self.value("text_b"), label="sentence B")
        partner = match_words(tokens_a, tokens_b)
        out_a, weights_a = self.outputs(ids_a, positions)
        out_b, weights_b = self.outputs(ids_b, positions)
        moved = out_b[partner]  # (T, d_model): each word of A, its output in B
        changes = (out_a - moved).norm(dim=-1) / out_a.norm(dim=-1).clamp_min(1e-12)
        cosines = torch.nn.functional.cosine_similarity(out_a, moved, dim=-1)
        return changes, cosines, (token_labels(tokens_a), weights_a), (token_labels(tokens_b), weights_b)

    def render(self):
        changes, cosines, (tokens_a, weights_a), (tokens_b, weights_b) = self._measure_orders(None)
        self.changes, self.cosines = changes, cosines
        where = "with" if self.value("positions") else "without"
        percent = 100 * changes
        # The axis starts at 0 and reaches at least 10 %: no change looks like none, and a
        # change of a few percent looks as small as it is.
        top = max(10.0, 1.2 * float(percent.max()))
        return {
            "attention_a": figures.attention_heatmap(
                weights_a, tokens_a, title=f"A: attention ({where} positions)"
            ),
            "attention_b": figures.attention_heatmap(
                weights_b, tokens_b, title=f"B: attention ({where} positions)"
            ),
            "similarity": figures.bar_figure(
                percent,
                tokens_a,
                y_range=(0.0, top),
                y_title="change (% of its length)",
                # Short: over a third of the explorer a longer title had to shrink to fit.
                title=f"How far outputs move, A → B ({where} positions)",
                text_format=".1f",
            ),
        }
