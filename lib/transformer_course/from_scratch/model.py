"""The source's ``Encoder``, ``Decoder`` and ``Transformer``: embeddings, stacks of blocks, masks.

Calling convention, as in the source: ``Transformer(...)(src, trg)`` with src (N, src_len)
and trg (N, trg_len) ids → logits (N, trg_len, trg_vocab_size). For training the decoder
reads ``trg[:, :-1]`` and is scored on ``trg[:, 1:]`` (``training.seq2seq_loss`` does this).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import _validate
from ..model import Transformer as CourseTransformer
from .attention import SOURCE, AttentionDesign, _check_mask_fits, check_holds_weights, copy_bias
from .blocks import DecoderBlock, TransformerBlock

MAX_LAYERS = 1000  # layers per stack: a billion small ones would take hours to build


class _Embedded(nn.Module):
    """Word embedding + learned position embedding, the front of the source's Encoder and Decoder."""

    def __init__(
        self,
        vocab_size: int,
        embed_size: int,
        max_length: int,
        num_layers: int,
        dropout: float,
        vocab_name: str,
    ):
        super().__init__()
        self.embed_size = _validate.positive_int("embed_size", embed_size)
        self.max_length = _validate.positive_int("max_length", max_length)
        _validate.integer(
            "num_layers", num_layers, low=1, high=MAX_LAYERS + 1
        )  # a billion would never be built
        vocab_size = _validate.positive_int(vocab_name, vocab_size)  # as the caller named it (src_/trg_)
        embed_size, max_length = self.embed_size, self.max_length  # Python ints: numpy's would overflow
        # the two tables (and the decoder's output layer), float32: before nn.Embedding allocates them
        _validate.fits_in_memory(
            f"({vocab_name} + max_length) × embed_size", 2 * (vocab_size + max_length) * embed_size
        )
        self.word_embedding = nn.Embedding(vocab_size, embed_size)
        self.position_embedding = nn.Embedding(max_length, embed_size)
        self.dropout = nn.Dropout(_validate.dropout(dropout))

    def embed(self, x: torch.Tensor, name: str) -> torch.Tensor:
        """ids (N, seq_length) → dropout(word + position) (N, seq_length, embed_size)."""
        _check_ids(name, x, self.word_embedding)
        self.check_length(name, x)
        positions = torch.arange(x.shape[1], device=x.device).expand_as(x)  # (N, seq_length): 0, 1, 2 …
        return self.dropout(self.word_embedding(x) + self.position_embedding(positions))

    def _check_mask(self, name: str, mask: object, ids: torch.Tensor, key_len: int, inputs: tuple) -> None:
        """A mask that does not fit ``ids`` (N, query_len) and ``key_len`` keys, refused naming the
        caller's inputs: the attention inside sees only vectors the caller never passed."""
        if isinstance(mask, torch.Tensor) and len(self.layers):  # other masks: refused inside by name
            _validate.bool_mask(name, mask)
            shape = (ids.shape[0], self.layers[0].attention.heads, ids.shape[1], key_len)
            _check_mask_fits(name, mask, shape, inputs)

    def check_length(self, name: str, x: torch.Tensor) -> None:
        """No more positions than the position table has rows."""
        if x.shape[1] > self.max_length:
            raise ValueError(
                f"{name} has {x.shape[1]} positions (dimension 1) but max_length is {self.max_length}"
            )

    @torch.no_grad()
    def load_embeddings(self, words: torch.Tensor, positions: torch.Tensor) -> None:
        """words (vocab_size, embed_size) and positions (≥ max_length, embed_size) as the tables."""
        self.check_tables(words, positions)
        for table, mine in ((words, self.word_embedding), (positions, self.position_embedding)):
            mine.weight.copy_(table[: mine.num_embeddings])

    def check_tables(self, words: torch.Tensor, positions: torch.Tensor) -> None:
        """What ``load_embeddings`` copies: both tables checked before either is."""
        for name, table, mine in (
            ("words", words, self.word_embedding),
            ("positions", positions, self.position_embedding),
        ):
            _validate.tensor(name, table, ndim=2, floating=True)
            _validate.stored(name, table)  # its rows are copied
            if table.shape[0] < mine.num_embeddings or table.shape[1] != self.embed_size:
                raise ValueError(
                    f"{name} must have at least {mine.num_embeddings} rows of {self.embed_size}, "
                    f"got shape {tuple(table.shape)}"
                )

    def _load_stack(self, stack: nn.Module, torch_class: type, name: str) -> None:
        if not isinstance(stack, torch_class):
            raise ValueError(f"{name} must be an nn.{torch_class.__name__}, got {type(stack).__name__}")
        if len(stack.layers) != len(self.layers):
            raise ValueError(f"{name} must have {len(self.layers)} layers, got {len(stack.layers)}")
        check_holds_weights(name, stack, self)  # else the first layer's message names "layer"
        if stack.norm is not None:
            raise ValueError(
                f"{name} ends in a LayerNorm, which this design lacks: set {name}.norm = None "
                "(or build it with norm=None) before copying"
            )
        for block, layer in zip(self.layers, stack.layers):
            block.load_from_torch(layer)


class Encoder(_Embedded):
    """x (N, src_len) ids, mask (N, 1, 1, src_len) → (N, src_len, embed_size)."""

    def __init__(
        self,
        src_vocab_size: int,
        embed_size: int,
        num_layers: int,
        heads: int,
        forward_expansion: int,
        dropout: float,
        max_length: int,
        *,
        design: AttentionDesign = SOURCE,
    ):
        super().__init__(src_vocab_size, embed_size, max_length, num_layers, dropout, "src_vocab_size")
        self.layers = nn.ModuleList(
            TransformerBlock(embed_size, heads, dropout, forward_expansion, design=design)
            for _ in range(num_layers)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        out = self.embed(x, "x")
        self._check_mask("mask", mask, x, x.shape[1], (("x", x),))
        for layer in self.layers:
            out = layer(out, out, out, mask)  # self-attention: value, key and query are one tensor
        return out

    def load_from_torch(self, stack: nn.TransformerEncoder) -> Encoder:
        """Copy every layer of an ``nn.TransformerEncoder`` without a final norm (needs PAPER)."""
        self._load_stack(stack, nn.TransformerEncoder, "stack")
        return self


class Decoder(_Embedded):
    """x (N, trg_len) ids, enc_out (N, src_len, embed_size) → logits (N, trg_len, trg_vocab_size)."""

    def __init__(
        self,
        trg_vocab_size: int,
        embed_size: int,
        num_layers: int,
        heads: int,
        forward_expansion: int,
        dropout: float,
        max_length: int,
        *,
        design: AttentionDesign = SOURCE,
    ):
        super().__init__(trg_vocab_size, embed_size, max_length, num_layers, dropout, "trg_vocab_size")
        self.layers = nn.ModuleList(
            DecoderBlock(embed_size, heads, forward_expansion, dropout, design=design)
            for _ in range(num_layers)
        )
        self.fc_out = nn.Linear(embed_size, trg_vocab_size)
        for block in self.layers:  # the cross-attention reads this decoder's enc_out
            block.transformer_block.attention.input_names = ("enc_out", "enc_out", "query", "src_mask")

    def forward(
        self,
        x: torch.Tensor,
        enc_out: torch.Tensor,
        src_mask: torch.Tensor | None,
        trg_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        ids, x = x, self.embed(x, "x")
        _validate.tensor("enc_out", enc_out, ndim=3, floating=True)
        _validate.size("enc_out", enc_out, 0, x.shape[0], "the batch size of x")
        self._check_mask("trg_mask", trg_mask, ids, ids.shape[1], (("x", ids),))
        self._check_mask("src_mask", src_mask, ids, enc_out.shape[1], (("x", ids), ("enc_out", enc_out)))
        for layer in self.layers:
            x = layer(x, enc_out, enc_out, src_mask, trg_mask)  # keys and values: the encoder's output
        return self.fc_out(x)

    def load_from_torch(self, stack: nn.TransformerDecoder) -> Decoder:
        """Copy every layer of an ``nn.TransformerDecoder`` without a final norm (needs PAPER)."""
        self._load_stack(stack, nn.TransformerDecoder, "stack")
        return self


class Transformer(nn.Module):
    """The whole encoder-decoder: src (N, src_len), trg (N, trg_len) → logits (N, trg_len, trg_vocab_size).

    Defaults are the source's (embed_size 512, 6 + 6 layers, 8 heads, forward_expansion 4,
    max_length 100); ``design=PAPER`` switches both attention deviations to the paper's.
    """

    def __init__(
        self,
        src_vocab_size: int,
        trg_vocab_size: int,
        src_pad_idx: int,
        trg_pad_idx: int,
        embed_size: int = 512,
        num_layers: int = 6,
        forward_expansion: int = 4,
        heads: int = 8,
        dropout: float = 0.0,
        max_length: int = 100,
        *,
        design: AttentionDesign = SOURCE,
    ):
        super().__init__()
        sizes = (embed_size, num_layers, heads, forward_expansion, dropout, max_length)
        self.encoder = Encoder(src_vocab_size, *sizes, design=design)
        self.decoder = Decoder(trg_vocab_size, *sizes, design=design)
        self.src_pad_idx = _validate.integer("src_pad_idx", src_pad_idx, low=0, high=src_vocab_size)
        # Kept for the source's signature: its target mask is causal only (see make_trg_mask).
        self.trg_pad_idx = _validate.integer("trg_pad_idx", trg_pad_idx, low=0, high=trg_vocab_size)
        self.design = design

    def make_src_mask(self, src: torch.Tensor) -> torch.Tensor:
        """src (N, src_len) → (N, 1, 1, src_len) bool, False at padding: every head and query skips it."""
        _check_ids("src", src, self.encoder.word_embedding)
        return (src != self.src_pad_idx).unsqueeze(1).unsqueeze(2)

    def make_trg_mask(self, trg: torch.Tensor) -> torch.Tensor:
        """trg (N, trg_len) → (N, 1, trg_len, trg_len) bool, lower-triangular: position i sees 0 … i.

        No padding term, as in the source: padding sits after the last real token, so the
        causal mask already hides it from every real position (pad rows are not scored).
        """
        _check_ids("trg", trg, self.decoder.word_embedding)
        n, trg_len = trg.shape
        causal = torch.ones(trg_len, trg_len, dtype=torch.bool, device=trg.device).tril()
        return causal.expand(n, 1, trg_len, trg_len)

    def forward(self, src: torch.Tensor, trg: torch.Tensor) -> torch.Tensor:
        src_mask, trg_mask = self.make_src_mask(src), self.make_trg_mask(trg)
        if trg.shape[0] != src.shape[0]:
            raise ValueError(
                f"trg must have the batch size of src ({src.shape[0]}), got shape {tuple(trg.shape)}"
            )
        self.encoder.check_length("src", src)  # the encoder would call it x, a name the caller never saw
        self.decoder.check_length("trg", trg)
        enc_src = self.encoder(src, src_mask)  # (N, src_len, embed_size)
        return self.decoder(trg, enc_src, src_mask, trg_mask)

    def attention_weights(self) -> dict[str, list[torch.Tensor | None]]:
        """From the last call: "encoder_self", "decoder_self", "cross" → one (N, heads, Lq, Lk) per layer."""
        return {
            "encoder_self": [block.attention_weights for block in self.encoder.layers],
            "decoder_self": [block.attention_weights for block in self.decoder.layers],
            "cross": [block.transformer_block.attention_weights for block in self.decoder.layers],
        }

    def load_from_torch(self, transformer: nn.Transformer) -> Transformer:
        """Copy an ``nn.Transformer``'s layers (needs PAPER and its stacks' norms set to None).

        nn.Transformer has no embeddings and no output layer: those stay as they are
        (``load_embeddings_from`` copies a course model's).
        """
        if not isinstance(transformer, nn.Transformer):
            raise ValueError(f"transformer must be an nn.Transformer, got {type(transformer).__name__}")
        self.encoder._load_stack(transformer.encoder, nn.TransformerEncoder, "transformer.encoder")
        self.decoder._load_stack(transformer.decoder, nn.TransformerDecoder, "transformer.decoder")
        return self

    @torch.no_grad()
    def load_embeddings_from(self, model: nn.Module) -> Transformer:
        """Copy the embeddings and output layer of the course's ``model.Transformer``.

        The course multiplies word vectors by √d_model and adds its position table; the
        source adds two tables: so the word table copied is the course's times √d_model.
        """
        if not isinstance(model, CourseTransformer):
            raise ValueError(f"model must be the course's model.Transformer, got {type(model).__name__}")
        _validate.weights_device("model", model)  # a meta model: named here, not as "words"
        check_holds_weights("model", model, self)  # this one on meta: nothing would be copied
        # Every table checked before any is copied: a refusal leaves this model as it was.
        out, want = model.output, tuple(self.decoder.fc_out.weight.shape)
        if tuple(out.weight.shape) != want:
            raise ValueError(f"model's output layer must be {want}, got {tuple(out.weight.shape)}")
        tables = []
        sides = ((self.encoder, model.src_embed, "src"), (self.decoder, model.trg_embed, "trg"))
        for mine, embed, side in sides:
            token = embed.token
            if token.vocab_size != mine.word_embedding.num_embeddings:  # a bigger one was cut silently
                raise ValueError(
                    f"model must have a {side} vocabulary of {mine.word_embedding.num_embeddings} tokens, "
                    f"as this model's {side}_vocab_size; got {token.vocab_size}"
                )
            factor = math.sqrt(token.d_model) if token.scale else 1.0
            tables.append((mine, token.weight * factor, embed.position.pe))
        for mine, words, positions in tables:
            mine.check_tables(words, positions)
        for mine, words, positions in tables:
            mine.load_embeddings(words, positions)
        self.decoder.fc_out.weight.copy_(out.weight)
        copy_bias(self.decoder.fc_out, out.bias)
        return self


def _check_ids(name: str, ids: torch.Tensor, table: nn.Embedding) -> None:
    _validate.tensor(name, ids, ndim=2, floating=False)
    _validate.index_dtype(name, ids)
    _validate.same_device(name, ids, table.weight.device, "the embedding table")
    _validate.ids_in_range(name, ids, table.num_embeddings)
    if ids.shape[1] == 0:
        raise ValueError(f"{name} must hold at least one token per sequence, got shape {tuple(ids.shape)}")
