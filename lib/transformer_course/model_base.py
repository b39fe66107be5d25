"""What every whole model of ``model`` shares: ``_LanguageModelBase``.

The encoder-decoder, the decoder-only and the encoder-only models each make token
embeddings and an output projection (tied to the embedding when ``config.tie_embeddings``),
initialise their weights the same way, check their ids and build their masks from them. A
module of its own so that ``model`` reads as the three models and what sets them apart; the
check that a model's weights fit in memory is here too, made before any weight is.
"""

from __future__ import annotations

import torch
from torch import nn

from . import _validate
from .config import TransformerConfig
from .embeddings import TokenEmbedding
from .masks import causal_mask, padding_mask
from .positional import SinusoidalPositionalEncoding, sinusoidal_encoding


class _LanguageModelBase(nn.Module):
    """Shared pieces: embeddings, output projection, initialisation, masks, id checks."""

    config: TransformerConfig

    def _check_fits(self, vocabularies: tuple[int, ...], embeds: int, encoders: int, decoders: int) -> None:
        """Refuse, before any weight is made, a model whose weights could never fit in memory: a
        huge vocab_size or max_len would otherwise fail inside torch, half built, naming neither.
        Counted in float32 numbers: ``vocabularies`` token tables (and an output layer when not
        tied), ``embeds`` position tables (a sinusoidal one is computed in float64, with
        scratch space: 4 numbers' worth each), encoder layers (4 d² for attention, 2 d·d_ff
        for the feed-forward) and decoder layers (8 d²: cross-attention too)."""
        c = self.config
        d = c.d_model
        tables = sum(vocabularies) * d + (0 if c.tie_embeddings else vocabularies[-1] * d)
        positions = embeds * c.max_len * d * (4 if c.positional == "sinusoidal" else 1)
        layers = encoders * (4 * d * d + 2 * d * c.d_ff) + decoders * (8 * d * d + 2 * d * c.d_ff)
        _validate.fits_in_memory(
            "the model's sizes (vocab_size × d_model, max_len × d_model, layers × d_model × d_ff)",
            tables + positions + layers,
        )

    def _make_token_embedding(self, vocab_size: int) -> TokenEmbedding:
        return TokenEmbedding(vocab_size, self.config.d_model, scale=True)

    def _make_output(self, token: TokenEmbedding, vocab_size: int) -> nn.Linear:
        # A bias of its own when untied (the tied matrix is the embeddings'), unless config.bias=False.
        bias = self.config.bias and not self.config.tie_embeddings
        out = nn.Linear(self.config.d_model, vocab_size, bias=bias)
        if self.config.tie_embeddings:
            out.weight = token.lookup.weight  # the same Parameter object: one matrix, counted once
        self.register_load_state_dict_pre_hook(_before_load)
        self.register_load_state_dict_post_hook(_after_load)
        return out

    def _output_table(self) -> TokenEmbedding:
        """The token embedding the output layer is tied to (the target side's, in a seq2seq)."""
        return self.embed.token

    def _apply(self, fn, recurse=True):
        """PyTorch's ``Module._apply`` (``.to``, ``.to_empty``, ``.half`` …) gives each module a new
        Parameter when the old one's storage cannot take the result (a move to or from the meta
        device: ``to("meta")``, ``to_empty``), which unties the output layer from the token
        embeddings: a meta base for torch.func's model ensembling then keeps a meta
        ``output.weight`` that functional_call never swaps. Tie them again afterwards."""
        output = getattr(self, "output", None)
        tables = [m for m in self.modules() if isinstance(m, TokenEmbedding)]
        shared = [m for m in tables if output is not None and m.lookup.weight is output.weight]
        super()._apply(fn, recurse)
        for table in shared:
            if output.weight is not table.lookup.weight:
                output.weight = table.lookup.weight
        return self

    def _init_weights(self) -> None:
        # Xavier for every matrix (as nn.Transformer does); embeddings ~ N(0, 1/d_model), so
        # that after the √d_model scaling a token vector has entries of size about 1.
        for name, p in self.named_parameters():
            if p.dim() > 1 and "lookup" not in name:
                nn.init.xavier_uniform_(p)
        for module in self.modules():
            if isinstance(module, TokenEmbedding):
                nn.init.normal_(module.lookup.weight, std=self.config.d_model**-0.5)

    def _check_ids(self, name: str, ids: torch.Tensor, vocab_size: int) -> None:
        _validate.tensor(name, ids, ndim=2, floating=False)
        _validate.index_dtype(name, ids)
        _validate.same_device(name, ids, self.output.weight.device, "the model's weights")
        _validate.ids_in_range(name, ids, vocab_size)
        if ids.shape[1] == 0:
            raise ValueError(
                f"{name} must hold at least one token per sequence, got shape {tuple(ids.shape)}"
            )
        if ids.shape[1] > self.config.max_len:
            raise ValueError(
                f"{name} has {ids.shape[1]} positions (dimension 1) but config.max_len "
                f"is {self.config.max_len}"
            )

    def padding_mask(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, L) → (B, 1, 1, L), True where the key is a real token (not padding)."""
        return padding_mask(ids, self.config.pad_id)

    def causal_padding_mask(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, L) → (B, 1, L, L): causal AND not padding, for masked self-attention."""
        allowed = self.padding_mask(ids)  # checks ids first: (B, L) integers
        if ids.shape[1] == 0:  # causal_mask would name its own argument, length
            raise ValueError(f"ids must hold at least one token per sequence, got shape {tuple(ids.shape)}")
        length = ids.shape[1]
        if torch.jit.is_tracing():
            # torch.jit.trace gives shapes as 0-d tensors, which causal_mask refuses; int() would
            # freeze this length into the trace, so the same triangle is made from the tensor.
            return torch.ones(length, length, dtype=torch.bool, device=ids.device).tril() & allowed
        return causal_mask(length, device=ids.device) & allowed


def _before_load(model: _LanguageModelBase, state_dict: dict, prefix: str, *_: object) -> None:
    """Before a load: which token tables share their matrix with the output layer now, and whether
    the state dict holds each one's matrix (``_after_load`` ties those again)."""
    output = getattr(model, "output", None)
    if output is None:
        return
    names: dict[int, list[str]] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        names.setdefault(id(module), []).append(name)
    model._tied_at_load = [
        (table, any(f"{prefix}{n}.lookup.weight" in state_dict for n in names.get(id(table), ())))
        for table in dict.fromkeys(m for m in model.modules() if isinstance(m, TokenEmbedding))
        if table.lookup.weight is output.weight
    ]


def _after_load(model: _LanguageModelBase, _incompatible_keys: object) -> None:
    """After ``load_state_dict(..., assign=True)``, PyTorch's recipe for a model made on the meta
    device, each key's tensor became a Parameter of its own: a tied output layer and its token
    embeddings trained as two matrices. Tie again what was tied before the load (a model untied
    by hand stays so), to the matrix the state dict held (a table's, else the output's); and
    compute a sinusoidal table (a buffer that is not saved) where the weights now are: left on
    meta, it failed inside torch at the first call. A load that copies (no ``assign``) changes
    neither."""
    tied = model.__dict__.pop("_tied_at_load", [])
    output = model.output
    untied = [table for table, _ in tied if table.lookup.weight is not output.weight]
    if untied:
        loaded = [table.lookup.weight for table, held in tied if held and not table.lookup.weight.is_meta]
        shared = (loaded or [output.weight])[0]
        for table, _ in tied:
            table.lookup.weight = shared
        output.weight = shared
    weight = output.weight
    if weight.is_meta:
        return
    for module in model.modules():
        if isinstance(module, SinusoidalPositionalEncoding) and module.pe.is_meta:
            base = getattr(module, "base", 10000.0)  # a module pickled before it kept its base
            exact = sinusoidal_encoding(module.max_len, module.d_model, base=base, dtype=torch.float64)
            module.pe = exact.to(weight.device, module.pe.dtype)
