"""The whole model (chapter 07): a source and a target through a Transformer, stage by stage."""

from __future__ import annotations

import ipywidgets as widgets
import torch

from .. import _validate, figures
from ..model import Transformer, shape_trace
from ..tokenizer import PAD, Vocab
from .kit import MAX_TOKENS, SentenceExplorer, evaluating, sentence_box, token_labels
from .tables import shapes_table

BOS_LABEL = "<bos>"


class ModelExplorer(SentenceExplorer):
    """Chapter 07. A source and a target sentence through a Transformer → one attention map and
    the shape of every stage.

    Pick the attention kind (encoder self, decoder self, cross), the layer and the head (or the
    mean of the heads), both counted from 0 as their index: layer 0 is ``model.encoder.layers[0]``
    (or the decoder's). The decoder reads ``<bos>`` + the target: the target shifted right.
    State for tests: ``weights`` (Lq, Lk) on screen, ``shapes`` the rows of the table.
    """

    MODULES = ("model",)

    KINDS = {
        "encoder self-attention": "encoder_self",
        "decoder self-attention (masked)": "decoder_self",
        "cross-attention (decoder → encoder)": "cross",
    }
    _TABLE_ROW = {"encoder_self": "encoder self", "decoder_self": "decoder self", "cross": "cross"}
    _TITLE = {"encoder_self": "Encoder self", "decoder_self": "Decoder self", "cross": "Cross"}

    def __init__(
        self,
        model: Transformer,
        vocab: Vocab,
        source: str = "the pizza came out of the oven",
        target: str = "it tasted good",
        kind: str = "cross",
    ):
        """``model``: a ``model.Transformer`` whose vocabulary is ``vocab``; run in eval mode, and
        handed back in the mode it came in (``evaluating``)."""
        if not isinstance(model, Transformer):
            raise ValueError(
                f"model must be a transformer_course.model.Transformer, got {type(model).__name__}"
            )
        _validate.instance("vocab", vocab, Vocab)
        if model.config.vocab_size != len(vocab):
            raise ValueError(
                f"vocab has {len(vocab)} tokens but model.config.vocab_size is {model.config.vocab_size}"
            )
        if model.config.max_len < 2:  # the decoder reads <bos> and at least one target token
            raise ValueError(
                "model must read at least 2 positions (<bos> and a target token), got "
                f"config.max_len {model.config.max_len}"
            )
        if not isinstance(kind, str) or kind not in self.KINDS.values():
            raise ValueError(f"kind must be one of {list(self.KINDS.values())}, got {kind!r}")
        self.model = model
        self.weights: torch.Tensor | None = None
        self.shapes: list[tuple[str, tuple, str]] = []
        c = model.config
        super().__init__(
            vocab,
            model.src_embed.token,  # the model's own token table: the ids go where it lives
            controls={
                "source": sentence_box(source, description="Source", width="420px", arg="source"),
                "target": sentence_box(target, description="Target", width="420px", arg="target"),
                "kind": widgets.Dropdown(
                    options=list(self.KINDS.items()),
                    value=kind,
                    description="attention",
                    layout=widgets.Layout(width="340px"),
                ),
                # Layers and heads numbered from 0, as their index (model.encoder.layers[0]) and the
                # other chapters count them (chapter 08's history, chapter 09's heads).
                "layer": widgets.IntSlider(
                    value=0,
                    min=0,
                    max=max(c.num_encoder_layers, c.num_decoder_layers) - 1,
                    description="layer",
                ),
                "head": widgets.Dropdown(
                    options=[("mean of heads", -1)] + [(str(h), h) for h in range(c.num_heads)],
                    value=0,
                    description="head",
                ),
            },
            views={"attention": "figure", "shapes": "html"},
        )
        # On a slide the table takes a row of its own: the map alone above it spans two of the
        # three columns (static/course.css), wide enough for its words upright and its numbers.
        self.views["attention"].add_class("tc-wide-on-slide")

    def _limit(self, bos: int) -> dict:
        """``read``'s limit for a box whose sentence follows ``bos`` <bos> tokens: the explorer's
        (MAX_TOKENS in all), or the model's positions where it reads fewer (then said why)."""
        most = self.model.config.max_len
        if most >= MAX_TOKENS:
            return {"max_tokens": MAX_TOKENS - bos}
        why = f"the model reads at most {most} positions"
        why += f", one of them the <bos> before the target: at most {most - bos}" if bos else ""
        return {"max_tokens": most - bos, "why": why}

    def render(self):
        src_tokens, src_ids = self.read(self.value("source"), label="source", **self._limit(0))
        trg_tokens, trg_ids = self.read(self.value("target"), label="target", **self._limit(1))
        typed = [name for name, tokens in (("source", src_tokens), ("target", trg_tokens)) if PAD in tokens]
        if typed:
            self.note(
                f"You typed {PAD} in the {' and the '.join(typed)}: it has the padding's id, so the "
                "model's padding masks hide it. No query attends to it (its column is 0), and a "
                "query with nothing else to look at gets a row of 0.",
                key="typed-pad",
            )
        kind = self.value("kind")
        c = self.model.config
        layers = c.num_encoder_layers if kind == "encoder_self" else c.num_decoder_layers
        self.fit_slider("layer", layers - 1)  # inside this stack
        layer, head = self.value("layer"), self.value("head")
        src = self.to_device(src_ids.unsqueeze(0))  # (1, Ls)
        trg_in = self.to_device(
            torch.cat([torch.tensor([self.vocab.bos_id]), trg_ids]).unsqueeze(0)
        )  # (1, Lt)
        with evaluating(self.model):
            self.shapes = shape_trace(self.model, src, trg_in)
            maps = self.model.attention_weights()[kind][layer][0]  # (h, Lq, Lk)
        self.weights = (maps.mean(dim=0) if head < 0 else maps[head]).detach().cpu()
        src_tokens, trg_tokens = token_labels(src_tokens), token_labels(trg_tokens)
        dec_tokens = [BOS_LABEL, *trg_tokens]
        queries, keys = {
            "encoder_self": (src_tokens, src_tokens),
            "decoder_self": (dec_tokens, dec_tokens),
            "cross": (dec_tokens, src_tokens),
        }[kind]
        which = "mean of heads" if head < 0 else f"head {head}"
        return {
            "attention": figures.attention_heatmap(
                self.weights, queries, keys, title=f"{self._TITLE[kind]}-attention, layer {layer}, {which}"
            ),
            "shapes": shapes_table(self.shapes, highlight=self._TABLE_ROW[kind]),
        }
