"""What a whole model is assembled from: the embedding front and the encoder and decoder stacks.

- ``Embed``: ids (B, L) → token vector · √d_model + position, then dropout (B, L, d_model).
- ``Encoder``: N ``EncoderLayer``s and a final LayerNorm, (B, L, d) → (B, L, d); with a
  causal mask, a GPT's stack of blocks (``forward_cached``: new positions only, with a KV cache).
- ``Decoder``: N ``DecoderLayer``s and a final LayerNorm, (B, Lt, d) and the encoder's
  memory (B, Ls, d) → (B, Lt, d).

Each is built from a ``TransformerConfig``; ``model`` puts them together.
"""

from __future__ import annotations

import torch
from torch import nn

from . import _validate
from .config import TransformerConfig, check_config, check_depth
from .embeddings import TokenEmbedding
from .kv_cache import KVCache
from .layers import DecoderLayer, EncoderLayer, _check_hidden, _dropout
from .positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding
from .torch_layers import copy_parameters


class Embed(nn.Module):
    """ids (B, L) → token vector · √d_model + position, then dropout: (B, L, d_model).

    ``start``: the position of the first id (t when t tokens are already in a KV cache).
    """

    def __init__(self, token: TokenEmbedding, config: TransformerConfig):
        super().__init__()
        check_config(config)
        if not isinstance(token, TokenEmbedding) or token.d_model != config.d_model:
            got = f"d_model={token.d_model}" if isinstance(token, TokenEmbedding) else type(token).__name__
            raise ValueError(f"token must be a TokenEmbedding with d_model={config.d_model}, got {got}")
        self.token = token
        self.position = (
            SinusoidalPositionalEncoding(config.d_model, config.max_len)
            if config.positional == "sinusoidal"
            else LearnedPositionalEmbedding(config.d_model, config.max_len)
        )
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, ids: torch.Tensor, *, start: int = 0) -> torch.Tensor:
        _validate.tensor("ids", ids, ndim=2, floating=False)
        start = _validate.integer("start", start, low=0, high=self.position.max_len + 1)
        if start + ids.shape[1] > self.position.max_len:
            raise ValueError(
                f"ids has {ids.shape[1]} positions (dimension 1) from position {start}, "
                f"but max_len is {self.position.max_len}"
            )
        return self.dropout(self.position(self.token(ids), start=start))

    def _forward(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        """``forward`` for ids a model has checked: in its vocabulary, start + L ≤ max_len."""
        x = self.position._forward(self.token._forward(ids), start)  # (B, L, d_model)
        return _dropout(self.dropout, x)


def _layer_options(config: TransformerConfig) -> dict:
    """The arguments every encoder or decoder layer of ``config`` is built with."""
    return dict(
        d_model=config.d_model,
        num_heads=config.num_heads,
        d_ff=config.d_ff,
        dropout=config.dropout,
        norm_first=config.norm_first,
        activation=config.activation,
        eps=config.eps,
        bias=config.bias,
    )


def _depth(num_layers: int | None, default: int) -> int:
    # "is None", not "or": num_layers=0 is a mistake to report, not a request for the default.
    return check_depth("num_layers", default if num_layers is None else num_layers)


class _Stack(nn.Module):
    """``num_layers`` layers of one kind, then a LayerNorm when ``config.final_norm``."""

    torch_class: type[nn.Module]  # PyTorch's stack of the same layers, for load_from_torch

    def __init__(self, config: TransformerConfig, layer: type[nn.Module], num_layers: int):
        super().__init__()
        self.d_model = d = config.d_model
        # Before any layer is made: each one fits, yet a thousand of them may not (4 d² for each
        # attention, 2 d·d_ff for the feed-forward).
        attentions = 2 if layer is DecoderLayer else 1
        _validate.fits_in_memory(
            "num_layers × the layer's weights (d_model × d_model, d_model × d_ff)",
            num_layers * (4 * attentions * d * d + 2 * d * config.d_ff),
        )
        self.layers = nn.ModuleList(layer(**_layer_options(config)) for _ in range(num_layers))
        final = nn.LayerNorm(config.d_model, eps=config.eps, bias=config.bias) if config.final_norm else None
        self.norm = final

    def _final(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.norm is None else self.norm(x)

    @torch.no_grad()
    def load_from_torch(self, stack: nn.Module, name: str = "stack") -> _Stack:
        """Copy every layer, and the final norm, of PyTorch's stack of the same shape
        (``nn.TransformerEncoder`` into an ``Encoder``, ``nn.TransformerDecoder`` into a ``Decoder``)."""
        _validate.text("name", name)
        if not isinstance(stack, self.torch_class):
            raise ValueError(f"{name} must be an nn.{self.torch_class.__name__}, got {type(stack).__name__}")
        if len(stack.layers) != len(self.layers):
            raise ValueError(f"{name} must have {len(self.layers)} layers, got {len(stack.layers)}")
        for i, (layer, theirs) in enumerate(zip(self.layers, stack.layers)):
            layer.load_from_torch(theirs, f"{name}.layers[{i}]")
        if (self.norm is None) != (stack.norm is None):
            has = "has" if stack.norm is not None else "lacks"
            raise ValueError(f"{name} {has} a final norm; set config.final_norm to match")
        if self.norm is not None:
            _check_final_norm(f"{name}.norm", stack.norm, self.norm)
            copy_parameters(self.norm, stack.norm, f"{name}.norm")  # a bias too, or neither
        return self


def _check_final_norm(name: str, theirs: nn.Module, mine: nn.LayerNorm) -> None:
    """A LayerNorm of this stack's width and eps (load_state_dict copies neither the eps nor,
    without naming the stack, weights of another width)."""
    want = f"a LayerNorm with eps={mine.eps:g} and width {mine.normalized_shape[0]}"
    if not isinstance(theirs, nn.LayerNorm):
        raise ValueError(f"{name} must be {want}, got {type(theirs).__name__}")
    if tuple(theirs.normalized_shape) != tuple(mine.normalized_shape) or theirs.eps != mine.eps:
        raise ValueError(
            f"{name} must be {want}, got eps={theirs.eps:g} and width {tuple(theirs.normalized_shape)}"
        )
    if (theirs.weight is None) != (mine.weight is None) or (theirs.bias is None) != (mine.bias is None):
        bias = "a bias" if mine.bias is not None else "no bias (config.bias=False)"
        raise ValueError(f"{name} must be {want}, with a learned weight and {bias} as this stack's has")


class Encoder(_Stack):
    """N encoder layers and an optional final LayerNorm: (B, L, d) → (B, L, d)."""

    torch_class = nn.TransformerEncoder

    def __init__(self, config: TransformerConfig, num_layers: int | None = None):
        check_config(config)
        super().__init__(config, EncoderLayer, _depth(num_layers, config.num_encoder_layers))

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
        causal: bool = False,
    ) -> torch.Tensor:
        """x (B, L, d_model), mask True = may attend broadcastable to (B, h, L, L);
        ``causal=True``: position i sees positions 0 … i only (with ``mask``, both apply)."""
        first = self.layers[0]
        _check_hidden("x", x, self.d_model, first.norm1.weight)  # once: every layer keeps the shape
        mask = first.self_attn._mask_for_scores(mask, x, x)
        _validate.boolean("causal", causal)
        _validate.boolean("need_weights", need_weights)
        return self._forward(x, mask, need_weights=need_weights, causal=causal)

    def _forward(self, x, mask=None, *, need_weights=False, causal=False):
        """``forward`` on inputs already checked (a mask already made 4-D). A model's x comes
        from its own embedding, in the weights' dtype, so only autocast can make a mix here."""
        self._check_autocast(x)
        for layer in self.layers:
            x = layer._forward(x, mask, need_weights=need_weights, causal=causal)
        return self._final(x)

    def forward_cached(
        self, x: torch.Tensor, cache: KVCache, mask: torch.Tensor | None = None, *, need_weights: bool = False
    ) -> torch.Tensor:
        """New positions x (B, T, d_model) → (B, T, d_model); layer i reads and grows
        ``cache.keys[i]``, ``cache.values[i]``. mask broadcastable to (B, h, T, t + T)."""
        first = self.layers[0]
        _check_hidden("x", x, self.d_model, first.norm1.weight)
        if not isinstance(cache, KVCache) or cache.num_layers != len(self.layers):
            got = f"{cache.num_layers} layers" if isinstance(cache, KVCache) else type(cache).__name__
            raise ValueError(f"cache must be a KVCache for {len(self.layers)} layers, got {got}")
        first.self_attn._check_cached(x, cache, 0, mask)
        _validate.boolean("need_weights", need_weights)
        return self._forward_cached(x, cache, mask, need_weights=need_weights)

    def _forward_cached(self, x, cache, mask=None, *, need_weights=False):
        """``forward_cached`` on inputs already checked (autocast: as ``_forward``)."""
        self._check_autocast(x)
        for i, layer in enumerate(self.layers):
            x = layer._forward_cached(x, cache, i, mask, need_weights=need_weights)
        return self._final(x)

    def _check_autocast(self, x: torch.Tensor) -> None:
        """``_validate.norm_after_autocast`` on the path a model takes (its x checked as ids): the
        first layer's LayerNorm is reached only under the CPU's autocast, as reaching it through
        four modules costs about 3 µs, and chapter 09's cached step of one token about 250."""
        if torch.is_autocast_enabled("cpu"):
            _validate.norm_after_autocast(x, self.layers[0].norm1.weight, "the layers' weights")

    def attention_weights(self) -> list[torch.Tensor | None]:
        """Self-attention weights of each layer from the last call, each (B, h, L, L)."""
        return [layer.self_attn_weights for layer in self.layers]


class Decoder(_Stack):
    """N decoder layers and an optional final LayerNorm: (B, Lt, d), memory (B, Ls, d) → (B, Lt, d)."""

    torch_class = nn.TransformerDecoder

    def __init__(self, config: TransformerConfig, num_layers: int | None = None):
        check_config(config)
        super().__init__(config, DecoderLayer, _depth(num_layers, config.num_decoder_layers))

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        self_mask: torch.Tensor | None = None,
        cross_mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
    ) -> torch.Tensor:
        """x (B, Lt, d_model), memory (B, Ls, d_model) → (B, Lt, d_model)."""
        for layer in self.layers:
            x = layer(x, memory, self_mask, cross_mask, need_weights=need_weights)
        return self._final(x)

    def attention_weights(self) -> dict[str, list[torch.Tensor | None]]:
        """{"decoder_self": [(B, h, Lt, Lt) per layer], "cross": [(B, h, Lt, Ls) per layer]}."""
        return {
            "decoder_self": [layer.self_attn_weights for layer in self.layers],
            "cross": [layer.cross_attn_weights for layer in self.layers],
        }
