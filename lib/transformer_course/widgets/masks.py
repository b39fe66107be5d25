"""Masks (chapter 06): a padded batch, the causal and padding masks, and what they do to attention."""

from __future__ import annotations

import ipywidgets as widgets
import torch

from .. import _validate, figures
from ..attention import SingleHeadAttention, attention_scores, scaled_dot_product_attention
from ..embeddings import TokenEmbedding
from ..masks import causal_mask, combine_masks, padding_mask
from ..positional import sinusoidal_encoding
from ..tokenizer import PAD, Vocab
from .kit import (
    InputError,
    SentenceExplorer,
    check_attention,
    check_embedding,
    checkbox,
    counted,
    evaluating,
    quote_list,
)
from .tables import batch_table

MAX_BATCH = 6  # sentences in the mask explorer's batch
MAX_MASK_TOKENS = 12  # tokens per sentence there: four heatmaps side by side must stay readable


# The batch box: the sentence box's label plus room for chapter 06's longest line ("tell me
# about pizza and cheese", 30 characters of 16 px monospace on a slide). At 360 px that line
# wrapped, and its "and cheese" looked like a fourth sentence of three.
BATCH_BOX_WIDTH = "480px"


def _batch_box(sentences: list[str]) -> widgets.Textarea:
    """The text box of the batch, one sentence a line. A line longer than the box scrolls
    sideways (static/course.css, .tc-lines) rather than wrap into what reads as one more line."""
    box = widgets.Textarea(
        value="\n".join(sentences),
        description="Batch",
        placeholder="one sentence per line",
        layout=widgets.Layout(width=BATCH_BOX_WIDTH, height="96px"),
    )
    box.add_class("tc-lines")
    return box


class MaskExplorer(SentenceExplorer):
    """Chapter 06. A batch of sentences → mask, masked scores and weights of one sentence.

    The sentences (one per line) are padded to the longest. Toggles switch the causal
    and the padding mask on and off; ``sentence`` picks which row of the batch to show.
    ``attention`` is a ``SingleHeadAttention``: its scores and weights are the real ones,
    computed by the lib with the mask (True = may attend).
    State for tests: ``mask`` (B, 1|T, T) bool or None, ``weights`` (B, T, T).
    """

    MODULES = ("embedding", "attention")

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
        check_attention(attention, SingleHeadAttention, check_embedding(vocab, embedding))
        sentences = _validate.strings("sentences", sentences, "sentences")
        if not 1 <= len(sentences) <= MAX_BATCH:
            raise ValueError(f"sentences must hold 1 to {MAX_BATCH} sentences, got {len(sentences)}")
        self.attention = attention
        self.mask: torch.Tensor | None = None
        self.weights: torch.Tensor | None = None
        super().__init__(
            vocab,
            embedding,
            controls={
                "sentences": _batch_box(sentences),
                "causal": checkbox("causal", causal, description="causal mask"),
                "padding": checkbox("padding", padding, description="padding mask"),
                "sentence": widgets.IntSlider(value=0, min=0, max=len(sentences) - 1, description="sentence"),
            },
            views={"batch": "html", "mask": "figure", "scores": "figure", "weights": "figure"},
        )

    def read_batch(self) -> tuple[list[list[str]], torch.Tensor]:
        """The text box → (padded tokens per sentence, ids (B, T) on the CPU), or InputError."""
        # (line number, sentence): a problem names the line the learner sees, blank ones counted.
        lines = [(n, line) for n, line in enumerate(self.value("sentences").splitlines(), 1) if line.strip()]
        if not lines:
            raise InputError("The batch is empty: type one sentence per line, e.g. 'I love deep learning'.")
        if len(lines) > MAX_BATCH:
            raise InputError(
                f"The batch has {len(lines)} sentences; this explorer shows at most "
                f"{MAX_BATCH}. Remove a few lines."
            )
        typed = []  # sentences where the learner typed <pad> as a word
        for b, (n, line) in enumerate(lines):  # each line checked on its own, its unknown words noted
            tokens, _ = self.read(line, label=f"sentence on line {n}", max_tokens=MAX_MASK_TOKENS)
            if PAD in tokens:
                typed.append(b)
        if typed:  # the mask goes by the id, not by who wrote it: say so rather than surprise
            where = f"sentence {typed[0]}" if len(typed) == 1 else f"sentences {_listed(typed)}"
            mask = (
                "the padding mask hides it"
                if self.value("padding")
                else "the padding mask (off now) would hide it"
            )
            self.note(
                f"You typed {PAD} in {where}: it has the padding's id, so it counts as padding below "
                f"and {mask}, like the padding at the end.",
                key="typed-pad",
            )
        ids = self.vocab.encode_batch([line for _, line in lines])  # (B, T), padded with pad_id
        return [self.vocab.tokens(row) for row in ids], ids

    def current_mask(self, ids: torch.Tensor) -> torch.Tensor | None:
        """ids (B, T) → the mask the toggles ask for: (T, T), (B, 1, 1, T) → squeezed to
        (B, 1|T, T), or None."""
        self.check_ids(ids, ndim=2)
        causal = causal_mask(ids.shape[1]) if self.value("causal") else None
        padding = padding_mask(ids, self.vocab.pad_id)[:, 0] if self.value("padding") else None
        return combine_masks(causal, padding)

    def attend(self, ids: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (B, T), mask → raw scores and weights (B, T, T), computed on the model's device."""
        if mask is not None:  # a list or a number failed as "'list' object has no attribute 'to'"
            _validate.bool_mask("mask", mask)
        x = self.embed(self.check_ids(ids, ndim=2))  # (B, T, d_model)
        x = x + sinusoidal_encoding(x.shape[1], x.shape[2], dtype=x.dtype, device=x.device)
        with evaluating(self.attention):
            q, k, v = self.attention.w_q(x), self.attention.w_k(x), self.attention.w_v(x)
            scores = attention_scores(q, k)  # (B, T, T)
            _, weights = scaled_dot_product_attention(q, k, v, None if mask is None else mask.to(x.device))
        return scores.cpu(), weights.cpu()

    def render(self):
        rows, ids = self.read_batch()
        b = self.fit_slider("sentence", len(rows) - 1)  # inside the new batch
        mask = self.mask = self.current_mask(ids)
        scores, self.weights = self.attend(ids, mask)
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
            f"Sentence {b}: {counted(length - n_pad, 'token')} + {n_pad} <pad>. "
            f"Each query may see {row_mask.sum(dim=1).tolist()} keys."
        )
        blind = [tokens[i] for i in range(length) if not bool(row_mask[i].any())]
        if blind:  # all -inf: softmax would be 0/0; lib gives zeros, as PyTorch's kernel does
            who = "1 query" if len(blind) == 1 else f"{len(blind)} queries"
            self.note(
                f"{who} ({quote_list(blind)}) may see no key at all: a row of scores that is all "
                "−∞ gets weights of 0 (a softmax of it would divide 0 by 0).",
                key="blind",
            )
        return {
            "batch": batch_table(rows, b),
            "mask": figures.mask_heatmap(row_mask, tokens, title=f"Mask: {name}"),
            "scores": figures.scores_heatmap(
                scores[b].masked_fill(~row_mask, float("-inf")),
                tokens,
                # The title names the grey, not a legend: in a third of a slide the legend's
                # row took the height the numbers needed, and they were dropped.
                title="Scores after masking (grey = −∞)",
                masked_legend=False,
            ),
            "weights": figures.attention_heatmap(
                self.weights[b],
                tokens,
                title="Weights = softmax(row); grey = 0",
                mask=row_mask,
                masked_legend=False,
            ),
        }


def _listed(numbers: list[int]) -> str:
    """[0, 2, 3] → "0, 2 and 3"."""
    return ", ".join(str(n) for n in numbers[:-1]) + f" and {numbers[-1]}"
